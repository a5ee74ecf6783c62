"""End-to-end fixtures: the `cor` console script on a fresh SQLite file and keystore per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.server import start_server, stop_server

COR_BIN = str(Path(sys.executable).parent / "cor")


@pytest.fixture
def cli(tmp_path):
    """``cli(*args, ok=True)`` runs `cor`; ``ok`` asserts exit 0. ``cli.env`` and ``cli.db`` describe the network."""
    env = {**os.environ, "COR_KEYS_DIR": str(tmp_path / "keys"), "COR_DATABASE_URL": f"sqlite:///{tmp_path / 'cor.db'}"}

    def run(*args, ok=True):
        p = subprocess.run([COR_BIN, *args], env=env, capture_output=True, text=True, timeout=120)
        if ok:
            assert p.returncode == 0, f"cor {' '.join(args)} failed: {p.stdout}{p.stderr}"
        return p

    run.env = env
    run.db = tmp_path / "cor.db"
    return run


@pytest.fixture
def served(cli, tmp_path):
    """A devnet created by `cor init`, served by a real `cor serve` on a free port (its base URL)."""
    cli("init", "--seed", "remote")
    server = start_server(cli.env["COR_DATABASE_URL"], tmp_path / "serve.log")
    yield server.base_url
    stop_server(server)
