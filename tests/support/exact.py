"""A state as the tests compare it exactly: its view and its encoding.

``state.to_dict()`` compared with ``==`` is blind to the order of a dict's keys, which the core iterates in and the
state hash holds (a refusal or a replay that reorders keys would pass). ``encode_state`` keeps that order; the view
keeps what the encoding leaves out (derived fields)."""

from __future__ import annotations

from typing import Any

from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state


def exact(state: State) -> tuple[dict[str, Any], bytes]:
    return state.to_dict(), encode_state(state)
