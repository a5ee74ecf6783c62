"""State hashes anchored by older code still match: a field added for a later rule version stays out of the hash of a
log under an earlier one (``core.state_codec.HASHED_SINCE``).

``tests/golden/anchored_v5_log.json`` and ``anchored_v6_log.json`` were recorded once by the code of the commits that
made rule versions 5 and 6 the latest (the seeded scenario, then two epoch closes whose checkpoints carry the state
hash) and are never regenerated. Before ``HASHED_SINCE``, the engine refused both logs at their first anchor
(``checkpoint_state_mismatch``): every field added since changed the hash, so an upgraded node could not open its
own database."""

import json
import sys
from pathlib import Path

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.events import Event
from cor_incentives.core.rules import LATEST, STATE_ANCHOR_RULES
from cor_incentives.core.state_codec import HASHED_SINCE, encode_state, hashed_fields, state_hash
from support.golden import behaviour

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FROZEN = GOLDEN / "hashed_fields.json"


def _events(record):
    return [Event(e["seq"], e["tick"], e["payload"].encode("ascii"), e["signature"], e["prev_hash"], e["hash"]) for e in record["events"]]


@pytest.mark.parametrize("version", [5, 6])
def test_a_log_anchored_by_older_code_replays_with_its_anchors(version):
    record = json.loads((GOLDEN / f"anchored_v{version}_log.json").read_text())
    assert record["rule_version"] == version and len(record["anchors"]) == 2
    state = replay(_events(record), check_each=True)  # each anchor's state hash is recomputed by the core and must match
    assert state.params.rule_version == version
    assert behaviour(state) == record["behaviour"]  # the same balances, roots, tasks and slashes as the old code
    assert state_hash(state) == record["final_state_hash"]
    # the snapshot holds every field of this engine (what it decodes); only the hash leaves the later ones out
    snapshot = json.loads(encode_state(state))["state"]
    assert "network_prompts" in snapshot and "pruned" in snapshot


def test_the_fields_hashed_under_every_released_rule_version_are_frozen():
    """A new field of the state or of a record it holds must be listed in HASHED_SINCE with its rule version: otherwise
    it enters the hash of every older log and the anchors of those logs stop matching."""
    frozen = json.loads(FROZEN.read_text())
    for version, fields in frozen.items():
        now = hashed_fields(int(version))
        added = {c: sorted(set(now.get(c, [])) - set(fields.get(c, []))) for c in now}
        added = {c: f for c, f in added.items() if f}
        assert now == fields, f"rule version {version} hashes other fields now ({added}): list new fields in HASHED_SINCE"
    assert str(LATEST) in frozen, f"record the hashed fields of rule version {LATEST}: python {__file__} --record"


def test_hashed_since_names_real_fields_of_later_rule_versions():
    everything = hashed_fields(None)
    for (record, field), version in HASHED_SINCE.items():
        assert field in everything[record], (record, field)
        assert STATE_ANCHOR_RULES < version <= LATEST
        assert field not in hashed_fields(version - 1).get(record, []) and field in hashed_fields(version)[record]


def _record() -> None:
    """Add the hashed fields of rule versions not yet recorded (a released version's set is never rewritten)."""
    frozen = json.loads(FROZEN.read_text())
    for v in range(STATE_ANCHOR_RULES, LATEST + 1):
        frozen.setdefault(str(v), hashed_fields(v))
    FROZEN.write_text(json.dumps(frozen, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    _record()
