"""Benchmark core.merkle: build a reward tree and every proof, next to the floor (hashing the leaves).

    .venv/bin/python bench/merkle.py [--sizes 10000 100000] [--repeats 3]

Prints one JSON document. Times are the best of ``--repeats`` runs, in seconds. The floor is what
any implementation must pay: one abi.encode and two keccak256 per leaf.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable

from cor_incentives.core.merkle import build_tree, leaf_hash


def reward_leaves(count: int, seed: int) -> list[tuple[str, int, int]]:
    """``count`` distinct (address, epoch, amount) leaves from a seed."""
    rng = random.Random(seed)
    return [("0x" + rng.randbytes(20).hex(), 42, rng.randrange(0, 10**27)) for _ in range(count)]


def best_seconds(repeats: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeats`` timed runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return round(best, 4)


def bench_size(count: int, repeats: int) -> dict[str, object]:
    leaves = reward_leaves(count, seed=count)
    floor_s = best_seconds(repeats, lambda: [leaf_hash(*leaf) for leaf in leaves])
    build_s = best_seconds(repeats, lambda: build_tree(leaves))
    tree = build_tree(leaves)
    proofs_s = best_seconds(repeats, tree.proofs)
    total_s = best_seconds(repeats, lambda: build_tree(leaves).proofs())
    return {
        "leaves": count,
        "hash_leaves_s": floor_s,
        "build_tree_s": build_s,
        "all_proofs_s": proofs_s,
        "build_tree_and_all_proofs_s": total_s,
        "total_over_floor": round(total_s / floor_s, 2),
        "max_proof_length": max(len(proof) for proof in tree.proofs()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report = {
        "bench": "core.merkle",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeats": args.repeats,
        "results": [bench_size(count, args.repeats) for count in args.sizes],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
