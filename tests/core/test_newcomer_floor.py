"""A new node's starting reputation from rule 13: the cap by jailed or recently slashed nodes of its role is floored at
``reputation_newcomer_floor_ppb`` (staking.starting_reputation), so no other node's record holds newcomers down.

Golden vectors (tests/vectors/newcomer_reputation.json, each with its arithmetic and the rule-12 value beside it), the rule
on a chain under rules 12 and 13, and a rule-12 log that replays to the unfloored start.
"""

import json
from pathlib import Path

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.params import Params, param_bounds
from cor_incentives.core.rules import LATEST, RULE_VERSIONS, RULES_NEWCOMER_FLOOR
from cor_incentives.core.staking import newcomer_reputation, starting_reputation
from cor_incentives.core.state_codec import state_hash
from support.chain import addr
from support.market import COR, MODEL, commit_reveal, market, submit, validate_all

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "newcomer_reputation.json").read_text())


@pytest.mark.parametrize("case", VECTORS["start"], ids=lambda c: c["case"])
def test_start_vectors(case):
    got = newcomer_reputation(case["initial_ppb"], case["floor_ppb"], case["lowest_ppb"])
    assert got == case["start_ppb"], case["arithmetic"]
    assert min(case["initial_ppb"], case["lowest_ppb"]) == case["rule_12_ppb"]  # what rules 4-12 gave


def test_the_floor_is_a_governed_parameter_of_rule_13():
    p = Params()
    assert p.reputation_newcomer_floor_ppb == 400_000_000 and p.reputation_initial_ppb == 500_000_000
    assert param_bounds("reputation_newcomer_floor_ppb") == (0, 10**9)
    assert LATEST >= RULES_NEWCOMER_FLOOR == 13 and "reputation_newcomer_floor_ppb" in RULE_VERSIONS[13]


def _jailed(rule_version: int | None, floor_ppb: int | None = None, reputation_ppb: int | None = None):
    """A market whose first miner of a task mismatches and is jailed (its reputation set first, when given)."""
    params = {} if rule_version is None else {"rule_version": rule_version}
    if floor_ppb is not None:
        params["reputation_newcomer_floor_ppb"] = floor_ppb
    c = market(n_miners=3, params=params)
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    if reputation_ppb is not None:
        c.state.nodes[cheat].reputation_ppb = reputation_ppb  # a bad record (set directly: not replayable)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    assert c.state.nodes[cheat].jailed and c.state.slashes[-1].node == cheat
    if reputation_ppb is None:
        validate_all(c, tid, lambda v, m: (0, 900_000_000))  # settles: the mismatch lowers the jailed key's reputation
    return c, cheat


def _register(c, name: str, role: str = "miner") -> int:
    body = {"role": role, "self_bond": str(2000 * COR)} | ({"models": [MODEL]} if role == "miner" else {})
    c.as_(name, "node.register", body)
    n = c.state.nodes[addr(name)]
    assert n.reputation_ppb == n.reputation_start_ppb
    return n.reputation_ppb


@pytest.mark.parametrize("low", [10_000_000, 0, 399_999_999])
def test_a_node_below_the_floor_caps_a_newcomer_only_down_to_it(low):
    c, cheat = _jailed(None, reputation_ppb=low)
    assert c.state.params.rule_version == LATEST and c.state.nodes[cheat].reputation_ppb < 400_000_000
    assert _register(c, "dev") == 400_000_000  # rule 12: the jailed key's reputation
    assert _register(c, "user", "validator") == 500_000_000  # another role: the initial value


def test_a_node_between_the_floor_and_the_initial_value_still_caps_exactly():
    c, cheat = _jailed(None, reputation_ppb=450_000_000)
    r = c.state.nodes[cheat].reputation_ppb
    assert 400_000_000 < r < 500_000_000
    assert _register(c, "dev") == r  # re-registering gains nothing above the floor, as under rules 7-12


def test_rule_12_keeps_the_unfloored_cap():
    c, cheat = _jailed(RULES_NEWCOMER_FLOOR - 1, reputation_ppb=10_000_000)
    r = c.state.nodes[cheat].reputation_ppb
    assert r < 20_000_000 and _register(c, "dev") == r
    assert starting_reputation(c.state, "miner") == r


def test_a_floor_above_the_initial_value_starts_newcomers_at_the_initial_value():
    c, _ = _jailed(None, floor_ppb=600_000_000, reputation_ppb=10_000_000)
    assert _register(c, "dev") == 500_000_000


def test_a_rule_12_log_replays_to_its_unfloored_start():
    """Recorded under rule 12 with a floor in its genesis above the jailed key's reputation: the floor is ignored, the
    fresh key starts at the jailed key's reputation, and the log replays to the same state and hash. The same events
    under rule 13 start the fresh key at the floor."""
    floor = 499_000_000
    old, cheat = _jailed(RULES_NEWCOMER_FLOOR - 1, floor_ppb=floor)
    r = old.state.nodes[cheat].reputation_ppb
    assert r < floor
    assert _register(old, "dev") == r
    replayed = replay(old.events, check_each=True)
    assert replayed.to_dict() == old.state.to_dict() and state_hash(replayed) == state_hash(old.state)
    assert replayed.nodes[addr("dev")].reputation_start_ppb == r

    new, cheat = _jailed(RULES_NEWCOMER_FLOOR, floor_ppb=floor)
    assert new.state.nodes[cheat].reputation_ppb == r  # the same record ...
    assert _register(new, "dev") == floor  # ... floored
    assert replay(new.events, check_each=True).nodes[addr("dev")].reputation_start_ppb == floor
