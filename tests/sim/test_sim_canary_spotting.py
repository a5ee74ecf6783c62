"""canary_spotting (docs/rewards.md, "Canaries"; docs/design.md §3): a canary catches a validator that reports without
evaluating only if the validator cannot tell which tasks carry one. Two tells were open until session 16, each now closed
and each measured again by a knob that restores what closed it:

* the planted output: the oracle planted word salad, which a lexical check finds without running the model. The oracle's
  policy now plants a fluent answer to another prompt (``env.canary_output = "offtopic"``); ``planted=garbage`` measures
  the old policy (an oracle policy, not a consensus rule: the word-salad spotter wins again under any rule version);
* the task's kind: only network tasks carried canaries. Rule 17 (RULES_USER_CANARIES) lets the oracle commit on user
  tasks (``task.canary_commit``) and its policy commits on every one; ``rules=before_user_canaries`` runs rule 16, where
  the spotter that evaluates every network task and guesses on user tasks (``tell=network``) wins again.

The numbers are the 5-seed totals of `cor simulate --scenario canary_spotting` and its knob variants."""

import pytest

from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many

# seeds 1-5 of canary_spotting at the defaults, measured in the first test, are the first of the sequential judgement's (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")

SEEDS = (1, 2, 3, 4, 5)


def test_canary_spotting_is_stopped_fluent_plants_on_every_kind_of_task_catch_the_spotter_and_the_guesser():
    spotter, guesser = evaluate_many(
        [Attack("canary_spotting", "canary_spotting"), Attack("guesser", "canary_spotting", {"tell": "never"})], seeds=SEEDS, workers=2
    )
    m = spotter["measured"]
    assert spotter["books"]["ok"] and guesser["books"]["ok"]
    assert spotter["passed"] and spotter["gain"] < -0.4
    # the lexical check finds only the garbage miner's word salad: the 3 spotters evaluate 9.6 % of what the honest twin
    # evaluates, are drawn to 520 canaries and fail 249 of them (forfeiting the validators stream in 119 node-epochs; rule
    # 32: 345 evaluated, 535 drawn, 263 failed, 125 forfeited: from 33 their bonds pay for the escalations their forfeited
    # rows cannot, so they hold less stake and are drawn less; rules 33-34: 322 evaluated, 499 drawn, 245 failed, 119
    # forfeited; from 35 the charge is priced at reputation_multiplier_max_ppb, and the worlds drift from there)
    assert (m["evaluated"], m["twin_evaluated"]) == (293, 3_056)
    assert (m["canaries_drawn"], m["canaries_failed"], m["forfeited_epochs"]) == (520, 249, 119)
    # 0.129445 before rules 29-30, 0.095227 under 30, 0.038447 under 31-32; from 31 a spotter whose guessed report made a
    # task escalate pays for it; from 33 the part its rows cannot pay comes from its bond (its ``escalation_unfunded``
    # lines, which ``pay`` subtracts: fees + work pay − slashes − bond charges; 0.077251 while ``pay`` left them out;
    # -0.109127 under 33-34, where a charged validation cost 1.0 x the rate, from 35 1.5 x): the spotters end below nothing
    assert m["share_of_pay_kept"] == pytest.approx(-0.169727, abs=1e-6)
    # spotting would pay only if an evaluation cost more than 124 % of what it earns (the bar: half): never (98 % before
    # rules 29-30: from 30 a canary every drawn validator failed pays none of them)
    # (1.0199 under 30, 1.0839 under 31-32, 1.0314 under 33-34 without the bond charges, 1.2398 with them)
    assert m["pays_above_cost_share"] == pytest.approx(1.2938, abs=1e-4)
    assert m["canaries"] == 203  # planted on network and user tasks (rule 16: 99, network tasks only)
    g = guesser["measured"]
    assert guesser["passed"] and g["evaluated"] == 0
    # 32: (249, 510, 110); 33-34: (242, 522, 121)
    assert (g["canaries_failed"], g["canaries_drawn"], g["forfeited_epochs"]) == (231, 489, 118)
    # 0.124595 before rules 29-30, 0.050196 under 30, -0.044587 under 31-32, -0.067039 under 33-34 without the bond charges,
    # -0.339504 with them (at 1.0 x the rate)
    assert g["share_of_pay_kept"] == pytest.approx(-0.453838, abs=1e-6)


def test_canary_spotting_comes_out_stopped_as_cor_simulate_judges_it():
    """The verdict, not one window of it: run as ``cor simulate`` runs it (seeds 1-5, then 1-20 when five seeds of a noisy
    family leave it undecided), at least 95 % of the resamples pass and the spotters lose on every one."""
    r = evaluate(Attack("canary_spotting", "canary_spotting"), workers=2, sequential=True)
    u = r["uncertainty"]
    assert r["books"]["ok"] and r["verdict"] == "stopped", (r["verdict"], u)
    assert not u["exact"] and u["pass_share"] >= 0.95
    assert u["gain_interval"][0] <= r["gain"] <= u["gain_interval"][1] < 0  # the spotters lose on every resample


def test_by_task_kind_the_spotter_wins_under_rule_16_and_is_stopped_by_user_canaries():
    """tell=network: evaluate every network task, guess on every user task. Under rule 16 user tasks never carry a canary
    (the old hole, the same numbers as before the fix); under rule 17 every user task carries the oracle's commitment."""
    now, before = evaluate_many(
        [
            Attack("by_kind", "canary_spotting", {"tell": "network"}),
            Attack("by_kind_rule_16", "canary_spotting", {"tell": "network", "rules": "before_user_canaries"}),
        ],
        seeds=SEEDS,
        workers=2,
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    b = before["measured"]
    assert not before["passed"] and b["canaries_failed"] == 0 and b["forfeited_epochs"] == 0 and b["canaries_drawn"] == 149
    assert b["share_of_pay_kept"] == pytest.approx(0.887495, abs=1e-6) and b["share_of_evaluations_done"] == pytest.approx(0.468513, abs=1e-6)
    assert before["gain"] == pytest.approx(0.887495 - (1 + 0.468513) / 2, abs=1e-5)
    assert b["canaries"] == 99
    n = now["measured"]
    assert now["passed"] and now["gain"] < -0.4
    # the same evaluations (every network task), but the user tasks' canaries catch the guesses
    # (rules 31-32: 0.463024 of the evaluations, (416, 139, 95), 0.260302 kept; from 33 the spotters' bonds pay for the
    # escalations their forfeited rows cannot, so they hold less stake and are drawn less; 33-34: 0.459097, (413, 148, 97);
    # from 35 at 1.5 x the rate, and the draws drift from there)
    assert n["share_of_evaluations_done"] == pytest.approx(0.463351, abs=1e-6)
    assert (n["canaries_drawn"], n["canaries_failed"], n["forfeited_epochs"]) == (406, 145, 94)
    # 0.258492 before rules 29-30, 0.256227 under 30, 0.249245 under 33-34 without the bond charges, 0.2447 with them
    assert n["share_of_pay_kept"] == pytest.approx(0.265006, abs=1e-6)


def test_word_salad_plants_give_the_canary_away_under_any_rule_version():
    """planted=garbage, the oracle's old policy: a lexical check spots every plant, so the spotter passes every canary and
    keeps more than the honest pay, with or without user canaries (why the policy matters: the core cannot see it)."""
    now, before = evaluate_many(
        [
            Attack("word_salad", "canary_spotting", {"planted": "garbage"}),
            Attack("word_salad_rule_16", "canary_spotting", {"planted": "garbage", "rules": "before_user_canaries"}),
        ],
        seeds=SEEDS,
        workers=2,
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    b = before["measured"]  # the attack as it was measured before session 16 (rule 13-15, garbage plants): unchanged
    assert not before["passed"] and (b["evaluated"], b["twin_evaluated"]) == (527, 2_965)
    assert b["canaries_drawn"] == 146 and b["canaries_failed"] == 0 and b["forfeited_epochs"] == 0 and b["slashes"] == "0"
    assert b["share_of_pay_kept"] == pytest.approx(1.058926, abs=1e-6)
    assert before["gain"] == pytest.approx(1.058926 - (1 + 527 / 2_965) / 2, abs=1e-5)
    n = now["measured"]  # user canaries do not help: the spotter evaluates wherever it sees word salad, user tasks included
    assert n["canaries_failed"] == 0 and n["canaries_drawn"] == 276 and n["forfeited_epochs"] == 0  # 33-34: 295
    assert (n["evaluated"], n["twin_evaluated"]) == (592, 2_950)  # 33-34: 634
    # before rules 29-30 the spotter kept 1.095719 of the honest pay, so spotting paid even when evaluating cost nothing;
    # under 30 it kept 0.926342 for 21 % of the evaluations (it paid whenever an evaluation cost more than ~2.5 COR); from 31
    # its guessed reports that make a task escalate pay for it: 0.609551, paying only above ~13.3 COR an evaluation (open by
    # +0.3 %); from 33 what its rows cannot pay comes from its bond, it holds less stake and, net of those charges, keeps
    # 0.550262 for 21.5 % of the evaluations (0.589973 and −1.7 % while ``pay`` left the charges out): judged stopped at
    # these 5 seeds by 5.7 % (the core still cannot see a lexical tell; the escalations it provokes are what it pays); from
    # 35 those charges are priced at reputation_multiplier_max_ppb (1.5 x the rate): it keeps 0.459167 for 20.1 % of the
    # evaluations, stopped by 14.1 %
    assert now["passed"] and now["gain"] == pytest.approx(-0.141172, abs=1e-5)
    assert n["share_of_pay_kept"] == pytest.approx(0.459167, abs=1e-6)
    assert int(n["break_even_cost_per_evaluation"]) == 18_183_065_536_715_172_184  # 33-34: 15_394_623_905_760_974_078
