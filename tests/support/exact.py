"""A state as the tests compare it exactly: its view and its encoding.

``state.to_dict()`` compared with ``==`` is blind to the order of a dict's keys, which the core iterates in and the
state hash holds (a refusal or a replay that reorders keys would pass). ``encode_state`` keeps that order; the view
keeps what the encoding leaves out (derived fields).

``snapshot`` and ``assert_unchanged`` make that comparison for a refused command (the property machines': "a rejected
command changes nothing") without taking the view of every state a command is sent to (``to_dict`` is most of those
machines' time, and most commands are accepted). The snapshot is the state's whole object graph, pickled (every
attribute, every dict in its key order); a refused command that left the same bytes left the same graph, so the same
view and encoding. When the bytes differ (a rollback that restored equal but new objects), ``exact`` decides as before,
on the state and on the snapshot unpickled (``test_a_snapshot_keeps_the_exact_state``).
"""

from __future__ import annotations

import copyreg
import io
import pickle
from types import MappingProxyType
from typing import Any

from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state


def exact(state: State) -> tuple[dict[str, Any], bytes]:
    return state.to_dict(), encode_state(state)


def _proxy(d: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(d)


# the parameters hold read-only mappings, which pickle does not take: as a mapping proxy of the same items, in order
_DISPATCH = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_proxy, (dict(m),))}


def snapshot(state: State) -> bytes:
    """The state's object graph, pickled (a few ms where ``exact`` takes tens)."""
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    p.dispatch_table = _DISPATCH  # type: ignore[assignment]
    p.dump(state)
    return buf.getvalue()


def assert_unchanged(state: State, before: bytes, message: str) -> None:
    """``exact(state)`` is what it was when ``before = snapshot(state)`` was taken (fails with ``message`` otherwise)."""
    if snapshot(state) == before:
        return  # the same graph, byte for byte: the same view and encoding
    assert exact(state) == exact(pickle.loads(before)), message
