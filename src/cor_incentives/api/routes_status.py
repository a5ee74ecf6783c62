"""Network summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .deps import Service, errors, ok
from .schemas import StatusOut

router = APIRouter(tags=["reads"])


@router.get(
    "/v1/status",
    summary="Network summary",
    response_model=None,
    description="Supply, pools, treasury, bonded stake, epoch and tick, nodes by role, slashes, epochs closed.",
    responses={**ok(StatusOut, "The summary."), **errors(409)},
)
def status(svc: Service) -> dict[str, Any]:
    return svc.status()
