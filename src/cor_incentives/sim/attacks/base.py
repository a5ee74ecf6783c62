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
    references  optionally, named reference worlds (``reference(k, name)``: a scenario and script) run
                on every seed beside the attack and its twin, for a criterion whose part is measured
                against another control than the all-honest twin (``spread_inflation``: the honest
                nodes' moves caused by the validators' lie, against a world where its garbage miner is
                still garbage). The family fixes them, as it fixes its twin: no knob, no option picks
                them. Each is measured like the twin (``measure(..., twin=True)``) and rides with the
                twin's measurement of its seed, under ``"references"`` (name -> values), so the judge
                and every bootstrap resample see a seed's worlds together.

``evaluate(family, knobs, seeds)`` runs both worlds (and the references) for every seed and returns the verdict: the
function a black-box optimiser maximises ``gain`` of. Both worlds are full runs of the real core
(``runner.run``), so conservation and every node's and actor's statement are checked each epoch;
``passed`` also requires those books to hold.

How sure a verdict is (``bootstrap``): a family's numbers over a few seeds can be a lucky or unlucky
window, so every evaluation also resamples the seeds with replacement (``RESAMPLES`` times, a seed's
attack world and its twin kept together, a fixed-seed RNG) and calls the family's own ``judge`` on each
resample. That gives a 95 % interval for ``gain``, the share of resamples that pass, and the
three-valued ``verdict``: ``stopped`` iff at least 95 % of the resamples pass, ``open`` iff at most
5 % do, otherwise ``undecided``. A noisy family (its resamples do not all give the same gain and
verdict) is decided only from ``MIN_NOISY_SEEDS`` seeds on: below that the bootstrap is too narrow to
trust. An exact family (every resample the same) is decided at any seed count. With ``sequential``
(``cor simulate`` without ``--seeds``, ``scripts/attacks_doc.py``) an attack still undecided after its
own seeds is run at ``Family.max_seeds`` seeds and decided there: one extension, not a look after every
batch, so that stopping at the first lucky batch cannot make a verdict.

Adding a family: subclass ``Family`` in ``sim/attacks/<family>.py`` and list it in
``sim/attacks/__init__.py``; it then appears in ``cor simulate --scenario all``.
"""

from __future__ import annotations

import random
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
MAX_SEEDS = 20  # a sequential evaluation runs an undecided attack at this many seeds (Family.max_seeds)
RESAMPLES = 1000  # paired bootstrap resamples per verdict
DECIDED_SHARE = 0.95  # stopped iff at least this share of the resamples pass; open iff at most 1 - it
MIN_NOISY_SEEDS = 20  # a family whose resamples differ is decided only from this many seeds on
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
    reference: str = ""  # the reference world's name (``Family.references``); "" for the attack and its twin


class Family:
    """An attack family (see the module docstring). Subclasses set the class attributes and the four methods."""

    name: str = ""
    title: str = ""
    criterion: str = ""  # when the attack counts as stopped, in words
    description: str = ""  # the attack at its defaults, with the measurement it reproduces
    gain_unit: str = ""  # what ``gain`` measures
    knobs: tuple[Knob, ...] = ()
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    max_seeds: int = MAX_SEEDS  # a sequential evaluation runs the attack at this many seeds if its own leave it undecided
    references: tuple[str, ...] = ()  # reference worlds run on every seed beside the twin (module docstring); fixed, not a knob

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

    def world_name(self, twin: bool) -> str:
        """The scenario name of the family's attack world, or with ``twin`` of its honest twin's (``<name>~twin``)."""
        return self.name + ("~twin" if twin else "")

    # --- what a family defines ---

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        raise NotImplementedError

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        raise NotImplementedError

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        raise NotImplementedError

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        raise NotImplementedError

    def reference(self, k: Knobs, name: str) -> tuple[Scenario, ActorScript]:
        """The reference world ``name`` (one of ``references``): its scenario and script, same seeds and parameters."""
        raise NotImplementedError

    # --- running ---

    def run_one(
        self,
        knobs: Knobs,
        seed: int,
        twin: bool,
        params: Mapping[str, Any] | None = None,
        reference: str = "",
        fields: Mapping[str, Any] | None = None,
    ) -> Measured:
        """One world for one seed (``params``: core parameters over the family's, in every world; ``fields``: scenario
        fields over the family's, a sweep's). ``reference``: run that reference world instead (measured as a twin)."""
        k = self.resolve(knobs)
        if reference:
            if reference not in self.references:
                raise InvalidInput(f"{self.name} has no reference world {reference!r}", code="invalid_scenario")
            scenario, script = self.reference(k, reference)
            twin = True
        else:
            script, scenario = self.script(k, twin), self.scenario(k, twin)
        if params or fields:
            scenario = replace(scenario, params={**scenario.params, **(params or {})}, **dict(fields or {}))
        result = run(scenario, seed, script=script)
        label = f" {reference}" if reference else " twin" if twin else ""
        errors = [f"seed {seed}{label}: {e}" for e in result.conservation_errors + result.reconcile_errors]
        return Measured(seed, twin, self.measure(k, result, script, twin), not errors, errors, result.head_hash, reference)

    def with_references(self, twin: dict[str, Any], references: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """A twin's measurement with its seed's reference worlds' under ``"references"`` (unchanged for a family without)."""
        if not self.references:
            return twin
        missing = sorted(set(self.references) - set(references))
        if missing:
            raise ValueError(f"{self.name}: reference world(s) {', '.join(missing)} not measured")
        return {**twin, "references": {name: references[name] for name in self.references}}


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


def bootstrap(
    f: Family, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]], *, books_ok: bool = True, resamples: int = RESAMPLES
) -> dict[str, Any]:
    """How sure the verdict over these seeds is: a paired bootstrap over the seeds (module docstring).

    Each resample draws ``len(attack)`` seed indices with replacement from a fixed-seed RNG; the attack
    world and the twin of a drawn seed stay together (the twin is the attack's control on the same seed,
    so their common noise cancels), and the family's own ``judge`` decides the resample. Returns the seed
    count, the number of resamples, the share that pass, the 2.5 %–97.5 % percentile interval of their
    ``gain`` (None where the judge gives none), whether every resample gave the same gain and verdict
    (``exact``), and ``verdict``: ``stopped``, ``open`` or ``undecided``. Books that did not hold make it
    ``open`` (such a world proves nothing stopped).
    """
    n = len(attack)
    if n == 0 or n != len(twin):
        raise ValueError("bootstrap needs the attack and the twin of the same seeds")
    rng = random.Random(f"verdict:{f.name}")
    gains: list[float] = []
    passes = 0
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        v = f.judge(k, [attack[i] for i in idx], [twin[i] for i in idx])
        passes += bool(v.passed)
        if v.gain is not None:
            gains.append(v.gain)
    gains.sort()
    share = passes / resamples
    spread = gains[-1] - gains[0] if gains else 0.0
    exact = passes in (0, resamples) and (len(gains) in (0, resamples)) and spread <= 1e-9 * max(1.0, abs(gains[-1]) if gains else 1.0)
    if not books_ok:
        verdict = "open"
    elif not exact and n < MIN_NOISY_SEEDS:
        verdict = "undecided"
    elif share >= DECIDED_SHARE:
        verdict = "stopped"
    elif share <= 1 - DECIDED_SHARE:
        verdict = "open"
    else:
        verdict = "undecided"
    lo = gains[int(0.025 * len(gains))] if gains else None
    hi = gains[max(0, -(-975 * len(gains) // 1000) - 1)] if gains else None
    return {"seeds": n, "resamples": resamples, "pass_share": share, "gain_interval": [lo, hi], "exact": exact, "verdict": verdict}


def _job(family_name: str, knobs: dict[str, int | str], seed: int, twin: bool, params: dict[str, Any] | None = None, reference: str = "") -> Measured:
    f = FAMILIES[family_name]
    if reference:
        return f.run_one(knobs, seed, twin, params, reference)
    return f.run_one(knobs, seed, twin, params)  # a family without references may keep run_one's four arguments


def evaluate(
    attack: Attack,
    *,
    seeds: tuple[int, ...] | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    sequential: bool = False,
) -> dict[str, Any]:
    """Run ``attack`` and its honest twin for every seed; the verdict and everything it rests on."""
    return evaluate_many([attack], seeds=seeds, workers=workers, progress=progress, sequential=sequential)[0]


def evaluate_many(
    attacks: list[Attack],
    *,
    seeds: tuple[int, ...] | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    sequential: bool = False,
) -> list[dict[str, Any]]:
    """``evaluate`` for several attacks, their runs spread over ``workers`` processes.

    With ``sequential`` and no seeds given (here or in the attack), an attack ``undecided`` after its family's seeds
    is run again at ``max_seeds`` seeds (its own plus the next ones: 1..20 after 1..5) and judged there.
    """
    plans = []
    for a in attacks:
        f, k, own = a.resolved()
        plans.append((a, f, k, list(seeds) if seeds else list(own)))
    Job = tuple[str, dict[str, int | str], int, bool, dict[str, Any], str]  # family, knobs, seed, twin, params, reference
    done: dict[tuple[str, str, int, bool, str, str], Measured] = {}

    def key(j: Job) -> tuple[str, str, int, bool, str, str]:
        return (j[0], repr(sorted(j[1].items())), j[2], j[3], repr(sorted(j[4].items())), j[5])

    def label(j: Job) -> str:
        return f"{j[0]} seed {j[2]}{' ' + j[5] if j[5] else ' twin' if j[3] else ''}"

    def measure(jobs: list[Job], pool: ProcessPoolExecutor | None) -> None:
        todo = list({key(j): j for j in jobs if key(j) not in done}.values())
        if pool is None or len(todo) <= 1:
            for j in todo:
                done[key(j)] = _job(*j)
                if progress:
                    progress(label(j))
            return
        futures = {pool.submit(_job, *j): j for j in todo}
        for fut in as_completed(futures):
            j = futures[fut]
            done[key(j)] = fut.result()
            if progress:
                progress(label(j))

    def worlds(f: Family) -> list[tuple[bool, str]]:  # (twin, reference) of every world a seed runs
        return [(False, ""), (True, "")] + [(True, name) for name in f.references]

    out: list[dict[str, Any]] = [{} for _ in plans]
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        pending = list(range(len(plans)))
        while pending:
            measure(
                [
                    (plans[i][1].name, plans[i][2], s, twin, dict(plans[i][0].params), ref)
                    for i in pending
                    for s in plans[i][3]
                    for twin, ref in worlds(plans[i][1])
                ],
                pool,
            )
            extend = []
            for i in pending:
                a, f, k, ss = plans[i]
                out[i] = _result(a, f, k, ss, [done[key((f.name, k, s, t, dict(a.params), ref))] for t, ref in worlds(f) for s in ss])
                if sequential and not seeds and not a.seeds and out[i]["verdict"] == "undecided" and len(ss) < f.max_seeds:
                    ss.extend(range(max(ss) + 1, max(ss) + 1 + f.max_seeds - len(ss)))
                    extend.append(i)
            pending = extend
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def _result(a: Attack, f: Family, k: dict[str, int | str], ss: list[int], measured: list[Measured]) -> dict[str, Any]:
    """``measured``: the attack worlds of ``ss``, then their twins, then each reference world's (``Family.references``)."""
    n = len(ss)
    runs, twins, refs = measured[:n], measured[n : 2 * n], measured[2 * n :]
    twin_values = [f.with_references(t.values, {m.reference: m.values for m in refs[i::n]}) for i, t in enumerate(twins)]
    verdict = f.judge(k, [r.values for r in runs], twin_values)
    errors = [e for m in measured for e in m.errors]
    sure = bootstrap(f, k, [r.values for r in runs], twin_values, books_ok=not errors)
    return {
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
        "verdict": sure["verdict"],
        "uncertainty": sure,
        "summary": verdict.summary,
        "measured": verdict.measured,
        "books": {"ok": not errors, "errors": errors[:20]},
        "head_hashes": {str(m.seed) + (f"~{m.reference}" if m.reference else "~twin" if m.twin else ""): m.head_hash for m in measured},
    }
