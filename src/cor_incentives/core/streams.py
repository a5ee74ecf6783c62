"""Stream names, and the record of an epoch close in progress (docs/design.md §6).

Two kinds of name, each defined here once:

``EmissionStream``
    the budgets an epoch's emission is split into: the keys of ``emission_split_bps`` and of
    ``EpochRecord.streams`` (which adds ``emission``, the whole budget).
``Stream``
    the names of statement lines (``EarningItem.stream``). A node's reward from a stream gives the
    lines ``<stream>:node`` (its reward with every input of its formula, amount 0),
    ``<stream>:commission`` (its operator), ``<stream>:stake`` (each staker's share, by stake × ticks) and
    ``<stream>:none`` (a node that earned nothing, with why): see ``line``.

``EpochStreams`` is the scratch record of the close: ``process_emission`` sets the budgets, each
reward step records what its stream paid (``record``), the staking step its APR account, the
governance and controller steps what they did; ``process_epoch_record`` copies it into the
``EpochRecord`` and the next epoch starts from an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from .errors import invariant
from .journal import Journaled


class EmissionStream(StrEnum):
    """The budgets of an epoch's emission (``emission_split_bps``)."""

    MINERS = "miners"
    VALIDATORS = "validators"
    MARKETPLACE = "marketplace"
    COMMUNITY = "community"
    GOVERNANCE = "governance"


class Stream(StrEnum):
    """Statement line names."""

    # paid from the emission streams (pool:network_incentives) and pool:staking at epoch close
    MINER_WORK = "miner_work"
    VALIDATOR_WORK = "validator_work"
    MARKETPLACE = "marketplace"
    COMMUNITY = "community"
    GOVERNANCE = "governance"
    STAKING_APR = "staking_apr"
    STAKE_REWARD = "stake_reward"  # a staker's share of a node reward paid outside a stream's own step
    # a task's fee, when it settles
    TASK_FEE_MINER = "task_fee:miner"
    TASK_FEE_VALIDATOR = "task_fee:validator"
    TASK_FEE_ROUTER = "task_fee:router"
    TASK_FEE_ROYALTY = "task_fee:royalty"
    TASK_FEE_ROYALTY_PARENT = "task_fee:royalty_parent"
    TASK_PAYMENT = "task_payment"
    TASK_REFUND = "task_refund"
    DEDICATED_SESSION_FEE = "dedicated_session_fee"  # a dedicated session's miners are drawn
    # a validator's canary failures forfeit its validators-stream reward for the epoch (a 0 line that says why)
    CANARY_FORFEIT = "canary_forfeit"
    # slashes
    SLASH = "slash"
    ESCALATION_UNFUNDED = "escalation_unfunded"  # self-bond to pool:network_incentives: an unfunded escalation debt (rule 33)
    SLASH_REPORTER_REWARD = "slash_reporter_reward"
    # bounties
    BOUNTY_FUNDING = "bounty_funding"
    BOUNTY_PRIZE = "bounty_prize"
    BOUNTY_REFUND = "bounty_refund"
    BOUNTY_ENTRY_DEPOSIT = "bounty_entry_deposit"  # wallet to the bounty's escrow at submit (rule 21)
    BOUNTY_ENTRY_DEPOSIT_REFUND = "bounty_entry_deposit_refund"  # and back, at finalize or expiry
    # governance deposits (wallet to escrow and back; never claimable)
    GOV_DEPOSIT = "gov_deposit"
    GOV_DEPOSIT_REFUND = "gov_deposit_refund"
    TREASURY_SPEND = "treasury_spend"  # a passed treasury_spend proposal, to its recipient's wallet
    # wallet to wallet (``transfer``): −amount for the sender, +amount for the recipient
    TRANSFER = "transfer"


TASK_FEE_PREFIX = "task_fee:"
"""Every line of a task's fee split starts with this."""


class LinePart(StrEnum):
    """The part of a node's reward a line stands for."""

    COMMISSION = "commission"  # the operator's commission
    STAKERS = "stakers"  # the rest, to the node's stakers (a posting reason, not a line)
    STAKE = "stake"  # one staker's share, by its stake × ticks
    NONE = "none"  # nothing earned, with why
    NODE = "node"  # the node's reward and every input of its formula (amount 0: the money is in the other lines)
    DUST = "dust"  # the floors of the stakers' shares of one node's reward, to the ``dust`` account (not claimable)


def line(stream: str, part: LinePart) -> str:
    """``<stream>:<part>``, e.g. ``miner_work:commission``."""
    return f"{stream}:{part}"


@dataclass
class StreamPayout(Journaled):
    """What one emission stream paid: the rest of its budget stays in the pool."""

    budget: int
    paid: int
    earners: int
    note: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # what the stream's formula read (rates, claims, ...)

    def to_dict(self) -> dict[str, Any]:
        """The entry of ``EpochRecord.streams``."""
        return {
            "budget": self.budget,
            "paid": self.paid,
            "back_to_pool": self.budget - self.paid,
            "earners": self.earners,
            **({"note": self.note} if self.note else {}),
            **self.inputs,
        }


NOT_DRAWN_MODELS = "not drawable: serves no model with a task settled this epoch"
"""Why a miner earned no APR from rule version 14 (``RULES_EXPOSED_STAKE``): no draw of the epoch could reach it."""
NOT_DRAWN_UNSELECTABLE = "not drawable: not selectable this epoch (self-bond under the minimum, or jailed)"
"""Why a node earned no APR from rule version 14: every one of its stake × ticks was idle."""
NOT_DRAWN_ROUTER = "not drawable: a router is never drawn (the fees of the tasks naming it pay its work)"
"""Why a router earns no APR from rule version 14: no draw reaches its stake (its work is paid by the router part of fees)."""


@dataclass
class StakingAccount(Journaled):
    """The staking APR step's account of the epoch (``EpochRecord.staking``)."""

    target_apr_bps: int
    effective_apr_bps: int
    budget: int
    due: int
    paid: int
    budget_binding: bool
    stake_ticks: int
    excluded: dict[str, str]  # node -> why it earned no APR
    pool_balance: int = 0  # pool:staking before the step (budget = pool_balance × max_epoch_drain_bps // 10000)
    nodes: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> stake_ticks, stake (at the close), commission_bps (in force)

    def to_dict(self) -> dict[str, Any]:
        """Its fields as a dict, as ``asdict`` gives them (every value is a number, a flag or a dict of them:
        copying two levels is the deep copy, without walking 10 k nodes' values one call at a time)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["excluded"] = dict(self.excluded)
        out["nodes"] = {n: dict(v) for n, v in self.nodes.items()}
        return out


@dataclass
class EpochStreams(Journaled):
    """The close of the current epoch, step by step (empty between closes)."""

    emission: int = 0
    emission_inputs: dict[str, Any] = field(default_factory=dict)  # what the emission formula read
    budgets: dict[str, int] = field(default_factory=dict)  # emission stream -> budget
    payouts: dict[str, StreamPayout] = field(default_factory=dict)  # emission stream -> what it paid
    staking: StakingAccount | None = None
    governance: list[dict[str, Any]] = field(default_factory=list)  # proposals executed at this close
    controllers: dict[str, dict[str, Any]] = field(default_factory=dict)  # controller adjustments with their inputs

    def budget(self, stream: str) -> int:
        """The stream's budget this epoch (0 before ``process_emission``)."""
        return self.budgets.get(stream, 0)

    def record(self, stream: str, budget: int, paid: int, earners: int, note: str | None = None, inputs: dict[str, Any] | None = None) -> None:
        """What ``stream`` paid of its ``budget``, to how many earners, and the inputs of its formula."""
        invariant(0 <= paid <= budget, f"stream {stream} paid {paid} of a budget of {budget}")
        invariant(budget == self.budget(stream) and earners >= 0, f"stream {stream}: budget {budget} is not the epoch's")
        self.payouts[stream] = StreamPayout(budget, paid, earners, note, dict(inputs or {}))
