"""A devnet in a real database with real keys: genesis, the bundled model, nodes, a user session."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID, bundled_model_body
from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.genesis import DEVNET, check_genesis_spec, genesis_body
from cor_incentives.app.keys import Keystore
from cor_incentives.core.tasks import commitment
from support.reports import report_rounds

COR = 10**18


def make_network(
    url: str, keys_path: Path, n_miners: int = 4, n_validators: int = 3, params: dict | None = None, seed: str = "net", beacon: bool = True
) -> tuple[Engine, dict]:
    """``beacon=False``: a genesis without a beacon (the first rules: draws at once, seeded by the log head)."""
    ks = Keystore(keys_path)
    names = ["oracle", "faucet", "modeldev", "alice", "bob", "carol", "dave"]
    keys = {n: ks.new(n, seed=seed) for n in names}
    nodes = [f"miner{i}" for i in range(n_miners)] + [f"validator{i}" for i in range(n_validators)] + ["router0"]
    keys.update({n: ks.new(n, seed=seed) for n in nodes})
    spec = check_genesis_spec({**DEVNET, "params": params or {}})
    eng = Engine.open(url, check_conservation=True)
    body = genesis_body(spec, keys["oracle"].address, {n: k.address for n, k in keys.items() if n in names})
    eng.submit_as(keys["oracle"], "genesis", body if beacon else {**body, "beacon": None})
    eng.submit_as(keys["modeldev"], "model.register", bundled_model_body())
    for n in nodes:
        eng.submit_as(keys["faucet"], "transfer", {"to": keys[n].address, "amount": str(20_000 * COR)})
        role = n.rstrip("0123456789")
        bond = {"miner": 2_000, "validator": 5_000, "router": 1_000}[role] * COR
        eng.submit_as(keys[n], "node.register", {"role": role, "self_bond": str(bond), "models": [BUNDLED_MODEL_ID] if role == "miner" else []})
    eng.submit_as(keys["alice"], "session.open", {"deposit": str(50 * COR)})
    return eng, keys


def sha(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def by_address(keys: dict) -> dict:
    return {k.address: k for k in keys.values()}


def draw(eng: Engine, keys: dict) -> None:
    """One oracle tick: its beacon value draws the miners of new tasks and the validators of revealed ones."""
    if eng.state.beacon is not None:
        eng.submit_as(keys["oracle"], "tick", {"ticks": 1})


def run_commit_reveal(eng: Engine, keys: dict, tid: int, outputs: dict[str, str], tokens: dict[str, int] | None = None) -> None:
    """Each assigned miner (by address) precommits then reveals its output, signing with its own key; then the tick that
    draws the validators. A miner claims no token count (the validators count), except before the measured-token rules:
    ``tokens`` or ~bytes/4."""
    addr_key = by_address(keys)
    for m, text in outputs.items():
        eng.submit_as(addr_key[m], "task.precommit", {"task": tid, "commit": commitment(tid, m, sha(text), "pepper")})
    for m, text in outputs.items():
        eng.store.put_blob(text.encode())
        eng.submit_as(
            addr_key[m],
            "task.reveal",
            {"task": tid, "output_hash": sha(text), "salt": "pepper"}
            | ({} if get_task(eng.state, tid).measured_tokens else {"output_tokens": (tokens or {}).get(m, max(1, len(text) // 4))}),
        )
    if get_task(eng.state, tid).state == "COMMITTED" and not get_task(eng.state, tid).validators:
        draw(eng, keys)


def run_reports(eng: Engine, keys: dict, tid: int, reports_for, input_tokens=None, output_tokens: int = 9, spread=None) -> None:
    """Every drawn validator (by address) commits to, then reveals, ``reports_for(validator)``, each round;
    an escalation's validators are drawn by the next tick (with a beacon). On the measured-token rules each
    validator also counts: ``input_tokens(validator)`` of the prompt (default: the task's bound) and, where a
    report names none, ``output_tokens`` of each output."""
    addr_key = by_address(keys)
    counting = get_task(eng.state, tid).measured_tokens
    prompt = input_tokens or (lambda v: get_task(eng.state, tid).input_tokens)

    def counted(v: str):
        reports = reports_for(v)
        if reports is None or not counting:
            return reports
        return [{"output_tokens": output_tokens} | r for r in reports]

    while True:
        report_rounds(
            lambda v, kind, body: eng.submit_as(addr_key[v], kind, body),
            lambda: get_task(eng.state, tid),
            counted,
            first_rules=eng.state.beacon is None,
            input_tokens=prompt if counting else None,
            spread=spread,
        )
        task = get_task(eng.state, tid)
        if task.state != "COMMITTED" or task.drawn_in(task.round) or eng.state.beacon is None:
            return
        draw(eng, keys)
