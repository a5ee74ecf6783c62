"""The double-claim scenario: epochs paid through a (modelled) distributor after each close; miners that
claim every leaf on every path are paid each leaf exactly once, as their honest twin is."""

from dataclasses import replace

from cor_incentives.sim.report import simulate
from cor_incentives.sim.runner import run
from cor_incentives.sim.scenarios import SCENARIOS


def test_every_leaf_of_every_miner_is_paid_exactly_once():
    s = replace(SCENARIOS["double_claim"], epochs=3, user_tasks_per_epoch=8, network_tasks_per_epoch=8)
    r = run(s, 1, check_each_event=True)
    assert not r.conservation_errors and not r.reconcile_errors
    grabbers = [n.name for n in r.nodes.values() if n.strategy == "double_claimer"]
    assert len(grabbers) == 2
    for name in r.nodes:
        leaves = sum(e[name].leaves for e in r.epochs)
        received = sum(e[name].received for e in r.epochs)
        refused = sum(e[name].claims_refused for e in r.epochs)
        assert received == leaves, name
        if name in grabbers:
            assert leaves > 0
            # per epoch: stale engine claims of each earlier epoch, and one more claim on each path after the post
            assert refused == sum(2 + e for e in range(3)) + sum(1 for e in range(3) if e % 2 == 0)
        else:
            assert refused == 0


def test_the_check_compares_with_the_honest_twin():
    rep = simulate([SCENARIOS["double_claim"]], epochs=2, seeds=(1,), workers=1)
    (c,) = rep["checks"]
    assert c["id"] == "double_claim_pays_once" and c["passed"], c["summary"]
    assert c["measured"]["paid_per_leaf"] == {"double_claimer": 1.0, "honest_twin": 1.0}
    assert c["measured"]["double_claimer"]["claims_refused"] > 0
