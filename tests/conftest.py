"""Shared fixtures. Tests mirror src/; properties/, vectors/ and e2e/ hold the cross-cutting ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

VECTORS = ROOT / "tests" / "vectors"


@pytest.fixture
def vectors_dir() -> Path:
    return VECTORS


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cor.db'}"


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "keys"
    monkeypatch.setenv("COR_KEYS_DIR", str(d))
    return d
