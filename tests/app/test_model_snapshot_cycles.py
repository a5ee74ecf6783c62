"""Rule 25 with a database, as a property: random cycles of model listings, fine-tunes, retires, network tasks naming
the models (open across closes, so a retired model waits for them), ticks, closes (the prune moves the retired models to
the database) and an id listed again after it left; the last close keeps a retired parent its fine-tune names. At the end, on SQLite
and PostgreSQL:

- an engine opened from the newest snapshot (a tail after it replayed) and one that replays the whole log reach the
  live state (the same bytes, the same ``state_fingerprint`` and the same derived indexes, ``retired_models`` among them);
- every model that left is read back from the database (``archive.get_model``) as its last record, and every listing
  of an id (listed, retired, gone and listed again) as the listing in force at its tick (``at_tick``);
- ``cor verify``'s ``verify_store`` re-derives the pruned hash with every record.

``COR_MODEL_SNAP_EXAMPLES`` raises the example count for a hunt (the default keeps ``make test`` fast)."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.app.archive import get_model
from cor_incentives.app.engine import Engine
from cor_incentives.app.keys import Keystore
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.core.errors import EngineError
from cor_incentives.core.state_codec import encode_state
from support.network import COR, make_network, sha

EXAMPLES = int(os.environ.get("COR_MODEL_SNAP_EXAMPLES", "8"))
IDS = [BUNDLED_MODEL_ID, "m-0", "m-1", "m-2"]
OWNERS = ["bob", "carol", "modeldev"]
KEPT = "kept"  # a parent retired before the last close, live after it (its fine-tune stays)
STEP = st.one_of(
    st.tuples(st.just("cycle"), st.integers(1, 3), st.integers(0, 4), st.integers(0, 2), st.booleans(), st.integers(0, 2)),
    st.tuples(st.just("cycle"), st.integers(1, 3), st.just(4), st.integers(0, 2), st.booleans(), st.integers(1, 2)),
    st.tuples(st.just("register"), st.integers(0, 3), st.integers(0, 4), st.integers(0, 2)),
    st.tuples(st.just("register"), st.integers(1, 3), st.just(4), st.integers(0, 2)),
    st.tuples(st.just("retire"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("task"), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 20])),
    st.tuples(st.just("close")),
    st.tuples(st.just("close")),
    st.tuples(st.just("snapshot")),
)
_names = itertools.count()


def card(model_id: str, parent: str | None) -> dict[str, Any]:
    body = {"id": model_id, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": sha(model_id)}
    return body | ({"parent": parent} if parent is not None else {})


def cycles(url: str, keys_dir: Path, steps: list[tuple[Any, ...]]) -> None:
    eng, keys = make_network(
        url, keys_dir, n_miners=1, n_validators=1, beacon=False, params={"prune_closed_records": 1, "redundancy": 1, "min_consensus": 1}
    )
    keys["x0"] = Keystore(keys_dir).new("x0", seed="cycles")  # a miner serving every id (the network's serve the bundled one)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["x0"].address, "amount": str(3_000 * COR)})
    eng.submit_as(keys["x0"], "node.register", {"role": "miner", "self_bond": str(2_000 * COR), "models": IDS})
    session = next(s.id for s in eng.state.sessions.values() if s.owner == keys["alice"].address)
    last: dict[str, tuple[int, str]] = {}  # id -> (registered_tick, owner) of its newest record
    listings: list[tuple[str, int, str]] = []  # every accepted listing: (id, registered_tick, owner)

    def send(key: Any, kind: str, body: dict[str, Any]) -> bool:
        try:
            eng.submit_as(key, kind, body)
        except EngineError as e:
            event(f"{kind}: {e.code}")
            return False
        event(f"{kind}: accepted")
        return True

    def register(k: int, parent: int, who: int) -> None:
        again = IDS[k] in last and IDS[k] not in eng.state.models
        if send(keys[OWNERS[who]], "model.register", card(IDS[k], IDS[parent] if parent < len(IDS) else None)):
            last[IDS[k]] = (eng.state.tick, keys[OWNERS[who]].address)
            listings.append((IDS[k], *last[IDS[k]]))
            event(f"an id listed again after it left: {again}")

    def retire(k: int, by_owner: bool) -> None:
        m = eng.state.models.get(IDS[k])
        owner = next((key for key in keys.values() if m is not None and key.address == m.owner), keys["dave"])
        send(owner if by_owner else keys["dave"], "model.retire", {"model": IDS[k]})

    def task(k: int) -> None:
        """A user task naming ``IDS[k]``, open (a miner is drawn at once, no one answers) until its deadline."""
        body = {"model": IDS[k], "prompt_hash": sha(f"p{eng.state.next_id}"), "prompt_bytes": 8, "input_tokens": 4, "max_output_tokens": 16}
        send(keys["alice"], "task.submit", {"session": session, **body})

    try:
        for step in steps:
            if step[0] == "cycle":  # listed (a fine-tune at times), a task naming it, retired by its owner, closes
                _, k, parent, who, with_task, closes = step
                register(k, parent, who)
                if with_task:
                    task(k)
                retire(k, True)
                for _ in range(closes):
                    send(keys["oracle"], "epoch.close", {})
            elif step[0] == "register":
                register(*step[1:])
            elif step[0] == "retire":
                retire(*step[1:])
            elif step[0] == "task":
                task(step[1])
            elif step[0] == "tick":
                send(keys["oracle"], "tick", {"ticks": step[1]})
            elif step[0] == "close":
                send(keys["oracle"], "epoch.close", {})
            else:
                event(f"snapshot stored: {eng.snapshot_head()}")
        # a retired parent its live fine-tune keeps past the last close: the snapshot holds a model a decode must put back in
        # ``retired_models`` and a count in ``fine_tune_counts`` (else both are empty there and a decode that rebuilt
        # neither would pass)
        eng.submit_as(keys["bob"], "model.register", card(KEPT, None))
        eng.submit_as(keys["carol"], "model.register", card(f"{KEPT}-tune", KEPT))
        eng.submit_as(keys["bob"], "model.retire", {"model": KEPT})
        eng.submit_as(keys["oracle"], "epoch.close", {})  # the newest snapshot is at most this close's
        assert KEPT in eng.state.retired_models and eng.state.fine_tune_counts[KEPT] == 1
        eng.submit_as(keys["oracle"], "tick", {"ticks": 1})  # a tail after it: the engine opened from it replays
        live = encode_state(eng.state), state_fingerprint(eng.state), eng.state.entry_indexes()
        report, _ = verify_store(eng.store)
        assert report.ok, report.to_dict()
        gone = {mid: t for mid, t in last.items() if mid not in eng.state.models}
        event(f"models that left and stay gone: {min(len(gone), 2)}+")
    finally:
        eng.store.dispose()
    opened = [Engine.open(url), Engine.open(url, snapshots=False)]
    try:
        report = opened[0].snapshot_report
        assert report.seq is not None and report.refused == [] and report.replayed >= 1
        assert opened[1].snapshot_report.seq is None
        for e in opened:
            assert (encode_state(e.state), state_fingerprint(e.state), e.state.entry_indexes()) == live  # derived indexes too
            e.state.check_entry_indexes()
            for mid, (tick, owner) in gone.items():
                m = get_model(e.state, mid)
                assert (m.registered_tick, m.owner) == (tick, owner) and m.retired_tick is not None, mid
            for mid, tick, owner in listings:  # each listing of an id, the ones that left included, at its tick
                m = get_model(e.state, mid, at_tick=tick)
                assert (m.registered_tick, m.owner) == (tick, owner), (mid, tick)
    finally:
        for e in opened:
            e.store.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=4, max_size=30))
def test_a_database_opened_from_a_snapshot_after_model_retire_cycles_is_the_full_replay(backend: str, steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            cycles(f"sqlite:///{Path(tmp) / 'cor.db'}", Path(tmp) / "keys", steps)
            return
        from support.services import drop_postgres_database, fresh_postgres_database

        name = f"model-snapshot-cycles-{os.getpid()}-{next(_names)}"
        try:
            cycles(fresh_postgres_database(name), Path(tmp) / "keys", steps)
        finally:
            drop_postgres_database(name)
