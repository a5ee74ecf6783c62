"""What a node decides to do, honest or not: the behaviours the devnet and tests pit against the engine.

Miner strategies (what it precommits and reveals):
    honest    runs the backend and reveals exactly what it committed
    lazy      does not run the model: a short generic answer
    garbage   random characters
    copier    cannot know others' outputs before the precommit deadline (commit-reveal), so it
              commits to a guess and at reveal time reveals a copy of another miner's revealed
              output: its reveal no longer matches its commit (slashed as commit_mismatch). When no
              other miner reveals, it reveals its own guess (a lazy answer).
    mismatch  runs the backend and commits to its output, then reveals a different output (slashed
              as commit_mismatch and jailed)
    offline   never answers (misses every deadline)
Validator strategies:
    honest    embeds the outputs and scores them (PoI + PoUW, the real models)
    copier    does not evaluate: reports distance 0 and a fixed quality for everyone
    offline   never reports
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

MINER_STRATEGIES = ("honest", "lazy", "garbage", "copier", "mismatch", "offline")
VALIDATOR_STRATEGIES = ("honest", "copier", "offline")
LAZY_ANSWER = "I am not sure, please check online."
MISMATCH_ANSWER = "This is not the output I committed to."
# strategies that do not run the miner's backend at all (they cost a cheater nothing)
FREE_MINER_STRATEGIES = ("lazy", "garbage", "copier", "offline")


def garbage_text(task_id: int, miner: str) -> str:
    """Deterministic random letters for a garbage miner."""
    rng = random.Random(hashlib.sha256(f"{task_id}|{miner}".encode()).digest())
    return " ".join("".join(rng.choice("qwxzkvjplmbnrt") for _ in range(rng.randint(3, 9))) for _ in range(rng.randint(6, 14)))


def copier_reports(miners: list[str], max_output_tokens: int) -> list[dict[str, int]]:
    """A validator that does not evaluate: the same numbers for every miner (and no count: the most allowed)."""
    return [{"miner": m, "poi_distance_ppb": 0, "quality_ppb": 800_000_000, "output_tokens": max_output_tokens} for m in sorted(miners)]


def copy_source(task: dict[str, Any], me: str) -> dict[str, Any] | None:
    """The assignment a copier miner copies: the first other miner with a matching reveal (task view)."""
    for a in task["miners"]:
        if a["miner"] != me and a["revealed"] and not a["mismatch"] and a["output_hash"]:
            return a
    return None


def copier_should_wait(task: dict[str, Any], me: str) -> bool:
    """A copier waits while another precommitted miner has not revealed yet (there may be something to copy)."""
    return copy_source(task, me) is None and any(a["miner"] != me and a["precommitted"] and not a["revealed"] for a in task["miners"])


def check_strategy(role: str, strategy: str) -> str:
    allowed = MINER_STRATEGIES if role == "miner" else VALIDATOR_STRATEGIES if role == "validator" else ("honest",)
    if strategy not in allowed:
        raise ValueError(f"strategy {strategy!r} is not one of {', '.join(allowed)} for a {role}")
    return strategy
