"""Scenarios as data: built-ins, validation, JSON/TOML files, twins."""

import json

import pytest

from cor_incentives.core.errors import InvalidInput
from cor_incentives.sim.scenarios import SCENARIOS, NodeGroup, Scenario, load_scenarios, select_scenarios

REQUIRED = (
    "honest_only",
    "lazy_miners",
    "garbage_miners",
    "mismatched_reveal",
    "copier_validators",
    "colluding_validators_10",
    "colluding_validators_30",
    "sybil_split",
)


def test_builtins_cover_the_issue_and_round_trip():
    for name in REQUIRED:
        assert name in SCENARIOS
    for s in SCENARIOS.values():
        again = Scenario.from_dict(json.loads(json.dumps(s.to_dict())))
        assert again == s and again.run_key() == s.run_key()


def test_coalitions_hold_the_named_share_of_validator_stake():
    for share in (10, 30):
        s = SCENARIOS[f"colluding_validators_{share}"]
        stakes = {name: g.stake_units(i) for name, g, i in s.node_names() if g.role == "validator"}
        mine = sum(g.stake_units(i) for name, g, i in s.node_names() if g.role == "validator" and g.coalition)
        assert mine * 100 == share * sum(stakes.values())


def test_honest_twin_of_every_builtin_is_honest_only():
    base = SCENARIOS["honest_only"].run_key()
    for name in ("lazy_miners", "garbage_miners", "colluding_validators_30", "copier_validators"):
        assert SCENARIOS[name].honest_twin().run_key() == base


def test_scenario_file_json_and_toml_with_extends(tmp_path):
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"scenarios": [{"extends": "lazy_miners", "name": "lazy_strict", "params": {"min_score_bps": 7000}}]}))
    (s,) = load_scenarios(j)
    assert s.name == "lazy_strict" and s.params["min_score_bps"] == 7000 and s.nodes == SCENARIOS["lazy_miners"].nodes
    t = tmp_path / "s.toml"
    t.write_text(
        'name = "tiny"\nepochs = 2\nseeds = [4]\n'
        '[[nodes]]\nrole = "miner"\ncount = 3\nstake_cor = "2000"\n'
        '[[nodes]]\nrole = "miner"\nstrategy = "garbage"\n'
        '[[nodes]]\nrole = "validator"\ncount = 2\nstake_cor = ["5000", "6000"]\n'
        "[env]\ninference_cost_units = 0\n"
    )
    (s,) = load_scenarios(t)
    assert [n for n, _, _ in s.node_names()] == ["miner-00", "miner-01", "miner-02", "miner-03", "validator-00", "validator-01"]
    assert s.env.inference_cost_units == 0 and s.seeds == (4,)
    chosen, catalog = select_scenarios("tiny", t)
    assert chosen == [s] and "honest_only" in catalog


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "nodes": [{"role": "miner", "strategy": "nope"}]},
        {"name": "x", "nodes": [{"role": "oracle"}]},
        {"name": "x", "nodes": [{"role": "miner", "count": 3}], "typo": 1},
        {"name": "x", "nodes": [{"role": "miner", "count": 3}]},  # no validator
        {"name": "x", "nodes": [{"role": "miner", "count": 1}, {"role": "validator"}]},  # fewer miners than redundancy
        {"name": "x", "nodes": [{"role": "miner", "count": 3}, {"role": "validator"}], "params": {"no_such_param": 1}},
        {"name": "x", "nodes": [{"role": "miner", "count": 3}, {"role": "validator"}], "rounds_per_epoch": 50},
        {"name": "x", "nodes": [{"role": "miner", "count": 3, "stake_cor": ["1", "2"]}, {"role": "validator"}]},
        {"name": "x", "nodes": [{"role": "miner", "count": 3}, {"role": "validator"}], "env": {"network_prompts": "x"}},
    ],
)
def test_bad_scenarios_are_refused(bad):
    with pytest.raises(InvalidInput):
        Scenario.from_dict(bad)


def test_unknown_names_are_refused(tmp_path):
    with pytest.raises(InvalidInput):
        select_scenarios("honest_only,nope")
    with pytest.raises(InvalidInput):
        load_scenarios(tmp_path / "missing.json")
    assert NodeGroup("miner", count=2, stake_cor=("1000", "3000")).stake_units(1) == 3000 * 10**18
