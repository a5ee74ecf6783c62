"""Governance: proposals, votes by aged stake, tally, timelock, capped treasury spends, voter rewards (docs/design.md §8).

Messages
    ``gov.propose`` {kind, title, ...} with a deposit of ``gov_min_deposit_units`` (escrow:proposal:<id>):
        param_change    {changes: {name: value}, effective_epoch}   validated against schema and bounds
        treasury_spend  {to, amount}           amount ≤ treasury × gov_treasury_spend_max_bps // 10 000
        bounty_funding  {bounty, amount}       treasury → the bounty's escrow; the same cap
        controller      {controller, target_bps?, min_value?, max_value?, max_step?, enabled?}
        curator         {action: appoint|remove, curator}
    ``gov.vote`` {proposal, option: yes|no|abstain|veto} during the voting period, once per address,
    by an address that holds a position in the proposal's snapshot or runs a node that does.

Voting power (snapshots.py)
    When a proposal opens, each stake position (a self-bond or a delegation) is snapshotted at its
    *aged stake*: min(stake at the start of the previous epoch, at the start of this one, now), so
    only stake bonded at least one whole epoch before the proposal counts. At the tally a position
    weighs min(snapshot, stake still bonded then): stake unbonded (or slashed) since does not vote.
    A position is voted by its staker when the staker voted, else by its node's operator when the
    operator voted, else by nobody: delegators inherit their node's vote unless they vote.

Tally (the tick the voting period ends)
    turnout = Σ power voted (abstain included);  total = Σ snapshot
    turnout × 10 000 < total × gov_quorum_bps        → REJECTED (quorum not met), deposit to the treasury
    veto × 10 000 ≥ turnout × gov_veto_bps           → VETOED, deposit burned
    yes × 10 000 ≥ (yes + no + veto) × gov_threshold_bps → PASSED, deposit returned
    otherwise                                         → REJECTED (threshold not met), deposit returned

Execution (epoch close)
    A passed proposal runs at the first epoch close at or after ``executable_tick`` = end of voting +
    the timelock: ``gov_timelock_ticks``, and for the treasury kinds (treasury_spend, bounty_funding)
    at least ``unbonding_period_epochs × epoch_length_ticks``, so the stake that voted for a spend
    cannot have left before it runs. A treasury proposal is counted again first, with the stake
    bonded at execution (min(snapshot, now) per position): if it no longer passes it FAILS. Its amount
    must still be ≤ T × gov_treasury_spend_max_bps // 10 000 (else FAILED), and the treasury proposals
    executed at one close may together take at most T × gov_treasury_epoch_max_bps // 10 000, where T
    is the treasury as the execution step starts: one that does not fit waits for the next close
    (DEFERRED in the epoch record's governance list).
    A parameter change applies from max(effective_epoch, the epoch after execution).

Voter rewards (epoch close)
    The governance stream goes to the voters of proposals *tallied* this epoch that met quorum (from rule 29, and
    on which some power voted yes, no or veto: an abstain-only proposal pays nobody). Each
    address counts once per epoch, with its largest tallied power over those proposals; a delegation
    counts for its delegator when the delegator voted on any of them, otherwise for the operator whose
    vote carried it. Nodes jailed, unjailed or slashed during the epoch earn nothing.
        weight(a) = max over those proposals of Σ power of the positions a's vote carried
                    (its own, and inherited ones whose staker did not vote)
        base      = max(Σ weights, the largest total_power of those proposals)     (rules 1-28: Σ weights)
        reward(a) = min(stream × weight(a) // base, stream × gov_voter_reward_cap_bps // 10 000)
    total_power is all the aged stake in the proposal's snapshot: the share of the stake that did not vote
    stays in the pool, and splitting stake over keys earns nothing more (rule 29, RULES_VOTER_POWER).
    The floors, the caps and everything unpaid stay in pool:network_incentives.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .bounties import fund_bounty
from .community import appoint_curator, remove_curator
from .controllers import check_controller_settings
from .errors import Conflict, InvalidInput, NotFound, invariant
from .journal import attempt
from .ledger import NETWORK_INCENTIVES_POOL
from .params import PARAM_FIELDS, Params
from .records import EarningItem, Proposal, ProposalStatus
from .rules import RULES_VOTER_POWER, rules_since
from .snapshots import aged_stake
from .staking import stake_of
from .state import State, assert_ready
from .streams import EmissionStream, Stream
from .units import BPS, parse_units
from .units import address as parse_address
from .units import cor_text as cor

KINDS = ("param_change", "treasury_spend", "bounty_funding", "controller", "curator")
TREASURY_KINDS = ("treasury_spend", "bounty_funding")
OPTIONS = ("yes", "no", "abstain", "veto")
TREASURY = "treasury"


def get_proposal(state: State, pid: Any) -> Proposal:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise InvalidInput("proposal must be an id (integer)", code="invalid_proposal")
    p = state.proposals.get(pid)
    if p is None:
        raise NotFound(f"no proposal {pid}", code="proposal_not_found")
    return p


# --- treasury caps and timelock ----------------------------------------------------------------


def treasury_spend_cap(p: Params, treasury: int) -> int:
    """The most one proposal may take: treasury × gov_treasury_spend_max_bps // 10 000."""
    return treasury * p.gov_treasury_spend_max_bps // BPS


def treasury_epoch_allowance(p: Params, treasury: int) -> int:
    """The most the proposals executed at one close may take: treasury × gov_treasury_epoch_max_bps // 10 000."""
    return treasury * p.gov_treasury_epoch_max_bps // BPS


def timelock_ticks(p: Params, kind: str) -> int:
    """Ticks from the end of voting to execution: treasury kinds wait at least the unbonding period."""
    if kind in TREASURY_KINDS:
        return max(p.gov_timelock_ticks, p.unbonding_period_epochs * p.epoch_length_ticks)
    return p.gov_timelock_ticks


def _check_treasury_amount(state: State, amount: int) -> None:
    cap = treasury_spend_cap(state.params, state.ledger.balance(TREASURY))
    if amount > cap:
        raise Conflict(
            f"a proposal may take at most {cap} from the treasury (gov_treasury_spend_max_bps = {state.params.gov_treasury_spend_max_bps})",
            code="treasury_spend_over_cap",
            cap=str(cap),
        )


# --- proposals -----------------------------------------------------------------------------------


def _check_body(state: State, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a proposal's content now (and again at execution)."""
    if kind == "param_change":
        changes = body.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput("param_change needs changes: {parameter: value}", code="invalid_proposal")
        unknown = sorted(set(changes) - set(PARAM_FIELDS))
        if unknown:
            raise InvalidInput(f"unknown parameter(s): {', '.join(unknown)}", code="unknown_parameter")
        eff = body.get("effective_epoch", state.epoch + 1)  # (rule 29: no change may set the value in force)
        if isinstance(eff, bool) or not isinstance(eff, int) or eff <= state.epoch:
            raise InvalidInput(f"effective_epoch must be a later epoch than {state.epoch}", code="invalid_proposal")
        proposed = state.params.replace(**changes)  # raises parameter_out_of_bounds etc.
        if rules_since(state.params, RULES_VOTER_POWER):
            same = sorted(name for name in changes if _in_force_and_scheduled(state, name, getattr(proposed, name)))
            if same:
                raise InvalidInput(
                    f"param_change sets {', '.join(same)} to the value in force: it would change nothing",
                    code="param_change_no_op",
                    name=same[0],
                )
        if "rule_version" in changes and changes["rule_version"] < state.params.rule_version:
            raise InvalidInput(
                f"rule versions only go up: {state.params.rule_version} is in force", code="rule_version_downgrade", name="rule_version"
            )
        return {"changes": dict(changes), "effective_epoch": eff}
    if kind == "treasury_spend":
        to, amount = parse_address(body.get("to", "")), _positive(body)
        _check_treasury_amount(state, amount)
        return {"to": to, "amount": str(amount)}
    if kind == "bounty_funding":
        bid = body.get("bounty")
        if bid not in state.bounties:
            raise NotFound(f"no bounty {bid}", code="bounty_not_found")
        amount = _positive(body)
        _check_treasury_amount(state, amount)
        return {"bounty": bid, "amount": str(amount)}
    if kind == "controller":
        name = body.get("controller")
        if name not in state.controllers:
            raise InvalidInput(f"controller must be one of {', '.join(sorted(state.controllers))}", code="invalid_controller")
        settings: dict[str, Any] = {k: body[k] for k in ("target_bps", "min_value", "max_value", "max_step", "enabled") if k in body}
        check_controller_settings(name, state.controllers[name], settings)
        return {"controller": name, **settings}
    if kind == "curator":
        action = body.get("action")
        if action not in ("appoint", "remove"):
            raise InvalidInput("curator action must be appoint or remove", code="invalid_proposal")
        return {"action": action, "curator": parse_address(body.get("curator", ""))}
    raise InvalidInput(f"proposal kind must be one of {', '.join(KINDS)}", code="invalid_proposal")


def _in_force_and_scheduled(state: State, name: str, value: Any) -> bool:
    """Whether parameter ``name`` is ``value`` now and in every version scheduled after this epoch: a change to it would
    change nothing (rule 29 refuses it). A change back to the value in force while another is scheduled is not a no-op."""
    later = [p for e, p in (state.params_history.versions if state.params_history else ()) if e > state.epoch]
    return all(getattr(p, name) == value for p in (state.params, *later))


def _positive(body: dict[str, Any]) -> int:
    v = parse_units(body.get("amount", "0"))
    if v == 0:
        raise InvalidInput("amount must be greater than zero", code="zero_amount")
    return v


def snapshot_positions(state: State) -> tuple[dict[str, dict[str, int]], int]:
    """Every position's aged stake (node -> staker -> power), and their sum."""
    positions: dict[str, dict[str, int]] = {}
    for node_id, addr in sorted(state.position_starts):
        power = aged_stake(state, node_id, addr)
        if power:
            positions.setdefault(node_id, {})[addr] = power
    return positions, sum(sum(v.values()) for v in positions.values())


def process_propose(state: State, actor: str, body: dict[str, Any]) -> None:
    """``gov.propose``: validated content, deposit in escrow, snapshot of aged stake, voting opens."""
    p = state.params
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"proposal kind must be one of {', '.join(KINDS)}", code="invalid_proposal")
    title = body.get("title", "")
    if not isinstance(title, str) or not 1 <= len(title) <= 200:
        raise InvalidInput("title must be 1-200 characters", code="invalid_proposal")
    content = _check_body(state, kind, body)
    deposit = p.gov_min_deposit_units
    have = state.ledger.balance(acct.wallet(actor))
    if have < deposit:
        raise Conflict(f"a proposal needs a deposit of {cor(deposit)}; wallet holds {cor(have)}", code="insufficient_deposit")
    positions, total = snapshot_positions(state)
    if total == 0:
        raise Conflict("no stake has been bonded for a whole epoch: no one could vote", code="no_voting_power")
    pid = state.new_id()
    state.ledger.transfer(acct.wallet(actor), acct.escrow("proposal", pid), deposit, "proposal_deposit")
    if deposit:
        state.earnings.append(EarningItem(actor, Stream.GOV_DEPOSIT, -deposit, {"proposal": pid, "kind": kind}))
    state.proposals[pid] = Proposal(
        pid, kind, title, actor, content, deposit, state.tick, state.tick + p.gov_voting_period_ticks, ProposalStatus.VOTING, positions, total
    )
    state.voting_proposals.add(pid)
    state.proposal_ends.push(state.proposals[pid].end_tick, pid)


# --- votes ---------------------------------------------------------------------------------------


def has_voting_power(state: State, prop: Proposal, who: str) -> bool:
    """``who`` holds a position in the snapshot or runs a node that has one: O(1) after the proposal's first vote (the
    snapshot's addresses gathered once, ``State.proposal_voters``), not O(the snapshot's nodes) per vote."""
    cached = state.proposal_voters.get(prop.id)
    if cached is None or cached[0] is not prop:
        cached = state.proposal_voters[prop.id] = (prop, frozenset(prop.positions).union(*prop.positions.values()))
    return who in cached[1]


def process_vote(state: State, actor: str, body: dict[str, Any]) -> None:
    """``gov.vote``: once per address, during the voting period, with power in the snapshot."""
    prop = get_proposal(state, body.get("proposal"))
    option = body.get("option")
    if option not in OPTIONS:
        raise InvalidInput(f"option must be one of {', '.join(OPTIONS)}", code="invalid_vote")
    if prop.status != ProposalStatus.VOTING or state.tick >= prop.end_tick:
        raise Conflict(f"proposal {prop.id} is not open for votes (voting ended at tick {prop.end_tick})", code="voting_closed")
    if actor in prop.votes:
        raise Conflict(f"{actor} already voted on proposal {prop.id}", code="already_voted")
    if not has_voting_power(state, prop, actor):
        raise Conflict(
            "no voting power in this proposal's snapshot (only stake bonded since before the previous epoch began counts)", code="no_voting_power"
        )
    prop.votes[actor] = option
    prop.vote_ticks[actor] = state.tick


def position_voter(prop: Proposal, node_id: str, staker: str) -> str | None:
    """Who votes a position: its staker if it voted, else its node's operator if it voted, else nobody."""
    if staker in prop.votes:
        return staker
    return node_id if node_id in prop.votes else None


def count_votes(state: State, prop: Proposal) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Power per option, each position weighing min(snapshot, stake bonded now); and per voter, the positions it carried."""
    out = {o: 0 for o in OPTIONS}
    carried: dict[str, dict[str, int]] = {}
    for node_id in sorted(prop.positions):
        for staker, snapped in sorted(prop.positions[node_id].items()):
            voter = position_voter(prop, node_id, staker)
            power = min(snapped, stake_of(state, node_id, staker)) if voter else 0
            if voter and power:
                out[prop.votes[voter]] += power
                owners = carried.setdefault(voter, {})
                owners[staker] = owners.get(staker, 0) + power
    return out, carried


def tally(state: State, prop: Proposal) -> dict[str, int]:
    """The tally: final once decided, live (with the stake bonded now) while voting."""
    return prop.tally if prop.tallied_tick is not None else count_votes(state, prop)[0]


def decide(p: Params, t: dict[str, int], total_power: int) -> tuple[ProposalStatus, str]:
    """Quorum, then veto, then threshold."""
    voted = sum(t.values())
    decisive = t["yes"] + t["no"] + t["veto"]
    if voted * BPS < total_power * p.gov_quorum_bps:
        return ProposalStatus.REJECTED, "quorum not met"
    if t["veto"] * BPS >= voted * p.gov_veto_bps:
        return ProposalStatus.VETOED, "vetoed"
    if decisive and t["yes"] * BPS >= decisive * p.gov_threshold_bps:
        return ProposalStatus.PASSED, "passed"
    return ProposalStatus.REJECTED, "threshold not met"


def process_governance_tallies(state: State) -> None:
    """At the tick a voting period ends: count, decide, and settle the deposit. Reads the proposals still voting
    (``State.voting_proposals``) whose vote ends now (``State.proposal_ends``), in id order, not every proposal ever made
    nor every one voting."""
    p = state.params
    for pid in state.proposal_ends.pop_due(state.voting_proposals, state.proposals, "end_tick", state.tick):
        prop = state.proposals[pid]
        if prop.status != ProposalStatus.VOTING or state.tick < prop.end_tick:  # (none, as the core writes them)
            state.proposal_ends.push(prop.end_tick, pid)  # still voting: read again at the next step, as before
            continue
        prop.tally, prop.voter_power = count_votes(state, prop)
        prop.tallied_tick, prop.tallied_epoch = state.tick, state.epoch
        prop.status, prop.result = decide(p, prop.tally, prop.total_power)
        state.voting_proposals.discard(pid)
        prop.quorum_met = prop.result != "quorum not met"
        if prop.status == ProposalStatus.PASSED:
            prop.executable_tick = prop.end_tick + timelock_ticks(p, prop.kind)
        _settle_deposit(state, prop)
        invariant(sum(prop.tally.values()) <= prop.total_power, f"proposal {pid}: more votes than the snapshot's power")


def _settle_deposit(state: State, prop: Proposal) -> None:
    escrow = acct.escrow("proposal", prop.id)
    amount = state.ledger.balance(escrow)
    if prop.status == ProposalStatus.VETOED:
        state.ledger.transfer(escrow, "burned", amount, "proposal_deposit_burned")
    elif not prop.quorum_met:
        state.ledger.transfer(escrow, TREASURY, amount, "proposal_deposit_forfeited")
    else:
        state.ledger.transfer(escrow, acct.wallet(prop.proposer), amount, "proposal_deposit_returned")
        if amount:
            state.earnings.append(EarningItem(prop.proposer, Stream.GOV_DEPOSIT_REFUND, amount, {"proposal": prop.id, "result": prop.result}))
    invariant(state.ledger.balance(escrow) == 0, f"proposal {prop.id} deposit left in escrow")


# --- execution -----------------------------------------------------------------------------------


def process_governance_execution(state: State) -> list[dict[str, Any]]:
    """At epoch close: execute every passed proposal whose timelock is over (treasury kinds re-counted and capped)."""
    done: list[dict[str, Any]] = []
    treasury = state.ledger.balance(TREASURY)  # both caps are shares of the treasury as this step starts
    allowance = treasury_epoch_allowance(state.params, treasury)
    for pid in sorted(state.proposals):
        prop = state.proposals[pid]
        if prop.status != ProposalStatus.PASSED or state.tick < (prop.executable_tick or 0):
            continue
        entry: dict[str, Any] = {"proposal": pid, "kind": prop.kind}
        if prop.kind in TREASURY_KINDS:
            amount = int(prop.body["amount"])
            refusal = _treasury_refusal(state, prop, amount, treasury_spend_cap(state.params, treasury))
            if refusal is not None:
                prop.status, prop.result = ProposalStatus.FAILED, refusal
            elif amount > allowance:
                prop.result = f"deferred: {amount} does not fit this close's treasury allowance ({allowance} left)"
                done.append({**entry, "status": "DEFERRED", "allowance_left": str(allowance)})
                continue
        if prop.status == ProposalStatus.PASSED:
            error = attempt(lambda: _execute(state, prop))  # noqa: B023 (called at once)
            if error is None:
                prop.status = ProposalStatus.EXECUTED
                if prop.kind in TREASURY_KINDS:
                    allowance -= int(prop.body["amount"])
            else:  # content no longer valid (e.g. the bounty expired): its writes undone, recorded, not applied
                prop.status, prop.result = ProposalStatus.FAILED, f"execution failed: {error}"
        prop.executed_epoch = state.epoch
        done.append({**entry, "status": prop.status})
    return done


def _treasury_refusal(state: State, prop: Proposal, amount: int, cap: int) -> str | None:
    """Why a treasury proposal may not run now: support withdrawn during the timelock, or over the cap."""
    recount, _ = count_votes(state, prop)
    status, why = decide(state.params, recount, prop.total_power)
    if status != ProposalStatus.PASSED:
        return f"support withdrawn before execution: counted with the stake bonded now, {why}"
    if amount > cap:
        return f"over the per-proposal treasury cap: {amount} > {cap}"
    return None


def _execute(state: State, prop: Proposal) -> None:
    b = prop.body
    if prop.kind == "param_change":
        from_epoch = max(b["effective_epoch"], state.epoch + 1)
        state.params_history = assert_ready(state).with_changes(from_epoch, b["changes"])
        prop.result = f"applies from epoch {from_epoch}"
    elif prop.kind == "treasury_spend":
        state.ledger.transfer(TREASURY, acct.wallet(b["to"]), int(b["amount"]), "treasury_spend")
        state.earnings.append(EarningItem(b["to"], Stream.TREASURY_SPEND, int(b["amount"]), {"proposal": prop.id, "title": prop.title}))
    elif prop.kind == "bounty_funding":
        fund_bounty(state, b["bounty"], int(b["amount"]))
    elif prop.kind == "controller":
        name = b["controller"]
        settings = {k: v for k, v in b.items() if k != "controller"}
        state.controllers[name] = check_controller_settings(name, state.controllers[name], settings)
    elif prop.kind == "curator":
        (appoint_curator if b["action"] == "appoint" else remove_curator)(state, b["curator"])


# --- voter rewards -------------------------------------------------------------------------------


def barred_voters(state: State) -> set[str]:
    """Nodes jailed, unjailed or slashed during this epoch: they earn no voter reward."""
    out = {n for n, node in state.nodes.items() if node.jailed or (node.unjailed_tick is not None and node.unjailed_tick >= state.epoch_start_tick)}
    for s in reversed(state.slashes):
        if s.epoch < state.epoch:
            break
        out.add(s.node)
    return out


def rewarded_proposals(state: State) -> list[Proposal]:
    """The proposals whose voters this epoch's governance stream pays, in id order: tallied this epoch with quorum and,
    from rule 29 (``RULES_VOTER_POWER``), with some yes, no or veto power (an abstain-only proposal pays nobody)."""
    tallied = [state.proposals[i] for i in sorted(state.proposals) if state.proposals[i].tallied_epoch == state.epoch]
    tallied = [prop for prop in tallied if prop.quorum_met]
    if rules_since(state.params, RULES_VOTER_POWER):
        tallied = [prop for prop in tallied if prop.tally["yes"] + prop.tally["no"] + prop.tally["veto"]]
    return tallied


def voter_weights(state: State, tallied: list[Proposal]) -> dict[str, tuple[int, int, dict[str, int]]]:
    """Each rewarded voter's weight this epoch over the proposals ``tallied`` (``rewarded_proposals``), the proposal that
    gave it, and the positions counted (see the module text)."""
    voted = {v for prop in tallied for v in prop.voter_power}
    barred = barred_voters(state)
    best: dict[str, tuple[int, int, dict[str, int]]] = {}
    for prop in tallied:
        for voter, owners in sorted(prop.voter_power.items()):
            if voter in barred:
                continue
            counted = {owner: power for owner, power in sorted(owners.items()) if owner == voter or owner not in voted}
            weight = sum(counted.values())
            if weight > best.get(voter, (0, 0, {}))[0]:
                best[voter] = (weight, prop.id, counted)
    return best


def voter_reward_base(state: State, tallied: list[Proposal], total_weight: int) -> int:
    """What a voter's weight is a share of: Σ weights (rules 1-28); from rule 29 (``RULES_VOTER_POWER``) max(Σ weights,
    the largest ``total_power`` of the proposals ``tallied``), all the aged stake that could vote, so the stake that did
    not vote keeps its share in the pool (Σ weights stays in the max: the stream is never paid more than once)."""
    if not rules_since(state.params, RULES_VOTER_POWER):
        return total_weight
    return max([total_weight, *(prop.total_power for prop in tallied)])


def voter_reward(stream: int, weight: int, total_weight: int, cap_bps: int) -> int:
    """min(stream × weight // total_weight, stream × cap_bps // 10 000); total_weight from ``voter_reward_base``."""
    return min(stream * weight // total_weight, stream * cap_bps // BPS)


def process_voter_rewards(state: State) -> None:
    """The governance stream, to the voters of this epoch's tallied proposals, once per address, capped."""
    p = state.params
    budget = state.epoch_streams.budget(EmissionStream.GOVERNANCE)
    tallied = rewarded_proposals(state)
    weights = voter_weights(state, tallied)
    voted = sum(w for w, _, _ in weights.values())
    if not voted or not budget:
        why = "no proposal tallied with quorum this epoch"
        if rules_since(p, RULES_VOTER_POWER):
            why = "no proposal tallied with quorum and a yes, no or veto vote this epoch"
        state.epoch_streams.record(EmissionStream.GOVERNANCE, budget, 0, 0, why if not voted else None)
        return
    total = voter_reward_base(state, tallied, voted)
    invariant(state.ledger.balance(NETWORK_INCENTIVES_POOL) >= budget, "governance stream exceeds the pool")
    paid = earners = 0
    for voter in sorted(weights):
        weight, pid, counted = weights[voter]
        share = voter_reward(budget, weight, total, p.gov_voter_reward_cap_bps)
        if not share:
            continue
        state.ledger.transfer(NETWORK_INCENTIVES_POOL, acct.claimable(voter), share, Stream.GOVERNANCE)
        state.earnings.append(
            EarningItem(
                voter,
                Stream.GOVERNANCE,
                share,
                {
                    "formula": "min(stream × weight // total_weight, stream × cap_bps // 10000); weight = Σ power of the positions "
                    "your vote carried on the proposal (yours, and inherited ones whose staker did not vote)",
                    "inputs": {"weight": weight, "total_weight": total, "stream": budget, "cap_bps": p.gov_voter_reward_cap_bps},
                    "proposal": pid,
                    "positions": counted,
                },
                True,
            )
        )
        paid += share
        earners += 1
    invariant(paid <= budget, "voter rewards exceed the governance stream")
    state.epoch_streams.record(EmissionStream.GOVERNANCE, budget, paid, earners)
