"""The core's results do not depend on the process's string-hash seed (``PYTHONHASHSEED``).

The live engine and ``cor verify`` (or an auditor's machine) are different processes, and each draws its own seed, so
a set of strings iterates in another order in each. A log written under one seed and replayed under two others must
end in the same state bytes (key order included), the same state hash, the same postings in the same order and the
same Merkle roots; and the seeded simulation itself must write the same log whatever the seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).resolve().parents[1] / "support" / "seed_probe.py"


def probe(seed: int, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    out = subprocess.run([sys.executable, str(PROBE), *args], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("scenario", ["lazy_miners", "mismatched_reveal", "copier_validators", "sybil_split"])
def test_a_log_replays_to_the_same_state_under_any_hash_seed(scenario: str, tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    written = probe(0, "simulate", str(log), scenario, "3")
    assert written["count"] > 100 and len(written["roots"]) >= 3
    for seed in (1, 2):
        assert probe(seed, "replay", str(log)) == written, f"replay under PYTHONHASHSEED={seed} differs"
    again = tmp_path / "again.json"
    assert probe(3, "simulate", str(again), scenario, "3") == written, "the seeded simulation wrote another log"


FAMILIES = ["jit_delegation", "operator_dilution", "redelegate_hop", "voter_farming", "bounty_self_award", "curator_puppets", "slash_dodge_unbond"]


@pytest.mark.parametrize("name", FAMILIES)
def test_an_attack_worlds_log_replays_to_the_same_state_under_any_hash_seed(name: str, tmp_path: Path) -> None:
    """Delegators, redelegations, governance votes, bounties, community points and slashes: the state the sets of
    addresses live in."""
    log = tmp_path / "log.json"
    written = probe(0, "attack", str(log), name)
    assert written["count"] > 100
    for seed in (1, 2):
        assert probe(seed, "replay", str(log)) == written, f"replay under PYTHONHASHSEED={seed} differs"
    assert probe(3, "attack", str(tmp_path / "again.json"), name) == written, "the seeded attack world wrote another log"
