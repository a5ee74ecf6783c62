"""The count of live references to each node (``State.node_refs``, ``NodeRefs``: how many times the live tasks, as router,
miner or validator, and the open sessions, as dedicated miners, name each node), which rule 23's retirement test reads
instead of walking every live task at every close a node is idle (the amplification found in review: a churner's idle
keys made every close walk them all).

Random traffic with pruning on (closed tasks leave the live state two epochs after they were created), on a network with
a beacon (miners, validators, escalations and dedicated sessions' miners drawn at a later tick) and one without (drawn at
once): task submits (user and network), cancels, commits and reveals, validations (agreeing or split: escalations),
sessions opened (ephemeral or dedicated) and closed, ticks (deadlines, draws) and epoch closes (the prune); each of the
submit, session open and close, tick and epoch close also refused after its handler's writes; snapshot round trips.
After every step the count equals a rebuild from the tasks and sessions (``NodeRefs.of``), a refused event leaves it (and
the state hash) as it was, and at the end a replay of the log rebuilds the same count. Then ``retirable`` with the index
equals the walk rule 23 landed with (every live task and open session read) on the same state, and a few fixed cases:
each writer's count, and a close's retirement test reading no task."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cor_incentives.core import apply as apply_module
from cor_incentives.core.errors import EngineError
from cor_incentives.core.prune import retirable
from cor_incentives.core.state import NodeRefs, State, session_names, task_names
from cor_incentives.core.state_codec import state_hash
from cor_incentives.core.tasks import commitment
from cor_incentives.core.units import COR
from support.chain import ORACLE, addr, refusing
from support.market import MODEL, commit_reveal, h, market, validate_all
from support.market import submit as submit_task
from support.replays import replayed_to, through_snapshot

OUTPUTS = ["a", "b"]


def rebuilt(state: State) -> dict[str, int]:
    return NodeRefs.of(state.tasks, state.sessions, state.closed_tasks).as_dict()  # (rule 27: the stubs name their nodes)


def walked(state: State) -> list[str]:
    """``retirable`` as rule 23 landed (b3e94d1): every live task and open session walked for the names they hold."""
    named: set[str] = set()
    for task in state.tasks.values():
        named.update(task_names(task))
    for session in state.sessions.values():
        named.update(session_names(session))
    for r in state.redelegations.values():
        named.update((r.source, r.node))
    for pid in state.voting_proposals:
        named.update(state.proposals[pid].positions)
    named.update(key.split("|")[0] for key in state.offence_log)
    with (
        mock.patch.object(NodeRefs, "named", lambda self, node_id: False),
        mock.patch.object(type(state.redelegation_index), "ids", lambda self, name, value: ()),
    ):
        idle = retirable(state)  # the stake tests alone
    return [n for n in idle if n not in named]


class NodeRefsMachine(RuleBasedStateMachine):
    beacon = True

    def __init__(self) -> None:
        super().__init__()
        self.c = market(
            n_miners=5,
            n_validators=5,
            beacon=self.beacon,
            params={"epoch_length_ticks": 6, "prune_closed_records": 1},
        )
        self.codes: set[str] = set()

    def send(self, actor: str, kind: str, body: dict[str, Any], refuse: bool = False) -> None:
        before, hashed = self.c.state.node_refs.as_dict(), state_hash(self.c.state)
        handler, flag = apply_module.HANDLERS[kind]
        try:
            with mock.patch.dict(apply_module.HANDLERS, {kind: (refusing(handler) if refuse else handler, flag)}):
                if actor == ORACLE:
                    self.c.oracle(kind, body)
                else:
                    self.c.submit(actor, kind, body)
        except EngineError as exc:
            self.codes.add(exc.code)
            assert self.c.state.node_refs.as_dict() == before and state_hash(self.c.state) == hashed, (kind, exc.code)

    def task(self, i: int):
        ids = sorted(self.c.state.tasks)
        return self.c.state.tasks[ids[i % len(ids)]] if ids else None

    @rule(n=st.integers(1, 4), refuse=st.booleans())
    def tick(self, n: int, refuse: bool) -> None:
        self.send(ORACLE, "tick", {"ticks": n}, refuse)

    @rule(refuse=st.booleans())
    def epoch_close(self, refuse: bool) -> None:
        self.send(ORACLE, "epoch.close", {}, refuse)

    @rule(dedicated=st.booleans(), refuse=st.booleans())
    def session_open(self, dedicated: bool, refuse: bool) -> None:
        body: dict[str, Any] = {"deposit": str(50 * COR), "redundancy": 2}
        if dedicated:
            body |= {"mode": "dedicated", "nodes": 3, "model": MODEL}
        self.send(addr("user"), "session.open", body, refuse)

    @rule(s=st.integers(1, 8), refuse=st.booleans())
    def session_close(self, s: int, refuse: bool) -> None:
        self.send(addr("user"), "session.close", {"session": s}, refuse)

    @rule(net=st.booleans(), s=st.integers(1, 8), refuse=st.booleans())
    def submit(self, net: bool, s: int, refuse: bool) -> None:
        inputs = {"model": MODEL, "prompt_hash": h("p"), "prompt_bytes": 20, "input_tokens": 12, "max_output_tokens": 30}
        router = {"router": addr("router")} if s % 2 else {}
        if net:
            self.send(ORACLE, "task.network", inputs, refuse)
        else:
            self.send(addr("user"), "task.submit", {"session": s, **inputs, **router}, refuse)

    @rule(i=st.integers(0, 30))
    def cancel(self, i: int) -> None:
        t = self.task(i)
        if t is not None:
            self.send(addr("user"), "task.cancel", {"task": t.id})

    @rule(i=st.integers(0, 30))
    def commit_reveal(self, i: int) -> None:
        t = self.task(i)
        if t is None:
            return
        for a in list(t.miners):
            self.send(a.miner, "task.precommit", {"task": t.id, "commit": commitment(t.id, a.miner, h("a"), "s")})
        for a in list(t.miners):
            self.send(
                a.miner, "task.reveal", {"task": t.id, "output_hash": h("a"), "salt": "s"} | ({} if t.measured_tokens else {"output_tokens": 5})
            )

    @rule(i=st.integers(0, 30), split=st.booleans())
    def validate(self, i: int, split: bool) -> None:
        """Each validator of the task's round reports (commit then reveal with a beacon); ``split``: the first one far off
        (a dispute: an escalation draws more validators)."""
        t = self.task(i)
        if t is None:
            return
        from support.reports import report_rounds

        miners = [a.miner for a in t.miners if a.reveal_tick is not None and not a.mismatch]
        first = t.validators[0] if t.validators else None

        def reports(v: str) -> list[dict[str, Any]]:
            d, q = (10**9, 10**8) if split and v == first else (10_000_000, 900_000_000)
            return [{"miner": m, "poi_distance_ppb": d, "quality_ppb": q} | ({"output_tokens": 5} if t.measured_tokens else {}) for m in miners]

        def submit(actor: str, kind: str, body: dict[str, Any]) -> None:
            self.send(actor, kind, body)

        try:
            report_rounds(
                submit, lambda: t, reports, first_rules=self.c.state.beacon is None, input_tokens=(lambda v: 12) if t.measured_tokens else None
            )
        except (AssertionError, KeyError, IndexError, TypeError):  # (the helper expects a task in its validation round)
            pass

    @rule()
    def snapshot(self) -> None:
        refs = self.c.state.node_refs.as_dict()
        self.c.state = through_snapshot(self.c.state)
        assert self.c.state.node_refs.as_dict() == refs

    @invariant()
    def the_count_equals_a_rebuild(self) -> None:
        s = self.c.state
        assert s.node_refs.as_dict() == rebuilt(s)
        assert retirable(s) == walked(s)

    def teardown(self) -> None:
        again = replayed_to(self.c.events, self.c.state)
        assert again.node_refs.as_dict() == self.c.state.node_refs.as_dict() == rebuilt(again)


class NodeRefsFirstRules(NodeRefsMachine):
    beacon = False


SETTINGS = settings(max_examples=25, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TestNodeRefsBeacon = NodeRefsMachine.TestCase
TestNodeRefsBeacon.settings = SETTINGS
TestNodeRefsFirstRules = NodeRefsFirstRules.TestCase
TestNodeRefsFirstRules.settings = SETTINGS


def test_each_writer_counts_and_the_prune_takes_the_counts_away():
    """Without a beacon: a task with a router names it, its miners and (after the reveals) its validators once each; the
    close that prunes it takes every count away."""
    c = market(n_miners=3, n_validators=3, params={"prune_closed_records": 1, "epoch_length_ticks": 6})
    refs = c.state.node_refs
    tid = submit_task(c, router=addr("router"))
    t = c.state.tasks[tid]
    miners = [a.miner for a in t.miners]
    assert refs.as_dict() == dict(sorted({addr("router"): 1, **dict.fromkeys(miners, 1)}.items()))
    commit_reveal(c, tid, {m: "a" for m in miners})
    assert t.validators and refs.as_dict() == dict(sorted({addr("router"): 1, **dict.fromkeys(miners + t.validators, 1)}.items()))
    validate_all(c, tid, lambda v, m: (10_000_000, 900_000_000))
    assert t.state == "SETTLED" and refs.as_dict() == rebuilt(c.state) != {}  # a closed task in the window still names them
    for _ in range(c.state.params.unbonding_period_epochs + 1):
        c.oracle("epoch.close", {})
    assert tid not in c.state.tasks and tid not in c.state.closed_tasks and refs.as_dict() == {} == rebuilt(c.state)


def test_a_dedicated_session_names_its_miners_while_open_and_not_when_closed_before_its_draw():
    c = market(n_miners=4, n_validators=3, beacon=True)
    refs = c.state.node_refs
    for close_first in (False, True):
        sid = c.state.next_id
        c.as_("user", "session.open", {"deposit": str(COR), "mode": "dedicated", "nodes": 3, "redundancy": 3, "model": MODEL})
        assert refs.as_dict() == rebuilt(c.state)
        if close_first:
            c.as_("user", "session.close", {"session": sid})
        c.oracle("tick", {"ticks": 1})  # the value that draws its miners
        s = c.state.sessions[sid]
        assert len(s.dedicated_miners) == 3
        assert all(refs.counts.get(m, 0) == (0 if close_first else 1) for m in s.dedicated_miners), close_first
        assert refs.as_dict() == rebuilt(c.state)
        if not close_first:
            c.as_("user", "session.close", {"session": sid})
            assert refs.as_dict() == {} == rebuilt(c.state)


class NoWalk(dict):
    """A dict that may be read by key but not walked."""

    def __iter__(self):
        raise AssertionError("walked")

    def values(self):
        raise AssertionError("walked")

    def items(self):
        raise AssertionError("walked")


def test_the_retirement_test_walks_no_task_session_or_redelegation():
    """An idle node among live tasks, sessions and redelegations naming other nodes: ``retirable`` answers without
    walking any of them (before, it read every one at each close with an idle node)."""
    c = market(n_miners=3, n_validators=3, params={"prune_closed_records": 0})
    c.as_("user", "node.register", {"role": "router", "self_bond": str(1000 * COR)})
    submit_task(c, router=addr("router"))
    c.as_("user", "stake.unbond", {"amount": str(1000 * COR)})
    for _ in range(c.state.params.unbonding_period_epochs):
        c.oracle("epoch.close", {})
    c.as_("user", "stake.withdraw", {})
    c.oracle("epoch.close", {})
    s = c.state
    assert s.tasks and s.sessions and retirable(s) == walked(s) == [addr("user")]
    for name in ("tasks", "sessions", "redelegations"):
        object.__setattr__(s, name, NoWalk(getattr(s, name)))
    assert retirable(s) == [addr("user")]
