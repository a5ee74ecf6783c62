"""PoI on composed network prompts (rule 9): generate, read and measure with the real models (resumable).

    .venv/bin/python scripts/poi_composed.py generate [--until 05:25]   # SmolLM2 answers + traces → data/poi-composed/
    .venv/bin/python scripts/poi_composed.py generate --helper          # a second worker, from the last prompt backwards
    .venv/bin/python scripts/poi_composed.py borrow [--until 12:00]     # the borrowing copier and prompt pairs → borrow*.jsonl
    .venv/bin/python scripts/poi_composed.py merge                      # fold the workers' files into one of each
    .venv/bin/python scripts/poi_composed.py read [--prompt-free]       # the part check's reads → parts.jsonl (and after no prompt)
    .venv/bin/python scripts/poi_composed.py measure                    # MiniLM + the validator → results.json, the doc section

``generate`` works prompt by prompt (``nodes.poi_composed.composed_prompts``: the core's ``compose_prompt``
over the calibration set's base prompts, calibration and held-out apart, interleaved): the honest miners
answer the composed prompt at the parts' budget, the stitching copier glues single-part answers of the
calibration set, the capped entries take each output's first ``cap`` tokens, and the validator's
``TeacherForcer`` reads every output of every entry. Each line is appended and flushed at once; a prompt
counts once all of its lines are there, so a run stopped at any point (``--until``, Ctrl-C) resumes where it
stopped. ``measure`` needs no LLM: it embeds with the real all-MiniLM-L6-v2 and scores with the cached traces.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from cor_incentives.nodes.poi_calibration import output_key, read_lines

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "poi-composed"
SINGLE_DATA = ROOT / "data" / "poi-calibration"
DOC = ROOT / "docs" / "poi-calibration.md"
BEGIN, END = "<!-- generated: scripts/poi_composed.py measure -->", "<!-- end generated: composed -->"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def past(until: str | None) -> bool:
    if not until:
        return False
    h, m = map(int, until.split(":"))
    now = dt.datetime.now(dt.UTC)
    return (now.hour, now.minute) >= (h, m)


def generate(args: argparse.Namespace) -> int:
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.likelihood import TeacherForcer
    from cor_incentives.nodes.agents.validator import READER_CONTEXT
    from cor_incentives.nodes.backends import LlamaBackend
    from cor_incentives.nodes.poi_composed import (
        BUDGET_CAPS,
        COMPOSED_MINERS,
        STITCH_VARIANTS,
        STITCHED,
        capped,
        composed_prompts,
        composed_sampling,
        stitch,
        stitch_sources,
    )

    base = [json.loads(line) for line in (SINGLE_DATA / "prompts.jsonl").read_text().splitlines() if line.strip()]
    single_rows = [r for r in read_lines(SINGLE_DATA / "outputs.jsonl") if r["class"] == "honest"]
    singles = {(r["prompt_id"], r["miner"]): r["text"] for r in single_rows}
    finished = {(r["prompt_id"], r["miner"]): r["finish"] for r in single_rows}
    prompts = composed_prompts(base, args.per_split)
    args.data.mkdir(parents=True, exist_ok=True)
    entries = [e for p in prompts for e in (p, *(capped(p, c) for c in BUDGET_CAPS if c < p["max_output_tokens"]))]
    (args.data / "prompts.jsonl").write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    out_path, trace_path = args.data / "outputs.jsonl", args.data / "likelihood.jsonl"
    if args.helper:  # a second worker: from the last prompt backwards, into *.helper.jsonl (measure reads every file)
        prompts = prompts[::-1]
        out_path, trace_path = args.data / "outputs.helper.jsonl", args.data / "likelihood.helper.jsonl"
    elif args.start:  # a third worker: from prompt --start on, into *.start<N>.jsonl
        prompts = prompts[args.start :]
        out_path, trace_path = args.data / f"outputs.start{args.start}.jsonl", args.data / f"likelihood.start{args.start}.jsonl"
    others = [f for f in sorted(args.data.glob("outputs*.jsonl")) if f != out_path]  # the other workers' prompts are skipped
    rows = {(output_key(r)): r for r in read_lines(out_path)}
    traces = {(tuple(t["key"]), t["text_sha256"]): t for t in read_lines(trace_path)}
    out_path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows.values()))
    trace_path.write_text("".join(json.dumps(t, sort_keys=True) + "\n" for t in traces.values()))
    llm = LlamaBackend(str(gguf_path()), n_threads=args.threads)
    forcer = TeacherForcer(gguf_path(), n_threads=args.threads, n_ctx=READER_CONTEXT)
    started, made, read = time.monotonic(), 0, 0
    with out_path.open("a") as fo, trace_path.open("a") as ft:

        def put(row: dict[str, Any]) -> None:
            if output_key(row) not in rows:
                rows[output_key(row)] = row
                fo.write(json.dumps(row, sort_keys=True) + "\n")
                fo.flush()

        def trace(prompt: str, row: dict[str, Any]) -> None:
            nonlocal read
            k = (output_key(row), sha(row["text"]))
            if k in traces:
                return
            t = {"key": list(output_key(row)), "text_sha256": k[1], **forcer.trace(prompt, row["text"]).to_dict()}
            traces[(tuple(t["key"]), t["text_sha256"])] = t
            ft.write(json.dumps(t, sort_keys=True) + "\n")
            ft.flush()
            read += 1

        for n, p in enumerate(prompts):
            if past(args.until):
                print(f"stopping at {args.until} UTC: {n} of {len(prompts)} prompts done", file=sys.stderr)
                break
            if any((p["id"], "honest", 0) in {output_key(r) for r in read_lines(f)} for f in others):
                continue
            full: list[dict[str, Any]] = []
            for m in range(COMPOSED_MINERS):
                key = (p["id"], "honest", m)
                if key not in rows:
                    llm.sampling = composed_sampling(p["id"], m)
                    gen, finish = llm.complete(p["prompt"], p["max_output_tokens"])
                    made += 1
                    put(
                        {
                            "prompt_id": p["id"],
                            "class": "honest",
                            "miner": m,
                            "sampling": llm.sampling.to_dict(),
                            "max_tokens": p["max_output_tokens"],
                            "finish": finish,
                            "output_tokens": gen.output_tokens,
                            "text": gen.text,
                        }
                    )
                full.append(rows[key])
            for j, sources in enumerate(stitch_sources(p["parts"], finished)):
                put(
                    {
                        "prompt_id": p["id"],
                        "class": STITCHED,
                        "miner": j,
                        "variant": STITCH_VARIANTS[j],
                        "sources": [list(x) for x in sources],
                        "text": stitch([singles[x] for x in sources]),
                    }
                )
                full.append(rows[(p["id"], STITCHED, j)])
            for r in full:
                trace(p["prompt"], r)
            for cap in BUDGET_CAPS:
                if cap >= p["max_output_tokens"]:
                    continue
                for r in full:
                    toks = forcer.output_tokens(r["text"])
                    text = r["text"] if len(toks) <= cap else forcer._llm.detokenize(toks[:cap]).decode("utf-8", errors="ignore").strip()
                    row = {k: v for k, v in r.items() if k not in ("text", "finish", "output_tokens", "max_tokens")}
                    row |= {"prompt_id": f"{p['id']}@{cap}", "text": text, "cut_from": len(toks) if len(toks) > cap else None}
                    put(row)
                    trace(p["prompt"], rows[output_key(row)])
            print(
                f"{p['id']} ({'+'.join(p['parts'])}): {made} generated, {read} read, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True
            )
    return 0


def read(args: argparse.Namespace) -> int:
    """The validator's extra reads of the composed outputs, cached (resumable): each output's first answer after the
    composed prompt and after its first part alone (``ai.composed.part_gain``) → parts.jsonl; then (``--prompt-free``)
    every output after no prompt (the unprompted task check) → likelihood-null.jsonl."""
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.composed import first_answer, parts_of
    from cor_incentives.ai.likelihood import PROMPT_FREE, TeacherForcer
    from cor_incentives.nodes.agents.validator import READER_CONTEXT
    from cor_incentives.nodes.poi_composed import borrowed_first_answers, load_composed

    data = load_composed(args.data)
    prompt_of = {e["id"]: e["prompt"] for e in data.prompts}
    parts_path, free_path = args.data / "parts.jsonl", args.data / "likelihood-null.jsonl"
    done = {(t["prompt_sha256"], t["text_sha256"]) for t in read_lines(parts_path)}
    free_done = {(tuple(t["key"]), t["text_sha256"]) for t in read_lines(free_path)}
    wanted: list[tuple[str, str]] = []
    for r in data.rows:
        prompt = prompt_of[r["prompt_id"]]
        parts = parts_of(prompt)
        text = first_answer(r["text"], len(parts))
        if text:
            wanted += [(prompt, text), (parts[0], text)]
    # by prompt: the reader reuses a prompt's read for the next text after the same prompt
    for e, text in borrowed_first_answers(data):  # first answers cut out of other composed prompts' answers
        wanted += [(e["prompt"], text), (parts_of(e["prompt"])[0], text)]
    todo = sorted((x for x in dict.fromkeys(wanted) if (sha(x[0]), sha(x[1])) not in done), key=lambda x: x[0])
    free_todo = [r for r in data.rows if (output_key(r), sha(r["text"])) not in free_done] if args.prompt_free else []
    print(f"{len(todo)} first-answer reads and {len(free_todo)} prompt-free reads to do", file=sys.stderr, flush=True)
    forcer = TeacherForcer(gguf_path(), n_threads=args.threads, n_ctx=READER_CONTEXT)
    started = time.monotonic()
    with parts_path.open("a") as fp:
        for n, (prompt, text) in enumerate(todo):
            if past(args.until):
                print(f"stopping at {args.until} UTC: {n} of {len(todo)} first-answer reads done", file=sys.stderr)
                return 0
            t = {"prompt_sha256": sha(prompt), "text_sha256": sha(text), **forcer.trace(prompt, text).to_dict()}
            fp.write(json.dumps(t, sort_keys=True, separators=(",", ":")) + "\n")
            fp.flush()
            if n % 100 == 0:
                print(f"first answers {n}/{len(todo)}, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if not free_todo:
        return 0
    with free_path.open("a") as ff:
        for n, r in enumerate(free_todo):
            if past(args.until):
                print(f"stopping at {args.until} UTC: {n} of {len(free_todo)} prompt-free reads done", file=sys.stderr)
                return 0
            t = {"key": list(output_key(r)), "text_sha256": sha(r["text"]), **forcer.trace(PROMPT_FREE, r["text"]).to_dict()}
            ff.write(json.dumps(t, sort_keys=True, separators=(",", ":")) + "\n")
            ff.flush()
            if n % 100 == 0:
                print(f"free {n}/{len(free_todo)}, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return 0


def borrow(args: argparse.Namespace) -> int:
    """The borrowing copier (resumable): its outputs (``nodes.poi_composed.borrowed_outputs``, full budget and the caps)
    → borrowed.jsonl, with every read the validator makes of them (the output after the composed prompt, its first
    answer after the composed prompt and after part 1 alone); then the pairs (``borrow_pairs``: composed prompts sharing
    their first part, honest miners at 0.3-1.0 and a greedy one) with each first answer read after its own prompt, after
    its twin and after part 1 alone → borrow-pairs.jsonl, borrow-reads.jsonl (keyed by prompt and text sha256)."""
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.composed import first_answer, parts_of
    from cor_incentives.ai.likelihood import TeacherForcer
    from cor_incentives.nodes.agents.validator import READER_CONTEXT
    from cor_incentives.nodes.backends import LlamaBackend
    from cor_incentives.nodes.poi_composed import (
        BUDGET_CAPS,
        PAIR_TOKENS,
        borrow_pairs,
        borrowed_outputs,
        earlier_prompts,
        load_composed,
        pair_sampling,
    )

    data = load_composed(args.data)
    singles = {(r["prompt_id"], r["miner"]): r["text"] for r in read_lines(SINGLE_DATA / "outputs.jsonl") if r["class"] == "honest"}
    prompt_of = {e["id"]: e for e in data.prompts}
    forcer = TeacherForcer(gguf_path(), n_threads=args.threads, n_ctx=READER_CONTEXT)
    rows = []
    for r in borrowed_outputs(data, singles):
        # a careful copier cuts its glued answer at the task's budget (a miner's run stops there: over_budget otherwise)
        toks = forcer.output_tokens(r["text"])
        for pid in (r["prompt_id"], *(f"{r['prompt_id']}@{cap}" for cap in BUDGET_CAPS)):
            if pid in prompt_of:
                cap = prompt_of[pid]["max_output_tokens"]
                text = r["text"] if len(toks) <= cap else forcer._llm.detokenize(toks[:cap]).decode("utf-8", errors="ignore").strip()
                rows.append({**r, "prompt_id": pid, "text": text, "cut_from": len(toks) if len(toks) > cap else None})
    (args.data / "borrowed.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    reads_path, pairs_path = args.data / "borrow-reads.jsonl", args.data / "borrow-pairs.jsonl"
    done = {(t["prompt_sha256"], t["text_sha256"]) for t in read_lines(reads_path)}
    done |= {(t["prompt_sha256"], t["text_sha256"]) for t in read_lines(args.data / "parts.jsonl")}
    wanted: list[tuple[str, str]] = []
    for r in rows:
        prompt = prompt_of[r["prompt_id"]]["prompt"]
        text = first_answer(r["text"], 2)
        wanted += [(prompt, r["text"]), (prompt, text), (parts_of(prompt)[0], text)]
    for r in [*rows, *data.rows]:  # the borrow check: after the other compositions
        e = prompt_of[r["prompt_id"]]
        text = first_answer(r["text"], 2)
        if text:
            wanted += [(q, text) for q in earlier_prompts(data, e)]
    pairs = {(r["prompt_id"], r["miner"]): r for r in read_lines(pairs_path)}
    llm = LlamaBackend(str(gguf_path()), n_threads=args.threads)
    started, n = time.monotonic(), 0
    with reads_path.open("a") as fr, pairs_path.open("a") as fp:

        def do(prompt: str, text: str) -> None:
            nonlocal n
            if (sha(prompt), sha(text)) in done:
                return
            t = {"prompt_sha256": sha(prompt), "text_sha256": sha(text), **forcer.trace(prompt, text).to_dict()}
            fr.write(json.dumps(t, sort_keys=True, separators=(",", ":")) + "\n")
            fr.flush()
            done.add((sha(prompt), sha(text)))
            n += 1

        for prompt, text in wanted:
            if past(args.until):
                return 0
            do(prompt, text)
        print(f"borrowed outputs read ({n} reads), {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        for a, b in borrow_pairs(args.pairs):
            for e, twin in ((a, b), (b, a)):
                for m in range(5):
                    if past(args.until):
                        return 0
                    key = (e["id"], m)
                    if key not in pairs:
                        llm.sampling = pair_sampling(e["id"], m)
                        gen, finish = llm.complete(e["prompt"], PAIR_TOKENS)
                        row = {
                            "prompt_id": e["id"],
                            "twin": twin["id"],
                            "parts": e["parts"],
                            "miner": m,
                            "sampling": llm.sampling.to_dict(),
                            "finish": finish,
                            "text": gen.text,
                        }
                        fp.write(json.dumps(row, sort_keys=True) + "\n")
                        fp.flush()
                        pairs[key] = row
                    text = first_answer(pairs[key]["text"], 2)
                    if text:
                        do(e["prompt"], text)
                        do(twin["prompt"], text)
                        do(parts_of(e["prompt"])[0], text)
            print(f"pair {a['id']}/{b['id']}: {n} reads, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return 0


def merge(args: argparse.Namespace) -> int:
    """Fold every worker's lines into outputs.jsonl and likelihood.jsonl, in the prompts' order, and remove the workers' files."""
    order = {e["id"]: i for i, e in enumerate(read_lines(args.data / "prompts.jsonl"))}
    for name in ("outputs", "likelihood"):
        files = sorted(args.data.glob(f"{name}.*jsonl"))
        lines: dict[Any, dict[str, Any]] = {}
        for f in files:
            for x in read_lines(f):
                key = output_key(x) if name == "outputs" else (tuple(x["key"]), x["text_sha256"])
                lines.setdefault(key, x)

        def rank(x: dict[str, Any], name: str = name) -> tuple[int, str, int]:
            k = output_key(x) if name == "outputs" else tuple(x["key"])
            return (order.get(k[0], len(order)), k[1], int(k[2]))

        target = args.data / f"{name}.jsonl"
        tmp = target.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(x, sort_keys=True, separators=(",", ":")) + "\n" for x in sorted(lines.values(), key=rank)))
        tmp.replace(target)
        for f in files:
            if f != target:
                f.unlink()
        print(f"{target}: {len(lines)} lines from {len(files)} files", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("generate", "read", "borrow", "merge", "measure"))
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--per-split", type=int, default=40, help="composed prompts per split")
    ap.add_argument("--until", default=None, help="generate: stop starting prompts at this UTC time (HH:MM)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=24, help="borrow: composed prompt pairs sharing their first part")
    ap.add_argument("--start", type=int, default=0, help="generate: a third worker, from this prompt on (*.start<N>.jsonl)")
    ap.add_argument("--prompt-free", action="store_true", help="read: also read every output after no prompt (likelihood-null.jsonl)")
    ap.add_argument("--no-doc", action="store_true", help="measure: do not rewrite docs/poi-calibration.md")
    ap.add_argument("--helper", action="store_true", help="generate: a second worker, from the last prompt backwards (*.helper.jsonl)")
    args = ap.parse_args(argv)
    if args.step == "generate":
        return generate(args)
    if args.step == "read":
        return read(args)
    if args.step == "merge":
        return merge(args)
    if args.step == "borrow":
        return borrow(args)
    return measure(args)


def measure(args: argparse.Namespace) -> int:
    from doc_block import rewrite_block

    from cor_incentives.nodes.poi_calibration import load_calibration
    from cor_incentives.nodes.poi_composed import load_composed, measure_composed, render_doc

    summary = measure_composed(load_composed(args.data), load_calibration(SINGLE_DATA), args.data)
    (args.data / "results.json").write_text(json.dumps(summary, indent=1, sort_keys=True, allow_nan=False) + "\n")
    body = render_doc(summary)
    if not args.no_doc:
        rewrite_block(DOC, BEGIN, END, body, check=False, script="scripts/poi_composed.py measure")
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
