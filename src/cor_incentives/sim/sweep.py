"""Parameter sweeps: a grid over parameters × scenarios and attacks × seeds, every run through the real core.

A *target* is a scenario (``sim/scenarios.py``) or an attack (a family at a knob setting,
``sim/attacks``). A *point* is one value per swept parameter. For each target, point and seed one
*job* (``run_job``) runs two worlds with the same seed: the target, and its honest twin (for a
scenario ``Scenario.honest_twin()``, for an attack its family's twin script: the same actor with the
same stake doing the honest thing). A swept name is, in this order of precedence,

    a knob of the attack's family        e.g. ``count`` (colluding validators) of ``collusion_49``
    a scenario field                     ``epochs``, ``user_tasks_per_epoch``, ``network_tasks_per_epoch``, ``rounds_per_epoch``
    a core parameter                     e.g. ``validators_per_task`` (both worlds; checked by the core's bounds)

and a name that applies to none of the chosen targets is refused.

What a job measures (money in integer base units, read from the epochs' statement lines, never
recomputed): per epoch and per *group* the sum of the group's statement lines, in both worlds. A
scenario's groups are its strategies (``role:strategy@coalition#operator``); an attack's are
``attacker`` (the script's actors, every address that sent a scripted command, and nodes that run a
non-honest strategy or sit in a coalition) and ``honest`` (every other node). Per seed:

    gain               an attack: its family's gain from its judge on this seed alone (0 = no advantage
                       over the twin; the unit is the family's). A scenario: (attacker income − the same
                       addresses' income in the twin) ÷ |the twin's|, attacker = nodes not honest
    honest_pay_change  Σ honest nodes' income ÷ the same nodes' income in the twin − 1
    honest_worst_change  the lowest of the same ratio per honest node (the node hurt most)
    passed             an attack: its family's verdict on this seed (None for scenarios)
    books_ok           conservation and every statement reconciled, in both worlds (and in the family's
                       reference worlds, ``Family.references``, whose measurements ride with the twin's)

Aggregates per (target, point) over seeds: mean, standard deviation and the 95 % confidence
interval of the mean (Student's t), min and max; an attack also gets its family's verdict over all
seeds together (``family_gain``, ``family_passed``), the number ``cor simulate`` reports.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from ..core.params import Params
from .attacks import FAMILIES, Attack
from .runner import World
from .scenarios import Scenario
from .script import ActorScript

SCENARIO_FIELDS = ("epochs", "user_tasks_per_epoch", "network_tasks_per_epoch", "rounds_per_epoch")
PARAM_NAMES = frozenset(f.name for f in fields(Params)) - {"rule_version"}
MAX_POINTS = 10_000
MAX_VALUES = 1_000
METRICS = ("gain", "honest_pay_change", "honest_worst_change")
ATTACKER, HONEST = "attacker", "honest"

# two-sided 95 % quantiles of Student's t by degrees of freedom (1..30); 1.96 beyond
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131)
_T95 += (2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


# --- the grid ----------------------------------------------------------------------------------------


def parse_value(text: str) -> int | str:
    """``"5"`` → 5, anything else stays text (a knob choice, a COR amount)."""
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        return t


def parse_sweep(specs: list[str]) -> dict[str, list[int | str]]:
    """``["validators_per_task=3,5,7", "count=1,3"]`` → ``{"validators_per_task": [3, 5, 7], "count": [1, 3]}``."""
    grid: dict[str, list[int | str]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        items = [v for v in values.split(",") if v.strip()]
        if not sep or not name or not items:
            raise InvalidInput(f"--sweep wants PARAM=v1,v2,..., got {spec!r}", code="invalid_sweep")
        if name in grid:
            raise InvalidInput(f"--sweep names {name} twice", code="invalid_sweep")
        vals = [parse_value(v) for v in items]
        if len(vals) > MAX_VALUES or len(set(map(repr, vals))) != len(vals):
            raise InvalidInput(f"--sweep {name}: at most {MAX_VALUES} distinct values", code="invalid_sweep")
        grid[name] = vals
    points = math.prod(len(v) for v in grid.values())
    if points > MAX_POINTS:
        raise InvalidInput(f"the grid has {points} points; at most {MAX_POINTS}", code="invalid_sweep")
    return grid


def points(grid: Mapping[str, list[int | str]]) -> list[dict[str, int | str]]:
    """Every combination of the grid's values, in the order given (the last name varies fastest)."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))] or [{}]


@dataclass(frozen=True)
class Target:
    """A scenario or an attack to run at every point of the grid."""

    name: str
    kind: str  # "scenario" | "attack"
    scenario: dict[str, Any] = field(default_factory=dict)  # a scenario's definition (Scenario.to_dict)
    family: str = ""
    knobs: Mapping[str, int | str] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()

    @staticmethod
    def of_scenario(s: Scenario) -> Target:
        return Target(s.name, "scenario", scenario=s.to_dict(), seeds=s.seeds)

    @staticmethod
    def of_attack(a: Attack) -> Target:
        f, k, seeds = a.resolved()
        return Target(a.name, "attack", family=f.name, knobs=dict(k), seeds=seeds)

    def role_of(self, name: str) -> str:
        """Where a swept name goes for this target: "knob", "field", "param", or "" (does not apply)."""
        if self.kind == "attack" and any(k.name == name for k in FAMILIES[self.family].knobs):
            return "knob"
        if self.kind == "scenario" and name in SCENARIO_FIELDS:
            return "field"
        if name in PARAM_NAMES:
            return "param"
        return ""


def plan(targets: list[Target], grid: Mapping[str, list[int | str]], seeds: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """One job per target × point × seed (JSON-ready dicts for ``run_job``), refusing names that apply nowhere."""
    if not targets:
        raise InvalidInput("no scenario or attack to sweep", code="invalid_sweep")
    for name in grid:
        if not any(t.role_of(name) for t in targets):
            raise InvalidInput(
                f"--sweep {name}: not a knob of the chosen attacks, a scenario field ({', '.join(SCENARIO_FIELDS)}) or a core parameter",
                code="invalid_sweep",
            )
        missing = [t.name for t in targets if not t.role_of(name)]
        if missing:
            raise InvalidInput(f"--sweep {name} does not apply to {', '.join(missing)}; choose targets with --scenario", code="invalid_sweep")
    jobs = []
    for t in targets:
        for i, point in enumerate(points(grid)):
            job_point = {"knobs": dict(t.knobs), "fields": {}, "params": {}}
            for name, value in point.items():
                job_point[{"knob": "knobs", "field": "fields", "param": "params"}[t.role_of(name)]][name] = value
            for seed in seeds or t.seeds:
                jobs.append(
                    {
                        "target": t.name,
                        "kind": t.kind,
                        "scenario": t.scenario,
                        "family": t.family,
                        "point": point,
                        "index": i,
                        "seed": seed,
                        **job_point,
                    }
                )
    return jobs


def check_jobs(jobs: list[dict[str, Any]]) -> None:
    """Refuse, before anything runs, a point whose knobs, parameters or fields the scenario checks reject."""
    seen: set[str] = set()
    for j in jobs:
        key = json.dumps([j["target"], j["point"]], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            _worlds(j, build_only=True)
        except InvalidInput as exc:
            raise InvalidInput(f"{j['target']} at {_label(j['point'])}: {exc.message}", code=exc.code) from None


# --- one job -----------------------------------------------------------------------------------------


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "defaults"


def _with(s: Scenario, params: Mapping[str, Any], flds: Mapping[str, Any]) -> Scenario:
    return replace(s, params={**s.params, **params}, **dict(flds)) if params or flds else s


def _worlds(job: Mapping[str, Any], build_only: bool = False) -> list[tuple[Scenario, ActorScript | None]]:
    """(scenario, script) of the target's world and its honest twin's."""
    if job["kind"] == "scenario":
        s = _with(Scenario.from_dict(job["scenario"]), job["params"], job["fields"])
        return [(s, None), (s.honest_twin(), None)]
    f = FAMILIES[job["family"]]
    k = f.resolve(job["knobs"])
    out: list[tuple[Scenario, ActorScript | None]] = []
    for twin in (False, True):
        s = _with(f.scenario(k, twin), job["params"], job["fields"])
        out.append((s, None if build_only else f.script(k, twin)))
    return out


def _script_addresses(script: ActorScript | None) -> set[str]:
    if script is None:
        return set()
    return set(script.actors().values()) | {e.actor for e in script.log}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one target and its honest twin at one point and one seed; the per-seed record (JSON-ready, deterministic)."""
    seed = int(job["seed"])
    worlds = []
    for s, script in _worlds(job):
        w = World(s, seed, script=script)
        for e in range(s.epochs):
            w.run_epoch(e)
        worlds.append((w, w.result(), script))
    (wa, ra, sa), (wt, rt, st) = worlds
    actors = _script_addresses(sa) | _script_addresses(st)
    deviant = {n.address for n in ra.nodes.values() if n.strategy != "honest" or n.coalition or n.operator != n.name} | actors
    group_of: dict[str, str]
    if job["kind"] == "scenario":
        from .report import strategy_label

        group_of = {n.address: strategy_label(n) for n in ra.nodes.values()}
    else:
        group_of = {n.address: (ATTACKER if n.address in deviant else HONEST) for n in ra.nodes.values()}
        group_of.update({a: ATTACKER for a in actors})
    honest = {n.address for n in ra.nodes.values() if n.address not in deviant} & {n.address for n in rt.nodes.values()}
    income = {"attack": _income(wa), "twin": _income(wt)}
    epochs = []
    for world, per_epoch in income.items():
        for e, by_addr in enumerate(per_epoch):
            groups: dict[str, int] = defaultdict(int)
            for a, v in by_addr.items():
                if a in group_of:
                    groups[group_of[a]] += v
            for g in sorted(set(group_of.values())):
                epochs.append({"world": world, "group": g, "epoch": e, "income_units": str(groups.get(g, 0))})
    total = {w: _totals(per_epoch) for w, per_epoch in income.items()}
    att = sum(total["attack"].get(a, 0) for a in deviant)
    att_twin = sum(total["twin"].get(a, 0) for a in deviant)
    hon = sum(total["attack"].get(a, 0) for a in honest)
    hon_twin = sum(total["twin"].get(a, 0) for a in honest)
    per_node = [total["attack"].get(a, 0) / total["twin"][a] - 1 for a in sorted(honest) if total["twin"].get(a, 0) > 0]
    errors = [f"{w}: {e}" for w, r in (("attack", ra), ("twin", rt)) for e in r.conservation_errors + r.reconcile_errors]
    record: dict[str, Any] = {
        "target": job["target"],
        "kind": job["kind"],
        "index": job["index"],
        "point": dict(job["point"]),
        "seed": seed,
        "attacker_income_units": str(att),
        "twin_attacker_income_units": str(att_twin),
        "honest_income_units": str(hon),
        "twin_honest_income_units": str(hon_twin),
        "honest_pay_change": hon / hon_twin - 1 if hon_twin > 0 else None,
        "honest_worst_change": min(per_node) if per_node else None,
        "books_ok": not errors,
        "errors": errors[:10],
        "head_hash": ra.head_hash,
        "twin_head_hash": rt.head_hash,
        "epochs": epochs,
    }
    if job["kind"] == "attack":
        f = FAMILIES[job["family"]]
        k = f.resolve(job["knobs"])
        va, vt = f.measure(k, ra, sa, False), f.measure(k, rt, st, True)  # type: ignore[arg-type]
        refs = [f.run_one(k, seed, True, job["params"], name, job["fields"]) for name in f.references]  # the family's reference worlds
        vt = f.with_references(vt, {m.reference: m.values for m in refs})
        errors += [e for m in refs for e in m.errors]
        record.update(errors=errors[:10], books_ok=not errors)
        verdict = f.judge(k, [va], [vt])
        record.update(gain=verdict.gain, passed=verdict.passed and not errors, measured={"attack": va, "twin": vt})
    else:
        record.update(gain=(att - att_twin) / abs(att_twin) if att_twin and deviant else None, passed=None, measured={})
    return json.loads(json.dumps(record, default=str))  # JSON-ready, as it would come back from any backend


def _income(world: World) -> list[dict[str, int]]:
    """Per closed epoch: each address's Σ statement lines."""
    out = []
    for e in range(len(world.epochs)):
        by: dict[str, int] = defaultdict(int)
        for item in world.state.epochs[e].items:
            by[item.address] += item.amount
        out.append(dict(by))
    return out


def _totals(per_epoch: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for by in per_epoch:
        for a, v in by.items():
            out[a] += v
    return out


# --- aggregation -------------------------------------------------------------------------------------


def stat(xs: list[float | None]) -> dict[str, Any]:
    """Mean, standard deviation, 95 % CI half-width of the mean (Student's t), min, max, n over the values that exist."""
    vals = [float(x) for x in xs if x is not None]
    n = len(vals)
    if not n:
        return {"n": 0, "mean": None, "sd": None, "ci95": None, "lo": None, "hi": None, "min": None, "max": None}
    mean = sum(vals) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in vals) / (n - 1)) if n > 1 else 0.0
    half = (_T95[n - 2] if n - 1 <= len(_T95) else 1.96) * sd / math.sqrt(n) if n > 1 else 0.0
    return {"n": n, "mean": mean, "sd": sd, "ci95": half, "lo": mean - half, "hi": mean + half, "min": min(vals), "max": max(vals)}


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (target, point): the metrics over seeds, and an attack's family verdict over all its seeds."""
    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by[(r["target"], r["index"])].append(r)
    out = []
    for (target, _), rs in by.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        entry: dict[str, Any] = {
            "target": target,
            "kind": rs[0]["kind"],
            "point": rs[0]["point"],
            "seeds": [r["seed"] for r in rs],
            "metrics": {m: stat([r[m] for r in rs]) for m in METRICS},
            "passed_share": _share([r["passed"] for r in rs]),
            "books_ok": all(r["books_ok"] for r in rs),
            "attacker_income_units": _mean_units([r["attacker_income_units"] for r in rs]),
            "twin_attacker_income_units": _mean_units([r["twin_attacker_income_units"] for r in rs]),
        }
        if rs[0]["kind"] == "attack":
            entry.update(_family_verdict(rs))
        out.append(entry)
    return out


def _share(xs: list[bool | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _mean_units(xs: list[str]) -> str:
    return str(sum(int(x) for x in xs) // len(xs)) if xs else "0"


def _family_verdict(rs: list[dict[str, Any]]) -> dict[str, Any]:
    job = rs[0]
    family = FAMILIES[_family_of(job)]
    knobs = family.resolve({**_knobs_of(job)})
    v = family.judge(knobs, [r["measured"]["attack"] for r in rs], [r["measured"]["twin"] for r in rs])
    return {"family": family.name, "family_gain": v.gain, "family_passed": v.passed and all(r["books_ok"] for r in rs), "summary": v.summary}


def _family_of(record: Mapping[str, Any]) -> str:
    return str(record["family"])


def _knobs_of(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record["knobs"])


# --- the sweep ---------------------------------------------------------------------------------------


def sweep(
    targets: list[Target],
    grid: Mapping[str, list[int | str]],
    *,
    seeds: tuple[int, ...] | None = None,
    run: Callable[[Callable[[dict[str, Any]], dict[str, Any]], list[dict[str, Any]]], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Plan the jobs, run them with ``run`` (a backend's ``map``), aggregate; the JSON-ready result (records included)."""
    jobs = plan(targets, grid, seeds)
    check_jobs(jobs)
    records = run(run_job, jobs)
    for j, r in zip(jobs, records):
        r["family"], r["knobs"] = j["family"], j["knobs"]
    return {
        "tool": "cor simulate --sweep",
        "grid": {k: list(v) for k, v in grid.items()},
        "targets": [t.name for t in targets],
        "jobs": len(jobs),
        "points": aggregate(records),
        "records": records,
    }


# --- files -------------------------------------------------------------------------------------------


def write_parquet(result: dict[str, Any], out: Path) -> dict[str, str]:
    """``runs.parquet`` (one row per target × point × seed) and ``epochs.parquet`` (per epoch, world and group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(result["grid"])
    money = pa.decimal128(38, 0)  # integer base units, exact
    runs, epochs = [], []
    for r in result["records"]:
        base = {"target": r["target"], "kind": r["kind"], "seed": r["seed"], **{f"p_{n}": str(r["point"].get(n, "")) for n in names}}
        runs.append(
            {
                **base,
                "gain": r["gain"],
                "honest_pay_change": r["honest_pay_change"],
                "honest_worst_change": r["honest_worst_change"],
                "passed": r["passed"],
                "books_ok": r["books_ok"],
                "attacker_income_units": Decimal(r["attacker_income_units"]),
                "twin_attacker_income_units": Decimal(r["twin_attacker_income_units"]),
                "honest_income_units": Decimal(r["honest_income_units"]),
                "twin_honest_income_units": Decimal(r["twin_honest_income_units"]),
                "head_hash": r["head_hash"],
                "twin_head_hash": r["twin_head_hash"],
            }
        )
        cum: dict[tuple[str, str], int] = defaultdict(int)
        for e in r["epochs"]:
            cum[(e["world"], e["group"])] += int(e["income_units"])
            epochs.append(
                {
                    **base,
                    "world": e["world"],
                    "group": e["group"],
                    "epoch": e["epoch"],
                    "income_units": Decimal(e["income_units"]),
                    "cumulative_units": Decimal(cum[(e["world"], e["group"])]),
                }
            )
    p_cols = [(f"p_{n}", pa.string()) for n in names]
    key = [("target", pa.string()), ("kind", pa.string()), ("seed", pa.int64()), *p_cols]
    runs_schema = pa.schema(
        key
        + [
            ("gain", pa.float64()),
            ("honest_pay_change", pa.float64()),
            ("honest_worst_change", pa.float64()),
            ("passed", pa.bool_()),
            ("books_ok", pa.bool_()),
            ("attacker_income_units", money),
            ("twin_attacker_income_units", money),
            ("honest_income_units", money),
            ("twin_honest_income_units", money),
            ("head_hash", pa.string()),
            ("twin_head_hash", pa.string()),
        ]
    )
    epochs_schema = pa.schema(
        key + [("world", pa.string()), ("group", pa.string()), ("epoch", pa.int64()), ("income_units", money), ("cumulative_units", money)]
    )
    paths = {"runs_parquet": out / "runs.parquet", "epochs_parquet": out / "epochs.parquet"}
    pq.write_table(pa.Table.from_pylist(runs, schema=runs_schema), paths["runs_parquet"])
    pq.write_table(pa.Table.from_pylist(epochs, schema=epochs_schema), paths["epochs_parquet"])
    return {k: str(v) for k, v in paths.items()}


def write(result: dict[str, Any], out: str | Path, settings: Mapping[str, Any]) -> dict[str, str]:
    """Parquet tables, ``summary.json`` (everything but the per-seed records), PNG plots and ``report.html``."""
    from .plots import write_plots

    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    files = write_parquet(result, d)
    summary = {k: v for k, v in result.items() if k != "records"}
    summary["settings"] = dict(settings)
    files.update(write_plots(result, d))
    files["json"] = str(d / "summary.json")
    summary["files"] = dict(files)
    (d / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    return files
