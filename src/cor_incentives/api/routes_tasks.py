"""Tasks: the list (filters for node agents and the dashboard) and one task."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from .deps import Service, errors, ok
from .schemas import ADDRESS_PATTERN, TaskOut, TasksOut
from .service import MAX_TASKS_PER_PAGE

router = APIRouter(tags=["market"])

MAX_ID = 2**53 - 1
# the core's TaskState (tests/test_names.py checks they are equal) plus "open", spelled out for the OpenAPI schema
TaskStateFilter = Literal[
    "open",
    "REQUESTED",
    "CREATED",
    "PREPARED",
    "STARTED",
    "PRECOMMITTED",
    "COMMITTED",
    "REPORTING",
    "AUDITING",
    "VALIDATED",
    "SETTLED",
    "CANCELLED",
    "FAILED",
]


@router.get(
    "/v1/tasks",
    summary="Tasks, newest first",
    response_model=None,
    description="Tasks matching every filter given, newest first. A node agent polls "
    "`?state=open&assigned=<its address>` for the work it owes; `after_id` returns only tasks created "
    "after the last one it saw; `before_id` pages back through older ones, live or pruned: pass `next_before_id`, the "
    "`before_id` of the next page (null: no older task matches the filters).",
    responses={**ok(TasksOut, "The tasks."), **errors(400, 409)},
)
def tasks(
    svc: Service,
    state: TaskStateFilter | None = Query(
        None, description="Only tasks in this state; `open`: PREPARED, STARTED, PRECOMMITTED, COMMITTED, REPORTING or AUDITING."
    ),
    assigned: str | None = Query(None, pattern=ADDRESS_PATTERN, description="Only tasks with this address among their miners or validators."),
    kind: Literal["user", "network"] | None = Query(None, description="Only user tasks or only network tasks."),
    limit: int = Query(100, ge=1, le=MAX_TASKS_PER_PAGE, description="At most this many tasks."),
    after_id: int | None = Query(None, ge=0, le=MAX_ID, description="Only tasks with a larger id."),
    before_id: int | None = Query(None, ge=0, le=MAX_ID, description="Only tasks with a smaller id (pass `next_before_id`)."),
) -> dict[str, Any]:
    return svc.tasks(state, assigned, kind, limit, after_id, before_id)


@router.get(
    "/v1/tasks/{task_id}",
    summary="One task",
    response_model=None,
    description="A task's state machine progress, assignments, PoI distances and quality per miner, validators' reports and agreement, and payments.",
    responses={**ok(TaskOut, "The task."), **errors(404, 409)},
)
def task(svc: Service, task_id: int = Path(..., ge=0, le=MAX_ID, description="Task id.")) -> dict[str, Any]:
    return svc.task(task_id)
