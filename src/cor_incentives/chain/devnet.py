"""The devnet's EVM chain (``cor devnet --chain`` / ``--chain-rpc URL``).

``DevnetChain.start`` starts a Hardhat node (``--chain``) or attaches to a running one
(``--chain-rpc``), gives the oracle gas money (a development chain: ``hardhat_setBalance``) and
deploys the COR token and the RewardsDistributor with the oracle as publisher. The devnet calls
``on_epoch_closed`` after each close: the publisher posts every closed epoch through the signed API,
as the devnet's oracle does everything. ``finish`` posts what is left, then makes one claim from a
wallet (a delegator's latest leaf: the proof from ``GET /v1/proofs``, the claim signed with the
wallet's key and sent with web3.py), and checks the log against the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..app.keys import Key
from ..app.verify import verify_store
from ..store.db import Store
from .claims import claim_onchain, token_balance
from .config import DEV_ETH_WEI, Deployment
from .deploy import deploy
from .node import NodeProcess, start_node
from .publisher import ApiLog, Published, Publisher
from .rpc import Chain, ChainError
from .verify import check_against_chain


@dataclass
class DevnetChain:
    chain: Chain
    deployment: Deployment
    publisher: Publisher
    link: Any  # the oracle's nodes.link.Link
    node: NodeProcess | None = None
    posted: list[Published] = field(default_factory=list)
    claim: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None

    @classmethod
    def start(cls, rpc_url: str | None, oracle: Key, link: Any, supply: int, log_dir: Path) -> DevnetChain:
        """Start (no ``rpc_url``) or attach to a chain, and deploy with the oracle as publisher."""
        node = start_node(log_path=log_dir / "hardhat.log") if rpc_url is None else None
        try:
            chain = Chain(node.rpc_url if node else str(rpc_url))
            chain.set_balance(oracle.address, DEV_ETH_WEI)
            d = deploy(chain, oracle.private_key, oracle.address, supply)
            if node is not None:
                d.node_pid, d.node_log = node.pid, str(node.log_path)
            publisher = Publisher(ApiLog(link), chain, d.distributor, oracle)
        except BaseException:
            if node is not None:
                node.stop()
            raise
        return cls(chain, d, publisher, link, node)

    def on_epoch_closed(self, epoch: int) -> None:
        """Post every closed epoch not yet on chain (the one that just closed, and any a restart left)."""
        self.posted += self.publisher.publish()

    def finish(self, wallets: list[Key], db_url: str) -> None:
        """Post what is left; one claim from the first wallet with a leaf in the latest posted epoch; verify against the chain."""
        self.posted += self.publisher.publish()
        self.claim = self._claim_from_a_wallet(wallets)
        report, state = verify_store(Store(db_url))
        if report.replay:  # (a log that does not replay has no state to hold against the chain; the report says why)
            check_against_chain(Store(db_url), state, self.chain, self.deployment.distributor, report)
        self.verify = {k: getattr(report, k) for k in ("ok", "chain", "chain_epochs_checked", "first_bad_seq", "errors")}

    def _claim_from_a_wallet(self, wallets: list[Key]) -> dict[str, Any] | None:
        if not self.posted:
            return None
        epoch = max(p.epoch for p in self.posted)
        for key in wallets:
            try:
                proof = self.link.retry("proof", lambda key=key: self.link.client.proof(key.address, epoch))
            except Exception as exc:  # ApiError no_leaf: this wallet earned nothing that epoch
                if getattr(exc, "code", None) == "no_leaf":
                    continue
                raise
            self.chain.set_balance(key.address, DEV_ETH_WEI)  # gas money (a development chain)
            r = claim_onchain(
                self.chain, self.deployment.distributor, key.private_key, epoch, key.address, int(proof["amount_units"]), proof["proof"]
            )
            return {
                "wallet": key.name,
                "address": key.address,
                "epoch": epoch,
                "amount": proof["amount"],
                "amount_units": proof["amount_units"],
                **r.to_dict(),
                "token_balance_units": str(token_balance(self.chain, self.deployment.distributor, key.address)),
            }
        raise ChainError(f"no wallet among {[k.name for k in wallets]} has a leaf in epoch {epoch}", code="no_leaf_to_claim")

    def results(self) -> dict[str, Any]:
        d = self.deployment
        return {
            "rpc_url": d.rpc_url,
            "evm_chain_id": d.evm_chain_id,
            "token": d.token,
            "distributor": d.distributor,
            "publisher": d.publisher,
            "node_pid": self.node.pid if self.node is not None else None,
            "posted": [p.to_dict() for p in self.posted],
            "claim": self.claim,
            "verify": self.verify,
        }

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
