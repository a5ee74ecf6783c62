"""A small market on the pure Chain: a model, miners, validators, a user with a session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cor_incentives.core.tasks import commitment
from support.chain import Chain, addr

MODEL = "smollm2-135m"
COR = 10**18


def h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def market(n_miners: int = 4, n_validators: int = 3, params: dict | None = None, deposit: int = 100 * COR, beacon: bool = False) -> Chain:
    """With ``beacon``, the genesis commits to a beacon chain: tasks get their miners and validators at the next tick."""
    names = [f"m{i}" for i in range(n_miners)] + [f"v{i}" for i in range(n_validators)] + ["user", "dev", "router"]
    c = Chain(wallets={n: 1_000_000 * COR for n in names}, params={"redundancy": min(3, n_miners), **(params or {})}, beacon=4096 if beacon else None)
    c.as_(
        "dev",
        "model.register",
        {
            "id": MODEL,
            "parameter_count": 135_000_000,
            "quantization": "q8_0",
            "context_length": 2048,
            "license": "apache-2.0",
            "content_hash": h("weights"),
        },
    )
    for i in range(n_miners):
        c.as_(f"m{i}", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [MODEL]})
    for i in range(n_validators):
        c.as_(f"v{i}", "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    c.as_("router", "node.register", {"role": "router", "self_bond": str(1000 * COR)})
    c.as_("user", "session.open", {"deposit": str(deposit)})
    return c


def submit(c: Chain, prompt: str = "What is the capital of France?", max_out: int = 64, **extra) -> int:
    tid = c.state.next_id
    c.as_(
        "user",
        "task.submit",
        {
            "session": extra.pop("session", 1),
            "model": MODEL,
            "prompt_hash": h(prompt),
            "prompt_bytes": len(prompt.encode()),
            "input_tokens": 12,
            "max_output_tokens": max_out,
            **extra,
        },
    )
    return tid


def network(c: Chain, prompt: str = "Name a prime number.", max_out: int = 64, input_tokens: int = 12) -> int:
    """An oracle-issued network task on the market's model; returns its id."""
    tid = c.state.next_id
    c.oracle(
        "task.network",
        {"model": MODEL, "prompt_hash": h(prompt), "prompt_bytes": len(prompt.encode()), "input_tokens": input_tokens, "max_output_tokens": max_out},
    )
    return tid


def commit_reveal(c: Chain, tid: int, outputs: dict[str, str], tokens: int = 20, wrong_reveal: set[str] = frozenset()) -> None:
    """Precommit then reveal for every assigned miner named in ``outputs`` (by address)."""
    for miner, text in outputs.items():
        c.submit(miner, "task.precommit", {"task": tid, "commit": commitment(tid, miner, h(text), "salt")})
    for miner, text in outputs.items():
        shown = h(text + " (changed)") if miner in wrong_reveal else h(text)
        c.submit(miner, "task.reveal", {"task": tid, "output_hash": shown, "salt": "salt", "output_tokens": tokens})


def validate_all(c: Chain, tid: int, judge: Callable[[str, str], tuple[int, int]]) -> None:
    """Every assigned validator reports judge(validator, miner) -> (distance_ppb, quality_ppb)."""
    task = c.state.tasks[tid]
    miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]
    for v in list(task.validators):
        if c.state.tasks[tid].state != "COMMITTED":
            break
        c.submit(
            v,
            "task.validate",
            {"task": tid, "reports": [{"miner": m, "poi_distance_ppb": judge(v, m)[0], "quality_ppb": judge(v, m)[1]} for m in miners]},
        )


__all__ = ["market", "submit", "network", "commit_reveal", "validate_all", "addr", "h", "MODEL", "COR"]
