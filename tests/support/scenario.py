"""The seeded backends-equal scenario: one devnet run that touches most of the core.

A devnet from ``make_network`` (5 miners, 3 validators, redundancy 4); tasks settled with scripted
outputs and validator reports, one with a reveal that does not match its commitment; transfers, a
delegation and an undelegation, an equivocation reported with two signed statements, two ``epoch.close``, a reward claim. Everything is
derived from fixed key seeds, so the log, the state and the epoch roots are the same on every run
and every backend. ``tests/store/test_backends_equal.py`` runs it on SQLite and PostgreSQL;
``tests/store/test_golden_scenario.py`` checks it against ``tests/golden/scenario.json``.
"""

from __future__ import annotations

from typing import Any

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.signing import sign_scoped
from cor_incentives.app.views import proof
from cor_incentives.core.tasks import commitment
from support.network import COR, by_address, draw, make_network, run_commit_reveal, run_reports, sha

PROMPTS = ["What is the capital of France? Answer in one sentence.", "Nenne die Hauptstadt Österreichs — kurz."]
HONEST = ["The capital of France is Paris.", "Paris is the capital of France.", "Paris — la capitale de la France.", "It is Paris."]
GARBAGE = "qwx zzkv plor mnbvc xxqq lkjh"


def scripted_reports(task: Any, garbage: set[str], validator: str, counts: bool = True) -> list[dict[str, Any]]:
    """What a validator would report, without running a model: fixed, distinct integers (token counts unless ``counts``
    is False: the first rules take none)."""
    revealed = sorted(a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch)
    jitter = int(validator[-4:], 16) % 1000
    return [
        {
            "miner": m,
            "poi_distance_ppb": (420_000_000 if m in garbage else 40_000_000 + 7_919 * i) + jitter,
            "quality_ppb": (120_000_000 if m in garbage else 810_000_000 - 3_001 * i) + jitter,
            "criteria": {"relevance": 700_000_000 + i, "integrity": 900_000_000 - jitter},
        }
        | ({"output_tokens": 9 + i} if counts else {})
        for i, m in enumerate(revealed)
    ]


def submit_task(eng: Engine, keys: dict, prompt: str, max_out: int = 48) -> int:
    tid = eng.state.next_id
    eng.store.put_blob(prompt.encode())
    eng.submit_as(
        keys["alice"],
        "task.submit",
        {
            "session": 1,
            "model": BUNDLED_MODEL_ID,
            "prompt_hash": sha(prompt),
            "prompt_bytes": len(prompt.encode()),
            "input_tokens": 14,
            "max_output_tokens": max_out,
            "router": keys["router0"].address,
        },
    )
    draw(eng, keys)  # with a beacon, the next tick draws the miners
    return tid


def validate(eng: Engine, keys: dict, tid: int, garbage: set[str], input_tokens: int = 12) -> None:
    run_reports(
        eng,
        keys,
        tid,
        lambda v: scripted_reports(get_task(eng.state, tid), garbage, v, get_task(eng.state, tid).measured_tokens),
        input_tokens=lambda v: input_tokens,
    )


def settle_honest_task(eng: Engine, keys: dict, prompt: str, with_garbage: bool) -> int:
    tid = submit_task(eng, keys, prompt)
    miners = [a.miner for a in get_task(eng.state, tid).miners]
    texts = HONEST[: len(miners) - 1] + [GARBAGE if with_garbage else HONEST[-1]]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, texts)), tokens={m: 9 + i for i, m in enumerate(miners)})
    validate(eng, keys, tid, {miners[-1]} if with_garbage else set())
    assert get_task(eng.state, tid).state == "SETTLED"
    return tid


def settle_task_with_cheat(eng: Engine, keys: dict) -> int:
    """The first miner reveals something other than it committed to: slashed by the core."""
    k = by_address(keys)
    tid = submit_task(eng, keys, PROMPTS[0])
    task = get_task(eng.state, tid)
    for a in task.miners:
        eng.submit_as(k[a.miner], "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, sha(HONEST[0]), "s")})
    for i, a in enumerate(task.miners):
        shown = sha("something else") if i == 0 else sha(HONEST[0])
        eng.store.put_blob(HONEST[0].encode())
        claim = {} if eng.state.beacon is not None else {"output_tokens": 8}  # the first rules: the miner's claim
        eng.submit_as(k[a.miner], "task.reveal", {"task": tid, "output_hash": shown, "salt": "s"} | claim)
    draw(eng, keys)  # with a beacon, the next tick draws the validators
    validate(eng, keys, tid, set())
    return tid


def report_equivocation(eng: Engine, keys: dict, tid: int) -> None:
    """The task's second miner signed two different precommit statements for it; dave reports the pair (and is paid)."""
    key = by_address(keys)[get_task(eng.state, tid).miners[1].miner]
    scope = f"task:{tid}:precommit"
    statements = [sign_scoped(key.private_key, eng.state.chain_id, scope, m) for m in (sha("one answer"), sha("another answer"))]
    eng.submit_as(keys["dave"], "slash.report", {"node": key.address, "offence": "equivocation", "evidence": {"messages": statements}})


def run_scenario(url: str, keys_path, beacon: bool = True, rule_version: int | None = None) -> Engine:
    """``beacon=False``: the same scenario on the first rules (``tests/golden/scenario_v1_log.json``); ``rule_version``:
    under that rule (default: the latest)."""
    params = {"redundancy": 4} | ({"rule_version": rule_version} if rule_version is not None else {})
    eng, keys = make_network(url, keys_path, n_miners=5, n_validators=3, params=params, seed="backends", beacon=beacon)
    miner0 = keys["miner0"].address
    for i, prompt in enumerate(PROMPTS):
        settle_honest_task(eng, keys, prompt, with_garbage=i == 0)
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(123_456_789_012_345_678_901)})
    eng.submit_as(keys["bob"], "transfer", {"to": keys["carol"].address, "amount": "1"})
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner0, "amount": str(1_000 * COR)})
    eng.submit_as(keys["carol"], "stake.delegate", {"node": keys["validator0"].address, "amount": str(250 * COR + 7)})
    eng.submit_as(keys["oracle"], "tick", {"ticks": 2})
    eng.submit_as(keys["oracle"], "epoch.close", {})

    cheat_tid = settle_task_with_cheat(eng, keys)
    settle_honest_task(eng, keys, PROMPTS[1], with_garbage=False)
    report_equivocation(eng, keys, cheat_tid)
    eng.submit_as(keys["carol"], "stake.undelegate", {"node": keys["validator0"].address, "amount": str(100 * COR)})
    eng.submit_as(keys["oracle"], "epoch.close", {})

    record = eng.state.epochs[0]
    assert record.root and record.leaves
    who, _ = sorted(record.leaves.items())[0]
    p = proof(eng.state, who, 0)
    eng.submit_as(
        by_address(keys).get(who, keys["dave"]), "reward.claim", {"address": who, "epoch": 0, "amount": p["amount_units"], "proof": p["proof"]}
    )
    assert f"0|{who}" in eng.state.claimed
    return eng
