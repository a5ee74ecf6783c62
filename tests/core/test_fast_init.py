"""journal.fast_init: every record's fast ``__init__`` makes the instance its dataclass ``__init__`` makes; journal.frozen_init:
the same for the frozen dataclasses a replay makes per event (sealed events, ``Applied``, postings)."""

import dataclasses
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.app.signing import SealedEvent, seal_decoded
from cor_incentives.core import records
from cor_incentives.core.apply import Applied
from cor_incentives.core.events import Event
from cor_incentives.core.journal import JDict, JList, Journaled, JSet, fast_init, frozen_init, journal
from cor_incentives.core.ledger import Posting

RECORDS = sorted(
    (v for v in vars(records).values() if isinstance(v, type) and issubclass(v, Journaled) and v is not Journaled and dataclasses.is_dataclass(v)),
    key=lambda c: c.__name__,
)

_value = st.one_of(
    st.integers(),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
    st.sets(st.integers(), max_size=3),
    st.tuples(st.integers()),
)


def _made(cls, init, args, kwargs):
    obj = object.__new__(cls)
    init(obj, *args, **kwargs)
    return obj


def _same(a, b):
    assert list(a.__dict__) == list(b.__dict__)
    for name in a.__dict__:
        x, y = a.__dict__[name], b.__dict__[name]
        assert type(x) is type(y) and x == y, name


def test_every_record_has_it():
    assert RECORDS and all(hasattr(cls.__init__, "dataclass_init") for cls in RECORDS)


def _arguments(cls, data, values):
    """Arguments for ``cls``: every required field and each optional one or not (left to its default), drawn from
    ``values``; positionally until a field is left out (a later field given must go by name), else by name."""
    args, kwargs = [], {}
    positional = data.draw(st.booleans(), label="positional")
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if not required and not data.draw(st.booleans(), label=f"give {f.name}"):
            positional = False
            continue
        value = data.draw(values, label=f.name)
        if positional:
            args.append(value)
        else:
            kwargs[f.name] = value
    return args, kwargs


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_same_instance_as_the_dataclass_init(cls, data):
    """Required fields given, each optional one given or left to its default (factories: a fresh object each time);
    positionally or by name. Containers are adopted (JDict, JList, JSet) as ``Journaled.__setattr__`` adopts them."""
    args, kwargs = _arguments(cls, data, _value)
    fast = _made(cls, cls.__init__, args, kwargs)
    reference = _made(cls, cls.__init__.dataclass_init, args, kwargs)
    _same(fast, reference)
    for name, value in fast.__dict__.items():
        if type(value) in (JDict, JList, JSet):
            assert value is not reference.__dict__[name]
    assert inspect.signature(cls.__init__).parameters.keys() == inspect.signature(cls.__init__.dataclass_init).parameters.keys()


def test_factories_make_a_fresh_object_and_writes_are_journaled():
    a, b = records.Node("n1", "miner", 1, 0), records.Node("n2", "miner", 1, 0)
    assert type(a.delegators) is JSet and a.delegators is not b.delegators and type(a.positions) is JDict
    with pytest.raises(RuntimeError), journal():
        a.stake_total = 5
        a.delegators.add("x")
        raise RuntimeError
    assert a.stake_total == 0 and a.delegators == set()


def test_classes_it_does_not_cover_keep_their_init():
    @dataclasses.dataclass
    class Later(Journaled):
        x: int
        y: int = dataclasses.field(default=0, init=False)

    @dataclasses.dataclass
    class Posted(Journaled):
        x: int

        def __post_init__(self) -> None:
            self.x += 1

    for cls in (Later, Posted):
        init = cls.__init__
        assert fast_init(cls).__init__ is init
    assert Posted(1).x == 2


FROZEN = [SealedEvent, Applied, Posting]  # journal.frozen_init: made per event or posting


@pytest.mark.parametrize("cls", FROZEN, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_frozen_same_instance_as_the_dataclass_init(cls, data):
    """The same fields in the same order, the same values (containers stored as given: nothing adopted), positionally or
    by name, defaults left out; equal, the same hash and repr; and still frozen."""
    assert hasattr(cls.__init__, "dataclass_init")
    fields = dataclasses.fields(cls)
    args, kwargs = _arguments(cls, data, st.one_of(st.integers(), st.text(max_size=5), st.none(), st.binary(max_size=3), st.tuples(st.integers())))
    fast = cls(*args, **kwargs)
    reference = _made(cls, cls.__init__.dataclass_init, args, kwargs)
    _same(fast, reference)
    assert fast == reference and hash(fast) == hash(reference) and repr(fast) == repr(reference)
    assert inspect.signature(cls.__init__).parameters.keys() == inspect.signature(cls.__init__.dataclass_init).parameters.keys()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.__setattr__(fields[0].name, 1)
    with pytest.raises(TypeError):  # a required field left out, as the dataclass's __init__ refuses it
        cls()


def test_frozen_init_keeps_the_init_of_what_it_does_not_cover():
    @dataclasses.dataclass
    class Plain:
        x: int

    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True)
    class Later:
        x: int
        y: int = dataclasses.field(default=0, init=False)

    for cls in (Plain, Checked, Later):
        init = cls.__init__
        assert frozen_init(cls).__init__ is init
    with pytest.raises(ValueError):
        Checked(-1)
    assert frozen_init(Plain) is Plain and not hasattr(Plain.__init__, "dataclass_init")


def test_a_sealed_event_is_the_event_it_seals():
    event = Event(3, 7, b'{"a":1}', "0x" + "ab" * 65, "0x" + "00" * 32, "0x" + "11" * 32)
    sealed = seal_decoded(event, None)
    assert type(sealed) is SealedEvent and list(vars(sealed)) == [*vars(event), "decoded"]
    assert {k: v for k, v in vars(sealed).items() if k != "decoded"} == vars(event) and sealed.decoded is None
    assert sealed == _made(SealedEvent, SealedEvent.__init__.dataclass_init, [*vars(event).values(), None], {})
