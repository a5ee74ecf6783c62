"""The audited devnet: three epochs on a real database with real keys, built through signed commands.

Network tasks (the oracle's) and user tasks, a miner out of consensus, a reveal that does not match
its commitment (slashed by the core), miner1's equivocation (two signed precommits) reported by dave, delegations at the start and one tick before a
close, an undelegation, a commission change, ticks between the steps so stake × time matters, a
curator's attestations and a proposal voted on and tallied in the last epoch, and there a user task the oracle made a canary
(rule 17: ``task.canary_commit``, a fluent off-topic plant every validator puts out of consensus).
``tests/audit/test_recompute.py`` audits every closed epoch of it.
"""

from __future__ import annotations

from pathlib import Path

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.app.archive import get_task
from cor_incentives.app.engine import Engine
from cor_incentives.app.prompts import network_prompt_view
from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.validation import canary_commitment
from support.network import COR, draw, make_network, run_commit_reveal, sha
from support.scenario import HONEST, settle_task_with_cheat, submit_task, validate

GARBAGE = "zzq plorv mnbx kkwq lkjh"
PLANT = "The Danube flows through four European capitals."  # the oracle's canary: fluent, off-topic


def network_task(eng: Engine, keys: dict, prompt: str, input_tokens: int = 16) -> int:
    """The oracle's network task: ``prompt``, or from rule 9 (a genesis prompt set) the prompt the beacon composed."""
    composed = network_prompt_view(eng.state)
    prompt = composed["text"] if composed is not None else prompt
    tid = eng.state.next_id
    eng.store.put_blob(prompt.encode())
    eng.submit_as(
        keys["oracle"],
        "task.network",
        {
            "model": BUNDLED_MODEL_ID,
            "prompt_hash": sha(prompt),
            "prompt_bytes": len(prompt.encode()),
            "input_tokens": input_tokens,
            "max_output_tokens": 40,
        },
    )
    draw(eng, keys)  # with a beacon, the next tick draws the miners
    return tid


def run_task(eng: Engine, keys: dict, tid: int, garbage: bool, seed: int) -> None:
    miners = [a.miner for a in get_task(eng.state, tid).miners]
    texts = HONEST[: len(miners) - 1] + [GARBAGE if garbage else HONEST[-1]]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, texts)), tokens={m: 9 + (i + seed) % 5 for i, m in enumerate(miners)})
    validate(eng, keys, tid, {miners[-1]} if garbage else set(), input_tokens=10 + tid % 7)


def tick(eng: Engine, keys: dict, n: int) -> None:
    eng.submit_as(keys["oracle"], "tick", {"ticks": n})


def run_audit_scenario(url: str, keys_path: Path) -> tuple[Engine, dict]:
    eng, keys = make_network(url, keys_path, n_miners=5, n_validators=3, params={"redundancy": 4}, seed="audit")
    miner0, miner1, validator0 = keys["miner0"].address, keys["miner1"].address, keys["validator0"].address
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["bob"].address, "amount": str(50_000 * COR)})
    eng.submit_as(keys["faucet"], "transfer", {"to": keys["carol"].address, "amount": str(50_000 * COR)})
    # epoch 0: network and user tasks, a delegation early and one just before the close
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner0, "amount": str(1_000 * COR)})
    for i in range(3):
        run_task(eng, keys, network_task(eng, keys, f"Name prime number {i}.", 14 + i), garbage=i == 1, seed=i)
        tick(eng, keys, 1)
    run_task(eng, keys, submit_task(eng, keys, "What is the capital of France?"), garbage=False, seed=3)
    tick(eng, keys, 2)
    eng.submit_as(keys["carol"], "stake.delegate", {"node": validator0, "amount": str(250 * COR + 7)})
    eng.submit_as(keys["carol"], "stake.delegate", {"node": miner1, "amount": str(3_333 * COR + 1)})
    tick(eng, keys, 1)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    # epoch 1: a cheat slashed by the core, an oracle slash, an undelegation, a commission change
    settle_task_with_cheat(eng, keys)
    tick(eng, keys, 1)
    for i in range(3):
        run_task(eng, keys, network_task(eng, keys, f"Name a city {i}.", 20 + i), garbage=i == 2, seed=i + 4)
        tick(eng, keys, 1)
    served = max(t for t, task in [*eng.state.tasks.items(), *eng.state.closed_tasks.items()] if task.assigned(miner1))  # (rule 27: stubs)
    statements = [sign_scoped(keys["miner1"].private_key, eng.state.chain_id, f"task:{served}:precommit", sha(x)) for x in ("one", "another")]
    eng.submit_as(keys["dave"], "slash.report", {"node": miner1, "offence": "equivocation", "evidence": {"messages": statements}})
    eng.submit_as(keys["carol"], "stake.undelegate", {"node": validator0, "amount": str(100 * COR)})
    eng.submit_as(keys["miner0"], "node.set_commission", {"commission_bps": eng.state.nodes[miner0].commission_bps + 300})
    tick(eng, keys, 2)
    eng.submit_as(keys["bob"], "stake.delegate", {"node": miner0, "amount": str(500 * COR)})
    eng.submit_as(keys["oracle"], "epoch.close", {})
    # epoch 2: the new commission in force, more work, a curator's attestations and a proposal voted on
    eng.submit_as(keys["oracle"], "community.appoint", {"curator": keys["dave"].address})
    eng.submit_as(keys["dave"], "community.attest", {"member": keys["carol"].address, "kind": "forum", "points": 40, "reference": "thread-1"})
    eng.submit_as(keys["dave"], "community.attest", {"member": keys["bob"].address, "kind": "bug_report", "points": 25, "reference": "pr-7"})
    proposal = eng.state.next_id
    eng.submit_as(
        keys["alice"],
        "gov.propose",
        {"kind": "param_change", "title": "Longer unbonding", "changes": {"unbonding_period_epochs": 3}, "effective_epoch": 6},
    )
    eng.submit_as(keys["bob"], "gov.vote", {"proposal": proposal, "option": "yes"})
    for name, option in (("miner2", "yes"), ("miner3", "yes"), ("validator0", "yes"), ("validator1", "no"), ("validator2", "abstain")):
        eng.submit_as(keys[name], "gov.vote", {"proposal": proposal, "option": option})
    for i in range(2):
        run_task(eng, keys, network_task(eng, keys, f"Name a river {i}.", 11 + i), garbage=False, seed=i + 8)
        tick(eng, keys, 1)
    run_task(eng, keys, submit_task(eng, keys, "Nenne die Hauptstadt Österreichs — kurz."), garbage=False, seed=11)
    tick(eng, keys, 1)
    tid = submit_task(eng, keys, "Name a large lake in Africa.")
    eng.submit_as(
        keys["oracle"], "task.canary_commit", {"task": tid, "canary": canary_commitment(sha("Name a large lake in Africa."), sha(PLANT), "au")}
    )
    miners = [a.miner for a in get_task(eng.state, tid).miners]
    run_commit_reveal(eng, keys, tid, dict(zip(miners, HONEST[: len(miners) - 1] + [PLANT])), tokens={m: 9 for m in miners})
    validate(eng, keys, tid, {miners[-1]}, input_tokens=11)
    eng.submit_as(keys["oracle"], "task.canary", {"task": tid, "planted": sha(PLANT), "salt": "au"})
    assert get_task(eng.state, tid).canary == "planted" and get_task(eng.state, tid).state == "SETTLED"
    tick(eng, keys, 1)
    eng.submit_as(keys["oracle"], "epoch.close", {})
    return eng, keys
