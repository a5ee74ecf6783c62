"""The records the engine state holds, one dataclass per concept, and their lifecycles as enums.

The behaviour modules (staking, slashing, tasks, governance, bounties, community, ...) change these
records; none defines its own, so ``State`` names the type of every collection it holds and no
module has to import another one's records in a cycle. A record is plain data: its methods only
read its own fields.

Lifecycles
    ``TaskState``       docs/design.md §4 (a task's life)
    ``ProposalStatus``  docs/design.md §8 (governance)
    ``BountyStatus``    docs/design.md §8 (bounties and challenges)
Each is a ``StrEnum``: a member *is* its string, so records, projections and the API read the same
text as before these types existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .journal import Journaled, adopt, fast_init

# --- lifecycles ------------------------------------------------------------------------------


class TaskKind(StrEnum):
    """Who issued a task: a user (paid by its fee) or the oracle (a network task, paid by emission)."""

    USER = "user"
    NETWORK = "network"


class TaskState(StrEnum):
    """Where a task is in its life (docs/design.md §4)."""

    REQUESTED = "REQUESTED"
    CREATED = "CREATED"
    PREPARED = "PREPARED"
    STARTED = "STARTED"
    PRECOMMITTED = "PRECOMMITTED"
    COMMITTED = "COMMITTED"
    REPORTING = "REPORTING"
    AUDITING = "AUDITING"
    VALIDATED = "VALIDATED"
    SETTLED = "SETTLED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


OPEN_TASK_STATES = (
    TaskState.PREPARED,
    TaskState.STARTED,
    TaskState.PRECOMMITTED,
    TaskState.COMMITTED,
    TaskState.REPORTING,
    TaskState.AUDITING,
)
"""A task in one of these has a deadline and counts against ``max_open_tasks``."""
CLOSED_TASK_STATES = (TaskState.SETTLED, TaskState.FAILED, TaskState.CANCELLED)
"""Final: nothing moves a task out of these."""
PRECOMMIT_WINDOW = (TaskState.PREPARED, TaskState.STARTED)
"""Miners may precommit while a task is in one of these."""
VALIDATION_PHASES = (TaskState.COMMITTED, TaskState.REPORTING, TaskState.AUDITING)
"""The outputs are in: validators commit (COMMITTED) and reveal (REPORTING) their reports, then the
oracle opens the task's canary commitment (AUDITING)."""


class ProposalStatus(StrEnum):
    """Where a governance proposal is: VOTING, then decided at the end of its voting period."""

    VOTING = "VOTING"
    PASSED = "PASSED"
    REJECTED = "REJECTED"
    VETOED = "VETOED"
    EXECUTED = "EXECUTED"
    FAILED = "FAILED"


class BountyStatus(StrEnum):
    """open → (challenges: finalized) → expired."""

    OPEN = "open"
    FINALIZED = "finalized"
    EXPIRED = "expired"


# --- nodes, stake, slashes (docs/design.md §7) -------------------------------------------------

ROLES = ("miner", "validator", "router")
"""A node has exactly one of these roles."""


@dataclass
class Accrual(Journaled):
    """One stake position's stake × ticks in the current epoch, counted up to tick ``mark``."""

    stake_ticks: int = 0
    mark: int = 0


@dataclass
class Node(Journaled):
    """A registered node: one key, one role; its stake is ``bonded:<id>`` plus delegations."""

    id: str
    role: str
    commission_bps: int  # in force for the current epoch
    registered_tick: int
    commission_changed_epoch: int = -1  # epoch of the last ``node.set_commission``
    commission_next_bps: int | None = None  # a change made this epoch: in force from the next epoch
    jailed_until_tick: int | None = None
    unjailed_tick: int | None = None  # the last ``node.unjail``
    stake_total: int = 0  # bonded + delegated (cached; equals the ledger)
    models: tuple[str, ...] = ()
    delegators: set[str] = field(default_factory=set)
    stake_ticks: int = 0  # Σ stake_total × ticks since the epoch began (= Σ of its positions' stake_ticks)
    stake_tick_mark: int = 0  # tick up to which stake_ticks is counted
    idle_stake_ticks: int = 0  # the part of stake_ticks counted while the node was not selectable (from RULES_EXPOSED_STAKE; no APR)
    positions: dict[str, Accrual] = field(default_factory=dict)  # staker -> its stake × ticks this epoch (every staker of the epoch)
    reputation_ppb: int = 0
    reputation_start_ppb: int = 0  # what it started at (staking.starting_reputation)
    slash_count: int = 0
    # counted-offence allowance (core/allowance.py), over the window of this epoch and the one before it
    allowance_epoch: int = -1  # the epoch ``served`` and ``forgiven`` count
    served: int = 0  # tasks served well in ``allowance_epoch``
    served_prev: int = 0  # ... in the epoch before it
    forgiven: int = 0  # counted offences forgiven in ``allowance_epoch``
    forgiven_prev: int = 0  # ... in the epoch before it
    served_prev2: int = 0  # tasks served well two epochs before ``allowance_epoch`` (RULES_OFFENCE_BY_TASK_EPOCH on)
    forgiven_prev2: int = 0  # counted offences forgiven two epochs before it (RULES_OFFENCE_BY_TASK_EPOCH on)

    @property
    def jailed(self) -> bool:
        return self.jailed_until_tick is not None


@dataclass
class Unbonding(Journaled):
    """Stake on its way out: slashable for offences before ``start_tick``; withdrawable at ``mature_epoch``."""

    id: int
    address: str
    node: str
    amount: int
    start_tick: int
    mature_epoch: int


@dataclass
class Redelegation(Journaled):
    """Stake moved from node ``source`` to node ``node``: slashable for ``source``'s offences committed before it
    moved (``start_tick``, log order by ``id``) until ``mature_epoch``; ``amount`` shrinks with each such slash."""

    id: int
    address: str
    source: str
    node: str
    amount: int
    start_tick: int
    mature_epoch: int


@dataclass
class SlashRecord(Journaled):
    """One slash: the offence, when it was committed (``offence_tick``, from the evidence), the evidence, and where the stake went."""

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
    slashable: int = 0  # Σ of the slashable positions when it was taken (the base of the amounts)
    penalty: int | None = None  # a counted offence's fixed amount (fraction_bps of the role's minimum self-bond)
    derived: bool = False  # dated and checked by the core from its evidence (rule version 4 on); False: rules 1-3 (core/slashing_first.py)


# --- the randomness beacon (docs/design.md §4) --------------------------------------------------


@dataclass
class Beacon(Journaled):
    """The oracle's hash chain: the last revealed value and the draws waiting for the next one (``beacon``)."""

    value: str  # the last revealed value (the chain's anchor before its first round)
    round: int  # values revealed so far, over every chain
    chain: int  # how many chains came before the current one
    length: int  # the current chain's length
    left: int  # values the current chain still holds
    next_anchor: str | None = None  # the chain that takes over when this one runs out (beacon.anchor)
    next_length: int = 0
    pending: list[tuple[str, int]] = field(default_factory=list)  # (purpose, id) drawn at the next value, in order


# --- the market: models, sessions, tasks (docs/design.md §4) -----------------------------------


@dataclass(frozen=True)
class NetworkPrompt:
    """A base prompt of the network's prompt set (genesis ``network_prompts``); network tasks compose them."""

    id: str
    prompt: str
    max_output_tokens: int


@dataclass(frozen=True)
class Model:
    """A marketplace record: what a task runs, how it is priced, who earns its royalty."""

    id: str
    owner: str
    parameter_count: int
    quantization: str
    context_length: int
    license: str
    content_hash: str
    parent: str | None
    registered_tick: int
    # from RULES_MODEL_BOND: the tick of its ``model.retire`` (deposit returned, no new task or fine-tune may name it; it
    # leaves the live state at the first close's prune with no open task naming it)
    retired_tick: int | None = None


@dataclass
class Session(Journaled):
    """A user's session: settings for its tasks; its deposit is ``escrow:session:<id>``."""

    id: int
    owner: str
    redundancy: int
    validators: int
    mode: str
    dedicated_miners: tuple[str, ...]
    is_open: bool
    open_tasks: int
    opened_tick: int
    reserved: int = 0  # dedicated, with a beacon: miners to draw with the next value (0 once drawn)
    model: str | None = None  # dedicated: the model its miners must serve


@dataclass
class Assignment(Journaled):
    """One miner's part in a task."""

    miner: str
    commit: str | None = None
    precommit_tick: int | None = None
    output_hash: str | None = None
    output_tokens: int | None = None  # the validators' stake-weighted median count of its revealed output's tokens
    reveal_tick: int | None = None
    reveal_rank: int | None = None
    mismatch: bool = False
    planted: bool = False  # the oracle's known-bad output of a canary (set when the oracle opens it)
    distance_ppb: int | None = None
    quality_ppb: int | None = None
    in_consensus: bool = False
    paid: int = 0


@dataclass
class Task(Journaled):
    """A user or network task, its assignments, the validators' reports and the outcome."""

    id: int
    kind: TaskKind
    user: str | None
    session: int | None
    router: str | None
    model: str
    prompt_hash: str
    prompt_bytes: int
    input_tokens: int  # the requester's bound on the prompt's tokens (the escrow's and the charge's cap)
    max_output_tokens: int
    redundancy: int
    validators_wanted: int
    state: TaskState
    created_tick: int
    created_epoch: int
    deadline_tick: int
    escrowed: int
    seed: str
    miners: list[Assignment]
    validators: list[str] = field(default_factory=list)  # every validator drawn, in the order drawn (all rounds)
    validator_round: dict[str, int] = field(default_factory=dict)  # validator -> the round that drew it (0; 1.. for escalations)
    round: int = 0  # the validation round in progress (0, then one more per escalation)
    report_commits: dict[str, str] = field(default_factory=dict)  # validator -> commitment to its reports
    reports: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # validator -> miner -> [distance, quality] (revealed)
    report_ticks: dict[str, int] = field(default_factory=dict)
    criteria: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # validator -> miner -> PoUW sub-scores
    agreement_ppb: dict[str, int] = field(default_factory=dict)
    canary_commit: str | None = None  # the oracle's commitment to its planted output (or to none): network tasks; user tasks from rule 17
    canary: str | None = None  # once opened: "none", "void" (its output was not revealed) or "planted"; "unopened" (RULES_UNOPENED_CANARY)
    canary_failed: list[str] = field(default_factory=list)  # validators whose report let the planted output pass
    measured_tokens: bool = False  # the rules at its creation count its tokens (RULES_MEASURED_TOKENS): it keeps them to the end
    input_counts: dict[str, int] = field(default_factory=dict)  # validator -> its count of the prompt's tokens
    output_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # validator -> miner -> its count of the output's tokens
    settled_input_tokens: int | None = None  # min(validators' median count, input_tokens)
    spread_rule: bool = False  # the rules at its creation take raw distances and each validator's spread (RULES_TASK_SPREAD)
    spreads: dict[str, int] = field(default_factory=dict)  # validator -> its measured spread of the task (ppb, revealed)
    spread_ppb: int | None = None  # settled: the stake-weighted median of the revealed spreads
    threshold_ppb: int | None = None  # settled: the task's PoI threshold (core/spread.py; poi_max_distance_ppb before the rule)
    output_tokens: int | None = None  # the settled count: lower median of the winners' measured counts, at most max_output_tokens
    charged: int = 0
    refunded: int = 0
    split: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    closed_tick: int | None = None
    dissenters: list[str] = field(default_factory=list)  # RULES_ESCALATION_PAY: validators whose report made the task escalate
    panel_weights: dict[str, int] = field(default_factory=dict)  # RULES_PANEL_WEIGHTS: reporting validator -> its stake at settlement

    def assignment(self, miner: str) -> Assignment | None:
        return next((a for a in self.miners if a.miner == miner), None)

    def assigned(self, miner: str) -> bool:
        """Whether ``miner`` is one of the task's miners (what ``ClosedTask.assigned`` answers too)."""
        return self.assignment(miner) is not None

    @property
    def canary_committed(self) -> bool:
        """Whether the task carries the oracle's canary commitment (what ``ClosedTask`` keeps of it)."""
        return self.canary_commit is not None

    def drawn_in(self, round_: int) -> list[str]:
        """The validators drawn in validation round ``round_``, in the order drawn."""
        return [v for v in self.validators if self.validator_round.get(v, 0) == round_]


@dataclass(frozen=True, slots=True)
class ClosedTask:
    """What the live state keeps of a closed task inside the evidence window (``RULES_TASK_STUB``, with pruning on): its
    whole record left at the end of the event that closed it (core/prune.py ``retire_closed_tasks``, into ``pruned`` and
    the database), and this stub stays until the close past ``unbonding_period_epochs`` drops it. Exactly what the core
    reads of a closed task there: a command naming it is refused by its ``state`` after reading its ``user``
    (``task.cancel``), its miners (``task.precommit``, ``task.reveal``), its ``validators`` (``task.report_commit``,
    ``task.validate``), its ``kind`` and canary commitment (``task.canary_commit``, ``task.canary``); equivocation evidence
    and an oracle's task-offence report read its miners and validators, ``id``, ``created_epoch`` (``_fresh``) and
    ``created_tick`` (the slash's date); the node counts (``State.node_refs``) its miners, validators and ``router``; the
    window's prune its ``created_epoch``. Never changed once made.

    Its memory (a million live at a 1 M-task close): slots, no ``__dict__``; and each node address it names is the node
    table's own ``str`` (``of`` with the state's ``nodes``; a snapshot's stubs ``sharing`` one ``str`` per address when
    decoded, ``state_codec.decode_state``), not a copy per stub: ~0.3 kB a stub against ~1.5 kB with a copy of each
    address (design.md §9). The same text, so the same equality, encoding and hashes."""

    id: int
    kind: TaskKind
    user: str | None
    state: TaskState
    created_epoch: int
    created_tick: int
    router: str | None
    miners: tuple[str, ...]  # the assignments' addresses, in the task's order
    validators: tuple[str, ...]  # every round's, in the order drawn
    canary_committed: bool  # whether the task carried the oracle's canary commitment

    @classmethod
    def of(cls, task: Task, nodes: Mapping[str, Node] | None = None) -> ClosedTask:
        """The stub of a closed task; with ``nodes`` (the state's node table) each address of a node it names is that
        node's ``id`` (one ``str`` a node, not one a stub: the node counts keep every node a stub names registered)."""
        if nodes is None:
            router, miners, validators = task.router, tuple([a.miner for a in task.miners]), tuple(task.validators)
        else:
            router = None if task.router is None else _node_id(nodes, task.router)
            miners = tuple([_node_id(nodes, a.miner) for a in task.miners])
            validators = tuple([_node_id(nodes, v) for v in task.validators])
        return cls(
            task.id,
            task.kind,
            task.user,
            task.state,
            task.created_epoch,
            task.created_tick,
            router,
            miners,
            validators,
            task.canary_commit is not None,
        )

    def sharing(self, seen: dict[str, str]) -> ClosedTask:
        """This stub with each address it holds (its user's too) the one of ``seen`` equal to it (added when new): a
        snapshot's stubs decoded each with its own copy of every address then hold one ``str`` per address
        (``state_codec.decode_state``, ``seen`` first the node table's ids)."""
        share = seen.setdefault
        return ClosedTask(
            self.id,
            self.kind,
            None if self.user is None else share(self.user, self.user),
            self.state,
            self.created_epoch,
            self.created_tick,
            None if self.router is None else share(self.router, self.router),
            tuple([share(a, a) for a in self.miners]),
            tuple([share(v, v) for v in self.validators]),
            self.canary_committed,
        )

    def assigned(self, miner: str) -> bool:
        return miner in self.miners


def _node_id(nodes: Mapping[str, Node], address: str) -> str:
    """The node table's own ``str`` for ``address`` (``address`` itself if it names no node)."""
    node = nodes.get(address)
    return address if node is None else node.id


@dataclass(frozen=True)
class RevealedReports:
    """A ``task.validate`` body, checked: the reports as sent (what the commitment covers), each miner's
    (distance, quality), the PoUW sub-scores, and from ``RULES_MEASURED_TOKENS`` the validator's token counts."""

    reports: list[dict[str, Any]]
    parsed: dict[str, list[int]]
    criteria: dict[str, dict[str, int]]
    input_tokens: int | None  # its count of the prompt (None before RULES_MEASURED_TOKENS)
    output_tokens: dict[str, int]  # miner -> its count of the output (empty before RULES_MEASURED_TOKENS)
    spread_ppb: int | None = None  # its measured spread of the task (None before RULES_TASK_SPREAD)


@dataclass
class WorkRow(Journaled):
    """A miner's assignment in the current epoch, for network rewards.

    ``kind`` is the task's (network tasks earn emission at the work rate; user tasks a bounded bonus),
    ``fee_units`` the miner's share of a user task's fee (what bounds its bonus)."""

    task: int
    node: str
    complexity_units: int
    quality_ppb: int
    in_consensus: bool
    precommitted: bool
    model: str = ""
    kind: TaskKind = TaskKind.NETWORK
    fee_units: int = 0


@dataclass
class ValidationRow(Journaled):
    """A validator's assignment in the current epoch, for network rewards."""

    task: int
    node: str
    agreement_ppb: int
    on_time: bool
    kind: TaskKind = TaskKind.NETWORK  # only validations of network tasks earn emission
    canary_failed: bool = False  # its report let a canary's planted output pass
    drawn_round: int = 0  # RULES_ESCALATION_PAY: the validation round that drew it (0: the task's first round)
    dissented: bool = False  # RULES_ESCALATION_PAY: its report made the task escalate (``Task.dissenters``)


# --- statements and closed epochs (docs/design.md §6) ------------------------------------------


@dataclass
class EarningItem(Journaled):
    """A line of an address's epoch statement (reward, commission, slash, fee, refund...)."""

    address: str
    stream: str
    amount: int
    detail: dict[str, Any]
    claimable: bool = False  # credited to claimable:<address> (part of the epoch's Merkle leaf)


def new_earning(address: str, stream: str, amount: int, detail: dict[str, Any], claimable: bool = False) -> EarningItem:
    """``EarningItem(address, stream, amount, detail, claimable)``, the same record (its detail adopted as a journaled
    dict), made without ``Journaled.__setattr__``'s checks on each field: a new record has nothing to undo, and a close
    makes tens of thousands of lines."""
    item = object.__new__(EarningItem)
    item.__dict__.update(address=address, stream=stream, amount=amount, detail=adopt(detail), claimable=claimable)
    return item


@dataclass(frozen=True)
class SkippedConsequence:
    """A consequence that could not happen, skipped (its writes undone) instead of refusing its event.

    E.g. an automatic slash whose evidence the oracle already reported: time goes on, and the epoch
    record lists what was skipped and why (``code``, ``message``)."""

    seq: int  # the event during which it was skipped
    tick: int
    what: str
    code: str
    message: str


@dataclass(frozen=True)
class Checkpoint:
    """The oracle's signed statement that event ``seq`` of the log has hash ``hash`` (an anchor).

    ``event`` is the seq of the oracle's event that carried it (its signature is the oracle's),
    ``tick`` the logical time then. Extensible: later fields (e.g. a state-snapshot hash) are added
    with a default, so older records stay valid."""

    seq: int
    hash: str
    event: int
    tick: int


@dataclass
class EpochRecord(Journaled):
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
    checkpoint: Checkpoint | None = None  # the oracle's last checkpoint before this close
    skipped: list[SkippedConsequence] = field(default_factory=list)  # consequences that could not happen this epoch


@dataclass
class Pruned(Journaled):
    """What left the live state (core/prune.py): how many records, a running hash over them in the order they left,
    and the last epoch whose whole record left (the database holds them; an older epoch keeps at most its root and leaves)."""

    count: int = 0
    hash: str = "0x" + "00" * 32
    epochs_through: int = -1


@dataclass
class BridgeRecord(Journaled):
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


# --- governance (docs/design.md §8) ------------------------------------------------------------


@dataclass
class Proposal(Journaled):
    """A governance proposal with its voting-power snapshot, votes and outcome (governance.py)."""

    id: int
    kind: str
    title: str
    proposer: str
    body: dict[str, Any]
    deposit: int
    created_tick: int
    end_tick: int
    status: ProposalStatus
    positions: dict[str, dict[str, int]]  # snapshot: node -> staker -> aged stake (the position's power)
    total_power: int  # Σ of the snapshot
    votes: dict[str, str] = field(default_factory=dict)  # voter -> option
    vote_ticks: dict[str, int] = field(default_factory=dict)
    tally: dict[str, int] = field(default_factory=dict)
    tallied_tick: int | None = None
    tallied_epoch: int | None = None
    quorum_met: bool = False
    voter_power: dict[str, dict[str, int]] = field(default_factory=dict)  # at the tally: voter -> owner of a position -> power
    executable_tick: int | None = None  # passed: executed at the first epoch close at or after this tick
    executed_epoch: int | None = None
    result: str | None = None


@dataclass
class Controller(Journaled):
    """A bounded, rate-limited adjustment of one parameter toward a target (controllers.py)."""

    name: str
    param: str
    target_bps: int
    min_value: int
    max_value: int
    max_step: int
    direction: int  # +1: the parameter rises when the signal is above target; −1: it falls
    enabled: bool = True


# --- accounts (accounts.py) -------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """When an address's wallet was first credited, and by whom (``transfer``), for age and links."""

    first_seen_tick: int
    first_seen_epoch: int
    funder: str | None  # the actor of the transfer that first credited it; None for genesis and payouts


# --- bounties and community (docs/design.md §8) ------------------------------------------------


@dataclass
class Submission(Journaled):
    """A hunter's entry: content hash, when, reviewers' approvals or scores, and what it won."""

    hunter: str
    content_hash: str
    index: int  # order of arrival (ties in a challenge go to the earlier entry)
    tick: int
    scores: dict[str, int] = field(default_factory=dict)  # reviewer -> score_ppb (challenges)
    score_ppb: int | None = None  # median of scores
    approvals: list[str] = field(default_factory=list)  # reviewers who approved it, in order (bounties)
    rank: int | None = None  # 1-based, once awarded
    paid: int = 0
    awarded_by: tuple[str, ...] = ()  # the approvals that paid it (bounties)
    deposit: int = 0  # what the entry deposited in the bounty's escrow (rule 21; returned at finalize or expiry)


@dataclass
class Bounty(Journaled):
    """A bounty or challenge: the sponsor's prize in escrow, its reviewers, the entries and what was paid."""

    id: int
    sponsor: str
    kind: str
    prize: int
    criteria: str
    deadline_tick: int
    winners: int
    reviewers: tuple[str, ...]  # named by the sponsor, or drawn from validators after the deadline
    payout_bps: tuple[int, ...]  # empty: equal split
    created_tick: int
    review_quorum: int = 1  # k: approvals (bounty) or scores (challenge) an entry needs to win
    drawn: bool = False  # reviewers are drawn (none were named)
    drawn_tick: int | None = None  # the tick the draw was asked for, its first at or after the deadline (None: still to come)
    status: BountyStatus = BountyStatus.OPEN
    submissions: dict[str, Submission] = field(default_factory=dict)  # hunter -> entry, in order of arrival
    award_count: int = 0  # prizes paid so far (ranks taken)
    paid: int = 0
    refunded: int = 0
    treasury_funding: int = 0  # part of the prize added by governance (``fund_bounty``)
    refunded_to_treasury: int = 0  # part of ``refunded`` that went back to the treasury
    finalized_tick: int | None = None
    expired_tick: int | None = None
    deposits_held: int = 0  # entry deposits in the escrow, not yet returned (rule 21)


@dataclass(frozen=True)
class Attestation:
    """A curator's attestation of one contribution."""

    curator: str
    member: str
    kind: str
    points: int
    reference: str
    tick: int
    epoch: int


for _record in [v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, Journaled) and v is not Journaled]:
    fast_init(_record)  # every record made without a ``__setattr__`` call per field (journal.fast_init)
del _record
