"""Calibrate the PoI rule on the committed outputs: embed, build tasks, ROC, rates, figure, doc.

    .venv/bin/python scripts/poi_calibrate.py            # data/poi-calibration → results.json, docs/poi-calibration*.{md,png}
    .venv/bin/python scripts/poi_calibrate.py --json     # the results document on stdout as well

Embeds every output of ``data/poi-calibration/outputs.jsonl`` (and of the variant miners,
``variants.jsonl``) with the real all-MiniLM-L6-v2 (int8 ONNX) and scores it with the validators'
PoUW scorer, without and (from the cached traces, ``scripts/poi_likelihood.py``) with the model checks, builds every honest task and every
one-cheater task of ``redundancy`` miners per prompt (``cor_incentives.nodes.poi_calibration``),
chooses the global distance threshold by ROC on the calibration prompts only, and reports the rates
it reaches on the calibration and the held-out prompts, for PoI alone and for the whole consensus
rule of the core (PoI and the quality floor), at the parameters in force and at the chosen one.
Writes ``results.json`` beside the data, the ROC figure ``docs/poi-calibration-roc.png``, and the
generated tables of ``docs/poi-calibration.md`` (between its ``<!-- generated -->`` markers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cor_incentives.nodes.poi_calibration import (
    load_calibration,
    measure,
    plot_roc,
    render_doc_tables,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "poi-calibration"
DOC = ROOT / "docs" / "poi-calibration.md"
FIGURE = ROOT / "docs" / "poi-calibration-roc.png"
BEGIN, END = "<!-- generated: scripts/poi_calibrate.py -->", "<!-- end generated -->"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with prompts.jsonl and outputs.jsonl")
    ap.add_argument("--json", action="store_true", help="print the results document")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite the doc and the figure")
    args = ap.parse_args(argv)

    data = load_calibration(args.data)
    result = measure(data, progress=True)
    (args.data / "results.json").write_text(json.dumps(result.summary, indent=1, sort_keys=True) + "\n")
    if not args.no_doc:
        plot_roc(result, FIGURE)
        text = DOC.read_text()
        if BEGIN not in text or END not in text:
            print(f"{DOC} has no generated section ({BEGIN} … {END})", file=sys.stderr)
            return 1
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        DOC.write_text(head + BEGIN + "\n" + render_doc_tables(result.summary) + END + tail)
    if args.json:
        print(json.dumps(result.summary, indent=1, sort_keys=True))
    else:
        chosen = result.summary["chosen"]
        print(f"chosen poi_max_distance_ppb = {chosen['max_distance_ppb']:,}", file=sys.stderr)
        for split in ("calibration", "held_out"):
            r = result.summary["rates"]["chosen"]["consensus"][split]
            print(f"  {split:12s} honest in consensus {r['honest_in_rate']:.2%}, cheaters out {r['cheat_out_rate']:.2%}", file=sys.stderr)
        mv = result.summary["model_validator"]
        print(f"with the model checks ({mv['prompts']} prompts read):", file=sys.stderr)
        for split in ("calibration", "held_out"):
            r = mv["rates"]["consensus"][split]
            print(f"  {split:12s} honest in consensus {r['honest_in_rate']:.2%}, cheaters out {r['cheat_out_rate']:.2%}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
