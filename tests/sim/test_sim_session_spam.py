"""``session_spam`` (rule 24): an unfunded key's free sessions and a churner reopening sessions with the same money fill the
live state without end under rule 23 (the knob) and hold one round of the churner's sessions from rule 24; the honest
user beside them unaffected in both. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.sim.attacks import Attack, evaluate


def test_the_spam_is_stopped_by_rule_24_and_open_before_it():
    new = evaluate(Attack("s", "session_spam"), seeds=(1,))
    old = evaluate(Attack("s", "session_spam", {"rules": "before_bound"}), seeds=(1,))
    assert new["books"]["ok"] and old["books"]["ok"]
    assert new["verdict"] == "stopped" and old["verdict"] == "open"
    m, o = new["measured"], old["measured"]
    assert m["live_sessions_by_round"] == [5] * 6  # the churner's round, each gone at the next close; no free session
    assert o["live_sessions_by_round"] == [25 * r for r in range(1, 7)]  # 20 free + 5 churned a round, all kept
    assert (m["spam_opens_accepted"], m["spam_opens_refused"]) == (0, 120) and m["refusal_codes"] == ["session_deposit_below_minimum"]
    assert (o["spam_opens_accepted"], o["spam_opens_refused"]) == (120, 0)
    assert m["locked_cor"] == o["locked_cor"] == 5  # the same money in both, reused every round
    assert (new["gain"], old["gain"]) == (0.0, 29.0)  # 5 and 150 live sessions per 5 COR
    assert o["live_attacker_session_bytes_last_round"] > 25 * m["live_attacker_session_bytes_last_round"]
    assert m["honest_unaffected"] and o["honest_unaffected"] and not m["refused"] and not o["refused"]


def test_each_attacker_alone():
    churn_old = evaluate(Attack("s", "session_spam", {"opens": 0, "rules": "before_bound", "rounds": 3}), seeds=(1,))["measured"]
    assert churn_old["live_sessions_by_round"] == [5, 10, 15]  # money reused: grows with rounds, not with money
    spam_new = evaluate(Attack("s", "session_spam", {"sessions": 0, "rounds": 3}), seeds=(1,))
    assert spam_new["measured"]["live_sessions_by_round"] == [0, 0, 0] and spam_new["verdict"] == "stopped"
    spam_old = evaluate(Attack("s", "session_spam", {"sessions": 0, "rules": "before_bound", "rounds": 3}), seeds=(1,))
    assert spam_old["measured"]["live_sessions_by_round"] == [20, 40, 60] and spam_old["verdict"] == "open"  # for nothing
