"""Staking (docs/design.md §7): node registration, bonding, delegation, unbonding, withdrawal, commission, rewards.

Concepts
    A node is one key with one role (miner, validator, router). Its operator's *self-bond* sits in
    ``bonded:<node>`` and must be at least the role's minimum for the node to be selectable.
    Delegators' stake sits in ``delegated:<node>:<addr>``. Unbonding (``stake.unbond`` for the
    self-bond, ``stake.undelegate`` for a delegation) moves stake to ``unbonding:<addr>`` as an entry
    that matures ``unbonding_period_epochs`` later; ``stake.withdraw`` moves matured entries to the
    wallet. Unbonding stake stays slashable for offences committed before it started.

Rewards to a node's stakers: by stake × time within the epoch
    Each stake position (the operator's self-bond, each delegation) counts its stake × ticks in the
    epoch (``Node.positions``: an ``Accrual`` brought up to date before every change of that stake);
    the node counts the sum (``Node.stake_ticks``, also the base of its staking APR). A reward
    credited to a node (``credit_node_reward``: work streams and APR, at the epoch close) gives the
    operator ``commission_bps`` of it and moves the rest to ``rewards:<node>``; ``settle_node_rewards``
    then pays each position that held stake during the epoch, including one that left before the
    close:
        share = node_reward × stake_ticks // node_stake_ticks
    so stake bonded for one tick of a hundred earns a hundredth of what the same stake earns bonded
    all epoch, whenever in the epoch it arrived. The floors' remainder goes to ``dust``. At the end of
    the close (``start_stake_epoch``) the counts start again and positions with no stake left are
    forgotten.

Commission
    A node reward is all commission when no stake was bonded to the node for a tick of the epoch; otherwise
    ``commission_bps`` of it, floored, and the rest to its positions as above. "No stake": from rule version 31
    (``RULES_STAKE_TICKS_COMMISSION``) the node's stake × ticks of the epoch is 0 (``has_stake_ticks``); 1-30 read its
    stake at the close (``stake_total``), so an operator that unbonded at the last tick took its departed delegators'
    share too (finding S1).
    ``node.set_commission`` is bounded (``max_commission_bps``), moves at most
    ``max_commission_change_bps`` from the rate in force, at most once per
    ``commission_change_cooldown_epochs``, and takes effect from the next epoch: the rate that
    applies to an epoch's rewards is the one in force when the epoch began (a node's first epoch:
    the rate it registered with).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import ledger as acct
from .epoch_document import DUST_FORMULA, STAKE_FORMULA, cites_line_formulas, commission_detail, legacy_commission_detail
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, invariant
from .journal import Journaled, Writes
from .records import ROLES, Accrual, EarningItem, Node, Unbonding, new_earning
from .rules import (
    RULES_EPOCH_DOCUMENT,
    RULES_EXPOSED_STAKE,
    RULES_MIN_POSITION,
    RULES_MOVING_LIMITS,
    RULES_NEWCOMER_FLOOR,
    RULES_OFFENCE_ALLOWANCE,
    RULES_SLASHING,
    RULES_STAKE_TICKS_COMMISSION,
    rules_since,
)
from .state import State
from .streams import LinePart, Stream, line
from .units import BPS, parse_units
from .units import address as parse_address
from .units import cor_text as cor


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


def is_selectable(state: State, node: Node, minimum: int | None = None) -> bool:
    """Bonded at least the minimum and not jailed (``minimum``: the role's minimum self-bond, when looked up already)."""
    if minimum is None:
        minimum = state.params.min_self_bond(node.role)
    return not node.jailed and self_bond(state, node.id) >= minimum


def stakers(state: State, node_id: str) -> list[str]:
    """Addresses with stake in ``node_id`` (operator first, then delegators sorted)."""
    node = state.nodes[node_id]
    out = [node_id] if self_bond(state, node_id) > 0 else []
    return out + sorted(node.delegators)


# --- stake × time ----------------------------------------------------------------------------


def _write(writes: Writes | None, record: Journaled, name: str, value: Any) -> None:
    if writes is None:
        setattr(record, name, value)
    else:
        writes.set_attr(record, name, value)


def _add_line(state: State, item: EarningItem, writes: Writes | None) -> None:
    if writes is None:
        state.earnings.append(item)
    else:
        writes.append(state.earnings, item)


def accrue_stake_ticks(state: State, node: Node, writes: Writes | None = None) -> None:
    """Count the node's stake × ticks up to now (journaled through ``writes`` when given, as everything below).
    Counted up to now already (the close's steps accrue a node several times at one tick): nothing is written."""
    accrue_nodes(state, (node,), writes, positions=False)


def accrue_nodes(state: State, nodes: Iterable[Node], writes: Writes | None = None, *, positions: bool = True) -> None:
    """Count each node's stake × ticks up to now and, with ``positions``, every position of the epoch too, which must
    agree with the node's (``accrue_stake_ticks``, ``accrue_all``: a close step does it for every node it pays, with the
    parameters, rules and tick looked up once). Only the counts that move are written (the close's steps accrue a node
    several times at one tick); with ``writes`` the writes are journaled through its batch (``Writes.attr_log``)."""
    tick = state.tick
    minimum: dict[str, int] | None = None  # each role's minimum self-bond under the rules that count idle stake (looked up once)
    log = writes.attr_log() if writes is not None else None
    for node in nodes:
        fields = node.__dict__
        ticks, elapsed = node.stake_ticks, tick - node.stake_tick_mark
        if not (elapsed >= 0 and ticks >= 0):  # (the message built only on failure: every node, several times a close)
            invariant(False, f"node {node.id}: stake × ticks went back in time")
        if elapsed:
            stake = node.stake_total
            if stake and minimum is None:
                p = state.params
                minimum = {role: p.min_self_bond(role) for role in ROLES} if rules_since(p, RULES_EXPOSED_STAKE) else {}
            # unselectable since the mark (every change of selectability accrues first: a self-bond change in
            # ``change_stake``, a jail in ``slashing.slash``, an unjail in ``process_unjail``): no draw could reach it
            idle = stake and minimum and not is_selectable(state, node, minimum[node.role])
            if writes is None:
                node.stake_ticks = ticks + stake * elapsed
                node.stake_tick_mark = tick
                if idle:
                    node.idle_stake_ticks = node.idle_stake_ticks + stake * elapsed
            else:  # (``Writes.set_attr``, inline)
                if log is not None:
                    log.append((node, "stake_ticks", ticks))
                    log.append((node, "stake_tick_mark", fields["stake_tick_mark"]))
                fields["stake_ticks"] = ticks + stake * elapsed
                fields["stake_tick_mark"] = tick
                if idle:
                    if log is not None:
                        log.append((node, "idle_stake_ticks", fields["idle_stake_ticks"]))
                    fields["idle_stake_ticks"] = fields["idle_stake_ticks"] + stake * elapsed
        if not positions:
            continue
        held = node.positions
        if len(held) == 1:  # (the usual node: its operator's position alone)
            for addr, pos in held.items():
                counted = (pos if pos.mark == tick else _accrue_position(state, node, addr, pos, writes, log)).stake_ticks
        else:
            counted = sum(_accrue_position(state, node, addr, held[addr], writes, log).stake_ticks for addr in sorted(held))
        if node.stake_ticks != counted:
            invariant(False, f"node {node.id}: its stake × ticks differ from the sum of its positions'")


def accrue_position(state: State, node: Node, addr: str, writes: Writes | None = None) -> Accrual:
    """Count ``addr``'s stake × ticks in ``node`` up to now (a new position starts counting now)."""
    pos = node.positions.get(addr)
    if pos is None:
        pos = node.positions.setdefault(addr, Accrual(0, state.tick))
    return _accrue_position(state, node, addr, pos, writes, writes.attr_log() if writes is not None else None)


def _accrue_position(state: State, node: Node, addr: str, pos: Accrual, writes: Writes | None, log: list[tuple[Any, str, Any]] | None) -> Accrual:
    """``accrue_position`` of a position that exists (``log``: ``writes``' attribute journal, ``Writes.attr_log``)."""
    tick = state.tick
    elapsed = tick - pos.mark
    if elapsed < 0:
        invariant(False, f"{addr} in {node.id}: stake × ticks went back in time")
    if elapsed:
        counted = pos.stake_ticks + stake_of(state, node.id, addr) * elapsed
        if writes is None:
            pos.stake_ticks = counted
            pos.mark = tick
        else:  # (``Writes.set_attr``, inline)
            fields = pos.__dict__
            if log is not None:
                log.append((pos, "stake_ticks", fields["stake_ticks"]))
                log.append((pos, "mark", fields["mark"]))
            fields["stake_ticks"] = counted
            fields["mark"] = tick
    return pos


def accrue_all(state: State, node: Node, writes: Writes | None = None) -> None:
    """Bring the node and every position of the epoch up to now; they must agree. Only the counts that move are
    written (the close's steps accrue a node several times at one tick)."""
    accrue_nodes(state, (node,), writes)


def stake_matches_ledger(state: State, node: Node) -> bool:
    """The cached ``stake_total`` is the self-bond plus every delegation in the ledger: O(the node's delegators), so run
    where the work is already that size (a slash touches every staker) or at a full check (``stakes_match_ledger``),
    never per stake move (``change_stake`` checks the move itself in O(1))."""
    delegated = sum(state.ledger.balance(acct.delegated(node.id, d)) for d in node.delegators)
    return node.stake_total == self_bond(state, node.id) + delegated


def stakes_match_ledger(state: State) -> None:
    """Raise InvariantViolation unless every node's cached ``stake_total`` equals the ledger (O(nodes + delegations)):
    the full check that ``change_stake``'s O(1) check of each move keeps true by induction."""
    for node in state.nodes.values():
        invariant(node.stake_total >= 0 and stake_matches_ledger(state, node), f"node {node.id}: stake_total differs from the ledger")


def change_stake(state: State, node_id: str, addr: str, src: str, dst: str, amount: int, reason: str) -> None:
    """Move stake in or out of ``addr``'s position in ``node_id``; stake × ticks is counted up to now first (O(1))."""
    node = get_node(state, node_id)
    accrue_stake_ticks(state, node)
    accrue_position(state, node, addr)
    position = stake_account(node_id, addr)
    held, total = state.ledger.balance(position), node.stake_total
    state.ledger.transfer(src, dst, amount, reason)
    if dst == position:
        node.stake_total += amount
    if src == position:
        node.stake_total -= amount
    if addr != node_id:
        if stake_of(state, node_id, addr) > 0:
            node.delegators.add(addr)
        else:
            node.delegators.discard(addr)
    # O(1), not O(delegators) (a node with 10 k delegators made each delegation to it ~4 ms): the cached total moved by
    # exactly what the position's balance moved; the full equality (stakes_match_ledger) follows by induction and is
    # checked with conservation's full check (apply.conservation_holds, Conservation.full)
    moved = state.ledger.balance(position) - held
    invariant(node.stake_total >= 0 and node.stake_total - total == moved, f"node {node_id}: stake_total differs from the ledger")


def check_position(state: State, node_id: str, addr: str, after: int, what: str, hint: Callable[[int], str] | None = None) -> None:
    """From rule 20 (``RULES_MIN_POSITION``): refuse ``what`` if it would leave ``addr``'s position in ``node_id`` (its
    self-bond when ``addr`` is the node) above 0 and below ``min_position_units`` (``position_below_minimum``).

    Called before the change writes anything. Only a change the holder asks for is checked: a slash may leave less, and
    a position held before the rule may stay below the minimum; either's next change must leave 0 or at least the
    minimum (top it up to the minimum, or take it all). Rules 1-19: any amount. ``hint``: the refusal's advice from what the
    position holds, when the change's own amount is not what reaches the position (a cancel charged its spared slashes)."""
    p = state.params
    minimum = p.min_position_units
    if 0 < after < minimum and rules_since(p, RULES_MIN_POSITION):
        have = stake_of(state, node_id, addr)
        whose = "self-bond" if addr == node_id else f"delegation to {node_id}"
        if hint is not None:
            advice = hint(have)
        elif after > have:  # a top-up (or a new position): it must reach the minimum
            advice = f"it holds {cor(have)}: add at least {cor(minimum - have)}"
        else:  # a withdrawal: it must leave the minimum, or take everything
            advice = f"it holds {cor(have)}: take at most {cor(max(0, have - minimum))}, or all of it"
        raise Conflict(
            f"{what} would leave the {whose} at {cor(after)}, below min_position_units {cor(minimum)}: a stake position holds 0 "
            f"or at least the minimum ({advice})",
            code="position_below_minimum",
            node=node_id,
            position=after,
            minimum=minimum,
        )


def commission_split(amount: int, commission_bps: int, has_stake: bool) -> tuple[int, int]:
    """A node reward's ``(commission, rest for the stakers)``: ``commission_bps`` of it, floored, or all of it when the node
    has no stake."""
    commission = amount * commission_bps // BPS if has_stake else amount
    return commission, amount - commission


def has_stake_ticks(state: State, node: Node) -> bool:
    """Whether stake was bonded to the node for at least one tick of the epoch, up to now: its stake × ticks as
    ``accrue_stake_ticks`` would count them (``stake_ticks + stake_total × ticks since the mark``) is above 0. Reads only:
    nothing is accrued or written."""
    return node.stake_ticks > 0 or (node.stake_total > 0 and state.tick > node.stake_tick_mark)


def stake_share(reward: int, stake_ticks: int, node_stake_ticks: int) -> int:
    """A position's share of its node's stakers' reward (``STAKE_FORMULA``): by its stake × ticks, floored."""
    return reward * stake_ticks // node_stake_ticks


class NodePay:
    """Pays the nodes of one close step (a work stream, the staking APR): ``credit`` is ``credit_node_reward`` and
    ``settle`` is ``settle_node_rewards`` (which make one and call it), with what each call would look up again looked
    up once for the step: the parameters and rules in force, each stream's line names, and the ledger's ``Transfers``
    (the step's postings journaled through its ``writes`` batch); and the lines made by ``new_earning``. The same
    postings, balances, lines and journal entries, in the same order, as node-by-node calls."""

    __slots__ = ("state", "writes", "_params", "_node_lines", "_ticks", "_move", "_lines", "_stake_lines", "_earnings")

    def __init__(self, state: State, writes: Writes | None = None) -> None:
        self.state = state
        self.writes = writes
        self._params = p = state.params
        self._node_lines = rules_since(p, RULES_EPOCH_DOCUMENT)  # a commission line cites the node line (core/epoch_document.py)
        self._ticks = rules_since(p, RULES_STAKE_TICKS_COMMISSION)  # "no stake": no stake × ticks this epoch (``has_stake``)
        self._move = state.ledger.transfer if writes is None else acct.Transfers(state.ledger, writes).move
        self._lines: dict[str, tuple[str, str]] = {}  # stream -> its commission and stakers lines
        self._stake_lines: dict[str, tuple[bool, str]] = {}  # stake line -> (its formulas cited in the stream account, dust line)
        self._earnings: list[EarningItem] | None = None  # the statement lines' list whose appends are journaled

    def _add(self, item: EarningItem) -> None:
        """``writes.append(state.earnings, item)`` (the list's journal entry looked up once)."""
        earnings = self.state.earnings
        if self.writes is None:
            earnings.append(item)
            return
        if earnings is not self._earnings:
            self.writes.appending(earnings)
            self._earnings = earnings
        list.append(earnings, item)

    def credit(self, node_id: str, src: str, amount: int, stream: str, detail: dict[str, Any]) -> int:
        """``credit_node_reward``."""
        state = self.state
        node = state.nodes.get(node_id)
        if node is None:
            node = get_node(state, node_id)  # (refused: not found)
        state.touch(node_id)
        has_stake = has_stake_ticks(state, node) if self._ticks else node.stake_total > 0
        commission, rest = commission_split(amount, node.commission_bps, has_stake)
        lines = self._lines.get(stream)
        if lines is None:
            lines = self._lines[stream] = (line(stream, LinePart.COMMISSION), line(stream, LinePart.STAKERS))
        if commission:
            self._move(src, acct.claimable(node_id), commission, lines[0])
            if self._node_lines:
                cited = commission_detail(node_id, stream, node.commission_bps, amount, has_stake)
            else:
                cited = legacy_commission_detail(detail, node_id, node.commission_bps, amount, has_stake)
            self._add(new_earning(node_id, lines[0], commission, cited, True))
        if rest:
            self._move(src, acct.rewards(node_id), rest, lines[1])
        if not (0 <= commission <= amount and commission + rest == amount):
            invariant(False, f"node {node_id}: commission split does not add up")
        return rest

    def credit_all(self, src: str, stream: str, pays: Iterable[tuple[str, int, dict[str, Any]]], node_line: str, stake_line: str) -> None:
        """For each ``(node, amount, detail)`` in order (the staking APR's nodes): its line ``node_line`` (amount 0,
        ``detail``), ``credit`` of ``amount`` from ``src``, then ``settle`` of its stakers on ``stake_line``: the same lines,
        postings and journal entries in the same order as those calls node by node, with what each call would look up
        again looked up once."""
        state = self.state
        nodes, balances, writes = state.nodes, state.ledger.balances, self.writes
        how, add, credit, pay = self._settling(stake_line), self._add, self.credit, self._pay_stakers
        for node_id, amount, detail in pays:
            add(new_earning(node_id, node_line, 0, detail))
            credit(node_id, src, amount, stream, detail)  # (a node not found refused here)
            pot = acct.rewards(node_id)
            reward = balances.get(pot, 0)
            if reward:
                node = nodes[node_id]
                accrue_nodes(state, (node,), writes)
                pay(node, pot, reward, stake_line, how)

    def settle(self, node_id: str, stream: str) -> int:
        """``settle_node_rewards``."""
        return self.settle_all((node_id,), stream)[0]

    def settle_all(self, node_ids: Sequence[str], stream: str) -> list[int]:
        """``settle`` of each node in order (the same postings and lines in the same order), what waits for their stakers
        read first and the nodes with something waiting accrued together (``accrue_nodes``); returns each node's dust."""
        state = self.state
        nodes, balances, touch = state.nodes, state.ledger.balances, state.touch
        waiting: dict[str, tuple[Node, str, int]] = {}  # (a node named twice is paid once: its pot is empty the second time)
        for node_id in node_ids:
            touch(node_id)
            node = nodes[node_id]
            pot = acct.rewards(node_id)
            reward = balances.get(pot, 0)
            if reward and node_id not in waiting:
                waiting[node_id] = (node, pot, reward)
        if not waiting:
            return [0] * len(node_ids)
        accrue_nodes(state, [node for node, _, _ in waiting.values()], self.writes)
        how, pay = self._settling(stream), self._pay_stakers
        dust = {node.id: pay(node, pot, reward, stream, how) for node, pot, reward in waiting.values()}
        return [dust.pop(node_id, 0) for node_id in node_ids]

    def _settling(self, stream: str) -> tuple[bool, str]:
        """A stake line's (formulas cited in the stream's account, dust line): rule version 11 on, the formula once there."""
        how = self._stake_lines.get(stream)
        if how is None:
            how = self._stake_lines[stream] = (cites_line_formulas(self._params, stream), line(stream.split(":")[0], LinePart.DUST))
        return how

    def _pay_stakers(self, node: Node, pot: str, reward: int, stream: str, how: tuple[bool, str]) -> int:
        """Pay ``reward`` waiting in ``pot`` to the node's positions, accrued up to now, by stake × ticks (``settle``), the
        floors to ``dust``; returns the dust (``how``: ``_settling(stream)``)."""
        cited, dust_line = how
        move, add, balances = self._move, self._add, self.state.ledger.balances
        node_id = node.id
        total = node.stake_ticks
        if total:
            positions = node.positions
            for addr in sorted(positions, key=lambda a: (a != node_id, a)) if len(positions) > 1 else positions:
                ticks = positions[addr].stake_ticks
                share = stake_share(reward, ticks, total)
                if share:
                    move(pot, acct.claimable(addr), share, stream)
                    inputs = {
                        "node": node_id,
                        "node_reward": reward,
                        "stake_ticks": ticks,
                        "node_stake_ticks": total,
                        "stake": balances.get(stake_account(node_id, addr), 0),
                    }
                    if not cited:
                        inputs["formula"] = STAKE_FORMULA
                    add(new_earning(addr, stream, share, inputs, True))
        leftover = balances.get(pot, 0)  # the floors; all of it if no stake was bonded for a tick
        if leftover:
            move(pot, "dust", leftover, "stake_reward_rounding")
            inputs = {"node": node_id, "node_reward": reward, "node_stake_ticks": total}
            if not cited:
                inputs["formula"] = DUST_FORMULA
            add(new_earning("dust", dust_line, leftover, inputs))
        if balances.get(pot, 0) != 0:
            invariant(False, f"rewards:{node_id} not empty after settling its stakers")
        return leftover


def credit_node_reward(state: State, node_id: str, src: str, amount: int, stream: str, detail: dict[str, Any], writes: Writes | None = None) -> int:
    """Credit ``amount`` from ``src`` to a node: commission to its operator, the rest to ``rewards:<node>`` for its stakers.

    Returns the part for the stakers (paid by ``settle_node_rewards``). With no stake (``has_stake``: from rule 31 no
    stake × ticks this epoch; 1-30 none at the moment), everything is commission. A close step crediting many nodes passes one ``writes`` batch
    (``journal.Writes``): the same writes, journaled as a few entries; and pays them through one ``NodePay``.
    """
    return NodePay(state, writes).credit(node_id, src, amount, stream, detail)


def settle_node_rewards(state: State, node_id: str, stream: str = Stream.STAKE_REWARD, writes: Writes | None = None) -> int:
    """Pay ``rewards:<node>`` to every position of the epoch by its stake × ticks; the floors go to ``dust``. Returns the dust.

    ``writes``: as for ``credit_node_reward``."""
    return NodePay(state, writes).settle(node_id, stream)


def start_stake_epoch(state: State, node: Node, writes: Writes | None = None) -> None:
    """After the close: counts start again from now, positions without stake are forgotten, a pending commission applies."""
    start_stake_epochs(state, (node,), writes)


def start_stake_epochs(state: State, nodes: Sequence[Node], writes: Writes | None = None) -> None:
    """``start_stake_epoch`` of each node (the close's ``process_stake_epoch``: every node), accrued together first."""
    accrue_nodes(state, nodes, writes)  # (each node's mark is now the tick)
    tick, balances, touch = state.tick, state.ledger.balances, state.touch
    for node in nodes:
        node_id, held = node.id, node.positions
        kept = {a: Accrual(0, tick) for a in (sorted(held) if len(held) > 1 else held) if balances.get(stake_account(node_id, a), 0) > 0}
        _write(writes, node, "positions", kept)
        if node.stake_ticks:
            _write(writes, node, "stake_ticks", 0)
        if node.idle_stake_ticks:
            _write(writes, node, "idle_stake_ticks", 0)
        if node.commission_next_bps is not None:
            _write(writes, node, "commission_bps", node.commission_next_bps)
            _write(writes, node, "commission_next_bps", None)
        touch(node_id)


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
        raise Conflict(f"self-bond {cor(bond)} is below the {role} minimum {cor(p.min_self_bond(role))}", code="self_bond_below_minimum")
    have = state.ledger.balance(acct.wallet(actor))
    if have < bond:
        raise Conflict(f"wallet holds {cor(have)}, self-bond needs {cor(bond)}", code="stake_exceeds_balance")
    check_position(state, actor, actor, bond, "node.register")
    state.nodes[actor] = Node(
        id=actor,
        role=role,
        commission_bps=commission,
        registered_tick=state.tick,
        models=tuple(models),
        reputation_ppb=starting_reputation(state, role),
    )
    state.nodes[actor].reputation_start_ppb = state.nodes[actor].reputation_ppb
    if actor in state.slash_index.by_node:  # slash records of this key from before (none a handler writes): it caps too
        state.reputation_caps.on_slash(state.nodes[actor])
    change_stake(state, actor, actor, acct.wallet(actor), acct.bonded(actor), bond, "self_bond")


def starting_reputation(state: State, role: str) -> int:
    """A new node's reputation: ``reputation_initial_ppb``, and never above a node of its role still serving a jail sentence.

    A new key cannot be told apart from a jailed operator's way out of jail: starting no higher than
    any node whose jail is running means re-registering during a jail never improves that key's
    standing. (Only running sentences count, so holding newcomers down costs a fresh jail — a slash —
    every ``jail_duration_ticks``.) From rule version 7 also never above a node of its role slashed in
    the last ``reputation_memory_epochs`` epochs (this one included), so re-registering after the jail
    has ended gains nothing either: the jailed key's slash caps the fresh key until the memory has
    passed. Rule versions 1-3: ``reputation_initial_ppb``.

    From rule version 13 the cap is floored at ``reputation_newcomer_floor_ppb``: the lowest capping reputation
    counts only down to the floor, ``min(initial, max(floor, lowest))``. Under rules 4-12 one node kept failing
    (reputation near 0) and slashed every memory window held every newcomer of its role near 0 — drawn and
    paid as little as that node — so incumbents could keep competitors out for the price of a small slash.
    With the floor, no other node's record costs a newcomer more than ``initial ÷ floor`` of its draws, and a
    jailed key whose own reputation is below the floor gains at most ``floor − its reputation`` by
    re-registering (above the floor it gains nothing, as before).

    The capping nodes are read from ``State.reputation_caps`` (the lowest of each role's running jails and of its nodes
    slashed in the window, by reputation: O(log n) amortised), not by reading every node with a jail on record and every
    slash record of the window (issue 16); the same value (``state.capping_nodes`` reads them so, for the full checks).
    """
    p = state.params
    if not rules_since(p, RULES_SLASHING):
        return p.reputation_initial_ppb
    since = state.epoch - p.reputation_memory_epochs if rules_since(p, RULES_OFFENCE_ALLOWANCE) else None
    capping = state.reputation_caps.lowest(state, role, since)
    lowest = p.reputation_initial_ppb if capping is None else min(p.reputation_initial_ppb, capping)
    if rules_since(p, RULES_NEWCOMER_FLOOR):
        return newcomer_reputation(p.reputation_initial_ppb, p.reputation_newcomer_floor_ppb, lowest)
    return lowest


def newcomer_reputation(initial_ppb: int, floor_ppb: int, lowest_ppb: int) -> int:
    """Rule 13's start: ``min(initial, max(floor, lowest))`` (``lowest``: the lowest capping reputation, or ``initial``)."""
    return min(initial_ppb, max(floor_ppb, lowest_ppb))


def process_bond(state: State, actor: str, body: dict[str, Any]) -> None:
    """``stake.bond``: a node's operator adds to its self-bond."""
    amount = _positive_amount(body)
    get_node(state, actor)
    have = state.ledger.balance(acct.wallet(actor))
    if have < amount:
        raise Conflict(f"wallet holds {cor(have)}, bond needs {cor(amount)}", code="stake_exceeds_balance")
    check_position(state, actor, actor, self_bond(state, actor) + amount, "stake.bond")
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
        raise Conflict(f"wallet holds {cor(have)}, delegation needs {cor(amount)}", code="stake_exceeds_balance")
    check_position(state, node_id, actor, stake_of(state, node_id, actor) + amount, "stake.delegate")
    change_stake(state, node_id, actor, acct.wallet(actor), acct.delegated(node_id, actor), amount, "delegate")


def _start_unbonding(state: State, node_id: str, actor: str, amount: int) -> None:
    have = stake_of(state, node_id, actor)
    if have < amount:
        raise Conflict(f"stake is {cor(have)}, cannot unbond {cor(amount)}", code="unbond_exceeds_stake")
    check_position(state, node_id, actor, have - amount, "stake.unbond" if actor == node_id else "stake.undelegate")
    p = state.params
    if rules_since(p, RULES_MIN_POSITION):
        # every entry not yet withdrawn, matured too: every slash of the node walks them all (``slashing.slash``), and a
        # matured entry left in place would let one position at the minimum pile up entries without end (max_entries
        # every unbonding period, a base unit each); ``stake.withdraw`` takes all the matured ones at once
        mine = [u for u in state.unbondings_of(actor) if u.node == node_id]
        if len(mine) >= p.max_entries:
            matured = sum(1 for u in mine if u.mature_epoch <= state.epoch)
            # an entry counts until it is withdrawn, so waiting for one to mature frees nothing by itself
            todo = (
                f"stake.withdraw takes the {matured} matured ones"
                if matured
                else f"none has matured yet: stake.withdraw one once it has (epoch {min(u.mature_epoch for u in mine)})"
            )
            raise Conflict(
                f"{actor} already has {len(mine)} unbonding entries from {node_id} (max_entries {p.max_entries}; an entry counts "
                f"until withdrawn, matured or not): {todo}, or cancel one and unbond the total",
                code="too_many_unbonding_entries",
            )
    elif rules_since(p, RULES_MOVING_LIMITS):
        # the actor's own entries (``State.unbondings_of``: O(its entries)), not every entry of the network
        maturing = sum(1 for u in state.unbondings_of(actor) if u.node == node_id and u.mature_epoch > state.epoch)
        if maturing >= p.max_entries:
            raise Conflict(
                f"{actor} already has {maturing} unbonding entries from {node_id} maturing (max_entries {p.max_entries}): "
                "wait for one to mature, or cancel one and unbond the total",
                code="too_many_unbonding_entries",
            )
    entry = Unbonding(
        id=state.new_id(),
        address=actor,
        node=node_id,
        amount=amount,
        start_tick=state.tick,
        mature_epoch=state.epoch + state.params.unbonding_period_epochs,
    )
    change_stake(state, node_id, actor, stake_account(node_id, actor), acct.unbonding(actor), amount, "unbond")
    state.add_unbonding(entry)


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
    """``stake.withdraw``: move every matured unbonding entry of the actor to its wallet, by id (O(the actor's entries))."""
    pending = state.unbondings_of(actor)
    matured = [u for u in pending if u.mature_epoch <= state.epoch]
    if not matured:
        if pending:
            first = min(u.mature_epoch for u in pending)
            raise Conflict(f"nothing to withdraw yet: the first entry matures at epoch {first}", code="unbonding_not_mature")
        raise Conflict("no unbonding entries to withdraw", code="nothing_to_withdraw")
    for u in matured:
        state.ledger.transfer(acct.unbonding(actor), acct.wallet(actor), u.amount, "withdraw")
        state.remove_unbonding(u)


def process_set_commission(state: State, actor: str, body: dict[str, Any]) -> None:
    """``node.set_commission``: a bounded, rate-limited commission change, in force from the next epoch."""
    node = get_node(state, actor)
    p = state.params
    new = body.get("commission_bps")
    if isinstance(new, bool) or not isinstance(new, int) or not 0 <= new <= p.max_commission_bps:
        raise InvalidInput(f"commission_bps must be an integer in [0, {p.max_commission_bps}]", code="commission_out_of_bounds")
    if abs(new - node.commission_bps) > p.max_commission_change_bps:
        raise Conflict(f"commission may change by at most {p.max_commission_change_bps} bps at a time", code="commission_change_too_large")
    if node.commission_changed_epoch >= 0 and state.epoch < node.commission_changed_epoch + p.commission_change_cooldown_epochs:
        raise Conflict("commission was changed too recently", code="commission_change_too_soon")
    node.commission_next_bps = new  # from the next epoch: this epoch's rewards are paid at the rate in force when it began
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
        raise Conflict(f"self-bond must be restored to at least {cor(need)} before unjail", code="self_bond_below_minimum")
    if rules_since(state.params, RULES_EXPOSED_STAKE):
        accrue_stake_ticks(state, node)  # the ticks in jail are idle (no APR); from now on they are not
    state.unjail(actor)
    node.unjailed_tick = state.tick


def require_actor_is(actor: str, who: str, what: str) -> None:
    if actor != who:
        raise Unauthorized(f"only {who} may {what}", code="unauthorized_actor")
