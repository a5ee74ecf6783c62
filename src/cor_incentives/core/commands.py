"""Commands: the exact body of every command kind (the protocol's messages, in one table).

Every kind has one schema, and ``check_body`` applies it before the kind's handler runs, so the API,
the CLI and replay refuse exactly the same bodies with exactly the same codes. A schema lists every
field the body may carry; anything else is refused:

    unknown_field     a field the kind does not have (nothing unknown is ever stored in the log)
    missing_field     a required field is absent
    invalid_amount    not a string of ASCII digits 0-9, a leading zero, or above 2**256-1
    invalid_address   not 0x + 40 hex digits in lower case or with a valid EIP-55 checksum
    invalid_hash      not 0x + 64 lower-case hex digits
    invalid_integer   not an integer (booleans are not integers) or outside the field's range
    invalid_text      not a string, or longer than the field allows
    invalid_choice    not one of the field's values
    invalid_list      not a list, or too long
    invalid_object    not an object, or too many entries
    invalid_value     a free-form value (evidence, parameter values) that is too large

Fields may name a more precise code (``invalid_ticks``, ``invalid_report``, ...). Bounds that depend
on the state (a balance, a parameter in force) are checked by the handlers; the schema bounds what
can be checked from the bytes alone. Depth is bounded before any of this, when the command bytes
are decoded (``events.MAX_DEPTH``), so no check here recurses deeper than that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .beacon import MAX_CHAIN_LENGTH
from .bounties import KINDS as BOUNTY_KINDS
from .community import KINDS as CONTRIBUTION_KINDS
from .errors import InvalidInput, shown
from .events import MAX_SAFE_INT, canonical_json
from .governance import OPTIONS as VOTE_OPTIONS
from .models import QUANTIZATIONS
from .network_prompts import MAX_PART_BYTES, MAX_PART_OUTPUT_TOKENS, MAX_SET_SIZE
from .params import PARAM_FIELDS, SLASH_FRACTION_DEFAULT, param_bounds
from .records import ROLES
from .sessions import MODES as SESSION_MODES
from .units import BPS, MAX_AMOUNT_DIGITS, PPB, is_address, is_amount

MAX_TICKS_PER_EVENT = param_bounds("epoch_length_ticks")[1]  # a tick or an epoch close never needs more
MAX_ID = MAX_SAFE_INT
MAX_EVIDENCE_BYTES = 16 * 1024
MAX_PARAM_VALUE_BYTES = 32 * 1024  # the largest parameter, listed_model_tiers, holds up to 256 model ids
MAX_ALLOCATIONS = 10_000
OFFENCES = tuple(SLASH_FRACTION_DEFAULT)
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class FieldType(Protocol):
    @property
    def code(self) -> str: ...

    def check(self, value: Any, path: str) -> None:
        """Raise InvalidInput (with ``code``) unless ``value`` fits."""


def refuse(path: str, code: str, what: str) -> None:
    raise InvalidInput(f"{path}: {what}", code=code, field=path)


@dataclass(frozen=True)
class Amount:
    """Base units as a decimal string: ASCII digits, no leading zero, at most 2**256-1."""

    code: str = "invalid_amount"

    def check(self, value: Any, path: str) -> None:
        if not is_amount(value):
            refuse(
                path,
                self.code,
                f"an amount is a string of ASCII digits without leading zeros (at most {MAX_AMOUNT_DIGITS} digits, ≤ 2**256-1), got {shown(value)}",
            )


@dataclass(frozen=True)
class Address:
    """0x + 40 hex digits, all lower case or with a valid EIP-55 checksum."""

    code: str = "invalid_address"

    def check(self, value: Any, path: str) -> None:
        if not is_address(value):
            refuse(path, self.code, f"an address is 0x + 40 hex digits, lower case or with a valid EIP-55 checksum, got {shown(value)}")


@dataclass(frozen=True)
class Hash:
    """0x + 64 lower-case hex digits (a sha256 or keccak256)."""

    code: str = "invalid_hash"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not _HASH.match(value):
            refuse(path, self.code, f"a hash is 0x + 64 lower-case hex digits, got {shown(value)}")


@dataclass(frozen=True)
class BlobRef(Hash):
    """The sha256 of bytes kept beside the log (a prompt, an output, a submission): ``cor verify`` checks them."""


@dataclass(frozen=True)
class Int:
    """An integer in [lo, hi] (JSON true/false are not integers)."""

    lo: int = 0
    hi: int = MAX_SAFE_INT
    code: str = "invalid_integer"

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            refuse(path, self.code, f"an integer in [{self.lo}, {self.hi}], got {shown(value)}")


@dataclass(frozen=True)
class Bool:
    code: str = "invalid_value"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            refuse(path, self.code, f"true or false, got {shown(value)}")


@dataclass(frozen=True)
class Text:
    """A string of ``lo`` to ``hi`` characters, optionally matching ``pattern``."""

    hi: int
    lo: int = 1
    pattern: re.Pattern[str] | None = None
    code: str = "invalid_text"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or not self.lo <= len(value) <= self.hi or (self.pattern and not self.pattern.match(value)):
            refuse(
                path,
                self.code,
                f"a text of {self.lo}-{self.hi} characters{' of the form ' + self.pattern.pattern if self.pattern else ''}, got {shown(value)}",
            )


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]
    code: str = "invalid_choice"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or value not in self.values:
            refuse(path, self.code, f"one of {', '.join(self.values)}, got {shown(value)}")


@dataclass(frozen=True)
class ListOf:
    item: FieldType
    hi: int
    lo: int = 0
    code: str = "invalid_list"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or not self.lo <= len(value) <= self.hi:
            refuse(path, self.code, f"a list of {self.lo}-{self.hi} items, got {shown(value)}")
        for i, v in enumerate(value):
            self.item.check(v, f"{path}[{i}]")


@dataclass(frozen=True)
class MapOf:
    """An object with up to ``hi`` entries, each key and value checked."""

    key: FieldType
    value: FieldType
    hi: int
    lo: int = 0
    code: str = "invalid_object"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict) or not self.lo <= len(value) <= self.hi:
            refuse(path, self.code, f"an object of {self.lo}-{self.hi} entries, got {shown(value)}")
        for k, v in value.items():
            self.key.check(k, f"{path} key")
            self.value.check(v, f"{path}.{k}")


@dataclass(frozen=True)
class Free:
    """A free-form JSON value (evidence, a parameter value) of at most ``max_bytes`` canonical bytes."""

    max_bytes: int
    object_only: bool = False
    code: str = "invalid_value"

    def check(self, value: Any, path: str) -> None:
        if self.object_only and (not isinstance(value, dict) or not value):
            refuse(path, self.code, "a non-empty object")
        if len(canonical_json(value)) > self.max_bytes:
            refuse(path, self.code, f"at most {self.max_bytes} bytes of JSON")


@dataclass(frozen=True)
class Opt:
    """An optional field: absent, or present and valid (``null`` is not absent)."""

    type: FieldType


@dataclass(frozen=True)
class Struct:
    """An object with exactly these fields (``Opt`` ones may be absent).

    A command's body refuses an unknown field with ``unknown_field`` and a missing one with
    ``missing_field``; a nested object with its own ``code`` (a report, a checkpoint) uses that code."""

    fields: Mapping[str, FieldType | Opt]
    code: str = "invalid_object"
    # (derived from ``fields`` once, not at each of the tens of thousands of bodies a replay checks)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _specs: tuple[tuple[str, str, FieldType, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", frozenset(self.fields))
        specs = tuple(
            (name, f".{name}", spec.type if isinstance(spec, Opt) else spec, isinstance(spec, Opt)) for name, spec in self.fields.items()
        )  # (name, its path suffix, its type, optional)
        object.__setattr__(self, "_specs", specs)

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            refuse(path, self.code, f"an object, got {shown(value)}")
        own = self.code != "invalid_object"
        if not self._names.issuperset(value):
            unknown = sorted(set(value) - self._names)
            refuse(
                path,
                self.code if own else "unknown_field",
                f"unknown field(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; the fields are {', '.join(sorted(self.fields)) or 'none'}",
            )
        for name, suffix, spec, optional in self._specs:
            if name not in value:
                if not optional:
                    refuse(path + suffix, self.code if own else "missing_field", "a required field is missing")
                continue
            spec.check(value[name], path + suffix)


@dataclass(frozen=True)
class Variant:
    """An object whose shape depends on its ``tag`` field: ``common`` fields plus those of the tag's case."""

    tag: str
    cases: Mapping[str, Mapping[str, FieldType | Opt]]
    common: Mapping[str, FieldType | Opt] = field(default_factory=dict)
    code: str = "invalid_choice"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            refuse(path, "invalid_object", f"an object, got {shown(value)}")
        case = value.get(self.tag)
        if not isinstance(case, str) or case not in self.cases:
            refuse(f"{path}.{self.tag}", self.code, f"one of {', '.join(self.cases)}, got {shown(case)}")
        Struct({self.tag: Choice(tuple(self.cases)), **self.common, **self.cases[case]}).check(value, path)


# --- the fields the kinds share ---------------------------------------------------------------

ID = Int(1, MAX_ID)
BPS_FIELD = Int(0, BPS)
TOKENS = Int(0, 10**7, code="invalid_tokens")
CHECKPOINT = Struct(
    {
        "seq": Int(0, MAX_SAFE_INT, code="invalid_checkpoint"),
        "hash": Hash(code="invalid_checkpoint"),
        "state": Opt(Hash(code="invalid_checkpoint")),  # from rule version 4 (core.apply.checked_state_anchor)
    },
    code="invalid_checkpoint",
)
MODEL_ID = Text(64, pattern=_MODEL_ID, code="invalid_model")
BEACON_VALUE = Hash(code="invalid_beacon")
BEACON_CHAIN = Struct({"anchor": Hash(code="invalid_beacon"), "length": Int(1, MAX_CHAIN_LENGTH, code="invalid_beacon")}, code="invalid_beacon")
TASK_INPUTS: dict[str, FieldType | Opt] = {
    "model": Text(64, code="invalid_model"),
    "prompt_hash": BlobRef(),
    "prompt_bytes": Int(1, 10**7, code="invalid_prompt"),
    "input_tokens": TOKENS,
    "max_output_tokens": TOKENS,
}
CRITERIA = MapOf(Text(32), Int(0, PPB), hi=16, code="invalid_report")
REPORT = Struct(
    {
        "miner": Address(code="invalid_report"),
        "poi_distance_ppb": Int(0, 2 * PPB, code="invalid_report"),
        "quality_ppb": Int(0, PPB, code="invalid_report"),
        "output_tokens": Opt(TOKENS),  # the validator's count of the output: required from RULES_MEASURED_TOKENS, refused before
        "criteria": Opt(CRITERIA),
    },
    code="invalid_report",
)
NETWORK_PROMPT = Struct(
    {
        "id": Text(64, code="invalid_prompt_set"),
        "prompt": Text(MAX_PART_BYTES, code="invalid_prompt_set"),
        "max_output_tokens": Int(1, MAX_PART_OUTPUT_TOKENS, code="invalid_prompt_set"),
    },
    code="invalid_prompt_set",
)
PARAM_VALUE = Free(MAX_PARAM_VALUE_BYTES, code="invalid_parameter")
PARAM_CHANGES = MapOf(Choice(tuple(PARAM_FIELDS), code="unknown_parameter"), PARAM_VALUE, hi=len(PARAM_FIELDS), code="invalid_proposal")

SCHEMAS: dict[str, Struct | Variant] = {
    "genesis": Struct(
        {
            "chain_id": Text(64, code="invalid_genesis"),
            "oracle": Address(),
            "params": Opt(MapOf(Choice(tuple(PARAM_FIELDS), code="unknown_parameter"), PARAM_VALUE, hi=len(PARAM_FIELDS), code="invalid_genesis")),
            "allocations": MapOf(Text(160), Amount(), hi=MAX_ALLOCATIONS, lo=1, code="invalid_genesis"),
            "supply": Opt(Amount()),
            "beacon": Opt(BEACON_CHAIN),
            "network_prompts": Opt(ListOf(NETWORK_PROMPT, MAX_SET_SIZE, lo=1, code="invalid_prompt_set")),
        }
    ),
    "tick": Struct({"ticks": Opt(Int(1, MAX_TICKS_PER_EVENT, code="invalid_ticks")), "beacon": Opt(BEACON_VALUE), "checkpoint": Opt(CHECKPOINT)}),
    "epoch.close": Struct({"beacon": Opt(BEACON_VALUE), "checkpoint": Opt(CHECKPOINT)}),
    "beacon.anchor": Struct(BEACON_CHAIN.fields),
    "transfer": Struct({"to": Address(), "amount": Amount()}),
    "node.register": Struct(
        {
            "role": Choice(ROLES, code="invalid_role"),
            "self_bond": Amount(),
            "commission_bps": Opt(Int(0, BPS, code="commission_out_of_bounds")),
            "models": Opt(ListOf(MODEL_ID, 64, code="invalid_models")),
        }
    ),
    "node.unjail": Struct({}),
    "node.set_commission": Struct({"commission_bps": Int(0, BPS, code="commission_out_of_bounds")}),
    "stake.bond": Struct({"amount": Amount()}),
    "stake.unbond": Struct({"amount": Amount()}),
    "stake.withdraw": Struct({}),
    "stake.delegate": Struct({"node": Address(), "amount": Amount()}),
    "stake.undelegate": Struct({"node": Address(), "amount": Amount()}),
    "stake.redelegate": Struct({"from": Address(), "to": Address(), "amount": Amount()}),
    "stake.cancel_unbond": Struct({"id": Int(1, MAX_ID, code="invalid_id"), "amount": Opt(Amount())}),
    "slash.report": Struct(
        {
            "node": Address(),
            "offence": Choice(OFFENCES, code="unknown_offence"),
            "evidence": Free(MAX_EVIDENCE_BYTES, object_only=True, code="missing_evidence"),
            "offence_tick": Opt(Int(0, MAX_SAFE_INT, code="invalid_offence_tick")),
            "reporter": Opt(Address()),
        }
    ),
    "model.register": Struct(
        {
            "id": MODEL_ID,
            "parameter_count": Int(1, 10**13, code="invalid_model"),
            "context_length": Int(16, 10**7, code="invalid_model"),
            "quantization": Choice(QUANTIZATIONS, code="invalid_model"),
            "license": Opt(Text(64, code="invalid_model")),
            "content_hash": Hash(code="invalid_model"),
            "parent": Opt(MODEL_ID),
        }
    ),
    "session.open": Struct(
        {
            "deposit": Opt(Amount()),
            "redundancy": Opt(Int(*param_bounds("redundancy"), code="invalid_session_settings")),
            "validators": Opt(Int(*param_bounds("validators_per_task"), code="invalid_session_settings")),
            "mode": Opt(Choice(SESSION_MODES, code="invalid_session_settings")),
            "nodes": Opt(Int(*param_bounds("redundancy"), code="invalid_session_settings")),
            "model": Opt(MODEL_ID),
        }
    ),
    "session.deposit": Struct({"session": Int(1, MAX_ID, code="invalid_session"), "amount": Amount()}),
    "model.retire": Struct({"model": MODEL_ID}),
    "session.close": Struct({"session": Int(1, MAX_ID, code="invalid_session")}),
    "task.submit": Struct({"session": Int(1, MAX_ID, code="invalid_session"), **TASK_INPUTS, "router": Opt(Address())}),
    "task.network": Struct({**TASK_INPUTS, "canary": Opt(Hash())}),
    "task.cancel": Struct({"task": Int(1, MAX_ID, code="invalid_task")}),
    "task.precommit": Struct({"task": Int(1, MAX_ID, code="invalid_task"), "commit": Hash()}),
    # output_tokens: the miner's claim before RULES_MEASURED_TOKENS (token_counts.measured); refused from it
    "task.reveal": Struct(
        {"task": Int(1, MAX_ID, code="invalid_task"), "output_hash": BlobRef(), "salt": Text(128, code="invalid_salt"), "output_tokens": Opt(TOKENS)}
    ),
    "task.report_commit": Struct({"task": Int(1, MAX_ID, code="invalid_task"), "commit": Hash()}),
    "task.validate": Struct(
        {
            "task": Int(1, MAX_ID, code="invalid_task"),
            "input_tokens": Opt(TOKENS),  # the validator's count of the prompt: required from RULES_MEASURED_TOKENS, refused before
            # the validator's spread of the task: required from RULES_TASK_SPREAD, refused before
            "spread_ppb": Opt(Int(0, 2 * PPB, code="invalid_spread")),
            "reports": ListOf(REPORT, 64, code="invalid_report"),
            "salt": Opt(Text(128, code="invalid_salt")),  # required on networks with a beacon (commit-reveal); none on the first rules
        }
    ),
    "task.canary_commit": Struct({"task": Int(1, MAX_ID, code="invalid_task"), "canary": Hash()}),  # from RULES_USER_CANARIES
    "task.canary": Struct({"task": Int(1, MAX_ID, code="invalid_task"), "planted": Opt(Hash()), "salt": Text(128, code="invalid_salt")}),
    "reward.claim": Struct(
        {
            "address": Address(),
            "epoch": Int(0, MAX_SAFE_INT, code="invalid_epoch"),
            "amount": Amount(),
            "proof": ListOf(Hash(code="invalid_proof"), 64, code="invalid_proof"),
        }
    ),
    "gov.propose": Variant(
        "kind",
        {
            "param_change": {"changes": PARAM_CHANGES, "effective_epoch": Opt(Int(0, MAX_SAFE_INT, code="invalid_proposal"))},
            "treasury_spend": {"to": Address(), "amount": Amount()},
            "bounty_funding": {"bounty": Int(1, MAX_ID, code="invalid_bounty"), "amount": Amount()},
            "controller": {
                "controller": Text(32, code="invalid_controller"),
                **{k: Opt(Int(0, MAX_SAFE_INT, code="invalid_controller")) for k in ("target_bps", "min_value", "max_value", "max_step")},
                "enabled": Opt(Bool(code="invalid_controller")),
            },
            "curator": {"action": Choice(("appoint", "remove"), code="invalid_proposal"), "curator": Address()},
        },
        common={"title": Text(200, code="invalid_proposal")},
        code="invalid_proposal",
    ),
    "gov.vote": Struct({"proposal": Int(1, MAX_ID, code="invalid_proposal"), "option": Choice(VOTE_OPTIONS, code="invalid_vote")}),
    "bounty.create": Struct(
        {
            "prize": Amount(),
            "criteria": Text(2_000, code="invalid_criteria"),
            "deadline_tick": Int(0, MAX_SAFE_INT, code="invalid_deadline"),
            "winners": Int(1, 32, code="invalid_winners"),
            "reviewers": Opt(ListOf(Address(), 32, code="invalid_reviewers")),
            "kind": Opt(Choice(BOUNTY_KINDS, code="invalid_bounty_kind")),
            "payout_bps": Opt(ListOf(Int(1, BPS, code="invalid_payout"), 32, lo=1, code="invalid_payout")),
        }
    ),
    "bounty.submit": Struct({"bounty": Int(1, MAX_ID, code="invalid_bounty"), "content_hash": BlobRef()}),
    "bounty.award": Struct({"bounty": Int(1, MAX_ID, code="invalid_bounty"), "submission": Address()}),
    "bounty.score": Struct(
        {"bounty": Int(1, MAX_ID, code="invalid_bounty"), "submission": Address(), "score_ppb": Int(0, PPB, code="invalid_score")}
    ),
    "bounty.finalize": Struct({"bounty": Int(1, MAX_ID, code="invalid_bounty")}),
    "bounty.expire": Struct({"bounty": Int(1, MAX_ID, code="invalid_bounty")}),
    "bridge.post": Struct(
        {"epoch": Int(0, MAX_SAFE_INT, code="invalid_epoch"), "evm_chain_id": Int(1, MAX_SAFE_INT, code="invalid_chain_id"), "distributor": Address()}
    ),
    "bridge.confirm": Struct(
        {
            "epoch": Int(0, MAX_SAFE_INT, code="invalid_epoch"),
            "tx_hash": Hash(code="invalid_tx_hash"),
            "block": Int(0, MAX_SAFE_INT, code="invalid_block"),
        }
    ),
    "community.appoint": Struct({"curator": Address()}),
    "community.remove": Struct({"curator": Address()}),
    "community.attest": Struct(
        {
            "member": Address(),
            "kind": Choice(CONTRIBUTION_KINDS, code="invalid_attestation_kind"),
            "points": Int(1, 100, code="invalid_points"),
            "reference": Text(200, code="invalid_reference"),
        }
    ),
}


def check_body(kind: str, body: Any) -> None:
    """Refuse a body that is not exactly its kind's schema (InvalidInput with the field and a code)."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise InvalidInput(f"unknown command kind {kind!r}", code="unknown_command")
    schema.check(body, kind)


def _blob_fields(schema: Any) -> tuple[str, ...]:
    """The fields of a kind's body that hold a blob hash (an optional one too), in the schema's order."""
    if not isinstance(schema, Struct):
        return ()
    return tuple(name for name, spec in schema.fields.items() if isinstance(spec.type if isinstance(spec, Opt) else spec, BlobRef))


BLOB_FIELDS: dict[str, tuple[str, ...]] = {kind: f for kind, schema in SCHEMAS.items() if (f := _blob_fields(schema))}
BLOB_KINDS = frozenset(BLOB_FIELDS)
"""The command kinds whose body may refer to blobs (``blob_refs`` of any other kind is empty)."""


def blob_refs(kind: str, body: Mapping[str, Any]) -> list[str]:
    """The blob hashes a (valid) body refers to."""
    return [body[name] for name in BLOB_FIELDS.get(kind, ()) if isinstance(body.get(name), str)]


def schema_doc(kind: str) -> dict[str, Any]:
    """A JSON description of a kind's body (for `GET /v1/chain` and docs): field -> type."""
    schema = SCHEMAS[kind]
    return {"kind": kind, "body": _describe(schema)}


def _describe(t: Any) -> Any:
    if isinstance(t, Opt):
        return {"optional": _describe(t.type)}
    if isinstance(t, Struct):
        return {k: _describe(v) for k, v in t.fields.items()}
    if isinstance(t, Variant):
        return {
            "one_of_by": t.tag,
            "common": {k: _describe(v) for k, v in t.common.items()},
            "cases": {c: {k: _describe(v) for k, v in f.items()} for c, f in t.cases.items()},
        }
    if isinstance(t, ListOf):
        return {"list_of": _describe(t.item), "max_items": t.hi}
    if isinstance(t, MapOf):
        return {"map_of": _describe(t.value), "keys": _describe(t.key), "max_entries": t.hi}
    if isinstance(t, Int):
        return {"integer": [t.lo, str(t.hi) if t.hi > MAX_SAFE_INT else t.hi]}
    if isinstance(t, Text):
        return {"text": t.hi}
    if isinstance(t, Choice):
        return {"one_of": list(t.values)}
    if isinstance(t, Free):
        return {"json": t.max_bytes}
    if isinstance(t, BlobRef):
        return "blob_hash"
    return type(t).__name__.lower()
