"""Bounty chains for the rule suites (tests/core/test_bounty_deposit.py, rule 21; tests/core/test_bounty_retire.py, rule
22): a sponsor holding 100 000 COR and three judges of 10 COR each, a bounty created by the sponsor with the judges named,
and a refusal that must change nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.state_codec import encode_state
from cor_incentives.core.units import COR
from support.chain import Chain, addr

JUDGES = ["j0", "j1", "j2"]


def h(text: str) -> str:
    """A content hash (0x + sha256 of the text)."""
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def bounty_network(params: dict[str, Any] | None = None, beacon: int | None = None, **wallets: int) -> Chain:
    """A chain with the sponsor's and the judges' wallets, then ``wallets`` (name -> base units), in that order."""
    return Chain(wallets={"sponsor": 100_000 * COR, **dict.fromkeys(JUDGES, 10 * COR), **wallets}, params=params, beacon=beacon)


def create_bounty(c: Chain, prize: int, *, kind: str = "bounty", winners: int = 1, ticks: int = 5, named: bool = True) -> int:
    """The sponsor's ``bounty.create`` (deadline ``ticks`` from now; ``named``: the judges as its reviewers); its id."""
    bid = c.state.next_id
    body = {"prize": str(prize), "criteria": "c", "deadline_tick": c.state.tick + ticks, "winners": winners, "kind": kind}
    c.as_("sponsor", "bounty.create", {**body, "reviewers": [addr(j) for j in JUDGES]} if named else body)
    return bid


def refused(c: Chain, who: str, kind: str, body: dict[str, Any], code: str) -> None:
    """``who``'s ``kind`` is refused with ``code`` and the state (its view and its bytes) is as it was."""
    before, before_bytes = c.state.to_dict(), encode_state(c.state)
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before and encode_state(c.state) == before_bytes
