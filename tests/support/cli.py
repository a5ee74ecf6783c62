"""Helpers for end-to-end tests through the `cor` console script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def j(p: subprocess.CompletedProcess) -> object:
    """The one JSON document a `--json` command printed."""
    return json.loads(p.stdout)


def gov_genesis(path: Path, chain_id: str, keys: tuple[str, ...]) -> Path:
    """A genesis file at ``path`` for the governance tests: a 10-tick voting period in 20-tick epochs, 1 000 000 in the
    network and staking pools and the treasury, and 100 000 for each of ``keys``."""
    path.write_text(
        json.dumps(
            {
                "chain_id": chain_id,
                "params": {"gov_voting_period_ticks": 10, "epoch_length_ticks": 20},
                "allocations": {"pool:network_incentives": "1000000", "pool:staking": "1000000", "treasury": "1000000"},
                "key_allocations": dict.fromkeys(keys, "100000"),
            }
        )
    )
    return path
