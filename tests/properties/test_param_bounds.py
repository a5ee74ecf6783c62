"""Every parameter at its bounds, through governance, never halts the network.

For each declared parameter, once at its minimum and once at its maximum (splits: everything to the
first share, then to the last; as far as the other parameters' rules allow), a fresh network passes
a ``param_change`` proposal, executes it at an epoch close, and then closes two more epochs with a
user task in each (submitted, committed, revealed, validated — or refused, if the new value forbids
it). Nothing may halt: every tick and epoch close is accepted and no step of it is skipped,
conservation holds after every event, a refused command leaves the state as it was, and replaying
the log gives the same state.
"""

from __future__ import annotations

import json

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import FIRST_RULES_DEFAULTS, PARAM_FIELDS, params_from_dict
from cor_incentives.core.rules import RULES_VOTER_POWER, rules_since
from support.chain import addr, refusal_of
from support.exact import exact
from support.market import MODEL, commit_reveal, market, submit, validate_all

# what the test networks start with (a market chain has no beacon: the first rules' defaults), so a bound
# is one the other parameters of that network allow (e.g. min_validators_per_task ≤ validators_per_task 3)
DEFAULTS = params_from_dict({**FIRST_RULES_DEFAULTS, "redundancy": 3})


def bound_values(name: str) -> list[object]:
    """The parameter's extremes, kept within the rules that tie it to the others' defaults."""
    f = PARAM_FIELDS[name]
    if name == "mint_enabled":
        return [False, True]
    if "split" in f.metadata:
        keys = list(f.metadata["split"])
        return [concentrated(name, keys[0]), concentrated(name, keys[-1])]
    if "keys" in f.metadata:
        return [{k: 0 for k in f.metadata["keys"]}, {k: f.metadata["max_each"] for k in f.metadata["keys"]}]
    if "listing" in f.metadata:  # none listed; as many as may be, the market's model among them, at the top tier
        top = f.metadata["listing"][-1]
        return [{}, {MODEL: top, **{f"model-{i}": top for i in range(f.metadata["max_entries"] - 1)}}]
    lo, hi = f.metadata["min"], f.metadata["max"]
    default = getattr(DEFAULTS, name)
    return [reachable(name, lo, default), reachable(name, hi, default)]


def allowed(name: str, value: object) -> bool:
    try:
        DEFAULTS.replace(**{name: value})
        return True
    except EngineError:
        return False


def reachable(name: str, bound: int, default: int) -> int:
    """The value nearest ``bound`` (towards the default) that the rules tying parameters together allow."""
    if allowed(name, bound):
        return bound
    good, bad = default, bound  # allowed / not allowed; the allowed side is an interval around the default
    while abs(good - bad) > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if allowed(name, mid) else (good, mid)
    return good


def concentrated(name: str, key: str) -> dict[str, int]:
    """The split nearest to all of it in ``key`` (on the line from the default) that the other rules allow
    (e.g. the fee split keeps the treasury share the user-task bonus needs)."""
    default = dict(getattr(DEFAULTS, name))

    def at(t: int) -> dict[str, int]:  # t/10 000 of the way from the default to everything in ``key``
        v = {k: share - share * t // 10_000 for k, share in default.items() if k != key}
        return {**v, key: 10_000 - sum(v.values())}

    good, bad = 0, 10_000
    if allowed(name, at(bad)):
        return at(bad)
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if allowed(name, at(mid)) else (good, mid)
    return at(good)


CASES = [(name, v) for name in PARAM_FIELDS for v in bound_values(name)]


def encoded(value: object) -> object:
    """As a command carries it: integers above 2**53 - 1 as decimal strings."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**53 - 1:
        return str(value)
    return value


def fingerprint(c) -> str:
    view, encoded = exact(c.state)  # the encoding keeps key order (a sorted dump of the view would not)
    return json.dumps(view, sort_keys=True, default=str) + encoded.decode()


def attempt(c, step) -> None:
    """Run one user step; a refusal must leave the state exactly as it was."""
    before = fingerprint(c)
    try:
        step()
    except EngineError:
        assert fingerprint(c) == before, "a refused command changed the state"


def one_epoch_of_work(c) -> None:
    box: dict[str, int] = {}
    attempt(c, lambda: box.update(tid=submit(c)))
    tid = box.get("tid")
    if tid is None or tid not in c.state.tasks:
        return
    task = c.state.tasks[tid]
    attempt(c, lambda: commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners}))
    attempt(c, lambda: validate_all(c, tid, lambda v, m: (10_000_000, 900_000_000)))


@pytest.mark.parametrize("name,value", CASES, ids=[f"{n}={'min' if i % 2 == 0 else 'max'}" for i, (n, _) in enumerate(CASES)])
def test_a_parameter_at_its_bound_never_halts(name, value):
    start = {"rule_version": 1} if name == "rule_version" else None  # versions only go up: from the first, stay or upgrade
    c = market(n_miners=3, n_validators=3, deposit=1_000_000 * 10**18 // 2, params=start)
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # stake votes once it has been bonded since before the previous epoch began
    proposer = "m0"
    body = {"kind": "param_change", "title": f"{name} to a bound", "changes": {name: encoded(value)}, "effective_epoch": c.state.epoch + 1}
    no_op = c.state.params.replace(**body["changes"]) == c.state.params  # the bound is the value in force
    if no_op and rules_since(c.state.params, RULES_VOTER_POWER):  # rule 29 refuses it (a no-op)
        assert refusal_of(c, addr(proposer), "gov.propose", body) == "param_change_no_op"
        c.oracle("epoch.close", {})
    else:
        c.as_(proposer, "gov.propose", body)
        pid = max(c.state.proposals)
        for voter in ("m0", "m1", "m2", "v0", "v1", "v2", "router"):
            c.as_(voter, "gov.vote", {"proposal": pid, "option": "yes"})
        c.oracle("epoch.close", {})  # the vote ends with this epoch and the change executes at its close
        assert c.state.proposals[pid].status == "EXECUTED", c.state.proposals[pid].result
    for _ in range(2):
        in_force = getattr(c.state.params, name)
        controller = next((k for k in c.state.controllers.values() if k.enabled and k.param == name), None)
        if controller is not None:  # its controller moves it from there, within the controller's bounds
            assert controller.min_value <= in_force <= controller.max_value
        else:
            assert (dict(in_force) if isinstance(value, dict) else in_force) == value
        one_epoch_of_work(c)
        c.oracle("epoch.close", {})
    assert c.state.epoch == 5
    skipped = [s for r in c.state.epochs.values() for s in r.skipped]
    assert skipped == [], f"a step of the epoch close could not happen at this bound: {skipped}"
    assert exact(replay(c.events)) == exact(c.state)
