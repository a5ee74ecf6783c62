"""The golden record of the seeded scenario: state fingerprint, per-section digests, epoch roots.

``tests/store/test_golden_scenario.py`` runs the scenario (``support.scenario``) on a fresh SQLite
file and compares what it produced with ``tests/golden/scenario.json``. A change that is meant to
alter behaviour regenerates the file, in a commit that says why:

    make golden        # = .venv/bin/python tests/support/golden.py

A pure restructuring must leave the file untouched.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "scenario.json"


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def digest(state: Any) -> dict[str, Any]:
    """What the golden file holds about a state: enough to say *which* part changed."""
    from cor_incentives.app.verify import state_fingerprint

    fingerprint = state_fingerprint(state)
    sections = json.loads(fingerprint)
    return {
        "events": state.seq + 1,
        "head_hash": state.head_hash,
        "epoch_roots": {str(e): r.root for e, r in sorted(state.epochs.items())},
        "state_fingerprint_sha256": hashlib.sha256(fingerprint.encode()).hexdigest(),
        "sections_sha256": {name: _sha(value) for name, value in sorted(sections.items())},
    }


def run(tmp: Path) -> dict[str, Any]:
    """Run the scenario on a SQLite file under ``tmp``; the digest of the live and the replayed state."""
    from cor_incentives.app.engine import Engine
    from support.scenario import run_scenario

    url = f"sqlite:///{tmp / 'cor.db'}"
    eng = run_scenario(url, tmp / "keys")
    live = digest(eng.state)
    eng.store.engine.dispose()
    reopened = Engine.open(url)  # replays the log from the database
    replayed = digest(reopened.state)
    reopened.store.engine.dispose()
    return {"live": live, "replayed": replayed}


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
    if result["live"] != result["replayed"]:
        raise SystemExit("the replayed state differs from the live one; not writing a golden file")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(result["live"], indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {result['live']['events']} events, fingerprint {result['live']['state_fingerprint_sha256'][:16]}…")


if __name__ == "__main__":
    main()
