"""The one-pass JSON view of records equals ``json_ready(dataclasses.asdict(...))`` on real worlds.

The projections (epoch documents, nodes, slashes, unbondings) and ``cor verify``'s expected rows
are written with ``json_view``; what they hold must not change by a byte. Worlds of attack families
with slashes, unbondings, redelegations, governance and bounties run through the real core; every
record of the resulting state is compared, and the stored projections equal ``expected_rows``.
"""

from __future__ import annotations

import dataclasses

import pytest

from cor_incentives.core.json_view import json_view
from cor_incentives.core.records import EarningItem, EpochRecord, Node
from cor_incentives.core.state import json_ready
from cor_incentives.store import db
from cor_incentives.store.projections import node_view
from support.records import records, seeded_world_state


def old_node_view(state, node):
    d = dataclasses.asdict(node)
    d["self_bond"] = state.ledger.balance(f"bonded:{node.id}")
    d["delegator_count"] = len(node.delegators)
    d["jailed"] = node.jailed
    d["delegators"] = sorted(node.delegators)
    return json_ready(d)


@pytest.mark.parametrize("name", ["slash_dodge_unbond", "redelegate_dodge", "flash_governance", "bounty_self_award"])
def test_json_view_equals_asdict_then_json_ready(name):
    state = seeded_world_state(name)
    seen = 0
    for record in records(state):
        assert db.dumps(json_view(record)) == db.dumps(json_ready(dataclasses.asdict(record)))
        seen += 1
    for node in state.nodes.values():
        assert db.dumps(node_view(state, node)) == db.dumps(old_node_view(state, node))
    assert len(state.epochs) >= 3 and seen > 20


def test_shared_and_big_values():
    column = [1, 2**53, 2**53 + 1, -(2**53) - 1, 10**24]  # an integer column with values past JSON's safe range
    shared = {"tasks": [1, 2, 3], "big": 10**24, "set": {"b", "a"}, "t": (1, (2, 3)), 5: "int key", "fee_units": column}
    items = [EarningItem("0xa", "miners:node", 10**20, shared), EarningItem("0xb", "miners:commission", 2**53, shared, True)]
    record = EpochRecord(0, 0, 10, {"miners": 10**20}, items, root="0x00", leaves={"0xa": 10**20}, reputation={"n": 7})
    assert json_view(record) == json_ready(dataclasses.asdict(record))
    view = json_view(record)
    assert view["items"][0]["detail"]["big"] == str(10**24) and view["items"][1]["amount"] == 2**53
    assert view["items"][0]["detail"]["set"] == ["a", "b"] and view["items"][0]["detail"]["5"] == "int key"
    assert view["items"][0]["detail"]["fee_units"] == [1, 2**53, str(2**53 + 1), str(-(2**53) - 1), str(10**24)]
    node = Node("0xn", "miner", 100, 0, delegators={"0xz", "0xy"}, models=("m",))
    assert json_view(node) == json_ready(dataclasses.asdict(node))
