"""`cor verify` with signatures recovered by worker processes (``app.recovery``) reports exactly what the
in-process verify reports, in the same order, on a clean log and on logs with bad signatures.

The log is real (SQLite file, real keys, the engine); the batches are made small so a short log spans
many of them and the pool runs ahead of the replay."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cor_incentives.app import verify as verify_mod
from cor_incentives.app.anchors import checkpoint_for
from cor_incentives.app.recovery import default_workers, recovered
from cor_incentives.core.errors import Unauthorized
from cor_incentives.core.signatures import recover_signers, sign_message
from cor_incentives.store.db import Store
from support.network import make_network


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify-workers")
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys")
    for i in range(12):
        eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": str(i + 1)})
        eng.submit_as(keys["oracle"], "tick", {"ticks": 1, "checkpoint": checkpoint_for(eng.state)})
    eng.submit_as(keys["oracle"], "epoch.close", {"checkpoint": checkpoint_for(eng.state)})
    n = eng.state.seq + 1
    eng.store.dispose()
    return d / "cor.db", n


def _reports(db: Path, monkeypatch) -> tuple[dict, dict, str, str]:
    monkeypatch.setattr(verify_mod, "VERIFY_BATCH", 4)
    out = []
    for workers in (0, 2):
        store = Store(f"sqlite:///{db}", create=False)
        report, state = verify_mod.verify_store(store, workers=workers)
        store.dispose()
        out.append((report.to_dict(), verify_mod.state_fingerprint(state)))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def test_a_clean_log_gives_the_same_report_and_state(built, monkeypatch):
    db, n = built
    alone, pooled, state_alone, state_pooled = _reports(db, monkeypatch)
    assert alone["ok"] and alone["events"] == n, alone["errors"]
    assert pooled == alone and state_pooled == state_alone


def test_bad_signatures_are_named_the_same_way(built, tmp_path, monkeypatch):
    db = tmp_path / "cor.db"
    shutil.copyfile(built[0], db)
    con = sqlite3.connect(db)
    other = con.execute("SELECT signature FROM events WHERE seq = 20").fetchone()[0]
    con.execute("UPDATE events SET signature = ? WHERE seq = 13", (other,))  # canonical, recovers to someone else
    con.execute("UPDATE events SET signature = ? WHERE seq = 17", ("0x" + "ab" * 65,))  # v = 171: not canonical
    con.commit()
    con.close()
    alone, pooled, _, _ = _reports(db, monkeypatch)
    assert not alone["ok"] and not alone["signatures"] and alone["first_bad_seq"] == 13, alone["errors"]
    assert any(e.startswith("seq 17:") and "v must be 27 or 28" in e for e in alone["errors"]), alone["errors"]
    assert pooled == alone


def test_recovered_keeps_the_order_and_the_errors():
    key = "0x" + "11" * 32
    batches = []
    for b in range(9):
        items = [(f"message {b}.{i}".encode(), sign_message(key, f"message {b}.{i}".encode())) for i in range(3)]
        items.append((b"bad", "0x" + "00" * 65))  # r = 0
        items.append((b"bad", "0X12"))  # not hex of 65 bytes
        batches.append((b, items))
    alone = list(recovered(batches, workers=0))
    pooled = list(recovered(batches, workers=3))
    assert [tag for tag, _ in pooled] == list(range(9))
    for (_, a), (_, p), (_, items) in zip(alone, pooled, batches):
        assert [type(x) for x in p] == [type(x) for x in a] == [str, str, str, Unauthorized, Unauthorized]
        assert [x if isinstance(x, str) else (x.code, x.message) for x in p] == [
            x if isinstance(x, str) else (x.code, x.message) for x in recover_signers(items)
        ]
    assert list(recovered([], workers=2)) == []
    assert default_workers() >= 0


def test_cli_workers_option(built):
    """`cor verify --workers N` is accepted (0: in-process, 1: one helper) and a bad count is refused with a clear message."""
    cor = str(Path(sys.executable).parent / "cor")
    url = f"sqlite:///{built[0]}"
    for n in ("0", "1"):
        ok = subprocess.run([cor, "verify", "--json", "--workers", n, "--db", url], capture_output=True, text=True, timeout=120)
        assert ok.returncode == 0 and '"ok": true' in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run([cor, "verify", "--json", "--workers", "-1", "--db", url], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "--workers" in bad.stderr, bad.stderr
