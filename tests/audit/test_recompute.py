"""The outside auditor recomputes every published payout of a real devnet, from published JSON and docs/rewards.md.

The auditor (``src/cor_incentives/auditor.py``) is the auditor's code, not the engine's: standard
library only, nothing of ``cor_incentives`` (checked here by its syntax tree, and by the import-linter
contract ``auditor-independent``), formulas written from docs/rewards.md. The devnet
(``support.audit_scenario``) runs three epochs on a real SQLite file with signed commands: network and
user tasks, a miner out of consensus, a reveal that does not match its commitment, an equivocation report,
delegations (one a tick before the close), an undelegation, a commission change, a curator's
attestations and a proposal voted on and tallied.

It fails when a formula changes without docs/rewards.md changing (the recomputation stops matching:
``test_a_changed_formula_is_caught`` changes one in-process), and when docs/rewards.md changes without
the auditor being re-read against it (``test_written_against_the_current_document``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.audit_scenario import run_audit_scenario
from support.server import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
AUDITOR = ROOT / "src" / "cor_incentives" / "auditor.py"
DOC = ROOT / "docs" / "rewards.md"
COR_BIN = str(Path(sys.executable).parent / "cor")

# every quantity the auditor must recompute in each epoch of the scenario (a quantity that silently
# stopped being checked would otherwise pass with 0/0)
EXPECTED_QUANTITIES = {
    "emission.scheduled", "emission.budget", "emission.split_remainder", "emission.stream_budget",
    "miner_work.work", "miner_work.multiplier_ppb", "miner_work.weighted", "miner_work.claim", "miner_work.reward", "miner_work.bonus",
    "miner_work.eligible", "miner_work.score_bps", "miner_work.precommit_rate_bps", "miner_work.assignments",
    "validator_work.work", "validator_work.reward", "miners.claims", "miners.paid", "miners.back_to_pool", "validators.paid",
    "commission.amount", "stake_share.amount", "stake_share.node_reward", "stake_share.node_stake_ticks", "stake_share.dust",
    "apr.target_apr_bps", "apr.due", "apr.budget", "apr.paid", "apr.effective_apr_bps", "apr.node_due", "apr.node_reward", "apr.stake_ticks",
    "marketplace.share", "marketplace.paid", "task_fee.miner", "task_fee.validator", "task_fee.router", "task_fee.royalty", "reputation",
    "stream.paid_equals_lines", "stream_total", "leaf", "merkle_root",
    "consensus.threshold", "consensus.in_consensus", "consensus.spread_among_revealed",
}  # fmt: skip


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    url = f"sqlite:///{tmp / 'cor.db'}"
    eng, _ = run_audit_scenario(url, tmp / "keys")
    epochs = sorted(eng.state.epochs)
    eng.store.engine.dispose()
    return url, epochs, tmp


def cor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COR_BIN, *args], capture_output=True, text=True, timeout=300)


def test_the_auditor_imports_only_the_standard_library():
    tree = ast.parse(AUDITOR.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert not relative, f"the auditor imports the engine: {relative}"
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, f"not standard library: {names - set(sys.stdlib_module_names)}"


def test_written_against_the_current_document():
    """Each docs/rewards.md section the auditor implements is the text it was written against."""
    spec = _load_standalone()
    now = spec.doc_sections(DOC.read_text())
    changed = sorted(t for t, h in spec.DOC_SECTIONS.items() if now.get(t) != h)
    assert not changed, (
        f"docs/rewards.md changed in {changed}: re-read these sections, make src/cor_incentives/auditor.py recompute what they say, "
        "then set their hashes in DOC_SECTIONS (`python src/cor_incentives/auditor.py --doc-sections docs/rewards.md` prints them)"
    )
    unread = sorted(set(now) - set(spec.DOC_SECTIONS))
    assert not unread, f"docs/rewards.md has sections the auditor was never written against: {unread}"


def test_every_epoch_recomputes_exactly_through_the_cli(devnet):
    url, epochs, tmp = devnet
    assert len(epochs) >= 2
    for e in epochs:
        p = cor("audit", str(e), "--json", "--db", url)
        assert p.returncode == 0, f"epoch {e}: {p.stdout[-4000:]}{p.stderr[-2000:]}"
        report = json.loads(p.stdout)
        assert report["ok"] and report["matched"] == report["total"]
        missing = EXPECTED_QUANTITIES - {q for q, v in report["quantities"].items() if v["total"] > 0}
        assert not missing, f"epoch {e}: quantities never checked: {sorted(missing)}"
        (tmp / f"report-{e}.json").write_text(p.stdout)
    # the scenario's slash and its delegation changes are in what was audited
    one = json.loads((tmp / "report-1.json").read_text())
    assert one["quantities"]["stake_share.amount"]["total"] >= 10
    slashes = {"slash.total", "slash.burned", "slash.to_reporter", "slash.to_treasury", "slash.reporter_line", "apr.slashed_excluded"}
    assert all(one["quantities"][q]["total"] >= 1 for q in slashes)
    last = json.loads((tmp / f"report-{epochs[-1]}.json").read_text())
    voters_and_members = {
        "governance.reward",
        "governance.weight_of_positions",
        "governance.once_per_address",
        "community.reward",
        "community.total_points",
    }
    assert all(last["quantities"][q]["total"] >= 1 for q in voters_and_members)


def test_the_standalone_script_over_the_api(devnet):
    """The auditor file run on its own (isolated Python, a copy outside the package) against a real `cor serve`."""
    url, epochs, tmp = devnet
    standalone = tmp / "standalone"
    standalone.mkdir(exist_ok=True)
    script = standalone / "auditor.py"
    script.write_text(AUDITOR.read_text())
    server = start_server(url, tmp / "serve.log")
    try:
        for e in epochs:
            p = subprocess.run(
                [sys.executable, "-I", str(script), "--api", server.base_url, str(e), "--json"],
                capture_output=True, text=True, timeout=300, cwd=standalone, env={"PATH": os.environ.get("PATH", "")},
            )  # fmt: skip
            assert p.returncode == 0, f"epoch {e}: {p.stdout[-4000:]}{p.stderr[-2000:]}"
            report = json.loads(p.stdout)
            assert report["ok"] and report["total"] > 100
        p = cor("audit", str(epochs[-1]), "--api", server.base_url)
        assert p.returncode == 0 and "matched (ok)" in p.stdout, p.stdout + p.stderr
    finally:
        stop_server(server)


def _epoch_one_bundle(devnet):
    """The standalone auditor module and epoch 1's published bundle, read from the devnet's database."""
    url, _, _ = devnet
    spec = _load_standalone()
    from cor_incentives.app.engine import Engine
    from cor_incentives.app.published import published_getter

    eng = Engine.open(url, create=False)
    try:
        return spec, spec.fetch_bundle(published_getter(eng.state), 1)
    finally:
        eng.store.engine.dispose()


def test_a_tampered_publication_is_named(devnet):
    """Change one published amount by one base unit: the auditor names that line and nothing passes."""
    spec, bundle = _epoch_one_bundle(devnet)
    assert spec.audit_epoch(bundle).ok
    line = next(x for x in bundle["epoch"]["lines"] if x["stream"] == "validator_work:stake")
    line["amount_units"] = str(int(line["amount_units"]) + 1)
    report = spec.audit_epoch(bundle).to_dict()
    assert not report["ok"]
    bad = {q for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert "stake_share.amount" in bad and "leaf" in bad and "merkle_root" in bad
    assert any(line["address"] in m["what"] for m in report["quantities"]["stake_share.amount"]["mismatches"])


def test_a_tampered_threshold_or_consensus_is_named(devnet):
    """A task's published threshold one unit off, or a miner put in consensus beyond it: the auditor names that task."""
    spec, bundle = _epoch_one_bundle(devnet)
    assert spec.audit_epoch(bundle).ok
    task = next(t for t in bundle["tasks"].values() if t.get("threshold_ppb") is not None and any(m["in_consensus"] for m in t["miners"]))
    task["threshold_ppb"] += 1
    bad = {q for q, v in spec.audit_epoch(bundle).to_dict()["quantities"].items() if v["matched"] < v["total"]}
    assert bad == {"consensus.threshold"}
    task["threshold_ppb"] -= 1
    miner = next(m for m in task["miners"] if m["in_consensus"])
    miner["poi_distance_ppb"] = task["threshold_ppb"] + 1  # beyond the threshold, yet published in consensus
    report = spec.audit_epoch(bundle).to_dict()
    # (rule 32: the distance is also recomputed from the reports and the validators' weights, so it is named twice)
    assert {q for q, v in report["quantities"].items() if v["matched"] < v["total"]} == {"consensus.in_consensus", "validation.consensus"}
    assert any(f"task {task['id']} {miner['miner']}" == m["what"] for m in report["quantities"]["consensus.in_consensus"]["mismatches"])


def test_a_start_below_the_newcomer_floor_is_named(devnet):
    """Rule 13: a new node's published starting reputation below min(reputation_initial_ppb, reputation_newcomer_floor_ppb)
    is named (the capping nodes are not recomputed; the bounds are)."""
    spec, bundle = _epoch_one_bundle(devnet)
    assert spec.audit_epoch(bundle).ok
    p = spec.params_for_epoch(bundle["params"], 1)
    assert p["rule_version"] >= 13 and p["reputation_newcomer_floor_ppb"] == 400_000_000
    node = sorted(bundle["epoch"]["reputation_ppb"])[0]
    bundle["epoch"]["reputation_start_ppb"] = {node: p["reputation_newcomer_floor_ppb"]}  # at the floor: fine
    assert spec.audit_epoch(bundle).ok
    bundle["epoch"]["reputation_start_ppb"] = {node: p["reputation_newcomer_floor_ppb"] - 1}
    report = spec.audit_epoch(bundle).to_dict()
    assert {q for q, v in report["quantities"].items() if v["matched"] < v["total"]} == {"reputation.start_at_least_floor"}


def test_a_changed_formula_is_caught(tmp_path, monkeypatch):
    """The engine's APR schedule and its emission decay changed, docs/rewards.md not: the audit fails on exactly those."""
    from cor_incentives.app.published import published_getter
    from cor_incentives.core import rewards

    monkeypatch.setattr(rewards, "target_apr_bps", lambda state, epoch: 6_001)  # the schedule says 6 000 in month 0
    real = rewards.scheduled_emission
    monkeypatch.setattr(rewards, "scheduled_emission", lambda state, epoch: real(state, epoch) - 1)
    eng, _ = run_audit_scenario(f"sqlite:///{tmp_path / 'cor.db'}", tmp_path / "keys")
    spec = _load_standalone()
    try:
        report = spec.audit_epoch(spec.fetch_bundle(published_getter(eng.state), 1)).to_dict()
    finally:
        eng.store.engine.dispose()
    bad = {q for q, v in report["quantities"].items() if v["matched"] < v["total"]}
    assert {"apr.target_apr_bps", "apr.due", "apr.node_due", "emission.scheduled"} <= bad, bad
    assert not report["ok"]


def _load_standalone():
    """The auditor file as its own module (not through the cor_incentives package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("outside_auditor", AUDITOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules["outside_auditor"] = module
    spec.loader.exec_module(module)
    return module


def test_rule_28_node_lines_name_no_tasks_and_the_auditor_says_so(devnet):
    """Rule 28 (``RULES_SLIM_NODE_LINES``): the work node lines name no tasks, so ``task.closed_in_epoch`` has no named id to
    check: the report says it (``not_recomputed``) and checks that no line names one; every node's rows are still rebuilt."""
    spec, bundle = _epoch_one_bundle(devnet)
    assert spec.params_for_epoch(bundle["params"], 1)["rule_version"] >= spec.SLIM_NODE_LINES_RULES
    work = [x for x in bundle["epoch"]["lines"] if x["stream"] in ("miner_work:node", "miner_work:none", "validator_work:node")]
    assert work and not any("tasks" in x["detail"] for x in work)
    report = spec.audit_epoch(bundle).to_dict()
    assert report["ok"] and report["quantities"]["node_line.names_no_tasks"] == {"matched": 1, "total": 1, "mismatches": []}
    assert report["quantities"]["miner_work.reward"]["total"] >= 1 and report["quantities"]["task.closed_in_epoch"]["total"] >= 1
    assert any("rule version 28" in n and "task.closed_in_epoch" in n for n in report["not_recomputed"])
    work[0]["detail"]["tasks"] = list(bundle["epoch"]["streams"]["miners"]["tasks"][:1])  # a line naming a task under 28: named
    report = spec.audit_epoch(bundle).to_dict()
    assert not report["ok"] and report["quantities"]["node_line.names_no_tasks"]["mismatches"][0]["published"] == "1"
