"""A small network with some of everything, in a real SQLite file: for the read API and the dashboard.

``build(url, keys_dir)`` drives a devnet (tests/support/network.py) through real signed events:
a user task settles (three miners commit-reveal, three validators report scripted PoI distances and
quality), bob delegates to a miner, a bounty is posted, a miner of the settled task is slashed for
equivocation (it signed two different precommits; dave reports them), epoch 0 closes (statements,
claim leaves and a root); epoch 1 (one more task) closes, so the stake bonded in epoch 0 votes in
epoch 2 (one more task): a parameter-change proposal passes (bob and five nodes vote) and executes
as epoch 2 closes; and a second task stays open for its miners.
Returns the engine, the keys, and what the tests look for (ids, addresses).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.signing import sign_scoped
from support.network import COR, by_address, draw, make_network, run_commit_reveal, run_reports, sha

PROMPT = "What is the capital of France? Answer in one sentence."
OUTPUTS = ["The capital of France is Paris.", "Paris is the capital of France.", "The capital city of France is Paris."]
DISTANCES_PPB = [40_000_000, 55_000_000, 70_000_000]
QUALITY_PPB = [900_000_000, 850_000_000, 800_000_000]


def submit_task(eng: Engine, keys: dict, max_out: int = 48) -> int:
    """alice submits a task from session 1 through router0; returns its id."""
    tid = eng.state.next_id
    eng.store.put_blob(PROMPT.encode())
    eng.submit_as(
        keys["alice"],
        "task.submit",
        {
            "session": 1,
            "model": BUNDLED_MODEL_ID,
            "prompt_hash": sha(PROMPT),
            "prompt_bytes": len(PROMPT),
            "input_tokens": 14,
            "max_output_tokens": max_out,
            "router": keys["router0"].address,
        },
    )
    draw(eng, keys)  # the next tick's beacon value draws its miners
    return tid


def settle_task(eng: Engine, keys: dict, tid: int) -> None:
    """Every assigned miner commit-reveals an honest answer; every validator reports the same scores."""
    task = get_task(eng.state, tid)
    miners = [a.miner for a in task.miners]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, OUTPUTS)), tokens={m: 9 for m in miners})
    reports = [{"miner": m, "poi_distance_ppb": d, "quality_ppb": q, "output_tokens": 9} for m, d, q in zip(miners, DISTANCES_PPB, QUALITY_PPB)]
    run_reports(eng, keys, tid, lambda v: reports, input_tokens=lambda v: 14)


def bounties_enabled() -> bool:
    """Whether the core accepts bounty commands yet (bounties are being added to it)."""
    from cor_incentives.core.apply import HANDLERS

    return "bounty.create" in HANDLERS


def settled_miners(eng: Engine, tid: int) -> set[str]:
    return {a.miner for a in get_task(eng.state, tid).miners}


def build(url: str, keys_dir: Path) -> SimpleNamespace:
    # voting ends before epoch 0 closes, though the draws' ticks come first
    eng, keys = make_network(url, keys_dir, n_miners=4, n_validators=3, params={"redundancy": 3, "gov_voting_period_ticks": 90})
    settled = submit_task(eng, keys)
    settle_task(eng, keys, settled)
    miner = get_task(eng.state, settled).miners[0].miner
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner, "amount": str(1_000 * COR)})
    bounty = None
    if bounties_enabled():
        bounty = eng.state.next_id
        eng.submit_as(
            keys["carol"],
            "bounty.create",
            {"prize": str(500 * COR), "criteria": "Best PoUW prompt set for code tasks", "deadline_tick": eng.state.tick + 500, "winners": 2},
        )
    slashed = get_task(eng.state, settled).miners[2].miner  # it signed two different precommits for the settled task
    key = by_address(keys)[slashed]
    scope = f"task:{settled}:precommit"
    statements = [sign_scoped(key.private_key, eng.state.chain_id, scope, sha(text)) for text in ("one answer", "another answer")]
    eng.submit_as(keys["dave"], "slash.report", {"node": slashed, "offence": "equivocation", "evidence": {"messages": statements}})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    later = [submit_task(eng, keys)]  # every epoch pays miners for some work
    settle_task(eng, keys, later[-1])
    eng.submit_as(keys["oracle"], "epoch.close", {})  # epoch 2: the stake bonded in epoch 0 votes
    later.append(submit_task(eng, keys))
    settle_task(eng, keys, later[-1])
    proposal = eng.state.next_id
    eng.submit_as(
        keys["alice"],
        "gov.propose",
        {"kind": "param_change", "title": "Longer unbonding", "changes": {"unbonding_period_epochs": 3}, "effective_epoch": 5},
    )
    eng.submit_as(keys["bob"], "gov.vote", {"proposal": proposal, "option": "yes"})
    for name, option in (("miner1", "yes"), ("miner2", "yes"), ("validator0", "yes"), ("validator1", "no"), ("validator2", "abstain")):
        eng.submit_as(keys[name], "gov.vote", {"proposal": proposal, "option": option})
    eng.submit_as(keys["oracle"], "epoch.close", {})  # the vote ends with the epoch: tallied, then executed
    open_task = submit_task(eng, keys)
    eng.store.engine.dispose()
    return SimpleNamespace(
        engine=eng,
        keys=keys,
        settled=settled,
        later=later,
        open_task=open_task,
        miner=miner,
        proposal=proposal,
        bounty=bounty,
        session=1,
        closed_epoch=0,
        slashed=slashed,
    )
