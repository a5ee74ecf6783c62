"""A log the core refuses on replay: the report names the event, and the state `verify_store` returns is empty.

`cor verify` replays without an undo journal, so when the core refuses an event the replay's state
holds whatever that event wrote before it failed: no state of the log. It is never handed out: the
caller gets `State()` (and `report.replay` is False). The log is real (SQLite file, real keys, the
engine); the refused event is one an actor re-signed with its own key, for more than its wallet holds,
with the hash chain recomputed after it, as a tamperer with write access to the file could."""

from __future__ import annotations

import sqlite3

from cor_incentives.app import verify as verify_mod
from cor_incentives.app.signing import sign_command
from cor_incentives.core.events import Command, event_hash
from cor_incentives.core.state import State
from cor_incentives.core.units import COR
from cor_incentives.store.db import Store
from support.network import make_network


def test_a_refused_event_is_named_and_no_partial_state_is_returned(tmp_path):
    db = tmp_path / "cor.db"
    eng, keys = make_network(f"sqlite:///{db}", tmp_path / "keys")
    eng.submit_as(keys["dave"], "transfer", {"to": keys["carol"].address, "amount": str(COR)})
    seq = eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "7"}).seq
    eng.store.dispose()

    store = Store(f"sqlite:///{db}", create=False)
    clean, replayed = verify_mod.verify_store(store)
    store.dispose()
    assert clean.ok and replayed.seq == seq, clean.errors

    con = sqlite3.connect(db)
    payload, prev = con.execute("SELECT payload, prev_hash FROM events WHERE seq = ?", (seq,)).fetchone()
    cmd = Command.decode(payload)
    forged, sig = sign_command(keys["carol"].private_key, cmd.chain_id, cmd.kind, cmd.nonce, {**cmd.body, "amount": str(10**9 * COR)})
    con.execute(
        "UPDATE events SET payload = ?, signature = ?, hash = ? WHERE seq = ?",
        (forged.decode(), sig, event_hash(prev, seq, forged, sig), seq),
    )
    con.commit()
    con.close()

    store = Store(f"sqlite:///{db}", create=False)
    report, state = verify_mod.verify_store(store)
    store.dispose()
    assert not report.ok and not report.replay and report.signatures and report.hash_chain, report.errors
    assert report.first_bad_seq == seq and any("insufficient_funds" in e for e in report.errors), report.errors
    assert verify_mod.state_fingerprint(state) == verify_mod.state_fingerprint(State())


def test_the_replay_stops_at_a_refused_event_in_the_middle_of_the_log(tmp_path, monkeypatch):
    """A refused event with good events after it (the chain recomputed over them): the report names that event's
    seq and nothing later, every event is still read and its chain and signature checked, and the core applies
    nothing after it (each event the replay hands to the core is recorded)."""
    db = tmp_path / "cor.db"
    eng, keys = make_network(f"sqlite:///{db}", tmp_path / "keys")
    eng.submit_as(keys["dave"], "transfer", {"to": keys["carol"].address, "amount": str(COR)})
    bad = eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "7"}).seq
    for _ in range(3):  # events the replay would accept, had it gone on
        eng.submit_as(keys["dave"], "transfer", {"to": keys["carol"].address, "amount": "5"})
        last = eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "3"}).seq
    eng.store.dispose()

    con = sqlite3.connect(db)
    payload, prev = con.execute("SELECT payload, prev_hash FROM events WHERE seq = ?", (bad,)).fetchone()
    cmd = Command.decode(payload)
    forged, sig = sign_command(keys["carol"].private_key, cmd.chain_id, cmd.kind, cmd.nonce, {**cmd.body, "amount": str(10**9 * COR)})
    head = event_hash(prev, bad, forged, sig)
    con.execute("UPDATE events SET payload = ?, signature = ?, hash = ? WHERE seq = ?", (forged.decode(), sig, head, bad))
    for seq, payload, signature in con.execute("SELECT seq, payload, signature FROM events WHERE seq > ? ORDER BY seq", (bad,)).fetchall():
        data = payload.encode() if isinstance(payload, str) else payload
        new = event_hash(head, seq, data, signature)
        con.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (head, new, seq))
        head = new
    con.commit()
    con.close()

    applied: list[int] = []
    real_apply = verify_mod.apply

    def recording_apply(state, event, **kwargs):
        applied.append(event.seq)
        return real_apply(state, event, **kwargs)

    monkeypatch.setattr(verify_mod, "apply", recording_apply)
    store = Store(f"sqlite:///{db}", create=False)
    report, state = verify_mod.verify_store(store)
    store.dispose()
    assert last > bad + 1 and report.events == last + 1, report.errors
    assert not report.ok and not report.replay and report.hash_chain and report.signatures, report.errors
    assert report.first_bad_seq == bad and report.errors and all(e.startswith(f"seq {bad}:") for e in report.errors), report.errors
    assert any("insufficient_funds" in e for e in report.errors), report.errors
    assert applied == list(range(bad + 1)), applied  # every event up to the refused one, then none
    assert verify_mod.state_fingerprint(state) == verify_mod.state_fingerprint(State())
