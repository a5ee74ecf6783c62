"""The task state machine on the pure core with scripted outputs and reports."""

import pytest

from cor_incentives.core.errors import EngineError
from cor_incentives.core.tasks import commitment
from support.market import COR, MODEL, addr, commit_reveal, draw_now, h, market, network, submit, validate_all


def session_balance(c):
    return c.balance("escrow:session:1") if c.state.sessions.get(1) else None


def test_honest_task_settles_and_splits():
    c = market(n_miners=3)
    before = c.balance("escrow:session:1")
    tid = submit(c)
    task = c.state.tasks[tid]
    assert task.state == "PREPARED" and len(task.miners) == 3
    assert c.balance(f"escrow:task:{tid}") == task.escrowed
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    assert task.state == "COMMITTED" and len(task.validators) == 3  # validators_per_task 5, only 3 exist
    validate_all(c, tid, lambda v, m: (0, 900_000_000))
    assert task.state == "SETTLED"
    assert c.balance(f"escrow:task:{tid}") == 0
    assert before - c.balance("escrow:session:1") == task.charged < task.escrowed
    assert all(a.in_consensus and a.paid > 0 for a in task.miners)
    split = task.split
    assert sum(split.values()) == task.charged
    # miners share equally (same quality), so they got floor(pool/3) each
    assert {a.paid for a in task.miners} == {split["miners"] // 3}
    deposit = c.state.params.model_listing_deposit_units  # locked by the listing (rule 25), not spent
    assert c.balance(f"wallet:{addr('dev')}") == 1_000_000 * COR - deposit + split["model_royalty"]


def test_garbage_miner_unpaid_and_reputation_lowered():
    c = market(n_miners=4, params={"redundancy": 4})
    tid = submit(c)
    task = c.state.tasks[tid]
    miners = [a.miner for a in task.miners]
    bad = miners[-1]
    commit_reveal(c, tid, {m: ("Paris" if m != bad else "zzkq xxv") for m in miners})
    rep_before = {m: c.state.nodes[m].reputation_ppb for m in miners}
    validate_all(c, tid, lambda v, m: (900_000_000, 0) if m == bad else (10_000_000, 850_000_000))
    assert task.state == "SETTLED"
    bad_a = task.assignment(bad)
    assert not bad_a.in_consensus and bad_a.paid == 0
    assert c.balance(f"wallet:{bad}") == 1_000_000 * COR - 2000 * COR
    assert c.state.nodes[bad].reputation_ppb < rep_before[bad]
    for m in miners[:-1]:  # a user task can lower a reputation, never raise it (a self-paid task must not buy reputation)
        assert task.assignment(m).paid > 0 and c.state.nodes[m].reputation_ppb == rep_before[m]
    (s,) = [s for s in c.state.slashes if s.node == bad]
    assert s.offence == "poi_divergence" and s.evidence == {"task": tid} and s.total == 10 * COR  # 1 % of the miner minimum, per offence
    tid = network(c)  # the oracle's network task raises the honest miners' reputation
    miners = [a.miner for a in c.state.tasks[tid].miners]
    rep_before = {m: c.state.nodes[m].reputation_ppb for m in miners}
    commit_reveal(c, tid, {m: "Paris" for m in miners})
    validate_all(c, tid, lambda v, m: (10_000_000, 850_000_000))
    assert c.state.tasks[tid].state == "SETTLED"
    assert all(c.state.nodes[m].reputation_ppb > rep_before[m] for m in miners)


def test_mismatched_reveal_is_slashed_and_jailed():
    c = market(n_miners=3)
    tid = submit(c)
    task = c.state.tasks[tid]
    cheat = task.miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners}, wrong_reveal={cheat})
    s = c.state.slashes[-1]
    assert s.node == cheat and s.offence == "commit_mismatch" and s.evidence["task"] == tid
    assert s.total == 2000 * COR * 500 // 10_000
    assert c.state.nodes[cheat].jailed
    validate_all(c, tid, lambda v, m: (0, 800_000_000))
    assert task.state == "SETTLED" and task.assignment(cheat).paid == 0


def test_no_consensus_fails_and_refunds_in_full():
    c = market(n_miners=3)
    start = c.balance("escrow:session:1")
    tid = submit(c)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: f"answer {i}" for i, a in enumerate(task.miners)})
    validate_all(c, tid, lambda v, m: (900_000_000, 500_000_000))  # beyond poi_max_distance_ppb (0.85)
    assert task.state == "FAILED" and task.failure == "no_consensus"
    assert c.balance("escrow:session:1") == start
    assert all(a.paid == 0 for a in task.miners)
    assert all(c.balance(f"wallet:{a.miner}") == 1_000_000 * COR - 2000 * COR for a in task.miners)


def test_cancel_refunds_in_full_and_not_after_precommit():
    c = market(n_miners=3)
    start = c.balance("escrow:session:1")
    tid = submit(c)
    c.as_("user", "task.cancel", {"task": tid})
    assert c.state.tasks[tid].state == "CANCELLED" and c.balance("escrow:session:1") == start
    tid2 = submit(c)
    m = c.state.tasks[tid2].miners[0].miner
    c.submit(m, "task.precommit", {"task": tid2, "commit": commitment(tid2, m, h("x"), "s")})
    with pytest.raises(EngineError) as e:
        c.as_("user", "task.cancel", {"task": tid2})
    assert e.value.code == "task_not_cancellable"


def test_deadlines_move_on_and_each_miss_is_slashed():
    c = market(n_miners=3)
    tid = submit(c)
    task = c.state.tasks[tid]
    late = task.miners[2].miner
    for a in task.miners[:2]:
        c.submit(a.miner, "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, h("Paris"), "s")})
    assert task.state == "STARTED"
    c.oracle("tick", {"ticks": 5})
    assert task.state == "PRECOMMITTED"
    (s,) = c.state.slashes
    assert (s.node, s.offence, s.evidence, s.offence_tick) == (late, "missed_deadline", {"task": tid}, task.created_tick)
    assert s.total == 1 * COR  # 0.1 % of the miner minimum (1 000 COR)
    for a in task.miners[:2]:
        c.submit(a.miner, "task.reveal", {"task": tid, "output_hash": h("Paris"), "salt": "s"})  # the validators count
    assert task.state == "COMMITTED"
    c.oracle("tick", {"ticks": 5})  # nobody validates
    assert task.state == "FAILED" and task.failure == "no_validation"
    assert {s.node for s in c.state.slashes[1:]} == set(task.validators)  # each silent validator: 0.1 % of the validator minimum
    assert all(s.offence == "missed_deadline" and s.total == 2 * COR for s in c.state.slashes[1:])
    tid2 = submit(c)
    assert late in [a.miner for a in c.state.tasks[tid2].miners]  # 3 miners, redundancy 3: all assigned
    c.oracle("tick", {"ticks": 5})
    assert [s.evidence for s in c.state.slashes if s.node == late] == [{"task": tid}, {"task": tid2}]


@pytest.mark.parametrize(
    "body,code",
    [
        ({"model": "nope"}, "model_not_found"),
        ({"input_tokens": 2040}, "prompt_exceeds_context"),
        ({"prompt_bytes": 10**6}, "prompt_too_large"),
        ({"max_output_tokens": 0}, "invalid_tokens"),
        ({"prompt_hash": "abc"}, "invalid_hash"),
        ({"session": 99}, "session_not_found"),
    ],
)
def test_bad_task_input_moves_nothing(body, code):
    c = market(n_miners=3)
    before = c.state.to_dict()
    full = {"session": 1, "model": MODEL, "prompt_hash": h("p"), "prompt_bytes": 10, "input_tokens": 12, "max_output_tokens": 64, **body}
    with pytest.raises(EngineError) as e:
        c.as_("user", "task.submit", full)
    assert e.value.code == code
    assert c.state.to_dict() == before


def test_deposit_too_small():
    c = market(n_miners=3, deposit=1, params={"session_min_deposit_units": "1"})  # (rule 24's minimum governed down to 1 unit)
    with pytest.raises(EngineError) as e:
        submit(c)
    assert e.value.code == "deposit_too_small"
    assert c.balance("escrow:session:1") == 1


def test_selection_is_reproducible_and_weighted():
    a, b = market(n_miners=6), market(n_miners=6)
    assert [x.miner for x in a.state.tasks[submit(a)].miners] == [x.miner for x in b.state.tasks[submit(b)].miners]


def test_only_assigned_nodes_act():
    c = market(n_miners=4)
    tid = submit(c)
    outsider = next(addr(f"m{i}") for i in range(4) if addr(f"m{i}") not in [a.miner for a in c.state.tasks[tid].miners])
    with pytest.raises(EngineError) as e:
        c.submit(outsider, "task.precommit", {"task": tid, "commit": h("x")})
    assert e.value.code == "not_assigned"


def test_network_task_without_escrow_records_work():
    c = market(n_miners=3)
    tid = c.state.next_id
    c.oracle("task.network", {"model": MODEL, "prompt_hash": h("q"), "prompt_bytes": 5, "input_tokens": 8, "max_output_tokens": 32})
    task = c.state.tasks[tid]
    assert task.kind == "network" and task.escrowed == 0
    commit_reveal(c, tid, {a.miner: "ok" for a in task.miners})
    validate_all(c, tid, lambda v, m: (0, 700_000_000))
    assert task.state == "SETTLED" and task.charged == 0
    rows = [r for r in c.state.epoch_work if r.task == tid]
    assert len(rows) == 3 and all(r.in_consensus and r.complexity_units == (8 + 20) * 1 for r in rows)
    with pytest.raises(EngineError):
        c.as_("user", "task.network", {"model": MODEL, "prompt_hash": h("q"), "prompt_bytes": 5, "input_tokens": 8, "max_output_tokens": 32})


def test_session_close_refunds_and_blocks_when_tasks_open():
    c = market(n_miners=3)
    submit(c)
    with pytest.raises(EngineError) as e:
        c.as_("user", "session.close", {"session": 1})
    assert e.value.code == "session_has_open_tasks"


def test_deviating_validator_is_slashed_for_each_deviation():
    c = market(n_miners=3)
    for _ in range(2):
        tid = submit(c)
        task = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
        liar = sorted(task.validators)[0]
        validate_all(c, tid, lambda v, m, liar=liar: (1_500_000_000, 0) if v == liar else (0, 900_000_000))
        assert task.state == "SETTLED"
        assert task.agreement_ppb[liar] < task.agreement_ppb[sorted(task.validators)[1]]
    deviations = [s for s in c.state.slashes if s.offence == "validator_deviation"]
    assert len(deviations) == 2 and all(s.total == 40 * COR for s in deviations)  # 2 % of the validator minimum (2 000 COR) each


def test_quality_over_report_costs_as_much_as_under_report():
    c = market(n_miners=3, beacon=True)  # the validators' commit-reveal rules
    tid = submit(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    generous, stingy, fair = sorted(task.validators)
    quality = {generous: 850_000_000, stingy: 750_000_000, fair: 800_000_000}
    validate_all(c, tid, lambda v, m: (0, quality[v]))
    assert all(a.quality_ppb == 800_000_000 for a in task.miners)  # the median
    # deviation 0.05 / 2 = 0.025 each way; score = 1 − (0.025 / 0.1)² = 0.9375
    assert task.agreement_ppb[generous] == task.agreement_ppb[stingy] == 937_500_000
    assert task.agreement_ppb[fair] == 1_000_000_000


def test_pps_inclusion_is_proportional_and_split_neutral():
    """Each node's inclusion frequency ≈ w·k/W; one big node and the same stake split in five get
    the same expected number of slots."""
    from collections import Counter

    from cor_incentives.core.selection import pps_sample

    weights = {"big": 30, "a": 10, "b": 10, "c": 10, "d": 10, "e": 10, "f": 10, "g": 10}  # W = 100, k = 3
    split = {**{f"s{i}": 6 for i in range(5)}, **{k: v for k, v in weights.items() if k != "big"}}
    n = 6000
    hits, hits_split = Counter(), Counter()
    for i in range(n):
        seed = i.to_bytes(4, "big")
        got = pps_sample(weights, 3, seed)
        assert len(got) == len(set(got)) == 3
        hits.update(got)
        hits_split.update(pps_sample(split, 3, seed))
    assert abs(hits["big"] / n - 0.9) < 0.03  # 30 × 3 / 100
    assert abs(hits["a"] / n - 0.3) < 0.03
    assert abs(sum(hits_split[f"s{i}"] for i in range(5)) / n - 0.9) < 0.05
    assert pps_sample({"x": 100, "y": 1, "z": 1}, 2, b"s")[0] == "x"  # certain: 100 × 2 ≥ 102


def test_useless_output_is_never_in_consensus_and_counts_when_the_task_fails():
    """Two valid outputs, one garbage: reports put the garbage at distance 0 (as the reference) but
    its quality is below the floor, so it is not in consensus; the task fails and the garbage miner
    is slashed for poi_divergence (the honest one, out of consensus by distance, is not)."""
    c = market(n_miners=3)
    tid = submit(c)
    t = c.state.tasks[tid]
    honest, junk, late = [a.miner for a in t.miners]
    outputs = {honest: "Paris", junk: "zzq xx"}
    for m, text in outputs.items():
        c.submit(m, "task.precommit", {"task": tid, "commit": commitment(tid, m, h(text), "s")})
    c.oracle("tick", {"ticks": 5})  # the third miner never precommits: the window closes
    assert t.state == "PRECOMMITTED"
    for m, text in outputs.items():
        c.submit(m, "task.reveal", {"task": tid, "output_hash": h(text), "salt": "s"})
    assert t.state == "COMMITTED"
    validate_all(c, tid, lambda v, m: (0, 50_000_000) if m == junk else (900_000_000, 900_000_000))
    assert t.state == "FAILED" and t.failure == "no_consensus"
    assert not t.assignment(junk).in_consensus
    assert [(s.node, s.offence) for s in c.state.slashes if s.evidence == {"task": tid}] == [(late, "missed_deadline"), (junk, "poi_divergence")]
