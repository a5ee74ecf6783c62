"""The model registry (marketplace records): what a task runs, how it is priced, who earns royalties (docs/design.md §4).

State
    ``state.models[id] = Model(id, owner, parameter_count, quantization, context_length, license,
    content_hash, parent)``. A fine-tune names its ``parent``; the parent's owner receives
    ``parent_royalty_bps`` of the fine-tune's royalty.

Messages
    ``model.register`` (actor = owner).
    ``model.retire`` {model} (actor = owner; from ``RULES_MODEL_BOND``).

Money (rule ``RULES_MODEL_BOND``)
    ``model.register`` moves ``model_listing_deposit_units`` from the owner's wallet to ``escrow:model:<id>`` (refused
    ``model_deposit_unfunded``, nothing written): an unfunded key cannot list a model, and N listed models lock N × that.
    ``model.retire`` returns the deposit whole to the owner's wallet. Under rule 25 it is refused while a live model names
    this one as its parent (``model_has_fine_tunes``); from ``RULES_FINE_TUNE_RELEASE`` (26) it is not (a stranger's
    fine-tune held the owner's deposit: attack fine_tune_hold). From the retire no new task and no fine-tune may name the
    model (``model_retired``); the tasks already open settle as before (their fees' royalty and this epoch's marketplace
    share still pay its owner), and so do its live fine-tunes' (a fine-tune's settlement and marketplace share pay its
    parent's owner ``parent_royalty_bps``). The model leaves the live state at the first epoch close's prune at which no
    open task names it and no model staying names it as its parent (core/prune.py ``retire_models``; ``State.
    fine_tune_counts`` counts each model's live fine-tunes). A message naming it is then refused ``model_not_found`` and its
    id may be registered again, as a fresh record. Earlier rules: free, kept forever.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from . import ledger as acct
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .records import Model
from .rules import RULES_FINE_TUNE_RELEASE, RULES_MODEL_BOND, rules_since
from .state import State
from .units import cor_text as cor

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


def listed_model(state: State, model_id: str) -> Model:
    """The model ``model_id`` for a new use (a task, a fine-tune's parent, a quote): ``model_not_found``, or
    ``model_retired`` once its owner retired it (``RULES_MODEL_BOND``)."""
    m = get_model(state, model_id)
    if m.retired_tick is not None:
        raise Conflict(f"model {model_id!r} was retired at tick {m.retired_tick}", code="model_retired", model=model_id)
    return m


def model_account(model_id: str) -> str:
    """The escrow account of a model's listing deposit (``RULES_MODEL_BOND``)."""
    return acct.escrow("model", model_id)


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
        listed_model(state, parent)
    if model_id in state.models:
        raise Conflict(f"model {model_id!r} is already registered", code="model_already_registered")
    p = state.params
    bonded = rules_since(p, RULES_MODEL_BOND)
    if bonded:
        have = state.ledger.balance(acct.wallet(actor))
        if have < p.model_listing_deposit_units:
            raise Conflict(
                f"a model listing locks {cor(p.model_listing_deposit_units)} (model_listing_deposit_units); the wallet holds {cor(have)}",
                code="model_deposit_unfunded",
                deposit=str(p.model_listing_deposit_units),
                balance=str(have),
            )
    state.models[model_id] = Model(model_id, actor, params, quant, ctx, license_, content_hash, parent, state.tick)
    if parent is not None:  # (derived: the parent's live fine-tunes, read by model.retire under 25 and the close's prune)
        state.fine_tune_counts[parent] = state.fine_tune_counts.get(parent, 0) + 1
    if bonded:
        state.ledger.transfer(acct.wallet(actor), model_account(model_id), p.model_listing_deposit_units, "model_deposit")


def process_model_retire(state: State, actor: str, body: dict[str, Any]) -> None:
    """``model.retire`` {model} (``RULES_MODEL_BOND``): the owner takes the listing deposit back; no new task or fine-tune
    may name the model, and it leaves the live state at the first close's prune at which no open task and no model staying
    names it (``prune.retire_models``). Under rule 25 refused while a live model names it as its parent; from
    ``RULES_FINE_TUNE_RELEASE`` accepted then too (its fine-tunes keep it live, not its deposit)."""
    if not rules_since(state.params, RULES_MODEL_BOND):
        raise Conflict(
            f"model.retire is a rule-{RULES_MODEL_BOND} message; rule version {state.params.rule_version} is in force",
            code="rule_not_in_force",
            rule=RULES_MODEL_BOND,
        )
    model_id = body.get("model")
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidInput("model id must be 1-64 lower-case letters, digits, '.', '_' or '-'", code="invalid_model")
    m = get_model(state, model_id)
    if m.owner != actor:
        raise Unauthorized(f"model {model_id!r} belongs to {m.owner}", code="not_model_owner")
    listed_model(state, model_id)  # once: model_retired
    if state.fine_tune_counts.get(model_id) and not rules_since(state.params, RULES_FINE_TUNE_RELEASE):
        tunes = sorted(t.id for t in state.models.values() if t.parent == model_id)  # (the refusal's details only)
        raise Conflict(
            f"model {model_id!r} is the parent of {len(tunes)} live fine-tune(s) ({', '.join(tunes[:3])}): its owner is paid their "
            "parent royalty, so it is retired after them",
            code="model_has_fine_tunes",
            fine_tunes=tunes[:16],
        )
    state.models[model_id] = replace(m, retired_tick=state.tick)
    state.retired_models.add(model_id)  # (derived: a close's prune retires it, RULES_MODEL_BOND)
    escrow = model_account(model_id)
    state.ledger.transfer(escrow, acct.wallet(actor), state.ledger.balance(escrow), "model_refund")
    invariant(state.ledger.balance(escrow) == 0, f"model {model_id}: deposit not returned whole")
