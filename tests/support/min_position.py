"""The chain, refusal check and position read shared by rule 20's tests (tests/core/test_min_position.py and
tests/core/test_min_position_attack.py)."""

from __future__ import annotations

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import LATEST
from cor_incentives.core.state_codec import state_hash
from support.chain import Chain

COR = 10**18
MIN = COR  # min_position_units' default
PARAMS = {
    "min_self_bond_miner_units": "1",  # the self-bond's own floor out of the way: the position's minimum decides
    "unbonding_period_epochs": 2,
    "epoch_length_ticks": 100,
    "jail_duration_ticks": 20,
    "gov_voting_period_ticks": 10,
    "gov_min_deposit_units": str(100 * COR),
}
WALLETS = {"a": 10_000 * COR, "b": 10_000 * COR, "d": 1_000 * COR, "e": 1_000 * COR}


def chain(rule: int = LATEST, *, wallets: dict[str, int] | None = None, **params) -> Chain:
    """Miners ``a`` and ``b`` registered with 1 000 COR each; ``d`` and ``e`` hold 1 000 COR (``wallets``: more keys)."""
    c = Chain(wallets={**WALLETS, **(wallets or {})}, params={**PARAMS, "rule_version": rule, **params})
    for n in "ab":
        c.as_(n, "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
    return c


def refused(c: Chain, who: str, kind: str, body: dict, code: str = "position_below_minimum") -> EngineError:
    """``who``'s command is refused with ``code`` and leaves the state (and its hash) as it was."""
    before, hashed = c.state.to_dict(), state_hash(c.state)
    with pytest.raises(EngineError) as e:
        c.as_(who, kind, body)
    assert e.value.code == code, e.value.message
    assert c.state.to_dict() == before and state_hash(c.state) == hashed, "a refused command changed the state"
    return e.value


def held(c: Chain, node: str, who: str) -> int:
    """``who``'s position in ``node``: its self-bond when it is the node."""
    return c.balance(f"bonded:{node}" if node == who else f"delegated:{node}:{who}")
