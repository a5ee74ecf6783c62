"""DESIGN §3: the same commands on SQLite and on PostgreSQL give the same log, bit for bit.

One seeded scenario (a devnet from ``make_network``; tasks settled with scripted outputs and
validator reports, one with a reveal that does not match its commitment; transfers, a delegation
and an undelegation, an oracle slash, two ``epoch.close``, a reward claim) is run once on each
backend with the same key seeds. Event hashes, stored rows, balances, epoch roots and the state
replayed from each database must be identical, and ``verify_store`` must pass on both.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cor_incentives.app.bundled import BUNDLED_MODEL_ID
from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import state_fingerprint, verify_store
from cor_incentives.app.views import proof
from cor_incentives.core.tasks import commitment
from cor_incentives.store import db
from support.network import COR, by_address, make_network, run_commit_reveal, sha
from support.services import drop_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.postgres

PROMPTS = ["What is the capital of France? Answer in one sentence.", "Nenne die Hauptstadt Österreichs — kurz."]
HONEST = ["The capital of France is Paris.", "Paris is the capital of France.", "Paris — la capitale de la France.", "It is Paris."]
GARBAGE = "qwx zzkv plor mnbvc xxqq lkjh"


def scripted_reports(task: Any, garbage: set[str], validator: str) -> list[dict[str, Any]]:
    """What a validator would report, without running a model: fixed, distinct integers."""
    revealed = sorted(a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch)
    jitter = int(validator[-4:], 16) % 1000
    return [{"miner": m,
             "poi_distance_ppb": (420_000_000 if m in garbage else 40_000_000 + 7_919 * i) + jitter,
             "quality_ppb": (120_000_000 if m in garbage else 810_000_000 - 3_001 * i) + jitter,
             "criteria": {"relevance": 700_000_000 + i, "integrity": 900_000_000 - jitter}}
            for i, m in enumerate(revealed)]


def submit_task(eng: Engine, keys: dict, prompt: str, max_out: int = 48) -> int:
    tid = eng.state.next_id
    eng.store.put_blob(prompt.encode())
    eng.submit_as(keys["alice"], "task.submit", {"session": 1, "model": BUNDLED_MODEL_ID, "prompt_hash": sha(prompt),
                                                "prompt_bytes": len(prompt.encode()), "input_tokens": 14,
                                                "max_output_tokens": max_out, "router": keys["router0"].address})
    return tid


def validate(eng: Engine, keys: dict, tid: int, garbage: set[str]) -> None:
    k = by_address(keys)
    for v in list(eng.state.tasks[tid].validators):
        if eng.state.tasks[tid].state != "COMMITTED":
            break
        eng.submit_as(k[v], "task.validate", {"task": tid, "reports": scripted_reports(eng.state.tasks[tid], garbage, v)})


def settle_honest_task(eng: Engine, keys: dict, prompt: str, with_garbage: bool) -> int:
    tid = submit_task(eng, keys, prompt)
    miners = [a.miner for a in eng.state.tasks[tid].miners]
    texts = HONEST[: len(miners) - 1] + [GARBAGE if with_garbage else HONEST[-1]]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, texts)), tokens={m: 9 + i for i, m in enumerate(miners)})
    validate(eng, keys, tid, {miners[-1]} if with_garbage else set())
    assert eng.state.tasks[tid].state == "SETTLED"
    return tid


def settle_task_with_cheat(eng: Engine, keys: dict) -> int:
    """The first miner reveals something other than it committed to: slashed by the core."""
    k = by_address(keys)
    tid = submit_task(eng, keys, PROMPTS[0])
    task = eng.state.tasks[tid]
    for a in task.miners:
        eng.submit_as(k[a.miner], "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, sha(HONEST[0]), "s")})
    for i, a in enumerate(task.miners):
        shown = sha("something else") if i == 0 else sha(HONEST[0])
        eng.store.put_blob(HONEST[0].encode())
        eng.submit_as(k[a.miner], "task.reveal", {"task": tid, "output_hash": shown, "salt": "s", "output_tokens": 8})
    validate(eng, keys, tid, set())
    return tid


def run_scenario(url: str, keys_path) -> Engine:
    eng, keys = make_network(url, keys_path, n_miners=5, n_validators=3, params={"redundancy": 4}, seed="backends")
    miner0 = keys["miner0"].address
    for i, prompt in enumerate(PROMPTS):
        settle_honest_task(eng, keys, prompt, with_garbage=i == 0)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(123_456_789_012_345_678_901)})
    eng.submit_as(keys["bob"], "transfer", {"to": keys["carol"].address, "amount": "1"})
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner0, "amount": str(1_000 * COR)})
    eng.submit_as(keys["carol"], "stake.delegate", {"node": keys["validator0"].address, "amount": str(250 * COR + 7)})
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    eng.submit_as(keys["oracle"], "epoch.close", {})

    settle_task_with_cheat(eng, keys)
    settle_honest_task(eng, keys, PROMPTS[1], with_garbage=False)
    eng.submit_as(keys["oracle"], "slash.report", {"node": keys["miner1"].address, "offence": "commit_mismatch", "offence_tick": 1,
                                                   "evidence": {"task": "t-1", "commit": "0xaa", "reveal": "0xbb"},
                                                   "reporter": keys["dave"].address})
    eng.submit_as(keys["carol"], "stake.undelegate", {"node": keys["validator0"].address, "amount": str(100 * COR)})
    eng.submit_as(keys["oracle"], "epoch.close", {})

    record = eng.state.epochs[0]
    assert record.root and record.leaves
    who, _ = sorted(record.leaves.items())[0]
    p = proof(eng.state, who, 0)
    eng.submit_as(by_address(keys).get(who, keys["dave"]), "reward.claim",
                  {"address": who, "epoch": 0, "amount": p["amount_units"], "proof": p["proof"]})
    assert f"0|{who}" in eng.state.claimed
    return eng


def dump_tables(store: db.Store) -> dict[str, list[tuple]]:
    """Every row of every table, in a backend-independent order."""
    out = {}
    with store.reader() as conn:
        for table in db.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            rows = sorted(conn.execute(select(table)).mappings(), key=lambda r: tuple(r[c] for c in pk))  # not the DB's collation
            out[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r.values()) for r in rows]
    return out


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    name = request.node.nodeid + "::scenario"
    tmp = tmp_path_factory.mktemp("backends")
    pg_url = fresh_postgres_database(name)
    engines = {
        "sqlite": run_scenario(f"sqlite:///{tmp / 'cor.db'}", tmp / "keys-sqlite"),
        "postgres": run_scenario(pg_url, tmp / "keys-postgres"),
    }
    assert engines["postgres"].store.is_postgres and not engines["sqlite"].store.is_postgres
    yield engines
    for eng in engines.values():
        eng.store.engine.dispose()
    drop_postgres_database(name)


def test_the_scenario_did_what_it_says(runs):
    s = runs["sqlite"].state
    assert s.seq > 60 and sorted(s.epochs) == [0, 1] and len(s.slashes) == 2 and s.claimed
    assert sum(1 for t in s.tasks.values() if t.state == "SETTLED") >= 3 and s.unbondings


def test_event_hashes_are_byte_identical(runs):
    logs = {b: [(e.seq, e.tick, e.payload, e.signature, e.prev_hash, e.hash) for e in eng.store.iter_events()]
            for b, eng in runs.items()}
    assert len(logs["sqlite"]) == runs["sqlite"].state.seq + 1
    assert logs["sqlite"] == logs["postgres"]
    assert runs["sqlite"].state.head_hash == runs["postgres"].state.head_hash == logs["sqlite"][-1][-1]


def test_every_stored_row_is_identical(runs):
    """events (all columns), balances, postings, nodes, documents (epochs, slashes, unbonding), meta, blobs."""
    tables = {b: dump_tables(eng.store) for b, eng in runs.items()}
    for name in tables["sqlite"]:
        assert tables["sqlite"][name] == tables["postgres"][name], name
    assert any("Österreichs".encode() in row[2] for row in tables["postgres"]["blobs"])  # bytes, not text


def test_balances_and_epoch_roots_are_identical(runs):
    s, p = runs["sqlite"].state, runs["postgres"].state
    assert s.ledger.balances == p.ledger.balances
    roots = {e: r.root for e, r in s.epochs.items()}
    assert roots == {e: r.root for e, r in p.epochs.items()} and roots[0]
    assert s.to_dict() == p.to_dict()


def test_replay_from_each_database_is_identical_and_verifies(runs):
    prints = set()
    for backend, eng in runs.items():
        report, replayed = verify_store(eng.store)
        assert report.ok, (backend, report.errors)
        assert report.epochs_checked == 2 and report.roots_match
        reopened = Engine.open(eng.store.url)
        assert reopened.state.to_dict() == replayed.to_dict() == eng.state.to_dict()
        prints.add(state_fingerprint(reopened.state))
        reopened.store.engine.dispose()
    assert len(prints) == 1
