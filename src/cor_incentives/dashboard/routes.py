"""The dashboard's pages: server-rendered HTML, each also served as the JSON it is built from.

Every page route reads one dict from ``data.py`` through the API service (``svc.read``: the state
including every event committed by any process) and renders it with its template; with
``?format=json`` it returns that dict instead (the charts fetch it, and refresh from it). The pages
are not part of the OpenAPI schema: the ``/v1`` API is the stable interface, these dicts may change
with the pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..api.deps import Service
from ..api.routes_tasks import TaskStateFilter
from ..api.schemas import ADDRESS_PATTERN
from ..app import views
from ..app.export import rewards_csv
from ..core.errors import EngineError
from ..core.state import State
from ..core.units import lookup_address as parse_address  # reads: any case (commands are strict)
from . import data
from .filters import register_filters

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/static"
REFRESH_MS = 3_000
MAX_ID = 2**53 - 1


@functools.cache
def templates() -> Jinja2Templates:
    """The pages' templates, made at the first page served (Jinja2 is not loaded by a server start)."""
    from fastapi.templating import Jinja2Templates

    made = Jinja2Templates(directory=str(HERE / "templates"))
    register_filters(made.env)
    return made


router = APIRouter(include_in_schema=False)

Format = Literal["html", "json"] | None
FORMAT = Query(None, description="json: the page's data instead of HTML.")


def static_files() -> StaticFiles:
    """The vendored chart library, the stylesheet and the page scripts."""
    return StaticFiles(directory=str(STATIC_DIR))


def page(request: Request, svc: Any, template: str, view: Callable[[State], dict[str, Any]], fmt: str | None, title: str, nav: str) -> Response:
    """One page: ``view`` under the service's lock, then JSON or the template."""
    if fmt == "json":
        return JSONResponse(svc.read(view))
    try:
        body = svc.read(view)
    except EngineError as exc:
        return templates().TemplateResponse(
            request, "error.html", {"title": "Not available", "nav": nav, "error": exc.to_dict(), "refresh_ms": 0}, status_code=exc.http_status
        )
    return templates().TemplateResponse(
        request, template, {"data": body, "title": title, "nav": nav, "refresh_ms": REFRESH_MS, "json_url": f"{request.url.path}?format=json"}
    )


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, svc: Service, format: Format = FORMAT) -> Response:
    return page(request, svc, "overview.html", data.overview, format, "Overview", "overview")


@router.get("/nodes", response_class=HTMLResponse)
def nodes(
    request: Request,
    svc: Service,
    role: Literal["miner", "validator", "router"] | None = Query(None),
    sort: Literal["yield", "stake", "consensus"] | None = Query(None),
    state: Literal["live", "retired", "all"] = Query("live"),
    after: str | None = Query(None, pattern=ADDRESS_PATTERN),
    format: Format = FORMAT,
) -> Response:
    start = parse_address(after) if after is not None else None
    return page(request, svc, "nodes.html", lambda s: data.node_list(s, role, sort, state, start), format, "Nodes", "nodes")


@router.get("/nodes/{node_id}", response_class=HTMLResponse)
def node(request: Request, svc: Service, node_id: str = PathParam(..., pattern=ADDRESS_PATTERN), format: Format = FORMAT) -> Response:
    nid = parse_address(node_id)
    return page(request, svc, "node.html", lambda s: data.node_detail(s, nid), format, f"Node {nid[:10]}…", "nodes")


@router.get("/tasks", response_class=HTMLResponse)
def tasks(
    request: Request,
    svc: Service,
    state: TaskStateFilter | None = Query(None),
    kind: Literal["user", "network"] | None = Query(None),
    format: Format = FORMAT,
) -> Response:
    return page(request, svc, "tasks.html", lambda s: data.task_list(s, state, kind), format, "Tasks", "tasks")


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task(request: Request, svc: Service, task_id: int = PathParam(..., ge=0, le=MAX_ID), format: Format = FORMAT) -> Response:
    return page(request, svc, "task.html", lambda s: data.task_detail(s, task_id), format, f"Task {task_id}", "tasks")


@router.get("/epochs", response_class=HTMLResponse)
def epochs(request: Request, svc: Service, format: Format = FORMAT) -> Response:
    return page(request, svc, "epochs.html", data.epoch_list, format, "Epochs", "epochs")


@router.get("/epochs/{n}", response_class=HTMLResponse)
def epoch(request: Request, svc: Service, n: int = PathParam(..., ge=0, le=MAX_ID), format: Format = FORMAT) -> Response:
    return page(request, svc, "epoch.html", lambda s: data.epoch_detail(s, n), format, f"Epoch {n}", "epochs")


@router.get("/address/{address}", response_class=HTMLResponse)
def address(request: Request, svc: Service, address: str = PathParam(..., pattern=ADDRESS_PATTERN), format: Format = FORMAT) -> Response:
    who = parse_address(address)
    return page(request, svc, "address.html", lambda s: data.address_detail(s, who), format, f"Address {who[:10]}…", "address")


@router.get("/address/{address}/rewards.csv")
def address_csv(svc: Service, address: str = PathParam(..., pattern=ADDRESS_PATTERN)) -> Response:
    """Every line item of the address across closed epochs, as ``cor rewards ADDR --csv`` prints it."""
    who = parse_address(address)
    body = rewards_csv(svc.read(lambda s: views.rewards(s, who)))
    return Response(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="rewards-{who}.csv"'})


@router.get("/estimate", response_class=HTMLResponse)
def estimate(
    request: Request,
    svc: Service,
    role: Literal["miner", "validator"] | None = Query(None),
    self_bond: str | None = Query(None, max_length=80),
    node: str | None = Query(None, max_length=42),
    amount: str | None = Query(None, max_length=80),
    format: Format = FORMAT,
) -> Response:
    """The estimator: a delegation to a node, or a new node's self-bond; the form alone when nothing is asked."""
    return page(request, svc, "estimate.html", lambda s: data.estimate(s, role, self_bond, node, amount), format, "Estimate", "estimate")


@router.get("/governance", response_class=HTMLResponse)
def governance(request: Request, svc: Service, format: Format = FORMAT) -> Response:
    return page(request, svc, "governance.html", data.governance, format, "Governance", "governance")


@router.get("/bounties", response_class=HTMLResponse)
def bounties(request: Request, svc: Service, format: Format = FORMAT) -> Response:
    return page(request, svc, "bounties.html", data.bounties, format, "Bounties", "bounties")
