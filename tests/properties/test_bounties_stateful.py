"""Random bounty and challenge traffic on the core (create, submit, award, score, finalize, expire, tick,
including malformed and unauthorised commands): conservation after every event, no bounty escrow ever
overdrawn (escrow = prize − paid − refunded + deposits held, prize − paid − refunded ≥ 0, empty once expired), prizes within their ranks, every
entry deposits held in the escrow until the challenge is finalized or the bounty expires and then all
returned (rule 21), every
rejected command leaves the state unchanged (``support.exact``: its view and its encoding, key order
included), and replay reproduces the state exactly."""

import hashlib
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cor_incentives.core.accounts import is_linked
from cor_incentives.core.apply import HANDLERS, conservation_holds, replay
from cor_incentives.core.bounties import (
    entry_reviewers,
    prize_for_rank,
    process_bounty_award,
    process_bounty_create,
    process_bounty_expire,
    process_bounty_finalize,
    process_bounty_score,
    process_bounty_submit,
    review_end_tick,
    review_quorum,
)
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.exact import assert_unchanged, exact, snapshot

STEPS = int(os.environ.get("COR_BOUNTY_STEPS", "50"))
EXAMPLES = int(os.environ.get("COR_BOUNTY_EXAMPLES", "60"))
HANDLERS_NEW = {
    "bounty.create": (process_bounty_create, False),
    "bounty.submit": (process_bounty_submit, False),
    "bounty.award": (process_bounty_award, False),
    "bounty.score": (process_bounty_score, False),
    "bounty.finalize": (process_bounty_finalize, False),
    "bounty.expire": (process_bounty_expire, False),
}
PEOPLE = ["s0", "s1", "h0", "h1", "h2", "h3", "j0", "j1", "v0", "v1"]
ADDRS = [addr(n) for n in PEOPLE]
PAYOUTS = [None, [10_000], [6000, 4000], [5000, 3000, 2000], [9998, 1, 1], [3334, 3333, 3333]]


@pytest.fixture(autouse=True, scope="module")
def wired():
    added = [k for k in HANDLERS_NEW if k not in HANDLERS]
    for k in added:
        HANDLERS[k] = HANDLERS_NEW[k]
    yield
    for k in added:
        del HANDLERS[k]


def chash(i: int) -> str:
    return "0x" + hashlib.sha256(str(i).encode()).hexdigest()


class BountyMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.c = Chain(
            wallets={n: 5_000 * COR for n in PEOPLE}, params={"epoch_length_ticks": 25, "bounty_review_quorum": 2, "bounty_drawn_reviewers": 3}
        )
        self.c.as_("h0", "transfer", {"to": addr("v0"), "amount": str(COR)})  # v0 is linked to h0: never drawn when h0 submits
        for v in ("v0", "v1", "s1"):
            self.c.as_(v, "node.register", {"role": "validator", "self_bond": str(2_000 * COR)})

    def _try(self, who, kind, body):
        before = snapshot(self.c.state)
        try:
            self.c.submit(who if isinstance(who, str) else ADDRS[who % len(ADDRS)], kind, body)
        except EngineError:
            assert_unchanged(self.c.state, before, f"rejected {kind} changed the state")

    def _bounty(self, i, kind=None):
        """An existing bounty id: with ``kind``, preferably an open one of that kind with entries."""
        bs = self.c.state.bounties
        ids = sorted(bs)
        fit = [b for b in ids if bs[b].kind == kind]
        best = [b for b in fit if bs[b].status == "open" and bs[b].submissions]
        pick = best or fit or ids
        return pick[i % len(pick)]

    def _some(self):
        return bool(self.c.state.bounties)

    @initialize(
        kinds=st.lists(st.sampled_from(["bounty", "challenge"]), min_size=1, max_size=3),
        winners=st.integers(1, 3),
        named=st.booleans(),
        hunters=st.integers(1, 4),
    )
    def seed(self, kinds, winners, named, hunters):
        """Start with open bounties that already have entries, so that reviews happen early."""
        for k, kind in enumerate(kinds):
            bid = self.c.state.next_id
            self.c.submit(
                ADDRS[k % 2],
                "bounty.create",
                {
                    "prize": str((k + 1) * 100 * COR + k),
                    "criteria": "seeded",
                    "winners": winners,
                    "deadline_tick": self.c.state.tick + 20,
                    "reviewers": [ADDRS[6], ADDRS[7]] if named else [],
                    "kind": kind,
                },
            )
            for h in range(hunters):
                self.c.submit(ADDRS[2 + h], "bounty.submit", {"bounty": bid, "content_hash": chash(h)})

    @rule(kind=st.sampled_from(["bounty.submit", "bounty.award", "bounty.score", "bounty.finalize", "bounty.expire"]), who=st.integers(0, 9))
    def unknown_bounty(self, kind, who):
        self._try(who, kind, {"bounty": 424242, "submission": ADDRS[2], "content_hash": chash(0), "score_ppb": 1})

    def _reviewer(self, bid, j, sane):
        """Mostly a reviewer of the bounty (a named one, or a validator when none is named); else anyone."""
        b = self.c.state.bounties.get(bid)
        if b is None or not sane:
            return j
        pool = list(b.reviewers) or [addr("v0"), addr("v1"), addr("s1")]
        return pool[j % len(pool)]

    def _hunter(self, bid, j, sane):
        """Mostly a hunter who submitted to the bounty; else anyone."""
        b = self.c.state.bounties.get(bid)
        subs = sorted(b.submissions) if b is not None else []
        return subs[j % len(subs)] if subs and sane else ADDRS[j % len(ADDRS)]

    @precondition(lambda self: len(self.c.state.bounties) < 6)
    @rule(
        who=st.integers(0, 9),
        prize=st.one_of(st.integers(1, 4_000 * COR), st.integers(0, 50)),
        winners=st.integers(0, 4),
        payout=st.integers(0, 5),
        reviewers=st.sampled_from([[], [6], [6, 7], [6, 7, 8], [0, 2]]),
        kind=st.sampled_from(["bounty", "challenge", "bounty", "challenge", "nope"]),
        ahead=st.integers(-1, 40),
    )
    def create(self, who, prize, winners, payout, reviewers, kind, ahead):
        body = {
            "prize": str(prize),
            "criteria": "do the thing",
            "deadline_tick": self.c.state.tick + ahead,
            "winners": winners,
            "reviewers": [ADDRS[r] for r in reviewers],
            "kind": kind,
        }
        fitting = [p for p in PAYOUTS if p is None or len(p) == winners]
        choice = (fitting + PAYOUTS)[payout % (len(fitting) + 1)] if payout < 5 else PAYOUTS[payout % len(PAYOUTS)]
        if choice is not None:
            body["payout_bps"] = choice
        self._try(who, "bounty.create", body)

    @precondition(lambda self: self._some())
    @rule(who=st.integers(2, 9), i=st.integers(0, 10), h=st.integers(0, 3), bad=st.booleans())
    def submit(self, who, i, h, bad):
        self._try(who, "bounty.submit", {"bounty": self._bounty(i), "content_hash": "0xzz" if bad and h == 0 else chash(h)})

    @precondition(lambda self: self._some())
    @rule(
        who=st.integers(0, 9),
        i=st.integers(0, 10),
        hunter=st.integers(0, 9),
        sane=st.sampled_from([True, True, True, False]),
    )
    def award(self, who, i, hunter, sane):
        bid = self._bounty(i, "bounty" if sane else None)
        body = {"bounty": bid, "submission": self._hunter(bid, hunter, sane)}
        self._try(self._reviewer(bid, who, sane), "bounty.award", body)

    @precondition(lambda self: self._some())
    @rule(
        who=st.integers(0, 9),
        i=st.integers(0, 10),
        hunter=st.integers(0, 9),
        score=st.one_of(st.integers(0, 10**9), st.sampled_from([-1, 0, 10**9 + 1])),
        sane=st.sampled_from([True, True, True, False]),
    )
    def score(self, who, i, hunter, score, sane):
        bid = self._bounty(i, "challenge" if sane else None)
        self._try(self._reviewer(bid, who, sane), "bounty.score", {"bounty": bid, "submission": self._hunter(bid, hunter, sane), "score_ppb": score})

    @precondition(lambda self: self._some())
    @rule(who=st.integers(0, 9), i=st.integers(0, 10), sane=st.booleans())
    def finalize(self, who, i, sane):
        bid = self._bounty(i, "challenge" if sane else None)
        self._try(self._reviewer(bid, who, sane), "bounty.finalize", {"bounty": bid})

    @precondition(lambda self: self._some())
    @rule(i=st.integers(0, 10), base=st.integers(0, 10**9), kind=st.sampled_from(["bounty", "challenge"]))
    def review_all(self, i, base, kind):
        """Every reviewer scores (challenge) or approves (bounty) every entry."""
        b = self.c.state.bounties[self._bounty(i, kind)]
        reviewers = list(b.reviewers) or [addr("v0"), addr("v1"), addr("s1")]
        for k, hunter in enumerate(sorted(b.submissions)):
            for j, r in enumerate(reviewers):
                if b.kind == "challenge":
                    self._try(r, "bounty.score", {"bounty": b.id, "submission": hunter, "score_ppb": (base + 7919 * k + 104729 * j) % (10**9 + 1)})
                else:
                    self._try(r, "bounty.award", {"bounty": b.id, "submission": hunter})

    @precondition(lambda self: self._some())
    @rule(who=st.integers(0, 9), i=st.integers(0, 10))
    def expire(self, who, i):
        self._try(who, "bounty.expire", {"bounty": self._bounty(i)})

    @rule(n=st.sampled_from([1, 2, 5, 10, 40, 120]))
    def tick(self, n):
        self.c.oracle("tick", {"ticks": n})

    @invariant()
    def escrow_never_overdrawn(self):
        s = self.c.state
        conservation_holds(s)
        for b in s.bounties.values():
            escrow = s.ledger.balance(f"escrow:bounty:{b.id}")
            assert escrow == b.prize - b.paid - b.refunded + b.deposits_held and b.prize - b.paid - b.refunded >= 0
            # rule 21: every entry deposited bounty_entry_deposit_units, held until finalize or expiry, then all returned
            assert all(x.deposit == s.params.bounty_entry_deposit_units for x in b.submissions.values())
            assert b.deposits_held == (sum(x.deposit for x in b.submissions.values()) if b.status == "open" else 0)
            assert b.paid == sum(x.paid for x in b.submissions.values()) <= b.prize
            ranks = [x.rank for x in b.submissions.values() if x.rank is not None]
            assert len(ranks) == len(set(ranks)) == b.award_count <= b.winners
            k = review_quorum(b)
            for x in b.submissions.values():
                assert x.paid == (prize_for_rank(b, x.rank) if x.rank is not None else 0)
                assert x.hunter != b.sponsor and x.hunter not in b.reviewers
                assert set(x.approvals) <= set(b.reviewers) and set(x.scores) <= set(b.reviewers)
                assert not any(is_linked(s, r, x.hunter) for r in [*x.approvals, *x.scores])
                if x.rank is not None:  # paid only with k (at least a majority of) reviewers behind it, after the deadline
                    if b.kind == "bounty":
                        assert 2 * len(x.awarded_by) > len(b.reviewers) and len(x.awarded_by) >= min(k, b.review_quorum) >= 1
                        assert len(set(x.awarded_by)) == len(x.awarded_by)
                    else:
                        eligible = entry_reviewers(s, b, x)
                        assert 2 * sum(1 for r in eligible if x.scores.get(r, 0) > 0) > len(eligible)
                    assert s.tick >= b.deadline_tick
            if b.drawn and b.drawn_tick is not None:
                assert b.drawn_tick >= b.deadline_tick and not any(is_linked(s, r, h) for r in b.reviewers for h in [b.sponsor, *b.submissions])
            if b.finalized_tick is not None:
                assert b.finalized_tick >= review_end_tick(s, b)
            if b.status == "expired":
                assert escrow == 0 and b.refunded == b.prize - b.paid
            else:
                assert b.refunded == 0

    def teardown(self):
        assert exact(replay(self.c.events, check_each=True)) == exact(self.c.state)


BountyMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestBountyMachine = BountyMachine.TestCase
