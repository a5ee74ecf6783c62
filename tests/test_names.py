"""Shared names are defined once, in the core; the shell's copies (an API schema's enum) must equal them."""

from __future__ import annotations

from typing import get_args

from cor_incentives.api.routes_tasks import TaskStateFilter
from cor_incentives.core.params import EMISSION_SPLIT_DEFAULT, Params
from cor_incentives.core.records import CLOSED_TASK_STATES, OPEN_TASK_STATES, PRECOMMIT_WINDOW, TaskState
from cor_incentives.core.streams import EmissionStream, LinePart, Stream, line


def test_the_api_task_state_filter_is_the_core_lifecycle_plus_open():
    assert get_args(TaskStateFilter) == ("open", *TaskState)


def test_task_state_groups_partition_the_lifecycle():
    assert set(PRECOMMIT_WINDOW) < set(OPEN_TASK_STATES)
    assert not set(OPEN_TASK_STATES) & set(CLOSED_TASK_STATES)
    assert TaskState.REQUESTED not in OPEN_TASK_STATES + CLOSED_TASK_STATES


def test_emission_streams_are_the_keys_of_the_emission_split():
    assert list(EMISSION_SPLIT_DEFAULT) == list(EmissionStream)
    assert set(Params().emission_split_bps) == set(EmissionStream)


def test_a_stream_member_is_its_string():
    assert Stream.MINER_WORK == "miner_work" and f"{Stream.TASK_FEE_MINER}" == "task_fee:miner"
    assert line(Stream.STAKING_APR, LinePart.STAKE) == "staking_apr:stake"
    assert len({s.value for s in Stream}) == len(Stream)
