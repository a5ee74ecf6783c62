"""Does the borrow check choose an edited copy's source? Text only, no model (``ai.composed.borrow_candidates``).

    .venv/bin/python scripts/borrow_likeness.py [--decoys 12 40] [--seeds 2]
    .venv/bin/python scripts/borrow_likeness.py --model    # SmolLM2: is an edited copy read after its source flagged?

The borrowed first answers: every honest first answer of data/poi-composed (the composed set's and the prompt pairs')
of a first part asked in 2 or more compositions, copied into another composition of that part; each edited as a copier
could (a word in k replaced or dropped, lower case without punctuation, a letter changed in a word in three, cut at 20
words). The network's history: the source composition, oldest (a tie goes to the decoys), and ``--decoys`` newer
compositions of the same first part, each with 3 published first answers drawn from the other answers to that part
(the other compositions' and the calibration set's single answers). Counted: how often the source is among the
BORROW_CANDIDATES chosen, ranked by the word runs alone (the likeness before: ``likeness(...)[1]``) and by
``likeness``; "distinguishable": the copies that no decoy answer holds as a run of words (for the others no text tells
the source from a decoy).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from cor_incentives.ai.composed import BORROW_CANDIDATES, first_answer, likeness
from cor_incentives.nodes.poi_composed import borrow_pairs

ROOT = Path(__file__).resolve().parent.parent
DATA, SINGLE = ROOT / "data" / "poi-composed", ROOT / "data" / "poi-calibration"
ANSWERS_PER_DECOY = 3
_VOCAB = "apple river stone cloud paper glass orange window silver garden motor forest candle ladder pencil rocket".split()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def answers_by_first_part() -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """First part → composition id → its honest first answers; and base prompt id → its single answers' first answers."""
    first = {e["id"]: e["parts"][0] for e in _lines(DATA / "prompts.jsonl") if "of" not in e}
    for pair in borrow_pairs(24):
        first |= {e["id"]: e["parts"][0] for e in pair}
    comps: dict[str, dict[str, list[str]]] = defaultdict(dict)
    rows = [r for r in _lines(DATA / "outputs.jsonl") if r["class"] == "honest"] + _lines(DATA / "borrow-pairs.jsonl")
    for r in rows:
        if r["prompt_id"] in first and (t := first_answer(r["text"], 2)):
            comps[first[r["prompt_id"]]].setdefault(r["prompt_id"], []).append(t)
    singles: dict[str, list[str]] = defaultdict(list)
    for r in _lines(SINGLE / "outputs.jsonl"):
        if r["class"] == "honest" and (t := first_answer(r["text"], 2)):
            singles[r["prompt_id"]].append(t)
    return comps, singles


def _replace(w: str, i: int) -> str:
    r = _VOCAB[int.from_bytes(hashlib.sha256(f"{w}|{i}".encode()).digest()[:8], "big") % len(_VOCAB)]
    return r.capitalize() if w[:1].isupper() else r


def _words(fn: Any) -> Any:
    return lambda t: " ".join(x for i, w in enumerate(t.split()) if (x := fn(i, w)))


def _lower_punct(t: str) -> str:
    return re.sub(r"[^\w\s]", "", t.lower())


EDITS = {
    "unedited": lambda t: t,
    "cut at 20 words": lambda t: " ".join(t.split()[:20]),
    **{f"a word in {k} replaced": _words(lambda i, w, k=k: _replace(w, i) if i % k == k - 1 else w) for k in (2, 3, 4)},
    **{f"a word in {k} dropped": _words(lambda i, w, k=k: "" if i % k == k - 1 else w) for k in (2, 3, 4)},
    "lower case, no punctuation": _lower_punct,
    "a letter in 3 words changed": _words(lambda i, w: w[:-1] + ("d" if w.endswith("s") else "s") if i % 3 == 2 and len(w) > 2 else w),
    "a word in 3 replaced, lower, no punct": lambda t: _lower_punct(EDITS["a word in 3 replaced"](t)),
    "cut at 20 words, a word in 3 replaced": lambda t: EDITS["a word in 3 replaced"](" ".join(t.split()[:20])),
}


def measure(n_decoys: int, seeds: int) -> dict[str, dict[str, list[int]]]:
    """Per edit: [source chosen before, after, copies] over all copies and over the distinguishable ones."""
    comps, singles = answers_by_first_part()
    out: dict[str, dict[str, list[int]]] = {e: {"all": [0, 0, 0], "distinguishable": [0, 0, 0]} for e in EDITS}
    for a, cs in sorted(comps.items()):
        if len(cs) < 2:
            continue
        for src, answers in cs.items():
            pool = [t for q, ts in cs.items() if q != src for t in ts] + singles[a]
            for j, text in enumerate(answers):
                norm = " ".join(re.findall(r"\w+", text.lower()))
                clear = not any(norm in " ".join(re.findall(r"\w+", p.lower())) for p in pool)
                for seed in range(seeds):
                    rng = random.Random(f"{seed}|{src}|{j}")
                    history = {src: answers} | {f"decoy {i}": rng.sample(pool, min(ANSWERS_PER_DECOY, len(pool))) for i in range(n_decoys)}
                    newest = list(reversed(history))
                    for edit, fn in EDITS.items():
                        copy = fn(text)
                        keys = {q: likeness(copy, ts) for q, ts in history.items()}
                        before = src in sorted(newest, key=lambda q: keys[q][1], reverse=True)[:BORROW_CANDIDATES]
                        after = src in sorted(newest, key=lambda q: keys[q], reverse=True)[:BORROW_CANDIDATES]
                        for block in ("all", "distinguishable") if clear else ("all",):
                            c = out[edit][block]
                            c[0], c[1], c[2] = c[0] + before, c[1] + after, c[2] + 1
    return out


MODEL_EDITS = (
    "unedited",
    "a word in 3 replaced",
    "a word in 2 replaced",
    "a word in 3 dropped",
    "lower case, no punctuation",
    "a letter in 3 words changed",
)


def model_gains() -> None:
    """The borrowing copier's outputs of data/poi-composed (borrowed.jsonl, full budget), the first answer edited: its
    borrow gain against its source alone (``borrow_gain``; flagged below BORROW_GAIN_MIN_MILLI) and the mean
    log-probability of its window's tokens after this prompt (what the edit costs in fidelity), per edit."""
    import statistics

    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.composed import BORROW_GAIN_MIN_MILLI, PART_GAIN_WINDOW, EarlierComposition, answer_spans, borrow_gain, parts_of
    from cor_incentives.ai.likelihood import TeacherForcer

    reader = TeacherForcer(gguf_path(), n_threads=1, n_ctx=1024)
    entries = {e["id"]: e for e in _lines(DATA / "prompts.jsonl") if "of" not in e}
    gains: dict[str, list[int]] = defaultdict(list)
    logprobs: dict[str, list[float]] = defaultdict(list)
    for r in _lines(DATA / "borrowed.jsonl"):
        if r["prompt_id"] not in entries:
            continue
        e = entries[r["prompt_id"]]
        source = next(x for x in entries.values() if x["parts"][0] == e["parts"][0] and x["id"] != e["id"])
        spans = answer_spans(r["text"], 2)
        for edit in MODEL_EDITS:
            text = EDITS[edit](first_answer(r["text"], 2))
            output = "1. " + text + ("\n\n" + spans[1] if len(spans) > 1 else "")
            g = borrow_gain(reader, e["prompt"], parts_of(e["prompt"]), output, [EarlierComposition(source["prompt"])])
            window = reader.trace(e["prompt"], first_answer(output, 2)).tokens[:PART_GAIN_WINDOW]
            if g is not None and window:
                gains[edit].append(g)
                logprobs[edit].append(sum(t.logprob for t in window) / len(window))
    for edit in MODEL_EDITS:
        g = gains[edit]
        print(
            f"{edit:30s} flagged {sum(x < BORROW_GAIN_MIN_MILLI for x in g):2d} of {len(g)}, median gain {statistics.median(g) / 1000:+6.2f} nats,"
            f" mean window log-probability {statistics.mean(logprobs[edit]):.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decoys", type=int, nargs="+", default=[12, 40])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--model", action="store_true", help="read the edited copies after their sources with SmolLM2")
    args = ap.parse_args()
    if args.model:
        model_gains()
        return
    for n in args.decoys:
        res = measure(n, args.seeds)
        print(f"\n{n} decoy compositions, {ANSWERS_PER_DECOY} answers each; source among the {BORROW_CANDIDATES} chosen, before → after")
        print(f"{'edit':40s} {'all':>24s} {'distinguishable':>24s}")
        for edit, blocks in res.items():
            cells = [f"{100 * b / n_:5.1f}% → {100 * a / n_:5.1f}% of {n_:3d}" for b, a, n_ in blocks.values()]
            print(f"{edit:40s} {cells[0]:>24s} {cells[1]:>24s}")


if __name__ == "__main__":
    main()
