"""Attack closed_task_bloat (sim/attacks/closed_tasks.py): a user's session asks for many miners and validators, so each
of its closed tasks holds a large record (assignments, reports, criteria, token counts grow with miners × validators).
Under rule 26 (rules=before_stub) that whole record stays in the live state until the close past the window; from rule
27 (``RULES_TASK_STUB``, the default) the settling event retires it and only its stub stays (the nodes it names)."""

from cor_incentives.core.records import ClosedTask, TaskKind, TaskState
from cor_incentives.core.state_codec import encode_record
from cor_incentives.sim.attacks import Attack, evaluate

OLD = {"rules": "before_stub"}


def test_under_rule_26_the_closed_tasks_hold_their_whole_records_for_the_window():
    r = evaluate(Attack("s", "closed_task_bloat", OLD), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    assert m["attacker_closed_tasks_held"] == 10  # the last epoch's tasks, held whole until the close past the window
    assert m["attacker_live_bytes_per_task"] > 10 * m["attacker_stub_bytes"] / m["attacker_closed_tasks_held"]
    assert r["gain"] == m["attacker_live_bytes"] / m["attacker_stub_bytes"] - 1 > 10
    assert m["attacker_live_bytes_per_task"] > m["honest_live_bytes_per_closed_task_twin"]  # its session's choice
    assert m["honest_unaffected"]


def test_under_rule_27_only_the_stubs_stay_whatever_the_session_asked():
    r = evaluate(Attack("s", "closed_task_bloat"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped" and r["gain"] == 0
    m = r["measured"]
    assert m["attacker_closed_tasks_held"] == 10 and m["attacker_live_bytes"] == m["attacker_stub_bytes"]
    # at most a stub of 8 miners, a router and 12 validators (6 and an escalation round's): its ten fields and those addresses
    a = "0x" + "b" * 40
    stub = ClosedTask(10**6, TaskKind.USER, a, TaskState.SETTLED, 10, 10**4, a, (a,) * 8, (a,) * 12, False)
    assert m["attacker_live_bytes_per_task"] <= len(encode_record(stub))
    assert m["honest_unaffected"]


def test_the_stub_grows_with_the_nodes_named_not_with_the_reports():
    small = evaluate(Attack("s", "closed_task_bloat", {"redundancy": 3, "validators": 3, "rounds": 2}), seeds=(1,))["measured"]
    large = evaluate(Attack("s", "closed_task_bloat", {"rounds": 2}), seeds=(1,))["measured"]
    old_small = evaluate(Attack("s", "closed_task_bloat", {**OLD, "redundancy": 3, "validators": 3, "rounds": 2}), seeds=(1,))["measured"]
    old_large = evaluate(Attack("s", "closed_task_bloat", {**OLD, "rounds": 2}), seeds=(1,))["measured"]
    per = lambda m: m["attacker_live_bytes_per_task"]  # noqa: E731
    assert per(large) - per(small) <= 11 * 45  # 8 more addresses of ~45 B (5 miners, 3 validators) and a margin
    assert per(old_large) - per(old_small) > 5 * (per(large) - per(small))  # the whole record grows with miners × validators
