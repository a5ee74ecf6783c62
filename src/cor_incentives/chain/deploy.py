"""Deploy the COR ERC-20 and the RewardsDistributor, and remember where they are (the chain file).

``deploy(chain, key, publisher, supply)`` deploys ``CorToken(publisher, supply)`` (the whole supply
to the publisher, which funds each epoch it posts) and ``RewardsDistributor(token, publisher)``
(the publisher is its owner: the only account that may post; it can be a multisig). The chain file
(``$COR_CHAIN_FILE`` or ``cor-data/chain.json``) records the RPC URL, EVM chain id, addresses,
publisher, deployment block, and the pid of a node ``cor chain up`` started.
"""

from __future__ import annotations

from typing import Any

from ..core.units import address as parse_address
from .config import DEV_ETH_WEI, Deployment, chain_file
from .contracts import artifact
from .rpc import Chain, ChainError

__all__ = ["DEV_ETH_WEI", "Deployment", "chain_file", "deploy", "token_of"]


def deploy(chain: Chain, deployer_key: str, publisher: str, supply: int) -> Deployment:
    """Deploy the token (``supply`` to ``publisher``) and the distributor (owned by ``publisher``)."""
    publisher = parse_address(publisher)
    token_art, dist_art = artifact("CorToken"), artifact("RewardsDistributor")
    token_ctor = chain.w3.eth.contract(abi=token_art.abi, bytecode=token_art.bytecode).constructor(chain.w3.to_checksum_address(publisher), supply)
    t = chain.send(deployer_key, token_ctor, "deploy CorToken")
    if t.status != 1 or not t.contract_address:
        raise ChainError(f"CorToken deployment failed in tx {t.tx_hash}", code="deploy_failed")
    dist_ctor = chain.w3.eth.contract(abi=dist_art.abi, bytecode=dist_art.bytecode).constructor(
        chain.w3.to_checksum_address(t.contract_address), chain.w3.to_checksum_address(publisher)
    )
    d = chain.send(deployer_key, dist_ctor, "deploy RewardsDistributor")
    if d.status != 1 or not d.contract_address:
        raise ChainError(f"RewardsDistributor deployment failed in tx {d.tx_hash}", code="deploy_failed")
    return Deployment(
        rpc_url=chain.rpc_url,
        evm_chain_id=chain.chain_id,
        token=t.contract_address,
        distributor=d.contract_address,
        publisher=publisher,
        block=d.block,
        supply_units=str(supply),
        gas={"deploy_token": t.gas_used, "deploy_distributor": d.gas_used},
    )


def token_of(chain: Chain, distributor: str) -> Any:
    """The ERC-20 a distributor pays in."""
    dist = chain.contract("RewardsDistributor", distributor)
    return chain.contract("CorToken", chain.call(dist.functions.token(), "token()"))
