"""Events: typed records with a canonical byte encoding, hash-chained (docs/design.md §3).

A *command* is what an actor signs: ``{"chain_id", "kind", "actor", "nonce", "body"}`` encoded as
canonical JSON (UTF-8, keys sorted, no spaces, ASCII only, integers as JSON numbers below 2**53;
amounts in base units as decimal strings so that JavaScript can sign them exactly). An *event* is an
accepted command placed in the log: ``seq``, the logical ``tick`` at which it was applied, the command
bytes, the signature, and ``prev_hash`` / ``hash``:

    hash = sha256(prev_hash ‖ seq as 8 bytes big-endian ‖ sha256(payload) ‖ signature bytes)

so changing any byte of any stored event breaks the chain from that event on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInput

GENESIS_PREV_HASH = "0x" + "00" * 32
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_SAFE_INT = 2**53 - 1
MAX_DEPTH = 8  # nesting of objects and lists in a command, the command itself included
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of JSON text, found without recursion and without parsing (strings skipped).

    Stops counting as soon as ``limit`` is exceeded, so ``json.loads`` never sees deeper input."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(raw):
        c = m.group()[:1]
        if c in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif c in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_json(raw: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with the size and the depth bounded first (InvalidInput otherwise)."""
    if len(raw) > max_bytes:
        raise InvalidInput(f"JSON is larger than {max_bytes} bytes", code="payload_too_large")
    # the depth is at most the number of opening brackets (those inside strings included): count them in C first
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth(raw, max_depth) > max_depth:
        raise InvalidInput(f"JSON is nested deeper than {max_depth} levels", code="payload_too_deep")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"not valid JSON: {str(exc)[:200]}", code="invalid_payload") from None


def canonical_json(obj: Any) -> bytes:
    """The canonical encoding: sorted keys, no whitespace, ASCII, no floats, ints ≤ 2**53-1."""
    _check_canonical(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


# The types a leaf may have exactly (subclasses take the general path below); a child of one of these, or an int within
# ±MAX_SAFE_INT, is accepted inside its container's loop without a call: most of a command's values are leaves, and the
# check runs on every command encoded and every event decoded.
_LEAVES = frozenset({str, bool, type(None)})


def _check_canonical(obj: Any) -> None:
    """Raise on anything canonical_json refuses. The same checks, in the same order, as the plain recursion in
    ``_check_canonical_any``; plain dicts and lists (all that JSON parsing makes) are walked without a call per leaf."""
    t = type(obj)
    if t is dict:
        for k, v in obj.items():
            if type(k) is not str and not isinstance(k, str):
                raise InvalidInput("object keys must be strings", code="invalid_payload")
            tv = type(v)
            if tv in _LEAVES or (tv is int and -MAX_SAFE_INT <= v <= MAX_SAFE_INT):
                continue
            _check_canonical(v)
        return
    if t is list:
        for v in obj:
            tv = type(v)
            if tv in _LEAVES or (tv is int and -MAX_SAFE_INT <= v <= MAX_SAFE_INT):
                continue
            _check_canonical(v)
        return
    _check_canonical_any(obj)


def _check_canonical_any(obj: Any) -> None:
    if isinstance(obj, float):
        raise InvalidInput("floats are not allowed in commands; send amounts as decimal integer strings", code="invalid_payload")
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, int):
        if abs(obj) > MAX_SAFE_INT:
            raise InvalidInput("integers above 2**53-1 must be sent as decimal strings", code="invalid_payload")
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InvalidInput("object keys must be strings", code="invalid_payload")
            _check_canonical(v)
        return
    if isinstance(obj, (list, tuple)):
        for v in obj:
            _check_canonical(v)
        return
    raise InvalidInput(f"unsupported value in command: {type(obj).__name__}", code="invalid_payload")


@dataclass(frozen=True)
class Command:
    """What an actor signs."""

    chain_id: str
    kind: str
    actor: str
    nonce: int
    body: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "kind": self.kind, "actor": self.actor, "nonce": self.nonce, "body": dict(self.body)}

    def encode(self) -> bytes:
        """Canonical bytes (what the signature covers)."""
        return canonical_json(self.to_dict())

    @staticmethod
    def decode(payload: bytes | str) -> Command:
        """Parse canonical bytes; refuse anything that is not exactly canonical."""
        raw = payload.encode("utf-8") if isinstance(payload, str) else payload
        obj = parse_json(raw)
        if not isinstance(obj, dict) or set(obj) != {"chain_id", "kind", "actor", "nonce", "body"}:
            raise InvalidInput("command must be an object with exactly chain_id, kind, actor, nonce, body", code="invalid_payload")
        if not isinstance(obj["kind"], str) or not isinstance(obj["actor"], str) or not isinstance(obj["chain_id"], str):
            raise InvalidInput("chain_id, kind and actor must be strings", code="invalid_payload")
        if isinstance(obj["nonce"], bool) or not isinstance(obj["nonce"], int) or obj["nonce"] < 1:
            raise InvalidInput("nonce must be a positive integer", code="invalid_payload")
        if not isinstance(obj["body"], dict):
            raise InvalidInput("body must be an object", code="invalid_payload")
        cmd = Command(obj["chain_id"], obj["kind"], obj["actor"], obj["nonce"], obj["body"])
        if cmd.encode() != raw:
            raise InvalidInput("command bytes are not in canonical form (sorted keys, no spaces)", code="non_canonical_payload")
        return cmd


@dataclass(frozen=True)
class Event:
    """An accepted command in the log."""

    seq: int
    tick: int
    payload: bytes
    signature: str
    prev_hash: str
    hash: str

    @property
    def command(self) -> Command:
        return Command.decode(self.payload)


def event_hash(prev_hash: str, seq: int, payload: bytes, signature: str) -> str:
    """The chain hash of an event."""
    h = hashlib.sha256()
    h.update(bytes.fromhex(prev_hash[2:]))
    h.update(seq.to_bytes(8, "big"))
    h.update(hashlib.sha256(payload).digest())
    h.update(signature.encode("ascii"))
    return "0x" + h.hexdigest()


def make_event(seq: int, tick: int, payload: bytes, signature: str, prev_hash: str) -> Event:
    """Seal an event onto the chain."""
    return Event(seq, tick, payload, signature, prev_hash, event_hash(prev_hash, seq, payload, signature))


def content_hash(data: bytes) -> str:
    """Content address (sha256 hex) of stored data such as outputs or evidence."""
    return "0x" + hashlib.sha256(data).hexdigest()
