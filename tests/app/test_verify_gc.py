"""`cor verify` replays with the cyclic garbage collector paused, and leaves it as it found it.

The log is real (SQLite file, real keys, the engine). The replay's `apply` is wrapped to note whether
the collector was on while each event applied; the collector's state after verify must be the one
before it, also when the block is left by an exception."""

from __future__ import annotations

import gc

import pytest

from cor_incentives.app import verify as verify_mod
from cor_incentives.core import apply as apply_mod
from cor_incentives.store.db import Store
from support.network import make_network


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify-gc")
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys")
    eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "5"})
    eng.store.dispose()
    return d / "cor.db"


def _verify_noting_gc(db, monkeypatch) -> tuple[bool, set[bool]]:
    seen: set[bool] = set()
    real = apply_mod.apply

    def noting(state, event, **kw):
        seen.add(gc.isenabled())
        return real(state, event, **kw)

    monkeypatch.setattr(verify_mod, "apply", noting)
    store = Store(f"sqlite:///{db}", create=False)
    try:
        report, _ = verify_mod.verify_store(store)
    finally:
        store.dispose()
    return report.ok, seen


@pytest.mark.parametrize("on_before", [True, False])
def test_the_replay_runs_without_the_collector_and_restores_it(db, monkeypatch, on_before):
    was = gc.isenabled()
    try:
        gc.enable() if on_before else gc.disable()
        ok, seen = _verify_noting_gc(db, monkeypatch)
        assert ok and seen == {False}
        assert gc.isenabled() == on_before
    finally:
        gc.enable() if was else gc.disable()


def test_an_exception_inside_the_pause_restores_the_collector():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), verify_mod.cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
