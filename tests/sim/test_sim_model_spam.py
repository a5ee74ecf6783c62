"""``model_spam`` (rule 25): an unfunded key's free listings and a lister's listings fill the live state without end under
rule 24 (the knob) and hold one round of what the lister's money locks from rule 25; the honest user beside them
unaffected in both. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.sim.attacks import Attack, evaluate


def test_the_spam_is_stopped_by_rule_25_and_open_before_it():
    new = evaluate(Attack("s", "model_spam"), seeds=(1,))
    old = evaluate(Attack("s", "model_spam", {"rules": "before_bond"}), seeds=(1,))
    assert new["books"]["ok"] and old["books"]["ok"]
    assert new["verdict"] == "stopped" and old["verdict"] == "open"
    m, o = new["measured"], old["measured"]
    assert m["live_models_by_round"] == [5] * 6  # what 50 COR lock at 10 COR a listing, retired and gone at each close
    assert o["live_models_by_round"] == [40 * r for r in range(1, 7)]  # 20 free + 20 listed a round, all kept
    assert (m["spam_registers_accepted"], m["spam_registers_refused"]) == (0, 120)
    assert m["refusal_codes"] == ["model_deposit_unfunded"]  # the spammer every time, the lister past its money
    assert (m["lister_registers_accepted"], m["lister_retires_accepted"]) == (30, 30) and m["lister_deposits_back"]
    assert (o["spam_registers_accepted"], o["spam_registers_refused"]) == (120, 0) and o["lister_retires_accepted"] == 0
    assert "rule_not_in_force" in o["refusal_codes"]  # no model.retire before rule 25
    assert m["attacker_cor"] == o["attacker_cor"] == 50  # the same money in both
    assert (new["gain"], old["gain"]) == (0.0, 47.0)  # 5 and 240 live models per 50 COR (bound: 0.1 per COR)
    assert o["live_attacker_model_bytes_last_round"] > 40 * m["live_attacker_model_bytes_last_round"]
    assert m["honest_unaffected"] and o["honest_unaffected"]


def test_each_attacker_alone():
    lister_old = evaluate(Attack("s", "model_spam", {"rules": "before_bond", "rounds": 3, "funds": 0}), seeds=(1,))["measured"]
    assert lister_old["live_models_by_round"] == [40, 80, 120]  # no money at all: both list for free
    broke = evaluate(Attack("s", "model_spam", {"rounds": 3, "funds": 0}), seeds=(1,))
    assert broke["measured"]["live_models_by_round"] == [0, 0, 0] and broke["verdict"] == "stopped"
    rich = evaluate(Attack("s", "model_spam", {"rounds": 3, "funds": 1000, "registers": 10}), seeds=(1,))
    assert rich["measured"]["live_models_by_round"] == [10, 10, 10] and rich["verdict"] == "stopped"  # below its money's bound
