"""Pieces the attack families share: the population, actors' addresses, a script that watches stake, the ``rules``
knob that runs a defence's rule or the one before it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.errors import InvariantViolation
from ...core.rules import RULE_VERSIONS
from ...core.units import COR
from ..chain import addr
from ..scenarios import ROUTER, NodeGroup, Scenario, miners, validators
from ..script import Step, TimedScript
from .base import Knob, Knobs
from .measure import Position, StakeClock

if TYPE_CHECKING:
    from ..runner import World

POPULATION = miners(("honest", 10)) + validators() + ROUTER
"""The built-in scenarios' population: 10 miners of 2 000 COR, 10 validators of 9 000–11 000 COR, one router."""


S = TypeVar("S")


def made(script: object, cls: type[S]) -> S:
    """``script`` as the class its family's ``script()`` makes: ``measure`` is handed back the script it made."""
    if not isinstance(script, cls):
        raise InvariantViolation(f"measure was handed a {type(script).__name__}, not the {cls.__name__} its family makes")
    return script


def world_of(script: object) -> Any:
    """The world a script ran in (its ``world``, kept by its ``setup``), for ``measure``."""
    world = getattr(script, "world", None)
    if world is None:
        raise InvariantViolation(f"the {type(script).__name__} has not run: no world to measure")
    return world


def final_state(script: object) -> Any:
    """The state of the world a script ran in, for ``measure``."""
    return world_of(script).state


def actor(name: str) -> str:
    """The address of an attack's actor that is not a node (``attacker:<name>``)."""
    return addr(f"attacker:{name}")


def node(name: str) -> str:
    """The address of the population's node ``name`` (e.g. ``miner-00``)."""
    return addr(name)


def population_scenario(
    name: str, epochs: int, *, nodes: tuple[NodeGroup, ...] = POPULATION, params: dict[str, Any] | None = None, tasks: int = 10
) -> Scenario:
    """The population with a light workload (``tasks`` user and ``tasks`` network tasks per epoch)."""
    return Scenario(
        name=name,
        nodes=nodes,
        params=params or {},
        epochs=epochs,
        user_tasks_per_epoch=tasks,
        network_tasks_per_epoch=tasks,
        seeds=(1,),
    )


PRUNED: dict[str, Any] = {"prune_closed_records": 1}
"""What a node with a database holds (closed records leave the live state); the simulator's default keeps everything."""


def rule_before(rule: int) -> int:
    """The last rule version before ``rule`` (the rules a family's old choice runs)."""
    return max(v for v in RULE_VERSIONS if v < rule)


@dataclass(frozen=True)
class Rules:
    """A family's ``rules`` knob: choice ``new`` (the default) runs the current rules, which have the defence ``rule``
    brought in; choice ``old`` runs the last rule before it (``rule_before``)."""

    rule: int
    new: str
    old: str
    earlier: tuple[Rules, ...] = ()  # a family's earlier defences, newest first: each one's ``old`` is a choice too

    @property
    def before(self) -> int:
        return rule_before(self.rule)

    def knob(self, new_does: str = "", old_does: str = "", *earlier_does: str, doc: str = "") -> Knob:
        """The knob; its doc names each choice's rule version and what it does (or is ``doc`` as given); ``earlier_does``:
        what each of ``earlier``'s old choices does."""
        olds = [(self.old, self.before, old_does)] + [(e.old, e.before, d) for e, d in zip(self.earlier, earlier_does + ("",) * len(self.earlier))]
        said = " or ".join(f"{name} (rule {v}: {does})" if does else f"{name} (rule {v})" for name, v, does in olds)
        doc = doc or f"the rules: {self.new} (rule {self.rule}: {new_does}) or {said}"
        return Knob("rules", self.new, doc, choices=(self.new, self.old, *(e.old for e in self.earlier)))

    def params(self, k: Knobs, *, pruned: bool = False, **more: Any) -> dict[str, Any]:
        """Core parameters of a world with the rules ``k`` chooses: ``PRUNED`` if ``pruned``, then ``more``, then the
        old choice's ``rule_version`` (nothing for the current rules): the last rule before the defence it names."""
        out = {**(PRUNED if pruned else {}), **more}
        for step in (self, *self.earlier):
            if k["rules"] == step.old:
                out["rule_version"] = step.before
        return out


def rounds_scenario(name: str, rounds: int, params: dict[str, Any]) -> Scenario:
    """The population with two tasks of each kind an epoch, for a family that runs one round an epoch: ``rounds``
    epochs and one more (its last round's records meet a close). ``name``: the world's (``Family.world_name``)."""
    return population_scenario(name, rounds + 1, tasks=2, params=params)


def pct(x: float | None) -> str:
    """A share (a ``gain``) as a signed percentage for a verdict's summary, ``n/a`` for an undefined one."""
    return "n/a" if x is None else f"{x * 100:+.1f} %"


def slash_avoided(attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> tuple[int, int, float | None, bool]:
    """The verdict of a family whose ``gain`` is the share of the twin's slash avoided (``gain_unit``): the slash of
    the attack worlds (their measured ``slashed``), the twins', the gain (1 - attack / twin; None when the twins were
    not slashed) and whether the attack is stopped (it dodges at most 1 %)."""
    got, owed = sum(r["slashed"] for r in attack), sum(r["slashed"] for r in twin)
    gain = None if not owed else 1 - got / owed
    return got, owed, gain, gain is not None and gain <= 0.01


def cor_units(amount_cor: int | str) -> int:
    return int(amount_cor) * COR


class StakeScript(TimedScript):
    """Timed steps plus: extra wallets, setup commands, and a ``StakeClock`` over some positions."""

    def __init__(
        self,
        steps: list[Step],
        *,
        watch: list[Position],
        wallets: dict[str, int] | None = None,
        actor_names: dict[str, str] | None = None,
        setup_commands: list[tuple[str, str, dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(steps=steps)
        self.clock = StakeClock(watch)
        self.wallets = dict(wallets or {})
        self.actor_names = dict(actor_names or {})
        self.setup_commands = list(setup_commands or [])
        self.world: World | None = None

    def allocations(self) -> dict[str, int]:
        return self.wallets

    def actors(self) -> dict[str, str]:
        return self.actor_names

    def setup(self, world: World) -> None:
        self.world = world
        self.clock.attach(world.chain)
        for who, kind, body in self.setup_commands:
            self.send(world, who, kind, body, f"setup:{kind}")

    @property
    def state(self) -> Any:
        return final_state(self)


Sample = tuple[int, int, int]
"""What a live-state probe records mid-round: (epoch, the attackers' records held live, their canonical bytes)."""


class SampledScript(StakeScript):
    """A ``StakeScript`` that also keeps a live-state probe's samples (``live_probe``), one per round."""

    def __init__(self, steps: list[Step], samples: list[Sample], **kw: Any) -> None:
        super().__init__(steps, **kw)
        self.samples = samples


def live_probe(samples: list[Sample], live: Callable[[Any], tuple[int, int]]) -> Any:
    """A step body that appends (epoch, *``live(state)``) to ``samples`` and sends nothing."""

    def body(state: Any) -> dict[str, Any] | None:
        samples.append((state.epoch, *live(state)))
        return None

    return body


def sampled_rounds(attack: list[dict[str, Any]]) -> tuple[float, float, float, list[int]]:
    """Over the seeds' ``samples``: the live records at the first and the last round and the last round's bytes (means
    per seed; a seed with no sample counts 0), and the first seed's live records round by round."""
    per_seed = len(attack) or 1
    first = sum(a["samples"][0][1] if a["samples"] else 0 for a in attack) / per_seed
    last = sum(a["samples"][-1][1] if a["samples"] else 0 for a in attack) / per_seed
    last_bytes = sum(a["samples"][-1][2] if a["samples"] else 0 for a in attack) / per_seed
    growth = [s[1] for s in attack[0]["samples"]] if attack else []
    return first, last, last_bytes, growth
