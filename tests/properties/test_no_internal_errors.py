"""Parameters at and near the edges of their bounds x random traffic: every command applies or is refused with an
``EngineError``, never another exception (KeyError, IndexError, ZeroDivisionError, AssertionError, ...).

In the engine an unexpected exception refuses the event; when the event is the oracle's tick or close, every later one
meets the same state and the network stops (commit 1bb3430: a draw queued for a task pruned at ``unbonding_period_epochs``
1 raised KeyError at every close). The other property tests run at the default parameters; this one draws, at genesis,
the parameters that shape time, pruning and the draws at their bounds (``core/params.py`` ``param_bounds``): the unbonding
window 0 / 1, epochs of a few ticks, pruning on / off, redundancy / validators / min_consensus at their edges, deadlines of
one tick, ``max_entries``, escalations, a beacon or none, older rule versions, and a few other integer parameters at
lo / lo+1 / hi. The traffic is the market's: submit, cancel, commit / reveal, validation reports, canaries, sessions,
stake bond / unbond / withdraw / delegate / redelegate / cancel_unbond, node commands, transfers, ticks and closes; and
(session 29) the model registry: listings, fine-tunes of live / retired / pruned parents, retires by the owner or not
(the market's own model too, its tasks open), tasks naming any of four models, an id pruned and registered again, and
governance moving the rule version up mid-life (rule 24 to 25 with ``COR_EDGE_RULES=24``).

After every command: it applied, or it raised ``EngineError`` and left the state's bytes as they were; conservation holds
(``support.chain.Chain`` checks it after each accepted event); every open task names the live model record it was opened
on (``support.models.open_tasks_name_live_models``). At the end the log replays to the same state hash.

``COR_EDGE_EXAMPLES`` / ``COR_EDGE_STEPS`` raise the counts for a hunt, ``COR_EDGE_RULES`` (e.g. ``21,22,23,24``) holds
its rule versions to a list (the defaults keep ``make test`` fast).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, assume, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cor_incentives.core.apply import conservation_holds
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import PARAM_FIELDS, param_bounds, param_default
from cor_incentives.core.rules import LATEST
from cor_incentives.core.tasks import commitment
from cor_incentives.core.units import COR
from cor_incentives.core.validation import canary_commitment
from support.chain import ORACLE, addr, refusal_of
from support.market import h, market
from support.models import MODEL_IDS, REGISTRY_CMDS, open_tasks_name_live_models, registry_command
from support.replays import replayed_to
from support.reports import report_rounds

STEPS = int(os.environ.get("COR_EDGE_STEPS", "40"))
EXAMPLES = int(os.environ.get("COR_EDGE_EXAMPLES", "20"))
RULES = [int(v) for v in os.environ.get("COR_EDGE_RULES", "").split(",") if v]  # a hunt's rule versions (default: mostly LATEST)
OUTPUTS = ["Paris", "Paris is the capital.", "zzq"]
AMOUNTS = st.sampled_from(["0", "1", str(COR), str(COR + 1), str(500 * COR), str(3_000 * COR), str(10**40), "-5"])

# parameters the machine always draws near an edge (the brief's list); the others below at lo / lo+1 / hi now and then
SHAPED = {
    "unbonding_period_epochs",
    "epoch_length_ticks",
    "prune_closed_records",
    "redundancy",
    "min_consensus",
    "validators_per_task",
    "min_validators_per_task",
    "precommit_deadline_ticks",
    "reveal_deadline_ticks",
    "validation_deadline_ticks",
    "report_reveal_deadline_ticks",
    "canary_open_deadline_ticks",
    "max_entries",
    "escalation_rounds_max",
    "escalation_max_validators",
    "rule_version",
}
# a genesis with these at an edge refuses the market's set-up (its bonds, its deposit) or only ties other parameters:
# drawn elsewhere (test_param_bounds.py) or not reachable by traffic here
SETUP = {"min_self_bond_miner_units", "min_self_bond_validator_units", "min_self_bond_router_units", "mint_enabled"}
OTHER = sorted(n for n, f in PARAM_FIELDS.items() if "min" in f.metadata and n not in SHAPED | SETUP)


def near(name: str) -> st.SearchStrategy[int]:
    lo, hi = param_bounds(name)
    return st.sampled_from(sorted({lo, min(lo + 1, hi), max(hi - 1, lo), hi}))


def jsonable(v: int) -> Any:
    return v if v <= 2**53 - 1 else str(v)


@st.composite
def edge_params(draw: st.DrawFn) -> tuple[dict[str, Any], int, int, bool]:
    """(parameters, miners, validators, beacon)."""
    n_miners = draw(st.integers(1, 5))
    n_validators = draw(st.integers(1, 5))
    # mostly a redundancy the miners can meet (and validators the pool holds); now and then more than there are
    redundancy = draw(st.sampled_from([1, n_miners, n_miners, n_miners, min(n_miners + 1, 32), 32]))
    vpt = draw(st.sampled_from([1, n_validators, n_validators, min(n_validators + 1, 32), 32]))
    p: dict[str, Any] = {
        "unbonding_period_epochs": draw(st.sampled_from([0, 1, 2, 1000])),
        "epoch_length_ticks": draw(st.sampled_from([1, 2, 3, 5, 12])),
        "prune_closed_records": draw(st.integers(0, 1)),
        "redundancy": redundancy,
        "min_consensus": draw(st.sampled_from(sorted({1, max(1, redundancy - 1), redundancy}))),
        "validators_per_task": vpt,
        "min_validators_per_task": draw(st.sampled_from(sorted({1, vpt}))),
        "precommit_deadline_ticks": draw(st.sampled_from([1, 2, 5])),
        "reveal_deadline_ticks": draw(st.sampled_from([1, 2, 5])),
        "validation_deadline_ticks": draw(st.sampled_from([1, 2, 5])),
        "report_reveal_deadline_ticks": draw(st.sampled_from([1, 2, 5])),
        "canary_open_deadline_ticks": draw(st.sampled_from([1, 3])),
        "max_entries": draw(st.sampled_from([1, 2, 7, 1000])),
        "escalation_rounds_max": draw(st.sampled_from([0, 1, 8])),
        "escalation_max_validators": draw(st.sampled_from([1, 2, 32, 64])),
        "rule_version": draw(
            st.sampled_from(RULES) if RULES else st.one_of(st.just(LATEST), st.just(LATEST), st.just(LATEST), st.integers(1, LATEST))
        ),
        "gov_min_deposit_units": str(10 * COR),
        "gov_voting_period_ticks": draw(st.sampled_from([1, 3, 10])),  # a rule upgrade passes within a run (``upgrade``)
    }
    for name in draw(st.lists(st.sampled_from(OTHER), max_size=6, unique=True)):
        p[name] = jsonable(draw(st.one_of(near(name), st.just(param_default(name)))))
    return p, n_miners, n_validators, draw(st.booleans())


class EdgeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.people: list[str] = []

    @initialize(drawn=edge_params())
    def genesis(self, drawn: tuple[dict[str, Any], int, int, bool]) -> None:
        params, n_miners, n_validators, beacon = drawn
        try:
            self.c = market(n_miners=n_miners, n_validators=n_validators, beacon=beacon, params=params)
        except EngineError as e:  # a combination the genesis or the market's set-up refuses (ties between parameters)
            event(f"set-up refused: {e.code}")
            assume(False)
        self.people = [f"m{i}" for i in range(n_miners)] + [f"v{i}" for i in range(n_validators)] + ["router", "user", "dev", "d0", "stranger"]
        self.fresh = 0
        for name, v in sorted(params.items()):
            event(f"{name}={v}")
        event(f"beacon={beacon}")

    # --- driving ---------------------------------------------------------------------------------

    def send(self, actor: str, kind: str, body: Any) -> str | None:
        """Applied (None), or refused with an EngineError that changed nothing (its code); anything else fails the test."""
        code = refusal_of(self.c, actor, kind, body)
        event(f"{kind}: {code or 'accepted'}")
        return code

    def who(self, i: int) -> str:
        return addr(self.people[i % len(self.people)])

    def session_id(self, i: int) -> int:
        """One of the sessions (open or closed; ``i`` itself when there is none)."""
        ids = sorted(self.c.state.sessions)
        return ids[i % len(ids)] if ids and i % 5 else i

    def task(self, i: int):
        if i in self.c.state.tasks:
            return self.c.state.tasks[i]
        ids = sorted(self.c.state.tasks)
        return self.c.state.tasks[ids[i % len(ids)]] if ids else None

    # --- oracle time --------------------------------------------------------------------------------

    @rule(n=st.sampled_from([1, 1, 2, 3, 7]))
    def tick(self, n: int) -> None:
        self.send(ORACLE, "tick", {"ticks": n})

    @rule()
    def epoch_close(self) -> None:
        self.send(ORACLE, "epoch.close", {})

    @rule(n=st.integers(1, 3))
    def run_out_epochs(self, n: int) -> None:
        """Ticks to each epoch's end, then its close: what the oracle does, many epochs on (pruning, unbonding, maturity)."""
        for _ in range(n):
            s = self.c.state
            self.send(ORACLE, "tick", {"ticks": s.params.epoch_length_ticks})
            self.send(ORACLE, "epoch.close", {})

    # --- money and stake ----------------------------------------------------------------------------

    @rule(i=st.integers(0, 20), j=st.integers(0, 20), amount=AMOUNTS)
    def transfer(self, i: int, j: int, amount: Any) -> None:
        self.send(self.who(i), "transfer", {"to": self.who(j), "amount": amount})

    @rule(
        i=st.integers(0, 20),
        kind=st.sampled_from(
            [
                "stake.bond",
                "stake.unbond",
                "stake.unbond",
                "stake.withdraw",
                "stake.delegate",
                "stake.delegate",
                "stake.undelegate",
                "stake.redelegate",
                "stake.cancel_unbond",
            ]
        ),
        j=st.integers(0, 20),
        amount=AMOUNTS,
    )
    def stake(self, i: int, kind: str, j: int, amount: Any) -> None:
        body: dict[str, Any] = {} if kind == "stake.withdraw" else {"amount": amount}
        if kind in ("stake.delegate", "stake.undelegate"):
            body["node"] = self.who(j)
        if kind == "stake.redelegate":
            body.update({"from": self.who(j), "to": self.who(j + 1)})
        if kind == "stake.cancel_unbond":
            ids = sorted(self.c.state.unbondings)
            body = {"id": ids[j % len(ids)] if ids else j, **({"amount": amount} if j % 2 else {})}
        self.send(self.who(i), kind, body)

    @rule(
        who=st.sampled_from(["user", "dev", "router"]),
        i=st.integers(0, 9),
        j=st.integers(0, 9),
        part=st.sampled_from([1, 2, 3]),
        steps=st.lists(st.sampled_from(["undelegate", "redelegate", "cancel", "epochs", "withdraw", "self_unbond"]), min_size=1, max_size=6),
    )
    def stake_cycle(self, who: str, i: int, j: int, part: int, steps: list[str]) -> None:
        """A coherent stake lifecycle: a delegation to a live node, then undelegations, redelegations, cancels, epochs
        run out and withdrawals (the random ``stake`` rule above rarely names a position that exists)."""
        nodes = sorted(self.c.state.nodes)
        if not nodes:
            return
        node, other = nodes[i % len(nodes)], nodes[j % len(nodes)]
        amount = 10 * COR
        actor = addr(who)
        self.send(actor, "stake.delegate", {"node": node, "amount": str(amount)})
        for step in steps:
            if step == "undelegate":
                self.send(actor, "stake.undelegate", {"node": node, "amount": str(amount // (part + 1))})
            elif step == "redelegate":
                self.send(actor, "stake.redelegate", {"from": node, "to": other, "amount": str(amount // part)})
            elif step == "cancel":
                mine = sorted(self.c.state.unbondings)
                if mine:
                    self.send(actor, "stake.cancel_unbond", {"id": mine[-1]})
            elif step == "epochs":
                self.run_out_epochs(part)
            elif step == "withdraw":
                self.send(actor, "stake.withdraw", {})
            else:  # the node's operator takes part of its self-bond out (below its minimum: refused or it leaves)
                self.send(node, "stake.unbond", {"amount": str(1000 * COR * part)})
                self.send(node, "stake.withdraw", {})

    @rule(
        i=st.integers(0, 20),
        kind=st.sampled_from(["node.register", "node.unjail", "node.set_commission"]),
        role=st.sampled_from(["miner", "validator", "router"]),
        amount=AMOUNTS,
        bps=st.integers(0, 10_000),
    )
    def node(self, i: int, kind: str, role: str, amount: Any, bps: int) -> None:
        body: dict[str, Any] = {
            "node.register": {"role": role, "self_bond": amount, "models": MODEL_IDS[: 1 + bps % 4] if role == "miner" else []},
            "node.unjail": {},
            "node.set_commission": {"commission_bps": bps},
        }[kind]
        self.send(self.who(i), kind, body)

    @rule(n=st.integers(1, 3))
    def fresh_miners(self, n: int) -> None:
        """Funded miners serving every model of ``MODEL_IDS`` (the market's serve only its own), acting from then on."""
        for _ in range(n):
            self.fresh += 1
            name = f"x{self.fresh}"
            self.send(addr("user"), "transfer", {"to": addr(name), "amount": str(3_000 * COR)})
            if self.send(addr(name), "node.register", {"role": "miner", "self_bond": str(2_000 * COR), "models": MODEL_IDS}) is None:
                self.people.append(name)

    # --- the model registry (rule 25) and rule upgrades ------------------------------------------------------------

    @rule(cmds=REGISTRY_CMDS)
    def registry(self, cmds: list[tuple[str, int, int, int]]) -> None:
        """Listings, fine-tunes and retires (``support.models.registry_command``); an id pruned is listed again."""
        for kind, k, parent, by in cmds:
            self.send(*registry_command(self.c.state, kind, k, parent, by, self.who(by)))

    @rule(latest=st.booleans(), option=st.sampled_from(["yes", "yes", "yes", "no"]), closes=st.integers(0, 3))
    def upgrade(self, latest: bool, option: str, closes: int) -> None:
        """Governance moves the rule version up (to the next or the latest) mid-life: proposed, every node votes, voting
        runs out and epochs close (the stake must have aged: it fails early in a run)."""
        s = self.c.state
        target = LATEST if latest else min(s.params.rule_version + 1, LATEST)
        pid = s.next_id
        change = {"kind": "param_change", "title": "rules", "changes": {"rule_version": target}, "effective_epoch": s.epoch + 1}
        if self.send(addr("user"), "gov.propose", change) is not None:
            return
        for node in sorted(self.c.state.nodes):
            self.send(node, "gov.vote", {"proposal": pid, "option": option})
        self.send(ORACLE, "tick", {"ticks": self.c.state.params.gov_voting_period_ticks})
        self.run_out_epochs(closes)
        event(f"rule_version now {self.c.state.params.rule_version}")

    @rule(i=st.integers(0, 20), offence=st.sampled_from(["commit_mismatch", "missed_deadline", "poi_divergence"]), t=st.integers(0, 8))
    def slash_report(self, i: int, offence: str, t: int) -> None:
        evidence = {"tasks": [t], "window_epochs": 1} if offence == "missed_deadline" else {"task": t}
        self.send(ORACLE, "slash.report", {"node": self.who(i), "offence": offence, "evidence": evidence})

    # --- the market -------------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(["session.open", "session.deposit", "session.close"]), amount=AMOUNTS, s=st.integers(1, 4), r=st.integers(0, 4))
    def session(self, kind: str, amount: Any, s: int, r: int) -> None:
        s = self.session_id(s)
        body: dict[str, Any] = {
            "session.open": {"deposit": amount, **({"redundancy": r} if r else {}), **({"mode": "dedicated", "validators": r} if r % 2 else {})},
            "session.deposit": {"session": s, "amount": amount},
            "session.close": {"session": s},
        }[kind]
        self.send(addr("user"), kind, body)

    @rule(net=st.booleans(), max_out=st.sampled_from([1, 64, 300]), s=st.integers(1, 3), k=st.sampled_from([0, 0, 1, 2, 3]))
    def submit(self, net: bool, max_out: int, s: int, k: int = 0) -> None:
        inputs = {"model": MODEL_IDS[k], "prompt_hash": h("p"), "prompt_bytes": 20, "input_tokens": 12, "max_output_tokens": max_out}
        if net:
            self.send(ORACLE, "task.network", inputs)
        else:
            self.send(addr("user"), "task.submit", {"session": self.session_id(s), **inputs})

    @rule(
        net=st.booleans(),
        outs=st.lists(st.sampled_from(OUTPUTS), min_size=4, max_size=4),
        lie=st.integers(0, 7),
        d=st.integers(0, 2 * 10**9),
        q=st.integers(0, 10**9),
        skip=st.integers(0, 5),
        direct=st.sampled_from([False] * 5 + [True]),
        k=st.sampled_from([0, 0, 0, 1, 2, 3]),
    )
    def serve(self, net: bool, outs: list[str], lie: int, d: int, q: int, skip: int, direct: bool, k: int) -> None:
        """One task through the pipeline at once: submitted, drawn (a tick with a beacon), committed and revealed,
        its validators drawn, and judged; each step may be refused (the parameters make many refusals)."""
        i = self.c.state.next_id
        self.submit(net, 64, 1, k)
        if i not in self.c.state.tasks:
            return
        self.draw(i)
        self.commit_reveal(i, outs, lie, False)
        self.draw(i)
        self.validate(i, d, q, skip, 20, (self.c.state.beacon is None) != direct)

    def draw(self, tid: int) -> None:
        t = self.c.state.tasks.get(tid)
        if t is not None and self.c.state.beacon is not None and (t.state == "CREATED" or (t.state == "COMMITTED" and not t.drawn_in(t.round))):
            self.send(ORACLE, "tick", {"ticks": 1})

    @rule(close=st.booleans())
    def submit_cancel_close(self, close: bool) -> None:
        """A user task submitted and cancelled at once (its draw still queued with a beacon), then maybe the close: the
        path of the KeyError fixed in 1bb3430 (a task pruned by that close before its draw ran). Its regression test is
        tests/core/test_draw_after_prune.py: this random mix needs beacon, pruning and a window of 0 or 1 to line up
        too, and with that fix undone it did not fail in 100 examples (session 27)."""
        i = self.c.state.next_id
        self.submit(False, 64, 1)
        if i in self.c.state.tasks:
            self.send(addr("user"), "task.cancel", {"task": i})
        if close:
            self.send(ORACLE, "epoch.close", {})

    @rule(i=st.integers(0, 30))
    def cancel(self, i: int) -> None:
        t = self.task(i)
        if t is not None:
            self.send(addr("user"), "task.cancel", {"task": t.id})

    @rule(i=st.integers(0, 30), outs=st.lists(st.sampled_from(OUTPUTS), min_size=4, max_size=4), lie=st.integers(0, 7), claim=st.booleans())
    def commit_reveal(self, i: int, outs: list[str], lie: int, claim: bool) -> None:
        t = self.task(i)
        if t is None:
            return
        for k, a in enumerate(list(t.miners)):
            self.send(a.miner, "task.precommit", {"task": t.id, "commit": commitment(t.id, a.miner, h(outs[k % 4]), "s")})
        for k, a in enumerate(list(t.miners)):
            shown = h(outs[k % 4] + "!") if k == lie else h(outs[k % 4])
            self.send(a.miner, "task.reveal", {"task": t.id, "output_hash": shown, "salt": "s"} | ({"output_tokens": 20} if claim else {}))

    @rule(
        i=st.integers(0, 30),
        d=st.integers(0, 2 * 10**9),
        q=st.integers(0, 10**9),
        skip=st.integers(0, 3),
        tokens=st.integers(0, 300),
        direct=st.booleans(),
    )
    def validate(self, i: int, d: int, q: int, skip: int, tokens: int, direct: bool) -> None:
        """Each drawn validator of a task reports (one stays silent), round after round: committed then revealed
        (``support.reports.report_rounds``), or sent at once (the first rules, a network without a beacon)."""
        t = self.task(i)
        if t is None:
            return
        order = {v: j for j, v in enumerate(t.validators)}

        def reports_for(v: str) -> list[dict[str, Any]] | None:
            j = order.get(v, len(order))
            if j == skip:
                return None
            task = self.c.state.tasks.get(t.id, t)
            miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]
            return [
                {"miner": m, "poi_distance_ppb": (d * (k + 1)) % (2 * 10**9), "quality_ppb": q, "output_tokens": (tokens + 7 * j) % 301}
                for k, m in enumerate(miners)
            ]

        report_rounds(
            lambda actor, kind, body: self.send(actor, kind, body),
            lambda: self.c.state.tasks.get(t.id, t),
            reports_for,
            first_rules=direct,
            input_tokens=lambda v: tokens + order.get(v, 0),
            spread=lambda v: (d * (order.get(v, 0) + 1)) % (2 * 10**9 + 1),
        )

    @rule(i=st.integers(0, 30), planted=st.sampled_from([None, *OUTPUTS]), opening=st.booleans())
    def canary(self, i: int, planted: str | None, opening: bool) -> None:
        t = self.task(i)
        if t is None:
            return
        plant = h(planted) if planted is not None else None
        if opening:
            self.send(ORACLE, "task.canary", {"task": t.id, "salt": f"c{t.id}", **({"planted": plant} if plant else {})})
        else:
            self.send(ORACLE, "task.canary_commit", {"task": t.id, "canary": canary_commitment(t.prompt_hash, plant, f"c{t.id}")})

    # --- checks -----------------------------------------------------------------------------------

    @invariant()
    def conserved(self) -> None:
        if hasattr(self, "c"):
            conservation_holds(self.c.state)
            open_tasks_name_live_models(self.c.state)

    def teardown(self) -> None:
        if hasattr(self, "c"):
            replayed_to(self.c.events, self.c.state)


EdgeMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestEdgeMachine = EdgeMachine.TestCase
