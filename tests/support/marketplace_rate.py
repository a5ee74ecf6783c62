"""Network tasks that make a model's usage, for the marketplace stream's rate (rule 31, ``RULES_MARKETPLACE_RATE``), on a
``support.market`` chain with a beacon: 3 miners serving the market's model (owner ``dev``), 5 validators, redundancy 3;
optionally 3 more miners serving a fine-tune ``ft`` of it (owner ``user``).

Written against the core's public messages only (no rule-31 name), so that main's code before the rule can run the same
builders (tests/core/test_marketplace_rate.py records the state hash a rule-30 log replays to)."""

from __future__ import annotations

from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.market import MODEL, commit_reveal, draw_now, h, market, validate_all

FINE_TUNE = "ft"
HONEST = (20_000_000, 850_000_000)


def chain(rule_version: int | None = None, **params: int) -> Chain:
    """The market (``params`` over its own; an amount above 2**53 is sent as a decimal string)."""
    p = {k: str(v) if v > 2**53 else v for k, v in params.items()} | ({"rule_version": rule_version} if rule_version is not None else {})
    return market(n_miners=3, n_validators=5, beacon=True, params=p)


def with_fine_tune(c: Chain) -> Chain:
    """``user`` lists ``ft``, a fine-tune of the market's model, and three more miners serve it."""
    card = {"id": FINE_TUNE, "parameter_count": 10**6, "quantization": "q4_0", "context_length": 2048, "license": "mit", "content_hash": h("ft")}
    c.as_("user", "model.register", card | {"parent": MODEL})
    for i in range(3):
        c.as_("user", "transfer", {"to": addr(f"x{i}"), "amount": str(3000 * COR)})
        c.as_(f"x{i}", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [FINE_TUNE]})
    return c


def network_task(c: Chain, k: int, model: str = MODEL, output: str = "2", report: tuple[int, int] = HONEST) -> int:
    """One oracle network task on ``model`` (prompt ``k``), every miner revealing ``output`` and every validator reporting
    ``report`` of each: it settles with its miners in consensus. Returns its id."""
    tid = c.state.next_id
    prompt = f"Name a prime number. {k}"
    c.oracle(
        "task.network", {"model": model, "prompt_hash": h(prompt), "prompt_bytes": len(prompt.encode()), "input_tokens": 12, "max_output_tokens": 64}
    )
    draw_now(c, tid)
    commit_reveal(c, tid, {a.miner: output for a in c.state.tasks[tid].miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: report)
    return tid


def epoch_of(c: Chain, tasks: int, start: int = 0, model: str = MODEL) -> int:
    """``tasks`` network tasks on ``model``, then the close; returns the closed epoch."""
    e = c.state.epoch
    for k in range(tasks):
        network_task(c, start + k, model)
    c.oracle("epoch.close", {})
    return e


def previous_rule_log() -> Chain:
    """The log the replay test pins (rule 30): an empty epoch, an epoch of one network task, one of three, one with a
    fine-tune's task beside two of its parent's."""
    c = with_fine_tune(chain(30))
    epoch_of(c, 0)
    epoch_of(c, 1)
    epoch_of(c, 3, start=1)
    network_task(c, 10, FINE_TUNE)
    epoch_of(c, 2, start=4)
    return c
