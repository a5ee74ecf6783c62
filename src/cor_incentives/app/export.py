"""Exports of the read views: an address's rewards as CSV (``cor rewards --csv`` and the dashboard's "Download CSV")."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..core.units import format_cor

CSV_COLUMNS = ("epoch", "end_tick", "stream", "amount", "amount_units", "claimable", "why")


def why(item: dict[str, Any]) -> str:
    """The "why" of a statement line: a slash's reason and where its evidence is, else the formula, the reason or the task."""
    if "slash" in item:
        return f"slash {item['slash']['id']}: {item['slash']['reason']} (evidence: cor slash show {item['slash']['id']})"
    detail = item["detail"]
    if detail.get("validators_unearned") is not None:  # rule 30: a task_payment whose validators' part went to the treasury
        part = format_cor(int(detail["validators_unearned"]))
        return f"task {detail.get('task')}: no reporting validator agreed; its validators' part ({part} COR) went to the treasury"
    if item.get("stream") in ("community", "community:none") and "rate_units" in detail:  # rule 31: the community stream's rate
        return community_why(detail)
    if item.get("stream") == "escalation_unfunded" and "from_unbonding" in detail:  # rule 34: the charge's pieces
        return escalation_unfunded_why(detail)
    inputs = detail.get("inputs") or {}
    if item.get("stream") == "marketplace" and "marketplace_usage_rate_units" in inputs:  # rule 31: the usage at the rate
        return marketplace_why(inputs)
    return str(detail.get("formula") or detail.get("why") or detail.get("task", ""))


def escalation_unfunded_why(detail: dict[str, Any]) -> str:
    """A rule-34 escalation charge in words: the validations its rows could not pay at the rate (from rule 35 × the
    multiplier it is priced at), and where it was taken from (the self-bond, then the operator's unbonding entries started
    in the epoch)."""
    units, rate = int(detail["validation_units_ppb"]), int(detail["rate_units"])
    parts = [f"{format_cor(int(detail['from_bond_units']))} COR from the self-bond"] if int(detail["from_bond_units"]) else []
    parts += [
        f"{format_cor(int(x['amount_units']))} COR from unbonding entry {x['unbonding_id']} (started at tick {x['unbonding_start_tick']})"
        for x in detail["from_unbonding"]
    ]
    price = f"{format_cor(rate)} COR"
    if "multiplier_ppb" in detail:  # rule 35: priced at the most a payee can be paid (reputation_multiplier_max_ppb)
        price += f" × {int(detail['multiplier_ppb']) / 10**9:g} (reputation_multiplier_max_ppb, rule 35)"
    return (
        f"escalation debt its validations could not pay: {units / 10**9:,.6f} validations × {price} = "
        f"{'; '.join(parts) or '0 COR'} (unbonding entries started in the epoch are charged after the self-bond, rule 34)"
    )


def community_why(detail: dict[str, Any]) -> str:
    """A rule-31 community line's why: its points at the rate, and the cap or the pro-rata split when either applied."""
    out = f"{detail['points']} points at {format_cor(int(detail['rate_units']))} COR a point"
    if detail.get("capped"):
        out += f", capped at {int(detail['member_cap_bps']) / 100:g} % of the stream ({format_cor(int(detail['member_cap']))} COR)"
    if detail.get("budget_binding"):
        claims, budget = format_cor(int(detail["claims"])), format_cor(int(detail["budget"]))
        out += f"; pro rata: the epoch's claims ({claims} COR) exceeded the stream ({budget} COR)"
    return out + (f" ({detail['why']})" if detail.get("why") else "")


def marketplace_why(inputs: dict[str, Any]) -> str:
    """A rule-31 marketplace line in words: the model's usage in network tasks at the rate, pro rata when the stream's budget
    bound, and the part a fine-tune's share pays its parent's owner."""
    usage, rate, claim, claims, stream = (int(inputs[k]) for k in ("usage", "marketplace_usage_rate_units", "claim", "claims", "stream"))
    said = f"model {inputs['model']}: {usage / 10**9:,.2f} units of usage in network tasks × {format_cor(rate)} COR a unit = {format_cor(claim)} COR"
    if claims > stream:
        said += f", pro rata: the claims ({format_cor(claims)} COR) exceeded the stream's budget ({format_cor(stream)} COR)"
    if inputs.get("role") == "parent_owner":
        said += f"; to the parent model's owner: parent_royalty_bps ({int(inputs['parent_royalty_bps'])}) of it"
    return said


def rewards_csv(rewards: dict[str, Any]) -> str:
    """Every line item of ``views.rewards`` as CSV, one row per item (amounts in COR and in base units)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for i in rewards["items"]:
        w.writerow([i["epoch"], i["end_tick"], i["stream"], i["amount"], i["amount_units"], "yes" if i["claimable"] else "no", why(i)])
    return out.getvalue()
