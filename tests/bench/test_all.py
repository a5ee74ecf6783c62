"""``bench/all.py --quick --json`` runs every benchmark at tiny sizes and prints the one table's schema.

Timings are not checked (speed is what the benchmarks report, not what tests assert): this checks
that every named benchmark runs end to end, that none failed, and the shape of each row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "epoch_close_1m",
    "open_1m_events",
    "verify_rate",
    "assign_cost_flat",
    "proof_served_100k",
    "poi_embed",
    "ingest_http_sqlite",
    "ingest_http_postgresql",
    "ingest_http_sqlite_batch",
    "ingest_http_postgresql_batch",
    "server_start",
]
KEYS = {"name", "goal", "measured", "unit", "baseline", "ratio", "holds", "detail"}


@pytest.mark.slow
@pytest.mark.postgres
def test_quick_json_lists_every_benchmark_with_its_goal_measure_and_baseline() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "all.py"), "--quick", "--json"], capture_output=True, text=True, timeout=1_800)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        assert set(r) == KEYS, r["name"]
        assert "error" not in r["detail"], (r["name"], r["detail"].get("error"))
        assert isinstance(r["goal"], str) and r["goal"] and isinstance(r["unit"], str) and r["unit"]
        assert isinstance(r["holds"], bool)
        for field in ("measured", "baseline", "ratio"):
            assert isinstance(r[field], float | int) and not isinstance(r[field], bool) and r[field] > 0, (r["name"], field, r[field])
        assert r["detail"]["baseline_is"], r["name"]
    close = rows[0]["detail"]
    # the close is measured at the size it names, never extrapolated, and a tiny run can't hold the 1 M goal
    assert (close["tasks"], close["nodes"]) == (400, 300) and "400 tasks" in rows[0]["unit"] and not rows[0]["holds"]
    # what the row does not time, said in its detail: a real task's record costs its bytes, more memory, and CPU to retire
    per = close["task_record_costs"]["per_record"]
    assert per["memory_bytes"] > per["canonical_bytes"] > 1_000 and per["retire_us"] > 0
    # under the row's rule (27: a closed task keeps a stub) each task costs its stub, far less than its whole record
    costs = close["task_record_costs"]
    stub = costs["per_stub"]
    assert costs["rule"] == costs["latest_rules"] >= 27 and costs["stubs_at_rule"] and costs["per_record_rule"] == 26
    assert 0 < stub["canonical_bytes"] < per["canonical_bytes"] // 5 and 0 < stub["memory_bytes"] < per["memory_bytes"] // 5 and stub["drop_us"] > 0


def test_unknown_benchmark_is_refused_with_the_known_names() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "all.py"), "--only", "nope"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown benchmark(s) nope" in out.stderr and "verify_rate" in out.stderr
