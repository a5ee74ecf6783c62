"""``node_churn`` (rule 23): one router's self-bond registered under a new key every unbonding period (plus one close it is
held through, so each key is weighed into the selection index) fills the live state with node records and selection slots
without end under rule 22 (the knob) and holds one of each from rule 23, a close walking as many nodes as the honest
twin's. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.sim.attacks import Attack, evaluate


def test_the_churn_is_stopped_by_rule_23_and_open_before_it():
    new = evaluate(Attack("c", "node_churn"), seeds=(1,))
    old = evaluate(Attack("c", "node_churn", {"rules": "before_retire"}), seeds=(1,))
    assert new["books"]["ok"] and old["books"]["ok"]
    assert new["verdict"] == "stopped" and old["verdict"] == "open"
    m, o = new["measured"], old["measured"]
    assert m["live_records_by_round"] == [1] * 6  # each withdrawn key gone at the next close
    assert o["live_records_by_round"] == list(range(1, 7))  # every churned key stays
    assert (new["gain"], old["gain"]) == (0.0, 5.0)
    assert m["nodes_a_close_walks_last_round"] == m["twin_nodes_a_close_walks_last_round"] == o["twin_nodes_a_close_walks_last_round"]
    assert o["nodes_a_close_walks_last_round"] == o["twin_nodes_a_close_walks_last_round"] + 5
    assert o["live_record_bytes_last_round"] > 4 * m["live_record_bytes_last_round"]
    assert (m["churn_selection_slots_last_round"], o["churn_selection_slots_last_round"]) == (1, 6)  # compacted from rule 23
    assert m["records_per_cor_per_epoch_made"] == 1 / (500 * 3)  # the rate rule 22 keeps: one per 500 COR per 3 epochs
    assert not m["refused"] and not o["refused"]


def test_more_rounds_grow_only_under_rule_22_and_the_fastest_churn_too():
    more = [evaluate(Attack("c", "node_churn", {"rounds": 10, "rules": r}), seeds=(1,))["measured"] for r in ("retire", "before_retire")]
    assert more[0]["live_records_by_round"][-1] == 1 and more[1]["live_records_by_round"][-1] == 10
    fast = [evaluate(Attack("c", "node_churn", {"hold": 0, "rules": r}), seeds=(1,))["measured"] for r in ("retire", "before_retire")]
    assert fast[0]["live_records_by_round"] == [1] * 6 and fast[1]["live_records_by_round"] == list(range(1, 7))
    assert fast[0]["records_per_cor_per_epoch_made"] == 1 / (500 * 2)  # unbonded at once: one record per 500 COR per 2 epochs
