"""marketplace_one_task (docs/rewards.md, "Marketplace stream"; docs/design.md §3, rule 31; finding K1 of docs/redteam/s33):
the simulator's model developer owns the one model every task runs, in a quiet network (one network task an epoch),
against the same network at the default load (20 network tasks an epoch). Under rule 30 (``rules=whole_stream``) the
marketplace stream was split by usage whatever its size, so the one task paid the owner the whole stream, as the twenty
do; rule 31 (``RULES_MARKETPLACE_RATE``) pays each unit of usage ``marketplace_usage_rate_units`` and the rest stays in
the pool.

The numbers are those of `cor simulate --scenario marketplace_one_task` (5 epochs; seeds 1-5, and 1-20 for rule 30's
verdict, which its sequential run reaches: the per-unit pay under rule 30 depends on each seed's usage)."""

import pytest

from cor_incentives.core.params import Params
from cor_incentives.sim.attacks import Attack, evaluate_many

# seeds 1-5 of rule 30 (whole_stream), measured in the first test, are the first 5 of the 20-seed verdict's (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")

SEEDS = (1, 2, 3, 4, 5)
RATE = Params().marketplace_usage_rate_units


def test_the_one_task_earns_its_usage_at_the_rate_under_31_and_the_whole_stream_under_30():
    now, before = evaluate_many(
        [Attack("rate", "marketplace_one_task"), Attack("whole_stream", "marketplace_one_task", {"rules": "whole_stream"})], seeds=SEEDS, workers=1
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    # the same worlds but for rule 33 (the rule changes only what the usage earns): the same budget; ~438 units of usage an
    # epoch from one network task (rule 30 and rules 31-32: 438282555417; from 33 an escalation whose dissenter has no other
    # validation of the epoch is charged to its bond and funded, and the world moves a little: 438374698192 under 33-34;
    # from 35 the charge prices a validation at the most a payee is paid, the bonds shrink a little more: 438493409265)
    assert b["usage_per_epoch"] == "438282555417" and m["usage_per_epoch"] == "438493409265"
    assert m["twin_usage_per_epoch"] == b["twin_usage_per_epoch"] == "7666416095760"  # ~7 666 units from twenty
    assert m["budget_per_epoch"] == b["budget_per_epoch"] == "4990009995001000000000"
    # rule 31: the rate per unit in both worlds, exactly; the twin's claims are ~46 % of the budget (not binding)
    assert now["passed"] and now["verdict"] == "stopped" and now["gain"] == 0.0
    assert m["pay_per_usage_unit"] == m["twin_pay_per_usage_unit"] == str(RATE)
    assert m["owner_pay_per_epoch"] == "131548022779500000000" and m["twin_owner_pay_per_epoch"] == "2299924828728276000000"
    assert m["left_in_pool_per_epoch"] == "4858461972221500000000"  # 4 858.5 COR an epoch stays in pool:network_incentives
    # (rules 31-32: 131484766625244000000 and 4858525228375756000000; 33-34: 131512409457660000000 and
    # 4858497585543340000000)
    # rule 30: the whole stream to the owner in both worlds, so ~17x the twin's pay per unit of usage
    assert not before["passed"] and 16.4 < before["gain"] < 16.6
    assert b["owner_pay_per_epoch"] == b["twin_owner_pay_per_epoch"] == b["budget_per_epoch"] and b["left_in_pool_per_epoch"] == "0"


def test_rule_30_reads_open_at_20_seeds():
    (r,) = evaluate_many([Attack("whole_stream", "marketplace_one_task", {"rules": "whole_stream"})], seeds=tuple(range(1, 21)), workers=1)
    assert r["verdict"] == "open" and r["uncertainty"]["pass_share"] == 0.0 and r["gain"] > 10


def test_twenty_tasks_against_twenty_is_no_gain_under_either_rule():
    """The knob at the twin's load: the same worlds, gain 0 under both rules (the old split only overpays a quiet epoch)."""
    for rules in ("rate", "whole_stream"):
        (r,) = evaluate_many([Attack(rules, "marketplace_one_task", {"tasks": 20, "rules": rules, "epochs": 2})], seeds=(1,), workers=1)
        assert r["books"]["ok"] and r["gain"] == 0.0 and r["passed"], r["summary"]
