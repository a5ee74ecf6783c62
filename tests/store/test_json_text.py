"""``json_text(x)`` is ``db.dumps(json_view(x))`` byte for byte (store/json_text.py).

The projections (epoch, node, slash and unbonding documents) are written with ``json_text`` and
``cor verify`` compares them with ``db.dumps(json_view(...))`` of the replayed state: the two must
not differ by a byte. Generated values cover what the fast path writes itself and what it hands to
the reference; real records come from seeded worlds through the real core; a network's projections,
written with ``json_text``, verify.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.app.verify import verify_store
from cor_incentives.core.int_column import IntColumn
from cor_incentives.core.json_view import json_view
from cor_incentives.store import db
from cor_incentives.store.document_format import document_text, pack
from cor_incentives.store.json_text import (
    COLUMN_PLACEHOLDER,
    PLACEHOLDER_PREFIX,
    json_bytes,
    json_bytes_columns,
    json_bytes_fields,
    json_bytes_rows,
    json_text,
)
from cor_incentives.store.projections import expected_rows, node_bytes, node_record, node_text, node_view, nodes_bytes, stored_rows
from support.network import COR, make_network
from support.records import records, seeded_world_state
from support.scenario import PROMPTS, settle_honest_task


def reference(x):
    return db.dumps(json_view(x))


@dataclasses.dataclass
class Row:
    name: str
    amount: int
    detail: object = None
    tags: tuple = ()


@dataclasses.dataclass(frozen=True)
class Key:
    a: int
    b: str


class Kind(enum.StrEnum):
    A = "alpha"
    B = "bêta"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2**60


EDGES = [0, 1, -1, 10**30, -(10**30)] + [s * b + d for b in (2**53, 2**63, 2**64) for s in (1, -1) for d in (-1, 0, 1)]  # ±2**53, int64, uint64
ints = st.one_of(st.sampled_from(EDGES), st.integers(), st.integers(min_value=-(2**66), max_value=2**66))
# ASCII (with control characters and DEL), Latin-1, the BMP, astral characters (a surrogate pair in JSON) and lone surrogates
texts = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8),
    st.text(max_size=8),
    st.text(alphabet=st.sampled_from(["a", "\x7f", "\x00", "\x1f", '"', "\\", "/", "é", "\u2028", "😀", "\ud800", "\udfff", "中"]), max_size=6),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(st.none(), st.booleans(), ints, texts, floats, st.sampled_from([Kind.A, Kind.B, Level.LOW, Level.HIGH]))
int_columns = st.one_of(
    st.lists(st.integers(min_value=-(2**53), max_value=2**53), max_size=20),  # all JSON-safe: written as it is
    st.lists(ints, max_size=20),
    st.lists(st.one_of(ints, st.booleans()), max_size=6),  # booleans are not integers here
    st.builds(lambda head, rest: [head, *rest], st.integers(-3, 3), st.lists(scalars, max_size=4)),  # an integer, then anything
)
int64s = st.one_of(st.sampled_from([e for e in EDGES if -(2**63) <= e < 2**63]), st.integers(-(2**63), 2**63 - 1), st.integers(-(2**53), 2**53))
int64_columns = st.lists(int64s, max_size=20).map(lambda v: IntColumn(np.array(v, dtype=np.int64)))  # held as int64 arrays
hashables = st.one_of(ints, texts, st.tuples(ints, texts), st.frozensets(ints, max_size=4))
keys = st.one_of(texts, ints, st.booleans(), st.sampled_from([Kind.A, Kind.B, Level.HIGH]), st.builds(Key, ints, texts))


def containers(children):
    return st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=5),
        st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=3),
        int_columns,
        int_columns.map(tuple),
        int64_columns,
        st.builds(Row, texts, ints, children, st.lists(children, max_size=3).map(tuple)),
        children.map(lambda v: [v, {"again": v}]),  # one object cited twice
        st.sampled_from([[], (), {}, set(), frozenset()]),
    )


values = st.recursive(scalars, containers, max_leaves=25)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_json_text_is_the_reference_text(x):
    try:
        expected = reference(x)
    except TypeError as e:  # a set whose views do not compare (a big integer's string beside a small integer): raised alike
        with pytest.raises(type(e)):
            json_text(x)
        with pytest.raises(type(e)):
            json_bytes(x)
        return
    assert json_text(x) == expected
    assert json_bytes(x) == expected.encode("ascii")  # the same text as the bytes a writer binds


with_placeholders = st.recursive(st.one_of(scalars, st.just(COLUMN_PLACEHOLDER + "0"), st.just(COLUMN_PLACEHOLDER)), containers, max_leaves=25)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(with_placeholders)
def test_the_text_without_its_columns_is_the_reference_text(x):
    """``json_bytes_columns`` (what ``cor verify`` compares an epoch document with, and formats 2 and 3 store): with no
    column taken out its text is the reference's text as it is; with columns taken out, the text with each placeholder
    replaced by its column's JSON list is. Values of every kind the walk writes, strings like a placeholder among them."""
    try:
        expected = reference(x).encode("ascii")
    except TypeError as e:
        with pytest.raises(type(e)):
            json_bytes_columns(x)
        return
    text, columns = json_bytes_columns(x)
    if not columns:
        assert text == expected
    else:
        assert text.count(PLACEHOLDER_PREFIX) == len(columns) and document_text(pack(text, columns)) == expected.decode()


def expected_bytes(d):
    """The reference's bytes of a dict, or the error it raises."""
    try:
        return reference(d).encode("ascii")
    except TypeError as e:
        return type(e)


def written(fn, *args):
    try:
        return fn(*args)
    except TypeError as e:
        return type(e)


field_names = st.one_of(
    st.lists(st.sampled_from(["a", "b", "id", "a_b", "Z9", "zz"]), min_size=1, max_size=5, unique=True),  # plain names
    st.lists(texts, min_size=1, max_size=4, unique=True),  # any characters: a name orjson escapes, or refuses
    st.lists(st.sampled_from(["a", "b"]), min_size=2, max_size=4),  # a name twice (the dict keeps the last value)
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field_names, st.data())
def test_fields_and_rows_are_the_dicts_text(names, data):
    """``json_bytes_fields(names, values)`` is ``json_bytes(dict(zip(names, values)))``, and ``json_bytes_rows`` is it
    for each row, whatever the values (big integers, floats, non-ASCII, columns past ±2**53, unknown values: written or
    refused alike) and wherever the rows' joint could be mistaken (a value nesting a list of objects with the same
    first key, or a string holding the joint's text)."""
    first = min(names)
    tricky = st.one_of(
        values,
        st.just([{first: 1}, {first: 2}]),  # a nested array of objects whose first key is the rows' first name
        st.just("}," + json_text({first: 0})[:-2]),  # the joint's text inside a string
        st.just([2**60, 1]),  # a column ``_ready`` passes as it is, past ±2**53: orjson refuses it in the first pass
    )
    rows = data.draw(st.lists(st.lists(tricky, min_size=len(names), max_size=len(names)), max_size=4))
    expected = [expected_bytes(dict(zip(names, row, strict=True))) for row in rows]
    assert [written(json_bytes_fields, names, row) for row in rows] == expected
    if all(isinstance(e, bytes) for e in expected):
        assert json_bytes_rows(names, rows) == expected
    else:
        with pytest.raises(TypeError):
            json_bytes_rows(names, rows)


class Members(set):
    """A set subclass (as the state's journaled sets are): ``_ready``'s set branch."""


def uniform_column(n):
    """``n`` values a node row's field could hold across the rows: each kind ``_ready_values`` tests once for a column
    (integers, big ones among them; strings, ASCII or not; None and booleans; floats; tuples, lists and sets, empty or not, a set
    subclass among them), or any values."""
    return st.one_of(
        st.lists(ints, min_size=n, max_size=n),
        st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n),
        st.lists(texts, min_size=n, max_size=n),
        st.lists(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=4), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), ints), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), floats), min_size=n, max_size=n),  # written by json.dumps, never as they are
        st.lists(st.sampled_from([(), [], set(), frozenset(), Members(), Members({"b", "a"}), ("x", 2**60), ["é"], {3, 1}]), min_size=n, max_size=n),
        st.lists(st.sampled_from([(), Members()]), min_size=n, max_size=n),
        st.lists(values, min_size=n, max_size=n),
    )


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["a", "b", "id", "a_b", "Z9", "zz"]), min_size=1, max_size=5, unique=True), st.integers(1, 7), st.data())
def test_rows_made_a_field_at_a_time_are_each_rows_text(names, n, data):
    """``json_bytes_rows`` makes the rows' values ready a field at a time across the rows (a column of strings, small
    integers, None or booleans taken as it is; big integers converted in one pass; empty tuples, lists and sets written
    ``[]``): each row's text is still ``json_bytes(dict(zip(names, row)))``, or the same error is raised."""
    columns = [data.draw(uniform_column(n)) for _ in names]
    rows = list(zip(*columns))
    expected = [expected_bytes(dict(zip(names, row, strict=True))) for row in rows]
    if all(isinstance(e, bytes) for e in expected):
        assert json_bytes_rows(names, rows) == expected
    else:
        with pytest.raises(TypeError):
            json_bytes_rows(names, rows)


class Count(int):
    """An int subclass that is no enum (``_ready``'s int kind, not ``type(v) is int``)."""


class Name(str):
    """A str subclass that is no enum (``_ready``'s str kind, not ``type(v) is str``)."""


@dataclasses.dataclass
class Outer:
    row: Row
    keys: list


SAFE = 2**53  # JSON_SAFE_INT: written as a number by json.dumps; orjson's strict pass refuses it, the ranged one writes it
# Each column kind ``_ready_values`` might take for uniform when it is not (or is, at an edge): a column drawn from one pool
COLUMN_POOLS = [
    [True, False, 0, 1, -1, 7],  # bool and int mixed: True is an int, but written true
    [True, False],  # booleans only (as is)
    [None, True, 0],  # None, bool and int
    [Level.LOW, Level.HIGH],  # an IntEnum column (HIGH past ±2**53)
    [Level.LOW, 1, 2],  # IntEnum beside plain ints
    [Count(3), Count(2**60), 5],  # an int subclass beside plain ints
    [Kind.A, Kind.B],  # a StrEnum column (one non-ASCII)
    [Kind.A, "alpha", "x"],  # StrEnum beside plain strings
    [Name("n"), Name("ñ"), "n"],  # a str subclass beside plain strings
    [SAFE, -SAFE, SAFE - 1, -(SAFE - 1), 0],  # ±2**53 exactly and just inside
    [SAFE + 1, -(SAFE + 1), 2**64, -(2**63), 3],  # past ±2**53: decimal strings
    [SAFE - 1, 1 - SAFE, 0],  # at the edge, all inside: taken as is
    [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e300, 0.1],  # floats, by json.dumps
    [1, 1.0, True],  # int, float and bool alike in value
    ["é", "中", "😀", "\u2028", "\x7f", "a\x00b", "plain"],  # non-ASCII, DEL, NUL
    ["a", "b", "\x7f"],  # ASCII all (str.isascii holds for DEL): as is, escaped after the fact
    [(), [], (1, 2), [1, 2], ("é",), [None]],  # tuples vs lists, empty or not
    [(), ()],  # empty tuples only
    [set(), frozenset(), {1, 2}, frozenset({"b", "a"})],  # sets
    [Row("é", 2**60, Row("x", 1), (Level.HIGH,)), Row("a", 1)],  # dataclasses, nested
    [Outer(Row("a", 1), [Kind.B, {"k": Count(2)}]), None],  # a dataclass holding a dataclass and a list of enums
    [{"a": 1}, {}, {Kind.A: 2, 3: "x"}],  # dicts, keys converted
    [{"n": Row("a", 1)}, {"é": Row("ñ", 2**60, {"k": SAFE + 1}), "b": Row("b", SAFE - 1)}, {}],  # dicts of dataclasses (a node's positions)
    [{"p": {"q": [Row("x", -(2**60))]}, "r": 1.5}, {"p": Members({"b", "a"})}, {"s": Row("y", 1, None, ("é",))}],  # nested, mixed
    [Row("a", 1), Row("é", 2**60, {"k": [Row("b", 2)]}, (Kind.B,)), Row("c", SAFE - 1, Row("d", 1 - SAFE))],  # one dataclass, nested
    [IntColumn(np.array([1, 2, 3], dtype=np.int64)), (4, 5), [6]],  # an int64 column beside tuples and lists
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["a", "b", "id", "a_b", "Z9", "zz"]), min_size=1, max_size=5, unique=True), st.integers(1, 9), st.data())
def test_rows_of_edge_columns_are_each_rows_fields_text(names, n, data):
    """Columns each drawn from one pool of edge values (bool beside int, IntEnum and int subclasses, StrEnum and str
    subclasses, ±2**53 exactly, NaN, nested dataclasses, tuples beside lists, non-ASCII and DEL): every row of
    ``json_bytes_rows`` is ``json_bytes_fields`` of that row byte for byte, and the reference's text of its dict."""
    columns = [data.draw(st.lists(st.sampled_from(data.draw(st.sampled_from(COLUMN_POOLS))), min_size=n, max_size=n)) for _ in names]
    rows = [list(row) for row in zip(*columns)]
    expected = [reference(dict(zip(names, row, strict=True))).encode("ascii") for row in rows]
    assert [json_bytes_fields(names, row) for row in rows] == expected
    assert json_bytes_rows(names, rows) == expected


def test_rows_sharing_string_objects_and_equal_strings_are_each_rows_text():
    """One non-ASCII string object in every row (its escape made once for all rows) and equal strings that are other
    objects, made while the rows are written: each row's own text."""
    shared, names = "défi", ("a", "b", "c")
    rows = [(shared, "".join(["dé", "fi"]), i) for i in range(5)] + [("x", shared, 2**60)]
    expected = [reference(dict(zip(names, row))).encode("ascii") for row in rows]
    assert json_bytes_rows(names, rows) == expected
    assert json_bytes_rows(names, [tuple(r) for r in rows]) == json_bytes_rows(names, [list(r) for r in rows]) == expected


def test_rows_split_at_their_joints_only():
    """Rows whose values nest objects starting with the first name are written apart, not split inside them."""
    names = ("a", "b")
    rows = [(1, [{"a": 1, "b": 2}, {"a": 3}]), ("x", {"a": [{"a": 0}, {"a": 9}]}), ('},{"a":', 2**70), (None, set())]
    assert json_bytes_rows(names, rows) == [reference(dict(zip(names, r))).encode("ascii") for r in rows]
    assert json_bytes_rows(names, []) == []
    assert json_bytes_rows((2, "a"), [(1, 2)]) == [b'{"2":1,"a":2}']  # a name not a str: row by row, as json_bytes writes the dict
    assert json_bytes_rows(names, rows[:1]) == [reference(dict(zip(names, rows[0]))).encode("ascii")]
    with pytest.raises(ValueError):  # a row short of a value: refused as json_bytes_fields refuses it (zip, strict)
        json_bytes_rows(names, [(1, 2), (3,)])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=4), ints, max_size=8), st.text(max_size=12))
def test_keys_sort_and_non_ascii_escape_as_json_dumps(d, s):
    """Keys of any characters sort by code point; non-ASCII and DEL are escaped as ``ensure_ascii`` does."""
    doc = {"d": d, "s": s, "l": [s, d]}
    assert json_text(doc) == reference(doc)
    assert json_text(doc).isascii() and "\x7f" not in json_text(doc)


def test_what_differs_between_encoders_is_made_equal():
    """The cases where orjson alone would write other text than json.dumps."""
    cases = [
        {"é": 1, "z": 2, "a": 3, "Ω": 4, "😀": 5, "\x7f": 6},  # key order past ASCII; non-ASCII keys
        "\x7f del and é and 😀 and \u2028",  # escaped as \\u007f, \\u00e9, \\ud83d\\ude00, \\u2028
        [1e16, 1e-7, 0.1, -0.0, math.inf, -math.inf, math.nan, 1.5],  # repr, Infinity, NaN
        [2**53, 2**53 + 1, -(2**53) - 1, 2**64, -(2**64), 10**40],  # past ±2**53: strings, even past 64 bits
        {1: "a", "1": "b", False: "c", 2.5: "f", Key(1, "x"): "d"},  # non-str keys, as json_view converts them (and collides them)
        {"s": {3, 1, 2}, "f": frozenset({"b", "a"}), "t": (1, (2, 3)), "e": [[], {}, (), set()]},
        "\ud800 lone surrogate",  # orjson refuses it: the reference writes it
        [Kind.B, Level.HIGH, {Kind.A: Level.LOW}],
        # columns: ±2**53 itself (a number; orjson's strict integers refuse it, so the ranged walk writes it), past it,
        # and an integer first with a float, a string, None, a bool, an IntEnum past 2**53 or a list after it
        [[1, 2**53], (-(2**53), 0), [2, 2**53 + 1], [1, 2.5], [1, "é"], [1, None], [1, True], [1, Level.HIGH], [1, [2**60]]],
    ]
    for case in cases:
        assert json_text(case) == reference(case), case
    deep: object = 1
    for _ in range(300):  # deeper than orjson nests: the reference writes it
        deep = [deep]
    assert json_text(deep) == reference(deep)


def test_a_column_of_safe_integers_is_written_without_copying_and_equal():
    column = list(range(-5, 5)) + [2**53, -(2**53)]
    row = Row("n", 10**20, {"tasks": column, "ids": tuple(column)})
    assert json_text(row) == reference(row)
    assert '"tasks":[-5,-4' in json_text(row) and '"amount":"100000000000000000000"' in json_text(row)


class Tags(list):
    pass


class Pair(tuple):
    pass


class Counts(dict):
    pass


class Name(str):
    pass


class Big(int):
    pass


class Ratio(float):
    pass


@dataclasses.dataclass
class DictRow(dict):  # a dict and a dataclass: the dict test comes first, as in json_view
    name: str = "field"


@dataclasses.dataclass
class Wrapped:
    inner: object
    more: object = None


def test_subclasses_take_their_base_class_branch_every_time():
    """The walk's branch is chosen once per class (``_kind``): subclasses of each base, a class that is a dict and a
    dataclass, and the same classes again (now remembered) are written as the reference writes them."""
    d = DictRow()
    d["key"] = Big(2**60)
    values = [
        Tags([Big(1), Big(2)]),  # an integer subclass first: not a column, walked element by element
        Tags([1, 2, 3]),  # a column in a list subclass: copied into a list
        Pair((1, Name("é"), Ratio(1e16))),
        Counts({Name("b"): Tags([Ratio(0.5)]), "a": Pair((2**53 + 1,))}),
        d,
        Wrapped(Wrapped(Counts(x=Name("ascii")), [Big(3)]), {Kind.B: Level.HIGH}),
        frozenset({Name("z"), Name("a")}),
    ]
    for _ in range(2):
        for v in values:
            assert json_text(v) == reference(v), v
        assert json_text(values) == reference(values)


def test_unknown_values_fail_as_the_reference_does():
    class Opaque:
        pass

    for bad in (Opaque(), {"x": [Opaque()]}, {"x": b"bytes"}):
        with pytest.raises(TypeError):
            reference(bad)
        with pytest.raises(TypeError):
            json_text(bad)


@pytest.mark.parametrize("name", ["slash_dodge_unbond", "redelegate_dodge"])
def test_real_records_of_seeded_worlds(name):
    state = seeded_world_state(name)
    seen = 0
    for record in records(state):
        assert json_text(record) == reference(record)
        seen += 1
    nodes = list(state.nodes.values())
    for node, data in zip(nodes, nodes_bytes(state, nodes), strict=True):
        expected = db.dumps(node_view(state, node))
        assert json_text(node_record(state, node)) == expected
        assert node_text(state, node) == expected and node_bytes(state, node) == data == expected.encode("ascii")
    assert len(state.epochs) >= 3 and seen > 20 and state.slashes and any(e.items for e in state.epochs.values())


def reference_rows(state):
    """The projections' texts as the reference writes them: ``db.dumps(json_view(...))`` of the same objects."""
    return {
        "nodes": {n.id: db.dumps(node_view(state, n)) for n in state.nodes.values()},
        "unbonding": {str(k): reference(u) for k, u in state.unbondings.items()},
        "slash": {str(s.id): reference(s) for s in state.slashes},
        "epoch": {str(e): reference(r) for e, r in state.epochs.items() if e > state.pruned.epochs_through},
    }


def test_projections_written_with_json_text_verify(db_url, tmp_path):
    """A network's projections (written with json_text) and the rows verify expects (``expected_rows``, written with
    json_text too) are both the reference's text (``db.dumps(json_view)``) of the replayed state's records."""
    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="json-text")
    try:
        settle_honest_task(eng, keys, PROMPTS[0], with_garbage=True)
        eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(5_000 * COR)})
        eng.submit_as(keys["bob"], "stake.delegate", {"node": keys["miner0"].address, "amount": str(1_000 * COR)})
        eng.submit_as(keys["bob"], "stake.undelegate", {"node": keys["miner0"].address, "amount": str(400 * COR)})
        eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
        eng.submit_as(keys["oracle"], "epoch.close", {})
        with eng.store.reader() as conn:
            stored = stored_rows(conn)
        report, replayed = verify_store(eng.store)
        assert report.ok, report
        for state in (eng.state, replayed):
            expected, independent = expected_rows(state), reference_rows(state)
            for name in ("nodes", "unbonding", "slash", "epoch"):
                assert expected[name] == independent[name], name
                assert stored[name] == independent[name], name
        assert stored["epoch"] and stored["nodes"] and stored["unbonding"] and stored["slash"]
    finally:
        eng.store.dispose()


def test_kept_bytes_copies_a_short_text_only():
    """orjson's ``bytes`` keep its output buffer (several times a short text): ``kept_bytes`` copies a short text, the same
    bytes, and passes a long one (whose buffer orjson's resize gave back) as it is."""
    from cor_incentives.store.json_text import KEPT_COPY_BELOW, kept_bytes

    short = json_bytes({"a": list(range(500))})
    long = json_bytes({"a": list(range(10**6, 10**6 + KEPT_COPY_BELOW // 7))})
    assert len(short) < KEPT_COPY_BELOW <= len(long)
    assert kept_bytes(short) == short and kept_bytes(short) is not short
    assert kept_bytes(long) is long


def test_the_projector_keeps_a_copy_of_a_short_epoch_document(db_url, tmp_path, monkeypatch):
    """The projector holds an epoch's document (text format: Postgres, older SQLite) until its flush: what it holds is a
    copy of orjson's bytes (``kept_bytes``), equal to them, not orjson's own."""
    from cor_incentives.store import projections
    from cor_incentives.store.document_format import TEXT_FORMAT

    made: list[bytes] = []

    def spy(obj):
        made.append(json_bytes(obj))
        return made[-1]

    held: list[bytes] = []
    flush = projections.Projector.flush

    def spy_flush(self, conn, state):
        held.extend(d for name, _, d in self._docs if name == "epoch")
        return flush(self, conn, state)

    eng, keys = make_network(db_url, tmp_path / "keys", n_miners=3, n_validators=2, seed="kept-bytes")
    try:
        settle_honest_task(eng, keys, PROMPTS[0], with_garbage=False)
        eng.projector.document_format = TEXT_FORMAT
        monkeypatch.setattr(projections, "json_bytes", spy)
        monkeypatch.setattr(projections.Projector, "flush", spy_flush)
        eng.submit_as(keys["oracle"], "epoch.close", {})
    finally:
        eng.store.dispose()
    assert len(held) == 1 and held[0] == made[0] == json_bytes(projections.whole_epoch(eng.state, 0, []))
    assert held[0] is not made[0]
