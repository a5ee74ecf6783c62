"""Random task traffic on the core: every path (settle, fail, cancel, mismatch, deadlines, network
tasks, validators' commit-reveal, escalations, canaries opened or not) keeps conservation after every
event, escrows never go negative, closed tasks hold no escrow, and replay reproduces the state exactly."""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.tasks import commitment
from cor_incentives.core.validation import canary_commitment, report_commitment
from support.exact import assert_unchanged, exact, snapshot
from support.market import MODEL, h, market
from support.reports import report_rounds

STEPS = int(os.environ.get("COR_TASK_STEPS", "60"))
EXAMPLES = int(os.environ.get("COR_TASK_EXAMPLES", "60"))
OUTPUTS = ["Paris", "Paris is the capital.", "zzq garbage", ""]


class TaskMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.c = market(
            n_miners=5,
            n_validators=5,
            params={
                "redundancy": 3,
                "validators_per_task": 2,
                "min_validators_per_task": 2,
                "escalation_rounds_max": 2,
                "epoch_length_ticks": 12,
            },
        )
        self.canaries = {}  # task -> (planted output hash or None, salt)
        self.report_plans = {}  # (task, validator) -> the reports it committed to
        self.prompt_counts = {}  # (task, validator) -> its committed count of the prompt's tokens
        self.spreads = {}  # (task, validator) -> its committed spread of the task (rule 12)

    def _try(self, actor, kind, body):
        before = snapshot(self.c.state)
        try:
            self.c.submit(actor, kind, body)
        except EngineError:
            assert_unchanged(self.c.state, before, f"rejected {kind} changed the state")

    def _open(self, i):
        ids = sorted(t for ids in self.c.state.deadlines.values() for t in ids)
        return self.c.state.tasks[ids[i % len(ids)]] if ids else None

    @rule(max_out=st.integers(1, 200), inp=st.integers(1, 100))
    def submit(self, max_out, inp):
        self._try(
            self.c.state.sessions[1].owner,
            "task.submit",
            {"session": 1, "model": MODEL, "prompt_hash": h("p"), "prompt_bytes": 20, "input_tokens": inp, "max_output_tokens": max_out},
        )

    @rule(planted=st.sampled_from([None, *OUTPUTS]), with_canary=st.booleans())
    def network(self, planted, with_canary):
        body = {"model": MODEL, "prompt_hash": h("n"), "prompt_bytes": 9, "input_tokens": 9, "max_output_tokens": 50}
        tid = self.c.state.next_id
        if with_canary:
            body["canary"] = canary_commitment(h("n"), h(planted) if planted is not None else None, f"c{tid}")
        self._try(self.c.state.oracle, "task.network", body)
        if with_canary and tid in self.c.state.tasks:
            self.canaries[tid] = (h(planted) if planted is not None else None, f"c{tid}")

    @rule(i=st.integers(0, 20), j=st.integers(0, 5), out=st.sampled_from(OUTPUTS))
    def precommit(self, i, j, out):
        t = self._open(i)
        if t:
            m = t.miners[j % len(t.miners)].miner
            self._try(m, "task.precommit", {"task": t.id, "commit": commitment(t.id, m, h(out), "s")})

    @rule(i=st.integers(0, 20), j=st.integers(0, 5), out=st.sampled_from(OUTPUTS), claim=st.sampled_from([None] * 4 + [7, 250]))
    def reveal(self, i, j, out, claim):
        """A reveal carries no token count (the validators count); one that claims a count is refused."""
        t = self._open(i)
        if t:
            m = t.miners[j % len(t.miners)].miner
            self._try(m, "task.reveal", {"task": t.id, "output_hash": h(out), "salt": "s"} | ({} if claim is None else {"output_tokens": claim}))

    def _reports(self, t, d, q):
        miners = [a.miner for a in t.miners if a.reveal_tick is not None and not a.mismatch]
        return [
            {"miner": m, "poi_distance_ppb": (d * (k + 1)) % (2 * 10**9), "quality_ppb": q, "output_tokens": (d + k) % 300}
            for k, m in enumerate(miners)
        ]

    @rule(i=st.integers(0, 20), j=st.integers(0, 5), d=st.integers(0, 2 * 10**9), q=st.integers(0, 10**9))
    def report_commit(self, i, j, d, q):
        t = self._open(i)
        if t and t.validators:
            v = t.validators[j % len(t.validators)]
            reports = self._reports(t, d, q)
            self.report_plans[(t.id, v)] = reports
            spread = d if t.spread_rule else None  # rule 12: its spread of the task, any in [0, 2.0]
            self._try(v, "task.report_commit", {"task": t.id, "commit": report_commitment(t.id, v, reports, "rs", q % 100, spread)})
            self.prompt_counts[(t.id, v)] = q % 100
            self.spreads[(t.id, v)] = spread

    @rule(i=st.integers(0, 20), j=st.integers(0, 5), wrong=st.sampled_from([False] * 4 + [True]))
    def report_reveal(self, i, j, wrong):
        t = self._open(i)
        if t and t.validators:
            v = t.validators[j % len(t.validators)]
            reports = self.report_plans.get((t.id, v)) or self._reports(t, 1, 1)
            prompt = self.prompt_counts.get((t.id, v), 1)
            spread = self.spreads.get((t.id, v), 0 if t.spread_rule else None)
            body = {"task": t.id, "input_tokens": prompt, "reports": reports, "salt": "wrong" if wrong else "rs"}
            self._try(v, "task.validate", body | ({} if spread is None else {"spread_ppb": spread}))

    @rule(i=st.integers(0, 20), wrong=st.sampled_from([False] * 4 + [True]))
    def open_canary(self, i, wrong):
        t = self._open(i)
        if t and t.id in self.canaries:
            planted, salt = self.canaries[t.id]
            body = {"task": t.id, "salt": salt + ("x" if wrong else "")}
            if planted is not None:
                body["planted"] = planted
            self._try(self.c.state.oracle, "task.canary", body)

    @rule(
        i=st.integers(0, 20),
        outs=st.lists(st.sampled_from(OUTPUTS), min_size=5, max_size=5),
        lie=st.lists(st.sampled_from([False] * 9 + [True]), min_size=5, max_size=5),
        tokens=st.integers(0, 200),
        far=st.lists(st.sampled_from([False] * 3 + [True]), min_size=5, max_size=5),
        q=st.integers(0, 10**9),
        lazy_validator=st.booleans(),
    )
    def complete(self, i, outs, lie, tokens, far, q, lazy_validator):
        """Drive one open task through precommit, reveal (some lying) and validation (some far)."""
        t = self._open(i)
        if not t:
            return
        for k, a in enumerate(t.miners):
            if a.commit is None:
                self._try(a.miner, "task.precommit", {"task": t.id, "commit": commitment(t.id, a.miner, h(outs[k]), "s")})
        for k, a in enumerate(t.miners):
            shown = h(outs[k] + "!") if lie[k] else h(outs[k])
            self._try(a.miner, "task.reveal", {"task": t.id, "output_hash": shown, "salt": "s"})
        miners = [a.miner for a in t.miners if a.reveal_tick is not None and not a.mismatch]

        def reports_for(v):
            j = sorted(t.validators).index(v)
            if lazy_validator and j == 0:
                return None
            return [
                {
                    "miner": m,
                    "poi_distance_ppb": 900_000_000 if far[k % 5] else 20_000_000,
                    "quality_ppb": (q + 7919 * j) % (10**9 + 1),
                    "output_tokens": (tokens + 13 * j + k) % 201,
                }
                for k, m in enumerate(miners)
            ]

        report_rounds(
            self._try,
            lambda: self.c.state.tasks[t.id],
            reports_for,
            first_rules=self.c.state.beacon is None,
            input_tokens=lambda v: (tokens + sorted(t.validators).index(v)) % 101,
        )
        if t.state == "AUDITING" and t.id in self.canaries:
            planted, salt = self.canaries[t.id]
            self._try(self.c.state.oracle, "task.canary", {"task": t.id, "salt": salt, **({"planted": planted} if planted else {})})

    @rule(i=st.integers(0, 20))
    def cancel(self, i):
        t = self._open(i)
        if t:
            self._try(self.c.state.sessions[1].owner, "task.cancel", {"task": t.id})

    @rule(i=st.integers(0, 50), tamper=st.booleans())
    def claim(self, i, tamper):
        from cor_incentives.app.views import proof

        closed = sorted(self.c.state.epochs)
        if not closed:
            return
        e = closed[i % len(closed)]
        leaves = sorted(self.c.state.epochs[e].leaves.items())
        if not leaves:
            return
        who, amount = leaves[i % len(leaves)]
        p = proof(self.c.state, who, e)
        self._try(
            self.c.state.oracle, "reward.claim", {"address": who, "epoch": e, "amount": str(amount + (1 if tamper else 0)), "proof": p["proof"]}
        )

    @rule(n=st.integers(1, 6))
    def tick(self, n):
        self._try(self.c.state.oracle, "tick", {"ticks": n})

    @invariant()
    def books_balance(self):
        s = self.c.state
        conservation_holds(s)
        for t in s.tasks.values():
            escrow = s.ledger.balance(f"escrow:task:{t.id}")
            if t.state in ("SETTLED", "FAILED", "CANCELLED"):
                assert escrow == 0
                assert t.charged + t.refunded == t.escrowed
            else:
                assert escrow == t.escrowed
            if t.state == "SETTLED":  # the validators' counts, within the requester's bounds
                assert t.settled_input_tokens <= t.input_tokens and t.output_tokens <= t.max_output_tokens
                assert all(a.output_tokens is not None for a in t.miners if a.in_consensus)
        unclaimed = 0
        for e, rec in s.epochs.items():
            assert sum(i.amount for i in rec.items if i.claimable) == sum(rec.leaves.values())
            for st_ in rec.streams.values():
                if "paid" in st_:
                    assert 0 <= st_["paid"] <= st_["budget"]
            if rec.staking:
                assert rec.staking["paid"] <= rec.staking["budget"]
            unclaimed += sum(v for a, v in rec.leaves.items() if f"{e}|{a}" not in s.claimed)
        assert unclaimed == sum(v for k, v in s.ledger.balances.items() if k.startswith("claimable:"))
        assert s.sessions[1].open_tasks == sum(1 for t in s.tasks.values() if t.session == 1 and t.state not in ("SETTLED", "FAILED", "CANCELLED"))

    def teardown(self):
        assert exact(replay(self.c.events, check_each=True)) == exact(self.c.state)


TaskMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestTaskMachine = TaskMachine.TestCase
