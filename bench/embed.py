"""Bench: outputs/s of the int8 ONNX embedder (all-MiniLM-L6-v2) that validators use for PoI and PoUW.

    python bench/embed.py [--n 512] [--batch 32] [--threads 1] [--seed 0]

Builds ``--n`` realistic miner outputs (1–8 sentences drawn, seeded, from answers about the kinds of
prompts the network serves: 10–200 words, a few code and JSON answers among them), then embeds them
all with the batched embedder (length-sorted, at most ``--batch`` texts and 512 padded tokens per run; its
vector cache off, so every text is encoded) and, in the same run on the same
texts, with a baseline:

* sentence-transformers' all-MiniLM-L6-v2 (fp32, PyTorch) when it is importable — it is not a
  dependency, and this bench never installs it;
* otherwise the same ONNX session with batch size 1 (one text per run, never padded), so the
  speed-up reported is the speed-up of batching.

It also checks that both runs of the ONNX embedder give bit-identical vectors. Prints one JSON
object. The whole run stays well under a minute on 2 cores at the defaults.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

try:
    from cor_incentives.ai import embedding
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cor_incentives.ai import embedding

SENTENCES = [
    "The capital of Australia is Canberra, a planned city chosen as a compromise between Sydney and Melbourne.",
    "Photosynthesis lets plants turn light, water and carbon dioxide into glucose, releasing oxygen.",
    "TCP guarantees ordered, reliable delivery with acknowledgements and retransmissions.",
    "UDP sends independent datagrams without a connection, which keeps latency low.",
    "Proof of stake chooses validators in proportion to the tokens they lock as collateral.",
    "Misbehaving validators can lose part of their stake through slashing.",
    "A balanced diet includes vegetables, whole grains, lean proteins and healthy fats.",
    "Regular exercise improves cardiovascular health, mood and sleep quality.",
    "The French Revolution began in 1789 amid a fiscal crisis and widespread hunger.",
    "Enlightenment ideas about liberty and equality inspired the Third Estate.",
    "To reverse a list in Python you can use slicing with a step of minus one.",
    "Gradient descent updates the parameters in the direction that reduces the loss.",
    "A transformer encoder uses self-attention to mix information across all tokens.",
    "Mean pooling averages the token vectors, weighted by the attention mask.",
    "Keep a consistent sleep schedule and avoid screens for an hour before bed.",
    "Inflation measures how quickly the general level of prices rises over time.",
    "Central banks raise interest rates to cool demand and bring inflation down.",
    "The mitochondria produce most of the chemical energy that powers a cell.",
    "Water boils at 100 degrees Celsius at sea level, and at lower temperatures at altitude.",
    "Shakespeare wrote Hamlet around 1600; it is one of his longest plays.",
    "A hash function maps data of any size to a fixed-size digest.",
    "Merkle trees let a client verify that a leaf belongs to a set with a short proof.",
    "In summary, both approaches work, but the second scales better for large inputs.",
    "Remember to validate user input and handle errors with clear messages.",
]
CODE_ANSWERS = [
    "```python\ndef is_palindrome(s: str) -> bool:\n    s = ''.join(s.split()).lower()\n    return s == s[::-1]\n```",
    "```sql\nSELECT country, COUNT(*) AS users FROM users GROUP BY country ORDER BY users DESC;\n```",
    '{"name": "Tokyo", "country": "Japan", "population": 14000000}',
]


def make_texts(n: int, seed: int) -> list[str]:
    """``n`` realistic outputs: seeded mixes of 1–8 sentences, with some code and JSON answers."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        if i % 10 == 9:
            texts.append(rng.choice(CODE_ANSWERS))
        else:
            texts.append(" ".join(rng.sample(SENTENCES, rng.randint(1, 8))))
    return texts


QUESTIONS = [
    "What is the capital of Australia, and why was it chosen?",
    "Explain how photosynthesis works in two short paragraphs.",
    "Compare TCP and UDP for a real-time game.",
    "How does proof of stake choose validators, and what is slashing?",
    "Give me three tips for a healthier diet and better sleep.",
    "Why did the French Revolution begin?",
    "Write a Python function that checks whether a string is a palindrome.",
    "What does gradient descent do when training a model?",
    "Explain inflation and how central banks respond to it.",
    "What is a Merkle tree used for?",
]


def make_tasks(n: int, seed: int, miners: int = 3) -> list[tuple[str, list[str]]]:
    """``n`` validation tasks: a prompt and ``miners`` outputs each, every text distinct across the set
    (so no speed comes from texts repeated between tasks: only a task's own prompt and outputs)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    tasks = []
    for i in range(n):
        prompt = f"{rng.choice(QUESTIONS)} Answer for reader {i}."
        outputs: list[str] = []
        while len(outputs) < miners:
            text = " ".join(rng.sample(SENTENCES, rng.randint(1, 8)))
            if text not in seen:
                seen.add(text)
                outputs.append(text)
        tasks.append((prompt, outputs))
    return tasks


def timed(fn):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def sentence_transformers_baseline(texts: list[str]) -> tuple[str, float] | None:
    """fp32 sentence-transformers outputs/s when the package and the model are already here."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", local_files_only=True)
    except Exception:  # not cached locally: no downloads here
        return None
    model.encode(texts[:4])
    _, seconds = timed(lambda: model.encode(texts, batch_size=32))
    return "sentence-transformers-fp32", len(texts) / seconds


def main(argv: list[str] | None = None) -> dict:
    """Run the bench and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=512, help="number of texts (default 512)")
    parser.add_argument("--batch", type=int, default=embedding.DEFAULT_BATCH_SIZE, help="batch size")
    parser.add_argument("--threads", type=int, default=embedding.DEFAULT_INTRA_OP_THREADS, help="intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 100_000:
        parser.error("--n must be in [1, 100000]")

    texts = make_texts(args.n, args.seed)
    (embedder, load_seconds) = timed(lambda: embedding.Embedder(batch_size=args.batch, intra_op_threads=args.threads, cache_size=0))
    tokens = [embedder.count_tokens(t) for t in texts]
    # Warm-up: the largest shapes first, so onnxruntime's memory arena is grown before timing.
    longest = texts[int(np.argmax(tokens))]
    embedder.embed([longest] * min(args.batch, args.n))
    embedder.embed([longest], batch_size=1)

    batched, batched_seconds = timed(lambda: embedder.embed(texts))
    single, single_seconds = timed(lambda: embedder.embed(texts, batch_size=1))
    batched_rate = args.n / batched_seconds
    single_rate = args.n / single_seconds
    st = sentence_transformers_baseline(texts)
    baseline_name, baseline_rate = st if st else ("onnx-int8-batch-1", single_rate)

    report = {
        "bench": "embed",
        "model": embedding.MODEL_ID,
        "n": args.n,
        "batch": args.batch,
        "threads": args.threads,
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "max_tokens": int(max(tokens)),
        "load_seconds": round(load_seconds, 3),
        "outputs_per_s": round(batched_rate, 1),
        "baseline": baseline_name,
        "baseline_outputs_per_s": round(baseline_rate, 1),
        "speedup": round(batched_rate / baseline_rate, 2),
        "onnx_batch_1_outputs_per_s": round(single_rate, 1),
        "bit_identical_batched_vs_single": bool(batched.tobytes() == single.tobytes()),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
