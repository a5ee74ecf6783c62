"""The REST API (FastAPI): signed commands in, public read views and the raw log out (docs/design.md §9).

``create_app(db_url)`` opens one Engine for the process (creating the schema if needed). Routes are
thin: parse, call one ``ApiService`` method, and let the handlers below map every ``EngineError``
to its ``http_status`` with the body ``exc.to_dict()``. Every error, including request validation
(422), unknown routes (404) and internal errors (500), is JSON ``{"error": code, "message": ...}``.

``cor serve`` builds the app once with ``create_app(service=…)`` on the engine it opened (its workers are
forked from it). ``app_from_env()`` is the factory for uvicorn's own worker processes, where there is no
``fork``: it reads the database URL from ``$COR_DATABASE_URL``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..core.errors import EngineError
from ..dashboard import routes as dashboard
from . import (
    routes_balances,
    routes_blobs,
    routes_bounties,
    routes_commands,
    routes_epochs,
    routes_events,
    routes_governance,
    routes_market,
    routes_nodes,
    routes_ops,
    routes_rewards,
    routes_slashes,
    routes_status,
    routes_tasks,
    routes_verify,
)
from .errors import error_response
from .ingress import INGRESS_PATHS, CommandIngress
from .middleware import RequestObserver
from .service import ApiService

DESCRIPTION = """\
The REST API of the COR incentive engine.

* **Write**: `POST /v1/commands` with a command signed by its actor (EIP-191 `personal_sign` over the
  canonical JSON bytes; see `GET /v1/chain` and *docs/signing.md*). Nothing else changes state.
* **Read** (public, JSON): status, balances, nodes, slashes, epochs, reward statements and claim proofs,
  tasks, models and quotes, sessions, proposals and parameters, bounties. Amounts are COR decimal
  strings (`"12.5"`); `*_units` fields are exact base units (1 COR = 10**18).
* **Blobs**: `PUT /v1/blobs` stores raw bytes (≤ 256 KiB) under their sha256; `GET /v1/blobs/{hash}`
  returns them. Prompts and outputs travel this way; events refer to them by hash.
* **Audit**: `GET /v1/events` returns the raw signed, hash-chained log; `GET /v1/verify` replays it.
* **Errors** are always `{"error": code, "message": text}` with a stable `code`.

Reads include every command accepted by any process sharing the database.

The web dashboard is served by the same process at `/` (pages `/nodes`, `/tasks`, `/epochs`,
`/address/{address}`, `/governance`, `/bounties`; each also as JSON with `?format=json`).
"""

SWAGGER_UI = f"{dashboard.STATIC_PATH}/swagger-ui"  # swagger-ui-dist, vendored (package.json pins it; a test compares the copy)


def create_app(db_url: str | None = None, *, service: ApiService | None = None) -> FastAPI:
    """The API over the database at ``db_url`` (default: $COR_DATABASE_URL, else the SQLite default)."""
    svc = service or ApiService.open(db_url)
    app = FastAPI(title="cor-incentives API", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.service = svc

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from this server's own files: the page works offline."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · docs",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )

    for module in (
        routes_commands,
        routes_status,
        routes_balances,
        routes_nodes,
        routes_slashes,
        routes_epochs,
        routes_rewards,
        routes_tasks,
        routes_market,
        routes_blobs,
        routes_governance,
        routes_bounties,
        routes_events,
        routes_verify,
        routes_ops,
    ):
        app.include_router(module.router)
    app.include_router(dashboard.router)  # the web dashboard: HTML pages (and their JSON), not in the OpenAPI schema
    app.mount(dashboard.STATIC_PATH, dashboard.static_files(), name="static")
    _add_error_handlers(app)
    submit_routes = {r.path: r for r in routes_commands.router.routes if getattr(r, "path", None) in INGRESS_PATHS}
    app.add_middleware(CommandIngress, service=svc, routes=submit_routes)  # the submit routes, served ahead of the router
    app.add_middleware(RequestObserver, metrics=svc.metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: the database URL comes from $COR_DATABASE_URL."""
    return create_app(None)


def _add_error_handlers(app: FastAPI) -> None:
    async def from_exception(_: Request, exc: Exception) -> JSONResponse:
        status, body, headers = error_response(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems) or "invalid request"
        return JSONResponse({"error": "invalid_request", "message": message, "details": {"errors": problems}}, status_code=422)

    for kind in (EngineError, StarletteHTTPException, OperationalError, PoolTimeout, SQLAlchemyError, Exception):
        app.add_exception_handler(kind, from_exception)  # api/errors.py: one answer per kind of exception
