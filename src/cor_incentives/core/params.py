"""Parameters: one typed, validated, immutable set, and its history by epoch (docs/design.md §3).

One declaration per parameter: its type (the annotation), bounds (``min``/``max``), unit (the end of
its name, ``param_unit``), a line saying what it is, and where its default comes from (``source``).
Every consumer reads the declaration (``param_bounds``, ``param_default``, ``check_param``): the
work-reward kernel's parameters, the longest tick a command may ask for, the session settings a
command may carry, the controllers' bounds — none keeps a second copy of a bound. Split fields
(``*_split_bps``) are mappings whose values sum to 10 000. Units go last in names: ``_bps``
(1/10 000), ``_ppb`` (1/10**9), ``_ticks``, ``_epochs``, ``_units`` (base units of COR).

A change (by governance) carries the epoch from which it applies; ``ParamHistory.at(epoch)`` gives
the set in force, so replay settles every epoch with the parameters of its time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import InvalidInput, shown
from .rules import LATEST as LATEST_RULES
from .streams import EmissionStream
from .units import BPS, COR, PPB, is_amount

U256 = 2**256 - 1
WORK_TIERS = ("tiny", "small", "medium", "large")  # the model size tiers (pricing.TIERS), smallest first
MAX_LISTED_MODELS = 256
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_MULTIPLIER_PPB = 5 * PPB  # the work-reward kernel's int64 sums are proven up to a 5.0 multiplier (core/work_rewards.py)
DEVNET = "devnet choice"


def _p(default: Any, lo: int, hi: int, doc: str, source: str = DEVNET) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi, "doc": doc, "source": source})


def _split(default: dict[str, int], doc: str, source: str = DEVNET) -> Any:
    return field(default_factory=lambda: MappingProxyType(dict(default)), metadata={"split": tuple(default), "doc": doc, "source": source})


FEE_SPLIT_DEFAULT = {"miners": 7000, "validators": 1200, "router": 500, "model_royalty": 500, "treasury": 800}
EMISSION_SPLIT_DEFAULT: dict[str, int] = {
    EmissionStream.MINERS: 5500,
    EmissionStream.VALIDATORS: 2000,
    EmissionStream.MARKETPLACE: 1000,
    EmissionStream.COMMUNITY: 800,
    EmissionStream.GOVERNANCE: 700,
}
SLASH_FRACTION_DEFAULT = {
    "commit_mismatch": 500,
    "poi_divergence": 100,
    "missed_deadline": 10,
    "validator_deviation": 200,
    "equivocation": 1000,
}
JAIL_OFFENCES = ("commit_mismatch", "equivocation")
COUNTED_OFFENCES = ("poi_divergence", "missed_deadline", "validator_deviation")
"""Offences charged a fixed amount each (a share of the role's minimum self-bond), not a share of the node's stake."""


@dataclass(frozen=True)
class Params:
    """The parameter set in force. Defaults are the devnet's; governance may change any of them."""

    # --- the rules ---
    rule_version: int = _p(
        1,
        1,
        LATEST_RULES,
        "the consensus rules in force (core/rules.py); a genesis without it runs 1, a new genesis names the latest; only goes up",
        "1: the rules every log without it was recorded under",
    )
    prune_closed_records: int = _p(
        1,
        0,
        1,
        "from rule version RULES_PRUNE (core/rules.py): 1 moves closed tasks and earlier epoch records out of the live state after each close "
        "(core/prune.py; the engine keeps them in its database); 0 keeps them in memory (the simulator, which has no database)",
    )
    # --- time ---
    epoch_length_ticks: int = _p(100, 1, 10**6, "ticks per epoch")
    # --- staking (docs/design.md §7) ---
    min_self_bond_miner_units: int = _p(1_000 * COR, 1, U256, "security deposit of a miner node")
    min_self_bond_validator_units: int = _p(2_000 * COR, 1, U256, "security deposit of a validator node")
    min_self_bond_router_units: int = _p(500 * COR, 1, U256, "security deposit of a router node")
    max_commission_bps: int = _p(2_000, 0, BPS, "highest commission a node may charge its delegators")
    max_commission_change_bps: int = _p(500, 0, BPS, "largest commission change in one step")
    commission_change_cooldown_epochs: int = _p(1, 0, 1_000, "epochs between two commission changes")
    unbonding_period_epochs: int = _p(2, 0, 1_000, "epochs before unbonded stake can be withdrawn")
    max_entries: int = _p(
        7,
        1,
        1_000,
        "from rule version 8: most unbonding entries still maturing (from rule 20: not yet withdrawn) one address may hold per node, and most young "
        "redelegations per source node (as Cosmos's max_entries)",
    )
    # --- rule 20 (RULES_MIN_POSITION): a minimum stake position ---
    min_position_units: int = _p(
        COR,
        1,
        U256,
        "from rule version 20: the least stake a position (a self-bond or a delegation) may hold after its holder changes it, "
        "0 aside: a governance snapshot, a slash and the close read every position, so positions are at most the stake locked "
        "in them ÷ this (1 base unit: no minimum)",
        "devnet choice, in the spirit of the minimum bonds real networks set (Polkadot's minimum nominator bond): "
        'docs/rewards.md "Stake positions: the minimum"',
    )
    # --- slashing (docs/design.md §7) ---
    slash_fraction_bps: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(dict(SLASH_FRACTION_DEFAULT)),
        metadata={
            "keys": tuple(SLASH_FRACTION_DEFAULT),
            "max_each": BPS,
            "doc": "per offence: commit_mismatch and equivocation take this share of every slashable position; poi_divergence, "
            "missed_deadline and validator_deviation cost this share of the node role's minimum self-bond (a fixed amount per offence; "
            "rule versions 1-3: this share of every slashable position at the threshold)",
        },
    )
    slash_burn_bps: int = _p(5_000, 0, BPS, "share of slashed stake burned")
    slash_reporter_bps: int = _p(
        1_000,
        0,
        BPS,
        "share paid to the reporter, when there is one: of the whole slash (before rule version 29), of the operator's own slashed pieces (from 29)",
    )
    jail_duration_ticks: int = _p(200, 0, 10**9, "ticks a jailed node waits before it may unjail")
    poi_divergence_threshold: int = _p(3, 1, 10_000, "rule versions 1-3 only: PoI divergences in the window that make an offence")
    missed_deadline_threshold: int = _p(3, 1, 10_000, "rule versions 1-3 only: missed deadlines in the window that make an offence")
    validator_deviation_threshold: int = _p(3, 1, 10_000, "rule versions 1-3 only: large deviations in the window that make an offence")
    offence_window_epochs: int = _p(1, 1, 1_000, "rule versions 1-3 only: epochs an offence counter looks back")
    offence_allowance_bps: int = _p(
        1_000,
        0,
        BPS,
        "from rule version 7: counted offences forgiven per task served well, over this epoch and the one before it "
        "(floor(served x this / 10000) in all): covers PoI's measured ~2 % of honest outputs out of consensus from the 10th task served well",
    )
    # --- tasks (docs/design.md §4, §5) ---
    redundancy: int = _p(3, 1, 32, "miners that must precommit each task")
    validators_per_task: int = _p(5, 1, 32, "validators drawn per task in its first validation round")
    min_validators_per_task: int = _p(3, 1, 32, "fewest validators a session may ask for per task (networks with a beacon)")
    dedicated_session_fee_units: int = _p(
        10**17, 0, U256, "fee per reserved miner (to the treasury) when a dedicated session's miners are drawn (networks with a beacon; 0.1 COR)"
    )
    # rule 24 (RULES_SESSION_BOUND): a session locks real money (no effect under earlier rules)
    session_min_deposit_units: int = _p(
        COR,
        1,
        U256,
        "from rule version 24: the least first deposit session.open accepts, moved to the session's escrow and returned at "
        "session.close with what its tasks left: an unfunded key cannot open one, and N open sessions lock at least N × this "
        "until their owner spends it on tasks",
        'devnet choice, as min_position_units and bounty_entry_deposit_units (1 COR): docs/rewards.md "Sessions: the minimum deposit (rule 24)"',
    )
    # rule 25 (RULES_MODEL_BOND): a model listing locks real money (no effect under earlier rules)
    model_listing_deposit_units: int = _p(
        10 * COR,
        1,
        U256,
        "from rule version 25: the deposit model.register moves from the owner's wallet to escrow:model:<id>, returned at "
        "model.retire: an unfunded key cannot list a model, and N listed models lock N × this until they are retired",
        'devnet choice (10 COR, a model card is larger than a session: ~373 B of snapshot): docs/rewards.md "Models: the listing deposit (rule 25)"',
    )
    min_consensus: int = _p(2, 1, 32, "miners in consensus for a task to succeed")
    network_prompt_parts: int = _p(
        2, 1, 8, "base prompts of the genesis prompt set composed into one network task's prompt, drawn by the beacon (rule 9)"
    )
    poi_max_distance_ppb: int = _p(
        850_000_000,
        0,
        2 * PPB,
        "largest cosine distance to the medoid still in consensus; keeps 99 % of honest sampling miners' outputs "
        "(T 0.3-1.0, own seeds) in on the calibration prompts (docs/poi-calibration.md)",
        "calibration of sampling miners (docs/poi-calibration.md)",
    )
    poi_spread_factor_bps: int = _p(
        10_000,
        0,
        10 * BPS,
        "a task's PoI threshold is at least its spread (the validators' median distance between its two closest valid outputs) "
        "times this (rule 12, core/spread.py)",
        "calibration of sampling miners (docs/poi-calibration.md)",
    )
    poi_spread_cap_ppb: int = _p(
        1_100_000_000,
        0,
        2 * PPB,
        "the most a task's spread can raise its PoI threshold to (rule 12, core/spread.py)",
        "calibration of sampling miners (docs/poi-calibration.md)",
    )
    consensus_min_quality_ppb: int = _p(300_000_000, 0, PPB, "median quality below which an output is not in consensus (PoUW INVALID)")
    validator_deviation_max_ppb: int = _p(200_000_000, 0, 2 * PPB, "report deviation counted as large")
    dissent_bound_ppb: int = _p(
        100_000_000,
        0,
        2 * PPB,
        "a report further than this from the median of a miner's reports (distance or quality) dissents: "
        "it is left out of the consensus value, and the task escalates",
    )
    escalation_rounds_max: int = _p(1, 0, 8, "validation rounds a task may add when reports dissent (each doubles its validators)")
    escalation_max_validators: int = _p(32, 1, 64, "validators one task may have after its escalations")
    agreement_tolerance_ppb: int = _p(
        100_000_000, 1, 2 * PPB, "mean deviation from the consensus at which a report's agreement reaches 0 (agreement falls with its square)"
    )
    precommit_deadline_ticks: int = _p(5, 1, 10_000, "ticks from preparation to the precommit deadline")
    reveal_deadline_ticks: int = _p(5, 1, 10_000, "ticks from the precommit deadline to the reveal deadline")
    validation_deadline_ticks: int = _p(5, 1, 10_000, "ticks validators have to commit their reports, from the draw of their round")
    report_reveal_deadline_ticks: int = _p(
        1, 1, 10_000, "ticks validators have to reveal their reports, from the end of the commits (they send what they computed already)"
    )
    canary_open_deadline_ticks: int = _p(1, 1, 10_000, "ticks the oracle has to open a task's canary commitment, from the end of the report reveals")
    max_prompt_bytes: int = _p(64_000, 1, 10**7, "largest prompt accepted")
    fee_split_bps: Mapping[str, int] = _split(FEE_SPLIT_DEFAULT, "how a task's fee is split")
    # --- reputation (docs/design.md §5) ---
    reputation_initial_ppb: int = _p(
        500_000_000,
        0,
        PPB,
        "reputation of a new node (from rule version 4 never above a node of its role serving a jail; from 7 also never above "
        "one slashed in the last reputation_memory_epochs epochs)",
    )
    reputation_memory_epochs: int = _p(
        4, 0, 1_000, "from rule version 7: epochs a slashed node caps a new node's starting reputation (its jail and the unbonding period)"
    )
    reputation_newcomer_floor_ppb: int = _p(
        400_000_000,
        0,
        PPB,
        "from rule version 13: the lowest reputation a new node starts at whatever the capping nodes' records (at most "
        "reputation_initial_ppb ÷ this fewer draws for a newcomer; a jailed key below it gains at most this by re-registering)",
        "the newcomer_griefing and reregister_after_jail attacks (docs/simulate.md)",
    )
    reputation_half_life_tasks: int = _p(20, 1, 10_000, "tasks after which an observation weighs half")
    # --- pricing (docs/design.md §4) ---
    input_price_per_token_units: int = _p(10**13, 0, U256, "price of one input token (0.00001 COR)")
    output_price_per_token_units: int = _p(3 * 10**13, 0, U256, "price of one output token (0.00003 COR)")
    validation_fee_units: int = _p(10**15, 0, U256, "flat validation fee per task (0.001 COR)")
    price_factor_ppb: int = _p(PPB, PPB // 10, 10 * PPB, "price controller's factor on every quote")
    base_fee_tiny_units: int = _p(10**15, 0, U256, "base fee per miner, models under 1 B parameters (0.001 COR)")
    base_fee_small_units: int = _p(5 * 10**15, 0, U256, "base fee per miner, models of 1-8 B parameters")
    base_fee_medium_units: int = _p(2 * 10**16, 0, U256, "base fee per miner, models of 8-35 B parameters")
    base_fee_large_units: int = _p(10**17, 0, U256, "base fee per miner, models over 35 B parameters")
    parent_royalty_bps: int = _p(3_000, 0, BPS, "share of a fine-tune's royalty paid to its parent model's owner")
    network_task_interval_ticks: int = _p(10, 0, 10**6, "ticks between network tasks issued by the oracle (0: none)")
    max_open_tasks: int = _p(100_000, 1, 10**8, "open tasks at once (a bound on the state)")
    # --- epochs and rewards (docs/design.md §6) ---
    emission_per_epoch_units: int = _p(50_000 * COR, 0, U256, "initial emission from pool:network_incentives per epoch")
    emission_decay_ppb: int = _p(999_000_000, 0, PPB, "per-epoch multiplier of the emission (exponential decay)")
    emission_split_bps: Mapping[str, int] = _split(EMISSION_SPLIT_DEFAULT, "how each epoch's emission is split into streams")
    network_work_rate_units: int = _p(
        3 * COR,
        0,
        U256,
        "emission per verified work unit of a network task (one complexity unit at quality 1.0, times the reputation multiplier), "
        "paid from the miners stream up to its budget (chosen so that `cor simulate`'s default load, 20 network tasks an epoch, "
        "earns about half the budget)",
    )
    network_validation_rate_units: int = _p(
        42 * COR,
        0,
        U256,
        "emission per on-time validation of a network task at agreement 1.0 (times the reputation multiplier), "
        "paid from the validators stream up to its budget (about half of it at `cor simulate`'s default load, 5 validators a task, "
        "so that tasks escalated to twice their validators still fit)",
    )
    marketplace_usage_rate_units: int = _p(
        3 * COR // 10,
        0,
        U256,
        "from rule version 31: emission per unit of a model's useful usage in network tasks (one complexity unit at quality 1.0 "
        "in consensus), paid to its owner from the marketplace stream up to its budget (chosen as network_work_rate_units is: "
        "`cor simulate`'s default load, 20 network tasks an epoch, ~8 000 units of usage, earns about half the budget)",
        'devnet choice: docs/rewards.md "Marketplace stream"',
    )
    user_task_bonus_fee_bps: int = _p(
        300,
        0,
        BPS,
        "a miner's emission bonus on a settled user task: at most this share of its fee from the task (and never more than "
        "the same work would earn in a network task); bounded so that fee_split_bps.miners × it < fee_split_bps.treasury × 10 000",
    )
    min_precommit_rate_bps: int = _p(6_000, 0, BPS, "eligibility: precommit rate over the epoch's assignments", "Cortensor testnet rule: 60 %")
    min_score_bps: int = _p(5_000, 0, BPS, "eligibility: total score over the epoch's assignments", "Cortensor testnet rule: 50 %")
    canary_failures_max: int = _p(
        0, 0, 10_000, "canaries a validator may fail in an epoch and still earn from the validators stream (beyond: all its validations count 0)"
    )
    reputation_multiplier_min_ppb: int = _p(
        500_000_000, 0, MAX_MULTIPLIER_PPB, "performance multiplier at reputation 0", "design: bounded multiplier [0.5, 1.5]"
    )
    reputation_multiplier_max_ppb: int = _p(
        1_500_000_000, 0, MAX_MULTIPLIER_PPB, "performance multiplier at reputation 1", "design: bounded multiplier [0.5, 1.5]"
    )
    epochs_per_year: int = _p(365, 1, 10**7, "epochs in a year, for APR (devnet: one epoch stands for a day)")
    max_epoch_drain_bps: int = _p(100, 0, BPS, "largest share of pool:staking paid in one epoch")
    # --- governance (docs/design.md §8) ---
    gov_min_deposit_units: int = _p(
        1_000 * COR, 0, U256, "deposit a proposal locks (returned unless vetoed, or forfeited to the treasury when quorum fails)"
    )
    gov_voting_period_ticks: int = _p(100, 1, 10**7, "ticks a proposal is open for votes")
    gov_quorum_bps: int = _p(3_340, 0, BPS, "share of snapshot stake that must vote (abstain counts)")
    gov_threshold_bps: int = _p(5_000, 0, BPS, "yes / (yes + no + veto) needed to pass")
    gov_veto_bps: int = _p(3_340, 0, BPS, "veto / all votes that rejects the proposal and burns its deposit")
    gov_timelock_ticks: int = _p(
        0,
        0,
        10**7,
        "ticks between the end of voting and execution (at the next epoch close after); treasury kinds wait at least the unbonding period",
    )
    gov_treasury_spend_max_bps: int = _p(100, 0, BPS, "largest share of the treasury one treasury_spend or bounty_funding proposal may take")
    gov_treasury_epoch_max_bps: int = _p(200, 0, BPS, "largest share of the treasury the proposals executed at one epoch close may take together")
    gov_voter_reward_cap_bps: int = _p(2_500, 1, BPS, "largest share of the governance stream one address can earn in an epoch")
    # --- bounties and community (docs/design.md §8) ---
    bounty_review_period_ticks: int = _p(
        100,
        0,
        10**7,
        "ticks after a bounty's deadline reserved for its reviewers: only they may finalize a challenge, "
        "and a bounty with entries and unawarded prizes cannot expire yet",
    )
    bounty_max_duration_ticks: int = _p(36_500, 1, 10**9, "furthest a bounty's deadline may be from its creation (devnet: 365 epochs of 100 ticks)")
    bounty_max_submissions: int = _p(1_000, 1, 100_000, "entries one bounty may take (a bound on the state)")
    bounty_review_quorum: int = _p(
        3, 1, 32, "k: approvals a bounty entry needs to win (and at least a majority of its reviewers); named reviewers number at least k"
    )
    bounty_drawn_reviewers: int = _p(5, 1, 32, "n: reviewers drawn from the validators (by stake × reputation) when a sponsor names none")
    # rule 21 (RULES_BOUNTY_DEPOSIT): bounties and their entries lock real money (no effect under earlier rules)
    bounty_min_prize_units: int = _p(
        10 * COR,
        1,
        U256,
        "smallest prize bounty.create accepts (rule 21): filling MAX_OPEN_BOUNTIES (10 000) locks 100 000 COR at the default",
    )
    bounty_entry_deposit_units: int = _p(
        COR,
        1,
        U256,
        "deposit bounty.submit moves from the hunter's wallet to the bounty's escrow (rule 21), returned to every entrant at "
        "finalize or expiry: an unfunded key cannot enter, and N entries outstanding lock N × this",
    )
    community_min_stake_units: int = _p(
        100 * COR, 0, U256, "stake (self-bond plus delegations) at the epoch's start that makes an address eligible for community attestations"
    )
    community_min_balance_units: int = _p(
        1_000 * COR, 0, U256, "wallet balance at the epoch's start that makes an address eligible without the minimum stake"
    )
    community_min_account_age_epochs: int = _p(
        1, 0, 10**6, "epochs an address must have been seen (its wallet first credited) before it may be attested"
    )
    community_max_points_per_member_epoch: int = _p(300, 1, 10**6, "attested points one member may earn in one epoch")
    community_curator_points_per_epoch: int = _p(1_000, 1, 10**9, "points one curator may give in one epoch, over all members")
    # rule 31 (RULES_COMMUNITY_RATE): the community stream pays a rate per point (no effect under earlier rules)
    community_rate_per_point_units: int = _p(
        4 * COR,
        0,
        U256,
        "from rule version 31: emission per attested community point, paid from the community stream up to its budget (pro "
        "rata only when the epoch's claims exceed it; what is not claimed stays in pool:network_incentives); one curator's "
        "whole budget of points (community_curator_points_per_epoch, 1 000) claims about the stream (4 000 COR at epoch 0)",
        'devnet choice, as the work streams\' rates: docs/rewards.md "Community stream"',
    )
    community_member_cap_bps: int = _p(
        2_500,
        0,
        BPS,
        "from rule version 31: the most one member may claim from the community stream in one epoch, as a share of the stream "
        "(as gov_voter_reward_cap_bps for a voter); the excess stays in pool:network_incentives",
        'devnet choice, as gov_voter_reward_cap_bps: docs/rewards.md "Community stream"',
    )
    listed_model_tiers: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}),
        metadata={
            "listing": WORK_TIERS,
            "max_entries": MAX_LISTED_MODELS,
            "doc": "governance's listing: model id -> its work tier (tiny, small, medium, large); a model not listed counts "
            "at the tiny tier's weight whatever its card claims (registering a model earns no tier). A change replaces the whole listing",
        },
    )
    # --- minting ---
    mint_enabled: bool = field(default=False, metadata={"doc": "whether any posting may come from `minted`"})

    def __post_init__(self) -> None:
        validate_params(self)

    def min_self_bond(self, role: str) -> int:
        """Minimum self-bond of a node of ``role``."""
        return {
            "miner": self.min_self_bond_miner_units,
            "validator": self.min_self_bond_validator_units,
            "router": self.min_self_bond_router_units,
        }[role]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; big integers as decimal strings."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Mapping):
                out[f.name] = dict(v)
            elif isinstance(v, int) and not isinstance(v, bool) and v > 2**53:
                out[f.name] = str(v)
            else:
                out[f.name] = v
        return out

    def replace(self, **changes: Any) -> Params:
        """A new set with ``changes`` applied and validated."""
        return params_from_dict({**self.to_dict(), **changes})


PARAM_FIELDS = {f.name: f for f in dataclasses.fields(Params)}
UNITS = (
    ("_bps", "bps (1/10 000)"),
    ("_ppb", "ppb (1/10**9)"),
    ("_ticks", "ticks"),
    ("_epochs", "epochs"),
    ("_units", "base units (1 COR = 10**18)"),
    ("_tasks", "tasks"),
    ("_bytes", "bytes"),
    ("_per_year", "epochs"),
)


def param_unit(name: str) -> str:
    """The unit of a parameter, from the end of its name (units go last in names)."""
    meta = PARAM_FIELDS[name].metadata
    if name == "mint_enabled":
        return "flag"
    if "listing" in meta:
        return "model id -> tier"
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "count")


def param_bounds(name: str) -> tuple[int, int]:
    """The declared [min, max] of an integer parameter."""
    meta = PARAM_FIELDS[name].metadata
    return int(meta["min"]), int(meta["max"])


def param_default(name: str) -> Any:
    """The declared default of a parameter (the devnet's)."""
    f = PARAM_FIELDS[name]
    return f.default_factory() if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING else f.default


def check_param(name: str, value: Any) -> int:
    """``value`` as the integer parameter ``name``, within its declared bounds (else ``parameter_out_of_bounds``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"parameter {name} must be an integer, got {shown(value)}", code="invalid_parameter", name=name)
    lo, hi = param_bounds(name)
    if not lo <= value <= hi:
        raise InvalidInput(f"parameter {name}={value} is outside its bounds [{lo}, {hi}]", code="parameter_out_of_bounds", name=name)
    return value


def param_schema() -> list[dict[str, Any]]:
    """Every parameter with its bounds and documentation (for `cor gov params` and governance)."""
    out = []
    for f in dataclasses.fields(Params):
        entry: dict[str, Any] = {
            "name": f.name,
            "doc": f.metadata.get("doc", ""),
            "unit": param_unit(f.name),
            "source": f.metadata.get("source", DEVNET),
        }
        for key in ("min", "max"):
            if key in f.metadata:
                entry[key] = str(f.metadata[key]) if f.metadata[key] > 2**53 else f.metadata[key]
        if "split" in f.metadata:
            entry["keys"] = list(f.metadata["split"])
            entry["sum"] = BPS
        if "keys" in f.metadata:
            entry["keys"] = list(f.metadata["keys"])
        if "listing" in f.metadata:
            entry["values"] = list(f.metadata["listing"])
            entry["max_entries"] = f.metadata["max_entries"]
        out.append(entry)
    return out


def validate_params(p: Params) -> None:
    """Refuse a parameter set with any field out of bounds, a split not summing to 10 000, etc."""
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if f.name == "mint_enabled":
            if not isinstance(v, bool):
                raise InvalidInput("mint_enabled must be true or false", code="invalid_parameter", name=f.name)
            continue
        if "listing" in f.metadata:
            _check_listing(f.name, v, f.metadata["listing"], f.metadata["max_entries"])
            continue
        if "split" in f.metadata or "keys" in f.metadata:
            keys = f.metadata.get("split") or f.metadata["keys"]
            if not isinstance(v, Mapping) or set(v) != set(keys):
                raise InvalidInput(f"{f.name} must have exactly the keys {sorted(keys)}", code="invalid_parameter", name=f.name)
            for k, x in v.items():
                if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= BPS:
                    raise InvalidInput(f"{f.name}.{k} must be an integer in [0, 10000], got {x!r}", code="invalid_parameter")
            if "split" in f.metadata and sum(v.values()) != BPS:
                raise InvalidInput(f"{f.name} must sum to 10000 bps, sums to {sum(v.values())}", code="invalid_parameter", name=f.name)
            continue
        check_param(f.name, v)
    if p.slash_burn_bps + p.slash_reporter_bps > BPS:
        raise InvalidInput("slash_burn_bps + slash_reporter_bps must not exceed 10000", code="invalid_parameter")
    if p.min_validators_per_task > p.validators_per_task:
        raise InvalidInput("min_validators_per_task must not exceed validators_per_task", code="invalid_parameter")
    if p.min_consensus > p.redundancy:
        raise InvalidInput("min_consensus must not exceed redundancy", code="invalid_parameter")
    if p.user_task_bonus_fee_bps * p.fee_split_bps["miners"] >= max(1, p.fee_split_bps["treasury"] * BPS):
        raise InvalidInput(
            "user_task_bonus_fee_bps × fee_split_bps.miners must stay below fee_split_bps.treasury × 10000: the bonus must be "
            "smaller than the fee share nobody gets back, so that paying fees to one's own miners never returns more than it costs",
            code="invalid_parameter",
            name="user_task_bonus_fee_bps",
        )
    if p.gov_treasury_spend_max_bps > p.gov_treasury_epoch_max_bps:
        raise InvalidInput("gov_treasury_spend_max_bps must not exceed gov_treasury_epoch_max_bps", code="invalid_parameter")
    if p.bounty_review_quorum > p.bounty_drawn_reviewers:
        raise InvalidInput("bounty_review_quorum must not exceed bounty_drawn_reviewers", code="invalid_parameter")
    if p.reputation_multiplier_min_ppb > p.reputation_multiplier_max_ppb:
        raise InvalidInput("reputation_multiplier_min_ppb must not exceed reputation_multiplier_max_ppb", code="invalid_parameter")


def _check_listing(name: str, v: Any, values: tuple[str, ...], max_entries: int) -> None:
    """A listing: at most ``max_entries`` model ids (as ``model.register`` spells them), each mapped to one of ``values``."""
    if not isinstance(v, Mapping) or len(v) > max_entries:
        raise InvalidInput(f"{name} must map at most {max_entries} model ids to a tier", code="invalid_parameter", name=name)
    for k, x in v.items():
        if not isinstance(k, str) or not _MODEL_ID.match(k):
            raise InvalidInput(f"{name}: {k!r} is not a model id", code="invalid_parameter", name=name)
        if x not in values:
            raise InvalidInput(f"{name}.{k} must be one of {', '.join(values)}, got {x!r}", code="invalid_parameter", name=name)


FIRST_RULES_DEFAULTS: Mapping[str, int] = MappingProxyType({"validators_per_task": 3, "network_validation_rate_units": 70 * COR})
"""Defaults that a network on the first rules (a genesis without a beacon) keeps, so that its logs replay
as they were: the validators' commit-reveal, escalation and canaries came with the beacon rules, and
with them 5 validators per task at a lower rate per validation."""


def params_from_dict(data: Mapping[str, Any]) -> Params:
    """Build a validated ``Params`` from a JSON/TOML dict; unknown names and bad values are refused."""
    if not isinstance(data, Mapping):
        raise InvalidInput("parameters must be a mapping", code="invalid_parameter")
    unknown = sorted(set(data) - set(PARAM_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown parameter(s): {', '.join(unknown)}", code="unknown_parameter")
    kwargs: dict[str, Any] = {}
    for name, v in data.items():
        f = PARAM_FIELDS[name]
        if "listing" in f.metadata:
            if not isinstance(v, Mapping):
                raise InvalidInput(f"{name} must be a mapping", code="invalid_parameter")
            kwargs[name] = MappingProxyType(dict(sorted(v.items())))
        elif "split" in f.metadata or "keys" in f.metadata:
            if not isinstance(v, Mapping):
                raise InvalidInput(f"{name} must be a mapping", code="invalid_parameter")
            kwargs[name] = MappingProxyType({k: _int(f"{name}.{k}", x) for k, x in v.items()})
        elif name == "mint_enabled":
            kwargs[name] = v
        else:
            kwargs[name] = _int(name, v)
    return Params(**kwargs)


def _int(name: str, v: Any) -> int:
    if isinstance(v, bool):
        raise InvalidInput(f"parameter {name} must be an integer, got {v!r}", code="invalid_parameter")
    if isinstance(v, int):
        return v
    if is_amount(v):  # ASCII digits, no leading zero, bounded: what a signed payload carries for big values
        return int(v)
    raise InvalidInput(f"parameter {name} must be an integer (or a decimal integer string), got {shown(v)}", code="invalid_parameter")


@dataclass(frozen=True)
class ParamHistory:
    """Parameter versions, each with the epoch from which it applies (ascending)."""

    versions: tuple[tuple[int, Params], ...]

    def at(self, epoch: int) -> Params:
        """The set in force at ``epoch``."""
        current = self.versions[0][1]
        for from_epoch, p in self.versions:
            if from_epoch <= epoch:
                current = p
            else:
                break
        return current

    def with_changes(self, from_epoch: int, changes: dict[str, Any]) -> ParamHistory:
        """Apply ``changes`` (validated) from ``from_epoch`` on, keeping later scheduled versions' other changes."""
        out = []
        for e, p in self.versions:
            out.append((e, p.replace(**changes) if e >= from_epoch else p))
        if not any(e == from_epoch for e, _ in out):
            out.append((from_epoch, self.at(from_epoch).replace(**changes)))
        return ParamHistory(tuple(sorted(out, key=lambda v: v[0])))
