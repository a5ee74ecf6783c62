"""Tasks: the Proof-of-Useful-Work state machine with commit-reveal (docs/design.md §4).

    REQUESTED → CREATED → PREPARED → STARTED → PRECOMMITTED → COMMITTED ⇄ REPORTING → (AUDITING) → VALIDATED → SETTLED
    exits: CANCELLED (by the user before any precommit), FAILED (deadline missed, no consensus)

Messages
    ``task.submit``    (user)   {session, model, prompt_hash, prompt_bytes, input_tokens, max_output_tokens, router?}
                                escrows the quote at max_output_tokens from the session. With a beacon
                                the task waits in CREATED until the next tick, whose beacon value draws
                                its miners (PREPARED). Without a beacon, miners are drawn at once from
                                the log head (CREATED and PREPARED in one event).
    ``task.network``   (oracle) {model, prompt_hash, prompt_bytes, input_tokens, max_output_tokens, canary?}
                                a network task: no escrow; earns network rewards. Miners are drawn like
                                a user task's, by weight (without a beacon: idle miners first).
                                From ``RULES_NETWORK_PROMPTS`` on a network whose genesis holds a prompt set,
                                the prompt (hash, bytes, max_output_tokens) must be the one the beacon
                                composed (``network_prompts``: ``network_prompt_mismatch``).
                                ``canary`` = validation.canary_commitment(prompt_hash, planted output or none, salt).
    ``task.cancel``    (user)   {task}: the whole escrow returns. With a beacon, only while CREATED:
                                once its miners are drawn a task runs (seeing who was drawn and
                                cancelling would let a user redraw until its own miners serve it).
                                Without a beacon, before any precommit.
    ``task.precommit`` (miner)  {task, commit}  commit = sha256("task_id|miner|output_hash|salt").
    ``task.reveal``    (miner)  {task, output_hash, salt}; a mismatch is ``commit_mismatch``. (Its token count is
                                the validators' to measure: a miner claims none.)
                                When the reveals are in, validators are drawn: with a beacon, by the
                                next tick's value (the task is COMMITTED with no validators until then).
    ``task.report_commit`` (validator) {task, commit}  commit = validation.report_commitment(task, validator, reports, salt,
                                input_tokens) (input_tokens from ``RULES_MEASURED_TOKENS``).
    ``task.validate``  (validator) {task, input_tokens, reports: [{miner, poi_distance_ppb, quality_ppb, output_tokens,
                                criteria?}, ...], salt} reveals the committed reports (criteria: the PoUW sub-scores in
                                ppb, kept so statements can explain them; from ``RULES_MEASURED_TOKENS``, input_tokens and
                                output_tokens: its counts of the prompt and of each output with the model's tokenizer,
                                settled by ``token_counts``; from ``RULES_TASK_SPREAD``, spread_ppb: its spread of the task,
                                committed too, and the distances are raw: ``spread``); reports that do not match are refused.
    ``task.canary_commit`` (oracle) {task, canary} from ``RULES_USER_CANARIES``: a user task's canary commitment (the
                                same hash as ``task.network``'s ``canary``), once, while no miner of the task has
                                revealed (CREATED, PREPARED, STARTED); from there the task is audited like a network task.
    ``task.canary``    (oracle) {task, planted?, salt} opens a task's canary commitment.
    Deadlines (ticks) move a task on when nodes are late; each late node gets a ``missed_deadline``.
    A drawn task's deadline counts from its draw.

The validation phase
    COMMITTED    the validators of the current round commit to their reports (``validation_deadline_ticks``);
    REPORTING    ... and reveal them (``report_reveal_deadline_ticks``). Then, over every report revealed
                 so far: a *disputed* task (a report further than ``dissent_bound_ppb`` from a median)
                 with escalation rounds left draws as many more validators as it has (up to
                 ``escalation_max_validators``; with a beacon, by the next tick's value) and goes
                 back to COMMITTED for them;
    AUDITING     a task with a canary commitment (a network task's, or from rule 17 a user task's) waits for the oracle to open it
                 (``canary_open_deadline_ticks``; unopened, the task settles as no canary, and from
                 ``RULES_UNOPENED_CANARY`` as ``unopened``: no miner of it counts a ``poi_divergence``
                 and no out-of-consensus miner's reputation moves, as any may be the planter). A planted
                 output is left out of consensus and offences; each validator whose report let it
                 pass fails the canary (agreement 0 for the task, a ``validator_deviation`` count, and
                 the validators stream's canary gate at epoch close). Its miner (the planter) earns
                 nothing on rules 1-17; from ``RULES_PAID_PLANTER`` it is paid for a settled task as a
                 typical in-consensus miner of it (``planter_quality_ppb``, ``_paid_planter``).

Who is assigned: ``selection``. Consensus, dissent, agreement and canaries: ``validation``.

Outcome (in the event that completes validation)
    in consensus: consensus distance ≤ the task's threshold and consensus quality ≥ consensus_min_quality_ppb; the threshold
    is poi_max_distance_ppb, or from ``RULES_TASK_SPREAD`` the one its revealed spreads give (``spread``), kept on the task
    (``spread_ppb``, ``threshold_ppb``).
    With at least ``min_consensus`` miners in consensus the task is SETTLED: a user task pays its fee
    (``fees``), reputations move, and its work counts toward the epoch's network rewards. Otherwise it
    FAILS and its escrow is refunded. The task's token counts are the validators' (``token_counts``).
    Late nodes, outputs out of consensus and deviating validators are offences
    (``slashing.record_offence``: slashed at once, dated at the task's creation, or from rule version 7
    forgiven within the allowance each task served well earns, ``allowance``; rule versions 1-3:
    counted toward per-node thresholds).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple, cast

from . import ledger as acct
from . import reputation as rep
from .allowance import count_served
from .beacon import draw_handler, has_beacon, request_draw
from .errors import Conflict, InvalidInput, InvariantViolation, NotFound, Unauthorized, invariant
from .fees import refund_escrow, settle_fee
from .models import listed_model
from .network_prompts import check_network_prompt, composes_prompts
from .params import Params
from .pricing import check_tokens, complexity_units, quote
from .records import PRECOMMIT_WINDOW, Assignment, ClosedTask, Model, RevealedReports, Task, TaskKind, TaskState
from .rules import (
    RULES_ESCALATION_FROM_POOL,
    RULES_ESCALATION_PAY,
    RULES_PAID_PLANTER,
    RULES_PANEL_WEIGHTS,
    RULES_TASK_SPREAD,
    RULES_TASK_STUB,
    RULES_UNOPENED_CANARY,
    RULES_USER_CANARIES,
    rules_since,
)
from .selection import busy_miners, draw, eligible_nodes, pool_size, sample_nodes
from .sessions import get_session, session_account
from .slashing import record_mismatch, record_offence
from .spread import consensus_threshold_ppb
from .staking import get_node, is_selectable
from .state import State, task_names
from .token_counts import measured, measured_input_tokens, measured_output_tokens, settled_output_tokens
from .units import PPB
from .validation import (
    Consensus,
    aggregate,
    agreement_first_rules_ppb,
    agreement_ppb,
    canary_commitment,
    deviation_first_rules_ppb,
    deviation_ppb,
    dissenters,
    passes_canary,
    report_commitment,
)

_HASH = re.compile(r"^0x[0-9a-f]{64}$")
MAX_SALT = 128


def commitment(task_id: int, miner: str, output_hash: str, salt: str) -> str:
    """The precommit: sha256 of "task_id|miner|output_hash|salt" as 0x-hex."""
    return "0x" + hashlib.sha256(f"{task_id}|{miner}|{output_hash}|{salt}".encode()).hexdigest()


# --- helpers ---------------------------------------------------------------------------------


def get_task(state: State, task_id: Any) -> Task | ClosedTask:
    """The live task ``task_id``: its whole record, or the stub of a closed task whose record left (``RULES_TASK_STUB``:
    a command naming it reads what the stub keeps, then is refused by its state, with the codes the whole record gave)."""
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise InvalidInput("task must be a task id (integer)", code="invalid_task")
    t: Task | ClosedTask | None = state.tasks.get(task_id)
    if t is None:
        t = state.closed_tasks.get(task_id)
    if t is None:
        raise NotFound(f"no task {task_id}", code="task_not_found")
    return t


def whole(task: Task | ClosedTask) -> Task:
    """A task past its state's refusal: an open one, so its whole record (a closed task's stub is refused before)."""
    invariant(isinstance(task, Task), f"task {task.id}: a closed task's stub read past its state's refusal")
    return cast(Task, task)


def _assignment(task: Task, miner: str) -> Assignment:
    """The assignment of a miner ``assigned`` to the open ``task``."""
    a = task.assignment(miner)
    if a is None:
        raise InvariantViolation(f"{miner} assigned to task {task.id} without an assignment")
    return a


def stubs_closed_tasks(p: Params) -> bool:
    """Whether a task closed under ``p`` leaves its whole record at the end of the event (``RULES_TASK_STUB``, pruning on)."""
    return p.prune_closed_records == 1 and rules_since(p, RULES_TASK_STUB)


def _hash_field(body: dict[str, Any], name: str) -> str:
    v = body.get(name)
    if not isinstance(v, str) or not _HASH.match(v):
        raise InvalidInput(f"{name} must be 0x followed by 64 lower-case hex digits", code="invalid_hash", field=name)
    return v


def _set_deadline(state: State, task: Task, ticks: int) -> None:
    task.deadline_tick = state.tick + ticks
    state.deadlines.setdefault(task.deadline_tick, set()).add(task.id)


def _clear_deadline(state: State, task: Task) -> None:
    ids = state.deadlines.get(task.deadline_tick)
    if ids is not None:
        ids.discard(task.id)
        if not ids:
            del state.deadlines[task.deadline_tick]


def _close(state: State, task: Task, final: TaskState, failure: str | None = None) -> None:
    _clear_deadline(state, task)
    task.state = final
    task.failure = failure
    task.closed_tick = state.tick
    if stubs_closed_tasks(state.params):  # its whole record leaves at the end of this event (prune.retire_closed_tasks)
        state.closing.append(task.id)
    if task.session is not None:
        state.sessions[task.session].open_tasks -= 1
        invariant(state.sessions[task.session].open_tasks >= 0, f"session {task.session}: fewer than no open tasks")
    invariant(task.id not in state.deadlines.get(task.deadline_tick, ()), f"task {task.id} closed with a deadline")


# --- creation --------------------------------------------------------------------------------


def _task_inputs(state: State, body: dict[str, Any]) -> tuple[Model, str, int, int, int]:
    p = state.params
    model = listed_model(state, body.get("model", ""))
    prompt_hash = _hash_field(body, "prompt_hash")
    prompt_bytes = body.get("prompt_bytes")
    if isinstance(prompt_bytes, bool) or not isinstance(prompt_bytes, int) or prompt_bytes < 1:
        raise InvalidInput("prompt_bytes must be a positive integer", code="invalid_prompt")
    if prompt_bytes > p.max_prompt_bytes:
        raise InvalidInput(f"prompt is {prompt_bytes} bytes, the limit is {p.max_prompt_bytes}", code="prompt_too_large")
    input_tokens = check_tokens("input_tokens", body.get("input_tokens"), 1)
    max_out = check_tokens("max_output_tokens", body.get("max_output_tokens"), 1)
    if input_tokens + max_out > model.context_length:
        raise InvalidInput(
            f"input_tokens + max_output_tokens = {input_tokens + max_out} exceeds the model's context of {model.context_length}",
            code="prompt_exceeds_context",
        )
    return model, prompt_hash, prompt_bytes, input_tokens, max_out


def _open_task(state: State, task: Task) -> None:
    """Record a new task: with a beacon it waits (CREATED) for the next value to draw its miners."""
    invariant(len(state.tasks) < 10**9, "task id space")
    state.tasks[task.id] = task
    state.node_refs.add(task_names(task))
    if has_beacon(state):
        task.state = TaskState.CREATED
        task.seed = ""
        request_draw(state, MINERS, task.id)
        return
    _set_deadline(state, task, state.params.precommit_deadline_ticks)


def _check_pools(state: State, model: str, miners: int, dedicated: bool = False) -> None:
    """Refuse a task the network could not serve now (the draw itself comes with the next beacon value)."""
    if not dedicated and pool_size(state, "miner", model) < miners:
        raise Conflict(f"{pool_size(state, 'miner', model)} eligible miners serve {model}, the task needs {miners}", code="not_enough_miners")
    if pool_size(state, "validator") < 1:
        raise Conflict("no eligible validator", code="not_enough_validators")


# --- draws (networks with a beacon) -----------------------------------------------------------

MINERS = "task:miners"
VALIDATORS = "task:validators"
ESCALATION = "task:escalation"


def _drawn_task(state: State, task_id: int) -> Task | None:
    """The task a queued draw is for, or None when it has left the live state: only a closed task is pruned
    (core/prune.py), and every draw handler leaves a closed task as it is, so a pruned one is skipped the same way.
    A draw can outlive its task's record: a task cancelled before its draw is pruned at the first close past
    ``unbonding_period_epochs`` (1 or 0 make that the close of its own epoch, which runs its draws after the prune),
    or later while the beacon waits for its next chain. Before, ``state.tasks[task_id]`` raised KeyError there and the
    close (or tick) carrying the draw was refused every time it was sent: no epoch could close again."""
    return state.tasks.get(task_id)


@draw_handler(MINERS)
def draw_miners(state: State, task_id: int, seed: bytes) -> None:
    """A task's miners, drawn with the beacon value revealed after it was created (it may be cancelled by then, and even
    pruned: ``_drawn_task``)."""
    task = _drawn_task(state, task_id)
    if task is None or task.state != TaskState.CREATED:
        return
    p = state.params
    among = None
    if task.session is not None and state.sessions[task.session].mode == "dedicated":
        among = list(state.sessions[task.session].dedicated_miners)
    miners = draw(state, "miner", task.redundancy, seed, model=task.model, among=among)
    task.seed = "0x" + seed.hex()
    need = task.redundancy if task.kind == TaskKind.USER else p.min_consensus
    if len(miners) < need:
        _fail(state, task, "not_enough_miners")
        return
    state.node_refs.drop([a.miner for a in task.miners])  # (none: a task waiting for its draw has no miners)
    task.miners = [Assignment(m) for m in miners]
    state.node_refs.add(miners)
    task.redundancy = len(miners)
    task.state = TaskState.PREPARED
    _set_deadline(state, task, p.precommit_deadline_ticks)


@draw_handler(VALIDATORS)
def draw_validators(state: State, task_id: int, seed: bytes) -> None:
    """A task's validators, drawn with the beacon value revealed after its reveals were in."""
    task = _drawn_task(state, task_id)
    if task is None or task.state != TaskState.COMMITTED or task.validators:
        return
    validators = draw(state, "validator", task.validators_wanted, seed)
    if not validators:
        _fail(state, task, "no_validators")
        return
    _assign_validators(state, task, validators)
    _set_deadline(state, task, state.params.validation_deadline_ticks)


@draw_handler(ESCALATION)
def draw_escalation(state: State, task_id: int, seed: bytes) -> None:
    """More validators for a disputed task, drawn with the beacon value revealed after its round's reveals."""
    task = _drawn_task(state, task_id)
    if task is None or task.state != TaskState.COMMITTED or task.drawn_in(task.round):
        return
    size = _escalation_size(state, task)
    if rules_since(state.params, RULES_ESCALATION_FROM_POOL):  # the pool's tree, the task's validators left out: O((k + v) log n)
        _escalated(state, task, draw(state, "validator", size, seed, excluding=task.validators))
        return
    taken = set(task.validators)  # rules 1-18: a tree of every other selectable validator, in id order: O(n)
    _escalated(state, task, draw(state, "validator", size, seed, among=[v for v in eligible_nodes(state, "validator") if v not in taken]))


def _count_open(state: State) -> int:
    """Tasks with a deadline, and draws waiting for the beacon (tasks waiting for miners or validators)."""
    waiting = len(state.beacon.pending) if state.beacon is not None else 0
    return sum(len(v) for v in state.deadlines.values()) + waiting


def process_task_submit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.submit``: quote, escrow at max_output_tokens, assign miners."""
    p = state.params
    session = get_session(state, body.get("session"), owner=actor)
    if not session.is_open:
        raise Conflict(f"session {session.id} is closed", code="session_closed")
    model, prompt_hash, prompt_bytes, input_tokens, max_out = _task_inputs(state, body)
    router = body.get("router")
    if router is not None:
        rnode = get_node(state, router)
        if rnode.role != "router" or not is_selectable(state, rnode):
            raise Conflict(f"{router} is not an active router node", code="invalid_router")
    q = quote(model, input_tokens, max_out, p, session.redundancy)
    deposit = state.ledger.balance(session_account(session.id))
    if deposit < q.total_units:
        raise Conflict(
            f"session deposit {deposit} is below the quote {q.total_units} at max_output_tokens",
            code="deposit_too_small",
            needed=str(q.total_units),
            deposit=str(deposit),
        )
    if _count_open(state) >= p.max_open_tasks:
        raise Conflict("too many open tasks; try again later", code="too_many_open_tasks")
    tid = state.next_id
    if has_beacon(state):
        _check_pools(state, model.id, session.redundancy, dedicated=session.mode == "dedicated")
        miners: list[str] = []
    else:
        among = [m for m in session.dedicated_miners if is_selectable(state, state.nodes[m])] if session.mode == "dedicated" else None
        miners = sample_nodes(state, "miner", session.redundancy, f"task:{tid}:miners", model=model.id, among=among)
        if len(miners) < session.redundancy:
            raise Conflict(f"{len(miners)} eligible miners serve {model.id}, the session needs {session.redundancy}", code="not_enough_miners")
        if not eligible_nodes(state, "validator"):
            raise Conflict("no eligible validator", code="not_enough_validators")
    state.new_id()
    task = Task(
        id=tid,
        kind=TaskKind.USER,
        user=actor,
        session=session.id,
        router=router,
        model=model.id,
        prompt_hash=prompt_hash,
        prompt_bytes=prompt_bytes,
        input_tokens=input_tokens,
        max_output_tokens=max_out,
        redundancy=session.redundancy,
        validators_wanted=max(session.validators, p.min_validators_per_task) if has_beacon(state) else session.validators,
        state=TaskState.PREPARED,
        created_tick=state.tick,
        created_epoch=state.epoch,
        deadline_tick=0,
        escrowed=q.total_units,
        seed=state.head_hash,
        measured_tokens=measured(p),
        spread_rule=rules_since(p, RULES_TASK_SPREAD),
        miners=[Assignment(m) for m in miners],
    )
    state.ledger.transfer(session_account(session.id), acct.escrow("task", tid), q.total_units, "task_escrow")
    session.open_tasks += 1
    _open_task(state, task)


def process_task_network(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.network`` (oracle): a network task to idle miners, no escrow; from rule 9 on a network with a
    prompt set, its prompt is the one the beacon composed (``network_prompts``)."""
    p = state.params
    model, prompt_hash, prompt_bytes, input_tokens, max_out = _task_inputs(state, body)
    if composes_prompts(state):
        check_network_prompt(state, prompt_hash, prompt_bytes, max_out)
    canary = _hash_field(body, "canary") if "canary" in body else None
    if canary is not None and not has_beacon(state):
        raise Conflict("canaries need the validators' commit-reveal rules (a network with a beacon)", code="first_rules")
    if _count_open(state) >= p.max_open_tasks:
        raise Conflict("too many open tasks", code="too_many_open_tasks")
    tid = state.next_id
    if has_beacon(state):
        _check_pools(state, model.id, p.min_consensus)
        miners: list[str] = []
    else:
        idle = set(eligible_nodes(state, "miner", model.id)) - busy_miners(state)
        miners = sample_nodes(state, "miner", p.redundancy, f"task:{tid}:miners", model=model.id, prefer=idle)
        if len(miners) < p.min_consensus:
            raise Conflict(f"{len(miners)} eligible miners serve {model.id}; need {p.min_consensus}", code="not_enough_miners")
        if not eligible_nodes(state, "validator"):
            raise Conflict("no eligible validator", code="not_enough_validators")
    state.new_id()
    task = Task(
        id=tid,
        kind=TaskKind.NETWORK,
        user=None,
        session=None,
        router=None,
        model=model.id,
        prompt_hash=prompt_hash,
        prompt_bytes=prompt_bytes,
        input_tokens=input_tokens,
        max_output_tokens=max_out,
        redundancy=len(miners) if miners else p.redundancy,
        validators_wanted=p.validators_per_task,
        state=TaskState.PREPARED,
        created_tick=state.tick,
        created_epoch=state.epoch,
        deadline_tick=0,
        escrowed=0,
        seed=state.head_hash,
        measured_tokens=measured(p),
        spread_rule=rules_since(p, RULES_TASK_SPREAD),
        miners=[Assignment(m) for m in miners],
        canary_commit=canary,
    )
    _open_task(state, task)


def process_task_cancel(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.cancel``: the user withdraws a task no miner has precommitted to yet."""
    found = get_task(state, body.get("task"))
    if found.user != actor:
        raise Unauthorized("only the task's user may cancel it", code="not_task_owner")
    if found.state not in (TaskState.CREATED, TaskState.PREPARED):
        raise Conflict(f"task {found.id} is {found.state} and can no longer be cancelled", code="task_not_cancellable")
    task = whole(found)
    if any(a.commit for a in task.miners):
        raise Conflict(f"task {task.id} is {task.state} and can no longer be cancelled", code="task_not_cancellable")
    if task.state == TaskState.PREPARED and has_beacon(state):  # its miners are known: cancelling would throw a draw away
        raise Conflict(f"task {task.id} has its miners; a task can be cancelled only before they are drawn", code="task_not_cancellable")
    refund_escrow(state, task, "task_cancelled")
    _close(state, task, TaskState.CANCELLED, "cancelled_by_user")


# --- commit, reveal, validate ------------------------------------------------------------------


def process_task_precommit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.precommit``: an assigned miner commits to its output before the deadline."""
    found = get_task(state, body.get("task"))
    commit = _hash_field(body, "commit")
    if not found.assigned(actor):
        raise Unauthorized(f"{actor} is not assigned to task {found.id}", code="not_assigned")
    if found.state not in PRECOMMIT_WINDOW:
        raise Conflict(f"task {found.id} is {found.state}: the precommit window is over", code="precommit_window_over")
    task = whole(found)
    a = _assignment(task, actor)
    if a.commit is not None:
        raise Conflict("already precommitted", code="already_precommitted")
    a.commit = commit
    a.precommit_tick = state.tick
    task.state = TaskState.STARTED
    if all(x.commit for x in task.miners):
        _enter_reveal(state, task)


def _enter_reveal(state: State, task: Task) -> None:
    _clear_deadline(state, task)
    task.state = TaskState.PRECOMMITTED
    _set_deadline(state, task, state.params.reveal_deadline_ticks)


def process_task_reveal(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.reveal``: output hash and salt; a reveal that does not match its commit is slashed."""
    found = get_task(state, body.get("task"))
    if not found.assigned(actor):
        raise Unauthorized(f"{actor} is not assigned to task {found.id}", code="not_assigned")
    if found.state != TaskState.PRECOMMITTED:
        raise Conflict(f"task {found.id} is {found.state}, not open for reveals", code="reveal_window_closed")
    task = whole(found)
    a = _assignment(task, actor)
    if a.commit is None:
        raise Conflict("no precommit to reveal", code="no_precommit")
    if a.reveal_tick is not None:
        raise Conflict("already revealed", code="already_revealed")
    output_hash = _hash_field(body, "output_hash")
    salt = body.get("salt")
    if not isinstance(salt, str) or not 1 <= len(salt) <= MAX_SALT:
        raise InvalidInput(f"salt must be a string of 1-{MAX_SALT} characters", code="invalid_salt")
    claimed = None
    if task.measured_tokens:
        if "output_tokens" in body:
            raise InvalidInput("a reveal claims no output_tokens: the validators count the revealed output", code="unknown_field")
    else:  # the first rules: the miner's claim, at most max_output_tokens
        claimed = check_tokens("output_tokens", body.get("output_tokens"))
        if claimed > task.max_output_tokens:
            raise InvalidInput(f"output_tokens {claimed} exceeds max_output_tokens {task.max_output_tokens}", code="invalid_tokens")
    a.output_tokens = claimed
    a.reveal_tick = state.tick
    a.reveal_rank = sum(1 for x in task.miners if x.reveal_tick is not None) - 1
    a.output_hash = output_hash
    if commitment(task.id, actor, output_hash, salt) != a.commit:
        a.mismatch = True
        record_mismatch(state, actor, task, output_hash, salt)
    if all(x.reveal_tick is not None for x in task.miners if x.commit):
        _enter_validation(state, task)


def _valid_reveals(task: Task) -> list[Assignment]:
    return [a for a in task.miners if a.reveal_tick is not None and not a.mismatch]


def _enter_validation(state: State, task: Task) -> None:
    _clear_deadline(state, task)
    if len(_valid_reveals(task)) < state.params.min_consensus:
        _fail(state, task, "too_few_valid_reveals")
        return
    task.state = TaskState.COMMITTED
    if has_beacon(state):
        request_draw(state, VALIDATORS, task.id)
        return
    validators = sample_nodes(state, "validator", task.validators_wanted, f"task:{task.id}:validators")
    if not validators:
        _fail(state, task, "no_validators")
        return
    _assign_validators(state, task, validators)
    _set_deadline(state, task, state.params.validation_deadline_ticks)


def _assign_validators(state: State, task: Task, validators: list[str]) -> None:
    """The validators drawn for the task's current round (``state.node_refs`` counts them)."""
    for v in validators:
        task.validators.append(v)
        task.validator_round[v] = task.round
    state.node_refs.add(list(validators))
    invariant(len(set(task.validators)) == len(task.validators), f"task {task.id}: a validator drawn twice")


def _report_ppb(name: str, value: object, hi: int) -> int:
    """A reported distance or quality: an integer in [0, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise InvalidInput(f"{name} must be an integer in [0, {hi}]", code="invalid_report")
    return value


def _current_validator(task: Task | ClosedTask, actor: str) -> None:
    if actor not in task.validators:
        raise Unauthorized(f"{actor} is not a validator of task {task.id}", code="not_assigned")


def process_task_report_commit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.report_commit``: an assigned validator commits to its reports before anyone's are public."""
    found = get_task(state, body.get("task"))
    commit = _hash_field(body, "commit")
    _current_validator(found, actor)
    if not has_beacon(state):
        raise Conflict("on the first rules (a network without a beacon) reports are sent at once with task.validate", code="first_rules")
    if found.state != TaskState.COMMITTED:
        raise Conflict(f"task {found.id} is {found.state}: the report commit window is over", code="report_commit_window_closed")
    task = whole(found)
    if task.validator_round.get(actor, 0) != task.round:
        raise Conflict(f"task {task.id} is {task.state}: the report commit window is over", code="report_commit_window_closed")
    if actor in task.report_commits:
        raise Conflict("already committed to a report", code="already_committed")
    task.report_commits[actor] = commit
    if all(v in task.report_commits for v in task.drawn_in(task.round)):
        _enter_report_reveal(state, task)


def _enter_report_reveal(state: State, task: Task) -> None:
    _clear_deadline(state, task)
    task.state = TaskState.REPORTING
    _set_deadline(state, task, state.params.report_reveal_deadline_ticks)


def _parse_reports(task: Task, body: dict[str, Any]) -> RevealedReports:
    counting = task.measured_tokens
    expected = {a.miner for a in _valid_reveals(task)}
    reports = body.get("reports")
    if not isinstance(reports, list) or len(reports) > 64:
        raise InvalidInput("reports must be a list of {miner, poi_distance_ppb, quality_ppb, output_tokens}", code="invalid_report")
    input_count = None
    if counting:
        input_count = check_tokens("input_tokens", body.get("input_tokens"))
    elif "input_tokens" in body:
        raise InvalidInput("this task's rules take no token counts from validators (it was created before the measured counts)", code="unknown_field")
    parsed: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    criteria: dict[str, dict[str, int]] = {}
    for r in reports:
        if not isinstance(r, dict):
            raise InvalidInput("each report must be an object", code="invalid_report")
        m, d, q = r.get("miner"), r.get("poi_distance_ppb"), r.get("quality_ppb")
        if not isinstance(m, str) or m not in expected or m in parsed:
            raise InvalidInput(f"report names {m!r}, which is not a (single) revealed miner of the task", code="invalid_report")
        parsed[m] = [_report_ppb("poi_distance_ppb", d, 2 * PPB), _report_ppb("quality_ppb", q, PPB)]
        if counting:
            counts[m] = check_tokens("output_tokens", r.get("output_tokens"))
        elif "output_tokens" in r:
            raise InvalidInput(
                "this task's rules take no token counts from validators (it was created before the measured counts)", code="invalid_report"
            )
        sub = r.get("criteria", {})
        if (
            not isinstance(sub, dict)
            or len(sub) > 16
            or not all(
                isinstance(k, str) and len(k) <= 32 and not isinstance(v, bool) and isinstance(v, int) and 0 <= v <= PPB for k, v in sub.items()
            )
        ):
            raise InvalidInput("criteria must map up to 16 short names to integers in [0, 10**9]", code="invalid_report")
        if sub:
            criteria[m] = dict(sub)
    if set(parsed) != expected:
        raise InvalidInput(f"reports must cover exactly the revealed miners: {sorted(expected)}", code="invalid_report")
    return RevealedReports(reports, parsed, criteria, input_count, counts, _parse_spread(task, body))


def _parse_spread(task: Task, body: dict[str, Any]) -> int | None:
    """The validator's spread of the task: required on a task of the spread rule (RULES_TASK_SPREAD), refused before."""
    if not task.spread_rule:
        if "spread_ppb" in body:
            raise InvalidInput("this task's rules take no spread from validators (it was created before the spread rule)", code="unknown_field")
        return None
    spread = body.get("spread_ppb")
    if isinstance(spread, bool) or not isinstance(spread, int) or not 0 <= spread <= 2 * PPB:
        raise InvalidInput(f"spread_ppb (the validator's spread of the task) must be an integer in [0, {2 * PPB}]", code="invalid_spread")
    return spread


def _keep_reports(task: Task, actor: str, revealed: RevealedReports, tick: int) -> None:
    task.reports[actor] = revealed.parsed
    task.report_ticks[actor] = tick
    if revealed.criteria:
        task.criteria[actor] = revealed.criteria
    if revealed.input_tokens is not None:
        task.input_counts[actor] = revealed.input_tokens
        task.output_counts[actor] = revealed.output_tokens
    if revealed.spread_ppb is not None:
        task.spreads[actor] = revealed.spread_ppb


def process_task_validate(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.validate``: an assigned validator reveals the reports it committed to (PoI distance and
    PoUW quality for every valid reveal, and from ``RULES_MEASURED_TOKENS`` its token counts); reports
    that do not match the commitment are refused."""
    found = get_task(state, body.get("task"))
    _current_validator(found, actor)
    if not has_beacon(state):
        _validate_first_rules(state, found, actor, body)
        return
    if found.state != TaskState.REPORTING:
        raise Conflict(f"task {found.id} is {found.state}, not open for its report reveals", code="validation_window_closed")
    task = whole(found)
    if task.validator_round.get(actor, 0) != task.round:
        raise Conflict(f"task {task.id} is {task.state}, not open for its report reveals", code="validation_window_closed")
    if actor in task.reports:
        raise Conflict("already reported", code="already_reported")
    commit = task.report_commits.get(actor)
    if commit is None:
        raise Conflict("no report commitment to reveal (task.report_commit comes first)", code="no_report_commit")
    revealed = _parse_reports(task, body)
    salt = body.get("salt")
    if not isinstance(salt, str) or not 1 <= len(salt) <= MAX_SALT:
        raise InvalidInput(f"salt must be a string of 1-{MAX_SALT} characters", code="invalid_salt")
    if report_commitment(task.id, actor, revealed.reports, salt, revealed.input_tokens, revealed.spread_ppb) != commit:
        raise Conflict("these reports and salt do not match the validator's commitment", code="report_mismatch", commit=commit)
    _keep_reports(task, actor, revealed, state.tick)
    if all(v in task.reports for v in task.drawn_in(task.round) if v in task.report_commits):
        _after_reports(state, task)


def _validate_first_rules(state: State, found: Task | ClosedTask, actor: str, body: dict[str, Any]) -> None:
    """The first rules (a network without a beacon, whose logs must replay as they were): a report is
    public at once, without a commitment, and the task settles when every validator has reported."""
    if found.state != TaskState.COMMITTED:
        raise Conflict(f"task {found.id} is {found.state}, not open for validation", code="validation_window_closed")
    task = whole(found)
    if actor in task.reports:
        raise Conflict("already reported", code="already_reported")
    if "salt" in body:
        raise InvalidInput("on the first rules a report is not committed first: no salt", code="first_rules")
    _keep_reports(task, actor, _parse_reports(task, body), state.tick)
    if len(task.reports) == len(task.validators):
        _finalize(state, task)


class _Judged(NamedTuple):
    """A task's consensus and what it was settled with: the reporting validators' stakes and the task's spread and
    threshold (``spread.consensus_threshold_ppb``), which ``_finalize`` records and counts tokens with."""

    consensus: Consensus
    stakes: dict[str, int]
    spread_ppb: int | None
    threshold_ppb: int


def _consensus(state: State, task: Task) -> _Judged:
    """Over every revealed report; on the first rules a plain stake-weighted median (nothing is trimmed). The distance
    threshold is the task's (``spread``: from its revealed spreads under RULES_TASK_SPREAD, else poi_max_distance_ppb)."""
    p = state.params
    reports = _reported(task)
    miners = [a.miner for a in _valid_reveals(task) if not a.planted]
    bound = _dissent_bound(state)
    stakes = _stakes(state, list(reports))
    spread, threshold = consensus_threshold_ppb(p, task, stakes)
    return _Judged(aggregate(reports, stakes, miners, threshold, p.consensus_min_quality_ppb, bound), stakes, spread, threshold)


def _reported(task: Task) -> dict[str, dict[str, tuple[int, int]]]:
    """The revealed reports: validator -> miner -> (distance, quality)."""
    return {v: {m: (r[m][0], r[m][1]) for m in r} for v, r in task.reports.items()}


def _dissent_bound(state: State) -> int:
    return state.params.dissent_bound_ppb if has_beacon(state) else 2 * PPB


def _after_reports(state: State, task: Task) -> None:
    """A round's reveals are in (or due): a disputed task draws more validators, a network task goes to
    the oracle's audit (its canary commitment), any other task settles."""
    _clear_deadline(state, task)
    if not task.reports:
        _fail(state, task, "no_validation")
        return
    p = state.params
    judged = _consensus(state, task)
    if judged.consensus.disputed and task.round < p.escalation_rounds_max and _escalation_size(state, task) > 0:
        task.round += 1
        task.state = TaskState.COMMITTED
        if has_beacon(state):
            request_draw(state, ESCALATION, task.id)
            return
        taken = set(task.validators)
        pool = [v for v in eligible_nodes(state, "validator") if v not in taken]
        _escalated(
            state, task, sample_nodes(state, "validator", _escalation_size(state, task), f"task:{task.id}:validators:{task.round}", among=pool)
        )
        return
    _after_last_round(state, task, judged)


def _escalation_size(state: State, task: Task) -> int:
    """An escalation doubles the task's validators, up to ``escalation_max_validators`` in all."""
    return min(len(task.validators), state.params.escalation_max_validators - len(task.validators))


def _escalated(state: State, task: Task, drawn: list[str]) -> None:
    if not drawn:  # nobody left to draw: the task goes on with the reports it has
        task.round -= 1
        _after_last_round(state, task)
        return
    _assign_validators(state, task, drawn)
    _set_deadline(state, task, state.params.validation_deadline_ticks)


def _after_last_round(state: State, task: Task, judged: _Judged | None = None) -> None:
    """The task's last round is in: it waits for the oracle's canary, or settles (with ``judged``, its consensus as
    ``_after_reports`` just took it in the same event, when given: nothing it reads has changed since)."""
    if task.canary_commit is not None:
        task.state = TaskState.AUDITING
        _set_deadline(state, task, state.params.canary_open_deadline_ticks)
        return
    _finalize(state, task, judged)


CANARY_COMMIT_STATES = (TaskState.CREATED, TaskState.PREPARED, TaskState.STARTED)
"""A user task takes its canary commitment only in these: no miner has revealed (a reveal opens only in PRECOMMITTED), so
the oracle commits to its plant before any output of the task is public and cannot choose it after seeing one."""


def process_task_canary_commit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.canary_commit`` (oracle) {task, canary}, from ``RULES_USER_CANARIES``: a user task's canary commitment,
    ``validation.canary_commitment(prompt_hash, planted output or none, salt)``, taken once and only while no miner
    of the task has revealed. The task then waits in AUDITING for ``task.canary`` like a network task."""
    if not rules_since(state.params, RULES_USER_CANARIES):
        raise Conflict(f"user tasks carry canaries from rule version {RULES_USER_CANARIES}", code="user_canaries_not_in_force")
    if not has_beacon(state):
        raise Conflict("canaries need the validators' commit-reveal rules (a network with a beacon)", code="first_rules")
    found = get_task(state, body.get("task"))
    canary = _hash_field(body, "canary")
    if found.kind != TaskKind.USER:
        raise Conflict(f"task {found.id} is a network task: its canary commitment comes with task.network", code="not_user_task")
    if found.canary_committed:
        raise Conflict(f"task {found.id} already carries a canary commitment", code="canary_already_committed")
    if found.state not in CANARY_COMMIT_STATES:
        raise Conflict(
            f"task {found.id} is {found.state}: a canary is committed to before any miner of the task reveals", code="canary_commit_window_closed"
        )
    whole(found).canary_commit = canary


def process_task_canary(state: State, actor: str, body: dict[str, Any]) -> None:
    """``task.canary`` (oracle) {task, planted?, salt}: open a task's canary commitment once its
    reports are revealed. A planted output that a miner of the task revealed makes it a canary: every
    validator whose report lets that output pass fails it."""
    found = get_task(state, body.get("task"))
    if not found.canary_committed:
        raise Conflict(f"task {found.id} carries no canary commitment", code="no_canary_commit")
    if found.state != TaskState.AUDITING:
        raise Conflict(f"task {found.id} is {found.state}: a canary is opened after the reports are revealed", code="canary_window_closed")
    task = whole(found)
    planted = body.get("planted")
    if planted is not None:
        planted = _hash_field(body, "planted")
    salt = body.get("salt")
    if not isinstance(salt, str) or not 1 <= len(salt) <= MAX_SALT:
        raise InvalidInput(f"salt must be a string of 1-{MAX_SALT} characters", code="invalid_salt")
    if canary_commitment(task.prompt_hash, planted, salt) != task.canary_commit:
        raise InvalidInput("planted output and salt do not match the task's canary commitment", code="canary_mismatch")
    p = state.params
    slots = [a for a in _valid_reveals(task) if planted is not None and a.output_hash == planted]
    task.canary = "none" if planted is None else "planted" if slots else "void"
    _, threshold = consensus_threshold_ppb(p, task, _stakes(state, list(task.reports)))
    for a in slots:
        a.planted = True
        for v in sorted(task.reports):
            d, q = task.reports[v][a.miner]
            if not passes_canary((d, q), threshold, p.consensus_min_quality_ppb) and v not in task.canary_failed:
                task.canary_failed.append(v)
    _finalize(state, task)


# --- deadlines -------------------------------------------------------------------------------


def process_task_deadlines(state: State) -> None:
    """Move on every open task whose deadline is the current tick."""
    for tid in sorted(state.deadlines.pop(state.tick, set())):
        task = state.tasks[tid]
        if task.state in PRECOMMIT_WINDOW:
            for a in task.miners:
                if a.commit is None:
                    record_offence(state, a.miner, "missed_deadline", task.id)
            if sum(1 for a in task.miners if a.commit) < state.params.min_consensus:
                _fail(state, task, "too_few_precommits")
            else:
                task.state = TaskState.PRECOMMITTED
                _set_deadline(state, task, state.params.reveal_deadline_ticks)
        elif task.state == TaskState.PRECOMMITTED:
            for a in task.miners:
                if a.commit and a.reveal_tick is None:
                    record_offence(state, a.miner, "missed_deadline", task.id)
            _enter_validation(state, task)
        elif task.state == TaskState.COMMITTED and not has_beacon(state):  # the first rules: reports without commitments
            for v in task.validators:
                if v not in task.reports:
                    record_offence(state, v, "missed_deadline", task.id)
            if task.reports:
                _finalize(state, task)
            else:
                _fail(state, task, "no_validation")
        elif task.state == TaskState.COMMITTED:
            late = [v for v in task.drawn_in(task.round) if v not in task.report_commits]
            for v in late:
                record_offence(state, v, "missed_deadline", task.id)
            if len(late) < len(task.drawn_in(task.round)):
                _enter_report_reveal(state, task)
            else:
                _after_reports(state, task)
        elif task.state == TaskState.REPORTING:
            for v in task.drawn_in(task.round):
                if v in task.report_commits and v not in task.reports:
                    record_offence(state, v, "missed_deadline", task.id)
            _after_reports(state, task)
        elif task.state == TaskState.AUDITING:  # the oracle did not open its commitment
            if rules_since(state.params, RULES_UNOPENED_CANARY):
                task.canary = "unopened"  # nobody is judged out of consensus by it (_judges_divergence)
            _finalize(state, task)  # before the rule: as no canary


# --- outcome ---------------------------------------------------------------------------------


def _fail(state: State, task: Task, reason: str) -> None:
    refund_escrow(state, task, "task_failed")
    _record_work(state, task, None)
    _close(state, task, TaskState.FAILED, reason)


def _stakes(state: State, nodes: list[str]) -> dict[str, int]:
    return {n: state.nodes[n].stake_total for n in nodes}


def _finalize(state: State, task: Task, judged: _Judged | None = None) -> None:
    """Settle or fail ``task`` by its consensus: ``judged`` when the caller took it in this event with nothing changed
    since (the reports, the reveals' planted marks, the reporting validators' stakes), else taken here."""
    p = state.params
    _clear_deadline(state, task)
    reveals = [a for a in _valid_reveals(task) if not a.planted]
    if judged is None:
        judged = _consensus(state, task)
    cons, stakes = judged.consensus, judged.stakes
    if has_beacon(state) and rules_since(p, RULES_PANEL_WEIGHTS):  # the weights it was judged by, published for the auditor
        task.panel_weights = dict(stakes)
    counting = task.measured_tokens
    if task.spread_rule:  # what the consensus compared with, for the task's explanation (before the rule: poi_max_distance_ppb)
        task.spread_ppb, task.threshold_ppb = judged.spread_ppb, judged.threshold_ppb
    for a in reveals:
        a.distance_ppb = cons.distance_ppb[a.miner]
        a.quality_ppb = cons.quality_ppb[a.miner]
        a.in_consensus = cons.in_consensus[a.miner]
        if counting:
            a.output_tokens = measured_output_tokens(task, a.miner, stakes)
    task.settled_input_tokens = measured_input_tokens(task, stakes) if counting else task.input_tokens
    for v, r in task.reports.items():
        report = {m: (x[0], x[1]) for m, x in r.items()}
        if not has_beacon(state):
            task.agreement_ppb[v] = agreement_first_rules_ppb(report, cons)
        else:
            task.agreement_ppb[v] = 0 if v in task.canary_failed else agreement_ppb(report, cons, p.agreement_tolerance_ppb)
    task.state = TaskState.VALIDATED
    winners = [a for a in reveals if a.in_consensus]
    if len(winners) < p.min_consensus:
        for a in reveals:  # useless outputs still count against their miner when the task fails
            if (a.quality_ppb or 0) < p.consensus_min_quality_ppb and _judges_divergence(task):
                record_offence(state, a.miner, "poi_divergence", task.id)
        _fail(state, task, "no_consensus")
        _update_validators(state, task, cons)
        return
    task.output_tokens = settled_output_tokens([a.output_tokens or 0 for a in winners], task.max_output_tokens)
    planter = _paid_planter(state, task, winners)
    if task.kind == TaskKind.USER:
        settle_fee(state, task, winners if planter is None else [a for a in task.miners if a.in_consensus or a is planter])
    for a in reveals:
        if not a.in_consensus and _judges_divergence(task):
            record_offence(state, a.miner, "poi_divergence", task.id)
    _update_miners(state, task)
    _update_validators(state, task, cons)
    if task.round > 0 and rules_since(p, RULES_ESCALATION_PAY):
        task.dissenters = escalation_dissenters(state, task, stakes, list(cons.distance_ppb))
    _record_work(state, task, cons, planter)
    _close(state, task, TaskState.SETTLED)


def _judges_divergence(task: Task) -> bool:
    """Whether being out of ``task``'s consensus counts against a miner (a ``poi_divergence``, its reputation): not on a
    task whose canary commitment was left unopened (``RULES_UNOPENED_CANARY``: ``canary == "unopened"``), where any of
    its miners may have revealed the oracle's planted output as it was told."""
    return task.canary != "unopened"


def escalation_dissenters(state: State, task: Task, stakes: dict[str, int], miners: list[str]) -> list[str]:
    """``RULES_ESCALATION_PAY``: the validators who made an escalated task escalate and were wrong, judged by the whole
    panel: those drawn before its last round whose report dissents (``validation.dissenters``: further than
    ``dissent_bound_ppb`` from a first median) from the first medians over every round's reports. A first round's honest
    minority outvoted there by a bloc is not one of them once the panel has judged (the bloc is); in draw order."""
    found = set(dissenters(_reported(task), stakes, miners, _dissent_bound(state)))
    return [v for v in task.validators if v in found and task.validator_round.get(v, 0) < task.round]


def planter_quality_ppb(qualities: list[int]) -> int:
    """The quality a paid planter is credited with (``RULES_PAID_PLANTER``): the median of the in-consensus miners'
    qualities, the lower of the two middle ones' floored mean for an even count: sorted q, n of them,
    q[n // 2] if n is odd, else (q[n // 2 − 1] + q[n // 2]) // 2."""
    q = sorted(qualities)
    n = len(q)
    invariant(n > 0, "a planter's quality needs the task's in-consensus miners")
    return q[n // 2] if n % 2 else (q[n // 2 - 1] + q[n // 2]) // 2


def _paid_planter(state: State, task: Task, winners: list[Assignment]) -> Assignment | None:
    """The planter a settled canary pays (``RULES_PAID_PLANTER``), credited with ``planter_quality_ppb`` of the task's
    in-consensus miners: the one valid reveal of the planted output of an opened canary (``task.canary == "planted"``).
    None before the rule, on any other task, and when two or more reveals carry the planted output: only the miner the
    oracle told has it, so a second copy means the planter shared it, and neither is paid (sharing must not pay)."""
    if task.canary != "planted" or not rules_since(state.params, RULES_PAID_PLANTER):
        return None
    planted = [a for a in task.miners if a.planted]
    if len(planted) != 1:
        return None
    planter = planted[0]
    planter.quality_ppb = planter_quality_ppb([a.quality_ppb or 0 for a in winners])
    return planter


def _update_miners(state: State, task: Task) -> None:
    p = state.params
    n = len(task.miners)
    for a in task.miners:
        if a.planted:
            continue  # the oracle's output, not this miner's work
        if not a.in_consensus and a.reveal_tick is not None and not a.mismatch and not _judges_divergence(task):
            continue  # a valid reveal out of consensus: perhaps the oracle's output, unopened (RULES_UNOPENED_CANARY)
        node = state.nodes[a.miner]
        state.touch(a.miner)
        latency = PPB if a.reveal_rank is None or n <= 1 else PPB * (n - 1 - min(a.reveal_rank, n - 1)) // (n - 1)
        success = bool(a.commit and not a.mismatch and a.in_consensus)
        if success:
            count_served(state, a.miner, task.created_epoch)
        obs = rep.miner_observation(success, a.quality_ppb or 0, latency if a.reveal_tick is not None else 0)
        state.set_reputation(node, rep.update_for_task(node.reputation_ppb, obs, p.reputation_half_life_tasks, task.kind == TaskKind.NETWORK))


def _update_validators(state: State, task: Task, cons: Consensus) -> None:
    p = state.params
    for v in task.validators:
        node = state.nodes[v]
        state.touch(v)
        obs = task.agreement_ppb.get(v, 0)
        state.set_reputation(node, rep.update_for_task(node.reputation_ppb, obs, p.reputation_half_life_tasks, task.kind == TaskKind.NETWORK))
        if v not in task.reports:
            continue
        report = {m: (x[0], x[1]) for m, x in task.reports[v].items()}
        deviation = deviation_ppb(report, cons) if has_beacon(state) else deviation_first_rules_ppb(report, cons)
        if v in task.canary_failed or deviation > p.validator_deviation_max_ppb:
            record_offence(state, v, "validator_deviation", task.id)
        else:
            count_served(state, v, task.created_epoch)


def _record_work(state: State, task: Task, cons: Consensus | None, planter: Assignment | None = None) -> None:
    model = state.models[task.model]
    for a in task.miners:
        if a is planter:  # a paid planter (RULES_PAID_PLANTER): the task's units at the in-consensus miners' median quality
            units = complexity_units(state.params, model, task.settled_input_tokens or 0, task.output_tokens or 0)
            state.epoch_work.append(task.id, a.miner, units, a.quality_ppb or 0, True, a.commit is not None, task.model, task.kind, a.paid)
            continue
        if a.planted:
            continue
        # the settled counts: the validators' measured counts from RULES_MEASURED_TOKENS (token_counts), before it
        # the requester's input_tokens and the median of the miners' claims in consensus
        units = complexity_units(state.params, model, task.settled_input_tokens or 0, task.output_tokens or 0) if a.in_consensus else 0
        quality = a.quality_ppb if a.in_consensus and a.quality_ppb else 0
        state.epoch_work.append(task.id, a.miner, units, quality, a.in_consensus, a.commit is not None, task.model, task.kind, a.paid)
    for v in task.validators:
        state.epoch_validations.append(
            task.id,
            v,
            task.agreement_ppb.get(v, 0),
            v in task.reports,
            task.kind,
            v in task.canary_failed,
            task.validator_round.get(v, 0),
            v in task.dissenters,
        )
