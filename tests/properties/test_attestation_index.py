"""The epoch's attestation indexes (``State.attested``, ``State.curator_points``; session 25's finding: ``community.attest``
scanned every attestation of the epoch twice, ~1 ms an attest near the 10 k cap): random sequences of attests (accepted
and refused for each reason), attests and epoch closes refused after their writes, curator removals, epoch closes and
snapshot round trips; after each step the indexes equal a scan of ``state.attestations``, a refused event leaves them as
they were, and the replay of the log (every accepted event) rebuilds the same state and indexes. An attest reads neither
the attestation list whole nor its indexes whole."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cor_incentives.core import apply as apply_module
from cor_incentives.core.community import process_community_attest
from cor_incentives.core.errors import EngineError
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import state_hash
from cor_incentives.core.units import COR
from support.chain import Chain, addr, refusing
from support.replays import replayed_to, through_snapshot
from support.scans import ListScans

CURATORS = ["cur0", "cur1", "cur2"]
MEMBERS = ["m0", "m1", "m2", "m3", "m4", "poor"]  # "poor" is never eligible
REFERENCES = ["r0", "r1", "r2"]
EPOCH_CLOSE = apply_module.HANDLERS["epoch.close"][0]
PARAMS = {"community_max_points_per_member_epoch": 120, "community_curator_points_per_epoch": 150}


def scanned(state: State) -> tuple[set[tuple[str, str]], dict[str, int]]:
    """What the indexes must hold: a scan of the epoch's attestations."""
    points: dict[str, int] = {}
    for a in state.attestations:
        points[a.curator] = points.get(a.curator, 0) + a.points
    return {(a.member, a.reference) for a in state.attestations}, points


def indexes(state: State) -> tuple[set[tuple[str, str]], dict[str, int]]:
    return set(state.attested), dict(state.curator_points)


def network() -> Chain:
    wallets = {**{c: 10 * COR for c in CURATORS}, **{m: 5_000 * COR for m in MEMBERS if m != "poor"}, "poor": 1}
    c = Chain(wallets=wallets, params=PARAMS)
    for cur in CURATORS:
        c.oracle("community.appoint", {"curator": addr(cur)})
    c.oracle("epoch.close", {})  # genesis wallets are one epoch old: eligible from epoch 1 on
    return c


KINDS = ["attest"] * 10 + [
    "attest_refused",  # the handler's writes, then a refusal
    "epoch.close",
    "epoch.close_refused",  # the close's writes (the indexes reset), then a refusal
    "remove",
    "appoint",
    "snapshot",
]  # mostly attests, so an epoch fills up to the caps and repeats pairs
STEP = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(CURATORS * 3 + MEMBERS[:1]),  # the actor (m0 is no curator: not_a_curator); the curator of remove/appoint
    st.sampled_from(MEMBERS[:5] * 2 + ["poor", CURATORS[0]]),  # (poor: member_not_eligible; cur0 itself: self_attestation)
    st.sampled_from(REFERENCES),
    st.sampled_from([1, 7, 20, 40, 60, 100, 0, 101]),  # (0 and 101: invalid_points; the larger ones reach the caps)
)


def body(member: str, reference: str, points: int) -> dict[str, Any]:
    return {"member": addr(member), "kind": "forum", "points": points, "reference": reference}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=10, max_size=80))
def test_the_indexes_always_equal_a_scan_of_the_attestations(steps):
    c = network()
    codes: set[str] = set()
    for step in steps:
        kind = step[0]
        before, hashed = indexes(c.state), state_hash(c.state)
        try:
            if kind in ("attest", "attest_refused"):
                handler = refusing(process_community_attest) if kind == "attest_refused" else process_community_attest
                with mock.patch.dict(apply_module.HANDLERS, {"community.attest": (handler, False)}):
                    c.as_(step[1], "community.attest", body(*step[2:]))
            elif kind in ("epoch.close", "epoch.close_refused"):
                handler = refusing(EPOCH_CLOSE) if kind == "epoch.close_refused" else EPOCH_CLOSE
                with mock.patch.dict(apply_module.HANDLERS, {"epoch.close": (handler, True)}):
                    c.oracle("epoch.close", {})
            elif kind in ("remove", "appoint"):
                c.oracle(f"community.{kind}", {"curator": addr(step[1])})
            else:
                c.state = through_snapshot(c.state)
        except EngineError as exc:
            codes.add(exc.code)
            assert indexes(c.state) == before and state_hash(c.state) == hashed, (step, exc.code)  # a refusal changes nothing
        assert indexes(c.state) == scanned(c.state), step
    replayed = replayed_to(c.events, c.state)
    assert indexes(replayed) == indexes(c.state) == scanned(replayed)
    assert codes <= {
        "test_refusal",
        "not_a_curator",
        "self_attestation",
        "invalid_points",
        "duplicate_attestation",
        "member_not_eligible",
        "member_points_cap",
        "curator_budget_spent",
        "already_curator",
        "curator_not_found",
    }, codes


def test_a_sequence_reaches_every_refusal_and_the_indexes_follow():
    """One fixed sequence through each refusal the indexes answer (duplicate, budget) and an epoch close."""
    c = network()
    c.as_("cur0", "community.attest", body("m0", "r0", 100))
    c.as_("cur1", "community.attest", body("m1", "r0", 50))
    assert indexes(c.state) == ({(addr("m0"), "r0"), (addr("m1"), "r0")}, {addr("cur0"): 100, addr("cur1"): 50})
    for who, args, code in [
        ("cur1", ("m0", "r0", 1), "duplicate_attestation"),  # another curator, the same (member, reference)
        ("cur0", ("m2", "r1", 51), "curator_budget_spent"),  # 100 + 51 > 150
    ]:
        with pytest.raises(EngineError) as exc:
            c.as_(who, "community.attest", body(*args))
        assert exc.value.code == code
    with pytest.raises(EngineError) as exc:
        c.as_("cur0", "community.attest", body("m2", "r1", 51))
    assert exc.value.message == f"curator {addr('cur0')} gave 100 points this epoch; its budget is 150"  # the message as before
    assert exc.value.details == {"points": 100, "budget": 150}
    c.as_("cur0", "community.attest", body("m0", "r1", 20))  # the same member, another reference
    c.as_("cur0", "community.attest", body("m2", "r1", 30))  # the budget to the point
    assert indexes(c.state) == scanned(c.state) and c.state.curator_points[addr("cur0")] == 150
    c.oracle("epoch.close", {})
    assert indexes(c.state) == (set(), {}) == scanned(c.state)
    c.as_("cur0", "community.attest", body("m0", "r0", 100))  # a new epoch: the pair and the budget are free again


def test_an_attest_reads_no_attestation_list_whole():
    """The duplicate check and the curator's budget read the indexes, not ``state.attestations`` (each a scan before)."""
    c = network()
    c.check = False  # the full check scans them: it is not the handler
    for i, m in enumerate(MEMBERS[:5]):
        c.as_(CURATORS[i % 3], "community.attest", body(m, "r0", 10))
    c.state.attestations.__class__ = ListScans
    ListScans.count = 0
    c.as_("cur0", "community.attest", body("m1", "r1", 10))
    with pytest.raises(EngineError) as exc:
        c.as_("cur1", "community.attest", body("m1", "r1", 10))
    assert exc.value.code == "duplicate_attestation"
    assert ListScans.count == 0
