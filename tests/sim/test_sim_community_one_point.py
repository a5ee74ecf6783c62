"""community_one_point (docs/rewards.md, "Community stream"; docs/design.md §3, rule 31; s33 split audit C1): a curator
attests its one unlinked address for 1 point in each of 3 otherwise quiet epochs. Under rule 30 (``rules=before_rate``)
the stream was split by points, so the one point took the whole stream every epoch, 900 times what a point earned a
member of the twin's ordinary 900-point epoch; rule 31 (``RULES_COMMUNITY_RATE``) pays a point the rate
(``community_rate_per_point_units``, 4 COR) in both worlds, and the rest of the quiet epoch's stream stays in the pool.

The numbers are the 5-seed totals of `cor simulate --scenario community_one_point` and its knob variants (3 epochs)."""

from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate_many

SEEDS = (1, 2, 3, 4, 5)
STREAM = 3_996_000_000_000_000_000_000 + 3_992_004_000_000_000_000_000 + 3_988_011_996_000_000_000_000  # epochs 1-3


def test_one_point_takes_the_stream_under_rule_30_and_earns_the_rate_under_31():
    now, before = evaluate_many(
        [Attack("community_one_point", "community_one_point"), Attack("community_one_point_30", "community_one_point", {"rules": "before_rate"})],
        seeds=SEEDS,
        workers=1,
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    assert m["points_per_seed"] == b["points_per_seed"] == 3 and m["refused"] == b["refused"] == []
    # rule 31: 4 COR a point in the quiet epoch and in the twin's ordinary one; the rest of the stream stays in the pool
    assert now["passed"] and now["gain"] == 0
    assert m["reward_per_seed"] == str(12 * COR) and m["reward_per_point"] == m["twin_reward_per_point"] == str(4 * COR)
    assert m["stream_paid_share"] == 12 * COR / STREAM
    # rule 30: the whole stream of each epoch (one member alone: no floor), 900 times what the twin's point earns
    assert not before["passed"] and round(before["gain"], 6) == 899.0
    assert b["reward_per_seed"] == str(STREAM) and b["share_of_stream"] == 1.0
    assert b["twin_reward_per_point"] == str(4_435_561_480_000_000_000)  # 4.44 COR: the finding's 900-point epoch


def test_the_cap_holds_one_address_to_a_quarter_of_the_stream_and_an_ordinary_epoch_gives_no_edge():
    full, busy, busy_30 = evaluate_many(
        [
            Attack("cap", "community_one_point", {"points": 300}),
            Attack("busy", "community_one_point", {"others": 900}),
            Attack("busy_30", "community_one_point", {"others": 900, "rules": "before_rate"}),
        ],
        seeds=(1,),
        workers=1,
    )
    # 300 points claim 1 200 COR; the cap (2 500 bps) pays 25 % of each epoch's stream, as it pays the twin's member
    assert full["passed"] and full["gain"] == 0 and full["measured"]["share_of_stream"] == 0.25
    # the point in an epoch with 900 other points: no edge under either rule (rule 30's point is one of 901)
    assert busy["passed"] and busy["gain"] == 0 and busy["measured"]["reward_per_point"] == str(4 * COR)
    assert busy_30["passed"] and busy_30["gain"] < 0
