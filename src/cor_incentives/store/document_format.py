"""How a database stores its epoch documents: the canonical text (format 1), or its columns apart, compressed (formats 2, 3).

An epoch's document (the ``epoch`` collection of ``documents``) is the closed epoch's record as canonical JSON text
(``json_text``: sorted keys, no spaces, ASCII). At a million tasks it is ~144 MB, of which ~127 MB are 16.5 M integers
in ~9 000 columns (each node line's task ids, each stream's tasks, the bonus rows' inputs: the record's ``IntColumn``
int64 arrays). Writing them as decimal text, inserting 144 MB into SQLite's write-ahead log and checkpointing it into
the database was ~1.2 s of the close (bench/README.md). Format 2 stores the same document in ~35 MB:

- the text with each ``IntColumn`` of at least 8 values within ±2**53 replaced by a placeholder string, ``"\\u0000col:<i>"``
  (``store.json_text.json_bytes_columns``; a column is taken out only when every occurrence of that prefix in the text
  is one of its placeholders, so no string of the record can be mistaken for one);
- the columns as int64: ``[len(col 0), …, len(col n−1)] ‖ col 0 ‖ … ‖ col n−1``, each value minus the one before it
  (modulo 2**64, so any int64 is exact), little-endian, byte-shuffled (byte 0 of every delta, then byte 1, …);

    b"cor-doc2:" ‖ "<text bytes>:<n columns>:<n values>:<text frame bytes>:" (decimal ASCII)
                 ‖ zstd(text) ‖ zstd(shuffled deltas)        (standard zstd frames, level 1; stored as a BLOB)

Format 3 (session 27) is format 2 with each chunk of ``_CHUNK`` (2**15) deltas kept only as wide as it needs: the chunk's
deltas all fit a signed integer of ``w`` bytes (``w`` in 1, 2, 4, 8: the smallest that holds the chunk's least and greatest),
so only their ``w`` low bytes are kept, byte-shuffled within the chunk (byte 0 of each of the chunk's deltas, then byte
1, …, byte ``w − 1``); the values' frame starts with one byte per chunk, its width:

    b"cor-doc3:" ‖ "<text bytes>:<n columns>:<n values>:<text frame bytes>:<values frame bytes>:" (decimal ASCII)
                 ‖ zstd(text) ‖ zstd(width of chunk 0 ‖ … ‖ width of chunk k−1 ‖ chunk 0's planes ‖ … ‖ chunk k−1's planes)

(``k = ceil(n values / 2**15)``; the values frame's decompressed size, n values + Σ width × chunk's values, is in the
header because it varies.) A reader sign-extends each delta from its width (exact: the writer checked it fits) and
sums them as in format 2. At a million tasks the 16.7 M deltas are 8 bytes only in the fee column's chunks (41 of 509
chunks), 4 in 369 (task ids, qualities), 1 or 2 in 99: 63.6 MB to shuffle and compress instead of 133.4 MB, and a
31.0 MB frame instead of 32.3 (33.9 MB stored instead of 35.2; bench/README.md: the close's ``pack`` ~0.06 s less).

``document_text`` gives the canonical text back byte for byte (each placeholder replaced by its column as a JSON list,
every length and index checked), so what is published is unchanged. ``cor verify`` compares a format-2 or format-3 value
in its parts (``same_document``): the stored text frame with the replayed record's text with placeholders, the stored columns with
the record's columns, without writing either's columns as text; when that does not prove them equal it compares the
canonical texts, as before. Exact: the columns are the int64 arrays the record holds
(``IntColumn`` is int64 by construction); anything else (a list, a column past ±2**53, which the text writes as
strings) stays in the text as it is. Compression goes through pyarrow's zstd codec (a pinned dependency), imported by a
writer of format 2 or 3 when it opens the database and by a reader meeting one.

Which format a database's writer uses is a projection-format version, not a rule version: the log, the state, its hash,
snapshots and every root are the same under all three; only this projection's stored bytes differ. It is chosen once per
database and kept in ``meta`` (``epoch_document_format``, ``Engine._document_format``): a database whose projections
were written before the key existed keeps format 1 (its documents stay as they are, and the ones it writes later are
text too); a database that chose format 2 keeps writing format 2; a database projected from its first event by this
engine on SQLite is format 3. PostgreSQL stays at format 1: ``documents.data`` is ``text`` there (no bytes), and the
server compresses large values itself (TOAST). Readers take every format in any database: a row is format 2 (3) iff it
is bytes starting with its header (a format-1 text starts with ``{``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EPOCH_DOCUMENT_FORMAT_KEY = "epoch_document_format"
TEXT_FORMAT = 1
COLUMNS_FORMAT = 2
NARROW_FORMAT = 3
FORMATS = (TEXT_FORMAT, COLUMNS_FORMAT, NARROW_FORMAT)
HEADER = b"cor-doc2:"
NARROW_HEADER = b"cor-doc3:"
_HEADERS = {COLUMNS_FORMAT: HEADER, NARROW_FORMAT: NARROW_HEADER}
_WIDTHS = (1, 2, 4, 8)
ZSTD_LEVEL = 1
_PLACEHOLDER = re.compile(rb'"\\u0000col:([0-9]+)"')
_CHUNK = 1 << 15
"""Values per chunk of ``pack``'s deltas and byte shuffle (256 KiB of int64); in format 3 also the chunk a width is
chosen for (part of the format: a reader cuts the values frame by it)."""


def _codec() -> Any:
    import pyarrow  # type: ignore[import-untyped]  # a pinned dependency, imported by whoever meets format 2

    return pyarrow.Codec("zstd", compression_level=ZSTD_LEVEL)


def _frame_pool() -> Any:
    """The memory pool ``pack``'s frames are made in: pyarrow's system pool (the C library's ``malloc``), not its default
    (mimalloc). The frames are the same bytes from either; what differs is how their buffer (zstd's bound on the output,
    ~133 MB for a million tasks' columns) gets its memory: mimalloc's fresh segment of that size spent 0.2-0.45 s of
    system time in some closes and not in others (few page faults: the kernel's huge-page work, as numpy's advice did
    before ``collector.small_pages``; bench/README.md), the system pool's small pages ~0.02-0.05 s."""
    import pyarrow

    return pyarrow.system_memory_pool()


def prepare(document_format: int) -> None:
    """Load what a writer of ``document_format`` needs (pyarrow's codec, and numpy with it). ``pack`` and ``unpack`` load it
    on first use; a process that times its first close calls this before its clock (bench/epoch_e2e.py): a running
    writer imported it at its first close, once, and an import is not a close's work. The engine does not call it on
    open (each writer opens, most never close an epoch: ~0.2 s of every `cor serve` start and writing CLI command)."""
    if document_format not in FORMATS:
        raise ValueError(f"unknown epoch document format {document_format}")
    if document_format != TEXT_FORMAT:
        _codec()


def pack(text: bytes, columns: Sequence[npt.NDArray[np.int64]], document_format: int = NARROW_FORMAT) -> bytes:
    """The format-2 or format-3 value of a document: ``text`` (``json_bytes_columns``: a placeholder for each column taken
    out) and the columns' int64 arrays, in the order of their indices (the module doc gives the layouts)."""
    if document_format not in _HEADERS:
        raise ValueError(f"epoch document format {document_format} does not pack columns")
    codec, pool = _codec(), _frame_pool()
    values, n_values = _values_frame(columns, document_format)
    # pyarrow buffers, joined once (not each copied into bytes first), from the C library's allocator (``_frame_pool``)
    text_frame = codec.compress(text, asbytes=False, memory_pool=pool)
    value_frame = codec.compress(values, asbytes=False, memory_pool=pool)
    sizes = [len(text), len(columns), n_values, text_frame.size] + ([values.size] if document_format == NARROW_FORMAT else [])
    header = "".join(f"{n}:" for n in sizes).encode("ascii")
    return b"".join((_HEADERS[document_format], header, text_frame, value_frame))


def _values_frame(columns: Sequence[npt.NDArray[np.int64]], document_format: int) -> tuple[npt.NDArray[np.uint8], int]:
    """The columns' frame before compression in ``document_format`` (2: ``_shuffled``; 3: ``_narrowed``), and how many
    values it holds (the lengths' and the columns')."""
    import numpy as np

    lengths = np.fromiter((len(c) for c in columns), dtype=np.int64, count=len(columns))
    n_values = len(lengths) + sum(len(c) for c in columns)
    if document_format == COLUMNS_FORMAT:
        return _shuffled_deltas([lengths, *columns], n_values), n_values
    return _narrowed_deltas([lengths, *columns], n_values), n_values


def _shuffled(columns: Sequence[npt.NDArray[np.int64]]) -> npt.NDArray[np.uint8]:
    """The bytes of the columns' frame before compression in format 2: ``[lengths] ‖ col 0 ‖ …`` as int64 deltas,
    byte-shuffled."""
    return _values_frame(columns, COLUMNS_FORMAT)[0]


def _delta_chunks(pieces: Sequence[npt.NDArray[np.int64]]) -> Iterator[npt.NDArray[np.int64]]:
    """The pieces' values one after the other, each minus the one before it (the first minus 0) modulo 2**64 as
    little-endian int64 (cumsum undoes it exactly), ``_CHUNK`` at a time: one buffer, overwritten by the next chunk (the
    values are never concatenated and what reads a chunk stays in the cache). Both packed formats' deltas, made here."""
    import numpy as np

    staged = np.zeros(_CHUNK + 1, dtype="<i8")  # staged[0]: the value before the chunk; staged[1:]: the chunk's values
    deltas = np.empty(_CHUNK, dtype="<i8")
    filled = 0
    for piece in pieces:
        at, size = 0, len(piece)
        while at < size:
            take = min(_CHUNK - filled, size - at)
            staged[1 + filled : 1 + filled + take] = piece[at : at + take]
            filled, at = filled + take, at + take
            if filled == _CHUNK:
                yield np.subtract(staged[1:], staged[:_CHUNK], out=deltas)  # int64 arrays wrap: modulo 2**64
                staged[0], filled = staged[_CHUNK], 0
    if filled:
        yield np.subtract(staged[1 : filled + 1], staged[:filled], out=deltas[:filled])


def _shuffled_deltas(pieces: Sequence[npt.NDArray[np.int64]], n_values: int) -> npt.NDArray[np.uint8]:
    """Format 2's values frame before compression: the pieces' deltas (``_delta_chunks``, ``n_values`` in all),
    byte-shuffled: an (8, n_values) array whose row k is byte k of every delta (made a chunk at a time, the shuffle's
    strided reads in the cache: 16.5 M values at a million tasks in ~0.2 s instead of ~0.34 with whole-array passes)."""
    import numpy as np

    shuffled = np.empty((8, n_values), dtype=np.uint8)
    done = 0
    for deltas in _delta_chunks(pieces):
        shuffled[:, done : done + len(deltas)] = deltas.view(np.uint8).reshape(-1, 8).T
        done += len(deltas)
    return shuffled


def _narrowed_deltas(pieces: Sequence[npt.NDArray[np.int64]], n_values: int) -> npt.NDArray[np.uint8]:
    """Format 3's values frame before compression: the same deltas (``_delta_chunks``), each chunk's width ``w`` the least
    of 1, 2, 4, 8 bytes whose signed range holds every delta of the chunk, and its ``w`` low bytes of each delta
    byte-shuffled within the chunk. The frame is the chunks' widths (a byte each), then each chunk's ``w`` planes in
    order."""
    import numpy as np

    n_chunks = -(-n_values // _CHUNK)
    out = np.empty(n_chunks + 8 * n_values, dtype=np.uint8)  # the most it can take; only what is written is touched
    bounds = [(w, -(1 << (8 * w - 1)), 1 << (8 * w - 1)) for w in _WIDTHS[:-1]]
    at_byte = n_chunks
    for chunk, deltas in enumerate(_delta_chunks(pieces)):
        count, least, greatest = len(deltas), int(deltas.min()), int(deltas.max())
        width = next((w for w, low, high in bounds if low <= least and greatest < high), 8)
        out[at_byte : at_byte + width * count].reshape(width, count)[...] = deltas.view(np.uint8).reshape(-1, 8)[:, :width].T
        out[chunk] = width
        at_byte += width * count
    return out[:at_byte]


def _narrowed_values(raw: bytes, n_values: int) -> npt.NDArray[np.int64]:
    """The deltas of format 3's decompressed values frame, each sign-extended to int64 (``ValueError`` when a width is
    not 1, 2, 4 or 8 or the frame is not of the size its widths say)."""
    import numpy as np

    n_chunks = -(-n_values // _CHUNK)
    wrong = ValueError("a format-3 epoch document whose values frame does not match its chunks' widths")
    if n_values + n_chunks > len(raw):  # every value takes at least a byte, every chunk its width's
        raise wrong
    frame = np.frombuffer(raw, dtype=np.uint8)
    widths = frame[:n_chunks].astype(np.int64)
    counts = np.full(n_chunks, _CHUNK, dtype=np.int64)
    if n_chunks:
        counts[-1] = n_values - _CHUNK * (n_chunks - 1)
    if not np.isin(widths, _WIDTHS).all() or n_chunks + int(widths @ counts) != len(raw):
        raise wrong
    deltas = np.empty(n_values, dtype=np.int64)
    at_byte = n_chunks
    for i, (width, count) in enumerate(zip(widths.tolist(), counts.tolist(), strict=True)):
        planes = frame[at_byte : at_byte + width * count].reshape(width, count)
        deltas[i * _CHUNK : i * _CHUNK + count] = np.ascontiguousarray(planes.T).view(f"<i{width}").reshape(-1)
        at_byte += width * count
    return deltas


def is_packed(data: str | bytes) -> bool:
    """Whether a stored value is a format-2 or format-3 document."""
    return _format_of(data) is not None


def _format_of(data: str | bytes) -> int | None:
    """The packed format of a stored value (2 or 3), None for anything else (a format-1 text)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    head = bytes(data[: len(HEADER)])
    return next((f for f, h in _HEADERS.items() if head == h), None)


def document_text(data: str | bytes) -> str:
    """The canonical text of a stored epoch document, under either format (format 2: decompressed, each placeholder
    replaced by its column's JSON list; every length and index checked)."""
    if isinstance(data, str):
        return data
    if not is_packed(data):
        return bytes(data).decode("ascii")
    return unpack(bytes(data)).decode("ascii")


def same_document(data: str | bytes, text: bytes, columns: Sequence[npt.NDArray[np.int64]]) -> bool:
    """Whether the stored value ``data`` is, byte for byte, the format-2 value of ``json_bytes_columns(record) == (text,
    columns)`` once decompressed: then its canonical text is the record's (``document_text(data) == json_text(record)``),
    decided without writing the columns as decimal text (``cor verify``'s comparison; at a million tasks 127 MB of it).

    The stored text frame must equal ``text`` and the stored columns' frame the bytes ``pack`` compresses for ``columns``
    (their lengths and every value, as shuffled int64 deltas: a bijection of the values); the header's sizes are checked
    as ``unpack`` checks them. False says only that this comparison does not prove it (a format-1 text, a damaged or
    malformed value, a record whose columns the writer kept in the text): the caller then compares the texts."""
    document_format = _format_of(data)
    if isinstance(data, str) or document_format is None:
        return False
    try:
        stored_text, raw_values, n_columns, _ = _frames(bytes(data))
    except ValueError:
        return False
    return n_columns == len(columns) and stored_text == text and raw_values == _values_frame(columns, document_format)[0].tobytes()


def _frames(raw: bytes) -> tuple[bytes, bytes, int, int]:
    """A format-2 or format-3 value's text and columns' frame decompressed (``ValueError`` when its header is malformed,
    a frame does not decompress or is not of the size the header says), the number of columns and of values."""
    document_format = _format_of(raw)
    n_sizes = 4 if document_format == COLUMNS_FORMAT else 5
    fields = raw[len(HEADER) :].split(b":", n_sizes)
    if document_format is None or len(fields) != n_sizes + 1 or not all(f.isdigit() for f in fields[:n_sizes]):
        raise ValueError(f"a format-{document_format} epoch document with a malformed header")
    text_size, n_columns, n_values, text_frame_size = (int(f) for f in fields[:4])
    values_size = 8 * n_values if document_format == COLUMNS_FORMAT else int(fields[4])
    frames = fields[n_sizes]
    codec = _codec()
    try:
        text: bytes = codec.decompress(frames[:text_frame_size], decompressed_size=text_size, asbytes=True)
        raw_values: bytes = codec.decompress(frames[text_frame_size:], decompressed_size=values_size, asbytes=True)
    except OSError as exc:  # pyarrow: a corrupt frame, or one of another size than the header says
        raise ValueError(f"a format-{document_format} epoch document that does not decompress: {exc}") from exc
    if len(text) != text_size or len(raw_values) != values_size:
        raise ValueError(f"a format-{document_format} epoch document shorter than its header says")
    return text, raw_values, n_columns, n_values


def parts(raw: bytes) -> tuple[bytes, list[npt.NDArray[np.int64]]]:
    """A format-2 or format-3 value's text (with its placeholders) and its columns, in the order of their indices: what ``pack`` was
    given (``ValueError`` as ``unpack``: a malformed header, a frame that does not decompress, lengths that do not add up)."""
    text, values, n_columns, ends = _values(raw)
    return text, [values[int(ends[i - 1]) if i else n_columns : int(ends[i])] for i in range(n_columns)]


def _values(raw: bytes) -> tuple[bytes, npt.NDArray[np.int64], int, npt.NDArray[np.int64]]:
    """The text, every int64 value (the lengths first), the number of columns and where each column ends among the values."""
    import numpy as np

    text, raw_values, n_columns, n_values = _frames(raw)
    if _format_of(raw) == COLUMNS_FORMAT:
        deltas = np.ascontiguousarray(np.frombuffer(raw_values, dtype=np.uint8).reshape(8, n_values).T).view("<i8").reshape(-1)
    else:
        deltas = _narrowed_values(raw_values, n_values)
    values = np.cumsum(deltas, dtype=np.int64)
    lengths = values[:n_columns]
    if n_columns > n_values or (lengths < 0).any() or int(lengths.sum()) != n_values - n_columns:
        raise ValueError("a packed epoch document whose column lengths do not add up")
    return text, values, n_columns, n_columns + np.cumsum(lengths)


def unpack(raw: bytes) -> bytes:
    import orjson

    text, values, n_columns, ends = _values(raw)
    if n_columns == 0:  # nothing taken out (json_bytes_columns kept every column): the text as it is, whatever it holds
        return text
    pieces = _PLACEHOLDER.split(text)
    found = sorted(int(i) for i in pieces[1::2])
    if found != list(range(n_columns)):
        raise ValueError("a packed epoch document whose placeholders are not its columns, each once")
    out = [pieces[0]]
    for k in range(1, len(pieces), 2):
        i = int(pieces[k])
        start = int(ends[i - 1]) if i else n_columns
        out.append(orjson.dumps(values[start : int(ends[i])], option=orjson.OPT_SERIALIZE_NUMPY))
        out.append(pieces[k + 1])
    return b"".join(out)
