"""Plots of a sweep (PNG) and the HTML page that shows them with the table of points.

    <metric>-vs-<param>.png   each metric (gain, honest_pay_change, honest_worst_change) against each swept
                              parameter: one line per target and setting of the other parameters, the mean
                              over seeds with a band for its 95 % confidence interval
    frontier.png              honest-vs-attacker frontier: one point per target and grid point, x = the
                              attacker's gain over its twin, y = the honest nodes' pay change, with 95 % CI
                              bars; the good corner is x ≤ 0, y ≥ 0
    cumulative-<target>.png   cumulative income per group (strategy, or attacker / honest) over epochs, the
                              target's world solid and its honest twin dashed (mean over seeds, 95 % band);
                              one panel per grid point (at most MAX_PANELS)
Money is drawn in COR (floats for drawing only; the tables hold integer base units).
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Any

from ..core.units import COR
from .sweep import METRICS, stat

MAX_PANELS = 12
MAX_LINES = 12


def _fig_bytes(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _pos(values: list[Any]) -> tuple[list[float], list[str] | None]:
    """x positions: the values themselves when all numeric, else their order (with the values as tick labels)."""
    if all(isinstance(v, int) for v in values):
        return [float(v) for v in values], None
    return [float(i) for i in range(len(values))], [str(v) for v in values]


def metric_plot(result: dict[str, Any], metric: str, param: str) -> bytes:
    plt = _plt()
    values = result["grid"][param]
    xs, labels = _pos(values)
    lines: dict[str, dict[Any, dict[str, Any]]] = defaultdict(dict)
    for p in result["points"]:
        others = ", ".join(f"{k}={v}" for k, v in p["point"].items() if k != param)
        lines[p["target"] + (f" ({others})" if others else "")][p["point"].get(param)] = p["metrics"][metric]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, by) in enumerate(sorted(lines.items())[:MAX_LINES]):
        pts = [(x, by[v]) for x, v in zip(xs, values) if v in by and by[v]["mean"] is not None]
        if not pts:
            continue
        x = [a for a, _ in pts]
        ax.plot(x, [s["mean"] * 100 for _, s in pts], marker="o", color=f"C{i % 10}", label=name)
        ax.fill_between(x, [s["lo"] * 100 for _, s in pts], [s["hi"] * 100 for _, s in pts], color=f"C{i % 10}", alpha=0.18)
    ax.axhline(0, color="grey", linewidth=0.6)
    if metric == "gain":
        ax.axhline(2, color="red", linewidth=0.6, linestyle=":", label="2 % goal")
    if labels:
        ax.set_xticks(xs, labels)
    ax.set_xlabel(param)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} against {param} (mean, 95 % CI over seeds)")
    ax.legend(fontsize=7)
    return _fig_bytes(fig)


def frontier_plot(result: dict[str, Any]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    targets = sorted({p["target"] for p in result["points"]})
    for p in result["points"]:
        g, h = p["metrics"]["gain"], p["metrics"]["honest_pay_change"]
        if g["mean"] is None or h["mean"] is None:
            continue
        c = f"C{targets.index(p['target']) % 10}"
        ax.errorbar(g["mean"] * 100, h["mean"] * 100, xerr=g["ci95"] * 100, yerr=h["ci95"] * 100, fmt="o", color=c, capsize=2)
        label = ", ".join(f"{k}={v}" for k, v in p["point"].items())
        if label:
            ax.annotate(label, (g["mean"] * 100, h["mean"] * 100), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for i, t in enumerate(targets):
        ax.plot([], [], "o", color=f"C{i % 10}", label=t)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.axvline(2, color="red", linewidth=0.6, linestyle=":")
    ax.set_xlabel("attacker's gain over its honest twin (%)")
    ax.set_ylabel("honest nodes' pay change (%)")
    ax.set_title("honest vs attacker (mean, 95 % CI over seeds)")
    ax.legend(fontsize=7)
    return _fig_bytes(fig)


def cumulative_plot(result: dict[str, Any], target: str) -> bytes:
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    records = [r for r in result["records"] if r["target"] == target]
    by_point: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_point[r["index"]].append(r)
    panels = sorted(by_point)[:MAX_PANELS]
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, idx in zip(axes.flat, panels):
        series: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in by_point[idx]:
            cum: dict[tuple[str, str], int] = defaultdict(int)
            for e in r["epochs"]:
                key = (e["group"], e["world"])
                cum[key] += int(e["income_units"])
                series[key][e["epoch"]].append(cum[key] / COR)
        groups = sorted({g for g, _ in series})
        for i, g in enumerate(groups):
            for world, style in (("attack", "-"), ("twin", "--")):
                s = series.get((g, world))
                if not s:
                    continue
                epochs = sorted(s)
                st = [stat(list(s[e])) for e in epochs]
                ax.plot(epochs, [x["mean"] for x in st], linestyle=style, color=f"C{i % 10}", label=f"{g}{' (twin)' if world == 'twin' else ''}")
                ax.fill_between(epochs, [x["lo"] for x in st], [x["hi"] for x in st], color=f"C{i % 10}", alpha=0.12)
        point = by_point[idx][0]["point"]
        ax.set_title(", ".join(f"{k}={v}" for k, v in point.items()) or target, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("cumulative income (COR)")
        ax.legend(fontsize=6)
    fig.suptitle(f"{target}: cumulative income per group against the honest twin (dashed)", fontsize=10)
    return _fig_bytes(fig)


def write_plots(result: dict[str, Any], out: Path) -> dict[str, str]:
    """Every plot as PNG under ``out/plots`` and ``out/report.html`` with them embedded."""
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    for metric in METRICS:
        for param in result["grid"]:
            images[f"{metric}-vs-{param}"] = metric_plot(result, metric, param)
    images["frontier"] = frontier_plot(result)
    for target in result["targets"]:
        images[f"cumulative-{target}"] = cumulative_plot(result, target)
    for name, png in images.items():
        (plots / f"{name}.png").write_bytes(png)
    (out / "report.html").write_text(render_html(result, images))
    return {"html": str(out / "report.html"), "plots": str(plots)}


def _pct(s: dict[str, Any]) -> str:
    if s["mean"] is None:
        return "n/a"
    return f"{s['mean'] * 100:+.2f} % ± {s['ci95'] * 100:.2f}"


def render_html(result: dict[str, Any], images: dict[str, bytes]) -> str:
    names = list(result["grid"])
    head = "".join(
        f"<th>{html.escape(n)}</th>" for n in ["target", *names, "seeds", "gain", "honest pay change", "worst honest node", "verdict", "books"]
    )
    rows = []
    for p in result["points"]:
        verdict = "" if p.get("family_passed") is None else ("PASS" if p["family_passed"] else "FAIL")
        cells = [p["target"], *(str(p["point"].get(n, "")) for n in names), str(len(p["seeds"]))]
        cells += [_pct(p["metrics"][m]) for m in METRICS] + [verdict, "ok" if p["books_ok"] else "BROKEN"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    figs = "".join(
        f'<h3>{html.escape(n)}</h3><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for n, png in images.items()
    )
    grid = html.escape(", ".join(f"{k} = {', '.join(map(str, v))}" for k, v in result["grid"].items()) or "no swept parameter")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cor simulate sweep</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px}th{background:#f4f4f4}img{max-width:100%}</style></head><body>"
        f"<h1>Sweep</h1><p>grid: {grid}; {result['jobs']} jobs (each: the target and its honest twin, one seed)."
        " Means over seeds with the 95 % confidence interval of the mean.</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table><h2>Plots</h2>{figs}</body></html>"
    )
