"""Moving stake without leaving it: redelegation and cancelled unbonding (docs/design.md §7, docs/rewards.md "Moving stake").

Redelegation (``stake.redelegate``: ``{from, to, amount}``)
    A delegator moves ``amount`` of its delegation from node ``from`` to node ``to`` at once. Both
    positions are counted (stake × ticks) up to now before the move (``staking.change_stake``), so the
    stake earns in exactly one node at every tick and no tick is skipped or counted twice. A
    ``Redelegation`` entry keeps the move for ``unbonding_period_epochs``: until it matures, an offence
    of ``from`` committed before the move (``start_tick``, then log order) still slashes the moved stake,
    ``slash_fraction_bps[offence]`` of the entry's amount, taken from the delegation in ``to`` and then
    from unbonding entries from ``to`` that started after the move — as an unbonding entry from
    ``from`` would have been slashed. Stake cannot hop on while its entry is young: a redelegation
    *from* a node the actor redelegated *to* in the last ``unbonding_period_epochs`` is refused
    (``redelegation_in_progress``), so ``from``'s claim never lands on an emptied position. From rule
    version 8 an address holds at most ``max_entries`` young redelegations out of one node
    (``too_many_redelegation_entries``), as it holds at most ``max_entries`` maturing unbonding
    entries per node (``too_many_unbonding_entries``, ``staking``): each entry is state every slash of
    that node walks.

Cancelled unbonding (``stake.cancel_unbond``: ``{id, amount?}``)
    Returns an unbonding entry (all of it, or ``amount``) to the position it left, before it matures.
    It returns as if it had never left, minus the rewards of the ticks it was away:
      * every slash of its node recorded after the entry started that spared it (an offence committed
        after the unbond began: ``unbonding:<addr>#<id>`` absent from the slash's ``by_account``) takes
        what the returning amount would have lost had it stayed, in slash order (``spared_piece``: a
        fraction offence ``returning × fraction_bps // 10000``; a counted offence, from rule version 8,
        its pro-rata share of the fixed penalty ``returning × penalty // (slashable + returning)``);
        each piece goes floor(piece × slash_burn_bps / 10000) to ``burned`` and the rest to
        ``treasury`` (the reporter was paid by the slash itself);
      * its stake × ticks in the node count from the cancel (``change_stake``), so the epoch's
        rewards pay nothing for the time it was unbonding.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .errors import Conflict, InvalidInput, NotFound, invariant
from .records import EarningItem, Redelegation, SlashRecord, Unbonding
from .rules import RULES_MOVING_LIMITS, rules_since
from .staking import change_stake, check_position, get_node, stake_account, stake_of
from .state import State
from .streams import Stream
from .units import BPS, parse_units
from .units import address as parse_address
from .units import cor_text as cor


def is_young(state: State, r: Redelegation) -> bool:
    """Still slashable at its source: younger than the unbonding period."""
    return r.mature_epoch > state.epoch


def forget_matured(state: State) -> None:
    """Drop redelegation entries past their unbonding period (nothing is slashable through them any more)."""
    for r in state.redelegations_matured():  # by id, as is_young: mature_epoch ≤ the epoch (O(those), not every entry)
        state.remove_redelegation(r)


# --- redelegation ---------------------------------------------------------------------------


def _amount(body: dict[str, Any]) -> int:
    value = parse_units(body["amount"])
    if value == 0:
        raise InvalidInput("amount must be greater than zero", code="zero_amount")
    return value


def process_redelegate(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.redelegate``: move part of a delegation to another node at once, still slashable at the source."""
    source, dest = parse_address(body["from"]), parse_address(body["to"])
    amount = _amount(body)
    get_node(state, source)
    get_node(state, dest)
    if source == dest:
        raise Conflict("redelegation needs two different nodes", code="same_node")
    if actor in (source, dest):
        raise Conflict("a node's operator moves its self-bond with `stake unbond` and `stake bond`", code="self_delegation")
    forget_matured(state)
    mine = state.redelegations_of(actor)  # the actor's own (all young: the matured were just forgotten)
    young = [r for r in mine if r.node == source]
    if young:
        until = max(r.mature_epoch for r in young)
        raise Conflict(
            f"stake redelegated to {source} cannot move on before epoch {until} (it is still slashable where it came from)",
            code="redelegation_in_progress",
        )
    have = stake_of(state, source, actor)
    if have < amount:
        raise Conflict(f"delegation to {source} is {cor(have)}, cannot redelegate {cor(amount)}", code="redelegate_exceeds_stake")
    p = state.params
    if rules_since(p, RULES_MOVING_LIMITS):
        moving = sum(1 for r in mine if r.source == source)
        if moving >= p.max_entries:
            raise Conflict(
                f"{actor} already has {moving} young redelegations out of {source} (max_entries {p.max_entries}): "
                "wait for one to mature (unbonding_period_epochs)",
                code="too_many_redelegation_entries",
            )
    check_position(state, source, actor, have - amount, "stake.redelegate (its source)")
    check_position(state, dest, actor, stake_of(state, dest, actor) + amount, "stake.redelegate (its destination)")
    hold = acct.escrow("redelegate", state.next_id)
    change_stake(state, source, actor, acct.delegated(source, actor), hold, amount, "redelegate")
    change_stake(state, dest, actor, hold, acct.delegated(dest, actor), amount, "redelegate")
    entry = Redelegation(
        id=state.new_id(),
        address=actor,
        source=source,
        node=dest,
        amount=amount,
        start_tick=state.tick,
        mature_epoch=state.epoch + state.params.unbonding_period_epochs,
    )
    state.add_redelegation(entry)
    invariant(state.ledger.balance(hold) == 0, f"redelegation {entry.id}: escrow not empty")


def slashable_redelegations(state: State, node_id: str, offence_tick: int, after_id: int = 0) -> list[Redelegation]:
    """Young entries that left ``node_id`` after an offence committed at ``offence_tick`` (log order after ``after_id``)."""
    return [
        r
        for r in state.redelegations_from(node_id)  # by id, the node's only
        if is_young(state, r) and (r.start_tick, r.id) > (offence_tick, after_id)
    ]


def slash_redelegated(state: State, r: Redelegation, piece: int, hold: str, offence: str, detail: dict[str, Any]) -> int:
    """Take up to ``piece`` of the stake ``r`` moved, wherever it is now: its delegation in ``r.node``, then its unbonding
    entries from ``r.node`` that started after the move. Into ``hold``; returns what was taken."""
    taken = 0
    account = stake_account(r.node, r.address)
    from_position = min(piece, state.ledger.balance(account)) if r.node in state.nodes else 0
    if from_position:
        change_stake(state, r.node, r.address, account, hold, from_position, f"slash:{offence}")
        taken += from_position
    for u in state.unbondings_of(r.address):  # by id, the staker's entries only
        if taken == piece:
            break
        if u.node == r.node and u.id > r.id:
            part = min(piece - taken, u.amount)
            state.ledger.transfer(acct.unbonding(u.address), hold, part, f"slash:{offence}")
            u.amount -= part
            taken += part
    if taken:
        r.amount -= taken
        state.earnings.append(EarningItem(r.address, Stream.SLASH, -taken, {**detail, "redelegation_id": r.id, "redelegated_to": r.node}))
    invariant(0 <= taken <= piece and r.amount >= 0, f"redelegation {r.id}: took more than its piece")
    return taken


# --- cancelled unbonding ----------------------------------------------------------------------


def spared_slashes(state: State, u: Unbonding) -> list[SlashRecord]:
    """Slashes of the entry's node recorded after it started that did not take from it (offences after the unbond began)."""
    key = f"unbonding:{u.address}#{u.id}"
    return [s for s in state.slashes_of(u.node) if s.id > u.id and key not in s.by_account]  # the node's, in id order


def spared_piece(state: State, s: SlashRecord, returning: int) -> int:
    """What ``returning`` would have lost to the slash ``s`` it was spared, had it stayed bonded.

    A fraction offence: returning × fraction_bps // 10 000. A counted offence (rule version 8 on): its
    pro-rata share of the fixed penalty over the slashable stake it would have joined —
    returning × penalty // (slashable + returning), all of it when the penalty covers that pool.
    Rule versions 1-7: returning × fraction_bps // 10 000 for every slash (for a counted offence
    ``fraction_bps`` is a share of the role minimum, not of the position, so that was not the share).
    """
    if s.penalty is None or not rules_since(state.params, RULES_MOVING_LIMITS):
        return returning * s.fraction_bps // BPS
    pool = s.slashable + returning
    return returning if s.penalty >= pool else s.penalty * returning // pool


def _spared_inputs(state: State, s: SlashRecord) -> dict[str, Any]:
    if s.penalty is None or not rules_since(state.params, RULES_MOVING_LIMITS):
        return {"formula": "returning × fraction_bps // 10000: a slash the entry was spared while unbonding, taken when it returns"}
    return {
        "penalty": s.penalty,
        "slashable": s.slashable,
        "formula": "returning × penalty // (slashable + returning), all of it when penalty ≥ slashable + returning: the share of a "
        "counted offence's fixed penalty the entry was spared while unbonding, taken when it returns",
    }


def _returning(state: State, spared: list[SlashRecord], amount: int) -> tuple[int, list[tuple[SlashRecord, int, int]]]:
    """What returns of ``amount`` cancelled after the slashes it was spared, and their pieces: (spared slash, its piece,
    what was returning before it). Never decreases as ``amount`` grows (each piece grows by at most one unit a unit)."""
    returning = amount
    pieces: list[tuple[SlashRecord, int, int]] = []
    for s in spared:
        piece = spared_piece(state, s, returning)
        if piece:
            pieces.append((s, piece, returning))
            returning -= piece
    return returning, pieces


def _cancel_hint(state: State, u: Unbonding, spared: list[SlashRecord], have: int) -> str:
    """A refused cancel's advice in what to cancel (the amount asked for), not in what returns: the least amount whose
    return after the spared slashes brings the position to the minimum (a binary search: the return never decreases
    with the amount), or that even the whole entry falls short."""
    need = state.params.min_position_units - have
    whole = _returning(state, spared, u.amount)[0]
    if whole < need:
        return (
            f"it holds {cor(have)} and needs {cor(need)} more; cancelling all of entry {u.id} ({cor(u.amount)}) returns "
            f"{cor(whole)} after the slashes it was spared: add to the position first, or let the entry mature and withdraw it"
        )
    lo, hi = 1, u.amount  # hi returns enough
    while lo < hi:
        mid = (lo + hi) // 2
        if _returning(state, spared, mid)[0] >= need:
            hi = mid
        else:
            lo = mid + 1
    return (
        f"it holds {cor(have)} and needs {cor(need)} more; the slashes entry {u.id} was spared take part of what returns: "
        f"cancel at least {cor(lo)} (it returns {cor(_returning(state, spared, lo)[0])}), or add to the position first"
    )


def process_cancel_unbond(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.cancel_unbond``: return an unbonding entry (or ``amount`` of it) to its position, as if it had stayed."""
    entry_id = body["id"]
    u = state.unbondings.get(entry_id)
    if u is None or u.address != actor:
        raise NotFound(f"no unbonding entry {entry_id} of {actor}", code="unbonding_not_found")
    if u.mature_epoch <= state.epoch:
        raise Conflict(f"unbonding entry {entry_id} matured at epoch {u.mature_epoch}: withdraw it instead", code="unbonding_matured")
    amount = _amount(body) if "amount" in body else u.amount
    if amount > u.amount:
        raise Conflict(f"unbonding entry {entry_id} holds {cor(u.amount)}, cannot cancel {cor(amount)}", code="cancel_exceeds_unbonding")
    get_node(state, u.node)
    p = state.params
    spared = spared_slashes(state, u)
    returning, pieces = _returning(state, spared, amount)
    if returning:  # (rule 20: the position it returns to must reach the minimum; checked before anything is written)
        hint = (lambda have: _cancel_hint(state, u, spared, have)) if pieces else None
        check_position(state, u.node, actor, stake_of(state, u.node, actor) + returning, "stake.cancel_unbond", hint)
    for s, piece, before in pieces:
        burned = piece * p.slash_burn_bps // BPS
        state.ledger.transfer(acct.unbonding(actor), "burned", burned, f"slash:{s.offence}:on_cancel")
        state.ledger.transfer(acct.unbonding(actor), "treasury", piece - burned, f"slash:{s.offence}:on_cancel")
        state.earnings.append(
            EarningItem(
                actor,
                Stream.SLASH,
                -piece,
                {
                    "node": u.node,
                    "offence": s.offence,
                    "spared_slash_id": s.id,  # not "slash_id": that slash's own pieces are its total
                    "unbonding_id": u.id,
                    "fraction_bps": s.fraction_bps,
                    "returning": before,
                    **_spared_inputs(state, s),
                },
            )
        )
    u.amount -= amount
    if returning:
        change_stake(state, u.node, actor, acct.unbonding(actor), stake_account(u.node, actor), returning, "cancel_unbond")
    if u.amount == 0:
        state.remove_unbonding(u)
    invariant(u.amount >= 0 and 0 <= returning <= amount, f"cancel of unbonding {u.id}: amounts do not add up")
