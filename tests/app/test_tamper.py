"""Every way of quietly rewriting the log that passed `cor verify` before ends in `ok: false` with the
right first bad seq (given an anchor kept elsewhere where the log alone cannot tell), and `cor verify`
leaves the database file byte-identical. Start-up refuses a log edited in place, naming the seq: a full
replay anywhere, and after the stored snapshot it opens from (the prefix a snapshot stands for is
`cor verify`'s to check).

The network is real (SQLite file, eth-account keys, the engine); the tampering is what an operator
with write access to the file could do with the sqlite3 shell; verify runs as the `cor` console script.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cor_incentives.app.anchors import checkpoint_for
from cor_incentives.app.engine import Engine
from cor_incentives.app.logcheck import LogCorrupt
from cor_incentives.app.signing import sign_command
from cor_incentives.core.events import Command, event_hash
from cor_incentives.core.units import COR
from cor_incentives.store.document_format import document_text, is_packed, pack
from support.network import make_network

COR_BIN = str(Path(sys.executable).parent / "cor")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A network with nodes, a session, a task on a stored prompt, transfers and checkpointed ticks; closed cleanly."""
    d = tmp_path_factory.mktemp("tamper")
    url = f"sqlite:///{d / 'cor.db'}"
    eng, keys = make_network(url, d / "keys")
    oracle = keys["oracle"]
    prompt = "Say hello in Österreichisch.".encode()
    h = eng.store.put_blob(prompt)
    session = next(iter(eng.state.sessions))
    task = eng.submit_as(
        keys["alice"],
        "task.submit",
        {
            "session": session,
            "model": "smollm2-135m-instruct",
            "prompt_hash": h,
            "prompt_bytes": len(prompt),
            "input_tokens": 8,
            "max_output_tokens": 16,
        },
    )
    marks = {"task": task.seq}
    eng.submit_as(oracle, "tick", {"ticks": 1, "checkpoint": checkpoint_for(eng.state)})
    marks["transfer"] = eng.submit_as(keys["alice"], "transfer", {"to": keys["bob"].address, "amount": str(125 * COR // 10)}).seq
    for i in range(30):
        eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": str(i + 1)})
        eng.submit_as(oracle, "tick", {"ticks": 1, "checkpoint": checkpoint_for(eng.state)})
    eng.submit_as(oracle, "epoch.close", {"checkpoint": checkpoint_for(eng.state)})
    eng.store.dispose()
    hashes = {int(s): h for s, h in sqlite3.connect(d / "cor.db").execute("SELECT seq, hash FROM events")}
    return d, keys, marks, hashes, h


@pytest.fixture
def db(built, tmp_path):
    """A fresh copy of the built database for one tamper case."""
    src = built[0] / "cor.db"
    dst = tmp_path / "cor.db"
    shutil.copyfile(src, dst)
    return dst


def verify(db: Path, *anchors: str) -> tuple[int, dict]:
    """`cor verify --json` on ``db``; the file must be byte-identical afterwards."""
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    args = [COR_BIN, "verify", "--json", "--db", f"sqlite:///{db}"]
    for a in anchors:
        args += ["--anchor", a]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "verify changed the database file"
    return p.returncode, json.loads(p.stdout)


def rechain(con: sqlite3.Connection, start: int) -> None:
    """Recompute prev_hash and hash from ``start`` on, as a tamperer hiding an edit would."""
    rows = con.execute("SELECT seq, payload, signature FROM events WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
    prev = con.execute("SELECT hash FROM events WHERE seq = ?", (start - 1,)).fetchone()[0]
    for seq, payload, sig in rows:
        h = event_hash(prev, seq, payload.encode("ascii"), sig)
        con.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
        prev = h


def edit(db: Path, sql: str, *args: object) -> None:
    con = sqlite3.connect(db)
    con.execute(sql, args)
    con.commit()
    con.close()


def test_the_untouched_log_verifies(built, db):
    _, _, _, hashes, _ = built
    head = max(hashes)
    code, report = verify(db, f"{head}:{hashes[head]}", f"10:{hashes[10]}")
    assert code == 0 and report["ok"], report["errors"]
    assert report["anchors_checked"] == 2 and report["checkpoints_checked"] >= 31 and report["epochs_without_checkpoint"] == []
    assert set(report) >= {
        "ok",
        "events",
        "hash_chain",
        "signatures",
        "replay",
        "conservation",
        "projections",
        "roots_match",
        "anchors_checked",
        "first_bad_seq",
        "errors",
    }


def test_cutting_off_the_last_50_events_needs_an_anchor_and_names_the_first_missing_seq(built, db):
    _, _, _, hashes, _ = built
    head = max(hashes)
    edit(db, "DELETE FROM events WHERE seq > ?", head - 50)
    code, alone = verify(db)
    assert code == 1 and not alone["ok"]  # the projections still show the cut events
    edit(db, "DELETE FROM postings WHERE seq > ?", head - 50)  # a careful tamperer rebuilds them: now only an anchor tells
    code, report = verify(db, f"{head}:{hashes[head]}")
    assert code == 1 and not report["ok"] and not report["anchors"]
    assert report["first_bad_seq"] == head - 49


def test_deleting_a_signed_event_and_recomputing_the_chain(built, db):
    _, _, marks, hashes, _ = built
    d = marks["transfer"] + 3  # one of carol's transfers
    con = sqlite3.connect(db)
    assert con.execute("SELECT kind FROM events WHERE seq = ?", (d,)).fetchone()[0] == "transfer"
    con.execute("DELETE FROM events WHERE seq = ?", (d,))
    for (seq,) in con.execute("SELECT seq FROM events WHERE seq > ? ORDER BY seq", (d,)).fetchall():
        con.execute("UPDATE events SET seq = ? WHERE seq = ?", (seq - 1, seq))
    rechain(con, d)
    con.commit()
    con.close()
    code, report = verify(db, f"{d - 1}:{hashes[d - 1]}")
    assert code == 1 and not report["ok"]
    assert report["first_bad_seq"] == d, report["errors"]


def test_an_actor_re_signing_its_own_past_transfer(built, db):
    """12.5 COR rewritten to 20 000 COR by alice's own key, chain recomputed: the oracle's later
    checkpoints in the log still cite the old hashes; an anchor just before places it exactly."""
    _, keys, marks, hashes, _ = built
    d = marks["transfer"]
    con = sqlite3.connect(db)
    payload = con.execute("SELECT payload FROM events WHERE seq = ?", (d,)).fetchone()[0]
    cmd = Command.decode(payload)
    assert cmd.body["amount"] == str(125 * COR // 10)
    new_payload, sig = sign_command(keys["alice"].private_key, cmd.chain_id, cmd.kind, cmd.nonce, {**cmd.body, "amount": str(20_000 * COR)})
    con.execute("UPDATE events SET payload = ?, signature = ? WHERE seq = ?", (new_payload.decode(), sig, d))
    rechain(con, d)
    con.commit()
    con.close()
    code, alone = verify(db)
    assert code == 1 and not alone["ok"] and alone["signatures"] and alone["hash_chain"]  # re-signed and re-chained: only checkpoints catch it
    assert not alone["anchors"] and alone["first_bad_seq"] <= d
    code, report = verify(db, f"{d - 1}:{hashes[d - 1]}")
    assert report["first_bad_seq"] == d, report["errors"]


@pytest.mark.parametrize("column,value", [("tick", 3), ("kind", "stake.bond"), ("actor", "0x" + "12" * 20), ("nonce", 99)])
def test_editing_an_unhashed_column_is_caught_at_its_seq_and_start_up_refuses_it(built, db, column, value):
    _, _, marks, _, _ = built
    d = marks["transfer"] + 4
    edit(db, f"UPDATE events SET {column} = ? WHERE seq = ?", value, d)
    code, report = verify(db)
    assert code == 1 and not report["ok"] and not report["hash_chain"]
    assert report["first_bad_seq"] == d, report["errors"]
    with pytest.raises(LogCorrupt) as err:  # a full replay checks every event's stored columns
        Engine.open(f"sqlite:///{db}", create=False, snapshots=False)
    assert err.value.seq == d and f"event {d}" in err.value.message
    # the default start-up opens from the snapshot stored at the close (after d) and checks the events
    # after it; the prefix the snapshot stands for is what `cor verify` (above) checks
    opened = Engine.open(f"sqlite:///{db}", create=False)
    assert opened.snapshot_report.seq is not None and opened.snapshot_report.seq > d
    assert opened.chain_report()["from_snapshot"] == opened.snapshot_report.seq
    opened.store.dispose()
    edit(db, "DELETE FROM snapshots")  # without a snapshot every start-up is a full replay, and refuses it
    p = subprocess.run([COR_BIN, "balance", "0x" + "ab" * 20, "--json", "--db", f"sqlite:///{db}"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and json.loads(p.stdout)["error"] == "log_corrupt" and f"event {d}" in p.stdout and "Traceback" not in p.stderr


def test_editing_a_column_after_the_newest_snapshot_is_refused_at_start_up(built, db):
    """Opening from a snapshot still checks every event after it like a full replay does."""
    _, keys, _, _, _ = built
    eng = Engine.open(f"sqlite:///{db}")
    snap = eng.snapshot_report.seq
    assert snap == eng.state.seq  # the close's snapshot is the head
    d = eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "5"}).seq
    eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "6"})
    eng.store.dispose()
    edit(db, "UPDATE events SET actor = ? WHERE seq = ?", "0x" + "12" * 20, d)
    with pytest.raises(LogCorrupt) as err:
        Engine.open(f"sqlite:///{db}", create=False)
    assert err.value.seq == d and f"event {d}" in err.value.message


def test_replacing_a_blobs_bytes_names_the_event_that_refers_to_it(built, db):
    _, _, marks, _, blob = built
    edit(db, "UPDATE blobs SET data = ? WHERE hash = ?", b"Say goodbye.", blob)
    code, report = verify(db)
    assert code == 1 and not report["ok"] and not report["blobs"]
    assert report["first_bad_seq"] == marks["task"]
    from cor_incentives.store.db import BlobCorrupt, Store

    store = Store(f"sqlite:///{db}", create=False)
    with pytest.raises(BlobCorrupt):
        store.get_blob(blob)
    store.dispose()


@pytest.mark.parametrize("damage", ["garbage", "half", "empty_schema"])
def test_a_corrupt_file_gives_a_report_and_exit_1(built, db, damage):
    if damage == "garbage":
        db.write_bytes(b"this is not a database " * 100)
    elif damage == "half":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])
    else:
        db.unlink()
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    code, report = verify(db)
    assert code == 1 and report["ok"] is False and report["errors"]


def test_verify_of_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "cor.db"
    p = subprocess.run([COR_BIN, "verify", "--json", "--db", f"sqlite:///{missing}"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and json.loads(p.stdout)["ok"] is False and "no database" in p.stdout
    assert not missing.parent.exists()


def one_digit_changed(text: str, at: int) -> str:
    """``text`` with its first digit at or after ``at`` made another, non-zero one: still JSON (no leading zero made),
    a different value (a number, or a string such as an address or a hash)."""
    i = next(i for i in range(at, len(text)) if text[i].isdigit())
    return text[:i] + str(int(text[i]) % 9 + 1) + text[i + 1 :]


@pytest.mark.parametrize("collection,where", [("epoch", 0.0), ("epoch", 0.5), ("epoch", 0.97), ("epoch", "root"), ("slash", 0.5)])
def test_one_digit_changed_in_a_stored_document_is_refused(db, collection, where):
    """The documents verify recomputes (json_text of the replayed records) are compared with the stored ones: one digit
    changed anywhere in the epoch document (the checkpoint cited, an amount, a formula's escaped character, the root)
    or in a slash document fails `projections`, or `roots_match` when it is the epoch's root."""
    con = sqlite3.connect(db)
    key, stored = con.execute("SELECT key, data FROM documents WHERE collection = ? ORDER BY key LIMIT 1", (collection,)).fetchone()
    con.close()
    assert is_packed(stored) == (collection == "epoch")  # a new SQLite database stores its epoch documents in format 3
    original = document_text(stored)
    at = original.index('"root":') if where == "root" else int(len(original) * where)
    changed = one_digit_changed(original, at)
    assert changed != original and len(changed) == len(original)
    value = pack(changed.encode(), []) if is_packed(stored) else changed  # the changed text, stored as the database stores it
    edit(db, "UPDATE documents SET data = ? WHERE collection = ? AND key = ?", value, collection, key)
    code, report = verify(db)
    assert code == 1 and not report["ok"], report
    assert report["replay"] and report["hash_chain"] and report["signatures"] and report["anchors"]  # only the document is wrong
    if where == "root":
        assert not report["roots_match"] and any(f"epoch {key}: stored root" in e for e in report["errors"]), report["errors"]
    else:
        assert not report["projections"] and report["roots_match"], report
        assert any(f"epoch {key}: stored record differs" in e if collection == "epoch" else "projection slash differs" in e for e in report["errors"])


def test_one_digit_changed_in_a_stored_node_row_is_refused(db):
    """A node row verify recomputes (node_text of the replayed node) differing from the stored one by a digit fails `projections`."""
    con = sqlite3.connect(db)
    node, original = con.execute("SELECT id, data FROM nodes ORDER BY id LIMIT 1").fetchone()
    con.close()
    changed = one_digit_changed(original, len(original) // 2)
    assert changed != original
    edit(db, "UPDATE nodes SET data = ? WHERE id = ?", changed, node)
    code, report = verify(db)
    assert code == 1 and not report["ok"] and not report["projections"] and report["replay"] and report["roots_match"]
    assert any("projection nodes differs" in e and node in e for e in report["errors"]), report["errors"]


@pytest.mark.parametrize("where", [0.3, 0.99])
def test_a_byte_changed_in_a_compressed_epoch_document_is_refused(db, where):
    """A byte changed inside a format-2 document (in its text's frame or its columns' frame) either does not decompress or
    decompresses to another text: `projections` fails, verify does not stop, the log and roots still check."""
    con = sqlite3.connect(db)
    key, stored = con.execute("SELECT key, data FROM documents WHERE collection = 'epoch' ORDER BY key LIMIT 1").fetchone()
    con.close()
    assert is_packed(stored)
    at = int(len(stored) * where)
    changed = stored[:at] + bytes([stored[at] ^ 0x55]) + stored[at + 1 :]
    edit(db, "UPDATE documents SET data = ? WHERE collection = 'epoch' AND key = ?", changed, key)
    code, report = verify(db)
    assert code == 1 and not report["ok"] and not report["projections"], report
    assert report["replay"] and report["hash_chain"] and report["signatures"], report
    assert any(f"epoch {key}: stored" in e for e in report["errors"]), report["errors"]


def test_the_stored_epoch_document_re_spaced_is_refused(db):
    """The same epoch record in other bytes (indented: it parses to what the replay gives) is not the published canonical
    text, so `projections` fails; the log, the roots and every other projection still check."""
    con = sqlite3.connect(db)
    key, stored = con.execute("SELECT key, data FROM documents WHERE collection = 'epoch' ORDER BY key LIMIT 1").fetchone()
    con.close()
    original = document_text(stored)
    spaced = json.dumps(json.loads(original), indent=1, sort_keys=True)
    assert spaced != original and json.loads(spaced) == json.loads(original)
    edit(db, "UPDATE documents SET data = ? WHERE collection = 'epoch' AND key = ?", spaced, key)  # format 1 in a format-2 database: read alike
    code, report = verify(db)
    assert code == 1 and not report["ok"] and not report["projections"], report
    assert report["replay"] and report["hash_chain"] and report["signatures"] and report["roots_match"], report
    assert [e for e in report["errors"] if "epoch" in e] == [
        f"epoch {key}: stored document is the replayed record in other bytes, not its canonical text (sorted keys, no spaces)"
    ]
