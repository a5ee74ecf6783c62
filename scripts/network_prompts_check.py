"""Do honest miners stay in consensus on composed network prompts, and do replays fall out? (rule 9)

Through the real models: SmolLM2-135M (llama.cpp, sampling at --temperature with a seed per miner) answers,
the validator's own evaluation (``nodes.validator.evaluate_outputs``: MiniLM distances to the quality-ranked
medoid, the rule+embedding quality scorer, and the model checks with SmolLM2 as the reader, as the devnet's
validators run them) judges, and the core's consensus rule at the default parameters
(distance <= poi_max_distance_ppb and quality >= consensus_min_quality_ppb) decides.

For each of --prompts prompts the rule composes from the bundled set (``compose_prompt``, 2 parts A, B):
    honest    3 miners answer the composed prompt (own seeds)
    replays   what a copier could reveal without running the model on this prompt:
              part     an honest answer to A alone (what rules 1-8 published: the oracle asked single prompts)
              shared   an honest answer to an earlier composition (A, C) sharing the first part
              swapped  an honest answer to (B, A): the same parts in the other order
Tasks: the 3 honest outputs together, and each replay with every pair of honest outputs (3 miners a task).

    .venv/bin/python scripts/network_prompts_check.py [--prompts 10] [--max-tokens 128] [--json]

Prints one JSON document: per-task rows and the rates.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cor_incentives.ai.bundled import gguf_path  # noqa: E402
from cor_incentives.ai.likelihood import TeacherForcer  # noqa: E402
from cor_incentives.app.prompts import genesis_prompt_set  # noqa: E402
from cor_incentives.core.network_prompts import compose, compose_prompt, parse_prompt_set  # noqa: E402
from cor_incentives.core.params import Params  # noqa: E402
from cor_incentives.nodes.agents.validator import READER_CONTEXT  # noqa: E402
from cor_incentives.nodes.backends import LlamaBackend, Sampling, derive_seed  # noqa: E402
from cor_incentives.nodes.validator import evaluate_outputs  # noqa: E402


def in_consensus(report: dict[str, Any], p: Params) -> bool:
    return bool(report["poi_distance_ppb"] <= p.poi_max_distance_ppb and report["quality_ppb"] >= p.consensus_min_quality_ppb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=128, help="the tasks' max_output_tokens: the composed budget (the parts' sum) capped here")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-model-checks", action="store_true", help="score without the validator's model reader (as a validator without the model)")
    args = ap.parse_args()
    p = Params()
    prompt_set = parse_prompt_set(genesis_prompt_set())
    llm = LlamaBackend(n_threads=1, sampling=Sampling(temperature=args.temperature, seed=args.seed))
    reader = None if args.no_model_checks else TeacherForcer(str(gguf_path()), n_threads=1, n_ctx=READER_CONTEXT)

    def evaluate(prompt: str, outputs: dict[str, str], budget: int) -> list[dict[str, Any]]:
        try:
            return evaluate_outputs(prompt, outputs, budget, reader=reader)
        except ValueError:  # too long for the reader's context: scored without the model checks, as the validator agent does
            return evaluate_outputs(prompt, outputs, budget)

    started = time.monotonic()
    generations = 0

    def answer(text: str, budget: int, *who: object) -> str:
        nonlocal generations
        generations += 1
        return llm.generate(text, min(budget, args.max_tokens), seed=derive_seed("network-prompts-check", args.seed, *who)).text

    rows: list[dict[str, Any]] = []
    honest_in = honest_total = 0
    replay_in: dict[str, int] = {"part": 0, "shared": 0, "swapped": 0}
    replay_total: dict[str, int] = {"part": 0, "shared": 0, "swapped": 0}
    by_id = {x.id: x for x in prompt_set}
    for i in range(args.prompts):
        value = "0x" + hashlib.sha256(f"network-prompts-check|{args.seed}|{i}".encode()).hexdigest()
        c = compose_prompt(prompt_set, 2, value, i)
        a, b = (by_id[x] for x in c.parts)
        other = next(x for x in prompt_set[(i * 37) % len(prompt_set) :] + prompt_set if x.id not in c.parts)
        honest = {f"h{j}": answer(c.text, c.max_output_tokens, i, "honest", j) for j in range(3)}
        replays = {
            "part": answer(a.prompt, a.max_output_tokens, i, "part"),
            "shared": answer(compose((a, other)), a.max_output_tokens + other.max_output_tokens, i, "shared"),
            "swapped": answer(compose((b, a)), c.max_output_tokens, i, "swapped"),
        }
        budget = min(c.max_output_tokens, args.max_tokens)  # the task's max_output_tokens: what the miners were allowed
        reports = {r["miner"]: r for r in evaluate(c.text, honest, budget)}
        honest_in += sum(in_consensus(r, p) for r in reports.values())
        honest_total += 3
        row: dict[str, Any] = {
            "parts": list(c.parts),
            "honest": {m: [r["poi_distance_ppb"] / 1e9, r["quality_ppb"] / 1e9, in_consensus(r, p)] for m, r in sorted(reports.items())},
        }
        for kind, text in replays.items():
            outcomes = []
            for x, y in combinations(sorted(honest), 2):
                rep = {r["miner"]: r for r in evaluate(c.text, {x: honest[x], y: honest[y], "replay": text}, budget)}
                replay_in[kind] += in_consensus(rep["replay"], p)
                replay_total[kind] += 1
                honest_in += in_consensus(rep[x], p) + in_consensus(rep[y], p)
                honest_total += 2
                outcomes.append([rep["replay"]["poi_distance_ppb"] / 1e9, rep["replay"]["quality_ppb"] / 1e9, in_consensus(rep["replay"], p)])
            row[kind] = outcomes
        rows.append(row)
        print(f"prompt {i + 1}/{args.prompts} ({'+'.join(c.parts)}): {generations} generations, {time.monotonic() - started:.0f} s", file=sys.stderr)
    out = {
        "model": "SmolLM2-135M-Instruct (llama.cpp)",
        "temperature": args.temperature,
        "max_tokens_cap": args.max_tokens,
        "model_checks": reader is not None,
        "prompts": args.prompts,
        "poi_max_distance_ppb": p.poi_max_distance_ppb,
        "consensus_min_quality_ppb": p.consensus_min_quality_ppb,
        "honest_in_consensus": {"in": honest_in, "of": honest_total, "rate": round(honest_in / honest_total, 4)},
        "replays_out_of_consensus": {k: {"out": n - replay_in[k], "of": n, "rate": round(1 - replay_in[k] / n, 4)} for k, n in replay_total.items()},
        "generations": generations,
        "seconds": round(time.monotonic() - started),
        "rows": rows,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
