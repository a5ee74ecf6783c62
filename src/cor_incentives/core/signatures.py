"""Ethereum signatures (EIP-191 personal messages): signing and recovering who signed what (docs/design.md §3).

Pure computation over secp256k1 (libsecp256k1 through coincurve, called directly) and keccak-256
(pycryptodome's, one call per hash): no I/O, no clock. The bytes are exactly eth-account's
``sign_message(encode_defunct(m))`` (65 bytes r ‖ s ‖ v, v ∈ {27, 28}); tests check that against
eth-account itself, on random keys and messages, valid and invalid signatures. Used by the shell to
authenticate commands (``recover_signers`` for a batch: ``cor verify``, ingest) and by the core to
check self-verifying evidence (equivocation).

One canonical encoding: lower-case hex, v = 27 or 28 (never 0/1), 1 ≤ r < n and 1 ≤ s ≤ n/2 (low s).
Any other encoding of the same signature is refused, so one signed command has exactly one event hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as _keccak

from .errors import Unauthorized

_SIGNATURE = re.compile(r"^0x[0-9a-f]{130}$")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_PERSONAL_PREFIX = b"\x19Ethereum Signed Message:\n"


def keccak256(data: bytes) -> bytes:
    """keccak-256 (Ethereum's, not SHA3-256) of ``data``."""
    return _keccak.new(data=data, digest_bits=256).digest()


def personal_message_hash(message: bytes) -> bytes:
    """EIP-191 version 0x45: keccak256("\\x19Ethereum Signed Message:\\n" ‖ len ‖ message)."""
    return keccak256(_PERSONAL_PREFIX + str(len(message)).encode("ascii") + message)


def public_key_address(public_key: PublicKey) -> str:
    """The lower-case 0x address of a public key: the last 20 bytes of keccak256(x ‖ y)."""
    return "0x" + keccak256(public_key.format(compressed=False)[1:])[12:].hex()


def private_key_address(private_key: str) -> str:
    """The lower-case address of a 0x-hex private key."""
    return public_key_address(_private_key(private_key).public_key)


def sign_message(private_key: str, message: bytes) -> str:
    """EIP-191 signature of ``message`` as 0x-hex (65 bytes, v = 27 or 28; RFC 6979 nonce, low s)."""
    raw = _private_key(private_key).sign_recoverable(personal_message_hash(message), hasher=None)
    return "0x" + (raw[:64] + bytes([raw[64] + 27])).hex()


def recover_signer(message: bytes, signature: str) -> str:
    """The lower-case address that signed ``message`` (EIP-191), or an ``invalid_signature`` error."""
    compact = canonical_signature(signature)
    try:
        public_key = PublicKey.from_signature_and_message(compact, personal_message_hash(message), hasher=None)
    except Exception as exc:  # libsecp256k1 finds no point for this r (or no key recovers)
        raise Unauthorized(f"signature cannot be verified: {exc}", code="invalid_signature") from None
    return public_key_address(public_key)


def recover_signers(signed: Iterable[tuple[bytes, str]]) -> list[str | Unauthorized]:
    """``recover_signer`` of each (message, signature) in order: the address, or the error it raises
    (one bad signature does not stop the batch)."""
    out: list[str | Unauthorized] = []
    for message, signature in signed:
        try:
            out.append(recover_signer(message, signature))
        except Unauthorized as exc:
            out.append(exc)
    return out


def canonical_signature(signature: str) -> bytes:
    """The 65 bytes r ‖ s ‖ recovery id (0/1) of a signature in its one canonical encoding, or ``invalid_signature``."""
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise Unauthorized("signature must be 0x followed by 130 lower-case hex digits (65 bytes r ‖ s ‖ v)", code="invalid_signature")
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        raise Unauthorized("signature's v must be 27 or 28 (the canonical encoding)", code="invalid_signature")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    if not 1 <= r < SECP256K1_N or not 1 <= s <= _HALF_N:
        raise Unauthorized("signature is not canonical (r in [1, n), s in [1, n/2]: low s)", code="invalid_signature")
    return raw[:64] + bytes([raw[64] - 27])


def equivocation_text(chain_id: str, scope: str, message: str) -> bytes:
    """What a node signs for a scoped statement (precommit, report): the bytes equivocation evidence cites."""
    return f"cor:{chain_id}:{scope}:{message}".encode()


def _private_key(private_key: str) -> PrivateKey:
    raw = bytes.fromhex(private_key[2:] if private_key.startswith("0x") else private_key)
    if len(raw) != 32:
        raise ValueError("a private key is 32 bytes")
    secret = int.from_bytes(raw, "big")
    if not 0 < secret < SECP256K1_N:
        raise ValueError("a private key is in [1, n)")
    return PrivateKey(raw)
