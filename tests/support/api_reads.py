"""The auditor's ``get`` over the HTTP API (a FastAPI TestClient): each path's JSON, asserting a 200 answer. The audit tests
run the auditor over it and over ``app.published.published_getter`` (the same documents read in process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def api_get(client: Any) -> Callable[[str], Any]:
    def get(path: str) -> Any:
        r = client.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    return get
