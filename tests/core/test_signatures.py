"""Our EIP-191 signatures are byte-for-byte eth-account's."""

import sys

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import Unauthorized
from cor_incentives.core.signatures import SECP256K1_N, private_key_address, recover_signer, recover_signers, sign_message


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300))
def test_same_as_eth_account(secret, message):
    if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
        return
    key = "0x" + secret.hex()
    acct = Account.from_key(key)
    ours = sign_message(key, message)
    theirs = "0x" + bytes(Account.sign_message(encode_defunct(primitive=message), private_key=key).signature).hex()
    assert ours == theirs
    assert private_key_address(key) == acct.address.lower()
    assert recover_signer(message, ours) == acct.address.lower()
    assert Account.recover_message(encode_defunct(primitive=message), signature=bytes.fromhex(ours[2:])).lower() == acct.address.lower()


def test_tampered_or_malformed_signature():
    key = "0x" + "11" * 32
    sig = sign_message(key, b"pay 5")
    assert recover_signer(b"pay 6", sig) != private_key_address(key)
    for bad in ("0x", "0x12", "zz", sig[:-2] + "05"):
        with pytest.raises(Unauthorized):
            recover_signer(b"pay 5", bad)
    r, s, v = sig[2:66], int(sig[66:130], 16), int(sig[130:], 16)
    high_s = "0x" + r + (SECP256K1_N - s).to_bytes(32, "big").hex() + bytes([55 - v]).hex()
    with pytest.raises(Unauthorized, match="not canonical"):
        recover_signer(b"pay 5", high_s)


def test_one_signature_has_one_encoding():
    """Upper-case hex and v = 0/1 recover the same signer elsewhere; here they are refused, so a
    signed command can be logged under exactly one event hash."""
    key = "0x" + "11" * 32
    sig = sign_message(key, b"pay 5")
    assert sig == sig.lower() and sig[-2:] in ("1b", "1c")
    assert recover_signer(b"pay 5", sig) == private_key_address(key)
    upper = "0x" + sig[2:].upper()
    v01 = sig[:-2] + bytes([int(sig[-2:], 16) - 27]).hex()
    for other in (upper, v01):
        with pytest.raises(Unauthorized) as err:
            recover_signer(b"pay 5", other)
        assert err.value.code == "invalid_signature"


# --- the direct libsecp256k1 path against eth-keys / eth-account, valid and invalid signatures ------------


def _reference_recover(message: bytes, signature: str) -> str:
    """The previous implementation (eth-keys' wrappers), kept here as the reference the fast path must equal."""
    import re

    from eth_keys import keys as ek

    from cor_incentives.core.signatures import personal_message_hash

    if not isinstance(signature, str) or not re.match(r"^0x[0-9a-f]{130}$", signature):
        raise Unauthorized("format", code="invalid_signature")
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        raise Unauthorized("v", code="invalid_signature")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    if not 1 <= r < SECP256K1_N or not 1 <= s <= SECP256K1_N // 2:
        raise Unauthorized("not canonical", code="invalid_signature")
    try:
        sig = ek.Signature(raw[:64] + bytes([raw[64] - 27]))
        return sig.recover_public_key_from_msg_hash(personal_message_hash(message)).to_address().lower()
    except Exception:
        raise Unauthorized("cannot be verified", code="invalid_signature") from None


def _outcome(fn, message, signature):
    try:
        return fn(message, signature)
    except Unauthorized as exc:
        return ("refused", exc.code)


_secret = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: "0x" + k.to_bytes(32, "big").hex())
_word = st.integers(min_value=0, max_value=2**256 - 1).map(lambda x: x.to_bytes(32, "big").hex())


def _mutations(sig: str):
    """Encodings and corruptions of a valid signature: high s (the same signature, malleated), wrong v, v = 0/1,
    29, flipped bits, random r / s."""
    r, s, v = sig[2:66], int(sig[66:130], 16), int(sig[130:], 16)
    return st.one_of(
        st.just("0x" + r + (SECP256K1_N - s).to_bytes(32, "big").hex() + bytes([55 - v]).hex()),
        st.just(sig[:-2] + bytes([55 - v]).hex()),
        st.sampled_from([0, 1, 26, 29, 255]).map(lambda w: sig[:-2] + bytes([w]).hex()),
        st.integers(min_value=2, max_value=129).map(lambda i: sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]),
        st.tuples(_word, _word, st.sampled_from(["1b", "1c"])).map(lambda t: "0x" + t[0] + t[1] + t[2]),
        st.tuples(_word, st.sampled_from(["1b", "1c"])).map(lambda t: "0x" + r + t[0] + t[1]),
        st.just("0x" + ("0" * 64) + sig[66:]),
        st.just("0x" + SECP256K1_N.to_bytes(32, "big").hex() + sig[66:]),
    )


@settings(max_examples=150, deadline=None)
@given(secret=_secret, message=st.binary(max_size=200), data=st.data())
def test_fast_recovery_equals_eth_keys_and_eth_account(secret, message, data):
    sig = sign_message(secret, message)
    assert sig == "0x" + bytes(Account.sign_message(encode_defunct(primitive=message), private_key=secret).signature).hex()
    addr = Account.from_key(secret).address.lower()
    assert recover_signer(message, sig) == addr == _reference_recover(message, sig)
    other = data.draw(st.binary(max_size=200).filter(lambda m: m != message), label="other message")
    assert recover_signer(other, sig) == _reference_recover(other, sig) != addr
    bad = data.draw(_mutations(sig), label="mutated signature")
    ours = _outcome(recover_signer, message, bad)
    assert ours == _outcome(_reference_recover, message, bad)
    if isinstance(ours, str):  # recovered: eth-account (which accepts more encodings) recovers the same key
        assert Account.recover_message(encode_defunct(primitive=message), signature=bytes.fromhex(bad[2:])).lower() == ours
    batch = [(message, sig), (message, bad), (other, sig)]
    got = recover_signers(batch)
    assert [g if isinstance(g, str) else ("refused", g.code) for g in got] == [_outcome(recover_signer, m, s) for m, s in batch]


def test_private_key_out_of_range_is_refused():
    for bad in ("0x" + "00" * 32, "0x" + SECP256K1_N.to_bytes(32, "big").hex(), "0x1234"):
        with pytest.raises(ValueError):
            private_key_address(bad)


# --- keccak-256 through pycryptodome's C functions called directly ------------------------------------------


def test_direct_keccak_is_in_use():
    """The fast path loads here (a failed load falls back to the wrapper silently; this says it did not)."""
    from cor_incentives.core import signatures

    assert signatures.keccak256 is not signatures._wrapped_keccak256
    assert signatures.keccak256(b"") == bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=600), st.integers(min_value=0, max_value=3 * 136 + 2).map(lambda n: bytes(i % 251 for i in range(n)))))
def test_direct_keccak_equals_pycryptodome(data):
    """Every length, those around the 136-byte rate included (one block, a full block, the padding in a new block)."""
    from Crypto.Hash import keccak

    from cor_incentives.core.signatures import keccak256

    assert keccak256(data) == keccak.new(data=data, digest_bits=256).digest()
    assert keccak256(bytearray(data)) == keccak256(memoryview(data)) == keccak256(data)  # other buffers: the wrapper


def test_direct_keccak_from_many_threads():
    """Threads hashing at once each get their own state: every digest is right."""
    from concurrent.futures import ThreadPoolExecutor

    from Crypto.Hash import keccak

    from cor_incentives.core.signatures import keccak256

    inputs = [bytes([i % 251]) * (i % 700) for i in range(4_000)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between any two calls of a hash
    try:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(keccak256, inputs, chunksize=7))
    finally:
        sys.setswitchinterval(interval)
    assert got == [keccak.new(data=d, digest_bits=256).digest() for d in inputs]
