"""Ethereum signatures (EIP-191 personal messages): signing and recovering who signed what (docs/design.md §3).

Pure computation over secp256k1 (libsecp256k1 through coincurve's cffi bindings, called directly) and
keccak-256 (pycryptodome's C code, called directly: ``keccak256``): no I/O, no clock. The bytes are exactly eth-account's
``sign_message(encode_defunct(m))`` (65 bytes r ‖ s ‖ v, v ∈ {27, 28}); tests check that against
eth-account itself, on random keys and messages, valid and invalid signatures. Used by the shell to
authenticate commands (``recover_signers`` for a batch: ``cor verify``, ingest) and by the core to
check self-verifying evidence (equivocation).

One canonical encoding: lower-case hex, v = 27 or 28 (never 0/1), 1 ≤ r < n and 1 ≤ s ≤ n/2 (low s).
Any other encoding of the same signature is refused, so one signed command has exactly one event hash.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
from collections.abc import Callable, Iterable

from coincurve import PrivateKey, PublicKey
from coincurve._libsecp256k1 import ffi as _ffi  # type: ignore[import-not-found]  # (cffi's compiled module: no stubs)
from coincurve._libsecp256k1 import lib as _secp
from coincurve.context import GLOBAL_CONTEXT
from Crypto.Hash import keccak as _keccak

from .errors import Unauthorized

_SIGNATURE = re.compile(r"^0x[0-9a-f]{130}$")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_PERSONAL_PREFIX = b"\x19Ethereum Signed Message:\n"


def _wrapped_keccak256(data: bytes) -> bytes:
    """keccak-256 through pycryptodome's Python wrapper (~10 µs a call: four foreign calls through ctypes and the
    objects around them): the reference ``keccak256`` equals, and what it falls back to."""
    return _keccak.new(data=data, digest_bits=256).digest()


_KECCAK_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")  # keccak256(b"")


def _direct_keccak256() -> Callable[[bytes], bytes] | None:
    """keccak-256 calling pycryptodome's own C functions (``Crypto.Hash._keccak``) directly, ~2-3× faster than its
    wrapper (``cor verify`` hashes twice per signature, an epoch's Merkle tree twice per leaf). None when that library
    cannot be loaded this way (then the wrapper is used).

    The library is loaded as a ``ctypes.PyDLL``: each call keeps the GIL, so it is never interleaved with another thread's
    call in between. A hashing state (``keccak_init``: 512-bit capacity, 24 rounds, as ``keccak.new(digest_bits=256)``)
    with its 32-byte output buffer is taken from a free list for the length of one hash (``list.pop`` and ``append`` are
    atomic), so threads hashing at once each hold their own, and a state is reset before each use."""
    try:
        spec = importlib.util.find_spec("Crypto.Hash._keccak")
        if spec is None or not spec.origin:
            return None
        lib = ctypes.PyDLL(spec.origin)
        init, reset, absorb, digest = lib.keccak_init, lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest
    except (ImportError, OSError, AttributeError, ValueError):
        return None
    init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint8]
    reset.argtypes = [ctypes.c_void_p]
    absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint8]
    for fn in (init, reset, absorb, digest):
        fn.restype = ctypes.c_int
    free: list[tuple[int, ctypes.Array[ctypes.c_char]]] = []

    def fresh() -> tuple[int, ctypes.Array[ctypes.c_char]]:
        state = ctypes.c_void_p()
        if init(ctypes.byref(state), 64, 24) or not state.value:
            raise MemoryError("keccak_init failed")
        return state.value, ctypes.create_string_buffer(32)

    def keccak256(data: bytes) -> bytes:
        if type(data) is not bytes:  # (ctypes' c_char_p takes bytes only)
            return _wrapped_keccak256(data)
        state, out = free.pop() if free else fresh()
        if reset(state) or absorb(state, data, len(data)) or digest(state, out, 32, 1):  # padding 0x01: Keccak, not SHA-3
            raise ValueError("keccak failed")
        value = out.raw
        free.append((state, out))
        return value

    try:
        if keccak256(b"") != _KECCAK_EMPTY or keccak256(b"abc" * 100) != _wrapped_keccak256(b"abc" * 100):
            return None
    except (OSError, ValueError, MemoryError, ctypes.ArgumentError):
        return None
    return keccak256


keccak256: Callable[[bytes], bytes] = _direct_keccak256() or _wrapped_keccak256
"""keccak-256 (Ethereum's, not SHA3-256) of ``data``."""


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
    """The lower-case address that signed ``message`` (EIP-191), or an ``invalid_signature`` error.

    libsecp256k1's three calls made directly (what ``PublicKey.from_signature_and_message`` and ``format`` make, without
    their objects): parse the compact signature with its recovery id, recover the public key, serialize it uncompressed;
    a failure gives coincurve's message."""
    compact = canonical_signature(signature)
    ctx = GLOBAL_CONTEXT.ctx
    parsed = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not _secp.secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, parsed, compact[:64], compact[64]):
        raise Unauthorized("signature cannot be verified: Failed to parse recoverable signature.", code="invalid_signature")
    public_key = _ffi.new("secp256k1_pubkey *")
    if not _secp.secp256k1_ecdsa_recover(ctx, public_key, parsed, personal_message_hash(message)):
        raise Unauthorized("signature cannot be verified: failed to recover ECDSA public key", code="invalid_signature")
    out, length = _ffi.new("unsigned char[65]"), _ffi.new("size_t *", 65)
    _secp.secp256k1_ec_pubkey_serialize(ctx, out, length, public_key, _secp.SECP256K1_EC_UNCOMPRESSED)
    return "0x" + keccak256(_ffi.buffer(out, 65)[1:])[12:].hex()


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
