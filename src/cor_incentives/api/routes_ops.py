"""Operations: liveness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from .deps import Service, errors, ok
from .metrics import CONTENT_TYPE
from .schemas import HealthOut

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness and database reachability",
    response_model=None,
    responses={**ok(HealthOut, "The process is up and its database answers."), **errors()},
)
def healthz(svc: Service) -> dict[str, Any]:
    return svc.health()


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    description="Text exposition format 0.0.4: cor_events_total, cor_commands_accepted_total, "
    "cor_commands_rejected_total{code}, cor_epoch, cor_tick, cor_nodes{role}, "
    "cor_http_requests_total, cor_http_request_duration_seconds (histogram).",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The metrics."}, **errors()},
)
def metrics(svc: Service) -> PlainTextResponse:
    return PlainTextResponse(svc.metrics_text(), media_type=CONTENT_TYPE)
