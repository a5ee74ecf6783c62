"""The governance, bounty and community attack families: each is stopped at its defaults over five seeds (a
check fails here if any rule it rests on is undone), the books hold in both worlds, and the knobs that step
outside what the rules promise show the checks are not vacuous."""

import pytest

from cor_incentives.sim.attacks import FAMILIES, Attack, evaluate, evaluate_many

# seed 1 of each attack at its defaults, measured over seeds 1-5, is not measured again for the one-seed look (tests/sim/conftest.py)
pytestmark = pytest.mark.usefixtures("shared_runs")

MINE = ("flash_governance", "voter_farming", "bounty_self_award", "challenge_early_finalize", "curator_puppets")
SEEDS = (1, 2, 3, 4, 5)


def test_every_attack_is_stopped_at_its_defaults_over_five_seeds():
    assert set(MINE) <= set(FAMILIES)
    for r in evaluate_many([Attack(n, n) for n in MINE], seeds=SEEDS):
        assert r["seeds"] == list(SEEDS)
        assert r["books"] == {"ok": True, "errors": []}, (r["name"], r["books"])
        assert r["passed"] and r["gain"] is not None, (r["name"], r["summary"])
    flash, farming, bounty, challenge, puppets = evaluate_many([Attack(n, n) for n in MINE], seeds=(1,))
    assert flash["measured"]["treasury_received"] == 0 and "propose: treasury_spend_over_cap" in flash["measured"]["refused"]
    assert farming["gain"] < 0 and farming["measured"]["share_of_stream"] <= farming["measured"]["twin_share_of_stream"]
    assert bounty["measured"]["puppet_share_of_prizes"] == 0 and bounty["measured"]["hunter_share_of_prizes"] == 1
    assert challenge["measured"]["puppet_share_of_prizes"] == 0 and "early_finalize: review_period_not_over" in challenge["measured"]["refused"]
    assert puppets["measured"]["share_of_stream"] == puppets["measured"]["twin_share_of_stream"]


def test_flash_stake_within_the_cap_still_has_no_power_and_aged_stake_takes_at_most_the_cap():
    within = evaluate(Attack("f", "flash_governance", {"amount_bps": 100}), seeds=(1,))
    assert within["passed"] and within["measured"]["treasury_received"] == 0 and "vote: no_voting_power" in within["measured"]["refused"]
    late = evaluate(Attack("f", "flash_governance", {"amount_bps": 100, "bond_epochs_before": 1, "unbond": "no"}), seeds=(1,))
    assert late["passed"] and late["measured"]["treasury_received"] == 0  # bonded in the previous epoch: not a whole epoch
    gone = evaluate(Attack("f", "flash_governance", {"amount_bps": 100, "bond_epochs_before": 2, "unbond": "yes"}), seeds=(1,))
    assert gone["passed"] and gone["measured"]["treasury_received"] == 0  # aged, but unbonded before the tally
    aged = evaluate(Attack("f", "flash_governance", {"amount_bps": 100, "bond_epochs_before": 2, "unbond": "no"}), seeds=(1,))
    assert aged["gain"] > 0 and 0 < aged["measured"]["treasury_received"]  # a real stakeholder that stays: capped, not stopped
    assert aged["passed"]
    over = evaluate(Attack("f", "flash_governance", {"amount_bps": 101, "bond_epochs_before": 2, "unbond": "no"}), seeds=(1,))
    assert over["measured"]["treasury_received"] == 0 and "propose: treasury_spend_over_cap" in over["measured"]["refused"]


def test_without_a_real_proposal_junk_proposals_earn_nothing():
    r = evaluate(Attack("v", "voter_farming", {"real": "no"}), seeds=(1,))
    assert r["passed"] and r["measured"]["share_of_stream"] == 0 and r["measured"]["holdings_minus_twin_cor"] < 0


def test_a_majority_coalition_of_drawn_reviewers_is_outside_the_promise():
    """k of n stops a minority; a coalition holding most of the validator stake can be drawn as a majority:
    the check then fails, which shows it measures something."""
    r = evaluate(Attack("b", "bounty_self_award", {"coalition": 9}), seeds=SEEDS)
    assert not r["passed"] and r["measured"]["puppet_share_of_prizes"] > 0
    linked = evaluate(Attack("b", "bounty_self_award", {"puppet_funding": "transfer"}), seeds=SEEDS)
    assert linked["passed"] and linked["measured"]["coalition_drawn_per_seed"] == [0] * len(SEEDS)  # it funded the puppet: never drawn


def test_a_judge_that_waits_for_the_end_of_the_review_still_cannot_win_alone():
    r = evaluate(Attack("c", "challenge_early_finalize", {"finalize_after_ticks": 150}), seeds=(1, 2))
    assert r["passed"] and r["measured"]["puppet_share_of_prizes"] == 0
