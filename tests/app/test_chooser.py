"""The node chooser, the estimator and slash explainability, on the seeded scenario in a real SQLite file.

The scenario (tests/support/scenario.py) closes two epochs with delegations, a miner whose output is
out of consensus, a reveal that does not match its precommit (slashed and jailed by the core), and
a reward claim. What the views say is checked against what the statements actually paid.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from cor_incentives.app import chooser, views
from cor_incentives.app.archive import newest_tasks
from cor_incentives.core.errors import InvalidInput, NotFound
from cor_incentives.core.tasks import commitment
from cor_incentives.core.units import COR, PPB
from support.network import by_address, make_network, sha
from support.scenario import PROMPTS, run_scenario, submit_task


@pytest.fixture(scope="module")
def scen(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    d: Path = tmp_path_factory.mktemp("chooser")
    eng = run_scenario(f"sqlite:///{d / 'cor.db'}", d / "keys")
    return SimpleNamespace(eng=eng, state=eng.state, dir=d)


def _stake_lines(record, address: str, node: str) -> list:
    return [i for i in record.items if i.address == address and i.stream.endswith(":stake") and i.detail.get("node") == node]


def test_realised_yield_predicts_what_a_whole_epoch_delegation_was_paid(scen):
    """For every position bonded the whole last epoch without change, stake × delegator_yield_ppb ≈ its stake lines."""
    s = scen.state
    last = s.epochs[max(s.epochs)]
    ticks = last.end_tick - last.start_tick
    records = chooser.node_records(s, window=1)
    checked = 0
    for node_id in s.nodes:
        stakers = {i.address for i in last.items if i.stream.endswith(":stake") and i.detail.get("node") == node_id}
        for addr in stakers:
            lines = _stake_lines(last, addr, node_id)
            stake = lines[0].detail["stake"]
            if any(i.detail["stake_ticks"] != stake * ticks for i in lines):
                continue  # its stake moved during the epoch
            paid = sum(i.amount for i in lines)
            predicted = stake * records[node_id]["delegator_yield_ppb"] // PPB
            assert abs(paid - predicted) <= stake // PPB + 10, (node_id, addr, paid, predicted)
            checked += 1
    assert checked >= 5
    # a node jailed for its commit mismatch earned no APR in the last epoch: its yield is below the others'
    jailed = [n for n in s.nodes if s.nodes[n].jailed]
    free = [n for n in s.nodes if not s.nodes[n].jailed and s.nodes[n].role == "miner"]
    assert jailed and free
    assert max(records[n]["delegator_yield_ppb"] for n in jailed) < min(records[n]["delegator_yield_ppb"] for n in free)
    assert all(records[n]["delegator_apr_bps"] == records[n]["delegator_yield_ppb"] * s.params.epochs_per_year // 10**5 for n in s.nodes)


def test_consensus_rate_counts_outputs_out_of_consensus_and_mismatched_reveals(scen):
    s = scen.state
    records = chooser.node_records(s)
    seen: dict[str, list[bool]] = {}
    for t in newest_tasks(s):  # live and pruned
        for a in t.miners:
            if a.distance_ppb is not None or a.mismatch:
                seen.setdefault(a.miner, []).append(a.in_consensus and not a.mismatch)
    bad = {m for m, v in seen.items() if not all(v)}
    assert len(bad) >= 2  # the garbage output and the mismatched reveal
    for m, v in seen.items():
        assert records[m]["judged"] == len(v)
        assert records[m]["consensus_rate_bps"] == sum(v) * 10_000 // len(v)
        assert (records[m]["consensus_rate_bps"] < 10_000) == (m in bad)
    for vid, n in s.nodes.items():
        if n.role == "validator":
            assert records[vid]["consensus_rate_bps"] is not None and 0 < records[vid]["consensus_rate_bps"] <= 10_000


def test_jailed_and_slashed_nodes_carry_warnings_and_their_delegators_are_warned(scen):
    s = scen.state
    records = chooser.node_records(s)
    for node_id, n in s.nodes.items():
        w = records[node_id]["warnings"]
        slashed = [x for x in s.slashes if x.node == node_id]
        assert any("jailed until tick" in x for x in w) == n.jailed
        assert any(x.startswith(f"slashed {len(slashed)} time") for x in w) == bool(slashed)
        assert records[node_id]["recent_slashes"] == len(slashed)
        if not n.jailed and not slashed:  # (rule 14: a router's stake, never drawn, earns no staking APR: said too)
            assert [x for x in w if "earns no staking APR" not in x] == []
            assert any("is a router" in x for x in w) == (n.role == "router" and n.stake_total > 0)
    warned = 0
    for node_id, n in s.nodes.items():
        for d in n.delegators:
            text = " ".join(views.rewards(s, d)["warnings"])
            assert (node_id in text) == n.jailed
            warned += n.jailed
            if d in {i.address for r in s.epochs.values() for i in r.items}:
                e = max(r.epoch for r in s.epochs.values() if any(i.address == d for i in r.items))
                assert views.statement(s, d, e)["warnings"] == views.rewards(s, d)["warnings"]
    assert warned >= 1


def test_slash_lines_link_to_their_slash_and_evidence(scen):
    s = scen.state
    lines = [(e, i) for e, r in s.epochs.items() for i in r.items if i.stream == "slash"]
    assert lines
    for e, i in lines:
        st = views.statement(s, i.address, e)
        linked = [x for x in st["items"] if x["stream"] == "slash"]
        assert linked and all("slash" in x for x in linked)
        for x in linked:
            record = views.get_slash(s, x["slash"]["id"])
            assert x["slash"]["evidence_hash"] == record.evidence_hash and x["slash"]["url"] == f"/v1/slashes/{record.id}"
            assert x["slash"]["reason"].startswith(record.offence)
    with pytest.raises(NotFound) as err:
        views.get_slash(s, 10**12)
    assert err.value.code == "slash_not_found"


def test_sorting_puts_the_best_first(scen):
    s = scen.state
    by_yield = chooser.node_table(s, sort="yield")["nodes"]
    assert [d["delegator_yield_ppb"] for d in by_yield] == sorted((d["delegator_yield_ppb"] for d in by_yield), reverse=True)
    by_stake = chooser.node_table(s, sort="stake")["nodes"]
    assert [s.nodes[d["id"]].stake_total for d in by_stake] == sorted((n.stake_total for n in s.nodes.values()), reverse=True)
    by_cons = chooser.node_table(s, sort="consensus")["nodes"]
    rates = [d["consensus_rate_bps"] for d in by_cons]
    known = [r for r in rates if r is not None]
    assert rates[: len(known)] == sorted(known, reverse=True) and all(r is None for r in rates[len(known) :])
    miners = chooser.node_table(s, role="miner")["nodes"]
    assert miners and all(d["role"] == "miner" for d in miners)
    with pytest.raises(InvalidInput) as err:
        chooser.node_table(s, sort="fame")
    assert err.value.code == "invalid_sort"
    with pytest.raises(InvalidInput) as err:
        chooser.node_table(s, window=0)
    assert err.value.code == "invalid_window"


def test_a_delegation_estimate_matches_the_realised_yield_and_applies_the_next_commission(scen):
    s = scen.state
    records = chooser.node_records(s)
    node = next(n for n in sorted(s.nodes) if not s.nodes[n].jailed and s.nodes[n].role == "validator" and not s.nodes[n].commission_bps)
    amount = 1_000 * COR
    est = chooser.estimate_delegation(s, node, amount)
    total = int(est["per_epoch_units"]["total"])
    realised = amount * records[node]["delegator_yield_ppb"] // PPB
    assert abs(total - realised) <= realised // 200  # within 0.5 %: same rates, the added stake's dilution of work is small
    assert est["commission_bps"] == 0 and any("commission" in a for a in est["assumptions"])
    assert total == int(est["per_epoch_units"]["work"]) + int(est["per_epoch_units"]["staking_apr"])
    assert est["apr_bps"] == total * s.params.epochs_per_year * 10_000 // amount


def test_an_operator_estimate_states_its_assumptions_and_refuses_a_bond_below_the_minimum(scen):
    s = scen.state
    minimum = s.params.min_self_bond("miner")
    est = chooser.estimate_operator(s, "miner", 2 * minimum)
    parts = est["per_epoch_units"]
    assert int(parts["total"]) == int(parts["work"]) + int(parts["staking_apr"]) + int(parts["task_fees"]) > 0
    # the APR part is the realised APR per unit of stake of the miners that were paid APR
    paid = [
        (i.detail["inputs"]["reward"], i.detail["inputs"]["stake_ticks"])
        for r in s.epochs.values()
        for i in r.items
        if i.stream == "staking_apr:node" and s.nodes[i.address].role == "miner"
    ]
    ticks = sum(r.end_tick - r.start_tick for r in s.epochs.values()) // len(s.epochs)
    assert int(parts["staking_apr"]) == 2 * minimum * (sum(p for p, _ in paid) * ticks) // sum(t for _, t in paid)
    assert len(est["assumptions"]) >= 4 and est["epochs_used"] == len(s.epochs)
    with pytest.raises(InvalidInput) as err:
        chooser.estimate_operator(s, "miner", minimum - 1)
    assert err.value.code == "below_min_self_bond" and "COR" in str(err.value) and str(minimum - 1) not in str(err.value)
    with pytest.raises(InvalidInput):
        chooser.estimate_operator(s, "router", minimum)
    with pytest.raises(NotFound):
        chooser.estimate_delegation(s, "0x" + "ab" * 20, COR)


def test_offence_counters_count_a_missed_precommit_under_the_rules_in_force(tmp_path):
    d = tmp_path
    eng, keys = make_network(f"sqlite:///{d / 'cor.db'}", d / "keys", n_miners=4, seed="chooser")
    tid = submit_task(eng, keys, PROMPTS[0])
    task = eng.state.tasks[tid]
    late = task.miners[-1].miner
    k = by_address(keys)
    for a in task.miners[:-1]:
        eng.submit_as(k[a.miner], "task.precommit", {"task": tid, "commit": commitment(tid, a.miner, sha("x"), "s")})
    eng.submit_as(keys["oracle"], "tick", {"ticks": eng.state.params.precommit_deadline_ticks + 1})
    counters = {c["offence"]: c for c in chooser.offence_counters(eng.state, late)}
    missed = counters["missed_deadline"]
    threshold = getattr(eng.state.params, "missed_deadline_threshold", None) if chooser.counted_over_a_window(eng.state) else None
    if threshold is not None:  # counted over a window, slashed at the threshold
        assert missed["count"] == 1 and missed["pending_tasks"] == [tid] and missed["threshold"] == threshold
        assert missed["text"].startswith(f"missed_deadline 1/{threshold} in this window")
    else:  # slashed one by one
        assert missed["count"] >= 1 and missed["threshold"] is None and missed["slashed_in_window"] >= 1
    assert counters["poi_divergence"]["count"] == 0 or counters["poi_divergence"]["threshold"] is None
    assert chooser.node_records(eng.state)[late]["missed_deadlines"] >= 1
    detail = chooser.node_detail(eng.state, late)
    assert detail["offences"] == list(counters.values()) and detail["id"] == late


def test_a_new_miner_is_warned_of_a_model_no_task_can_be_drawn_for(scen):
    s = scen.state
    model_views = [views.model(m, s.params) for m in s.models.values()]
    [bundled] = [m["id"] for m in model_views]
    miners = [views.node(s, n) for n in sorted(s.nodes) if s.nodes[n].role == "miner"]
    active = [n for n in miners if n["state"] == "active" and bundled in n["models"]]
    warn = chooser.registration_warnings("miner", ["ghost-7b", bundled], model_views, miners, s.params.redundancy)
    assert any("'ghost-7b' is not registered in the marketplace" in w for w in warn)
    listed = bundled in s.params.listed_model_tiers
    assert any("is not listed by governance" in w for w in warn) != listed
    short = len(active) + 1 < s.params.redundancy
    assert any(f"a task needs {s.params.redundancy} miners" in w for w in warn) == short
    assert any("nobody else serves it" in w for w in chooser.registration_warnings("miner", [bundled], model_views, [], 3))
    assert not any("task needs" in w for w in chooser.registration_warnings("miner", [bundled], model_views, active, len(active) + 1))
    assert chooser.registration_warnings("validator", ["ghost-7b"], model_views, miners, 3) == []
    retiring = [{**m, "retired_tick": 7} for m in model_views]  # rule 25: retired, still live (an open task names it)
    assert chooser.registration_warnings("miner", [bundled], retiring, active, 1) == [
        f"model {bundled!r} is retired (rule 25, at tick 7): no new task can name it, so the node would never be drawn for it"
    ]
