"""The publisher: carries every closed epoch's root, claimable total and log anchor to the distributor.

For each closed epoch with claimable leaves, in epoch order, three steps; each is idempotent, and
what is already done is read back (from the log and from the chain) before anything is sent:
    1. **log** ``bridge.post {epoch, evm_chain_id, distributor}`` (oracle-signed): the core moves the
       epoch's unclaimed leaves to ``bridge`` and computes root, total, the addresses already claimed
       off-chain and the anchor. From this event on, ``reward.claim`` refuses the epoch.
    2. **chain** ``postEpoch(epoch, root, total, anchorSeq, anchorHash, claimedOffchain)`` with exactly
       what the log recorded, funded by the publisher's own tokens (``transferFrom``, approved once).
       Skipped when the distributor already holds the epoch (then it must hold the same values, else
       ``chain_mismatch``); a transaction the publisher sent before a crash is waited for first.
    3. **log** ``bridge.confirm {epoch, tx_hash, block}``, the transaction found on chain.

Kill the publisher anywhere and run it again: an epoch logged but not on chain is posted, one on
chain but not confirmed is confirmed, and the contract refuses a second post of an epoch anyway
(``EpochAlreadyPosted``), so nothing is posted twice and nothing is lost. Run one publisher per
distributor: a second one racing it is refused by the log (``already_posted``) or the contract and
takes the other's work as done, but the two may waste a transaction's gas.

The log is reached through a ``LogPort``: ``EngineLog`` (the database, as the CLI does) or
``ApiLog`` (the signed REST API, as the devnet's oracle does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import Web3

from ..app import views
from ..app.engine import Engine
from ..app.keys import Key
from ..core.errors import NonceAlreadyUsed
from ..core.units import cor_text
from .rpc import Chain, ChainError

MAX_UINT256 = 2**256 - 1
MAX_EPOCHS_PER_RUN = 10_000
Step = Callable[[str, int], None]  # (step name, epoch): "logged", "sent", "mined", "confirmed"


class LogPort(Protocol):
    """What the publisher needs from the engine's log."""

    def chain_epochs(self) -> list[dict[str, Any]]:
        """``views.chain_epochs``: every closed epoch with its root and on-chain record."""
        ...

    def onchain(self, epoch: int) -> dict[str, Any] | None:
        """``views.onchain``: one epoch's on-chain record (None while it is paid in the engine)."""
        ...

    def submit(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sign with the oracle key and append; an EngineError when the core refuses."""
        ...


class EngineLog:
    """The log in a database, written through an ``Engine`` with the local oracle key."""

    def __init__(self, engine: Engine, key: Key) -> None:
        self.engine = engine
        self.key = key

    def chain_epochs(self) -> list[dict[str, Any]]:
        self.engine.refresh()
        return views.chain_epochs(self.engine.state)

    def onchain(self, epoch: int) -> dict[str, Any] | None:
        self.engine.refresh()
        return views.onchain(self.engine.state, epoch)

    def submit(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(2):  # another writer may have used our next nonce since we last looked
            self.engine.refresh()
            try:
                return self.engine.submit_as(self.key, kind, body).to_dict()
            except NonceAlreadyUsed:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


class ApiLog:
    """The log behind the REST API, written with signed commands (the devnet's oracle)."""

    def __init__(self, link: Any) -> None:
        self.link = link  # nodes.link.Link (retries, idempotent re-posts)

    def chain_epochs(self) -> list[dict[str, Any]]:
        return list(self.link.retry("chain epochs", self.link.client.chain_epochs))

    def onchain(self, epoch: int) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self.link.retry(f"epoch {epoch}", lambda: self.link.client.epoch(epoch))["onchain"]
        return record

    def submit(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.link.submit(kind, body))


@dataclass(frozen=True)
class Published:
    """What one run did for one epoch."""

    epoch: int
    action: str  # "posted" (sent by this run) | "found" (already on chain, confirmed now)
    tx_hash: str
    block: int
    gas_used: int | None
    total_units: str
    leaves: int
    claimed_offchain: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "action": self.action,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "gas_used": self.gas_used,
            "total_units": self.total_units,
            "leaves": self.leaves,
            "claimed_offchain": self.claimed_offchain,
        }


class Publisher:
    """Posts closed epochs to one distributor; ``publish()`` does everything that is due, once."""

    def __init__(self, log: LogPort, chain: Chain, distributor: str, key: Key, *, on_step: Step | None = None) -> None:
        self.log = log
        self.chain = chain
        self.distributor_address = distributor.lower()
        self.key = key
        self.on_step = on_step or (lambda step, epoch: None)
        self.distributor = chain.contract("RewardsDistributor", distributor)
        self.token = chain.contract("CorToken", chain.call(self.distributor.functions.token(), "token()"))

    def check_role(self) -> None:
        """The key must be the distributor's owner (the publisher role)."""
        owner = str(self.chain.call(self.distributor.functions.owner(), "owner()")).lower()
        if owner != self.key.address:
            raise ChainError(f"{self.key.address} is not the publisher of {self.distributor_address} (the owner is {owner})", code="not_publisher")

    def publish(self) -> list[Published]:
        """Reconcile the log with the chain, then post every closed epoch not yet posted (in epoch order)."""
        self.check_role()
        due = [e for e in self.log.chain_epochs() if self._due(e)]
        done = (self._carry(e) for e in due[:MAX_EPOCHS_PER_RUN])  # the rest on the next run
        return [p for p in done if p is not None]

    def _due(self, e: dict[str, Any]) -> bool:
        """Ours to start (closed with leaves, not posted anywhere) or to finish (posted here, not confirmed)."""
        onchain = e["onchain"]
        if onchain is None:
            return e["root"] is not None
        return self._ours(onchain) and onchain["tx_hash"] is None

    def _ours(self, onchain: dict[str, Any]) -> bool:
        return onchain["distributor"] == self.distributor_address and onchain["evm_chain_id"] == self.chain.chain_id

    def _carry(self, e: dict[str, Any]) -> Published | None:
        epoch = e["epoch"]
        record = e["onchain"]
        if record is None:
            self._submit_once(
                "bridge.post", {"epoch": epoch, "evm_chain_id": self.chain.chain_id, "distributor": self.distributor_address}, "already_posted"
            )
            self.on_step("logged", epoch)
            record = self.log.onchain(epoch)
            if record is None:
                raise ChainError(f"epoch {epoch}: the log accepted bridge.post but shows no on-chain record", code="chain_mismatch")
            if not self._ours(record):  # another publisher moved it to another distributor meanwhile
                return None
        action, tx = self._ensure_on_chain(record)
        self._submit_once("bridge.confirm", {"epoch": epoch, "tx_hash": tx["tx_hash"], "block": tx["block"]}, "already_confirmed")
        self.on_step("confirmed", epoch)
        return Published(
            epoch, action, tx["tx_hash"], tx["block"], tx.get("gas_used"), record["total_units"], record["leaves"], len(record["claimed_offchain"])
        )

    def _submit_once(self, kind: str, body: dict[str, Any], done_code: str) -> None:
        """Submit, taking ``done_code`` (another publisher run got there first) as done; the record is re-read after."""
        try:
            self.log.submit(kind, body)
        except Exception as exc:  # EngineError from the engine, ApiError from the API: both carry the core's code
            if getattr(exc, "code", None) != done_code:
                raise

    def _ensure_on_chain(self, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Post the recorded epoch unless the chain already has it; return how, with tx hash and block."""
        epoch = record["epoch"]
        self.chain.wait_for_pending(self.key.address)  # a post sent before a crash lands first
        found = self._on_chain(record)
        if found is not None:
            return "found", found
        total = int(record["total_units"])
        self._fund(total)
        fn = self.distributor.functions.postEpoch(
            epoch,
            bytes.fromhex(record["root"][2:]),
            total,
            record["anchor_seq"],
            bytes.fromhex(record["anchor_hash"][2:]),
            [Web3.to_checksum_address(a) for a in record["claimed_offchain"]],
        )
        try:
            result = self.chain.send(self.key.private_key, fn, f"postEpoch({epoch})", on_sent=lambda h: self.on_step("sent", epoch))
        except ChainError as exc:
            found = self._on_chain(record) if exc.code == "epoch_already_posted" else None  # another run got there first
            if found is None:
                raise
            return "found", found
        if result.status != 1:
            raise ChainError(f"postEpoch({epoch}) reverted in tx {result.tx_hash}", code="tx_reverted")
        self.on_step("mined", epoch)
        return "posted", {"tx_hash": result.tx_hash, "block": result.block, "gas_used": result.gas_used}

    def _on_chain(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The post of this epoch on chain (tx hash, block), after checking it holds what the log says."""
        epoch = record["epoch"]
        info = self.chain.call(self.distributor.functions.epochInfo(epoch), f"epochInfo({epoch})")
        root, total, _claimed, anchor_seq, posted_block, anchor_hash = info
        if root == b"\x00" * 32:
            return None
        have = ("0x" + bytes(root).hex(), str(total), int(anchor_seq), "0x" + bytes(anchor_hash).hex())
        want = (record["root"], record["total_units"], record["anchor_seq"], record["anchor_hash"])
        if have != want:
            raise ChainError(f"epoch {epoch} on chain holds {have}, the log says {want}", code="chain_mismatch")
        logs = self.distributor.events.EpochPosted().get_logs(
            from_block=int(posted_block), to_block=int(posted_block), argument_filters={"epoch": epoch}
        )
        if not logs:
            raise ChainError(f"epoch {epoch} is posted in block {posted_block} but its EpochPosted event is missing", code="chain_mismatch")
        return {"tx_hash": "0x" + bytes(logs[0]["transactionHash"]).hex(), "block": int(posted_block), "gas_used": None}

    def _fund(self, total: int) -> None:
        """The publisher holds ``total`` tokens and the distributor may pull them (approve once, for all epochs)."""
        me = Web3.to_checksum_address(self.key.address)
        have = int(self.chain.call(self.token.functions.balanceOf(me), "balanceOf"))
        if have < total:
            raise ChainError(f"the publisher holds {cor_text(have)} on chain, the epoch needs {cor_text(total)}", code="publisher_underfunded")
        allowance = int(self.chain.call(self.token.functions.allowance(me, self.distributor.address), "allowance"))
        if allowance < total:
            r = self.chain.send(self.key.private_key, self.token.functions.approve(self.distributor.address, MAX_UINT256), "approve")
            if r.status != 1:
                raise ChainError(f"approve reverted in tx {r.tx_hash}", code="tx_reverted")
