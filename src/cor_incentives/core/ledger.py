"""The double-entry ledger: typed accounts, postings, conservation (docs/design.md §2).

Concepts
    Every movement of COR is a posting ``(src, dst, amount, reason)`` inside one event. Accounts are
    typed strings: ``wallet:<addr>``, ``bonded:<node>``, ``delegated:<node>:<addr>``,
    ``unbonding:<addr>``, ``rewards:<node>`` (a node's stakers' rewards between crediting and
    being paid by stake × ticks), ``escrow:task:<id>``, ``escrow:bounty:<id>``, ``escrow:slash:<id>`` (transient, empty
    after its event), ``escrow:session:<id>``, ``claimable:<addr>``, ``pool:network_incentives``,
    ``pool:staking``, ``pool:community``, ``treasury``, ``burned``, ``dust``, ``genesis`` (the supply's
    source, used only by the genesis event) and ``minted`` (only when minting is enabled).

Invariants (checked by ``check_conservation`` after every event in tests and by ``cor verify``)
    No balance is ever negative, except ``genesis`` and ``minted`` which are sources: the sum of all
    balances is zero, i.e. Σ(non-source accounts) = genesis supply + minted.

Atomicity
    The ledger is part of the journaled state (``core.journal``): a command rejected half-way
    changes no balance and leaves no posting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .errors import InsufficientFunds, InvalidInput, invariant
from .journal import MISSING, JList, Journaled, LoggedDict, Writes, frozen_init, noted_before, unjournaled_fields
from .units import BPS, cor_text

SOURCES = ("genesis", "minted")
NETWORK_INCENTIVES_POOL = "pool:network_incentives"  # emission streams: work, marketplace, community, governance
STAKING_POOL = "pool:staking"  # staking APR
COMMUNITY_POOL = "pool:community"
POOLS = (NETWORK_INCENTIVES_POOL, STAKING_POOL, COMMUNITY_POOL)


def wallet(addr: str) -> str:
    return f"wallet:{addr}"


def bonded(node: str) -> str:
    return f"bonded:{node}"


def delegated(node: str, addr: str) -> str:
    return f"delegated:{node}:{addr}"


def unbonding(addr: str) -> str:
    return f"unbonding:{addr}"


def rewards(node: str) -> str:
    return f"rewards:{node}"


def claimable(addr: str) -> str:
    return f"claimable:{addr}"


def escrow(kind: str, ident: str | int) -> str:
    return f"escrow:{kind}:{ident}"


def account_owner(account: str) -> str | None:
    """The address an account belongs to, if any (for `cor balance`)."""
    parts = account.split(":")
    if parts[0] in ("wallet", "unbonding", "claimable") and len(parts) == 2:
        return parts[1]
    if parts[0] == "delegated" and len(parts) == 3:
        return parts[2]
    if parts[0] in ("bonded", "rewards") and len(parts) == 2:
        return parts[1]
    return None


@frozen_init  # (made per posting: its fields stored without a __setattr__ call each)
@dataclass(frozen=True)
class Posting:
    """One movement: ``amount`` base units from ``src`` to ``dst`` for ``reason``."""

    src: str
    dst: str
    amount: int
    reason: str


@dataclass
class Ledger(Journaled):
    """Balances by account; the postings of the event being applied collect in ``postings``.

    Atomicity comes from the state's journal (``core.journal``): a rejected event's postings and
    balance changes are undone with everything else it wrote."""

    balances: dict[str, int] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def begin(self) -> None:
        """Start collecting this event's postings (``commit`` hands them over).

        The empty list ``commit`` left is kept (it is the ledger's own, never handed out): a new one only replaces a list
        that holds postings (or one whose appends are not journaled), so an event pays one list, not two."""
        if self.postings or type(self.postings) is not JList:
            self.postings = []

    def commit(self) -> list[Posting]:
        """This event's postings (the list is handed over; the next event starts a new one: an empty ``JList``, what
        ``self.postings = []`` adopts, stored directly after the event's journal closed, ``unjournaled_fields``)."""
        out = self.postings
        fields = unjournaled_fields(self)
        if fields is not None:
            fields["postings"] = JList()
        else:
            self.postings = []
        return out

    def _set(self, account: str, value: int) -> None:
        if value == 0:
            self.balances.pop(account, None)
        else:
            self.balances[account] = value

    def transfer(self, src: str, dst: str, amount: int, reason: str, writes: Writes | None = None) -> None:
        """Post ``amount`` from ``src`` to ``dst``; refuse a negative result (sources excepted).

        With ``writes`` the balances and the posting are journaled through that batch (``journal.Writes``; ``Transfers``
        does it, and makes many postings of one step)."""
        if writes is not None:
            Transfers(self, writes).move(src, dst, amount, reason)
            return
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            _refuse_amount(amount)
        if amount == 0 or src == dst:
            return
        balances = self.balances
        have = balances.get(src, 0)
        if src not in SOURCES and have < amount:
            _refuse_funds(src, have, amount)
        received = balances.get(dst, 0) + amount
        self._set(src, have - amount)
        self._set(dst, received)
        self.postings.append(Posting(src, dst, amount, reason))
        # the invariants, their messages built only when one fails (tens of thousands of transfers in a close)
        if not (src in SOURCES or balances.get(src, 0) >= 0):
            invariant(False, f"posting left {src} negative")
        if not (balances.get(dst, 0) == received and received >= amount):
            invariant(False, f"posting did not credit {dst} with {amount}")

    def transfer_many(self, moves: Iterable[tuple[str, str, int, str]], writes: Writes) -> None:
        """``transfer(src, dst, amount, reason, writes)`` for each move in order: the same checks, balances, postings and
        journal entries (``Transfers``)."""
        move = Transfers(self, writes).move
        for src, dst, amount, reason in moves:
            move(src, dst, amount, reason)

    def total_supply(self) -> int:
        """Σ of non-source balances."""
        return sum(v for k, v in self.balances.items() if k not in SOURCES)


class Transfers:
    """The postings of one close step, journaled through its ``Writes`` batch: each ``move`` is
    ``Ledger.transfer(src, dst, amount, reason, writes)`` (the same checks, the same balance writes in the same order, the
    same posting, the same undo), written inline: the balances' undo list (``Writes.key_log``) and the postings' journal
    entry are looked up once for the step instead of through four calls a posting (tens of thousands in a close)."""

    __slots__ = ("_ledger", "_writes", "_balances", "_olds", "_postings")

    def __init__(self, ledger: Ledger, writes: Writes) -> None:
        self._ledger = ledger
        self._writes = writes
        self._balances: dict[str, int] | None = None  # the dict whose undo list ``_olds`` is (looked up at the first write)
        self._olds: list[tuple[Any, Any]] | None = None
        self._postings: list[Posting] | None = None  # the postings list whose appends are journaled

    def move(self, src: str, dst: str, amount: int, reason: str) -> None:
        """Post ``amount`` from ``src`` to ``dst`` (``Ledger.transfer``)."""
        if type(amount) is not int and (isinstance(amount, bool) or not isinstance(amount, int)) or amount < 0:
            _refuse_amount(amount)
        if amount == 0 or src == dst:
            return
        ledger = self._ledger
        balances = ledger.balances
        if balances is not self._balances:
            self._balances, self._olds = balances, self._writes.key_log(balances)
        old_src: Any = balances.get(src, MISSING)
        have = 0 if old_src is MISSING else old_src
        if src not in SOURCES and have < amount:
            _refuse_funds(src, have, amount)
        old_dst: Any = balances.get(dst, MISSING)
        received = (0 if old_dst is MISSING else old_dst) + amount
        olds = self._olds
        # (a write log of the balances in force, ``cor verify``'s: each key's value before its first write, noted here from
        # the value just read, as ``LoggedDict.note`` would read it: src and dst are distinct, so dst's is still old_dst)
        noted = noted_before(balances) if type(balances) is LoggedDict else None
        # ``Ledger._set_in`` of src, then of dst (as ``Writes.set_key`` / ``pop_key``): a zero balance is popped, journaled
        # only if it was there; a source can end at zero, and a source receiving can too
        value = have - amount
        if value or old_src is not MISSING:
            if olds is not None:
                olds.append((src, old_src))
            if noted is not None and src not in noted:
                noted[src] = old_src
            if value:
                dict.__setitem__(balances, src, value)
            else:
                if olds is not None:
                    self._writes.deleting(balances, src)  # its key order, for a rollback
                dict.__delitem__(balances, src)
        if received or old_dst is not MISSING:
            if olds is not None:
                olds.append((dst, old_dst))
            if noted is not None and dst not in noted:
                noted[dst] = old_dst
            if received:
                dict.__setitem__(balances, dst, received)
            else:
                if olds is not None:
                    self._writes.deleting(balances, dst)
                dict.__delitem__(balances, dst)
        postings = ledger.postings
        if postings is not self._postings:
            self._writes.appending(postings)
            self._postings = postings
        list.append(postings, Posting(src, dst, amount, reason))
        if not (src in SOURCES or balances.get(src, 0) >= 0):
            invariant(False, f"posting left {src} negative")
        if not (balances.get(dst, 0) == received and received >= amount):
            invariant(False, f"posting did not credit {dst} with {amount}")


def _refuse_amount(amount: object) -> NoReturn:
    raise InvalidInput(f"posting amount must be a non-negative integer, got {amount!r}", code="invalid_amount")


def _refuse_funds(src: str, have: int, amount: int) -> NoReturn:
    raise InsufficientFunds(
        f"{src} holds {cor_text(have)}, {cor_text(amount)} needed",
        code="insufficient_funds",
        account=src,
        balance=str(have),
        needed=str(amount),
    )


def check_conservation(ledger: Ledger, genesis_supply: int, minted: int) -> None:
    """Invariant: no negative balance, and Σ balances = genesis supply + minted."""
    for account, value in ledger.balances.items():
        invariant(account in SOURCES or value >= 0, f"negative balance {account}={value}")
    invariant(
        ledger.total_supply() == genesis_supply + minted,
        f"conservation broken: Σ={ledger.total_supply()} != supply {genesis_supply} + minted {minted}",
    )
    invariant(sum(ledger.balances.values()) == 0, "sources and accounts do not net to zero")


def split_by_bps(total: int, shares_bps: dict[str, int]) -> tuple[dict[str, int], int]:
    """Split ``total`` by bps shares (floored each); return the parts and the remainder."""
    parts = {k: total * v // BPS for k, v in shares_bps.items()}
    remainder = total - sum(parts.values())
    invariant(all(v >= 0 for v in parts.values()) and remainder >= 0, f"split of {total} by {shares_bps} does not conserve it")
    if sum(shares_bps.values()) == BPS:  # each floor loses less than one unit
        invariant(remainder < max(1, len(parts)), f"split of {total}: remainder {remainder} is more than its floors")
    return parts, remainder
