"""Projections written under another record layout (an older engine's records had other fields) are named by
`cor verify` and rebuilt from the log at the engine's first write, on a real SQLite file."""

import json

from sqlalchemy import update

from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import verify_database
from cor_incentives.store import db
from cor_incentives.store.projections import PROJECTION_LAYOUT, PROJECTION_LAYOUT_KEY, store_layout
from support.network import make_network


def _layout(url: str) -> str | None:
    store = db.Store(url)
    with store.reader() as conn:
        out = store_layout(conn)
    store.dispose()
    return out


def _age(url: str, layout: str | None, drop_field: str) -> None:
    """What an older engine left: another (or no) layout on record and node rows without a field it did not have."""
    store = db.Store(url)
    with store.engine.begin() as conn:
        if layout is None:
            conn.execute(db.meta.delete().where(db.meta.c.key == PROJECTION_LAYOUT_KEY))
        else:
            db.upsert(conn, db.meta, {"key": PROJECTION_LAYOUT_KEY}, {"value": layout})
        for row in conn.execute(db.nodes.select()).all():
            data = json.loads(row.data)
            data.pop(drop_field)
            conn.execute(update(db.nodes).where(db.nodes.c.id == row.id).values(data=db.dumps(data)))
    store.dispose()


def test_a_new_database_records_its_layout_and_verifies(sqlite_url, tmp_path):
    eng, _ = make_network(sqlite_url, tmp_path / "keys", n_miners=3, n_validators=3)
    eng.store.dispose()
    assert _layout(sqlite_url) == PROJECTION_LAYOUT
    report, _ = verify_database(sqlite_url)
    assert report.ok, report.errors


def test_projections_of_another_layout_are_named_by_verify_and_rebuilt_by_the_next_writer(sqlite_url, tmp_path):
    eng, _ = make_network(sqlite_url, tmp_path / "keys", n_miners=3, n_validators=3)
    eng.store.dispose()
    _age(sqlite_url, "0123456789abcdef", "served")
    report, _ = verify_database(sqlite_url)
    assert not report.ok and not report.projections and report.replay and report.signatures
    assert any("another record layout (0123456789abcdef" in e for e in report.errors), report.errors
    reopened = Engine.open(sqlite_url)  # a writer (cor serve, cor init): re-projects the log once
    reopened.store.dispose()
    assert _layout(sqlite_url) == PROJECTION_LAYOUT
    report, _ = verify_database(sqlite_url)
    assert report.ok, report.errors


def test_projections_from_before_layouts_were_recorded_get_a_hint_and_are_rebuilt(sqlite_url, tmp_path):
    eng, _ = make_network(sqlite_url, tmp_path / "keys", n_miners=3, n_validators=3)
    eng.store.dispose()
    _age(sqlite_url, None, "forgiven")
    report, _ = verify_database(sqlite_url)
    assert not report.projections and any("before their record layout was recorded" in e for e in report.errors), report.errors
    reader = Engine.open(sqlite_url, create=False)  # a reader changes nothing ...
    assert _layout(sqlite_url) is None
    reader.store.dispose()
    writer = Engine.open(sqlite_url)  # ... the next writer re-projects
    writer.store.dispose()
    report, _ = verify_database(sqlite_url)
    assert report.ok, report.errors
