"""Bounties and challenges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from .deps import Service, errors, ok
from .schemas import BountiesOut, BountyOut

router = APIRouter(tags=["bounties"])

MAX_ID = 2**53 - 1


@router.get(
    "/v1/bounties",
    summary="Every bounty and challenge",
    response_model=None,
    description="Every bounty with its prize, criteria, deadline, reviewers, submissions and payouts, ordered by id.",
    responses={**ok(BountiesOut, "The bounties."), **errors(409)},
)
def bounties(svc: Service) -> dict[str, Any]:
    return svc.bounties()


@router.get("/v1/bounties/{bounty_id}", summary="One bounty", response_model=None, responses={**ok(BountyOut, "The bounty."), **errors(404, 409)})
def bounty(svc: Service, bounty_id: int = Path(..., ge=0, le=MAX_ID, description="Bounty id.")) -> dict[str, Any]:
    return svc.bounty(bounty_id)
