"""PoI calibration: honest and cheating outputs for the bundled prompts, tasks built from them, ROC.

Concepts
    Real miners do not decode greedily: each samples at its own temperature with its own seed, so two
    honest outputs to one prompt differ. The PoI rule (``poi_max_distance_ppb`` in the core) must keep
    those in consensus and still put cheaters out. This module holds what the calibration is made of;
    ``scripts/poi_generate.py`` writes the outputs once with the real SmolLM2 (slow), and
    ``scripts/poi_calibrate.py`` embeds them with the real all-MiniLM-L6-v2, builds tasks, measures
    the rates and draws the ROC figure (docs/poi-calibration.md).

The calibration set (``data/poi-calibration/outputs.jsonl``, one JSON object per output)
    prompts     every prompt of the bundled set; within each kind, in id order, every third prompt
                is *held out* (never used to choose the rule), the others are the *calibration* part.
    honest      ``HONEST_MINERS`` miners per prompt, miner i samples at ``HONEST_TEMPERATURES[i]``
                (0.3–1.0) with its own seed (``derive_seed(prompt id, miner)``), llama.cpp's default
                truncation samplers (top-k 40, top-p 0.95, min-p 0.05), up to the prompt's
                ``max_output_tokens``.
    lazy        a fixed non-answer ("I am not sure, please check online.", ...), no model run.
    generic     a template that restates the prompt's words ("Here is a clear answer to your
                request: ...") without answering it, no model run.
    garbage     random letters (``nodes.strategies.garbage_text``).
    truncated   the model stopped at 1/8 of the budget (``truncated_budget``) to save compute; only
                outputs that the budget really cut (finish reason ``length``) count as cheating.
    off_topic   an honest output to another prompt of the same kind (a replayed cached answer).

Tasks (what a validator sees)
    A task has ``redundancy`` miners; the validator orders the outputs by quality, picks the medoid
    and reports each output's distance to it (``nodes.validator.evaluate_outputs`` on the same
    functions). Honest tasks: every ``redundancy``-subset of the honest miners of a prompt. Cheating
    tasks: each cheating output with every (redundancy − 1)-subset of honest miners.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ..ai.composed import EarlierComposition
from ..ai.likelihood import PROMPT_FREE, LikelihoodCheck, TokenTrace, likelihood_check
from ..ai.poi import ranked_distances_ppb, reported_distances_ppb
from ..ai.quality import QualityScore, finalize_score, task_checks
from ..core.units import BPS, PPB
from .backends import Sampling, derive_seed
from .strategies import LAZY_ANSWER, garbage_text

HONEST_TEMPERATURES = (0.3, 0.45, 0.6, 0.75, 0.9, 1.0)
HONEST_MINERS = len(HONEST_TEMPERATURES)
TRUNCATED_TEMPERATURE = 0.7
TRUNCATED_DIVISOR = 8  # a truncating miner generates 1/8 of the budget
CHEAT_CLASSES = ("lazy", "generic", "garbage", "truncated", "off_topic")
CLASSES = ("honest", *CHEAT_CLASSES)
SPLITS = ("calibration", "held_out")
HELD_OUT_EVERY = 3  # every third prompt of a kind is held out

LAZY_ANSWERS = (
    LAZY_ANSWER,
    "I don't know.",
    "Sure, here is the answer you asked for.",
    "That is a good question. There are many possible answers.",
    "Please provide more details so I can help.",
    "Thank you for your question.",
)
GENERIC_TEMPLATES = (
    "Here is a clear answer to your request: {topic}. It covers the main point in a short, direct way.",
    "In short: {topic}. This is the essential idea, stated plainly and completely.",
    "Good question. {topic}? The answer depends on several factors, and it is important to consider all of them.",
    "Regarding {topic}: there are many aspects to this, and the details vary from case to case.",
)


# honest miners on other set-ups than the six above: another quantisation of the same weights, and a
# sampler without truncation. They are never in the honest tasks; each takes the odd seat of a task
# (like a cheater) with each pair of the six, so the rates say whether a check keeps them in.
@dataclass(frozen=True)
class Variant:
    """An honest miner on another set-up: a quantisation (None: the bundled Q4_1) and its sampling."""

    name: str
    quantization: str | None
    temperature: float
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05

    def sampling(self, prompt_id: str) -> Sampling:
        seed = derive_seed("poi-variant", self.name, prompt_id)
        return Sampling(temperature=self.temperature, seed=seed, top_k=self.top_k, top_p=self.top_p, min_p=self.min_p)


VARIANTS = (
    Variant("q4_0", "q4_0", 1.0),  # the bundled Q4_1 weights re-quantised to Q4_0 (one 4-bit rounding away), hot
    Variant("untruncated", None, 1.0, top_k=0, top_p=1.0, min_p=0.0),  # T = 1 over the whole vocabulary
)
VARIANT_CLASS_PREFIX = "honest_"


def split_prompts(prompts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Prompt id → ``calibration`` or ``held_out``: within each kind, in id order, every third is held out."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for p in prompts:
        by_kind[p["kind"]].append(p["id"])
    out = {}
    for ids in by_kind.values():
        for i, pid in enumerate(sorted(ids)):
            out[pid] = "held_out" if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else "calibration"
    return out


def honest_sampling(prompt_id: str, miner: int) -> Sampling:
    """Honest miner ``miner``'s settings for one prompt: its temperature, a seed of its own."""
    return Sampling(temperature=HONEST_TEMPERATURES[miner], seed=derive_seed("poi-honest", prompt_id, miner))


def truncated_sampling(prompt_id: str) -> Sampling:
    """The truncating cheater's settings for one prompt."""
    return Sampling(temperature=TRUNCATED_TEMPERATURE, seed=derive_seed("poi-truncated", prompt_id))


def truncated_budget(max_output_tokens: int) -> int:
    """Tokens a truncating miner generates: 1/8 of the budget, at least 2."""
    return max(2, max_output_tokens // TRUNCATED_DIVISOR)


def _pick(prompt_id: str, label: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{label}|{prompt_id}".encode()).digest()[:4], "big") % n


def lazy_output(prompt_id: str) -> str:
    """A non-answer that costs nothing to produce."""
    return LAZY_ANSWERS[_pick(prompt_id, "lazy", len(LAZY_ANSWERS))]


def generic_output(prompt_id: str, prompt: str) -> str:
    """A template that restates the prompt's first words without answering it."""
    return generic_output_with(GENERIC_TEMPLATES[_pick(prompt_id, "generic", len(GENERIC_TEMPLATES))], prompt)


def generic_output_with(template: str, prompt: str) -> str:
    """One template over the prompt's first twelve words."""
    words = prompt.strip().rstrip("?.!").split()
    topic = " ".join(words[:12]) if words else "the question"
    return template.format(topic=topic)


def garbage_output(prompt_id: str) -> str:
    """Random letters, as the devnet's garbage miner reveals."""
    return garbage_text(_pick(prompt_id, "garbage", 2**31), "poi-calibration")


def off_topic_source(prompts: Sequence[dict[str, Any]], prompt_id: str) -> str:
    """The prompt whose honest answer an off-topic cheater replays: the next prompt of the same kind."""
    by_id = {p["id"]: p for p in prompts}
    same = sorted(p["id"] for p in prompts if p["kind"] == by_id[prompt_id]["kind"])
    if len(same) < 2:
        raise ValueError(f"kind {by_id[prompt_id]['kind']!r} has one prompt; off-topic needs another of its kind")
    return same[(same.index(prompt_id) + 1) % len(same)]


def read_lines(path: Path) -> list[dict[str, Any]]:
    """A JSON-lines cache's complete lines (none when it is missing; a torn last line from an interrupted run is dropped)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
    return rows


def output_key(row: dict[str, Any]) -> tuple[str, str, int]:
    """The identity of an output line: (prompt id, class, miner)."""
    return (row["prompt_id"], row["class"], int(row.get("miner", 0)))


def cheat_rows(prompts: Sequence[dict[str, Any]], honest: dict[tuple[str, int], str]) -> Iterable[dict[str, Any]]:
    """The outputs of the cheaters that run no model (lazy, generic, garbage, off-topic), per prompt."""
    for p in prompts:
        pid = p["id"]
        base = {"prompt_id": pid, "kind": p["kind"], "miner": 0, "sampling": None, "finish": None, "output_tokens": None}
        yield {**base, "class": "lazy", "text": lazy_output(pid)}
        yield {**base, "class": "generic", "text": generic_output(pid, p["prompt"])}
        yield {**base, "class": "garbage", "text": garbage_output(pid)}
        source = off_topic_source(prompts, pid)
        yield {**base, "class": "off_topic", "source_prompt_id": source, "text": honest[(source, 0)]}


# == tasks and observations ==========================================================================


@dataclass(frozen=True)
class Observation:
    """One output's PoI report in one simulated task."""

    prompt_id: str
    kind: str
    split: str
    output_class: str  # honest or a cheat class
    task_mix: str  # honest (all miners honest) or the cheat class of the one cheater in the task
    redundancy: int
    distance_ppb: int  # to the task's medoid, as the validator reports it
    quality_ppb: int  # the validator's PoUW score
    spread_ppb: int  # median of the task's distances to its medoid


def cheat_counts(row: dict[str, Any]) -> bool:
    """Whether a cheat output counts as cheating: a truncated one only when the budget really cut it."""
    return row["class"] != "truncated" or row.get("finish") == "length"


def is_variant(output_class: str) -> bool:
    """An honest miner on another set-up (``VARIANTS``): honest, but seated like a cheater."""
    return output_class.startswith(VARIANT_CLASS_PREFIX)


def task_observations(
    prompt: dict[str, Any],
    split: str,
    rows: Sequence[dict[str, Any]],
    matrix: Sequence[Sequence[int]],
    quality_ppb: Sequence[int],
    redundancy: int,
    medoid_floor_ppb: int = 0,
    rescore: Callable[[Sequence[int]], list[int]] | None = None,
    report_max_distance_ppb: int | None = None,
) -> list[Observation]:
    """Every honest ``redundancy``-task and every task with one odd miner (a cheater or a variant), per output.

    ``rows`` are the prompt's outputs, ``matrix`` their pairwise distances (ppb) and ``quality_ppb``
    their scores, all in the same order. ``medoid_floor_ppb``: the validator picks the medoid among
    the outputs with at least this quality (``ranked_distances_ppb``). ``rescore``: the task's
    members → their scores as the validator reports them for that task (the task checks), instead
    of ``quality_ppb``. ``report_max_distance_ppb``: the distances as the validator reports them, less
    the task's spread allowance against that threshold (``ai.poi.reported_distances_ppb``).
    """
    honest = [i for i, r in enumerate(rows) if r["class"] == "honest"]
    odd = [i for i, r in enumerate(rows) if r["class"] != "honest" and cheat_counts(r)]
    names = [f"{r['class']}-{r['miner']}" for r in rows]
    tasks = [(combo, "honest") for combo in combinations(honest, redundancy)]
    tasks += [((*combo, c), rows[c]["class"]) for c in odd for combo in combinations(honest, redundancy - 1)]
    out = []
    for members, mix in tasks:
        sub = [[matrix[i][j] for j in members] for i in members]
        quality = rescore(members) if rescore is not None else [quality_ppb[i] for i in members]
        if report_max_distance_ppb is None:
            distances = ranked_distances_ppb(sub, quality, [names[i] for i in members], medoid_floor_ppb)
        else:
            distances = reported_distances_ppb(sub, quality, [names[i] for i in members], medoid_floor_ppb, report_max_distance_ppb)
        spread = sorted(distances)[(len(distances) - 1) // 2]
        for i, d, q in zip(members, distances, quality):
            out.append(Observation(prompt["id"], prompt["kind"], split, rows[i]["class"], mix, redundancy, d, q, spread))
    return out


# == rules and rates =================================================================================


@dataclass(frozen=True)
class PoiRule:
    """When an output is in consensus: distance ≤ the task's threshold and quality ≥ the floor.

    threshold = max(max_distance_ppb, min(cap_ppb, spread × spread_factor_bps / 10 000)); with
    ``spread_factor_bps`` 0 it is the global threshold ``max_distance_ppb``.
    """

    max_distance_ppb: int
    min_quality_ppb: int = 0
    spread_factor_bps: int = 0
    cap_ppb: int = 2 * PPB

    def threshold_ppb(self, spread_ppb: int) -> int:
        return max(self.max_distance_ppb, min(self.cap_ppb, spread_ppb * self.spread_factor_bps // BPS))

    def admits(self, o: Observation) -> bool:
        return o.distance_ppb <= self.threshold_ppb(o.spread_ppb) and o.quality_ppb >= self.min_quality_ppb


@dataclass(frozen=True)
class Rates:
    """Honest outputs in consensus and cheating outputs out, as counts."""

    honest_in: int
    honest: int
    cheat_out: int
    cheat: int

    @property
    def honest_in_rate(self) -> float:
        return self.honest_in / self.honest if self.honest else float("nan")

    @property
    def cheat_out_rate(self) -> float:
        return self.cheat_out / self.cheat if self.cheat else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "honest_in": self.honest_in,
            "honest": self.honest,
            "honest_in_rate": round(self.honest_in_rate, 5),
            "cheat_out": self.cheat_out,
            "cheat": self.cheat,
            "cheat_out_rate": round(self.cheat_out_rate, 5),
        }


def rates(observations: Iterable[Observation], rule: PoiRule) -> Rates:
    """How many honest outputs the rule keeps in consensus and how many cheating outputs it puts out.

    Variant miners' outputs are left out (``all_observations`` gives their tasks apart; ``variant_rates``)."""
    hi = h = co = c = 0
    for o in observations:
        if is_variant(o.output_class):
            continue
        ok = rule.admits(o)
        if o.output_class == "honest":
            h += 1
            hi += ok
        else:
            c += 1
            co += not ok
    return Rates(hi, h, co, c)


# The measurement counts the same observations under many rules and subsets (per split, class, kind, task mix, and
# the spread-relative rules' threshold search): ``ObservationTable`` holds them once as integer arrays, and
# ``ObservationTable.rates`` gives exactly what ``rates`` gives on the selected observations (same integer
# threshold, ``max(max_distance, min(cap, spread × factor // 10 000))``, evaluated in int64). Values that int64
# cannot hold without overflow fall back to ``PoiRule.admits``.
_INT64_SAFE = 2**62


@dataclass(frozen=True, eq=False)
class ObservationTable:
    """Observations as columns, for counting ``rates`` over many rules and subsets without a Python loop per output."""

    observations: tuple[Observation, ...]
    distance: np.ndarray | None  # int64; None: a value int64 cannot hold, ``admitted`` uses ``PoiRule.admits``
    spread: np.ndarray | None
    quality: np.ndarray | None
    honest: np.ndarray  # bool: the output is a reference honest miner's
    counted: np.ndarray  # bool: not a variant miner's output (``rates`` leaves those out)
    split: np.ndarray  # str
    output_class: np.ndarray
    task_mix: np.ndarray
    kind: np.ndarray

    @classmethod
    def of(cls, observations: Iterable[Observation]) -> ObservationTable:
        obs = tuple(observations)

        def ints(values: list[int]) -> np.ndarray | None:
            if values and max(abs(min(values)), abs(max(values))) >= _INT64_SAFE:
                return None
            return np.array(values, dtype=np.int64)

        def strs(values: list[str]) -> np.ndarray:
            return np.array(values, dtype=str) if values else np.zeros(0, dtype=str)

        classes = [o.output_class for o in obs]
        distance, spread, quality = (ints([o.distance_ppb for o in obs]), ints([o.spread_ppb for o in obs]), ints([o.quality_ppb for o in obs]))
        if distance is None or spread is None or quality is None:
            distance = spread = quality = None
        return cls(
            obs,
            distance,
            spread,
            quality,
            np.array([c == "honest" for c in classes], dtype=bool),
            np.array([not is_variant(c) for c in classes], dtype=bool),
            strs([o.split for o in obs]),
            strs(classes),
            strs([o.task_mix for o in obs]),
            strs([o.kind for o in obs]),
        )

    def __len__(self) -> int:
        return len(self.observations)

    def everything(self) -> np.ndarray:
        return np.ones(len(self), dtype=bool)

    def admitted(self, rule: PoiRule) -> np.ndarray:
        """Per observation: ``rule.admits``."""
        d, s, q = self.distance, self.spread, self.quality
        params = (rule.max_distance_ppb, rule.min_quality_ppb, rule.spread_factor_bps, rule.cap_ppb)
        if d is None or s is None or q is None or any(abs(v) >= _INT64_SAFE for v in params):
            return np.array([rule.admits(o) for o in self.observations], dtype=bool)
        if rule.spread_factor_bps and len(s) and int(np.abs(s).max()) * abs(rule.spread_factor_bps) >= _INT64_SAFE:
            return np.array([rule.admits(o) for o in self.observations], dtype=bool)
        threshold = np.maximum(rule.max_distance_ppb, np.minimum(rule.cap_ppb, s * rule.spread_factor_bps // BPS))
        return (d <= threshold) & (q >= rule.min_quality_ppb)

    def rates(self, select: np.ndarray, admitted: np.ndarray) -> Rates:
        """``rates`` of the selected observations, given ``admitted`` (``ObservationTable.admitted`` of the rule)."""
        mine = select & self.counted
        honest = mine & self.honest
        cheat = mine & ~self.honest
        return Rates(
            int(np.count_nonzero(honest & admitted)),
            int(np.count_nonzero(honest)),
            int(np.count_nonzero(cheat & ~admitted)),
            int(np.count_nonzero(cheat)),
        )


def roc_points(distances_honest: np.ndarray, distances_cheat: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cheaters in consensus, honest in consensus) for each global threshold: the ROC curve."""
    h = np.sort(distances_honest)
    c = np.sort(distances_cheat)
    honest_in = np.searchsorted(h, thresholds, side="right") / max(1, len(h))
    cheat_in = np.searchsorted(c, thresholds, side="right") / max(1, len(c))
    return cheat_in, honest_in


def best_threshold(distances_honest: np.ndarray, distances_cheat: np.ndarray, thresholds: np.ndarray) -> int:
    """The threshold that maximises min(honest in, cheaters out); the middle of the best plateau."""
    cheat_in, honest_in = roc_points(distances_honest, distances_cheat, thresholds)
    score = np.minimum(honest_in, 1.0 - cheat_in)
    best = np.flatnonzero(score == score.max())
    return int(thresholds[best[len(best) // 2]])


def honest_first_threshold(distances_honest: np.ndarray, thresholds: np.ndarray, target: float) -> int:
    """The smallest threshold that keeps at least ``target`` of the honest outputs in (the most cheaters out)."""
    h = np.sort(distances_honest)
    honest_in = np.searchsorted(h, thresholds, side="right") / max(1, len(h))
    ok = np.flatnonzero(honest_in >= target)
    return int(thresholds[ok[0]] if len(ok) else thresholds[-1])


# == the measurement ================================================================================

REDUNDANCY = 3  # the default miners per task
OTHER_REDUNDANCIES = (5,)
THRESHOLD_STEP_PPB = 1_000_000  # the ROC grid: 0.001 of cosine distance
THRESHOLD_MAX_PPB = 1_300_000_000
SPREAD_FACTORS_BPS = (15_000, 20_000, 30_000)  # relative rules tried: threshold = max(floor, k × spread)
PREVIOUS_MAX_DISTANCE_PPB = 150_000_000  # the default before calibration, set for greedy miners that agree exactly
HONEST_TARGET = 0.99  # honest outputs in consensus: an honest miner out of consensus is slashed
WHAT_IF_MAX_DISTANCES_PPB = (950_000_000, 1_000_000_000)  # looser thresholds measured with the task checks (not in force)


@dataclass(frozen=True)
class CalibrationData:
    prompts: tuple[dict[str, Any], ...]  # with "split"
    rows: tuple[dict[str, Any], ...]  # the six honest miners and the cheaters (outputs.jsonl), then the variants (variants.jsonl)
    traces: dict[tuple[tuple[str, str, int], str], dict[str, Any]] = field(default_factory=dict)  # (output key, text sha256) → trace
    free_traces: dict[tuple[tuple[str, str, int], str], dict[str, Any]] = field(default_factory=dict)  # the same, read after no prompt
    # texts read after other prompts (a composed prompt's answer spans, ``ai.composed``): (prompt sha256, text sha256) → trace
    span_traces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass
class Measurement:
    """What ``measure`` found: every observation the threshold was chosen on, the summary document, and
    the observations of the validator with the model checks (the prompts the model read)."""

    observations: list[Observation]
    summary: dict[str, Any]
    model_observations: list[Observation] = field(default_factory=list)
    signals: list[OutputSignals] = field(default_factory=list)


def load_calibration(directory: Path | str) -> CalibrationData:
    """prompts.jsonl, outputs.jsonl, and when present the model's traces (likelihood*.jsonl), its
    prompt-free traces (likelihood-null*.jsonl) and the variant miners' outputs (variants.jsonl; only
    those the model read)."""
    d = Path(directory)
    prompts = tuple(json.loads(line) for line in (d / "prompts.jsonl").read_text().splitlines() if line.strip())
    rows: list[dict[str, Any]] = []
    traces: dict[tuple[tuple[str, str, int], str], dict[str, Any]] = {}
    free: dict[tuple[tuple[str, str, int], str], dict[str, Any]] = {}
    for name, cache, null in (
        ("outputs.jsonl", "likelihood.jsonl", "likelihood-null.jsonl"),
        ("variants.jsonl", "likelihood-variants.jsonl", "likelihood-null-variants.jsonl"),
    ):
        if (d / name).is_file():
            rows += [json.loads(line) for line in (d / name).read_text().splitlines() if line.strip()]
        for file, into in ((cache, traces), (null, free)):
            if (d / file).is_file():
                for line in (d / file).read_text().splitlines():
                    t = json.loads(line)
                    into[((t["key"][0], t["key"][1], int(t["key"][2])), t["text_sha256"])] = t
    # a variant miner is there to be read by the model (is an honest output on another set-up kept in?):
    # its outputs count once their trace is cached
    rows = [r for r in rows if not is_variant(r["class"]) or (output_key(r), text_sha256(r["text"])) in traces]
    ids = {p["id"] for p in prompts}
    stray = {r["prompt_id"] for r in rows} - ids
    if stray:
        raise ValueError(f"outputs for prompts not in prompts.jsonl: {sorted(stray)[:5]}")
    return CalibrationData(prompts, tuple(rows), traces, free)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedReader:
    """The model's traces of the calibration outputs, read once by ``scripts/poi_likelihood.py`` (a ``ModelReader``)."""

    def __init__(self, data: CalibrationData) -> None:
        self._by_text: dict[tuple[str, str], dict[str, Any]] = {}
        self._spans = data.span_traces
        prompt_of = {p["id"]: p["prompt"] for p in data.prompts}
        for r in data.rows:
            key = (output_key(r), text_sha256(r["text"]))
            t = data.traces.get(key)
            if t is not None:
                self._by_text[(prompt_of[r["prompt_id"]], r["text"])] = t
            t = data.free_traces.get(key)
            if t is not None:  # a text read after no prompt reads the same whichever prompt it was revealed for
                self._by_text[(PROMPT_FREE, r["text"])] = t

    def __len__(self) -> int:
        return len(self._by_text)

    def has(self, prompt: str, output: str) -> bool:
        return (prompt, output) in self._by_text or (text_sha256(prompt), text_sha256(output)) in self._spans

    def trace(self, prompt: str, output: str) -> TokenTrace:
        t = self._by_text.get((prompt, output)) or self._spans.get((text_sha256(prompt), text_sha256(output)))
        if t is None:
            raise KeyError(f"no model trace for an output of {prompt[:40]!r}: run scripts/poi_likelihood.py")
        return TokenTrace.from_dict(t)


@dataclass(frozen=True)
class ScoredPrompt:
    """One prompt's outputs as the validator sees them, with and without the task's model."""

    matrix: list[list[int]]  # pairwise distances, ppb
    quality_previous: list[int]  # the PoUW score without the model checks
    quality: list[int] | None  # with the model checks (fidelity, ending); None: not every output was read by the model
    checks: list[LikelihoodCheck] | None
    flags: list[tuple[str, ...]] | None  # the scorer's flags with the model checks
    scores: list[QualityScore] | None = None  # each output's own score with the model checks, before the task checks
    cosines: list[float] | None = None  # each output's prompt relevance cosine
    gain_read: bool = False  # every reference and cheating output was read after no prompt too: their checks carry the prompt gain
    free_read: tuple[bool, ...] = ()  # per output: read after no prompt (a variant miner's output may not be yet)

    def task_quality(self, members: Sequence[int], *, gain: bool = True, vouch: bool = True) -> list[int]:
        """The scores of one task's outputs after the task checks (``ai.quality.task_checks``), as the validator reports them.

        ``gain`` False: as the validator before the prompt gain and the short stop (the checks without
        the prompt gain and the end gap). ``vouch`` False: as the validator before the over-budget check
        and the prompt's vouching for an off-topic-looking output (``ai.quality.task_checks`` step 1)."""
        if self.scores is None or self.cosines is None or self.checks is None:
            raise ValueError("no model checks for this prompt")
        scores = [self.scores[i] if vouch else before_budget_check(self.scores[i]) for i in members]
        cosines = [self.cosines[i] for i in members]
        checks: list[LikelihoodCheck | None] = [self.checks[i] for i in members]
        if not gain:
            checks = [replace(c, prompt_gain_milli=None, early_prompt_gain_milli=None, end_gap_milli=None) if c else None for c in checks]
        return [s.total_ppb for s in task_checks(scores, cosines, checks, vouch=vouch)]

    def earlier_task_quality(self, members: Sequence[int]) -> list[int]:
        """``task_quality`` as the validator before the prompt gain and the short stop."""
        return self.task_quality(members, gain=False, vouch=False)

    def spread_task_quality(self, members: Sequence[int]) -> list[int]:
        """``task_quality`` as the validator before the over-budget check, the one-word ending and the prompt's vouching."""
        return self.task_quality(members, vouch=False)

    @property
    def read(self) -> bool:
        """Every output of the prompt has its model trace (``scripts/poi_likelihood.py``)."""
        return self.quality is not None


@dataclass(frozen=True)
class OutputSignals:
    """Per-output signals (no task needed), for their ROC."""

    prompt_id: str
    split: str
    output_class: str
    fidelity_ppb: int
    ending_ppb: int
    mean_logprob_milli: int
    tokens: int
    quality_previous_ppb: int
    quality_ppb: int
    flags: tuple[str, ...]


def embed_and_score(
    data: CalibrationData, progress: bool = False, earlier: Callable[[dict[str, Any]], Sequence[EarlierComposition]] | None = None
) -> dict[str, ScoredPrompt]:
    """Prompt id → distances and scores with the real embedding model and the cached model traces.

    The scores with the model checks are computed for the prompts whose every output has a trace.
    ``earlier``: a prompt's earlier composed tasks (the scorer's borrow check, ``ai.composed``); default none.
    """
    from ..ai.embedding import get_embedder
    from ..ai.poi import pairwise_distances_ppb
    from ..ai.quality import RuleEmbeddingScorer

    embedder = _MemoEmbedder(get_embedder())
    reader = CachedReader(data)
    previous = RuleEmbeddingScorer(embedder)  # type: ignore[arg-type]
    with_model = RuleEmbeddingScorer(embedder, reader=reader, prompt_free=False)  # type: ignore[arg-type]
    by_prompt = rows_by_prompt(data)
    out = {}
    prompts = [p for p in data.prompts if p["id"] in by_prompt]
    bar = _progress(len(prompts), "embedding and scoring") if progress else None
    for p in prompts:
        texts = [r["text"] for r in by_prompt[p["id"]]]
        before = previous.score_outputs(p["prompt"], texts, max_output_tokens=p["max_output_tokens"])
        matrix = pairwise_distances_ppb(embedder.embed(texts))
        if all(reader.has(p["prompt"], t) for t in texts):
            # each output's own score (the task checks need the task's outputs: ``ScoredPrompt.task_quality``)
            scorer = with_model
            if earlier is not None:
                scorer = RuleEmbeddingScorer(embedder, reader=reader, prompt_free=False, earlier=earlier(p))  # type: ignore[arg-type]
            after, cosines, maybe = scorer.score_each(p["prompt"], texts, max_output_tokens=p["max_output_tokens"])
            checks = [c for c in maybe if c is not None]
            # the prompt gain, where the model also read the output after no prompt (as the scorer's
            # ``_model_checks`` does; an output's own score does not depend on it)
            free = tuple(reader.has(PROMPT_FREE, t) for t in texts)
            checks = [
                replace(
                    likelihood_check(reader.trace(p["prompt"], t), p["max_output_tokens"], free=reader.trace(PROMPT_FREE, t)),
                    part_gain_milli=c.part_gain_milli,
                    borrow_gain_milli=c.borrow_gain_milli,
                )
                if f
                else c
                for t, f, c in zip(texts, free, checks)
            ]
            reference = [f for f, r in zip(free, by_prompt[p["id"]]) if not is_variant(r["class"])]
            out[p["id"]] = ScoredPrompt(
                matrix,
                [s.total_ppb for s in before],
                [before_budget_check(s).total_ppb for s in after],  # the blocks of the earlier validators stay as measured
                checks,
                [s.flags for s in after],
                after,
                cosines,
                all(reference),
                free,
            )
        else:
            out[p["id"]] = ScoredPrompt(matrix, [s.total_ppb for s in before], None, None, None)
        if bar:
            bar()
    return out


LATER_OWN_FLAGS = ("over_budget", "unended")  # the own-score checks of the "vouched" validator, after the "spread" one


def before_budget_check(score: QualityScore) -> QualityScore:
    """An output's own score as the validator gave it before the over-budget and one-word ending checks (the same
    criteria without those flags)."""
    if not any(f in score.flags for f in LATER_OWN_FLAGS):
        return score
    return finalize_score(dict(score.criteria), [f for f in score.flags if f not in LATER_OWN_FLAGS])


def output_signals(data: CalibrationData, scored: dict[str, ScoredPrompt]) -> list[OutputSignals]:
    """Every output's per-output signals (truncated outputs that ended on their own left out)."""
    split = {p["id"]: p["split"] for p in data.prompts}
    out = []
    for pid, rows in rows_by_prompt(data).items():
        sp = scored[pid]
        if sp.quality is None or sp.checks is None or sp.flags is None:
            continue
        for i, r in enumerate(rows):
            if r["class"] == "honest" or cheat_counts(r):
                c = sp.checks[i]
                out.append(
                    OutputSignals(
                        pid,
                        split[pid],
                        r["class"],
                        c.fidelity_ppb,
                        c.ending_ppb,
                        c.mean_logprob_milli,
                        c.tokens,
                        sp.quality_previous[i],
                        sp.quality[i],
                        sp.flags[i],
                    )
                )
    return out


class _MemoEmbedder:
    """The embedder with a memo per text: the scorer and the distances embed each output once.

    Sound because a text's vector does not depend on its batch (``ai.embedding``, tested)."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            for t, v in zip(todo, self._embedder.embed(todo)):
                self._memo[t] = v
        out = np.stack([self._memo[t] for t in texts]) if texts else self._embedder.embed([])
        if len(self._memo) > 10_000:
            self._memo.clear()
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


def rows_by_prompt(data: CalibrationData) -> dict[str, list[dict[str, Any]]]:
    """Each prompt's outputs: honest, the cheat classes, then the variants, each by miner."""
    order = {c: i for i, c in enumerate((*CLASSES, *(VARIANT_CLASS_PREFIX + v.name for v in VARIANTS)))}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in data.rows:
        out[r["prompt_id"]].append(r)
    for rows in out.values():
        rows.sort(key=lambda r: (order.get(r["class"], len(order)), r["miner"]))  # other classes (nodes.poi_composed) last
    return dict(out)


# the validators measured: "previous" (no model checks, medoid among all outputs: what the distance
# threshold was chosen on), "floor" (no model checks, medoid among the outputs above the quality floor),
# "model" (the model checks and the medoid above the floor; only the prompts the model read), "task" (the
# model checks, then the task checks: off prompt, model-verified floor; ``ai.quality.task_checks``), "gain" (the
# task checks with the prompt-free read: unprompted, short stop; only the prompts whose outputs the model
# also read after no prompt), "spread" (the "gain" validator reporting its distances less the task's spread
# allowance: ``ai.poi.reported_distances_ppb``; same prompts as "gain"), "vouched" (the "spread" validator with the
# over-budget check, the one-word ending and the prompt's vouching for an output the embedding alone calls off topic; same prompts)
VALIDATORS = ("previous", "floor", "model", "task", "gain", "spread", "vouched")


def all_observations(
    data: CalibrationData,
    scored: dict[str, ScoredPrompt],
    redundancy: int,
    validator: str,
    floor: int,
    *,
    variants: bool = False,
    read_only: bool = False,
    gain_only: bool = False,
    max_distance_ppb: int | None = None,
    memo: dict[Any, Any] | None = None,
) -> list[Observation]:
    """Every task's observations as one kind of validator (``VALIDATORS``) reports them.

    Tasks with a variant miner are left out, or (``variants``) only they are given. ``read_only``:
    only the prompts whose outputs the model read (the "model" validator always is). ``gain_only``:
    only the prompts whose outputs the model also read after no prompt (the "gain" and "spread" validators
    always are). ``max_distance_ppb``: the threshold the "spread" validator's reports are made against
    (default the core's ``poi_max_distance_ppb``). ``memo``: a dict kept across calls on the same ``data`` and
    ``scored`` (``measure``), so that a prompt's tasks and a task's scores are built once whichever filters ask for them.
    """
    if validator not in VALIDATORS:
        raise ValueError(f"unknown validator {validator!r}")
    by_prompt = rows_by_prompt(data)
    out: list[Observation] = []
    for p in data.prompts:
        sp = scored.get(p["id"])
        gain = validator in ("gain", "spread", "vouched") or gain_only
        if sp is None or ((validator in ("model", "task", "gain", "spread", "vouched") or read_only) and not sp.read):
            continue
        if gain and not sp.gain_read:
            continue
        report = None
        if validator in ("spread", "vouched"):
            from ..core.params import Params

            report = Params().poi_max_distance_ppb if max_distance_ppb is None else max_distance_ppb
        key = (p["id"], redundancy, validator, floor, report)
        if memo is not None and key in memo:
            obs = memo[key]
        elif validator == "previous":
            obs = task_observations(p, p["split"], by_prompt[p["id"]], sp.matrix, sp.quality_previous, redundancy)
        elif validator == "floor":
            obs = task_observations(p, p["split"], by_prompt[p["id"]], sp.matrix, sp.quality_previous, redundancy, floor)
        else:  # "model", "task", "gain", "spread" or "vouched": the scores with the model checks, which only outputs the model read have
            if sp.quality is None:
                raise ValueError(f"prompt {p['id']}: the {validator!r} validator needs every output read by the model")
            rescore = {
                "model": None,
                "task": sp.earlier_task_quality,
                "gain": sp.spread_task_quality,
                "spread": sp.spread_task_quality,
                "vouched": sp.task_quality,
            }[validator]
            if rescore is not None and memo is not None:
                rescore = _memo_rescore(memo, (p["id"], _RESCORED_AS[validator]), rescore)
            obs = task_observations(p, p["split"], by_prompt[p["id"]], sp.matrix, sp.quality, redundancy, floor, rescore, report)
        if memo is not None:
            memo[key] = obs
        if gain:  # a variant miner's tasks count once its output was read after no prompt too
            unread = {r["class"] for r, f in zip(by_prompt[p["id"]], sp.free_read) if not f}
            obs = [o for o in obs if o.task_mix not in unread]
        out += [o for o in obs if is_variant(o.task_mix) == variants]
    return out


_RESCORED_AS = {"task": "earlier", "gain": "spread", "spread": "spread", "vouched": "vouched"}  # validators whose tasks score alike share


def _memo_rescore(
    memo: dict[Any, Any], prefix: tuple[str, str], rescore: Callable[[Sequence[int]], list[int]]
) -> Callable[[Sequence[int]], list[int]]:
    """``rescore`` remembered per task (its members) in ``memo``: the "gain" and "spread" validators score the same tasks alike."""

    def remembered(members: Sequence[int]) -> list[int]:
        key = (*prefix, tuple(members))
        if key not in memo:
            memo[key] = rescore(members)
        return list(memo[key])

    return remembered


def measure(data: CalibrationData, progress: bool = False, scored: dict[str, ScoredPrompt] | None = None) -> Measurement:
    """Embed, build tasks, choose the threshold by ROC on the calibration prompts, report every rate.

    The distance threshold is chosen on the *previous* validator's PoI distances (the PoUW scorer
    without the task's model, medoid among all outputs), as before. Then the validators that
    followed are measured with it: *floor* (medoid among the outputs above the quality floor) on
    every prompt, and, on the prompts the model read, *floor* again and *model* (with the model
    checks: fidelity, ending), so that the two compare on the same tasks.
    """
    from ..core.params import Params

    scored = scored if scored is not None else embed_and_score(data, progress)
    params = Params()
    floor = params.consensus_min_quality_ppb
    memo: dict[Any, Any] = {}  # tasks and scores shared by the calls below (``all_observations``)
    obs = all_observations(data, scored, REDUNDANCY, "previous", floor, memo=memo)
    shipped = all_observations(data, scored, REDUNDANCY, "floor", floor, memo=memo)
    shipped_read = all_observations(data, scored, REDUNDANCY, "floor", floor, read_only=True, memo=memo)
    now = all_observations(data, scored, REDUNDANCY, "model", floor, memo=memo)
    now_variants = all_observations(data, scored, REDUNDANCY, "model", floor, variants=True, memo=memo)
    task = all_observations(data, scored, REDUNDANCY, "task", floor, memo=memo)
    task_variants = all_observations(data, scored, REDUNDANCY, "task", floor, variants=True, memo=memo)
    shipped_variants = all_observations(data, scored, REDUNDANCY, "floor", floor, variants=True, read_only=True, memo=memo)
    cal = [o for o in obs if o.split == "calibration"]
    grid = np.arange(0, THRESHOLD_MAX_PPB + 1, THRESHOLD_STEP_PPB, dtype=np.int64)

    honest_cal, cheat_cal = split_distances(cal)
    chosen = honest_first_threshold(honest_cal, grid, HONEST_TARGET)
    balanced = best_threshold(honest_cal, cheat_cal, grid)
    rules = {
        "previous": PoiRule(PREVIOUS_MAX_DISTANCE_PPB, floor),
        "chosen": PoiRule(chosen, floor),
        "balanced": PoiRule(balanced, floor),
    }
    signals = output_signals(data, scored)
    obs_table, task_table = ObservationTable.of(obs), ObservationTable.of(task)  # each counted under several rules
    summary: dict[str, Any] = {
        "data": describe_data(data),
        "redundancy": REDUNDANCY,
        "params": {"previous_max_distance_ppb": PREVIOUS_MAX_DISTANCE_PPB, "consensus_min_quality_ppb": floor},
        "chosen": {
            "max_distance_ppb": chosen,
            "honest_target": HONEST_TARGET,
            "criterion": "the smallest threshold keeping the target share of honest outputs within it (PoI alone) on the calibration prompts",
        },
        "balanced": {"max_distance_ppb": balanced, "criterion": "maximise min(honest in, cheaters out) (PoI alone) on the calibration prompts"},
        "rates": {name: rule_rates(obs_table, rule) for name, rule in rules.items()},
        "distances": distance_quantiles(obs),
        "roc": roc_summary(obs, grid, floor),
        "alternatives": alternatives(obs_table, grid, floor),
        "other_redundancy": {},
        "floor_medoid": rule_rates(shipped, rules["chosen"]),
        "model_validator": {
            "prompts": {split: len({o.prompt_id for o in now if o.split == split}) for split in SPLITS},
            "floor_medoid_same_prompts": rule_rates(shipped_read, rules["chosen"]),
            "floor_medoid_variants": variant_rates(shipped_variants, rules["chosen"]),
            "rule": {
                "max_distance_ppb": chosen,
                "min_quality_ppb": floor,
                "medoid": "among the outputs with quality ≥ min_quality_ppb",
                **model_check_params(),
            },
            "rates": rule_rates(now, rules["chosen"]),
            "variants": variant_rates(now_variants, rules["chosen"]),
            "signals": signal_summary(signals, floor),
            "distances": distance_quantiles(now),
        },
    }
    summary["task_validator"] = {
        "rule": {"max_distance_ppb": chosen, "min_quality_ppb": floor, **task_check_params()},
        "rates": rule_rates(task_table, rules["chosen"]),
        "variants": variant_rates(task_variants, rules["chosen"]),
        "honest_out": honest_out_reasons(task, rules["chosen"]),
        "what_if_max_distance": {
            str(t): {"rates": rule_rates(task_table, PoiRule(t, floor)), "variants": variant_rates(task_variants, PoiRule(t, floor))}
            for t in WHAT_IF_MAX_DISTANCES_PPB
        },
    }
    gain = all_observations(data, scored, REDUNDANCY, "gain", floor, memo=memo)
    gain_variants = all_observations(data, scored, REDUNDANCY, "gain", floor, variants=True, memo=memo)
    task_same = all_observations(data, scored, REDUNDANCY, "task", floor, gain_only=True, memo=memo)
    task_same_variants = all_observations(data, scored, REDUNDANCY, "task", floor, variants=True, gain_only=True, memo=memo)
    gain_table = ObservationTable.of(gain)
    summary["gain_validator"] = {
        "prompts": {split: len({o.prompt_id for o in gain if o.split == split}) for split in SPLITS},
        "rule": {"max_distance_ppb": chosen, "min_quality_ppb": floor, **gain_check_params()},
        "task_same_prompts": rule_rates(task_same, rules["chosen"]),
        "task_same_prompts_variants": variant_rates(task_same_variants, rules["chosen"]),
        "rates": rule_rates(gain_table, rules["chosen"]),
        "variants": variant_rates(gain_variants, rules["chosen"]),
        "honest_out": honest_out_reasons(gain, rules["chosen"]),
        "what_if_max_distance": {
            str(t): {"rates": rule_rates(gain_table, PoiRule(t, floor)), "variants": variant_rates(gain_variants, PoiRule(t, floor))}
            for t in WHAT_IF_MAX_DISTANCES_PPB
        },
    }
    spread = all_observations(data, scored, REDUNDANCY, "spread", floor, max_distance_ppb=chosen, memo=memo)
    spread_variants = all_observations(data, scored, REDUNDANCY, "spread", floor, variants=True, max_distance_ppb=chosen, memo=memo)
    summary["spread_validator"] = {
        "prompts": {split: len({o.prompt_id for o in spread if o.split == split}) for split in SPLITS},
        "rule": {"max_distance_ppb": chosen, "min_quality_ppb": floor, **spread_params()},
        "rates": rule_rates(spread, rules["chosen"]),
        "variants": variant_rates(spread_variants, rules["chosen"]),
        "honest_out": honest_out_reasons(spread, rules["chosen"]),
    }
    vouched = all_observations(data, scored, REDUNDANCY, "vouched", floor, max_distance_ppb=chosen, memo=memo)
    vouched_variants = all_observations(data, scored, REDUNDANCY, "vouched", floor, variants=True, max_distance_ppb=chosen, memo=memo)
    summary["vouched_validator"] = {
        "prompts": {split: len({o.prompt_id for o in vouched if o.split == split}) for split in SPLITS},
        "rule": {"max_distance_ppb": chosen, "min_quality_ppb": floor, **vouched_params()},
        "rates": rule_rates(vouched, rules["chosen"]),
        "variants": variant_rates(vouched_variants, rules["chosen"]),
        "honest_out": honest_out_reasons(vouched, rules["chosen"]),
    }
    for r in OTHER_REDUNDANCIES:
        more_table = ObservationTable.of(all_observations(data, scored, r, "previous", floor, memo=memo))
        summary["other_redundancy"][str(r)] = {name: rule_rates(more_table, rule) for name, rule in rules.items()}
        more = all_observations(data, scored, r, "floor", floor, read_only=True, memo=memo)
        summary["other_redundancy"][str(r)]["floor_same_prompts"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "model", floor, memo=memo)
        summary["other_redundancy"][str(r)]["model"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "task", floor, memo=memo)
        summary["other_redundancy"][str(r)]["task"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "task", floor, gain_only=True, memo=memo)
        summary["other_redundancy"][str(r)]["task_gain_prompts"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "gain", floor, memo=memo)
        summary["other_redundancy"][str(r)]["gain"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "spread", floor, max_distance_ppb=chosen, memo=memo)
        summary["other_redundancy"][str(r)]["spread"] = rule_rates(more, rules["chosen"])
        more = all_observations(data, scored, r, "vouched", floor, max_distance_ppb=chosen, memo=memo)
        summary["other_redundancy"][str(r)]["vouched"] = rule_rates(more, rules["chosen"])
    return Measurement(obs, summary, now, signals)


def model_check_params() -> dict[str, Any]:
    """The model checks' parameters as the validator applies them."""
    from ..ai import likelihood as lk
    from ..ai import quality as q

    return {
        "plausible_rank": lk.PLAUSIBLE_RANK,
        "plausible_min_ratio": lk.PLAUSIBLE_MIN_RATIO,
        "budget_slack_tokens": lk.BUDGET_SLACK_TOKENS,
        "min_fidelity_ppb": q.MIN_FIDELITY_PPB,
        "model_check_cap_ppb": q.MODEL_CHECK_CAP_PPB,
    }


def task_check_params() -> dict[str, Any]:
    """The model checks' and the task checks' parameters as the validator applies them."""
    from ..ai import likelihood as lk
    from ..ai import quality as q

    return {
        **model_check_params(),
        "wrong_turn_gap_nats": lk.WRONG_TURN_GAP_NATS,
        "wrong_turn_window": lk.WRONG_TURN_WINDOW,
        "off_prompt_relevance_bps": q.OFF_PROMPT_RELEVANCE_BPS,
        "model_verified_min_ppb": q.MODEL_VERIFIED_MIN_PPB,
    }


def gain_check_params() -> dict[str, Any]:
    """The task checks' parameters with the prompt-free read (the prompt gain and the short stop)."""
    from ..ai import likelihood as lk
    from ..ai import quality as q

    return {
        **task_check_params(),
        "prompt_gain_window": lk.PROMPT_GAIN_WINDOW,
        "unprompted_relative_bps": q.UNPROMPTED_RELATIVE_BPS,
        "unprompted_max_gain_milli": q.UNPROMPTED_MAX_GAIN_MILLI,
        "unprompted_max_early_gain_milli": q.UNPROMPTED_MAX_EARLY_GAIN_MILLI,
        "short_stop_factor": q.SHORT_STOP_FACTOR,
        "short_stop_end_gap_milli": q.SHORT_STOP_END_GAP_MILLI,
    }


def spread_params() -> dict[str, Any]:
    """The prompt-gain validator's parameters and the task's spread allowance of its reported distances."""
    from ..ai import likelihood as lk
    from ..ai import poi
    from ..ai import quality as q

    return {
        **gain_check_params(),
        "restated_min_words": q.RESTATED_MIN_WORDS,
        "restated_window_words": q.RESTATED_WINDOW_WORDS,
        "restated_min_wrong_turns": q.RESTATED_MIN_WRONG_TURNS,
        "budget_slack_bps": lk.BUDGET_SLACK_BPS,
        "task_spread_factor_bps": poi.TASK_SPREAD_FACTOR_BPS,
        "task_spread_cap_ppb": poi.TASK_SPREAD_CAP_PPB,
    }


def vouched_params() -> dict[str, Any]:
    """The task-spread validator's parameters and the one-word ending bound (the budget check and the vouching reuse earlier bounds)."""
    from ..ai import quality as q

    return {**spread_params(), "one_word_end_gap_milli": q.ONE_WORD_END_GAP_MILLI}


def honest_out_reasons(obs: list[Observation], rule: PoiRule) -> dict[str, Any]:
    """Why honest outputs (of the reference miners) are out of consensus, per split: below the quality floor, beyond the distance, or both."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        mine = [o for o in obs if o.split == split and o.output_class == "honest"]
        low = [o.quality_ppb < rule.min_quality_ppb for o in mine]
        far = [o.distance_ppb > rule.threshold_ppb(o.spread_ppb) for o in mine]
        n = max(1, len(mine))
        out[split] = {
            "outputs": len(mine),
            "below_floor_only": round(sum(lo and not fa for lo, fa in zip(low, far)) / n, 5),
            "beyond_distance_only": round(sum(fa and not lo for lo, fa in zip(low, far)) / n, 5),
            "both": round(sum(lo and fa for lo, fa in zip(low, far)) / n, 5),
        }
    return out


def variant_rates(obs: list[Observation], rule: PoiRule) -> dict[str, Any]:
    """Honest miners on other set-ups: their outputs in consensus (PoI alone and the whole rule), per split."""
    out: dict[str, Any] = {}
    for v in VARIANTS:
        name = VARIANT_CLASS_PREFIX + v.name
        block: dict[str, Any] = {"quantization": v.quantization or "q4_1", "sampling": v.sampling("-").to_dict() | {"seed": "per prompt"}}
        for split in SPLITS:
            mine = [o for o in obs if o.split == split and o.output_class == name]
            beside = [o for o in obs if o.split == split and o.output_class == "honest" and o.task_mix == name]
            block[split] = {
                "outputs": len(mine),
                "in_poi": round(sum(o.distance_ppb <= rule.max_distance_ppb for o in mine) / max(1, len(mine)), 5),
                "in_consensus": round(sum(rule.admits(o) for o in mine) / max(1, len(mine)), 5),
                "honest_beside_in_consensus": round(sum(rule.admits(o) for o in beside) / max(1, len(beside)), 5),
            }
        out[name] = block
    return out


def signal_summary(signals: list[OutputSignals], floor: int) -> dict[str, Any]:
    """Per-output signals: ROC area against the honest outputs (per split and class) and pass rates per class."""
    from ..ai.quality import MIN_FIDELITY_PPB

    def score(name: str, s: OutputSignals) -> float:  # larger = more suspicious
        return {
            "fidelity": -s.fidelity_ppb,
            "ending": -s.ending_ppb,
            "mean_logprob": -s.mean_logprob_milli,
            "quality_previous": -s.quality_previous_ppb,
            "quality": -s.quality_ppb,
        }[name]

    names = ("fidelity", "ending", "mean_logprob", "quality_previous", "quality")
    classes = sorted({s.output_class for s in signals}, key=lambda c: (is_variant(c), c not in CLASSES, c))
    out: dict[str, Any] = {"auc": {}, "by_class": {}}
    for split in SPLITS:
        part = [s for s in signals if s.split == split]
        h = [s for s in part if s.output_class == "honest"]
        out["auc"][split] = {
            name: {
                c: round(auc(np.array([score(name, s) for s in h]), np.array([score(name, s) for s in part if s.output_class == c])), 5)
                for c in classes
                if c != "honest"
            }
            | {
                "all_cheaters": round(
                    auc(np.array([score(name, s) for s in h]), np.array([score(name, s) for s in part if s.output_class in CHEAT_CLASSES])), 5
                )
            }
            for name in names
        }
        out["by_class"][split] = {}
        for c in classes:
            mine = [s for s in part if s.output_class == c]
            if not mine:
                continue
            fid = np.array([s.fidelity_ppb for s in mine], dtype=np.int64)
            out["by_class"][split][c] = {
                "outputs": len(mine),
                "fidelity_fails": round(float(np.mean(fid < MIN_FIDELITY_PPB)), 5),
                "ending_fails": round(float(np.mean([s.ending_ppb == 0 for s in mine])), 5),
                "fidelity_p1": int(np.percentile(fid, 1, method="lower")),
                "fidelity_p50": int(np.percentile(fid, 50, method="lower")),
                "below_floor_previous": round(float(np.mean([s.quality_previous_ppb < floor for s in mine])), 5),
                "below_floor": round(float(np.mean([s.quality_ppb < floor for s in mine])), 5),
            }
    return out


def rule_rates(obs: list[Observation] | ObservationTable, rule: PoiRule) -> dict[str, Any]:
    """Rates of a rule for PoI alone and for the whole consensus rule, by split, class, kind, temperature."""
    t = obs if isinstance(obs, ObservationTable) else ObservationTable.of(obs)
    poi_only = PoiRule(rule.max_distance_ppb, 0, rule.spread_factor_bps, rule.cap_ppb)
    out: dict[str, Any] = {"max_distance_ppb": rule.max_distance_ppb, "min_quality_ppb": rule.min_quality_ppb}
    for name, r in (("poi", poi_only), ("consensus", rule)):
        ok = t.admitted(r)
        block: dict[str, Any] = {}
        for split in SPLITS:
            part = t.split == split
            block[split] = t.rates(part, ok).to_dict()
            block[split]["cheat_out_by_class"] = {c: t.rates(part & (t.output_class == c), ok).to_dict()["cheat_out_rate"] for c in CHEAT_CLASSES}
            block[split]["honest_in_by_task"] = {
                m: t.rates(part & t.honest & (t.task_mix == m), ok).to_dict()["honest_in_rate"] for m in ("honest", *CHEAT_CLASSES)
            }
            kinds = sorted(set(t.kind[part].tolist()))
            block[split]["by_kind"] = {k: t.rates(part & (t.kind == k), ok).to_dict() for k in kinds}
        out[name] = block
    return out


def distance_quantiles(obs: list[Observation]) -> dict[str, Any]:
    """Distance-to-medoid quantiles per class (all prompts), in ppb."""
    out = {}
    for c in CLASSES:
        d = np.array([o.distance_ppb for o in obs if o.output_class == c], dtype=np.int64)
        if len(d):
            qs = {"p01": 1, "p05": 5, "p50": 50, "p95": 95, "p99": 99}
            out[c] = {
                "n": int(len(d)),
                "min": int(d.min()),
                "max": int(d.max()),
                **{k: int(np.percentile(d, q, method="lower")) for k, q in qs.items()},
            }
    return out


def roc_summary(obs: list[Observation], grid: np.ndarray, floor: int) -> dict[str, Any]:
    """Area under the ROC curve (PoI alone) per split and per cheat class."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        part = [o for o in obs if o.split == split]
        h = np.array([o.distance_ppb for o in part if o.output_class == "honest"], dtype=np.int64)
        entry = {"auc": round(auc(h, np.array([o.distance_ppb for o in part if o.output_class != "honest"])), 5)}
        for c in CHEAT_CLASSES:
            entry[f"auc_{c}"] = round(auc(h, np.array([o.distance_ppb for o in part if o.output_class == c])), 5)
        out[split] = entry
    return out


def auc(honest: np.ndarray, cheat: np.ndarray) -> float:
    """P(a cheating output lies farther than an honest one), ties counting half: the ROC area."""
    if not len(honest) or not len(cheat):
        return float("nan")
    h = np.sort(honest)
    below = np.searchsorted(h, cheat, side="left")
    equal = np.searchsorted(h, cheat, side="right") - below
    return float((below.sum() + 0.5 * equal.sum()) / (len(h) * len(cheat)))


def alternatives(obs: list[Observation] | ObservationTable, grid: np.ndarray, floor: int) -> dict[str, Any]:
    """The other rules tried: per-kind thresholds and thresholds relative to the task's spread.

    Each is chosen on the calibration prompts by the same criterion as the global threshold (honest
    outputs in ≥ ``HONEST_TARGET``, PoI alone) and measured on both splits, PoI alone and with the
    quality floor.
    """
    table = obs if isinstance(obs, ObservationTable) else ObservationTable.of(obs)
    observations = table.observations
    cal = [o for o in observations if o.split == "calibration"]
    is_cal = table.split == "calibration"
    out: dict[str, Any] = {}
    per_kind = {
        k: honest_first_threshold(split_distances([o for o in cal if o.kind == k])[0], grid, HONEST_TARGET)
        for k in sorted({o.kind for o in observations})
    }
    out["per_kind"] = {
        "thresholds_ppb": per_kind,
        **{
            name: {
                split: _sum_rates(
                    table.rates((table.split == split) & (table.kind == k), table.admitted(PoiRule(t, q))) for k, t in per_kind.items()
                ).to_dict()
                for split in SPLITS
            }
            for name, q in (("poi", 0), ("consensus", floor))
        },
    }
    spread = {}
    for factor in SPREAD_FACTORS_BPS:
        best = int(grid[-1])
        for t in grid[::5]:
            if table.rates(is_cal, table.admitted(PoiRule(int(t), 0, factor))).honest_in_rate >= HONEST_TARGET:
                best = int(t)
                break
        spread[str(factor)] = {
            "floor_ppb": best,
            **{
                name: {split: table.rates(table.split == split, table.admitted(PoiRule(best, q, factor))).to_dict() for split in SPLITS}
                for name, q in (("poi", 0), ("consensus", floor))
            },
        }
    out["spread_relative"] = spread
    return out


def _sum_rates(parts: Iterable[Rates]) -> Rates:
    parts = list(parts)
    return Rates(sum(r.honest_in for r in parts), sum(r.honest for r in parts), sum(r.cheat_out for r in parts), sum(r.cheat for r in parts))


def split_distances(observations: Sequence[Observation], floor: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distances of the honest and of the cheating outputs; below the quality floor counts as infinitely far."""
    far = THRESHOLD_MAX_PPB + 1
    h = [o.distance_ppb if o.quality_ppb >= floor else far for o in observations if o.output_class == "honest"]
    c = [o.distance_ppb if o.quality_ppb >= floor else far for o in observations if o.output_class != "honest"]
    return np.array(h, dtype=np.int64), np.array(c, dtype=np.int64)


def describe_data(data: CalibrationData) -> dict[str, Any]:
    """Counts of prompts and outputs, and the honest sampling settings."""
    split = {p["id"]: p["split"] for p in data.prompts}
    counts: dict[str, dict[str, int]] = {s: defaultdict(int) for s in SPLITS}  # type: ignore[misc]
    for r in data.rows:
        counts[split[r["prompt_id"]]][r["class"] if cheat_counts(r) else "truncated_complete"] += 1
    kinds: dict[str, dict[str, int]] = {s: defaultdict(int) for s in SPLITS}  # type: ignore[misc]
    for p in data.prompts:
        kinds[p["split"]][p["kind"]] += 1
    return {
        "prompts": {s: sum(1 for p in data.prompts if p["split"] == s) for s in SPLITS},
        "prompts_by_kind": {s: dict(sorted(kinds[s].items())) for s in SPLITS},
        "outputs": {s: dict(sorted(counts[s].items())) for s in SPLITS},
        "honest_temperatures": list(HONEST_TEMPERATURES),
        "honest_samplers": {k: v for k, v in Sampling(temperature=0.5).to_dict().items() if k not in ("temperature", "seed")},
    }


def _progress(total: int, label: str):
    """A rich progress bar on stderr; returns a callable that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    bar.start()
    task = bar.add_task(label, total=total)
    done = [0]

    def advance() -> None:
        bar.advance(task)
        done[0] += 1
        if done[0] >= total:
            bar.stop()

    return advance


# == the report =====================================================================================


def plot_roc(m: Measurement, path: Path | str) -> None:
    """The ROC figure (PoI alone; honest in vs cheaters in, per split and per cheat class) and the
    distance histograms, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = m.summary
    grid = np.arange(0, THRESHOLD_MAX_PPB + 1, THRESHOLD_STEP_PPB, dtype=np.int64)
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(12, 5))
    for split, style in (("calibration", "-"), ("held_out", "--")):
        part = [o for o in m.observations if o.split == split]
        h, c = split_distances(part)
        x, y = roc_points(h, c, grid)
        ax.plot(x, y, style, color="black", lw=2, label=f"all cheaters, {split} (AUC {s['roc'][split]['auc']:.3f})")
    cal = [o for o in m.observations if o.split == "calibration"]
    h = split_distances(cal)[0]
    colours = dict(zip(CHEAT_CLASSES, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for cls in CHEAT_CLASSES:
        c = np.array([o.distance_ppb for o in cal if o.output_class == cls], dtype=np.int64)
        x, y = roc_points(h, c, grid)
        ax.plot(x, y, color=colours[cls], lw=1, label=f"{cls} (AUC {s['roc']['calibration'][f'auc_{cls}']:.3f})")
    for name, marker in (("previous", "o"), ("chosen", "s")):
        r = s["rates"][name]["poi"]["calibration"]
        t = s["rates"][name]["max_distance_ppb"] / PPB
        ax.plot(1 - r["cheat_out_rate"], r["honest_in_rate"], marker, color="black", ms=8, mfc="white", label=f"{name} threshold {t:.3f}")
    ax.axhline(HONEST_TARGET, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("cheating outputs in consensus")
    ax.set_ylabel("honest outputs in consensus")
    ax.set_title(f"PoI ROC: distance to the medoid, {s['redundancy']} miners per task")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=7, loc="lower right")
    bins = np.linspace(0, 1.2, 61)
    everything = m.observations
    for cls in CLASSES:
        d = np.array([o.distance_ppb for o in everything if o.output_class == cls], dtype=np.float64) / PPB
        hx.hist(
            d, bins=bins, histtype="step", density=True, lw=2 if cls == "honest" else 1, color="black" if cls == "honest" else colours[cls], label=cls
        )
    for name, ls in (("previous", ":"), ("chosen", "--")):
        hx.axvline(s["rates"][name]["max_distance_ppb"] / PPB, color="grey", ls=ls, label=f"{name} threshold")
    hx.set_yscale("log")
    hx.set_xlabel("cosine distance to the task's medoid output")
    hx.set_ylabel("density (log)")
    hx.set_title("distance to the medoid by output class (all prompts)")
    hx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_doc_tables(s: dict[str, Any]) -> str:
    """The generated part of docs/poi-calibration.md: every number comes from the summary."""
    d = s["data"]
    ch = s["rates"]["chosen"]
    met = all(
        ch[kind][split]["honest_in_rate"] >= HONEST_TARGET and ch[kind][split]["cheat_out_rate"] >= HONEST_TARGET
        for kind in ("poi", "consensus")
        for split in SPLITS
    )
    lines = [
        "",
        f"**Result.** The chosen threshold is {ch['max_distance_ppb'] / PPB:.3f} "
        f"(`poi_max_distance_ppb` = {ch['max_distance_ppb']:_}). With it, PoI alone keeps "
        f"{_pct(ch['poi']['calibration']['honest_in_rate'])} of the honest outputs in consensus on the calibration "
        f"prompts and {_pct(ch['poi']['held_out']['honest_in_rate'])} on the held-out prompts, and puts "
        f"{_pct(ch['poi']['calibration']['cheat_out_rate'])} / {_pct(ch['poi']['held_out']['cheat_out_rate'])} of the "
        f"cheating outputs out; the core's whole consensus rule (with the quality floor) keeps "
        f"{_pct(ch['consensus']['calibration']['honest_in_rate'])} / {_pct(ch['consensus']['held_out']['honest_in_rate'])} "
        f"honest outputs in and puts {_pct(ch['consensus']['calibration']['cheat_out_rate'])} / "
        f"{_pct(ch['consensus']['held_out']['cheat_out_rate'])} of the cheating outputs out. The goal "
        f"(≥ 99 % honest in, ≥ 99 % cheaters out) is {'met' if met else '**not** met'}.",
        "",
        f"Prompts: {d['prompts']['calibration']} for calibration, {d['prompts']['held_out']} held out; {s['redundancy']} miners per task.",
        "",
        "| split | " + " | ".join(CLASSES) + " |",
        "|---|" + "---|" * len(CLASSES),
    ]
    for split in SPLITS:
        lines.append(f"| {split} | " + " | ".join(str(d["outputs"][split].get(c, 0)) for c in CLASSES) + " |")
    lines += [
        "",
        "Outputs (truncated: only those the budget cut; "
        f"{sum(d['outputs'][sp].get('truncated_complete', 0) for sp in SPLITS)} truncated generations "
        "ended on their own and are not counted).",
        "",
    ]
    lines += [
        "### Rules compared",
        "",
        "| rule | split | honest in (PoI) | cheaters out (PoI) | honest in (consensus) | cheaters out (consensus) |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, poi: dict[str, Any], cons: dict[str, Any]) -> None:
        for split in SPLITS:
            lines.append(
                f"| {label} | {split} | {_pct(poi[split]['honest_in_rate'])} | {_pct(poi[split]['cheat_out_rate'])} "
                f"| {_pct(cons[split]['honest_in_rate'])} | {_pct(cons[split]['cheat_out_rate'])} |"
            )

    for name in ("previous", "chosen", "balanced"):
        r = s["rates"][name]
        row(f"{name}: global {r['max_distance_ppb'] / PPB:.3f}", r["poi"], r["consensus"])
    pk = s["alternatives"]["per_kind"]
    row("per kind (" + ", ".join(f"{k} {t / PPB:.3f}" for k, t in pk["thresholds_ppb"].items()) + ")", pk["poi"], pk["consensus"])
    for factor, a in s["alternatives"]["spread_relative"].items():
        row(f"relative: max({a['floor_ppb'] / PPB:.3f}, {int(factor) / BPS:g} × task spread)", a["poi"], a["consensus"])
    lines += [
        "",
        "PoI: distance ≤ threshold. Consensus: the core's whole rule, distance ≤ threshold and quality ≥ "
        f"{s['params']['consensus_min_quality_ppb'] / PPB:.2f}.",
        "",
    ]
    lines += ["### Cheaters out by class", "", "| rule | split | " + " | ".join(CHEAT_CLASSES) + " |", "|---|---|" + "---|" * len(CHEAT_CLASSES)]
    for name in ("previous", "chosen"):
        for kind in ("poi", "consensus"):
            for split in SPLITS:
                by = s["rates"][name][kind][split]["cheat_out_by_class"]
                lines.append(f"| {name} ({kind}) | {split} | " + " | ".join(_pct(by[c]) for c in CHEAT_CLASSES) + " |")
    lines += [
        "",
        "### Honest outputs in consensus by kind (chosen threshold)",
        "",
        "| kind | calibration (PoI) | held out (PoI) | calibration (consensus) | held out (consensus) |",
        "|---|---|---|---|---|",
    ]
    chosen = s["rates"]["chosen"]
    for k in sorted(chosen["poi"]["calibration"]["by_kind"]):
        cells = [
            _pct(chosen[kind][split]["by_kind"][k]["honest_in_rate"]) if k in chosen[kind][split]["by_kind"] else "–"
            for kind in ("poi", "consensus")
            for split in SPLITS
        ]
        lines.append(f"| {k} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    lines += [
        "",
        "### ROC area and distances",
        "",
        "| class | AUC calibration | AUC held out | min | p1 | p5 | median | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in CLASSES:
        q = s["distances"][c]
        auc_cells = ("", "") if c == "honest" else (f"{s['roc']['calibration'][f'auc_{c}']:.3f}", f"{s['roc']['held_out'][f'auc_{c}']:.3f}")
        lines.append(
            f"| {c} | {auc_cells[0]} | {auc_cells[1]} | "
            + " | ".join(f"{q[k] / PPB:.3f}" for k in ("min", "p01", "p05", "p50", "p95", "p99", "max"))
            + " |"
        )
    lines += [
        "",
        "### Five miners per task",
        "",
        "| rule | split | honest in (PoI) | cheaters out (PoI) | honest in (consensus) | cheaters out (consensus) |",
        "|---|---|---|---|---|---|",
    ]
    for r_name, block in s["other_redundancy"].items():
        for name in ("previous", "chosen"):
            b = block[name]
            row(f"{name} {b['max_distance_ppb'] / PPB:.3f}, {r_name} miners", b["poi"], b["consensus"])
    lines += render_model_tables(s)
    lines += render_task_tables(s)
    if "gain_validator" in s:
        lines += render_gain_tables(s)
    if "spread_validator" in s:
        lines += render_spread_tables(s)
    if "vouched_validator" in s:
        lines += render_vouched_tables(s)
    return "\n".join(lines) + "\n"


def render_model_tables(s: dict[str, Any]) -> list[str]:
    """The validator as shipped (medoid above the floor, model checks): its rates, per class, and per set-up."""
    mv = s["model_validator"]
    rule = mv["rule"]
    chosen_t = rule["max_distance_ppb"] / PPB
    lines = [
        "",
        "## The validator as shipped",
        "",
        f"The rule in force: distance ≤ {chosen_t:.3f} and quality ≥ {rule['min_quality_ppb'] / PPB:.2f}, the medoid chosen "
        f"among the outputs above the quality floor, and, when the validator runs the task's model, the model checks "
        f"(a token is *plausible* when the model ranks it among its top {rule['plausible_rank']} and at ≥ "
        f"{rule['plausible_min_ratio']} of the top token's probability; fidelity below {rule['min_fidelity_ppb'] / PPB:.2f}, "
        f"or an output that stops more than {rule['budget_slack_tokens']} tokens before its budget where the end-of-turn "
        f"token is not plausible, caps the quality at {rule['model_check_cap_ppb'] / PPB:.2f}).",
        "",
        f"The model read the outputs of {mv['prompts']['calibration']} calibration and {mv['prompts']['held_out']} held-out prompts "
        "(`scripts/poi_likelihood.py`, `likelihood*.jsonl`); the rows marked *same prompts* compare on exactly those.",
        "",
        "| validator | prompts | split | honest in (consensus) | cheaters out (consensus) | " + " | ".join(f"{c} out" for c in CHEAT_CLASSES) + " |",
        "|---|---|---|---|---|" + "---|" * len(CHEAT_CLASSES),
    ]
    blocks = (
        ("medoid among all, no model checks", "all", s["rates"]["chosen"]),
        ("medoid above the floor, no model checks", "all", s["floor_medoid"]),
        ("medoid above the floor, no model checks", "same prompts", mv["floor_medoid_same_prompts"]),
        ("**medoid above the floor + model checks**", "same prompts", mv["rates"]),
    )
    for label, prompts, b in blocks:
        for split in SPLITS:
            c = b["consensus"][split]
            lines.append(
                f"| {label} | {prompts} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} | "
                + " | ".join(_pct(c["cheat_out_by_class"][k]) for k in CHEAT_CLASSES)
                + " |"
            )
    lines += [
        "",
        "Honest miners on other set-ups, each seated as the odd miner of a task with two of the six reference miners "
        "(their outputs in consensus; the reference miners beside them in consensus):",
        "",
        "| set-up | split | outputs | in consensus, no model checks | in consensus, with model checks | honest beside, with model checks |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in mv["variants"].items():
        before = mv["floor_medoid_variants"].get(name, {})
        for split in SPLITS:
            b = v[split]
            if not b["outputs"]:
                continue
            label = _variant_label(v)
            prev = _pct(before[split]["in_consensus"]) if before else "–"
            lines.append(f"| {label} | {split} | {b['outputs']} | {prev} | {_pct(b['in_consensus'])} | {_pct(b['honest_beside_in_consensus'])} |")
    sig = mv["signals"]["by_class"]
    lines += [
        "",
        "The model checks per output (all read prompts): share failing fidelity, share failing the ending, "
        "median fidelity, and share below the quality floor without and with the checks:",
        "",
        "| class | split | outputs | fidelity fails | ending fails | median fidelity | below floor before | below floor with checks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split in SPLITS:
        for c, b in sig[split].items():
            lines.append(
                f"| {c} | {split} | {b['outputs']} | {_pct(b['fidelity_fails'])} | {_pct(b['ending_fails'])} | "
                f"{b['fidelity_p50'] / PPB:.3f} | {_pct(b['below_floor_previous'])} | {_pct(b['below_floor'])} |"
            )
    for r_name, block in s["other_redundancy"].items():
        if "model" in block:
            lines += ["", f"With {r_name} miners per task (same prompts):", ""]
            lines += ["| validator | split | honest in (consensus) | cheaters out (consensus) |", "|---|---|---|---|"]
            for label, key in (("medoid above the floor, no model checks", "floor_same_prompts"), ("with model checks", "model")):
                for split in SPLITS:
                    c = block[key]["consensus"][split]
                    lines.append(f"| {label} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} |")
    return lines


def _rates_rows(blocks: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """One table row per (validator label, split): honest in, cheaters out, and cheaters out per class."""
    rows = []
    for label, b in blocks:
        for split in SPLITS:
            c = b["consensus"][split]
            rows.append(
                f"| {label} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} | "
                + " | ".join(_pct(c["cheat_out_by_class"][k]) for k in CHEAT_CLASSES)
                + " |"
            )
    return rows


def _honest_out_rows(honest_out: dict[str, Any], checks: str) -> list[str]:
    """Why honest outputs are still out: the table of shares below the floor, beyond the distance, or both."""
    lines = [
        "",
        f"Why honest outputs are still out (share of the reference miners' outputs, with {checks}):",
        "",
        "| split | outputs | below the quality floor only | beyond the distance only | both |",
        "|---|---|---|---|---|",
    ]
    for split in SPLITS:
        r = honest_out[split]
        lines.append(f"| {split} | {r['outputs']} | {_pct(r['below_floor_only'])} | {_pct(r['beyond_distance_only'])} | {_pct(r['both'])} |")
    return lines


def _variant_label(v: dict[str, Any]) -> str:
    """A variant miner's set-up: quantisation and sampler."""
    sampler = v["sampling"]
    return f"{v['quantization']}, T {sampler['temperature']}, top-k {sampler['top_k']}, top-p {sampler['top_p']}, min-p {sampler['min_p']}"


def render_task_tables(s: dict[str, Any]) -> list[str]:
    """The validator with the task checks (off prompt, model-verified floor): rates beside the model checks alone."""
    tv, mv = s["task_validator"], s["model_validator"]
    rule = tv["rule"]
    lines = [
        "",
        "## The validator with the task checks",
        "",
        f"After each output's own score, two checks that need the task's other outputs (`ai.quality.task_checks`): "
        f"*off prompt*: an output with a token among its first {rule['wrong_turn_window']} more than "
        f"{rule['wrong_turn_gap_nats']:g} nats below the model's top token (a *wrong turn*) and a prompt relevance under "
        f"{rule['off_prompt_relevance_bps'] / 100:g} % of the best other valid output's is capped at "
        f"{rule['model_check_cap_ppb'] / PPB:.2f}; *model-verified floor*: an output that passes the model checks, "
        f"with no empty / non-answer / off-topic flag, scores at least {rule['model_verified_min_ppb'] / PPB:.2f}. "
        f"Same prompts as above (every prompt the model read), distance ≤ {rule['max_distance_ppb'] / PPB:.3f}, "
        f"quality ≥ {rule['min_quality_ppb'] / PPB:.2f}.",
        "",
        "| validator | split | honest in (consensus) | cheaters out (consensus) | " + " | ".join(f"{c} out" for c in CHEAT_CLASSES) + " |",
        "|---|---|---|---|" + "---|" * len(CHEAT_CLASSES),
    ]
    blocks = [("model checks", mv["rates"]), ("**+ task checks**", tv["rates"])]
    blocks += [(f"+ task checks, distance ≤ {int(t) / PPB:.2f} (not in force)", b["rates"]) for t, b in tv["what_if_max_distance"].items()]
    lines += _rates_rows(blocks)
    lines += _honest_out_rows(tv["honest_out"], "the task checks")
    lines += [
        "",
        "Honest miners on other set-ups (odd seat beside two reference miners), in consensus:",
        "",
        "| set-up | split | model checks | + task checks | "
        + " | ".join(f"+ task checks, ≤ {int(t) / PPB:.2f}" for t in tv["what_if_max_distance"])
        + " |",
        "|---|---|---|---|" + "---|" * len(tv["what_if_max_distance"]),
    ]
    for name, v in tv["variants"].items():
        for split in SPLITS:
            if not v[split]["outputs"]:
                continue
            label = _variant_label(v)
            what_if = " | ".join(_pct(b["variants"][name][split]["in_consensus"]) for b in tv["what_if_max_distance"].values())
            lines.append(
                f"| {label} | {split} | {_pct(mv['variants'][name][split]['in_consensus'])} | {_pct(v[split]['in_consensus'])} | {what_if} |"
            )
    for r_name, block in s["other_redundancy"].items():
        if "task" in block:
            lines += ["", f"With {r_name} miners per task (same prompts):", ""]
            lines += ["| validator | split | honest in (consensus) | cheaters out (consensus) |", "|---|---|---|---|"]
            for label, key in (("model checks", "model"), ("+ task checks", "task")):
                for split in SPLITS:
                    c = block[key]["consensus"][split]
                    lines.append(f"| {label} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} |")
    return lines


def render_gain_tables(s: dict[str, Any]) -> list[str]:
    """The validator that also reads each output after no prompt (unprompted, short stop): rates beside the task checks before."""
    gv = s["gain_validator"]
    rule = gv["rule"]
    prompts = gv["prompts"]
    lines = [
        "",
        "## The validator with the prompt gain and the short stop",
        "",
        f"The model reads each output a second time after an empty user message; the *prompt gain* is log p(token | prompt) − "
        f"log p(token | no prompt), per token and summed over the first {rule['prompt_gain_window']} tokens. Two more task checks "
        f"(`ai.quality.task_checks`): *unprompted*: gain per token under {rule['unprompted_relative_bps'] / 100:g} % of the best "
        f"other valid output's and (under {rule['unprompted_max_gain_milli'] / 1000:g} nats per token or under "
        f"{rule['unprompted_max_early_gain_milli'] / 1000:g} nats over the first tokens) → `off_prompt`; *short stop*: stopped "
        f"before its budget with the end-of-turn token more than {rule['short_stop_end_gap_milli'] / 1000:g} nats under the top "
        f"token and fewer than 1/{rule['short_stop_factor']} of the longest other valid output's tokens → `stopped_early`; both "
        f"capped at {rule['model_check_cap_ppb'] / PPB:.2f}. Measured on the prompts whose every output the model also read after "
        f"no prompt ({prompts['calibration']} calibration, {prompts['held_out']} held-out prompts), beside the task checks before on "
        f"the same prompts; distance ≤ {rule['max_distance_ppb'] / PPB:.3f}, quality ≥ {rule['min_quality_ppb'] / PPB:.2f}.",
        "",
        "| validator | split | honest in (consensus) | cheaters out (consensus) | " + " | ".join(f"{c} out" for c in CHEAT_CLASSES) + " |",
        "|---|---|---|---|" + "---|" * len(CHEAT_CLASSES),
    ]
    blocks = [("task checks (before)", gv["task_same_prompts"]), ("**+ prompt gain, short stop**", gv["rates"])]
    what_if = gv["what_if_max_distance"].items()
    blocks += [(f"+ prompt gain, short stop, distance ≤ {int(t) / PPB:.2f} (not in force)", b["rates"]) for t, b in what_if]
    lines += _rates_rows(blocks)
    lines += _honest_out_rows(gv["honest_out"], "the prompt gain and the short stop")
    lines += [
        "",
        "Honest miners on other set-ups (odd seat beside two reference miners), in consensus:",
        "",
        "| set-up | split | outputs | task checks (before) | + prompt gain, short stop | "
        + " | ".join(f"+ …, ≤ {int(t) / PPB:.2f}" for t in gv["what_if_max_distance"])
        + " |",
        "|---|---|---|---|---|" + "---|" * len(gv["what_if_max_distance"]),
    ]
    for name, v in gv["variants"].items():
        for split in SPLITS:
            if not v[split]["outputs"]:
                continue
            label = _variant_label(v)
            what_if = " | ".join(_pct(b["variants"][name][split]["in_consensus"]) for b in gv["what_if_max_distance"].values())
            before = gv["task_same_prompts_variants"][name][split]["in_consensus"]
            lines.append(f"| {label} | {split} | {v[split]['outputs']} | {_pct(before)} | {_pct(v[split]['in_consensus'])} | {what_if} |")
    for r_name, block in s["other_redundancy"].items():
        if "gain" in block:
            lines += ["", f"With {r_name} miners per task (same prompts):", ""]
            lines += ["| validator | split | honest in (consensus) | cheaters out (consensus) |", "|---|---|---|---|"]
            for label, key in (("task checks (before)", "task_gain_prompts"), ("+ prompt gain, short stop", "gain")):
                for split in SPLITS:
                    c = block[key]["consensus"][split]
                    lines.append(f"| {label} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} |")
    return lines


def render_spread_tables(s: dict[str, Any]) -> list[str]:
    """The validator that reports its distances less the task's spread allowance: rates beside the prompt-gain validator, per kind."""
    sv, gv = s["spread_validator"], s["gain_validator"]
    rule = sv["rule"]
    dmax = rule["max_distance_ppb"] / PPB
    lines = [
        "",
        "## The validator with the task's spread",
        "",
        f"The prompt-gain validator above, reporting each distance less the task's *spread allowance* "
        f"(`ai.poi.reported_distances_ppb`): the task's spread is the reference's distance to its nearest other output above "
        f"the quality floor; the task's threshold is max({dmax:.3f}, min({rule['task_spread_cap_ppb'] / PPB:.2f}, spread × "
        f"{rule['task_spread_factor_bps'] / BPS:g})) and each distance is reported less (threshold − {dmax:.3f}), so the core's "
        f"comparison with `poi_max_distance_ppb` applies the task's threshold. Both validators count an output that falls short "
        f"of its budget by at most max({rule['budget_slack_tokens']}, {rule['budget_slack_bps'] / 100:g} % of it) tokens as "
        f"reaching it (the re-tokenised text of a run that spent its budget may count fewer tokens), and every validator "
        f"with the model in this document puts under the floor an output that repeats {rule['restated_min_words']} consecutive "
        f"words of the prompt among its first {rule['restated_window_words']} with {rule['restated_min_wrong_turns']} early "
        f"wrong turns (`restated_prompt`). Same prompts as the "
        f"prompt-gain validator ({sv['prompts']['calibration']} calibration, {sv['prompts']['held_out']} held-out).",
        "",
        "| validator | split | honest in (consensus) | cheaters out (consensus) | " + " | ".join(f"{c} out" for c in CHEAT_CLASSES) + " |",
        "|---|---|---|---|" + "---|" * len(CHEAT_CLASSES),
    ]
    return lines + _step_tables(s, (gv, "gain", "prompt gain, short stop"), (sv, "spread", "+ task spread"), "the task spread")


def render_vouched_tables(s: dict[str, Any]) -> list[str]:
    """The validator with the over-budget check, the one-word ending and the prompt's vouching: rates beside the task-spread validator, per kind."""
    vv, sv = s["vouched_validator"], s["spread_validator"]
    rule = vv["rule"]
    lines = [
        "",
        "## The validator with the budget check, the one-word ending and the prompt's vouching",
        "",
        f"The task-spread validator above with three more steps (`ai.quality`). *Over budget*: an output that the model's "
        f"tokenizer counts more than max({rule['budget_slack_tokens']}, {rule['budget_slack_bps'] / 100:g} % of the budget) "
        f"tokens beyond the task's `max_output_tokens` was not generated under this budget (a replayed answer to a prompt "
        f"with a larger budget): flag `over_budget`, capped like a failed model check. *Unended*: an answer to a prompt "
        f"that asks for one word that stopped before its budget with the end-of-turn token more than "
        f"{rule['one_word_end_gap_milli'] / 1000:.1f} nats under the model's top token was cut (flag `unended`, capped the "
        f"same way). *Vouched*: an output whose only "
        f"unverifiable flag is `off_topic` (prompt cosine ≤ 0.15: the embedding alone calls it unrelated), with no early "
        f"wrong turn, whose prompt gain per token is at least {rule['unprompted_relative_bps'] / 100:g} % of the best "
        f"other valid output's and whose early gain is at least {rule['unprompted_max_early_gain_milli'] / 1000:g} nats "
        f"(the prompt makes it likely, as it makes the task's answers likely) loses the `off_topic` cap and scores exactly "
        f"the model-verified floor. One new parameter, the one-word ending bound; the others are the budget slack and the "
        f"unprompted test's bounds. Same prompts ({vv['prompts']['calibration']} calibration, {vv['prompts']['held_out']} held-out).",
        "",
        "| validator | split | honest in (consensus) | cheaters out (consensus) | " + " | ".join(f"{c} out" for c in CHEAT_CLASSES) + " |",
        "|---|---|---|---|" + "---|" * len(CHEAT_CLASSES),
    ]
    return lines + _step_tables(s, (sv, "spread", "task spread"), (vv, "vouched", "+ budget, unended, vouched"), "these steps")


def _step_tables(s: dict[str, Any], before: tuple[dict[str, Any], str, str], after: tuple[dict[str, Any], str, str], checks: str) -> list[str]:
    """One validator step against the one before it: the rates, the honest outputs still out, the rates per kind, the
    honest miners on other set-ups and at other redundancies. ``before`` / ``after``: (the validator's block of the
    results, its key in ``other_redundancy``, its label); ``checks``: what the honest-out rows credit."""
    (b_block, b_key, b_label), (a_block, a_key, a_label) = before, after
    lines = _rates_rows([(b_label, b_block["rates"]), (f"**{a_label}**", a_block["rates"])])
    lines += _honest_out_rows(a_block["honest_out"], checks)
    lines += ["", f"Per kind (consensus; {b_label} → {a_label}):", "", "| kind | split | honest in | cheaters out |", "|---|---|---|---|"]
    for split in SPLITS:
        by_before, by_after = b_block["rates"]["consensus"][split]["by_kind"], a_block["rates"]["consensus"][split]["by_kind"]
        for k in sorted(by_after):
            b, a = by_before.get(k), by_after[k]
            hb = _pct(b["honest_in_rate"]) if b else "–"
            cb = _pct(b["cheat_out_rate"]) if b else "–"
            lines.append(f"| {k} | {split} | {hb} → {_pct(a['honest_in_rate'])} | {cb} → {_pct(a['cheat_out_rate'])} |")
    lines += [
        "",
        "Honest miners on other set-ups (odd seat beside two reference miners), in consensus:",
        "",
        f"| set-up | split | outputs | {b_label} | {a_label} |",
        "|---|---|---|---|---|",
    ]
    for name, v in a_block["variants"].items():
        for split in SPLITS:
            if not v[split]["outputs"]:
                continue
            was = b_block["variants"][name][split]["in_consensus"]
            lines.append(f"| {_variant_label(v)} | {split} | {v[split]['outputs']} | {_pct(was)} | {_pct(v[split]['in_consensus'])} |")
    for r_name, block in s["other_redundancy"].items():
        if a_key in block:
            lines += ["", f"With {r_name} miners per task (same prompts):", ""]
            lines += ["| validator | split | honest in (consensus) | cheaters out (consensus) |", "|---|---|---|---|"]
            for label, key in ((b_label, b_key), (a_label, a_key)):
                for split in SPLITS:
                    c = block[key]["consensus"][split]
                    lines.append(f"| {label} | {split} | {_pct(c['honest_in_rate'])} | {_pct(c['cheat_out_rate'])} |")
    return lines
