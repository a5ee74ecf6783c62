"""Proof of Useful Work (PoUW): is an output useful? A quality score in ppb with published criteria (docs/design.md §5).

Concepts
    A validator scores each revealed output against the task's prompt. The default scorer
    (``RuleEmbeddingScorer``, registry name ``"rule-embedding"``) combines four criteria, each a
    sub-score in [0, 10**9] ppb:

    relevance     Cosine similarity of the prompt's and the output's embeddings (``ai.embedding``),
                  mapped linearly from [RELEVANCE_FLOOR_COSINE, RELEVANCE_FULL_COSINE] onto [0, 1]
                  (0.15 → 0, 0.60 → 1). Measured on tests/ai/quality_cases.json: good answers lie
                  at 0.48–0.83, refusals, lazy and garbage answers at −0.05–0.23, unrelated texts at
                  −0.09–0.03.
                  Known limit: a bare "42" or "Yes." is too short for its embedding to say much;
                  a yes/no answer to a yes/no question counts as fully relevant.
    compliance    Instruction and format compliance. The prompt is read for explicit format asks
                  (JSON, code, a list of N items, N sentences, one word, yes/no, a word limit); each
                  ask found is checked and the criterion is the lowest check. Neutral (1.0) when the
                  prompt asks for no format: there is nothing to violate.
    completeness  Length within expected bounds: words / expected minimum (by prompt kind, see
                  ``expected_min_words``), capped at 1; × OVERLONG factor beyond max_output_tokens;
                  × TRUNCATED_FACTOR when the output stops mid-sentence or leaves a code fence or a
                  JSON document open (short answers, lists, code and verse need no full stop).
                  Empty → 0.
    integrity     Refusal and garbage detection: the lowest of five detectors — refusal phrases,
                  non-answers ("I am not sure, please check online"), words that are not words
                  (WordPiece: a real word is one vocabulary entry or a few long pieces; "zzxq" is
                  four one-letter pieces), junk symbol density, and repetition loops (share of
                  distinct word 4-grams).

    With the task's model at hand (``RuleEmbeddingScorer(reader=...)``, ``ai.likelihood``), two
    *model checks* are reported beside the four criteria, as sub-scores in ppb that carry no weight:

    fidelity      share of the output's tokens that the task's model considers at their position
                  (teacher forcing: among its top PLAUSIBLE_RANK and ≥ PLAUSIBLE_MIN_RATIO of the top
                  token's probability). Honest samples are drawn from those candidates; a template,
                  a canned non-answer, random letters or an answer to another prompt are not.
                  Below MIN_FIDELITY_PPB: flag ``not_model_output``.
    ending        10**9 when the output reaches its token budget or stops where the model would
                  put its end-of-turn token; 0 when it stops where the model would go on (flag
                  ``stopped_early``: an output cut short to save compute).
    part          on a composed network prompt (``ai.composed``): the answer to the first part read
                  after the composed prompt and after that part alone; an answer likelier after the
                  part alone (part gain under PART_GAIN_MIN_MILLI over its first tokens) was sampled
                  for another prompt and glued in: flag ``stitched`` (the stitching copier).
    over budget   the model's tokenizer counts the output more than ``budget_slack`` tokens beyond
                  the task's max_output_tokens: not generated under this budget (flag ``over_budget``;
                  a replayed answer to a prompt with a larger budget).
    unended       a prompt that asks for one word (not a composed one) is answered in a few tokens that end where the model
                  ends: an output to it that stopped before its budget with the end-of-turn token more
                  than ONE_WORD_END_GAP_MILLI under the model's top token was cut (flag ``unended``).
    borrow        on a composed prompt whose first part was asked first in earlier network tasks: that
                  answer read after this prompt and after the earlier compositions it likeliest was cut out of
                  (at most BORROW_CANDIDATES, ``ai.composed``); an answer far likelier after an earlier one
                  (borrow gain under BORROW_GAIN_MIN_MILLI) was cut out of that task's published answer: flag
                  ``borrowed`` (the borrowing copier).
    Any of these flags caps the total at MODEL_CHECK_CAP_PPB (rubric 3, INVALID): below the core's
    consensus quality floor. Without a reader (a model the validator cannot run) none is reported.
    restated      an output that repeats RESTATED_MIN_WORDS consecutive words of the prompt among its
                  first RESTATED_WINDOW_WORDS words and takes RESTATED_MIN_WRONG_TURNS early wrong turns (tokens
                  the model ranks far under its top one, ``ai.likelihood`` early_wrong_turns) restates the
                  question instead of answering it (a template around the prompt's words; the copied
                  words also make its prompt gain large): flag ``restated_prompt``, capped the same way.

    With the task's other outputs (``score_outputs``, then ``task_checks``), more steps:
    off prompt    an output whose first tokens take a turn the model would not take (a token under
                  e**-6 of the top token's probability: ``ai.likelihood`` early_wrong_turns) and whose
                  prompt relevance is below OFF_PROMPT_RELEVANCE_BPS (70 %) of the best other valid
                  output's is an answer to another prompt: flag ``off_prompt``, capped like a failed
                  model check.
    unprompted    the model reads each output a second time after no question: an output that the
                  prompt makes far less likely than it makes the task's other outputs (prompt gain per
                  token under UNPROMPTED_RELATIVE_BPS of the best other's, and small in itself) answers
                  another prompt: flag ``off_prompt``.
    short stop    an output far shorter than the task's other outputs (× SHORT_STOP_FACTOR) that
                  stops where the model would rather go on (end-of-turn token more than
                  SHORT_STOP_END_GAP_MILLI under the top token): flag ``stopped_early``.
    vouched       an output whose only unverifiable flag is ``off_topic`` (the embedding alone calls it
                  unrelated), with no early wrong turn, that the prompt makes likely as it makes the
                  task's other outputs likely (prompt gain per token ≥ UNPROMPTED_RELATIVE_BPS of the
                  best other's, early gain ≥ UNPROMPTED_MAX_EARLY_GAIN_MILLI) is a poor sample of this
                  prompt: the off-topic cap is lifted and it scores exactly MODEL_VERIFIED_MIN_PPB
                  (flags ``off_topic_vouched``, ``model_verified``).
    model-verified floor
                  an output that passes the model checks and has no unverifiable flag (empty,
                  non-answer, off-topic, a failed model check) scores at least MODEL_VERIFIED_MIN_PPB
                  (flag ``model_verified``, verdict RETRY): a loop, a refusal or a format miss that the
                  model itself sampled is a poor answer, not a cheat.

    total_ppb = Σ criterion_ppb × weight_bps // 10 000          (integer; weights below)
    A *hard* detection (empty, refusal, non-answer, garbage, repetition loop) caps the total at
    HARD_FAIL_CAP_PPB (rubric 1) and makes the verdict INVALID, whatever the other criteria say.
    An *off-topic* output (cosine ≤ RELEVANCE_FLOOR_COSINE and at least OFF_TOPIC_MIN_WORDS words:
    a whole text about something else) is capped at OFF_TOPIC_CAP_PPB (rubric 3, INVALID). Shorter
    outputs are spared that cap: the embedding cannot judge "42" or "Yellow." on its own.

Mapping onto Cortensor's validator scale
    rubric_1_10 = min(10, 1 + total_ppb × 10 // 10**9): [0, 0.1) → 1, [0.1, 0.2) → 2, …,
                  [0.9, 1.0] → 10. ``rubric_to_ppb`` maps a 1–10 rubric back to its band's middle.
    verdict     INVALID  hard detection, or total < INVALID_BELOW_PPB (rubric 1–3);
                RETRY    the output looks cut off (``truncated``), or total < VALID_FROM_PPB
                         (rubric 4–7): worth re-running, not worth paying in full;
                VALID    otherwise (rubric 8–10).

The float → integer boundary
    Criteria are floats in [0, 1] inside this module and become ppb once, by floor, in
    ``_to_ppb``; the total, the cap, the rubric and the verdict are integer arithmetic on those.

Pluggable
    ``QualityScorer`` is the protocol; ``get_scorer(name, **kwargs)`` builds one from the registry
    (``register_scorer`` adds more). ``LLMJudgeScorer`` (``"llm-judge"``) asks an injected
    ``generate(prompt) -> str`` for a JSON verdict on the same four criteria.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..core.errors import invariant
from ..core.units import BPS, PPB
from .composed import BORROW_GAIN_MIN_MILLI, PART_GAIN_MIN_MILLI, EarlierComposition, borrow_gain, part_gain, parts_of
from .likelihood import PROMPT_FREE, LikelihoodCheck, TokenTrace, budget_slack, likelihood_check

if TYPE_CHECKING:
    from .embedding import Embedder

# -- criteria and weights (bps, summing to 10 000) ---------------------------------------------------
RELEVANCE = "relevance"
COMPLIANCE = "compliance"
COMPLETENESS = "completeness"
INTEGRITY = "integrity"
CRITERIA_WEIGHTS_BPS: dict[str, int] = {
    RELEVANCE: 3_500,  # the strongest single signal that the output answers *this* prompt
    COMPLIANCE: 2_000,  # explicit instructions followed (neutral when none)
    COMPLETENESS: 2_000,  # long enough for the question, not cut off, not runaway
    INTEGRITY: 2_500,  # not a refusal, not garbage, not a loop (and hard-capped when it is)
}
invariant(sum(CRITERIA_WEIGHTS_BPS.values()) == BPS, "criteria weights must sum to 10 000 bps")

# -- model checks (reported with the criteria, no weight: they cap) -----------------------------------
FIDELITY = "fidelity"
ENDING = "ending"
MODEL_CHECKS = (FIDELITY, ENDING)
MIN_FIDELITY_PPB = 900_000_000  # below: not what the model samples (calibrated: docs/poi-calibration.md)
MODEL_CHECK_CAP_PPB = 200_000_000  # rubric 3, INVALID: below consensus_min_quality_ppb
# -- task checks (an output among the task's other outputs; calibrated: docs/poi-calibration.md) -----
OFF_PROMPT_RELEVANCE_BPS = 7_000  # relevance under 70 % of the best other valid output's, with a wrong turn
MODEL_VERIFIED_MIN_PPB = 300_000_000  # rubric 4, RETRY: a sample the model vouches for is not INVALID
# the prompt gain (``ai.likelihood.prompt_gain``) against the task's other valid outputs
UNPROMPTED_RELATIVE_BPS = 3_000  # gain per token under 30 % of the best other valid output's, and …
UNPROMPTED_MAX_GAIN_MILLI = 0  # … no gain per token (the prompt makes it less likely than no question), or …
UNPROMPTED_MAX_EARLY_GAIN_MILLI = 5_000  # … under 5 nats over the first PROMPT_GAIN_WINDOW tokens: off prompt
# an output that stops before its budget where the model would go on, far shorter than the task's other outputs
ONE_WORD_END_GAP_MILLI = 1_000  # a one-word answer ends where the model ends: its end-of-turn token within 1 nat (37 %) of the top
SHORT_STOP_FACTOR = 2  # tokens × 2 < the longest other valid output's tokens, and …
SHORT_STOP_END_GAP_MILLI = 2_995  # … the end-of-turn token under 5 % of the top token (ln 20 nats): below min-p 0.05, never sampled

RESTATED_MIN_WORDS = 8  # an output repeating this many consecutive words of the prompt among its first …
RESTATED_WINDOW_WORDS = 64  # … words, with RESTATED_MIN_WRONG_TURNS early wrong turns, restates the question instead of answering it
RESTATED_MIN_WRONG_TURNS = 2  # (one: a Q4_0 miner's sample that quotes the passage it summarises)

# -- relevance ---------------------------------------------------------------------------------------
RELEVANCE_FLOOR_COSINE = 0.15  # at or below: unrelated (measured: unrelated/garbage/refusal ≤ 0.23)
RELEVANCE_FULL_COSINE = 0.60  # at or above: fully on topic (measured: good answers 0.48–0.83)
OFF_TOPIC_MIN_WORDS = 8  # an output this long at or below the floor is about something else
OFF_TOPIC_CAP_PPB = 200_000_000  # rubric 3, INVALID

# -- completeness ------------------------------------------------------------------------------------
MIN_WORDS_DEFAULT = 3  # a plain question may have a short answer ("Canberra.")
MIN_WORDS_ELABORATE = 40  # "explain / describe / compare / why / how …"
MIN_WORDS_PER_SENTENCE = 6  # "in N sentences" → 6·N words
MIN_WORDS_PER_ITEM = 3  # "list N …" → 3·N words
MIN_WORDS_CODE = 8
LIST_INLINE_MAX_WORDS = 15  # "Red, yellow and blue." counts as a list of three; longer prose does not
MIN_WORDS_JSON = 2
CHARS_PER_TOKEN = 4  # the usual English estimate; only used against max_output_tokens
OVERLONG_TOLERANCE_BPS = 12_500  # estimated tokens may exceed max_output_tokens by 25 % before a cut
TRUNCATED_FACTOR = 0.5
VERSE_MIN_LINES = 3  # at least this many lines, none longer than VERSE_MAX_LINE_WORDS: a poem or a table
VERSE_MAX_LINE_WORDS = 10

# -- integrity ---------------------------------------------------------------------------------------
REFUSAL_MAX_WORDS = 40  # a refusal phrase at the start of a short output is a refusal, not a caveat
SOFT_REFUSAL_SCORE = 0.6  # a refusal phrase inside a longer answer
NON_ANSWER_MAX_WORDS = 25  # "I am not sure, please check online." and the like
NONWORD_SOFT_RATIO = 0.15  # share of non-words tolerated (names, acronyms, identifiers)
NONWORD_HARD_RATIO = 0.50  # at or above: garbage
NONWORD_MIN_WORDS = 3  # fewer words are judged only when they hold at least NONWORD_MIN_LETTERS letters
NONWORD_MIN_LETTERS = 16
ACRONYM_MAX_CHARS = 8  # all-capital words up to this length are accepted as acronyms
MIN_CHARS_PER_PIECE = 2.5  # a word splitting into shorter WordPiece pieces on average is not a word
JUNK_SOFT_RATIO = 0.10  # share of junk symbols among non-space characters (outside code)
JUNK_HARD_RATIO = 0.30
LOOP_NGRAM = 4
LOOP_MIN_WORDS = 20
LOOP_SOFT_DISTINCT = 0.80  # natural text: nearly every 4-gram is distinct
LOOP_HARD_DISTINCT = 0.35  # at or below: a repetition loop

# -- total, rubric, verdict --------------------------------------------------------------------------
HARD_FAIL_CAP_PPB = 50_000_000  # rubric 1
INVALID_BELOW_PPB = 300_000_000  # rubric 1–3
VALID_FROM_PPB = 700_000_000  # rubric 8–10
VALID, INVALID, RETRY = "VALID", "INVALID", "RETRY"
VERDICTS = (VALID, INVALID, RETRY)

MAX_SCORED_CHARS = 32_000  # the scorer reads at most this prefix (≈ 8 000 tokens); limits regex work
MAX_PROMPT_CHARS = 200_000
MAX_OUTPUTS_PER_CALL = 256  # one task's outputs; redundancy is a handful

_HARD_FLAGS = frozenset({"empty", "refusal", "non_answer", "garbage", "repetition_loop"})
_MODEL_FLAGS = frozenset({"not_model_output", "stopped_early", "off_prompt", "restated_prompt", "stitched", "over_budget", "unended", "borrowed"})
# what the model's vouching does not lift: no answer, or an answer to something else
_UNVERIFIABLE_FLAGS = frozenset({"empty", "non_answer", "off_topic", *_MODEL_FLAGS})


@dataclass(frozen=True)
class QualityScore:
    """A PoUW score: the total and each criterion in ppb, the 1–10 rubric, the verdict and why."""

    total_ppb: int
    criteria: dict[str, int]
    verdict: str
    rubric_1_10: int
    flags: tuple[str, ...] = field(default=())


@runtime_checkable
class QualityScorer(Protocol):
    """Anything that scores an output against its prompt."""

    name: str

    def score(self, prompt: str, output: str, *, max_output_tokens: int | None = None) -> QualityScore:
        """Score one output for one prompt."""
        ...


# == the default scorer =============================================================================


@runtime_checkable
class ModelReader(Protocol):
    """Reads an output with the task's model (``ai.likelihood.TeacherForcer``)."""

    def trace(self, prompt: str, output: str) -> TokenTrace:
        """How the model ranks each output token after the prompt, and its end-of-turn token after the output."""
        ...


class RuleEmbeddingScorer:
    """The default scorer: embedding relevance plus published rules (see the module docstring).

    ``reader``: the task's model, when the validator can run it; adds the fidelity and ending checks.
    ``prompt_free``: also read each output after no prompt (the prompt gain of the task checks).
    ``part_check``: on a composed prompt, also read the first part's answer after that part alone (``ai.composed``).
    ``earlier``: the network's earlier composed tasks, oldest first (``ai.composed.EarlierComposition``: prompt and
    first answers; those sharing the first part count): the first answer is also read after the BORROW_CANDIDATES
    likeliest sources among them (the borrow check, ``ai.composed.borrow_gain``).
    """

    name = "rule-embedding"

    def __init__(
        self,
        embedder: Embedder | None = None,
        reader: ModelReader | None = None,
        *,
        prompt_free: bool = True,
        part_check: bool = True,
        earlier: Sequence[EarlierComposition] = (),
    ) -> None:
        self._embedder = embedder
        self.earlier = tuple(earlier)
        self.reader = reader
        self.prompt_free = prompt_free
        self.part_check = part_check

    @property
    def embedder(self) -> Embedder:
        """The embedder in use (the process-wide one unless one was injected)."""
        if self._embedder is None:
            from .embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def score(self, prompt: str, output: str, *, max_output_tokens: int | None = None) -> QualityScore:
        """Score one output for one prompt."""
        return self.score_outputs(prompt, [output], max_output_tokens=max_output_tokens)[0]

    def score_outputs(self, prompt: str, outputs: list[str], *, max_output_tokens: int | None = None) -> list[QualityScore]:
        """Score every output of one task, embedding the prompt and the outputs in one call, then the task checks."""
        return task_checks(*self.score_each(prompt, outputs, max_output_tokens=max_output_tokens))

    def score_each(
        self, prompt: str, outputs: list[str], *, max_output_tokens: int | None = None
    ) -> tuple[list[QualityScore], list[float], list[LikelihoodCheck | None]]:
        """Each output's own score (before ``task_checks``), its prompt cosine and its model check (None without a reader)."""
        _check_inputs(prompt, outputs, max_output_tokens)
        spec = analyse_prompt(prompt)
        scored = [o[:MAX_SCORED_CHARS] for o in outputs]
        vectors = self.embedder.embed([prompt[:MAX_SCORED_CHARS], *scored])
        checks = self._model_checks(prompt, outputs, max_output_tokens)
        turned = [c is not None and c.early_wrong_turns >= RESTATED_MIN_WRONG_TURNS for c in checks]
        echoes = prompt_ngrams(prompt[:MAX_SCORED_CHARS]) if any(turned) else frozenset()
        one_word = spec.one_word and not parts_of(prompt)  # a composed prompt's answer covers its other parts too
        results, cosines = [], []
        for i, output in enumerate(outputs):
            cosine = _cosine(vectors[0], vectors[i + 1])
            check = checks[i]
            score = self._score_one(spec, output, scored[i], cosine, max_output_tokens, check)
            if turned[i] and restates(echoes, scored[i]):
                score = finalize_score(dict(score.criteria), [*score.flags, "restated_prompt"])
            if one_word and unended(check):
                score = finalize_score(dict(score.criteria), [*score.flags, "unended"])
            results.append(score)
            cosines.append(cosine)
        return results, cosines, checks

    def _model_checks(self, prompt: str, outputs: list[str], max_output_tokens: int | None) -> list[LikelihoodCheck | None]:
        """Each output read by the model after the prompt, then after no prompt (the reader reuses each prompt's read)."""
        if self.reader is None:
            return [None] * len(outputs)
        traces = [self.reader.trace(prompt, o) for o in outputs]
        free: list[TokenTrace | None] = [self.reader.trace(PROMPT_FREE, o) if self.prompt_free else None for o in outputs]
        checks = [likelihood_check(t, max_output_tokens, free=f) for t, f in zip(traces, free)]
        parts = parts_of(prompt) if self.part_check else ()
        if not parts:
            return list(checks)
        return [
            replace(
                c,
                part_gain_milli=part_gain(self.reader, prompt, parts, o),
                borrow_gain_milli=borrow_gain(self.reader, prompt, parts, o, self.earlier),
            )
            for c, o in zip(checks, outputs)
        ]

    def _score_one(
        self, spec: PromptSpec, output: str, scored: str, cosine: float, max_output_tokens: int | None, check: LikelihoodCheck | None = None
    ) -> QualityScore:
        """Combine the four criteria for one output (and the model checks, when the model read it)."""
        flags: list[str] = []
        checks = model_check_criteria(check, flags, max_output_tokens)
        if not any(ch.isalnum() for ch in scored):
            criteria = {RELEVANCE: 0, COMPLIANCE: 0, COMPLETENESS: 0, INTEGRITY: 0, **checks}
            return finalize_score(criteria, ["empty", *flags])
        if cosine <= RELEVANCE_FLOOR_COSINE and _count_words(scored) >= OFF_TOPIC_MIN_WORDS:
            flags.append("off_topic")
        compliance = compliance_score(spec, scored, flags)
        completeness = completeness_score(spec, output, scored, max_output_tokens, flags)
        integrity = integrity_score(scored, self.embedder, flags)
        relevance = relevance_from_cosine(cosine)
        if spec.yes_no and _yes_no_check(scored) == 1.0:
            relevance = 1.0  # "Yes." answers a yes/no question by construction; its embedding cannot tell
        criteria = {
            RELEVANCE: _to_ppb(relevance),
            COMPLIANCE: _to_ppb(compliance),
            COMPLETENESS: _to_ppb(completeness),
            INTEGRITY: _to_ppb(integrity),
            **checks,
        }
        return finalize_score(criteria, flags)


def prompt_ngrams(prompt: str) -> frozenset[tuple[str, ...]]:
    """Every run of RESTATED_MIN_WORDS consecutive words of the prompt (case-folded)."""
    words = [w.casefold() for w in _RE_WORD.findall(prompt)]
    n = RESTATED_MIN_WORDS
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def restates(prompt_runs: frozenset[tuple[str, ...]], output: str) -> bool:
    """Whether the output's first RESTATED_WINDOW_WORDS words repeat RESTATED_MIN_WORDS consecutive words of the prompt."""
    words = [w.casefold() for w in _RE_WORD.findall(output)][:RESTATED_WINDOW_WORDS]
    n = RESTATED_MIN_WORDS
    return any(tuple(words[i : i + n]) in prompt_runs for i in range(len(words) - n + 1))


def unended(check: LikelihoodCheck | None) -> bool:
    """An answer to a one-word prompt that stopped before its budget with the end-of-turn token more than
    ONE_WORD_END_GAP_MILLI under the model's top token: cut where the model goes on (a one-word answer ends
    where the model ends)."""
    return check is not None and check.end_gap_milli is not None and check.end_gap_milli > ONE_WORD_END_GAP_MILLI


def model_check_criteria(check: LikelihoodCheck | None, flags: list[str], max_output_tokens: int | None = None) -> dict[str, int]:
    """The fidelity and ending sub-scores of a model check (none without one), flagging a failure.

    ``max_output_tokens``: the task's budget. An output that the model's tokenizer counts more than
    ``budget_slack`` tokens beyond it was not generated under this budget (flag ``over_budget``): a
    miner's run stops at the budget, and its text re-tokenised counts at most 2 tokens more (measured
    on the calibration's honest and Q4_0 outputs); a replayed answer to a prompt with a larger budget
    does not."""
    if check is None:
        return {}
    if max_output_tokens is not None and check.tokens > max_output_tokens + budget_slack(max_output_tokens):
        flags.append("over_budget")
    if check.fidelity_ppb < MIN_FIDELITY_PPB:
        flags.append("not_model_output")
    if check.ending_ppb == 0:
        flags.append("stopped_early")
    if check.part_gain_milli is not None and check.part_gain_milli < PART_GAIN_MIN_MILLI:
        flags.append("stitched")
    if check.borrow_gain_milli is not None and check.borrow_gain_milli < BORROW_GAIN_MIN_MILLI:
        flags.append("borrowed")
    return {FIDELITY: check.fidelity_ppb, ENDING: check.ending_ppb}


def task_checks(scores: list[QualityScore], cosines: list[float], checks: list[LikelihoodCheck | None], *, vouch: bool = True) -> list[QualityScore]:
    """The checks that need the model's trace and the task's other outputs, after each output's own score.

    0. *Vouched* (``vouch``; ``_prompt_vouches``): an output whose only unverifiable flag is ``off_topic``,
       with no early wrong turn, whose prompt gain per token is at least UNPROMPTED_RELATIVE_BPS of the
       best among the task's other outputs valid by their own score and whose early gain is at least
       UNPROMPTED_MAX_EARLY_GAIN_MILLI loses the off-topic cap and scores exactly MODEL_VERIFIED_MIN_PPB
       (flags ``off_topic_vouched``, ``model_verified``): a sample of this prompt that the embedding
       alone misjudges. ``vouch`` False: as the validator before this step.
    1. *Model-verified floor*: an output the model read that passes fidelity and ending, whose only
       defects are soft or hard detections other than ``_UNVERIFIABLE_FLAGS`` (a repetition loop, a
       refusal, a format miss, a cut-off look: what a small model sometimes samples), scores at least
       MODEL_VERIFIED_MIN_PPB (flag ``model_verified``, verdict RETRY): the miner ran the model, the
       model answered badly; such an output stays in consensus (at the floor) and is paid at its score.
    2. *Off prompt*: an output with an early wrong turn (``LikelihoodCheck.early_wrong_turns`` ≥ 1)
       whose prompt relevance (cosine) is below OFF_PROMPT_RELEVANCE_BPS of the best relevance among
       the task's other outputs scored at least INVALID_BELOW_PPB is flagged ``off_prompt`` (a model
       check: capped at MODEL_CHECK_CAP_PPB): a real model answer, but to another prompt of the same
       kind (a replayed cached answer).
    3. *Unprompted*: an output whose prompt gain per token (``LikelihoodCheck.prompt_gain_milli``:
       how much more likely the prompt makes it than no question) is below UNPROMPTED_RELATIVE_BPS of
       the best among the task's other valid outputs, and either below UNPROMPTED_MAX_GAIN_MILLI per
       token or below UNPROMPTED_MAX_EARLY_GAIN_MILLI over its first tokens, is flagged ``off_prompt``
       too: an answer to a closely related prompt, which takes no wrong turn, is still not *this*
       prompt's answer.
    4. *Short stop*: an output that stopped before its budget with the end-of-turn token more than
       SHORT_STOP_END_GAP_MILLI under the model's top token (plausible, so the ending check passed)
       and fewer than 1/SHORT_STOP_FACTOR of the tokens of the longest other valid output is flagged
       ``stopped_early``: cut where the model and the task's other miners go on.
    Steps 2–4 compare with the other outputs scored at least INVALID_BELOW_PPB after step 1 (none:
    no flag). Without the model (``checks`` None) no step applies; a check without the prompt gain or
    the end gap (an earlier validator's) skips step 3 or 4.
    """
    if not len(scores) == len(cosines) == len(checks):
        raise ValueError("one score, one cosine and one check (or None) per output")
    own_valid = [s.total_ppb >= INVALID_BELOW_PPB for s in scores]
    lifted = []
    for i, (s, check) in enumerate(zip(scores, checks)):
        if vouch and check is not None and _prompt_vouches(s, check, [c for j, c in enumerate(checks) if j != i and own_valid[j]]):
            s = finalize_score(dict(s.criteria), [*(f for f in s.flags if f != "off_topic"), "off_topic_vouched", "model_verified"])
        if check is not None and s.total_ppb < MODEL_VERIFIED_MIN_PPB and not any(f in _UNVERIFIABLE_FLAGS for f in s.flags):
            s = finalize_score(dict(s.criteria), [*s.flags, "model_verified"])
        lifted.append(s)
    valid = [s.total_ppb >= INVALID_BELOW_PPB for s in lifted]
    out = []
    for i, (s, check) in enumerate(zip(lifted, checks)):
        others = [j for j in range(len(lifted)) if j != i and valid[j]]
        flag = _task_flag(check, cosines[i], [cosines[j] for j in others], [c for j in others if (c := checks[j]) is not None]) if check else None
        if flag is not None:
            s = finalize_score(dict(s.criteria), [f for f in s.flags if f != "model_verified"] + [flag])
        out.append(s)
    return out


def _prompt_vouches(score: QualityScore, check: LikelihoodCheck, other_checks: list[LikelihoodCheck | None]) -> bool:
    """Whether the prompt gain vouches for an output that the embedding alone calls off topic (``task_checks`` step 1).

    Its only unverifiable flag is ``off_topic``, it takes no early wrong turn, and the prompt makes it
    likely the way it makes the task's other valid outputs likely: its gain per token is at least
    UNPROMPTED_RELATIVE_BPS of the best other's, and its early gain at least
    UNPROMPTED_MAX_EARLY_GAIN_MILLI (it passes both clauses of the unprompted test with room)."""
    if [f for f in score.flags if f in _UNVERIFIABLE_FLAGS] != ["off_topic"] or check.early_wrong_turns:
        return False
    gain, early = check.prompt_gain_milli, check.early_prompt_gain_milli
    gains = [c.prompt_gain_milli for c in other_checks if c is not None and c.prompt_gain_milli is not None]
    if gain is None or early is None or not gains:
        return False
    return gain * BPS >= max(gains) * UNPROMPTED_RELATIVE_BPS and early >= UNPROMPTED_MAX_EARLY_GAIN_MILLI


def _task_flag(check: LikelihoodCheck, cosine: float, other_cosines: list[float], other_checks: list[LikelihoodCheck]) -> str | None:
    """The task check an output fails against the task's other valid outputs (``task_checks`` steps 2–4), or None."""
    if not other_cosines:
        return None
    if check.early_wrong_turns >= 1 and cosine * BPS < max(other_cosines) * OFF_PROMPT_RELEVANCE_BPS:
        return "off_prompt"
    gains = [c.prompt_gain_milli for c in other_checks if c.prompt_gain_milli is not None]
    gain, early = check.prompt_gain_milli, check.early_prompt_gain_milli
    if gain is not None and early is not None and gains and gain * BPS < max(gains) * UNPROMPTED_RELATIVE_BPS:
        if gain < UNPROMPTED_MAX_GAIN_MILLI or early < UNPROMPTED_MAX_EARLY_GAIN_MILLI:
            return "off_prompt"
    if check.end_gap_milli is not None and check.ending_ppb and check.end_gap_milli > SHORT_STOP_END_GAP_MILLI:
        if other_checks and check.tokens * SHORT_STOP_FACTOR < max(c.tokens for c in other_checks):
            return "stopped_early"
    return None


def score(prompt: str, output: str, *, max_output_tokens: int | None = None, embedder: Embedder | None = None) -> QualityScore:
    """Score one output for one prompt with the default rule+embedding scorer."""
    return RuleEmbeddingScorer(embedder).score(prompt, output, max_output_tokens=max_output_tokens)


# == totals, rubric, verdict (integers only) ========================================================


def finalize_score(criteria: dict[str, int], flags: list[str]) -> QualityScore:
    """Weighted total, hard-fail and model-check caps, rubric and verdict from criteria already in ppb.

    ``criteria`` holds the four weighted criteria and, when the model read the output, the model checks.
    """
    weighted = set(CRITERIA_WEIGHTS_BPS)
    if not weighted <= set(criteria) <= weighted | set(MODEL_CHECKS):
        raise ValueError(f"criteria must be {sorted(CRITERIA_WEIGHTS_BPS)} and optionally {list(MODEL_CHECKS)}, got {sorted(criteria)}")
    for name, value in criteria.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= PPB:
            raise ValueError(f"criterion {name!r} must be an int in [0, {PPB}], got {value!r}")
    total = sum(criteria[name] * weight for name, weight in CRITERIA_WEIGHTS_BPS.items()) // BPS
    verified = "model_verified" in flags
    hard = any(flag in _HARD_FLAGS for flag in flags)
    if hard:
        total = min(total, HARD_FAIL_CAP_PPB)
    if "off_topic" in flags:
        total = min(total, OFF_TOPIC_CAP_PPB)
    model_failed = any(flag in _MODEL_FLAGS for flag in flags)
    if model_failed:
        total = min(total, MODEL_CHECK_CAP_PPB)
    if "off_topic_vouched" in flags:
        total = min(total, MODEL_VERIFIED_MIN_PPB)  # the prompt vouches for a sample, not for its quality: exactly the floor
    if verified:
        invariant(not model_failed and not any(f in _UNVERIFIABLE_FLAGS for f in flags), "only a sample the model vouches for is lifted")
        total = max(total, MODEL_VERIFIED_MIN_PPB)
    return QualityScore(
        total_ppb=total,
        criteria=dict(criteria),
        verdict=verdict_for(total, hard=(hard and not verified) or model_failed, truncated="truncated" in flags),
        rubric_1_10=rubric_from_ppb(total),
        flags=tuple(dict.fromkeys(flags)),
    )


def rubric_from_ppb(total_ppb: int) -> int:
    """Cortensor's 1–10 rubric: ten equal bands of the [0, 10**9] scale."""
    if not 0 <= total_ppb <= PPB:
        raise ValueError(f"total_ppb must be in [0, {PPB}], got {total_ppb}")
    return min(10, 1 + total_ppb * 10 // PPB)


def rubric_to_ppb(rubric: int) -> int:
    """The middle of a 1–10 rubric's band, in ppb (1 → 50 000 000, 10 → 950 000 000)."""
    if isinstance(rubric, bool) or not isinstance(rubric, int) or not 1 <= rubric <= 10:
        raise ValueError(f"rubric must be an int from 1 to 10, got {rubric!r}")
    return (rubric - 1) * PPB // 10 + PPB // 20


def verdict_for(total_ppb: int, *, hard: bool = False, truncated: bool = False) -> str:
    """VALID / INVALID / RETRY from the total and the hard and truncated flags."""
    if hard or total_ppb < INVALID_BELOW_PPB:
        return INVALID
    if truncated or total_ppb < VALID_FROM_PPB:
        return RETRY
    return VALID


def _to_ppb(value: float) -> int:
    """A criterion in [0, 1] as ppb, by floor: the one float → int step of the scorer."""
    return min(max(math.floor(value * PPB), 0), PPB)


# == relevance ======================================================================================


def relevance_from_cosine(cosine: float) -> float:
    """Map prompt/output cosine similarity linearly from [floor, full] onto [0, 1]."""
    span = RELEVANCE_FULL_COSINE - RELEVANCE_FLOOR_COSINE
    return min(max((cosine - RELEVANCE_FLOOR_COSINE) / span, 0.0), 1.0)


def _cosine(a, b) -> float:
    """Cosine similarity with exactly rounded sums (vectors are unit length, but do not rely on it)."""
    a64, b64 = a.astype("float64"), b.astype("float64")
    dot = math.fsum((a64 * b64).tolist())
    norms = math.fsum((a64 * a64).tolist()) * math.fsum((b64 * b64).tolist())
    return dot / math.sqrt(norms) if norms > 0 else 0.0


# == reading the prompt =============================================================================

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a single": 1,
    "single": 1,
    "a": 1,
}
_NUM = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)"
_NUM_SENTENCES = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a single|single|a)"
_ITEM_NOUNS = (
    r"(?:tips|ways|examples|reasons|steps|ideas|things|benefits|facts|items|points|advantages|"
    r"disadvantages|differences|types|methods|strategies|questions|names|words|books|countries|"
    r"features|causes|uses|options|rules|kinds)"
)
_RE_JSON = re.compile(
    r"\b(?:in|as|return|output|respond with|reply with|produce|give me|formatted as|format as)\s+"
    r"(?:a\s+|an\s+|valid\s+|only\s+|strict\s+|the\s+)*json\b|\bjson\s+(?:object|array|only|format)\b",
    re.I,
)
_RE_CODE = re.compile(
    r"\b(?:write|implement|create|code|give me|show me|provide)\b[^.?!]{0,60}?\b(?:function|code|script|"
    r"program|snippet|class|method|query|regex|regular expression|sql|one-liner)\b",
    re.I,
)
_RE_LIST_COUNT = re.compile(
    rf"\b(?:list|name|give|provide|suggest|share|write|enumerate)\s+(?:me\s+)?"
    rf"{_NUM}\s+(?:\w+\s+){{0,3}}?{_ITEM_NOUNS}\b",
    re.I,
)
_RE_LIST = re.compile(r"^\s*(?:list|enumerate)\b|\b(?:bullet(?:ed)?\s*(?:points?|list)|numbered list|as a list)\b", re.I)
_RE_SENTENCES = re.compile(rf"\b(?:in|with|using|within)\s+{_NUM_SENTENCES}\s+sentences?\b", re.I)
_RE_ONE_WORD = re.compile(r"\b(?:one|single|1)[- ]word\b", re.I)
_RE_YES_NO = re.compile(r"\byes\s+or\s+no\b", re.I)
_RE_MAX_WORDS = re.compile(
    r"\b(?:in|under|within|at most|no more than|fewer than|less than|maximum of|max\.?|up to)\s+"
    r"(\d{1,4})\s+words\b|\bin\s+(\d{1,4})\s+words\s+or\s+(?:less|fewer)\b",
    re.I,
)
_RE_ELABORATE = re.compile(
    r"\b(?:explain|describe|discuss|compare|contrast|why|how does|how do|how can|how is|how are|"
    r"differences?|essay|article|story|paragraph|summari[sz]e|summary|analy[sz]e|elaborate|outline|"
    r"overview|in detail|pros and cons)\b",
    re.I,
)
_RE_KEYS = re.compile(r"\b(?:keys?|fields?|properties|attributes)\b(.*)", re.I | re.S)
_RE_QUOTED = re.compile(r"\"([^\"\n]{1,40})\"|`([^`\n]{1,40})`|'([^'\n]{1,40})'")


@dataclass(frozen=True)
class PromptSpec:
    """What the prompt explicitly asks for (format asks) and how long an answer it calls for."""

    wants_json: bool = False
    json_keys: tuple[str, ...] = ()
    wants_code: bool = False
    wants_list: bool = False
    list_items: int | None = None
    sentences: int | None = None
    one_word: bool = False
    yes_no: bool = False
    max_words: int | None = None
    elaborate: bool = False


def analyse_prompt(prompt: str) -> PromptSpec:
    """Read the explicit format asks out of a prompt."""
    text = _normalise_quotes(prompt[:MAX_SCORED_CHARS])
    wants_json = bool(_RE_JSON.search(text))
    list_match = _RE_LIST_COUNT.search(text)
    list_items = _number(list_match.group(1)) if list_match else None
    sentences_match = _RE_SENTENCES.search(text)
    words_match = _RE_MAX_WORDS.search(text)
    return PromptSpec(
        wants_json=wants_json,
        json_keys=_json_keys(text) if wants_json else (),
        wants_code=bool(_RE_CODE.search(text)) and not wants_json,
        wants_list=list_match is not None or bool(_RE_LIST.search(text)),
        list_items=list_items,
        sentences=_number(sentences_match.group(1)) if sentences_match else None,
        one_word=bool(_RE_ONE_WORD.search(text)),
        yes_no=bool(_RE_YES_NO.search(text)),
        max_words=int(words_match.group(1) or words_match.group(2)) if words_match else None,
        elaborate=bool(_RE_ELABORATE.search(text)),
    )


def _number(word: str) -> int:
    """A count written as digits or as a number word."""
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _json_keys(prompt: str) -> tuple[str, ...]:
    """Quoted names that follow the word key(s)/field(s) in a JSON prompt."""
    match = _RE_KEYS.search(prompt)
    if not match:
        return ()
    keys = [next(g for g in m.groups() if g) for m in _RE_QUOTED.finditer(match.group(1))]
    return tuple(dict.fromkeys(keys))


def _normalise_quotes(text: str) -> str:
    """Curly quotes and apostrophes as plain ASCII ones."""
    return text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')


# == compliance =====================================================================================

_RE_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|\Z)", re.S)
_RE_LIST_LINE = re.compile(r"^\s*(?:[-*\u2022+]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S", re.M)
_RE_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|return\b|function\b|const |let |var |public |private |"
    r"#include|for\s*\(|if\s*\(|while\s*\(|select\b|fn |func |package |\w+(?:\.\w+)*\s*=\s*\S)"
    r"|[{};]\s*$",
    re.I | re.M,
)
_RE_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_RE_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")


def compliance_score(spec: PromptSpec, output: str, flags: list[str]) -> float:
    """The lowest of the checks for each format the prompt asks for; 1.0 when it asks for none."""
    checks: list[tuple[str, float]] = []
    if spec.wants_json:
        checks.append(("format_json", _json_check(output, spec.json_keys)))
    if spec.wants_code:
        checks.append(("format_code", _code_check(output)))
    if spec.wants_list and not spec.one_word:
        checks.append(("format_list", _list_check(output, spec.list_items)))
    if spec.sentences is not None:
        checks.append(("format_sentences", _count_check(_count_sentences(output), spec.sentences)))
    if spec.one_word:
        checks.append(("format_one_word", _one_word_check(output)))
    if spec.yes_no:
        checks.append(("format_yes_no", _yes_no_check(output)))
    if spec.max_words is not None:
        checks.append(("format_word_limit", min(1.0, spec.max_words / max(_count_words(output), 1))))
    for name, value in checks:
        if value < 1.0:
            flags.append(name)
    return min((value for _, value in checks), default=1.0)


def _json_check(output: str, keys: tuple[str, ...]) -> float:
    """1.0 for a JSON document (fences allowed); 0.6 for JSON inside prose; 0 for none; × key share."""
    body = output.strip()
    fence = _RE_FENCE.search(body)
    candidates = [(fence.group(1).strip(), 1.0)] if fence else []
    candidates.append((body, 1.0))
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    end = max(body.rfind("}"), body.rfind("]"))
    if 0 <= start < end:
        candidates.append((body[start : end + 1], 0.6))
    for text, value in candidates:
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if not isinstance(document, (dict, list)):
            continue
        if keys:
            present = _json_key_names(document)
            value *= 0.5 + 0.5 * sum(k in present for k in keys) / len(keys)
        return value
    return 0.0


def _json_key_names(document: object) -> set[str]:
    """Keys of a JSON object, or of the objects in a JSON array."""
    if isinstance(document, dict):
        return set(document)
    if isinstance(document, list):
        return {k for item in document if isinstance(item, dict) for k in item}
    return set()


def _code_check(output: str) -> float:
    """1.0 for a fenced code block; 0.8 for at least two code-like lines; else 0."""
    if re.search(r"```", output):
        return 1.0
    return 0.8 if len(_RE_CODE_LINE.findall(output)) >= 2 else 0.0


def _list_check(output: str, expected: int | None) -> float:
    """List lines (or a short comma list) counted against the asked number of items."""
    items = len(_RE_LIST_LINE.findall(output))
    if items == 0 and "\n" not in output.strip() and _count_words(output) <= LIST_INLINE_MAX_WORDS:
        items = len([p for p in re.split(r",|;|\band\b", output) if p.strip(" .")])
    if expected is None:
        return 1.0 if items >= 2 else 0.3
    return _count_check(items, expected)


def _count_check(actual: int, expected: int) -> float:
    """1.0 when the count matches; falls linearly to 0 at twice (or zero) the asked count."""
    if expected <= 0:
        return 1.0
    return max(0.0, 1.0 - abs(actual - expected) / expected)


def _one_word_check(output: str) -> float:
    """1.0 for one word, 0.5 for two or three, 0 for more."""
    n = _count_words(output)
    return 1.0 if n == 1 else 0.5 if n <= 3 else 0.0


def _yes_no_check(output: str) -> float:
    """1.0 when the output starts with yes or no."""
    words = _RE_WORD.findall(output)
    return 1.0 if words and words[0].lower() in ("yes", "no") else 0.0


def _count_words(text: str) -> int:
    """Number of words (runs of letters or digits, with inner apostrophes and hyphens)."""
    return len(_RE_WORD.findall(text))


def _count_sentences(text: str) -> int:
    """Sentences: runs of text closed by . ! or ? (a last unclosed run counts too)."""
    parts = [p for p in _RE_SENTENCE_END.split(text) if _RE_WORD.search(p)]
    return len(parts)


# == completeness ===================================================================================

_CLEAN_ENDINGS = frozenset(".!?)]}\"'`*:;\u201d\u2019>|")


def expected_min_words(spec: PromptSpec) -> int:
    """The fewest words a complete answer to this kind of prompt has."""
    if spec.one_word or spec.yes_no:
        return 1
    if spec.wants_json:
        return MIN_WORDS_JSON
    if spec.sentences is not None:
        floor = MIN_WORDS_PER_SENTENCE * spec.sentences
    elif spec.wants_list:
        floor = MIN_WORDS_PER_ITEM * (spec.list_items or 3)
    elif spec.wants_code:
        floor = MIN_WORDS_CODE
    elif spec.elaborate:
        floor = MIN_WORDS_ELABORATE
    else:
        floor = MIN_WORDS_DEFAULT
    if spec.max_words is not None:
        return min(floor, max(1, spec.max_words // 2))  # "in under 20 words": 10 words is complete
    return floor


def completeness_score(spec: PromptSpec, output: str, scored: str, max_output_tokens: int | None, flags: list[str]) -> float:
    """Length against the expected minimum, × overlong and truncation factors."""
    words = _count_words(output)
    if words == 0:
        return 0.0
    value = min(1.0, words / expected_min_words(spec))
    if max_output_tokens is not None:
        estimated_tokens = math.ceil(len(output) / CHARS_PER_TOKEN)
        allowed = max_output_tokens * OVERLONG_TOLERANCE_BPS // BPS
        if estimated_tokens > allowed:
            flags.append("overlong")
            value *= allowed / estimated_tokens
    if _looks_truncated(spec, scored):
        flags.append("truncated")
        value *= TRUNCATED_FACTOR
    return value


def _looks_truncated(spec: PromptSpec, output: str) -> bool:
    """An open code fence, or prose that stops mid-sentence."""
    text = output.rstrip()
    if text.count("```") % 2 == 1:
        return True
    if spec.wants_json and text[:1] in ("{", "[", "`"):
        return text[-1:] not in ("}", "]", "`")  # JSON was attempted: it must be closed
    if spec.one_word or spec.yes_no or _count_words(text) <= 12:
        return False  # short answers ("Yellow", "Canberra") need no full stop
    lines = [line for line in text.splitlines() if line.strip()]
    if _RE_LIST_LINE.match(lines[-1]) or (spec.wants_code and _RE_CODE_LINE.search(lines[-1])):
        return False
    if len(lines) >= VERSE_MIN_LINES and max(_count_words(line) for line in lines) <= VERSE_MAX_LINE_WORDS:
        return False  # verse or a table: short lines need no full stop
    return text[-1:] not in _CLEAN_ENDINGS


# == integrity (refusal and garbage detection) ======================================================

_RE_REFUSAL = re.compile(
    r"\b(?:i|we)(?:'m| am| are)?\s+(?:sorry|afraid|unable to|not able to)\b"
    r"|\b(?:i|we)\s+(?:can ?not|can't|won't|will not|must decline to|do not|don't)\s+"
    r"(?:help|assist|provide|answer|comply|do that|fulfil|fulfill|complete|share|generate|create|write|"
    r"engage|support|give)\b"
    r"|\bas an ai(?: language model| assistant)?\b",
    re.I,
)
_RE_REFUSAL_CORE = re.compile(r"\b(?:can ?not|can't|won't|will not|unable|not able|must decline|decline|not allowed|not permitted)\b", re.I)
_RE_NON_ANSWER = re.compile(
    r"\b(?:i'?m not sure|i am not sure|not certain|i don't know|i do not know|no idea|hard to say|"
    r"(?:check|search|look)(?: it| this| that)?(?: up)? online|(?:google|search) (?:it|for it)|"
    r"consult (?:an? )?(?:expert|professional|specialist)|depends on many factors)\b",
    re.I,
)
_JUNK_CHARS = frozenset("#$%^&*@~`|\\<>{}[]_=+\ufffd")


def integrity_score(output: str, embedder: Embedder, flags: list[str]) -> float:
    """The lowest of the refusal, non-answer, non-word, junk-symbol and repetition detectors."""
    text = _normalise_quotes(output)
    prose = _RE_FENCE.sub(" ", text)
    return min(
        _refusal_check(text, flags),
        _non_answer_check(text, flags),
        _nonword_check(prose, embedder, flags),
        _junk_check(prose, flags),
        _loop_check(text, flags),
    )


WORD_SALAD_FLAGS = frozenset({"garbage", "nonwords", "junk_symbols"})


def word_salad(output: str, embedder: Embedder | None = None) -> bool:
    """Whether a lexical check calls ``output`` not language, without running any model: the integrity criterion's
    non-word detector (the embedder's WordPiece vocabulary, no encoder pass) or junk-symbol detector raises any of
    ``WORD_SALAD_FLAGS``, the soft flags included. The tell of the simulator's ``canary_spotter`` ("word_salad"), on
    text: random letters are word salad; an answer the model wrote, to this prompt or another, is not
    (the devnet's canaries, docs/devnet.md)."""
    if embedder is None:
        from .embedding import get_embedder

        embedder = get_embedder()
    flags: list[str] = []
    prose = _RE_FENCE.sub(" ", _normalise_quotes(output))
    _nonword_check(prose, embedder, flags)
    _junk_check(prose, flags)
    return not WORD_SALAD_FLAGS.isdisjoint(flags)


def _refusal_check(text: str, flags: list[str]) -> float:
    """0 (hard) for a short output that opens by refusing; SOFT_REFUSAL_SCORE for a refusal phrase later."""
    head = text[:300]
    if _RE_REFUSAL.search(head) and _RE_REFUSAL_CORE.search(head) and _count_words(text) <= REFUSAL_MAX_WORDS:
        flags.append("refusal")
        return 0.0
    if _RE_REFUSAL.search(text) and _RE_REFUSAL_CORE.search(text):
        flags.append("refusal_phrase")
        return SOFT_REFUSAL_SCORE
    return 1.0


def _non_answer_check(text: str, flags: list[str]) -> float:
    """0 (hard) for a short hedge that answers nothing ("I am not sure, please check online.")."""
    if _count_words(text) <= NON_ANSWER_MAX_WORDS and _RE_NON_ANSWER.search(text):
        flags.append("non_answer")
        return 0.0
    return 1.0


def _nonword_check(prose: str, embedder: Embedder, flags: list[str]) -> float:
    """Share of words that are not words, by their WordPiece split; ≥ NONWORD_HARD_RATIO is garbage."""
    words = [w for w in _RE_WORD.findall(prose) if len(w) > 1 and w.isalpha() and not _is_acronym(w)]
    if not words:
        return 1.0
    distinct = sorted(set(w.lower() for w in words))
    pieces = dict(zip(distinct, embedder.word_pieces(distinct)))
    nonwords = sum(1 for w in words if not _is_word(w.lower(), pieces[w.lower()]))
    if len(words) < NONWORD_MIN_WORDS and sum(map(len, words)) < NONWORD_MIN_LETTERS:
        return 1.0  # "Zyzzyva." may be a rare name; too little text to call it garbage
    ratio = nonwords / len(words)
    value = _ramp_down(ratio, NONWORD_SOFT_RATIO, NONWORD_HARD_RATIO)
    if ratio >= NONWORD_HARD_RATIO:
        flags.append("garbage")
    elif value < 1.0:
        flags.append("nonwords")
    return value


def _is_acronym(word: str) -> bool:
    """TCP, UDP, DNS, NASA: short all-capital words, not in the vocabulary but not garbage."""
    return word.isupper() and len(word) <= ACRONYM_MAX_CHARS


def _is_word(word: str, pieces: list[str]) -> bool:
    """A vocabulary word, or one that splits into few, long pieces ("photosynthesis" yes, "zzxq" no)."""
    if len(pieces) <= 1 or "[UNK]" in pieces:
        return len(pieces) == 1 and pieces[0] != "[UNK]"
    chars = sum(len(p.removeprefix("##")) for p in pieces)
    return chars / len(pieces) >= MIN_CHARS_PER_PIECE


def _junk_check(prose: str, flags: list[str]) -> float:
    """Share of junk symbols and control characters among the non-space characters."""
    chars = [c for c in prose if not c.isspace()]
    if not chars:
        return 1.0
    junk = sum(1 for c in chars if c in _JUNK_CHARS or unicodedata.category(c) in ("Cc", "Co", "Cn"))
    ratio = junk / len(chars)
    value = _ramp_down(ratio, JUNK_SOFT_RATIO, JUNK_HARD_RATIO)
    if ratio >= JUNK_HARD_RATIO:
        flags.append("garbage")
    elif value < 1.0:
        flags.append("junk_symbols")
    return value


def _loop_check(text: str, flags: list[str]) -> float:
    """Share of distinct word 4-grams (numbers ignored, so "1. x 2. x 3. x" loops too)."""
    words = [w.lower() for w in _RE_WORD.findall(text) if not w.isdigit()]
    if len(words) < LOOP_MIN_WORDS:
        return 1.0
    grams = [tuple(words[i : i + LOOP_NGRAM]) for i in range(len(words) - LOOP_NGRAM + 1)]
    distinct = len(set(grams)) / len(grams)
    value = _ramp_up(distinct, LOOP_HARD_DISTINCT, LOOP_SOFT_DISTINCT)
    if distinct <= LOOP_HARD_DISTINCT:
        flags.append("repetition_loop")
    elif value < 1.0:
        flags.append("repetitive")
    return value


def _ramp_down(x: float, soft: float, hard: float) -> float:
    """1 up to soft, falling linearly to 0 at hard."""
    return min(1.0, max(0.0, (hard - x) / (hard - soft)))


def _ramp_up(x: float, hard: float, soft: float) -> float:
    """0 up to hard, rising linearly to 1 at soft."""
    return min(1.0, max(0.0, (x - hard) / (soft - hard)))


# == the LLM judge ==================================================================================

JUDGE_TEMPLATE = """You are a strict validator of AI outputs. Rate the OUTPUT as an answer to the PROMPT.
Give each criterion an integer from 1 (worst) to 10 (best):
- relevance: does it address this prompt?
- compliance: does it follow the prompt's instructions and requested format?
- completeness: is it complete, neither cut off nor too short?
- integrity: is it a genuine answer, not a refusal, gibberish or repetition?
Then a verdict: VALID (useful), RETRY (cut off or borderline) or INVALID (useless).
Reply with one JSON object only, e.g.
{{"relevance": 8, "compliance": 9, "completeness": 7, "integrity": 10, "verdict": "VALID"}}

PROMPT:
{prompt}

OUTPUT:
{output}
"""
JUDGE_MAX_CHARS = 6_000  # of prompt and of output each, to fit a small judge's context


class JudgeOutputError(ValueError):
    """The judge's reply has no usable JSON verdict."""


class LLMJudgeScorer:
    """A PoUW scorer that asks an LLM (any ``generate(prompt) -> str``) to grade the four criteria."""

    name = "llm-judge"

    def __init__(self, generate: Callable[[str], str], *, fallback: QualityScorer | None = None) -> None:
        if not callable(generate):
            raise TypeError("generate must be a callable taking a prompt and returning the judge's text")
        self._generate = generate
        self._fallback = fallback

    def score(self, prompt: str, output: str, *, max_output_tokens: int | None = None) -> QualityScore:
        """Ask the judge; on an unusable reply use the fallback scorer, or raise JudgeOutputError."""
        _check_inputs(prompt, [output], max_output_tokens)
        reply = self._generate(JUDGE_TEMPLATE.format(prompt=prompt[:JUDGE_MAX_CHARS], output=output[:JUDGE_MAX_CHARS]))
        try:
            return parse_judge_reply(reply)
        except JudgeOutputError:
            if self._fallback is None:
                raise
            return self._fallback.score(prompt, output, max_output_tokens=max_output_tokens)


def parse_judge_reply(reply: str) -> QualityScore:
    """Turn a judge's JSON reply (four 1–10 grades and a verdict) into a QualityScore."""
    if not isinstance(reply, str):
        raise JudgeOutputError(f"judge reply must be a str, got {type(reply).__name__}")
    match = re.search(r"\{.*?\}", reply, re.S)
    try:
        document = json.loads(match.group(0)) if match else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise JudgeOutputError(f"judge reply holds no JSON object: {reply[:200]!r}")
    criteria = {}
    for name in CRITERIA_WEIGHTS_BPS:
        grade = document.get(name)
        if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 10:
            raise JudgeOutputError(f"judge grade {name!r} must be an int from 1 to 10, got {grade!r}")
        criteria[name] = rubric_to_ppb(grade)
    result = finalize_score(criteria, [])
    verdict = str(document.get("verdict", "")).upper()
    if verdict == INVALID or (verdict == RETRY and result.verdict == VALID):
        # the judge may be stricter than the grades, never more lenient
        return QualityScore(result.total_ppb, result.criteria, verdict, result.rubric_1_10, ("judge_verdict",))
    return result


# == registry =======================================================================================

_SCORERS: dict[str, Callable[..., QualityScorer]] = {
    RuleEmbeddingScorer.name: RuleEmbeddingScorer,
    LLMJudgeScorer.name: LLMJudgeScorer,
}


def register_scorer(name: str, factory: Callable[..., QualityScorer]) -> None:
    """Make a scorer available to ``get_scorer`` under ``name``."""
    if not name or name in _SCORERS:
        raise ValueError(f"scorer name {name!r} is empty or already registered")
    _SCORERS[name] = factory


def get_scorer(name: str = RuleEmbeddingScorer.name, **kwargs: object) -> QualityScorer:
    """Build the scorer registered as ``name`` (e.g. "rule-embedding", or "llm-judge" with generate=...)."""
    factory = _SCORERS.get(name)
    if factory is None:
        raise ValueError(f"unknown quality scorer {name!r}; known: {', '.join(sorted(_SCORERS))}")
    return factory(**kwargs)


def scorer_names() -> list[str]:
    """Names of the registered scorers."""
    return sorted(_SCORERS)


# == input checks ===================================================================================


def _check_inputs(prompt: str, outputs: list[str], max_output_tokens: int | None) -> None:
    """Refuse wrong types, an empty output list, an oversize prompt or a bad token limit."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if not prompt.strip():
        raise ValueError("prompt must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt has {len(prompt)} characters, more than the {MAX_PROMPT_CHARS} a scorer reads")
    if isinstance(outputs, str) or not outputs:
        raise ValueError("expected a non-empty list of outputs to score")
    if len(outputs) > MAX_OUTPUTS_PER_CALL:
        raise ValueError(f"at most {MAX_OUTPUTS_PER_CALL} outputs per call, got {len(outputs)}")
    for i, output in enumerate(outputs):
        if not isinstance(output, str):
            raise TypeError(f"output {i} must be a str, got {type(output).__name__}")
    if max_output_tokens is not None and (isinstance(max_output_tokens, bool) or not isinstance(max_output_tokens, int) or max_output_tokens <= 0):
        raise ValueError(f"max_output_tokens must be a positive int or None, got {max_output_tokens!r}")
