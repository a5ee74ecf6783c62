"""A task end to end on a real SQLite file, real signatures and the real embedding model and scorer."""

import pytest

from cor_incentives.ai.bundled import BUNDLED_MODEL_ID
from cor_incentives.ai.tokens import count_tokens
from cor_incentives.app.archive import get_task
from cor_incentives.app.verify import verify_store
from cor_incentives.nodes.validator import evaluate_outputs, prompt_tokens
from support.network import by_address, draw, make_network, run_commit_reveal, run_reports, sha

PROMPT = "What is the capital of France? Answer in one sentence."
HONEST = ["The capital of France is Paris.", "Paris is the capital of France.", "The capital city of France is Paris."]
GARBAGE = "qwx zzkv plor mnbvc xxqq lkjh"


@pytest.fixture
def net(tmp_path, db_url):
    return make_network(db_url, tmp_path / "keys", n_miners=4, n_validators=3, params={"redundancy": 4})


def submit(eng, keys, max_out=48):
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
    draw(eng, keys)  # the next tick's beacon value draws the miners
    return tid


def validate(eng, keys, tid):
    task = get_task(eng.state, tid)
    outputs = {a.miner: eng.store.get_blob(a.output_hash).decode() for a in task.miners if a.reveal_tick is not None and not a.mismatch}
    prompt = eng.store.get_blob(task.prompt_hash).decode()
    reports = evaluate_outputs(prompt, outputs, task.max_output_tokens)
    run_reports(eng, keys, tid, lambda v: reports, input_tokens=lambda v: prompt_tokens(prompt))


def test_three_honest_one_garbage(net):
    eng, keys = net
    tid = submit(eng, keys)
    task = get_task(eng.state, tid)
    miners = [a.miner for a in task.miners]
    outputs = dict(zip(miners, HONEST + [GARBAGE]))
    rep_before = {m: eng.state.nodes[m].reputation_ppb for m in miners}
    session_before = eng.state.ledger.balance("escrow:session:1") + task.escrowed
    run_commit_reveal(eng, keys, tid, outputs)
    validate(eng, keys, tid)
    task = get_task(eng.state, tid)
    assert task.state == "SETTLED"
    bad = task.assignment(miners[3])
    assert not bad.in_consensus and bad.paid == 0 and bad.distance_ppb > 150_000_000 and bad.quality_ppb < 300_000_000
    assert eng.state.nodes[miners[3]].reputation_ppb < rep_before[miners[3]]
    for m in miners[:3]:
        a = task.assignment(m)
        assert a.in_consensus and a.paid > 0 and a.distance_ppb < 150_000_000
        assert eng.state.nodes[m].reputation_ppb == rep_before[m]  # a user task can only lower a reputation
    assert eng.state.ledger.balance("escrow:session:1") == session_before - task.charged
    # the work units are the validators' counts with SmolLM2's tokenizer, not anyone's claim
    assert task.settled_input_tokens == min(count_tokens(PROMPT), 14) and all(a.output_tokens == count_tokens(outputs[a.miner]) for a in task.miners)
    assert task.output_tokens == sorted(count_tokens(t) for t in HONEST)[1]  # the lower median of the three in consensus
    assert task.criteria and all(
        set(c) == {"relevance", "compliance", "completeness", "integrity"} for per_v in task.criteria.values() for c in per_v.values()
    )
    report, _ = verify_store(eng.store)
    assert report.ok, report.errors


def test_mismatched_reveal_slashed_through_the_engine(net):
    from cor_incentives.core.tasks import commitment

    eng, keys = net
    tid = submit(eng, keys)
    task = get_task(eng.state, tid)
    cheat = task.miners[0].miner
    k = by_address(keys)
    for a in task.miners:
        eng.submit_as(k[a.miner], "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, sha(HONEST[0]), "s")})
    bond = eng.state.ledger.balance(f"bonded:{cheat}")
    for a in task.miners:
        shown = sha("something else") if a.miner == cheat else sha(HONEST[0])
        eng.submit_as(k[a.miner], "task.reveal", {"task": tid, "output_hash": shown, "salt": "s"})
    assert eng.state.ledger.balance(f"bonded:{cheat}") == bond - bond * 500 // 10_000
    assert eng.state.nodes[cheat].jailed
    assert verify_store(eng.store)[0].ok
