"""Bounties and challenges: a sponsor's prize in escrow, hunters' submissions, k-of-n reviewers' awards (docs/design.md §8).

Concepts
    A *bounty* pays its prizes to the submissions its reviewers approve (``bounty.award``): an entry
    is paid, at the best rank still free, once enough of them approved it:
        approvals_needed = min(n, max(k, ⌊n/2⌋ + 1))      (n reviewers, k = ``review_quorum``)
    so a minority of the reviewers can never pay an entry. A *challenge* ranks its entries by score:
    each reviewer scores each entry once (``bounty.score``, ppb), and an entry's score is the lower
    median over all of its reviewers, a reviewer that gave no score counting 0:
        score = lower median of [score of r, or 0] for r in the reviewers eligible for the entry
    i.e. a value that a majority of the reviewers reached. A minority can neither lift its puppet's
    score nor sink another entry's by scoring or by withholding a score (counting only the scores
    given would let a judge disqualify the honest entry by staying silent). ``bounty.finalize`` pays
    the best ``winners`` entries by rank (ties: the earlier submission ranks first; a score of 0
    wins nothing). Everything a reviewer does happens after the deadline: awards and scores from the
    deadline on, finalize only once the review period is over.

Reviewers (k of n)
    k = ``bounty_review_quorum`` when the bounty is created. The sponsor names n ≥ k reviewers
    (validators or appointed judges), or names none: then, at the first tick at or after the deadline,
    n = ``bounty_drawn_reviewers`` are drawn from the active validator nodes (bonded at least the
    minimum, not jailed), with inclusion probability proportional to stake × reputation
    (Sampford's method, ``sampling.reference_draw``), leaving out the sponsor, every submitter, and
    anyone linked to one of them (accounts.py: one funded the other, or one delegates to the other's
    node). The draw's seed is the beacon's (``beacon.request_draw(state, "bounty_reviewers", id)``):
    the value revealed by that tick, which nobody could know when the submissions closed; a network
    without a beacon seeds it with sha256(head hash ‖ "bounty_reviewers:" ‖ id). When fewer than k
    can be drawn, k becomes the number drawn (none drawn: nothing can be awarded; the prize is
    refunded after the review period). A reviewer never reviews its own entry nor an entry of an
    address it is linked to, and a named reviewer may not submit.

State
    ``state.bounties[id] = Bounty(id, sponsor, kind, prize, criteria, deadline_tick, winners,
    reviewers, payout_bps, created_tick, review_quorum, drawn, drawn_tick, status, submissions,
    award_count, paid, refunded, treasury_funding, deposits_held, ...)``; ``status`` is ``open`` → (challenges:
    ``finalized``) → ``expired``. From rule 22 (``RULES_BOUNTY_RETIRE``, with pruning on) an expired bounty leaves
    ``state.bounties`` with its entries at the next epoch close (core/prune.py; read back by app/archive.py), and a
    message naming it is then refused ``bounty_not_found``. The prize sits in ``escrow:bounty:<id>`` with the entry deposits
    (rule 21); at every moment escrow = prize − paid − refunded + deposits_held.

Messages (the order of the checks is the precedence of the rejections)
    ``bounty.create``   {prize (base units), criteria (≤ 2000 chars), deadline_tick, winners (1..32),
                         reviewers?: [address], kind?: "bounty" | "challenge", payout_bps?: [bps per rank]}
    ``bounty.submit``   {bounty, content_hash}                  a hunter, once, before the deadline; not the
                                                                sponsor nor a named reviewer; from rule 21 it
                                                                deposits ``bounty_entry_deposit_units``
    ``bounty.award``    {bounty, submission (hunter)}           a reviewer's approval, after the deadline; kind
                                                                bounty; the k-th approval pays the best free rank
    ``bounty.score``    {bounty, submission (hunter), score_ppb}  a reviewer, after the deadline; kind challenge
    ``bounty.finalize`` {bounty}                                kind challenge, anyone, once the review period is over
    ``bounty.expire``   {bounty}                                anyone, after the deadline, once nothing more
                                                                can be paid (bounty: no entries, every prize
                                                                awarded, or the review period over; challenge:
                                                                finalized, or no entries): refunds the rest
    Rejections: ``bounty_not_found``, ``invalid_bounty``, ``zero_amount``, ``invalid_amount``, ``invalid_criteria``,
    ``invalid_deadline``, ``invalid_winners``, ``invalid_reviewers``, ``too_few_reviewers``, ``invalid_address``,
    ``invalid_bounty_kind``, ``invalid_payout``, ``prize_too_small``, ``insufficient_funds``, ``too_many_open_bounties``,
    ``invalid_hash``, ``bounty_expired``, ``bounty_finalized``, ``deadline_passed``, ``self_submission``,
    ``reviewer_cannot_submit``, ``already_submitted``, ``all_prizes_awarded``, ``too_many_submissions``,
    ``entry_deposit_unfunded`` (rule 21, the submit's last check), ``prize_below_minimum`` (rule 21, right after
    ``zero_amount``),
    ``wrong_bounty_kind``, ``submission_not_found``, ``deadline_not_reached``,
    ``not_a_reviewer``, ``reviewer_is_hunter``, ``reviewer_is_linked``, ``already_awarded``, ``already_approved``,
    ``invalid_score``, ``already_scored``, ``review_period_not_over``, ``challenge_not_finalized``.

Payouts
    rank r (1-based) pays  prize × payout_bps[r−1] // 10 000  with ``payout_bps`` (one entry per rank,
    each ≥ 1, summing to 10 000), else  prize // winners.  Σ over ranks ≤ prize, so the escrow can
    never be overdrawn (checked as an invariant before each payment).

Governance funding
    ``fund_bounty(state, id, amount)`` (a passed ``bounty_funding`` proposal) moves ``amount`` from the
    treasury into the escrow and raises the prize, so every rank not yet paid pays more; ranks already
    paid keep what they got, so the escrow still covers every remaining rank.

Rounding and refunds
    Every floor of a payout, and every prize not awarded, stays in ``escrow:bounty:<id>`` until
    ``bounty.expire``. What is left then is shared pro rata to the funding: the treasury gets
    rest × treasury_funding // prize back, the sponsor's wallet the remainder (the floor included;
    statement line ``bounty_refund``).

Entry deposits (rule 21; ``RULES_BOUNTY_DEPOSIT``)
    A prize is at least ``bounty_min_prize_units``. ``bounty.submit`` moves ``bounty_entry_deposit_units`` from the
    hunter's wallet to the escrow (recorded on the entry as ``deposit``); ``bounty.finalize`` (a challenge) or
    ``bounty.expire`` returns every deposit still held, whole, to its hunter, in the entries' order, whatever the
    reviewers decided: the sponsor and the reviewers choose which entries are paid, so forfeiting the others'
    deposits would pay someone for turning honest work down. The deposits are returned before the prize's rest
    is computed at expiry, so the refund rules below never see them. Under rules 1-20: any prize, no deposit.

Statement lines (paid to wallets, so never claimable)
    sponsor: ``bounty_funding`` (−prize) at create and ``bounty_refund`` at expiry; hunter: ``bounty_prize``, and from
    rule 21 ``bounty_entry_deposit`` (−deposit) at submit and ``bounty_entry_deposit_refund`` (+deposit) when returned.

Parameters (in ``Params``; governance may change them)
    ``bounty_review_quorum``        k: approvals a bounty entry needs (at least a majority of the reviewers)
    ``bounty_drawn_reviewers``      n: reviewers drawn when the sponsor names none
    ``bounty_review_period_ticks``  ticks after the deadline for reviewing; a challenge is finalized after
                                    it, and a bounty with entries and unawarded prizes cannot expire before
    ``bounty_max_duration_ticks``   furthest deadline from now
    ``bounty_max_submissions``      entries per bounty (a bound on the state)
    ``bounty_min_prize_units``      the least prize (rule 21)
    ``bounty_entry_deposit_units``  what an entry locks until finalize or expiry (rule 21)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import ledger as acct
from .accounts import is_linked, linked_among, linked_by_party
from .beacon import draw_handler, request_draw
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .records import Bounty, BountyStatus, EarningItem, Submission
from .rules import RULES_BOUNTY_DEPOSIT, rules_since
from .sampling import reference_draw
from .selection import selection_weight
from .staking import is_selectable
from .state import State
from .streams import Stream
from .units import BPS, PPB, parse_units
from .units import address as parse_address
from .units import cor_text as cor
from .validation import weighted_median

KINDS = ("bounty", "challenge")
MAX_WINNERS = 32
MAX_REVIEWERS = 32
MAX_CRITERIA_CHARS = 2_000
MAX_OPEN_BOUNTIES = 10_000
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
REVIEWER_DRAW = "bounty_reviewers"  # the purpose of the reviewer draw


def bounty_account(bounty_id: int) -> str:
    return acct.escrow("bounty", bounty_id)


def get_bounty(state: State, bounty_id: Any) -> Bounty:
    """The bounty ``bounty_id``, or ``bounty_not_found``."""
    if isinstance(bounty_id, bool) or not isinstance(bounty_id, int):
        raise InvalidInput("bounty must be a bounty id (integer)", code="invalid_bounty")
    b = state.bounties.get(bounty_id)
    if b is None:
        raise NotFound(f"no bounty {bounty_id}", code="bounty_not_found")
    return b


def prize_for_rank(b: Bounty, rank: int) -> int:
    """What rank ``rank`` (1-based) pays: prize × payout_bps[rank−1] // 10 000, or prize // winners."""
    if b.payout_bps:
        return b.prize * b.payout_bps[rank - 1] // BPS
    return b.prize // b.winners


def is_reviewer(b: Bounty, who: str) -> bool:
    """One of the bounty's reviewers (named, or drawn after the deadline)."""
    return who in b.reviewers


def review_quorum(b: Bounty) -> int:
    """Approvals a bounty entry needs: min(n, max(k, ⌊n/2⌋ + 1)) of its n reviewers (0 when there are none)."""
    n = len(b.reviewers)
    return min(n, max(b.review_quorum, n // 2 + 1))


def entry_reviewers(state: State, b: Bounty, sub: Submission, linked: set[str] | None = None) -> list[str]:
    """The reviewers who may review ``sub`` (in the bounty's order): not its hunter, not linked to it. ``linked``: the
    reviewers linked to the hunter when the caller has read them (``linked_reviewers``), else read here."""
    if linked is None:
        linked = linked_reviewers(state, b, [sub.hunter])[sub.hunter]
    return [r for r in b.reviewers if r not in linked]


def linked_reviewers(state: State, b: Bounty, hunters: Iterable[str]) -> dict[str, set[str]]:
    """For each of ``hunters``, the bounty's reviewers linked to it (the hunter itself included, when a reviewer):
    ``accounts.linked_by_party``, each reviewer's and each hunter's funding chain read once, not ``is_linked`` per
    (reviewer, entry) pair."""
    return linked_by_party(state, b.reviewers, hunters)


def entry_score(state: State, b: Bounty, sub: Submission, linked: set[str] | None = None) -> int:
    """A challenge entry's score: the lower median over its eligible reviewers, a missing score counting 0."""
    scores = [(sub.scores.get(r, 0), 1, r) for r in entry_reviewers(state, b, sub, linked)]
    return weighted_median(scores) if scores else 0


def review_end_tick(state: State, b: Bounty) -> int:
    """The deadline plus the review period."""
    return b.deadline_tick + state.params.bounty_review_period_ticks


def review_over(state: State, b: Bounty) -> bool:
    """The deadline plus the review period has passed."""
    return state.tick >= review_end_tick(state, b)


def ranking(state: State, b: Bounty) -> list[Submission]:
    """A challenge's entries that can win, best first: score descending, then the earlier entry; a score of 0 wins nothing."""
    linked = linked_reviewers(state, b, b.submissions)  # read once for all entries
    scored = [(entry_score(state, b, s, linked[s.hunter]), s) for s in b.submissions.values()]
    return [s for score, s in sorted(scored, key=lambda x: (-x[0], x[1].index)) if score > 0]


# --- the reviewer draw -------------------------------------------------------------------------


def reviewer_candidates(state: State, b: Bounty) -> dict[str, int]:
    """Active validators not linked to the sponsor or a submitter, with their selection weight (in node id order).
    The links are read once per draw (``accounts.linked_among``), not per (validator, party) pair: with up to
    ``bounty_max_submissions`` hunters, which anyone can send, the pairwise test cost O(validators × entries)."""
    active = [node_id for node_id in sorted(state.nodes) if state.nodes[node_id].role == "validator" and is_selectable(state, state.nodes[node_id])]
    linked = linked_among(state, active, [b.sponsor, *b.submissions])
    return {node_id: selection_weight(state, node_id) for node_id in active if node_id not in linked}


@draw_handler(REVIEWER_DRAW)
def draw_reviewers(state: State, bounty_id: int, seed: bytes) -> None:
    """Draw ``bounty_drawn_reviewers`` reviewers from the candidates, inclusion ∝ stake × reputation (Sampford)."""
    b = state.bounties[bounty_id]
    invariant(b.drawn and not b.reviewers, f"bounty {bounty_id}: reviewers drawn twice")
    slots = sorted(reviewer_candidates(state, b).items()) if b.submissions else []
    b.reviewers = tuple(sorted(reference_draw(slots, state.params.bounty_drawn_reviewers, seed, rules_since(state.params, 3))))


def process_bounty_deadlines(state: State) -> None:
    """At the first tick at or after a deadline: ask the beacon for the reviewers of every bounty that names none.
    Reads the bounties whose draw is still to be asked for (``State.undrawn_bounties``) and are due (by deadline,
    ``State.bounty_deadlines``), in id order, not every bounty nor every open one (the others are not due)."""
    for bid in state.bounty_deadlines.pop_due(state.undrawn_bounties, state.bounties, "deadline_tick", state.tick):
        b = state.bounties[bid]
        if b.drawn and b.drawn_tick is None and b.status == BountyStatus.OPEN and state.tick >= b.deadline_tick:
            b.drawn_tick = state.tick
            state.undrawn_bounties.discard(bid)
            request_draw(state, REVIEWER_DRAW, bid)
        else:  # (none, as the core writes them) still to draw: read again at the next step, as before
            state.bounty_deadlines.push(b.deadline_tick, bid)


# --- checks ----------------------------------------------------------------------------------


def _int_field(body: dict[str, Any], name: str, lo: int, hi: int, code: str) -> int:
    v = body.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}], got {v!r}", code=code, field=name)
    return v


def _criteria(body: dict[str, Any]) -> str:
    text = body.get("criteria")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CRITERIA_CHARS:
        raise InvalidInput(f"criteria must be a non-empty text of at most {MAX_CRITERIA_CHARS} characters", code="invalid_criteria")
    return text


def _reviewers(state: State, body: dict[str, Any]) -> tuple[str, ...]:
    raw = body.get("reviewers", [])
    if not isinstance(raw, list) or len(raw) > MAX_REVIEWERS:
        raise InvalidInput(f"reviewers must be a list of at most {MAX_REVIEWERS} addresses", code="invalid_reviewers")
    out = tuple(parse_address(r) for r in raw)
    if len(set(out)) != len(out):
        raise InvalidInput("reviewers must not repeat an address", code="invalid_reviewers")
    k = state.params.bounty_review_quorum
    if out and len(out) < k:
        raise InvalidInput(f"name at least {k} reviewers (bounty_review_quorum), or none to have them drawn", code="too_few_reviewers")
    return out


def _payout_bps(body: dict[str, Any], winners: int) -> tuple[int, ...]:
    raw = body.get("payout_bps")
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) != winners:
        raise InvalidInput(f"payout_bps must list one share per rank ({winners})", code="invalid_payout")
    if any(isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= BPS for x in raw) or sum(raw) != BPS:
        raise InvalidInput("payout_bps entries must be integers in [1, 10000] summing to 10000", code="invalid_payout")
    return tuple(raw)


def _hunter_entry(b: Bounty, body: dict[str, Any]) -> Submission:
    hunter = parse_address(body.get("submission", ""))
    sub = b.submissions.get(hunter)
    if sub is None:
        raise NotFound(f"{hunter} has no submission to bounty {b.id}", code="submission_not_found")
    return sub


def _require_open(b: Bounty) -> None:
    if b.status == BountyStatus.EXPIRED:
        raise Conflict(f"bounty {b.id} has expired", code="bounty_expired")
    if b.status == BountyStatus.FINALIZED:
        raise Conflict(f"challenge {b.id} is already finalized", code="bounty_finalized")


def _require_kind(b: Bounty, kind: str, hint: str) -> None:
    if b.kind != kind:
        raise Conflict(f"bounty {b.id} is a {b.kind}: {hint}", code="wrong_bounty_kind")


def _require_after_deadline(state: State, b: Bounty) -> None:
    if state.tick < b.deadline_tick:
        raise Conflict(f"bounty {b.id} is reviewed after its deadline, tick {b.deadline_tick}", code="deadline_not_reached")


def _require_reviewer(state: State, b: Bounty, actor: str, sub: Submission) -> None:
    invariant(not b.drawn or b.drawn_tick is not None, f"bounty {b.id} is past its deadline but its reviewers were not drawn")
    if not is_reviewer(b, actor):
        who = "a named reviewer" if not b.drawn else "one of the validators drawn to review it"
        raise Unauthorized(f"{actor} is not a reviewer of bounty {b.id} (must be {who})", code="not_a_reviewer")
    if sub.hunter == actor:
        raise Conflict("a reviewer may not review its own submission", code="reviewer_is_hunter")
    if is_linked(state, actor, sub.hunter):
        raise Conflict(f"reviewer {actor} is linked to {sub.hunter} (funding or delegation)", code="reviewer_is_linked")


# --- payments --------------------------------------------------------------------------------


def _pay(state: State, b: Bounty, sub: Submission, rank: int, by: tuple[str, ...]) -> None:
    amount = prize_for_rank(b, rank)
    invariant(state.ledger.balance(bounty_account(b.id)) >= amount, f"bounty {b.id} escrow would be overdrawn")
    invariant(b.paid + amount <= b.prize, f"bounty {b.id} would pay more than its prize")
    state.ledger.transfer(bounty_account(b.id), acct.wallet(sub.hunter), amount, "bounty_prize")
    sub.rank, sub.paid, sub.awarded_by = rank, amount, by
    b.award_count += 1
    b.paid += amount
    formula = "prize × payout_bps[rank−1] // 10000" if b.payout_bps else "prize // winners"
    detail: dict[str, Any] = {
        "bounty": b.id,
        "kind": b.kind,
        "rank": rank,
        "prize": b.prize,
        "winners": b.winners,
        "payout_bps": list(b.payout_bps),
        "formula": formula,
    }
    if b.kind == "challenge":
        detail["score_ppb"] = sub.score_ppb
        detail["scores"] = dict(sorted(sub.scores.items()))
    else:
        detail["approvals"] = list(by)
        detail["review_quorum"] = review_quorum(b)
    state.earnings.append(EarningItem(sub.hunter, Stream.BOUNTY_PRIZE, amount, detail))
    _check_escrow(state, b)
    invariant(b.award_count <= b.winners, f"bounty {b.id} paid more ranks than it has winners")


def _check_escrow(state: State, b: Bounty) -> None:
    """The escrow holds exactly what of the prize is neither paid nor refunded, plus the entry deposits not yet returned
    (rule 21; none before); the treasury's part is within the prize."""
    held = state.ledger.balance(bounty_account(b.id))
    invariant(held == b.prize - b.paid - b.refunded + b.deposits_held, f"bounty {b.id} escrow does not match its prize and deposits")
    invariant(0 <= b.refunded_to_treasury <= b.treasury_funding <= b.prize, f"bounty {b.id}: treasury funding out of bounds")


def _return_deposits(state: State, b: Bounty, at: str) -> None:
    """Every entry deposit still in the escrow back to its hunter's wallet, in the entries' order, whole (rule 21): won,
    lost, scored 0 or never reviewed alike, so no reviewer or sponsor gains by turning an entry down."""
    if not b.deposits_held:
        return
    invariant(b.deposits_held == sum(s.deposit for s in b.submissions.values()), f"bounty {b.id}: deposits held != the entries' deposits")
    for sub in b.submissions.values():
        if sub.deposit:
            state.ledger.transfer(bounty_account(b.id), acct.wallet(sub.hunter), sub.deposit, "bounty_entry_deposit_refund")
            state.earnings.append(EarningItem(sub.hunter, Stream.BOUNTY_ENTRY_DEPOSIT_REFUND, sub.deposit, {"bounty": b.id, "returned_at": at}))
    b.deposits_held = 0
    _check_escrow(state, b)


def fund_bounty(state: State, bounty_id: Any, amount: int) -> None:
    """Governance: add ``amount`` from the treasury to an open bounty's prize (checked before anything moves)."""
    b = get_bounty(state, bounty_id)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("funding must be a positive number of base units", code="zero_amount")
    _require_open(b)
    if b.kind == "bounty" and b.award_count >= b.winners:
        raise Conflict(f"every prize of bounty {b.id} is awarded", code="all_prizes_awarded")
    have = state.ledger.balance("treasury")
    if have < amount:
        raise Conflict(f"the treasury holds {cor(have)}, the funding needs {cor(amount)}", code="insufficient_funds")
    b.prize += amount
    b.treasury_funding += amount
    state.ledger.transfer("treasury", bounty_account(b.id), amount, "bounty_funding")
    _check_escrow(state, b)


# --- messages --------------------------------------------------------------------------------


def process_bounty_create(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.create``: escrow the prize from the sponsor's wallet."""
    prize = parse_units(body.get("prize", "0"))
    if prize == 0:
        raise InvalidInput("prize must be greater than zero", code="zero_amount")
    least = state.params.bounty_min_prize_units
    if rules_since(state.params, RULES_BOUNTY_DEPOSIT) and prize < least:
        raise InvalidInput(f"prize {cor(prize)} is below the minimum prize {cor(least)} (bounty_min_prize_units)", code="prize_below_minimum")
    criteria = _criteria(body)
    horizon = state.params.bounty_max_duration_ticks
    deadline = _int_field(body, "deadline_tick", state.tick + 1, state.tick + horizon, "invalid_deadline")
    winners = _int_field(body, "winners", 1, MAX_WINNERS, "invalid_winners")
    reviewers = _reviewers(state, body)
    kind = body.get("kind", "bounty")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", code="invalid_bounty_kind")
    payout = _payout_bps(body, winners)
    bid = state.next_id
    b = Bounty(bid, actor, kind, prize, criteria, deadline, winners, reviewers, payout, state.tick, state.params.bounty_review_quorum, not reviewers)
    if any(prize_for_rank(b, r) == 0 for r in range(1, winners + 1)):
        raise InvalidInput(f"prize {cor(prize)} is too small to pay every one of the {winners} ranks", code="prize_too_small")
    have = state.ledger.balance(acct.wallet(actor))
    if have < prize:
        raise Conflict(f"wallet holds {cor(have)}, the prize needs {cor(prize)}", code="insufficient_funds")
    if len(state.unexpired_bounties) >= MAX_OPEN_BOUNTIES:  # the bounties not expired (finalized ones count), not a scan of all
        raise Conflict("too many open bounties; try again later", code="too_many_open_bounties")
    state.new_id()
    state.bounties[bid] = b
    state.unexpired_bounties.add(bid)
    if b.drawn:
        state.undrawn_bounties.add(bid)
        state.bounty_deadlines.push(deadline, bid)
    state.ledger.transfer(acct.wallet(actor), bounty_account(bid), prize, "bounty_escrow")
    state.earnings.append(
        EarningItem(
            actor,
            Stream.BOUNTY_FUNDING,
            -prize,
            {"bounty": bid, "kind": kind, "winners": winners, "deadline_tick": deadline, "payout_bps": list(payout)},
        )
    )
    _check_escrow(state, b)


def process_bounty_submit(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.submit``: a hunter's one entry, before the deadline."""
    b = get_bounty(state, body.get("bounty"))
    content_hash = body.get("content_hash")
    if not isinstance(content_hash, str) or not _HASH.match(content_hash):
        raise InvalidInput("content_hash must be 0x followed by 64 lower-case hex digits", code="invalid_hash")
    _require_open(b)
    if state.tick >= b.deadline_tick:
        raise Conflict(f"bounty {b.id} closed for submissions at tick {b.deadline_tick}", code="deadline_passed")
    if actor == b.sponsor:
        raise Conflict("the sponsor may not submit to its own bounty", code="self_submission")
    if actor in b.reviewers:
        raise Conflict("a named reviewer may not submit to the bounty it reviews", code="reviewer_cannot_submit")
    if actor in b.submissions:
        raise Conflict(f"{actor} already submitted to bounty {b.id}", code="already_submitted")
    if b.kind == "bounty" and b.award_count >= b.winners:
        raise Conflict(f"every prize of bounty {b.id} is awarded", code="all_prizes_awarded")
    if len(b.submissions) >= state.params.bounty_max_submissions:
        raise Conflict(f"bounty {b.id} has the most submissions it may take", code="too_many_submissions")
    deposit = state.params.bounty_entry_deposit_units if rules_since(state.params, RULES_BOUNTY_DEPOSIT) else 0
    have = state.ledger.balance(acct.wallet(actor))
    if have < deposit:
        raise Conflict(
            f"wallet holds {cor(have)}, an entry deposits {cor(deposit)} (bounty_entry_deposit_units, returned at finalize or expiry)",
            code="entry_deposit_unfunded",
        )
    b.submissions[actor] = Submission(actor, content_hash, len(b.submissions), state.tick, deposit=deposit)
    if deposit:
        b.deposits_held += deposit
        state.ledger.transfer(acct.wallet(actor), bounty_account(b.id), deposit, "bounty_entry_deposit")
        state.earnings.append(EarningItem(actor, Stream.BOUNTY_ENTRY_DEPOSIT, -deposit, {"bounty": b.id}))
        _check_escrow(state, b)


def process_bounty_award(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.award``: a reviewer approves a submission (kind bounty); the k-th approval pays the best free rank."""
    b = get_bounty(state, body.get("bounty"))
    _require_kind(b, "bounty", "rank entries with bounty.score and bounty.finalize")
    _require_open(b)
    sub = _hunter_entry(b, body)
    _require_after_deadline(state, b)
    _require_reviewer(state, b, actor, sub)
    if sub.rank is not None:
        raise Conflict(f"{sub.hunter} already won rank {sub.rank} of bounty {b.id}", code="already_awarded")
    if actor in sub.approvals:
        raise Conflict(f"{actor} already approved {sub.hunter}'s entry", code="already_approved")
    if b.award_count >= b.winners:
        raise Conflict(f"all {b.winners} prizes of bounty {b.id} are awarded", code="all_prizes_awarded")
    sub.approvals.append(actor)
    if len(sub.approvals) >= review_quorum(b):
        taken = {s.rank for s in b.submissions.values() if s.rank is not None}
        rank = min(r for r in range(1, b.winners + 1) if r not in taken)
        _pay(state, b, sub, rank, tuple(sub.approvals))


def process_bounty_score(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.score``: a reviewer's one score for a challenge entry, after the deadline; the entry's score is the median."""
    b = get_bounty(state, body.get("bounty"))
    _require_kind(b, "challenge", "award submissions with bounty.award")
    _require_open(b)
    sub = _hunter_entry(b, body)
    _require_after_deadline(state, b)
    _require_reviewer(state, b, actor, sub)
    score = _int_field(body, "score_ppb", 0, PPB, "invalid_score")
    if actor in sub.scores:
        raise Conflict(f"{actor} already scored {sub.hunter}'s entry", code="already_scored")
    sub.scores[actor] = score
    sub.score_ppb = entry_score(state, b, sub)


def process_bounty_finalize(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.finalize``: once the review period is over, rank a challenge's entries and pay the best ``winners``."""
    b = get_bounty(state, body.get("bounty"))
    _require_kind(b, "challenge", "bounties need no finalize")
    _require_open(b)
    _require_after_deadline(state, b)
    if not review_over(state, b):
        raise Conflict(f"challenge {b.id} is reviewed until tick {review_end_tick(state, b)}", code="review_period_not_over")
    b.status = BountyStatus.FINALIZED
    b.finalized_tick = state.tick
    for rank, sub in enumerate(ranking(state, b)[: b.winners], start=1):
        sub.score_ppb = entry_score(state, b, sub)
        _pay(state, b, sub, rank, ())
    _return_deposits(state, b, "finalize")


def process_bounty_expire(state: State, actor: str, body: dict[str, Any]) -> None:
    """``bounty.expire``: after the deadline, once nothing more can be paid, refund the rest to the sponsor."""
    b = get_bounty(state, body.get("bounty"))
    if b.status == BountyStatus.EXPIRED:
        raise Conflict(f"bounty {b.id} has already expired", code="bounty_expired")
    if state.tick < b.deadline_tick:
        raise Conflict(f"bounty {b.id} runs until tick {b.deadline_tick}", code="deadline_not_reached")
    if b.kind == "challenge" and b.status != BountyStatus.FINALIZED and b.submissions:
        raise Conflict(f"challenge {b.id} has entries: finalize it first", code="challenge_not_finalized")
    if b.kind == "bounty" and b.submissions and b.award_count < b.winners and not review_over(state, b):
        raise Conflict(f"reviewers may award bounty {b.id} until tick {review_end_tick(state, b)}", code="review_period_not_over")
    _return_deposits(state, b, "expire")
    rest = state.ledger.balance(bounty_account(b.id))
    invariant(rest == b.prize - b.paid - b.refunded, f"bounty {b.id} escrow does not match its prize and payments")
    to_treasury = rest * b.treasury_funding // b.prize
    b.status = BountyStatus.EXPIRED
    state.unexpired_bounties.discard(b.id)
    state.expired_bounties.add(b.id)  # (derived: the close's prune retires it, RULES_BOUNTY_RETIRE)
    b.expired_tick = state.tick
    b.refunded += rest
    b.refunded_to_treasury += to_treasury
    state.ledger.transfer(bounty_account(b.id), "treasury", to_treasury, "bounty_refund")
    state.ledger.transfer(bounty_account(b.id), acct.wallet(b.sponsor), rest - to_treasury, "bounty_refund")
    _check_escrow(state, b)
    invariant(b.paid + b.refunded == b.prize, f"bounty {b.id}: paid + refunded != prize after expiry")
    if rest - to_treasury:
        state.earnings.append(
            EarningItem(
                b.sponsor,
                Stream.BOUNTY_REFUND,
                rest - to_treasury,
                {
                    "bounty": b.id,
                    "prize": b.prize,
                    "paid": b.paid,
                    "awards": b.award_count,
                    "winners": b.winners,
                    "rest": rest,
                    "treasury_funding": b.treasury_funding,
                    "to_treasury": to_treasury,
                    "formula": "rest = prize − Σ prizes paid; yours = rest − rest × treasury_funding // prize",
                },
            )
        )
