"""Ethereum signatures (EIP-191 personal messages): signing and recovering who signed what (docs/design.md §3).

Pure computation over secp256k1 and keccak (eth-keys, with libsecp256k1 through coincurve when
installed): no I/O, no clock. The bytes are exactly eth-account's ``sign_message(encode_defunct(m))``
(65 bytes r ‖ s ‖ v, v ∈ {27, 28}); tests check that against eth-account itself. Used by the shell to
authenticate commands and by the core to check self-verifying evidence (equivocation).

One canonical encoding: lower-case hex, v = 27 or 28 (never 0/1), 1 ≤ r < n and 1 ≤ s ≤ n/2 (low s).
Any other encoding of the same signature is refused, so one signed command has exactly one event hash.
"""

from __future__ import annotations

import re

from eth_hash.auto import keccak
from eth_keys.main import lazy_key_api as keys

from .errors import Unauthorized

_SIGNATURE = re.compile(r"^0x[0-9a-f]{130}$")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def personal_message_hash(message: bytes) -> bytes:
    """EIP-191 version 0x45: keccak256("\\x19Ethereum Signed Message:\\n" ‖ len ‖ message)."""
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode("ascii") + message)


def private_key_address(private_key: str) -> str:
    """The lower-case address of a 0x-hex private key."""
    return keys.PrivateKey(_key_bytes(private_key)).public_key.to_address().lower()


def sign_message(private_key: str, message: bytes) -> str:
    """EIP-191 signature of ``message`` as 0x-hex (65 bytes, v = 27 or 28)."""
    sig = keys.PrivateKey(_key_bytes(private_key)).sign_msg_hash(personal_message_hash(message))
    raw = sig.to_bytes()
    return "0x" + (raw[:64] + bytes([raw[64] + 27])).hex()


def recover_signer(message: bytes, signature: str) -> str:
    """The lower-case address that signed ``message`` (EIP-191), or an ``invalid_signature`` error."""
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise Unauthorized("signature must be 0x followed by 130 lower-case hex digits (65 bytes r ‖ s ‖ v)", code="invalid_signature")
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        raise Unauthorized("signature's v must be 27 or 28 (the canonical encoding)", code="invalid_signature")
    v = raw[64] - 27
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    if not 1 <= r < SECP256K1_N or not 1 <= s <= SECP256K1_N // 2:
        raise Unauthorized("signature is not canonical (r in [1, n), s in [1, n/2]: low s)", code="invalid_signature")
    try:
        sig = keys.Signature(raw[:64] + bytes([v]))
        return sig.recover_public_key_from_msg_hash(personal_message_hash(message)).to_address().lower()
    except Exception as exc:  # eth-keys raises several types for malformed signatures
        raise Unauthorized(f"signature cannot be verified: {exc}", code="invalid_signature") from None


def equivocation_text(chain_id: str, scope: str, message: str) -> bytes:
    """What a node signs for a scoped statement (precommit, report): the bytes equivocation evidence cites."""
    return f"cor:{chain_id}:{scope}:{message}".encode()


def _key_bytes(private_key: str) -> bytes:
    raw = bytes.fromhex(private_key[2:] if private_key.startswith("0x") else private_key)
    if len(raw) != 32:
        raise ValueError("a private key is 32 bytes")
    return raw
