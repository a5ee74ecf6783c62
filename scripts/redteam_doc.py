"""Write docs/redteam/ from a `cor redteam --json` run and a `cor simulate --sweep` run (never edit the numbers by hand).

    python scripts/redteam_doc.py REDTEAM_DIR [SWEEP_DIR]

REDTEAM_DIR is a `cor redteam --out` directory (redteam.json, repro/); SWEEP_DIR a `cor simulate
--sweep --out` directory (summary.json, plots/). The script writes docs/redteam/README.md (the table of
best deviations per family, with the settings, evaluations and wall time), copies the reproducer file
of every family above the 2 % goal to docs/redteam/<family>.json, and, with a sweep, its summary table
and the honest-pay-change plot.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "redteam"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f} %"


def ci(s: dict) -> str:
    return "n/a" if s.get("mean") is None else f"{s['mean'] * 100:+.2f} % ± {s['ci95'] * 100:.2f} (n = {s['n']})"


def redteam_section(d: dict, src: Path) -> list[str]:
    st = d["settings"]
    out = [
        "## Red-team run",
        "",
        f"`cor redteam --backend {d['backend']['backend']} --workers {d['backend']['workers']} --budget {st['budget']} "
        f"--seeds {len(st['seeds'])} --confirm-seeds {len(st['confirm_seeds'])} --max-epochs {st['max_epochs']}`"
        + (f" with parameters {st['params']}" if st["params"] else " at the default parameters"),
        "",
        f"{d['evaluations']} evaluations ({d['runs']} runs of the core, each world of each seed) in {d['wall_seconds']} s wall time "
        "on a shared 2-core machine.",
        "",
        "| family | evaluations | gain at the defaults | best gain (search) | best gain, confirmation seeds"
        " | per seed (mean ± 95 % CI) | family's verdict | best knobs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    DOCS.mkdir(parents=True, exist_ok=True)
    for r in d["families"]:
        b = r["best"]
        flag = " **above 2 %**" if r["above_goal"] else ""
        knobs = ", ".join(f"{k}={v}" for k, v in b["knobs"].items())
        name = f"[{r['family']}]({r['family']}.json)" if r["above_goal"] else r["family"]
        gains = f"{pct(r['defaults_gain'])} | {pct(b['search_gain'])} | {pct(b['gain'])} | {ci(b['per_seed'])}"
        verdict = "stopped" if b["passed"] else "**not stopped**"
        out.append(f"| {name}{flag} | {r['evaluations']} | {gains} | {verdict} | {knobs} |")
        if r["above_goal"]:
            shutil.copyfile(src / "repro" / f"{r['family']}.json", DOCS / f"{r['family']}.json")
    out += [
        "",
        "Gains are in each family's own unit (`cor simulate --scenario all --json` lists `gain_unit`); 0 is no advantage over the",
        "honest twin. The family's verdict is its own criterion (e.g. a majority coalition, or aged stake spending within the",
        "treasury cap, may gain and still be within the rules): a gain above 2 % with the verdict *stopped* is a deviation the",
        "rules allow on purpose; one *not stopped* is an open attack.",
    ]
    above = [r for r in d["families"] if r["above_goal"]]
    if above:
        out += ["", "Above the 2 % goal (replay: `cor simulate --file docs/redteam/<family>.json`):", ""]
        for r in above:
            verdict = "stopped by its criterion" if r["best"]["passed"] else "NOT stopped"
            out.append(f"- `{r['family']}` ({verdict}): {r['best']['summary']}")
    return out


def sweep_section(s: dict, src: Path) -> list[str]:
    names = list(s["grid"])
    out = [
        "## validators_per_task × coalition share",
        "",
        f"`cor simulate --scenario {','.join(s['targets'])} "
        + " ".join(f"--sweep {k}={','.join(map(str, v))}" for k, v in s["grid"].items())
        + f" --backend {s['settings']['backend']}`: {s['jobs']} jobs (each a world and its honest twin). `count` colluding"
        " validators hold 10 / 20 / 30 / 39 / 49 % of validator stake (count 1..5).",
        "",
        "| " + " | ".join([*names, "seeds", "coalition gain", "honest pay change", "worst honest node", "verdict"]) + " |",
        "| " + " | ".join(["---"] * (len(names) + 5)) + " |",
    ]
    for p in s["points"]:
        m = p["metrics"]
        verdict = "" if p.get("family_passed") is None else ("pass" if p["family_passed"] else "FAIL")
        cells = [str(p["point"][n]) for n in names] + [
            str(len(p["seeds"])),
            ci(m["gain"]),
            ci(m["honest_pay_change"]),
            ci(m["honest_worst_change"]),
            verdict,
        ]
        out.append("| " + " | ".join(cells) + " |")
    for name in ("honest_pay_change-vs-validators_per_task", "frontier"):
        png = src / "plots" / f"{name}.png"
        if png.exists():
            shutil.copyfile(png, DOCS / f"sweep-{name}.png")
            out += ["", f"![{name}](sweep-{name}.png)"]
    return out


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    rt = Path(sys.argv[1])
    lines = ["# Red-team findings", "", "Written by `scripts/redteam_doc.py` from the runs below; see docs/experiments.md.", ""]
    lines += redteam_section(json.loads((rt / "redteam.json").read_text()), rt)
    if len(sys.argv) == 3:
        sw = Path(sys.argv[2])
        lines += ["", *sweep_section(json.loads((sw / "summary.json").read_text()), sw)]
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "README.md").write_text("\n".join(lines) + "\n")
    print(DOCS / "README.md")


if __name__ == "__main__":
    main()
