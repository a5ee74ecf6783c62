"""Request and response schemas of the REST API (input and output kept apart).

Responses are documented with these models but returned as the read views build them (no second
validation pass at run time); the schemathesis suite checks that they conform. Output models allow
extra fields so that a view can grow without breaking clients. Amounts are COR decimal strings
(``"12.5"``); fields ending in ``_units`` are exact base units (1 COR = 10**18) as decimal strings.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..core.events import MAX_PAYLOAD_BYTES

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
MAX_SIGNATURE_CHARS = 140


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- input -----------------------------------------------------------------------------------


class CommandIn(BaseModel):
    """A signed command."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "payload": '{"actor":"0x1111111111111111111111111111111111111111","body":{"amount":"1500000000000000000",'
                   '"to":"0x2222222222222222222222222222222222222222"},"chain_id":"cor-devnet-1","kind":"transfer","nonce":1}',
        "signature": "0x" + "ab" * 65,
    }]})

    payload: str = Field(
        ..., max_length=MAX_PAYLOAD_BYTES,
        description="The command `{chain_id, kind, actor, nonce, body}` as canonical JSON text: keys sorted, no whitespace, "
                    "ASCII only, amounts as decimal strings of base units. Exactly the bytes that were signed.",
    )
    signature: str = Field(
        ..., max_length=MAX_SIGNATURE_CHARS,
        description="EIP-191 personal_sign signature of the payload bytes by `actor`: 0x + 130 hex digits (r, s, v).",
    )


# --- output ----------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error: a stable machine-readable code and a human message."""

    error: str = Field(..., description="Stable code, e.g. `nonce_already_used`, `signer_is_not_actor`, `invalid_request`.")
    message: str
    details: Optional[dict[str, Any]] = None


class ReceiptOut(Out):
    """Where an accepted command landed in the log."""

    seq: int = Field(..., description="Sequence number of the event in the log.")
    hash: str = Field(..., description="Chain hash of the event.")
    kind: str
    actor: str
    tick: int = Field(..., description="Logical tick after the event.")
    epoch: int = Field(..., description="Epoch after the event.")


class NonceOut(Out):
    address: str
    nonce: int = Field(..., description="The next nonce to sign with (last accepted nonce + 1).")


class SigningOut(Out):
    scheme: str
    encoding: str
    signature: str
    nonce: str
    docs: str


class ChainOut(Out):
    chain_id: str
    oracle: str
    head_seq: int = Field(..., description="Sequence number of the last event (-1: empty log).")
    head_hash: str
    tick: int
    epoch: int
    kinds: list[str] = Field(..., description="Command kinds this engine accepts.")
    signing: SigningOut


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


class UnbondingOut(Out):
    id: int
    node: str
    amount: str
    mature_epoch: int


class BalanceOut(Out):
    address: str
    accounts: dict[str, str] = Field(..., description="Non-zero accounts of the address in COR.")
    accounts_units: dict[str, str] = Field(..., description="The same accounts in base units.")
    total: str
    unbonding_entries: list[UnbondingOut]
    nonce: int = Field(..., description="Last accepted nonce of the address (0: none yet).")


class SlashOut(Out):
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
    reporter: Optional[str]
    evidence_hash: str
    evidence: dict[str, Any]
    by_account: dict[str, str]
    jailed_until_tick: Optional[int]


class NodeOut(Out):
    id: str
    role: str
    self_bond: str
    stake_total: str
    delegators: int
    commission_bps: int
    state: str = Field(..., description="active, underbonded or jailed.")
    jailed_until_tick: Optional[int]
    reputation_ppb: int
    slash_count: int
    models: list[str]


class NodeDetailOut(NodeOut):
    delegations: dict[str, str] = Field(..., description="Delegator address → COR delegated.")
    slashes: list[SlashOut]


class NodesOut(Out):
    nodes: list[NodeOut]


class SlashesOut(Out):
    slashes: list[SlashOut]


class EpochLeafOut(Out):
    address: str
    epoch: int
    amount: str
    amount_units: str = Field(..., description="The leaf's amount in base units (what the Merkle leaf commits to).")


class EpochOut(Out):
    epoch: int
    start_tick: int
    end_tick: int
    root: Optional[str] = Field(..., description="Merkle root of the epoch's claimable rewards.")
    totals: dict[str, str] = Field(..., description="COR paid by stream.")
    leaves: Optional[list[EpochLeafOut]] = Field(None, description="The claimable leaves under the root.")
    claimable_total: Optional[str] = None
    claimable_total_units: Optional[str] = None


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
    next_after: Optional[int] = Field(..., description="Pass as `after` for the next page; null when this page reaches the head.")


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
    first_bad_seq: Optional[int]
    errors: list[str]


class HealthOut(Out):
    ok: bool
    chain_id: Optional[str]
    head_seq: int
