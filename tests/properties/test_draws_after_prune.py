"""Queued beacon draws x pruning x parameters that close epochs fast: every command applies or is refused with an
``EngineError``, never another exception.

``test_no_internal_errors.py`` draws every parameter near its edges, so the combination that made commit 1bb3430's
KeyError (a beacon, pruning on, ``unbonding_period_epochs`` 0 or 1, and a task cancelled before its miner draw, then the
close with no tick between) lines up in about one example in ten, and then only if the orderings follow. This machine
holds that combination at every genesis and makes the orderings likely: a beacon always, pruning always, the window 0
or 1, epochs of 1-3 ticks, rule versions from pruning (10) on with 21-25 (bounty deposit and retire, node retire,
session bound, model deposit) weighted up. Its rules queue a draw and then act before the tick that runs it:

- a user or network task submitted, then any short sequence of cancel / close / tick / commit-reveal (its validator
  draw) / the validators' reports (an escalation draw); and 1bb3430's own ordering (submit, cancel, close) as a rule;
- a dedicated session opened (its reserve draw queued), closed at once or after the draw's tick, then maybe the close;
- a bounty with drawn reviewers, its deadline reached, expired, then maybe the close (its reviewer draw is queued and
  run inside the one tick that reaches the deadline, so no event ever sees it queued: ``retire_bounties``' guard of a
  queued draw is not reachable from a log, and dropping it fails nothing here);
- a node named by a task (or idle) unbonding its whole self-bond, withdrawing after the window, with closes between,
  and a fresh node of its role registering;
- the market's model retired with its tasks open or their draws queued, closes, and its id listed again (rule 25);
- bare ticks and closes, and epochs run out.

Mutation check (session 28, 40 runs of the default 50 examples each): with 1bb3430's skip undone (``tasks._drawn_task``
reading ``state.tasks[task_id]``) 40 of 40 runs fail (KeyError), where ``test_no_internal_errors.py`` failed 1 run in
6; with ``retire_sessions`` not keeping a session whose dedicated draw is queued, 8 of 10 fail. After every command a
refusal left the state's bytes as they were, conservation holds, and at the end the log replays to the same state
hash. ``COR_DRAW_EXAMPLES`` / ``COR_DRAW_STEPS`` raise the counts for a hunt.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, assume, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.errors import EngineError
from cor_incentives.core.ledger import bonded
from cor_incentives.core.rules import LATEST, RULES_PRUNE
from cor_incentives.core.tasks import commitment
from cor_incentives.core.units import COR
from support.chain import ORACLE, addr, refusal_of
from support.market import MODEL, h, market
from support.models import card, open_tasks_name_live_models
from support.replays import replayed_to
from support.reports import report_rounds

STEPS = int(os.environ.get("COR_DRAW_STEPS", "25"))
EXAMPLES = int(os.environ.get("COR_DRAW_EXAMPLES", "50"))
OUTPUTS = ["Paris", "Paris", "Lyon"]
RULES = st.one_of(st.just(LATEST), st.sampled_from([21, 22, 23, 24, 25]), st.integers(RULES_PRUNE, LATEST))
AFTER_SUBMIT = st.lists(st.sampled_from(["cancel", "cancel", "close", "close", "tick", "reveal", "report"]), max_size=4)


@st.composite
def draw_params(draw: st.DrawFn) -> tuple[dict[str, Any], int, int]:
    """(parameters, miners, validators): the window, the epoch and the deadlines short, pruning on."""
    n_miners, n_validators = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    redundancy = draw(st.sampled_from([1, n_miners, n_miners]))
    vpt = draw(st.sampled_from([1, n_validators]))
    p: dict[str, Any] = {
        "unbonding_period_epochs": draw(st.integers(0, 1)),
        "epoch_length_ticks": draw(st.sampled_from([1, 1, 2, 3])),
        "prune_closed_records": 1,
        "redundancy": redundancy,
        "min_consensus": draw(st.sampled_from(sorted({1, redundancy}))),
        "validators_per_task": vpt,
        "min_validators_per_task": draw(st.sampled_from(sorted({1, vpt}))),
        "precommit_deadline_ticks": draw(st.sampled_from([1, 2])),
        "reveal_deadline_ticks": draw(st.sampled_from([1, 2])),
        "validation_deadline_ticks": draw(st.sampled_from([1, 2])),
        "report_reveal_deadline_ticks": draw(st.sampled_from([1, 2])),
        "escalation_rounds_max": draw(st.sampled_from([0, 1, 8])),
        "bounty_review_period_ticks": draw(st.sampled_from([0, 1, 3])),
        "bounty_drawn_reviewers": 3,
        "bounty_review_quorum": 1,
        "rule_version": draw(RULES),
    }
    return p, n_miners, n_validators


class DrawPruneMachine(RuleBasedStateMachine):
    @initialize(drawn=draw_params())
    def genesis(self, drawn: tuple[dict[str, Any], int, int]) -> None:
        params, n_miners, n_validators = drawn
        try:
            self.c = market(n_miners=n_miners, n_validators=n_validators, beacon=True, params=params)
        except EngineError as e:  # a combination the genesis or the market's set-up refuses
            event(f"set-up refused: {e.code}")
            assume(False)
        self.c.as_("user", "transfer", {"to": addr("sponsor"), "amount": str(10_000 * COR)})
        self.fresh = 0
        for name in ("unbonding_period_epochs", "epoch_length_ticks", "rule_version"):
            event(f"{name}={params[name]}")

    # --- driving ---------------------------------------------------------------------------------

    def send(self, actor: str, kind: str, body: Any) -> bool:
        """Applied (True), or refused with an EngineError that changed nothing (False); anything else fails the test."""
        code = refusal_of(self.c, actor, kind, body)
        event(f"{kind}: {code or 'accepted'}")
        return code is None

    def queued(self) -> int:
        b = self.c.state.beacon
        return len(b.pending) if b is not None else 0

    # --- oracle time -------------------------------------------------------------------------------

    @rule(n=st.sampled_from([1, 1, 2]))
    def tick(self, n: int) -> None:
        self.send(ORACLE, "tick", {"ticks": n})

    @rule()
    def close(self) -> None:
        if self.queued():
            event("close with draws queued")
        self.send(ORACLE, "epoch.close", {})

    @rule(n=st.integers(1, 3))
    def run_out_epochs(self, n: int) -> None:
        for _ in range(n):
            self.send(ORACLE, "tick", {"ticks": self.c.state.params.epoch_length_ticks})
            self.send(ORACLE, "epoch.close", {})

    # --- tasks ----------------------------------------------------------------------------------------

    @rule(net=st.sampled_from([False, False, True]), then=AFTER_SUBMIT, lie=st.integers(0, 3), split=st.booleans())
    def task(self, net: bool, then: list[str], lie: int, split: bool) -> None:
        """A task submitted (its miner draw queued), then ``then`` in order: cancels and closes before the tick that draws,
        ticks, and the miners' commit-reveal or the validators' reports (each after the tick drawing them, if none ran)."""
        tid = self.c.state.next_id
        inputs = {"model": MODEL, "prompt_hash": h(f"p{tid}"), "prompt_bytes": 20, "input_tokens": 12, "max_output_tokens": 64}
        if not (self.send(ORACLE, "task.network", inputs) if net else self.send(addr("user"), "task.submit", {"session": 1, **inputs})):
            return
        for step in then:
            if step == "cancel":
                self.send(ORACLE if net else addr("user"), "task.cancel", {"task": tid})
            elif step == "close":
                self.close()
            elif step == "tick":
                self.send(ORACLE, "tick", {"ticks": 1})
            else:  # reveal, or report (the reveals first if none ran): each after the tick drawing its nodes if none ran
                self.draw_now(tid)
                t = self.c.state.tasks.get(tid)
                if t is not None and t.state in ("CREATED", "PREPARED"):
                    self.reveal(tid, lie)
                    self.draw_now(tid)
                if step == "report" and tid in self.c.state.tasks:
                    self.report(tid, lie, split)

    @rule(then=st.sampled_from([["close"], ["close"], ["close", "close"], ["tick", "close"], ["cancel", "close"]]))
    def cancel_then_close(self, then: list[str]) -> None:
        """The ordering of 1bb3430: a user task submitted and cancelled with its miner draw queued, then the close with
        no tick between (or a second close, or a tick first; or the cancel twice)."""
        self.task(False, ["cancel", *then], 0, False)

    def draw_now(self, tid: int) -> None:
        t = self.c.state.tasks.get(tid)
        if t is not None and (t.state == "CREATED" or (t.state == "COMMITTED" and not t.drawn_in(t.round))):
            self.send(ORACLE, "tick", {"ticks": 1})

    def reveal(self, tid: int, lie: int) -> None:
        """The miners precommit then reveal (the ``lie``-th reveals another output: a mismatch)."""
        t = self.c.state.tasks[tid]
        for a in list(t.miners):
            self.send(a.miner, "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, h(OUTPUTS[len(a.miner) % 3]), "s")})
        for k, a in enumerate(list(t.miners)):
            self.send(a.miner, "task.reveal", {"task": tid, "output_hash": h(OUTPUTS[len(a.miner) % 3] + ("!" if k == lie else "")), "salt": "s"})

    def report(self, tid: int, lie: int, split: bool) -> None:
        """The drawn validators report (one silent at ``lie``; with ``split`` the first dissents: an escalation draw)."""
        t = self.c.state.tasks[tid]
        order = {v: j for j, v in enumerate(t.validators)}

        def reports_for(v: str) -> list[dict[str, Any]] | None:
            j = order.get(v, len(order))
            if j == lie:
                return None
            task = self.c.state.tasks.get(tid, t)
            miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]
            far = split and j == 0
            return [
                {"miner": m, "poi_distance_ppb": 10**9 if far else 0, "quality_ppb": 0 if far else 9 * 10**8, "output_tokens": 20} for m in miners
            ]

        report_rounds(
            lambda actor, kind, body: self.send(actor, kind, body),
            lambda: self.c.state.tasks.get(tid, t),
            reports_for,
            input_tokens=lambda v: 12,
        )

    # --- sessions and bounties: their draws queued, then closed / expired at once --------------------------

    @rule(more=st.integers(0, 1), close_epoch=st.booleans(), tick_first=st.booleans())
    def dedicated_session(self, more: int, close_epoch: bool, tick_first: bool) -> None:
        """A dedicated session (its reserve draw queued), closed at once or after the draw's tick, then maybe the close."""
        sid = self.c.state.next_id
        body = {"deposit": str(2 * COR), "mode": "dedicated", "nodes": self.c.state.params.redundancy + more, "model": MODEL}
        if not self.send(addr("user"), "session.open", body):
            return
        if tick_first:
            self.send(ORACLE, "tick", {"ticks": 1})
        self.send(addr("user"), "session.close", {"session": sid})
        if close_epoch:
            self.close()

    @rule(ticks=st.integers(1, 2), enter=st.booleans(), challenge=st.booleans(), close_epoch=st.booleans())
    def bounty(self, ticks: int, enter: bool, challenge: bool, close_epoch: bool) -> None:
        """A bounty with drawn reviewers: created, maybe entered, its deadline reached (the reviewer draw queued), expired."""
        bid = self.c.state.next_id
        body = {"prize": str(10 * COR), "criteria": "c", "deadline_tick": self.c.state.tick + ticks, "winners": 1}
        if not self.send(addr("sponsor"), "bounty.create", {**body, "kind": "challenge" if challenge else "bounty"}):
            return
        if enter:
            self.send(addr("user"), "bounty.submit", {"bounty": bid, "content_hash": h(f"e{bid}")})
        self.send(ORACLE, "tick", {"ticks": ticks})
        self.send(addr("user"), "bounty.expire", {"bounty": bid})
        if close_epoch:
            self.close()

    # --- the market's model retired and listed again (rule 25) --------------------------------------------------

    @rule(
        queued=st.sampled_from(["none", "user", "network", "reveal"]),
        then=st.lists(st.sampled_from(["close", "close", "tick", "task"]), max_size=4),
        by=st.sampled_from(["dev", "sponsor"]),
    )
    def model_relisted(self, queued: str, then: list[str], by: str) -> None:
        """The market's model retired by its owner with a task naming it waiting for a draw (its miners' after a submit,
        its validators' after the reveals), then closes and ticks (it leaves at the first close's prune at which no open
        task names it: the close runs the queued draws after its prune; a task naming it meanwhile is refused), and its id
        listed again, by its owner or another key (refused while the retired record is live)."""
        listed = self.c.state.models.get(MODEL)
        if listed is None:
            return
        if queued != "none":
            tid = self.c.state.next_id
            self.task(queued == "network", [], 0, False)  # its miner draw queued
            if queued == "reveal" and tid in self.c.state.tasks:
                self.draw_now(tid)
                if self.c.state.tasks[tid].state in ("CREATED", "PREPARED"):
                    self.reveal(tid, 9)  # every miner reveals: its validator draw queued
        if not self.send(listed.owner, "model.retire", {"model": MODEL}):
            return
        for step in then:
            if step == "task":
                self.task(False, ["tick"], 0, False)
            elif step == "close":
                self.close()
            else:
                self.send(ORACLE, "tick", {"ticks": 1})
        self.send(addr(by), "model.register", card(MODEL))

    # --- nodes leaving --------------------------------------------------------------------------------

    @rule(i=st.integers(0, 7), epochs=st.integers(0, 2))
    def node_leaves(self, i: int, epochs: int) -> None:
        """A node (a task's miner or validator if one is named, else any) unbonds its whole self-bond, closes pass, it
        withdraws (retired at a later close, rule 23); a fresh node of its role registers so traffic goes on."""
        s = self.c.state
        named = [a.miner for t in s.tasks.values() for a in t.miners] + [v for t in s.tasks.values() for v in t.validators]
        pool = named or sorted(s.nodes)
        if not pool or pool[i % len(pool)] not in s.nodes:
            return
        node = pool[i % len(pool)]
        role = s.nodes[node].role
        self.send(node, "stake.unbond", {"amount": str(s.ledger.balance(bonded(node)))})
        for _ in range(epochs):
            self.close()
        self.send(node, "stake.withdraw", {})
        self.fresh += 1
        new = addr(f"n{self.fresh}")
        self.send(addr("user"), "transfer", {"to": new, "amount": str(6_000 * COR)})
        self.send(new, "node.register", {"role": role, "self_bond": str(5_000 * COR), "models": [MODEL] if role == "miner" else []})

    # --- checks ------------------------------------------------------------------------------------------

    @invariant()
    def conserved(self) -> None:
        if hasattr(self, "c"):
            conservation_holds(self.c.state)
            open_tasks_name_live_models(self.c.state)

    def teardown(self) -> None:
        if hasattr(self, "c"):
            replayed_to(self.c.events, self.c.state)


DrawPruneMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestDrawPruneMachine = DrawPruneMachine.TestCase
