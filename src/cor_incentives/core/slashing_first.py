"""Slashing under rule versions 1-3 (core/rules.py), kept unchanged so logs recorded under them replay.

A network on rule version 4 or later slashes by ``core/slashing.py``, which calls into this module
only while an earlier version is in force. Parameters used only here: ``poi_divergence_threshold``,
``missed_deadline_threshold``, ``validator_deviation_threshold``, ``offence_window_epochs``.

Concepts
    An offence (``commit_mismatch``, ``poi_divergence``, ``missed_deadline``, ``validator_deviation``,
    ``equivocation``) committed by a node at ``offence_tick`` takes ``slash_fraction_bps[offence]`` of
    every slashable position of that node: the self-bond, each delegation, each unbonding entry
    from that node that started *after* the offence (that stake was bonded when it happened), and
    each young redelegation out of that node that moved after it (``redelegation.py``: taken where
    the stake went).

Rounding and where the stake goes
    Each position loses floor(balance × fraction / 10 000): the floor favours the staker. The pieces
    are gathered in the transient account ``escrow:slash:<id>`` and split: floor(total ×
    slash_burn_bps / 10 000) to ``burned``, floor(total × slash_reporter_bps / 10 000) to the
    reporter's wallet when there is a reporter (else that share goes to the treasury), and the rest,
    rounding included, to ``treasury``. The escrow is empty after the event.

Jail
    ``commit_mismatch`` and ``equivocation`` also jail the node for ``jail_duration_ticks``; a jailed
    node is not selectable and may ``node.unjail`` after the cooldown with its minimum bond restored.

Evidence
    The evidence is recorded in the event and the slash record; its content hash is remembered, and a
    second report of the same evidence is refused (``evidence_already_used``).

Offences counted over a window (``record_offence``)
    ``missed_deadline``, ``poi_divergence`` and ``validator_deviation`` are counted per node in
    ``state.offence_log`` with the epoch and the task; when a node reaches the offence's threshold
    (``*_threshold``) within the last ``offence_window_epochs`` epochs it is slashed with those tasks
    as evidence and its count starts again. ``process_offence_windows`` (epoch close) forgets counts
    that left the window.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .errors import Conflict, InvalidInput, Unauthorized, invariant
from .events import canonical_json, content_hash
from .journal import attempt
from .params import JAIL_OFFENCES, SLASH_FRACTION_DEFAULT
from .records import EarningItem, SlashRecord
from .redelegation import slash_redelegated, slashable_redelegations
from .signatures import equivocation_text, recover_signer
from .staking import change_stake, get_node, stake_account, stake_matches_ledger, stakers
from .state import State
from .streams import Stream
from .units import BPS
from .units import address as parse_address

OFFENCES = tuple(SLASH_FRACTION_DEFAULT)


def evidence_hash(node: str, offence: str, evidence: dict[str, Any]) -> str:
    """Content hash that identifies one piece of evidence."""
    return content_hash(canonical_json({"node": node, "offence": offence, "evidence": evidence}))


def slash(state: State, node_id: str, offence: object, offence_tick: int, evidence: dict[str, Any], reporter: str | None) -> SlashRecord:
    """Slash ``node_id`` for ``offence``: pro rata over its positions, split, jail. Validates first."""
    if not isinstance(offence, str) or offence not in OFFENCES:
        raise InvalidInput(f"unknown offence {offence!r}; one of {', '.join(OFFENCES)}", code="unknown_offence")
    node = get_node(state, node_id)
    if isinstance(offence_tick, bool) or not isinstance(offence_tick, int) or not 0 <= offence_tick <= state.tick:
        raise InvalidInput(f"offence_tick must be an integer in [0, {state.tick}]", code="invalid_offence_tick")
    ev_hash = evidence_hash(node_id, offence, evidence)
    if ev_hash in state.evidence_used:
        raise Conflict("this evidence has already been reported", code="evidence_already_used", evidence_hash=ev_hash)
    p = state.params
    fraction = p.slash_fraction_bps[offence]
    sid = state.new_id()
    hold = acct.escrow("slash", sid)
    by_account: dict[str, int] = {}
    for addr in stakers(state, node_id):
        account = stake_account(node_id, addr)
        piece = state.ledger.balance(account) * fraction // BPS
        if piece:
            change_stake(state, node_id, addr, account, hold, piece, f"slash:{offence}")
            by_account[account] = piece
            state.earnings.append(EarningItem(addr, Stream.SLASH, -piece, {"node": node_id, "offence": offence, "slash_id": sid}))
    for u in state.unbondings_from(node_id):  # by id, the node's entries only
        if u.start_tick > offence_tick:
            piece = u.amount * fraction // BPS
            if piece:
                state.ledger.transfer(acct.unbonding(u.address), hold, piece, f"slash:{offence}")
                u.amount -= piece
                key = f"unbonding:{u.address}#{u.id}"
                by_account[key] = piece
                state.earnings.append(
                    EarningItem(u.address, Stream.SLASH, -piece, {"node": node_id, "offence": offence, "slash_id": sid, "unbonding_id": u.id})
                )
    for r in slashable_redelegations(state, node_id, offence_tick):  # stake that moved on after the offence
        piece = slash_redelegated(state, r, r.amount * fraction // BPS, hold, offence, {"node": node_id, "offence": offence, "slash_id": sid})
        if piece:
            by_account[f"redelegation:{r.address}#{r.id}"] = piece
    total = state.ledger.balance(hold)
    burned = total * p.slash_burn_bps // BPS
    to_reporter = total * p.slash_reporter_bps // BPS if reporter else 0
    to_treasury = total - burned - to_reporter
    state.ledger.transfer(hold, "burned", burned, f"slash:{offence}:burn")
    if reporter:
        state.ledger.transfer(hold, acct.wallet(reporter), to_reporter, f"slash:{offence}:reporter")
        if to_reporter:
            state.earnings.append(EarningItem(reporter, Stream.SLASH_REPORTER_REWARD, to_reporter, {"node": node_id, "slash_id": sid}))
    state.ledger.transfer(hold, "treasury", to_treasury, f"slash:{offence}:treasury")
    jailed_until = None
    if offence in JAIL_OFFENCES:
        jailed_until = state.tick + p.jail_duration_ticks
        state.jail(node_id, jailed_until)
    node.slash_count += 1
    state.evidence_used.add(ev_hash)
    record = SlashRecord(
        id=sid,
        node=node_id,
        offence=offence,
        offence_tick=offence_tick,
        tick=state.tick,
        epoch=state.epoch,
        evidence_hash=ev_hash,
        evidence=dict(evidence),
        reporter=reporter,
        fraction_bps=fraction,
        total=total,
        burned=burned,
        to_reporter=to_reporter,
        to_treasury=to_treasury,
        by_account=by_account,
        jailed_until_tick=jailed_until,
    )
    state.add_slash(record)
    invariant(state.ledger.balance(hold) == 0, f"slash {sid}: escrow not empty")
    invariant(total == sum(by_account.values()), f"slash {sid}: total differs from the pieces taken")
    invariant(min(burned, to_reporter, to_treasury) >= 0 and burned + to_reporter + to_treasury == total, f"slash {sid}: split does not add up")
    invariant(stake_matches_ledger(state, node), f"slash {sid}: node {node_id} stake differs from the ledger")
    return record


def process_slash_report(state: State, actor: str, body: dict[str, Any]) -> None:
    """``slash.report``: the oracle reports any offence; anyone may report equivocation with evidence.

    Equivocation evidence is two different messages signed by the node's key for the same scope; the
    shell checks both signatures before the event is appended and ``cor verify`` checks them again.
    """
    node_id = parse_address(body.get("node", ""))
    offence = body.get("offence")
    evidence = body.get("evidence")
    if not isinstance(evidence, dict) or not evidence:
        raise InvalidInput("evidence must be a non-empty object", code="missing_evidence")
    offence_tick = body.get("offence_tick", state.tick)
    if actor != state.oracle:
        if offence != "equivocation":
            raise Unauthorized("only the oracle may report this offence; anyone may report equivocation", code="unauthorized_reporter")
        check_equivocation(state.chain_id, node_id, evidence)
    reporter = actor if actor != state.oracle else body.get("reporter")
    if reporter is not None:
        reporter = parse_address(reporter)
        if reporter == node_id:
            raise Conflict("a node cannot report itself", code="self_report")
    slash(state, node_id, offence, offence_tick, evidence, reporter)


def check_equivocation(chain_id: str, node_id: str, evidence: dict[str, Any]) -> None:
    """Equivocation evidence: two messages signed by the node's key, same scope, different content."""
    msgs = evidence.get("messages")
    if not isinstance(msgs, list) or len(msgs) != 2 or not all(isinstance(m, dict) for m in msgs):
        raise InvalidInput("equivocation evidence needs messages: [two signed messages]", code="invalid_evidence")
    for m in msgs:
        if not isinstance(m.get("message"), str) or not isinstance(m.get("signature"), str) or not isinstance(m.get("scope"), str):
            raise InvalidInput("each message needs scope, message and signature strings", code="invalid_evidence")
    if msgs[0]["scope"] != msgs[1]["scope"]:
        raise InvalidInput("equivocation messages must share one scope", code="invalid_evidence")
    if msgs[0]["message"] == msgs[1]["message"]:
        raise InvalidInput("equivocation messages must differ", code="invalid_evidence")
    for m in msgs:
        signer = recover_signer(equivocation_text(chain_id, m["scope"], m["message"]), m["signature"])
        if signer != node_id:
            raise InvalidInput(f"an equivocation message was signed by {signer}, not by the node", code="invalid_evidence")


# --- offences counted over a window of epochs -------------------------------------------------


def record_offence(state: State, node_id: str, offence: str, task_id: int) -> None:
    """Count an offence; at its threshold within the window, slash with the tasks as evidence."""
    p = state.params
    if node_id not in state.nodes:
        return
    key = f"{node_id}|{offence}"
    window_start = state.epoch - p.offence_window_epochs + 1
    log = [e for e in state.offence_log.get(key, []) if e[0] >= window_start]
    log.append((state.epoch, task_id))
    threshold = {
        "missed_deadline": p.missed_deadline_threshold,
        "poi_divergence": p.poi_divergence_threshold,
        "validator_deviation": p.validator_deviation_threshold,
    }[offence]
    if len(log) >= threshold:
        evidence = {"tasks": [t for _, t in log], "window_epochs": p.offence_window_epochs}
        error = attempt(lambda: slash(state, node_id, offence, state.tick, evidence, None))
        if error is not None:  # e.g. the oracle already reported this evidence: the offence was punished once
            state.skip(f"slash {node_id} for {offence}", error)
        state.offence_log.pop(key, None)
    else:
        state.offence_log[key] = log


def process_offence_windows(state: State) -> None:
    """Forget offence counts that fell out of the window."""
    start = state.epoch + 1 - state.params.offence_window_epochs + 1
    for key in sorted(state.offence_log):
        kept = [e for e in state.offence_log[key] if e[0] >= start]
        if kept:
            state.offence_log[key] = kept
        else:
            del state.offence_log[key]
