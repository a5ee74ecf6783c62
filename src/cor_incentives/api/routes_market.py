"""The model marketplace, quotes and user sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from ..core.pricing import MAX_TOKENS
from .deps import Service, errors, ok
from .schemas import ModelOneOut, ModelsOut, QuoteOut, SessionOut

router = APIRouter(tags=["market"])

MAX_ID = 2**53 - 1
MAX_MODEL_ID_CHARS = 128


@router.get(
    "/v1/models",
    summary="Every model",
    response_model=None,
    description="Every model registered in the marketplace, with its tier, card and owner, ordered by id.",
    responses={**ok(ModelsOut, "The models."), **errors(409)},
)
def models(svc: Service) -> dict[str, Any]:
    return svc.models()


@router.get(
    "/v1/models/{model_id}",
    summary="One model",
    response_model=None,
    description="A model's card and owner, and whether it is listed, retiring (retired at `retired_tick`, still named by an "
    "open task) or retired (rule 25: it left the live state; read back from the database).",
    responses={**ok(ModelOneOut, "The model."), **errors(404, 409)},
)
def model(svc: Service, model_id: str = Path(..., min_length=1, max_length=MAX_MODEL_ID_CHARS, description="Model id.")) -> dict[str, Any]:
    return svc.model(model_id)


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
