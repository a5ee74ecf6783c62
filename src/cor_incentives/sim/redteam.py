"""The automated attacker: a black-box search over each attack family's knobs for the most profitable deviation.

Every attack family (``sim/attacks``) declares its knobs with bounds and an honest twin; its judge
turns the attack's and the twin's measurements into ``gain``, the attacker's advantage over the twin
with the same stake (0 = none). ``search`` maximises that gain with Optuna's TPE sampler (seeded by ``sampler_seed`` and the family's
name, so the same search proposes the same knobs): an *evaluation* is one knob setting run against its twin
over the search seeds (every run through the real core, on a ``Backend``), scored by the family's own
judge over those seeds. Evaluations are proposed in batches of ``batch`` (the sampler assumes the
pending ones score like the worst so far), the first being the family's defaults (the measured
attack). The best setting is then run again over the confirmation seeds: its gain per seed with the
95 % confidence interval of the mean, and the family's verdict over all of them.

Knob space: a choice knob is categorical; an integer knob is an integer range (log-scaled when it
spans three decades from 1 up, e.g. amounts); an ``epochs`` knob is capped at ``max_epochs`` (a
longer run of the same deviation rarely changes a ratio, and costs linearly). ``params`` (core
parameters) apply to both worlds of every evaluation: a test plants a profitable deviation by
weakening them.

The reproducer of a family's best deviation is a scenario file with one attack (family, knobs,
confirmation seeds and any ``params``) that ``cor simulate --file`` replays.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from .attacks import FAMILIES
from .attacks.base import Family, Knob
from .sweep import PARAM_NAMES, run_job, stat

GOAL = 0.02  # no deviation should gain more than this over its honest twin at the default parameters
DEFAULT_MAX_EPOCHS = 3
LOG_SPAN = 1_000

Runner = Callable[[Callable[[dict[str, Any]], dict[str, Any]], list[dict[str, Any]]], list[dict[str, Any]]]
Progress = Callable[[str, int, int], None]  # (family, evaluations done, budget)


@dataclass(frozen=True)
class Settings:
    budget: int = 24  # evaluations per family
    seeds: tuple[int, ...] = (1, 2)  # seeds of each evaluation
    confirm_seeds: tuple[int, ...] = (1, 2, 3, 4, 5)  # seeds the best deviation is run again on
    batch: int = 4  # evaluations proposed at once (run in parallel)
    max_epochs: int = DEFAULT_MAX_EPOCHS
    sampler_seed: int = 0
    params: Mapping[str, Any] | None = None  # core parameters over the families' (both worlds)
    start_at_defaults: bool = True

    def check(self) -> None:
        if not 1 <= self.budget <= 100_000:
            raise InvalidInput("--budget must be between 1 and 100000 evaluations per family", code="invalid_option")
        if not self.seeds or not self.confirm_seeds:
            raise InvalidInput("the search and the confirmation need at least one seed each", code="invalid_option")
        if not 1 <= self.batch <= 1_000 or not 1 <= self.max_epochs <= 1_000:
            raise InvalidInput("--batch and --max-epochs must be between 1 and 1000", code="invalid_option")
        unknown = sorted(set(self.params or {}) - PARAM_NAMES)
        if unknown:
            raise InvalidInput(f"unknown core parameter(s) {', '.join(unknown)}", code="unknown_param")


def parse_params(specs: list[str]) -> dict[str, int | str]:
    """``["community_min_account_age_epochs=0"]`` → ``{"community_min_account_age_epochs": 0}``."""
    out: dict[str, int | str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(f"--param wants NAME=VALUE, got {spec!r}", code="invalid_option")
        v = value.strip()
        out[name.strip()] = int(v) if v.lstrip("-").isdigit() else v
    return out


def families(names: str = "all") -> list[Family]:
    if names.strip() in ("", "all"):
        return list(FAMILIES.values())
    out = []
    for n in (x.strip() for x in names.split(",") if x.strip()):
        if n not in FAMILIES:
            raise InvalidInput(f"unknown attack family {n!r}; one of: all, {', '.join(FAMILIES)}", code="unknown_scenario")
        out.append(FAMILIES[n])
    return out


# --- the knob space ----------------------------------------------------------------------------------


def space(f: Family, max_epochs: int) -> dict[str, Any]:
    """Optuna distributions of the family's free knobs (fixed ones, lo == hi, are left out)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    out: dict[str, Any] = {}
    for k in f.knobs:
        if k.choices:
            if len(k.choices) > 1:
                out[k.name] = CategoricalDistribution(list(k.choices))
            continue
        lo, hi = _int_bounds(k, max_epochs)
        if hi > lo:
            out[k.name] = IntDistribution(lo, hi, log=lo >= 1 and hi >= LOG_SPAN * lo)
    return out


def _int_bounds(k: Knob, max_epochs: int) -> tuple[int, int]:
    if k.name == "epochs":
        return k.lo, max(k.lo, min(k.hi, max_epochs))
    return k.lo, k.hi


def defaults_in_space(f: Family, max_epochs: int) -> dict[str, int | str]:
    """The family's defaults, an ``epochs`` knob capped at ``max_epochs``."""
    out = f.defaults()
    for k in f.knobs:
        if not k.choices:
            lo, hi = _int_bounds(k, max_epochs)
            out[k.name] = min(max(int(k.default), lo), hi)
    return out


# --- one family --------------------------------------------------------------------------------------


def _jobs(f: Family, knobs: Mapping[str, int | str], seeds: tuple[int, ...], params: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
    k = f.resolve(knobs)
    return [
        {
            "target": f.name,
            "kind": "attack",
            "scenario": {},
            "family": f.name,
            "point": {},
            "index": index,
            "seed": s,
            "knobs": dict(k),
            "fields": {},
            "params": dict(params),
        }
        for s in seeds
    ]


def _score(f: Family, knobs: Mapping[str, int | str], records: list[dict[str, Any]]) -> dict[str, Any]:
    """The family's verdict over the records' seeds, the per-seed gains and the books."""
    k = f.resolve(knobs)
    v = f.judge(k, [r["measured"]["attack"] for r in records], [r["measured"]["twin"] for r in records])
    books = all(r["books_ok"] for r in records)
    return {
        "knobs": dict(k),
        "gain": v.gain,
        "passed": v.passed and books,
        "books_ok": books,
        "errors": [e for r in records for e in r["errors"]][:10],
        "per_seed_gain": {str(r["seed"]): r["gain"] for r in records},
        "honest_pay_change": stat([r["honest_pay_change"] for r in records]),
        "summary": v.summary,
    }


def search(f: Family, settings: Settings, run: Runner, progress: Progress | None = None) -> dict[str, Any]:
    """Search ``f``'s knobs for the largest gain over the honest twin; the best deviation, confirmed over more seeds."""
    import optuna

    settings.check()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = dict(settings.params or {})
    dist = space(f, settings.max_epochs)
    seed = (settings.sampler_seed + zlib.crc32(f.name.encode())) % 2**32
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(4, min(10, settings.budget // 3)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    if settings.start_at_defaults and dist:
        base = defaults_in_space(f, settings.max_epochs)
        study.enqueue_trial({n: base[n] for n in dist})
    fixed = defaults_in_space(f, settings.max_epochs)
    evaluations: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    while len(evaluations) < settings.budget:
        n = min(settings.batch, settings.budget - len(evaluations))
        trials = [study.ask(dist) for _ in range(n)]
        knobs = [{**fixed, **t.params} for t in trials]
        fresh = [k for k in knobs if _key(k) not in seen]
        unique = list({_key(k): k for k in fresh}.values())
        jobs = [j for i, k in enumerate(unique) for j in _jobs(f, k, settings.seeds, params, i)]
        records = run(run_job, jobs)
        for i, k in enumerate(unique):
            seen[_key(k)] = _score(f, k, [r for r in records if r["index"] == i])
        for t, k in zip(trials, knobs):
            scored = seen[_key(k)]
            evaluations.append({"evaluation": len(evaluations) + 1, **scored})
            if scored["gain"] is None or not math.isfinite(scored["gain"]):
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(t, scored["gain"])
        if progress:
            progress(f.name, len(evaluations), settings.budget)
        if not dist:  # nothing to search: the defaults are the only deviation
            break
    scored_ok = [e for e in evaluations if e["gain"] is not None]
    best = max(scored_ok, key=lambda e: (e["gain"], -e["evaluation"])) if scored_ok else evaluations[0]
    confirm_jobs = _jobs(f, best["knobs"], settings.confirm_seeds, params, 0)
    confirmed = _score(f, best["knobs"], run(run_job, confirm_jobs))
    gains = stat(list(confirmed["per_seed_gain"].values()))
    broken = [e for e in evaluations if not e["books_ok"]]
    return {
        "family": f.name,
        "title": f.title,
        "gain_unit": f.gain_unit,
        "criterion": f.criterion,
        "space": {k.name: k.bounds() for k in f.knobs},
        "max_epochs": settings.max_epochs,
        "params": params,
        "evaluations": len(evaluations),
        "runs": 2 * (len(seen) * len(settings.seeds) + len(settings.confirm_seeds)),
        "defaults_gain": evaluations[0]["gain"] if settings.start_at_defaults else None,
        "best": {
            "evaluation": best["evaluation"],
            "knobs": best["knobs"],
            "search_gain": best["gain"],
            "gain": confirmed["gain"],
            "per_seed": gains,
            "passed": confirmed["passed"],
            "books_ok": confirmed["books_ok"],
            "summary": confirmed["summary"],
            "honest_pay_change": confirmed["honest_pay_change"],
            "seeds": list(settings.confirm_seeds),
        },
        "above_goal": confirmed["gain"] is not None and confirmed["gain"] > GOAL,
        "books_broken": [{"knobs": e["knobs"], "errors": e["errors"]} for e in broken[:5]],
        "trace": [{"evaluation": e["evaluation"], "gain": e["gain"], "knobs": e["knobs"]} for e in evaluations],
        "reproducer": reproducer(f.name, best["knobs"], settings.confirm_seeds, params),
    }


def _key(knobs: Mapping[str, Any]) -> str:
    return json.dumps(dict(knobs), sort_keys=True)


def reproducer(family: str, knobs: Mapping[str, Any], seeds: tuple[int, ...], params: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario file with the attack, for ``cor simulate --file``."""
    attack: dict[str, Any] = {"name": f"redteam_{family}", "family": family, "knobs": dict(knobs), "seeds": list(seeds)}
    if params:
        attack["params"] = dict(params)
    return {"attacks": [attack]}


def redteam(fams: list[Family], settings: Settings, run: Runner, progress: Progress | None = None) -> dict[str, Any]:
    """``search`` every family; the report (JSON-ready)."""
    results = [search(f, settings, run, progress) for f in fams]
    return {
        "tool": "cor redteam",
        "goal": GOAL,
        "settings": {
            "budget": settings.budget,
            "seeds": list(settings.seeds),
            "confirm_seeds": list(settings.confirm_seeds),
            "batch": settings.batch,
            "max_epochs": settings.max_epochs,
            "sampler_seed": settings.sampler_seed,
            "params": dict(settings.params or {}),
        },
        "evaluations": sum(r["evaluations"] for r in results),
        "runs": sum(r["runs"] for r in results),
        "above_goal": [r["family"] for r in results if r["above_goal"]],
        "families": results,
    }


def write(report: dict[str, Any], out: str | Path) -> dict[str, str]:
    """``redteam.json`` and one reproducer file per family (``repro/<family>.json``)."""
    d = Path(out)
    (d / "repro").mkdir(parents=True, exist_ok=True)
    files = {"json": str(d / "redteam.json")}
    for r in report["families"]:
        p = d / "repro" / f"{r['family']}.json"
        p.write_text(json.dumps(r["reproducer"], indent=2, sort_keys=True) + "\n")
        r["reproducer_file"] = str(p)
    (d / "redteam.json").write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return files
