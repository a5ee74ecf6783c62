"""What ``Projector.project`` buffers for the next flush: when the unbonding documents must be synced."""

from __future__ import annotations

from cor_incentives.core.apply import Applied
from cor_incentives.core.ledger import Posting
from cor_incentives.core.state import State
from cor_incentives.store.projections import Projector


def test_a_posting_through_an_unbonding_account_syncs_the_unbondings_whatever_the_event():
    """A slash inside a task event moves stake out of ``unbonding:`` accounts: the flush must rewrite the unbonding
    documents (``buffered_rows`` counts them) though the event's kind is none of ``UNBONDING_KINDS``; until then, and
    after a discard, it need not. The accounts are counted once however many events touch them."""
    state = State()
    state.unbondings[1] = "first"  # (``buffered_rows`` counts them: what they hold does not matter here)
    state.unbondings[2] = "second"
    projector = Projector()
    projector.project(None, state, Applied(seq=0, kind="task.settle", actor="x", postings=[Posting("wallet:a", "wallet:b", 5, "fee")]))
    assert projector.buffered_rows(state) == 1 + 2  # a posting, two accounts
    projector.project(None, state, Applied(seq=1, kind="task.settle", actor="x", postings=[Posting("wallet:b", "wallet:a", 2, "fee")]))
    assert projector.buffered_rows(state) == 2 + 2
    slash = [Posting("wallet:a", "wallet:c", 1, "fee"), Posting("unbonding:a", "slashed", 3, "slash"), Posting("wallet:b", "wallet:a", 1, "fee")]
    projector.project(None, state, Applied(seq=2, kind="task.settle", actor="x", postings=slash))
    assert projector.buffered_rows(state) == 5 + 5 + len(state.unbondings)  # three accounts more, and the unbondings
    projector.project(None, state, Applied(seq=3, kind="task.settle", actor="x", postings=[Posting("wallet:a", "wallet:b", 1, "fee")]))
    assert projector.buffered_rows(state) == 6 + 5 + len(state.unbondings)  # still to sync at the next flush

    projector.discard()
    projector.project(None, state, Applied(seq=4, kind="task.settle", actor="x", postings=[Posting("wallet:a", "unbonding:a", 1, "fee")]))
    assert projector.buffered_rows(state) == 1 + 2 + len(state.unbondings)  # as a destination too
    projector.discard()
    projector.project(None, state, Applied(seq=5, kind="task.settle", actor="x", postings=[Posting("wallet:a", "wallet:unbonding", 1, "fee")]))
    assert projector.buffered_rows(state) == 1 + 2
