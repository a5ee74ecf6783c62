"""Seeded random operations against the core: conservation and non-negativity after every event,
rejected commands change nothing, and replaying the log reproduces the state exactly.

People hold real keys, so slashes come the way they do on the network: network tasks go to the miners,
a miner may reveal something other than its precommit (the core slashes the commit mismatch), anyone may
report an assigned node's two signed statements (equivocation), and the oracle's reports of task offences
are answered from the core's own record — all interleaved with bonds, delegations, unbonding and withdrawals.

100 examples × up to 120 steps: more than 10 000 random operations per run (more with HYPOTHESIS_PROFILE=long).
"""

import hashlib
import os
import pickle

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.slashing import OFFENCES
from cor_incentives.core.tasks import commitment
from support.chain import CHAIN_ID, Chain
from support.exact import assert_unchanged, exact, snapshot

PEOPLE = [f"p{i}" for i in range(6)]
KEYS = {p: "0x" + hashlib.sha256(f"ledger-machine|{p}".encode()).hexdigest() for p in PEOPLE}
ADDR = {p: private_key_address(k) for p, k in KEYS.items()}
KEY_OF = {a: KEYS[p] for p, a in ADDR.items()}
MODEL = "smollm2-135m"
ROLES = ["miner", "validator", "router"]
PARAMS = {
    "min_position_units": "1",  # no minimum position (rule 20; tests/core/test_min_position.py has its state machine)
    "min_self_bond_miner_units": "1000",
    "min_self_bond_validator_units": "2000",
    "min_self_bond_router_units": "500",
    "epoch_length_ticks": 7,
    "unbonding_period_epochs": 1,
    "jail_duration_ticks": 5,
    "model_listing_deposit_units": "1000",  # p0's model listing (rule 25) within its 50 000 units
}
STEPS = int(os.environ.get("COR_STATEFUL_STEPS", "120"))
EXAMPLES = int(os.environ.get("COR_STATEFUL_EXAMPLES", "100"))

who = st.sampled_from(PEOPLE)
amount = st.one_of(st.integers(1, 3000), st.integers(1, 10**6), st.just(0))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        pools = {"pool:network_incentives": 10**24, "pool:staking": 10**24, "treasury": 10**24, **{f"wallet:{a}": 50_000 for a in ADDR.values()}}
        self.chain = Chain(params=PARAMS, pools=pools)
        self.chain.submit(
            ADDR["p0"],
            "model.register",
            {
                "id": MODEL,
                "parameter_count": 135_000_000,
                "quantization": "q8_0",
                "context_length": 2048,
                "license": "apache-2.0",
                "content_hash": "0x" + "cd" * 32,
            },
        )
        # a validator and three miners from the start, so that network tasks (and their offences) happen
        self.chain.submit(ADDR["p0"], "node.register", {"role": "validator", "self_bond": "5000"})
        for p in ("p1", "p2", "p3"):
            self.chain.submit(ADDR[p], "node.register", {"role": "miner", "self_bond": "3000", "models": [MODEL]})
        self.accepted = 0
        self.rejected = 0

    def _try(self, actor: str, kind: str, body: dict) -> None:
        before = snapshot(self.chain.state)
        try:
            self.chain.submit(actor, kind, body)
            self.accepted += 1
        except EngineError:
            self.rejected += 1
            assert_unchanged(self.chain.state, before, f"rejected {kind} changed the state")

    # helpers that aim most operations at things that exist, so most of them are accepted
    def _node(self, i):
        nodes = sorted(self.chain.state.nodes)
        return nodes[i % len(nodes)] if nodes else ADDR[PEOPLE[i % len(PEOPLE)]]

    def _wallet(self, a):
        return self.chain.balance(f"wallet:{a}")

    @rule(a=who, b=who, frac=st.integers(1, 100))
    def transfer(self, a, b, frac):
        self._try(ADDR[a], "transfer", {"to": ADDR[b], "amount": str(max(1, self._wallet(ADDR[a]) * frac // 400))})

    @rule(a=who, role=st.sampled_from(ROLES), extra=st.integers(0, 5000), c=st.integers(0, 2000))
    def register(self, a, role, extra, c):
        need = int(PARAMS[f"min_self_bond_{role}_units"])
        self._try(
            ADDR[a],
            "node.register",
            {"role": role, "self_bond": str(need + extra), "commission_bps": c, "models": [MODEL] if role == "miner" else []},
        )

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
        self._try(ADDR[a], "stake.delegate", {"node": self._node(i), "amount": str(max(1, self._wallet(ADDR[a]) * frac // 200))})

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
        self._try(ADDR[a], "stake.withdraw", {})

    @rule(i=st.integers(0, 50))
    def unjail(self, i):
        self._try(self._node(i), "node.unjail", {})

    def _task(self, t):
        tasks = sorted(self.chain.state.tasks)
        return self.chain.state.tasks[tasks[t % len(tasks)]] if tasks else None

    @rule(n=st.integers(0, 10**6))
    def network_task(self, n):
        body = {
            "model": MODEL,
            "prompt_hash": "0x" + hashlib.sha256(str(n).encode()).hexdigest(),
            "prompt_bytes": 30,
            "input_tokens": 8,
            "max_output_tokens": 16,
        }
        self._try(self.chain.state.oracle, "task.network", body)

    @rule(t=st.integers(0, 50), j=st.integers(0, 5), out=st.integers(0, 3))
    def precommit(self, t, j, out):
        task = self._task(t)
        if task and task.miners:
            a = task.miners[j % len(task.miners)]
            self._try(a.miner, "task.precommit", {"task": task.id, "commit": commitment(task.id, a.miner, "0x" + f"{out:064x}", "s")})

    @rule(t=st.integers(0, 50), j=st.integers(0, 5), out=st.integers(0, 3))
    def reveal(self, t, j, out):
        """Reveals ``out``; one that is not what the miner precommitted is a commit mismatch, slashed by the core."""
        task = self._task(t)
        if task and task.miners:
            a = task.miners[j % len(task.miners)]
            self._try(a.miner, "task.reveal", {"task": task.id, "output_hash": "0x" + f"{out:064x}", "salt": "s"})

    @rule(t=st.integers(0, 50), j=st.integers(0, 5), r=who, m=st.integers(0, 3))
    def equivocation(self, t, j, r, m):
        """``r`` reports two different precommit statements an assigned miner signed for one task."""
        task = self._task(t)
        if task and task.miners:
            miner = task.miners[j % len(task.miners)].miner
            scope = f"task:{task.id}:precommit"
            pair = [sign_scoped(KEY_OF[miner], CHAIN_ID, scope, f"0x{x:064x}") for x in (m, m + 1)]
            self._try(ADDR[r], "slash.report", {"node": miner, "offence": "equivocation", "evidence": {"messages": pair}})

    @rule(t=st.integers(0, 50), i=st.integers(0, 50), offence=st.sampled_from(OFFENCES))
    def oracle_report(self, t, i, offence):
        """The oracle's report of a task offence is refused either way (the core found it and slashed it, or it is not derivable)."""
        task = self._task(t)
        self._try(self.chain.state.oracle, "slash.report", {"node": self._node(i), "offence": offence, "evidence": {"task": task.id if task else 1}})

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
            ADDR[a],
            kind,
            {
                "to": ADDR[b],
                "node": ADDR[b],
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
        assert exact(replayed) == exact(self.chain.state)


LedgerMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerMachine = LedgerMachine.TestCase


def test_a_snapshot_keeps_the_exact_state():
    """``_try``'s check (support/exact.py): a snapshot unpickles to the exact state, passes while nothing changed, and
    fails on a change to a balance or a nonce, as ``exact`` compared before and after would."""
    m = LedgerMachine()
    m.network_task(1)
    m.tick(3)
    state = m.chain.state
    before = snapshot(state)
    assert exact(pickle.loads(before)) == exact(state)
    assert_unchanged(state, before, "nothing changed")
    state.nonces[ADDR["p1"]] += 1
    with pytest.raises(AssertionError, match="a nonce"):
        assert_unchanged(state, before, "a nonce")
    state.nonces[ADDR["p1"]] -= 1
    assert_unchanged(state, before, "restored")
    state.ledger.balances[f"wallet:{ADDR['p5']}"] += 1
    with pytest.raises(AssertionError, match="a balance"):
        assert_unchanged(state, before, "a balance")
