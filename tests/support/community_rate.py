"""Community attestations and epoch closes on a bare ``support.chain`` (rule 31, ``RULES_COMMUNITY_RATE``): a curator, an
honest curator, and members old and rich enough to be attested (5 000 COR each, one epoch old).

Written against the core's public messages only (no rule-31 name), so that main's code before the rule can run the same
builders (tests/core/test_community_rate.py records the state hash a rule-30 log replays to)."""

from __future__ import annotations

from typing import Any

from cor_incentives.core.units import COR
from support.chain import Chain, addr

MEMBERS = tuple(f"m{i}" for i in range(6))
CURATORS = ("cur", "cur2")


def community_chain(rule_version: int | None = None, **params: Any) -> Chain:
    """Two curators appointed, six members eligible from epoch 1 (the close of epoch 0 took their snapshot)."""
    c = Chain(
        params={
            **{k: str(v) if v > 2**53 else v for k, v in params.items()},  # big integers travel as decimal strings
            **({} if rule_version is None else {"rule_version": rule_version}),
        },
        wallets={**{m: 5_000 * COR for m in MEMBERS}, **{k: 10 * COR for k in CURATORS}},
    )
    for k in CURATORS:
        c.oracle("community.appoint", {"curator": addr(k)})
    c.oracle("epoch.close", {})  # genesis wallets are one epoch old: eligible from epoch 1 on
    return c


def attest(c: Chain, member: str, points: int, ref: str, curator: str = "cur") -> None:
    """``curator`` attests ``member`` for ``points`` (at most 100) under ``ref`` this epoch."""
    c.as_(curator, "community.attest", {"member": addr(member), "kind": "forum", "points": points, "reference": ref})


def attest_many(c: Chain, member: str, points: int, ref: str, curator: str = "cur") -> None:
    """``member`` attested for ``points`` in all, in attestations of at most 100."""
    for i in range(0, points, 100):
        attest(c, member, min(100, points - i), f"{ref}-{i // 100}", curator)


def community_life(rule_version: int | None = None) -> Chain:
    """Three epochs: one point alone (the finding), an ordinary epoch (900 points over 3 members from two curators), a
    member past the cap among small ones; then a close with nobody attested."""
    c = community_chain(rule_version)
    attest(c, "m0", 1, "quiet")
    c.oracle("epoch.close", {})
    for i, m in enumerate(("m1", "m2", "m3")):
        attest_many(c, m, 300, f"ordinary{i}", "cur" if i < 2 else "cur2")
    c.oracle("epoch.close", {})
    attest_many(c, "m4", 300, "big")
    attest(c, "m5", 7, "small", "cur2")
    attest(c, "m0", 33, "small", "cur2")
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})
    return c
