"""Anchors: (seq, hash) pairs that pin the log, published somewhere the log's keeper cannot rewrite.

The oracle signs checkpoints inside the log (a ``checkpoint`` on its ``tick`` and ``epoch.close``
commands) and every epoch record carries the last one before its close. ``list_anchors`` lists
them; ``cor anchors`` prints them for publishing (a chain, a newspaper, a second server), and
``cor verify --anchor SEQ:HASH`` / ``--anchors FILE`` checks a log against anchors kept elsewhere.
The log alone cannot show that nothing was cut off its end or re-signed by a key holder: an anchor
kept outside it can (see the README, "What `cor verify` proves").
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput, shown
from ..core.rules import STATE_ANCHOR_RULES, rules_since
from ..core.state import State
from ..core.state_codec import state_hash
from .archive import epoch_records

_ANCHOR = re.compile(r"^([0-9]{1,16}):(0x[0-9a-f]{64})$")
MAX_ANCHORS = 1_000_000


@dataclass(frozen=True)
class Anchor:
    """Event ``seq`` of the log has hash ``hash``; with where it comes from when the log says so."""

    seq: int
    hash: str
    epoch: int | None = None  # the epoch whose record carries it
    event: int | None = None  # the oracle's event that signed it
    tick: int | None = None
    state: str | None = None  # the hash of the state after event ``seq``, when the checkpoint carried one (a snapshot anchor)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def list_anchors(state: State) -> list[Anchor]:
    """Every epoch's checkpoint (the oracle-signed (seq, hash) before its close), then the latest checkpoint."""
    anchored = state.state_anchors
    out = [
        Anchor(r.checkpoint.seq, r.checkpoint.hash, e, r.checkpoint.event, r.checkpoint.tick, anchored.get(r.checkpoint.seq))
        for e, r in epoch_records(state)
        if r.checkpoint is not None
    ]
    last = state.last_checkpoint
    if last is not None and not any(a.event == last.event for a in out):
        out.append(Anchor(last.seq, last.hash, None, last.event, last.tick, anchored.get(last.seq)))
    return out


def parse_anchor(text: str) -> Anchor:
    """``SEQ:HASH`` (a decimal seq and the 0x-hex event hash)."""
    m = _ANCHOR.match(text.strip().lower()) if isinstance(text, str) else None
    if not m:
        raise InvalidInput(f"an anchor is SEQ:HASH (e.g. 41:0x3f…, 64 hex digits), got {shown(text)}", code="invalid_anchor")
    return Anchor(int(m.group(1)), m.group(2))


def load_anchors(path: str | Path) -> list[Anchor]:
    """Anchors from a file: the JSON ``cor anchors --json`` prints, a JSON list of {seq, hash}, or SEQ:HASH lines."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read anchors file {p}: {exc}", code="invalid_anchor") from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        from ..core.events import parse_json

        data = parse_json(text.encode(), max_bytes=256 * MAX_ANCHORS, max_depth=4)
        items = data.get("anchors") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise InvalidInput(f'{p}: expected a list of anchors or {{"anchors": [...]}}', code="invalid_anchor")
        return [_anchor_from(item, p) for item in items[:MAX_ANCHORS]]
    return [parse_anchor(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")][:MAX_ANCHORS]


def _anchor_from(item: Any, path: Path) -> Anchor:
    if not isinstance(item, dict) or not isinstance(item.get("seq"), int) or isinstance(item.get("seq"), bool):
        raise InvalidInput(f"{path}: each anchor needs an integer seq and a hash, got {shown(item)}", code="invalid_anchor")
    return parse_anchor(f"{item['seq']}:{item.get('hash')}")


def anchors_json(anchors: list[Anchor]) -> str:
    """What ``cor anchors --json`` prints and ``--anchors FILE`` reads back."""
    return json.dumps({"anchors": [a.to_dict() for a in anchors]}, sort_keys=True)


def checkpoint_for(state: State, with_state: bool = False) -> dict[str, Any]:
    """The checkpoint an oracle command carries: the head it has seen (any of the last events will do);
    ``with_state`` (``cor epoch close``, from rule version 5): also the hash of the state at that head,
    which anchors the snapshot the engine stores of it (``app.snapshots``)."""
    out: dict[str, Any] = {"seq": state.seq, "hash": state.head_hash}
    if with_state and state.params_history is not None and rules_since(state.params, STATE_ANCHOR_RULES):
        out["state"] = state_hash(state)
    return out
