"""Moving stake (redelegation, cancelled unbonding) dodges no slash and earns only stake × time: each attack at its defaults over
five seeds, and the same attack against the naive rule (the move not slashable at its source, the cancel returning the entry
as it is) to show the check catches the dodge."""

import pytest

import cor_incentives.core.redelegation as redelegation
import cor_incentives.core.slashing as slashing
from cor_incentives.sim.attacks import Attack, evaluate

SEEDS = (1, 2, 3, 4, 5)


def run(name, **knobs):
    r = evaluate(Attack(name, name, knobs), seeds=SEEDS)
    assert r["books"]["ok"], r["books"]
    return r


@pytest.mark.parametrize("name", ["redelegate_dodge", "cancel_unbond_dodge"])
def test_moving_away_before_the_slash_dodges_nothing(name):
    r = run(name)
    m = r["measured"]
    assert r["passed"] and r["gain"] == 0, r["summary"]
    assert m["runs_moved"] == len(SEEDS) and m["slashed"] == m["twin_slashed"] == len(SEEDS) * 20_000 * 10**18 * 500 // 10_000
    if name == "cancel_unbond_dodge":
        assert m["runs_cancelled"] == len(SEEDS)


@pytest.mark.parametrize("name", ["redelegate_dodge", "cancel_unbond_dodge"])
def test_the_naive_rule_lets_the_whole_slash_through(name, monkeypatch):
    """The redelegation not slashable at its source lets the whole slash through; a plain cancel is caught by the dating."""
    monkeypatch.setattr(slashing, "slashable_redelegations", lambda *a, **k: [])
    monkeypatch.setattr(redelegation, "spared_slashes", lambda *a, **k: [])
    r = run(name)
    if name == "cancel_unbond_dodge":
        # from rule version 4 the offence is dated at its task's creation: the unbonding entry started after it and the slash
        # takes its share from it directly, so even a plain cancel returns no unslashed stake
        assert r["passed"] and r["gain"] == 0 and r["measured"]["slashed"] == r["measured"]["twin_slashed"] > 0
        return
    assert not r["passed"] and r["gain"] == 1 and r["measured"]["slashed"] == 0


def test_hopping_to_the_richest_node_earns_only_stake_time_and_cannot_hop_back():
    r = run("redelegate_hop")
    m = r["measured"]
    assert r["passed"] and abs(r["gain"]) < 1e-9 and m["reward"] > 0, r["summary"]
    assert m["hops"] == len(SEEDS) and "redelegation_in_progress" in m["refused"]  # no hop back while the move is young


def test_partial_moves_and_late_cancels_are_stopped_too():
    assert run("redelegate_dodge", share_bps=5_000, to="validator-00")["passed"]
    assert run("cancel_unbond_dodge", share_bps=2_500, cancel_after_ticks=30)["passed"]
