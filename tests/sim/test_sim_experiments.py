"""Experiments at scale: `cor simulate --sweep` on the local and the Ray backend, and `cor redteam`.

Real parts: every run drives the real core (both worlds, every seed); the Ray backend is a real local
Ray with 2 CPUs and a bounded object store, shut down by the command; the optimiser is Optuna's TPE.
"""

import json
import math
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from cor_incentives.cli import experiments, simulate
from cor_incentives.sim.attacks import FAMILIES
from cor_incentives.sim.backend import Backend
from cor_incentives.sim.redteam import GOAL, Settings, search
from cor_incentives.sim.sweep import parse_sweep, points, stat

# the planted weakness: community membership open to any address, at once (no stake, balance or age),
# so one balance passed through puppets makes as many members as the curator will attest
WEAKENED = {"community_min_account_age_epochs": 0, "community_min_balance_units": 0, "community_min_stake_units": 0}


def app():
    a = typer.Typer()

    @a.callback()
    def main() -> None:
        """cor (test harness)"""

    simulate.register(a)
    experiments.register(a)
    return a


def invoke(*args):
    return CliRunner().invoke(app(), list(args))


SWEEP = ["--scenario", "collusion_49,garbage_miners", "--sweep", "validators_per_task=3,5", "--seeds", "2", "--epochs", "1", "--json"]


def test_a_sweep_on_ray_equals_the_same_sweep_run_locally(tmp_path):
    local = invoke("simulate", *SWEEP, "--backend", "local", "--workers", "1", "--out", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    on_ray = invoke("simulate", *SWEEP, "--backend", "ray", "--workers", "2", "--out", str(tmp_path / "ray"))
    assert on_ray.exit_code == 0, on_ray.output
    a, b = json.loads(local.stdout), json.loads(on_ray.stdout)
    assert a["settings"]["backend"] == "local" and b["settings"]["backend"] == "ray"
    assert a["jobs"] == b["jobs"] == 2 * 2 * 2  # targets × points × seeds, each a world and its twin
    assert a["points"] == b["points"]
    for table in ("runs.parquet", "epochs.parquet"):
        ta, tb = pq.read_table(tmp_path / "local" / table), pq.read_table(tmp_path / "ray" / table)
        assert ta.equals(tb), table
    runs = pq.read_table(tmp_path / "local" / "runs.parquet").to_pylist()
    assert len(runs) == 8 and all(r["books_ok"] for r in runs)
    # the same seed at another validators_per_task is another run of the core; a world and its twin differ
    by = {(r["target"], r["p_validators_per_task"], r["seed"]): r for r in runs}
    assert by[("collusion_49", "3", 1)]["head_hash"] != by[("collusion_49", "5", 1)]["head_hash"]
    assert all(r["head_hash"] != r["twin_head_hash"] for r in runs)
    # money is exact: integer base units, the attacker's income the sum of its epochs' incomes
    epochs = pq.read_table(tmp_path / "local" / "epochs.parquet").to_pylist()
    for r in runs:
        mine = [
            e
            for e in epochs
            if (e["target"], e["p_validators_per_task"], e["seed"], e["world"]) == (r["target"], r["p_validators_per_task"], r["seed"], "attack")
        ]
        assert isinstance(r["attacker_income_units"], Decimal) and r["attacker_income_units"] == int(r["attacker_income_units"])
        if r["target"] == "collusion_49":
            assert sum(e["income_units"] for e in mine if e["group"] == "attacker") == r["attacker_income_units"]
    # the summary's gain is the family's own verdict over the seeds, next to the per-seed spread
    p = next(x for x in a["points"] if x["target"] == "collusion_49" and x["point"] == {"validators_per_task": 3})
    assert p["metrics"]["gain"]["n"] == 2 and p["family"] == "collusion_49" and p["family_gain"] is not None
    assert p["metrics"]["gain"]["lo"] <= p["metrics"]["gain"]["mean"] <= p["metrics"]["gain"]["hi"]
    for name in ("frontier", "gain-vs-validators_per_task", "honest_pay_change-vs-validators_per_task", "cumulative-collusion_49"):
        png = tmp_path / "ray" / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    page = (tmp_path / "ray" / "report.html").read_text()
    assert "validators_per_task" in page and page.count("data:image/png;base64,") == 3 * 1 + 1 + 2
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["grid"] == {"validators_per_task": [3, 5]} and "records" not in summary


def test_sweep_knobs_and_parameters_form_a_grid(tmp_path):
    res = invoke(
        "simulate", "--scenario", "commission_switch", "--sweep", "raise_bps=100,500", "--sweep", "max_commission_change_bps=500,1000",
        "--seeds", "1", "--epochs", "1", "--workers", "2", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [p["point"] for p in data["points"]] == [
        {"raise_bps": 100, "max_commission_change_bps": 500},
        {"raise_bps": 100, "max_commission_change_bps": 1000},
        {"raise_bps": 500, "max_commission_change_bps": 500},
        {"raise_bps": 500, "max_commission_change_bps": 1000},
    ]
    assert all(p["books_ok"] for p in data["points"])
    assert (tmp_path / "plots" / "gain-vs-raise_bps.png").exists() and (tmp_path / "plots" / "gain-vs-max_commission_change_bps.png").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--sweep", "nonsense=1,2"], "invalid_sweep"),
        (["--sweep", "validators_per_task"], "invalid_sweep"),
        (["--sweep", "validators_per_task=3,3"], "invalid_sweep"),
        (["--sweep", "count=1,2"], "invalid_sweep"),  # a knob of collusion_49, not of garbage_miners
        (["--sweep", "validators_per_task=0,3"], "parameter_out_of_bounds"),
        (["--backend", "spark"], "invalid_option"),
        (["--ray-address", "auto"], "invalid_option"),
    ],
)
def test_a_bad_sweep_is_refused_before_anything_runs(tmp_path, args, code):
    out = tmp_path / "out"
    res = invoke("simulate", "--scenario", "collusion_49,garbage_miners", "--seeds", "1", "--epochs", "1", *args, "--out", str(out), "--json")
    assert res.exit_code == 2, res.output
    assert json.loads(res.stdout)["error"] == code
    assert not out.exists()


def test_the_grid_and_the_confidence_interval():
    assert parse_sweep(["a=1,2", "b=x,y,z"]) == {"a": [1, 2], "b": ["x", "y", "z"]}
    assert points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    s = stat([1, 2, 3, None])  # None (an undefined gain) is left out
    assert s["n"] == 3 and s["mean"] == 2 and s["sd"] == 1
    assert math.isclose(s["ci95"], 4.303 / math.sqrt(3))  # Student's t, 2 degrees of freedom
    assert stat([5])["ci95"] == 0 and stat([None])["mean"] is None


def test_the_search_finds_a_planted_profitable_deviation_and_nothing_at_the_defaults(tmp_path):
    f = FAMILIES["curator_puppets"]
    settings = dict(budget=8, seeds=(1,), confirm_seeds=(1, 2, 3), batch=4, max_epochs=2, start_at_defaults=False)
    with Backend("local", 2) as b:
        fair = search(f, Settings(**settings), b.map)
        planted = search(f, Settings(**settings, params=WEAKENED), b.map)
    # the same proposals (same sampler seed) earn nothing under the real parameters ...
    assert [t["knobs"] for t in fair["trace"][:4]] == [t["knobs"] for t in planted["trace"][:4]]
    assert fair["best"]["gain"] <= GOAL and not fair["above_goal"]
    # ... and far above the goal once membership is open: confirmed on three seeds, the CI clear of 2 %
    assert planted["evaluations"] == 8 and planted["above_goal"]
    best = planted["best"]
    assert best["per_seed"]["n"] == 3 and best["per_seed"]["lo"] > GOAL and best["books_ok"]
    # the reproducer replays through `cor simulate --file`: the same attack, the same gain
    repro = tmp_path / "repro.json"
    repro.write_text(json.dumps(planted["reproducer"]))
    res = invoke("simulate", "--file", str(repro), "--out", str(tmp_path / "sim"), "--workers", "1", "--json")
    assert res.exit_code == 0, res.output
    check = next(c for c in json.loads(res.stdout)["checks"] if c["scenario"] == "redteam_curator_puppets")
    assert check["measured"]["gain"] == best["gain"] and not check["passed"]


def test_redteam_command_searches_each_family_and_writes_reproducers(tmp_path):
    fams = "jit_delegation,commission_switch,echo_validator"
    res = invoke(
        "redteam", "--family", fams, "--budget", "24", "--seeds", "1", "--confirm-seeds", "2", "--max-epochs", "1",
        "--workers", "2", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [r["family"] for r in data["families"]] == fams.split(",")
    for r in data["families"]:
        assert r["evaluations"] == 24 and len(r["trace"]) == 24
        assert r["trace"][0]["knobs"] == {**FAMILIES[r["family"]].defaults(), "epochs": 1}  # the measured attack first
        assert r["best"]["search_gain"] == max(t["gain"] for t in r["trace"] if t["gain"] is not None)
        size = math.prod(len(k.choices) or (min(k.hi, 1) - k.lo + 1 if k.name == "epochs" else k.hi - k.lo + 1) for k in FAMILIES[r["family"]].knobs)
        assert len({json.dumps(t["knobs"], sort_keys=True) for t in r["trace"]}) >= min(8, size)  # it moves the knobs
        assert r["best"]["books_ok"]
        repro = json.loads((tmp_path / "repro" / f"{r['family']}.json").read_text())
        assert repro["attacks"][0]["family"] == r["family"] and repro["attacks"][0]["knobs"] == r["best"]["knobs"]
    assert data["evaluations"] == 72 and json.loads((tmp_path / "redteam.json").read_text())["evaluations"] == 72


def test_redteam_refuses_bad_options(tmp_path):
    res = invoke("redteam", "--family", "nope", "--out", str(tmp_path), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "unknown_scenario"
    res = invoke("redteam", "--family", "jit_delegation", "--param", "no_such_param=1", "--out", str(tmp_path), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "unknown_param"
    res = invoke("redteam", "--family", "jit_delegation", "--param", "broken", "--out", str(tmp_path), "--json")
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "invalid_option"
    assert not (tmp_path / "redteam.json").exists()


def test_the_kept_reproducers_are_valid_scenario_files():
    from pathlib import Path

    from cor_incentives.sim.attacks.base import load_attacks

    kept = sorted((Path(__file__).resolve().parents[2] / "docs" / "redteam").glob("*.json"))
    assert kept, "docs/redteam holds the reproducers of the deviations above 2 %"
    for path in kept:
        (attack,) = load_attacks(path)
        assert attack.name.startswith("redteam_") and attack.family in FAMILIES and attack.seeds
