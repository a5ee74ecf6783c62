"""`cor devnet` with the real LLM and a canary in every network task: the oracle plants SmolLM2's answer to another
prompt (``nodes.canary``), honest validators put it out and fail no canary, the copier validator lets it pass.

Small on purpose, like test_devnet_llama.py (one epoch of 9 ticks, a network task every 3 ticks, 3 honest miners,
lockstep): two tasks, each with one planted output and two honest ones. Validators: 2 honest (the model checks on)
and a copier (no evaluation: it reports every output at distance 0, quality 0.8).
"""

from __future__ import annotations

import pytest

from cor_incentives.ai.quality import word_salad
from cor_incentives.app.engine import Engine
from devnet.helpers import every_task, run_devnet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("llama_cpp")
    return run_devnet(
        tmp_path_factory.mktemp("devnet-llama-canary"),
        "--epochs",
        "1",
        "--miners-backend",
        "llama",
        "--miners",
        "honest:3",
        "--validators",
        "honest:2,copier",
        "--users",
        "0",
        "--routers",
        "0",
        "--clock",
        "lockstep",
        "--param",
        "epoch_length_ticks=9",
        "--param",
        "network_task_interval_ticks=3",
        "--canary-rate",
        "1",
        "--seed",
        "test-llama-canary",
        timeout=900,
    )


@pytest.fixture(scope="module")
def canaries(run):
    """(task, prompt, {miner: output}, planted miner) of every task whose planted output the oracle opened."""
    engine = Engine.open(run.db_url)
    out = []
    for t in every_task(engine.state):  # (rule 27: closed tasks read from the database)
        if t.canary == "planted":
            outputs = {a.miner: engine.store.get_blob(a.output_hash).decode() for a in t.miners if a.output_hash}
            out.append((t, engine.store.get_blob(t.prompt_hash).decode(), outputs, next(a.miner for a in t.miners if a.planted)))
    engine.store.engine.dispose()
    return out


def test_every_network_task_was_a_canary_and_honest_validators_failed_none(run, canaries):
    d = run.data
    assert d["verify"]["ok"] and d["network_tasks"] == 2 and d["canaries_opened"] == 2 == len(canaries)
    v = {r["name"]: r for r in d["nodes"] if r["role"] == "validator"}
    assert v["validator-1"]["canaries_failed"] == v["validator-2"]["canaries_failed"] == 0
    assert d["tasks"]["canary"] == {"planted": 2} and d["tasks"]["by_state"] == {"SETTLED": 2}
    assert int(v["validator-1"]["slashes_units"]) == int(v["validator-2"]["slashes_units"]) == 0
    assert v["validator-copier"]["canaries_failed"] == 2  # the canaries bite: a validator that does not evaluate fails them


def test_the_planted_output_is_fluent_model_text_and_out_of_consensus(canaries):
    for t, _, outputs, planted_by in canaries:
        planted = outputs[planted_by]
        honest = [o for m, o in outputs.items() if m != planted_by]
        assert not word_salad(planted) and not any(word_salad(o) for o in honest), planted  # no lexical tell
        assert planted not in honest and len(planted.split()) >= 5
        assert not next(a for a in t.miners if a.miner == planted_by).in_consensus
        assert sum(a.in_consensus for a in t.miners) == 2  # both honest answers in: the task settles on them
