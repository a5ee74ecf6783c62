"""User sessions: a deposit in escrow from which tasks are paid, with the session's settings (docs/design.md §4).

State
    ``Session(id, owner, redundancy, validators, mode, dedicated_miners, is_open, open_tasks, ...)``;
    the deposit is the balance of ``escrow:session:<id>``.

Messages
    ``session.open`` {deposit?, redundancy?, validators?, mode?: "ephemeral" | "dedicated", nodes?, model?}
    ``session.deposit`` {session, amount}
    ``session.close`` {session} — refused while tasks are open; the remaining deposit returns.

Money (rule ``RULES_SESSION_BOUND``)
    ``session.open`` needs a first ``deposit`` of at least ``session_min_deposit_units`` (refused
    ``session_deposit_below_minimum``, nothing written): an unfunded key cannot open a session, and open sessions lock
    that much each until tasks spend it; ``session.close`` returns what is left. A closed session leaves the live state
    at the next epoch close's prune (core/prune.py ``retire_sessions``); a message naming it is then refused
    ``session_not_found``. Earlier rules: any deposit (0 by default), closed sessions kept forever.

Modes (after Cortensor's)
    ephemeral: miners are drawn from the whole pool for every task; dedicated: ``nodes`` miners are
    reserved for the session and every task is assigned among them.

With a beacon (``beacon.py``)
    ``validators`` must be at least ``min_validators_per_task``: a session cannot ask for one
    validator it might be able to buy. A dedicated session's miners are drawn with the next
    beacon value, not when it opens. Opening one costs ``dedicated_session_fee_units`` per reserved
    miner, paid to the treasury, so reopening sessions until the draw suits its owner costs that
    fee every time.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .beacon import draw_handler, has_beacon, request_draw
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .params import param_bounds
from .records import EarningItem, Session
from .rules import RULES_SESSION_BOUND, rules_since
from .selection import draw, pool_size, sample_nodes
from .state import State, session_names
from .streams import Stream
from .units import cor_text as cor
from .units import parse_units

MODES = ("ephemeral", "dedicated")
RESERVE = "session:miners"


def session_account(session_id: int) -> str:
    return acct.escrow("session", session_id)


def get_session(state: State, session_id: Any, owner: str | None = None) -> Session:
    """An open or closed session; with ``owner``, refuse anyone else."""
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise InvalidInput("session must be a session id (integer)", code="invalid_session")
    s = state.sessions.get(session_id)
    if s is None:
        raise NotFound(f"no session {session_id}", code="session_not_found")
    if owner is not None and s.owner != owner:
        raise Unauthorized(f"session {session_id} belongs to {s.owner}", code="not_session_owner")
    return s


def _small_int(body: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = body.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}]", code="invalid_session_settings", field=name)
    return v


def process_session_open(state: State, actor: str, body: dict[str, Any]) -> None:
    """``session.open``: settings, an optional first deposit, dedicated miners if asked."""
    p = state.params
    redundancy = _small_int(body, "redundancy", p.redundancy, *param_bounds("redundancy"))
    validators = _small_int(
        body, "validators", p.validators_per_task, p.min_validators_per_task if has_beacon(state) else 1, param_bounds("validators_per_task")[1]
    )
    if redundancy < p.min_consensus:
        raise InvalidInput(f"redundancy must be at least min_consensus={p.min_consensus}", code="invalid_session_settings")
    mode = body.get("mode", "ephemeral")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="invalid_session_settings")
    deposit = parse_units(body.get("deposit", "0"))
    if rules_since(p, RULES_SESSION_BOUND) and deposit < p.session_min_deposit_units:
        raise Conflict(
            f"a session's first deposit must be at least {cor(p.session_min_deposit_units)} (session_min_deposit_units), not {cor(deposit)}",
            code="session_deposit_below_minimum",
            minimum=str(p.session_min_deposit_units),
            deposit=str(deposit),
        )
    have = state.ledger.balance(acct.wallet(actor))
    if have < deposit:
        raise Conflict(f"wallet holds {cor(have)}, deposit needs {cor(deposit)}", code="insufficient_funds")
    sid = state.next_id
    dedicated: tuple[str, ...] = ()
    reserved, fee, model = 0, 0, None
    if mode == "dedicated":
        n = _small_int(body, "nodes", redundancy, redundancy, param_bounds("redundancy")[1])
        m = body.get("model")
        model = m if isinstance(m, str) else None
        if has_beacon(state):
            if pool_size(state, "miner", model) < n:
                raise Conflict(f"only {pool_size(state, 'miner', model)} eligible miners for {n} dedicated nodes", code="not_enough_miners")
            reserved, fee = n, n * p.dedicated_session_fee_units
            if have < deposit + fee:
                raise Conflict(f"wallet holds {cor(have)}, deposit and fee need {cor(deposit + fee)}", code="insufficient_funds")
        else:
            dedicated = tuple(sample_nodes(state, "miner", n, f"session:{sid}", model=model))
            if len(dedicated) < n:
                raise Conflict(f"only {len(dedicated)} eligible miners for {n} dedicated nodes", code="not_enough_miners")
    state.new_id()
    state.sessions[sid] = Session(sid, actor, redundancy, validators, mode, dedicated, True, 0, state.tick, reserved, model if reserved else None)
    state.node_refs.add(dedicated)
    state.ledger.transfer(acct.wallet(actor), session_account(sid), deposit, "session_deposit")
    if reserved:
        state.ledger.transfer(acct.wallet(actor), "treasury", fee, "dedicated_session_fee")
        detail = {"session": sid, "nodes": reserved, "fee_per_node": p.dedicated_session_fee_units, "formula": "nodes × dedicated_session_fee_units"}
        state.earnings.append(EarningItem(actor, Stream.DEDICATED_SESSION_FEE, -fee, detail))
        request_draw(state, RESERVE, sid)


@draw_handler(RESERVE)
def draw_dedicated(state: State, session_id: int, seed: bytes) -> None:
    """A dedicated session's miners, drawn with the beacon value revealed after it opened."""
    s = state.sessions[session_id]
    invariant(s.reserved > 0 and not s.dedicated_miners, f"session {session_id}: drawn twice")
    state.node_refs.drop(session_names(s))  # (none: its miners were not drawn yet)
    s.dedicated_miners = tuple(draw(state, "miner", s.reserved, seed, model=s.model))
    state.node_refs.add(session_names(s))  # (none if it was closed before its draw)
    s.reserved = 0


def process_session_deposit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``session.deposit``: add COR to a session's escrow."""
    s = get_session(state, body.get("session"), owner=actor)
    amount = parse_units(body.get("amount", "0"))
    if amount == 0:
        raise InvalidInput("amount must be greater than zero", code="zero_amount")
    if not s.is_open:
        raise Conflict(f"session {s.id} is closed", code="session_closed")
    have = state.ledger.balance(acct.wallet(actor))
    if have < amount:
        raise Conflict(f"wallet holds {cor(have)}, deposit needs {cor(amount)}", code="insufficient_funds")
    state.ledger.transfer(acct.wallet(actor), session_account(s.id), amount, "session_deposit")


def process_session_close(state: State, actor: str, body: dict[str, Any]) -> None:
    """``session.close``: return the remaining deposit; refused while tasks are open."""
    s = get_session(state, body.get("session"), owner=actor)
    if not s.is_open:
        raise Conflict(f"session {s.id} is already closed", code="session_closed")
    if s.open_tasks:
        raise Conflict(f"session {s.id} has {s.open_tasks} open task(s)", code="session_has_open_tasks")
    state.node_refs.drop(session_names(s))
    s.is_open = False
    state.closed_sessions.add(s.id)  # (derived: the close's prune retires it, RULES_SESSION_BOUND)
    state.ledger.transfer(session_account(s.id), acct.wallet(actor), state.ledger.balance(session_account(s.id)), "session_refund")
    invariant(state.ledger.balance(session_account(s.id)) == 0, f"session {s.id}: deposit not returned whole")
