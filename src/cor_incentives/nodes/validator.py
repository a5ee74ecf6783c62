"""The validator's evaluation: PoI distances and PoUW quality for a task's revealed outputs.

Runs the real embedding model (all-MiniLM-L6-v2 int8 ONNX) and the default rule+embedding quality
scorer; returns the ``reports`` body of a ``task.validate`` command (integers in ppb).
"""

from __future__ import annotations

from typing import Any

from ..ai.embedding import get_embedder
from ..ai.poi import pairwise_distances_ppb, ranked_distances_ppb
from ..ai.quality import QualityScorer, RuleEmbeddingScorer


def evaluate_outputs(
    prompt: str, outputs: dict[str, str], max_output_tokens: int | None = None, scorer: QualityScorer | None = None
) -> list[dict[str, Any]]:
    """One report per miner: distance to the medoid output and quality score, with sub-scores."""
    miners = sorted(outputs)
    texts = [outputs[m] for m in miners]
    scorer = scorer or RuleEmbeddingScorer()
    if hasattr(scorer, "score_outputs"):
        scores = scorer.score_outputs(prompt, texts, max_output_tokens=max_output_tokens)  # type: ignore[attr-defined]
    else:
        scores = [scorer.score(prompt, t, max_output_tokens=max_output_tokens) for t in texts]
    # the medoid breaks ties by index: the best-scored outputs rank first, so that with two outputs
    # (or any tie) a garbage answer never becomes the reference the others are measured against
    distance = [0] * len(texts)
    if len(texts) > 1:
        matrix = pairwise_distances_ppb(get_embedder().embed(texts))
        distance = ranked_distances_ppb(matrix, [s.total_ppb for s in scores], miners)
    return [
        {"miner": m, "poi_distance_ppb": distance[i], "quality_ppb": scores[i].total_ppb, "criteria": dict(scores[i].criteria)}
        for i, m in enumerate(miners)
    ]
