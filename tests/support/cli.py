"""Helpers for end-to-end tests through the `cor` console script."""

from __future__ import annotations

import json
import subprocess


def j(p: subprocess.CompletedProcess) -> object:
    """The one JSON document a `--json` command printed."""
    return json.loads(p.stdout)
