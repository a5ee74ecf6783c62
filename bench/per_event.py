"""Probe: the cost of one staking event while the network holds many unbonding entries (issue 16: no per-event work that
grows with the number of accounts or nodes).

    python bench/per_event.py [--sizes 1000,10000] [--probes 200] [--json] [--votes | --ticks | --register | --escalate |
                              --bounty-draw | --attest]

For each size N, a chain (``sim.chain.SimChain``: every event through ``core.apply.apply``, journaled, as the engine
applies it) gets two nodes and N other delegators each holding one pending unbonding entry from the first and one young
redelegation from it to the second (anyone with a funded key can add both), and N slash records of the second node
(synthetic, appended to the state as a slash appends them: its offence history, which no probe's entry was spared). That
build is not timed. Then, CPU seconds of this process per
event, over ``--probes`` probe delegators:

    undelegate       ``stake.undelegate`` of a probe (its first entry: the ``max_entries`` count runs)
    withdraw_early   ``stake.withdraw`` of a probe whose entry has not matured (refused: ``unbonding_not_mature``)
    withdraw         ``stake.withdraw`` of a probe's matured entry (after the epochs of the unbonding period)
    cancel_unbond    ``stake.cancel_unbond`` of a probe's pending entry (the slashes of its node it was spared: none here)
    redelegate       ``stake.redelegate`` of a probe (forgetting matured redelegations: none yet; its checks)

``--votes``: instead, N nodes (self-bonded, aged two epochs) in a proposal's snapshot, and ``gov.vote`` by ``--probes``
delegators, then by as many addresses without voting power (refused).

``--ticks``: instead, N decided proposals and N expired bounties (synthetic, inserted as the handlers leave them: the
history of a network whose outsiders paid deposits and prizes), then the oracle's ``tick`` (one tick, no epoch end:
the deadlines, tallies and reviewer draws due) ``--probes`` times, then ``bounty.create`` by ``--probes`` sponsors
(reviewers drawn: each is open, its draw to come, while the others are created).

``--register``: instead, N miners each serving a running jail and each slashed this epoch (N slash records in the
reputation memory window: synthetic, appended as a slash appends them, the jail set as ``State.jail`` sets it, the
reputations spread), then ``node.register`` of a miner by ``--probes`` funded keys (each starting capped by the lowest
of them: ``staking.starting_reputation``).

``--escalate``: instead, N validators (self-bonded, weights spread) in the selection index and ``--probes`` disputed tasks
(synthetic, as ``tasks._after_reports`` leaves a task it escalates: COMMITTED, round 1, three round-0 validators, the
escalation's draw queued for the next beacon value), then the oracle's ``tick`` that reveals the value and runs the
``--probes`` escalation draws (``tasks.draw_escalation``: three more validators each); CPU µs per draw (the tick's
time / probes), once on a genesis naming rule 18 (every other selectable validator sorted into a tree built for the
draw: O(N)) and once naming rule 19 (the pool's tree, the task's validators left out: O(log N)), alternated
``--rounds`` times: the same-run baseline is the old rule.

``--bounty-draw``: instead, N validators among ``--nodes`` nodes (the rest miners), a bounty (prize 1 base unit, no named
reviewers) with S entries (``--entries``, default 10 and 1 000: ``bounty_max_submissions``), each hunter at the end of a
``LINK_DEPTH`` chain of first funders (a few validators linked to the sponsor or a hunter), then the reviewer draw
(``bounties.draw_reviewers``, called directly) ``--probes`` times with the candidates of ``accounts.linked_among`` and of
the pairwise reference (tests/support/links_reference.py, monkeypatched in), alternated ``--rounds`` times: the
same-run baseline is the old code; the candidates and the drawn reviewers must be equal.
``--draws``: instead, N user tasks waiting in CREATED for their miners' draw (synthetic, as ``task.submit`` leaves them)
and then cancelled (as ``task.cancel`` leaves them: CANCELLED, escrow returned, the draw still queued in the beacon's
``pending``; an attacker's N submit + cancel pairs cost no fee, the escrow returns), then the oracle's ``tick`` that
reveals the value and runs the N queued draws (each returns at once: its task is no longer CREATED); CPU µs per queued
draw (the tick's time / N), applied as the engine applies it (journaled) and as a replay applies it (``atomic=False``).

``--open-bounties``: instead, N open bounties whose reviewers are to be drawn at deadlines far ahead (synthetic, as
``bounty.create`` leaves them: a prize of one base unit each, no reviewers named; each deadline its own tick), then the
oracle's ``tick`` (one tick, nothing due) ``--probes`` times: CPU µs per tick.

``--finalize``: instead, challenges of N entries (synthetic, as ``bounty.submit`` leaves them; an entry needs no
funded key) and 32 named reviewers, each entry scored by every reviewer, then ``bounty.finalize`` of each (``--probes``
of them, at most 20): CPU µs per finalize.

``--withdraw-order``: instead, the staking build above (N delegators, one pending entry each), the entries matured,
then ``stake.withdraw`` by the first ``--probes`` delegators (their entries and ``unbonding:`` accounts early in their
dicts) and by the last ones: a live (journaled) deletion keeps the dict's key order from the deleted key to the end
for a rollback (``journal.keep_order``), so the first ones cost O(the entries and accounts made after theirs).

``--dust``: instead, N delegators of one base unit each (funded keys: a transfer and a delegation each, no fee) in
one node, aged two epochs: ``gov.propose`` (its snapshot of every position) and a slash of that node (under a
journal, rolled back; every staker's position read): CPU ms each. ``--rule``: the rule version of the chain (default the
latest); from rule 20 a position holds at least ``min_position_units`` (1 COR), so each delegator delegates that and the
row says what the N positions lock (``locked_cor``).

``--attest``: instead, N attestations of the epoch (synthetic, as ``community.attest`` leaves them: one curator, N
members, one reference each; the members in the epoch's eligibility snapshot), then ``community.attest`` by that curator
of ``--probes`` new (member, reference) pairs, then of ``--probes`` pairs already attested (refused:
``duplicate_attestation``), then, the epoch filled to ``MAX_ATTESTATIONS_PER_EPOCH``, of ``--probes`` new pairs (refused:
``too_many_attestations``, after every other check): CPU µs per attest. N at most the cap minus ``--probes``.

The built state is frozen out of the cyclic garbage collector (``gc.freeze``) before timing: a full collection scans
every object of the heap, whatever the event did. The cost should not depend on N: the probe touches its own entries
only. Compare the sizes' ratios on one machine,
and the same sizes before and after a change (alternated runs: the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

try:
    from cor_incentives.sim.chain import SimChain, addr
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cor_incentives.sim.chain import SimChain, addr

from cor_incentives.core.errors import EngineError
from cor_incentives.core.params import Params
from cor_incentives.core.records import Bounty, BountyStatus, Proposal, ProposalStatus, SlashRecord
from cor_incentives.core.units import COR


def build(n: int, probes: int) -> SimChain:
    """Two miner nodes, ``n`` delegators with a pending unbonding entry and a young redelegation each, ``probes`` delegators of
    10 COR."""
    fillers = [f"f{i}" for i in range(n)]
    probe_names = [f"p{i}" for i in range(probes)]
    chain = SimChain({f"wallet:{addr('op')}": 10_000 * COR + (3 * n + 20 * probes) * COR}, {})  # (a genesis holds 256 KB)
    for name, amount in [("op2", 1_000 * COR), *((f, 2 * COR) for f in fillers), *((p, 20 * COR) for p in probe_names)]:
        chain.submit(addr("op"), "transfer", {"to": addr(name), "amount": str(amount)})
    node = addr("op")
    chain.submit(node, "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
    chain.submit(addr("op2"), "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
    for f in fillers:
        chain.submit(addr(f), "stake.delegate", {"node": node, "amount": str(2 * COR)})
        chain.submit(addr(f), "stake.undelegate", {"node": node, "amount": str(COR)})
        chain.submit(addr(f), "stake.redelegate", {"from": node, "to": addr("op2"), "amount": str(COR)})
    for p in probe_names:
        chain.submit(addr(p), "stake.delegate", {"node": node, "amount": str(10 * COR)})
    state = chain.state
    for i in range(n):
        evidence = {"task": 10**9 + i}
        state.slashes.append(SlashRecord(state.new_id(), addr("op2"), "commit_mismatch", 0, 0, 0, "0x", evidence, None, 0, 0, 0, 0, 0, {}, None))
    if hasattr(state, "rebuild_entry_indexes"):  # (a core with derived indexes: as a decoded state rebuilds them)
        state.rebuild_entry_indexes()
    return chain


def per_event(chain: SimChain, calls: list[tuple[str, str, dict[str, Any]]], refused: bool = False) -> float:
    """CPU µs per call (each applied as the engine applies it; a refusal is expected when ``refused``)."""
    start = time.process_time()
    for actor, kind, body in calls:
        try:
            chain.submit(actor, kind, body)
        except EngineError:
            if not refused:
                raise
    return (time.process_time() - start) / len(calls) * 1e6


def run(n: int, probes: int) -> dict[str, Any]:
    chain = build(n, probes)
    gc.collect()
    gc.freeze()  # the built state out of the collector's scans: a gen-2 pass over N entries is not the event's work
    node = addr("op")
    actors = [addr(f"p{i}") for i in range(probes)]
    out: dict[str, Any] = {"pending_entries": n}
    out["undelegate_us"] = per_event(chain, [(a, "stake.undelegate", {"node": node, "amount": str(COR)}) for a in actors])
    out["withdraw_early_us"] = per_event(chain, [(a, "stake.withdraw", {}) for a in actors], refused=True)
    mine = {u.address: u.id for u in chain.state.unbondings.values() if u.address in set(actors)}
    half = len(actors) // 2
    out["cancel_unbond_us"] = per_event(chain, [(a, "stake.cancel_unbond", {"id": mine[a]}) for a in actors[:half]])
    out["redelegate_us"] = per_event(chain, [(a, "stake.redelegate", {"from": node, "to": addr("op2"), "amount": str(COR)}) for a in actors])
    for _ in range(chain.state.params.unbonding_period_epochs):
        chain.oracle("epoch.close", {})
    out["withdraw_us"] = per_event(chain, [(a, "stake.withdraw", {}) for a in actors[half:]])
    out["entries_at_end"] = len(chain.state.unbondings)
    out["redelegations_at_end"] = len(chain.state.redelegations)
    return out


def vote_run(n: int, probes: int) -> dict[str, Any]:
    """``gov.vote`` by ``probes`` delegators (and a refused vote by an address without power) on a proposal whose
    snapshot holds ``n`` nodes (each self-bonded, aged two epochs)."""
    voters = [f"v{i}" for i in range(probes)]
    need = (n * 1_000 + probes * 20 + 1_000) * COR
    chain = SimChain({f"wallet:{addr('bank')}": need}, {"min_self_bond_miner_units": str(1_000 * COR), "gov_min_deposit_units": str(100 * COR)})
    for name, amount in [*((f"n{i}", 1_000 * COR) for i in range(n)), *((v, 20 * COR) for v in voters), ("proposer", 500 * COR)]:
        chain.submit(addr("bank"), "transfer", {"to": addr(name), "amount": str(amount)})
    for i in range(n):
        chain.submit(addr(f"n{i}"), "node.register", {"role": "miner", "self_bond": str(1_000 * COR)})
    for i, v in enumerate(voters):
        chain.submit(addr(v), "stake.delegate", {"node": addr(f"n{i % n}"), "amount": str(10 * COR)})
    for _ in range(2):
        chain.oracle("epoch.close", {})
    pid = chain.state.next_id
    body = {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": chain.state.epoch + 2}
    chain.submit(addr("proposer"), "gov.propose", body)
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"snapshot_nodes": n}
    out["vote_us"] = per_event(chain, [(addr(v), "gov.vote", {"proposal": pid, "option": "yes"}) for v in voters])
    strangers = [(addr(f"s{i}"), "gov.vote", {"proposal": pid, "option": "yes"}) for i in range(probes)]
    out["vote_refused_us"] = per_event(chain, strangers, refused=True)
    return out


def tick_run(n: int, probes: int) -> dict[str, Any]:
    """The oracle's ``tick`` and ``bounty.create`` while the state holds ``n`` decided proposals and ``n`` expired bounties."""
    sponsors = [f"s{i}" for i in range(probes)]
    chain = SimChain({f"wallet:{addr('bank')}": (probes * 20 + 10) * COR}, {"epoch_length_ticks": 10 * probes})
    for s in sponsors:
        chain.submit(addr("bank"), "transfer", {"to": addr(s), "amount": str(20 * COR)})
    state = chain.state
    for _ in range(n):
        pid = state.new_id()
        state.proposals[pid] = Proposal(
            pid, "param_change", "t", addr("bank"), {}, 0, 0, 1, ProposalStatus.REJECTED, {}, 1, tallied_tick=1, tallied_epoch=0
        )
        bid = state.new_id()
        state.bounties[bid] = Bounty(
            bid, addr("bank"), "bounty", COR, "c", 1, 1, (), (), 0, 1, True, 1, BountyStatus.EXPIRED, refunded=COR, expired_tick=1
        )
    if hasattr(state, "rebuild_entry_indexes"):  # (a core with derived indexes: as a decoded state rebuilds them)
        state.rebuild_entry_indexes()
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"closed_items": n}
    start = time.process_time()
    for _ in range(probes):
        chain.oracle("tick", {})
    out["tick_us"] = (time.process_time() - start) / probes * 1e6
    body = {"prize": str(10 * COR), "criteria": "c", "winners": 1}  # bounty_min_prize_units (rule 21)
    out["bounty_create_us"] = per_event(chain, [(addr(s), "bounty.create", {**body, "deadline_tick": chain.state.tick + 5}) for s in sponsors])
    out["open_bounties_at_end"] = sum(1 for b in chain.state.bounties.values() if b.status == BountyStatus.OPEN)
    return out


def register_run(n: int, probes: int) -> dict[str, Any]:
    """``node.register`` by ``probes`` keys while ``n`` miners serve a running jail and were slashed this epoch."""
    jailed, fresh = [f"j{i}" for i in range(n)], [f"r{i}" for i in range(probes)]
    chain = SimChain({f"wallet:{addr('bank')}": (n + probes) * 2 * COR}, {"min_self_bond_miner_units": str(COR)})
    for name in [*jailed, *fresh]:
        chain.submit(addr("bank"), "transfer", {"to": addr(name), "amount": str(2 * COR)})
    for name in jailed:
        chain.submit(addr(name), "node.register", {"role": "miner", "self_bond": str(COR)})
    state = chain.state
    for i, name in enumerate(jailed):
        node = state.nodes[addr(name)]
        node.reputation_ppb = 410_000_000 + (i * 7_919) % 80_000_000  # (before the jail: as the node's record had it)
        state.jail(node.id, state.tick + 10**6)
        sid, tick, evidence = state.new_id(), state.tick, {"task": 10**9 + i}
        state.add_slash(SlashRecord(sid, node.id, "commit_mismatch", tick, tick, state.epoch, "0x", evidence, None, 0, 0, 0, 0, 0, {}, None))
    if hasattr(state, "rebuild_entry_indexes"):  # (a core with derived indexes: as a decoded state rebuilds them)
        state.rebuild_entry_indexes()
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"jailed_nodes": n, "window_slashes": n}
    out["register_us"] = per_event(chain, [(addr(name), "node.register", {"role": "miner", "self_bond": str(COR)}) for name in fresh])
    out["start_ppb"] = state.nodes[addr(fresh[-1])].reputation_ppb
    return out


def escalate_run(n: int, probes: int, rule: int) -> dict[str, Any]:
    """The oracle's tick running ``probes`` escalation draws among ``n`` validators, under rule version ``rule``."""
    from cor_incentives.core.beacon import request_draw
    from cor_incentives.core.records import Task, TaskKind, TaskState
    from cor_incentives.core.selection import sync
    from cor_incentives.core.tasks import ESCALATION

    names = [f"v{i}" for i in range(n)]
    chain = SimChain(
        {f"wallet:{addr('bank')}": n * 20 * COR},
        {"rule_version": rule, "min_self_bond_validator_units": str(COR), "epoch_length_ticks": 10**6},
    )
    for name in names:
        chain.submit(addr("bank"), "transfer", {"to": addr(name), "amount": str(20 * COR)})
    for i, name in enumerate(names):  # bonds 1-10 COR: the weights spread
        chain.submit(addr(name), "node.register", {"role": "validator", "self_bond": str((1 + i % 10) * COR)})
    state = chain.state
    sync(state)  # (the index takes every validator: what the network's first draw does)
    for j in range(probes):
        tid = state.new_id()
        first = [addr(names[(7 * j + d) % n]) for d in range(3)]
        state.tasks[tid] = Task(
            tid, TaskKind.NETWORK, None, None, None, "m", "0x", 1, 1, 1, 1, 3, TaskState.COMMITTED, state.tick, state.epoch, 0, 0, "0x", [],
            validators=first, validator_round=dict.fromkeys(first, 0), round=1,
        )  # fmt: skip
        request_draw(state, ESCALATION, tid)
    gc.collect()
    gc.freeze()
    start = time.process_time()
    chain.oracle("tick", {})
    cpu = time.process_time() - start
    drawn = [state.tasks[t].validators[3:] for t in state.tasks]
    assert all(len(d) == 3 for d in drawn), "every escalation drew three validators"
    gc.unfreeze()
    return {"validators": n, "rule": rule, "escalations": probes, "escalation_us": cpu / probes * 1e6}


def bounty_draw_build(validators: int, nodes: int, entries: int) -> tuple[SimChain, int, float]:
    """``validators`` validators and ``nodes − validators`` miners (each self-bonded, funded by the bank), a bounty (no
    named reviewers, prize 1 base unit) and ``entries`` submissions from as many hunters, each funded with 1 base unit by
    the last of a chain of ``LINK_DEPTH`` keys (so each hunter's chain of first funders is as long as the rules follow),
    but the first, funded by the fourth validator; the sponsor delegates to the second and third. Every step an event
    through ``SimChain.submit``. Also the CPU seconds of the entries' events (a transfer and a ``bounty.submit`` each: what
    the attacker makes the network apply; the transfer is only needed for the long chain)."""
    from cor_incentives.core.accounts import LINK_DEPTH

    names = [f"v{i}" for i in range(validators)] + [f"m{i}" for i in range(nodes - validators)]
    params = {"min_self_bond_validator_units": str(COR), "min_self_bond_miner_units": str(COR), "bounty_max_submissions": max(entries, 1)}
    if "bounty_min_prize_units" in Params.__dataclass_fields__:  # rule 21: the 1-unit bounty and 1-unit entries this probe builds
        params |= {"bounty_min_prize_units": "1", "bounty_entry_deposit_units": "1"}
    chain = SimChain({f"wallet:{addr('bank')}": (len(names) * 20 + 100) * COR}, {**params, "epoch_length_ticks": 10**6})
    for name in [*names, "sponsor"]:
        chain.submit(addr("bank"), "transfer", {"to": addr(name), "amount": str(20 * COR)})
    for i, name in enumerate(names):  # bonds 1-10 COR: the weights spread
        role = "validator" if name.startswith("v") else "miner"
        chain.submit(addr(name), "node.register", {"role": role, "self_bond": str((1 + i % 10) * COR)})
    funders = [addr(f"a{i}") for i in range(LINK_DEPTH)]  # a0 funded by a1 ... by the bank
    chain.submit(addr("bank"), "transfer", {"to": funders[-1], "amount": str(COR)})
    for upper, lower in zip(funders[:0:-1], funders[-2::-1], strict=True):
        chain.submit(upper, "transfer", {"to": lower, "amount": str(COR // 2)})
    bid = chain.state.next_id
    chain.submit(addr("sponsor"), "bounty.create", {"prize": "1", "criteria": "c", "winners": 1, "deadline_tick": chain.state.tick + 10})
    for v in names[1:3]:  # two validators the sponsor delegates to, one that funded the first hunter: not candidates
        chain.submit(addr("sponsor"), "stake.delegate", {"node": addr(v), "amount": str(COR)})
    start = time.process_time()
    for i in range(entries):
        hunter = addr(f"h{i}")
        chain.submit(addr(names[3]) if i == 0 else funders[0], "transfer", {"to": hunter, "amount": "1"})
        chain.submit(hunter, "bounty.submit", {"bounty": bid, "content_hash": "0x" + f"{i:064x}"})
    return chain, bid, time.process_time() - start


def bounty_draw_run(validators: int, nodes: int, entries: int, probes: int, rounds: int) -> list[dict[str, Any]]:
    """CPU µs of one bounty reviewer draw (``bounties.draw_reviewers``, called directly as the beacon's handler calls it),
    with ``bounties.reviewer_candidates`` as it is and as the pairwise reference (tests/support/links_reference.py,
    monkeypatched in), alternated ``rounds`` times, ``probes`` draws each; the candidates and the drawn reviewers must
    be equal."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from cor_incentives.core import bounties
    from support.links_reference import pairwise_reviewer_candidates

    chain, bid, entry_cpu = bounty_draw_build(validators, nodes, entries)
    state, b = chain.state, chain.state.bounties[bid]
    current = bounties.reviewer_candidates
    gc.collect()
    gc.freeze()
    rows, seen = [], {}
    for r in range(rounds):
        for label, fn in (("pairwise", pairwise_reviewer_candidates), ("linked_among", current)):
            bounties.reviewer_candidates = fn  # type: ignore[assignment]
            try:
                start = time.process_time()
                for j in range(probes):
                    b.reviewers = ()
                    bounties.draw_reviewers(state, bid, j.to_bytes(32, "big"))
                cpu = time.process_time() - start
            finally:
                bounties.reviewer_candidates = current  # type: ignore[assignment]
            seen.setdefault(label, (list(fn(state, b).items()), b.reviewers))
            rows.append(
                {"validators": validators, "nodes": nodes, "entries": entries, "round": r, "candidates": label, "draw_us": cpu / probes * 1e6}
            )
    assert seen["pairwise"] == seen["linked_among"], "the same candidates (order, weights) and the same drawn reviewers"
    rows.append(
        {
            "validators": validators,
            "entries": entries,
            "candidate_count": len(seen["pairwise"][0]),
            "events": chain.count,
            "entry_events_ms": entry_cpu * 1e3,
        }
    )
    b.reviewers = ()
    gc.unfreeze()
    return rows


def _replayed(chain: SimChain, kind: str, body: dict[str, Any]) -> float:
    """CPU seconds of the oracle's command applied as a replay applies it (no journal: ``apply(..., atomic=False)``)."""
    from cor_incentives.app.beacon import next_value
    from cor_incentives.core.apply import apply as core_apply
    from cor_incentives.core.events import Command, make_event
    from cor_incentives.sim.chain import CHAIN_ID, ORACLE, SIG, beacon_secret

    state = chain.state
    body = {**body, "beacon": next_value(state, beacon_secret)}
    payload = Command(CHAIN_ID, kind, ORACLE, state.nonces.get(ORACLE, 0) + 1, body).encode()
    event = make_event(state.seq + 1, state.tick, payload, SIG, state.head_hash)
    start = time.process_time()
    core_apply(state, event, atomic=False)
    return time.process_time() - start


def draws_run(n: int, atomic: bool) -> dict[str, Any]:
    """The oracle's tick running ``n`` queued miner draws of cancelled tasks (journaled, or as a replay)."""
    from cor_incentives.core.beacon import request_draw
    from cor_incentives.core.records import Task, TaskKind, TaskState
    from cor_incentives.core.tasks import MINERS

    chain = SimChain({f"wallet:{addr('bank')}": 10 * COR}, {"epoch_length_ticks": 10**6})
    state = chain.state
    for _ in range(n):
        tid = state.new_id()
        state.tasks[tid] = Task(
            tid, TaskKind.USER, addr("user"), None, None, "m", "0x", 1, 1, 1, 1, 3, TaskState.CANCELLED, state.tick, state.epoch, 0, 0, "", [],
        )  # fmt: skip
        request_draw(state, MINERS, tid)
    gc.collect()
    gc.freeze()
    if atomic:
        start = time.process_time()
        chain.oracle("tick", {})
        cpu = time.process_time() - start
    else:
        cpu = _replayed(chain, "tick", {})
    assert not state.beacon.pending, "every queued draw ran"
    gc.unfreeze()
    return {"queued_draws": n, "journaled": atomic, "tick_ms": cpu * 1e3, "per_draw_us": cpu / n * 1e6}


def open_bounties_run(n: int, probes: int) -> dict[str, Any]:
    """The oracle's ``tick`` while ``n`` bounties wait for their reviewer draws at deadlines far ahead."""
    chain = SimChain({f"wallet:{addr('bank')}": (n + 10) * COR}, {"epoch_length_ticks": 10**6, "bounty_max_duration_ticks": 10**7})
    state = chain.state
    for i in range(n):
        bid = state.new_id()
        state.bounties[bid] = Bounty(bid, addr("bank"), "bounty", 1, "c", 10**6 + i, 1, (), (), 0, 1, True)
    if hasattr(state, "rebuild_entry_indexes"):
        state.rebuild_entry_indexes()
    gc.collect()
    gc.freeze()
    start = time.process_time()
    for _ in range(probes):
        chain.oracle("tick", {})
    cpu = time.process_time() - start
    gc.unfreeze()
    return {"open_bounties": n, "tick_us": cpu / probes * 1e6}


def finalize_run(n: int, probes: int) -> dict[str, Any]:
    """``bounty.finalize`` of ``probes`` challenges of ``n`` entries each, 32 named reviewers scoring every entry."""
    from cor_incentives.core.records import Submission

    reviewers = tuple(sorted(addr(f"r{i}") for i in range(32)))
    chain = SimChain({f"wallet:{addr('bank')}": 10 * COR}, {"epoch_length_ticks": 10**6})
    state = chain.state
    ids = []
    for j in range(probes):
        bid = state.new_id()
        b = Bounty(bid, addr(f"s{j}"), "challenge", 32 * n, "c", 1, 32, reviewers, (), 0, 1, False)
        for i in range(n):
            hunter = addr(f"h{j}_{i}")
            b.submissions[hunter] = Submission(hunter, "0x" + "ab" * 32, i, 0, {r: (i * 7 + k) % 1000 + 1 for k, r in enumerate(reviewers)})
        state.bounties[bid] = b
        state.ledger.balances[f"escrow:bounty:{bid}"] = b.prize
        state.ledger.balances[f"wallet:{addr('bank')}"] -= b.prize
        ids.append(bid)
    if hasattr(state, "rebuild_entry_indexes"):
        state.rebuild_entry_indexes()
    chain.oracle("tick", {"ticks": state.params.bounty_review_period_ticks + 2})
    gc.collect()
    gc.freeze()
    us = per_event(chain, [(addr("bank"), "bounty.finalize", {"bounty": bid}) for bid in ids])
    gc.unfreeze()
    return {"entries": n, "reviewers": len(reviewers), "finalize_us": us}


def withdraw_order_run(n: int, probes: int) -> dict[str, Any]:
    """``stake.withdraw`` by the first and by the last ``probes`` of ``n`` delegators with a matured entry each."""
    chain = build(n, probes)
    for _ in range(chain.state.params.unbonding_period_epochs):
        chain.oracle("epoch.close", {})
    gc.collect()
    gc.freeze()
    first = [(addr(f"f{i}"), "stake.withdraw", {}) for i in range(probes)]
    last = [(addr(f"f{i}"), "stake.withdraw", {}) for i in range(n - probes, n)]
    out = {"entries": n, "withdraw_first_us": per_event(chain, first), "withdraw_last_us": per_event(chain, last)}
    gc.unfreeze()
    return out


def dust_run(n: int, rule: int | None = None) -> dict[str, Any]:
    """``gov.propose`` and a slash of a node while ``n`` delegators hold positions in it: one base unit each, or from rule 20
    the least a position may hold (``min_position_units``)."""
    from cor_incentives.core.journal import journal
    from cor_incentives.core.params import Params
    from cor_incentives.core.rules import LATEST
    from cor_incentives.core.slashing import slash

    rule = LATEST if rule is None else rule
    unit = Params().min_position_units if rule >= 20 else 1  # (rule 20, RULES_MIN_POSITION: the least a position holds)
    params = {"min_self_bond_miner_units": str(COR), "gov_min_deposit_units": str(COR), "rule_version": rule}
    chain = SimChain({f"wallet:{addr('bank')}": 1_000 * COR + n * unit}, params)
    p = chain.state.params
    for name in ("node", "p"):
        chain.submit(addr("bank"), "transfer", {"to": addr(name), "amount": str(10 * COR)})
    chain.submit(addr("node"), "node.register", {"role": "miner", "self_bond": str(5 * COR)})
    for i in range(n):
        chain.submit(addr("bank"), "transfer", {"to": addr(f"d{i}"), "amount": str(unit)})
        chain.submit(addr(f"d{i}"), "stake.delegate", {"node": addr("node"), "amount": str(unit)})
    for _ in range(2):
        chain.oracle("epoch.close", {})
    gc.collect()
    gc.freeze()
    state, out = chain.state, {"positions": n, "rule": p.rule_version, "unit": unit, "locked_cor": n * unit / COR}
    body = {"kind": "param_change", "title": "t", "changes": {"max_commission_bps": 3000}, "effective_epoch": state.epoch + 2}
    out["propose_ms"] = per_event(chain, [(addr("p"), "gov.propose", body)]) / 1e3
    start = time.process_time()
    try:
        with journal():
            slash(state, addr("node"), "commit_mismatch", state.tick, {"task": 10**9}, None)
            raise EngineError("rolled back")
    except EngineError:
        pass
    out["slash_ms"] = (time.process_time() - start) * 1e3
    gc.unfreeze()
    return out


def attest_run(n: int, probes: int) -> dict[str, Any]:
    """``community.attest`` while the epoch holds ``n`` attestations (one curator's, as the handler leaves them)."""
    from cor_incentives.core.community import MAX_ATTESTATIONS_PER_EPOCH
    from cor_incentives.core.records import Attestation

    cap = MAX_ATTESTATIONS_PER_EPOCH
    if n + probes > cap:
        raise SystemExit(f"--attest: N + probes must be at most {cap}")
    params = {"community_curator_points_per_epoch": 10**9, "epoch_length_ticks": 10**6}
    chain = SimChain({f"wallet:{addr('bank')}": 10 * COR}, params)
    curator = addr("curator")
    chain.oracle("community.appoint", {"curator": curator})
    state = chain.state
    members = [addr(f"m{i}") for i in range(cap)]
    state.community_eligible = set(members)
    for i in range(n):
        state.attestations.append(Attestation(curator, members[i], "forum", 1, f"r{i}", state.tick, state.epoch))
        state.community_points[members[i]] = 1
    if hasattr(state, "rebuild_entry_indexes"):
        state.rebuild_entry_indexes()
    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"attestations": n}
    fresh = [(curator, "community.attest", {"member": members[n + i], "kind": "forum", "points": 1, "reference": "new"}) for i in range(probes)]
    out["attest_us"] = per_event(chain, fresh)
    again = [(curator, "community.attest", {"member": members[i], "kind": "forum", "points": 1, "reference": f"r{i}"}) for i in range(probes)]
    out["duplicate_us"] = per_event(chain, again, refused=True)
    assert len(state.attestations) == n + probes, "every duplicate was refused"
    for i in range(n + probes, cap):
        state.attestations.append(Attestation(curator, members[i], "forum", 1, f"r{i}", state.tick, state.epoch))
        state.community_points[members[i]] = 1
    if hasattr(state, "rebuild_entry_indexes"):
        state.rebuild_entry_indexes()
    full = [(curator, "community.attest", {"member": members[i], "kind": "forum", "points": 1, "reference": "more"}) for i in range(probes)]
    out["at_cap_us"] = per_event(chain, full, refused=True)
    assert len(state.attestations) == cap, "every attest at the cap was refused"
    gc.unfreeze()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--votes", action="store_true", help="gov.vote on a snapshot of N nodes instead (sizes: nodes)")
    ap.add_argument("--ticks", action="store_true", help="the oracle's tick and bounty.create with N closed proposals and bounties")
    ap.add_argument("--register", action="store_true", help="node.register with N jailed miners slashed in the window")
    ap.add_argument("--escalate", action="store_true", help="escalation draws among N validators, rule 18 then 19, --rounds times")
    ap.add_argument("--rounds", type=int, default=1, help="--escalate: alternated (rule 18, rule 19) pairs per size")
    ap.add_argument("--bounty-draw", action="store_true", help="a bounty's reviewer draw among N validators: pairwise vs linked_among")
    ap.add_argument("--nodes", type=int, default=10_000, help="--bounty-draw: nodes in all (validators + miners)")
    ap.add_argument("--entries", default="10,1000", help="--bounty-draw: the bounty's submissions (one run each)")
    ap.add_argument("--draws", action="store_true", help="a tick running N queued draws of cancelled tasks, journaled then replayed")
    ap.add_argument("--open-bounties", action="store_true", help="the oracle's tick with N bounties waiting for far deadlines")
    ap.add_argument("--finalize", action="store_true", help="bounty.finalize of challenges with N entries and 32 reviewers")
    ap.add_argument("--withdraw-order", action="store_true", help="stake.withdraw by the first and the last of N delegators")
    ap.add_argument("--dust", action="store_true", help="gov.propose and a slash with N one-unit delegations in one node")
    ap.add_argument("--rule", type=int, default=None, help="--dust: the chain's rule version (default the latest; from 20: 1 COR each)")
    ap.add_argument("--attest", action="store_true", help="community.attest with N attestations in the epoch (N + probes <= 10 000)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.attest:
        print(json.dumps([attest_run(int(s), args.probes) for _ in range(args.rounds) for s in args.sizes.split(",")]))
        return
    if args.draws:
        print(json.dumps([draws_run(int(s), atomic) for _ in range(args.rounds) for s in args.sizes.split(",") for atomic in (True, False)]))
        return
    if args.open_bounties:
        print(json.dumps([open_bounties_run(int(s), args.probes) for s in args.sizes.split(",")]))
        return
    if args.finalize:
        print(json.dumps([finalize_run(int(s), min(args.probes, 20)) for s in args.sizes.split(",")]))
        return
    if args.withdraw_order:
        print(json.dumps([withdraw_order_run(int(s), args.probes) for s in args.sizes.split(",")]))
        return
    if args.dust:
        print(json.dumps([dust_run(int(s), args.rule) for s in args.sizes.split(",")]))
        return
    if args.escalate:
        rows = [escalate_run(int(s), args.probes, rule) for _ in range(args.rounds) for s in args.sizes.split(",") for rule in (18, 19)]
        print(json.dumps(rows))
        return
    if args.bounty_draw:
        sizes = [(int(n), int(e)) for n in args.sizes.split(",") for e in args.entries.split(",")]
        print(json.dumps([row for n, e in sizes for row in bounty_draw_run(n, max(args.nodes, n), e, args.probes, args.rounds)]))
        return
    if args.votes or args.ticks or args.register:
        probe = vote_run if args.votes else tick_run if args.ticks else register_run
        print(json.dumps([probe(int(s), args.probes) for s in args.sizes.split(",")]))
        return
    rows = [run(int(s), args.probes) for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(
            f"N={r['pending_entries']:>7}  undelegate {r['undelegate_us']:8.1f} µs  withdraw (refused) {r['withdraw_early_us']:8.1f} µs  "
            f"cancel_unbond {r['cancel_unbond_us']:8.1f} µs  redelegate {r['redelegate_us']:8.1f} µs  withdraw {r['withdraw_us']:8.1f} µs"
        )


if __name__ == "__main__":
    main()
