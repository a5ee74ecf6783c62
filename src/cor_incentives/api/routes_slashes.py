"""Slashes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from .deps import Service, errors, ok
from .schemas import SlashesOut, SlashOut

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


@router.get(
    "/v1/slashes/{slash_id}",
    summary="One slash",
    response_model=None,
    description="One slash (its id is in the statement line of every staker it took from): the offence, why in one sentence, "
    "the evidence and its hash, what each position lost and where the stake went.",
    responses={**ok(SlashOut, "The slash."), **errors(400, 404, 409)},
)
def slash(svc: Service, slash_id: int = Path(..., ge=0, le=2**53 - 1, description="The slash's id.")) -> dict[str, Any]:
    return svc.slash(slash_id)
