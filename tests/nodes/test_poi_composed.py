"""PoI on composed network prompts: the set is the core's composition, the cached data is what the script says,
the rates recompute from the cache with the real embedding model, and the simulator's stitcher uses the measured rate."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from cor_incentives.ai.composed import BORROW_GAIN_MIN_MILLI, PART_GAIN_MIN_MILLI
from cor_incentives.ai.quality import MODEL_CHECK_CAP_PPB
from cor_incentives.core.network_prompts import compose, compose_prompt, parse_prompt_set
from cor_incentives.core.params import Params
from cor_incentives.nodes.poi_calibration import SPLITS, load_calibration, output_key
from cor_incentives.nodes.poi_composed import (
    BUDGET_CAPS,
    COMPOSED_MINERS,
    COMPOSED_PER_SPLIT,
    STITCH_SOURCE_MINERS,
    STITCH_VARIANTS,
    STITCHED,
    composed_prompts,
    composed_sampling,
    load_composed,
    measure_composed,
    render_doc,
    stitch,
    stitch_sources,
)
from cor_incentives.sim.strategies import BORROW_PASS_RATE, STITCH_CAUGHT_QUALITY, STITCH_PASS_RATE

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "poi-composed"
SINGLE = ROOT / "data" / "poi-calibration"
RATE_TOLERANCE = 0.005  # absolute, on every rate: float sums may differ in the last bits across CPUs


def base_prompts():
    return [json.loads(line) for line in (SINGLE / "prompts.jsonl").read_text().splitlines() if line.strip()]


def test_composed_prompts_are_the_cores_composition_of_one_split():
    base = base_prompts()
    split_of = {p["id"]: p["split"] for p in base}
    by_id = {p["id"]: p for p in base}
    prompts = composed_prompts(base)
    assert len(prompts) == 2 * COMPOSED_PER_SPLIT and [p["split"] for p in prompts[:2]] == list(SPLITS)
    for p in prompts:
        assert len(p["parts"]) == 2 and {split_of[x] for x in p["parts"]} == {p["split"]}
        parts = parse_prompt_set([{k: by_id[x][k] for k in ("id", "prompt", "max_output_tokens")} for x in p["parts"]])
        assert p["prompt"] == compose(parts) and p["max_output_tokens"] == sum(x.max_output_tokens for x in parts)
    # the first calibration prompt, recomputed by hand from the rule: seed value and nonce of index 0
    subset = parse_prompt_set([{k: q[k] for k in ("id", "prompt", "max_output_tokens")} for q in base if q["split"] == "calibration"])
    c = compose_prompt(subset, 2, "0x" + hashlib.sha256(b"poi-composed|calibration|0").hexdigest(), 0)
    assert (prompts[0]["prompt"], prompts[0]["parts"]) == (c.text, list(c.parts))
    assert len({p["prompt"] for p in prompts}) == len(prompts)


def test_stitch_numbers_the_parts_like_the_prompt_and_the_careful_stitcher_takes_answers_that_ended():
    assert stitch([" a\n", "b"]) == "1. a\n\n2. b"
    finished = {("A", 1): "length", ("A", 3): "length", ("A", 5): "stop", ("B", 1): "stop", ("C", 1): "length"}
    assert stitch_sources(["A", "B"], finished) == [[("A", 1), ("B", 1)], [("A", 3), ("B", 3)], [("A", 5), ("B", 1)]]
    assert stitch_sources(["C", "B"], finished)[2] == [("C", 1), ("B", 1)]  # none ended: miner 1's


def test_the_cached_set_is_what_the_generator_writes():
    data = load_composed(DATA)
    honest_single = [r for r in load_calibration(SINGLE).rows if r["class"] == "honest"]
    single = {(r["prompt_id"], r["miner"]): r["text"] for r in honest_single}
    finished = {(r["prompt_id"], r["miner"]): r["finish"] for r in honest_single}
    full = [e for e in data.prompts if "of" not in e]
    assert sum(e["split"] == "calibration" for e in full) >= 15 and sum(e["split"] == "held_out" for e in full) >= 15
    assert len(full) >= 35  # 39 composed prompts were generated in the time the machine gave (the aim was 60)
    entries = {e["id"]: e for e in data.prompts}
    rows = {output_key(r): r for r in data.rows}
    for e in full:
        for m in range(COMPOSED_MINERS):
            r = rows[(e["id"], "honest", m)]
            assert r["sampling"] == composed_sampling(e["id"], m).to_dict() and r["max_tokens"] == e["max_output_tokens"]
        for j, sources in enumerate(stitch_sources(e["parts"], finished)):
            r = rows[(e["id"], STITCHED, j)]
            assert [tuple(x) for x in r["sources"]] == sources and r["text"] == stitch([single[x] for x in sources])
            assert j >= len(STITCH_SOURCE_MINERS) or sources == [(x, STITCH_SOURCE_MINERS[j]) for x in e["parts"]]
        for cap in BUDGET_CAPS:
            if cap < e["max_output_tokens"]:
                assert entries[f"{e['id']}@{cap}"]["max_output_tokens"] == cap
                keys = [(e["id"], "honest", m) for m in range(COMPOSED_MINERS)] + [(e["id"], STITCHED, j) for j in range(len(STITCH_VARIANTS))]
                for key in keys:
                    cut = rows[(f"{e['id']}@{cap}", key[1], key[2])]["text"]
                    assert rows[key]["text"].startswith(cut[: max(0, len(cut) - 4)])  # a prefix (up to a re-joined last character)


def test_results_are_strict_json_with_the_part_check():
    def refuse(name):
        raise ValueError(f"results.json holds {name}: not JSON")

    results = json.loads((DATA / "results.json").read_text(), parse_constant=refuse)
    assert results["rule"]["part_gain_min_milli"] == PART_GAIN_MIN_MILLI
    full = results["part_gain"]["full"]
    assert full["honest"]["flagged"] == 0 and full["honest"]["gain_milli"]["min"] >= PART_GAIN_MIN_MILLI
    assert all(full[v]["flagged"] > full[v]["outputs"] // 2 for v in ("stitched naive", "stitched ended"))
    assert full["borrowed first answer"]["outputs"] >= 20  # the gap: first answers cut out of other composed answers


def _reordered(x):
    """The same JSON value with every object's keys in reverse order (what another writer or a reload may give)."""
    if isinstance(x, dict):
        return {k: _reordered(x[k]) for k in reversed(list(x))}
    if isinstance(x, list):
        return [_reordered(v) for v in x]
    return x


def test_the_doc_section_renders_from_results_json_whatever_the_key_order():
    """docs/poi-calibration.md's composed section is render_doc of results.json as stored (sorted keys) and of the same
    summary with its keys in any other order (the measure renders its in-memory summary, then stores it sorted)."""
    summary = json.loads((DATA / "results.json").read_text())
    doc = (ROOT / "docs" / "poi-calibration.md").read_text()
    begin, end = "<!-- generated: scripts/poi_composed.py measure -->", "<!-- end generated: composed -->"
    section = doc[doc.index(begin) + len(begin) : doc.index(end)]
    assert render_doc(summary).strip() == section.strip()
    assert render_doc(_reordered(summary)) == render_doc(summary)


def test_the_simulators_stitcher_uses_the_measured_pass_rate():
    results = json.loads((DATA / "results.json").read_text())
    assert math.isclose(STITCH_PASS_RATE, results["stitching_copier"]["pass_rate"], abs_tol=1e-4)
    assert STITCH_CAUGHT_QUALITY * 10**9 == MODEL_CHECK_CAP_PPB < Params().consensus_min_quality_ppb


def test_the_simulators_borrower_uses_the_measured_pass_rate_and_the_borrow_check_spares_honest_outputs():
    b = json.loads((DATA / "results.json").read_text())["borrowing_copier"]
    assert math.isclose(BORROW_PASS_RATE, b["pass_rate"], abs_tol=1e-4)
    assert b["borrow_gain_min_milli"] == BORROW_GAIN_MIN_MILLI
    assert b["pass_rate"] < b["pass_rate_without_borrow_check"]  # the borrow check puts borrowed answers out
    assert b["after"]["full"]["honest_in_rate"] == b["before"]["full"]["honest_in_rate"]  # and no honest one
    gains = b["borrow_gain"]
    for budget, label in (("full", "honest"), ("pairs", "pair honest"), ("pairs", "pair honest greedy")):
        assert gains[budget][label]["flagged"] == 0 and gains[budget][label]["outputs"] > 0, (budget, label)
    assert gains["full"]["borrowed"]["flagged"] > gains["full"]["borrowed"]["outputs"] // 2
    assert gains["pairs"]["pair borrowed"]["flagged"] > 0


def _close(a, b, path=""):
    """Rates within RATE_TOLERANCE, counts of outputs out within 2 (a distance at the threshold may flip), the rest equal."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= RATE_TOLERANCE, (path, a, b)
    elif isinstance(a, int) and not isinstance(a, bool) and (".honest_out." in path or path.endswith(("_in", "_out"))):
        assert abs(a - b) <= 2, (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.slow
def test_rates_recompute_from_the_cache_with_the_real_embedding_model():
    got = json.loads(json.dumps(measure_composed(load_composed(DATA), load_calibration(SINGLE), DATA)))
    _close(got, json.loads((DATA / "results.json").read_text()))
