"""``authenticate_batch`` gives exactly ``authenticate``'s result for each command of a batch: the command, or
the same error (bad encoding, bad signature, a signature by someone else)."""

from __future__ import annotations

from cor_incentives.app.signing import authenticate, authenticate_batch, sign_command
from cor_incentives.core.errors import EngineError
from cor_incentives.core.signatures import sign_message


def _outcome(payload: bytes, signature: str):
    try:
        return authenticate(payload, signature).encode()
    except EngineError as exc:
        return (exc.code, exc.message)


def test_batch_equals_one_by_one():
    alice, bob = "0x" + "11" * 32, "0x" + "22" * 32
    good = [sign_command(alice, "cor-test", "transfer", i + 1, {"to": "0x" + "ab" * 20, "amount": str(i + 1)}) for i in range(5)]
    payload, sig = good[0]
    items = [
        *good,
        (payload, sign_message(bob, payload)),  # signed by another key
        (payload, sig[:-2] + "1d"),  # v = 29
        (b'{"not": "a command"}', sig),  # does not decode
        (payload.replace(b"transfer", b"transfex"), sig),  # another message: recovers someone else
        (payload, "0x1234"),
    ]
    got = authenticate_batch(items)
    assert len(got) == len(items)
    for (p, s), g in zip(items, got):
        assert (g.encode() if not isinstance(g, EngineError) else (g.code, g.message)) == _outcome(p, s)
    assert sum(not isinstance(g, EngineError) for g in got) == 5
