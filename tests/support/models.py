"""The model registry in the property machines (rule 25, ``RULES_MODEL_BOND``): listings, fine-tunes, retires, and the
check that every open task still names the live record it was opened on."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from cor_incentives.core.records import CLOSED_TASK_STATES
from cor_incentives.core.state import State
from support.chain import addr
from support.market import MODEL, h

# the market's model and three more; a fine-tune names one of them as its parent
MODEL_IDS = [MODEL, "m-0", "m-1", "m-2"]


def card(model_id: str, parent: str | None = None) -> dict[str, Any]:
    """A ``model.register`` body (a fine-tune of ``parent`` when given)."""
    body = {"id": model_id, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": h(model_id)}
    return body | ({"parent": parent} if parent is not None else {})


# a machine's ``registry`` rule: @rule(cmds=REGISTRY_CMDS), then ``registry_command(state, *cmd, who)`` for each: a few
# registry commands in a row, the market's model less often (with one command a rule, one rule among twenty, a retire was accepted in 14 % of 200
# examples of test_no_internal_errors at 80 steps and none met model_has_fine_tunes)
REGISTRY_CMDS = st.lists(
    st.tuples(st.sampled_from(["model.register", "model.retire"]), st.sampled_from([0, 1, 1, 2, 2, 3, 3]), st.integers(0, 7), st.integers(0, 20)),
    min_size=1,
    max_size=6,
)


def registry_command(state: State, kind: str, k: int, parent: int, by: int, who: str) -> tuple[str, str, dict[str, Any]]:
    """(actor, kind, body): ``model.register`` of ``MODEL_IDS[k]`` (a fine-tune of ``MODEL_IDS[parent]``: of a live, retired
    or pruned model, itself at times), by ``who`` or the market's model owner; or ``model.retire`` of it, mostly by its
    owner (the market's own model too, with its tasks open), now and then by ``who``."""
    model_id = MODEL_IDS[k]
    if kind == "model.retire":
        listed = state.models.get(model_id)
        return (listed.owner if listed is not None and by % 4 else who), kind, {"model": model_id}
    return (addr("dev") if by % 3 == 0 else who), kind, card(model_id, MODEL_IDS[parent] if parent < len(MODEL_IDS) else None)


def open_tasks_name_live_models(state: State) -> None:
    """Every open task's model is live and is the record the task was opened on (registered at or before the task):
    a retired model leaves only once no open task names it, so its id re-registered never pays an open task's royalty
    to the new owner. Every live fine-tune's parent is live; a retired model is in ``retired_models`` until it leaves."""
    for t in state.tasks.values():
        if t.state in CLOSED_TASK_STATES:
            continue
        m = state.models.get(t.model)
        assert m is not None, f"open task {t.id} names model {t.model!r}, which left the state"
        assert m.registered_tick <= t.created_tick, f"open task {t.id} (tick {t.created_tick}) names a later {t.model!r} ({m.registered_tick})"
    for mid, m in state.models.items():
        assert m.parent is None or m.parent in state.models, f"fine-tune {mid} names a parent {m.parent!r} that left"
    assert state.retired_models == {mid for mid, m in state.models.items() if m.retired_tick is not None}
