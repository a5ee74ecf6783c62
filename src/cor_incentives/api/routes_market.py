"""The model marketplace, quotes and user sessions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query

from ..core.pricing import MAX_TOKENS
from .deps import Service, errors, ok
from .readviews import MAX_MODEL_PAGE, MODEL_PAGE
from .schemas import ModelOneOut, ModelsOut, QuoteOut, SessionOut

router = APIRouter(tags=["market"])

MAX_ID = 2**53 - 1
MAX_MODEL_ID_CHARS = 128
MODEL_KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}@[0-9]{1,20}$"  # core/prune.py model_key


@router.get(
    "/v1/models",
    summary="The models",
    response_model=None,
    description="Every live model in the marketplace (a retiring one among them: retired, still named by an open task or, from "
    "rule 26, as parent by a live fine-tune), with its "
    "tier, card, owner and state, ordered by id. `state=retired` lists the listings that retired under rule 25 and left the live "
    "state (read from the database), `state=all` both; these come a page at a time in the order of `<id>@<registered tick>` "
    "(an id registered again shows each of its listings, oldest first; `limit`, default 100; `next_after` is the `after` of "
    "the next page). The default, `state=live` without `limit` or `after`, is every live model in one answer, as before.",
    responses={**ok(ModelsOut, "The models."), **errors(400, 409)},
)
def models(
    svc: Service,
    state: Literal["live", "retired", "all"] = Query("live", description="Live models (the default), retired listings (rule 25) or all."),
    limit: int | None = Query(
        None, ge=1, le=MAX_MODEL_PAGE, description=f"At most this many (default: every live model; {MODEL_PAGE} for retired or all)."
    ),
    after: str | None = Query(
        None, pattern=MODEL_KEY_PATTERN, description="Only listings with a larger key `<id>@<registered tick>` (pass `next_after`)."
    ),
) -> dict[str, Any]:
    return svc.models(state, limit, after)


@router.get(
    "/v1/models/{model_id}",
    summary="One model",
    response_model=None,
    description="A model's card and owner, and whether it is listed, retiring (retired at `retired_tick`, still named by an "
    "open task or, from rule 26, as parent by a live fine-tune) or retired (rule 25: it left the live state; read back "
    "from the database); `listings` is every listing of the id, oldest first (a retired id may be registered again). "
    "`at_tick` reads the listing in force at that tick (the last registered at or before it): the one a task created "
    "then ran on.",
    responses={**ok(ModelOneOut, "The model."), **errors(400, 404, 409)},
)
def model(
    svc: Service,
    model_id: str = Path(..., min_length=1, max_length=MAX_MODEL_ID_CHARS, description="Model id."),
    at_tick: int | None = Query(None, ge=0, le=MAX_ID, description="The listing in force at this tick (default: the newest)."),
) -> dict[str, Any]:
    return svc.model(model_id, at_tick)


@router.get(
    "/v1/quote",
    summary="The price of a task",
    response_model=None,
    description="price = (per_miner × redundancy + validation_fee) × price_factor, per_miner = (base_fee[tier] + "
    "input_tokens × input_price + output_tokens × output_price) × quantization_factor × context_factor; "
    "every term is returned. A task escrows this quote at `max_output_tokens`.",
    responses={**ok(QuoteOut, "The quote."), **errors(400, 404, 409)},
)
def quote(
    svc: Service,
    model: str = Query(..., min_length=1, max_length=MAX_MODEL_ID_CHARS, description="Model id."),
    input_tokens: int = Query(..., ge=0, le=MAX_TOKENS),
    max_output_tokens: int = Query(..., ge=0, le=MAX_TOKENS),
    redundancy: int | None = Query(None, ge=1, le=32, description="Miners per task (default: the parameter in force)."),
) -> dict[str, Any]:
    return svc.quote(model, input_tokens, max_output_tokens, redundancy)


@router.get(
    "/v1/sessions/{session_id}",
    summary="One user session",
    response_model=None,
    description="A session's settings, whether it is open, its open tasks and its remaining deposit.",
    responses={**ok(SessionOut, "The session."), **errors(404, 409)},
)
def session(svc: Service, session_id: int = Path(..., ge=0, le=MAX_ID, description="Session id.")) -> dict[str, Any]:
    return svc.session(session_id)
