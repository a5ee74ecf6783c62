"""The bounty reviewer draw's candidates as they were before ``accounts.linked_among`` (main fc2024f: core/accounts.py
``linked_to_any``, core/bounties.py ``reviewer_candidates``), copied unchanged but for their names: the pairwise
definition (every active validator against every party, ``is_linked`` per pair) that tests/core/test_links.py and
``bench/per_event.py --bounty-draw`` compare the current code with."""

from __future__ import annotations

from collections.abc import Iterable

from cor_incentives.core.accounts import is_linked
from cor_incentives.core.records import Bounty
from cor_incentives.core.selection import selection_weight
from cor_incentives.core.staking import is_selectable
from cor_incentives.core.state import State


def linked_to_any(state: State, who: str, others: Iterable[str]) -> bool:
    """Whether ``who`` is linked to any of ``others``."""
    return any(is_linked(state, who, o) for o in others)


def pairwise_reviewer_candidates(state: State, b: Bounty) -> dict[str, int]:
    """Active validators not linked to the sponsor or a submitter, with their selection weight."""
    parties = [b.sponsor, *b.submissions]
    out = {}
    for node_id in sorted(state.nodes):
        node = state.nodes[node_id]
        if node.role == "validator" and is_selectable(state, node) and not linked_to_any(state, node_id, parties):
            out[node_id] = selection_weight(state, node_id)
    return out
