"""All-or-nothing events: an undo journal of every change made to the state while an event applies.

Every mutable thing the state changes in place is journaled: records (``Journaled`` dataclasses,
whose attribute writes are recorded) and containers (``JDict``, ``JList``, ``JSet``, whose writes
are recorded). A plain ``dict``, ``list`` or ``set`` stored into a record, into ``State`` or into a
journaled container becomes a journaled one at that moment (so ``state.x = {}`` needs no
ceremony), one level deep; write through what was stored, not through the plain object it was
made from. A container nested inside a stored value is for reading (evidence, a statement line's
inputs); to change one in a later event, store it through a journaled container or record.

``apply`` runs an event's handler inside ``journal()``: when the handler raises, every recorded
write is undone in reverse order, and the state is exactly what it was; when it returns, the
journal is dropped. Replaying a log that was accepted needs no journal (``atomic=False``): each
write then costs one lookup of the journal in force and nothing else.

A replay that needs no undo but does need one dict's writes (``cor verify``'s conservation check
reads which balances an event wrote, and what they held before) runs without a journal inside
``write_log(balances)`` (or ``logging_to`` one ``WriteLog``, restarted before each event): only the
writes to that dict are logged, as each key's value before its first write, and nothing is undone
(verify stops replaying at the first event that fails).

A refused event also leaves every journaled dict's keys in the order they had: the core iterates dicts in
insertion order and the state's encoding (``state_codec``, the state hash) keeps it, but undoing a deletion
re-inserts the key at the end. So the first deletion of an existing key of a dict in a journal (``Entries``) keeps
what of that dict's key order a rollback needs (``keep_order``: the keys from the deleted one to the end), and
``rollback`` puts the dict back in that order after undoing every entry. Only for an event that deletes from it under
a journal (a live event; a replay has none). A savepoint's undo (``attempt``) does not restore places: see ``rollback``.

Which journal is in force is per thread (a context variable), so a replay in another thread of
the same process is never journaled by mistake. The journal changes nothing the state holds and
no result: the core stays deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import repeat
from typing import TYPE_CHECKING, Any, SupportsIndex, TypeVar

from .errors import EngineError

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

Undo = tuple[Callable[..., None], Any, Any, Any]
_MISSING = object()
MISSING = _MISSING  # what ``values_before`` gives for a key that was absent
_current: ContextVar[Entries | None] = ContextVar("cor_journal", default=None)
_logging: ContextVar[WriteLog | None] = ContextVar("cor_write_log", default=None)


TAIL_WALK = 256
"""How many keys ``keep_order`` walks back from a dict's end looking for the deleted key before it keeps the dict's whole
order instead (one ``list(d)``): a deletion near the end (an escrow emptied in a ledger of a million accounts) keeps a
short tail; one near the front (the close retiring the oldest of a million live tasks) keeps the whole order without a
Python walk and a set of every key (0.07 s at 1 M tasks)."""

Kept = tuple[dict[Any, Any], list[Any], set[Any] | None]
"""(the dict, the order kept, its keys): ``order`` is the dict's keys from the first deleted one to the end, as they were
just before that deletion (a *tail*: the keys before it have not moved; ``keys`` is its set), or every key (``keys``
None)."""


class Entries(list[Undo]):
    """A journal: its undo entries in write order, and ``orders``, what it kept of the key order of each dict it deleted a
    key from (``keep_order``), put back by ``rollback``. A savepoint's journal (``attempt``) shares the ``orders`` of the
    journal it is inside, so the order kept is always the one from before the event's first deletion; ``orders`` is None
    when nothing restores places (a savepoint in a replay, which has no journal)."""

    __slots__ = ("orders",)

    def __init__(self, orders: dict[int, Kept] | None) -> None:
        super().__init__()
        self.orders = orders


def keep_order(entries: Entries, d: dict[Any, Any], key: Any = _MISSING) -> None:
    """Before ``key`` of ``d`` is deleted under the journal ``entries`` (``_MISSING``: every key, a clear): keep what a
    rollback needs to put ``d``'s keys back in their order.

    Before the event's first deletion from ``d`` its keys are in their order (overwrites keep places; added keys go last,
    and are undone), so that order is the one to restore. At the first deletion only the keys from the deleted one to the
    end are kept (``reversed`` iteration stops at it): the keys before it keep their places unless one of them is deleted
    later, and then the rest of the order is taken once (the dict's keys outside the tail, in their order). A dict whose
    deletions are near its end (an escrow emptied, in a ledger of a million accounts) costs what lies after them; one
    whose deleted key is more than ``TAIL_WALK`` keys from the end keeps the whole order at once (``list(d)``)."""
    orders = entries.orders
    if orders is None:
        return
    kept = orders.get(id(d))
    if kept is None:
        if key is _MISSING:
            orders[id(d)] = (d, list(d), None)
            return
        tail = []
        for k in reversed(d):
            tail.append(k)
            if k is key or k == key:
                tail.reverse()
                orders[id(d)] = (d, tail, set(tail))
                return
            if len(tail) == TAIL_WALK:  # far from the end: the whole order, copied at C speed, is cheaper
                break
        orders[id(d)] = (d, list(d), None)
        return
    order, keys = kept[1], kept[2]
    if keys is not None and (key is _MISSING or key not in keys):  # a key before the tail: the whole order, once
        orders[id(d)] = (d, [k for k in d if k not in keys] + order, None)


@contextmanager
def journal() -> Iterator[Entries]:
    """Record every write to journaled state inside the block; undo them all if the block raises."""
    entries = Entries({})
    token = _current.set(entries)
    try:
        yield entries
    except BaseException:
        rollback(entries)
        raise
    finally:
        _current.reset(token)


def attempt(fn: Callable[[], object]) -> EngineError | None:
    """Run ``fn`` all-or-nothing inside the event being applied (a savepoint).

    On EngineError only ``fn``'s own writes are undone and the error is returned; the event goes on.
    This is how a consequence that cannot happen (an offence already reported, a proposal whose
    treasury spend no longer fits) is skipped instead of refusing the oracle's tick. Journaled even
    during a replay without a journal, so live and replay skip exactly the same writes."""
    outer = _current.get()
    inner = Entries(outer.orders if outer is not None else None)
    token = _current.set(inner)
    try:
        fn()
    except EngineError as exc:
        rollback(inner, in_place=False)
        return exc
    except BaseException:  # the event fails: its own journal undoes what was written before; this undoes fn's writes
        rollback(inner, in_place=False)
        raise
    finally:
        _current.reset(token)
    if outer is not None:
        outer.extend(inner)
    return None


def unjournaled_fields(obj: Journaled) -> dict[str, Any] | None:
    """``obj``'s attributes as its ``__dict__`` when no journal is in force, else None. A write there is what
    ``Journaled.__setattr__`` would store (for a field already set, never packed, given a value that is not a plain
    container) without its look-ups (~0.5 µs a write): for the few writes an event makes after its journal closed
    (``apply``: the head, the ledger's next postings list). With a journal in force, write the attribute (to be undone)."""
    return obj.__dict__ if _current.get() is None else None


def on_undo(undo: Callable[[Any, Any, Any], None], obj: Any, a: Any = None, b: Any = None) -> None:
    """Journal ``undo(obj, a, b)`` for a write made outside the journaled records and containers (a column store's
    append, core/epoch_columns.py); nothing when no journal is in force (a replay)."""
    entries = _current.get()
    if entries is not None:
        entries.append((undo, obj, a, b))


def rollback(entries: list[Undo], *, in_place: bool = True) -> None:
    """Undo ``entries`` newest first (writes made while undoing are not journaled), then (``in_place``) put each dict a
    key was deleted from back in its key order (``Entries.orders``).

    A savepoint (``attempt``) undoes without ``in_place``: a deleted key it restores goes to the end of its dict. That
    undo is part of an accepted event, done the same way by the live engine and by a replay, and the state hashes
    anchored in logs hold that order; a refused event is never replayed, so its rollback restores places (the orders a
    savepoint kept are its journal's own: they share them)."""
    token = _current.set(None)
    try:
        for undo, obj, a, b in reversed(entries):
            undo(obj, a, b)
        entries.clear()
        if in_place and type(entries) is Entries and entries.orders:  # (a copy of the entries keeps no orders)
            for d, order, keys in entries.orders.values():
                _restore_order(d, order, keys is not None)
            entries.orders.clear()
    finally:
        _current.reset(token)


def _restore_order(d: dict[Any, Any], order: list[Any], tail: bool) -> None:
    """Put ``d``'s keys back in ``order`` (``keep_order``), after every entry was undone: ``d`` holds the keys it held
    when the journal began (a key of ``order`` it lacks was added during the event, and undone).

    A tail: the keys before it never moved, so each key of the tail goes last, in the tail's order. The whole order:
    ``d`` is rebuilt in it (a key it lacks, which only a deletion the journal missed could leave, goes last)."""
    if tail:
        for k in order:
            if dict.__contains__(d, k):
                v = dict.pop(d, k)
                dict.__setitem__(d, k, v)
        return
    items = [(k, dict.__getitem__(d, k)) for k in order if dict.__contains__(d, k)]
    if len(items) != len(d):
        kept = dict(items)
        items.extend((k, v) for k, v in dict.items(d) if k not in kept)
    if list(d) != [k for k, _ in items]:
        dict.clear(d)
        dict.update(d, items)


def adopt(value: Any) -> Any:
    """A plain container becomes its journaled twin, one level deep (records and everything else pass
    through). What it holds is adopted when it is stored through it, not before: a nested container
    that is only ever read (an evidence document, a statement line's inputs) costs nothing."""
    t = type(value)
    if t is dict:
        return JDict(value)
    if t is list:
        return JList(value)
    if t is set:
        return JSet(value)
    return value


def values_before(entries: list[Undo], obj: dict[Any, Any]) -> dict[Any, Any] | None:
    """What each key of the journaled dict ``obj`` held before the writes in ``entries`` (``MISSING``
    for a key that was absent), for the keys written; None when ``obj`` was rewritten whole (cleared,
    or any write not recorded per key), so the caller must look at all of it."""
    before: dict[Any, Any] = {}
    for undo, target, key, old in entries:
        if target is obj:
            if undo is _undo_keys:  # a batch of key writes (``Writes``): the oldest value of each key comes first
                for k, v in key:
                    before.setdefault(k, v)
                continue
            if undo is not _undo_key:
                return None
            before.setdefault(key, old)
    return before


class WriteLog:
    """The writes to one dict made while the log is in force (``write_log``, or ``logging_to``): what each
    key written held before its first write (``MISSING`` if absent), or ``whole`` when the dict was
    cleared (no per-key record). ``restart`` empties it, so one log serves block after block (a
    replay's events) without being rebuilt."""

    __slots__ = ("watched", "before", "whole")

    def __init__(self, watched: dict[Any, Any]) -> None:
        self.watched = _logged(watched)
        self.before: dict[Any, Any] = {}
        self.whole = False

    def restart(self, watched: dict[Any, Any]) -> None:
        """Forget what was logged and log the writes to ``watched`` from here (the same dict, or the one
        that replaced it)."""
        if watched is not self.watched:
            self.watched = _logged(watched)
        self.before = {}
        self.whole = False

    def values_before(self) -> dict[Any, Any] | None:
        """What each key written held before the block (``MISSING`` if absent); None when rewritten whole."""
        return None if self.whole else self.before


def _logged(watched: dict[Any, Any]) -> LoggedDict[Any, Any]:
    """``watched`` as a ``LoggedDict`` (the same dict, the same contents and behaviour, with its writes noted
    while a log of it is in force); a plain dict is refused (it is not the state's)."""
    if type(watched) is JDict:
        watched.__class__ = LoggedDict
    elif type(watched) is not LoggedDict:
        raise TypeError(f"write_log needs a journaled dict, got {type(watched).__name__}")
    return watched  # type: ignore[return-value]


def noted_before(watched: LoggedDict[Any, Any]) -> dict[Any, Any] | None:
    """The values-before of the write log in force that logs ``watched`` (what ``LoggedDict.note`` fills), None when no log
    of it is in force. A writer that has just read a key's value (``MISSING``: absent) records it there before its write,
    as ``note`` would, when the key is not there yet (``ledger.Transfers.move``: two keys a posting, a close's thousands)."""
    log = _logging.get()
    return log.before if log is not None and log.watched is watched else None


@contextmanager
def write_log(watched: dict[Any, Any]) -> Iterator[WriteLog]:
    """Log the writes to the journaled dict ``watched`` made inside the block (``WriteLog``), whatever
    journal is in force (none, for a replay): nothing else is recorded and nothing is undone.

    ``watched`` becomes a ``LoggedDict`` (``_logged``). A write that bypasses the dict's methods
    (``dict.__setitem__``) is not logged; the core writes balances only through them and ``Writes``."""
    with logging_to(WriteLog(watched)) as log:
        yield log


@contextmanager
def logging_to(log: WriteLog) -> Iterator[WriteLog]:
    """``log`` in force for the block (as ``write_log``); a loop restarts it (``WriteLog.restart``) before each
    part whose writes it wants apart, instead of entering a block per part."""
    token = _logging.set(log)
    try:
        yield log
    finally:
        _logging.reset(token)


def pop_keys(d: dict[K, V], keys: list[K]) -> list[V]:
    """``[d.pop(k) for k in keys]`` for distinct keys all in ``d``, as a run of ``JDict.pop`` would (the same undo, the same
    key order kept for a rollback), at C speed: one journal entry for them all instead of one per key, and no Python call
    per key (a close dropping a million stubs: ``prune.drop_stubs``). A key missing raises ``KeyError`` before any
    deletion. Nothing is journaled when no journal is in force (a replay)."""
    values = list(map(dict.__getitem__, repeat(d, len(keys)), keys))  # (every key present, or KeyError before a change)
    if not keys:
        return values
    if type(d) is LoggedDict:
        for k in keys:
            d.note(k)
    entries = _current.get()
    if entries is not None:
        keep_order(entries, d, keys[0])  # what ``keep_order`` per key keeps: the first key's tail, or the whole order
        kept = entries.orders.get(id(d)) if entries.orders is not None else None
        if kept is not None and kept[2] is not None and not kept[2].issuperset(keys):  # a key before the tail: the whole
            keep_order(entries, d, next(k for k in keys if k not in kept[2]))
        entries.append((_undo_keys, d, list(zip(keys, values, strict=True)), None))
    deque(map(dict.__delitem__, repeat(d, len(keys)), keys), maxlen=0)
    return values


# --- undo operations ----------------------------------------------------------------------------


def _undo_attr(obj: Any, name: str, old: Any) -> None:
    object.__setattr__(obj, name, old)


def _undo_key(obj: dict[Any, Any], key: Any, old: Any) -> None:
    if old is _MISSING:
        dict.pop(obj, key, None)
    else:
        dict.__setitem__(obj, key, old)


def _undo_keys(obj: dict[Any, Any], olds: list[tuple[Any, Any]], _: Any) -> None:
    for key, old in reversed(olds):
        _undo_key(obj, key, old)


def _undo_attrs(writes: list[tuple[Any, str, Any]], _: Any, __: Any) -> None:
    for obj, name, old in reversed(writes):
        object.__setattr__(obj, name, old)


def _undo_dict(obj: dict[Any, Any], old: dict[Any, Any], _: Any) -> None:
    dict.clear(obj)
    dict.update(obj, old)


def _undo_append(obj: list[Any], length: int, _: Any) -> None:
    list.__delitem__(obj, slice(length, None))


def _undo_item(obj: list[Any], index: int, old: Any) -> None:
    list.__setitem__(obj, index, old)


def _undo_list(obj: list[Any], old: list[Any], _: Any) -> None:
    list.__setitem__(obj, slice(None), old)


def _undo_added(obj: set[Any], item: Any, _: Any) -> None:
    set.discard(obj, item)


def _undo_removed(obj: set[Any], item: Any, _: Any) -> None:
    set.add(obj, item)


def _undo_set(obj: set[Any], old: set[Any], _: Any) -> None:
    set.clear(obj)
    set.update(obj, old)


# --- many writes, few entries ----------------------------------------------------------------------


class Writes:
    """Many writes to journaled state recorded as a few journal entries: one per dict written, one for
    every attribute written, one per list appended to (instead of one per write). For an epoch step
    that writes tens of thousands of balances, stake counts and statement lines.

    Each write happens at once (what follows reads it, as with a plain write) and is undone exactly as
    the plain write would be; only its journaling is grouped. While a batch is in use, every write to
    a key or attribute it wrote must go through it (a plain journaled write to the same key between
    two of its writes would be undone out of order); appends may mix."""

    __slots__ = ("_entries", "_keys", "_attrs", "_lists")

    def __init__(self) -> None:
        self._entries = _current.get()
        self._keys: dict[int, list[tuple[Any, Any]]] = {}
        self._attrs: list[tuple[Any, str, Any]] | None = None
        self._lists: set[int] = set()

    def _olds(self, d: dict[Any, Any]) -> list[tuple[Any, Any]] | None:
        if self._entries is None:
            return None
        olds = self._keys.get(id(d))
        if olds is None:
            olds = self._keys[id(d)] = []
            self._entries.append((_undo_keys, d, olds, None))
        return olds

    def set_key(self, d: dict[K, V], key: K, value: V) -> None:
        """``d[key] = value``."""
        olds = self._olds(d)
        if olds is not None:
            olds.append((key, dict.get(d, key, _MISSING)))
        if type(d) is LoggedDict:
            d.note(key)
        dict.__setitem__(d, key, value if type(value) is int else adopt(value))  # (a balance: no container to adopt)

    def pop_key(self, d: dict[K, V], key: K) -> None:
        """``d.pop(key, None)``."""
        if key in d:
            olds = self._olds(d)
            if olds is not None:
                self.deleting(d, key)
                olds.append((key, dict.__getitem__(d, key)))
            if type(d) is LoggedDict:
                d.note(key)
            dict.__delitem__(d, key)

    def set_attr(self, obj: Journaled, name: str, value: Any) -> None:
        """``obj.name = value`` on a record."""
        if name not in obj.__dict__:
            getattr(obj, name)  # a field a snapshot left packed is decoded first (its undo restores it)
        if self._entries is not None:
            if self._attrs is None:
                self._attrs = []
                self._entries.append((_undo_attrs, self._attrs, None, None))
            self._attrs.append((obj, name, obj.__dict__[name]))
        t = type(value)  # (``adopt`` inline: most values are no container)
        object.__setattr__(obj, name, adopt(value) if t is dict or t is list or t is set else value)

    def append(self, lst: list[T], item: T) -> None:
        """``lst.append(item)``."""
        self.appending(lst)
        t = type(item)
        list.append(lst, adopt(item) if t is dict or t is list or t is set else item)

    def attr_log(self) -> list[tuple[Any, str, Any]] | None:
        """For a writer that makes ``set_attr`` writes itself, in a loop (``staking.accrue_nodes``): the list where each
        write's ``(record, name, value before)`` goes, in write order; None when no journal is in force. Only for records
        whose fields are never left packed by a snapshot (``PACKED_ATTR``: a node, a stake position), and values that are
        no container (``adopt``)."""
        if self._entries is None:
            return None
        if self._attrs is None:
            self._attrs = []
            self._entries.append((_undo_attrs, self._attrs, None, None))
        return self._attrs

    def key_log(self, d: dict[Any, Any]) -> list[tuple[Any, Any]] | None:
        """For a writer that makes ``set_key`` and ``pop_key`` writes itself, in a loop (``ledger.Transfers``): the list
        where each write's ``(key, value before)`` goes (``MISSING`` if absent), in write order; None when no journal is in
        force. The writer must also ``note`` each key first when ``d`` is a ``LoggedDict``."""
        return self._olds(d)

    def deleting(self, d: dict[Any, Any], key: Any) -> None:
        """For a writer that deletes keys of ``d`` itself (``ledger.Transfers``), before it deletes ``key`` while a journal
        is in force: keep ``d``'s key order for a rollback (``keep_order``), as ``pop_key`` does."""
        if self._entries is not None:
            keep_order(self._entries, d, key)

    def appending(self, lst: list[Any]) -> None:
        """For a writer that appends to ``lst`` itself (``list.append``, no container to adopt): journal the appends as
        ``append`` does (one entry per list)."""
        if self._entries is not None and id(lst) not in self._lists:
            self._lists.add(id(lst))
            self._entries.append((_undo_append, lst, len(lst), None))


# --- records -------------------------------------------------------------------------------------


PACKED_ATTR = "_packed"
"""A record's fields a snapshot left packed (``state_codec.PACKED_FIELDS``): name -> (the string, its decoder)."""


class Journaled:
    """Base of every mutable record: attribute writes are journaled, plain containers adopted.

    A field a snapshot left packed is absent from the instance until its first read, which decodes it
    (``__getattr__``); a write decodes it first, so its undo restores the decoded value."""

    __slots__ = ()

    if not TYPE_CHECKING:  # (hidden from the type checker, which would otherwise accept any attribute name)

        def __getattr__(self, name: str) -> Any:  # only for a name the instance lacks
            pending = self.__dict__.get(PACKED_ATTR)
            if pending is None or name not in pending:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            raw, unpack = pending[name]
            value = unpack(raw)
            object.__setattr__(self, name, value)  # not a change of the state: what the snapshot held
            del pending[name]
            return value

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if name not in d and PACKED_ATTR in d and name in d[PACKED_ATTR]:
            getattr(self, name)
        if name in d:  # (a field being set for the first time, as in ``__init__``, has nothing to undo)
            entries = _current.get()
            if entries is not None:
                entries.append((_undo_attr, self, name, d[name]))
        t = type(value)
        object.__setattr__(self, name, adopt(value) if t is dict or t is list or t is set else value)


_CONTAINERS = frozenset((dict, list, set))  # what ``adopt`` turns into a journaled twin


class _Factory:
    """The default of a field made by its default factory, in a ``fast_init`` signature (as the dataclass's shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


def fast_init(cls: type[T]) -> type[T]:
    """``cls`` (a ``Journaled`` dataclass) with an ``__init__`` that stores each field in the new instance's ``__dict__``
    itself, adopted as ``Journaled.__setattr__`` stores it, instead of one ``__setattr__`` call per field.

    The same instance as the dataclass's ``__init__`` makes (the same parameters and defaults, a default factory called
    when its argument is left out, the fields in their order): a new record has nothing to undo and no packed field, so
    ``__setattr__`` would only adopt. A replay makes a record per node registered and two statement lines per transfer.
    A class this does not cover (a field out of ``__init__`` or keyword-only, an ``InitVar``, ``__post_init__``, slots,
    its own ``__setattr__``) keeps the dataclass's ``__init__``."""
    if not _covered(cls) or cls.__setattr__ is not Journaled.__setattr__:
        return cls
    return _with_init(cls, adopting=True)


def frozen_init(cls: type[T]) -> type[T]:
    """``cls`` (a frozen dataclass: a sealed event, a posting, what ``apply`` returns) with an ``__init__`` that stores each
    field in the new instance's ``__dict__`` itself, instead of the frozen dataclass's one ``object.__setattr__`` call per
    field (~0.15 µs each: a replay makes a few such objects per event).

    The same instance as the dataclass's ``__init__`` makes (as ``fast_init``: the same parameters and defaults, a default
    factory called when its argument is left out, the fields in their order, nothing adopted); writing a field afterwards
    still raises ``FrozenInstanceError``. A class this does not cover (not a frozen dataclass, a field out of ``__init__``
    or keyword-only, an ``InitVar``, ``__post_init__``, slots) keeps the dataclass's ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not _covered(cls):
        return cls
    return _with_init(cls, adopting=False)


def _covered(cls: type[Any]) -> bool:
    """Whether a generated ``__init__`` can make ``cls``'s instances (``fast_init``, ``frozen_init``)."""
    import dataclasses

    fields = dataclasses.fields(cls)
    every = getattr(cls, "__dataclass_fields__", {})
    return not (
        len(every) != len(fields)  # an InitVar or ClassVar pseudo-field
        or any(not f.init or f.kw_only for f in fields)
        or hasattr(cls, "__post_init__")
        or "__slots__" in cls.__dict__
    )


def _with_init(cls: type[T], adopting: bool) -> type[T]:
    """``cls`` with the generated ``__init__`` (``adopting``: plain containers stored as their journaled twins)."""
    import dataclasses

    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names: dict[str, Any] = {"_adopt": adopt, "_containers": _CONTAINERS, "_factory_default": _Factory()}
    params, body = ["self"], ["    d = self.__dict__"]
    for i, f in enumerate(fields):
        arg = f"a{i}"  # (parameters keep the field names; values go through locals named apart from the helpers')
        if f.default is not dataclasses.MISSING:
            names[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
            body.append(f"    {arg} = {f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_factory_default")
            body.append(f"    {arg} = _factory{i}() if {f.name} is _factory_default else {f.name}")
        else:
            params.append(f.name)
            body.append(f"    {arg} = {f.name}")
        if adopting:
            body.append(f"    d[{f.name!r}] = _adopt({arg}) if type({arg}) in _containers else {arg}")
        else:
            body.append(f"    d[{f.name!r}] = {arg}")
    source = f"def __init__({', '.join(params)}):\n" + "\n".join(body) + "\n"
    exec(source, names)  # noqa: S102  (generated from the dataclass's own field names and defaults)
    init = names["__init__"]
    generated = cls.__init__
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(getattr(generated, "__annotations__", {}))
    init.__doc__ = generated.__doc__
    init.dataclass_init = generated  # the dataclass's own, kept for tests and benchmarks
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


# --- containers ----------------------------------------------------------------------------------


class JDict(dict[K, V]):
    """A dict whose writes are journaled."""

    __slots__ = ()

    def __setitem__(self, key: K, value: V) -> None:
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_key, self, key, dict.get(self, key, _MISSING)))
        t = type(value)  # (``adopt`` inline: most values are no container)
        dict.__setitem__(self, key, adopt(value) if t is dict or t is list or t is set else value)

    def __delitem__(self, key: K) -> None:
        old = dict.__getitem__(self, key)
        entries = _current.get()
        if entries is not None:
            keep_order(entries, self, key)
            entries.append((_undo_key, self, key, old))
        dict.__delitem__(self, key)

    def pop(self, key: K, *default: Any) -> Any:
        if key in self:
            value = dict.__getitem__(self, key)
            del self[key]
            return value
        return dict.pop(self, key, *default)

    def setdefault(self, key: K, default: V = None) -> V:  # type: ignore[assignment]
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def popitem(self) -> tuple[K, V]:
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        self._snapshot()
        dict.clear(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __ior__(self, other: Any) -> JDict[K, V]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def _snapshot(self) -> None:
        entries = _current.get()
        if entries is not None:
            keep_order(entries, self)  # (a clear deletes every key: a later deletion's order must not be the one kept)
            entries.append((_undo_dict, self, dict(self), None))


class LoggedDict(JDict[K, V]):
    """A journaled dict whose writes are also noted in the ``write_log`` of it in force, if any."""

    __slots__ = ()

    def note(self, key: Any) -> None:
        """Log ``key``'s value before the write about to happen (its first write in the log's block)."""
        log = _logging.get()
        if log is not None and log.watched is self and key not in log.before:
            log.before[key] = dict.get(self, key, _MISSING)

    def __setitem__(self, key: K, value: V) -> None:
        # ``note`` and ``JDict.__setitem__`` in one call, the old value read once: a replay writes every balance here
        old = dict.get(self, key, _MISSING)
        log = _logging.get()
        if log is not None and log.watched is self and key not in log.before:
            log.before[key] = old
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_key, self, key, old))
        dict.__setitem__(self, key, value if type(value) is int else adopt(value))  # (a balance: no container to adopt)

    def __delitem__(self, key: K) -> None:
        if key in self:
            self.note(key)
        JDict.__delitem__(self, key)

    def _snapshot(self) -> None:  # cleared: no per-key record
        log = _logging.get()
        if log is not None and log.watched is self:
            log.whole = True
        JDict._snapshot(self)


class JList(list[T]):
    """A list whose writes are journaled (appends cheaply, anything else by a copy)."""

    __slots__ = ()

    def append(self, item: T) -> None:
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_append, self, len(self), None))
        t = type(item)
        list.append(self, adopt(item) if t is dict or t is list or t is set else item)

    def extend(self, items: Iterable[T]) -> None:
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_append, self, len(self), None))
        list.extend(self, (adopt(x) for x in items))

    def __iadd__(self, items: Iterable[T]) -> JList[T]:  # type: ignore[override,misc]
        self.extend(items)
        return self

    def _snapshot(self) -> None:
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_list, self, list(self), None))

    def insert(self, index: SupportsIndex, item: T) -> None:
        self._snapshot()
        list.insert(self, index, adopt(item))

    def pop(self, index: SupportsIndex = -1) -> T:
        self._snapshot()
        return list.pop(self, index)

    def remove(self, item: T) -> None:
        self._snapshot()
        list.remove(self, item)

    def clear(self) -> None:
        self._snapshot()
        list.clear(self)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._snapshot()
        list.sort(self, *args, **kwargs)

    def reverse(self) -> None:
        self._snapshot()
        list.reverse(self)

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            self._snapshot()
            list.__setitem__(self, index, [adopt(v) for v in value])
            return
        entries = _current.get()
        if entries is not None:
            i = index if index >= 0 else len(self) + index
            entries.append((_undo_item, self, i, list.__getitem__(self, i)))
        list.__setitem__(self, index, adopt(value))

    def __delitem__(self, index: Any) -> None:
        self._snapshot()
        list.__delitem__(self, index)

    def __imul__(self, n: SupportsIndex) -> JList[T]:
        self._snapshot()
        list.__imul__(self, n)
        return self


class JSet(set[T]):
    """A set whose writes are journaled."""

    __slots__ = ()

    def add(self, item: T) -> None:
        if item not in self:
            entries = _current.get()
            if entries is not None:
                entries.append((_undo_added, self, item, None))
            set.add(self, item)

    def discard(self, item: Any) -> None:
        if item in self:
            entries = _current.get()
            if entries is not None:
                entries.append((_undo_removed, self, item, None))
            set.discard(self, item)

    def remove(self, item: T) -> None:
        if item not in self:
            raise KeyError(item)
        self.discard(item)

    def pop(self) -> T:
        item = next(iter(self))
        self.discard(item)
        return item

    def _snapshot(self) -> None:
        entries = _current.get()
        if entries is not None:
            entries.append((_undo_set, self, set(self), None))

    def clear(self) -> None:
        self._snapshot()
        set.clear(self)

    def update(self, *others: Iterable[T]) -> None:
        for other in others:
            for item in other:
                self.add(item)

    def difference_update(self, *others: Iterable[Any]) -> None:
        for other in others:
            for item in list(other):
                self.discard(item)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        self._snapshot()
        set.intersection_update(self, *others)

    def symmetric_difference_update(self, other: Iterable[T]) -> None:
        self._snapshot()
        set.symmetric_difference_update(self, other)

    def __ior__(self, other: Any) -> JSet[T]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __isub__(self, other: Any) -> JSet[T]:  # type: ignore[misc]
        self.difference_update(other)
        return self

    def __iand__(self, other: Any) -> JSet[T]:  # type: ignore[misc]
        self.intersection_update(other)
        return self

    def __ixor__(self, other: Any) -> JSet[T]:  # type: ignore[override,misc]
        self.symmetric_difference_update(other)
        return self
