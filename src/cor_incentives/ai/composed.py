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

The borrow check (validator-side; the earlier tasks come from the log: every network task's prompt and revealed output is public)
    A first answer cut out of an earlier composed task whose first part was the same ("1. <A>", then "2. <X>") passes
    the part check: it *was* sampled after a composed prompt with that first part. It was not sampled after *this*
    prompt. The first answer is read after earlier composed prompts Q with the same first part (Q ≠ this prompt):
                        borrow_gain = min over Q of Σ over its first PART_GAIN_WINDOW tokens of
                                      log p(t | this prompt) − log p(t | Q)                    (nats × 1000, floored)
    An honest first answer, sampled after this prompt, is likelier after it than after another composition (the
    small model's first answer leans on the whole prompt, part 2 included); a borrowed one is likelier after the
    prompt it was sampled after. Flag ``borrowed`` below BORROW_GAIN_MIN_MILLI (a model check, capped like
    ``stitched``). Calibrated on data/poi-composed (pairs of composed prompts sharing their first part, honest
    miners at T 0.3-1.0 and a greedy one: docs/poi-calibration.md, "Composed network prompts").
    The candidates    the earlier compositions Q (``EarlierComposition``: an earlier network task's prompt and the first
                      answers of its revealed outputs). The copier glues a *published* first answer, whole or cut at
                      the task's budget: its words are a run of that answer's. So only the BORROW_CANDIDATES
                      compositions whose first answers are likest this first answer are read (``likeness``; a tie:
                      the newest first; ``borrow_candidates``). With at most BORROW_CANDIDATES earlier compositions
                      every one is read. The likeness only chooses what the model reads: the flag is the likelihood
                      test (a text-match flag would put out greedy honest miners whose answers repeat earlier greedy
                      ones).
    The likeness      first the share of this answer's LIKENESS_CHARS-character runs found in theirs, the texts
                      normalised (lower case, the words without punctuation, joined by one space): a copier who edits
                      the copy (a word in three replaced or dropped, case or punctuation changed) keeps most of them,
                      where its SHINGLE_WORDS-word runs were nearly all lost. A tie: the share of its word runs found
                      in theirs (the likeness before, which also tells punctuation apart), so an unedited copy's source
                      is chosen wherever the word runs alone chose it. Measured (scripts/borrow_likeness.py: 155
                      borrowed first answers of data/poi-composed, 12 or 40 newer decoy compositions of the same first
                      part), the source among the 4 chosen with a word in 2 or 3 replaced: 1 % by the word runs alone,
                      84-90 % now; a word in 2 or 3 dropped: 3-6 %, 86-91 %; lower case without punctuation: 81-83 %,
                      90-91 %; unedited: 91 %, both (the rest: a decoy holds the copy's words, no text tells them apart).
                      Read after its source by SmolLM2 (the script's ``--model``: 24 borrowed outputs of
                      data/poi-composed), an edited copy is still flagged ``borrowed`` nearly as often (unedited 15 of
                      24; a word in 3 replaced or dropped, lower case without punctuation, a letter in 3 words changed:
                      13; a word in 2 replaced: 7), and the edit costs fidelity (the window's mean log-probability
                      −1.9 nats unedited, −3.5 lower case, −5.1 a word in 3 dropped, −6.9 replaced). 4 of them, each
                      edit scored by the validator beside 2 honest outputs, were all put out (``borrowed``,
                      ``not_model_output`` or ``off_prompt``).

Cost: 2 reads of the first answer per output for the part check (the composed prompt's read is reused across the
task's outputs), at most BORROW_CANDIDATES more for the borrow check, however long the network's history (its
text likeness: one pass over the earlier first answers with that first part). A prompt that is not composed (one
part) has no part check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from .likelihood import TokenTrace, window_gain

PART_GAIN_WINDOW = 32  # the answer's first tokens: where an answer depends on its prompt most
PART_GAIN_MIN_MILLI = -10_000  # below: the first answer is far likelier after its part alone than after this prompt (calibrated: honest ≥ −9.45 nats)
BORROW_GAIN_MIN_MILLI = -6_000  # below: the first answer is far likelier after an earlier composed prompt with the same first part
BORROW_CANDIDATES = 4  # earlier compositions the first answer is read after, at most (the likeliest sources: ``borrow_candidates``)
SHINGLE_WORDS = 3  # the word runs the likeness breaks a tie with (a copy cut at the budget keeps all of its own)
LIKENESS_CHARS = 5  # the character runs of the normalised text the likeness counts first (most survive an edit of a word in three)
PART_READ_CHARS = 320  # the first answer is read up to the last whitespace at or before this many characters (≥ the window's tokens)
_HEAD = re.compile(r"^Answer each of these (\d+) parts in order, numbering your answers\.")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"^\s*(?:\*\*|#+[ \t]*)?\d{1,2}[.):]\**[ \t]*")


@dataclass(frozen=True)
class EarlierComposition:
    """An earlier network task the borrow check may read against: its composed prompt and the first answers
    (``first_answer``) of its revealed outputs, the texts a borrowing copier can glue. ``parts``: the prompt's
    ``parts_of``, parsed once when the composition is made (not for each output read against it); a composition
    rebuilt with more first answers passes its ``parts`` on."""

    prompt: str
    first_answers: tuple[str, ...] = ()
    parts: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.parts is None:
            object.__setattr__(self, "parts", parts_of(self.prompt))


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


@lru_cache(maxsize=4096)
def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The text's runs of SHINGLE_WORDS words (lower case; a shorter text: its words as one run)."""
    words = text.lower().split()
    n = min(SHINGLE_WORDS, len(words))
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1)) if n else frozenset()


@lru_cache(maxsize=1024)
def char_runs(text: str) -> frozenset[str]:
    """The runs of LIKENESS_CHARS characters of the text normalised: its words (``\\w+``) in lower case, without the
    punctuation and spacing between them, joined by one space (a shorter text: the whole as one run)."""
    norm = " ".join(_WORD.findall(text.lower()))
    n = min(LIKENESS_CHARS, len(norm))
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1)) if n else frozenset()


def _share(own: AbstractSet[object], answers: Sequence[AbstractSet[object]]) -> float:
    return max((len(own & a) / len(own) for a in answers), default=0.0) if own else 0.0


def likeness(text: str, answers: Sequence[str]) -> tuple[float, float]:
    """How like ``text`` the likest of ``answers`` is, a sort key (the greater the likelier a source; (0, 0) without
    answers): the share of ``text``'s normalised character runs (``char_runs``) found in one of them, then, to break a
    tie, the share of its word runs (``shingles``) found in one. A copy cut at the budget is a run of its source's answer:
    (1, 1); a copy with a word in three replaced or dropped, or its case or punctuation changed, keeps most of its
    character runs. It only chooses which earlier compositions the borrow check reads."""
    return _share(char_runs(text), [char_runs(a) for a in answers]), _share(shingles(text), [shingles(a) for a in answers])


def borrow_candidates(prompt: str, parts: Sequence[str], text: str, earlier: Sequence[EarlierComposition]) -> list[str]:
    """The earlier composed prompts the first answer ``text`` is read after: those with this prompt's first part (not
    this prompt), at most BORROW_CANDIDATES, the likeliest sources first (``likeness`` to their first answers; a tie:
    the newest, ``earlier`` being oldest first)."""
    answers: dict[str, list[str]] = {}
    for e in earlier:
        if e.prompt != prompt and e.parts and e.parts[0] == parts[0]:
            answers.setdefault(e.prompt, []).extend(e.first_answers)
    newest_first = list(reversed(answers))
    if len(newest_first) <= BORROW_CANDIDATES:
        return newest_first
    ranked = sorted(newest_first, key=lambda q: likeness(text, answers[q]), reverse=True)  # stable: a tie keeps the newest first
    return ranked[:BORROW_CANDIDATES]


def borrow_gain(reader: SpanReader, prompt: str, parts: Sequence[str], output: str, earlier: Sequence[EarlierComposition]) -> int | None:
    """The first answer's borrow gain (see the module docstring) against the ``borrow_candidates`` among the ``earlier``
    compositions (oldest first); None when none shares this prompt's first part, for a prompt of one part, or for an
    empty first answer."""
    if len(parts) < 2:
        return None
    text = first_answer(output, len(parts))
    others = borrow_candidates(prompt, parts, text, earlier) if text else []
    if not others:
        return None
    here = reader.trace(prompt, text)
    return min(window_gain(here, reader.trace(q, text), PART_GAIN_WINDOW) for q in others)
