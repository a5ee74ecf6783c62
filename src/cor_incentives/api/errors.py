"""How every error leaves the API: one status and one JSON body ``{"error": code, "message": ...}`` per
kind of exception, shared by FastAPI's exception handlers (api/app.py) and the command ingress
(api/ingress.py), so a request answers the same whichever of them served it."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import EngineError

logger = logging.getLogger("cor.api")

HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def error_response(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """The status, JSON body and extra headers answering ``exc`` (logged when it is not the client's doing)."""
    if isinstance(exc, EngineError):
        return exc.http_status, exc.to_dict(), None
    if isinstance(exc, StarletteHTTPException):
        body = {"error": HTTP_ERROR_CODES.get(exc.status_code, "http_error"), "message": str(exc.detail)}
        return exc.status_code, body, getattr(exc, "headers", None)
    if isinstance(exc, (OperationalError, PoolTimeout)):  # locked, unreachable, connection lost; every pooled connection in use
        logger.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return 503, {"error": "database_unavailable", "message": "the database is unavailable or busy; retry"}, None
    if isinstance(exc, SQLAlchemyError):
        logger.error("database error", exc_info=exc)
        return 500, {"error": "internal_error", "message": "internal database error; see the server log"}, None
    logger.error("internal error", exc_info=exc)
    return 500, {"error": "internal_error", "message": "internal error; see the server log"}, None
