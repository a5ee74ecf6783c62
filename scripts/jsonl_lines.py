"""Reading the resumable JSON-lines caches the PoI scripts write (poi_generate, poi_likelihood, poi_composed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Lines already written (a torn last line from an interrupted run is dropped)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
    return rows
