import pytest

from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.events import Command, event_hash, make_event


def test_canonical_roundtrip():
    c = Command("c", "transfer", "0x" + "a" * 40, 1, {"to": "0x" + "b" * 40, "amount": "5"})
    raw = c.encode()
    assert raw == b'{"actor":"0x' + b"a" * 40 + b'","body":{"amount":"5","to":"0x' + b"b" * 40 + b'"},"chain_id":"c","kind":"transfer","nonce":1}'
    assert Command.decode(raw) == c


def test_non_canonical_refused():
    raw = b'{"kind":"transfer","actor":"x","nonce":1,"body":{},"chain_id":"c"}'
    with pytest.raises(InvalidInput) as e:
        Command.decode(raw)
    assert e.value.code == "non_canonical_payload"


@pytest.mark.parametrize("body", [{"amount": 1.5}, {"amount": 2**60}])
def test_floats_and_big_ints_refused(body):
    with pytest.raises(InvalidInput):
        Command("c", "transfer", "0x" + "a" * 40, 1, body).encode()


def test_hash_changes_with_any_byte():
    e = make_event(0, 0, b'{"a":1}', "0x00", "0x" + "00" * 32)
    assert e.hash == event_hash(e.prev_hash, 0, b'{"a":1}', "0x00")
    assert e.hash != event_hash(e.prev_hash, 0, b'{"a":2}', "0x00")
    assert e.hash != event_hash(e.prev_hash, 1, b'{"a":1}', "0x00")
