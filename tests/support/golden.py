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
V1_LOG = ROOT / "tests" / "golden" / "scenario_v1_log.json"
"""The same scenario on the first rules (a genesis without a beacon): every event, and what it decided
(``behaviour``). Written once (``golden.py --v1-log``) and never regenerated: later code must keep
replaying it to the same balances, roots, assignments and slashes."""


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


def behaviour(state: Any) -> dict[str, Any]:
    """What the first rules decided, in terms that new record fields or parameters do not change:
    the log, the epoch roots, every balance, every task's outcome and assignments, every slash."""
    tasks = [[t.id, str(t.state), t.seed, [a.miner for a in t.miners], list(t.validators), t.charged, t.refunded] for t in state.tasks.values()]
    return {
        "events": state.seq + 1,
        "head_hash": state.head_hash,
        "epoch_roots": {str(e): r.root for e, r in sorted(state.epochs.items())},
        "balances_sha256": _sha({a: str(v) for a, v in sorted(state.ledger.balances.items())}),
        "tasks_sha256": _sha(tasks),
        "slashes_sha256": _sha([[s.id, s.node, s.offence, str(s.total)] for s in state.slashes]),
    }


def write_v1_log(tmp: Path) -> None:
    """Record the scenario on the first rules, event by event, with the digest of the state it leaves."""
    from cor_incentives.app.engine import Engine
    from support.scenario import run_scenario

    url = f"sqlite:///{tmp / 'v1.db'}"
    eng = run_scenario(url, tmp / "keys-v1", beacon=False)
    with eng.store.reader() as conn:
        events = [
            {"seq": e.seq, "tick": e.tick, "payload": e.payload.decode("ascii"), "signature": e.signature, "prev_hash": e.prev_hash, "hash": e.hash}
            for e in eng.store.iter_events(conn=conn)
        ]
    record = {"behaviour": behaviour(eng.state), "events": events}
    eng.store.engine.dispose()
    reopened = Engine.open(url)
    if behaviour(reopened.state) != record["behaviour"]:
        raise SystemExit("the replayed v1 state differs from the live one; not writing")
    V1_LOG.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {V1_LOG.relative_to(ROOT)}: {len(events)} events")


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    if sys.argv[1:] == ["--v1-log"]:
        with tempfile.TemporaryDirectory() as tmp:
            write_v1_log(Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
    if result["live"] != result["replayed"]:
        raise SystemExit("the replayed state differs from the live one; not writing a golden file")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(result["live"], indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {result['live']['events']} events, fingerprint {result['live']['state_fingerprint_sha256'][:16]}…")


if __name__ == "__main__":
    main()
