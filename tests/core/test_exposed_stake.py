"""Rule 14: the staking APR pays only stake exposed to work (docs/rewards.md, *Staking APR*; attack ``idle_stake``).

A node's stake × ticks while it is not selectable (self-bond under its role's minimum, or jailed) are counted apart
(``Node.idle_stake_ticks``) and earn no APR; a miner none of whose models has a task settled in the epoch earns none.
Golden vectors for the formula (tests/vectors/exposed_stake.json), the rule on a chain under rules 13 and 14, and replays.
"""

import json
from pathlib import Path

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.rewards import NOT_DRAWN_MODELS, NOT_DRAWN_ROUTER, NOT_DRAWN_UNSELECTABLE, apr_due
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_EXPOSED_STAKE
from cor_incentives.core.state_codec import encode_state, state_hash
from support.chain import addr
from support.market import COR, commit_reveal, market, submit, validate_all

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "exposed_stake.json").read_text())
MINIMUM = 1_000 * COR  # the miners' default minimum self-bond


@pytest.mark.parametrize("case", VECTORS["due"], ids=lambda c: c["case"])
def test_due_vectors(case):
    got = apr_due(int(case["stake_ticks"]), int(case["idle_stake_ticks"]), case["target_apr_bps"], case["denominator"])
    assert got == int(case["due"]), case["arithmetic"]
    assert apr_due(int(case["stake_ticks"]), 0, case["target_apr_bps"], case["denominator"]) == int(case["rule_13_due"])


def test_rule_14_is_the_latest_and_says_what_changed():
    assert LATEST >= RULES_EXPOSED_STAKE == 14 and "idle_stake_ticks" in RULE_VERSIONS[14]


def _world(rule_version: int | None, **params):
    """A market plus a miner (``dev``'s key) registered with 2 000 COR for a model no task asks for."""
    c = market(n_miners=4, params=({} if rule_version is None else {"rule_version": rule_version}) | params)
    c.as_("dev", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": ["idle-model"]})
    return c


def _settle_one_task(c) -> None:
    tid = submit(c)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners})
    validate_all(c, tid, lambda v, m: (0, 900_000_000))


def _close(c, ticks: int) -> None:
    if ticks:
        c.oracle("tick", {"ticks": ticks})
    c.oracle("epoch.close", {})


def _apr(c, epoch: int, node: str) -> int:
    """The APR a node's line says it was paid in ``epoch`` (0 when it has none)."""
    lines = [i for i in c.state.epochs[epoch].items if i.stream == "staking_apr:node" and i.address == node]
    return lines[0].detail["inputs"]["reward"] if lines else 0


def _due(c, stake_ticks: int, idle: int = 0) -> int:
    p = c.state.params
    return apr_due(stake_ticks, idle, c.state.epochs[0].staking["target_apr_bps"], 10_000 * p.epochs_per_year * p.epoch_length_ticks)


def test_a_miner_serving_no_worked_model_earns_no_apr_from_rule_14():
    c = _world(None)
    _settle_one_task(c)
    _close(c, 40)
    idle, working = addr("dev"), addr("m0")
    st = c.state.epochs[0].staking
    assert st["excluded"][idle] == NOT_DRAWN_MODELS and _apr(c, 0, idle) == 0
    assert c.balance(f"claimable:{idle}") == 0
    assert st["excluded"][addr("router")] == NOT_DRAWN_ROUTER and _apr(c, 0, addr("router")) == 0  # never drawn either
    # the working miner next to it is paid on all its stake × ticks (never unselectable)
    n = st["nodes"][working]
    assert n["idle_stake_ticks"] == 0 and _apr(c, 0, working) == _due(c, n["stake_ticks"]) > 0
    # the idle node's stake × ticks still count in the total (the effective APR is over all bonded stake)
    assert st["nodes"][idle]["stake_ticks"] == 2000 * COR * c.state.epochs[0].end_tick and idle not in {
        x for x in st["nodes"] if st["nodes"][x].get("idle_stake_ticks")
    }


def test_the_same_miner_was_paid_under_rule_13():
    c = _world(RULES_EXPOSED_STAKE - 1)
    _settle_one_task(c)
    _close(c, 40)
    idle = addr("dev")
    st = c.state.epochs[0].staking
    assert idle not in st["excluded"] and "idle_stake_ticks" not in st["nodes"][idle]
    assert _apr(c, 0, idle) == _due(c, st["nodes"][idle]["stake_ticks"]) > 0
    router = addr("router")
    assert router not in st["excluded"] and _apr(c, 0, router) == _due(c, st["nodes"][router]["stake_ticks"]) > 0


def test_an_epoch_with_no_task_of_its_model_pays_a_miner_nothing_but_validators_are_paid():
    c = _world(None)
    _close(c, 40)  # no task at all
    st = c.state.epochs[0].staking
    for m in ("m0", "m1", "m2", "dev"):
        assert st["excluded"][addr(m)] == NOT_DRAWN_MODELS
    for v in ("v0", "v1", "v2"):
        assert _apr(c, 0, addr(v)) == _due(c, st["nodes"][addr(v)]["stake_ticks"]) > 0


@pytest.mark.parametrize("rule", [RULES_EXPOSED_STAKE - 1, RULES_EXPOSED_STAKE])
def test_self_bond_under_the_minimum_is_idle_and_a_top_up_counts_from_then_on(rule):
    """m0 unbonds to one unit under the minimum at tick 0 and tops up at tick 30: under rule 14 only its stake × ticks
    from 30 to the close earn the APR."""
    c = market(n_miners=4, params={"rule_version": rule})
    m0 = addr("m0")
    c.as_("m0", "stake.unbond", {"amount": str(1000 * COR + 1)})  # self-bond 1 000 COR − 1
    assert c.state.nodes[m0].stake_total == MINIMUM - 1
    _settle_one_task(c)  # m0 is not selectable: three of the other miners serve it
    assert m0 not in {a.miner for t in c.state.tasks.values() for a in t.miners}
    start = c.state.tick
    c.oracle("tick", {"ticks": 30 - start})
    c.as_("m0", "stake.bond", {"amount": "1"})  # at the minimum: selectable from tick 30
    _close(c, 50)
    after = c.state.epochs[0].end_tick - 30
    st = c.state.epochs[0].staking["nodes"][m0]
    assert start == 0 and after >= 50 and st["stake_ticks"] == (MINIMUM - 1) * 30 + MINIMUM * after
    if rule == RULES_EXPOSED_STAKE:
        assert st["idle_stake_ticks"] == (MINIMUM - 1) * 30
        assert _apr(c, 0, m0) == _due(c, MINIMUM * after) > 0
    else:
        assert "idle_stake_ticks" not in st and _apr(c, 0, m0) == _due(c, st["stake_ticks"])
    assert replay(c.events).ledger.balances == c.state.ledger.balances
    assert state_hash(replay(c.events)) == state_hash(c.state)


def test_a_node_never_selectable_all_epoch_is_left_out_and_so_is_its_delegator():
    c = market(n_miners=4)
    m0 = addr("m0")
    c.as_("m0", "stake.unbond", {"amount": str(1000 * COR + 1)})
    c.as_("user", "stake.delegate", {"node": m0, "amount": str(20_000 * COR)})
    assert c.state.nodes[m0].stake_total == MINIMUM - 1 + 20_000 * COR  # delegations do not make a node selectable
    _settle_one_task(c)
    _close(c, 40)
    st = c.state.epochs[0].staking
    assert st["excluded"][m0] == NOT_DRAWN_UNSELECTABLE
    assert st["nodes"][m0]["idle_stake_ticks"] == st["nodes"][m0]["stake_ticks"] > 0
    assert not [i for i in c.state.epochs[0].items if i.stream.startswith("staking_apr:") and i.address == addr("user")]


def test_the_ticks_in_jail_are_idle_and_the_ticks_after_unjail_are_not():
    """m-cheat mismatches in epoch 0 (slashed, jailed: no APR that epoch). In epoch 1 it serves a jail until it unjails
    at tick 30 of the epoch (its bond restored at tick 10, still jailed); it is paid on its stake × ticks from then on."""
    c = market(n_miners=4, params={"jail_duration_ticks": 10})
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    assert c.state.nodes[cheat].jailed
    _close(c, 40)
    assert c.state.epochs[0].staking["excluded"][cheat] == "slashed this epoch"
    t1 = c.state.tick
    c.oracle("tick", {"ticks": 10})
    stake = c.state.nodes[cheat].stake_total
    c.submit(cheat, "stake.bond", {"amount": str(MINIMUM)})  # restore the minimum the slash took part of: still jailed
    c.oracle("tick", {"ticks": 20})
    c.submit(cheat, "node.unjail", {})
    _settle_one_task(c)
    _close(c, 50)
    st = c.state.epochs[1].staking["nodes"][cheat]
    assert st["idle_stake_ticks"] == stake * 10 + (stake + MINIMUM) * 20
    assert st["stake_ticks"] == stake * 10 + (stake + MINIMUM) * (c.state.epochs[1].end_tick - t1 - 10)
    assert _apr(c, 1, cheat) == _due(c, st["stake_ticks"], st["idle_stake_ticks"]) > 0
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_a_staker_is_warned_while_its_node_would_earn_no_apr():
    """``views.staking_warnings`` (the node view, `cor rewards`, statements): a delegator of a miner serving no worked
    model, and the operator of an underbonded node, are told their stake earns no APR; a worked model clears it."""
    from cor_incentives.app import views

    c = _world(None)
    idle, m0 = addr("dev"), addr("m0")
    c.as_("user", "stake.delegate", {"node": m0, "amount": str(10 * COR)})
    assert any("serves no model with a task settled this epoch" in w for w in views.staking_warnings(c.state, addr("user")))
    assert any(w.startswith(f"your node {idle} serves no model") for w in views.staking_warnings(c.state, idle))
    _settle_one_task(c)
    assert views.staking_warnings(c.state, addr("user")) == []  # m0's model has a settled task now
    assert any("is a router" in w for w in views.staking_warnings(c.state, addr("router")))
    assert views.staking_warnings(c.state, idle) != []  # the idle model still has none
    c.as_("m1", "stake.unbond", {"amount": str(1000 * COR + 1)})
    assert any("is underbonded" in w for w in views.staking_warnings(c.state, addr("m1")))
    t0 = c.state.tick
    c.oracle("tick", {"ticks": 7})
    detail = views.node(c.state, addr("m1"), detail=True)  # the node view counts its idle stake × ticks up to now
    assert int(detail["idle_stake_ticks_units"]) == (MINIMUM - 1) * 7 and c.state.tick == t0 + 7
    _close(c, 10)  # a new epoch, no task of m0's model yet: m0 was paid last epoch, so its delegator is not alarmed
    assert not any("serves no model" in w for w in views.staking_warnings(c.state, addr("user")))
    assert any(w.startswith(f"your node {idle} serves no model") for w in views.staking_warnings(c.state, idle))  # left out then too
    old = _world(RULES_EXPOSED_STAKE - 1)
    assert views.staking_warnings(old.state, addr("dev")) == []  # rule 13 pays it: nothing to warn of


def test_governance_activates_rule_14_mid_network_and_the_log_replays():
    """A network on rule 13 pays its model-less miners the APR; a passed param_change activates rule 14 from the next
    epoch, whose close leaves them out; the whole log (both rules) replays to the same state."""
    from core.test_rules import network, pass_change

    c = network(RULES_EXPOSED_STAKE - 1)  # two miners registered for no model, two epochs closed
    n1 = addr("n1")
    paid_13 = _apr(c, c.state.epoch - 1, n1)
    assert paid_13 > 0 and c.state.params.rule_version == RULES_EXPOSED_STAKE - 1
    pass_change(c, {"rule_version": RULES_EXPOSED_STAKE})  # the close that executes it still runs rule 13
    assert c.state.params.rule_version == RULES_EXPOSED_STAKE and _apr(c, c.state.epoch - 1, n1) > 0
    c.oracle("epoch.close", {})
    st = c.state.epochs[c.state.epoch - 1].staking
    assert st["excluded"][n1] == NOT_DRAWN_MODELS and _apr(c, c.state.epoch - 1, n1) == 0
    assert encode_state(replay(c.events)) == encode_state(c.state)


def test_the_auditor_recomputes_who_rule_14_leaves_out():
    """The independent auditor (stdlib only) recomputes the APR of a rule-14 epoch with an idle miner and an underbonded
    one from the published JSON: it matches; a document that pays the idle miner, or leaves a working one out, does not."""
    import copy

    from cor_incentives import auditor
    from cor_incentives.app.published import published_getter

    c = _world(None)
    c.as_("m3", "stake.unbond", {"amount": str(1000 * COR + 1)})
    _settle_one_task(c)
    _close(c, 40)
    bundle = auditor.fetch_bundle(published_getter(c.state), 0)
    assert {n["id"] for n in bundle["nodes"]} >= {addr("dev"), addr("m0")}
    report = auditor.audit_epoch(bundle)
    assert report.ok, report.to_dict()
    q = report.to_dict()["quantities"]
    assert q["apr.left_out_iff_no_worked_model"]["total"] >= 2 and q["apr.not_selectable_all_epoch"]["total"] == 1
    assert q["apr.router_left_out"]["total"] == 1
    bad = copy.deepcopy(bundle)
    del bad["epoch"]["staking"]["excluded"][addr("router")]  # the router published as paid
    assert not q_ok(auditor.audit_epoch(bad), "apr.router_left_out")
    for who, change in ((addr("dev"), None), (addr("m0"), "not drawable: serves no model with a task settled this epoch")):
        bad = copy.deepcopy(bundle)
        if change is None:
            del bad["epoch"]["staking"]["excluded"][who]  # the idle miner published as paid
        else:
            bad["epoch"]["staking"]["excluded"][who] = change  # a working miner published as left out
        assert not q_ok(auditor.audit_epoch(bad), "apr.left_out_iff_no_worked_model")


def q_ok(report, name: str) -> bool:
    v = report.to_dict()["quantities"][name]
    return v["matched"] == v["total"]


def test_the_epoch_document_states_the_formula_of_its_rule():
    """The staking account cites the formula once (rule 11 on): from rule 14 the one with idle_stake_ticks."""
    for rule, formula in (
        (RULES_EXPOSED_STAKE, "(stake_ticks − idle_stake_ticks) × target_apr_bps"),
        (RULES_EXPOSED_STAKE - 1, "stake_ticks × target_apr_bps"),
    ):
        c = _world(rule)
        _settle_one_task(c)
        _close(c, 40)
        assert c.state.epochs[0].staking["formula"].startswith(formula), rule
