"""Bench: the int8 compute path of the PoI embedder against the exact fp32 path, on the calibration set.

    python bench/embed_int8.py [--prompts 300] [--block 128] [--rounds 2]

Takes the outputs of the first ``--prompts`` prompts of ``data/poi-calibration`` (honest samples,
every cheat class and the variants: what PoI is calibrated on), and embeds every distinct one, in the
same run and alternating, with:

* ``fair``: the same int8-weight ONNX file as it is (fp32 products), length-sorted batches of 32,
  no cache: what sentence-transformers' ``encode`` does (the ``poi_embed`` row's baseline);
* ``fp32``: the validators' embedder as shipped (``Embedder()``: the file's graph, token-budget runs);
* ``int8``: ``Embedder(compute="int8")`` (``ai.embed_graph``: integer products, each text alone).

Prints one JSON object: outputs/s (CPU seconds of this process) and ratios against ``fair``, and how
far the int8 path moves PoI: for every pair of outputs of a prompt, |distance_ppb(int8) −
distance_ppb(fp32)| (max, 99th percentile, median) and the largest element difference of the vectors.
fp32 against ``fair`` is checked to be bit-identical (the exact path's promise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    from cor_incentives.ai import embed_graph, embedding, poi
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(ROOT / "src"))
    from cor_incentives.ai import embed_graph, embedding, poi

DATA = ROOT / "data" / "poi-calibration"


def calibration_outputs(prompts: int) -> dict[str, list[str]]:
    """Distinct output texts per prompt id, for the first ``prompts`` prompts (file order)."""
    by: dict[str, list[str]] = defaultdict(list)
    order: list[str] = []
    for name in ("outputs.jsonl", "variants.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            pid = row["prompt_id"]
            if pid not in by:
                order.append(pid)
            if row["text"] not in by[pid]:
                by[pid].append(row["text"])
    return {pid: by[pid] for pid in sorted(order)[:prompts]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=300, help="calibration prompts to take (default all 300)")
    parser.add_argument("--block", type=int, default=embed_graph.INT8_BLOCK_SIZE, help="activation block (MatMulNBits block_size)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if not 1 <= args.prompts <= 300 or not 1 <= args.rounds <= 10:
        parser.error("--prompts must be in [1, 300], --rounds in [1, 10]")

    by_prompt = calibration_outputs(args.prompts)
    texts = list(dict.fromkeys(t for ts in by_prompt.values() for t in ts))
    fair = embedding.Embedder(batch_size=32, batch_tokens=None, cache_size=0, compute=embedding.COMPUTE_FP32)
    fp32 = embedding.Embedder(cache_size=0, compute=embedding.COMPUTE_FP32)
    int8 = embedding.Embedder(cache_size=0, compute=embedding.COMPUTE_INT8)
    if args.block != embed_graph.INT8_BLOCK_SIZE:
        import onnxruntime as ort

        model = embed_graph.int8_model_bytes(int8.files.model, args.block)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.use_deterministic_compute = True
        options.log_severity_level = 3
        int8._session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    embedders = {"fair": fair, "fp32": fp32, "int8": int8}
    longest = max(texts, key=len)
    for e in embedders.values():
        e.embed([longest] * 8)
    rates: dict[str, list[float]] = {k: [] for k in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):  # alternating: every path sees the same load
        for name, e in embedders.items():
            start = time.process_time()
            vectors[name] = e.embed(texts)
            rates[name].append(len(texts) / (time.process_time() - start))
    index = {t: i for i, t in enumerate(texts)}
    drift: list[int] = []
    for outputs in by_prompt.values():
        rows = [index[t] for t in outputs]
        exact = np.array(poi.pairwise_distances_ppb(vectors["fp32"][rows]))
        quick = np.array(poi.pairwise_distances_ppb(vectors["int8"][rows]))
        upper = np.triu_indices(len(rows), 1)
        drift.extend(np.abs(quick - exact)[upper].tolist())
    d = np.array(drift)
    best = {k: max(v) for k, v in rates.items()}
    report = {
        "bench": "embed_int8",
        "texts": len(texts),
        "prompts": len(by_prompt),
        "pairs": len(drift),
        "block_size": args.block,
        "outputs_per_s": {k: round(v, 2) for k, v in best.items()},
        "ratio_to_fair": {k: round(v / best["fair"], 3) for k, v in best.items()},
        "int8_over_fp32": round(best["int8"] / best["fp32"], 3),
        "distance_drift_ppb": {"max": int(d.max()), "p99": int(np.percentile(d, 99)), "median": int(np.median(d))},
        "stated_tolerance_ppb": embed_graph.INT8_MAX_DISTANCE_DRIFT_PPB,
        "within_tolerance": bool(d.max() <= embed_graph.INT8_MAX_DISTANCE_DRIFT_PPB),
        "max_abs_element_difference": float(np.abs(vectors["int8"] - vectors["fp32"]).max()),
        "fp32_bit_identical_to_fair": bool(vectors["fp32"].tobytes() == vectors["fair"].tobytes()),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
