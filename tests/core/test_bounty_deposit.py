"""Rule 21 (``RULES_BOUNTY_DEPOSIT``): a bounty's prize is at least ``bounty_min_prize_units`` and an entry moves
``bounty_entry_deposit_units`` from the hunter's wallet to the bounty's escrow, returned whole to every entrant when the
challenge is finalized or the bounty expires. The boundaries (exactly the minimum, one unit below), the refusals (specific
codes, nothing changed), where every deposit goes (winners, losers, entries never reviewed), the escrow and conservation
after every event, and the old rules: logs recorded under rules 19 and 20 (main 8729d6b and aaa48dd, before this rule)
replay to the state hashes main's code gave them."""

from __future__ import annotations

import pytest

from cor_incentives.core.apply import replay
from cor_incentives.core.errors import EngineError
from cor_incentives.core.rules import RULE_VERSIONS, RULES_BOUNTY_DEPOSIT
from cor_incentives.core.state_codec import encode_state, state_hash
from cor_incentives.core.units import COR
from support.bounty_chain import JUDGES, bounty_network, create_bounty, h, refused
from support.chain import Chain, addr

MIN_PRIZE = 10 * COR  # the defaults
DEPOSIT = COR
OLD = max(v for v in RULE_VERSIONS if v < RULES_BOUNTY_DEPOSIT)  # the rule before this one on this branch
# the state hashes main's code gave old_rule_log(v), recorded once with main's src: v = 19 by 8729d6b (19 the latest
# there), v = 20 by aaa48dd (20, a minimum stake position, the latest there)
MAIN_STATE_HASHES = {
    19: "0xf3c2c362339acac092b8b2ec04af80925bb4a174c1d7cb2ec829118f2dd68750",
    20: "0xe62ae6a6b2a318e9b68cd3eb7bd5b1474fce5bf2ed0cc2dac94cb29a6dbddd24",
}


def network(rule_version: int | None = None, **wallets: int) -> Chain:
    return bounty_network({} if rule_version is None else {"rule_version": rule_version}, **wallets)


def create(c: Chain, prize: int, kind: str = "bounty", winners: int = 1) -> int:
    return create_bounty(c, prize, kind=kind, winners=winners)


def test_the_prize_minimum_accepts_exactly_the_minimum_and_refuses_one_unit_below():
    c = network()
    wallet = c.balance(f"wallet:{addr('sponsor')}")
    body = {"criteria": "c", "deadline_tick": c.state.tick + 5, "winners": 1}
    refused(c, "sponsor", "bounty.create", {**body, "prize": str(MIN_PRIZE - 1)}, "prize_below_minimum")
    refused(c, "sponsor", "bounty.create", {**body, "prize": "1"}, "prize_below_minimum")
    bid = create(c, MIN_PRIZE)
    assert c.state.bounties[bid].prize == MIN_PRIZE and c.balance(f"wallet:{addr('sponsor')}") == wallet - MIN_PRIZE
    old = network(OLD)
    assert old.state.bounties[create(old, 1)].prize == 1  # the old rule: any prize of one base unit or more


def test_an_entry_needs_its_deposit_in_the_wallet_exactly_and_moves_it_to_the_escrow():
    c = network(exact=DEPOSIT, short=DEPOSIT - 1)
    bid = create(c, MIN_PRIZE)
    refused(c, "short", "bounty.submit", {"bounty": bid, "content_hash": h("s")}, "entry_deposit_unfunded")
    refused(c, "nobody", "bounty.submit", {"bounty": bid, "content_hash": h("n")}, "entry_deposit_unfunded")  # an unfunded key
    c.as_("exact", "bounty.submit", {"bounty": bid, "content_hash": h("e")})
    b = c.state.bounties[bid]
    assert c.balance(f"wallet:{addr('exact')}") == 0 and b.submissions[addr("exact")].deposit == DEPOSIT
    assert c.balance(f"escrow:bounty:{bid}") == MIN_PRIZE + DEPOSIT and b.deposits_held == DEPOSIT
    line = c.state.earnings[-1]
    assert (line.address, line.stream, line.amount, line.claimable) == (addr("exact"), "bounty_entry_deposit", -DEPOSIT, False)
    # the old rule: an unfunded key enters, nothing moves
    old = network(OLD)
    bid = create(old, 1)
    old.as_("nobody", "bounty.submit", {"bounty": bid, "content_hash": h("n")})
    assert old.state.bounties[bid].submissions[addr("nobody")].deposit == 0 and old.balance(f"escrow:bounty:{bid}") == 1


def test_an_earlier_refusal_takes_precedence_over_the_deposit():
    c = network()
    bid = create(c, MIN_PRIZE)
    refused(c, "nobody", "bounty.submit", {"bounty": bid, "content_hash": "0x12"}, "invalid_hash")
    refused(c, "j0", "bounty.submit", {"bounty": bid, "content_hash": h("j")}, "reviewer_cannot_submit")


def test_a_bountys_expiry_returns_every_deposit_to_winner_and_losers_alike():
    hunters = ["h0", "h1", "h2"]
    c = network(**dict.fromkeys(hunters, 5 * COR))
    bid = create(c, MIN_PRIZE)
    for hunter in hunters:
        c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(hunter)})
    b = c.state.bounties[bid]
    c.oracle("tick", {"ticks": 5})
    for j in JUDGES:
        c.as_(j, "bounty.award", {"bounty": bid, "submission": addr("h1")})
    assert c.balance(f"escrow:bounty:{bid}") == 3 * DEPOSIT and b.deposits_held == 3 * DEPOSIT  # the prize paid, deposits held
    c.as_("h0", "bounty.expire", {"bounty": bid})
    assert c.balance(f"escrow:bounty:{bid}") == 0 and b.deposits_held == 0
    assert [c.balance(f"wallet:{addr(x)}") for x in hunters] == [5 * COR, 5 * COR + MIN_PRIZE, 5 * COR]
    returned = [(i.address, i.amount, i.detail["returned_at"]) for i in c.state.earnings if i.stream == "bounty_entry_deposit_refund"]
    assert returned == [(addr(x), DEPOSIT, "expire") for x in hunters]  # in the entries' order
    assert [s.deposit for s in b.submissions.values()] == [DEPOSIT] * 3  # what each deposited stays on record


def test_a_challenges_finalize_returns_every_deposit_scored_or_not_and_expiry_then_moves_none():
    hunters = ["h0", "h1", "h2"]
    c = network(**dict.fromkeys(hunters, 5 * COR))
    bid = create(c, MIN_PRIZE, kind="challenge")
    for hunter in hunters:
        c.as_(hunter, "bounty.submit", {"bounty": bid, "content_hash": h(hunter)})
    c.oracle("tick", {"ticks": 5})
    for j in JUDGES:  # h0 scored well, h1 badly, h2 never
        c.as_(j, "bounty.score", {"bounty": bid, "submission": addr("h0"), "score_ppb": 900_000_000})
        c.as_(j, "bounty.score", {"bounty": bid, "submission": addr("h1"), "score_ppb": 1})
    c.oracle("tick", {"ticks": c.state.params.bounty_review_period_ticks})
    c.as_("h2", "bounty.finalize", {"bounty": bid})
    b = c.state.bounties[bid]
    assert b.deposits_held == 0 and c.balance(f"escrow:bounty:{bid}") == 0  # one winner: the whole prize paid
    assert [c.balance(f"wallet:{addr(x)}") for x in hunters] == [5 * COR + MIN_PRIZE, 5 * COR, 5 * COR]
    earnings = len(c.state.earnings)
    c.as_("h2", "bounty.expire", {"bounty": bid})
    assert not any(i.stream == "bounty_entry_deposit_refund" for i in c.state.earnings[earnings:])


def test_a_bounty_with_no_award_returns_the_prize_to_the_sponsor_and_the_deposits_to_the_hunters():
    c = network(h0=DEPOSIT)
    bid = create(c, MIN_PRIZE + 3, winners=2)
    sponsor = c.balance(f"wallet:{addr('sponsor')}")
    c.as_("h0", "bounty.submit", {"bounty": bid, "content_hash": h("h0")})
    c.oracle("tick", {"ticks": 5 + c.state.params.bounty_review_period_ticks})
    c.as_("h0", "bounty.expire", {"bounty": bid})
    assert c.balance(f"wallet:{addr('sponsor')}") == sponsor + MIN_PRIZE + 3 and c.balance(f"wallet:{addr('h0')}") == DEPOSIT
    b = c.state.bounties[bid]
    assert b.refunded == b.prize and b.paid == 0  # the deposits are not part of the prize's accounting


def test_both_parameters_are_governed_integers_with_bounds():
    from cor_incentives.core.params import param_bounds

    assert param_bounds("bounty_min_prize_units")[0] == 1 and param_bounds("bounty_entry_deposit_units")[0] == 1
    assert network().state.params.bounty_min_prize_units == MIN_PRIZE and network().state.params.bounty_entry_deposit_units == DEPOSIT
    params = {"bounty_min_prize_units": "5", "bounty_entry_deposit_units": str(2 * COR)}
    c = Chain(wallets={"sponsor": 1_000 * COR, "h0": 3 * COR, **dict.fromkeys(JUDGES, COR)}, params=params)
    bid = create(c, 5)  # a network may pick other values: the core reads them
    c.as_("h0", "bounty.submit", {"bounty": bid, "content_hash": h("h0")})
    assert c.balance(f"wallet:{addr('h0')}") == COR and c.state.bounties[bid].submissions[addr("h0")].deposit == 2 * COR
    for name, bad in (("bounty_min_prize_units", "0"), ("bounty_entry_deposit_units", "0")):
        with pytest.raises(EngineError) as exc:
            Chain(params={name: bad})
        assert exc.value.code == "parameter_out_of_bounds"


def old_rule_log(version: int) -> Chain:
    """The spam rule 21 stops, recorded under ``version``: one-unit bounties, entries from keys never funded, a challenge
    finalized and everything expired."""
    c = network(version)
    bids = [create(c, 1), create(c, 2, kind="challenge")]
    for i in range(6):
        c.as_(f"spam{i}", "bounty.submit", {"bounty": bids[i % 2], "content_hash": h(str(i))})
    c.oracle("tick", {"ticks": 5})
    c.as_("j0", "bounty.score", {"bounty": bids[1], "submission": addr("spam1"), "score_ppb": 5})
    c.as_("j0", "bounty.award", {"bounty": bids[0], "submission": addr("spam0")})
    c.oracle("tick", {"ticks": c.state.params.bounty_review_period_ticks})
    c.as_("j1", "bounty.finalize", {"bounty": bids[1]})
    for bid in bids:
        c.as_("j1", "bounty.expire", {"bounty": bid})
    return c


@pytest.mark.parametrize("version", sorted(MAIN_STATE_HASHES))
def test_a_log_recorded_under_an_old_rule_replays_to_the_state_main_gave_it(version):
    assert OLD == 20  # the rule just before this one is among those checked
    c = old_rule_log(version)
    assert all(s.deposit == 0 for b in c.state.bounties.values() for s in b.submissions.values())
    assert c.state.bounties[1].prize == 1 and len(c.state.bounties[1].submissions) == 3  # what rule 21 refuses
    again = replay(c.events, check_each=True)
    assert state_hash(again) == state_hash(c.state) == MAIN_STATE_HASHES[version]
    assert encode_state(again) == encode_state(c.state)
