"""Slashes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .deps import Service, errors, ok
from .schemas import SlashesOut

router = APIRouter(tags=["reads"])


@router.get(
    "/v1/slashes",
    summary="Every slash",
    response_model=None,
    description="Every slash in order, with its offence, evidence and hash, and where the slashed stake went.",
    responses={**ok(SlashesOut, "The slashes."), **errors(409)},
)
def slashes(svc: Service) -> dict[str, Any]:
    return svc.slashes()
