"""Slashing and jail (docs/design.md §7; the formulas in docs/rewards.md "Slashing").

These are the rules from rule version 4 (``RULES_SLASHING``); while an earlier version is in force,
every entry point here hands over to ``slashing_first`` (per-node thresholds, the oracle's tick and
reporter), so logs recorded under those rules replay unchanged.

Offences and what each costs
    ``commit_mismatch`` (a reveal that does not match its precommit) and ``equivocation`` (two
    different statements signed for one scope) take ``slash_fraction_bps[offence]`` of every
    slashable position and jail the node for ``jail_duration_ticks``.
    ``poi_divergence``, ``missed_deadline`` and ``validator_deviation`` are *counted* offences, one
    per task: from rule version 7 an offence within the node's allowance for work served well is
    forgiven (``allowance.forgive``: isolated misses of an honest node cost nothing); each other one
    costs a fixed penalty, ``slash_fraction_bps[offence]`` of the node role's minimum
    self-bond, taken pro rata from the slashable positions (at most all of them). A fixed amount per
    offence, whatever the node's stake: nodes are selected in proportion to their stake, so their
    offences come in proportion to it, and an operator pays the same per offence however it splits
    its stake over nodes (a threshold counted per node, or a fraction of each node's own stake, made
    splitting pay).

When an offence is committed, and what is slashable
    The core dates every offence from its evidence, never from the reporter: a task's offences at the
    task's creation (``created_tick``: the earliest its nodes could act on it, so an unbond after the
    assignment cannot escape), an equivocation at the creation of the task its scope names.
    Slashable: the node's self-bond and delegations now, every unbonding entry from the node that
    started after the offence (after its task was created, in log order: a later tick, or the same
    tick and a later event), and every young redelegation out of the node that moved after it (taken
    where the stake went: ``redelegation.slash_redelegated``) — stake that was bonded when the offence
    was committed stays slashable while it unbonds or moves, as in Cosmos. Evidence whose task was created
    ``unbonding_period_epochs`` or more epochs ago is refused (``evidence_too_old``): that stake may
    have been withdrawn.

Evidence, re-derived by the core
    The core finds the task offences itself when it applies the task's events (``tasks.py`` calls
    ``record_offence``) and slashes at once, with evidence ``{"task": id}``. An oracle
    ``slash.report`` of a task offence must cite ``{"task": id}`` of a task the node served; the
    core's own record decides: an offence it found was already slashed (``evidence_already_used``),
    anything else is refused (``evidence_not_derivable``). The oracle names no reporter and no tick
    (``reporter_not_allowed``, ``offence_tick_not_accepted``).
    Equivocation is reported by anyone (the reporter is the sender) with exactly two statements
    ``{scope, message, signature}`` for one scope ``task:<id>:precommit|reveal|report`` of a task the
    node was assigned to; the core checks both signatures. Its evidence hash is over (node,
    ``equivocation``, scope) only: one slash per node and scope, whatever the order, the wrapping or
    the signatures of the statements.
    ``audit_slashes`` re-checks every slash record from the final state (``cor verify``).

Rounding and where the stake goes
    Fraction offences: each position loses floor(balance × fraction / 10 000). Counted offences: each
    position loses floor(penalty × balance / slashable). The floors favour the stakers. The pieces
    gather in the transient ``escrow:slash:<id>`` and split: floor(total × slash_burn_bps / 10 000)
    to ``burned``, floor(own × slash_reporter_bps / 10 000) to the reporter's wallet when there is
    one (``own``: the operator's own pieces, rule version 29 on; rules 4-28: the whole total), and the
    rest, rounding included, to ``treasury``. The escrow is empty after the event.

Self-reports (rule version 29 on)
    The reporter may be any key, the operator's own unlinked one too: paid from the operator's own
    pieces only, a report never returns more than a tenth of what the operator loses. Each scope is
    its own offence, but an equivocation dated before a slash that jailed the node (its task's id
    below that slash's) takes the operator's own positions only: the delegators pay one lapse once,
    the operator pays for every scope.

Jail
    A jailed node is not selectable and may ``node.unjail`` after the cooldown with its minimum bond
    restored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import ledger as acct
from . import slashing_first as first
from .allowance import forgive
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .events import canonical_json, content_hash
from .journal import attempt
from .params import COUNTED_OFFENCES, JAIL_OFFENCES, SLASH_FRACTION_DEFAULT, Params
from .records import ClosedTask, EarningItem, SlashRecord, Task
from .redelegation import slash_redelegated, slashable_redelegations
from .rules import RULES_EXPOSED_STAKE, RULES_SELF_REPORT, RULES_SLASHING, rules_since
from .signatures import equivocation_text, recover_signer
from .staking import accrue_stake_ticks, change_stake, get_node, stake_account, stake_matches_ledger, stakers
from .state import State, assert_ready
from .streams import Stream
from .units import BPS
from .units import address as parse_address

OFFENCES = tuple(SLASH_FRACTION_DEFAULT)
TASK_OFFENCES = ("commit_mismatch",) + COUNTED_OFFENCES
SCOPE = re.compile(r"^task:([0-9]{1,12}):(precommit|reveal|report)$")


def evidence_hash(node: str, offence: str, evidence: dict[str, Any]) -> str:
    """Content hash that identifies one offence: (node, offence, evidence); equivocation evidence is reduced to its scope first."""
    if (
        offence == "equivocation"
        and isinstance(evidence.get("messages"), list)
        and evidence["messages"]
        and isinstance(evidence["messages"][0], dict)
    ):
        evidence = {"scope": evidence["messages"][0].get("scope")}
    return content_hash(canonical_json({"node": node, "offence": offence, "evidence": evidence}))


# --- what an offence costs -----------------------------------------------------------------------


def counted_penalty(state: State, node_id: str, offence: str) -> int:
    """A counted offence's fixed amount: slash_fraction_bps[offence] of the node role's minimum self-bond."""
    p = state.params
    return p.min_self_bond(state.nodes[node_id].role) * p.slash_fraction_bps[offence] // BPS


def slash(
    state: State, node_id: str, offence: str, offence_tick: int, evidence: dict[str, Any], reporter: str | None, after_id: int = 0
) -> SlashRecord:
    """Slash ``node_id`` for ``offence`` committed at ``offence_tick``: over its slashable positions, split, jail.

    Unbonding entries are slashable when they started after the offence: at a later tick, or at the
    same tick but in a later event — ``after_id`` is the id of what dates the offence (its task; ids
    are handed out in log order), and an entry's id is above it exactly when it came later. The
    caller has checked and dated the evidence; a second slash for the same evidence is refused.
    """
    invariant(offence in OFFENCES and 0 <= offence_tick <= state.tick, f"slash of {node_id}: bad offence {offence!r} or tick {offence_tick}")
    node = get_node(state, node_id)
    ev_hash = evidence_hash(node_id, offence, evidence)
    if ev_hash in state.evidence_used:
        raise Conflict("this offence has already been slashed", code="evidence_already_used", evidence_hash=ev_hash)
    p = state.params
    fraction = p.slash_fraction_bps[offence]
    penalty = counted_penalty(state, node_id, offence) if offence in COUNTED_OFFENCES else None
    positions = [(addr, stake_account(node_id, addr)) for addr in stakers(state, node_id)]
    entries = [u for u in state.unbondings_from(node_id) if (u.start_tick, u.id) > (offence_tick, after_id)]  # by id, the node's only
    moved = slashable_redelegations(state, node_id, offence_tick, after_id)  # stake that moved on after the offence
    if offence == "equivocation" and rules_since(p, RULES_SELF_REPORT) and jailed_since(state, node_id, after_id):
        # one lapse costs the delegators once: a scope double-signed before an earlier jail takes the operator's own stake only
        positions = [(addr, account) for addr, account in positions if addr == node_id]
        entries = [u for u in entries if u.address == node_id]
        moved = [r for r in moved if r.address == node_id]
    slashable = sum(state.ledger.balance(account) for _, account in positions) + sum(u.amount for u in entries) + sum(r.amount for r in moved)

    def piece_of(balance: int) -> int:
        if penalty is None:
            return balance * fraction // BPS
        return balance if penalty >= slashable else penalty * balance // slashable

    sid = state.new_id()
    hold = acct.escrow("slash", sid)
    by_account: dict[str, int] = {}
    for addr, account in positions:
        piece = piece_of(state.ledger.balance(account))
        if piece:
            change_stake(state, node_id, addr, account, hold, piece, f"slash:{offence}")
            by_account[account] = piece
            state.earnings.append(
                EarningItem(addr, Stream.SLASH, -piece, _slash_detail(node_id, offence, sid, offence_tick, fraction, penalty, slashable))
            )
    for u in entries:
        piece = piece_of(u.amount)
        if piece:
            state.ledger.transfer(acct.unbonding(u.address), hold, piece, f"slash:{offence}")
            u.amount -= piece
            by_account[f"unbonding:{u.address}#{u.id}"] = piece
            detail = _slash_detail(node_id, offence, sid, offence_tick, fraction, penalty, slashable)
            state.earnings.append(
                EarningItem(u.address, Stream.SLASH, -piece, {**detail, "unbonding_id": u.id, "unbonding_start_tick": u.start_tick})
            )
    for r in moved:
        detail = _slash_detail(node_id, offence, sid, offence_tick, fraction, penalty, slashable)
        piece = slash_redelegated(state, r, piece_of(r.amount), hold, offence, detail)
        if piece:
            by_account[f"redelegation:{r.address}#{r.id}"] = piece
    total = state.ledger.balance(hold)
    burned = total * p.slash_burn_bps // BPS
    to_reporter = reporter_share(p, node_id, by_account) if reporter else 0
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
        if rules_since(p, RULES_EXPOSED_STAKE):
            accrue_stake_ticks(state, node)  # the ticks before the jail were selectable ones (if the node took no piece)
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
        slashable=slashable,
        penalty=penalty,
        derived=True,
    )
    state.add_slash(record)
    invariant(state.ledger.balance(hold) == 0, f"slash {sid}: escrow not empty")
    invariant(total == sum(by_account.values()), f"slash {sid}: total differs from the pieces taken")
    invariant(total <= (slashable if penalty is None else min(penalty, slashable)), f"slash {sid}: took more than the rule allows")
    invariant(min(burned, to_reporter, to_treasury) >= 0 and burned + to_reporter + to_treasury == total, f"slash {sid}: split does not add up")
    invariant(stake_matches_ledger(state, node), f"slash {sid}: node {node_id} stake differs from the ledger")
    return record


def own_pieces(node_id: str, by_account: Mapping[str, int]) -> int:
    """The operator's own part of a slash: the pieces of its self-bond, its unbonding entries and its redelegations."""
    own = (stake_account(node_id, node_id), f"unbonding:{node_id}#", f"redelegation:{node_id}#")
    return sum(piece for key, piece in by_account.items() if key == own[0] or key.startswith(own[1:]))


def reporter_share(p: Params, node_id: str, by_account: Mapping[str, int]) -> int:
    """What an equivocation's reporter is paid: slash_reporter_bps of the operator's own pieces (rule version 29 on), so a
    report from the operator's own key never returns more than it loses; rules 4-28: of the whole slash."""
    base = own_pieces(node_id, by_account) if rules_since(p, RULES_SELF_REPORT) else sum(by_account.values())
    return base * p.slash_reporter_bps // BPS


def jailed_since(state: State, node_id: str, after_id: int, before_id: int | None = None) -> bool:
    """Whether a slash of ``node_id`` that jailed it was taken after the offence dated by ``after_id`` (its task's id; ids
    are handed out in log order) and, ``before_id`` given, before that slash (the audit re-reads a recorded one)."""
    for s in reversed(state.slashes_of(node_id)):
        if s.id <= after_id:
            return False
        if s.jailed_until_tick is not None and (before_id is None or s.id < before_id):
            return True
    return False


def _slash_detail(node: str, offence: str, sid: int, offence_tick: int, fraction: int, penalty: int | None, slashable: int) -> dict[str, Any]:
    formula = (
        "balance × fraction_bps // 10000"
        if penalty is None
        else "penalty × balance // slashable (all of it when the penalty exceeds the slashable stake); "
        "penalty = fraction_bps of the role's minimum self-bond"
    )
    out: dict[str, Any] = {
        "node": node,
        "offence": offence,
        "slash_id": sid,
        "offence_tick": offence_tick,
        "fraction_bps": fraction,
        "formula": formula,
    }
    if penalty is not None:
        out.update(penalty=penalty, slashable=slashable)
    return out


# --- offences the core finds in a task's events -------------------------------------------------


def record_offence(state: State, node_id: str, offence: str, task_id: int) -> None:
    """A task offence the core found while applying the task's events: slash it now, dated at the task's creation.

    Rules 1-3: counted toward the node's threshold (``slashing_first.record_offence``).
    """
    invariant(offence in TASK_OFFENCES, f"{offence} is not a task offence")
    if not rules_since(state.params, RULES_SLASHING):
        first.record_offence(state, node_id, offence, task_id)
        return
    if node_id not in state.nodes:
        return
    task = state.tasks[task_id]
    error = attempt(lambda: _settle_offence(state, node_id, offence, task))
    if error is not None:  # one slash per node, offence and task: a second finding is skipped, never blocks the event
        state.skip(f"slash {node_id} for {offence}", error)


def _settle_offence(state: State, node_id: str, offence: str, task: Task) -> None:
    """Slash a task offence, or forgive it within the node's allowance (counted offences, rule version 7 on)."""
    evidence = {"task": task.id}
    ev_hash = evidence_hash(node_id, offence, evidence)
    if offence in COUNTED_OFFENCES and ev_hash not in state.evidence_used and forgive(state, node_id, task.created_epoch):
        state.evidence_used.add(ev_hash)  # forgiven: never slashed later (an oracle report of it: evidence_already_used)
        return
    slash(state, node_id, offence, task.created_tick, evidence, None, task.id)


def record_mismatch(state: State, node_id: str, task: Task, output_hash: str, salt: str) -> None:
    """A reveal that does not match its precommit (``commit_mismatch``).

    Rules 1-3: slashed at once, dated at the reveal, with the commitment, the output hash and the
    salt as evidence (``slashing_first.slash``).
    """
    if not rules_since(state.params, RULES_SLASHING):
        a = task.assignment(node_id)
        commit = a.commit if a is not None else None
        evidence = {"task": task.id, "commit": commit, "output_hash": output_hash, "salt": salt}
        first.slash(state, node_id, "commit_mismatch", state.tick, evidence, None)
        return
    record_offence(state, node_id, "commit_mismatch", task.id)


def process_offence_windows(state: State) -> None:
    """Rules 1-3: forget offence counts that left the window (``slashing_first``); from rule version 4 nothing is counted."""
    first.process_offence_windows(state)


def served(task: Task | ClosedTask, node_id: str, offence: str) -> bool:
    """Whether ``node_id`` had the part in ``task`` that ``offence`` is about (miner, validator, or either); a closed
    task's stub keeps both (``ClosedTask``)."""
    miner = task.assigned(node_id)
    validator = node_id in task.validators
    return {"commit_mismatch": miner, "poi_divergence": miner, "validator_deviation": validator}.get(offence, miner or validator)


def _fresh(state: State, task: Task | ClosedTask) -> None:
    """Refuse evidence from a task older than the unbonding period (stake bonded then may be gone)."""
    if task.created_epoch <= state.epoch - state.params.unbonding_period_epochs:
        raise Conflict(
            f"task {task.id} is from epoch {task.created_epoch}: evidence must be reported within unbonding_period_epochs "
            f"({state.params.unbonding_period_epochs})",
            code="evidence_too_old",
        )


def _task_of(state: State, task_id: object, pruned: Mapping[int, Task] | None = None) -> Task | ClosedTask:
    """The task evidence names: its whole record when live, else the database's copy when given (``cor verify``'s audit
    reads what a stub does not keep), else a closed task's stub (``RULES_TASK_STUB``: what a report reads of it)."""
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise InvalidInput("evidence.task must be a task id (integer)", code="invalid_evidence")
    task: Task | ClosedTask | None = state.tasks.get(task_id)
    if task is None and pruned is not None:  # the audit of a state that pruned it (core/prune.py): the database's copy
        task = pruned.get(task_id)
    if task is None:
        task = state.closed_tasks.get(task_id)
    if task is None:
        raise Conflict(
            f"evidence names task {task_id}, which does not exist in the live state (a closed task leaves it once evidence about it is too old)",
            code="evidence_not_derivable",
        )
    return task


# --- reports -------------------------------------------------------------------------------------


def process_slash_report(state: State, actor: str, body: dict[str, Any]) -> None:
    """``slash.report``: anyone reports equivocation with signed evidence; the oracle may report a task offence, which the core re-derives.

    Rules 1-3: ``slashing_first.process_slash_report`` (the oracle reports any offence, with its tick and reporter).
    """
    if not rules_since(state.params, RULES_SLASHING):
        first.process_slash_report(state, actor, body)
        return
    node_id = parse_address(body["node"])  # the body passed its schema (commands.SCHEMAS["slash.report"])
    offence: str = body["offence"]
    evidence = body.get("evidence")
    if not isinstance(evidence, dict) or not evidence:
        raise InvalidInput("evidence must be a non-empty object", code="missing_evidence")
    if "offence_tick" in body:
        raise InvalidInput("offence_tick is not accepted: the core dates every offence from its evidence", code="offence_tick_not_accepted")
    if "reporter" in body:
        raise InvalidInput("reporter is not accepted: the reporter is the sender of an equivocation report", code="reporter_not_allowed")
    get_node(state, node_id)
    if offence == "equivocation":
        task = check_equivocation(state, node_id, evidence)
        _fresh(state, task)
        reporter = None if actor == state.oracle else actor
        if reporter == node_id:
            raise Conflict("a node cannot report itself", code="self_report")
        slash(state, node_id, offence, task.created_tick, evidence, reporter, task.id)
        return
    if actor != state.oracle:
        raise Unauthorized("only the oracle may report this offence; anyone may report equivocation", code="unauthorized_reporter")
    if set(evidence) != {"task"}:
        raise InvalidInput('a task offence\'s evidence is exactly {"task": <id>}', code="invalid_evidence")
    task = _task_of(state, evidence["task"])
    if not served(task, node_id, offence):
        raise Conflict(f"{node_id} had no part in task {task.id} that {offence} is about", code="evidence_not_derivable")
    if evidence_hash(node_id, offence, {"task": task.id}) in state.evidence_used:
        raise Conflict(f"the core found this {offence} in task {task.id} and slashed or forgave it already", code="evidence_already_used")
    raise Conflict(
        f"task {task.id}'s record shows no {offence} by {node_id}: the core finds task offences itself from the task's events",
        code="evidence_not_derivable",
    )


def check_equivocation(state: State, node_id: str, evidence: dict[str, Any], pruned: Mapping[int, Task] | None = None) -> Task | ClosedTask:
    """Two different statements signed by the node's key for one scope of a task it was assigned to; returns that task.

    The evidence is exactly ``{"messages": [m1, m2]}``, each ``{"scope", "message", "signature"}``.
    """
    msgs = evidence.get("messages")
    if set(evidence) != {"messages"} or not isinstance(msgs, list) or len(msgs) != 2 or not all(isinstance(m, dict) for m in msgs):
        raise InvalidInput('equivocation evidence is exactly {"messages": [two signed statements]}', code="invalid_evidence")
    for m in msgs:
        if set(m) != {"scope", "message", "signature"} or not all(isinstance(m[k], str) for k in m):
            raise InvalidInput("each statement is exactly {scope, message, signature} (strings)", code="invalid_evidence")
    if msgs[0]["scope"] != msgs[1]["scope"]:
        raise InvalidInput("equivocation statements must share one scope", code="invalid_evidence")
    if msgs[0]["message"] == msgs[1]["message"]:
        raise InvalidInput("equivocation statements must differ", code="invalid_evidence")
    scope = SCOPE.match(msgs[0]["scope"])
    if scope is None:
        raise InvalidInput("the scope must be task:<id>:precommit, task:<id>:reveal or task:<id>:report", code="invalid_evidence")
    task = _task_of(state, int(scope.group(1)), pruned)
    role_ok = node_id in task.validators if scope.group(2) == "report" else task.assigned(node_id)
    if not role_ok:
        raise Conflict(f"{node_id} was not assigned to task {task.id} for {scope.group(2)}", code="evidence_not_derivable")
    for m in msgs:
        signer = recover_signer(equivocation_text(state.chain_id, m["scope"], m["message"]), m["signature"])
        if signer != node_id:
            raise InvalidInput(f"a statement was signed by {signer}, not by the node", code="invalid_evidence")
    return task


# --- the audit (cor verify) -------------------------------------------------------------------


def audit_slashes(state: State, pruned: Mapping[int, Task] | None = None, params_at: Callable[[int], Params] | None = None) -> list[str]:
    """Re-check every slash record against the final state; the problems found (none when all hold).

    Task offences: evidence exactly {"task": id} of an existing task the node served in that part,
    dated at the task's creation, no reporter, and the task's record shows the offence (a mismatched
    reveal; a judged reveal out of consensus; a missing precommit, reveal or report; a report).
    Equivocation: the statements' signatures and scope hold, dated at the scoped task's creation.
    Every record's evidence hash is the canonical one, and no offence is slashed twice. The reporter's share is re-derived
    from the pieces (``reporter_share``), and from rule version 29 an equivocation dated before an earlier jail of the node
    took the operator's own stake only (``jailed_since``). Tasks pruned
    from the state (core/prune.py) are looked up in ``pruned``, parameter versions in ``params_at``
    (the database's copies).
    """
    problems: list[str] = []
    seen: set[str] = set()
    for s in state.slashes:
        where = f"slash {s.id} ({s.offence} of {s.node})"
        p = params_at(s.epoch) if params_at is not None else assert_ready(state).at(s.epoch)
        if s.derived != rules_since(p, RULES_SLASHING):
            problems.append(f"{where}: not taken under the slashing rules in force in epoch {s.epoch}")
            continue
        if not s.derived:  # rules 1-3 (slashing_first): the oracle's evidence was taken as given
            continue
        if s.evidence_hash != evidence_hash(s.node, s.offence, s.evidence) or s.evidence_hash in seen:
            problems.append(f"{where}: evidence hash is not canonical or repeats an earlier slash")
        seen.add(s.evidence_hash)
        try:
            if s.offence == "equivocation":
                task = check_equivocation(state, s.node, s.evidence, pruned)
            else:
                if set(s.evidence) != {"task"} or s.reporter is not None:
                    raise InvalidInput("task offence evidence is not exactly {task} or names a reporter", code="invalid_evidence")
                task = _task_of(state, s.evidence["task"], pruned)
                if isinstance(task, ClosedTask):
                    raise NotFound(f"task {task.id}'s whole record is not at hand (no database copy given)", code="evidence_not_derivable")
                if not served(task, s.node, s.offence) or not _shows(task, s.node, s.offence):
                    raise InvalidInput(f"task {task.id}'s record shows no {s.offence} by {s.node}", code="evidence_not_derivable")
        except (InvalidInput, NotFound, Conflict, Unauthorized) as exc:
            problems.append(f"{where}: {exc}")
            continue
        if s.offence_tick != task.created_tick:
            problems.append(f"{where}: dated at tick {s.offence_tick}, its evidence dates it at {task.created_tick}")
        if s.to_reporter != (reporter_share(p, s.node, s.by_account) if s.reporter is not None else 0):
            problems.append(f"{where}: the reporter was paid {s.to_reporter}, its share of the pieces is another amount")
        if (
            s.offence == "equivocation"
            and rules_since(p, RULES_SELF_REPORT)
            and jailed_since(state, s.node, task.id, s.id)
            and own_pieces(s.node, s.by_account) != sum(s.by_account.values())
        ):
            problems.append(f"{where}: dated before an earlier jail of the node, it took more than the operator's own stake")
    return problems


def _shows(task: Task, node_id: str, offence: str) -> bool:
    """What the task's record must show for ``offence`` by ``node_id`` (necessary conditions, parameter-free)."""
    a = task.assignment(node_id)
    if offence == "commit_mismatch":
        return a is not None and a.mismatch
    if offence == "poi_divergence":
        return a is not None and a.reveal_tick is not None and not a.mismatch and a.distance_ppb is not None and not a.in_consensus
    if offence == "validator_deviation":
        return node_id in task.reports
    if a is not None:  # missed_deadline by a miner: no precommit, or a precommit never revealed
        return a.commit is None or a.reveal_tick is None
    return node_id not in task.reports
