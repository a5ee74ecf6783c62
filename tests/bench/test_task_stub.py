"""``bench/task_stub.py``: the stub holds what the core's readers of a closed task read (the same verdicts as the whole
record), and the bench's numbers are sane: a stub's bytes and memory under a whole record's, both measured (> 0), the
tasks field's bytes those of the records it holds, and the model of the anchor's share within reach of the real one."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from cor_incentives.core.records import Task, TaskState
from cor_incentives.core.slashing import served
from cor_incentives.core.state import task_names
from cor_incentives.core.state_codec import decode_record, encode_record

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import task_stub  # noqa: E402


@pytest.fixture(scope="module")
def templates() -> list[Task]:
    return task_stub.real_tasks()


def test_the_stub_gives_the_readers_the_whole_records_answers(templates: list[Task]) -> None:
    assert templates and all(t.state is TaskState.SETTLED for t in templates)
    for t in templates:
        s = task_stub.stub_of(t)
        assert (s.id, s.state, s.created_epoch, s.created_tick) == (t.id, t.state, t.created_epoch, t.created_tick)
        # what the commands naming it read before their refusal: the owner (task.cancel), the kind and the canary
        # commitment's presence (task.canary_commit, task.canary)
        assert (s.kind, s.user, s.canary_committed) == (t.kind, t.user, t.canary_commit is not None)
        # the prune's node counts (state.task_names: router, miners, validators of every round)
        names = list(s.miners) + list(s.validators) + ([s.router] if s.router is not None else [])
        assert Counter(names) == Counter(task_names(t))
        # served / check_equivocation's role test: miner by the assignments, validator by every round's validators
        for node in {*task_names(t), "0x" + "9" * 40}:
            for offence in ("commit_mismatch", "poi_divergence", "validator_deviation", "missed_deadline"):
                miner, validator = node in s.miners, node in s.validators
                by_stub = {"commit_mismatch": miner, "poi_divergence": miner, "validator_deviation": validator}.get(offence, miner or validator)
                assert by_stub == served(t, node, offence)
        # the stub round-trips through the codec (it is what a state would hold)
        assert decode_record(task_stub.TaskStub, encode_record(s)) == s


def test_per_record_numbers_are_measured_and_the_stub_is_smaller(templates: list[Task]) -> None:
    stubs = [task_stub.stub_of(t) for t in templates]
    head = task_stub.per_record(templates, stubs, 40)
    assert head["templates"] == len(templates)
    assert head["full_bytes"] == sum(len(encode_record(t)) for t in templates) // len(templates)
    assert 0 < head["stub_bytes"] < head["full_bytes"] / 5
    assert 0 < head["stub_mem"] < head["full_mem"]
    assert 0 < head["stub_mem_decoded"] < head["full_mem_decoded"]
    assert head["stub_mem"] <= head["stub_mem_decoded"]  # fresh strings cost more than shared ones
    # at least what its containers hold: the two lists (shared strings), and the decoded copy's own address strings
    lists = sum(sys.getsizeof(s.miners) + sys.getsizeof(s.validators) for s in stubs) // len(stubs)
    strings = sum(sum(map(sys.getsizeof, [*s.miners, *s.validators])) for s in stubs) // len(stubs)
    assert head["stub_mem"] >= lists and head["stub_mem_decoded"] >= lists + strings
    assert head["scaled_1m_stub_mem_gb"] == round(head["stub_mem"] * 1_000_000 / 1e9, 2)


def test_the_tasks_field_is_written_whole_and_the_stubs_cost_less(templates: list[Task]) -> None:
    n = 400
    stubs = [task_stub.stub_of(t) for t in templates]
    out = task_stub.run(n, templates, stubs)
    k = len(templates)
    # the field's bytes: every record's canonical bytes (with its id), the keys and separators: a walk that skipped records fails
    full_records = sum(len(encode_record(templates[i % k])) - len(str(templates[i % k].id)) + len(str(i)) for i in range(n))
    assert full_records < out["full_field_bytes"] < full_records + n * 20
    assert out["stub_field_bytes"] < out["full_field_bytes"] / 5
    for name in ("full", "stub"):
        assert out[f"{name}_hash_seconds"] > 0 and out[f"{name}_snapshot_seconds"] > 0
        assert out[f"scaled_1m_{name}_hash_seconds"] == pytest.approx(out[f"{name}_hash_seconds"] * 1_000_000 / n, abs=0.2)
    assert out["stub_hash_seconds"] < out["full_hash_seconds"]
    assert out["state_hash_full_seconds"] > 0
