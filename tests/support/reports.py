"""Validators' commit-reveal for tests: every validator of the current round commits, then reveals, round after round."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cor_incentives.core.validation import report_commitment

Reports = list[dict[str, Any]]


def report_rounds(
    submit: Callable[[str, str, dict[str, Any]], Any],
    task: Callable[[], Any],
    reports_for: Callable[[str], Reports | None],
    salt: str = "rs",
    first_rules: bool = False,
    input_tokens: Callable[[str], int] | None = None,
    spread: Callable[[str], int] | None = None,
) -> None:
    """Drive a task's validation: ``submit(validator, kind, body)``; ``task()`` reads the task now;
    ``reports_for(validator)`` gives what it reports (None: it stays silent). Escalation rounds too.
    ``first_rules`` (a network without a beacon): each validator sends its reports at once, uncommitted.
    ``input_tokens(validator)``: its count of the prompt, committed and revealed with its reports (the
    measured-token rules; None before them). ``spread(validator)``: its spread of the task, committed and revealed on
    a task of the spread rule (``Task.spread_rule``; default 0: no loosening); none before it."""
    count = (lambda v: None) if input_tokens is None else input_tokens

    def spread_of(t: Any, v: str) -> int | None:
        return (spread(v) if spread is not None else 0) if getattr(t, "spread_rule", False) else None

    def body(t: Any, v: str, reports: Reports | None) -> dict[str, Any]:
        n, s = count(v), spread_of(t, v)
        return {"task": t.id, "reports": reports} | ({} if n is None else {"input_tokens": n}) | ({} if s is None else {"spread_ppb": s})

    if first_rules:
        for v in list(task().validators):
            reports = reports_for(v)
            if reports is not None and task().state == "COMMITTED":
                submit(v, "task.validate", body(task(), v, reports))
        return
    while task().state in ("COMMITTED", "REPORTING"):
        t = task()
        rnd = t.round
        if t.state == "COMMITTED":
            silent = True
            for v in t.drawn_in(rnd):
                reports = reports_for(v)
                if reports is not None and v not in task().report_commits and task().state == "COMMITTED":
                    submit(v, "task.report_commit", {"task": t.id, "commit": report_commitment(t.id, v, reports, salt, count(v), spread_of(t, v))})
                    silent = False
            if silent or task().state == "COMMITTED":
                return  # someone stays silent: the deadline moves the task on
        t = task()
        for v in t.drawn_in(rnd):
            if v in t.report_commits and v not in task().reports and task().state == "REPORTING":
                submit(v, "task.validate", body(t, v, reports_for(v)) | {"salt": salt})
        t = task()
        if t.state != "COMMITTED" or t.round == rnd:  # (a closed task may be a stub from rule 27: it has no round)
            return
