"""Dependencies shared by the routers: the service object and documented error responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from .schemas import ErrorOut
from .service import ApiService

ERROR_DESCRIPTIONS = {
    400: "Malformed input (`invalid_input`, `invalid_payload`, `non_canonical_payload`, `invalid_address`, `unknown_command`, ...).",
    401: "Bad or missing authority (`invalid_signature`, `signer_is_not_actor`, `wrong_chain`, `unauthorized_actor`).",
    404: (
        "Not found (`node_not_found`, `epoch_not_found`, `task_not_found`, `model_not_found`, `session_not_found`, "
        "`no_leaf`, `proposal_not_found`, `bounty_not_found`, `blob_not_found`, `not_found`)."
    ),
    409: "Not allowed in the current state (`nonce_already_used`, `insufficient_funds`, `no_genesis`, ...).",
    413: "Request body too large (`request_too_large`, `blob_too_large`).",
    422: "The request does not match the schema (`invalid_request`).",
    429: "A bounded resource is busy (`verify_in_progress`).",
    503: "The database is unavailable or busy (`database_unavailable`), or the one writer process is being restarted (`writer_unavailable`).",
}


async def get_service(request: Request) -> ApiService:
    """The process's service (a coroutine: FastAPI runs a plain function dependency on its thread pool)."""
    return request.app.state.service  # type: ignore[no-any-return]


Service = Annotated[ApiService, Depends(get_service)]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error responses a route can give."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in (*statuses, 422, 503)}


def ok(model: type, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of a 200 response (the body is the view itself, not re-validated)."""
    return {200: {"model": model, "description": description}}
