"""Our EIP-191 signatures are byte-for-byte eth-account's."""

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import Unauthorized
from cor_incentives.core.signatures import SECP256K1_N, private_key_address, recover_signer, sign_message


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
