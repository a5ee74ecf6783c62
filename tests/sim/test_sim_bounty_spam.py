"""``bounty_spam`` (rule 21): the spam stopped at the defaults, open under the rule before 21 (the knob), and the honest
bounty beside it unaffected in both. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate


def test_the_spam_is_stopped_by_rule_21_and_open_before_it():
    new = evaluate(Attack("s", "bounty_spam"), seeds=(1,))
    old = evaluate(Attack("s", "bounty_spam", {"rules": "before_deposit"}), seeds=(1,))
    assert new["verdict"] == "stopped" and new["books"]["ok"] and old["books"]["ok"]
    assert old["verdict"] == "open" and old["gain"] > 1e18  # 100 entries for 4 base units
    m, o = new["measured"], old["measured"]
    assert m["spam_entries_per_seed"] == o["spam_entries_per_seed"] == 100  # it still enters, now paying for it
    assert o["locked_cor_per_seed"] * COR == 4  # 4 bounties of one base unit, entries free
    assert m["locked_cor_per_seed"] == 4 * 10 + 100 * 1  # 4 minimum prizes and 100 one-COR deposits
    for r in (m, o):
        assert r["honest_unaffected"] and r["honest_prizes"] == r["twin_honest_prizes"] == 100 * COR
        assert r["honest_entries"] == r["twin_honest_entries"] == 3
    assert m["honest_deposits_back"] == 3 * COR and o["honest_deposits_back"] == 0  # returned at the honest bounty's expiry


def test_a_spammer_without_the_money_stores_nothing_and_one_with_less_stores_less():
    broke = evaluate(Attack("s", "bounty_spam", {"budget_cor": 0}), seeds=(1,))
    assert broke["verdict"] == "stopped" and broke["measured"]["spam_entries_per_seed"] == 0
    assert "spam_create: insufficient_funds" in broke["measured"]["refused"]
    short = evaluate(Attack("s", "bounty_spam", {"budget_cor": 60}), seeds=(1,))  # 40 COR of prizes, 20 of deposits: 5 keys x 4
    assert short["measured"]["spam_entries_per_seed"] == 20 and short["verdict"] == "stopped"
    assert "spam_entry: entry_deposit_unfunded" in short["measured"]["refused"]
