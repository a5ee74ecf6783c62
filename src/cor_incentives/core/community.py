"""Community engagement: curators attest contributions with points; the community stream pays them by points (docs/design.md §8).

Concepts
    *Curators* are appointed by the oracle (``community.appoint``) or by governance (``curator``
    proposals, through ``appoint_curator`` / ``remove_curator``). A curator attests a member's
    contribution — forum, support, feedback or bug report — with 1..100 points and a reference (a
    link or id, ≤ 200 characters). At each epoch close the community emission stream pays the epoch's
    members by their points: from rule 31 at a rate per point, capped per member, pro rata only when the
    claims exceed the stream (rules 1-30: the whole stream split pro rata to the points).

Who may be attested (sybil resistance)
    Eligibility is a snapshot taken when the epoch starts (``process_community_snapshot``), so one
    balance passed from address to address during the epoch makes one member, not many. A member of
    epoch e is an address that, at the start of e,
        - held at least ``community_min_stake_units`` of stake (self-bond plus delegations, as
          recorded in ``position_starts``) OR at least ``community_min_balance_units`` in its wallet, and
        - had been seen (accounts.py) for at least ``community_min_account_age_epochs`` epochs:
          first_seen_epoch + community_min_account_age_epochs ≤ e.
    Not the curator itself (``self_attestation``) nor an address linked to it (``member_linked_to_curator``:
    it funded the member or was funded by it, or one delegates to the other's node; accounts.py). A
    member earns at most ``community_max_points_per_member_epoch`` points per epoch, a (member,
    reference) pair is attested at most once per epoch, and a curator gives at most
    ``community_curator_points_per_epoch`` points per epoch in all.

State
    ``state.curators`` (addresses); ``state.community_eligible`` (this epoch's snapshot);
    ``state.attestations`` (``Attestation`` of the current epoch) and ``state.community_points``
    (member → points this epoch), both cleared at epoch close. Derived from ``attestations`` (not hashed, rebuilt when a
    state is decoded, journaled like it, cleared with it): ``state.attested``, its (member, reference) pairs, and
    ``state.curator_points``, the points each curator gave, so an attest checks duplicates and budgets in O(1).

Messages (the order of the checks is the precedence of the rejections)
    ``community.appoint`` (oracle) {curator}            ``already_curator``, ``too_many_curators``
    ``community.remove``  (oracle) {curator}            ``curator_not_found``
    ``community.attest``  (curator) {member, kind, points, reference}
        ``not_a_curator``, ``invalid_address``, ``self_attestation``, ``invalid_attestation_kind``,
        ``invalid_points``, ``invalid_reference``, ``duplicate_attestation``, ``member_not_eligible``,
        ``member_linked_to_curator``, ``member_points_cap``, ``curator_budget_spent``, ``too_many_attestations``

Epoch close (``process_community_rewards``, after ``process_emission``, before the record step)
    budget = the epoch's ``community`` stream (in ``pool:network_incentives``); each member's reward goes from
    ``pool:network_incentives`` to ``claimable:<member>`` (a line ``community`` of the statement, part of the epoch's
    Merkle leaf). From rule version 31 (``RULES_COMMUNITY_RATE``) a point earns a governed rate, as a work unit does
    (work_pay.py), and one member at most a share of the stream::

        cap      = budget × community_member_cap_bps // 10 000
        claim(m) = min(points(m) × community_rate_per_point_units, cap)          (``community_claim``)
        claims   = Σ claim
        reward(m)= claim(m)                      when claims ≤ budget
                 = budget × claim(m) // claims   when claims > budget (the budget binds: pro rata)

    Rule versions 1-30: reward(m) = budget × points(m) // Σ points (``community_reward``), so one point alone in an
    epoch took the whole stream. When the next epoch starts, its eligibility snapshot is taken.

Rounding
    The floors, the claims under the stream (rule 31: budget − Σ reward, the cap's excess included), and the whole
    budget when nobody was attested, stay in ``pool:network_incentives`` (the stream record's ``back_to_pool``).

Parameters (in ``Params``; governance may change them)
    ``community_min_stake_units``, ``community_min_balance_units``, ``community_min_account_age_epochs``,
    ``community_max_points_per_member_epoch``, ``community_curator_points_per_epoch``; from rule 31
    ``community_rate_per_point_units`` and ``community_member_cap_bps``.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .accounts import is_linked
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .ledger import NETWORK_INCENTIVES_POOL
from .records import Attestation, EarningItem
from .rules import RULES_COMMUNITY_RATE, rules_since
from .snapshots import stake_at_epoch_start
from .state import State
from .streams import EmissionStream, LinePart, Stream, line
from .units import BPS
from .units import address as parse_address

KINDS = ("forum", "support", "feedback", "bug_report")
MAX_POINTS = 100
MAX_REFERENCE_CHARS = 200
MAX_CURATORS = 1_000
MAX_ATTESTATIONS_PER_EPOCH = 10_000


def is_eligible_member(state: State, who: str) -> bool:
    """In this epoch's snapshot: enough stake or balance, and old enough, when the epoch started."""
    return who in state.community_eligible


def process_community_snapshot(state: State) -> None:
    """When an epoch starts: the addresses that may be attested during it."""
    p = state.params
    stake = stake_at_epoch_start(state)
    eligible = set()
    for who, account in state.accounts.items():
        if account.first_seen_epoch + p.community_min_account_age_epochs > state.epoch:
            continue
        if stake.get(who, 0) >= p.community_min_stake_units or state.ledger.balance(acct.wallet(who)) >= p.community_min_balance_units:
            eligible.add(who)
    state.community_eligible = eligible


def curator_points_given(state: State, curator: str) -> int:
    """Points ``curator`` attested this epoch (``state.curator_points``, derived from ``attestations``: O(1))."""
    return state.curator_points.get(curator, 0)


# --- curators (governance calls these too) ---------------------------------------------------


def appoint_curator(state: State, who: str) -> None:
    """Make ``who`` a curator."""
    curator = parse_address(who)
    if curator in state.curators:
        raise Conflict(f"{curator} is already a curator", code="already_curator")
    if len(state.curators) >= MAX_CURATORS:
        raise Conflict(f"there are already {MAX_CURATORS} curators", code="too_many_curators")
    state.curators.add(curator)


def remove_curator(state: State, who: str) -> None:
    """Take the curator role from ``who`` (its attestations of this epoch stand)."""
    curator = parse_address(who)
    if curator not in state.curators:
        raise NotFound(f"{curator} is not a curator", code="curator_not_found")
    state.curators.discard(curator)


def process_community_appoint(state: State, actor: str, body: dict[str, Any]) -> None:
    """``community.appoint`` (oracle): appoint a curator."""
    appoint_curator(state, body.get("curator", ""))


def process_community_remove(state: State, actor: str, body: dict[str, Any]) -> None:
    """``community.remove`` (oracle): remove a curator."""
    remove_curator(state, body.get("curator", ""))


# --- attestations ----------------------------------------------------------------------------


def process_community_attest(state: State, actor: str, body: dict[str, Any]) -> None:
    """``community.attest``: a curator awards points for a member's contribution."""
    if actor not in state.curators:
        raise Unauthorized(f"{actor} is not a curator", code="not_a_curator")
    p = state.params
    member = parse_address(body.get("member", ""))
    if member == actor:
        raise Conflict("a curator may not attest its own contributions", code="self_attestation")
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", code="invalid_attestation_kind")
    points = body.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise InvalidInput(f"points must be an integer in [1, {MAX_POINTS}]", code="invalid_points")
    reference = body.get("reference")
    if not isinstance(reference, str) or not reference.strip() or len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidInput(f"reference must be a non-empty text of at most {MAX_REFERENCE_CHARS} characters", code="invalid_reference")
    if (member, reference) in state.attested:  # derived from ``attestations``: O(1), not a scan of the epoch's
        raise Conflict(f"{member} was already attested for {reference!r} this epoch", code="duplicate_attestation")
    if not is_eligible_member(state, member):
        raise Conflict(
            f"{member} was not eligible when epoch {state.epoch} started: it needs the minimum stake "
            f"({p.community_min_stake_units}) or wallet balance ({p.community_min_balance_units}) then, and to have been "
            f"seen for {p.community_min_account_age_epochs} epoch(s)",
            code="member_not_eligible",
        )
    if is_linked(state, actor, member):
        raise Conflict(f"{member} is linked to curator {actor} (funding or delegation)", code="member_linked_to_curator")
    cap = p.community_max_points_per_member_epoch
    have = state.community_points.get(member, 0)
    if have + points > cap:
        raise Conflict(f"{member} has {have} points this epoch; the cap is {cap}", code="member_points_cap", points=have, cap=cap)
    given = curator_points_given(state, actor)
    if given + points > p.community_curator_points_per_epoch:
        raise Conflict(
            f"curator {actor} gave {given} points this epoch; its budget is {p.community_curator_points_per_epoch}",
            code="curator_budget_spent",
            points=given,
            budget=p.community_curator_points_per_epoch,
        )
    if len(state.attestations) >= MAX_ATTESTATIONS_PER_EPOCH:
        raise Conflict("the epoch has as many attestations as it may take", code="too_many_attestations")
    state.attestations.append(Attestation(actor, member, kind, points, reference, state.tick, state.epoch))
    state.attested.add((member, reference))
    state.curator_points[actor] = given + points
    state.community_points[member] = have + points


# --- epoch close -----------------------------------------------------------------------------


def community_reward(budget: int, points: int, total_points: int) -> int:
    """A member's share of the stream under rule versions 1-30: budget × points // Σ points."""
    return budget * points // total_points


RATE_FORMULA = (
    "claim = min(points × rate_units, member_cap); member_cap = budget × member_cap_bps // 10000; reward = claim, or "
    "budget × claim // claims when the claims exceed the budget"
)
"""The formula a community line states from rule version 31 (``community_claim``, ``community_rate_reward``)."""


def community_cap(budget: int, cap_bps: int) -> int:
    """The most one member may claim in an epoch (rule 31): budget × community_member_cap_bps // 10 000."""
    return budget * cap_bps // BPS


def community_claim(points: int, rate_units: int, cap: int) -> int:
    """A member's claim (rule 31): its points at the rate, at most the per-member cap."""
    return min(points * rate_units, cap)


def community_rate_reward(budget: int, claim: int, claims: int) -> int:
    """A member's reward (rule 31): its claim while the claims fit the budget, else its pro-rata share of the budget."""
    return claim if claims <= budget else budget * claim // claims


def process_community_rewards(state: State) -> None:
    """Pay the community stream by attested points (rule 31: at the rate, capped, pro rata only when the budget binds) into
    claimable rewards; clear the epoch's points."""
    p = state.params
    at_rate = rules_since(p, RULES_COMMUNITY_RATE)
    budget = state.epoch_streams.budget(EmissionStream.COMMUNITY)
    total = sum(state.community_points.values())
    cap = community_cap(budget, p.community_member_cap_bps)
    claim = {m: community_claim(pts, p.community_rate_per_point_units, cap) for m, pts in state.community_points.items()} if at_rate else {}
    claims = sum(claim.values())
    inputs = (
        {
            "rate_units": p.community_rate_per_point_units,
            "member_cap_bps": p.community_member_cap_bps,
            "member_cap": cap,
            "total_points": total,
            "claims": claims,
            "budget_binding": claims > budget,
        }
        if at_rate
        else None
    )
    if not total or not budget:
        state.epoch_streams.record(EmissionStream.COMMUNITY, budget, 0, 0, "no attested points this epoch" if not total else None, inputs)
    else:
        invariant(state.ledger.balance(NETWORK_INCENTIVES_POOL) >= budget, "community stream exceeds the pool")
        paid = earners = 0
        by_member: dict[str, list[dict[str, Any]]] = {}
        for a in state.attestations:
            by_member.setdefault(a.member, []).append(
                {"curator": a.curator, "kind": a.kind, "points": a.points, "reference": a.reference, "tick": a.tick}
            )
        for member in sorted(state.community_points):
            points = state.community_points[member]
            detail: dict[str, Any]
            if at_rate:
                amount = community_rate_reward(budget, claim[member], claims)
                detail = {
                    "formula": RATE_FORMULA,
                    "budget": budget,
                    "points": points,
                    "total_points": total,
                    "rate_units": p.community_rate_per_point_units,
                    "member_cap_bps": p.community_member_cap_bps,
                    "member_cap": cap,
                    "capped": points * p.community_rate_per_point_units > cap,
                    "claim": claim[member],
                    "claims": claims,
                    "budget_binding": claims > budget,
                    "attestations": by_member.get(member, []),
                }
            else:
                amount = community_reward(budget, points, total)
                detail = {
                    "formula": "budget × points // total_points",
                    "budget": budget,
                    "points": points,
                    "total_points": total,
                    "attestations": by_member.get(member, []),
                }
            invariant(0 <= amount <= budget and (not at_rate or amount <= claim[member]), f"community reward {amount} of {member}")
            if amount:
                state.ledger.transfer(NETWORK_INCENTIVES_POOL, acct.claimable(member), amount, Stream.COMMUNITY)
                state.earnings.append(EarningItem(member, Stream.COMMUNITY, amount, detail, True))
                paid += amount
                earners += 1
            else:
                why = "its claim or its pro-rata share is zero" if at_rate else "share rounds down to zero"
                state.earnings.append(EarningItem(member, line(Stream.COMMUNITY, LinePart.NONE), 0, {**detail, "why": why}))
        state.epoch_streams.record(EmissionStream.COMMUNITY, budget, paid, earners, None, inputs)
    state.community_points = {}
    state.attestations = []
    state.attested = set()  # (derived from ``attestations``)
    state.curator_points = {}
