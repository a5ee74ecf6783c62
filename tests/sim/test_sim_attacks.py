"""Attack families (sim/attacks): knobs with bounds, timed actor scripts, the stake clock, files and the CLI."""

import json

import pytest
import typer
from typer.testing import CliRunner

from cor_incentives.cli.simulate import register
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import FAMILIES, Attack, evaluate, family
from cor_incentives.sim.attacks.common import StakeScript, actor, node, population_scenario
from cor_incentives.sim.runner import run
from cor_incentives.sim.script import Step


def app():
    a = typer.Typer()

    @a.callback()
    def main() -> None:
        """cor (test harness)"""

    register(a)
    return a


MINE = (
    "jit_delegation",
    "jit_bonding",
    "operator_dilution",
    "commission_switch",
    "slash_dodge_unbond",
    "threshold_split",
    "reregister_after_jail",
    "newcomer_griefing",
    "equivocation_rewrap",
    "oracle_fabricated_slash",
    "honest_misses",
)


def test_every_family_has_bounded_knobs_and_defaults_inside_them():
    assert set(MINE) <= set(FAMILIES)
    for name, f in FAMILIES.items():
        assert f.name == name and f.title and f.criterion and f.description and f.gain_unit and len(f.seeds) >= 5
        assert f.resolve({}) == f.defaults()
        for k in f.knobs:
            b = k.bounds()
            assert b["default"] == k.default and k.doc
            if k.choices:
                assert k.default in k.choices
            else:
                assert k.lo <= k.default <= k.hi
                with pytest.raises(InvalidInput) as e:
                    f.resolve({k.name: k.hi + 1})
                assert e.value.code == "invalid_knob"
        with pytest.raises(InvalidInput) as e:
            f.resolve({"no_such_knob": 1})
        assert e.value.code == "invalid_knob"
    with pytest.raises(InvalidInput) as e:
        family("no_such_family")
    assert e.value.code == "unknown_scenario"
    with pytest.raises(InvalidInput):
        Attack.from_dict({"family": "jit_delegation", "knobs": {"offset_ticks": 0}})


def test_steps_act_at_their_ticks_and_the_stake_clock_agrees_with_the_core():
    """A delegation at offset −1 holds for exactly one tick of the epoch, one at offset 10 for 90; summed over every node
    the simulator's own clock equals the core's stake_ticks of the epoch."""
    late, early, n = actor("late"), actor("early"), node("miner-00")
    scenario = population_scenario("clock", 2)
    nodes = [nm for nm, _, _ in scenario.node_names()]
    body = {"node": n, "amount": str(100 * COR)}
    script = StakeScript(
        [Step(-1, late, "stake.delegate", body, (0,), "late"), Step(10, early, "stake.delegate", body, (0,), "early")],
        watch=[(n, late), (n, early)] + [(node(x), "*") for x in nodes],
        wallets={late: 100 * COR, early: 100 * COR},
        actor_names={"late": late, "early": early},
    )
    result = run(scenario, 1, script=script)
    assert not result.conservation_errors and not result.reconcile_errors
    assert [(e.label, e.tick, e.ok) for e in script.log] == [("early", 10, True), ("late", 99, True)]
    clock, state = script.clock, script.state
    assert clock.of(0, n, late) == 100 * COR * 1 and clock.of(0, n, early) == 100 * COR * 90
    assert clock.of(1, n, late) == clock.of(1, n, early) == 100 * COR * 100
    for e in (0, 1):
        assert sum(clock.of(e, node(x), "*") for x in nodes) == state.epochs[e].staking["stake_ticks"]


def test_each_family_runs_both_worlds_with_books_and_a_verdict():
    for name in MINE:
        r = evaluate(Attack(name, name), seeds=(1,))
        assert r["kind"] == "attack" and r["family"] == name and r["seeds"] == [1], name
        assert r["books"] == {"ok": True, "errors": []}, (name, r["books"])
        assert isinstance(r["passed"], bool) and isinstance(r["gain"], float), (name, r["gain"])
        assert any(ch.isdigit() for ch in r["summary"]) and r["measured"], name
        assert set(r["head_hashes"]) == {"1", "1~twin"}, name  # the same log when every attacking command was refused
        assert set(r["bounds"]) == {k.name for k in FAMILIES[name].knobs}


def test_same_seed_same_verdict():
    a = evaluate(Attack("e", "equivocation_rewrap"), seeds=(3,))
    b = evaluate(Attack("e", "equivocation_rewrap"), seeds=(3,))
    assert a == b


def test_attacks_from_a_file_and_the_cli_lists_them_with_passed(tmp_path):
    f = tmp_path / "attacks.json"
    f.write_text(json.dumps({"attacks": [{"family": "commission_switch", "name": "cs-small", "knobs": {"raise_bps": 100}, "seeds": [1]}]}))
    res = CliRunner().invoke(app(), ["simulate", "--file", str(f), "--out", str(tmp_path / "o"), "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    (s,) = data["scenarios"]
    assert s["name"] == "cs-small" and s["kind"] == "attack" and s["family"] == "commission_switch" and isinstance(s["passed"], bool)
    (c,) = data["checks"]
    assert c["scenario"] == "cs-small" and c["measured"]["knobs"]["raise_bps"] == 100 and c["passed"] == s["passed"]
    # an exact family (the raise takes nothing on every seed) is decided at one seed, and says so everywhere
    assert s["verdict"] == c["verdict"] == "stopped" and s["seeds"] == 1 and s["pass_share"] == 1.0 and s["gain_interval"] == [0.0, 0.0]
    assert c["uncertainty"]["exact"] and data["summary"]["attack_verdicts"] == {"stopped": 1, "open": 0, "undecided": 0}
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["attacks"]["cs-small"]["seeds"] == [1] and report["attacks"]["cs-small"]["bounds"]["raise_bps"]["hi"] == 2000
    assert report["attacks"]["cs-small"]["verdict"] == "stopped" and report["attacks"]["cs-small"]["uncertainty"]["resamples"] == 1000
    html = (tmp_path / "o" / "report.html").read_text()
    assert '<span class="pass">stopped</span><br><small>exact; 1 seeds</small>' in html
    res = CliRunner().invoke(app(), ["simulate", "--file", str(f), "--out", str(tmp_path / "o"), "--workers", "1"])
    assert res.exit_code == 0 and "stopped (exact; 1 seeds)" in res.output, res.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"attacks": [{"family": "commission_switch", "knobs": {"raise_bps": -5}}]}))
    res = CliRunner().invoke(app(), ["simulate", "--file", str(bad), "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout)["error"] == "invalid_knob"
    res = CliRunner().invoke(
        app(), ["simulate", "--scenario", "jit_delegation,garbage_miners", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path / "p"), "--json"]
    )
    assert res.exit_code == 0, res.output
    kinds = {s["name"]: s["kind"] for s in json.loads(res.stdout)["scenarios"]}
    assert kinds == {"garbage_miners": "population", "jit_delegation": "attack"}
