"""Rule 28 (``RULES_SLIM_NODE_LINES``): a work stream's node and none lines carry no ``tasks``; a statement derives them
(``epoch_document.node_tasks``) from the stream account's ``tasks`` and the tasks' records.

A property test runs random simulated lives (cheating miners, copier and offline validators, canaries, escalations)
under the rule before and rule 28 side by side, event by event: the same acceptances and refusals, balances, claimables,
roots and claims after every event; at the end the epoch records equal but for the work lines' ``tasks``, the tasks the
old lines listed are exactly the ones ``node_tasks`` derives from the new run's records, and every statement
(``views.statement``, tasks included) is the same. Then: the rule-before log replays to the hash main's code gave it, a
statement through the CLI gives the same tasks under both rules, and the auditor says the named-ids check has nothing to
check under 28 (and fails a rule-28 line that names tasks)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app import views
from cor_incentives.core.epoch_document import node_tasks
from cor_incentives.core.errors import EngineError
from cor_incentives.core.records import EarningItem
from cor_incentives.core.rules import RULE_VERSIONS, RULES_SLIM_NODE_LINES
from cor_incentives.core.state import json_ready
from cor_incentives.core.streams import Stream
from cor_incentives.sim import runner
from cor_incentives.sim.chain import SimChain
from cor_incentives.sim.scenarios import ROUTER, VALIDATOR_STAKES, NodeGroup, Scenario, miners
from support.replays import recorded_life, through_snapshot

OLD = max(v for v in RULE_VERSIONS if v < RULES_SLIM_NODE_LINES)
WORK = (Stream.MINER_WORK, Stream.VALIDATOR_WORK)


def is_work_line(stream: str) -> bool:
    base, _, part = stream.rpartition(":")
    return base in WORK and part in ("node", "none")


def slim(record: dict[str, Any]) -> dict[str, Any]:
    """An epoch record's dict without the work node and none lines' ``tasks`` (what rule 28 leaves out)."""
    items = [{**i, "detail": {k: v for k, v in i["detail"].items() if k != "tasks"}} if is_work_line(i["stream"]) else i for i in record["items"]]
    return {**record, "items": items}


class TwinChain(SimChain):
    """A simulation chain under rule ``OLD`` that applies every command also to a twin under rule 28, and compares them."""

    twins: list[TwinChain] = []

    def __init__(self, allocations: dict[str, int], params: dict[str, Any], **kw: Any) -> None:
        self.twin = SimChain(allocations, {**params, "rule_version": RULES_SLIM_NODE_LINES}, **kw)
        self.compared = 0
        super().__init__(allocations, {**params, "rule_version": OLD}, **kw)
        TwinChain.twins.append(self)

    def submit(self, actor: str, kind: str, body: dict[str, Any]) -> Any:
        if kind == "genesis":
            return super().submit(actor, kind, body)
        try:
            new = self.twin.submit(actor, kind, body)
        except EngineError as exc:
            with pytest.raises(EngineError) as old:
                super().submit(actor, kind, body)
            assert old.value.code == exc.code  # the same refusal
            self.same_money()
            raise
        applied = super().submit(actor, kind, body)
        assert self.state.seq == self.twin.state.seq and (applied is None) == (new is None)
        self.same_money()
        return applied

    def same_money(self) -> None:
        a, b = self.state, self.twin.state
        assert a.ledger.balances == b.ledger.balances
        assert a.epoch == b.epoch and a.claimed == b.claimed
        assert set(a.epochs) == set(b.epochs)
        for e, r in a.epochs.items():
            assert (r.root, r.leaves, r.totals) == (b.epochs[e].root, b.epochs[e].leaves, b.epochs[e].totals)
        self.compared += 1


def scenario(lazy: int, garbage: int, copiers: int, offline: int, epochs: int, tasks: int) -> Scenario:
    vals = (
        *((NodeGroup("validator", "copier", copiers, VALIDATOR_STAKES[:copiers]),) if copiers else ()),
        NodeGroup("validator", "honest", 10 - copiers - offline, VALIDATOR_STAKES[copiers : 10 - offline]),
        *((NodeGroup("validator", "offline", offline, VALIDATOR_STAKES[10 - offline :]),) if offline else ()),
    )
    nodes = miners(("honest", 10 - lazy - garbage), ("lazy", lazy), ("garbage", garbage)) + vals + ROUTER
    return Scenario(
        name="slim_twin", nodes=nodes, epochs=epochs, user_tasks_per_epoch=tasks, network_tasks_per_epoch=tasks, rounds_per_epoch=3, seeds=(1,)
    )


def check_same_lives(chain: TwinChain) -> None:
    old, new = chain.state, chain.twin.state
    assert chain.compared > 0 and old.params.rule_version == OLD and new.params.rule_version == RULES_SLIM_NODE_LINES
    listed = 0
    for e, r_old in old.epochs.items():
        r_new = new.epochs[e]
        assert slim(_record_dict(r_old)) == slim(_record_dict(r_new))
        for i_old, i_new in zip(r_old.items, r_new.items, strict=True):
            if not is_work_line(i_new.stream):
                continue
            assert "tasks" not in i_new.detail and "tasks" in i_old.detail  # the new line carries none, the old one its list
            derived = node_tasks(r_new.streams, i_new, lambda t: new.tasks[t])
            assert derived == list(i_old.detail["tasks"])  # derived from the records: exactly the ids the old line listed
            listed += len(derived)
        for address in sorted({i.address for i in r_old.items}):  # every statement the same, tasks included
            assert json.dumps(views.statement(old, address, e), sort_keys=True) == json.dumps(views.statement(new, address, e), sort_keys=True)
    assert listed > 0


def _record_dict(r: Any) -> dict[str, Any]:
    return json.loads(json.dumps(json_ready(asdict(r)), sort_keys=True))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lazy=st.integers(0, 2),
    garbage=st.integers(0, 2),
    copiers=st.integers(0, 3),
    offline=st.integers(0, 1),
    epochs=st.integers(1, 2),
    tasks=st.integers(2, 6),
    seed=st.integers(1, 1000),
)
def test_property_rule_28_moves_no_money_and_its_lines_tasks_follow_from_the_records(lazy, garbage, copiers, offline, epochs, tasks, seed):
    TwinChain.twins.clear()
    original = runner.SimChain
    runner.SimChain = TwinChain  # type: ignore[misc]
    try:
        runner.run(scenario(lazy, garbage, copiers, offline, epochs, tasks), seed)
    finally:
        runner.SimChain = original  # type: ignore[misc]
    (chain,) = TwinChain.twins
    check_same_lives(chain)


# --- end to end: a statement through the API and the CLI, the tasks read from the database -----------------------------


def network(tmp_path, rule_version: int):
    from support.network import make_network
    from support.scenario import PROMPTS, settle_honest_task

    url = f"sqlite:///{tmp_path / f'cor{rule_version}.db'}"
    eng, keys = make_network(url, tmp_path / f"keys{rule_version}", n_miners=5, n_validators=4, params={"rule_version": rule_version})
    for name in [n for n in keys if n.startswith(("miner", "validator"))]:  # commission lines, which cite their node line
        eng.submit_as(keys[name], "node.set_commission", {"commission_bps": min(500, eng.state.params.max_commission_change_bps)})
    eng.submit_as(keys["oracle"], "epoch.close", {})  # in force from epoch 1, the epoch of the tasks
    tasks = [settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=i % 2 == 0) for i in range(4)]
    eng.submit_as(keys["oracle"], "epoch.close", {})
    for _ in range(eng.state.params.unbonding_period_epochs + 1):  # the epoch's tasks leave the live state (core/prune.py)
        eng.submit_as(keys["oracle"], "epoch.close", {})
    assert not set(tasks) & set(eng.state.tasks) and eng.state.params.rule_version == rule_version
    return eng, keys, url, tasks


def test_a_statement_through_the_api_and_the_cli_is_the_same_under_both_rules_tasks_included(tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cor_incentives.api.app import create_app
    from cor_incentives.api.service import ApiService
    from cor_incentives.cli.main import app

    seen: dict[int, dict[str, Any]] = {}
    for rule in (OLD, RULES_SLIM_NODE_LINES):
        eng, keys, url, tasks = network(tmp_path, rule)
        lines = [i for i in views.epoch_record(eng.state, 1).items if is_work_line(i.stream)]  # the whole record (live or stored)
        assert any(i.stream.endswith(":commission") for i in views.epoch_record(eng.state, 1).items)
        assert lines and all(("tasks" in i.detail) == (rule == OLD) for i in lines)  # the stored lines: with tasks before 28 only
        nodes = sorted({i.address for i in lines})
        svc = ApiService.open(url)
        out: dict[str, Any] = {}
        try:
            with TestClient(create_app(service=svc), raise_server_exceptions=False) as client:
                for n in nodes:
                    got = client.get(f"/v1/statements/{n}/1")
                    assert got.status_code == 200, got.text
                    out[n] = got.json()
                    cli = CliRunner().invoke(
                        app, ["statement", n, "--epoch", "1", "--db", url, "--keys-dir", str(tmp_path / f"keys{rule}"), "--json"]
                    )
                    assert cli.exit_code == 0, cli.output
                    assert json.loads(cli.output) == out[n]
        finally:
            svc.engine.store.dispose()
            eng.store.dispose()
        named = [t for s in out.values() for x in s["items"] if is_work_line(x["stream"]) for t in x["detail"].get("tasks", [])]
        assert set(named) == set(tasks)  # every settled task is named on the lines of its nodes
        cited = [x for s in out.values() for x in s["items"] if x["stream"].endswith(":commission") and x["stream"] != "staking_apr:commission"]
        assert cited and all("tasks" in x["detail"] for x in cited)  # a commission line shows its node line's tasks too
        seen[rule] = out
    assert seen[OLD] == seen[RULES_SLIM_NODE_LINES]


# --- replay: a log under the rule before replays as main's code replayed it -------------------------------------------

# the state hash main's code (0648f5d, rule 26 its latest) gave old_rule_log(26) after replay, recorded once with its src
MAIN_STATE_HASH_26 = "0x982796b33a619111065c7dada6b8c3a2f5e4534b86aa5c97817ba869714b75ef"


def old_rule_log(rule_version: int) -> list[Any]:
    """A seeded simulated life of two epochs (lazy and garbage miners, copier and offline validators) under ``rule_version``."""
    vals = (
        NodeGroup("validator", "copier", 2, VALIDATOR_STAKES[:2]),
        NodeGroup("validator", "honest", 7, VALIDATOR_STAKES[2:9]),
        NodeGroup("validator", "offline", 1, VALIDATOR_STAKES[9:]),
    )
    return recorded_life("slim_old_log", vals, rule_version)


def test_a_rule_26_log_replays_to_the_hash_main_gave_it_and_a_rule_28_log_replays_without_tasks():
    from cor_incentives.core.apply import replay
    from cor_incentives.core.state_codec import state_hash

    old = replay(old_rule_log(26), check_each=True)
    assert old.params.rule_version == 26 and state_hash(old) == MAIN_STATE_HASH_26
    assert all("tasks" in i.detail for r in old.epochs.values() for i in r.items if is_work_line(i.stream))
    events = old_rule_log(RULES_SLIM_NODE_LINES)
    new = replay(events, check_each=True)
    lines = [i for r in new.epochs.values() for i in r.items if is_work_line(i.stream)]
    assert lines and not any("tasks" in i.detail for i in lines)
    assert state_hash(new) != state_hash(old)
    through_snapshot(new)
    assert {e: r.root for e, r in new.epochs.items()} == {e: r.root for e, r in old.epochs.items()}  # no money moved


# --- a canary's planter: its row counts on its line (rule 18), and node_tasks names it --------------------------------


def canary_chain(rule_version: int, leak: bool):
    """A settled network canary (as tests/core/test_paid_planter.py): miners[0] reveals the planted output (with ``leak``
    miners[1] too, and neither is paid), the others their own; closed."""
    from cor_incentives.core.validation import canary_commitment
    from support.market import MODEL, commit_reveal, draw_now, h, market, validate_all

    n = 4 if leak else 3
    c = market(n_miners=n, n_validators=3, beacon=True, params={"rule_version": rule_version, "redundancy": n})
    tid = c.state.next_id
    body = {"model": MODEL, "prompt_hash": h("q"), "prompt_bytes": 5, "input_tokens": 8, "max_output_tokens": 32}
    c.oracle("task.network", {**body, "canary": canary_commitment(h("q"), h("planted"), "c1")})
    draw_now(c, tid)
    task = c.state.tasks[tid]
    planters = [a.miner for a in task.miners][: 2 if leak else 1]
    commit_reveal(c, tid, {a.miner: "planted" if a.miner in planters else f"Paris {a.miner}" for a in task.miners})
    draw_now(c, tid)
    quality = dict(zip([a.miner for a in task.miners if a.miner not in planters], (800_000_001, 900_000_000)))
    validate_all(c, tid, lambda v, m: (1_000_000_000, 50_000_000) if m in planters else (20_000_000, quality[m]))
    c.oracle("task.canary", {"task": tid, "planted": h("planted"), "salt": "c1"})
    assert task.state == "SETTLED" and task.canary == "planted"
    c.oracle("epoch.close", {})
    return c, tid, planters


@pytest.mark.parametrize("leak", [False, True], ids=["paid_planter", "shared_planted_output"])
def test_a_paid_planter_is_named_on_its_line_and_a_shared_planted_output_is_not(leak):
    old, tid, planters = canary_chain(OLD, leak)
    new, _, _ = canary_chain(RULES_SLIM_NODE_LINES, leak)
    r_old, r_new = old.state.epochs[0], new.state.epochs[0]
    assert r_old.root == r_new.root
    listed = {}
    for i_old, i_new in zip(r_old.items, r_new.items, strict=True):
        if is_work_line(i_new.stream) and i_new.stream.startswith("miner_work"):
            derived = node_tasks(r_new.streams, i_new, lambda t: new.state.tasks[t])
            assert derived == list(i_old.detail["tasks"]) and "tasks" not in i_new.detail
            listed[i_new.address] = derived
    assert (listed.get(planters[0]) == [tid]) == (not leak)  # the one paid planter's row counted; a shared copy's did not
    for p in planters:  # asked of any line of a planter's (it had another task's row, say): the task only if it was paid
        item = EarningItem(p, "miner_work:node", 0, {})
        assert node_tasks(r_new.streams, item, lambda t: new.state.tasks[t]) == ([] if leak else [tid])
    for address in sorted(listed):
        assert views.statement(old.state, address, 0) == views.statement(new.state, address, 0)
