"""Verify: replay the whole log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .deps import Service, errors, ok
from .schemas import VerifyOut

router = APIRouter(tags=["audit"])


@router.get(
    "/v1/verify",
    summary="Replay and check the whole log",
    response_model=None,
    description="Hash chain, signatures, replay, conservation after every event, projections and epoch roots — "
    "what `cor verify` checks. Takes time proportional to the log; one at a time per process.",
    responses={**ok(VerifyOut, "The report (`ok` is true only if every check holds)."), **errors(429)},
)
def verify(svc: Service) -> dict[str, Any]:
    return svc.verify()
