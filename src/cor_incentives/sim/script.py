"""Actor scripts: an attacker's timed commands and hooks, run by ``runner.World`` next to the node strategies.

Node strategies (``strategies.py``) decide what a node does inside a task. Many attacks are about
*when* an actor acts on its stake, commission or evidence — delegate one tick before the close,
unbond between a precommit and its reveal, re-register after a jail — and some actors are not nodes
at all (delegators, reporters). An ``ActorScript`` is that actor's plan; the world calls it at these
moments:

    allocations()            extra genesis wallets (address -> base units), before the chain exists
    tasks(world, epoch, round)
                             tasks the actor submits in this round (``TaskSpec``s): the world issues
                             them with its own and drives them to the end like any other
    actors()                 actors that are not nodes (name -> address), whose books the world checks too
    setup(world)             after every node registered (register late nodes, first delegations, ...)
    next_tick(world)         the next tick at which the script wants to act (the world stops its
                             clock there: between rounds, while it drives tasks, before ``epoch.close``)
    act(world)               at that tick
    plan(world, ctx)         a miner's plan for a task (``Override``) instead of its strategy's
    before_reveal(world, task, miner)
                             just before a miner reveals (may return another ``Output`` to reveal)
    issue(world, epoch, round_)
                             in every round, after the scenario's own tasks: tasks the script submits
                             (registered with ``world.adopt``), which the world then drives like its own
    across_close(world, epoch)
                             (ticks before the close, ``TaskSpec``s): tasks the world issues that many ticks
                             before the close, after the rounds, and drives until the tick before it; those
                             still open cross the close and finish with the next epoch's first round (the only
                             tasks whose life may cross a close; none in the run's last epoch)
    after_close(world, epoch)
                             after each ``epoch.close`` (measurements)
    keeps_jailed(address)    the world does not unjail this node automatically

``TimedScript`` is the usual kind: a list of ``Step``s, each a command of one actor at a tick offset
in the epoch (``offset >= 0``: after the epoch's first tick; ``offset < 0``: before its close, so
``-1`` is the last tick before the close). A step's body may be a function of the state (``None``:
skip this time). Refused commands are kept in ``log`` with their error code: a refusal is often the
measurement (an attack that must be refused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import EngineError
from ..core.records import Task
from ..core.state import State
from .strategies import MinerContext, MinerPlan, Output, TaskInfo

if TYPE_CHECKING:
    from .runner import World

Body = dict[str, Any] | Callable[[State], dict[str, Any] | None]
TaskSpec = tuple[TaskInfo, str, str, dict[str, Any]]  # (what strategies see, actor, command kind, body)


@dataclass(frozen=True)
class Override:
    """A script's plan for a miner's task (``plan`` None: the miner stays silent)."""

    plan: MinerPlan | None


@dataclass(frozen=True)
class Step:
    """One timed command: ``actor`` sends ``kind`` with ``body`` at ``offset`` ticks into (or before the end of) an epoch."""

    offset: int
    actor: str
    kind: str
    body: Body
    epochs: tuple[int, ...] | None = None  # None: every epoch
    label: str = ""


@dataclass
class LogEntry:
    """What one step did: applied, or refused with the engine's error code."""

    epoch: int
    tick: int
    label: str
    kind: str
    actor: str
    ok: bool
    code: str = ""


class ActorScript:
    """Hooks with no effect; subclasses override what they need."""

    log: list[LogEntry]

    def __init__(self) -> None:
        self.log = []

    def allocations(self) -> dict[str, int]:
        return {}

    def actors(self) -> dict[str, str]:
        """Actors that are not nodes (name -> address): their statements are reconciled with the ledger too."""
        return {}

    def setup(self, world: World) -> None:
        return None

    def tasks(self, world: World, epoch: int, round_: int) -> list[TaskSpec]:
        return []

    def next_tick(self, world: World) -> int | None:
        return None

    def act(self, world: World) -> None:
        return None

    def plan(self, world: World, ctx: MinerContext) -> Override | None:
        return None

    def before_reveal(self, world: World, task: Task, miner: str) -> Output | None:
        return None

    def issue(self, world: World, epoch: int, round_: int) -> list[int]:
        return []

    def across_close(self, world: World, epoch: int) -> tuple[int, list[TaskSpec]]:
        return 0, []

    def after_close(self, world: World, epoch: int) -> None:
        return None

    def keeps_jailed(self, address: str) -> bool:
        return False

    def send(self, world: World, actor: str, kind: str, body: dict[str, Any], label: str = "") -> bool:
        """Submit one command and log the outcome; a refusal changes nothing and is not an error here."""
        state = world.state
        entry = LogEntry(state.epoch, state.tick, label or kind, kind, actor, True)
        try:
            world.chain.submit(actor, kind, body)
        except EngineError as exc:
            entry.ok, entry.code = False, exc.code
        self.log.append(entry)
        return entry.ok

    def refused(self, label: str) -> list[LogEntry]:
        return [e for e in self.log if e.label == label and not e.ok]

    def applied(self, label: str) -> list[LogEntry]:
        return [e for e in self.log if e.label == label and e.ok]


@dataclass
class TimedScript(ActorScript):
    """Timed steps (see the module docstring); ``done`` remembers (epoch, step index) already run."""

    steps: list[Step] = field(default_factory=list)
    done: set[tuple[int, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        ActorScript.__init__(self)

    def _tick_of(self, world: World, step: Step) -> int:
        start, length = world.state.epoch_start_tick, world.state.params.epoch_length_ticks
        return start + step.offset if step.offset >= 0 else start + length + step.offset

    def _pending(self, world: World) -> list[tuple[int, int, Step]]:
        e = world.state.epoch
        out = []
        for i, step in enumerate(self.steps):
            if (e, i) in self.done or (step.epochs is not None and e not in step.epochs):
                continue
            out.append((self._tick_of(world, step), i, step))
        return sorted(out, key=lambda x: (x[0], x[1]))

    def next_tick(self, world: World) -> int | None:
        pending = self._pending(world)
        return pending[0][0] if pending else None

    def act(self, world: World) -> None:
        for tick, i, step in self._pending(world):
            if tick > world.state.tick:
                break
            self.done.add((world.state.epoch, i))
            body = step.body(world.state) if callable(step.body) else dict(step.body)
            if body is not None:
                self.send(world, step.actor, step.kind, body, step.label)
