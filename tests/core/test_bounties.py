"""Bounties and challenges on the pure core: escrow, k-of-n approvals after the deadline, reviewers drawn from
validators and kept apart from the submitters they are linked to, scores and medians, finalize after the review
period, expiry refunds, statement lines, and a precise rejection (that changes nothing) for every bad command."""

import pytest

from cor_incentives.app import views
from cor_incentives.core.apply import HANDLERS, conservation_holds, replay
from cor_incentives.core.bounties import fund_bounty, review_end_tick
from cor_incentives.core.errors import EngineError
from cor_incentives.core.units import COR
from support.chain import Chain, addr

NAMES = ["sponsor", "h1", "h2", "h3", "h4", "judge", "j2", "j3", "v0", "v1", "v2", "v3", "v4", "v5", "m0", "poor"]
JUDGES = ["judge", "j2", "j3"]
DEPOSIT = COR  # bounty_entry_deposit_units (rule 21), returned to every entrant at finalize or expiry
VALIDATORS = ["v0", "v1", "v2", "v3", "v4", "v5"]


def h(text: str) -> str:
    import hashlib

    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def test_bounty_commands_are_wired():
    assert {"bounty.create", "bounty.submit", "bounty.award", "bounty.score", "bounty.finalize", "bounty.expire"} <= set(HANDLERS)


def chain() -> Chain:
    c = Chain(wallets={n: (10 * COR if n == "poor" else 100_000 * COR) for n in NAMES})
    for v in VALIDATORS:
        c.as_(v, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    c.as_("m0", "node.register", {"role": "miner", "self_bond": str(2000 * COR)})
    return c


def create(c: Chain, who: str = "sponsor", **body) -> int:
    bid = c.state.next_id
    c.as_(
        who,
        "bounty.create",
        {
            "prize": str(100 * COR),
            "criteria": "Fix the flaky test in the reward engine.",
            "deadline_tick": c.state.tick + 10,
            "winners": 2,
            "reviewers": [addr(j) for j in JUDGES],
            **body,
        },
    )
    return bid


def rejects(c: Chain, who: str, kind: str, body: dict, code: str) -> None:
    """The command is refused with ``code`` and the state is exactly as before."""
    before = c.state.to_dict()
    with pytest.raises(EngineError) as exc:
        c.as_(who, kind, body)
    assert exc.value.code == code, exc.value.message
    assert c.state.to_dict() == before


def review_end(c: Chain, bid: int) -> int:
    return review_end_tick(c.state, c.state.bounties[bid])


def approve(c: Chain, bid: int, hunter: str, judges=JUDGES) -> None:
    """Every judge approves ``hunter``'s entry (the k-th approval pays)."""
    for j in judges:
        c.as_(j, "bounty.award", {"bounty": bid, "submission": addr(hunter)})


def tick_to(c: Chain, tick: int) -> None:
    if tick > c.state.tick:
        c.oracle("tick", {"ticks": tick - c.state.tick})


def test_create_escrows_the_prize_and_writes_a_funding_line():
    c = chain()
    wallet = c.balance(f"wallet:{addr('sponsor')}")
    bid = create(c)
    b = c.state.bounties[bid]
    assert c.balance(f"escrow:bounty:{bid}") == 100 * COR == b.prize
    assert c.balance(f"wallet:{addr('sponsor')}") == wallet - 100 * COR
    assert b.kind == "bounty" and b.status == "open" and b.reviewers == tuple(addr(j) for j in JUDGES)
    assert b.review_quorum == 3 and not b.drawn
    line = c.state.earnings[-1]
    assert (line.address, line.stream, line.amount, line.claimable) == (addr("sponsor"), "bounty_funding", -100 * COR, False)


def test_ranked_awards_need_k_approvals_after_the_deadline_and_expiry_refunds_the_floors():
    c = chain()
    prize = 100 * COR + 7
    bid = create(c, prize=str(prize), winners=3, payout_bps=[5000, 3000, 2000])
    for hunter in ("h1", "h2", "h3", "h4"):
        c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(hunter)})
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "deadline_not_reached")
    b = c.state.bounties[bid]
    tick_to(c, b.deadline_tick)
    c.as_("judge", "bounty.award", {"bounty": bid, "submission": addr("h2")})
    c.as_("j2", "bounty.award", {"bounty": bid, "submission": addr("h2")})
    assert b.submissions[addr("h2")].rank is None and b.award_count == 0  # 2 of the 3 approvals it needs
    rejects(c, "j2", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "already_approved")
    c.as_("j3", "bounty.award", {"bounty": bid, "submission": addr("h2")})  # the third pays rank 1
    approve(c, bid, "h3")  # then rank 2
    assert b.submissions[addr("h2")].rank == 1 and b.submissions[addr("h3")].rank == 2
    assert b.submissions[addr("h2")].awarded_by == tuple(addr(j) for j in JUDGES)
    assert c.balance(f"wallet:{addr('h2')}") == 100_000 * COR - DEPOSIT + prize * 5000 // 10_000  # the deposit still held
    assert c.balance(f"wallet:{addr('h3')}") == 100_000 * COR - DEPOSIT + prize * 3000 // 10_000
    line = c.state.earnings[-1]
    assert line.stream == "bounty_prize" and line.address == addr("h3") and not line.claimable
    assert line.detail["rank"] == 2 and line.detail["formula"] == "prize × payout_bps[rank−1] // 10000"
    assert line.detail["approvals"] == [addr(j) for j in JUDGES] and line.detail["review_quorum"] == 3
    rejects(c, "h1", "bounty.expire", {"bounty": bid}, "review_period_not_over")
    approve(c, bid, "h1")
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("h4")}, "all_prizes_awarded")
    sponsor_wallet = c.balance(f"wallet:{addr('sponsor')}")
    c.as_("h4", "bounty.expire", {"bounty": bid})  # everything awarded: no need to wait for the review to end
    rest = prize - sum(prize * x // 10_000 for x in (5000, 3000, 2000))
    assert rest == 1  # 7 units × (0.5, 0.3, 0.2) floors to 3 + 2 + 1
    assert c.balance(f"wallet:{addr('sponsor')}") == sponsor_wallet + rest
    assert c.balance(f"escrow:bounty:{bid}") == 0 and b.deposits_held == 0
    assert c.balance(f"wallet:{addr('h4')}") == 100_000 * COR  # no prize: the deposit came back whole
    assert c.balance(f"wallet:{addr('h2')}") == 100_000 * COR + prize * 5000 // 10_000
    assert (b.status, b.paid, b.refunded, b.award_count) == ("expired", prize - rest, rest, 3)
    assert c.state.earnings[-1].stream == "bounty_refund" and c.state.earnings[-1].amount == rest


def test_equal_split_and_refund_of_unawarded_prizes_after_review():
    c = chain()
    bid = create(c, prize=str(10 * COR + 2), winners=3)
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("a")})
    c.as_("h2", "bounty.submit", {"bounty": bid, "content_hash": h("b")})
    tick_to(c, c.state.bounties[bid].deadline_tick)
    approve(c, bid, "h1")
    share = (10 * COR + 2) // 3
    assert c.state.bounties[bid].submissions[addr("h1")].paid == share
    tick_to(c, review_end(c, bid))
    before = c.balance(f"wallet:{addr('sponsor')}")
    c.as_("h2", "bounty.expire", {"bounty": bid})
    assert c.balance(f"wallet:{addr('sponsor')}") == before + 10 * COR + 2 - share
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "bounty_expired")
    rejects(c, "h2", "bounty.expire", {"bounty": bid}, "bounty_expired")


def test_bounty_without_submissions_expires_at_the_deadline():
    c = chain()
    bid = create(c)
    tick_to(c, c.state.bounties[bid].deadline_tick)
    c.as_("h1", "bounty.expire", {"bounty": bid})
    assert c.balance(f"wallet:{addr('sponsor')}") == 100_000 * COR
    rejects(c, "h1", "bounty.submit", {"bounty": bid, "content_hash": h("late")}, "bounty_expired")


def test_reviewers_are_drawn_from_validators_at_the_deadline_leaving_out_linked_ones():
    c = chain()
    c.as_("v0", "transfer", {"to": addr("puppet"), "amount": str(COR)})  # v0 funds a puppet: linked to it
    c.as_("h2", "stake.delegate", {"node": addr("v1"), "amount": str(COR)})  # h2 delegates to v1: linked
    bid = create(c, reviewers=[], winners=1)
    b = c.state.bounties[bid]
    assert b.drawn and b.reviewers == ()
    c.as_("puppet", "bounty.submit", {"bounty": bid, "content_hash": h("junk")})
    c.as_("h2", "bounty.submit", {"bounty": bid, "content_hash": h("x")})
    c.as_("v2", "bounty.submit", {"bounty": bid, "content_hash": h("v")})  # a validator may hunt: it is then never drawn
    rejects(c, "v3", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "deadline_not_reached")
    tick_to(c, b.deadline_tick)
    assert b.drawn_tick == b.deadline_tick
    assert set(b.reviewers) == {addr(v) for v in ("v3", "v4", "v5")}  # 5 wanted, 3 candidates: v0, v1 linked, v2 a hunter
    rejects(c, "v0", "bounty.award", {"bounty": bid, "submission": addr("puppet")}, "not_a_reviewer")
    rejects(c, "m0", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "not_a_reviewer")
    approve(c, bid, "h2", ["v3", "v4", "v5"])
    assert b.submissions[addr("h2")].rank == 1 and b.submissions[addr("h2")].awarded_by == tuple(addr(v) for v in ("v3", "v4", "v5"))


def test_a_named_reviewer_may_not_review_an_entry_it_is_linked_to():
    c = chain()
    c.as_("judge", "transfer", {"to": addr("mule"), "amount": str(3 * COR)})
    c.as_("mule", "transfer", {"to": addr("puppet"), "amount": str(2 * COR)})  # judge → mule → puppet (its entry deposit)
    bid = create(c, winners=1)
    c.as_("puppet", "bounty.submit", {"bounty": bid, "content_hash": h("junk")})
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("good")})
    tick_to(c, c.state.bounties[bid].deadline_tick)
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("puppet")}, "reviewer_is_linked")
    c.as_("j2", "bounty.award", {"bounty": bid, "submission": addr("puppet")})
    c.as_("j3", "bounty.award", {"bounty": bid, "submission": addr("puppet")})
    assert c.state.bounties[bid].submissions[addr("puppet")].rank is None  # 2 approvals: below k = 3, never paid
    approve(c, bid, "h1")
    assert c.state.bounties[bid].submissions[addr("h1")].rank == 1


def test_with_no_candidate_nothing_is_awarded_and_the_prize_returns():
    c = chain()
    bid = create(c, reviewers=[], winners=1)
    for v in VALIDATORS:
        c.as_(v, "bounty.submit", {"bounty": bid, "content_hash": h(v)})
    tick_to(c, review_end(c, bid))
    assert c.state.bounties[bid].reviewers == ()
    rejects(c, "v0", "bounty.award", {"bounty": bid, "submission": addr("v1")}, "not_a_reviewer")
    before = c.balance(f"wallet:{addr('sponsor')}")
    c.as_("h1", "bounty.expire", {"bounty": bid})
    assert c.balance(f"wallet:{addr('sponsor')}") == before + 100 * COR


def test_every_bad_bounty_command_is_refused_precisely_and_changes_nothing():
    c = chain()
    bid = create(c)
    ch = create(c, kind="challenge")
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("h1")})
    c.as_("h1", "bounty.submit", {"bounty": ch, "content_hash": h("h1")})
    c.as_("h2", "bounty.submit", {"bounty": bid, "content_hash": h("h2")})
    base = {"prize": str(10 * COR), "criteria": "ok", "deadline_tick": c.state.tick + 5, "winners": 1}
    cases = [
        ("sponsor", "bounty.create", {**base, "prize": "0"}, "zero_amount"),
        ("sponsor", "bounty.create", {**base, "prize": "1.5"}, "invalid_amount"),
        ("poor", "bounty.create", {**base, "prize": str(11 * COR)}, "insufficient_funds"),
        ("sponsor", "bounty.create", {**base, "criteria": ""}, "invalid_criteria"),
        ("sponsor", "bounty.create", {**base, "criteria": "x" * 2001}, "invalid_criteria"),
        ("sponsor", "bounty.create", {**base, "deadline_tick": c.state.tick}, "invalid_deadline"),
        ("sponsor", "bounty.create", {**base, "deadline_tick": c.state.tick + 10**9}, "invalid_deadline"),
        ("sponsor", "bounty.create", {**base, "winners": 0}, "invalid_winners"),
        ("sponsor", "bounty.create", {**base, "winners": 33}, "invalid_winners"),
        ("sponsor", "bounty.create", {**base, "winners": 2, "payout_bps": [5000, 4000]}, "invalid_payout"),
        ("sponsor", "bounty.create", {**base, "winners": 2, "payout_bps": [10000]}, "invalid_payout"),
        ("sponsor", "bounty.create", {**base, "winners": 2, "payout_bps": [10000, 0]}, "invalid_payout"),
        ("sponsor", "bounty.create", {**base, "prize": str(10 * COR - 1)}, "prize_below_minimum"),  # rule 21
        ("sponsor", "bounty.create", {**base, "prize": "2", "winners": 3}, "prize_below_minimum"),  # before prize_too_small
        ("sponsor", "bounty.create", {**base, "kind": "lottery"}, "invalid_bounty_kind"),
        ("sponsor", "bounty.create", {**base, "reviewers": ["judge"]}, "invalid_address"),
        ("sponsor", "bounty.create", {**base, "reviewers": [addr("judge"), addr("judge")]}, "invalid_reviewers"),
        ("sponsor", "bounty.create", {**base, "reviewers": [addr("judge"), addr("j2")]}, "too_few_reviewers"),
        ("h2", "bounty.submit", {"bounty": 999, "content_hash": h("x")}, "bounty_not_found"),
        ("h2", "bounty.submit", {"bounty": "1", "content_hash": h("x")}, "invalid_bounty"),
        ("h3", "bounty.submit", {"bounty": bid, "content_hash": "0x1234"}, "invalid_hash"),
        ("sponsor", "bounty.submit", {"bounty": bid, "content_hash": h("s")}, "self_submission"),
        ("judge", "bounty.submit", {"bounty": bid, "content_hash": h("j")}, "reviewer_cannot_submit"),
        ("h1", "bounty.submit", {"bounty": bid, "content_hash": h("again")}, "already_submitted"),
        ("nobody", "bounty.submit", {"bounty": bid, "content_hash": h("n")}, "entry_deposit_unfunded"),  # rule 21
        ("judge", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "deadline_not_reached"),
        ("judge", "bounty.award", {"bounty": bid, "submission": addr("h3")}, "submission_not_found"),
        ("judge", "bounty.award", {"bounty": ch, "submission": addr("h1")}, "wrong_bounty_kind"),
        ("judge", "bounty.score", {"bounty": bid, "submission": addr("h2"), "score_ppb": 5}, "wrong_bounty_kind"),
        ("judge", "bounty.finalize", {"bounty": bid}, "wrong_bounty_kind"),
        ("judge", "bounty.score", {"bounty": ch, "submission": addr("h1"), "score_ppb": 5}, "deadline_not_reached"),
        ("judge", "bounty.finalize", {"bounty": ch}, "deadline_not_reached"),
        ("h1", "bounty.expire", {"bounty": ch}, "deadline_not_reached"),
    ]
    for who, kind, body, code in cases:
        rejects(c, who, kind, body, code)
    tick_to(c, c.state.bounties[bid].deadline_tick)
    approve(c, bid, "h1")
    for who, kind, body, code in [
        ("h3", "bounty.submit", {"bounty": bid, "content_hash": h("late")}, "deadline_passed"),
        ("h2", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "not_a_reviewer"),
        ("sponsor", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "not_a_reviewer"),
        ("judge", "bounty.award", {"bounty": bid, "submission": addr("h1")}, "already_awarded"),
        ("judge", "bounty.score", {"bounty": ch, "submission": addr("h1"), "score_ppb": 10**9 + 1}, "invalid_score"),
        ("h2", "bounty.score", {"bounty": ch, "submission": addr("h1"), "score_ppb": 5}, "not_a_reviewer"),
        ("h2", "bounty.expire", {"bounty": ch}, "challenge_not_finalized"),
        ("h2", "bounty.finalize", {"bounty": ch}, "review_period_not_over"),
    ]:
        rejects(c, who, kind, body, code)
    c.as_("judge", "bounty.award", {"bounty": bid, "submission": addr("h2")})
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("h2")}, "already_approved")
    rejects(c, "h2", "bounty.expire", {"bounty": bid}, "review_period_not_over")


def test_challenge_ranks_by_median_score_ties_to_the_earlier_entry():
    c = chain()
    judges = [addr("judge"), addr("j2"), addr("j3")]
    bid = create(c, kind="challenge", winners=3, payout_bps=[5000, 3000, 2000], reviewers=judges)
    for hunter in ("h1", "h2", "h3", "h4"):
        c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(hunter)})
    scores = {
        "h1": {"judge": 500, "j2": 700, "j3": 900},  # median 700
        "h2": {"judge": 900, "j2": 600, "j3": 100},  # median 600
        "h3": {"judge": 700, "j2": 700, "j3": 800},  # 700: ties with h1, which came first
        "h4": {"judge": 0, "j2": 0, "j3": 10},  # median 0: wins nothing
        "h5": {"judge": 990},  # one judge alone: the others count 0, median 0
    }
    c.as_("sponsor", "transfer", {"to": addr("h5"), "amount": str(COR)})
    c.as_("h5", "bounty.submit", {"bounty": bid, "content_hash": h("h5")})
    rejects(c, "judge", "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 1}, "deadline_not_reached")
    b = c.state.bounties[bid]
    tick_to(c, b.deadline_tick)
    for hunter, by in scores.items():
        for judge, s in by.items():
            c.as_(judge, "bounty.score", {"bounty": bid, "submission": addr(hunter), "score_ppb": s * 1_000_000})
    assert [b.submissions[addr(x)].score_ppb for x in ("h1", "h2", "h3", "h4")] == [700_000_000, 600_000_000, 700_000_000, 0]
    rejects(c, "judge", "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 1}, "already_scored")
    rejects(c, "judge", "bounty.award", {"bounty": bid, "submission": addr("h1")}, "wrong_bounty_kind")
    rejects(c, "j2", "bounty.finalize", {"bounty": bid}, "review_period_not_over")  # not even a reviewer may cut the review short
    tick_to(c, review_end(c, bid))
    c.as_("h4", "bounty.finalize", {"bounty": bid})
    assert b.status == "finalized"
    ranks = {x: b.submissions[addr(x)].rank for x in ("h1", "h2", "h3", "h4", "h5")}
    assert ranks == {"h1": 1, "h3": 2, "h2": 3, "h4": None, "h5": None}
    assert c.balance(f"wallet:{addr('h3')}") == 100_000 * COR + 30 * COR
    rejects(c, "j3", "bounty.score", {"bounty": bid, "submission": addr("h4"), "score_ppb": 9}, "bounty_finalized")
    rejects(c, "j3", "bounty.finalize", {"bounty": bid}, "bounty_finalized")
    c.as_("h4", "bounty.expire", {"bounty": bid})
    assert c.balance(f"escrow:bounty:{bid}") == 0 and b.refunded == 0 and b.paid == 100 * COR


def test_a_judge_that_withholds_its_score_cannot_make_its_puppet_win():
    c = chain()
    bid = create(c, kind="challenge", winners=1)
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("good")})
    c.as_("h2", "bounty.submit", {"bounty": bid, "content_hash": h("junk")})  # the judge's puppet (funded off the log)
    tick_to(c, c.state.bounties[bid].deadline_tick)
    c.as_("judge", "bounty.score", {"bounty": bid, "submission": addr("h2"), "score_ppb": 10**9})  # and nothing for h1
    for j in ("j2", "j3"):
        c.as_(j, "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 900_000_000})
        c.as_(j, "bounty.score", {"bounty": bid, "submission": addr("h2"), "score_ppb": 10_000_000})
    b = c.state.bounties[bid]
    assert b.submissions[addr("h1")].score_ppb == 900_000_000  # median of (0, 0.9, 0.9)
    assert b.submissions[addr("h2")].score_ppb == 10_000_000  # median of (0.01, 0.01, 1)
    tick_to(c, review_end(c, bid))
    c.as_("sponsor", "bounty.finalize", {"bounty": bid})
    assert b.submissions[addr("h1")].rank == 1 and b.submissions[addr("h2")].rank is None


def test_challenge_finalized_by_anyone_after_review_and_unscored_prizes_refunded():
    c = chain()
    bid = create(c, kind="challenge", winners=2)
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("1")})
    c.as_("h2", "bounty.submit", {"bounty": bid, "content_hash": h("2")})
    tick_to(c, c.state.bounties[bid].deadline_tick)
    for j in JUDGES:
        c.as_(j, "bounty.score", {"bounty": bid, "submission": addr("h2"), "score_ppb": 1})
    c.as_("judge", "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 10**9})  # one score: below k
    tick_to(c, review_end(c, bid))
    c.as_("h1", "bounty.finalize", {"bounty": bid})
    b = c.state.bounties[bid]
    assert b.submissions[addr("h2")].rank == 1 and b.submissions[addr("h1")].rank is None
    c.as_("sponsor", "bounty.expire", {"bounty": bid})
    assert b.refunded == 50 * COR and c.balance(f"wallet:{addr('sponsor')}") == 100_000 * COR - 50 * COR


def test_challenge_without_entries_expires_without_finalize():
    c = chain()
    bid = create(c, kind="challenge")
    tick_to(c, c.state.bounties[bid].deadline_tick)
    c.as_("h1", "bounty.expire", {"bounty": bid})
    assert c.state.bounties[bid].refunded == 100 * COR


def test_statement_lines_are_not_claimable_and_replay_reproduces_the_state():
    c = chain()
    bid = create(c, winners=1)
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("1")})
    tick_to(c, c.state.bounties[bid].deadline_tick)
    approve(c, bid, "h1")
    c.oracle("epoch.close", {})
    hunter = views.statement(c.state, addr("h1"), 0)
    assert [(i["stream"], i["amount"], i["claimable"]) for i in hunter["items"]] == [
        ("bounty_entry_deposit", "-1", False),  # held until expiry (rule 21)
        ("bounty_prize", "100", False),
    ]
    sponsor = views.statement(c.state, addr("sponsor"), 0)
    assert [(i["stream"], i["amount"]) for i in sponsor["items"]] == [("bounty_funding", "-100")]
    assert addr("h1") not in c.state.epochs[0].leaves
    assert replay(c.events, check_each=True).to_dict() == c.state.to_dict()


def test_governance_funding_raises_the_prize_and_shares_the_refund_with_the_treasury():
    c = chain()
    bid = create(c, prize=str(100 * COR), winners=2)
    c.as_("h1", "bounty.submit", {"bounty": bid, "content_hash": h("1")})
    tick_to(c, c.state.bounties[bid].deadline_tick)
    approve(c, bid, "h1")  # 50 at the old prize
    treasury = c.balance("treasury")
    for bad, code in ((999, "bounty_not_found"), (bid, "zero_amount")):
        before = c.state.to_dict()
        with pytest.raises(EngineError) as exc:
            fund_bounty(c.state, bad, 0 if bad == bid else COR)
        assert exc.value.code == code and c.state.to_dict() == before
    before = c.state.to_dict()
    with pytest.raises(EngineError) as exc:
        fund_bounty(c.state, bid, treasury + 1)
    assert exc.value.code == "insufficient_funds" and c.state.to_dict() == before
    fund_bounty(c.state, bid, 200 * COR + 1)  # what governance's bounty_funding executes
    conservation_holds(c.state)
    b = c.state.bounties[bid]
    assert b.prize == 300 * COR + 1 and b.treasury_funding == 200 * COR + 1
    assert c.balance(f"escrow:bounty:{bid}") == 250 * COR + 1 + DEPOSIT and c.balance("treasury") == treasury - 200 * COR - 1
    tick_to(c, review_end(c, bid))
    sponsor = c.balance(f"wallet:{addr('sponsor')}")
    c.as_("h2", "bounty.expire", {"bounty": bid})
    rest = 250 * COR + 1
    to_treasury = rest * (200 * COR + 1) // (300 * COR + 1)
    assert b.refunded_to_treasury == to_treasury and c.balance("treasury") == treasury - 200 * COR - 1 + to_treasury
    assert c.balance(f"wallet:{addr('sponsor')}") == sponsor + rest - to_treasury
    with pytest.raises(EngineError) as exc:
        fund_bounty(c.state, bid, COR)
    assert exc.value.code == "bounty_expired"
