"""PoI on composed network prompts: honest miners and the stitching copier, through the shipped validator.

Concepts
    Network tasks ask a prompt the core composes from ``network_prompt_parts`` base prompts of the
    genesis set (``core.network_prompts.compose_prompt``). The distance threshold and the quality floor
    were calibrated on single prompts (``nodes.poi_calibration``). This module measures them on composed
    prompts, built by the core's own function, answered by SmolLM2 as devnet miners answer them, and
    judged by the validator as shipped (embedding distance to the medoid above the floor, the PoUW
    scorer with the model checks, then the task checks).

The composed set (``data/poi-composed/``)
    prompts     ``COMPOSED_PER_SPLIT`` composed prompts per split: each from the base prompts of one split
                of the calibration set (calibration or held-out), composed by ``compose_prompt`` for a
                beacon value and nonce derived from the split and the index. Each composed prompt comes at
                the budget the core allows (the parts' sum) and at the caps ``BUDGET_CAPS`` (a network whose
                oracle caps ``max_output_tokens``: the devnet's default 48, and 128), as separate entries
                ``<id>@<cap>`` whose outputs are the full outputs' first ``cap`` tokens (a sampled
                generation cut at a budget is the prefix of the same seed's longer generation).
    honest      ``COMPOSED_MINERS`` miners per prompt at ``COMPOSED_TEMPERATURES`` (0.3–1.0), own seeds,
                llama.cpp's default truncation samplers (the devnet miners' sampler).
    stitched    the stitching copier: for composed (A, B) it reveals an honest answer to A alone and one to
                B alone (answers published before rule 9, or cut out of earlier composed answers), numbered
                like the prompt: "1. <A's answer>\\n\\n2. <B's answer>". Built from the single-prompt
                calibration outputs (``STITCH_SOURCE_MINERS``), no model run on this prompt.

Tasks
    3 miners a task: every 3 of the honest miners, and each stitched output with every pair of honest ones.
    The single-prompt baseline: the same machinery on the base prompts the composed ones use, with the
    honest miners of the same temperatures (``SINGLE_MINERS`` of ``poi_calibration``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..ai.composed import BORROW_GAIN_MIN_MILLI, PART_GAIN_MIN_MILLI, PART_GAIN_WINDOW
from ..ai.poi import ranked_distances_ppb
from ..ai.quality import task_checks
from ..core.network_prompts import compose_prompt, parse_prompt_set
from .backends import Sampling, derive_seed
from .poi_calibration import (
    SPLITS,
    CalibrationData,
    ScoredPrompt,
    embed_and_score,
    output_key,
    read_lines,
    rows_by_prompt,
    task_check_params,
    text_sha256,
)

COMPOSED_PER_SPLIT = 40
PARTS = 2  # the core's default network_prompt_parts
COMPOSED_TEMPERATURES = (0.3, 0.6, 0.9, 1.0)
COMPOSED_MINERS = len(COMPOSED_TEMPERATURES)
SINGLE_MINERS = (0, 2, 4, 5)  # poi_calibration's honest miners at 0.3, 0.6, 0.9, 1.0: the same temperatures
STITCH_SOURCE_MINERS = (1, 3)  # single-prompt answers the copier stitches (T 0.45, 0.75: not the task's own miners)
ENDED_ORDER = (1, 3, 5, 0, 2, 4)  # the careful stitcher: per part, the first of these single answers that ended on its own
STITCH_VARIANTS = ("naive", "naive", "ended")  # stitched output j: miners 1, 3 as they are; each part's answer that ended
BUDGET_CAPS = (48, 128)
REDUNDANCY = 3
STITCHED = "stitched"


def composed_prompts(base: Sequence[dict[str, Any]], per_split: int = COMPOSED_PER_SPLIT) -> list[dict[str, Any]]:
    """The composed prompts, interleaved by split (cal 0, held-out 0, cal 1, ...), each composed by the core's rule
    from the base prompts of its split (``compose_prompt``: parts drawn from a beacon value and a nonce)."""
    by_split = {s: parse_prompt_set([{k: p[k] for k in ("id", "prompt", "max_output_tokens")} for p in base if p["split"] == s]) for s in SPLITS}
    kind = {p["id"]: p["kind"] for p in base}
    out = []
    for i in range(per_split):
        for split in SPLITS:
            value = "0x" + hashlib.sha256(f"poi-composed|{split}|{i}".encode()).hexdigest()
            c = compose_prompt(by_split[split], PARTS, value, i)
            out.append(
                {
                    "id": f"{'c' if split == 'calibration' else 'h'}{i:03d}",
                    "split": split,
                    "kind": "+".join(kind[x] for x in c.parts),
                    "parts": list(c.parts),
                    "prompt": c.text,
                    "max_output_tokens": c.max_output_tokens,
                }
            )
    return out


def capped(prompt: dict[str, Any], cap: int) -> dict[str, Any]:
    """The composed prompt at a capped output budget (a separate calibration entry)."""
    return {**prompt, "id": f"{prompt['id']}@{cap}", "max_output_tokens": min(cap, prompt["max_output_tokens"]), "cap": cap, "of": prompt["id"]}


def composed_sampling(prompt_id: str, miner: int) -> Sampling:
    """Honest miner ``miner``'s settings for one composed prompt: its temperature, a seed of its own."""
    return Sampling(temperature=COMPOSED_TEMPERATURES[miner], seed=derive_seed("poi-composed", prompt_id, miner))


def stitch_sources(parts: Sequence[str], finished: dict[tuple[str, int], str]) -> list[list[tuple[str, int]]]:
    """For each stitched output (``STITCH_VARIANTS``), the (part, single-prompt miner) answers it glues. ``finished``:
    (prompt id, miner) → the single answer's finish reason; the careful stitcher takes, per part, the first answer in
    ``ENDED_ORDER`` that stopped on its own (``stop``: it does not end mid-sentence), else miner 1's."""
    naive = [[(x, m) for x in parts] for m in STITCH_SOURCE_MINERS]
    ended = [(x, next((m for m in ENDED_ORDER if finished.get((x, m)) == "stop"), ENDED_ORDER[0])) for x in parts]
    return [*naive, ended]


def stitch(answers: Sequence[str]) -> str:
    """Single-part answers glued in the prompt's numbering."""
    return "\n\n".join(f"{i}. {a.strip()}" for i, a in enumerate(answers, 1))


@dataclass(frozen=True)
class TaskOutput:
    """One output's report in one task of 3, with why it is out (if it is)."""

    prompt_id: str
    split: str
    budget: str  # "full" or the cap
    output_class: str  # honest or stitched
    miner: int
    task_mix: str  # honest or stitched
    distance_ppb: int
    quality_ppb: int
    flags: tuple[str, ...]
    in_consensus: bool


def task_outputs(
    prompt: dict[str, Any], rows: Sequence[dict[str, Any]], sp: ScoredPrompt, max_distance_ppb: int, floor_ppb: int, redundancy: int = REDUNDANCY
) -> list[TaskOutput]:
    """Every honest task and every task with one stitched output, as the shipped validator reports them."""
    if sp.scores is None or sp.cosines is None or sp.checks is None:
        raise ValueError(f"prompt {prompt['id']}: every output must be read by the model")
    honest = [i for i, r in enumerate(rows) if r["class"] == "honest"]
    odd = [i for i, r in enumerate(rows) if r["class"] != "honest"]
    tasks = [(c, "honest") for c in combinations(honest, redundancy)]
    tasks += [((*c, o), rows[o]["class"]) for o in odd for c in combinations(honest, redundancy - 1)]
    names = [f"{r['class']}-{r['miner']}" for r in rows]
    budget = str(prompt.get("cap", "full"))
    out = []
    for members, mix in tasks:
        scores = task_checks([sp.scores[i] for i in members], [sp.cosines[i] for i in members], [sp.checks[i] for i in members])
        quality = [s.total_ppb for s in scores]
        sub = [[sp.matrix[i][j] for j in members] for i in members]
        distances = ranked_distances_ppb(sub, quality, [names[i] for i in members], floor_ppb)
        for i, d, s in zip(members, distances, scores):
            ok = d <= max_distance_ppb and s.total_ppb >= floor_ppb
            out.append(TaskOutput(prompt["id"], prompt["split"], budget, rows[i]["class"], int(rows[i]["miner"]), mix, d, s.total_ppb, s.flags, ok))
    return out


def rates(outs: Sequence[TaskOutput], max_distance_ppb: int, floor_ppb: int) -> dict[str, Any]:
    """Honest in consensus and stitched out, per split, with why honest outputs are out."""
    block: dict[str, Any] = {}
    for split in SPLITS:
        part = [o for o in outs if o.split == split]
        h = [o for o in part if o.output_class == "honest"]
        hi = [o for o in h if o.task_mix == "honest"]
        s = [o for o in part if o.output_class == STITCHED]
        out_h = [o for o in h if not o.in_consensus]
        block[split] = {
            "prompts": len({o.prompt_id for o in part}),
            "honest": len(h),
            "honest_in": sum(o.in_consensus for o in h),
            "honest_in_rate": _r(sum(o.in_consensus for o in h), len(h)),
            "honest_in_rate_honest_tasks": _r(sum(o.in_consensus for o in hi), len(hi)),
            "stitched": len(s),
            "stitched_out": sum(not o.in_consensus for o in s),
            "stitched_out_rate": _r(sum(not o.in_consensus for o in s), len(s)),
            "stitched_out_poi": _r(sum(o.distance_ppb > max_distance_ppb for o in s), len(s)),
            "honest_out": {
                "below_floor_only": sum(o.quality_ppb < floor_ppb and o.distance_ppb <= max_distance_ppb for o in out_h),
                "beyond_distance_only": sum(o.quality_ppb >= floor_ppb and o.distance_ppb > max_distance_ppb for o in out_h),
                "both": sum(o.quality_ppb < floor_ppb and o.distance_ppb > max_distance_ppb for o in out_h),
                "flags": _flag_counts(out_h),
            },
            "stitched_out_flags": _flag_counts([o for o in s if not o.in_consensus]),
        }
    return block


def _flag_counts(outs: Sequence[TaskOutput]) -> dict[str, int]:
    """How often each scorer flag appears among these outputs, most frequent first."""
    flags: dict[str, int] = {}
    for o in outs:
        for f in o.flags:
            flags[f] = flags.get(f, 0) + 1
    return dict(sorted(flags.items(), key=lambda kv: (-kv[1], kv[0])))


def _r(n: int, d: int) -> float | None:
    """A rate to 5 places; None (JSON null) when there is nothing to count."""
    return round(n / d, 5) if d else None


# == the measurement =================================================================================


def load_composed(directory: Any) -> CalibrationData:
    """prompts.jsonl, outputs.jsonl and likelihood.jsonl of ``scripts/poi_composed.py generate``: only the composed
    prompts whose every entry (full budget and caps) has all its outputs read by the model; with the reads of
    ``scripts/poi_composed.py read`` (likelihood-null.jsonl: after no prompt; parts.jsonl: each answer span after the
    composed prompt and after its part alone) and ``borrow`` (borrow-reads.jsonl), as far as they go."""
    from pathlib import Path

    d = Path(directory)
    entries = [json.loads(line) for line in (d / "prompts.jsonl").read_text().splitlines() if line.strip()]
    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    traces = {}
    for path in sorted(d.glob("outputs.*jsonl")):  # other workers' lines too (scripts/poi_composed.py --helper, --start)
        for r in read_lines(path):
            found.setdefault(output_key(r), r)
    for path in sorted(d.glob("likelihood.*jsonl")):
        for t in read_lines(path):
            traces[((t["key"][0], t["key"][1], int(t["key"][2])), t["text_sha256"])] = t
    rows = sorted(found.values(), key=output_key)
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_entry.setdefault(r["prompt_id"], []).append(r)
    want = COMPOSED_MINERS + len(STITCH_VARIANTS)

    def complete(e: dict[str, Any]) -> bool:
        mine = by_entry.get(e["id"], [])
        return len(mine) == want and all((output_key(r), text_sha256(r["text"])) in traces for r in mine)

    done = {e.get("of", e["id"]) for e in entries}
    done -= {e.get("of", e["id"]) for e in entries if not complete(e)}
    kept = tuple(e for e in entries if e.get("of", e["id"]) in done)
    ids = {e["id"] for e in kept}
    # the validator's other reads (``scripts/poi_composed.py read``): after no prompt, and the answer spans after their parts
    free = {((t["key"][0], t["key"][1], int(t["key"][2])), t["text_sha256"]): t for t in read_lines(d / "likelihood-null.jsonl")}
    spans = {(t["prompt_sha256"], t["text_sha256"]): t for f in ("parts.jsonl", "borrow-reads.jsonl") for t in read_lines(d / f)}
    return CalibrationData(kept, tuple(r for r in rows if r["prompt_id"] in ids), traces, free, spans)


def single_baseline(single: CalibrationData, parts: set[str]) -> CalibrationData:
    """The single-prompt calibration data restricted to the composed prompts' parts and the honest miners at the
    composed miners' temperatures (``SINGLE_MINERS``), with their cached model traces."""
    prompts = tuple(p for p in single.prompts if p["id"] in parts)
    rows = tuple(r for r in single.rows if r["prompt_id"] in parts and r["class"] == "honest" and r["miner"] in SINGLE_MINERS)
    return CalibrationData(prompts, rows, single.traces)


def observe(
    data: CalibrationData, max_distance_ppb: int, floor_ppb: int, earlier: bool = False
) -> tuple[list[TaskOutput], list[PartGain], list[PartGain]]:
    """Every task's outputs (``task_outputs``) with the real embedding model and the cached traces, each output's part
    gain (composed prompts only) and, with ``earlier`` (the borrow check against ``earlier_prompts``, at most
    BORROW_CANDIDATES of them: every one is read), its borrow gain."""
    from ..ai.composed import EarlierComposition

    scored = embed_and_score(data, earlier=(lambda e: [EarlierComposition(q) for q in earlier_prompts(data, e)]) if earlier else None)
    by_prompt = rows_by_prompt(data)
    out: list[TaskOutput] = []
    gains: list[PartGain] = []
    borrow: list[PartGain] = []
    for p in data.prompts:
        sp = scored[p["id"]]
        out += task_outputs(p, by_prompt[p["id"]], sp, max_distance_ppb, floor_ppb)
        for r, c in zip(by_prompt[p["id"]], sp.checks or ()):
            label = f"{r['class']} {STITCH_VARIANTS[int(r['miner'])]}" if r["class"] == STITCHED else r["class"]
            if c.part_gain_milli is not None:
                gains.append(PartGain(str(p.get("cap", "full")), label, c.part_gain_milli))
            if c.borrow_gain_milli is not None:
                borrow.append(PartGain(str(p.get("cap", "full")), label, c.borrow_gain_milli))
    return out, gains, borrow


@dataclass(frozen=True)
class PartGain:
    """One composed output's part gain (``ai.composed``): its budget, its class (stitched: with the variant)."""

    budget: str
    label: str
    gain_milli: int


BORROWED = "borrowed first answer"


def earlier_prompts(data: CalibrationData, entry: dict[str, Any]) -> list[str]:
    """The network's "earlier" composed prompts for an entry of the set: every other composed prompt of the set with the
    same first part (both orders of each pair: the borrow check of an honest output is judged against all of them; the
    set has at most 1 for any entry, under BORROW_CANDIDATES: the borrow check reads every one)."""
    return [e["prompt"] for e in data.prompts if "of" not in e and e["parts"][0] == entry["parts"][0] and e["prompt"] != entry["prompt"]]


def borrowed_first_answers(data: CalibrationData) -> list[tuple[dict[str, Any], str]]:
    """The stitcher that cuts its first answer out of an earlier *composed* answer: for each full-budget composed prompt,
    the honest first answers (``ai.composed.first_answer``) of every other composed prompt with the same first part,
    as (this prompt, that text). No model runs on this prompt; the part check reads them as it reads any first answer."""
    from ..ai.composed import first_answer

    full = [e for e in data.prompts if "of" not in e]
    out = []
    for e in full:
        for other in full:
            if other["id"] == e["id"] or other["parts"][0] != e["parts"][0]:
                continue
            for r in data.rows:
                if r["prompt_id"] == other["id"] and r["class"] == "honest" and (text := first_answer(r["text"], len(e["parts"]))):
                    out.append((e, text))
    return out


BORROWER = "borrowed"  # the output class of the borrowing copier (``borrowed_outputs``)
BORROW_SOURCE_MINER = STITCH_SOURCE_MINERS[0]  # the single answer it glues for part 2 (the naive stitcher's)


def borrowed_outputs(data: CalibrationData, singles: dict[tuple[str, int], str]) -> list[dict[str, Any]]:
    """The borrowing copier's outputs at the full budget: for each composed prompt, each honest first answer of another
    composed prompt with the same first part (``borrowed_first_answers``: sampled after a composed prompt with that
    first part, so the part check passes it), glued with a published single answer to part 2 (``singles``: the
    calibration set's answers, (prompt id, miner) → text; miner ``BORROW_SOURCE_MINER``), numbered like the prompt.
    No model runs on this prompt. Miner j: the j-th borrowed first answer of that prompt. (``scripts/poi_composed.py
    borrow`` cuts each at the entry's budget, as a careful copier does: a longer output is flagged ``over_budget``.)"""
    out: list[dict[str, Any]] = []
    count: dict[str, int] = {}
    for e, text in borrowed_first_answers(data):
        j = count.get(e["id"], 0)
        count[e["id"]] = j + 1
        second = singles[(e["parts"][1], BORROW_SOURCE_MINER)]
        out.append({"prompt_id": e["id"], "class": BORROWER, "miner": j, "text": stitch([text, second])})
    return out


PAIR_TOKENS = 64  # a pair's answers are generated to this many tokens: the first answer's window (32 tokens) and its end
PAIR_TEMPERATURES = (*COMPOSED_TEMPERATURES, 0.0)  # the honest miners and a greedy one (miner 4)


def borrow_pairs(n: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``n`` pairs of composed prompts that share their first part (the core's ``compose``): base prompt A of the
    calibration set (every 300/n-th, both splits) with two other parts X ≠ Y drawn by sha256 from the set."""
    from pathlib import Path

    from ..core.network_prompts import compose

    base = parse_prompt_set(
        [
            {k: json.loads(line)[k] for k in ("id", "prompt", "max_output_tokens")}
            for line in (Path(__file__).resolve().parents[3] / "data" / "poi-calibration" / "prompts.jsonl").read_text().splitlines()
            if line.strip()
        ]
    )
    out = []
    for i in range(n):
        a = base[(i * len(base)) // n]
        h = hashlib.sha256(f"poi-borrow|{i}".encode()).digest()
        others = [p for p in base if p.id != a.id]
        x = others[int.from_bytes(h[:8], "big") % len(others)]
        rest = [p for p in others if p.id != x.id]
        y = rest[int.from_bytes(h[8:16], "big") % len(rest)]
        out.append(tuple({"id": f"b{i:03d}{s}", "parts": [a.id, o.id], "prompt": compose((a, o))} for s, o in (("a", x), ("b", y))))
    return out  # type: ignore[return-value]


def pair_sampling(prompt_id: str, miner: int) -> Sampling:
    """A pair prompt's miner: honest at PAIR_TEMPERATURES[miner] with its own seed (miner 4: greedy)."""
    return Sampling(temperature=PAIR_TEMPERATURES[miner], seed=derive_seed("poi-borrow", prompt_id, miner))


def borrowed_gains(data: CalibrationData) -> list[PartGain]:
    """The part gains of ``borrowed_first_answers``, from the cached reads (scripts/poi_composed.py read)."""
    from ..ai.composed import part_gain, parts_of
    from .poi_calibration import CachedReader

    reader = CachedReader(data)
    out = []
    for e, text in borrowed_first_answers(data):
        g = part_gain(reader, e["prompt"], parts_of(e["prompt"]), "1. " + text)
        if g is not None:
            out.append(PartGain("full", BORROWED, g))
    return out


def load_borrowed(directory: Any, composed: CalibrationData) -> CalibrationData:
    """The borrowing copier's outputs (borrowed.jsonl of ``scripts/poi_composed.py borrow``) beside the honest outputs of
    the same entries, with every read they need (borrow-reads.jsonl, parts.jsonl, the composed traces); only the entries
    whose every borrowed output was read."""
    from pathlib import Path

    d = Path(directory)
    spans = dict(composed.span_traces)
    spans |= {(t["prompt_sha256"], t["text_sha256"]): t for t in read_lines(d / "borrow-reads.jsonl")}
    borrowed = read_lines(d / "borrowed.jsonl")
    prompt_of = {e["id"]: e["prompt"] for e in composed.prompts}
    read = {r["prompt_id"] for r in borrowed if r["prompt_id"] in prompt_of}
    read -= {r["prompt_id"] for r in borrowed if (text_sha256(prompt_of.get(r["prompt_id"], "")), text_sha256(r["text"])) not in spans}
    prompts = tuple(e for e in composed.prompts if e["id"] in read)
    rows = tuple(r for r in composed.rows if r["prompt_id"] in read and r["class"] == "honest") + tuple(r for r in borrowed if r["prompt_id"] in read)
    return CalibrationData(prompts, rows, composed.traces, composed.free_traces, spans)


def borrowed_rates(data: CalibrationData, max_distance_ppb: int, floor_ppb: int, earlier: bool = True) -> dict[str, Any]:
    """The borrowing copier in consensus (a borrowed output beside 2 honest ones, the validator as shipped; ``earlier``
    False: without the borrow check), per budget, with the flags of those put out, and the honest outputs in consensus
    in the same tasks."""
    outs, _, _ = observe(data, max_distance_ppb, floor_ppb, earlier=earlier)
    block: dict[str, Any] = {}
    for budget in ["full", *(str(c) for c in BUDGET_CAPS)]:
        xs = [o for o in outs if o.budget == budget and o.output_class == BORROWER]
        block[budget] = {
            "outputs": len({(o.prompt_id, o.miner) for o in xs}),
            "tasks": len(xs),
            "in_consensus": sum(o.in_consensus for o in xs),
            "pass_rate": _r(sum(o.in_consensus for o in xs), len(xs)),
            "out_flags": _flag_counts([o for o in xs if not o.in_consensus]),
            "honest_in_rate": _r(
                sum(o.in_consensus for o in outs if o.budget == budget and o.output_class == "honest"),
                sum(1 for o in outs if o.budget == budget and o.output_class == "honest"),
            ),
        }
    return block


def pair_gains(directory: Any, n: int = 24) -> list[PartGain]:
    """The borrow gains of the pairs (``borrow_pairs``; borrow-pairs.jsonl, borrow-reads.jsonl of
    ``scripts/poi_composed.py borrow``): each first answer judged in its own prompt against its twin (honest at T
    0.3-1.0: "pair honest"; greedy: "pair greedy"), and the same text borrowed into its twin against its own prompt
    ("pair borrowed", "pair borrowed greedy"). Only the answers whose reads are all there."""
    from pathlib import Path

    from ..ai.composed import EarlierComposition, borrow_gain, parts_of
    from ..ai.likelihood import TokenTrace

    d = Path(directory)
    spans = {(t["prompt_sha256"], t["text_sha256"]): t for f in ("parts.jsonl", "borrow-reads.jsonl") for t in read_lines(d / f)}

    class Reader:
        def trace(self, prompt: str, output: str) -> TokenTrace:
            return TokenTrace.from_dict(spans[(text_sha256(prompt), text_sha256(output))])

    prompt_of = {e["id"]: e["prompt"] for pair in borrow_pairs(n) for e in pair}
    out = []
    for r in read_lines(d / "borrow-pairs.jsonl"):
        own, twin = prompt_of.get(r["prompt_id"]), prompt_of.get(r["twin"])
        if own is None or twin is None:
            continue
        greedy = " greedy" if r["sampling"]["temperature"] == 0 else ""
        try:
            g = borrow_gain(Reader(), own, parts_of(own), r["text"], [EarlierComposition(twin)])
            b = borrow_gain(Reader(), twin, parts_of(twin), r["text"], [EarlierComposition(own)])
        except KeyError:
            continue
        if g is not None and b is not None:
            out += [PartGain("pairs", f"pair honest{greedy}" if greedy else "pair honest", g), PartGain("pairs", f"pair borrowed{greedy}", b)]
    return out


def part_gain_table(gains: Sequence[PartGain], threshold: int = PART_GAIN_MIN_MILLI) -> dict[str, Any]:
    """Per budget and output class: outputs, quantiles of the gain, and how many fall under ``threshold``."""
    table: dict[str, dict[str, list[int]]] = {}
    for g in gains:
        table.setdefault(g.budget, {}).setdefault(g.label, []).append(g.gain_milli)
    return {
        b: {
            label: {
                "outputs": len(xs),
                "gain_milli": _quantiles5(xs),
                "flagged": sum(x < threshold for x in xs),
                "flagged_rate": _r(sum(x < threshold for x in xs), len(xs)),
            }
            for label, xs in sorted(d.items())
        }
        for b, d in table.items()
    }


def _quantiles5(xs: Sequence[int]) -> dict[str, int]:
    s = sorted(xs)
    return {q: s[min(len(s) - 1, int(f * len(s)))] for q, f in (("min", 0), ("p05", 0.05), ("p50", 0.5), ("p95", 0.95))} | {"max": s[-1]} if s else {}


def measure_composed(composed: CalibrationData, single: CalibrationData, directory: Any = None) -> dict[str, Any]:
    """Honest in consensus and the stitching copier out, per budget and split, against single prompts; with the set's
    ``directory``, the borrowing copier (``borrowing``) too."""
    from ..core.params import Params

    p = Params()
    dmax, floor = p.poi_max_distance_ppb, p.consensus_min_quality_ppb
    outs, gains, _ = observe(composed, dmax, floor, earlier=True)
    parts = {x for e in composed.prompts for x in e["parts"]}
    base, _, _ = observe(single_baseline(single, parts), dmax, floor)
    budgets = ["full", *(str(c) for c in BUDGET_CAPS)]
    summary: dict[str, Any] = {
        "rule": {
            "poi_max_distance_ppb": dmax,
            "consensus_min_quality_ppb": floor,
            "redundancy": REDUNDANCY,
            **task_check_params(),
            "part_gain_window": PART_GAIN_WINDOW,
            "part_gain_min_milli": PART_GAIN_MIN_MILLI,
            "prompt_free_reads": sum(1 for r in composed.rows if (output_key(r), text_sha256(r["text"])) in composed.free_traces),
        },
        "data": {
            "composed_prompts": {s: sum(1 for e in composed.prompts if e["split"] == s and "of" not in e) for s in SPLITS},
            "parts": PARTS,
            "temperatures": list(COMPOSED_TEMPERATURES),
            "budget_caps": list(BUDGET_CAPS),
            "stitch_source_miners": list(STITCH_SOURCE_MINERS),
            "stitch_variants": list(STITCH_VARIANTS),
            "ended_order": list(ENDED_ORDER),
            "full_budget_tokens": _quantiles([e["max_output_tokens"] for e in composed.prompts if "of" not in e]),
            "honest_cut_by_budget": {
                str(c): _r(
                    sum(1 for r in composed.rows if r["class"] == "honest" and r["prompt_id"].endswith(f"@{c}") and r.get("cut_from")),
                    sum(1 for r in composed.rows if r["class"] == "honest" and r["prompt_id"].endswith(f"@{c}")),
                )
                for c in BUDGET_CAPS
            },
        },
        "part_gain": part_gain_table([*gains, *borrowed_gains(composed)]),
        "single": rates(base, dmax, floor),
        "composed": {b: rates([o for o in outs if o.budget == b], dmax, floor) for b in budgets},
    }

    def passed(budget: str, variant: str) -> tuple[int, int]:
        xs = [o for o in outs if o.budget == budget and o.output_class == STITCHED and STITCH_VARIANTS[o.miner] == variant]
        return sum(o.in_consensus for o in xs), len(xs)

    by = {v: {b: passed(b, v) for b in budgets} for v in dict.fromkeys(STITCH_VARIANTS)}
    rate = {v: {b: _r(*x) for b, x in d.items()} for v, d in by.items()}
    best = max(rate, key=lambda v: rate[v]["full"] or 0.0)
    summary["stitching_copier"] = {
        "pass_rate": rate[best]["full"],
        "variant": best,
        "stitched_tasks": by[best]["full"][1],
        "pass_rate_by_variant": rate,
        "what": "the share of stitched outputs in consensus in tasks of 3 (a stitched output beside 2 honest ones), "
        "the validator as shipped, calibration and held-out parts together, at the full budget, for the stitching "
        "that passes most (naive: two single answers as they are; ended: per part an answer that stopped on its own); "
        "the simulator's STITCH_PASS_RATE",
    }
    if directory is not None:
        summary["borrowing_copier"] = measure_borrowing(directory, composed, dmax, floor)
    return summary


def measure_borrowing(directory: Any, composed: CalibrationData, dmax: int, floor: int) -> dict[str, Any]:
    """The borrowing copier in consensus without and with the borrow check, and the borrow gains it was chosen on."""
    data = load_borrowed(directory, composed)
    before = borrowed_rates(data, dmax, floor, earlier=False)
    after = borrowed_rates(data, dmax, floor, earlier=True)
    _, _, gains = observe(composed, dmax, floor, earlier=True)
    _, _, lent = observe(data, dmax, floor, earlier=True)
    table = part_gain_table([*gains, *(g for g in lent if g.label == BORROWER), *pair_gains(directory)], BORROW_GAIN_MIN_MILLI)
    return {
        "pass_rate": after["full"]["pass_rate"],
        "pass_rate_without_borrow_check": before["full"]["pass_rate"],
        "borrow_gain_min_milli": BORROW_GAIN_MIN_MILLI,
        "prompts": len({e.get("of", e["id"]) for e in data.prompts}),
        "before": before,
        "after": after,
        "borrow_gain": table,
        "what": "the share of borrowed outputs (an earlier composed answer's first answer with the same first part, glued "
        "with a published single answer for part 2) in consensus in tasks of 3 beside 2 honest ones, the validator as "
        "shipped, at the full budget; the simulator's BORROW_PASS_RATE",
    }


def _quantiles(xs: Sequence[int]) -> dict[str, int]:
    s = sorted(xs)
    return {"min": s[0], "p50": s[len(s) // 2], "max": s[-1]} if s else {}


def _budget_order(budget: str) -> tuple[bool, bool, int]:
    """The order of a section's budgets: the full budget, then the caps in ascending order, then the pairs."""
    return (budget != "full", budget == "pairs", int(budget) if budget.isdigit() else 0)


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Flag counts, the most frequent first, a tie by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def render_doc(s: dict[str, Any]) -> str:
    """The generated section of docs/poi-calibration.md, "Composed network prompts".

    Every list is put in its order here (budgets by ``_budget_order``, flags by ``_by_count``, the simulator's stitcher
    variant first), so the section is the same rendered from the measure's summary or from results.json (sorted keys).
    """
    lines = [
        f"Composed prompts: {s['data']['composed_prompts']['calibration']} from calibration parts, "
        f"{s['data']['composed_prompts']['held_out']} from held-out parts ({s['data']['parts']} parts each, composed by the core's "
        f"`compose_prompt`); honest miners at T {', '.join(str(t) for t in s['data']['temperatures'])}; 3 miners a task; "
        f"poi_max_distance {s['rule']['poi_max_distance_ppb'] / 1e9:.2f}, quality floor {s['rule']['consensus_min_quality_ppb'] / 1e9:.2f}, "
        "the validator with the model checks and the task checks. Full budget (the parts' sum) "
        f"{s['data']['full_budget_tokens'].get('min')}–{s['data']['full_budget_tokens'].get('max')} tokens "
        f"(median {s['data']['full_budget_tokens'].get('p50')}); honest outputs longer than the cap: "
        + ", ".join(f"{c} tokens {s['data']['honest_cut_by_budget'][c]:.0%}" for c in sorted(s["data"]["honest_cut_by_budget"], key=_budget_order))
        + ".",
        "",
        "| prompts | budget | split | honest in (all tasks) | honest in (honest tasks) | stitched out | stitched out (PoI alone) "
        "| honest out: floor / distance / both | flags of honest outs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    blocks = [("single (the parts)", "own", s["single"])] + [("composed", b, s["composed"][b]) for b in sorted(s["composed"], key=_budget_order)]
    for name, budget, block in blocks:
        for split in SPLITS:
            r = block[split]
            if not r["honest"]:
                continue
            ho = r["honest_out"]
            flags = ", ".join(f"{f} {n}" for f, n in _by_count(ho["flags"])[:4]) or "–"
            stitched = "–" if not r["stitched"] else f"{r['stitched_out_rate']:.1%} ({r['stitched_out']}/{r['stitched']})"
            stitched_poi = "–" if not r["stitched"] else f"{r['stitched_out_poi']:.1%}"
            lines.append(
                f"| {name} | {budget} | {split} | {r['honest_in_rate']:.1%} ({r['honest_in']}/{r['honest']}) | "
                f"{r['honest_in_rate_honest_tasks']:.1%} | {stitched} | {stitched_poi} | "
                f"{ho['below_floor_only']} / {ho['beyond_distance_only']} / {ho['both']} | {flags} |"
            )
    pg = s.get("part_gain", {})
    if pg:
        lines += [
            "",
            f"The part check (`ai.composed`): the first part's answer read after the composed prompt and after that part alone, "
            f"the gain summed over its first {s['rule']['part_gain_window']} tokens (nats); flag `stitched` below "
            f"{s['rule']['part_gain_min_milli'] / 1000:g}:",
            "",
            "| budget | outputs | n | gain min | p05 | median | p95 | max | flagged |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for budget in sorted(pg, key=_budget_order):
            for label, r in sorted(pg[budget].items()):
                q = r["gain_milli"]
                lines.append(
                    f"| {budget} | {label} | {r['outputs']} | "
                    + " | ".join(f"{q[k] / 1000:.1f}" for k in ("min", "p05", "p50", "p95", "max"))
                    + f" | {r['flagged_rate']:.1%} ({r['flagged']}) |"
                )
    sc = s["stitching_copier"]
    caught: dict[str, int] = {}
    for split in SPLITS:
        for f, n in s["composed"]["full"][split]["stitched_out_flags"].items():
            caught[f] = caught.get(f, 0) + n
    lines += [
        "",
        "Stitched outputs in consensus, by how the copier picks its single answers: "
        + "; ".join(
            f"{v}: " + ", ".join(f"{'full budget' if b == 'full' else 'cap ' + b} {r[b]:.1%}" for b in sorted(r, key=_budget_order))
            for v, r in sorted(sc["pass_rate_by_variant"].items(), key=lambda vr: (vr[0] != sc["variant"], vr[0]))
        )
        + f". The simulator's `STITCH_PASS_RATE` is the {sc['variant']} stitcher's at the full budget: **{sc['pass_rate']:.1%}** "
        f"({sc['stitched_tasks']} tasks). Flags of the stitched outputs put out (full budget): "
        + (", ".join(f"{f} {n}" for f, n in _by_count(caught)) or "none")
        + ".",
    ]
    if "borrowing_copier" in s:
        lines += render_borrowing(s["borrowing_copier"])
    return "\n".join(lines) + "\n"


def render_borrowing(b: dict[str, Any]) -> list[str]:
    """The borrowing copier's lines of the generated section: in consensus without and with the borrow check, and the
    borrow gains (composed set: against the set's other compositions of the same first part; pairs: against the twin)."""
    lines = [
        "",
        f"The borrowing copier ({b['prompts']} composed prompts whose first part another prompt of the set shares): the first "
        "answer of that other prompt's honest output, glued with a published single answer for part 2, beside 2 honest "
        "outputs. The borrow check (`ai.composed.borrow_gain`) reads the first answer after this prompt and after each "
        "earlier composition with the same first part (on a network at most `BORROW_CANDIDATES` of them, those whose "
        "published first answers are likest it; here one for each prompt: every one is read); flag `borrowed` below "
        f"{b['borrow_gain_min_milli'] / 1000:g} nats.",
        "",
        "| budget | borrowed outputs | tasks | in consensus, without the borrow check | with it | honest in (same tasks) "
        "| flags of the borrowed outputs put out |",
        "|---|---|---|---|---|---|---|",
    ]
    for budget in sorted(b["after"], key=_budget_order):
        after, before = b["after"][budget], b["before"][budget]
        if not after["tasks"]:
            continue
        flags = ", ".join(f"{f} {n}" for f, n in _by_count(after["out_flags"])[:5]) or "–"
        lines.append(
            f"| {budget} | {after['outputs']} | {after['tasks']} | {before['pass_rate']:.1%} | **{after['pass_rate']:.1%}** | "
            f"{after['honest_in_rate']:.1%} | {flags} |"
        )
    lines += [
        "",
        "Borrow gains (nats; *pairs*: composed prompts sharing their first part, answered to 64 tokens by honest miners at "
        "T 0.3–1.0 and a greedy one, each first answer judged in its own prompt against its twin, and borrowed into the twin):",
        "",
        "| set | outputs | n | gain min | p05 | median | p95 | max | flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for budget in sorted(b["borrow_gain"], key=_budget_order):
        for label, r in sorted(b["borrow_gain"][budget].items()):
            q = r["gain_milli"]
            lines.append(
                f"| {budget} | {label} | {r['outputs']} | "
                + " | ".join(f"{q[k] / 1000:.1f}" for k in ("min", "p05", "p50", "p95", "max"))
                + f" | {r['flagged_rate']:.1%} ({r['flagged']}) |"
            )
    lines += [
        "",
        f"The simulator's `BORROW_PASS_RATE` is the full budget's rate with the check: **{b['pass_rate']:.1%}** "
        f"({b['pass_rate_without_borrow_check']:.1%} without it).",
    ]
    return lines
