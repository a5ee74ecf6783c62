"""The engine's state: everything ``apply`` reads and changes, in one place.

State variables
    chain_id, oracle (the engine's own signing address), genesis_supply, minted, params (history by
    epoch), tick (logical time), epoch, seq and head_hash (the last applied event), the ledger, nonces
    (last accepted nonce per actor), nodes, stake positions (reward debts of the accumulator),
    unbonding entries, slash records, evidence already used, and the current epoch's earnings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .events import GENESIS_PREV_HASH
from .ledger import Ledger
from .params import ParamHistory, Params

ROLES = ("miner", "validator", "router")
ACC_SCALE = 10**36  # fixed-point scale of the reward-per-stake accumulator


@dataclass
class Node:
    """A registered node: one key, one role; its stake is ``bonded:<id>`` plus delegations."""

    id: str
    role: str
    commission_bps: int
    registered_tick: int
    commission_changed_epoch: int = -1
    jailed_until_tick: int | None = None
    stake_total: int = 0  # bonded + delegated (cached; equals the ledger)
    reward_acc: int = 0  # Σ rewards per unit of stake × ACC_SCALE
    models: tuple[str, ...] = ()
    delegators: set[str] = field(default_factory=set)
    stake_ticks: int = 0  # Σ stake_total × ticks since the epoch began (for APR, pro rata to time bonded)
    stake_tick_mark: int = 0  # tick up to which stake_ticks is counted
    reputation_ppb: int = 0
    slash_count: int = 0

    @property
    def jailed(self) -> bool:
        return self.jailed_until_tick is not None


@dataclass
class Unbonding:
    """Stake on its way out: slashable for offences before ``start_tick``; withdrawable at ``mature_epoch``."""

    id: int
    address: str
    node: str
    amount: int
    start_tick: int
    mature_epoch: int


@dataclass
class SlashRecord:
    """One slash with its evidence and where the stake went."""

    id: int
    node: str
    offence: str
    offence_tick: int
    tick: int
    epoch: int
    evidence_hash: str
    evidence: dict[str, Any]
    reporter: str | None
    fraction_bps: int
    total: int
    burned: int
    to_reporter: int
    to_treasury: int
    by_account: dict[str, int]
    jailed_until_tick: int | None


@dataclass
class EarningItem:
    """A line of an address's epoch statement (reward, commission, slash, fee, refund...)."""

    address: str
    stream: str
    amount: int
    detail: dict[str, Any]
    claimable: bool = False  # credited to claimable:<address> (part of the epoch's Merkle leaf)


@dataclass
class EpochRecord:
    """A closed epoch: its span, totals per stream, and every address's statement items."""

    epoch: int
    start_tick: int
    end_tick: int
    totals: dict[str, int]
    items: list[EarningItem]
    root: str | None = None
    leaves: dict[str, int] = field(default_factory=dict)  # address -> claimable amount of this epoch
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)  # per emission stream: budget, paid, back to pool
    staking: dict[str, Any] = field(default_factory=dict)  # target / effective APR, budget, due, paid
    reputation: dict[str, int] = field(default_factory=dict)  # node -> reputation at close
    controllers: dict[str, Any] = field(default_factory=dict)  # controller adjustments with their inputs
    governance: list[Any] = field(default_factory=list)  # proposals executed at this close


@dataclass
class BridgeRecord:
    """An epoch moved to an EVM chain (``bridge.post``): from then on the distributor is its only payout path."""

    epoch: int
    evm_chain_id: int
    distributor: str
    root: str
    total: int  # Σ of the leaves still unclaimed at the post: what moved to ``bridge`` and funds the distributor
    leaves: dict[str, int]  # address -> amount of those unclaimed leaves
    claimed_offchain: list[str]  # addresses whose leaf ``reward.claim`` had already paid (marked claimed on chain)
    anchor_seq: int  # the log event the post anchors ...
    anchor_hash: str  # ... and its hash
    posted_tick: int
    tx_hash: str | None = None  # set by ``bridge.confirm`` once the post is mined
    block: int | None = None


@dataclass
class State:
    """The whole engine state."""

    chain_id: str = ""
    oracle: str = ""
    genesis_supply: int = 0
    minted: int = 0
    params_history: ParamHistory | None = None
    tick: int = 0
    epoch: int = 0
    epoch_start_tick: int = 0
    seq: int = -1
    head_hash: str = GENESIS_PREV_HASH
    ledger: Ledger = field(default_factory=Ledger)
    nonces: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    reward_debts: dict[tuple[str, str], int] = field(default_factory=dict)
    unbondings: dict[int, Unbonding] = field(default_factory=dict)
    slashes: list[SlashRecord] = field(default_factory=list)
    evidence_used: set[str] = field(default_factory=set)
    earnings: list[EarningItem] = field(default_factory=list)
    epochs: dict[int, EpochRecord] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    sessions: dict[int, Any] = field(default_factory=dict)
    tasks: dict[int, Any] = field(default_factory=dict)
    deadlines: dict[int, set[int]] = field(default_factory=dict)  # tick -> open task ids with a deadline then
    offence_log: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # "node|offence" -> [(epoch, task)]
    epoch_work: list[Any] = field(default_factory=list)  # miner rows of the current epoch (tasks.WorkRow)
    epoch_validations: list[Any] = field(default_factory=list)  # validator rows of the current epoch
    claimed: set[str] = field(default_factory=set)  # "epoch|address" already claimed
    bridged: dict[int, BridgeRecord] = field(default_factory=dict)  # epochs paid on an EVM chain (bridge.post)
    proposals: dict[int, Any] = field(default_factory=dict)  # governance.Proposal by id
    controllers: dict[str, Any] = field(default_factory=dict)  # controllers.Controller by name
    bounties: dict[int, Any] = field(default_factory=dict)  # bounties.Bounty by id
    curators: set[str] = field(default_factory=set)  # community curators (appointed by governance)
    community_points: dict[str, int] = field(default_factory=dict)  # member -> attested points this epoch
    attestations: list[Any] = field(default_factory=list)  # community.Attestation of this epoch
    epoch_streams: dict[str, int] = field(default_factory=dict)  # transient during epoch close
    next_id: int = 1
    touched: set[str] = field(default_factory=set, repr=False, compare=False)  # nodes changed by the current event (for projections)

    @property
    def params(self) -> Params:
        """The parameters in force at the current epoch."""
        assert_ready(self)
        return self.params_history.at(self.epoch)  # type: ignore[union-attr]

    def new_id(self) -> int:
        """A fresh sequential identifier (deterministic)."""
        i = self.next_id
        self.next_id += 1
        return i

    def to_dict(self) -> dict[str, Any]:
        """Canonical, comparable, JSON-ready view (big ints as strings)."""
        return _stringify(
            {
                "chain_id": self.chain_id,
                "oracle": self.oracle,
                "genesis_supply": self.genesis_supply,
                "minted": self.minted,
                "params": [[e, p.to_dict()] for e, p in (self.params_history.versions if self.params_history else ())],
                "tick": self.tick,
                "epoch": self.epoch,
                "epoch_start_tick": self.epoch_start_tick,
                "seq": self.seq,
                "head_hash": self.head_hash,
                "balances": dict(sorted(self.ledger.balances.items())),
                "nonces": dict(sorted(self.nonces.items())),
                "nodes": {k: asdict(v) for k, v in sorted(self.nodes.items())},
                "reward_debts": {f"{n}|{a}": d for (n, a), d in sorted(self.reward_debts.items())},
                "unbondings": {str(k): asdict(v) for k, v in sorted(self.unbondings.items())},
                "slashes": [asdict(s) for s in self.slashes],
                "evidence_used": sorted(self.evidence_used),
                "earnings": [asdict(e) for e in self.earnings],
                "epochs": {str(k): asdict(v) for k, v in sorted(self.epochs.items())},
                "models": {k: asdict(v) for k, v in sorted(self.models.items())},
                "sessions": {str(k): asdict(v) for k, v in sorted(self.sessions.items())},
                "tasks": {str(k): asdict(v) for k, v in sorted(self.tasks.items())},
                "deadlines": {str(k): sorted(v) for k, v in sorted(self.deadlines.items())},
                "offence_log": dict(sorted(self.offence_log.items())),
                "epoch_work": [asdict(r) for r in self.epoch_work],
                "epoch_validations": [asdict(r) for r in self.epoch_validations],
                "claimed": sorted(self.claimed),
                "proposals": {str(k): asdict(v) for k, v in sorted(self.proposals.items())},
                "controllers": {k: asdict(v) for k, v in sorted(self.controllers.items())},
                "bounties": {str(k): asdict(v) for k, v in sorted(self.bounties.items())},
                "curators": sorted(self.curators),
                "community_points": dict(sorted(self.community_points.items())),
                "attestations": [asdict(a) for a in self.attestations],
                "next_id": self.next_id,
                # absent when empty, so a log without bridge commands keeps the fingerprint it always had
                **({"bridged": {str(k): asdict(v) for k, v in sorted(self.bridged.items())}} if self.bridged else {}),
            }
        )


def assert_ready(state: State) -> None:
    from .errors import Conflict

    if state.params_history is None:
        raise Conflict("the network has no genesis yet; run `cor init`", code="no_genesis")


def _stringify(obj: Any) -> Any:
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return str(obj) if abs(obj) > 2**53 else obj
    if isinstance(obj, dict):
        return {str(k): _stringify(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_stringify(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(_stringify(v) for v in obj)
    return obj
