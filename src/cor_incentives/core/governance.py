"""Governance: proposals, stake-weighted votes, tally, timelock, execution at an epoch boundary (docs/design.md §8).

Messages
    ``gov.propose`` {kind, title, ...} with a deposit of ``gov_min_deposit_units`` (escrow:proposal:<id>):
        param_change    {changes: {name: value}, effective_epoch}   validated against schema and bounds
        treasury_spend  {to, amount}
        bounty_funding  {bounty, amount}   treasury → the bounty's escrow
        controller      {controller, target_bps?, min_value?, max_value?, max_step?, enabled?}
        curator         {action: appoint|remove, curator}
    ``gov.vote`` {proposal, option: yes|no|abstain|veto} during the voting period, once per address.

Voting power (snapshot taken when the proposal opens for votes, i.e. at its creation)
    A node operator votes with its node's whole stake (self-bond + delegations), minus the
    delegations of delegators who vote themselves; a delegator who votes overrides its node with
    its own delegated stake. Delegators who do not vote inherit their node's vote.

Tally (when the voting period ends)
    turnout = Σ power voted (abstain included) / Σ snapshot stake
    quorum not met → REJECTED, deposit returned
    veto / turnout-votes ≥ gov_veto_bps → VETOED, deposit burned
    yes / (yes + no + veto) ≥ gov_threshold_bps → PASSED (deposit returned), executed at the first
    epoch close at or after end + gov_timelock_ticks; otherwise REJECTED, deposit returned.
A parameter change applies from max(effective_epoch, the epoch after execution).

Voter rewards
    At epoch close the governance stream is split among the addresses that voted during the epoch,
    pro rata by their voting power, each capped at gov_voter_reward_cap_bps of the stream; what the
    cap or the floors leave stays in the pool.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .bounties import fund_bounty
from .community import appoint_curator, remove_curator
from .controllers import check_controller_settings
from .errors import Conflict, EngineError, InvalidInput, NotFound, invariant
from .ledger import NETWORK_INCENTIVES_POOL
from .params import PARAM_FIELDS
from .records import EarningItem, Proposal, ProposalStatus
from .state import State, assert_ready
from .streams import EmissionStream, Stream
from .units import BPS, parse_units
from .units import address as parse_address

KINDS = ("param_change", "treasury_spend", "bounty_funding", "controller", "curator")
OPTIONS = ("yes", "no", "abstain", "veto")


def get_proposal(state: State, pid: Any) -> Proposal:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise InvalidInput("proposal must be an id (integer)", code="invalid_proposal")
    p = state.proposals.get(pid)
    if p is None:
        raise NotFound(f"no proposal {pid}", code="proposal_not_found")
    return p


def _check_body(state: State, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a proposal's content now (and again at execution)."""
    if kind == "param_change":
        changes = body.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput("param_change needs changes: {parameter: value}", code="invalid_proposal")
        unknown = sorted(set(changes) - set(PARAM_FIELDS))
        if unknown:
            raise InvalidInput(f"unknown parameter(s): {', '.join(unknown)}", code="unknown_parameter")
        eff = body.get("effective_epoch", state.epoch + 1)
        if isinstance(eff, bool) or not isinstance(eff, int) or eff <= state.epoch:
            raise InvalidInput(f"effective_epoch must be a later epoch than {state.epoch}", code="invalid_proposal")
        state.params.replace(**changes)  # raises parameter_out_of_bounds etc.
        return {"changes": dict(changes), "effective_epoch": eff}
    if kind == "treasury_spend":
        return {"to": parse_address(body.get("to", "")), "amount": str(_positive(body))}
    if kind == "bounty_funding":
        bid = body.get("bounty")
        if bid not in state.bounties:
            raise NotFound(f"no bounty {bid}", code="bounty_not_found")
        return {"bounty": bid, "amount": str(_positive(body))}
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


def _positive(body: dict[str, Any]) -> int:
    v = parse_units(body.get("amount", "0"))
    if v == 0:
        raise InvalidInput("amount must be greater than zero", code="zero_amount")
    return v


def _snapshot(state: State) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    node_power = {n: node.stake_total for n, node in sorted(state.nodes.items()) if node.stake_total}
    delegations: dict[str, dict[str, int]] = {}
    for n in sorted(state.nodes):
        for d in sorted(state.nodes[n].delegators):
            amt = state.ledger.balance(acct.delegated(n, d))
            if amt:
                delegations.setdefault(d, {})[n] = amt
    return node_power, delegations, sum(node_power.values())


def process_propose(state: State, actor: str, body: dict[str, Any]) -> None:
    """``gov.propose``: validated content, deposit in escrow, snapshot, voting opens."""
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
        raise Conflict(f"a proposal needs a deposit of {deposit}; wallet holds {have}", code="insufficient_deposit")
    node_power, delegations, total = _snapshot(state)
    if total == 0:
        raise Conflict("nothing is staked: no one could vote", code="no_voting_power")
    pid = state.new_id()
    state.ledger.transfer(acct.wallet(actor), acct.escrow("proposal", pid), deposit, "proposal_deposit")
    state.proposals[pid] = Proposal(
        pid,
        kind,
        title,
        actor,
        content,
        deposit,
        state.tick,
        state.tick + p.gov_voting_period_ticks,
        ProposalStatus.VOTING,
        node_power,
        delegations,
        total,
    )


def voting_power(prop: Proposal, voter: str) -> int:
    """The voter's own power in the snapshot (before overrides)."""
    own = prop.node_power.get(voter, 0)
    return own + sum(prop.delegations.get(voter, {}).values()) if voter not in prop.node_power else own


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
    if actor not in prop.node_power and actor not in prop.delegations:
        raise Conflict("no voting power in this proposal's snapshot (stake or delegate before a proposal opens)", code="no_voting_power")
    prop.votes[actor] = option
    prop.vote_ticks[actor] = state.tick


def tally(prop: Proposal) -> dict[str, int]:
    """Power per option, with delegators overriding their node's vote."""
    out = {o: 0 for o in OPTIONS}
    for voter, option in prop.votes.items():
        if voter in prop.node_power:
            overridden = sum(prop.delegations.get(d, {}).get(voter, 0) for d in prop.votes if d in prop.delegations)
            out[option] += prop.node_power[voter] - overridden
        else:
            out[option] += sum(prop.delegations.get(voter, {}).values())
    return out


def process_governance_tallies(state: State) -> None:
    """At the tick a voting period ends: decide, return or burn the deposit."""
    p = state.params
    for pid in sorted(state.proposals):
        prop = state.proposals[pid]
        if prop.status != ProposalStatus.VOTING or state.tick < prop.end_tick:
            continue
        t = tally(prop)
        prop.tally = t
        voted = sum(t.values())
        escrow = acct.escrow("proposal", pid)
        if voted * BPS < prop.total_power * p.gov_quorum_bps:
            prop.status, prop.result = ProposalStatus.REJECTED, "quorum not met"
        elif t["veto"] * BPS >= voted * p.gov_veto_bps:
            prop.status, prop.result = ProposalStatus.VETOED, "vetoed"
            state.ledger.transfer(escrow, "burned", state.ledger.balance(escrow), "proposal_deposit_burned")
            invariant(state.ledger.balance(escrow) == 0, f"proposal {pid}: deposit not burned whole")
            continue
        elif (t["yes"] + t["no"] + t["veto"]) and t["yes"] * BPS >= (t["yes"] + t["no"] + t["veto"]) * p.gov_threshold_bps:
            prop.status, prop.result = ProposalStatus.PASSED, "passed"
        else:
            prop.status, prop.result = ProposalStatus.REJECTED, "threshold not met"
        state.ledger.transfer(escrow, acct.wallet(prop.proposer), state.ledger.balance(escrow), "proposal_deposit_returned")
        invariant(state.ledger.balance(escrow) == 0, f"proposal {pid}: deposit not returned whole")
        invariant(sum(t.values()) <= prop.total_power, f"proposal {pid}: more votes than the snapshot's power")


def process_governance_execution(state: State) -> list[dict[str, Any]]:
    """At epoch close: execute every passed proposal whose timelock is over."""
    done = []
    p = state.params
    for pid in sorted(state.proposals):
        prop = state.proposals[pid]
        if prop.status != ProposalStatus.PASSED or state.tick < prop.end_tick + p.gov_timelock_ticks:
            continue
        try:
            _execute(state, prop)
            prop.status = ProposalStatus.EXECUTED
        except EngineError as exc:  # content no longer valid (e.g. treasury too small): recorded, not applied
            prop.status, prop.result = ProposalStatus.FAILED, f"execution failed: {exc}"
        prop.executed_epoch = state.epoch
        done.append({"proposal": pid, "kind": prop.kind, "status": prop.status})
    return done


def _execute(state: State, prop: Proposal) -> None:
    b = prop.body
    if prop.kind == "param_change":
        from_epoch = max(b["effective_epoch"], state.epoch + 1)
        state.params_history = assert_ready(state).with_changes(from_epoch, b["changes"])
        prop.result = f"applies from epoch {from_epoch}"
    elif prop.kind == "treasury_spend":
        state.ledger.transfer("treasury", acct.wallet(b["to"]), int(b["amount"]), "treasury_spend")
    elif prop.kind == "bounty_funding":
        fund_bounty(state, b["bounty"], int(b["amount"]))
    elif prop.kind == "controller":
        name = b["controller"]
        settings = {k: v for k, v in b.items() if k != "controller"}
        state.controllers[name] = check_controller_settings(name, state.controllers[name], settings)
    elif prop.kind == "curator":
        (appoint_curator if b["action"] == "appoint" else remove_curator)(state, b["curator"])


def process_voter_rewards(state: State) -> None:
    """The governance stream, to this epoch's voters by power, capped per address."""
    p = state.params
    budget = state.epoch_streams.budget(EmissionStream.GOVERNANCE)
    power: dict[str, int] = {}
    for prop in state.proposals.values():
        for voter, tick in prop.vote_ticks.items():
            if tick >= state.epoch_start_tick:
                power[voter] = power.get(voter, 0) + voting_power(prop, voter)
    total = sum(power.values())
    if not total or not budget:
        state.epoch_streams.record(EmissionStream.GOVERNANCE, budget, 0, 0, "no votes this epoch" if not total else None)
        return
    cap = budget * p.gov_voter_reward_cap_bps // BPS
    paid = 0
    for voter in sorted(power):
        share = min(budget * power[voter] // total, cap)
        if share:
            state.ledger.transfer(NETWORK_INCENTIVES_POOL, acct.claimable(voter), share, Stream.GOVERNANCE)
            state.earnings.append(
                EarningItem(
                    voter,
                    Stream.GOVERNANCE,
                    share,
                    {
                        "formula": "min(stream × power // total_power, stream × cap_bps // 10000)",
                        "inputs": {"power": power[voter], "total_power": total, "stream": budget, "cap_bps": p.gov_voter_reward_cap_bps},
                    },
                    True,
                )
            )
            paid += share
    state.epoch_streams.record(EmissionStream.GOVERNANCE, budget, paid, sum(1 for v in power if power[v]))
