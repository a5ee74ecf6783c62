"""Attack families: a parametrised actor script, an honest twin, and a verdict with the attacker's gain.

An *attack* is a family name plus a knob setting. A ``Family`` declares

    knobs       the parameters an optimiser may move, each with bounds (``lo``..``hi``) or ``choices``
                and a default that reproduces the measured attack;
    scenario()  the population, workload and core parameters of both worlds (same stake, same seeds);
    script()    the attacker's actor script (``sim/script.py``), and with ``twin=True`` the honest
                twin's: the same actor with the same stake doing the honest thing (or nothing);
    measure()   after a run, the numbers the judge needs (JSON-ready; money in base units);
    judge()     from the attack's and the twin's measurements over every seed: the ``gain`` (0 = no
                advantage over the honest twin; the family's docstring says in which unit), whether
                the attack is stopped (``passed``), the measured numbers and a one-line summary.

``evaluate(family, knobs, seeds)`` runs both worlds for every seed and returns the verdict: the
function a black-box optimiser maximises ``gain`` of. Both worlds are full runs of the real core
(``runner.run``), so conservation and every node's and actor's statement are checked each epoch;
``passed`` also requires those books to hold.

Adding a family: subclass ``Family`` in ``sim/attacks/<family>.py`` and list it in
``sim/attacks/__init__.py``; it then appears in ``cor simulate --scenario all``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...core.errors import InvalidInput
from ..runner import RunResult, run
from ..scenarios import Scenario, read_scenario_file
from ..script import ActorScript

DEFAULT_SEEDS = (1, 2, 3, 4, 5)
Knobs = Mapping[str, int | str]


@dataclass(frozen=True)
class Knob:
    """One parameter of an attack: an integer in [lo, hi] or one of ``choices``; ``default`` reproduces the measured attack."""

    name: str
    default: int | str
    doc: str
    lo: int = 0
    hi: int = 0
    choices: tuple[str, ...] = ()

    def check(self, value: object) -> int | str:
        if self.choices:
            if value not in self.choices:
                raise InvalidInput(f"knob {self.name} must be one of {', '.join(self.choices)}, got {value!r}", code="invalid_knob")
            return str(value)
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            raise InvalidInput(f"knob {self.name} must be an integer in [{self.lo}, {self.hi}], got {value!r}", code="invalid_knob")
        return value

    def bounds(self) -> dict[str, Any]:
        """The knob as an optimiser sees it."""
        if self.choices:
            return {"choices": list(self.choices), "default": self.default, "doc": self.doc}
        return {"lo": self.lo, "hi": self.hi, "default": self.default, "doc": self.doc}


@dataclass(frozen=True)
class Verdict:
    """The outcome of an attack against its honest twin, over every seed."""

    gain: float | None  # the attacker's advantage over the honest twin (0: none); None when undefined
    passed: bool  # the attack is stopped
    measured: dict[str, Any]
    summary: str


@dataclass
class Measured:
    """One run of one world: the family's measurements and the books."""

    seed: int
    twin: bool
    values: dict[str, Any]
    books_ok: bool
    errors: list[str] = field(default_factory=list)
    head_hash: str = ""


class Family:
    """An attack family (see the module docstring). Subclasses set the class attributes and the four methods."""

    name: str = ""
    title: str = ""
    criterion: str = ""  # when the attack counts as stopped, in words
    description: str = ""  # the attack at its defaults, with the measurement it reproduces
    gain_unit: str = ""  # what ``gain`` measures
    knobs: tuple[Knob, ...] = ()
    seeds: tuple[int, ...] = DEFAULT_SEEDS

    def defaults(self) -> dict[str, int | str]:
        return {k.name: k.default for k in self.knobs}

    def resolve(self, knobs: Knobs | None = None) -> dict[str, int | str]:
        """Defaults overridden by ``knobs``, each checked against its bounds."""
        given = dict(knobs or {})
        known = {k.name: k for k in self.knobs}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidInput(f"{self.name}: unknown knob(s) {', '.join(unknown)}; one of {', '.join(known)}", code="invalid_knob")
        return {name: k.check(given.get(name, k.default)) for name, k in known.items()}

    # --- what a family defines ---

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        raise NotImplementedError

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        raise NotImplementedError

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        raise NotImplementedError

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        raise NotImplementedError

    # --- running ---

    def run_one(self, knobs: Knobs, seed: int, twin: bool, params: Mapping[str, Any] | None = None) -> Measured:
        """One world for one seed (``params``: core parameters over the family's, in both worlds)."""
        k = self.resolve(knobs)
        script = self.script(k, twin)
        scenario = self.scenario(k, twin)
        if params:
            scenario = replace(scenario, params={**scenario.params, **params})
        result = run(scenario, seed, script=script)
        errors = [f"seed {seed}{' twin' if twin else ''}: {e}" for e in result.conservation_errors + result.reconcile_errors]
        return Measured(seed, twin, self.measure(k, result, script, twin), not errors, errors, result.head_hash)


FAMILIES: dict[str, Family] = {}


def register(*families: Family) -> None:
    """Make families known to ``cor simulate`` (their names must be new)."""
    for f in families:
        if not f.name or f.name in FAMILIES:
            raise ValueError(f"attack family name {f.name!r} is empty or taken")
        FAMILIES[f.name] = f


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise InvalidInput(f"unknown attack family {name!r}; one of {', '.join(FAMILIES)}", code="unknown_scenario")
    return FAMILIES[name]


@dataclass(frozen=True)
class Attack:
    """A named attack: a family at a knob setting, over some seeds (a built-in attack is its family at the defaults)."""

    name: str
    family: str
    knobs: Mapping[str, int | str] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # core parameters over the family's (e.g. a weakened set)

    def resolved(self) -> tuple[Family, dict[str, int | str], tuple[int, ...]]:
        f = family(self.family)
        return f, f.resolve(self.knobs), tuple(self.seeds) or f.seeds

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Attack:
        if not isinstance(data, Mapping) or not isinstance(data.get("family"), str):
            raise InvalidInput("an attack needs a family (and optionally name, knobs, seeds, params)", code="invalid_scenario")
        unknown = sorted(set(data) - {"name", "family", "knobs", "seeds", "params"})
        if unknown:
            raise InvalidInput(f"unknown attack field(s): {', '.join(unknown)}", code="invalid_scenario")
        knobs = data.get("knobs", {})
        seeds = data.get("seeds", [])
        params = data.get("params", {})
        if not isinstance(knobs, Mapping) or not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise InvalidInput("attack knobs must be an object and seeds a list of integers", code="invalid_scenario")
        if not isinstance(params, Mapping):
            raise InvalidInput("attack params must be an object of core parameters", code="invalid_scenario")
        a = Attack(str(data.get("name") or data["family"]), data["family"], dict(knobs), tuple(seeds), dict(params))
        f, k, _ = a.resolved()  # validates family and knobs now
        if params:
            replace(f.scenario(k, False), params={**f.scenario(k, False).params, **params})  # validates the parameters now
        return a


def load_attacks(path: str | Path) -> list[Attack]:
    """The ``attacks`` list of a scenario file (JSON or TOML), if any."""
    data = read_scenario_file(path)
    items = data.get("attacks", []) if isinstance(data, dict) else []
    if not isinstance(items, list):
        raise InvalidInput(f"{path}: attacks must be a list", code="invalid_scenario")
    return [Attack.from_dict(d) for d in items]


def builtin_attacks() -> list[Attack]:
    """Every registered family at its defaults, named after the family."""
    return [Attack(name, name) for name in FAMILIES]


def _job(family_name: str, knobs: dict[str, int | str], seed: int, twin: bool, params: dict[str, Any] | None = None) -> Measured:
    return FAMILIES[family_name].run_one(knobs, seed, twin, params)


def evaluate(
    attack: Attack, *, seeds: tuple[int, ...] | None = None, workers: int = 1, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run ``attack`` and its honest twin for every seed; the verdict and everything it rests on."""
    return evaluate_many([attack], seeds=seeds, workers=workers, progress=progress)[0]


def evaluate_many(
    attacks: list[Attack], *, seeds: tuple[int, ...] | None = None, workers: int = 1, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """``evaluate`` for several attacks, their runs spread over ``workers`` processes."""
    plans = []
    for a in attacks:
        f, k, own = a.resolved()
        plans.append((a, f, k, tuple(seeds) if seeds else own))
    jobs = [(f.name, k, s, twin, dict(a.params)) for a, f, k, ss in plans for s in ss for twin in (False, True)]
    done: dict[tuple[str, str, int, bool, str], Measured] = {}

    def key(j: tuple[str, dict[str, int | str], int, bool, dict[str, Any]]) -> tuple[str, str, int, bool, str]:
        return (j[0], repr(sorted(j[1].items())), j[2], j[3], repr(sorted(j[4].items())))

    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            if key(j) not in done:
                done[key(j)] = _job(*j)
                if progress:
                    progress(f"{j[0]} seed {j[2]}{' twin' if j[3] else ''}")
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_job, *j): j for j in {key(j): j for j in jobs}.values()}
            for fut in as_completed(futures):
                j = futures[fut]
                done[key(j)] = fut.result()
                if progress:
                    progress(f"{j[0]} seed {j[2]}{' twin' if j[3] else ''}")
    out = []
    for a, f, k, ss in plans:
        runs = [done[key((f.name, k, s, False, dict(a.params)))] for s in ss]
        twins = [done[key((f.name, k, s, True, dict(a.params)))] for s in ss]
        verdict = f.judge(k, [r.values for r in runs], [t.values for t in twins])
        errors = [e for m in runs + twins for e in m.errors]
        out.append(
            {
                "name": a.name,
                "kind": "attack",
                "family": f.name,
                "title": f.title,
                "description": f.description,
                "criterion": f.criterion,
                "gain_unit": f.gain_unit,
                "knobs": k,
                **({"params": dict(a.params)} if a.params else {}),
                "bounds": {kn.name: kn.bounds() for kn in f.knobs},
                "seeds": list(ss),
                "gain": verdict.gain,
                "passed": verdict.passed and not errors,
                "summary": verdict.summary,
                "measured": verdict.measured,
                "books": {"ok": not errors, "errors": errors[:20]},
                "head_hashes": {str(m.seed) + ("~twin" if m.twin else ""): m.head_hash for m in runs + twins},
            }
        )
    return out
