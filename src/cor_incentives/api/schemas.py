"""Request and response schemas of the REST API (input and output kept apart).

Responses are documented with these models but returned as the read views build them (no second
validation pass at run time); the schemathesis suite checks that they conform. Output models allow
extra fields so that a view can grow without breaking clients. Amounts are COR decimal strings
(``"12.5"``); fields ending in ``_units`` are exact base units (1 COR = 10**18) as decimal strings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.events import MAX_PAYLOAD_BYTES

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
MAX_SIGNATURE_CHARS = 140


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- input -----------------------------------------------------------------------------------


class CommandIn(BaseModel):
    """A signed command."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payload": '{"actor":"0x1111111111111111111111111111111111111111","body":{"amount":"1500000000000000000",'
                    '"to":"0x2222222222222222222222222222222222222222"},"chain_id":"cor-devnet-1","kind":"transfer","nonce":1}',
                    "signature": "0x" + "ab" * 65,
                }
            ]
        },
    )

    payload: str = Field(
        ...,
        max_length=MAX_PAYLOAD_BYTES,
        description="The command `{chain_id, kind, actor, nonce, body}` as canonical JSON text: keys sorted, no whitespace, "
        "ASCII only, amounts as decimal strings of base units. Exactly the bytes that were signed.",
    )
    signature: str = Field(
        ...,
        max_length=MAX_SIGNATURE_CHARS,
        description="EIP-191 personal_sign signature of the payload bytes by `actor`: 0x + 130 hex digits (r, s, v).",
    )


MAX_COMMANDS_PER_BATCH = 256


class CommandBatchIn(BaseModel):
    """Several signed commands in one request, each handled as if posted alone, in this order."""

    model_config = ConfigDict(extra="forbid")

    commands: list[CommandIn] = Field(
        ...,
        min_length=1,
        max_length=MAX_COMMANDS_PER_BATCH,
        description=f"1 to {MAX_COMMANDS_PER_BATCH} signed commands (the request body is at most 512 KiB).",
    )


# --- output ----------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error: a stable machine-readable code and a human message."""

    error: str = Field(..., description="Stable code, e.g. `nonce_already_used`, `signer_is_not_actor`, `invalid_request`.")
    message: str
    details: dict[str, Any] | None = None


class ReceiptOut(Out):
    """Where an accepted command landed in the log."""

    seq: int = Field(..., description="Sequence number of the event in the log.")
    hash: str = Field(..., description="Chain hash of the event.")
    kind: str
    actor: str
    tick: int = Field(..., description="Logical tick after the event.")
    epoch: int = Field(..., description="Epoch after the event.")
    ids: list[int] = Field(..., description="Ids the command allocated, in order: the session, task, proposal or bounty it created first.")


class BatchResultOut(Out):
    """One command of a batch: its receipt, or the error it would have got alone."""

    index: int = Field(..., description="Position of the command in the request.")
    status: int = Field(..., description="The HTTP status this command would have got alone: 200 accepted, else its error's status.")
    receipt: ReceiptOut | None = Field(None, description="Where the command landed (status 200 only).")
    error: str | None = Field(None, description="Stable error code (refused commands only), as for `POST /v1/commands`.")
    message: str | None = None
    details: dict[str, Any] | None = None


class BatchOut(Out):
    """Per-command outcomes of a batch, in request order; a refused command never fails the others."""

    results: list[BatchResultOut]
    accepted: int
    rejected: int


class NonceOut(Out):
    address: str
    nonce: int = Field(..., description="The next nonce to sign with (last accepted nonce + 1).")


class SigningOut(Out):
    scheme: str
    encoding: str
    signature: str
    nonce: str
    docs: str


class BeaconOut(Out):
    round: int = Field(..., description="Beacon values revealed so far (one per tick event).")
    value: str = Field(..., description="The last revealed value: sha256 of the next one (the chain's anchor before round 1).")
    chain: int = Field(..., description="How many of the oracle's hash chains came before the current one.")
    length: int
    left: int = Field(..., description="Values the current chain still holds.")
    next_anchor: str | None = Field(..., description="The chain queued by beacon.anchor for when this one runs out.")
    next_length: int
    pending_draws: int = Field(..., description="Draws (task miners, validators, dedicated sessions) waiting for the next value.")


class NetworkPromptOut(Out):
    parts: list[str] = Field(..., description="Ids of the genesis prompt set's prompts it is composed of, in order.")
    text: str = Field(..., description="The prompt (the blob whose sha256 is prompt_hash).")
    prompt_hash: str
    prompt_bytes: int
    max_output_tokens: int = Field(..., description="The largest output budget the task may ask (the parts' sum).")


NETWORK_PROMPT_DOC = "The prompt the next task.network must ask, composed by the beacon (null: the oracle names it)."


class ChainOut(Out):
    chain_id: str
    oracle: str
    head_seq: int = Field(..., description="Sequence number of the last event (-1: empty log).")
    head_hash: str
    tick: int
    epoch: int
    kinds: list[str] = Field(..., description="Command kinds this engine accepts.")
    signing: SigningOut
    beacon: BeaconOut | None = Field(..., description="The randomness beacon (null: a network without one, on the first rules).")
    network_prompt: NetworkPromptOut | None = Field(..., description=NETWORK_PROMPT_DOC)


class RoleCountOut(Out):
    registered: int
    selectable: int
    jailed: int


class StatusOut(Out):
    chain_id: str
    oracle: str
    seq: int
    head_hash: str
    tick: int
    epoch: int
    epoch_length_ticks: int
    ticks_to_epoch_end: int
    supply: str
    supply_units: str
    burned: str
    treasury: str
    dust_units: str
    pools: dict[str, str]
    by_account_class: dict[str, str]
    bonded: str
    bonded_ratio_bps: int
    nodes: dict[str, RoleCountOut]
    slashes: int
    epochs_closed: int
    beacon: BeaconOut | None = Field(..., description="The randomness beacon (null: a network without one).")
    network_prompt: NetworkPromptOut | None = Field(..., description=NETWORK_PROMPT_DOC)


class UnbondingOut(Out):
    id: int
    node: str
    amount: str
    mature_epoch: int


class RedelegationOut(Out):
    id: int
    address: str
    from_: str = Field(..., alias="from", description="The node the stake left.")
    to: str = Field(..., description="The node it moved to (where it is bonded now).")
    amount: str = Field(..., description="COR still answerable for the source node's earlier offences.")
    start_tick: int
    mature_epoch: int = Field(..., description="From this epoch on the move no longer answers for the source node's offences.")
    slashable_for_offences_of_from_before_tick: int
    slashable: bool


class BalanceOut(Out):
    address: str
    accounts: dict[str, str] = Field(..., description="Non-zero accounts of the address in COR.")
    accounts_units: dict[str, str] = Field(..., description="The same accounts in base units.")
    total: str
    unbonding_entries: list[UnbondingOut] = Field(..., description="Stake unbonding; each id can be returned with stake.cancel_unbond.")
    redelegations: list[RedelegationOut] = Field(..., description="Moves of this address's stake still slashable at their source node.")
    nonce: int = Field(..., description="Last accepted nonce of the address (0: none yet).")


class SlashOut(Out):
    slashable: str = Field(..., description="COR of the slashable positions when the slash was taken (the base of the amounts).")
    penalty: str | None = Field(..., description="A counted offence's fixed amount in COR; null for fraction offences.")
    slashable_units: str = Field(..., description="slashable in base units (0 for a slash taken under rule versions 1-3).")
    penalty_units: str | None = Field(..., description="penalty in base units.")
    reason: str = Field(..., description="What the node did, the evidence, who reported it, when the offence is dated and what it cost.")
    id: int
    node: str
    offence: str
    offence_tick: int
    tick: int
    epoch: int
    fraction_bps: int
    total: str
    burned: str
    to_reporter: str
    to_treasury: str
    reporter: str | None
    evidence_hash: str
    evidence: dict[str, Any]
    by_account: dict[str, str]
    jailed_until_tick: int | None


class NodeOut(Out):
    id: str
    role: str
    self_bond: str
    stake_total: str
    delegators: int
    commission_bps: int
    state: str = Field(
        ..., description="active, underbonded or jailed; retired: it held nothing and left the live state (rule 23), read from the database."
    )
    jailed_until_tick: int | None
    reputation_ppb: int
    slash_count: int
    models: list[str]
    registered_tick: int
    commission_next_bps: int | None = Field(
        ..., description="A commission change made this epoch, in force from the next epoch (null: none pending)."
    )
    offence_allowance: dict[str, int] = Field(
        ...,
        description="Counted offences forgiven for work served well, over this epoch and the last: served (tasks served well), "
        "forgiven, left = floor(served × offence_allowance_bps / 10000) − forgiven.",
    )
    stake_total_units: str
    window_epochs: int = Field(..., description="The last N closed epochs the record below is taken over.")
    epochs_counted: int = Field(..., description="Those of the window the node was registered in (what the yield averages over).")
    delegator_yield_ppb: int = Field(
        ...,
        description="Realised delegator yield after commission: what one unit of stake bonded a whole epoch earned its staker, "
        "in parts per billion per epoch, averaged over the epochs counted (an epoch that paid the stakers nothing counts as 0).",
    )
    delegator_apr_bps: int = Field(..., description="delegator_yield_ppb × epochs_per_year, in basis points.")
    consensus_rate_bps: int | None = Field(
        ...,
        description="A miner's outputs judged in consensus ÷ judged; a validator's mean agreement with the consensus; over the tasks "
        "created in the window (null: none judged).",
    )
    judged: int = Field(..., description="A miner's judged outputs, a validator's reports, in the window.")
    missed_deadlines: int = Field(..., description="Missed precommits, reveals and reports in the window, from the core's offence records.")
    recent_slashes: int = Field(..., description="Slashes in the window.")
    recent_slashed: str = Field(..., description="COR those slashes took from the node's stakers.")
    recent_slashed_units: str
    jailed: bool
    warnings: list[str] = Field(..., description="What a delegator should know: jailed, slashed recently.")


class OffenceCounterOut(Out):
    offence: str
    count: int = Field(..., description="Offences counted toward the next slash (with a threshold), or slashed in the window (without).")
    threshold: int | None = Field(..., description="The count that makes a slash under the rules in force (null: each offence is slashed).")
    window_epochs: int
    from_epoch: int
    pending_tasks: list[int] = Field(..., description="The tasks of the offences counted and not slashed yet.")
    slashed_in_window: int
    fraction_bps: int
    text: str = Field(..., description='In words, e.g. "missed_deadline 2/3 in this window".')


class StakePositionOut(Out):
    address: str
    kind: str = Field(..., description="self_bond or delegation.")
    stake: str = Field(..., description="COR bonded now.")
    stake_ticks_units: str = Field(
        ..., description="Base units × ticks bonded this epoch, up to the current tick (including stake that already left)."
    )
    share_ppb: int = Field(
        ..., description="stake_ticks ÷ the node's: the share of the node's staker reward this position would take if the epoch closed now."
    )


class NodeUnbondingOut(Out):
    id: int
    address: str
    amount: str
    start_tick: int
    mature_epoch: int
    slashable_for_offences_before_tick: int = Field(..., description="Offences dated before this tick still slash this entry.")


class NodeDetailOut(NodeOut):
    delegations: dict[str, str] = Field(..., description="Delegator address → COR delegated.")
    stake_epoch: int
    stake_ticks_units: str = Field(
        ..., description="The node's Σ stake × ticks this epoch up to the current tick: its stakers' rewards are split by it."
    )
    idle_stake_ticks_units: str = Field(
        ...,
        description="The part of stake_ticks_units counted while the node was not selectable (self-bond under the minimum, or jailed): "
        "from rule version 14 it earns no staking APR.",
    )
    stake_ticks_formula: str
    positions: list[StakePositionOut] = Field(..., description="Every stake position of the epoch (operator first), with its stake × ticks.")
    unbonding: list[NodeUnbondingOut] = Field(..., description="Stake unbonding from this node (slashable for offences dated before it started).")
    redelegated_away: list[RedelegationOut] = Field(..., description="Stake redelegated from this node, still slashable for its earlier offences.")
    slashes: list[SlashOut]
    offences: list[OffenceCounterOut] = Field(..., description="The node's offence counters under the rules in force.")


class NodesOut(Out):
    window_epochs: int
    sort: str | None
    state: str = Field(..., description="Which nodes: `live` (the default), `retired` (rule 23: read from the database) or `all`.")
    nodes: list[NodeOut] = Field(..., description="By address, or best first by `sort` (live nodes in one answer only).")
    next_after_id: str | None = Field(
        ..., description="Pass as `after_id` (with the same `state`, `role` and `limit`) for the next page; null when no node is left."
    )


class EstimateOut(Out):
    kind: str = Field(..., description="`operator` (a new node's self-bond) or `delegation`.")
    window_epochs: int
    epochs_used: int = Field(..., description="Closed epochs the estimate learned from.")
    per_epoch: dict[str, str] = Field(..., description="Expected COR per epoch, by source, and the total.")
    per_epoch_units: dict[str, str]
    per_year: str = Field(..., description="per_epoch total × epochs_per_year (COR).")
    apr_bps: int
    formula: str
    assumptions: list[str] = Field(..., description="What the estimate takes for granted.")


class SlashesOut(Out):
    slashes: list[SlashOut]


class EpochLeafOut(Out):
    address: str
    epoch: int
    amount: str
    amount_units: str = Field(..., description="The leaf's amount in base units (what the Merkle leaf commits to).")


class OnchainOut(Out):
    epoch: int
    status: str = Field(..., description="`posting` (bridge.post logged, transaction not confirmed) or `posted` (mined, tx and block known).")
    evm_chain_id: int
    distributor: str = Field(..., description="The RewardsDistributor contract that pays this epoch's leaves.")
    root: str
    total: str
    total_units: str = Field(..., description="The epoch's leaves still unclaimed at the post: what moved to `bridge` and funds the distributor.")
    leaves: int
    claimed_offchain: list[str] = Field(..., description="Addresses whose leaf `reward.claim` had already paid (marked claimed on chain).")
    anchor_seq: int = Field(..., description="The log event the post anchors ...")
    anchor_hash: str = Field(..., description="... and its hash, stored by the contract.")
    posted_tick: int
    tx_hash: str | None
    block: int | None


class ChainEpochOut(Out):
    epoch: int
    root: str | None
    claimable_total_units: str
    leaves: int
    status: str = Field(..., description="`no_leaves`, `offchain` (paid by reward.claim), `posting` or `posted` (paid by the distributor).")
    onchain: OnchainOut | None


class ChainEpochsOut(Out):
    epochs: list[ChainEpochOut]


class EpochOut(Out):
    epoch: int
    start_tick: int
    end_tick: int
    root: str | None = Field(..., description="Merkle root of the epoch's claimable rewards.")
    totals: dict[str, str] = Field(..., description="COR paid by stream.")
    leaves: list[EpochLeafOut] | None = Field(None, description="The claimable leaves under the root.")
    claimable_total: str | None = None
    claimable_total_units: str | None = None
    onchain: OnchainOut | None = Field(None, description="Set once the epoch moved to an EVM chain (its only payout path).")
    streams: dict[str, Any] | None = Field(None, description="Each emission stream's budget, paid, back_to_pool and the inputs of its formula.")
    staking: dict[str, Any] | None = Field(
        None,
        description="Staking APR: target and effective APR, pool_balance, budget, due, paid; per node stake_ticks, stake, commission_bps.",
    )
    reputation_ppb: dict[str, int] | None = Field(None, description="Each node's reputation at the close (what its reward multiplier used).")
    reputation_start_ppb: dict[str, int] | None = Field(
        None, description="Nodes that are new this epoch (not in the previous close's reputation_ppb): the reputation each started at."
    )
    lines: list[dict[str, Any]] | None = Field(
        None,
        description="Every statement line of the epoch (address, stream, amount_units, claimable, detail: formula and inputs), dust lines too.",
    )


class EventOut(Out):
    seq: int
    tick: int = Field(..., description="Logical tick at which the event was applied.")
    kind: str
    actor: str
    nonce: int
    payload: str = Field(..., description="The signed canonical command, byte for byte.")
    signature: str
    prev_hash: str
    hash: str = Field(..., description="sha256(prev_hash ‖ seq as 8 bytes big-endian ‖ sha256(payload) ‖ signature as ASCII).")


class EventsOut(Out):
    events: list[EventOut]
    head_seq: int = Field(..., description="Sequence number of the last event in the log.")
    next_after: int | None = Field(..., description="Pass as `after` for the next page; null when this page reaches the head.")


class VerifyOut(Out):
    ok: bool
    events: int
    hash_chain: bool
    signatures: bool
    conservation: bool
    replay: bool
    projections: bool
    epochs_checked: int
    roots_match: bool
    slashes: bool = Field(True, description="Every slash re-derived from its evidence and the log (dates, task records, signatures).")
    first_bad_seq: int | None
    errors: list[str]


class HealthOut(Out):
    ok: bool
    chain_id: str | None
    head_seq: int


# --- market: tasks, blobs, models, quotes, sessions ------------------------------------------


class TaskMinerOut(Out):
    miner: str
    precommitted: bool
    revealed: bool
    mismatch: bool
    output_hash: str | None = Field(..., description="sha256 of the revealed output (`GET /v1/blobs/{hash}`).")
    output_tokens: int | None = Field(..., description="The validators' stake-weighted median count of the output's tokens (once decided).")
    poi_distance_ppb: int | None = Field(..., description="Stake-weighted median PoI distance to the medoid (ppb).")
    quality_ppb: int | None = Field(..., description="Stake-weighted median PoUW quality score (ppb).")
    in_consensus: bool
    planted: bool = Field(
        ...,
        description="The oracle's planted output of a canary: out of consensus and offences; from rule 18 its miner is paid as a typical "
        "in-consensus miner (quality_ppb: the in-consensus miners' median).",
    )
    paid: str
    paid_units: str | None = None
    reveal_tick: int | None = Field(None, description="Tick of the reveal.")
    reveal_rank: int | None = Field(None, description="Reveal order, 0 = first (the latency part of the reputation observation).")


class TaskReportOut(Out):
    poi_distance_ppb: int
    quality_ppb: int
    output_tokens: int | None = Field(..., description="This validator's count of the output's tokens.")


class TaskValidatorOut(Out):
    validator: str
    round: int = Field(..., description="The validation round that drew it: 0, then 1, 2… for escalations.")
    committed: bool = Field(..., description="It committed to its reports (task.report_commit).")
    reported: bool = Field(..., description="It revealed its reports (task.validate); they are public from then on.")
    agreement_ppb: int | None = Field(..., description="Closeness of this validator's reports to the consensus (ppb).")
    canary_failed: bool = Field(..., description="Its report let a canary's planted output pass.")
    reports: dict[str, TaskReportOut] = Field(..., description="Miner → what this validator reported.")
    input_tokens: int | None = Field(..., description="This validator's count of the prompt's tokens.")
    spread_ppb: int | None = Field(
        None, description="Its measured spread of the task: the distance between the task's two closest valid outputs (spread rule)."
    )


class TaskFeeLineOut(Out):
    address: str
    stream: str = Field(..., description="task_fee:miner, task_fee:validator, task_fee:router, task_fee:royalty or task_fee:royalty_parent.")
    amount: str
    amount_units: str


class TaskFeeOut(Out):
    price: str = Field(..., description="What the user was charged (COR).")
    price_units: str
    paid: list[TaskFeeLineOut] = Field(..., description="Each statement line the price paid an address, in the order it was paid.")
    treasury: str = Field(
        ...,
        description="The treasury's: its split part, the router's part when the task named no router, and (rule 30) the validators' "
        "part when no reporting validator agreed (`validators_unearned`).",
    )
    treasury_units: str
    treasury_part: str = Field(..., description="The treasury's own part of the split (fee_split_bps.treasury).")
    router_absent: str | None = Field(..., description="The router's part, to the treasury, when the task named no router (else null).")
    validators_unearned: str | None = Field(
        ...,
        description="Rule 30: the validators' part, to the treasury, because every reporting validator's agreement was 0 (named on the "
        "user's task_payment line as validators_unearned); null when the validators were paid.",
    )
    validators_unearned_units: str | None
    dust: str = Field(..., description="The split's remainder and the pro-rata floors: the price less every line and the treasury's.")
    dust_units: str


class TaskOut(Out):
    id: int
    kind: str = Field(..., description="user or network.")
    state: str = Field(
        ...,
        description="CREATED (miners not drawn yet), PREPARED, STARTED, PRECOMMITTED, COMMITTED, REPORTING, AUDITING, VALIDATED, SETTLED, "
        "CANCELLED or FAILED.",
    )
    failure: str | None
    user: str | None
    session: int | None
    router: str | None
    model: str
    prompt_hash: str = Field(..., description="sha256 of the prompt (`GET /v1/blobs/{hash}`).")
    input_tokens: int = Field(..., description="The requester's bound on the prompt's tokens (the escrow's and the charge's cap).")
    max_output_tokens: int
    settled_input_tokens: int | None = Field(..., description="min(the validators' median count of the prompt, input_tokens).")
    measured_tokens: bool = Field(
        ..., description="Whether this task's rules (those in force at its creation) take token counts from the validators (else from its miners)."
    )
    spread_rule: bool = Field(
        False,
        description="Whether this task's rules (those at its creation) take raw distances and each validator's spread, the core "
        "setting the task's PoI threshold (else validators report distances less their own spread allowance).",
    )
    spread_ppb: int | None = Field(None, description="Settled (spread rule): the stake-weighted median of the validators' spreads.")
    threshold_ppb: int | None = Field(
        None,
        description="Settled (spread rule): the PoI threshold = max(poi_max_distance_ppb, min(poi_spread_cap_ppb, spread_ppb × "
        "poi_spread_factor_bps // 10000)); a miner is in consensus when its distance ≤ it and its quality ≥ the floor.",
    )
    output_tokens: int | None = Field(..., description="Settled: lower median of the in-consensus miners' measured counts, ≤ max_output_tokens.")
    redundancy: int
    seed: str | None = Field(..., description="The seed its miners were drawn with (null until drawn).")
    created_tick: int
    deadline_tick: int | None = Field(..., description="Tick of the current phase's deadline (null once closed).")
    closed_tick: int | None
    escrowed: str
    charged: str
    refunded: str
    escrowed_units: str
    charged_units: str
    refunded_units: str
    split: dict[str, str] = Field(..., description="Fee split by recipient class, COR.")
    fee: TaskFeeOut | None = Field(
        None,
        description="A settled user task: who got what of its price, from its settlement's statement lines (null otherwise); "
        "`GET /v1/tasks/{id}` only, not the list.",
    )
    result: dict[str, Any] | None = Field(
        ...,
        description="The answer the network stands behind: among the outputs in consensus, the best quality (then the smallest "
        "PoI distance, then the lowest address): `miner`, `output_hash` (its text at `blob`), `output_tokens`, `quality_ppb`, "
        "`poi_distance_ppb`, `in_consensus` (how many outputs were). Null until validators agree, or when none is in consensus.",
    )
    miners: list[TaskMinerOut]
    round: int = Field(..., description="The validation round in progress or last run (escalations draw more validators).")
    validators: list[TaskValidatorOut]
    canary: str | None = Field(
        ...,
        description="A task's canary (a network task's, or from rule 17 a user task's), once the oracle opened its commitment: none, planted "
        "or void (its output was not revealed).",
    )


class TasksOut(Out):
    tasks: list[TaskOut] = Field(..., description="Newest first.")
    next_before_id: int | None = Field(
        ..., description="Pass as `before_id` (with the same filters and `after_id`) for the next page; null when no older task matches."
    )


class BlobOut(Out):
    hash: str = Field(..., description="0x + sha256 of the bytes: the blob's address.")
    size: int = Field(..., description="Bytes stored.")


class ModelOut(Out):
    id: str
    owner: str
    parameter_count: int
    tier: str = Field(..., description="The price tier, from the card's parameter count.")
    work_tier: str = Field(..., description="The tier its work counts at: governance's listing (`listed_model_tiers`), else tiny.")
    listed: bool = Field(..., description="Whether governance lists the model (a registered model earns no work tier by itself).")
    quantization: str
    context_length: int
    license: str
    content_hash: str
    parent: str | None
    registered_tick: int
    retired_tick: int | None = Field(
        None, description="The tick of its `model.retire` (rule 25): its deposit returned, no new task or fine-tune; null while listed."
    )


class ModelListedOut(ModelOut):
    state: str = Field(..., description="listed, retiring (retired, still live: an open task names it) or retired (left the live state).")


class ListingOut(Out):
    registered_tick: int
    retired_tick: int | None
    owner: str


class ModelOneOut(ModelListedOut):
    listings: list[ListingOut] = Field(
        ..., description="Every listing of the id, oldest first: a retired id that left the live state may be registered again (rule 25)."
    )


class ModelsOut(Out):
    state: str = Field(..., description="Which listings: `live` (the default), `retired` (rule 25: read from the database) or `all`.")
    models: list[ModelListedOut] = Field(..., description="By id; a page of retired or all by `<id>@<registered tick>`.")
    next_after: str | None = Field(..., description="Pass as `after` (with the same `state` and `limit`) for the next page; null when none is left.")


class QuoteOut(Out):
    model: str
    tier: str
    input_tokens: int
    output_tokens: int = Field(..., description="The output tokens priced (the request's max_output_tokens).")
    redundancy: int
    base_fee_units: str
    input_price_per_token_units: str
    output_price_per_token_units: str
    quantization_factor_ppb: int
    context_factor_ppb: int
    per_miner_units: str
    validation_fee_units: str
    price_factor_ppb: int
    total_units: str
    total: str = Field(..., description="The price in COR.")


class SessionOut(Out):
    id: int
    owner: str
    mode: str
    redundancy: int
    validators: int
    dedicated_miners: list[str]
    open: bool
    open_tasks: int
    deposit: str
    deposit_units: str


# --- rewards: statements and claim proofs ----------------------------------------------------


class StatementItemOut(Out):
    stream: str = Field(..., description="e.g. miner_work, validator_work, staking_apr, commission, task_fee, slash, bounty_prize.")
    amount: str
    amount_units: str
    claimable: bool = Field(..., description="Part of the epoch's Merkle leaf (claim with its proof).")
    detail: dict[str, Any] = Field(..., description="The formula, its inputs and the parameters in force.")
    slash: dict[str, Any] | None = Field(
        None, description="On a slash line: the slash's id, node, offence, reason, evidence and hash, and `url` (`GET /v1/slashes/{id}`)."
    )


class StatementOut(Out):
    address: str
    epoch: int
    start_tick: int
    end_tick: int
    items: list[StatementItemOut]
    total: str
    total_units: str
    claimable: str
    claimable_units: str
    claimed: bool
    root: str | None
    warnings: list[str] = Field(..., description="Nodes the address has stake in that are jailed (they earn nothing meanwhile).")


class RewardsEpochOut(Out):
    epoch: int
    start_tick: int
    end_tick: int
    total: str = Field(..., description="Sum of the statement's line items (COR).")
    total_units: str
    claimable: str = Field(..., description="The epoch's Merkle leaf for the address (COR).")
    claimable_units: str
    claimed: bool = Field(..., description="Claimed in the engine (`reward.claim`).")
    payout: str = Field(..., description="`engine` (claim with `reward.claim`) or `evm` (claim on the distributor).")
    unclaimed: bool = Field(..., description="A leaf still to claim with `reward.claim`.")


class RewardsItemOut(StatementItemOut):
    epoch: int
    end_tick: int


class RewardsOut(Out):
    address: str
    from_epoch: int
    closed_epochs: int
    epochs: list[RewardsEpochOut]
    items: list[RewardsItemOut] = Field(..., description="Every line item of every epoch listed, oldest first (the CSV export's rows).")
    total: str
    total_units: str
    unclaimed_epochs: list[int] = Field(..., description="Epochs with a leaf still to claim in the engine (`cor claim --all`).")
    unclaimed: str
    unclaimed_units: str
    claim_on_chain_epochs: list[int] = Field(..., description="Epochs with a leaf for the address that moved on chain (claim there).")
    warnings: list[str] = Field(..., description="Nodes the address has stake in that are jailed (they earn nothing meanwhile).")


class ProofOut(Out):
    address: str
    epoch: int
    amount: str
    amount_units: str = Field(..., description="What the leaf commits to (pass to `reward.claim` as `amount`).")
    root: str | None
    proof: list[str] = Field(..., description="Sibling hashes, leaf to root (OpenZeppelin StandardMerkleTree).")
    claimed: bool
    leaf_encoding: list[str]
    payout: dict[str, Any] = Field(
        ...,
        description="`{path: engine}`: claim with `reward.claim`; `{path: evm, evm_chain_id, distributor, status}`: the epoch moved on "
        "chain, call `claim(epoch, account, amount, proof)` on the distributor.",
    )


# --- governance and bounties -----------------------------------------------------------------


class ProposalOut(Out):
    id: int
    kind: str
    title: str
    proposer: str
    status: str = Field(..., description="VOTING, PASSED, REJECTED, VETOED, EXECUTED or FAILED.")
    result: str | None
    body: dict[str, Any]
    deposit: str
    created_tick: int
    end_tick: int
    total_power: str
    votes: dict[str, str] = Field(..., description="Voter → option.")
    tally: dict[str, str] = Field(..., description="Option → COR of voting power (live while voting, with the stake bonded now).")
    quorum_met: bool | None = Field(..., description="Whether the turnout met quorum (null while voting).")
    executable_tick: int | None = Field(..., description="A passed proposal runs at the first epoch close at or after this tick.")
    executed_epoch: int | None


class ProposalsOut(Out):
    proposals: list[ProposalOut]


class ParamsOut(Out):
    epoch: int
    in_force: dict[str, Any] = Field(..., description="Every parameter in force at the current epoch.")
    schema_: list[dict[str, Any]] = Field(..., alias="schema", description="Every parameter with its bounds and documentation.")
    history: list[dict[str, Any]] = Field(..., description="Every version: `{from_epoch, params}`.")
    controllers: dict[str, dict[str, Any]]
    constants: dict[str, Any] | None = Field(
        None,
        description="Fixed numbers that move money: tier weights, the per-row cap, the APR schedule, the price's quantization and context factors.",
    )


class BountyOut(Out):
    id: int
    sponsor: str
    kind: str = Field(..., description="bounty or challenge.")
    prize: str
    prize_units: str
    status: str
    escrow: str
    escrow_units: str


class BountiesOut(Out):
    bounties: list[BountyOut] = Field(..., description="Newest first.")
    next_before_id: int | None = Field(
        ..., description="Pass as `before_id` (with the same `after_id`) for the next page; null when no older bounty is left."
    )
