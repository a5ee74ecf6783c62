"""The model registry (marketplace records): what a task runs, how it is priced, who earns royalties (docs/design.md §4).

State
    ``state.models[id] = Model(id, owner, parameter_count, quantization, context_length, license,
    content_hash, parent)``. A fine-tune names its ``parent``; the parent's owner receives
    ``parent_royalty_bps`` of the fine-tune's royalty.

Messages
    ``model.register`` (actor = owner).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Conflict, InvalidInput, NotFound
from .records import Model
from .state import State

QUANTIZATIONS = ("f32", "f16", "bf16", "q8_0", "int8", "q6_k", "q5_k_m", "q5_0", "q4_k_m", "q4_1", "q4_0", "q3_k_m", "q2_k")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
MAX_PARAMETERS = 10**13
MAX_CONTEXT = 10**7


def get_model(state: State, model_id: str) -> Model:
    """The model ``model_id``, or ``model_not_found``."""
    m = state.models.get(model_id)
    if m is None:
        raise NotFound(f"unknown model {model_id!r} (see `cor model list`)", code="model_not_found", model=model_id)
    return m


def _int_field(body: dict[str, Any], name: str, lo: int, hi: int) -> int:
    v = body.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}]", code="invalid_model", field=name)
    return v


def process_model_register(state: State, actor: str, body: dict[str, Any]) -> None:
    """``model.register``: list a base or fine-tuned model."""
    model_id = body.get("id")
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidInput("model id must be 1-64 lower-case letters, digits, '.', '_' or '-'", code="invalid_model")
    params = _int_field(body, "parameter_count", 1, MAX_PARAMETERS)
    ctx = _int_field(body, "context_length", 16, MAX_CONTEXT)
    quant = body.get("quantization")
    if quant not in QUANTIZATIONS:
        raise InvalidInput(f"quantization must be one of {', '.join(QUANTIZATIONS)}", code="invalid_model")
    license_ = body.get("license", "")
    if not isinstance(license_, str) or not 1 <= len(license_) <= 64:
        raise InvalidInput("license must be a short string (e.g. apache-2.0)", code="invalid_model")
    content_hash = body.get("content_hash")
    if not isinstance(content_hash, str) or not _HASH.match(content_hash):
        raise InvalidInput("content_hash must be 0x followed by 64 lower-case hex digits (sha256 of the weights)", code="invalid_model")
    parent = body.get("parent")
    if parent is not None:
        get_model(state, parent)
    if model_id in state.models:
        raise Conflict(f"model {model_id!r} is already registered", code="model_already_registered")
    state.models[model_id] = Model(model_id, actor, params, quant, ctx, license_, content_hash, parent, state.tick)
