"""The epoch document of rule version 11 (``core/epoch_document.py``): each input stated once, the same facts.

The same epoch (three simulated worlds, with delegations so nodes have stakers) is closed under rule
version 10 and under 11:

- the money is the same: balances in the same order, the same lines (address, stream, amount,
  claimable) in the same order, the same leaves and root;
- every line of the new document, with what it cites written out (``expand_detail``), is exactly the
  old line, and every address's statement (API / CLI / dashboard) is the same under both;
- the outside auditor recomputes every payout from both documents, bonus rows and cited node lines
  included, and names a bonus row changed in the new document's columns;
- the new document is smaller.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cor_incentives.app import views
from cor_incentives.app.published import published_getter
from cor_incentives.core import ledger as acct
from cor_incentives.core.apply import apply, replay
from cor_incentives.core.epoch_document import expand_detail
from cor_incentives.core.json_view import json_view
from cor_incentives.core.params import ParamHistory
from cor_incentives.core.rules import RULES_EPOCH_DOCUMENT, RULES_PAID_PLANTER
from cor_incentives.core.staking import process_delegate
from cor_incentives.core.state import State
from support.epochs import epoch_events

AUDITOR = Path(__file__).resolve().parents[2] / "src" / "cor_incentives" / "auditor.py"
CASES = [("honest_only", 1), ("lazy_miners", 3), ("sybil_split", 4)]


def outside_auditor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("outside_auditor", AUDITOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["outside_auditor"] = module
    spec.loader.exec_module(module)
    return module


def before_close(events: list[Any], seed: int) -> State:
    """The state before the close, with a few delegations added so nodes have several stakers, and a commission."""
    state = replay(events[:-1])
    rng = random.Random(seed)
    for i, node_id in enumerate(sorted(state.nodes)):
        state.nodes[node_id].commission_bps = rng.choice((0, 500, 2_000))
        for j in range(rng.randrange(0, 3)):
            addr = f"0x{(seed * 1000 + i * 10 + j):040x}"
            amount = rng.randrange(1, 10**21)
            state.ledger.transfer("treasury", acct.wallet(addr), amount, "test_fund")
            process_delegate(state, addr, {"node": node_id, "amount": str(amount)})
    state.ledger.commit()
    state.touched.clear()
    return state


def under_rules(state: State, version: int) -> State:
    h = state.params_history
    assert h is not None
    state.params_history = ParamHistory(tuple((e, p.replace(rule_version=version)) for e, p in h.versions))
    return state


def closed(name: str, seed: int) -> tuple[State, State]:
    """The epoch closed under the rules before and from the epoch document, switched in just before the close. The events
    run under rule 17: from rule 18 a settled canary's planter gets its work row at settlement, so a close switched to
    rule 10 or 11 afterwards would be an epoch no log can hold (a rule version takes effect only at an epoch boundary)
    and the auditor, reading the epoch's rule version, rightly would not recompute that row."""
    events = epoch_events(name, seed, {"rule_version": RULES_PAID_PLANTER - 1})
    old = under_rules(before_close(events, seed), RULES_EPOCH_DOCUMENT - 1)
    new = under_rules(before_close(events, seed), RULES_EPOCH_DOCUMENT)
    apply(old, events[-1])
    apply(new, events[-1])
    return old, new


def canonical(x: object) -> str:
    return json.dumps(json_view(x), sort_keys=False)


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_the_same_facts_stated_once(name: str, seed: int) -> None:
    old, new = closed(name, seed)
    e = old.epoch - 1
    a, b = old.epochs[e], new.epochs[e]
    assert list(old.ledger.balances.items()) == list(new.ledger.balances.items())
    assert (a.root, a.leaves, a.totals) == (b.root, b.leaves, b.totals)
    assert [(i.address, i.stream, i.amount, i.claimable) for i in a.items] == [(i.address, i.stream, i.amount, i.claimable) for i in b.items]
    cited = 0
    for x, y in zip(a.items, b.items, strict=True):
        assert canonical(expand_detail(b.streams, b.staking, y, b.items)) == canonical(x.detail), (x.stream, x.address)
        cited += canonical(y.detail) != canonical(x.detail)
    assert cited > 0  # node, commission and APR lines cite
    assert all("bonus_rows" not in i.detail.get("inputs", {}) and "params" not in i.detail for i in b.items if i.stream.endswith(":node"))
    assert all("node_line" in i.detail and "formula" not in i.detail for i in b.items if i.stream.endswith(":commission"))
    paid_at_close = ("miner_work:", "validator_work:", "staking_apr:")
    assert all("formula" not in i.detail for i in b.items if i.stream.startswith(paid_at_close) and i.stream.endswith((":stake", ":dust")))
    assert all(sorted(i.detail["inputs"]) == ["due", "reward", "stake_ticks"] for i in b.items if i.stream == "staking_apr:node")
    assert {"formula", "params", "line_formulas"} <= set(b.staking) and {"formula", "params", "line_formulas"} <= set(b.streams["miners"])
    for address in sorted({i.address for i in a.items}):
        assert views.statement(old, address, e) == views.statement(new, address, e)
        assert views.rewards(old, address) == views.rewards(new, address)
    assert len(canonical(b)) < len(canonical(a))


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_the_auditor_recomputes_both_documents(name: str, seed: int) -> None:
    audit = outside_auditor()
    for state in closed(name, seed):
        e = state.epoch - 1
        report = audit.audit_epoch(audit.fetch_bundle(published_getter(state), e)).to_dict()
        bad = {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        assert report["ok"], bad
        if state.params.rule_version >= RULES_EPOCH_DOCUMENT:
            assert {"commission.node_line_cited", "miners.total_weighted", "miners.rate_units"} <= set(report["quantities"])
            assert report["quantities"]["commission.node_line_cited"]["total"] > 0
        else:
            assert report["quantities"]["commission.node_reward_formula_kept"]["total"] > 0
        assert report["quantities"]["miner_work.bonus_rows"]["total"] > 0


def test_a_changed_bonus_row_is_named() -> None:
    audit = outside_auditor()
    _, new = closed("honest_only", 1)
    bundle = audit.fetch_bundle(published_getter(new), new.epoch - 1)
    columns = bundle["epoch"]["streams"]["miners"]["bonus_rows"]
    assert sorted(columns) == ["fee_units", "quality_ppb", "task", "units"] and columns["task"], "the epoch has user-task bonus rows"
    assert audit.audit_epoch(bundle).ok
    columns["fee_units"][0] = str(int(columns["fee_units"][0]) + 1)  # a fee share the task does not show
    report = audit.audit_epoch(bundle).to_dict()
    assert not report["ok"]
    assert report["quantities"]["miner_work.bonus_row"]["matched"] == report["quantities"]["miner_work.bonus_row"]["total"] - 1
