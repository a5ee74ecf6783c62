"""Rule versions: a network runs the rules its log names (genesis, then passed proposals from their
effective epoch), so a log recorded under version 1 replays the same after version 2 is activated."""

from __future__ import annotations

import pytest

from cor_incentives.app.genesis import DEVNET, check_genesis_spec, genesis_body
from cor_incentives.core.apply import replay
from cor_incentives.core.controllers import adjust
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import Params
from cor_incentives.core.rules import LATEST, RULE_VERSIONS
from cor_incentives.core.units import COR
from support.chain import Chain, addr

PARAMS = {"min_self_bond_miner_units": "1", "gov_voting_period_ticks": 10, "epoch_length_ticks": 20, "gov_min_deposit_units": str(100 * COR)}


def network(rule_version: int) -> Chain:
    c = Chain(wallets={"n1": 10_000 * COR, "n2": 10_000 * COR, "p": 1_000 * COR}, params={**PARAMS, "rule_version": rule_version})
    for n, bond in (("n1", 4000), ("n2", 3000)):
        c.as_(n, "node.register", {"role": "miner", "self_bond": str(bond * COR)})
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # the stake votes from here on
    return c


def pass_change(c: Chain, changes: dict) -> None:
    """Propose ``changes`` from the next epoch, vote it through, and close the epoch that executes it."""
    pid = c.state.next_id
    c.as_("p", "gov.propose", {"kind": "param_change", "title": "t", "changes": changes, "effective_epoch": c.state.epoch + 1})
    for n in ("n1", "n2"):
        c.as_(n, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("epoch.close", {})
    assert c.state.proposals[pid].status == "EXECUTED", c.state.proposals[pid].result


def price_after_governance_sets(c: Chain, value: int) -> tuple[int, int]:
    """Governance sets price_factor_ppb at a close where the price controller also steps: (expected
    under rules 1, under rules 2) — from the closing epoch's value, or from governance's."""
    before = c.state.params.price_factor_ppb
    ctl = c.state.controllers["price"]
    pass_change(c, {"price_factor_ppb": value})
    measured = c.state.epochs[c.state.epoch - 1].controllers["price"]["measured_bps"]
    return adjust(ctl, before, measured), adjust(ctl, value, measured)


def test_a_new_genesis_names_the_latest_rules_and_an_old_one_runs_version_1():
    assert RULE_VERSIONS and LATEST == max(RULE_VERSIONS) and sorted(RULE_VERSIONS) == list(range(1, LATEST + 1))
    body = genesis_body(check_genesis_spec(DEVNET), addr("oracle"), {n: addr(n) for n in DEVNET["key_allocations"]})
    assert body["params"]["rule_version"] == LATEST
    assert Params().rule_version == 1  # what a genesis without it (every log before rule versions) runs


def test_a_log_recorded_under_v1_replays_the_same_after_v2_is_activated():
    c = network(1)
    v1, v2 = price_after_governance_sets(c, 1_500_000_000)
    assert v1 != v2
    assert c.state.params.price_factor_ppb == v1  # rules 1: the controller stepped from the old value
    activated = c.state.epoch + 1
    pass_change(c, {"rule_version": 2})
    assert c.state.params.rule_version == 2 and c.state.params_history.at(activated - 1).rule_version == 1
    v1, v2 = price_after_governance_sets(c, 700_000_000)
    assert v1 != v2
    assert c.state.params.price_factor_ppb == v2  # rules 2: the controller stepped from governance's value
    replayed = replay(c.events, check_each=True)
    assert replayed.to_dict() == c.state.to_dict()
    assert [p.rule_version for _, p in replayed.params_history.versions][:1] == [1]


def test_rule_versions_only_go_up_and_stay_within_the_registry():
    c = network(2)
    for version, code in ((1, "rule_version_downgrade"), (LATEST + 1, "parameter_out_of_bounds"), (0, "parameter_out_of_bounds")):
        before = c.state.to_dict()
        with pytest.raises(EngineError) as err:
            c.as_(
                "p", "gov.propose", {"kind": "param_change", "title": "t", "changes": {"rule_version": version}, "effective_epoch": c.state.epoch + 1}
            )
        assert err.value.code == code
        assert c.state.to_dict() == before
