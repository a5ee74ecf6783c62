"""Read views the API adds to ``app/views.py``: task lists, quotes, governance, parameters, bounties.

Pure functions of the state (the service calls them under its lock). Same conventions as
``app/views.py``: amounts are COR decimal strings with the exact base units beside them
(``*_units``); integers above 2**53 are decimal strings.

``proposal_view`` and ``params_view`` are the data of ``cor gov show --json`` and
``cor gov params --json`` (cli/gov.py builds the same dicts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from itertools import islice, takewhile
from typing import Any

from ..app import archive, views
from ..core.governance import get_proposal
from ..core.models import listed_model
from ..core.pricing import quote as price_quote
from ..core.records import OPEN_TASK_STATES, TaskState
from ..core.state import State, json_ready
from ..core.units import format_cor

TASK_STATES = tuple(TaskState)
OPEN = "open"  # a task-state filter that matches every state in which nodes still have work to do
BOUNTY_MONEY_FIELDS = ("prize", "awarded", "paid", "refunded", "deposits_held")


# --- tasks -----------------------------------------------------------------------------------


def task_matches(t: Any, state: str | None, assigned: str | None, kind: str | None) -> bool:
    """Whether a task passes the list filters (``assigned``: one of its miners or validators)."""
    if state is not None and not (t.state in OPEN_TASK_STATES if state == OPEN else t.state == state):
        return False
    if kind is not None and t.kind != kind:
        return False
    if assigned is not None and assigned not in t.validators and t.assignment(assigned) is None:
        return False
    return True


def newest_tasks(s: State, after_id: int | None, before_id: int | None = None) -> Iterator[Any]:
    """Tasks newest first with ``after_id < id < before_id`` (ids grow with creation, so no sort is needed)."""
    for t in archive.newest_tasks(s, before_id):  # live, then (interleaved by id) pruned ones (core/prune.py)
        if after_id is not None and t.id <= after_id:
            return
        yield t


def newest_open_tasks(s: State, after_id: int | None, before_id: int | None = None) -> Iterator[Any]:
    """Open tasks newest first, from the core's index of open tasks (each has exactly one pending deadline):
    what node agents poll, at a cost in open tasks rather than in all tasks ever."""
    for tid in sorted(set().union(*s.deadlines.values()), reverse=True):
        if after_id is not None and tid <= after_id:
            return
        if (before_id is None or tid < before_id) and tid in s.tasks:
            yield s.tasks[tid]


def task_list(
    s: State, state: str | None, assigned: str | None, kind: str | None, limit: int, after_id: int | None, before_id: int | None = None
) -> dict[str, Any]:
    """At most ``limit`` tasks matching the filters, newest first, live or pruned, and ``next_before_id``: the
    ``before_id`` of the next page, None when no older task matches (one more match is looked for, not viewed)."""
    candidates = newest_open_tasks if state == OPEN or state in OPEN_TASK_STATES else newest_tasks
    page = list(islice((t for t in candidates(s, after_id, before_id) if task_matches(t, state, assigned, kind)), limit + 1))
    return {"tasks": [views.task(s, t, fee=False) for t in page[:limit]], "next_before_id": page[limit - 1].id if len(page) > limit else None}


# --- market ----------------------------------------------------------------------------------


# the model list and a model's card are answered in app/views.py (one place: ``cor audit --db``'s published reads too)
MODEL_PAGE = views.MODEL_PAGE
MAX_MODEL_PAGE = views.MAX_MODEL_PAGE
model_state = views.model_state
model_list = views.model_list
model_view = views.model_view


def quote_view(s: State, model: str, input_tokens: int, max_output_tokens: int, redundancy: int | None) -> dict[str, Any]:
    """The price of a task with every input of the formula (``cor quote --json``)."""
    q = price_quote(listed_model(s, model), input_tokens, max_output_tokens, s.params, redundancy)
    return {**q.to_dict(), "total": format_cor(q.total_units)}


# --- governance ------------------------------------------------------------------------------


proposal_view = views.proposal_view
params_view = views.params_view


def proposal_list(s: State) -> dict[str, Any]:
    return {"proposals": [proposal_view(s, p) for _, p in sorted(s.proposals.items())]}


def proposal_detail(s: State, pid: int) -> dict[str, Any]:
    return proposal_view(s, get_proposal(s, pid))


# --- bounties --------------------------------------------------------------------------------


def bounty_view(s: State, b: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` of a bounty; money fields as COR with ``*_units`` beside; big ints as strings."""
    out = json_ready(dataclasses.asdict(b))
    for name in BOUNTY_MONEY_FIELDS:
        if isinstance(getattr(b, name, None), int):
            out[name], out[f"{name}_units"] = format_cor(getattr(b, name)), str(getattr(b, name))
    subs = out.get("submissions")
    if isinstance(subs, dict):
        for hunter, entry in subs.items():
            for name in ("paid", "deposit"):  # (deposit: rule 21's entry deposit)
                value = getattr(b.submissions[hunter], name, None)
                if isinstance(value, int):
                    entry[name], entry[f"{name}_units"] = format_cor(value), str(value)
    escrow = s.ledger.balance(f"escrow:bounty:{b.id}")
    out["escrow"], out["escrow_units"] = format_cor(escrow), str(escrow)
    return out


def newest_bounties(s: State, limit: int, after_id: int | None = None, before_id: int | None = None) -> tuple[list[Any], int | None]:
    """At most ``limit`` bounties, live or retired (expired ones leave the state from rule 22), newest first, with
    ``after_id < id < before_id``, and the ``before_id`` of the next page (None: no older one). Reads at most
    ``limit + 1`` records: the cost is the page's, not the history's."""
    newest = archive.newest_bounties(s, before_id, min(limit + 1, 200))
    page = list(islice(takewhile(lambda b: after_id is None or b.id > after_id, newest), limit + 1))
    return page[:limit], page[limit - 1].id if len(page) > limit else None


def bounty_list(s: State, limit: int, after_id: int | None = None, before_id: int | None = None) -> dict[str, Any]:
    """One page of ``GET /v1/bounties``: the bounties newest first and ``next_before_id``."""
    page, next_before = newest_bounties(s, limit, after_id, before_id)
    return {"bounties": [bounty_view(s, b) for b in page], "next_before_id": next_before}


def bounty_detail(s: State, bounty_id: int) -> dict[str, Any]:
    return bounty_view(s, archive.get_bounty(s, bounty_id))
