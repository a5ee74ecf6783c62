"""Pricing: what a user pays for a task, scaled by its complexity (docs/design.md §4).

    per_miner = (base_fee[tier] + input_tokens × input_price + output_tokens × output_price)
                × quantization_factor × context_factor
    price     = (per_miner × redundancy + validation_fee) × price_factor

All integers: factors are ppb and each multiplication by a factor floors. The tier comes from the
model's parameter count; the factors from its card. ``quote`` is pure; task creation escrows the
quote at ``max_output_tokens`` and settlement charges the quote at the real token counts.

Complexity units (for network rewards) = (input_tokens + output_tokens) × the model's *work* tier
weight. The work tier is governance's listing (``listed_model_tiers``), never the card: a model
anyone registers counts at the tiny tier's weight until governance lists it, so a card claiming
"70 B" earns no more work than any small model. (The price still follows the card: what a user
chooses to pay for is the user's business, and paying oneself earns no emission.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .errors import InvalidInput, invariant
from .params import WORK_TIERS, Params
from .records import Model
from .units import PPB

# tier: (upper bound on parameter count, complexity weight); the names are params.WORK_TIERS
TIERS = (("tiny", 1_000_000_000, 1), ("small", 8_000_000_000, 4), ("medium", 35_000_000_000, 16), ("large", None, 64))
invariant(tuple(name for name, _, _ in TIERS) == WORK_TIERS, "pricing.TIERS and params.WORK_TIERS name different tiers")

# quantization factor, ppb: cheaper weights cost less to serve
QUANTIZATION_FACTOR_PPB = {
    "f32": 1_200_000_000,
    "f16": PPB,
    "bf16": PPB,
    "q8_0": 800_000_000,
    "int8": 800_000_000,
    "q6_k": 700_000_000,
    "q5_k_m": 650_000_000,
    "q5_0": 650_000_000,
    "q4_k_m": 600_000_000,
    "q4_1": 600_000_000,
    "q4_0": 600_000_000,
    "q3_k_m": 550_000_000,
    "q2_k": 500_000_000,
}

# context factor, ppb, by the model's context length: long-context models cost more to serve
CONTEXT_FACTOR_PPB = ((4_096, PPB), (32_768, 1_100_000_000), (None, 1_250_000_000))

MAX_TOKENS = 10**7


def model_tier(parameter_count: int) -> str:
    """The model's size tier."""
    for name, bound, _ in TIERS:
        if bound is None or parameter_count < bound:
            return name
    raise AssertionError("unreachable")  # pragma: no cover


def tier_weight(tier: str) -> int:
    """The complexity weight of a tier."""
    return next(w for name, _, w in TIERS if name == tier)


def work_tier(params: Params, model: Model) -> str:
    """The tier a model's work counts at: governance's listing, else the smallest tier."""
    return params.listed_model_tiers.get(model.id, WORK_TIERS[0])


def context_factor_ppb(context_length: int) -> int:
    for bound, factor in CONTEXT_FACTOR_PPB:
        if bound is None or context_length <= bound:
            return factor
    raise AssertionError("unreachable")  # pragma: no cover


def base_fee(params: Params, tier: str) -> int:
    return {
        "tiny": params.base_fee_tiny_units,
        "small": params.base_fee_small_units,
        "medium": params.base_fee_medium_units,
        "large": params.base_fee_large_units,
    }[tier]


@dataclass(frozen=True)
class Quote:
    """A price with every input, so a user can recompute it by hand."""

    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    redundancy: int
    base_fee_units: int
    input_price_per_token_units: int
    output_price_per_token_units: int
    quantization_factor_ppb: int
    context_factor_ppb: int
    per_miner_units: int
    validation_fee_units: int
    price_factor_ppb: int
    total_units: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, int) and k.endswith("_units") else v) for k, v in asdict(self).items()}


def check_tokens(name: str, value: Any, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= MAX_TOKENS:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {MAX_TOKENS}]", code="invalid_tokens", field=name)
    return value


def quote(model: Model, input_tokens: int, output_tokens: int, params: Params, redundancy: int | None = None) -> Quote:
    """The price of a task on ``model`` with these token counts (pure)."""
    check_tokens("input_tokens", input_tokens)
    check_tokens("max_output_tokens", output_tokens)
    r = params.redundancy if redundancy is None else redundancy
    if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 32:
        raise InvalidInput("redundancy must be an integer in [1, 32]", code="invalid_redundancy")
    tier = model_tier(model.parameter_count)
    base = base_fee(params, tier)
    qf = QUANTIZATION_FACTOR_PPB[model.quantization]
    cf = context_factor_ppb(model.context_length)
    raw = base + input_tokens * params.input_price_per_token_units + output_tokens * params.output_price_per_token_units
    per_miner = raw * qf // PPB * cf // PPB
    total = (per_miner * r + params.validation_fee_units) * params.price_factor_ppb // PPB
    return Quote(
        model.id,
        tier,
        input_tokens,
        output_tokens,
        r,
        base,
        params.input_price_per_token_units,
        params.output_price_per_token_units,
        qf,
        cf,
        per_miner,
        params.validation_fee_units,
        params.price_factor_ppb,
        total,
    )


def complexity_units(params: Params, model: Model, input_tokens: int, output_tokens: int) -> int:
    """Work measure of one inference, for network rewards: tokens × the weight of the model's listed work tier."""
    return (input_tokens + output_tokens) * tier_weight(work_tier(params, model))
