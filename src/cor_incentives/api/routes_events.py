"""The raw event log, for auditors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from .deps import Service, errors, ok
from .schemas import EventsOut
from .service import MAX_EVENTS_PER_PAGE

router = APIRouter(tags=["audit"])

MAX_SEQ = 2**53 - 1


@router.get(
    "/v1/events",
    summary="The raw event log",
    response_model=None,
    description="Events with `seq > after`, oldest first: the signed payload byte for byte, the signature and the hash "
    "chain, so that anyone can re-hash the chain and re-check every signature.",
    responses={**ok(EventsOut, "A page of events."), **errors()},
)
def events(
    svc: Service,
    after: int = Query(-1, ge=-1, le=MAX_SEQ, description="Return events after this sequence number (-1: from genesis)."),
    limit: int = Query(100, ge=1, le=MAX_EVENTS_PER_PAGE, description="Page size."),
) -> dict[str, Any]:
    return svc.events(after, limit)
