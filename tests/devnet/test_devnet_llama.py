"""`cor devnet` with the real LLM: honest miners run SmolLM2-135M (llama-cpp-python) in their own
processes, validators embed with all-MiniLM-L6-v2 and read each output with SmolLM2 (the model
checks) — and the test checks that this is what happened.

Small on purpose (one epoch of 9 ticks, a network task every 3 ticks, 3 honest miners, 2 honest
validators, no user, no canary): two tasks (ticks 3 and 6), six real generations. The network draws a task's
miners with the next tick's beacon value and its validators with the value after the last reveal, so
a task needs two ticks after it is issued; the lockstep clock waits for all owed work before each
tick, so both settle in the epoch.
"""

from __future__ import annotations

import pytest

from cor_incentives.app.engine import Engine
from cor_incentives.nodes.backends import ScriptedBackend
from cor_incentives.nodes.strategies import LAZY_ANSWER
from devnet.helpers import every_task, run_devnet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("llama_cpp")
    return run_devnet(
        tmp_path_factory.mktemp("devnet-llama"),
        "--epochs",
        "1",
        "--miners-backend",
        "llama",
        "--miners",
        "honest:3",
        "--validators",
        "honest:2",
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
        "0",  # every output honest (the canaries: test_devnet_llama_canary.py)
        "--seed",
        "test-llama",
        timeout=600,
    )


@pytest.fixture(scope="module")
def settled(run):
    engine = Engine.open(run.db_url)
    every = every_task(engine.state)  # (rule 27: a closed task's whole record is in the database, a stub stays live)
    tasks = [t for t in every if t.state == "SETTLED"]
    assert len(tasks) == 2, {t.id: (t.state, t.failure) for t in every}
    yield engine, tasks
    engine.store.engine.dispose()


def test_the_run_is_small_and_verifies(run):
    d = run.data
    assert d["miner_sampling"]["temperature"] == 0.7  # the default: miners sample
    assert d["backend"] == "llama" and d["verify"]["ok"] and d["network_tasks"] == 2
    assert [a["ok"] for a in d["audit"]] == [True] * len(d["audit"]) and d["audit"] and d["audit"][-1]["matched"] == d["audit"][-1]["total"] > 0
    assert d["tasks"]["by_state"] == {"SETTLED": 2}
    for r in d["nodes"]:
        assert r["tasks"] >= 1 and int(r["slashes_units"]) == 0, r
        assert int(r["net_profit_units"]) > 0, r


def test_revealed_outputs_are_real_model_text(run, settled):
    """Regenerate every miner's output with the same model, its temperature and its own seed: each
    miner revealed exactly that text (sampling, yet reproducible), and the miners did not all agree."""
    from cor_incentives.ai.tokens import count_tokens
    from cor_incentives.nodes.backends import LlamaBackend, Sampling, derive_seed

    ms = run.data["miner_sampling"]
    assert ms["applies"] and not ms["greedy"] and ms["temperature"] == 0.7 and ms["top_k"] == 40
    names = {r["address"]: r["name"] for r in run.data["nodes"]}
    assert len(set(ms["node_seeds"].values())) == len(ms["node_seeds"]) == 3  # a seed per node
    engine, tasks = settled
    distinct = 0
    for task in tasks:
        prompt = engine.store.get_blob(task.prompt_hash).decode()
        outputs = {a.miner: engine.store.get_blob(a.output_hash).decode() for a in task.miners}
        assert len(outputs) == 3 and all(a.in_consensus for a in task.miners)
        scripted = ScriptedBackend().generate(prompt, task.max_output_tokens).text
        for a in task.miners:
            node_seed = ms["node_seeds"][names[a.miner]]
            llama = LlamaBackend(n_threads=1, sampling=Sampling(temperature=ms["temperature"], seed=node_seed))
            again = llama.generate(prompt, task.max_output_tokens, seed=derive_seed(node_seed, task.id))
            assert outputs[a.miner] == again.text and outputs[a.miner] not in (scripted, LAZY_ANSWER)
            # the validators' count of the revealed text (rule 6), which can differ by a token from the sampler's own
            # count (the text re-tokenised merges differently), never the miner's claim
            assert a.output_tokens == count_tokens(outputs[a.miner])
        distinct += len(set(outputs.values())) > 1
    assert distinct >= 1  # sampled with different seeds: the honest miners' outputs differ


def test_validator_reports_came_from_the_embedding_model(settled):
    """Recompute PoI and PoUW (with the model checks: the validators run the bundled model) on the
    revealed outputs: the validators reported exactly these numbers, and the sampled answers pass."""
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.likelihood import TeacherForcer
    from cor_incentives.nodes.agents.validator import READER_CONTEXT
    from cor_incentives.nodes.validator import evaluate_outputs

    engine, tasks = settled
    reader = TeacherForcer(gguf_path(), n_threads=1, n_ctx=READER_CONTEXT)
    for task in tasks:
        prompt = engine.store.get_blob(task.prompt_hash).decode()
        outputs = {a.miner: engine.store.get_blob(a.output_hash).decode() for a in task.miners if a.reveal_tick is not None}
        expected = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, task.max_output_tokens, reader=reader)}
        assert all(r["criteria"]["fidelity"] >= 900_000_000 and r["criteria"]["ending"] == 10**9 for r in expected.values())
        assert task.reports and set(task.reports) == set(task.validators)
        for v, per_miner in task.reports.items():
            for m, (distance, quality) in per_miner.items():
                assert (distance, quality) == (expected[m]["poi_distance_ppb"], expected[m]["quality_ppb"])
                assert task.criteria[v][m] == expected[m]["criteria"]
