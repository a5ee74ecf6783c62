"""Claims: an epoch's claimable rewards as one Merkle root, paid once per leaf (docs/design.md §6).

Everything credited to ``claimable:<addr>`` during an epoch's close is one leaf ``(addr, epoch,
amount)`` of an OpenZeppelin-compatible Merkle tree (``merkle``); the root is stored with the epoch
and ``reward.claim`` {address, epoch, amount, proof} pays a leaf once, from ``claimable:<addr>`` to
the wallet, against its proof — unless the epoch was moved to an EVM chain (``bridge.post``, see
``bridge``): then the distributor contract is its only payout path. Rejections: ``invalid_epoch``,
``invalid_amount``, ``invalid_proof``, ``epoch_not_found``, ``already_claimed``, ``nothing_to_claim``,
``epoch_on_chain``.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .bridge import is_on_chain
from .errors import Conflict, InvalidInput, NotFound, invariant
from .merkle import build_tree, verify_proof
from .records import EarningItem
from .state import State
from .units import address as parse_address
from .units import parse_units


def epoch_leaves(items: list[EarningItem]) -> dict[str, int]:
    """Claimable amount per address from the epoch's items."""
    out: dict[str, int] = {}
    for i in items:
        if i.claimable and i.amount:
            out[i.address] = out.get(i.address, 0) + i.amount
    return dict(sorted(out.items()))


def merkle_root(epoch: int, leaves: dict[str, int]) -> str | None:
    """Root of the epoch's (address, epoch, amount) tree, None when nothing is claimable."""
    if not leaves:
        return None
    return build_tree([(a, epoch, v) for a, v in sorted(leaves.items())]).root


def process_claim(state: State, actor: str, body: dict[str, Any]) -> None:
    """``reward.claim``: pay an epoch's leaf to its address once, against its Merkle proof."""
    claimant = parse_address(body.get("address", ""))
    epoch = body.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise InvalidInput("epoch must be an integer", code="invalid_epoch")
    amount = parse_units(body.get("amount", "0"))
    proof = body.get("proof")
    if not isinstance(proof, list) or not all(isinstance(x, str) for x in proof) or len(proof) > 64:
        raise InvalidInput("proof must be a list of 0x-hex hashes", code="invalid_proof")
    record = state.epochs.get(epoch)
    if record is None and 0 <= epoch < state.epoch:  # closed, and every leaf claimed: its record left the state (core/prune.py)
        raise Conflict(f"epoch {epoch} has nothing left to claim: every leaf was claimed", code="nothing_to_claim")
    if record is None:
        raise NotFound(f"epoch {epoch} is not closed", code="epoch_not_found")
    key = f"{epoch}|{claimant}"
    if key in state.claimed:
        raise Conflict(f"{claimant} already claimed epoch {epoch}", code="already_claimed")
    if record.root is None:
        raise Conflict(f"epoch {epoch} has nothing to claim", code="nothing_to_claim")
    if is_on_chain(state, epoch):
        bridged = state.bridged[epoch]
        raise Conflict(
            f"epoch {epoch} is paid on EVM chain {bridged.evm_chain_id} by the distributor {bridged.distributor}; claim it there",
            code="epoch_on_chain",
        )
    try:
        ok = verify_proof(record.root, (claimant, epoch, amount), proof)
    except Exception:
        ok = False
    if not ok:
        raise Conflict("the proof does not match the epoch's root for this address and amount", code="invalid_proof")
    state.ledger.transfer(acct.claimable(claimant), acct.wallet(claimant), amount, "claim")
    state.claimed.add(key)
    invariant(record.leaves.get(claimant) == amount, f"claim of {amount} for {claimant} is not the epoch's leaf")
