"""The small pieces the attack families share in sim/attacks (``Family.world_name``, common.py ``pct`` and
``slash_avoided``): each world's scenario name, the percentage a verdict's summary prints, and the verdict of the
families that measure the share of the twin's slash avoided (slash_dodge_unbond, redelegate_dodge,
cancel_unbond_dodge)."""

from cor_incentives.sim.attacks import FAMILIES
from cor_incentives.sim.attacks.common import pct, slash_avoided

SLASH_AVOIDED = ("slash_dodge_unbond", "redelegate_dodge", "cancel_unbond_dodge")


def test_a_world_is_named_by_its_family_and_the_twin_by_the_suffix():
    f = FAMILIES["wash_trading"]
    assert f.world_name(False) == "wash_trading" and f.world_name(True) == "wash_trading~twin"
    k = f.resolve()
    assert f.scenario(k, False).name == f.world_name(False) and f.scenario(k, True).name == f.world_name(True)
    churn = FAMILIES["bounty_churn"]  # through common.rounds_scenario
    assert churn.scenario(churn.resolve(), True).name == "bounty_churn~twin"


def test_pct_is_signed_with_one_decimal_and_n_a_when_undefined():
    assert pct(None) == "n/a"
    assert pct(0.1234) == "+12.3 %" and pct(-0.05) == "-5.0 %" and pct(0) == "+0.0 %"
    assert pct(0.5)[1:] == "50.0 %"  # (the summaries that print a share drop the sign)


def test_slash_avoided_sums_the_worlds_and_stops_at_one_percent():
    twin = [{"slashed": 600}, {"slashed": 400}]
    assert slash_avoided([{"slashed": 300}, {"slashed": 200}], twin) == (500, 1000, 0.5, False)
    assert slash_avoided([{"slashed": 600}, {"slashed": 400}], twin) == (1000, 1000, 0.0, True)
    assert slash_avoided([{"slashed": 995}, {"slashed": 0}], twin)[2:] == (1 - 995 / 1000, True)  # 0.5 % dodged: stopped
    assert slash_avoided([{"slashed": 980}, {"slashed": 0}], twin)[3] is False  # 2 %: not
    assert slash_avoided([{"slashed": 1200}], twin)[2:] == (1 - 1200 / 1000, True)  # slashed more than the twin
    assert slash_avoided([{"slashed": 5}], [{"slashed": 0}]) == (5, 0, None, False)  # the twin not slashed: undefined


def test_the_slash_families_judge_by_it():
    for name in SLASH_AVOIDED:
        f = FAMILIES[name]
        k = f.resolve()
        attack = [dict.fromkeys(("slashed", "moved", "cancelled", "unbonded"), 0) | {"slashed": 3, "offences": [], "refused": []}]
        twin = [attack[0] | {"slashed": 4}]
        v = f.judge(k, attack, twin)
        assert f.gain_unit == "share of the twin's slash avoided", name
        assert (v.gain, v.passed) == slash_avoided(attack, twin)[2:] == (1 - 3 / 4, False), name
        assert v.measured["slashed"] == 3 and v.measured["twin_slashed"] == 4, name
        assert "25.0 %" in v.summary, name
