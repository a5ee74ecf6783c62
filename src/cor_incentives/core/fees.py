"""A user task's fee: what it is charged and who gets which part (docs/design.md §4).

Settlement (in the event that completes validation, for a task with enough miners in consensus)
    price = quote at the settled token counts (the validators' measured counts, ``token_counts``:
    input capped at the task's input_tokens, output at max_output_tokens), at most the escrow; split
    by ``fee_split_bps``:
        miners      in consensus, pro rata by quality:      pool × quality_ppb // Σ quality_ppb
                    (from ``RULES_PAID_PLANTER`` a canary's paid planter too, at its credited quality: core/tasks.py)
        validators  that reported, pro rata by agreement:  pool × agreement_ppb // Σ agreement_ppb
                    (Σ agreement_ppb = 0, every report failed the canary or missed the consensus by the tolerance:
                    from ``RULES_UNEARNED_VALIDATOR_FEE`` the whole pool to the treasury, ``task_fee:validators_unearned``,
                    named on the user's ``task_payment`` line; 1-29: pool // the number of reporting validators each)
        router      the task's router (the treasury when it has none)
        royalty     the model's owner; for a fine-tune the parent's owner takes ``parent_royalty_bps`` of it
        treasury
    The split's remainder and the pro-rata floors go to ``dust``; the rest of the escrow returns to
    the session. A FAILED or CANCELLED task refunds the whole escrow (``refund_escrow``).
    A canary (a user task's, from ``RULES_USER_CANARIES``) is quoted at ``redundancy − planted outputs``: the user pays for
    the outputs it got, not for the oracle's (only a rule-17 user task can have a planted output, so older logs are unchanged);
    from ``RULES_PAID_PLANTER`` a paid planter's output is not left out: the planter is paid as one of the task's miners.

Statement lines: ``task_fee:*`` for each payee, ``task_payment`` (−price) and ``task_refund`` for the user.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .errors import invariant
from .ledger import split_by_bps
from .pricing import quote
from .records import Assignment, EarningItem, Task
from .rules import RULES_UNEARNED_VALIDATOR_FEE, rules_since
from .sessions import session_account
from .state import State
from .streams import Stream

UNEARNED_REASON = "task_fee:validators_unearned"
"""The posting of a task's validators' part to the treasury when none of its reporting validators agreed
(``RULES_UNEARNED_VALIDATOR_FEE``)."""


def settle_fee(state: State, task: Task, winners: list[Assignment]) -> None:
    """Charge a settled user task its price and split it; the rest of the escrow goes back to the session."""
    p = state.params
    model = state.models[task.model]
    # the oracle's outputs of a canary are not the user's to pay for; redundancy − planted ≥ the winners ≥ min_consensus ≥ 1
    # (a user task's redundancy is its number of miners, and a planted output is never a winner)
    # from RULES_PAID_PLANTER a paid planter is among ``winners`` (paid as a miner of the task), so it is quoted like them:
    # refusing to plant must not keep the user's price (and the refuser's share of it) whole
    planted = sum(1 for a in task.miners if a.planted and all(a is not w for w in winners))
    q = quote(model, task.settled_input_tokens or 0, task.output_tokens or 0, p, task.redundancy - planted)
    escrow = acct.escrow("task", task.id)
    held, refunded_before = state.ledger.balance(escrow), task.refunded
    price = min(q.total_units, held)
    task.charged = price
    parts, remainder = split_by_bps(price, dict(p.fee_split_bps))
    task.split = {**parts, "dust": remainder}
    # miners in consensus, pro rata by quality
    total_q = sum(a.quality_ppb or 0 for a in winners)
    paid = 0
    for a in winners:
        share = parts["miners"] * (a.quality_ppb or 0) // total_q if total_q else parts["miners"] // len(winners)
        a.paid = share
        paid += share
        _pay(
            state,
            escrow,
            a.miner,
            share,
            Stream.TASK_FEE_MINER,
            {
                "task": task.id,
                "quality_ppb": a.quality_ppb,
                "total_quality_ppb": total_q,
                "pool": parts["miners"],
                "formula": "pool × quality_ppb // total_quality_ppb (pool = price × fee_split_bps.miners // 10000)",
                **({"planted": True} if a.planted else {}),  # a paid planter (RULES_PAID_PLANTER): quality_ppb is its credited median
            },
        )
    # validators that reported, pro rata by agreement; none earned any (Σ = 0): from RULES_UNEARNED_VALIDATOR_FEE nobody is
    # paid for it and the pool goes to the treasury (1-29: an equal split, which paid validators who all failed the canary)
    total_a = sum(task.agreement_ppb.values())
    unearned = parts["validators"] if not total_a and rules_since(p, RULES_UNEARNED_VALIDATOR_FEE) else None
    vs = sorted(task.agreement_ppb) if unearned is None else []
    if unearned is not None:
        state.ledger.transfer(escrow, "treasury", unearned, UNEARNED_REASON)
    for v in vs:
        share = parts["validators"] * task.agreement_ppb[v] // total_a if total_a else parts["validators"] // len(vs)
        paid += share
        _pay(
            state,
            escrow,
            v,
            share,
            Stream.TASK_FEE_VALIDATOR,
            {
                "task": task.id,
                "agreement_ppb": task.agreement_ppb[v],
                "total_agreement_ppb": total_a,
                "pool": parts["validators"],
                "formula": "pool × agreement_ppb // total_agreement_ppb (pool = price × fee_split_bps.validators // 10000)",
            },
        )
    # router, royalty, treasury
    if task.router:
        _pay(
            state, escrow, task.router, parts["router"], Stream.TASK_FEE_ROUTER, {"task": task.id, "formula": "price × fee_split_bps.router // 10000"}
        )
    else:
        state.ledger.transfer(escrow, "treasury", parts["router"], "task_fee:router_absent")
    royalty = parts["model_royalty"]
    if model.parent:
        parent_share = royalty * p.parent_royalty_bps // 10_000
        _pay(
            state,
            escrow,
            state.models[model.parent].owner,
            parent_share,
            Stream.TASK_FEE_ROYALTY_PARENT,
            {"task": task.id, "model": model.parent, "formula": "price × fee_split_bps.model_royalty // 10000 × parent_royalty_bps // 10000"},
        )
        royalty -= parent_share
    _pay(
        state,
        escrow,
        model.owner,
        royalty,
        Stream.TASK_FEE_ROYALTY,
        {"task": task.id, "model": model.id, "formula": "price × fee_split_bps.model_royalty // 10000, less the parent's share for a fine-tune"},
    )
    state.ledger.transfer(escrow, "treasury", parts["treasury"], "task_fee:treasury")
    pro_rata_dust = parts["miners"] + parts["validators"] - paid - (unearned or 0)
    state.ledger.transfer(escrow, "dust", remainder + pro_rata_dust, "task_fee:rounding")
    detail: dict[str, Any] = {"task": task.id, "quote": q.to_dict()}
    if planted:
        detail["planted_outputs"] = planted  # the quote's redundancy leaves them out
    if unearned is not None:
        detail["validators_unearned"] = unearned  # the validators' part, to the treasury: no reporting validator agreed
    state.earnings.append(EarningItem(task.user or "", Stream.TASK_PAYMENT, -price, detail))
    refund_escrow(state, task, "task_unused_escrow")
    invariant(state.ledger.balance(escrow) == 0, f"task {task.id} escrow not empty after settlement")
    invariant(price + task.refunded - refunded_before == held, f"task {task.id}: charged + refunded != what the escrow held")
    invariant(sum(task.split.values()) == price, f"task {task.id}: the split does not add up to the price")
    invariant(sum(a.paid for a in winners) <= parts["miners"], f"task {task.id}: miners paid more than their part")
    invariant(paid + (unearned or 0) <= parts["miners"] + parts["validators"], f"task {task.id}: pro-rata shares exceed their parts")


def _pay(state: State, src: str, addr: str, amount: int, stream: str, detail: dict[str, Any]) -> None:
    if amount:
        state.ledger.transfer(src, acct.wallet(addr), amount, stream)
        state.earnings.append(EarningItem(addr, stream, amount, detail))


def refund_escrow(state: State, task: Task, reason: str) -> None:
    """Return what is left in a task's escrow to its session."""
    escrow = acct.escrow("task", task.id)
    amount = state.ledger.balance(escrow)
    if amount and task.session is not None:
        state.ledger.transfer(escrow, session_account(task.session), amount, reason)
        task.refunded += amount
        state.earnings.append(EarningItem(task.user or "", Stream.TASK_REFUND, amount, {"task": task.id, "reason": reason}))
    invariant(task.session is None or state.ledger.balance(escrow) == 0, f"task {task.id} escrow not empty after its refund")
    invariant(task.charged + task.refunded <= task.escrowed, f"task {task.id}: charged + refunded exceed the escrow")
