"""``apply(state, event)``: the one state transition, and ``replay`` of a whole log (docs/design.md §3).

Order of checks for every event (the precedence of rejections):
    1. ``seq`` follows the last applied event, ``prev_hash`` is the head and ``tick`` is the
       current logical time (log integrity: the one stored column the hash does not cover is checked);
    2. the command decodes canonically and names this chain (``wrong_chain``);
    3. the kind is known (``unknown_command``) and, for oracle-only kinds, the actor is the oracle;
    4. the body is exactly its kind's schema (``commands.SCHEMAS``: unknown_field, invalid_amount, ...);
    5. the nonce is above the actor's last nonce (``nonce_already_used``) by at most
       ``MAX_NONCE_STEP`` (``nonce_too_far``: a key can never lock itself out);
    6. the kind's own checks (amounts, balances, state) — then, and only then, changes.
A rejected command changes nothing: every write of its handler is journaled and undone
(``core.journal``), so even a refusal deep inside a handler leaves the state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from . import ledger as acct
from .accounts import note_accounts
from .beacon import genesis_beacon, process_beacon_anchor, reveal, run_draws
from .bounties import (
    process_bounty_award,
    process_bounty_create,
    process_bounty_deadlines,
    process_bounty_expire,
    process_bounty_finalize,
    process_bounty_score,
    process_bounty_submit,
)
from .bridge import process_bridge_confirm, process_bridge_post
from .claims import process_claim
from .commands import MAX_TICKS_PER_EVENT, check_body
from .community import process_community_appoint, process_community_attest, process_community_remove, process_community_snapshot
from .controllers import DEFAULT_CONTROLLERS
from .errors import Conflict, InvalidInput, NonceAlreadyUsed, Unauthorized, invariant
from .events import Command, Event
from .governance import process_governance_tallies, process_propose, process_vote
from .journal import frozen_init, journal, unjournaled_fields
from .ledger import POOLS, Posting, check_conservation
from .models import process_model_register, process_model_retire
from .network_prompts import parse_prompt_set
from .params import FIRST_RULES_DEFAULTS, ParamHistory, params_from_dict
from .prune import process_prune, retire_closed_tasks
from .records import Checkpoint, EarningItem
from .redelegation import process_cancel_unbond, process_redelegate
from .rules import STATE_ANCHOR_RULES, rules_since
from .sampling import SelectionIndex
from .selection import check_index
from .sessions import process_session_close, process_session_deposit, process_session_open
from .slashing import process_slash_report
from .staking import (
    process_bond,
    process_delegate,
    process_register,
    process_set_commission,
    process_unbond,
    process_undelegate,
    process_unjail,
    process_withdraw,
    stakes_match_ledger,
)
from .state import State, assert_ready, ticks_to_epoch_end
from .state_codec import state_hash
from .streams import Stream
from .tasks import (
    process_task_canary,
    process_task_canary_commit,
    process_task_cancel,
    process_task_deadlines,
    process_task_network,
    process_task_precommit,
    process_task_report_commit,
    process_task_reveal,
    process_task_submit,
    process_task_validate,
)
from .units import address as parse_address
from .units import cor_text as cor
from .units import parse_units

MAX_NONCE_STEP = 1_000_000  # the largest jump of an actor's nonce: 2**53 nonces last ≥ 9·10**9 commands
CHECKPOINT_WINDOW = 4_096  # how far back a checkpoint may cite the log (so ticks never race the head)

Handler = Callable[[State, str, dict[str, Any]], None]


@frozen_init  # (one per event: its fields stored without a __setattr__ call each)
@dataclass(frozen=True)
class Applied:
    """What applying one event produced (facts for read models)."""

    seq: int
    kind: str
    actor: str
    postings: list[Posting]
    nonce: int = 0


def process_genesis(state: State, actor: str, body: dict[str, Any]) -> None:
    """``genesis``: parameters, oracle, and the initial allocation of the whole supply."""
    if state.params_history is not None:
        raise Conflict("the network already has a genesis", code="genesis_exists")
    first_rules = body.get("beacon") is None  # a network without a beacon keeps the first rules' defaults
    params = params_from_dict({**(FIRST_RULES_DEFAULTS if first_rules else {}), **body.get("params", {})})
    oracle = parse_address(body.get("oracle", ""))
    if oracle != actor:
        raise Unauthorized("genesis must be signed by its oracle", code="unauthorized_actor")
    allocations = body.get("allocations")
    if not isinstance(allocations, dict) or not allocations:
        raise InvalidInput("genesis needs allocations: {account: base units}", code="invalid_genesis")
    supply = 0
    parsed: list[tuple[str, int]] = []
    for account, value in sorted(allocations.items()):
        _check_genesis_account(account)
        amount = parse_units(value)
        supply += amount
        parsed.append((account, amount))
    if "supply" in body and parse_units(body["supply"]) != supply:
        raise InvalidInput("genesis supply does not equal the sum of its allocations", code="invalid_genesis")
    beacon = genesis_beacon(body.get("beacon"))
    network_prompts = parse_prompt_set(body.get("network_prompts"))
    state.params_history = ParamHistory(((0, params),))
    state.network_prompts = network_prompts
    state.beacon = beacon
    state.selection = SelectionIndex() if beacon is not None else None
    state.oracle = oracle
    state.genesis_supply = supply
    state.controllers = {c.name: replace(c) for c in DEFAULT_CONTROLLERS}
    for account, units in parsed:
        state.ledger.transfer("genesis", account, units, "genesis")
    note_accounts(state, actor, state.ledger.postings)
    process_community_snapshot(state)


def _check_genesis_account(account: str) -> None:
    if account in POOLS or account == "treasury":
        return
    if account.startswith("wallet:"):
        parse_address(account[len("wallet:") :])
        return
    raise InvalidInput(f"genesis may fund wallets, pools and the treasury only, not {account!r}", code="invalid_genesis")


def process_transfer(state: State, actor: str, body: dict[str, Any]) -> None:
    """``transfer``: wallet to wallet."""
    to = parse_address(body.get("to", ""))
    amount = parse_units(body.get("amount", "0"))
    if amount == 0:
        raise InvalidInput("amount must be greater than zero", code="zero_amount")
    have = state.ledger.balance(acct.wallet(actor))
    if have < amount:
        raise Conflict(f"wallet holds {cor(have)}, transfer needs {cor(amount)}", code="insufficient_funds")
    state.ledger.transfer(acct.wallet(actor), acct.wallet(to), amount, "transfer")
    if to != actor:
        state.earnings.append(EarningItem(actor, Stream.TRANSFER, -amount, {"to": to}))
        state.earnings.append(EarningItem(to, Stream.TRANSFER, amount, {"from": actor}))


def process_tick(state: State, actor: str, body: dict[str, Any]) -> None:
    """``tick`` {ticks?, beacon?}: reveal the next beacon value, advance logical time (closing each
    epoch whose boundary is crossed), then run the draws waiting for the value."""
    n = body.get("ticks", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TICKS_PER_EVENT:
        raise InvalidInput(f"ticks must be an integer in [1, {MAX_TICKS_PER_EVENT}]", code="invalid_ticks")
    anchored = checked_state_anchor(state, body.get("checkpoint"))  # of the state before this event changes it
    reveal(state, body.get("beacon"))
    record_checkpoint(state, body.get("checkpoint"))
    if anchored is not None:
        state.state_anchors[state.seq] = anchored
    start = state.tick
    while state.tick < start + n:
        state.tick = min(start + n, next_due_tick(state))
        process_task_deadlines(state)
        process_governance_tallies(state)
        process_bounty_deadlines(state)
        if ticks_to_epoch_end(state) <= 0:
            from .epoch import process_epoch  # the reward kernels (numpy) load at the first close, not in every process that reads a state

            process_epoch(state)
            process_prune(state)
            check_index(state)
    invariant(state.tick == start + n and ticks_to_epoch_end(state) > 0, f"tick did not advance time by {n}")
    run_draws(state)


def next_due_tick(state: State) -> int:
    """The next tick at which something is due: a task deadline, the end of a vote, a bounty deadline whose
    reviewers are to be drawn, the epoch's end.

    Time jumps straight there: ticks in between change nothing, so a tick of a million costs what
    its deadlines cost."""
    due = [state.tick + max(1, ticks_to_epoch_end(state))]
    due += [t for t in state.deadlines if t > state.tick]
    for index, ids, items, attr in state.due_indexes():  # the earliest end of a vote, the earliest deadline of a draw to come
        t = index.next_after(ids, items, attr, state.tick)
        if t is not None:
            due.append(t)
    return min(due)


def process_epoch_close(state: State, actor: str, body: dict[str, Any]) -> None:
    """``epoch.close`` {beacon?, checkpoint?}: advance time to the end of the current epoch and close it (a tick)."""
    process_tick(state, actor, {**body, "ticks": max(1, ticks_to_epoch_end(state))})


def checked_state_anchor(state: State, cited: dict[str, Any] | None) -> str | None:
    """A checkpoint's ``state``: the hash of the state after the event it cites (from rule version 5).

    It must cite the head (the state the core holds when the oracle's event starts), and the core
    recomputes the hash (``core.state_codec.state_hash``) and refuses a wrong one: a stored snapshot
    with that hash is then the state after that event, signed for by the oracle (``cor verify
    --from-snapshot`` starts from one)."""
    if cited is None or "state" not in cited:
        return None
    if not rules_since(state.params, STATE_ANCHOR_RULES):
        raise InvalidInput(
            f"a checkpoint carries a state hash from rule version {STATE_ANCHOR_RULES}; this network runs {state.params.rule_version}",
            code="invalid_checkpoint",
        )
    if cited["seq"] != state.seq:
        raise InvalidInput(f"a checkpoint with a state hash cites the head (event {state.seq}), not {cited['seq']}", code="checkpoint_state_not_head")
    h = state_hash(state)
    if cited["state"] != h:
        raise Conflict(
            f"the checkpoint says the state after event {state.seq} hashes to {cited['state']}; it hashes to {h}", code="checkpoint_state_mismatch"
        )
    return h


def record_checkpoint(state: State, cited: dict[str, Any] | None) -> None:
    """The oracle's checkpoint: it signs that the log's event ``seq`` has hash ``hash``.

    A checkpoint may cite any of the last ``CHECKPOINT_WINDOW`` events, not only the head, so an
    oracle ticking while commands stream in never has to win a race for the head. Every epoch record
    carries the last checkpoint before its close; ``cor anchors`` lists them for publishing."""
    if cited is None:
        return
    seq, h = cited["seq"], cited["hash"]
    if not state.seq - CHECKPOINT_WINDOW < seq <= state.seq:
        raise InvalidInput(
            f"a checkpoint cites one of the last {CHECKPOINT_WINDOW} events ({max(0, state.seq - CHECKPOINT_WINDOW + 1)}..{state.seq}), not {seq}",
            code="checkpoint_out_of_window",
        )
    if state.recent_hashes.get(seq) != h:
        raise Conflict(f"the checkpoint cites {h} for event {seq}; the log has {state.recent_hashes.get(seq)}", code="checkpoint_mismatch", seq=seq)
    state.last_checkpoint = Checkpoint(seq=seq, hash=h, event=state.seq + 1, tick=state.tick)


# kind -> (handler, oracle_only)
HANDLERS: dict[str, tuple[Handler, bool]] = {
    "genesis": (process_genesis, True),
    "tick": (process_tick, True),
    "epoch.close": (process_epoch_close, True),
    "transfer": (process_transfer, False),
    "node.register": (process_register, False),
    "node.unjail": (process_unjail, False),
    "node.set_commission": (process_set_commission, False),
    "stake.bond": (process_bond, False),
    "stake.unbond": (process_unbond, False),
    "stake.withdraw": (process_withdraw, False),
    "stake.delegate": (process_delegate, False),
    "stake.undelegate": (process_undelegate, False),
    "stake.redelegate": (process_redelegate, False),
    "stake.cancel_unbond": (process_cancel_unbond, False),
    "slash.report": (process_slash_report, False),
    "model.register": (process_model_register, False),
    "model.retire": (process_model_retire, False),
    "session.open": (process_session_open, False),
    "session.deposit": (process_session_deposit, False),
    "session.close": (process_session_close, False),
    "task.submit": (process_task_submit, False),
    "task.network": (process_task_network, True),
    "task.cancel": (process_task_cancel, False),
    "task.precommit": (process_task_precommit, False),
    "task.reveal": (process_task_reveal, False),
    "task.report_commit": (process_task_report_commit, False),
    "task.validate": (process_task_validate, False),
    "task.canary": (process_task_canary, True),
    "task.canary_commit": (process_task_canary_commit, True),
    "reward.claim": (process_claim, False),
    "bridge.post": (process_bridge_post, True),
    "bridge.confirm": (process_bridge_confirm, True),
    "beacon.anchor": (process_beacon_anchor, True),
    "gov.propose": (process_propose, False),
    "gov.vote": (process_vote, False),
    "bounty.create": (process_bounty_create, False),
    "bounty.submit": (process_bounty_submit, False),
    "bounty.award": (process_bounty_award, False),
    "bounty.score": (process_bounty_score, False),
    "bounty.finalize": (process_bounty_finalize, False),
    "bounty.expire": (process_bounty_expire, False),
    "community.appoint": (process_community_appoint, True),
    "community.remove": (process_community_remove, True),
    "community.attest": (process_community_attest, False),
}


def check_command(state: State, cmd: Command) -> Handler:
    """Checks 2–4 of the precedence list; returns the handler."""
    if cmd.kind == "genesis":
        if state.params_history is not None:
            raise Conflict("the network already has a genesis", code="genesis_exists")
        chain_id = cmd.body.get("chain_id")
        if cmd.chain_id != chain_id or not isinstance(chain_id, str) or not chain_id:
            raise InvalidInput("genesis chain_id must match its body", code="invalid_genesis")
    else:
        assert_ready(state)
        if cmd.chain_id != state.chain_id:
            raise Unauthorized(f"command is for chain {cmd.chain_id!r}, this is {state.chain_id!r}", code="wrong_chain")
    entry = HANDLERS.get(cmd.kind)
    if entry is None:
        raise InvalidInput(f"unknown command kind {cmd.kind!r}", code="unknown_command")
    handler, oracle_only = entry
    check_body(cmd.kind, cmd.body)
    actor = parse_address(cmd.actor)
    if actor != cmd.actor:
        raise InvalidInput("actor must be a lower-case address", code="invalid_address")
    if oracle_only and cmd.kind != "genesis" and actor != state.oracle:
        raise Unauthorized(f"only the oracle may send {cmd.kind}", code="unauthorized_actor")
    last = state.nonces.get(actor, 0)
    if cmd.nonce <= last:
        raise NonceAlreadyUsed(f"nonce {cmd.nonce} is not above the last used nonce {last}", code="nonce_already_used")
    if cmd.nonce > last + MAX_NONCE_STEP:
        raise InvalidInput(f"nonce {cmd.nonce} jumps more than {MAX_NONCE_STEP} past the last used nonce {last}", code="nonce_too_far")
    return handler


def apply(state: State, event: Event, *, atomic: bool = True) -> Applied:
    """Apply one event to ``state`` (in place): all of it, or — raising EngineError — nothing at all.

    Every write the handler makes is journaled (``core.journal``) and undone when it raises, whatever
    it raises. ``atomic=False`` skips the journal: only for replaying a log whose events were all
    accepted (a refusal there means the log is broken, and the state is thrown away)."""
    if event.seq != state.seq + 1:
        raise Conflict(f"event seq {event.seq} does not follow {state.seq}", code="seq_gap")
    if event.prev_hash != state.head_hash:
        raise Conflict(f"event {event.seq} does not extend the head {state.head_hash}", code="broken_chain")
    if event.tick != state.tick:
        raise Conflict(f"event {event.seq} says tick {event.tick}; the log is at tick {state.tick}", code="tick_mismatch")
    cmd = event.command
    handler = check_command(state, cmd)
    if atomic:
        with journal():
            _run(state, cmd, handler)
    else:  # (no context to enter: a replay applies every event of a log this way)
        _run(state, cmd, handler)
    postings = state.ledger.commit()
    fields = unjournaled_fields(state)  # (the event's journal has closed: nothing to undo, unless an outer one is in force)
    if fields is not None:  # no journal in force: the dicts' own writes are what their journaled methods would do
        dict.__setitem__(state.nonces, cmd.actor, cmd.nonce)
        fields["seq"] = event.seq
        fields["head_hash"] = event.hash
        recent = state.recent_hashes
        dict.__setitem__(recent, event.seq, event.hash)
        dict.pop(recent, event.seq - CHECKPOINT_WINDOW, None)
    else:
        state.nonces[cmd.actor] = cmd.nonce
        state.seq = event.seq
        state.head_hash = event.hash
        state.recent_hashes[event.seq] = event.hash
        state.recent_hashes.pop(event.seq - CHECKPOINT_WINDOW, None)
    return Applied(event.seq, cmd.kind, cmd.actor, postings, cmd.nonce)


def _run(state: State, cmd: Command, handler: Handler) -> None:
    """The handler's writes of one event, and the wallets it credited first (what ``apply`` journals, or not)."""
    state.ledger.begin()
    if cmd.kind == "genesis":
        state.chain_id = cmd.chain_id
    handler(state, cmd.actor, dict(cmd.body))
    retire_closed_tasks(state)  # (RULES_TASK_STUB, pruning on: the tasks this event closed leave whole, their stubs stay)
    note_accounts(state, cmd.actor, state.ledger.postings)


def conservation_holds(state: State) -> None:
    """Raise InvariantViolation unless no balance is negative, Σ = supply + minted, every node's cached stake equals
    the ledger, and the unbonding entries' and redelegations' indexes equal a rebuild."""
    check_conservation(state.ledger, state.genesis_supply, state.minted)
    stakes_match_ledger(state)
    state.check_entry_indexes()


def replay(events: Iterable[Event], *, check_each: bool = False) -> State:
    """A fresh state with every event applied in order (no journal: a refusal here is a broken log)."""
    state = State()
    for event in events:
        apply(state, event, atomic=False)
        if check_each:
            conservation_holds(state)
    return state
