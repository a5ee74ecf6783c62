"""Rule 19 (RULES_ESCALATION_FROM_POOL): an escalation draws from the validators' pool tree with the task's validators
left out (selection.draw's ``excluding``), O((k + v) log n); rules 1-18 drew from a tree of every other selectable
validator built in id order, O(n) (issue 16)."""

import pytest

import cor_incentives.core.selection as selection
import cor_incentives.core.tasks as tasks
from cor_incentives.core import beacon
from cor_incentives.core.apply import replay
from cor_incentives.core.records import TaskState
from cor_incentives.core.rules import RULES_ESCALATION_FROM_POOL
from cor_incentives.core.sampling import reference_draw
from cor_incentives.core.selection import draw
from cor_incentives.core.staking import is_selectable
from cor_incentives.core.validation import report_commitment
from support.chain import addr
from support.market import commit_reveal, draw_now, market, submit, validate_all

HONEST = (20_000_000, 850_000_000)
PROMPT_TOKENS = 12


def reports(task, judge):
    miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]
    return [{"miner": m, "poi_distance_ppb": judge(m)[0], "quality_ppb": judge(m)[1], "output_tokens": 20} for m in miners]


def ready(n_validators, params):
    """A user task on a network with a beacon, its outputs revealed and its first validators drawn."""
    c = market(n_miners=3, n_validators=n_validators, params=params, beacon=True)
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    assert len(task.validators) == 3
    return c, task


COR = 10**18
LATE = [f"late{i}" for i in range(6)]  # registered after the first draw: their slots come after every v*, their ids do not


def disputed(rule_version: int, n_validators: int = 9, late: list[str] = LATE):
    """A task whose first round (3 validators) dissents on the network of ``rule_version``: it waits for the beacon value
    that draws 3 more. ``late`` validators register after the first draw, so the pool's slot order is not id order."""
    c, task = ready(n_validators=n_validators, params={"validators_per_task": 3, "rule_version": rule_version})
    for name in late:
        c.as_("user", "transfer", {"to": addr(name), "amount": str(10_000 * COR)})
        c.as_(name, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    liar = task.validators[0]
    r = {v: reports(task, (lambda m: (0, 10**9)) if v == liar else (lambda m: HONEST)) for v in task.validators}
    for v in list(task.validators):
        c.submit(v, "task.report_commit", {"task": task.id, "commit": report_commitment(task.id, v, r[v], "s", PROMPT_TOKENS, 0)})
    for v in list(task.validators):
        c.submit(v, "task.validate", {"task": task.id, "input_tokens": PROMPT_TOKENS, "spread_ppb": 0, "reports": r[v], "salt": "s"})
    assert task.state == TaskState.COMMITTED and task.round == 1 and len(task.validators) == 3  # waiting for the value
    return c, task


def escalation_seed(c, task) -> bytes:
    return beacon.randomness(bytes.fromhex(c.state.beacon.value[2:]), "task:escalation", task.id)


def test_rule_19_draws_from_the_pools_slots_with_the_tasks_validators_at_weight_0():
    c, task = disputed(RULES_ESCALATION_FROM_POOL)
    first = list(task.validators)
    c.oracle("tick", {"ticks": 1})  # the value: the escalation's draw
    tree = c.state.selection.trees["validator"]
    ids = [n for n, _ in tree.slots()]
    assert ids[-len(LATE) :] == sorted(addr(n) for n in LATE) and ids != sorted(ids)  # slots by first weight, not by id
    slots = tree.slots()
    expected = reference_draw([(n, 0 if n in first else w) for n, w in slots], 3, escalation_seed(c, task))
    drawn = task.validators[3:]
    assert drawn == expected and len(drawn) == 3 and task.validators[:3] == first
    assert not set(drawn) & set(first) and all(is_selectable(c.state, c.state.nodes[v]) for v in drawn)
    assert {task.validator_round[v] for v in drawn} == {1}
    assert all(tree.weight(v) == c.state.selection.weights[v] > 0 for v in first)  # put back after the draw
    selection.check_index(c.state)  # every tree holds the weights recomputed from the state
    validate_all(c, task.id, lambda v, m: HONEST)
    assert task.state == TaskState.SETTLED and len(task.reports) == 6
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_rule_18_keeps_the_draw_over_every_other_selectable_validator_in_id_order():
    c, task = disputed(RULES_ESCALATION_FROM_POOL - 1)
    first = set(task.validators)
    c.oracle("tick", {"ticks": 1})
    among = [v for v in sorted(c.state.nodes) if c.state.nodes[v].role == "validator" and v not in first]
    assert task.validators[3:] == draw(c.state, "validator", 3, escalation_seed(c, task), among=among)
    assert replay(c.events).to_dict() == c.state.to_dict()


def test_the_two_rules_draw_among_the_same_validators_but_not_the_same_ones():
    """Over many seeds both draws range over the same validators (every one not on the task); the pool's slot order is
    not id order here (the late validators), so some draws differ: why the draw is a new rule version."""
    drawn = {}
    for version in (RULES_ESCALATION_FROM_POOL - 1, RULES_ESCALATION_FROM_POOL):
        c, task = disputed(version)
        first = list(task.validators)
        rows = []
        for i in range(40):
            seed = i.to_bytes(4, "big")
            if version >= RULES_ESCALATION_FROM_POOL:
                rows.append(draw(c.state, "validator", 3, seed, excluding=first))
            else:
                rows.append(draw(c.state, "validator", 3, seed, among=[v for v in selection.eligible_nodes(c.state, "validator") if v not in first]))
        drawn[version] = rows
    old, new = drawn[RULES_ESCALATION_FROM_POOL - 1], drawn[RULES_ESCALATION_FROM_POOL]
    assert {v for row in old for v in row} == {v for row in new for v in row}
    assert old != new


def test_rule_19_escalation_scans_no_node_list(monkeypatch):
    """No eligible_nodes (the O(n) sorted scan of every node) in the escalation's draw; rule 18 makes one."""
    for version, scans in ((RULES_ESCALATION_FROM_POOL, False), (RULES_ESCALATION_FROM_POOL - 1, True)):
        c, task = disputed(version)
        calls = []

        def scan(*args, calls=calls, **kwargs):
            calls.append(args[1:])
            raise AssertionError("a scan of every node")

        with monkeypatch.context() as m:
            m.setattr(tasks, "eligible_nodes", scan)
            m.setattr(selection, "eligible_nodes", scan)
            if scans:
                with pytest.raises(AssertionError, match="a scan of every node"):
                    c.oracle("tick", {"ticks": 1})
            else:
                c.oracle("tick", {"ticks": 1})
                assert len(task.validators) == 6
        assert bool(calls) == scans


def test_rule_19_escalation_weighs_only_the_marked_nodes(monkeypatch):
    """The nodes whose selectability the escalation's tick reads: under rule 19 only those the index re-reads (marked
    since the last draw: here none of the 40 validators), under rule 18 every validator (the scan in id order)."""
    weighed = {}
    for version in (RULES_ESCALATION_FROM_POOL, RULES_ESCALATION_FROM_POOL - 1):
        c, task = disputed(version, n_validators=40, late=[])
        read = []

        def counting(state, node, *args, read=read):
            read.append(node.id)
            return is_selectable(state, node, *args)

        with monkeypatch.context() as m:
            m.setattr(selection, "is_selectable", counting)
            c.oracle("tick", {"ticks": 1})
        assert len(task.validators) == 6
        weighed[version] = {v for v in read if c.state.nodes[v].role == "validator"}
    assert len(weighed[RULES_ESCALATION_FROM_POOL]) <= 3  # (the round's validators, if their reveal marked them)
    assert len(weighed[RULES_ESCALATION_FROM_POOL - 1]) == 40
