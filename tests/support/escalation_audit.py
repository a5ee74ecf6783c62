"""The published escalation charges of a family's world and the auditor's pass over them (tests/audit/test_escalation_*)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cor_incentives import auditor


def charges(epoch: dict) -> list[dict]:
    """An epoch document's ``escalation_unfunded`` lines."""
    return [x for x in epoch["lines"] if x["stream"] == "escalation_unfunded"]


def every_epoch_audits(get: Callable[[str], Any], epochs: list[int]) -> None:
    """``cor audit`` passes on every epoch, and recomputes at least one charge where the epoch has any."""
    for e in epochs:
        report = auditor.audit_epoch(auditor.fetch_bundle(get, e)).to_dict()
        assert report["ok"], {q: v["mismatches"][:3] for q, v in report["quantities"].items() if v["matched"] < v["total"]}
        if charges(get(f"/v1/epochs/{e}")):
            assert report["quantities"]["escalation_unfunded.amount"]["matched"] > 0
