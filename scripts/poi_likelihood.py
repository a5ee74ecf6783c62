"""Read every calibration output with the real SmolLM2 (teacher forcing) and cache the traces (resumable).

    .venv/bin/python scripts/poi_likelihood.py                   # data/poi-calibration → likelihood.jsonl beside it
    .venv/bin/python scripts/poi_likelihood.py --out /tmp/l.jsonl --limit 20
    .venv/bin/python scripts/poi_likelihood.py --outputs variants.jsonl   # the variants → likelihood-variants.jsonl
    .venv/bin/python scripts/poi_likelihood.py --merge-only              # rewrite what is read so far (and a helper's lines), read nothing
    .venv/bin/python scripts/poi_likelihood.py --prompt-free             # the same outputs after an empty prompt → likelihood-null.jsonl

For each output of ``outputs.jsonl`` the validator's ``TeacherForcer`` (``cor_incentives.ai.likelihood``)
runs the bundled SmolLM2-135M GGUF over the chat prompt and the output once and records, per output
token and for the end-of-turn token after it, the untempered log-probability, the gap to the top
token, the rank and the mass ranked above. One JSON line per output, appended and flushed at once:
an interrupted run resumes where it stopped (a torn last line is dropped). Each line carries the
sha256 of the text it read, so an output whose text changed is read again. At the end the file is
rewritten in the outputs' order. ``scripts/poi_calibrate.py`` reads it; nothing here needs the
embedding model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cor_incentives.ai.bundled import gguf_path
from cor_incentives.ai.likelihood import PROMPT_FREE, TeacherForcer, TokenTrace
from cor_incentives.nodes.poi_calibration import output_key, read_lines

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "poi-calibration"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with prompts.jsonl and an outputs file")
    ap.add_argument("--outputs", default="outputs.jsonl", help="outputs file inside --data")
    ap.add_argument("--out", type=Path, default=None, help="cache file (default: likelihood.jsonl beside the outputs)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N outputs (0: all)")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument(
        "--helper", action="store_true", help="a second worker: from the last output backwards, into <cache>.helper (a later plain run merges it)"
    )
    ap.add_argument(
        "--prompt-free",
        action="store_true",
        help="read each output after an empty user message instead of its prompt (the prompt-free likelihood) → likelihood-null*.jsonl",
    )
    ap.add_argument("--merge-only", action="store_true", help="read nothing: merge a helper's lines and rewrite the cache canonically")
    args = ap.parse_args(argv)

    prompts = {p["id"]: p for p in map(json.loads, (args.data / "prompts.jsonl").read_text().splitlines())}
    rows = [json.loads(line) for line in (args.data / args.outputs).read_text().splitlines() if line.strip()]
    if args.limit:
        rows = rows[: args.limit]
    stem = "likelihood-null" if args.prompt_free else "likelihood"
    out = args.out or args.data / (f"{stem}.jsonl" if args.outputs == "outputs.jsonl" else f"{stem}-{args.outputs}")
    helper = out.with_name(out.name + ".helper")
    extra = [helper] if helper.is_file() and not args.helper else []
    if args.helper:  # skips what the main worker has written so far, works from the end
        skip = {(tuple(r["key"]), r["text_sha256"]) for r in read_lines(out)}
        out = helper
    done = {(tuple(r["key"]), r["text_sha256"]): r for path in (out, *extra) for r in read_lines(path)}
    if done:  # rewrite without a torn tail (and with a helper's lines) before appending
        out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in done.values()))
    todo = [r for r in rows if (output_key(r), _sha(r["text"])) not in done]
    if args.helper:
        todo = [r for r in reversed(todo) if (output_key(r), _sha(r["text"])) not in skip]
    if args.merge_only:
        todo = []
    if todo:
        started = time.monotonic()
        forcer = TeacherForcer(gguf_path(), n_threads=args.threads)
        with (
            out.open("a") as f,
            Progress(TextColumn("reading with the model"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar,
        ):
            task = bar.add_task("read", total=len(todo))
            for r in todo:
                trace = forcer.trace(PROMPT_FREE if args.prompt_free else prompts[r["prompt_id"]]["prompt"], r["text"])
                line = {"key": list(output_key(r)), "text_sha256": _sha(r["text"]), **trace.to_dict()}
                f.write(json.dumps(line, sort_keys=True) + "\n")
                f.flush()
                done[(output_key(r), line["text_sha256"])] = line
                bar.advance(task)
        print(f"read {len(todo)} outputs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    if args.helper:
        print(f"{out}: {len(done)} traces (merged by the next plain run)", file=sys.stderr)
        return 0
    keys = [(output_key(r), _sha(r["text"])) for r in rows]
    ordered = [_canonical(done[k]) for k in keys if k in done]
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in ordered))
    tmp.replace(out)
    for path in extra:
        path.unlink()
    print(f"{out}: {len(ordered)} traces of {len(rows)} outputs", file=sys.stderr)
    return 0


def _canonical(line: dict) -> dict:
    """A cache line in the current compact form (``TokenTrace.to_dict``)."""
    return {"key": line["key"], "text_sha256": line["text_sha256"], **TokenTrace.from_dict(line).to_dict()}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
