"""``bench/verify.py``: what verify adds beyond the floor and the replay is split into its end comparison and the rest,
the comparison timed within the verify the bench measures (and the verify module left as it was, also when it fails)."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cor_incentives.app import verify as verify_module

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import verify as verify_bench  # noqa: E402


def test_beyond_splits_into_the_end_comparison_and_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = verify_module._check_projections

    def slow_compare(*args: Any, **kwargs: Any) -> None:  # the comparison, then 50 ms of CPU: what the split must find there
        real(*args, **kwargs)
        begin = time.process_time()
        while time.process_time() - begin < 0.05:
            pass

    monkeypatch.setattr(verify_module, "_check_projections", slow_compare)
    m = verify_bench.measure(20, 300, tmp_path / "log.db", workers=0)
    assert m["events"] == 300 and m["log_built"]
    assert verify_module._check_projections is slow_compare  # the timer is gone once measured
    assert 0.05 <= m["end_seconds"] < m["verify_seconds"]  # the comparison's time, inside the verify timed
    assert m["loop_beyond_seconds"] < m["beyond_seconds"] - 0.049  # the rest: beyond without the comparison
    parts = m["floor_seconds"] + m["replay_seconds"] + m["end_seconds"] + m["loop_beyond_seconds"]
    assert abs(parts - m["verify_seconds"]) <= 0.003  # (each part rounded to the millisecond)


def test_a_log_that_does_not_verify_stops_the_bench_and_leaves_verify_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    verify_bench.measure(20, 300, path, workers=0)
    with sqlite3.connect(path) as conn:  # a stored hash no longer the hash of its event's bytes
        conn.execute("UPDATE events SET hash = ? WHERE seq = 5", ("0x" + "ab" * 32,))
    compare = verify_module._check_projections
    with pytest.raises(SystemExit, match="verify failed on the bench log"):
        verify_bench.verify_seconds(f"sqlite:///{path}")
    assert verify_module._check_projections is compare
