"""Conservation checked per event in O(what the event wrote), not O(accounts) (docs/design.md §9).

``ledger.check_conservation`` scans every balance: no negative balance, Σ balances = 0 (the sources
``genesis`` and ``minted`` net against everything else), Σ non-source balances = genesis supply +
minted. A replay that runs it after every event pays O(accounts) per event. ``Conservation`` checks
the same invariants from what one event changed: the balances it wrote and what they held before,
read from the event's ``journal.WriteLog`` of the balances (what ``cor verify`` uses: no undo
journal) or from the undo journal it was applied under (every balance write of the core goes
through the journaled dict or ``journal.Writes``):

    - every balance the event wrote is non-negative (sources excepted);
    - the event's postings explain every balance change exactly: for each account, what it
      received minus what it sent in the event's postings equals new balance − old balance (so a
      write that bypasses the postings is caught, even when it nets to zero);
    - Σ changes = 0, and Σ changes of non-source accounts = the change of genesis supply + minted.

If the state held before the event satisfied the full check, these imply the state after does: the
full invariant is maintained by induction. A write the journal cannot attribute to single balances
(the balances dict cleared or replaced, the ledger replaced) makes that event fall back to the full
scan. ``cor verify`` runs the full scan at its start, at oracle checkpoints at most every
``FULL_CHECK_EVERY`` events, and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import invariant
from .journal import MISSING, Undo, WriteLog, values_before
from .ledger import SOURCES, Posting, check_conservation
from .staking import stakes_match_ledger
from .state import State

FULL_CHECK_EVERY = 4_096  # events between two full scans at most (at the next oracle checkpoint)


@dataclass
class Conservation:
    """Running conservation check over a replay: ``start`` once (full scan), ``after_event`` for each
    applied event with the journal entries it was applied under, ``full`` whenever wanted."""

    issued: int = 0  # genesis supply + minted after the last checked event
    balances: dict[str, int] | None = None  # the ledger's balances object the last check saw (a new one: full scan)

    def start(self, state: State) -> None:
        """The full scan of ``state`` (the replay's starting point), then incremental from there."""
        self.full(state)

    def full(self, state: State) -> None:
        """The O(accounts) check of ``ledger.check_conservation``; re-bases the running totals."""
        self.issued, self.balances = state.genesis_supply + state.minted, state.ledger.balances
        check_conservation(state.ledger, state.genesis_supply, state.minted)
        stakes_match_ledger(state)  # every node's cached stake_total (each stake move checks only itself)
        state.check_entry_indexes()  # the derived indexes of unbondings and redelegations (each event updates only its own)

    def after_event(self, state: State, writes: WriteLog | list[Undo], postings: list[Posting]) -> None:
        """Raise InvariantViolation unless the event whose balance writes are ``writes`` (its write log of
        the balances, or its undo journal) and whose postings are ``postings`` kept the ledger conserved
        (see the module doc); O(writes + postings)."""
        balances = state.ledger.balances
        before: dict[str, int] | None = None
        if balances is self.balances:
            if isinstance(writes, WriteLog):
                before = writes.values_before() if writes.watched is balances else None
            else:
                before = values_before(writes, balances)
        if before is None:  # the balances were cleared or replaced: no per-account record to go by
            self.full(state)
            return
        issued = state.genesis_supply + state.minted
        if len(postings) == 1 and len(before) == 2 and issued == self.issued and _one_posting_holds(postings[0], before, balances):
            return  # (what ``check_changes`` finds for it: nothing broken, ``issued`` unchanged)
        self.check_changes(balances, before, postings, issued)

    def check_changes(self, balances: dict[str, int], before: dict[str, Any], postings: list[Posting], issued: int) -> None:
        """``after_event``'s check of every event, from the balances now, what the accounts written held ``before`` (``MISSING``:
        absent), the event's postings and supply + minted now (``issued``); moves the running totals to ``issued``."""
        moved: dict[str, int] = {}
        for p in postings:
            moved[p.src] = moved.get(p.src, 0) - p.amount
            moved[p.dst] = moved.get(p.dst, 0) + p.amount
        issued_before = self.issued
        self.issued = issued  # the next event is checked against this one's totals, even if this one broke them
        net = accounts = 0
        for account, was in before.items():  # one pass over the balances written, then the accounts only posted to
            new = balances.get(account, 0)
            change = new - (0 if was is MISSING else was)
            posted = moved.pop(account, 0)
            if change != posted or (new < 0 and account not in SOURCES):  # the messages are written only for a break
                invariant(account in SOURCES or new >= 0, f"negative balance {account}={new}")
                invariant(change == posted, f"balance of {account} changed by {change} but the event's postings move {posted}")
            net += change
            if account not in SOURCES:
                accounts += change
        for account, posted in moved.items():  # posted to, never written: unchanged
            new = balances.get(account, 0)
            if posted != 0 or (new < 0 and account not in SOURCES):
                invariant(account in SOURCES or new >= 0, f"negative balance {account}={new}")
                invariant(posted == 0, f"balance of {account} changed by 0 but the event's postings move {posted}")
        if net != 0 or accounts != issued - issued_before:  # the messages are written only for a break
            invariant(net == 0, f"the event's balance changes do not net to zero (Σ = {net})")
            invariant(
                accounts == issued - issued_before,
                f"conservation broken: balances outside the sources changed by {accounts}, supply + minted by {issued - issued_before}",
            )


def _one_posting_holds(p: Posting, before: dict[str, Any], balances: dict[str, int]) -> bool:
    """An event whose one posting ``p`` moves between two accounts, neither a source, that are the two balances it wrote
    (``before``), each changed by exactly what ``p`` moves and left non-negative: ``Conservation.after_event``'s general
    check passes (the changes net to zero and the non-source total is unchanged, as supply + minted must then be). Most
    events of a log (a transfer, a delegation, a registration's self-bond); False sends it to the general check."""
    src, dst = p.src, p.dst
    if src == dst or src in SOURCES or dst in SOURCES:
        return False
    if src not in before or dst not in before:
        return False
    was_src, was_dst = before[src], before[dst]
    new_src, new_dst = balances.get(src, 0), balances.get(dst, 0)
    amount = p.amount
    return (
        new_src >= 0
        and new_dst >= 0
        and new_src - (0 if was_src is MISSING else was_src) == -amount
        and new_dst - (0 if was_dst is MISSING else was_dst) == amount
    )
