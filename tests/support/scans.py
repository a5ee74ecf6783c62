"""State containers that count how often a test's code reads them whole (issue 16: no per-event scan of the network).

Swap a state container's class for one of these (``state.unbondings.__class__ = DictScans``), reset ``count``, apply an
event, and read ``count``: each iteration (or ``values`` / ``items`` / ``keys``) of the whole container adds one."""

from __future__ import annotations

from cor_incentives.core.journal import JDict, JList, JSet


class DictScans(JDict):
    """A journaled dict counting every read of the whole dict (iteration, ``values``, ``items``, ``keys``)."""

    __slots__ = ()
    count = 0

    def __iter__(self):
        DictScans.count += 1
        return super().__iter__()

    def values(self):
        DictScans.count += 1
        return super().values()

    def items(self):
        DictScans.count += 1
        return super().items()

    def keys(self):
        DictScans.count += 1
        return super().keys()


class ListScans(JList):
    """A journaled list counting every iteration of the whole list (either way)."""

    __slots__ = ()
    count = 0

    def __iter__(self):
        ListScans.count += 1
        return super().__iter__()

    def __reversed__(self):
        ListScans.count += 1
        return super().__reversed__()


class SetScans(JSet):
    """A journaled set counting every iteration of the whole set."""

    __slots__ = ()
    count = 0

    def __iter__(self):
        SetScans.count += 1
        return super().__iter__()
