"""What the product publishes, read in-process: the same JSON as the HTTP API's read paths.

``cor audit --db`` hands the independent auditor (``cor_incentives.auditor``, which imports nothing
from the engine) a ``get(path)`` over a loaded state instead of an HTTP client; the paths and the
JSON are the API's, answered by the same view functions (``GET /v1/epochs/N``, ``/v1/tasks/ID``, ``/v1/models``,
``/v1/models/ID?at_tick=T``, ``/v1/params``, ``/v1/slashes``, ``/v1/nodes``), so the auditor reads the same thing either
way (tests/audit/test_relisted_model.py compares the model reads).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core.errors import NotFound
from ..core.state import State
from . import chooser, views
from .archive import get_task


def published_getter(state: State) -> Callable[[str], Any]:
    """``get(path)`` for the read paths the auditor uses, answered from ``state`` (JSON round-tripped, as over HTTP)."""

    def get(path: str) -> Any:
        path, _, query = path.partition("?")
        parts = path.strip("/").split("/")
        at_tick = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("at_tick")
        if len(parts) == 3 and parts[:2] == ["v1", "epochs"]:
            data: Any = views.epoch(state, int(parts[2]))
        elif len(parts) == 3 and parts[:2] == ["v1", "tasks"]:
            data = views.task(state, get_task(state, int(parts[2])))
        elif parts == ["v1", "models"]:
            data = views.model_list(state)  # the API's default answer (state=live, no page): the same function
        elif len(parts) == 3 and parts[:2] == ["v1", "models"]:
            data = views.model_view(state, parts[2], int(at_tick) if at_tick is not None else None)
        elif parts == ["v1", "slashes"]:
            data = {"slashes": [views.slash(r) for r in state.slashes]}
        elif parts == ["v1", "params"]:
            data = views.params_view(state)
        elif parts == ["v1", "nodes"]:
            data = chooser.node_table(state, None, None, chooser.DEFAULT_WINDOW_EPOCHS)
        else:
            raise NotFound(f"no published read at {path}", code="not_found")
        return json.loads(json.dumps(data))

    return get
