"""Answers to composed prompts: is the first part's answer written for *this* prompt?

Concepts
    A network task asks a prompt composed of K base prompts of the genesis set (``core.network_prompts``:
    "Answer each of these K parts in order, numbering your answers." then "1. <part 1>", "2. <part 2>", ...).
    The stitching copier runs no model: it glues answers published for the parts asked alone
    ("1. <answer to part 1 alone>\\n\\n2. <answer to part 2 alone>"). Each piece is a real sample of the
    task's model, on topic, and ends where the model ends, so the per-output checks pass it. What it
    is not: a sample *after this prompt*. An honest miner samples its answer after the composed prompt;
    the copier's piece was sampled after the part alone.

The part check (validator-side; the parts come from the prompt itself, ``parts_of``)
    first answer    the output up to the first line that starts with the next part's number ("\\n2. ",
                    "\\n**2.", "\\n## 2)"; ``answer_spans``), without its own leading number ("1. ",
                    ``strip_number``); no such line: the whole output without its leading number. Cut at
                    the last whitespace at or before PART_READ_CHARS characters (``first_answer``).
    part gain       that text read by the task's model as an output of the composed prompt, and again as
                    an output of part 1's prompt alone:
                        part_gain = Σ over its first PART_GAIN_WINDOW tokens of
                                    log p(t | composed prompt) − log p(t | part 1 alone)        (nats × 1000, floored)
                    Both reads hold the same tokens. A sample drawn after the composed prompt gains, one
                    drawn after the part alone loses: the sign of the likelihood ratio between the two
                    prompts the text could have been sampled after.
    the flag        part_gain < PART_GAIN_MIN_MILLI: flag ``stitched`` (a model check: capped at
                    MODEL_CHECK_CAP_PPB, below the consensus quality floor). Calibrated on data/poi-composed
                    (docs/poi-calibration.md, "Composed network prompts").
    Only the first part is judged: a later part's answer read on its own, without the answers before it,
    is not what an honest miner sampled after (measured: honest later parts lose as often as stitched ones).

The borrow check (validator-side; the earlier prompts come from the log: every network task's prompt is public)
    A first answer cut out of an earlier composed task whose first part was the same ("1. <A>", then "2. <X>") passes
    the part check: it *was* sampled after a composed prompt with that first part. It was not sampled after *this*
    prompt. The first answer is read after each earlier composed prompt Q with the same first part (Q ≠ this prompt):
                        borrow_gain = min over Q of Σ over its first PART_GAIN_WINDOW tokens of
                                      log p(t | this prompt) − log p(t | Q)                    (nats × 1000, floored)
    An honest first answer, sampled after this prompt, is likelier after it than after another composition (the
    small model's first answer leans on the whole prompt, part 2 included); a borrowed one is likelier after the
    prompt it was sampled after. Flag ``borrowed`` below BORROW_GAIN_MIN_MILLI (a model check, capped like
    ``stitched``). Calibrated on data/poi-composed (pairs of composed prompts sharing their first part, honest
    miners at T 0.3-1.0 and a greedy one: docs/poi-calibration.md, "Composed network prompts").

Cost: 2 reads of the first answer per output (the composed prompt's read is reused across the task's
outputs). A prompt that is not composed (one part) has no part check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from .likelihood import TokenTrace, window_gain

PART_GAIN_WINDOW = 32  # the answer's first tokens: where an answer depends on its prompt most
PART_GAIN_MIN_MILLI = -10_000  # below: the first answer is far likelier after its part alone than after this prompt (calibrated: honest ≥ −9.45 nats)
BORROW_GAIN_MIN_MILLI = -6_000  # below: the first answer is far likelier after an earlier composed prompt with the same first part
PART_READ_CHARS = 320  # the first answer is read up to the last whitespace at or before this many characters (≥ the window's tokens)
_HEAD = re.compile(r"^Answer each of these (\d+) parts in order, numbering your answers\.")
_NUMBER = re.compile(r"^\s*(?:\*\*|#+[ \t]*)?\d{1,2}[.):]\**[ \t]*")


class SpanReader(Protocol):
    """Reads a text as a model output after a prompt (``ai.likelihood.TeacherForcer``)."""

    def trace(self, prompt: str, output: str) -> TokenTrace:
        """How the model ranks each token of ``output`` after ``prompt``."""
        ...


def parts_of(prompt: str) -> tuple[str, ...]:
    """The parts' prompts of a composed prompt (``core.network_prompts.compose``), in order; () if it is not one.

    The parse is checked by composing the parts again: only a prompt the core's rule writes parses."""
    from ..core.network_prompts import compose
    from ..core.records import NetworkPrompt

    m = _HEAD.match(prompt)
    if m is None or int(m.group(1)) < 2:
        return ()
    k, rest = int(m.group(1)), prompt[m.end() :]
    parts: list[str] = []
    for i in range(1, k + 1):
        mark = f"\n\n{i}. "
        if not rest.startswith(mark):
            return ()
        nxt = rest.find(f"\n\n{i + 1}. ", len(mark)) if i < k else len(rest)
        if nxt < 0:
            return ()
        parts.append(rest[len(mark) : nxt])
        rest = rest[nxt:]
    if compose(tuple(NetworkPrompt(str(i), p, 1) for i, p in enumerate(parts))) != prompt:
        return ()
    return tuple(parts)


def answer_spans(output: str, k: int) -> list[str]:
    """The output cut before each line that starts with the next part's number (2, 3, ... k), at most ``k`` spans."""
    spans: list[str] = []
    start = 0
    for i in range(2, k + 1):
        m = re.compile(rf"\n[ \t]*(?:\*\*|#+[ \t]*)?{i}[.):]").search(output, start)
        if m is None:
            break
        spans.append(output[start : m.start()].strip())
        start = m.start()
    spans.append(output[start:].strip())
    return spans


def strip_number(span: str) -> str:
    """The span without its leading answer number ("1. ", "**1.**", "## 1)")."""
    return _NUMBER.sub("", span, count=1).strip()


def first_answer(output: str, k: int) -> str:
    """The text the part check reads: the first span without its number, cut at the last whitespace at or before
    PART_READ_CHARS characters (only its first PART_GAIN_WINDOW tokens count; both reads hold the same text)."""
    text = strip_number(answer_spans(output, k)[0])
    if len(text) <= PART_READ_CHARS:
        return text
    cut = max(text.rfind(" ", 0, PART_READ_CHARS + 1), text.rfind("\n", 0, PART_READ_CHARS + 1))
    return text[: cut if cut > 0 else PART_READ_CHARS].rstrip()


def part_gain(reader: SpanReader, prompt: str, parts: Sequence[str], output: str) -> int | None:
    """The first answer's part gain (see the module docstring); None for a prompt of one part or an empty first answer."""
    if len(parts) < 2:
        return None
    text = first_answer(output, len(parts))
    if not text:
        return None
    return window_gain(reader.trace(prompt, text), reader.trace(parts[0], text), PART_GAIN_WINDOW)


def borrow_gain(reader: SpanReader, prompt: str, parts: Sequence[str], output: str, earlier: Sequence[str]) -> int | None:
    """The first answer's borrow gain (see the module docstring) against the ``earlier`` composed prompts that share this
    prompt's first part; None when there is none, for a prompt of one part, or for an empty first answer."""
    if len(parts) < 2:
        return None
    others = [q for q in dict.fromkeys(earlier) if q != prompt and (qp := parts_of(q)) and qp[0] == parts[0]]
    text = first_answer(output, len(parts))
    if not others or not text:
        return None
    here = reader.trace(prompt, text)
    return min(window_gain(here, reader.trace(q, text), PART_GAIN_WINDOW) for q in others)
