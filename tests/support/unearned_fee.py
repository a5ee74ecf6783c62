"""User tasks whose reporting validators all end at agreement 0 (rule 30, ``RULES_UNEARNED_VALIDATOR_FEE``), on a
``support.market`` chain with a beacon: 3 miners, 3 validators (every validator sits on every task), redundancy 3.

Written against the core's public messages only (no rule-30 name), so that main's code before the rule can run the same
builders (tests/core/test_unearned_validator_fee.py records the state hash a rule-29 log replays to)."""

from __future__ import annotations

from collections.abc import Callable

from cor_incentives.core.validation import canary_commitment
from support.chain import Chain
from support.market import commit_reveal, draw_now, h, market, submit, validate_all

PROMPT = "What is the capital of France?"  # support.market.submit's default prompt
PLANT = "Lyon is a city known for its food."  # fluent, off-topic: the oracle's planted output
HONEST = (20_000_000, 850_000_000)
PERFECT = (0, 1_000_000_000)  # a lazy validator's "everything is perfect": it passes the planted output
# three reports of every output, none within the tolerance (0.1) of the consensus the three make: with equal stakes the
# distance's median is the second one's 0.2 and the quality's the first one's 0.7, so each misses it by at least 0.1
APART = ((0, 700_000_000), (200_000_000, 900_000_000), (400_000_000, 500_000_000))


def chain(rule_version: int | None = None) -> Chain:
    return market(n_miners=3, n_validators=3, beacon=True, params={} if rule_version is None else {"rule_version": rule_version})


def planted_task(c: Chain, salt: str = "u1") -> int:
    """A user task the oracle commits a canary to, its planted output revealed by its first drawn miner (by address)."""
    tid = submit(c)
    c.oracle("task.canary_commit", {"task": tid, "canary": canary_commitment(h(PROMPT), h(PLANT), salt)})
    draw_now(c, tid)
    task = c.state.tasks[tid]
    plant = sorted(a.miner for a in task.miners)[0]
    commit_reveal(c, tid, {a.miner: (PLANT if a.miner == plant else "Paris") for a in task.miners})
    draw_now(c, tid)
    return tid


def canary_failed_by(c: Chain, lazy: Callable[[str], bool], salt: str = "u1") -> int:
    """A planted user task: each validator ``lazy(v)`` reports ``PERFECT`` of every output (failing the canary), the
    others report the planted output as garbage and the rest ``HONEST``; the oracle opens it and the task settles."""
    tid = planted_task(c, salt)
    task = c.state.tasks[tid]
    plant = sorted(a.miner for a in task.miners)[0]
    validate_all(c, tid, lambda v, m: PERFECT if lazy(v) else (1_000_000_000, 0) if m == plant else HONEST)
    c.oracle("task.canary", {"task": tid, "planted": h(PLANT), "salt": salt})
    return tid


def reports_apart(c: Chain) -> int:
    """A plain user task (no canary) whose three validators report ``APART`` (by address order): it settles with every
    agreement 0."""
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    order = sorted(c.state.tasks[tid].validators)
    validate_all(c, tid, lambda v, m: APART[order.index(v)])
    return tid


def previous_rule_log() -> Chain:
    """The log the replay test pins: every validator fails a canary, then all three report apart, then one honest task
    (validator-agreement > 0), and the epoch closes."""
    c = chain(29)
    canary_failed_by(c, lambda v: True)
    reports_apart(c)
    canary_failed_by(c, lambda v: False, salt="u2")
    c.oracle("epoch.close", {})
    return c
