"""Do honest validators catch the devnet oracle's planted outputs, and can a lexical check spot them? (docs/devnet.md)

The devnet's oracle plants a fluent answer to another prompt (``nodes.canary``). This measures it through the real
models, as a devnet task sees it: for each of --prompts prompts composed by the core's rule from the bundled set
(``compose_prompt``, the default ``network_prompt_parts``), at the devnet's output budget (the parts' sum capped at
--max-tokens, the devnet's default 48):

    honest     3 miners answer with SmolLM2 at the devnet's temperature, each with its devnet sampling seed
    planted    unlike: what the oracle plants (``nodes.canary.planted_output``: parts of other kinds)
               alike:  the same, each part replaced by another prompt of the *same* kind (the baseline it avoids;
                       judged without the model checks only, to save the reads)

Each planted output is judged in a task with the 3 honest ones by the validator as shipped (``evaluate_task`` on the
spread rule), with the model checks (SmolLM2 as the reader: the devnet's validators on the llama backend) and
without (embedding and rules only: the devnet's validators on the openai backend). The task's threshold is the core's
(``core.spread.spread_threshold_ppb`` of the validators' spread); an honest validator *fails the canary* when it
reports the planted output within the threshold and at or above the quality floor. The lexical tell is
``ai.quality.word_salad``; the length tell is the simulator spotter's (off the task's median length by > 50 %).

    .venv/bin/python scripts/devnet_canary_check.py [--prompts 32] [--out data/devnet-canary-check.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cor_incentives.ai.bundled import gguf_path  # noqa: E402
from cor_incentives.ai.likelihood import TeacherForcer  # noqa: E402
from cor_incentives.ai.quality import word_salad  # noqa: E402
from cor_incentives.ai.tokens import count_tokens  # noqa: E402
from cor_incentives.app.prompts import genesis_prompt_set, load_prompt_set  # noqa: E402
from cor_incentives.core.network_prompts import compose, compose_prompt, parse_prompt_set  # noqa: E402
from cor_incentives.core.params import Params  # noqa: E402
from cor_incentives.core.records import NetworkPrompt  # noqa: E402
from cor_incentives.core.spread import spread_threshold_ppb  # noqa: E402
from cor_incentives.nodes.agents.validator import READER_CONTEXT  # noqa: E402
from cor_incentives.nodes.backends import Backend, LlamaBackend, Sampling, derive_seed  # noqa: E402
from cor_incentives.nodes.canary import planted_output  # noqa: E402
from cor_incentives.nodes.devnet_config import DEFAULT_MINER_TEMPERATURE, DevnetConfig  # noqa: E402
from cor_incentives.nodes.validator import evaluate_task  # noqa: E402

MINERS = ("miner-1", "miner-2", "miner-3")
PLANTED = "planted"
LENGTH_TOLERANCE = 0.5  # the simulator's canary_spotter, tell "length"


def alike_output(backend: Backend, prompts: tuple[dict[str, Any], ...], parts: tuple[str, ...], budget: int, seed: str, tick: int) -> str:
    """The baseline: each part replaced by another prompt of the same kind, answered like ``planted_output``."""
    rng = random.Random(f"{seed}|canary-alike|{tick}")
    by_id = {p["id"]: p for p in prompts}
    chosen = [rng.choice([q for q in prompts if q["kind"] == by_id[x]["kind"] and q["id"] not in parts]) for x in parts]
    text = compose(tuple(NetworkPrompt(p["id"], p["prompt"], p["max_output_tokens"]) for p in chosen))
    return backend.generate(text, budget, seed=derive_seed("devnet-canary", seed, tick, 0)).text.strip() or "(no output)"


def judge(prompt: str, honest: dict[str, str], planted: str, budget: int, reader: Any, p: Params) -> dict[str, Any]:
    """The planted output in a task with the honest ones, by an honest validator (with ``reader``: the model checks)."""
    ev = evaluate_task(prompt, {**honest, PLANTED: planted}, budget, reader=reader, spread_rule=True)
    by = {r["miner"]: r for r in ev.reports}
    threshold = spread_threshold_ppb(p.poi_max_distance_ppb, p.poi_spread_cap_ppb, p.poi_spread_factor_bps, ev.spread_ppb)
    r = by[PLANTED]
    lengths = {m: count_tokens(t) for m, t in {**honest, PLANTED: planted}.items()}
    mid = statistics.median_low(lengths.values())
    return {
        "distance_ppb": r["poi_distance_ppb"],
        "quality_ppb": r["quality_ppb"],
        "threshold_ppb": threshold,
        "beyond_threshold": r["poi_distance_ppb"] > threshold,
        "under_floor": r["quality_ppb"] < p.consensus_min_quality_ppb,
        "fails_canary": r["poi_distance_ppb"] <= threshold and r["quality_ppb"] >= p.consensus_min_quality_ppb,
        "honest_in": sum(1 for m in honest if by[m]["poi_distance_ppb"] <= threshold and by[m]["quality_ppb"] >= p.consensus_min_quality_ppb),
        "length_tell": abs(lengths[PLANTED] - mid) > LENGTH_TOLERANCE * mid,
        "tokens": lengths[PLANTED],
    }


def rates(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    js = [r[key] for r in rows]
    n = len(js)
    d = sorted(j["distance_ppb"] / 1e9 for j in js)
    return {
        "tasks": n,
        "beyond_threshold": sum(j["beyond_threshold"] for j in js),
        "under_floor": sum(j["under_floor"] for j in js),
        "honest_validator_fails_canary": sum(j["fails_canary"] for j in js),
        "length_tell": sum(j["length_tell"] for j in js),
        "honest_in": f"{sum(j['honest_in'] for j in js)}/{3 * n}",
        "distance_min_median_max": [round(d[0], 3), round(statistics.median(d), 3), round(d[-1], 3)],
        "margin_min": round(min((j["distance_ppb"] - j["threshold_ppb"]) / 1e9 for j in js), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=DevnetConfig().max_output_tokens)
    ap.add_argument("--temperature", type=float, default=DEFAULT_MINER_TEMPERATURE)
    ap.add_argument("--seed", default=DevnetConfig().seed)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the JSON document here (default: print it)")
    ap.add_argument("--rows", default=None, help="append each task's row here as it is measured (JSON lines); rows already there are kept")
    a = ap.parse_args()
    p = Params()
    prompts = load_prompt_set()
    pset = parse_prompt_set(genesis_prompt_set(prompts))
    cfg = DevnetConfig(seed=a.seed)
    llama = LlamaBackend(n_threads=a.threads, sampling=Sampling(temperature=a.temperature))
    reader = TeacherForcer(gguf_path(), n_threads=a.threads, n_ctx=READER_CONTEXT)
    rows: list[dict[str, Any]] = []
    if a.rows and Path(a.rows).is_file():
        rows = [json.loads(line) for line in Path(a.rows).read_text().splitlines() if line.strip()][: a.prompts]
    t0 = time.monotonic()
    for i in range(len(rows), a.prompts):
        value = "0x" + hashlib.sha256(f"devnet-canary-check|{i}".encode()).hexdigest()
        c = compose_prompt(pset, p.network_prompt_parts, value, i)
        budget, tick, task = min(c.max_output_tokens, a.max_tokens), 3 * (i + 1), i + 1
        honest = {m: llama.generate(c.text, budget, seed=derive_seed(cfg.sampling_seed(m), task)).text or "(no output)" for m in MINERS}
        source, unlike = planted_output(llama, prompts, c.parts, budget, a.seed, tick)
        alike = alike_output(llama, prompts, c.parts, budget, a.seed, tick)
        row = {
            "prompt": "+".join(c.parts),
            "source": "+".join(source),
            "budget": budget,
            "planted": unlike,
            "word_salad": {"planted": word_salad(unlike), "alike": word_salad(alike), "honest": sum(word_salad(t) for t in honest.values())},
            "unlike_model": judge(c.text, honest, unlike, budget, reader, p),
            "unlike_no_model": judge(c.text, honest, unlike, budget, None, p),
            "alike_no_model": judge(c.text, honest, alike, budget, None, p),
        }
        rows.append(row)
        if a.rows:
            with open(a.rows, "a") as f:
                f.write(json.dumps(row, sort_keys=True) + "\n")
        print(f"{i + 1}/{a.prompts} {time.monotonic() - t0:.0f}s {row['prompt']} <- {row['source']}", file=sys.stderr)
    summary = {k: rates(rows, k) for k in ("unlike_model", "unlike_no_model", "alike_no_model")}
    summary["word_salad"] = {
        "planted": sum(r["word_salad"]["planted"] for r in rows),
        "alike": sum(r["word_salad"]["alike"] for r in rows),
        "honest": f"{sum(r['word_salad']['honest'] for r in rows)}/{3 * len(rows)}",
    }
    doc = {
        "settings": {"prompts": a.prompts, "max_tokens": a.max_tokens, "temperature": a.temperature, "seed": a.seed, "miners": len(MINERS)},
        "summary": summary,
        "rows": rows,
    }
    text = json.dumps(doc, indent=1, sort_keys=True)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
