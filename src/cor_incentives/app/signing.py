"""Signing commands: EIP-191 ``personal_sign`` over the command's canonical bytes.

A dapp signs exactly the bytes it sends: ``signature = personal_sign(canonical_json(command))``.
The service recovers the signer and requires it to equal ``command.actor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import EngineError, Unauthorized
from ..core.events import Command, Event
from ..core.journal import frozen_init
from ..core.signatures import equivocation_text, private_key_address, recover_signer, recover_signers, sign_message

sign_bytes = sign_message


def sign_command(private_key: str, chain_id: str, kind: str, nonce: int, body: Mapping[str, Any]) -> tuple[bytes, str]:
    """Build, encode and sign a command; returns (payload bytes, signature)."""
    actor = private_key_address(private_key)
    payload = Command(chain_id, kind, actor, nonce, dict(body)).encode()
    return payload, sign_bytes(private_key, payload)


def authenticate(payload: bytes, signature: str) -> Command:
    """Decode a signed command and check that its actor signed it."""
    cmd = Command.decode(payload)
    return signed_by_actor(cmd, recover_signer(payload, signature))


def authenticate_recovered(payload: bytes, signer: str) -> Command:
    """``authenticate`` when the signer has already been recovered from this very payload and its
    signature by a process of the same server (a read worker of ``cor serve --workers N``,
    api/writer_link.py): decode, and check that ``signer`` is the actor. The caller vouches for
    ``signer``; the signature itself is still appended with the command and checked again by
    ``cor verify``."""
    return signed_by_actor(Command.decode(payload), signer)


def signed_by_actor(cmd: Command, signer: str | Unauthorized) -> Command:
    """``cmd`` when ``signer`` (what its signature recovers to, or the error recovering it) is its actor."""
    if isinstance(signer, Unauthorized):
        raise signer
    if signer != cmd.actor.lower():
        raise Unauthorized(f"signature is by {signer}, command names actor {cmd.actor}", code="signer_is_not_actor")
    return cmd


def authenticate_batch(signed: Sequence[tuple[bytes, str]]) -> list[Command | EngineError]:
    """``authenticate`` of each (payload, signature) in order: the command, or the error it raises.

    Each payload is decoded once and the signatures are recovered as one batch
    (``core.signatures.recover_signers``); results are exactly ``authenticate``'s."""
    out: list[Command | EngineError] = []
    decoded: list[Command | EngineError] = []
    for payload, _ in signed:
        try:
            decoded.append(Command.decode(payload))
        except EngineError as exc:
            decoded.append(exc)
    signers = recover_signers([item for item, cmd in zip(signed, decoded) if isinstance(cmd, Command)])
    it = iter(signers)
    for cmd in decoded:
        if isinstance(cmd, EngineError):
            out.append(cmd)
            continue
        try:
            out.append(signed_by_actor(cmd, next(it)))
        except Unauthorized as exc:
            out.append(exc)
    return out


def sign_scoped(private_key: str, chain_id: str, scope: str, message: str) -> dict[str, str]:
    """A scoped statement signed by a node (what equivocation evidence is made of)."""
    return {"scope": scope, "message": message, "signature": sign_bytes(private_key, equivocation_text(chain_id, scope, message))}


@frozen_init  # (one per event replayed or appended: its fields stored without a __setattr__ call each)
@dataclass(frozen=True)
class SealedEvent(Event):
    """An event sealed from a command ``authenticate`` has already decoded from these very payload
    bytes: the core reads that decoding instead of parsing the same bytes a second time. Its log
    fields, and so its hash and what is stored, are the plain ``Event``'s; the decoding is not stored."""

    decoded: Command | None = field(default=None, compare=False, repr=False)

    @property
    def command(self) -> Command:
        return self.decoded if self.decoded is not None else Command.decode(self.payload)


def seal_decoded(event: Event, cmd: Command) -> Event:
    """``event`` carrying ``cmd``, which must be ``authenticate(event.payload, ...)``'s result: its
    decoding has already checked that the payload is exactly ``cmd``'s canonical encoding."""
    return SealedEvent(event.seq, event.tick, event.payload, event.signature, event.prev_hash, event.hash, cmd)
