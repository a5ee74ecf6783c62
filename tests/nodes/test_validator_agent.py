"""The validator agent against a real `cor serve`: it evaluates with the network's parameters, not the defaults."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from cor_incentives.core.params import Params
from cor_incentives.nodes.agents.validator import ValidatorAgent
from cor_incentives.nodes.link import Link
from cor_incentives.nodes.poi_calibration import garbage_output
from cor_incentives.nodes.validator import evaluate_outputs
from support.network import make_network, run_commit_reveal
from support.scenario import submit_task
from support.server import start_server, stop_server

DATA = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
FLOOR, DMAX = 0, 1_000_000_000  # the genesis's consensus_min_quality_ppb and poi_max_distance_ppb (defaults 0.3, 0.85)


def _p0247() -> tuple[str, int, list[str]]:
    """Two sampled honest answers of the calibration set that lie ~1.0 apart, and a garbage output."""
    prompt = next(p for p in map(json.loads, (DATA / "prompts.jsonl").read_text().splitlines()) if p["id"] == "p0247")
    rows = [json.loads(line) for line in (DATA / "outputs.jsonl").read_text().splitlines()]
    honest = {r["miner"]: r["text"] for r in rows if r["prompt_id"] == "p0247" and r["class"] == "honest"}
    return prompt["prompt"], prompt["max_output_tokens"], [honest[0], honest[4], garbage_output("p0247")]


def test_the_agent_evaluates_with_the_networks_floor_and_threshold(tmp_path):
    prompt, max_out, texts = _p0247()
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    params = {"consensus_min_quality_ppb": FLOOR, "poi_max_distance_ppb": DMAX, "redundancy": 3}
    eng, keys = make_network(url, tmp_path / "keys", n_miners=3, n_validators=3, params=params, seed="agent-params")
    tid = submit_task(eng, keys, prompt, max_out)
    miners = sorted(a.miner for a in eng.state.tasks[tid].miners)
    outputs = dict(zip(miners, texts))
    run_commit_reveal(eng, keys, tid, outputs)
    task = eng.state.tasks[tid]
    assert task.state == "COMMITTED" and task.validators
    me = next(k for k in keys.values() if k.address == task.validators[0])
    del eng

    server = start_server(url, tmp_path / "serve.log")
    stop = threading.Event()
    link = Link(server.base_url, me.private_key, stop=stop)
    try:
        agent = ValidatorAgent("v0", link, logging.getLogger("test.agent"), stop, 0.05, strategy="honest")
        agent.step()
        committed = {r["miner"]: r for r in agent.work[tid]["reports"]}
        assert link.task(tid)["validators"][0]["committed"]
    finally:
        link.close()
        stop_server(server)

    def reports(**kw):
        return {r["miner"]: r for r in evaluate_outputs(prompt, outputs, max_out, **kw)}

    expected = reports(min_quality_ppb=FLOOR, max_distance_ppb=DMAX)
    assert committed == expected
    # the defaults would have given other reports: each of the two parameters changes them
    defaults = Params()
    assert (defaults.consensus_min_quality_ppb, defaults.poi_max_distance_ppb) != (FLOOR, DMAX)
    dist = {m: r["poi_distance_ppb"] for m, r in committed.items()}
    for other in (reports(), reports(min_quality_ppb=FLOOR), reports(max_distance_ppb=DMAX)):
        assert {m: r["poi_distance_ppb"] for m, r in other.items()} != dist
