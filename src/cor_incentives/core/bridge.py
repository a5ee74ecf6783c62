"""Epochs paid on an EVM chain: one payout path per epoch (docs/design.md §6).

Concepts
    A closed epoch's claimable leaves ``(address, epoch, amount)`` can be paid two ways: by the engine
    itself (``reward.claim`` moves ``claimable:<addr>`` to ``wallet:<addr>``), or by the
    ``RewardsDistributor`` contract on an EVM chain once the epoch's root is posted there. Both at
    once would pay one reward twice, so an epoch **moves** to the chain, whole and for good:
    ``bridge.post`` takes every leaf of the epoch that is still unclaimed out of its owner's
    ``claimable:<addr>`` into the ``bridge`` account, and from then on ``reward.claim`` refuses that
    epoch (``epoch_on_chain``). Leaves already claimed off-chain stay paid; the post lists their
    addresses so the contract marks them claimed too.

    The publisher (a service holding the oracle key) first records ``bridge.post`` in the log, then
    sends the on-chain post with exactly the recorded root, total and anchor, then records
    ``bridge.confirm`` with the transaction hash and block. A crash between the steps loses nothing:
    the log already says what must be on chain, and the contract refuses a second post of an epoch.

State
    ``state.bridged``: epoch -> ``BridgeRecord`` (distributor, EVM chain id, root, total, the moved
    leaves, the addresses already claimed off-chain, the log anchor, and once confirmed the tx hash
    and block).

Accounts
    ``bridge``: COR that left the engine's books for the EVM chain (the distributor holds the same
    amount of the ERC-20). Σ over all accounts is unchanged by a post, so conservation holds.

Anchor
    The post carries the log's head before it, ``(seq, hash)`` (``post_anchor``): the epoch close and
    every claim the root depends on are at or before it. The contract stores it, so a log later
    truncated or rewritten before that seq no longer matches the chain (``cor verify --chain``).

Messages (oracle only)
    ``bridge.post {epoch, evm_chain_id, distributor}``
        the body's schema first (``core/commands.py``: ``unknown_field``, ``invalid_epoch``,
        ``invalid_chain_id``, ``invalid_address``), then ``epoch_not_found``, ``nothing_to_claim``
        (no root), ``already_posted``.
    ``bridge.confirm {epoch, tx_hash, block}``
        the schema (``unknown_field``, ``invalid_epoch``, ``invalid_tx_hash``, ``invalid_block``), then
        ``epoch_not_posted``, ``already_confirmed``.
"""

from __future__ import annotations

import re
from typing import Any

from . import ledger as acct
from .errors import Conflict, InvalidInput, NotFound, invariant
from .records import BridgeRecord
from .state import State
from .units import address as parse_address

BRIDGE = "bridge"
MAX_EVM_CHAIN_ID = 2**64 - 1
MAX_BLOCK = 2**63 - 1
_TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")


def is_on_chain(state: State, epoch: int) -> bool:
    """Whether the epoch was moved to an EVM chain (its only payout path is the distributor)."""
    return epoch in state.bridged


def unclaimed_leaves(state: State, epoch: int) -> dict[str, int]:
    """The epoch's leaves that ``reward.claim`` has not paid, by address (exact per epoch)."""
    record = state.epochs[epoch]
    return {a: v for a, v in sorted(record.leaves.items()) if f"{epoch}|{a}" not in state.claimed}


def post_anchor(state: State) -> tuple[int, str]:
    """The log anchor a post carries: the head ``(seq, hash)`` before the post event."""
    return state.seq, state.head_hash


def _epoch(body: dict[str, Any]) -> int:
    epoch = body.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise InvalidInput("epoch must be a non-negative integer", code="invalid_epoch")
    return epoch


def process_bridge_post(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bridge.post``: move an epoch's unclaimed leaves to ``bridge``; the distributor pays them from now on."""
    epoch = _epoch(body)
    chain_id = body.get("evm_chain_id")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 1 <= chain_id <= MAX_EVM_CHAIN_ID:
        raise InvalidInput(f"evm_chain_id must be an integer in [1, {MAX_EVM_CHAIN_ID}]", code="invalid_chain_id")
    distributor = parse_address(body.get("distributor", ""))
    record = state.epochs.get(epoch)
    if record is None and epoch < state.epoch:  # closed, and every leaf claimed: its record left the state (core/prune.py)
        raise Conflict(f"epoch {epoch} has nothing left to claim, so nothing to post", code="nothing_to_claim")
    if record is None:
        raise NotFound(f"epoch {epoch} is not closed", code="epoch_not_found")
    if record.root is None:
        raise Conflict(f"epoch {epoch} has nothing to claim, so nothing to post", code="nothing_to_claim")
    if epoch in state.bridged:
        raise Conflict(f"epoch {epoch} is already posted to {state.bridged[epoch].distributor}", code="already_posted")
    leaves = unclaimed_leaves(state, epoch)
    for address, amount in leaves.items():
        invariant(state.ledger.balance(acct.claimable(address)) >= amount, f"claimable:{address} holds less than its unclaimed leaf of epoch {epoch}")
        state.ledger.transfer(acct.claimable(address), BRIDGE, amount, f"bridge:epoch:{epoch}")
    anchor_seq, anchor_hash = post_anchor(state)
    state.bridged[epoch] = BridgeRecord(
        epoch=epoch,
        evm_chain_id=chain_id,
        distributor=distributor,
        root=record.root,
        total=sum(leaves.values()),
        leaves=leaves,
        claimed_offchain=sorted(set(record.leaves) - set(leaves)),
        anchor_seq=anchor_seq,
        anchor_hash=anchor_hash,
        posted_tick=state.tick,
    )
    moved = state.bridged[epoch]
    invariant(
        moved.total + sum(record.leaves[a] for a in moved.claimed_offchain) == sum(record.leaves.values()),
        f"epoch {epoch}: bridged + claimed off-chain != the epoch's claimable total",
    )


def process_bridge_confirm(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bridge.confirm``: record the transaction and block in which the epoch's post was mined."""
    epoch = _epoch(body)
    tx_hash = body.get("tx_hash")
    if not isinstance(tx_hash, str) or not _TX_HASH.match(tx_hash):
        raise InvalidInput("tx_hash must be 0x followed by 64 lower-case hex digits", code="invalid_tx_hash")
    block = body.get("block")
    if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block <= MAX_BLOCK:
        raise InvalidInput(f"block must be an integer in [0, {MAX_BLOCK}]", code="invalid_block")
    record = state.bridged.get(epoch)
    if record is None:
        raise Conflict(f"epoch {epoch} was not posted (bridge.post first)", code="epoch_not_posted")
    if record.tx_hash is not None:
        raise Conflict(f"epoch {epoch} is already confirmed in tx {record.tx_hash}", code="already_confirmed")
    record.tx_hash = tx_hash
    record.block = block
