"""Seeded random operations against the core: conservation and non-negativity after every event,
rejected commands change nothing, and replaying the log reproduces the state exactly.

100 examples × up to 120 steps: more than 10 000 random operations per run (more with HYPOTHESIS_PROFILE=long).
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.slashing import OFFENCES
from support.chain import Chain, addr

PEOPLE = [f"p{i}" for i in range(6)]
ROLES = ["miner", "validator", "router"]
PARAMS = {
    "min_self_bond_miner_units": "1000",
    "min_self_bond_validator_units": "2000",
    "min_self_bond_router_units": "500",
    "epoch_length_ticks": 7,
    "unbonding_period_epochs": 1,
    "jail_duration_ticks": 5,
}
STEPS = int(os.environ.get("COR_STATEFUL_STEPS", "120"))
EXAMPLES = int(os.environ.get("COR_STATEFUL_EXAMPLES", "100"))

who = st.sampled_from(PEOPLE)
amount = st.one_of(st.integers(1, 3000), st.integers(1, 10**6), st.just(0))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.chain = Chain(wallets={p: 50_000 for p in PEOPLE}, params=PARAMS)
        self.accepted = 0
        self.rejected = 0

    def _try(self, actor: str, kind: str, body: dict) -> None:
        before = self.chain.state.to_dict()
        try:
            self.chain.submit(actor, kind, body)
            self.accepted += 1
        except EngineError:
            self.rejected += 1
            assert self.chain.state.to_dict() == before, f"rejected {kind} changed the state"

    # helpers that aim most operations at things that exist, so most of them are accepted
    def _node(self, i):
        nodes = sorted(self.chain.state.nodes)
        return nodes[i % len(nodes)] if nodes else addr(PEOPLE[i % len(PEOPLE)])

    def _wallet(self, a):
        return self.chain.balance(f"wallet:{a}")

    @rule(a=who, b=who, frac=st.integers(1, 100))
    def transfer(self, a, b, frac):
        self._try(addr(a), "transfer", {"to": addr(b), "amount": str(max(1, self._wallet(addr(a)) * frac // 400))})

    @rule(a=who, role=st.sampled_from(ROLES), extra=st.integers(0, 5000), c=st.integers(0, 2000))
    def register(self, a, role, extra, c):
        need = int(PARAMS[f"min_self_bond_{role}_units"])
        self._try(addr(a), "node.register", {"role": role, "self_bond": str(need + extra), "commission_bps": c})

    @rule(i=st.integers(0, 50), frac=st.integers(1, 100))
    def bond(self, i, frac):
        node = self._node(i)
        self._try(node, "stake.bond", {"amount": str(max(1, self._wallet(node) * frac // 1000))})

    @rule(i=st.integers(0, 50), frac=st.integers(1, 100))
    def unbond(self, i, frac):
        node = self._node(i)
        self._try(node, "stake.unbond", {"amount": str(max(1, self.chain.balance(f"bonded:{node}") * frac // 100))})

    @rule(a=who, i=st.integers(0, 50), frac=st.integers(1, 100))
    def delegate(self, a, i, frac):
        self._try(addr(a), "stake.delegate", {"node": self._node(i), "amount": str(max(1, self._wallet(addr(a)) * frac // 200))})

    @rule(i=st.integers(0, 50), j=st.integers(0, 50), frac=st.integers(1, 100))
    def undelegate(self, i, j, frac):
        node = self._node(i)
        ds = sorted(self.chain.state.nodes[node].delegators) if node in self.chain.state.nodes else []
        if not ds:
            return
        d = ds[j % len(ds)]
        self._try(d, "stake.undelegate", {"node": node, "amount": str(max(1, self.chain.balance(f"delegated:{node}:{d}") * frac // 100))})

    @rule(a=who)
    def withdraw(self, a):
        self._try(addr(a), "stake.withdraw", {})

    @rule(i=st.integers(0, 50))
    def unjail(self, i):
        self._try(self._node(i), "node.unjail", {})

    @rule(i=st.integers(0, 50), offence=st.sampled_from(OFFENCES), back=st.integers(0, 10), rep=st.one_of(st.none(), who), salt=st.integers(0, 3))
    def slash(self, i, offence, back, rep, salt):
        body = {"node": self._node(i), "offence": offence, "evidence": {"salt": salt}, "offence_tick": max(0, self.chain.state.tick - back)}
        if rep:
            body["reporter"] = addr(rep)
        self._try(self.chain.state.oracle, "slash.report", body)

    @rule(n=st.integers(1, 9))
    def tick(self, n):
        self._try(self.chain.state.oracle, "tick", {"ticks": n})

    @rule(
        a=who,
        kind=st.sampled_from(["transfer", "stake.bond", "stake.delegate", "stake.undelegate", "node.register", "tick", "slash.report"]),
        n=amount,
        b=who,
    )
    def anything(self, a, kind, n, b):
        """Arbitrary (mostly invalid) commands: each must be refused without a trace, or be valid."""
        self._try(
            addr(a),
            kind,
            {
                "to": addr(b),
                "node": addr(b),
                "amount": str(n),
                "role": "miner",
                "self_bond": str(n),
                "offence": "equivocation",
                "evidence": {"n": n},
                "ticks": n,
            },
        )

    @invariant()
    def conserved(self):
        conservation_holds(self.chain.state)
        s = self.chain.state
        for node in s.nodes.values():
            stake = s.ledger.balance(f"bonded:{node.id}") + sum(s.ledger.balance(f"delegated:{node.id}:{a}") for a in node.delegators)
            assert node.stake_total == stake
        assert sum(u.amount for u in s.unbondings.values()) == sum(v for k, v in s.ledger.balances.items() if k.startswith("unbonding:"))

    def teardown(self):
        replayed = replay(self.chain.events, check_each=True)
        assert replayed.to_dict() == self.chain.state.to_dict()


LedgerMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerMachine = LedgerMachine.TestCase
