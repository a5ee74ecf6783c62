"""``accounts.linked_among`` (one party set against many addresses) gives exactly the pairwise ``is_linked`` answer, and a
bounty's reviewer candidates and drawn reviewers are those of the pairwise definition (tests/support/links_reference.py,
the code before it): random funding graphs (cycles, chains past ``LINK_DEPTH``), delegations both ways, parties that
are candidates or run nodes, validators that are not selectable."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import bounties
from cor_incentives.core.accounts import LINK_DEPTH, funding_chain, is_linked, linked_among, linked_by_party
from cor_incentives.core.apply import replay
from cor_incentives.core.records import Account, Node
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state, state_hash
from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.links_reference import linked_to_any, pairwise_entry_reviewers, pairwise_entry_score, pairwise_ranking, pairwise_reviewer_candidates

POOL = [f"x{i}" for i in range(14)]  # 14 > LINK_DEPTH + 1: a line through the pool is longer than the rules follow


def synthetic(funders: list[int | None], delegations: dict[int, set[int]]) -> State:
    """Accounts with the given first funders (an index into POOL, or none), nodes run by the keys of ``delegations``."""
    state = State()
    for i, f in enumerate(funders):
        if f != -1:
            state.accounts[POOL[i]] = Account(0, 0, None if f is None or f == i else POOL[f])
    for i, ds in delegations.items():
        state.nodes[POOL[i]] = Node(POOL[i], "validator", 0, 0, delegators={POOL[d] for d in ds if d != i})
    return state


index = st.integers(0, len(POOL) - 1)
graphs = st.tuples(
    st.lists(st.one_of(st.none(), st.just(-1), index), min_size=len(POOL), max_size=len(POOL)),  # -1: never seen
    st.dictionaries(index, st.sets(index, max_size=5), max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(graphs, st.sets(index), st.lists(index, max_size=8), st.booleans())
def test_linked_among_is_the_pairwise_definition(graph, candidates, parties, line):
    funders, delegations = graph
    if line:  # x0 <- x1 <- ... <- x13: chains longer than LINK_DEPTH (and a cycle where the draw closes one)
        funders = [i + 1 if i + 1 < len(POOL) else funders[i] for i in range(len(POOL))]
    state = synthetic(funders, delegations)
    cands, party_names = [POOL[c] for c in candidates], [POOL[p] for p in parties]
    expected = {a for a in cands if linked_to_any(state, a, party_names)}
    assert linked_among(state, cands, party_names) == expected
    assert linked_among(state, cands, iter(party_names)) == expected  # any iterable, read once
    by_party = linked_by_party(state, iter(cands), iter(party_names))  # per party: is_linked of each pair
    assert by_party == {p: {a for a in cands if is_linked(state, a, p)} for p in party_names}
    assert set().union(*by_party.values()) == expected


def test_the_chain_is_followed_from_each_end_as_far_as_link_depth():
    line = [*range(1, len(POOL)), None]  # x_i first funded by x_{i+1}
    state = synthetic(line, {})
    assert funding_chain(state, "x0") == POOL[1 : LINK_DEPTH + 1]
    assert linked_among(state, ["x0"], [POOL[LINK_DEPTH]]) == {"x0"}  # a party 8 steps up x0's chain
    assert linked_among(state, ["x0"], [POOL[LINK_DEPTH + 1]]) == set()  # 9 steps: out of reach
    assert linked_among(state, [POOL[LINK_DEPTH]], ["x0"]) == {POOL[LINK_DEPTH]}  # the candidate 8 steps up the party's
    assert linked_among(state, [POOL[LINK_DEPTH + 1]], ["x0"]) == set()
    assert not is_linked(state, "x0", POOL[LINK_DEPTH + 1])
    cycle = synthetic([1, 2, 0, *([None] * (len(POOL) - 3))], {})  # x0 <- x1 <- x2 <- x0: no repeats, no endless walk
    assert funding_chain(cycle, "x0") == ["x1", "x2", "x0"]
    assert linked_among(cycle, ["x0", "x1", "x3"], ["x2"]) == {"x0", "x1"}


def test_delegation_links_both_ways_and_a_party_is_linked_to_itself():
    state = synthetic([None] * len(POOL), {0: {1}, 2: {3}})  # x1 delegates to x0's node, x3 to x2's
    assert linked_among(state, ["x0", "x2", "x4"], ["x1"]) == {"x0"}  # the party delegates to the candidate's node
    assert linked_among(state, ["x1", "x3", "x4"], ["x2"]) == {"x3"}  # the candidate delegates to the party's node
    assert linked_among(state, ["x4", "x5"], ["x5", "x5"]) == {"x5"}
    assert linked_among(state, ["x0"], []) == set() and linked_among(state, [], ["x1"]) == set()
    assert linked_by_party(state, ["x0", "x2", "x4"], ["x1", "x2", "x1"]) == {"x1": {"x0"}, "x2": {"x2"}}
    assert linked_by_party(state, ["x0"], []) == {} and linked_by_party(state, [], ["x1"]) == {"x1": set()}


def h(i: int) -> str:
    return "0x" + hashlib.sha256(str(i).encode()).hexdigest()


GENESIS = ["bank", "g0", "g1", "g2"]
KEYS = [f"k{i}" for i in range(10)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 100), min_size=len(KEYS), max_size=len(KEYS)),  # each key's first funder, among those before it
    st.lists(st.sampled_from(["validator", "miner", None]), min_size=len(KEYS), max_size=len(KEYS)),
    st.lists(st.tuples(st.sampled_from(GENESIS + KEYS), st.integers(0, len(KEYS) - 1)), max_size=8),  # delegations
    st.sets(st.integers(0, len(KEYS) - 1), max_size=2),  # validators that unbond below the minimum (not selectable)
    st.sampled_from(GENESIS + KEYS),  # the sponsor
    st.lists(st.sampled_from(GENESIS + KEYS), max_size=8),  # hunters
)
def test_reviewer_candidates_and_the_draw_are_those_of_the_pairwise_definition(funder_picks, roles, delegations, unbond, sponsor, hunters):
    c = Chain(wallets=dict.fromkeys(GENESIS, 1_000_000 * COR), beacon=64)
    for i, key in enumerate(KEYS):  # each key first funded (1 base unit) by a genesis address or an earlier key
        earlier = GENESIS + KEYS[:i]
        c.as_(earlier[funder_picks[i] % len(earlier)], "transfer", {"to": addr(key), "amount": "1"})
        c.as_("bank", "transfer", {"to": addr(key), "amount": str(10_000 * COR)})  # (a later credit: the funder stays)
    for key, role in zip(KEYS, roles, strict=True):
        if role is not None:
            c.as_(key, "node.register", {"role": role, "self_bond": str(5_000 * COR)})
    nodes = [k for k, r in zip(KEYS, roles, strict=True) if r is not None]
    for who, target in delegations:
        if nodes and who != nodes[target % len(nodes)]:
            c.as_(who, "stake.delegate", {"node": addr(nodes[target % len(nodes)]), "amount": str(COR)})
    for i in unbond:
        if roles[i] == "validator":
            c.as_(KEYS[i], "stake.unbond", {"amount": str(4_000 * COR)})  # 1 000 COR left: under the 2 000 minimum
    bid = c.state.next_id
    c.as_(sponsor, "bounty.create", {"prize": str(10 * COR), "criteria": "c", "winners": 1, "deadline_tick": c.state.tick + 3})
    for i, hunter in enumerate(dict.fromkeys(hunters)):
        if hunter != sponsor:
            c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(i)})
    b = c.state.bounties[bid]
    assert list(bounties.reviewer_candidates(c.state, b).items()) == list(pairwise_reviewer_candidates(c.state, b).items())
    while b.drawn_tick is None or (c.state.beacon is not None and c.state.beacon.pending):  # the request, then the draw
        c.oracle("tick", {})
    assert b.drawn_tick is not None and (bool(b.reviewers) == bool(b.submissions and pairwise_reviewer_candidates(c.state, b)))
    with pytest.MonkeyPatch.context() as mp:  # the same log, the pairwise candidates: the same reviewers, the same state
        mp.setattr(bounties, "reviewer_candidates", pairwise_reviewer_candidates)
        again = replay(c.events)
    assert again.bounties[bid].reviewers == b.reviewers
    assert state_hash(again) == state_hash(c.state)


JUDGES = [f"j{i}" for i in range(5)]
HUNTERS = [f"h{i}" for i in range(8)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 100), min_size=len(HUNTERS), max_size=len(HUNTERS)),  # each hunter's first funder (a judge, bank, an earlier hunter)
    st.lists(st.tuples(st.sampled_from(JUDGES + HUNTERS), st.sampled_from(JUDGES + HUNTERS)), max_size=6),  # delegations
    st.lists(st.lists(st.one_of(st.none(), st.integers(0, 1000)), min_size=len(JUDGES), max_size=len(JUDGES)), min_size=8, max_size=8),  # scores
    st.integers(1, 4),  # winners
)
def test_a_challenge_is_ranked_scored_and_paid_as_by_the_pairwise_links(funder_picks, delegations, scores, winners):
    """A challenge whose named reviewers fund hunters or delegate to them (or the reverse), scored and finalized: every
    entry's eligible reviewers and score, and the ranking, are those of ``is_linked`` per pair (main 8729d6b's code,
    tests/support/links_reference.py), and the log replayed with that code gives the same state hash and snapshot bytes."""
    c = Chain(wallets=dict.fromkeys(["bank", "sponsor", *JUDGES], 1_000_000 * COR))
    for i, hunter in enumerate(HUNTERS):
        earlier = ["bank", *JUDGES, *HUNTERS[:i]]
        c.as_(earlier[funder_picks[i] % len(earlier)], "transfer", {"to": addr(hunter), "amount": "1"})
        c.as_("bank", "transfer", {"to": addr(hunter), "amount": str(10_000 * COR)})
    for who in [*JUDGES[:3], *HUNTERS[:3]]:  # nodes run by some judges and hunters
        c.as_(who, "node.register", {"role": "validator", "self_bond": str(5_000 * COR)})
    for who, node in delegations:
        if node in [*JUDGES[:3], *HUNTERS[:3]] and who != node:
            c.as_(who, "stake.delegate", {"node": addr(node), "amount": str(COR)})
    bid = c.state.next_id
    body = {"prize": str(100 * COR), "criteria": "c", "winners": winners, "deadline_tick": c.state.tick + 3, "kind": "challenge"}
    c.as_("sponsor", "bounty.create", {**body, "reviewers": [addr(j) for j in JUDGES]})
    for i, hunter in enumerate(HUNTERS):
        c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(i)})
    c.oracle("tick", {"ticks": 3})
    b = c.state.bounties[bid]
    for hunter, row in zip(HUNTERS, scores, strict=True):
        sub = b.submissions[addr(hunter)]
        assert bounties.entry_reviewers(c.state, b, sub) == pairwise_entry_reviewers(c.state, b, sub)
        for judge, score in zip(JUDGES, row, strict=True):
            if score is not None and not is_linked(c.state, addr(judge), sub.hunter):
                c.as_(judge, "bounty.score", {"bounty": bid, "submission": sub.hunter, "score_ppb": score})
    c.oracle("tick", {"ticks": c.state.params.bounty_review_period_ticks})
    assert [s.hunter for s in bounties.ranking(c.state, b)] == [s.hunter for s in pairwise_ranking(c.state, b)]
    assert [bounties.entry_score(c.state, b, s) for s in b.submissions.values()] == [
        pairwise_entry_score(c.state, b, s) for s in b.submissions.values()
    ]
    c.as_("bank", "bounty.finalize", {"bounty": bid})
    assert any(s.rank is not None for s in b.submissions.values()) == bool(pairwise_ranking(c.state, b))
    with pytest.MonkeyPatch.context() as mp:  # the same log, the pairwise ranking and scores: the same state
        mp.setattr(bounties, "ranking", pairwise_ranking)
        mp.setattr(bounties, "entry_score", pairwise_entry_score)
        again = replay(c.events)
    assert state_hash(again) == state_hash(c.state)
    assert encode_state(again) == encode_state(c.state)
