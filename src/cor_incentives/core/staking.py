"""Staking (docs/design.md §7): node registration, bonding, delegation, unbonding, withdrawal, commission, rewards.

Concepts
    A node is one key with one role (miner, validator, router). Its operator's *self-bond* sits in
    ``bonded:<node>`` and must be at least the role's minimum for the node to be selectable.
    Delegators' stake sits in ``delegated:<node>:<addr>``. Unbonding (``stake.unbond`` for the
    self-bond, ``stake.undelegate`` for a delegation) moves stake to ``unbonding:<addr>`` as an entry
    that matures ``unbonding_period_epochs`` later; ``stake.withdraw`` moves matured entries to the
    wallet. Unbonding stake stays slashable for offences committed before it started.

Rewards to a node's stakers (reward-per-stake accumulator, as in F1 / MasterChef)
    ``credit_node_reward`` takes the commission for the operator, moves the rest to ``rewards:<node>``
    and raises ``reward_acc`` by rest × ACC_SCALE // stake_total: O(1), whatever the number of
    delegators. A staker's pending reward is stake × reward_acc // ACC_SCALE − reward_debt, where the
    debt is the *ceiling* of the same product when the stake last changed, so that the floor of one
    product minus the ceiling of another never pays more than the exact share; it is harvested
    (moved to ``claimable:<addr>``) before any change of that stake and at epoch close.
    Rounding floors toward the stakers; what the floors leave in ``rewards:<node>`` after every
    staker of the node is harvested is swept to ``dust``.
"""

from __future__ import annotations

from typing import Any

from . import ledger as acct
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .records import ROLES, EarningItem, Node, Unbonding
from .state import State
from .streams import LinePart, Stream, line
from .units import BPS, parse_units
from .units import address as parse_address

ACC_SCALE = 10**36  # fixed-point scale of the reward-per-stake accumulator


def get_node(state: State, node_id: str) -> Node:
    """The node ``node_id``, or a not-found error."""
    node = state.nodes.get(node_id)
    if node is None:
        raise NotFound(f"no node {node_id}", code="node_not_found", node=node_id)
    state.touch(node_id)
    return node


def stake_account(node_id: str, addr: str) -> str:
    """The ledger account holding ``addr``'s stake in ``node_id``."""
    return acct.bonded(node_id) if addr == node_id else acct.delegated(node_id, addr)


def stake_of(state: State, node_id: str, addr: str) -> int:
    return state.ledger.balance(stake_account(node_id, addr))


def self_bond(state: State, node_id: str) -> int:
    return state.ledger.balance(acct.bonded(node_id))


def is_selectable(state: State, node: Node) -> bool:
    """Bonded at least the minimum and not jailed."""
    return not node.jailed and self_bond(state, node.id) >= state.params.min_self_bond(node.role)


def stakers(state: State, node_id: str) -> list[str]:
    """Addresses with stake in ``node_id`` (operator first, then delegators sorted)."""
    node = state.nodes[node_id]
    out = [node_id] if self_bond(state, node_id) > 0 else []
    return out + sorted(node.delegators)


# --- the accumulator -------------------------------------------------------------------------


def pending_reward(state: State, node_id: str, addr: str) -> int:
    """Reward accrued to ``addr``'s stake in ``node_id`` and not yet harvested."""
    node = state.nodes[node_id]
    accrued = stake_of(state, node_id, addr) * node.reward_acc // ACC_SCALE
    return max(0, accrued - state.reward_debts.get((node_id, addr), 0))


def harvest(state: State, node_id: str, addr: str, stream: str = Stream.STAKE_REWARD) -> int:
    """Move ``addr``'s pending reward from ``rewards:<node>`` to ``claimable:<addr>``."""
    amount = pending_reward(state, node_id, addr)
    if amount > 0:
        state.ledger.transfer(acct.rewards(node_id), acct.claimable(addr), amount, stream)
        state.earnings.append(
            EarningItem(
                addr,
                stream,
                amount,
                {
                    "node": node_id,
                    "stake": stake_of(state, node_id, addr),
                    "node_stake": state.nodes[node_id].stake_total,
                    "formula": "stake × reward_per_stake // 10**36 − debt (your share of the node's reward after commission)",
                },
                True,
            )
        )
    return amount


def accrue_stake_ticks(state: State, node: Node) -> None:
    """Count stake × ticks up to now (for APR pro rata to stake and time bonded)."""
    elapsed = state.tick - node.stake_tick_mark
    node.stake_ticks += node.stake_total * elapsed
    node.stake_tick_mark = state.tick
    invariant(elapsed >= 0 and node.stake_ticks >= 0, f"node {node.id}: stake × ticks went back in time")


def stake_matches_ledger(state: State, node: Node) -> bool:
    """The cached ``stake_total`` is the self-bond plus every delegation in the ledger."""
    delegated = sum(state.ledger.balance(acct.delegated(node.id, d)) for d in node.delegators)
    return node.stake_total == self_bond(state, node.id) + delegated


def _reset_debt(state: State, node_id: str, addr: str) -> None:
    node = state.nodes[node_id]
    debt = -(-stake_of(state, node_id, addr) * node.reward_acc // ACC_SCALE)  # ceiling: never pays a fraction twice
    if debt == 0 and stake_of(state, node_id, addr) == 0:
        state.reward_debts.pop((node_id, addr), None)
    else:
        state.reward_debts[(node_id, addr)] = debt


def change_stake(state: State, node_id: str, addr: str, src: str, dst: str, amount: int, reason: str) -> None:
    """Move stake in or out of ``addr``'s position in ``node_id``, harvesting first (O(1))."""
    harvest(state, node_id, addr)
    state.ledger.transfer(src, dst, amount, reason)
    node = get_node(state, node_id)
    accrue_stake_ticks(state, node)
    position = stake_account(node_id, addr)
    if dst == position:
        node.stake_total += amount
    if src == position:
        node.stake_total -= amount
    if addr != node_id:
        if stake_of(state, node_id, addr) > 0:
            node.delegators.add(addr)
        else:
            node.delegators.discard(addr)
    _reset_debt(state, node_id, addr)
    invariant(node.stake_total >= 0 and stake_matches_ledger(state, node), f"node {node_id}: stake_total differs from the ledger")
    invariant(pending_reward(state, node_id, addr) == 0, f"{addr} in {node_id}: a reward is pending after a stake change")


def credit_node_reward(state: State, node_id: str, src: str, amount: int, stream: str, detail: dict[str, Any]) -> int:
    """Credit ``amount`` from ``src`` to a node: commission to its operator, the rest to its stakers (O(1)).

    Returns the part that went to stakers. With no stake at all, everything is commission.
    """
    node = get_node(state, node_id)
    acc_before = node.reward_acc
    commission = amount * node.commission_bps // BPS if node.stake_total > 0 else amount
    rest = amount - commission
    if commission:
        state.ledger.transfer(src, acct.claimable(node_id), commission, line(stream, LinePart.COMMISSION))
        state.earnings.append(
            EarningItem(
                node_id,
                line(stream, LinePart.COMMISSION),
                commission,
                {
                    **detail,
                    "node": node_id,
                    "commission_bps": node.commission_bps,
                    "node_reward": amount,
                    "formula": "node_reward × commission_bps // 10000 (all of it when the node has no stake)",
                },
                True,
            )
        )
    if rest:
        state.ledger.transfer(src, acct.rewards(node_id), rest, line(stream, LinePart.STAKERS))
        node.reward_acc += rest * ACC_SCALE // node.stake_total
    invariant(0 <= commission <= amount and commission + rest == amount, f"node {node_id}: commission split does not add up")
    invariant(node.reward_acc >= acc_before, f"node {node_id}: reward per stake went down")
    return rest


def settle_node_rewards(state: State, node_id: str, stream: str = Stream.STAKE_REWARD) -> int:
    """Harvest every staker of a node and sweep the rounding left in ``rewards:<node>`` to dust."""
    state.touch(node_id)
    for addr in stakers(state, node_id):
        harvest(state, node_id, addr, stream)
        _reset_debt(state, node_id, addr)
    leftover = state.ledger.balance(acct.rewards(node_id))
    if leftover:
        state.ledger.transfer(acct.rewards(node_id), "dust", leftover, "stake_reward_rounding")
    invariant(state.ledger.balance(acct.rewards(node_id)) == 0, f"rewards:{node_id} not empty after settling its stakers")
    return leftover


# --- commands --------------------------------------------------------------------------------


def _positive_amount(body: dict[str, Any], name: str = "amount") -> int:
    if name not in body:
        raise InvalidInput(f"missing field {name!r}", code="missing_field", field=name)
    value = parse_units(body[name])
    if value == 0:
        raise InvalidInput(f"{name} must be greater than zero", code="zero_amount")
    return value


def process_register(state: State, actor: str, body: dict[str, Any]) -> None:
    """``node.register``: the actor's key becomes a node of ``role`` with a self-bond."""
    role = body.get("role")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}", code="invalid_role")
    p = state.params
    bond = _positive_amount(body, "self_bond")
    commission = body.get("commission_bps", 0)
    if isinstance(commission, bool) or not isinstance(commission, int) or not 0 <= commission <= p.max_commission_bps:
        raise InvalidInput(f"commission_bps must be an integer in [0, {p.max_commission_bps}]", code="commission_out_of_bounds")
    models = body.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models) or len(models) > 64:
        raise InvalidInput("models must be a list of model ids (at most 64)", code="invalid_models")
    if actor in state.nodes:
        raise Conflict(f"{actor} is already registered as a {state.nodes[actor].role}", code="node_already_registered")
    if bond < p.min_self_bond(role):
        raise Conflict(f"self-bond {bond} is below the {role} minimum {p.min_self_bond(role)}", code="self_bond_below_minimum")
    have = state.ledger.balance(acct.wallet(actor))
    if have < bond:
        raise Conflict(f"wallet holds {have}, self-bond needs {bond}", code="stake_exceeds_balance")
    state.nodes[actor] = Node(
        id=actor,
        role=role,
        commission_bps=commission,
        registered_tick=state.tick,
        models=tuple(models),
        reputation_ppb=p.reputation_initial_ppb,
    )
    change_stake(state, actor, actor, acct.wallet(actor), acct.bonded(actor), bond, "self_bond")


def process_bond(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.bond``: a node's operator adds to its self-bond."""
    amount = _positive_amount(body)
    get_node(state, actor)
    have = state.ledger.balance(acct.wallet(actor))
    if have < amount:
        raise Conflict(f"wallet holds {have}, bond needs {amount}", code="stake_exceeds_balance")
    change_stake(state, actor, actor, acct.wallet(actor), acct.bonded(actor), amount, "self_bond")


def process_delegate(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.delegate``: stake COR on a node."""
    node_id = parse_address(body.get("node", ""))
    amount = _positive_amount(body)
    get_node(state, node_id)
    if node_id == actor:
        raise Conflict("a node's operator bonds with `stake bond`, not delegate", code="self_delegation")
    have = state.ledger.balance(acct.wallet(actor))
    if have < amount:
        raise Conflict(f"wallet holds {have}, delegation needs {amount}", code="stake_exceeds_balance")
    change_stake(state, node_id, actor, acct.wallet(actor), acct.delegated(node_id, actor), amount, "delegate")


def _start_unbonding(state: State, node_id: str, actor: str, amount: int) -> None:
    have = stake_of(state, node_id, actor)
    if have < amount:
        raise Conflict(f"stake is {have}, cannot unbond {amount}", code="unbond_exceeds_stake")
    entry = Unbonding(
        id=state.new_id(),
        address=actor,
        node=node_id,
        amount=amount,
        start_tick=state.tick,
        mature_epoch=state.epoch + state.params.unbonding_period_epochs,
    )
    change_stake(state, node_id, actor, stake_account(node_id, actor), acct.unbonding(actor), amount, "unbond")
    state.unbondings[entry.id] = entry


def process_unbond(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.unbond``: the operator starts unbonding part of its self-bond."""
    amount = _positive_amount(body)
    get_node(state, actor)
    _start_unbonding(state, actor, actor, amount)


def process_undelegate(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.undelegate``: a delegator starts unbonding a delegation."""
    node_id = parse_address(body.get("node", ""))
    amount = _positive_amount(body)
    get_node(state, node_id)
    if node_id == actor:
        raise Conflict("a node's operator unbonds with `stake unbond`", code="self_delegation")
    _start_unbonding(state, node_id, actor, amount)


def process_withdraw(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.withdraw``: move every matured unbonding entry of the actor to its wallet."""
    matured = [u for u in state.unbondings.values() if u.address == actor and u.mature_epoch <= state.epoch]
    if not matured:
        pending = [u for u in state.unbondings.values() if u.address == actor]
        if pending:
            first = min(u.mature_epoch for u in pending)
            raise Conflict(f"nothing to withdraw yet: the first entry matures at epoch {first}", code="unbonding_not_mature")
        raise Conflict("no unbonding entries to withdraw", code="nothing_to_withdraw")
    for u in sorted(matured, key=lambda u: u.id):
        state.ledger.transfer(acct.unbonding(actor), acct.wallet(actor), u.amount, "withdraw")
        del state.unbondings[u.id]


def process_set_commission(state: State, actor: str, body: dict[str, Any]) -> None:
    """``node.set_commission``: bounded, rate-limited commission change."""
    node = get_node(state, actor)
    p = state.params
    new = body.get("commission_bps")
    if isinstance(new, bool) or not isinstance(new, int) or not 0 <= new <= p.max_commission_bps:
        raise InvalidInput(f"commission_bps must be an integer in [0, {p.max_commission_bps}]", code="commission_out_of_bounds")
    if abs(new - node.commission_bps) > p.max_commission_change_bps:
        raise Conflict(f"commission may change by at most {p.max_commission_change_bps} bps at a time", code="commission_change_too_large")
    if node.commission_changed_epoch >= 0 and state.epoch < node.commission_changed_epoch + p.commission_change_cooldown_epochs:
        raise Conflict("commission was changed too recently", code="commission_change_too_soon")
    node.commission_bps = new
    node.commission_changed_epoch = state.epoch


def process_unjail(state: State, actor: str, body: dict[str, Any]) -> None:
    """``node.unjail``: leave jail after the cooldown, with the minimum bond restored."""
    node = get_node(state, actor)
    until = node.jailed_until_tick
    if until is None:
        raise Conflict("node is not jailed", code="node_not_jailed")
    if state.tick < until:
        raise Conflict(f"node is jailed until tick {until}", code="jail_cooldown_not_over")
    need = state.params.min_self_bond(node.role)
    if self_bond(state, actor) < need:
        raise Conflict(f"self-bond must be restored to at least {need} before unjail", code="self_bond_below_minimum")
    node.jailed_until_tick = None


def require_actor_is(actor: str, who: str, what: str) -> None:
    if actor != who:
        raise Unauthorized(f"only {who} may {what}", code="unauthorized_actor")
