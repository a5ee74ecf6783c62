"""lazy_cartel (docs/rewards.md, "Task fees"; docs/design.md §3, rule 30): every validator runs the copier strategy
(never evaluating, "everything is perfect"), so each fails every canary it is drawn to. Under rule 29 (``rules=equal_split``)
the validators' part of a user canary's fee whose every reporter failed it was split equally among them: the cartel took
all of it; rule 30 (``RULES_UNEARNED_VALIDATOR_FEE``) pays them nothing and the treasury gets the part.

The numbers are the 5-seed totals of `cor simulate --scenario lazy_cartel` and its knob variant (10 epochs)."""

from cor_incentives.sim.attacks import Attack, evaluate_many

SEEDS = (1, 2, 3, 4, 5)


def test_the_cartel_takes_no_fee_from_the_canaries_it_fails_under_rule_30_and_all_of_it_under_29():
    now, before = evaluate_many(
        [Attack("lazy_cartel", "lazy_cartel"), Attack("lazy_cartel_rule_29", "lazy_cartel", {"rules": "equal_split"})], seeds=SEEDS, workers=1
    )
    assert now["books"]["ok"] and before["books"]["ok"]
    m, b = now["measured"], before["measured"]
    # the same worlds (the rule changes only where the part goes): the same canaries, failed by every validator
    assert m["canaries_failed_by_every_validator"] == b["canaries_failed_by_every_validator"] == 104
    assert m["validators_part_of_their_fees"] == b["validators_part_of_their_fees"] == "334664544000000000"
    # rule 30: nothing to the cartel, the whole part to the treasury
    assert now["passed"] and now["gain"] == 0 and m["cartel_income_on_them"] == "0"
    assert m["unearned_to_treasury"] == m["validators_part_of_their_fees"]
    # rule 29: the equal split paid the cartel the whole part (each part a multiple of its 5 reporters here: no floor to dust)
    assert not before["passed"] and before["gain"] == 1.0 and b["cartel_income_on_them"] == b["validators_part_of_their_fees"]
    assert b["unearned_to_treasury"] == "0"
    # its fees elsewhere do not move with the rule
    assert m["other_fee_income_per_seed"] == b["other_fee_income_per_seed"]


def test_a_cartel_short_of_a_tasks_seats_holds_no_canary_whole():
    """4 copiers of 10 with 5 validators a task: an honest validator sits on every task and takes the part (gain undefined)."""
    (r,) = evaluate_many([Attack("four", "lazy_cartel", {"count": 4, "epochs": 3})], seeds=(1,), workers=1)
    assert r["books"]["ok"] and r["measured"]["canaries_failed_by_every_validator"] == 0 and r["gain"] is None
