"""What an attack's judge reads: stake × ticks per position (measured by the simulator itself) and statement lines.

``StakeClock`` watches chosen stake positions after every event (``SimChain.observers``) and sums,
per epoch, stake × ticks held: the interval (t0, t1] between two events counts the stake held after
the first, and an interval that crosses an epoch's close is split at that epoch's ``end_tick`` (a
command applied at the last tick before the close holds its stake for exactly one tick of that
epoch). It is an independent measurement of what the core should pay by: it never reads the core's
own ``stake_ticks``.

Statement lines are read back from ``EpochRecord.items`` (the simulator never recomputes a payout):
a staker's share of a node's reward is a ``<stream>:stake`` (or ``stake_reward``) line whose detail
names the node; an operator's commission a ``<stream>:commission`` line; a slash a ``slash`` line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ...core.state import State
from ...core.streams import LinePart, Stream
from ..chain import SimChain

Position = tuple[str, str]  # (node, staker address); (node, "*") is the node's whole stake


def position_stake(state: State, node: str, who: str) -> int:
    """Stake of ``who`` in ``node`` now (the node's whole stake for ``who == "*"``)."""
    n = state.nodes.get(node)
    if n is None:
        return 0
    if who == "*":
        return n.stake_total
    account = f"bonded:{node}" if who == node else f"delegated:{node}:{who}"
    return state.ledger.balance(account)


@dataclass
class StakeClock:
    """Stake × ticks per epoch for the positions it watches (see the module docstring)."""

    positions: list[Position]
    ticks: dict[int, dict[Position, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    _tick: int = 0
    _stake: dict[Position, int] = field(default_factory=dict)

    def attach(self, chain: SimChain) -> None:
        self._tick = chain.state.tick
        self._stake = {p: position_stake(chain.state, *p) for p in self.positions}
        chain.observers.append(self.observe)

    def observe(self, state: State, epoch_before: int) -> None:
        t0, e = self._tick, epoch_before
        while e < state.epoch:  # the event closed epoch e (and maybe more): split at each close
            end = state.epochs[e].end_tick
            self._add(e, t0, end)
            t0, e = end, e + 1
        self._add(state.epoch, t0, state.tick)
        self._tick = state.tick
        for p in self.positions:
            self._stake[p] = position_stake(state, *p)

    def _add(self, epoch: int, t0: int, t1: int) -> None:
        if t1 > t0:
            for p, s in self._stake.items():
                if s:
                    self.ticks[epoch][p] += s * (t1 - t0)

    def of(self, epoch: int, node: str, who: str) -> int:
        return self.ticks.get(epoch, {}).get((node, who), 0)


def is_staker_line(stream: str) -> bool:
    """A staker's harvest of a node's reward (any stream)."""
    return stream == Stream.STAKE_REWARD or stream.endswith(f":{LinePart.STAKE}")


def is_commission_line(stream: str) -> bool:
    return stream.endswith(f":{LinePart.COMMISSION}")


def staker_rewards(state: State, epoch: int, node: str, *, prefix: str = "") -> dict[str, int]:
    """Per address: what it harvested from ``node``'s stakers' reward in ``epoch`` (streams starting with ``prefix``)."""
    out: dict[str, int] = defaultdict(int)
    for item in state.epochs[epoch].items:
        if is_staker_line(item.stream) and item.detail.get("node") == node and item.stream.startswith(prefix):
            out[item.address] += item.amount
    return dict(out)


def commission(state: State, epoch: int, node: str, *, prefix: str = "") -> int:
    """The commission ``node``'s operator took in ``epoch``."""
    return sum(i.amount for i in state.epochs[epoch].items if is_commission_line(i.stream) and i.address == node and i.stream.startswith(prefix))


def slashed(state: State, epoch: int, address: str) -> int:
    """Stake ``address`` lost to slashes in ``epoch`` (positive)."""
    return -sum(i.amount for i in state.epochs[epoch].items if i.address == address and i.stream == Stream.SLASH)


def earned(state: State, epoch: int, address: str, stream: str) -> int:
    """Σ of ``address``'s statement lines of ``stream`` in ``epoch``."""
    return sum(i.amount for i in state.epochs[epoch].items if i.address == address and i.stream == stream)
