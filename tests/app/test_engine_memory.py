"""The engine's heavy blocks run under ``engine_memory``: the cyclic garbage collector paused and numpy's
huge-page advice off, both left as they were found (``app/collector.py``).

The log is real (SQLite file, real keys, the engine). ``apply`` is wrapped to note the collector's state
and numpy's advice while each event applies: in ``cor verify``'s replay, in the engine's load (replay at
open) and in a writer transaction (``submit``). Afterwards both must be what they were before, also when
the block is left by an exception."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
from numpy._core.multiarray import _set_madvise_hugepage as set_advice  # the pinned numpy has the switch

from cor_incentives.app import collector
from cor_incentives.app import engine as engine_mod
from cor_incentives.app import verify as verify_mod
from cor_incentives.app.engine import Engine
from cor_incentives.core import apply as apply_mod
from cor_incentives.store.db import Store
from support.network import make_network


def advice() -> bool:
    """numpy's huge-page advice now (read by setting it and putting it back)."""
    was = set_advice(True)
    set_advice(was)
    return was


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    d = tmp_path_factory.mktemp("engine-memory")
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys")
    eng.submit_as(keys["carol"], "transfer", {"to": keys["dave"].address, "amount": "5"})
    eng.store.dispose()
    return d / "cor.db", keys


@pytest.fixture(params=[(True, True), (False, False)], ids=["on-before", "off-before"])
def before(request):
    """The collector and numpy's advice set to the parameter's values for the test, and put back after it."""
    gc_was, advice_was = gc.isenabled(), advice()
    gc_on, advice_on = request.param
    gc.enable() if gc_on else gc.disable()
    set_advice(advice_on)
    yield request.param
    gc.enable() if gc_was else gc.disable()
    set_advice(advice_was)


@pytest.fixture
def noted(monkeypatch):
    """(collector on?, advice on?) at each event ``apply`` sees, in verify and in the engine."""
    seen: set[tuple[bool, bool]] = set()
    real = apply_mod.apply

    def noting(state, event, **kw):
        seen.add((gc.isenabled(), advice()))
        return real(state, event, **kw)

    monkeypatch.setattr(verify_mod, "apply", noting)
    monkeypatch.setattr(engine_mod, "apply", noting)
    return seen


def verified(network):
    """``verify_store`` of the network's database: its report and replayed state."""
    store = Store(f"sqlite:///{network[0]}", create=False)
    try:
        return verify_mod.verify_store(store)
    finally:
        store.dispose()


def test_verify_replays_under_it_and_restores_both(network, before, noted):
    report, _ = verified(network)
    assert report.ok and noted == {(False, False)}
    assert (gc.isenabled(), advice()) == before


def test_the_engine_loads_and_writes_under_it_and_restores_both(network, before, noted, tmp_path):
    db, keys = network
    eng = Engine.open(f"sqlite:///{db}", snapshots=False)  # the whole log replayed at open
    try:
        assert noted == {(False, False)} and (gc.isenabled(), advice()) == before
        noted.clear()
        eng.submit_as(keys["dave"], "transfer", {"to": keys["carol"].address, "amount": "1"})
        assert noted == {(False, False)} and (gc.isenabled(), advice()) == before
    finally:
        eng.store.dispose()


def test_an_exception_inside_the_block_restores_both(before):
    with pytest.raises(RuntimeError), collector.engine_memory():
        assert not gc.isenabled() and not advice()
        raise RuntimeError("boom")
    assert (gc.isenabled(), advice()) == before


FIRST_IMPORT = """
import os, sys
from cor_incentives.app.collector import small_pages
assert "numpy" not in sys.modules
with small_pages():
    import numpy
    from numpy._core.multiarray import _set_madvise_hugepage
    print(_set_madvise_hugepage(False), os.environ.get("NUMPY_MADVISE_HUGEPAGE"))
print(os.environ.get("NUMPY_MADVISE_HUGEPAGE"))
"""


def test_a_numpy_first_imported_inside_the_block_starts_without_the_advice():
    """small_pages does not import numpy (read commands never load it); a numpy imported inside the block reads the
    environment it sets, and the environment is as it was after the block."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    out = subprocess.run([sys.executable, "-c", FIRST_IMPORT], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "0", "None"]


@pytest.fixture
def collector_off():
    """The collector paused for the test, nothing frozen (another test's freeze is unfrozen: aged, as the helper does),
    and the collector put back after it."""
    was = gc.isenabled()
    gc.unfreeze()
    gc.disable()
    yield
    gc.unfreeze()
    gc.enable() if was else gc.disable()


def _in_oldest_generation(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects(generation=2))


def test_age_survivors_moves_what_a_paused_block_made_into_the_oldest_generation(collector_off):
    kept = [[i] for i in range(5_000)]
    assert gc.get_count()[0] >= 5_000 and not _in_oldest_generation(kept[-1])
    assert collector.age_survivors() is True
    assert gc.get_count()[0] < 100 and _in_oldest_generation(kept) and _in_oldest_generation(kept[-1])
    assert gc.get_freeze_count() == 0  # nothing left frozen


def test_age_survivors_leaves_a_process_that_keeps_objects_frozen_alone(collector_off):
    frozen = [[i] for i in range(100)]
    gc.freeze()  # as `cor serve` freezes what its workers share
    n = gc.get_freeze_count()
    young = [[i] for i in range(5_000)]
    assert collector.age_survivors() is False
    assert gc.get_freeze_count() == n and gc.get_count()[0] >= 5_000 and not _in_oldest_generation(young[-1])
    assert not _in_oldest_generation(frozen[-1])  # still frozen


def test_verify_ages_the_replayed_state_before_the_collector_resumes(network, collector_off):
    """The state verify returns (made by its replay, the collector paused) is in the oldest generation: no young
    collection will walk it (with the collector left paused, nothing else could have moved it there)."""
    report, state = verified(network)
    assert report.ok and state.nodes
    assert _in_oldest_generation(state.ledger.balances) and _in_oldest_generation(next(iter(state.nodes.values())))


def test_verify_in_a_process_that_keeps_objects_frozen_leaves_them_frozen(network, collector_off):
    """As in `cor serve` (what its workers share frozen): verify's block ages nothing, so what was frozen stays out of
    every collection, and the replayed state is left where the paused block made it (not aged, not frozen)."""
    shared = [[i] for i in range(100)]
    gc.freeze()
    n = gc.get_freeze_count()
    report, state = verified(network)
    assert report.ok and state.nodes
    assert 0 < gc.get_freeze_count() <= n  # (frozen objects that died meanwhile leave the count; nothing unfroze it)
    assert not any(o is shared or o is shared[-1] for o in gc.get_objects())  # in no generation: still frozen
    assert not _in_oldest_generation(state.ledger.balances)  # left where the paused block made it: not aged
