"""Known open attacks: measured as they are today, not stopped. Each test asserts the numbers the attack rests on, so
a rule that stops it (a rule version and its goldens, decided by the lead) turns the test red and the test is then
moved to test_sim_attacks_stopped.py (or a file of its own, as idle_stake's) with the opposite verdict.

canary_spotting: canaries (docs/rewards.md, "Canaries") catch a validator that reports without evaluating only if it cannot
tell a canary from another task. The planted output is word salad, which a lexical check finds without the model, and user
tasks carry no canary: a validator that evaluates only where it sees word salad passes every canary and out-earns evaluating.
"""

import pytest

from cor_incentives.sim.attacks import Attack, evaluate, evaluate_many

SEEDS = (1, 2, 3, 4, 5)


# canary_spotting: a canary (docs/rewards.md, "Canaries") catches a validator that reports without evaluating only if the
# validator cannot tell which tasks carry one. The oracle plants word salad (the simulator's garbage; the devnet's random
# letters), which a lexical check finds without running the model, and only network tasks carry canaries.


def test_canary_spotting_is_a_known_open_attack_the_planted_word_salad_gives_the_canary_away():
    spotter, guesser = evaluate_many(
        [Attack("canary_spotting", "canary_spotting"), Attack("guesser", "canary_spotting", {"tell": "never"})], seeds=SEEDS, workers=2
    )
    m = spotter["measured"]
    assert spotter["books"]["ok"], spotter["books"]
    assert not spotter["passed"], "canary_spotting is stopped now: move this test to test_sim_attacks_stopped.py and update docs/design.md"
    # evaluating only where an output is word salad, the 3 spotters pass every canary they are drawn to: no forfeit, no slash
    assert m["canaries_drawn"] == 146 and m["canaries_failed"] == 0 and m["forfeited_epochs"] == 0 and m["slashes"] == "0"
    # for 527 evaluations instead of 2 965 (17.8 %) they keep more than the whole honest pay (echoing escalation rounds)
    assert (m["evaluated"], m["twin_evaluated"]) == (527, 2_965)
    assert m["share_of_pay_kept"] == pytest.approx(1.058926, abs=1e-6)
    assert spotter["gain"] == pytest.approx(1.058926 - (1 + 527 / 2_965) / 2, abs=1e-5)
    assert int(m["break_even_cost_per_evaluation"]) < 0  # spotting pays even when evaluating costs nothing
    # the control: the same validators guessing everywhere fail canaries, forfeit the stream and keep 40 %: the canary works
    g = guesser["measured"]
    assert guesser["passed"] and g["evaluated"] == 0
    assert (g["canaries_failed"], g["canaries_drawn"], g["forfeited_epochs"]) == (109, 246, 80)
    assert g["share_of_pay_kept"] == pytest.approx(0.400, abs=1e-3)


def test_canary_spotting_comes_out_open_as_cor_simulate_judges_it():
    """The verdict, not one window of it: run as ``cor simulate`` runs it (seeds 1-5, then 1-20 since five seeds of a noisy
    family decide nothing), no resample of the seeds passes."""
    r = evaluate(Attack("canary_spotting", "canary_spotting"), workers=2, sequential=True)
    u = r["uncertainty"]
    assert r["books"]["ok"] and r["verdict"] == "open", (r["verdict"], u)
    assert r["seeds"] == list(range(1, 21)) and not u["exact"] and u["pass_share"] <= 0.05
    assert 0 < u["gain_interval"][0] <= r["gain"] <= u["gain_interval"][1]  # the spotters gain on every resample


def test_canary_spotting_by_task_kind_survives_canaries_no_lexical_check_can_tell():
    """The oracle-side remedy (no rule change): plant a fluent answer to another prompt, as long as a real answer
    (env.canary_output "offtopic"). The word-salad spotter then fails canaries and is stopped; a spotter that evaluates every
    network task and guesses on every user task (which never carry a canary) still wins."""
    lexical, by_kind = evaluate_many(
        [
            Attack("lexical", "canary_spotting", {"planted": "offtopic"}),
            Attack("by_kind", "canary_spotting", {"planted": "offtopic", "tell": "network"}),
        ],
        seeds=SEEDS,
        workers=2,
    )
    assert lexical["books"]["ok"] and by_kind["books"]["ok"]
    m = lexical["measured"]
    assert lexical["passed"] and (m["canaries_failed"], m["canaries_drawn"], m["forfeited_epochs"]) == (113, 237, 77)
    assert m["share_of_pay_kept"] == pytest.approx(0.515, abs=1e-3)
    k = by_kind["measured"]
    assert not by_kind["passed"] and k["canaries_failed"] == 0 and k["forfeited_epochs"] == 0 and k["canaries_drawn"] == 149
    assert k["share_of_pay_kept"] == pytest.approx(0.887, abs=1e-3) and k["share_of_evaluations_done"] == pytest.approx(0.469, abs=1e-3)
    assert by_kind["gain"] == pytest.approx(0.887 - (1 + 0.469) / 2, abs=2e-3)
