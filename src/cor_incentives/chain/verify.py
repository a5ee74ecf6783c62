"""``cor verify --chain RPC --distributor ADDR``: check the log against what the distributor holds.

The chain is outside the database, so it catches what a replay of the log alone cannot: a log cut
short, or rewritten and re-hashed, before a posted anchor. For every epoch the distributor holds
(``postedEpochAt``, ``epochInfo``):
    * **anchor**: the log has an event at ``anchorSeq`` and its hash is ``anchorHash``. A log that ends
      before it was truncated: the first bad seq is the first missing one. A different hash means an
      event at or before ``anchorSeq`` changed: the first bad seq is the first one no matching anchor
      vouches for (one past the highest anchor below that still matches).
    * **post**: the event right after the anchor is the ``bridge.post`` of that epoch to this
      distributor (the publisher logs the post with the head before it as anchor), and the replayed
      log's record has the same root, total and anchor. ``claimedOffchain`` leaves are claimed on chain.
    * **confirmation**: a ``bridge.confirm`` in the log names a transaction that mined that post in
      that block.
And the other way: an epoch the log says was posted to this distributor and confirmed must be on chain.
An epoch logged but not yet confirmed or mined is reported as pending, not as an error (the
publisher may be mid-post).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from ..app.archive import epoch_record
from ..app.verify import VerifyReport
from ..core.errors import EngineError
from ..core.events import Command
from ..core.state import State
from ..store.db import Store
from .rpc import Chain

ZERO = b"\x00" * 32
MAX_POSTED_EPOCHS = 1_000_000


@dataclass
class Posted:
    epoch: int
    root: str
    total: int
    anchor_seq: int
    anchor_hash: str
    block: int


@dataclass
class ChainFindings:
    posted: list[Posted] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)


def read_posted(chain: Chain, distributor: Any) -> list[Posted]:
    """Every epoch the distributor holds, in posting order."""
    count = int(chain.call(distributor.functions.postedEpochCount(), "postedEpochCount()"))
    out = []
    for i in range(min(count, MAX_POSTED_EPOCHS)):
        e = int(chain.call(distributor.functions.postedEpochAt(i), "postedEpochAt"))
        root, total, _claimed, anchor_seq, block, anchor_hash = chain.call(distributor.functions.epochInfo(e), "epochInfo")
        out.append(Posted(e, "0x" + bytes(root).hex(), int(total), int(anchor_seq), "0x" + bytes(anchor_hash).hex(), int(block)))
    return out


def check_against_chain(store: Store, state: State, chain: Chain, distributor_address: str, report: VerifyReport) -> ChainFindings:
    """Add the chain checks to ``report`` (check ``chain``; ``first_bad_seq`` as described above)."""
    distributor = chain.contract("RewardsDistributor", distributor_address)
    ours = distributor_address.lower()
    posted = read_posted(chain, distributor)
    findings = ChainFindings(posted=posted)
    wanted = {p.anchor_seq for p in posted} | {p.anchor_seq + 1 for p in posted}
    hashes, posts, last_seq = _log_facts(store, wanted)
    matched: list[int] = []
    for p in sorted(posted, key=lambda p: p.anchor_seq):
        report.chain_epochs_checked += 1
        if p.anchor_seq > last_seq:
            report.fail(
                "chain",
                last_seq + 1,
                f"epoch {p.epoch}: the log ends at seq {last_seq}, but the chain anchors seq {p.anchor_seq} "
                f"(hash {p.anchor_hash}): the log was truncated",
            )
            continue
        if hashes.get(p.anchor_seq) != p.anchor_hash:
            first = (max(matched) if matched else -1) + 1
            report.fail(
                "chain",
                first,
                f"epoch {p.epoch}: the log's event {p.anchor_seq} has hash {hashes.get(p.anchor_seq)}, the chain anchors "
                f"{p.anchor_hash}: the log was rewritten at or before seq {p.anchor_seq} (after seq {first - 1}, the "
                f"last one a matching anchor vouches for)",
            )
            continue
        matched.append(p.anchor_seq)
        post = posts.get(p.anchor_seq + 1)
        if post is None or post.get("epoch") != p.epoch or str(post.get("distributor", "")).lower() != ours:
            report.fail(
                "chain", p.anchor_seq + 1, f"epoch {p.epoch}: the event after the anchor (seq {p.anchor_seq + 1}) is not its bridge.post to {ours}"
            )
            continue
        _check_record(state, chain, distributor, p, ours, report)
    on_chain = {p.epoch for p in posted}
    for e, record in sorted(state.bridged.items()):
        if record.distributor != ours or record.evm_chain_id != chain.chain_id or e in on_chain:
            continue
        if record.tx_hash is None:
            findings.pending.append(e)
        else:
            report.fail(
                "chain",
                record.anchor_seq + 1,
                f"epoch {e}: the log says it was posted in tx {record.tx_hash} (block {record.block}), the distributor does not hold it",
            )
    return findings


def _check_record(state: State, chain: Chain, distributor: Any, p: Posted, ours: str, report: VerifyReport) -> None:
    record = state.bridged.get(p.epoch)
    at = p.anchor_seq + 1
    if record is None:
        report.fail("chain", at, f"epoch {p.epoch}: the replayed log has no on-chain record for it")
        return
    have = (record.root, record.total, record.anchor_seq, record.anchor_hash)
    if have != (p.root, p.total, p.anchor_seq, p.anchor_hash):
        report.fail("chain", at, f"epoch {p.epoch}: the log's post {have} differs from the chain's {(p.root, p.total, p.anchor_seq, p.anchor_hash)}")
        return
    replayed = epoch_record(state, p.epoch)
    replayed_root = replayed.root if replayed is not None else None
    if replayed_root != p.root:
        report.fail("chain", at, f"epoch {p.epoch}: the replayed root {replayed_root} differs from the posted root {p.root}")
    for a in record.claimed_offchain:
        if not chain.call(distributor.functions.isClaimed(p.epoch, Web3.to_checksum_address(a)), "isClaimed"):
            report.fail("chain", at, f"epoch {p.epoch}: {a} was paid off-chain but is not marked claimed on chain")
    if record.tx_hash is not None:
        _check_confirmation(chain, distributor, p, record.tx_hash, record.block, report)


def _check_confirmation(chain: Chain, distributor: Any, p: Posted, tx_hash: str, block: int | None, report: VerifyReport) -> None:
    try:
        receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except Exception:
        receipt = None
    events = distributor.events.EpochPosted().process_receipt(receipt, errors=DISCARD) if receipt is not None else []
    if (
        receipt is None
        or int(receipt["blockNumber"]) != block
        or int(receipt["blockNumber"]) != p.block
        or not any(int(ev["args"]["epoch"]) == p.epoch for ev in events)
    ):
        report.fail(
            "chain",
            None,
            f"epoch {p.epoch}: the confirmation names tx {tx_hash} in block {block}, which did not post it (the chain has it in block {p.block})",
        )


def _log_facts(store: Store, wanted: set[int]) -> tuple[dict[int, str], dict[int, dict[str, Any]], int]:
    """Hashes of the wanted seqs, the bridge.post bodies among them, and the last seq of the log."""
    hashes: dict[int, str] = {}
    posts: dict[int, dict[str, Any]] = {}
    last = -1
    for event in store.iter_events():
        last = event.seq
        if event.seq in wanted:
            hashes[event.seq] = event.hash
            try:
                cmd = Command.decode(event.payload)
            except EngineError:
                continue
            if cmd.kind == "bridge.post":
                posts[event.seq] = dict(cmd.body)
    return hashes, posts, last
