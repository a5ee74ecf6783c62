"""Fixtures of the devnet tests (helpers in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devnet.helpers import Server, start_server
from support.server import stop_server


@pytest.fixture(scope="module")
def serve_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start `cor serve` on a database (stopped at the end of the module)."""
    started: list[Server] = []

    def start(db_url: str) -> Server:
        s = start_server(db_url, tmp_path_factory.mktemp("serve") / "serve.log")
        started.append(s)
        return s

    yield start
    for s in started:
        stop_server(s)
