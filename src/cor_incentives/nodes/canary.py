"""The devnet oracle's planted outputs: a fluent answer to another prompt (docs/devnet.md, *Canaries*).

A canary catches a validator that reports without evaluating only if nothing but evaluating tells the planted
output from an honest one. Random letters fail that: a lexical check spots them without the model
(``ai.quality.word_salad``; the simulator's ``canary_spotter``, ``cor simulate --scenario canary_spotting``).
So the oracle plants what the miners' own backend answers to a *different* prompt of the set, at the task's
output budget and the miners' temperature: the same model, style, vocabulary and length distribution as the
honest answers, and wrong for the task.

The other prompt (``canary_source``)
    as many base prompts as the task's prompt is composed of (one when the oracle names a single prompt), none of
    the task's parts and none of their *kinds* (code, list, summary, ...; any other prompt when the set has too few),
    composed as the core composes a network prompt (``core.network_prompts.compose``): an answer to a prompt of
    another kind lies farther from the honest answers in the embedding than one of the same kind (docs/devnet.md:
    the measured distances), so honest validators put it out by distance, and by the model checks besides.
Deterministic
    the source and the sampling seed come from the devnet's seed and the tick the task is issued at
    (``random.Random`` / ``derive_seed``), so a devnet run with the llama backend plants the same outputs again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..core.network_prompts import compose
from ..core.records import NetworkPrompt
from .backends import Backend, derive_seed

EMPTY_RETRIES = 3  # another source when the backend answers nothing (an empty text cannot be a planted output)


def canary_source(
    prompts: Sequence[dict[str, Any]], task_parts: Sequence[str], seed: str, tick: int, attempt: int = 0
) -> tuple[tuple[str, ...], str]:
    """(the parts' ids, the prompt text) the planted output of the task issued at ``tick`` answers (``attempt``: the
    draw after ``attempt`` empty answers).

    ``prompts``: the devnet's prompt set (``app.prompts.load_prompt_set``: id, prompt, max_output_tokens, kind);
    ``task_parts``: the ids of the task's base prompts (its composed parts, or the one prompt named)."""
    k = max(1, len(task_parts))
    taken = set(task_parts)
    kinds = {p.get("kind") for p in prompts if p["id"] in taken}
    others = [p for p in prompts if p["id"] not in taken]
    unlike = [p for p in others if p.get("kind") not in kinds]
    pool = unlike if len(unlike) >= k else others
    if len(pool) < k:
        raise ValueError(f"the prompt set has {len(pool)} prompts besides the task's {k}: too few for a canary")
    chosen = random.Random(f"{seed}|canary-source|{tick}|{attempt}").sample(pool, k)
    parts = tuple(NetworkPrompt(p["id"], p["prompt"], p["max_output_tokens"]) for p in chosen)
    return tuple(p.id for p in parts), compose(parts)


def planted_output(
    backend: Backend, prompts: Sequence[dict[str, Any]], task_parts: Sequence[str], max_output_tokens: int, seed: str, tick: int
) -> tuple[tuple[str, ...], str]:
    """(the source's parts, the planted output) of the task issued at ``tick``: ``backend``'s answer to
    ``canary_source``'s prompt within the task's ``max_output_tokens``, sampled with a seed of the devnet's (another
    source when it answers nothing)."""
    for attempt in range(EMPTY_RETRIES):
        parts, text = canary_source(prompts, task_parts, seed, tick, attempt)
        out = backend.generate(text, max_output_tokens, seed=derive_seed("devnet-canary", seed, tick, attempt)).text.strip()
        if out:
            return parts, out
    raise RuntimeError(f"the backend answered nothing to {EMPTY_RETRIES} canary prompts (tick {tick})")
