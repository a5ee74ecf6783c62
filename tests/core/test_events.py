import json
from collections import OrderedDict, UserDict
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.events import MAX_SAFE_INT, Command, _check_canonical, canonical_json, event_hash, make_event


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


# --- the canonical check's fast walk against the plain recursion it replaced (the reference, as it stood) ---


def _reference_check(obj):
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
            _reference_check(v)
        return
    if isinstance(obj, (list, tuple)):
        for v in obj:
            _reference_check(v)
        return
    raise InvalidInput(f"unsupported value in command: {type(obj).__name__}", code="invalid_payload")


class _Str(str):
    pass


class _Int(int):
    pass


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.builds(_Str, st.text(max_size=2)),
    st.integers(-(2**54), 2**54),
    st.builds(_Int, st.integers(-(2**54), 2**54)),
    st.just(MAX_SAFE_INT),
    st.just(-MAX_SAFE_INT),
    st.just(MAX_SAFE_INT + 1),
    st.floats(allow_nan=False),
    st.just(b"x"),
    st.just({1, 2}),
)
_key = st.one_of(st.text(max_size=3), st.builds(_Str, st.text(max_size=2)), st.integers(0, 3), st.just(None))
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_key, inner, max_size=4),
        st.dictionaries(_key, inner, max_size=3).map(OrderedDict),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(UserDict),
    ),
    max_leaves=20,
)


def _outcome(check, obj):
    try:
        check(obj)
    except InvalidInput as e:
        return e.code, str(e)
    return None


@settings(max_examples=600, deadline=None)
@given(_value)
def test_the_canonical_check_refuses_exactly_what_the_plain_recursion_did_with_the_same_first_error(obj):
    assert _outcome(_check_canonical, obj) == _outcome(_reference_check, obj)


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)),
        max_leaves=20,
    )
)
def test_what_json_parsing_makes_within_the_bounds_is_encoded_sorted_and_compact(obj):
    assert canonical_json(obj) == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
