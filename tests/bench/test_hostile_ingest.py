"""``bench/hostile_ingest.py`` at a tiny size: a real ``cor serve`` takes honest writes while an attacker
posts every malformed shape; the bench exits 0 only if no honest command was refused, every hostile one
got a 4xx with a specific code (never a 5xx, never accepted), and the log verifies. Speed is not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_hostile_sender_is_refused_and_honest_writes_all_land() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "hostile_ingest.py"), "--commands", "160", "--clients", "4", "--rounds", "1", "--hostile-rate", "40"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    r = json.loads(out.stdout)
    assert r["honest_refused"] == 0 and r["hostile_accepted"] == 0 and r["hostile_server_errors"] == 0 and r["verify_ok"]
    assert r["hostile"]["sent"] >= 8  # every shape at least once
    assert {"payload_too_deep", "invalid_amount", "invalid_address", "unknown_field", "insufficient_funds"} <= set(r["hostile"]["codes"])
    assert set(r["hostile"]["statuses"]) <= {"400", "409", "422"}
    # 2 rounds x 160 honest commands, the genesis and two registrations are in the log, no hostile one
    assert r["events"] == 3 + 2 * 160
    assert r["quiet_commands_per_second"] > 0 and r["hostile_commands_per_second"] > 0
