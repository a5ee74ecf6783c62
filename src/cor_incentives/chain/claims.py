"""Claim a leaf on chain: ``RewardsDistributor.claim(epoch, account, amount, proof)``, signed locally.

Anyone may send the claim for ``account`` (the tokens go to ``account``); the sender pays the gas.
The proof is the same one ``reward.claim`` takes (``views.proof`` / ``GET /v1/proofs/{address}/{epoch}``).
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from .rpc import Chain, ChainError, TxResult


def claim_onchain(chain: Chain, distributor: str, private_key: str, epoch: int, account: str, amount_units: int, proof: list[str]) -> TxResult:
    """Send the claim (estimated first, so a claim that would revert is refused with the contract's error)."""
    dist = chain.contract("RewardsDistributor", distributor)
    fn = dist.functions.claim(epoch, Web3.to_checksum_address(account), amount_units, [bytes.fromhex(p[2:]) for p in proof])
    result = chain.send(private_key, fn, f"claim(epoch {epoch}, {account})")
    if result.status != 1:
        raise ChainError(f"claim reverted in tx {result.tx_hash}", code="tx_reverted")
    return result


def token_balance(chain: Chain, distributor: str, account: str) -> int:
    """``account``'s balance of the ERC-20 the distributor pays in."""
    dist = chain.contract("RewardsDistributor", distributor)
    token: Any = chain.contract("CorToken", chain.call(dist.functions.token(), "token()"))
    return int(chain.call(token.functions.balanceOf(Web3.to_checksum_address(account)), "balanceOf"))
