"""The runner's count of planted seats (``NodeEpoch.planted``) and, from rule 18, of a paid planter's credited work
(``planted_work``, ``planted_network_work``): the seat counts as the median true work of its task's in-consensus miners,
the work the core pays it as (``tasks.planter_quality_ppb``), so pay per unit of work does not move with the number of
plants a node was asked for (spread_inflation, collusion_49), and newcomer_griefing counts planted seats as draws."""

import pytest

from cor_incentives.core.rules import RULES_PAID_PLANTER
from cor_incentives.sim.runner import run
from cor_incentives.sim.scenarios import ROUTER, Scenario, miners, validators
from cor_incentives.sim.strategies import Environment


def _scenario(rule: int) -> Scenario:
    return Scenario(
        "planted_seats",
        miners(("honest", 6)) + validators() + ROUTER,
        params={"rule_version": rule},
        env=Environment(canary_rate=0.5),
        epochs=2,
        user_tasks_per_epoch=10,
        network_tasks_per_epoch=10,
    )


def _totals(result, field):
    return sum(getattr(st, field) for e in result.epochs for st in e.values())


@pytest.mark.parametrize("rule", [RULES_PAID_PLANTER - 1, RULES_PAID_PLANTER])
def test_every_obeyed_plant_is_a_planted_seat_and_only_a_paid_one_is_credited_work(rule):
    r = run(_scenario(rule), 1)
    canaries = sum(t.canaries for t in r.tasks)
    assert canaries > 5
    assert _totals(r, "planted") == canaries  # one planted seat per opened canary (every honest miner obeys)
    if rule < RULES_PAID_PLANTER:
        assert _totals(r, "planted_work") == 0 == _totals(r, "planted_network_work")  # rule 17 paid the seat nothing
    else:
        assert _totals(r, "planted_work") > _totals(r, "planted_network_work") > 0  # user and network canaries
        assert sum(st.assigned for e in r.epochs for st in e.values() if st.planted_work) > 0


def test_a_paid_planters_seat_is_credited_the_median_true_work_of_its_tasks_in_consensus_miners(monkeypatch):
    from cor_incentives.sim import runner as R

    checked = []
    orig = R.World._collect_tasks

    def spy(self, tids, stats, counts):
        expected = 0
        for tid in tids:
            task = self.state.tasks[tid]
            if task.state.name != "SETTLED" or not any(a.planted and a.quality_ppb is not None for a in task.miners):
                continue
            true_input = self.info[tid].input_tokens or task.input_tokens
            out = self.revealed[tid]
            works = sorted(
                (true_input + out[a.miner].tokens) * R.TRUE_TIER_WEIGHT * R.to_ppb(out[a.miner].quality)
                for a in task.miners
                if not a.planted and a.in_consensus and not a.mismatch
            )
            n = len(works)
            expected += works[n // 2] if n % 2 else (works[n // 2 - 1] + works[n // 2]) // 2  # tasks.planter_quality_ppb's median
            checked.append(tid)
        before = sum(st.planted_work for st in stats.values())
        orig(self, tids, stats, counts)
        assert sum(st.planted_work for st in stats.values()) - before == expected

    monkeypatch.setattr(R.World, "_collect_tasks", spy)
    run(_scenario(RULES_PAID_PLANTER), 2)
    assert len(checked) > 5
