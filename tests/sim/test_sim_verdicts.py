"""How sure an attack verdict is (sim/attacks/base.py: bootstrap): toy families whose judge is a known function of the
seeds' numbers, so the interval, the pass share and the three-valued verdict can be worked out by hand."""

from math import comb

import pytest

from cor_incentives.sim.attacks import FAMILIES, Attack, Family, Verdict, bootstrap, evaluate_many
from cor_incentives.sim.attacks.base import DECIDED_SHARE, MAX_SEEDS, MIN_NOISY_SEEDS, RESAMPLES, Measured


class Mean(Family):
    """gain = mean of the attack world's x over the seeds; stopped iff the mean is below 0.5."""

    name = "toy_mean"

    def judge(self, k, attack, twin):
        g = sum(r["x"] for r in attack) / len(attack)
        return Verdict(g, g < 0.5, {}, "")


class Ratio(Family):
    """gain = Σ attack ÷ Σ twin − 1 (a pooled ratio, as most families judge); stopped iff gain ≤ 10 %."""

    name = "toy_ratio"

    def judge(self, k, attack, twin):
        g = sum(r["x"] for r in attack) / sum(r["x"] for r in twin) - 1
        return Verdict(g, g <= 0.1, {}, "")


def xs(*values):
    return [{"x": v} for v in values]


def test_a_coin_flip_family_is_undecided_and_its_interval_is_the_binomial_one():
    """Ten seeds, five at 0 and five at 1: a resample's mean is Binomial(10, 1/2) / 10, so it passes (mean < 0.5) with
    probability P(X ≤ 4) = 386/1024 = 0.377, and its 2.5 % and 97.5 % points are 0.2 and 0.8 (P(X ≤ 1) = 1.1 %,
    P(X ≤ 2) = 5.5 %)."""
    seeds = xs(0, 1, 0, 1, 0, 1, 0, 1, 0, 1)
    b = bootstrap(Mean(), {}, seeds, seeds)
    assert sum(comb(10, i) for i in range(5)) / 1024 == pytest.approx(0.377, abs=1e-3)
    assert b["pass_share"] == pytest.approx(0.377, abs=0.04)  # 1 000 resamples: sd 0.015
    assert b["gain_interval"] == [0.2, 0.8]
    assert (b["seeds"], b["resamples"], b["exact"], b["verdict"]) == (10, RESAMPLES, False, "undecided")
    twenty = xs(*[0, 1] * 20)
    assert bootstrap(Mean(), {}, twenty, twenty)["verdict"] == "undecided"  # more seeds do not decide a coin


def test_a_clear_noisy_family_is_decided_only_from_min_noisy_seeds_on():
    """Every seed below 0.5: every resample passes, but the gain moves with the resample, so five seeds are not enough."""
    few = xs(0.1, 0.2, 0.0, 0.3, 0.1)
    b = bootstrap(Mean(), {}, few, few)
    assert b["pass_share"] == 1.0 and not b["exact"] and b["verdict"] == "undecided"
    assert 0.0 <= b["gain_interval"][0] < b["gain_interval"][1] <= 0.3
    many = few * (MIN_NOISY_SEEDS // len(few))
    assert bootstrap(Mean(), {}, many, many)["verdict"] == "stopped"
    bad = xs(*[0.9, 0.7, 0.6, 1.0] * 5)
    b = bootstrap(Mean(), {}, bad, bad)
    assert b["pass_share"] == 0.0 and b["verdict"] == "open"


def test_the_rule_between_the_thresholds():
    """18 seeds at 0 and 2 at 1 (mean 0.1, every resample passes unless it draws ≥ 10 ones: never in practice):
    stopped; 11 at 1 of 20: a resample passes with P(Bin(20, 0.55) ≤ 9) ≈ 0.25: undecided."""
    assert bootstrap(Mean(), {}, xs(*[0] * 18, 1, 1), xs(*[0] * 20))["verdict"] == "stopped"
    b = bootstrap(Mean(), {}, xs(*[1] * 11, *[0] * 9), xs(*[0] * 20))
    assert 1 - DECIDED_SHARE < b["pass_share"] < DECIDED_SHARE and b["verdict"] == "undecided"


def test_an_exact_family_is_decided_at_any_seed_count_and_the_pairing_is_kept():
    """The attack world earns 5 % more than its twin on every seed while the seeds themselves differ 50-fold: with the
    attack and the twin of a seed resampled together every resample gives exactly +5 %, so one seed decides. Resampling
    them apart would mix seeds and make the ratio anything between 0.02 and 52."""
    twin = xs(10, 500, 40, 200, 90)
    attack = xs(*(r["x"] * 1.05 for r in twin))
    for n in (1, 2, 5):
        b = bootstrap(Ratio(), {}, attack[:n], twin[:n])
        assert b["exact"] and b["pass_share"] == 1.0 and b["verdict"] == "stopped", n
        assert b["gain_interval"] == [pytest.approx(0.05), pytest.approx(0.05)]
    # an exact family over the limit is open, at one seed as at five
    for n in (1, 5):
        b = bootstrap(Ratio(), {}, xs(*(r["x"] * 1.2 for r in twin[:n])), twin[:n])
        assert b["exact"] and b["pass_share"] == 0.0 and b["verdict"] == "open"


def test_books_that_did_not_hold_make_it_open_and_the_rng_is_fixed():
    seeds = xs(0, 1, 0, 1, 0, 1, 0, 1, 0, 1)
    assert bootstrap(Ratio(), {}, xs(1, 1), xs(1, 1), books_ok=False)["verdict"] == "open"
    assert bootstrap(Mean(), {}, seeds, seeds) == bootstrap(Mean(), {}, seeds, seeds)
    with pytest.raises(ValueError):
        bootstrap(Mean(), {}, seeds, seeds[:3])


class Coin(Mean):
    """No world is run: seed s gives x = s mod 2 (a coin), and the same in both worlds."""

    name = "toy_coin"
    title = criterion = description = gain_unit = "toy"

    def run_one(self, knobs, seed, twin, params=None):
        return Measured(seed, twin, {"x": seed % 2}, True)


class Fixed(Coin):
    """Every seed the same: an exact family."""

    name = "toy_fixed"

    def run_one(self, knobs, seed, twin, params=None):
        return Measured(seed, twin, {"x": 0.25}, True)


def test_a_sequential_evaluation_runs_an_undecided_attack_once_more_at_max_seeds(monkeypatch):
    monkeypatch.setitem(FAMILIES, "toy_coin", Coin())
    monkeypatch.setitem(FAMILIES, "toy_fixed", Fixed())
    coin, fixed = evaluate_many([Attack("c", "toy_coin"), Attack("f", "toy_fixed")], sequential=True)
    assert coin["seeds"] == list(range(1, MAX_SEEDS + 1)) and coin["uncertainty"]["seeds"] == MAX_SEEDS
    assert coin["verdict"] == "undecided" and 1 - DECIDED_SHARE < coin["uncertainty"]["pass_share"] < DECIDED_SHARE
    assert fixed["seeds"] == [1, 2, 3, 4, 5] and fixed["verdict"] == "stopped" and fixed["uncertainty"]["exact"]
    assert fixed["uncertainty"]["gain_interval"] == [0.25, 0.25] and fixed["passed"]
    # seeds given (to the call or in the attack) are run exactly; without sequential the family's own seeds
    (given,) = evaluate_many([Attack("c", "toy_coin")], seeds=(1, 2, 3), sequential=True)
    (own,) = evaluate_many([Attack("c", "toy_coin", seeds=(4, 5))], sequential=True)
    (plain,) = evaluate_many([Attack("c", "toy_coin")])
    assert (given["seeds"], own["seeds"], plain["seeds"]) == ([1, 2, 3], [4, 5], [1, 2, 3, 4, 5])
    assert given["verdict"] == own["verdict"] == plain["verdict"] == "undecided"
