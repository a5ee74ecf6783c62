"""The runner drives the real core: conservation after every event, determinism, measured offences."""

from dataclasses import replace

from cor_incentives.core.units import COR
from cor_incentives.sim.runner import run
from cor_incentives.sim.scenarios import SCENARIOS


def small(name, **kw):
    return replace(SCENARIOS[name], epochs=kw.pop("epochs", 2), user_tasks_per_epoch=8, network_tasks_per_epoch=8, **kw)


def test_every_event_conserves_supply_and_statements_reconcile():
    for name in ("mismatched_reveal", "offline_miners", "colluding_validators_30"):
        r = run(small(name), 1, check_each_event=True)
        assert not r.conservation_errors and not r.reconcile_errors, name
        assert len(r.epochs) == 2 and r.events > 100


def test_same_seed_same_log_and_numbers_other_seed_differs():
    s = small("copier_validators")
    a, b, c = run(s, 3), run(s, 3), run(s, 4)
    assert a.to_dict() == b.to_dict()
    assert a.head_hash != c.head_hash


def test_offences_land_on_the_cheaters():
    r = run(small("mismatched_reveal"), 1)
    by = {n.name: n.strategy for n in r.nodes.values()}
    for epoch in r.epochs:
        for name, st in epoch.items():
            if by[name] == "honest":
                assert st.slashes == 0
    slashed = sum(st.slashes for e in r.epochs for name, st in e.items() if by[name] == "mismatched")
    assert slashed >= 2000 * COR * 500 // 10_000  # at least one 5 % commit_mismatch slash
    off = run(small("offline_miners"), 1)
    offline = [st for e in off.epochs for name, st in e.items() if off.nodes[name].strategy == "offline"]
    assert all(st.served == 0 and st.work_earnings == 0 for st in offline) and sum(st.assigned for st in offline) > 0


def test_sybil_operator_nodes_are_named_and_grouped():
    r = run(small("sybil_split", epochs=1), 1)
    ops = [n for n in r.nodes.values() if n.operator == "op"]
    assert [n.name for n in ops] == ["op-00", "op-01", "op-02", "op-03", "op-04"]
    assert all(n.stake_units == 2000 * COR for n in ops)


def test_a_node_epoch_and_a_sum_of_them_add_up_pay_by_one_formula():
    from cor_incentives.sim.checks import Totals
    from cor_incentives.sim.runner import NodeEpoch

    one = NodeEpoch(fees=1, network=2, staking=4, other=8, slashes=16, costs=32)
    assert (one.work_earnings, one.earnings, one.net) == (3, 15, 15 - 16 - 32)
    total = Totals()
    total.add(one)
    total.add(one)
    assert (total.work_earnings, total.earnings, total.payout, total.net) == (6, 30, 30 - 32, 30 - 32 - 64)
