"""A model of ``contracts/RewardsDistributor.sol`` for simulations: the same rules, in Python.

The contract itself runs on a real Hardhat node in the tests (``tests/chain/test_distributor.py``);
this model lets ``cor simulate`` pay epochs through both paths against the real core without an
EVM. The rules it mirrors, each a revert of the contract:
    * only a posted epoch pays (``epoch_not_posted_onchain``), and a posted epoch never changes
      (``epoch_already_posted``);
    * a leaf pays once: claimed on chain, or listed at the post as already paid by the engine
      (``already_claimed_onchain``);
    * the proof must prove ``(account, epoch, amount)`` under the epoch's root (``invalid_proof``);
    * an epoch pays out at most its own funded total (``epoch_total_exceeded``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..core.errors import Conflict
from ..core.merkle import verify_proof

SIM_EVM_CHAIN_ID = 31337
SIM_DISTRIBUTOR = "0x" + "d15" * 13 + "d"


class Revert(Conflict):
    """The modelled contract call reverts (``code`` as the CLI names the contract's error)."""


@dataclass
class PostedEpoch:
    root: str
    total: int
    claimed: int = 0


@dataclass
class SimDistributor:
    """Posted epochs, claimed leaves, and the ERC-20 tokens paid out, by account."""

    epochs: dict[int, PostedEpoch] = field(default_factory=dict)
    is_claimed: set[tuple[int, str]] = field(default_factory=set)
    tokens: Counter[str] = field(default_factory=Counter)

    def post(self, epoch: int, root: str, total: int, claimed_offchain: list[str]) -> None:
        if epoch in self.epochs:
            raise Revert(f"epoch {epoch} is already posted", code="epoch_already_posted")
        self.epochs[epoch] = PostedEpoch(root, total)
        self.is_claimed.update((epoch, a) for a in claimed_offchain)

    def claim(self, epoch: int, account: str, amount: int, proof: list[str]) -> None:
        posted = self.epochs.get(epoch)
        if posted is None:
            raise Revert(f"epoch {epoch} is not posted", code="epoch_not_posted_onchain")
        if (epoch, account) in self.is_claimed:
            raise Revert(f"{account} already claimed epoch {epoch}", code="already_claimed_onchain")
        if not verify_proof(posted.root, (account, epoch, amount), proof):
            raise Revert("the proof does not prove this leaf", code="invalid_proof")
        if posted.claimed + amount > posted.total:
            raise Revert(f"epoch {epoch} would pay more than its total", code="epoch_total_exceeded")
        self.is_claimed.add((epoch, account))
        posted.claimed += amount
        self.tokens[account] += amount
