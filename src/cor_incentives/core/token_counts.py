"""Work units are measured, not declared: token counts come from the validators, never from a miner or a user.

Every validator that reports on a task counts, with the tokenizer that ships with the task's model,
the tokens of the prompt (``input_tokens`` of its ``task.validate``) and of each revealed output
(``output_tokens`` of each report). The core keeps their counts on the task (``Task.input_counts``,
``Task.output_counts``) and settles them when the task is decided:

    measured_input      = stake-weighted median over the reporting validators of their prompt counts
    settled_input       = min(measured_input, input_tokens)           the requester's bound caps it
    output_tokens_m     = stake-weighted median of the validators' counts of miner m's output
    settled_output      = min(lower median over the miners in consensus of output_tokens_m, max_output_tokens)

The stake-weighted median is the lower one (``validation.weighted_median``: values sorted, ties by
validator address, the first whose cumulative stake reaches half). A user task is charged the quote
at (settled_input, settled_output), at most its escrow; a miner's work counts
(settled_input + settled_output) × the model's work tier weight. A miner's own claim is not asked
for, and a requester's ``input_tokens`` is only a bound (like ``max_output_tokens``): declaring more
than the prompt holds changes nothing, declaring less caps what it pays and what the work counts.

These are the rules from ``RULES_MEASURED_TOKENS`` (rule version 6; every new network). A log
recorded under an earlier version replays as it was recorded: each miner's reveal claims its
``output_tokens``, validators count nothing, and the task's input count is the requester's
``input_tokens`` (``measured`` says which rules a new task follows; the task records it). On a network with a beacon the
counts are part of the validator's committed report (``validation.report_commitment``), so no
validator can copy another's counts.
"""

from __future__ import annotations

from .errors import invariant
from .params import Params
from .records import Task
from .rules import RULES_MEASURED_TOKENS, rules_since
from .validation import weighted_median


def measured(p: Params) -> bool:
    """Whether a task created under ``p`` has its tokens counted by the validators (``RULES_MEASURED_TOKENS``) or
    claimed by its miners (rules 1-5). The task keeps the answer (``Task.measured_tokens``) to its end, so a task in
    flight when governance activates the version finishes on the rules it started with."""
    return rules_since(p, RULES_MEASURED_TOKENS)


def measured_input_tokens(task: Task, stakes: dict[str, int]) -> int:
    """The validators' stake-weighted median count of the prompt's tokens, capped at the requester's bound."""
    counts = [(n, stakes.get(v, 0), v) for v, n in task.input_counts.items()]
    invariant(bool(counts), f"task {task.id}: no validator counted its prompt")
    return min(weighted_median(counts), task.input_tokens)


def measured_output_tokens(task: Task, miner: str, stakes: dict[str, int]) -> int:
    """The validators' stake-weighted median count of ``miner``'s revealed output."""
    counts = [(c[miner], stakes.get(v, 0), v) for v, c in task.output_counts.items() if miner in c]
    invariant(bool(counts), f"task {task.id}: no validator counted {miner}'s output")
    return weighted_median(counts)


def settled_output_tokens(counts: list[int], max_output_tokens: int) -> int:
    """The lower median of the measured counts of the miners in consensus, at most ``max_output_tokens``."""
    invariant(bool(counts), "no output to settle")
    return min(sorted(counts)[(len(counts) - 1) // 2], max_output_tokens)
