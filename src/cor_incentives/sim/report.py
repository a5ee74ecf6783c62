"""``simulate``: run scenarios (and their baselines and remedies), evaluate the checks, write the report.

The report is one JSON document (deterministic: the same scenarios and seeds give the same bytes),
PNG plots of each scenario's earnings per strategy over epochs, and an HTML page with the plots
embedded (base64) and the tables.

JSON layout
    settings      seeds / epochs overrides
    summary       checks passed and failed, books (conservation and statement reconciliation) of every run,
                  and ``scenarios``: every scenario and attack by name with its kind and ``passed`` (None for a
                  scenario without checks, e.g. a baseline)
    checks        one entry per check: criterion, measured numbers, passed, summary, and when it fails the
                  fix and the remedy runs (the scenario again with a parameter or environment change); an
                  attack contributes one check (its family's criterion, ``gain`` among the measured numbers)
    attacks       per attack (``sim/attacks``): family, knobs and their bounds, seeds, gain against the honest
                  twin, passed, measured numbers, books, head hashes
    scenarios     per scenario: its definition, books, task outcomes, and per strategy (``role:strategy``,
                  ``@coalition``, ``#operator``) the per-node means over seeds with min and max of: tasks
                  assigned and served, in-consensus rate, fees, network rewards, staking APR, slashes,
                  costs, earnings, net profit, earnings per task served; and per-epoch series.
Money is in COR decimal strings (integer base units underneath, floored means); rates are decimals.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from .attacks import FAMILIES as ATTACK_FAMILIES
from .attacks import Attack, builtin_attacks, evaluate_many
from .attacks.base import load_attacks
from .checks import CHECKS, Context, Totals, baseline_of, cor, evaluate, null_of, ratio
from .runner import NodeInfo, RunCache, RunResult
from .scenarios import SCENARIOS, Scenario, load_scenarios

REPORT_VERSION = 1
Progress = Callable[[int, int, str], None]  # (runs done, runs planned, label)


# --- orchestration ------------------------------------------------------------------------------------


class _Plan:
    """Counts runs for the progress bar as they are planned and done."""

    def __init__(self, cache: RunCache, progress: Progress | None) -> None:
        self.cache, self.progress, self.done, self.total = cache, progress, 0, 0

    def run(self, scenarios: list[Scenario]) -> None:
        self.total += len(self.cache.missing(scenarios))
        if self.progress:
            self.progress(self.done, self.total, "")
        self.cache.run_all(scenarios, self._tick)

    def _tick(self, label: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, label)


def select(names: str = "all", path: str | Path | None = None) -> tuple[list[Scenario], list[Attack], dict[str, Scenario]]:
    """Scenarios and attacks by comma-separated names or "all", built-in or from a file; and the catalog for baselines.

    A file holds ``{"scenarios": [...], "attacks": [...]}`` (either key may be missing) or one scenario object.
    """
    catalog = dict(SCENARIOS)
    if path is not None:
        attacks = load_attacks(path)
        scenarios = load_scenarios(path, allow_empty=bool(attacks))
    else:
        scenarios, attacks = list(SCENARIOS.values()), builtin_attacks()
    catalog.update({s.name: s for s in scenarios})
    if names.strip() in ("", "all"):
        return scenarios, attacks, catalog
    by_name: dict[str, Scenario | Attack] = {**{s.name: s for s in scenarios}, **{a.name: a for a in attacks}}
    chosen: list[Scenario] = []
    chosen_attacks: list[Attack] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in by_name:
            raise InvalidInput(f"unknown scenario {name!r}; one of: all, {', '.join(by_name)}", code="unknown_scenario")
        item = by_name[name]
        if isinstance(item, Attack):
            chosen_attacks.append(item)
        else:
            chosen.append(item)
    return chosen, chosen_attacks, catalog


def simulate(
    scenarios: list[Scenario],
    *,
    attacks: list[Attack] | None = None,
    seeds: tuple[int, ...] | None = None,
    epochs: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    catalog: dict[str, Scenario] | None = None,
) -> dict[str, Any]:
    """Run ``scenarios`` and ``attacks`` through the core and return the report (a JSON-ready dict).

    ``epochs`` overrides the scenarios' epochs (an attack's epochs are one of its knobs); ``seeds`` both.
    """
    catalog = {**SCENARIOS, **(catalog or {}), **{s.name: s for s in scenarios}}
    for s in scenarios:
        unknown = [c for c in s.checks if c not in CHECKS]
        if unknown:
            raise InvalidInput(f"scenario {s.name}: unknown check(s) {', '.join(unknown)}; one of {', '.join(CHECKS)}", code="invalid_scenario")
    chosen = [s.with_overrides(epochs=epochs, seeds=seeds) for s in scenarios]
    plan = _Plan(RunCache(workers), progress)
    contexts = [_context(s, catalog, plan.cache) for s in chosen]
    plan.run([x for c in contexts for x in (c.scenario, c.base, c.null) if x is not None])
    checks = [evaluate(cid, c) for c in contexts for cid in c.scenario.checks]
    _remedies(checks, contexts, catalog, plan)
    attacked = _attacks(attacks or [], seeds, workers, plan)
    checks += [_attack_check(a) for a in attacked]
    report = {
        "tool": "cor simulate",
        "version": REPORT_VERSION,
        "settings": {"seeds": list(seeds) if seeds else None, "epochs": epochs},
        "checks": checks,
        "scenarios": {c.scenario.name: summarize(c.scenario, plan.cache.get(c.scenario)) for c in contexts},
        "attacks": {a["name"]: a for a in attacked},
    }
    report["summary"] = _summary(report, plan.cache)
    return report


def _attacks(attacks: list[Attack], seeds: tuple[int, ...] | None, workers: int, plan: _Plan) -> list[dict[str, Any]]:
    if not attacks:
        return []
    for a in attacks:
        if a.family not in ATTACK_FAMILIES:
            raise InvalidInput(f"unknown attack family {a.family!r}", code="invalid_scenario")
    plan.total += sum(2 * len(seeds or a.resolved()[2]) for a in attacks)

    def tick(label: str) -> None:  # an undecided attack's extra seeds were not planned: the total grows with them
        plan.total = max(plan.total, plan.done + 1)
        plan._tick(label)

    return evaluate_many(attacks, seeds=seeds, workers=workers, progress=tick, sequential=not seeds)


def _attack_check(a: dict[str, Any]) -> dict[str, Any]:
    """An attack as one entry of ``checks``."""
    out = {
        "id": a["family"],
        "title": a["title"],
        "scenario": a["name"],
        "criterion": a["criterion"],
        "baseline": "honest_twin",
        "passed": a["passed"],
        "verdict": a["verdict"],
        "uncertainty": a["uncertainty"],
        "summary": a["summary"],
        "measured": {"gain": a["gain"], "gain_unit": a["gain_unit"], "knobs": a["knobs"], **a["measured"]},
    }
    if not a["passed"]:
        out["fix"] = "see docs/rewards.md for the rule this attack tests"
    return out


def _context(s: Scenario, catalog: dict[str, Scenario], cache: RunCache) -> Context:
    base = baseline_of(s, catalog) if any(CHECKS[c].uses_baseline for c in s.checks) else None
    null = null_of(base) if any(CHECKS[c].uses_null for c in s.checks) else None
    return Context(s, cache.get, base, null)


def _remedies(checks: list[dict[str, Any]], contexts: list[Context], catalog: dict[str, Scenario], plan: _Plan) -> None:
    """For every failed check whose scenario names remedies: run them and evaluate the check again."""
    by_name = {c.scenario.name: c for c in contexts}
    todo = []
    for check in checks:
        ctx = by_name[check["scenario"]]
        if check["passed"] or not ctx.scenario.remedies:
            continue
        for remedy in ctx.scenario.remedies:
            fixed = ctx.scenario.with_remedy(remedy)
            base = baseline_of(fixed, catalog, remedy) if CHECKS[check["id"]].uses_baseline else None
            todo.append((check, remedy, Context(fixed, plan.cache.get, base)))
    plan.run([x for _, _, c in todo for x in (c.scenario, c.base) if x is not None])
    for check, remedy, ctx in todo:
        result = evaluate(check["id"], ctx)
        check.setdefault("remedies", []).append(
            {**remedy.to_dict(), "passed": result["passed"], "summary": result["summary"], "measured": result["measured"]}
        )


def _summary(report: dict[str, Any], cache: RunCache) -> dict[str, Any]:
    checks = report["checks"]
    books = [s["books"] for s in report["scenarios"].values()]
    attacks = report["attacks"].values()
    verdicts: dict[str, list[bool]] = defaultdict(list)
    for c in checks:
        verdicts[c["scenario"]].append(c["passed"])
    scenarios = [
        {"name": name, "kind": "population", "checks": len(verdicts[name]), "passed": all(verdicts[name]) if verdicts[name] else None}
        for name in report["scenarios"]
    ] + [
        {
            "name": a["name"],
            "kind": "attack",
            "family": a["family"],
            "checks": 1,
            "passed": a["passed"],
            "gain": a["gain"],
            "verdict": a["verdict"],
            "gain_interval": a["uncertainty"]["gain_interval"],
            "pass_share": a["uncertainty"]["pass_share"],
            "seeds": len(a["seeds"]),
        }
        for a in attacks
    ]
    return {
        "checks": len(checks),
        "passed": sum(1 for c in checks if c["passed"]),
        "failed": [f"{c['id']} ({c['scenario']})" for c in checks if not c["passed"]],
        "books_ok": all(b["conservation_ok"] and b["reconciled"] for b in books) and all(a["books"]["ok"] for a in attacks),
        "runs": len(cache.results) + sum(2 * len(a["seeds"]) for a in attacks),
        "attack_verdicts": {v: sum(a["verdict"] == v for a in attacks) for v in ("stopped", "open", "undecided")},
        "scenarios": scenarios,
    }


# --- per-scenario summary -----------------------------------------------------------------------------


def strategy_label(n: NodeInfo) -> str:
    """``role:strategy``, with ``@coalition`` and ``#operator`` when the node has them."""
    label = f"{n.role}:{n.strategy}"
    if n.coalition:
        label += f"@{n.coalition}"
    if n.operator != n.name:
        label += f"#{n.operator}"
    return label


def _per_seed_values(t: Totals) -> dict[str, int | float | None]:
    return {
        "assigned": t.per_node(t.assigned),
        "served": t.per_node(t.served),
        "in_consensus_rate": ratio(t.in_consensus, t.served),
        "fees": t.per_node(t.fees),
        "network": t.per_node(t.network),
        "staking": t.per_node(t.staking),
        "slashes": t.per_node(t.slashes),
        "slash_count": ratio(t.slash_count, t.node_runs),
        "costs": t.per_node(t.costs),
        "earnings": t.per_node(t.earnings),
        "net": t.per_node(t.net),
        "earnings_per_task_served": t.per_served(t.work_earnings),
        "net_per_task_served": t.per_served(t.net),
    }


MONEY = ("fees", "network", "staking", "slashes", "costs", "earnings", "net", "earnings_per_task_served", "net_per_task_served")


def _stat(name: str, xs: list[Any]) -> dict[str, Any]:
    vals = [x for x in xs if x is not None]
    if not vals:
        return {"mean": None, "min": None, "max": None}
    if name in MONEY:
        return {"mean": cor(sum(vals) // len(vals)), "min": cor(min(vals)), "max": cor(max(vals))}
    return {"mean": round(sum(vals) / len(vals), 4), "min": min(vals), "max": max(vals)}


def summarize(s: Scenario, runs: list[RunResult]) -> dict[str, Any]:
    """Per strategy: per-node means over seeds (min, max) and per-epoch series; books and task outcomes."""
    labels: dict[str, list[str]] = defaultdict(list)
    for n in runs[0].nodes.values():
        labels[strategy_label(n)].append(n.name)
    strategies = {}
    for label, names in sorted(labels.items()):
        per_seed = []
        for r in runs:
            t = Totals(node_runs=len(names))
            for epoch in r.epochs:
                for name in names:
                    t.add(epoch[name])
            values = _per_seed_values(t)
            if not label.startswith("miner:"):
                values["in_consensus_rate"] = None  # consensus is a miner's measure
            per_seed.append(values)
        strategies[label] = {
            "nodes": len(names),
            "metrics": {k: _stat(k, [v[k] for v in per_seed]) for k in per_seed[0]},
            "per_epoch": _series(runs, names),
        }
    return {
        "description": s.description,
        "definition": s.to_dict(),
        "books": _books(runs),
        "tasks": _tasks(runs),
        "head_hashes": {str(r.seed): r.head_hash for r in runs},
        "strategies": strategies,
    }


def _series(runs: list[RunResult], names: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"earnings": [], "net": []}
    for e in range(len(runs[0].epochs)):
        for key in out:
            total = sum(getattr(r.epochs[e][n], key) for r in runs for n in names)
            out[key].append(cor(total // (len(runs) * len(names))))
    return out


def _books(runs: list[RunResult]) -> dict[str, Any]:
    errors = [f"seed {r.seed}: {e}" for r in runs for e in r.conservation_errors + r.reconcile_errors]
    return {
        "epochs_checked": sum(len(r.epochs) for r in runs),
        "events": sum(r.events for r in runs),
        "conservation_ok": not any(r.conservation_errors for r in runs),
        "reconciled": not any(r.reconcile_errors for r in runs),
        "errors": errors[:20],
    }


def _tasks(runs: list[RunResult]) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = defaultdict(int)
    for r in runs:
        for t in r.tasks:
            for k in ("submitted", "rejected", "settled", "failed"):
                totals[k] += getattr(t, k)
            for why, n in {**t.failures, **{f"rejected:{k}": v for k, v in t.rejections.items()}}.items():
                reasons[why] += n
    repeats = sum(t.network_prompt_repeats for r in runs for t in r.tasks)  # network prompts asked before in the same run
    return {
        **{k: totals[k] for k in ("submitted", "rejected", "settled", "failed")},
        "network_prompt_repeats": repeats,
        "reasons": dict(sorted(reasons.items())),
    }


# --- files ---------------------------------------------------------------------------------------------


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)


def write(report: dict[str, Any], out: str | Path) -> dict[str, str]:
    """Write report.json, one PNG per scenario and report.html into ``out``; return their paths."""
    d = Path(out)
    (d / "plots").mkdir(parents=True, exist_ok=True)
    paths = {"json": d / "report.json", "html": d / "report.html"}
    paths["json"].write_text(to_json(report) + "\n")
    images = {}
    for name, summary in report["scenarios"].items():
        png = plot_png(name, summary)
        (d / "plots" / f"{name}.png").write_bytes(png)
        images[name] = png
    paths["html"].write_text(render_html(report, images))
    return {k: str(v) for k, v in paths.items()}


def _float(cor_text: str) -> float:
    return float(Decimal(cor_text))  # plotting only


def plot_png(name: str, summary: dict[str, Any]) -> bytes:
    """Mean earnings (solid) and net profit (dashed) per node per epoch, one line per strategy, by role."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    roles = [r for r in ("miner", "validator") if any(k.startswith(r) for k in summary["strategies"])]
    fig, axes = plt.subplots(1, len(roles), figsize=(6 * len(roles), 3.8), squeeze=False)
    for ax, role in zip(axes[0], roles):
        for i, (label, st) in enumerate(x for x in summary["strategies"].items() if x[0].startswith(role)):
            color = f"C{i}"
            epochs = range(len(st["per_epoch"]["earnings"]))
            ax.plot(epochs, [_float(x) for x in st["per_epoch"]["earnings"]], color=color, label=f"{label} earnings")
            ax.plot(epochs, [_float(x) for x in st["per_epoch"]["net"]], color=color, linestyle="--", label=f"{label} net")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{name}: {role}s")
        ax.set_xlabel("epoch")
        ax.set_ylabel("COR per node per epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}img{max-width:100%}code{font-size:12px}"""

_COLUMNS = (
    ("nodes", None),
    ("served", "served"),
    ("in_consensus_rate", "in-consensus"),
    ("fees", "fees"),
    ("network", "network"),
    ("staking", "staking"),
    ("slashes", "slashes"),
    ("costs", "costs"),
    ("earnings", "earnings"),
    ("net", "net"),
    ("earnings_per_task_served", "earned / task"),
)


def _verdict(ok: bool) -> str:
    return '<span class="pass">PASS</span>' if ok else '<span class="fail">FAIL</span>'


def _three(verdict: str) -> str:
    """An attack's verdict: stopped, open or undecided (sim/attacks/base.py: bootstrap)."""
    css = {"stopped": "pass", "open": "fail"}.get(verdict, "")
    return f'<span class="{css}">{html.escape(verdict)}</span>' if css else f"<i>{html.escape(verdict)}</i>"


def _check_rows(checks: list[dict[str, Any]]) -> str:
    rows = []
    for c in checks:
        fix = html.escape(c.get("fix", ""))
        for r in c.get("remedies", []):
            fix += f"<br>remedy <code>{html.escape(r['label'])}</code>: {_verdict(r['passed'])} {html.escape(r['summary'])}"
        verdict = _three(c["verdict"]) if "verdict" in c else _verdict(c["passed"])  # an attack's is three-valued
        rows.append(
            f"<tr><td>{html.escape(c['title'])}<br><code>{c['id']}</code></td><td>{html.escape(c['scenario'])}</td>"
            f"<td>{html.escape(c['criterion'])}</td><td>{verdict}</td><td>{html.escape(c['summary'])}</td>"
            f"<td>{fix}</td></tr>"
        )
    return "".join(rows)


def _short(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in MONEY:
        d = Decimal(value)
        return f"{d:,.2f}" if d == 0 or abs(d) >= Decimal("0.01") else f"{d:.3g}"
    return str(value)


def _cell(name: str, m: dict[str, Any]) -> str:
    return f"{_short(name, m['mean'])} <small>[{_short(name, m['min'])} … {_short(name, m['max'])}]</small>"


def _strategy_table(summary: dict[str, Any]) -> str:
    head = "<tr><th>strategy</th>" + "".join(f"<th>{t or k}</th>" for k, t in _COLUMNS) + "</tr>"
    rows = []
    for label, st in summary["strategies"].items():
        cells = [str(st["nodes"])] + [_cell(k, st["metrics"][k]) for k, _ in _COLUMNS[1:]]
        rows.append(f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(report: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page."""
    s = report["summary"]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>cor simulate</title><style>{_CSS}</style></head><body>",
        "<h1>cor simulate — incentive checks</h1>",
        f"<p>{s['passed']} of {s['checks']} checks pass; books (conservation, statements = ledger) "
        f"{'hold in every run' if s['books_ok'] else '<b>DO NOT HOLD</b>'}; {s['runs']} runs. "
        "Money per node over the whole run, mean over seeds [min … max].</p>",
        "<table><tr><th>check</th><th>scenario</th><th>criterion</th><th>verdict</th><th>measured</th><th>fix / remedies</th></tr>",
        _check_rows(report["checks"]),
        "</table>",
    ]
    if report.get("attacks"):
        parts.append(
            "<h2>Attacks</h2><p>Each attack against its honest twin (same stake, seeds and parameters); gain 0 = no advantage. "
            "The verdict is the paired bootstrap over the seeds (docs/simulate.md): stopped iff at least 95 % of the resamples "
            "pass, open iff at most 5 % do, otherwise undecided; the interval is the resampled gain's 95 % range.</p>"
            "<table><tr><th>attack</th><th>knobs</th><th>gain [95 %]</th><th>verdict</th><th>measured</th></tr>"
        )
        for name, a in report["attacks"].items():
            knobs = ", ".join(f"{k}={v}" for k, v in a["knobs"].items())
            u = a["uncertainty"]
            gain = "n/a" if a["gain"] is None else f"{a['gain'] * 100:+.1f} %"
            if not u["exact"] and None not in u["gain_interval"]:
                gain += " [" + ", ".join(f"{x * 100:+.1f} %" for x in u["gain_interval"]) + "]"
            how = "exact" if u["exact"] else f"{u['pass_share'] * 100:.0f} % of resamples pass"
            parts.append(
                f"<tr><td>{html.escape(name)}<br><small>{html.escape(a['description'])}</small></td><td><code>{html.escape(knobs)}</code></td>"
                f"<td>{gain}<br><small>{html.escape(a['gain_unit'])}</small></td><td>{_three(a['verdict'])}<br><small>{how}; "
                f"{u['seeds']} seeds</small></td><td>{html.escape(a['summary'])}</td></tr>"
            )
        parts.append("</table>")
    for name, summary in report["scenarios"].items():
        d = summary["definition"]
        tasks, books = summary["tasks"], summary["books"]
        parts += [
            f"<h2>{html.escape(name)}</h2><p>{html.escape(summary['description'])}</p>",
            f"<p>{d['epochs']} epochs × ({d['user_tasks_per_epoch']} user + {d['network_tasks_per_epoch']} network tasks), "
            f"seeds {d['seeds']}, parameters {html.escape(json.dumps(d['params']) if d['params'] else 'devnet defaults')}. "
            f"Tasks: {tasks['settled']} settled, {tasks['failed']} failed, {tasks['rejected']} rejected "
            f"{html.escape(json.dumps(tasks['reasons']))}. Books: conservation {'ok' if books['conservation_ok'] else 'BROKEN'}, "
            f"statements {'reconcile' if books['reconciled'] else 'DO NOT reconcile'} ({books['epochs_checked']} epochs).</p>",
            _strategy_table(summary),
        ]
        if name in images:
            parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(images[name]).decode()}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
