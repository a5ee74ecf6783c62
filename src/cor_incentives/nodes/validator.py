"""The validator's evaluation: PoI distances and PoUW quality for a task's revealed outputs.

Runs the real embedding model (all-MiniLM-L6-v2 int8 ONNX) and the default rule+embedding quality
scorer; returns the ``reports`` body of a ``task.validate`` command (integers in ppb). With a
``reader`` (the task's model, ``ai.likelihood.TeacherForcer``) the scorer adds the model checks
(fidelity, ending): an output the model would not have written, or one cut short, scores below the
consensus quality floor; then the task checks (``ai.quality.task_checks``): an answer replayed from
another prompt (an early wrong turn and a relevance far under the task's best, or a prompt gain far
under the task's best: the model reads each output again after no prompt) or an answer far shorter
than the others that stops where the model goes on is put under the floor too, and a poor answer the
model itself sampled is lifted to it. Each report carries the output's token count by the model's own tokenizer
(``ai.tokens``); ``prompt_tokens`` is the command's ``input_tokens``. The core settles the task's
work units from these counts.

From rule version 12 (a task view's ``spread_rule``) the validator reports raw distances and its
measured spread of the task (``evaluate_task``: ``spread_ppb``), and the core sets the task's threshold;
under earlier rules it reports the distances less its own spread allowance (``evaluate_outputs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..ai.composed import EarlierComposition
from ..ai.embedding import Embedder, get_embedder
from ..ai.poi import pairwise_distances_ppb, ranked_distances_ppb, reported_distances_ppb, task_reference, task_spread_ppb
from ..ai.quality import ModelReader, QualityScorer, RuleEmbeddingScorer
from ..ai.tokens import count_tokens
from ..core.params import Params


def prompt_tokens(prompt: str) -> int:
    """The prompt's tokens, as the validator reports them (``task.validate`` ``input_tokens``)."""
    return count_tokens(prompt)


@dataclass(frozen=True)
class Evaluation:
    """A validator's reports on a task's outputs and its measured spread of the task (ppb)."""

    reports: list[dict[str, Any]]
    spread_ppb: int


def evaluate_outputs(
    prompt: str,
    outputs: dict[str, str],
    max_output_tokens: int | None = None,
    scorer: QualityScorer | None = None,
    min_quality_ppb: int | None = None,
    reader: ModelReader | None = None,
    embedder: Embedder | None = None,
    max_distance_ppb: int | None = None,
    earlier: Sequence[EarlierComposition] = (),
) -> list[dict[str, Any]]:
    """The reports under the rules before version 12: each distance less the task's spread allowance (``evaluate_task``)."""
    return evaluate_task(prompt, outputs, max_output_tokens, scorer, min_quality_ppb, reader, embedder, max_distance_ppb, earlier=earlier).reports


def evaluate_task(
    prompt: str,
    outputs: dict[str, str],
    max_output_tokens: int | None = None,
    scorer: QualityScorer | None = None,
    min_quality_ppb: int | None = None,
    reader: ModelReader | None = None,
    embedder: Embedder | None = None,
    max_distance_ppb: int | None = None,
    spread_rule: bool = False,
    spread_cap_ppb: int | None = None,
    spread_factor_bps: int | None = None,
    earlier: Sequence[EarlierComposition] = (),
) -> Evaluation:
    """One report per miner: distance to the medoid output and quality score, with sub-scores.

    The medoid is chosen among the outputs scored at least ``min_quality_ppb`` (default: the core's
    ``consensus_min_quality_ppb``): an output below the quality floor never becomes the reference.
    ``reader``: the task's model, when this validator runs it (used by the default scorer only).
    ``spread_rule`` (rule 12): the distances are raw (``ai.poi.ranked_distances_ppb``) and the spread goes
    with them for the core to set the threshold; else they are reported less the task's spread allowance
    (``ai.poi.reported_distances_ppb``: when even the task's two closest valid outputs lie farther apart
    than ``max_distance_ppb``, default the core's ``poi_max_distance_ppb``, an output as close to the
    reference as that is reported within it; ``spread_cap_ppb`` / ``spread_factor_bps``: the network's
    ``poi_spread_cap_ppb`` / ``poi_spread_factor_bps``, default the core's).
    ``earlier``: the network's earlier composed tasks, oldest first (the default scorer's borrow check, ``ai.composed``).
    ``embedder``: default the process-wide one. The default scorer embeds the prompt and the outputs,
    the distances embed the outputs again: the embedder's cache makes that second pass free (the
    same vectors, bit for bit), so a task costs one encoder pass per distinct text.
    """
    defaults = Params()
    cap = defaults.poi_spread_cap_ppb if spread_cap_ppb is None else spread_cap_ppb
    factor = defaults.poi_spread_factor_bps if spread_factor_bps is None else spread_factor_bps
    floor = defaults.consensus_min_quality_ppb if min_quality_ppb is None else min_quality_ppb
    dmax = defaults.poi_max_distance_ppb if max_distance_ppb is None else max_distance_ppb
    miners = sorted(outputs)
    texts = [outputs[m] for m in miners]
    embedder = embedder or get_embedder()
    scorer = scorer or RuleEmbeddingScorer(embedder=embedder, reader=reader, earlier=earlier)
    if hasattr(scorer, "score_outputs"):
        scores = scorer.score_outputs(prompt, texts, max_output_tokens=max_output_tokens)  # type: ignore[attr-defined]
    else:
        scores = [scorer.score(prompt, t, max_output_tokens=max_output_tokens) for t in texts]
    # the medoid is chosen among the outputs above the quality floor, the best-scored first on a tie:
    # two cheaters of three miners cannot make one of theirs the reference the honest output is measured from
    distance = [0] * len(texts)
    spread = 0
    if len(texts) > 1:
        matrix = pairwise_distances_ppb(embedder.embed(texts))
        quality = [s.total_ppb for s in scores]
        reference = task_reference(matrix, quality, miners, floor)  # the O(n²) medoid, once for the spread and the distances
        spread = task_spread_ppb(matrix, quality, miners, floor, reference=reference)
        if spread_rule:
            distance = ranked_distances_ppb(matrix, quality, miners, floor, reference=reference)
        else:
            distance = reported_distances_ppb(matrix, quality, miners, floor, dmax, cap, factor, reference=reference)
    reports = [
        {
            "miner": m,
            "poi_distance_ppb": distance[i],
            "quality_ppb": scores[i].total_ppb,
            "output_tokens": count_tokens(texts[i]),
            "criteria": dict(scores[i].criteria),
        }
        for i, m in enumerate(miners)
    ]
    return Evaluation(reports, spread)
