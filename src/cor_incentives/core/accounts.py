"""Accounts: when an address was first seen, who first funded it, and which addresses are linked.

Concepts
    An address is *seen* from the event that first credits its wallet (genesis, a ``transfer``, a
    withdrawal, a prize...). Its *funder* is the actor of the ``transfer`` that first credited it;
    an address first credited any other way has none. Both are set once and never change, so an
    address's age (community eligibility) and its funding chain (links) come from the log alone.

Links (who may not judge whom)
    Two addresses are *linked* when they are the same, when one is in the other's chain of first
    funders (at most ``LINK_DEPTH`` steps up: a puppet funded by a judge, or by an account the judge
    funded), or when one delegates stake to a node the other runs. A bounty reviewer is never drawn
    from, and a named reviewer may not review, anyone linked to a submitter; a curator may not attest
    a member it is linked to. Links the log cannot show (money passed through an exchange) are out of
    reach: the k-of-n reviewer quorum is the defence that does not depend on them.

State
    ``state.accounts[address] = Account(first_seen_tick, first_seen_epoch, funder)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ledger import Posting
from .records import Account
from .state import State

LINK_DEPTH = 8  # steps followed up a chain of first funders
WALLET_PREFIX = "wallet:"
FUNDING_REASON = "transfer"  # the posting reason of ``transfer``: its actor becomes the recipient's funder


def note_accounts(state: State, actor: str, postings: Iterable[Posting]) -> None:
    """Record every wallet an event credited for the first time (after the event is applied)."""
    for posting in postings:
        if not posting.dst.startswith(WALLET_PREFIX):
            continue
        who = posting.dst[len(WALLET_PREFIX) :]
        if who in state.accounts:
            continue
        funder = actor if posting.reason == FUNDING_REASON and actor != who else None
        state.accounts[who] = Account(state.tick, state.epoch, funder)


def funding_chain(state: State, who: str) -> list[str]:
    """``who``'s first funder, that one's first funder, ... (at most ``LINK_DEPTH``, no repeats)."""
    chain: list[str] = []
    account = state.accounts.get(who)
    while account is not None and account.funder is not None and len(chain) < LINK_DEPTH and account.funder not in chain:
        chain.append(account.funder)
        account = state.accounts.get(account.funder)
    return chain


def is_linked(state: State, a: str, b: str) -> bool:
    """Same address, one funded the other (up the first-funder chain), or one delegates to the other's node."""
    if a == b or b in funding_chain(state, a) or a in funding_chain(state, b):
        return True
    node_a, node_b = state.nodes.get(a), state.nodes.get(b)
    return (node_a is not None and b in node_a.delegators) or (node_b is not None and a in node_b.delegators)


def linked_among(state: State, addresses: Iterable[str], parties: Iterable[str]) -> set[str]:
    """Those of ``addresses`` linked to any of ``parties``: ``{a for a in addresses if any(is_linked(state, a, p) for p
    in parties)}`` without the pairwise walk. ``a`` is linked to a party ``p`` when ``a == p``, ``p`` is in ``a``'s chain, ``a`` is in
    ``p``'s chain, ``p`` delegates to ``a``'s node or ``a`` delegates to ``p``'s node (``is_linked``'s five cases, each
    chain walked from its own end as ``funding_chain`` walks it): the union of ``linked_by_party``'s sets, so the five
    cases are read in one place for a bounty's reviewer draw (every validator against the sponsor and up to
    ``bounty_max_submissions`` hunters) and a challenge's ranking alike."""
    linked: set[str] = set()
    return linked.union(*linked_by_party(state, addresses, parties).values())


def linked_by_party(state: State, addresses: Iterable[str], parties: Iterable[str]) -> dict[str, set[str]]:
    """For each of ``parties``, those of ``addresses`` linked to it: ``{p: {a for a in addresses if is_linked(state, a, p)}
    for p in parties}``, the per-party answer of ``linked_among`` (whose result is the union of these sets). The addresses'
    side is gathered once: each address's own chain and its node's delegators among the parties, indexed by the party they
    reach (``p`` in ``a``'s chain, ``p`` delegates to ``a``'s node); then each party's own chain and its node's delegators
    are read once (``a`` is ``p``, ``a`` in ``p``'s chain, ``a`` delegates to ``p``'s node). O(|addresses| × ``LINK_DEPTH``
    + |parties| × ``LINK_DEPTH`` + Σ min(|parties|, |delegators|) + Σ min(|addresses|, |delegators|)) set operations
    instead of |addresses| × |parties| walks of two chains (a challenge's ranking: each entry's hunter against its
    ≤ ``MAX_REVIEWERS`` reviewers, up to ``bounty_max_submissions`` entries)."""
    party_list = list(dict.fromkeys(parties))
    party_set = set(party_list)
    candidates = set(addresses)
    reach: dict[str, set[str]] = {}  # party -> the candidates whose chain holds it or whose node it delegates to
    if party_set:
        for a in candidates:
            hit = party_set.intersection(funding_chain(state, a))
            node = state.nodes.get(a)
            if node is not None:
                hit.update(party_set & node.delegators)
            for p in hit:
                reach.setdefault(p, set()).add(a)
    out: dict[str, set[str]] = {}
    for p in party_list:
        linked = candidates.intersection([p, *funding_chain(state, p)])
        node = state.nodes.get(p)
        if node is not None:
            linked.update(candidates & node.delegators)
        linked.update(reach.get(p, ()))
        out[p] = linked
    return out


def account_age_epochs(state: State, who: str) -> int | None:
    """Whole epochs since ``who`` was first seen (None: never seen)."""
    account = state.accounts.get(who)
    return None if account is None else state.epoch - account.first_seen_epoch
