"""Bounties and challenges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from .deps import Service, errors, ok
from .schemas import BountiesOut, BountyOut
from .service import MAX_BOUNTIES_PER_PAGE

router = APIRouter(tags=["bounties"])

MAX_ID = 2**53 - 1


@router.get(
    "/v1/bounties",
    summary="Bounties and challenges, newest first",
    response_model=None,
    description="Bounties with their prize, criteria, deadline, reviewers, submissions and payouts, live or retired "
    "(rule 22), newest first, a page at a time: at most `limit`; `next_before_id` is the `before_id` of the next page "
    "(null: no older bounty). `after_id` returns only bounties created after the last one seen. "
    "Changed: this list used to be every bounty in one answer, oldest first.",
    responses={**ok(BountiesOut, "One page of bounties."), **errors(400, 409)},
)
def bounties(
    svc: Service,
    limit: int = Query(100, ge=1, le=MAX_BOUNTIES_PER_PAGE, description="At most this many bounties."),
    after_id: int | None = Query(None, ge=0, le=MAX_ID, description="Only bounties with a larger id."),
    before_id: int | None = Query(None, ge=0, le=MAX_ID, description="Only bounties with a smaller id (pass `next_before_id`)."),
) -> dict[str, Any]:
    return svc.bounties(limit, after_id, before_id)


@router.get("/v1/bounties/{bounty_id}", summary="One bounty", response_model=None, responses={**ok(BountyOut, "The bounty."), **errors(404, 409)})
def bounty(svc: Service, bounty_id: int = Path(..., ge=0, le=MAX_ID, description="Bounty id.")) -> dict[str, Any]:
    return svc.bounty(bounty_id)
