"""The bounty reviewer draw's candidates as they were before ``accounts.linked_among`` (main fc2024f: core/accounts.py
``linked_to_any``, core/bounties.py ``reviewer_candidates``), copied unchanged but for their names: the pairwise
definition (every active validator against every party, ``is_linked`` per pair) that tests/core/test_links.py and
``bench/per_event.py --bounty-draw`` compare the current code with; and a challenge's ranking before
``accounts.linked_by_party`` (every reviewer against every entry, ``is_linked`` per pair), for tests/core/test_links.py and
``bench/per_event.py --finalize``."""

from __future__ import annotations

from collections.abc import Iterable

from cor_incentives.core.accounts import is_linked
from cor_incentives.core.records import Bounty, Submission
from cor_incentives.core.selection import selection_weight
from cor_incentives.core.staking import is_selectable
from cor_incentives.core.state import State
from cor_incentives.core.validation import weighted_median


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


# A challenge's ranking as it was before ``accounts.linked_by_party`` (main 8729d6b: core/bounties.py ``entry_reviewers``,
# ``entry_score``, ``ranking``), copied unchanged but for their names: ``is_linked`` per (reviewer, entry) pair.


def pairwise_entry_reviewers(state: State, b: Bounty, sub: Submission) -> list[str]:
    """The reviewers who may review ``sub``: not its hunter, not linked to it."""
    return [r for r in b.reviewers if r != sub.hunter and not is_linked(state, r, sub.hunter)]


def pairwise_entry_score(state: State, b: Bounty, sub: Submission) -> int:
    """A challenge entry's score: the lower median over its eligible reviewers, a missing score counting 0."""
    scores = [(sub.scores.get(r, 0), 1, r) for r in pairwise_entry_reviewers(state, b, sub)]
    return weighted_median(scores) if scores else 0


def pairwise_ranking(state: State, b: Bounty) -> list[Submission]:
    """A challenge's entries that can win, best first: score descending, then the earlier entry; a score of 0 wins nothing."""
    scored = [(pairwise_entry_score(state, b, s), s) for s in b.submissions.values()]
    return [s for score, s in sorted(scored, key=lambda x: (-x[0], x[1].index)) if score > 0]
