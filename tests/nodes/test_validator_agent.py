"""The validator agent against a real `cor serve`: it evaluates with the network's parameters, not the defaults, and on
the spread rule (12) it reveals raw distances and its spread, from which the core sets the task's threshold."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from cor_incentives.core.params import Params
from cor_incentives.core.rules import LATEST, RULES_TASK_SPREAD
from cor_incentives.nodes.agents.validator import ValidatorAgent
from cor_incentives.nodes.link import Link
from cor_incentives.nodes.poi_calibration import garbage_output
from cor_incentives.nodes.validator import evaluate_outputs, evaluate_task
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


def _network(tmp_path, params):
    """A network (SQLite file) with one task of p0247 whose outputs are revealed; its validators are drawn."""
    prompt, max_out, texts = _p0247()
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=3, n_validators=3, params={"redundancy": 3, **params}, seed="agent-params")
    tid = submit_task(eng, keys, prompt, max_out)
    miners = sorted(a.miner for a in eng.state.tasks[tid].miners)
    outputs = dict(zip(miners, texts))
    run_commit_reveal(eng, keys, tid, outputs)
    task = eng.state.tasks[tid]
    assert task.state == "COMMITTED" and len(task.validators) == 3
    return url, keys, tid, outputs, [next(k for k in keys.values() if k.address == v) for v in task.validators]


@pytest.mark.parametrize("rules", [RULES_TASK_SPREAD - 1, LATEST])
def test_the_agent_evaluates_with_the_networks_floor_and_threshold(tmp_path, rules):
    prompt, max_out, _ = _p0247()
    params = {"consensus_min_quality_ppb": FLOOR, "poi_max_distance_ppb": DMAX, "rule_version": rules}
    url, keys, tid, outputs, validators = _network(tmp_path, params)
    me = validators[0]

    server = start_server(url, tmp_path / "serve.log")
    stop = threading.Event()
    link = Link(server.base_url, me.private_key, stop=stop)
    try:
        agent = ValidatorAgent("v0", link, logging.getLogger("test.agent"), stop, 0.05, strategy="honest")
        agent.step()
        entry = agent.work[tid]
        committed = {r["miner"]: r for r in entry["reports"]}
        assert link.task(tid)["validators"][0]["committed"]
    finally:
        link.close()
        stop_server(server)

    spread_rule = rules >= RULES_TASK_SPREAD
    ev = evaluate_task(prompt, outputs, max_out, min_quality_ppb=FLOOR, max_distance_ppb=DMAX, spread_rule=spread_rule)
    assert committed == {r["miner"]: r for r in ev.reports}
    if spread_rule:  # raw distances and the spread, committed with them
        assert entry["spread_ppb"] == ev.spread_ppb > 0
        return
    assert entry["spread_ppb"] is None  # an older network: the distances less the allowance, no spread

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


def test_three_agents_settle_a_task_at_the_threshold_their_spreads_give(tmp_path):
    """Rule 12 end to end: three real validator agents commit and reveal raw distances and their spreads; the core takes
    the median spread, sets the threshold, and both honest samples (about 1.0 apart, beyond poi_max_distance_ppb) are in
    consensus while the garbage stays out; the task view shows the spread and the threshold."""
    prompt, max_out, _ = _p0247()
    url, keys, tid, outputs, validators = _network(tmp_path, {})
    server = start_server(url, tmp_path / "serve.log")
    stop = threading.Event()
    links = [Link(server.base_url, v.private_key, stop=stop) for v in validators]
    try:
        agents = [ValidatorAgent(f"v{i}", link, logging.getLogger(f"test.agent{i}"), stop, 0.05, strategy="honest") for i, link in enumerate(links)]
        for a in agents:  # commit
            a.step()
        assert links[0].task(tid)["state"] == "REPORTING"
        for a in agents:  # reveal
            a.seen_head = -2
            a.step()
        view = links[0].task(tid)
    finally:
        for link in links:
            link.close()
        stop_server(server)
    ev = evaluate_task(prompt, outputs, max_out, spread_rule=True)
    p = Params()
    assert view["state"] == "SETTLED" and view["spread_rule"]
    assert view["spread_ppb"] == ev.spread_ppb > p.poi_max_distance_ppb  # the honest pair lies beyond 0.85
    assert view["threshold_ppb"] == min(p.poi_spread_cap_ppb, ev.spread_ppb)
    assert {v["spread_ppb"] for v in view["validators"]} == {ev.spread_ppb}
    by = {m["miner"]: m for m in view["miners"]}
    honest, garbage = sorted(outputs)[:2], sorted(outputs)[2]
    assert all(by[m]["in_consensus"] for m in honest) and not by[garbage]["in_consensus"]
    assert max(by[m]["poi_distance_ppb"] for m in honest) > p.poi_max_distance_ppb  # raw: in by the task's threshold only
