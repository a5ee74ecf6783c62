"""Random staking and governance traffic on the core (bond, unbond, delegate, undelegate, propose, vote, ticks
and epoch closes, including refused commands), checked against the test's own record of every position's stake
at each epoch start: a snapshot never gives a position more than the least of its stake at the two epoch starts
before the proposal and at the proposal; a tally never counts more than was still bonded; treasury spends wait
out the unbonding period and stay within the per-proposal and per-epoch caps; each address gets at most one
voter reward per epoch, within the cap; conservation holds after every event and replay reproduces the state."""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cor_incentives.core.apply import conservation_holds, replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.exact import assert_unchanged, exact, snapshot

STEPS = int(os.environ.get("COR_GOV_STEPS", "60"))
EXAMPLES = int(os.environ.get("COR_GOV_EXAMPLES", "40"))
NODES = ["n0", "n1", "n2"]
DELEGATORS = ["d0", "d1", "d2"]
OTHERS = ["p", "x"]
PEOPLE = NODES + DELEGATORS + OTHERS
PARAMS = {
    "min_self_bond_miner_units": "1",
    "epoch_length_ticks": 20,
    "gov_voting_period_ticks": 15,
    "gov_min_deposit_units": str(10 * COR),
    "unbonding_period_epochs": 1,
}


def positions(state):
    """(node, staker) -> stake now."""
    out = {}
    for n in state.nodes:
        if state.ledger.balance(f"bonded:{n}"):
            out[(n, n)] = state.ledger.balance(f"bonded:{n}")
        for d in state.nodes[n].delegators:
            out[(n, d)] = state.ledger.balance(f"delegated:{n}:{d}")
    return out


class GovernanceMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.c = Chain(
            wallets={n: 10_000 * COR for n in PEOPLE}, params=PARAMS, pools={"pool:network_incentives": 10**9 * COR, "treasury": 10**6 * COR}
        )
        for n in NODES:
            self.c.as_(n, "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
        self.starts = {0: {}}  # epoch -> positions at its start (genesis: none)
        self.at_proposal = {}  # proposal id -> positions when it opened
        self.checked_tallies = set()

    @initialize(delegations=st.lists(st.tuples(st.sampled_from(DELEGATORS), st.sampled_from(NODES), st.integers(1, 3_000)), max_size=4))
    def age_the_stake(self, delegations):
        """Some delegations, then two epochs, so that the stake votes from the start."""
        for who, node, amount in delegations:
            self._try(who, "stake.delegate", {"node": addr(node), "amount": str(amount * COR)})
        self.tick(40)

    def _try(self, who, kind, body):
        before = snapshot(self.c.state)
        pid = self.c.state.next_id
        epoch = self.c.state.epoch
        try:
            self.c.as_(who, kind, body)
        except EngineError:
            assert_unchanged(self.c.state, before, f"rejected {kind} changed the state")
            return
        if kind == "gov.propose":
            self.at_proposal[pid] = (self.c.state.epoch, positions(self.c.state))
        for e in range(epoch + 1, self.c.state.epoch + 1):  # epochs that started during this event
            self.starts[e] = positions(self.c.state)

    @rule(who=st.sampled_from(NODES), amount=st.integers(1, 3_000), out=st.booleans())
    def bond(self, who, amount, out):
        self._try(who, "stake.unbond" if out else "stake.bond", {"amount": str(amount * COR)})

    @rule(who=st.sampled_from(DELEGATORS + OTHERS), node=st.sampled_from(NODES), amount=st.integers(1, 3_000), out=st.booleans())
    def delegate(self, who, node, amount, out):
        self._try(who, "stake.undelegate" if out else "stake.delegate", {"node": addr(node), "amount": str(amount * COR)})

    @rule(who=st.sampled_from(PEOPLE), kind=st.sampled_from(["param_change", "treasury_spend", "treasury_spend"]), bps=st.integers(1, 300))
    def propose(self, who, kind, bps):
        body = {"kind": kind, "title": "t"}
        if kind == "param_change":
            body |= {"changes": {"max_commission_bps": 2000 + bps}}
        else:
            body |= {"to": addr(who), "amount": str(self.c.balance("treasury") * bps // 10_000)}
        self._try(who, "gov.propose", body)

    @rule(who=st.sampled_from(PEOPLE), i=st.integers(0, 20), option=st.sampled_from(["yes", "yes", "no", "abstain", "veto"]))
    def vote(self, who, i, option):
        open_ = sorted(p for p, x in self.c.state.proposals.items() if x.status == "VOTING")
        if open_:
            self._try(who, "gov.vote", {"proposal": open_[i % len(open_)], "option": option})

    @rule(i=st.integers(0, 20), option=st.sampled_from(["yes", "yes", "no"]), skip=st.sampled_from(NODES + DELEGATORS))
    def everyone_votes(self, i, option, skip):
        """Every staker but one votes the same way on an open proposal (so proposals reach quorum and pass)."""
        open_ = sorted(p for p, x in self.c.state.proposals.items() if x.status == "VOTING")
        for who in NODES + DELEGATORS:
            if open_ and who != skip:
                self._try(who, "gov.vote", {"proposal": open_[-1 - i % len(open_)], "option": option})

    @rule(n=st.sampled_from([1, 5, 15, 20, 40]))
    def later(self, n):
        self.tick(n)

    @rule(n=st.sampled_from([1, 3, 7, 20]))
    def tick(self, n):
        epoch, treasury = self.c.state.epoch, self.c.balance("treasury")
        self.c.oracle("tick", {"ticks": n})
        for e in range(epoch + 1, self.c.state.epoch + 1):
            self.starts[e] = positions(self.c.state)
        if self.c.state.epoch > epoch:  # a close: treasury spends within the epoch allowance of the treasury before it
            spent = sum(
                int(x.body["amount"])
                for x in self.c.state.proposals.values()
                if x.kind == "treasury_spend" and x.executed_epoch == epoch and x.status == "EXECUTED"
            )
            assert spent <= treasury * self.c.state.params_history.at(epoch).gov_treasury_epoch_max_bps // 10_000

    @invariant()
    def books_and_powers(self):
        s = self.c.state
        conservation_holds(s)
        now = positions(s)
        for pid, prop in s.proposals.items():
            e, at_prop = self.at_proposal[pid]
            before, at_start = self.starts.get(e - 1, {}), self.starts[e]
            for n, stakers in prop.positions.items():
                for a, power in stakers.items():
                    assert 0 < power <= min(before.get((n, a), 0), at_start.get((n, a), 0), at_prop.get((n, a), 0))
            assert prop.total_power == sum(sum(v.values()) for v in prop.positions.values())
            if prop.tallied_tick == s.tick and pid not in self.checked_tallies:  # tallied by the last event: nothing moved since
                self.checked_tallies.add(pid)
                carried = {}
                for n, stakers in prop.positions.items():
                    for a, snapped in stakers.items():
                        voter = a if a in prop.votes else (n if n in prop.votes else None)
                        power = min(snapped, now.get((n, a), 0))
                        if voter and power:
                            carried.setdefault(voter, {}).setdefault(a, 0)
                            carried[voter][a] += power
                assert prop.voter_power == carried
                assert sum(prop.tally.values()) == sum(sum(v.values()) for v in carried.values()) <= prop.total_power
            if prop.status == "EXECUTED" and prop.kind == "treasury_spend":
                p = s.params_history.at(prop.executed_epoch)
                assert prop.executable_tick >= prop.end_tick + p.unbonding_period_epochs * p.epoch_length_ticks
        for rec in s.epochs.values():
            lines = [i for i in rec.items if i.stream == "governance"]
            assert len({i.address for i in lines}) == len(lines)
            gov = rec.streams["governance"]
            assert sum(i.amount for i in lines) == gov["paid"] <= gov["budget"]
            assert all(i.amount <= gov["budget"] * 2_500 // 10_000 for i in lines)

    def teardown(self):
        assert exact(replay(self.c.events, check_each=True)) == exact(self.c.state)


GovernanceMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestGovernanceMachine = GovernanceMachine.TestCase
