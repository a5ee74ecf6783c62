"""Epoch documents in formats 2 and 3 (store/document_format.py): the canonical text comes back byte for byte.

Both take the record's long ``IntColumn`` arrays out of the text (a placeholder each), store them as deltas and compress
both; format 3 keeps each chunk of 2**15 deltas only as wide as it needs (1, 2, 4 or 8 bytes). ``document_text`` must
give ``json_text(record)`` exactly, for any record and either format: generated ones (int64 extremes, columns past
±2**53 that the text writes as strings, short and empty columns, a record's own string looking like a placeholder, one
column reached twice) and real ones. A database chooses its format once: a new SQLite database writes format 3; one that
chose format 2 keeps it; one projected before the choice existed keeps format 1; PostgreSQL writes format 1.
``cor verify`` reads all three.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import verify_store
from cor_incentives.core.int_column import IntColumn
from cor_incentives.core.json_view import JSON_SAFE_INT
from cor_incentives.store import db
from cor_incentives.store.document_format import (
    _CHUNK,
    COLUMNS_FORMAT,
    EPOCH_DOCUMENT_FORMAT_KEY,
    HEADER,
    NARROW_FORMAT,
    NARROW_HEADER,
    TEXT_FORMAT,
    _codec,
    _values_frame,
    document_text,
    is_packed,
    pack,
    parts,
    same_document,
)
from cor_incentives.store.json_text import (
    _NOT_ASCII_SAFE,
    COLUMN_MIN_VALUES,
    COLUMN_PLACEHOLDER,
    PLACEHOLDER_PREFIX,
    _columns_text,
    _escape,
    json_bytes,
    json_bytes_columns,
    json_text,
)
from cor_incentives.store.projections import stored_rows
from support.network import make_network
from support.records import records, seeded_world_state
from support.scenario import PROMPTS, settle_honest_task

I64 = (-(2**63), 2**63 - 1)
PACKED = (COLUMNS_FORMAT, NARROW_FORMAT)
HEADERS = {COLUMNS_FORMAT: HEADER, NARROW_FORMAT: NARROW_HEADER}


def round_trip(x, document_format=NARROW_FORMAT):
    text, columns = json_bytes_columns(x)
    packed = pack(text, columns, document_format)
    assert is_packed(packed) and packed.startswith(HEADERS[document_format])
    return document_text(packed), columns


def column(values):
    return IntColumn(np.array(values, dtype=np.int64))


int64s = st.integers(*I64)
safe = st.integers(-JSON_SAFE_INT, JSON_SAFE_INT)
columns = st.one_of(
    st.lists(safe, max_size=40).map(column),
    st.lists(int64s, max_size=40).map(column),  # mostly past ±2**53: written as strings, so left in the text
    st.lists(st.sampled_from([0, 1, -1, *I64, JSON_SAFE_INT, -JSON_SAFE_INT]), min_size=8, max_size=20).map(column),
)
leaves = st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none(), st.just(COLUMN_PLACEHOLDER + "0"), columns)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from(PACKED))
def test_the_text_comes_back_byte_for_byte(x, document_format):
    text, _ = round_trip(x, document_format)
    assert text == json_text(x)


@settings(max_examples=200, deadline=None)
@given(values, st.data(), st.sampled_from(PACKED))
def test_same_document_says_equal_only_of_equal_texts(x, data, document_format):
    """``cor verify``'s comparison in parts: a record's own format-2 or format-3 value is the same document; one with a
    value of a column changed (or its text, for a record without columns) is not, and whenever ``same_document`` says
    equal the canonical texts are equal."""
    text, cols = json_bytes_columns(x)

    def pack(text, cols):
        return pack_in(text, cols, document_format)

    packed = pack(text, cols)
    assert same_document(packed, text, cols)
    back_text, back = parts(packed)
    assert back_text == text and [c.tolist() for c in back] == [c.tolist() for c in cols]
    nonempty = [i for i, c in enumerate(cols) if len(c)]
    if nonempty:
        i = data.draw(st.sampled_from(nonempty))
        j = data.draw(st.integers(0, len(cols[i]) - 1))
        changed = [c.copy() for c in cols]
        changed[i][j] ^= data.draw(st.integers(1, 2**62))
        assert not same_document(pack(text, changed), text, cols) and not same_document(packed, text, changed)
        assert document_text(pack(text, changed)) != json_text(x)
    other = text + b" "
    assert not same_document(pack(other, cols), text, cols) and not same_document(packed, other, cols)


pack_in = pack


@pytest.mark.parametrize("document_format", PACKED)
def test_same_document_refuses_what_it_cannot_prove_equal(document_format):
    HEADER = HEADERS[document_format]
    record = {"a": column(list(range(100))), "b": column(list(range(5, 50))), "n": 7}
    text, cols = json_bytes_columns(record)
    packed = pack(text, cols, document_format)
    assert len(cols) == 2 and same_document(packed, text, cols)
    joined = np.concatenate(cols)
    assert not same_document(packed, text, [joined[:60], joined[60:]])  # the same values cut elsewhere: other lengths
    assert not same_document(packed, text, cols[:1])  # a column missing
    assert not same_document(packed, text, cols[::-1])  # the columns swapped
    assert not same_document(packed, text.replace(b'"n":7', b'"n":8'), cols)  # the text
    assert not same_document(document_text(packed), text, cols)  # a format-1 text: the caller compares texts
    assert not same_document(document_text(packed).encode(), text, cols)
    assert not same_document(packed[:-3], text, cols)  # truncated: does not decompress
    assert not same_document(HEADER + b"12:x:", text, cols)  # a malformed header
    size = packed[len(HEADER) :].split(b":")[0]
    assert not same_document(packed.replace(HEADER + size, HEADER + str(int(size) + 1).encode(), 1), text, cols)
    other = HEADERS[NARROW_FORMAT if document_format == COLUMNS_FORMAT else COLUMNS_FORMAT]
    assert not same_document(other + packed[len(HEADER) :], text, cols)  # the other format's header on these frames


def test_long_safe_columns_leave_the_text_and_others_stay():
    long = column(list(range(10**6, 10**6 + 50)))
    extremes = column([I64[0], I64[1], 0, -1, 1, I64[0], I64[1], 7])  # past ±2**53: the text's strings, left in place
    edge = column([JSON_SAFE_INT, -JSON_SAFE_INT] * 4)  # within ±2**53: taken out, deltas wrap modulo 2**64
    short = column([3, 1, 2])
    record = {"a": long, "b": extremes, "c": edge, "d": short, "e": column([]), "f": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    text, taken = json_bytes_columns(record)
    assert len(taken) == 2 and [len(c) for c in taken] == [50, 8]
    assert b"1000049" not in text and b"[3,1,2]" in text and b'"9223372036854775807"' in text and b"[1,2,3,4,5,6,7,8,9]" in text
    assert round_trip(record)[0] == json_text(record)
    assert json_bytes_columns({"x": column(list(range(COLUMN_MIN_VALUES - 1)))})[1] == []
    assert len(json_bytes_columns({"x": column(list(range(COLUMN_MIN_VALUES)))})[1]) == 1


def test_a_string_like_a_placeholder_keeps_every_column_in_the_text():
    """A record's own string starting as a placeholder would be read as a column: nothing is taken out then."""
    record = {"cols": [column(list(range(20))), column(list(range(30)))], "note": COLUMN_PLACEHOLDER + "1"}
    text, taken = json_bytes_columns(record)
    assert taken == [] and text.decode() == json_text(record)
    assert round_trip(record)[0] == json_text(record)
    record["note"] = "fine"
    assert len(json_bytes_columns(record)[1]) == 2


def test_nothing_taken_out_is_the_first_walks_text_without_a_second(monkeypatch):
    """When no column is taken out (none long enough, or a record's own string like a placeholder beside only short
    columns), the text written is ``json_bytes(record)`` already: returned as it is, without counting placeholders in it
    nor walking the record again (an epoch document without tasks: 17.7 MB of text at 10 k nodes)."""
    from cor_incentives.store import json_text as json_text_module

    records = [
        {"note": COLUMN_PLACEHOLDER + "0", "short": column([1, 2, 3])},  # a string like a placeholder: counted before
        {"note": COLUMN_PLACEHOLDER + "7", "list": [1, 2, 3, 4, 5, 6, 7, 8, 9], "é": "ü"},  # escaped after the walk too
        {"plain": column(list(range(COLUMN_MIN_VALUES - 1))), "big": column([I64[1]] * 20)},  # short, or past ±2**53
    ]
    expected = [json_bytes(r) for r in records]
    assert [e.decode() for e in expected] == [json_text(r) for r in records]

    def no_second_walk(obj):
        raise AssertionError("json_bytes_columns walked the record a second time")

    monkeypatch.setattr(json_text_module, "json_bytes", no_second_walk)
    for record, text in zip(records, expected, strict=True):
        assert json_bytes_columns(record) == (text, [])


def test_one_column_reached_twice_through_one_container_keeps_the_text():
    shared = {"tasks": column(list(range(100)))}
    record = {"a": shared, "b": shared}  # the walk memoizes the container: its placeholder would be written twice
    text, taken = json_bytes_columns(record)
    assert taken == [] and text.decode() == json_text(record)


def test_one_column_in_two_containers_is_taken_out_twice():
    tasks = column(list(range(100)))
    record = {"a": {"tasks": tasks}, "b": [tasks]}  # two containers, one column: a placeholder each, as the shared walk
    text, taken = json_bytes_columns(record)
    assert len(taken) == 2 and taken[0] is taken[1] and round_trip(record)[0] == json_text(record)


def shared_walk(x):
    """``json_bytes_columns`` as it was before the walk stopped sharing containers' views: always the shared walk."""
    taken = _columns_text(x, True)
    if taken is None:
        return json_bytes(x), []
    data, columns = taken
    if not data.isascii() or b"\x7f" in data:
        data = _NOT_ASCII_SAFE.sub(_escape, data.decode()).encode("ascii")
    if data.count(PLACEHOLDER_PREFIX) != len(columns):
        return json_bytes(x), []
    return data, columns


cited_twice = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4), inner.map(lambda v: [v, {"again": v}])
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(cited_twice)
def test_the_unshared_walk_takes_out_what_the_shared_walk_does(x):
    """Containers and columns cited twice, anywhere: the same text and the same columns as the walk sharing each
    container's view (its placeholders once per column and container), and the canonical text back."""
    text, taken = json_bytes_columns(x)
    ref_text, ref_taken = shared_walk(x)
    assert text == ref_text and len(taken) == len(ref_taken) and all(a is b for a, b in zip(taken, ref_taken, strict=True))
    assert round_trip(x)[0] == json_text(x)


def test_columns_across_the_chunks_of_the_shuffle_come_back_and_keep_the_layout():
    """``pack`` makes the deltas and their shuffle a chunk of 2**15 values at a time: columns longer than a chunk, ending
    on a chunk's last value or its first, give the text back; and for any int64 columns (extremes on either side of a
    chunk's edge: deltas that wrap) the values' frame is the module doc's layout (lengths ‖ columns, each value minus the
    one before it modulo 2**64, little-endian, byte k of every delta together), made here over the whole array at once."""
    chunk = 1 << 15
    rng = np.random.default_rng(20)
    sizes = [chunk - 3, 9, 2 * chunk + 5, chunk - 1, 8, chunk, 3 * chunk + 7]  # after the lengths: edges at different values
    safe_arrays = [rng.integers(-JSON_SAFE_INT, JSON_SAFE_INT, size=n, dtype=np.int64) for n in sizes]
    record = {"cols": [column(a) for a in safe_arrays]}
    text, columns = json_bytes_columns(record)
    assert len(columns) == len(sizes)
    assert document_text(pack(text, columns, COLUMNS_FORMAT)) == json_text(record)
    assert document_text(pack(text, columns, NARROW_FORMAT)) == json_text(record)

    extremes = np.array([*I64, -1, 0, 1], dtype=np.int64)
    arrays = [rng.choice(np.concatenate([extremes, rng.integers(*I64, size=50, dtype=np.int64)]), size=n) for n in sizes]
    packed = pack(b"{}", arrays, COLUMNS_FORMAT)
    values = np.concatenate([np.array(sizes, dtype=np.int64), *arrays])
    deltas = np.diff(values, prepend=np.int64(0)).astype("<i8")
    shuffled = deltas.view(np.uint8).reshape(-1, 8).T.copy()
    assert packed.endswith(b":" + _codec().compress(b"{}", asbytes=True) + _codec().compress(shuffled, asbytes=True))


def narrow_frame_reference(values):
    """Format 3's values frame as the module doc states it, from Python integers: the deltas modulo 2**64 read as
    signed, cut in chunks of 2**15; a chunk's width the least of 1, 2, 4, 8 bytes holding each of its deltas; the widths,
    then each chunk's low bytes, byte k of every delta of the chunk together."""
    deltas = [((v - p) + 2**63) % 2**64 - 2**63 for p, v in zip([0, *values[:-1]], values, strict=True)]
    chunks = [deltas[i : i + _CHUNK] for i in range(0, len(deltas), _CHUNK)]
    widths = [next(w for w in (1, 2, 4, 8) if all(-(2 ** (8 * w - 1)) <= d < 2 ** (8 * w - 1) for d in c)) for c in chunks]
    planes = b"".join(bytes((d % 2 ** (8 * w)) >> (8 * k) & 0xFF for d in c) for c, w in zip(chunks, widths, strict=True) for k in range(w))
    return bytes(widths) + planes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_format_3_keeps_each_chunk_as_wide_as_it_needs_and_comes_back(seed):
    """Columns whose chunks need 1, 2, 4 and 8 bytes (deltas at each width's edges, ±2**7, ±2**15, ±2**31, and int64
    extremes that wrap), across the chunks' edges: the values' frame is the module doc's layout byte for byte (a
    reference from Python integers), every chunk at the least width that holds it, and the columns come back exactly."""
    rng = np.random.default_rng(seed)
    chunk = _CHUNK
    edges = [0, 1, -1, 127, -128, 128, -129, 2**15 - 1, -(2**15), 2**15, -(2**15) - 1, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1]
    pieces = []
    for width_limit in (2**7, 2**15, 2**31, None):  # columns of deltas within ±limit (random walks), then wide ones
        n = int(rng.integers(2 * chunk, 3 * chunk))  # a whole chunk inside each column, whatever the edges
        if width_limit is None:
            steps = rng.choice(np.array([*I64, *edges], dtype=np.int64), size=n)
        else:
            steps = rng.integers(-width_limit, width_limit, size=n, dtype=np.int64)
            steps[rng.integers(0, n, size=5)] = rng.choice([e for e in edges if -width_limit <= e < width_limit], size=5)
        pieces.append(np.cumsum(steps, dtype=np.int64))  # int64 wraps: deltas modulo 2**64
    for w in (1, 2, 4):  # a chunk whose deltas reach a width's edge exactly: -2**(8w-1) fits w bytes, 2**(8w-1) does not
        for edge in (-(2 ** (8 * w - 1)), 2 ** (8 * w - 1)):
            steps = rng.integers(-(2 ** (8 * w - 1)), 2 ** (8 * w - 1), size=2 * chunk, dtype=np.int64)
            steps[rng.integers(chunk // 2, 3 * chunk // 2, size=3)] = edge
            pieces.append(np.cumsum(steps, dtype=np.int64))
    pieces += [np.array(edges, dtype=np.int64), np.zeros(chunk, dtype=np.int64), np.array([I64[0], I64[1]] * 9, dtype=np.int64)]
    frame, n_values = _values_frame(pieces, NARROW_FORMAT)
    values = [len(p) for p in pieces] + [int(v) for p in pieces for v in p]
    reference = narrow_frame_reference(values)
    assert n_values == len(values) and frame.tobytes() == reference
    assert set(reference[: -(-n_values // chunk)]) == {1, 2, 4, 8}  # every width met
    text, back = parts(pack(b"{}", pieces, NARROW_FORMAT))
    assert text == b"{}" and [c.tolist() for c in back] == [p.tolist() for p in pieces]


@pytest.mark.parametrize("damage", ["width 3", "widths 1 and 3", "width moved", "frame size", "values", "values past the frame"])
def test_a_format_3_value_whose_widths_or_sizes_lie_is_refused(damage):
    """A chunk's width that is not 1, 2, 4 or 8 (alone, or with another changed so that the sizes still add up), a width
    changed to another (the frame no longer of its size), the header's frame size or value count off by one, a value
    count far past what the frame holds: ``ValueError``, never other values (nor an allocation of the count's size)."""
    pieces = [np.arange(3 * _CHUNK, dtype=np.int64) * 1000, np.arange(50, dtype=np.int64)]
    packed = pack(b"{}", pieces, NARROW_FORMAT)
    fields = packed[len(NARROW_HEADER) :].split(b":", 5)
    sizes, frames = [int(f) for f in fields[:5]], fields[5]
    codec = _codec()
    raw = bytearray(codec.decompress(frames[sizes[3] :], decompressed_size=sizes[4], asbytes=True))
    assert list(raw[:4]) == [4, 2, 2, 4]  # the lengths (98 304, 50) then steps of 1 000, the jump to the second column
    if damage == "width 3":
        raw[0] = 3
    elif damage == "widths 1 and 3":
        raw[1], raw[2] = 1, 3  # the same frame size: only the widths' check refuses it
    elif damage == "width moved":
        raw[3] = 2
    if damage == "frame size":
        sizes[4] += 1
    if damage == "values":
        sizes[2] += 1
    if damage == "values past the frame":
        sizes[2] = 10**16
    value_frame = codec.compress(bytes(raw), asbytes=True)
    head = "".join(f"{n}:" for n in [*sizes[:3], sizes[3]]).encode() + f"{sizes[4]}:".encode()
    with pytest.raises(ValueError):
        document_text(NARROW_HEADER + head + frames[: sizes[3]] + value_frame)


@pytest.mark.parametrize("document_format", PACKED)
def test_pack_makes_its_frames_in_the_system_pool_and_the_same_bytes(document_format):
    """``pack``'s zstd frames are made in pyarrow's system pool (``_frame_pool``), none in its default pool (mimalloc,
    whose fresh segment for a ~133 MB frame cost some closes 0.2-0.45 s of system time): the value is the same bytes
    as frames made in the default pool."""
    import pyarrow  # type: ignore[import-untyped]

    rng = np.random.default_rng(25)
    arrays = [rng.integers(-JSON_SAFE_INT, JSON_SAFE_INT, size=n, dtype=np.int64) for n in (9, 1 << 15, 70_001)]
    record = {"cols": [column(a) for a in arrays], "name": "x"}
    text, columns = json_bytes_columns(record)
    default, system = pyarrow.default_memory_pool(), pyarrow.system_memory_pool()
    before = (default.num_allocations(), system.num_allocations())
    packed = pack(text, columns, document_format)
    assert default.num_allocations() == before[0]
    assert system.num_allocations() >= before[1] + 2  # (the two frames)
    codec = _codec()
    in_default = codec.compress(text, asbytes=True) + codec.compress(_values_frame(columns, document_format)[0], asbytes=True)
    assert packed.endswith(b":" + in_default)
    assert document_text(packed) == json_text(record)


@pytest.mark.parametrize("document_format", PACKED)
def test_a_packed_value_whose_header_lies_is_refused(document_format):
    HEADER = HEADERS[document_format]
    record = {"a": column(list(range(100)))}
    packed = pack(*json_bytes_columns(record), document_format)
    size = packed[len(HEADER) :].split(b":")[0]
    with pytest.raises(ValueError):
        document_text(packed.replace(HEADER + size, HEADER + str(int(size) + 1).encode(), 1))
    with pytest.raises(ValueError):
        document_text(HEADER + b"12:x:")


@pytest.mark.parametrize("name", ["slash_dodge_unbond", "redelegate_dodge"])
def test_real_records_of_seeded_worlds(name):
    state = seeded_world_state(name)
    for record in records(state):
        assert round_trip(record, COLUMNS_FORMAT)[0] == json_text(record) == round_trip(record, NARROW_FORMAT)[0]


def close_an_epoch(eng, keys):
    settle_honest_task(eng, keys, PROMPTS[0], with_garbage=True)
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    eng.submit_as(keys["oracle"], "epoch.close", {})


def epoch_rows(path):
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, data FROM documents WHERE collection = 'epoch'").fetchall())
    finally:
        con.close()


def test_a_new_sqlite_database_writes_format_3_and_verify_reads_it(tmp_path):
    path = tmp_path / "cor.db"
    eng, keys = make_network(f"sqlite:///{path}", tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="doc2")
    try:
        close_an_epoch(eng, keys)
        with eng.store.reader() as conn:
            assert eng.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY) == str(NARROW_FORMAT)
            stored = stored_rows(conn)
        rows = epoch_rows(path)
        assert rows and all(v.startswith(NARROW_HEADER) for v in rows.values())
        assert stored["epoch"] == {str(e): json_text(r) for e, r in eng.state.epochs.items() if e > eng.state.pruned.epochs_through}
        report, _ = verify_store(eng.store)
        assert report.ok, report
    finally:
        eng.store.dispose()


def test_opening_a_writer_loads_no_codec_and_its_first_close_packs(tmp_path):
    """The engine does not import the codec (pyarrow, ~0.2 s with numpy) when a writer opens: `cor serve` and every
    writing CLI command open one, few close an epoch. The close that packs a document loads it."""
    path = tmp_path / "cor.db"
    eng, keys = make_network(f"sqlite:///{path}", tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="doc3")
    eng.store.dispose()
    script = (
        "import sys\n"
        "from cor_incentives.app.engine import Engine\n"
        f"eng = Engine.open({f'sqlite:///{path}'!r})\n"
        "assert eng.projector.document_format == 3, eng.projector.document_format\n"
        "print('pyarrow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]
    eng = Engine.open(f"sqlite:///{path}")
    try:
        close_an_epoch(eng, keys)
        rows = epoch_rows(path)
        assert rows and all(v.startswith(NARROW_HEADER) for v in rows.values())
    finally:
        eng.store.dispose()


def test_a_database_that_chose_format_2_keeps_it(tmp_path):
    """A database whose meta says format 2 (written before format 3 existed) keeps writing format 2: its stored
    documents stay as they are, the next epoch's is format 2 too, and ``cor verify`` reads both."""
    path = tmp_path / "cor.db"
    url = f"sqlite:///{path}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="doc2k")
    close_an_epoch(eng, keys)
    eng.store.dispose()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = ?", (str(COLUMNS_FORMAT), EPOCH_DOCUMENT_FORMAT_KEY))
    con.execute("UPDATE documents SET data = ? WHERE collection = 'epoch' AND key = '0'", (pack(*parts(epoch_rows(path)["0"]), COLUMNS_FORMAT),))
    con.commit()
    con.close()
    before = epoch_rows(path)
    eng = Engine.open(url, check_conservation=True)
    try:
        close_an_epoch(eng, keys)
        with eng.store.reader() as conn:
            assert eng.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY) == str(COLUMNS_FORMAT)
        after = epoch_rows(path)
        assert after["0"] == before["0"] and after["0"].startswith(HEADER)
        assert after["1"].startswith(HEADER) and document_text(after["1"]) == json_text(eng.state.epochs[1])
        report, _ = verify_store(eng.store)
        assert report.ok, report
    finally:
        eng.store.dispose()


@pytest.fixture(scope="module")
def with_columns(tmp_path_factory):
    """A closed epoch whose format-2 document holds columns (ten tasks: each node line's task ids, the streams' tasks)."""
    d = tmp_path_factory.mktemp("columns")
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys", n_miners=3, n_validators=3, params={"redundancy": 3}, seed="cols")
    for i in range(10):
        settle_honest_task(eng, keys, PROMPTS[i % len(PROMPTS)], with_garbage=False)
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    eng.store.dispose()
    return d / "cor.db"


@pytest.mark.parametrize("document_format", PACKED)
@pytest.mark.parametrize("damage", ["none", "first", "last", "lengths", "text", "undecodable"])
def test_verify_compares_a_packed_document_in_its_parts(with_columns, tmp_path, damage, document_format):
    """``cor verify`` compares a format-2 or format-3 document (the database writes format 3; the same document stored
    as format 2 for the other) in its parts: its text with placeholders and its int64 columns with the replayed
    record's (``same_document``), never writing the columns as text when they match; one value of a column changed (the
    first column's first value, the last one's last), two columns' lengths moved by one (the same values cut elsewhere),
    a byte of the text changed, or a value that does not decompress still fails ``projections`` naming the epoch (the
    text compared then, as before), and the log and the roots still check."""
    path = tmp_path / "cor.db"
    shutil.copyfile(with_columns, path)
    stored = epoch_rows(path)["0"]
    assert stored.startswith(NARROW_HEADER)
    text, cols = parts(stored)
    stored = pack(text, cols, document_format)
    assert len(cols) >= 2 and len(cols[0]) >= 8 and len(cols[-1]) >= 8
    changed = [c.copy() for c in cols]
    if damage == "first":
        changed[0][0] += 1
    elif damage == "last":
        changed[-1][-1] -= 1
    elif damage == "lengths":
        changed[0], changed[1] = cols[0][:-1], np.concatenate([cols[0][-1:], cols[1]])
    at = max(i for i in range(text.index(b'"root":')) if text[i : i + 1].isdigit())  # a digit of the text, outside the columns
    value = {
        "none": stored,
        "text": pack(text[:at] + (b"1" if text[at : at + 1] == b"0" else b"0") + text[at + 1 :], cols, document_format),
        "undecodable": stored[:-5] + b"xxxxx",
    }.get(damage, pack(text, changed, document_format))
    con = sqlite3.connect(path)
    con.execute("UPDATE documents SET data = ? WHERE collection = 'epoch' AND key = '0'", (value,))
    con.commit()
    con.close()
    store = db.Store(f"sqlite:///{path}", create=False)
    try:
        report, _ = verify_store(store, workers=0)
    finally:
        store.dispose()
    result = report.to_dict()
    assert result["replay"] and result["hash_chain"] and result["signatures"] and result["roots_match"] and result["epochs_checked"] == 1
    if damage == "none":
        assert report.ok, result
        return
    if damage != "undecodable":
        assert document_text(value) != document_text(stored)
    assert not report.ok and not result["projections"], result
    expected = "epoch 0: stored document is not the record's text" if damage == "undecodable" else "epoch 0: stored record differs"
    assert any(expected in e for e in result["errors"]), result["errors"]


def test_a_database_projected_before_the_format_existed_keeps_the_text(tmp_path):
    """Its documents stay as they are, and those it writes later are text too; a value of either format verifies."""
    path = tmp_path / "cor.db"
    url = f"sqlite:///{path}"
    eng, keys = make_network(url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="doc1")
    close_an_epoch(eng, keys)
    eng.store.dispose()
    con = sqlite3.connect(path)
    con.execute("DELETE FROM meta WHERE key = ?", (EPOCH_DOCUMENT_FORMAT_KEY,))  # as an engine before the key wrote it
    con.execute("UPDATE documents SET data = ? WHERE collection = 'epoch' AND key = '0'", (document_text(epoch_rows(path)["0"]),))
    con.commit()
    con.close()
    before = epoch_rows(path)
    eng = Engine.open(url, check_conservation=True)
    try:
        close_an_epoch(eng, keys)
        with eng.store.reader() as conn:
            assert eng.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY) == str(TEXT_FORMAT)
        after = epoch_rows(path)
        assert list(before) == ["0"] and after["0"] == before["0"] and isinstance(after["0"], str)
        assert isinstance(after["1"], str) and after["1"] == json_text(eng.state.epochs[1])
        report, _ = verify_store(eng.store)
        assert report.ok, report
    finally:
        eng.store.dispose()


@pytest.mark.postgres
def test_postgresql_writes_format_1(tmp_path):
    from support.services import drop_postgres_database, fresh_postgres_database

    url = fresh_postgres_database("test_document_format_pg")
    try:
        eng, keys = make_network(url, tmp_path / "keys", n_miners=5, n_validators=3, params={"redundancy": 4}, seed="docpg")
        try:
            close_an_epoch(eng, keys)
            with eng.store.reader() as conn:
                assert eng.store.get_meta(conn, EPOCH_DOCUMENT_FORMAT_KEY) == str(TEXT_FORMAT)
                rows = conn.execute(db.documents.select().where(db.documents.c.collection == "epoch")).all()
            assert rows and all(isinstance(r.data, str) and r.data == json_text(eng.state.epochs[int(r.key)]) for r in rows)
            report, _ = verify_store(eng.store)
            assert report.ok, report
        finally:
            eng.store.dispose()
    finally:
        drop_postgres_database("test_document_format_pg")
