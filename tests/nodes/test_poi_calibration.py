"""PoI calibration: the set, the task construction, the rates (re-embedded with the real model),
and the generator (the real SmolLM2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cor_incentives.ai.poi import ranked_distances_ppb
from cor_incentives.app.prompts import load_prompt_set
from cor_incentives.core.params import Params
from cor_incentives.nodes.poi_calibration import (
    CHEAT_CLASSES,
    HONEST_MINERS,
    HONEST_TARGET,
    HONEST_TEMPERATURES,
    Observation,
    PoiRule,
    auc,
    cheat_rows,
    generic_output,
    honest_first_threshold,
    lazy_output,
    load_calibration,
    measure,
    off_topic_source,
    rates,
    split_prompts,
    task_observations,
    truncated_budget,
)
from support.llama_build import xfail_off_recording_build

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "poi-calibration"
RATE_TOLERANCE = 0.005  # absolute, on every rate: float sums may differ in the last bits across CPUs


# -- the set -------------------------------------------------------------------------------------


def test_split_holds_out_every_third_prompt_of_each_kind():
    prompts = load_prompt_set(None)
    split = split_prompts(prompts)
    by_kind: dict[str, list[str]] = {}
    for p in prompts:
        by_kind.setdefault(p["kind"], []).append(p["id"])
    for kind, ids in by_kind.items():
        held = [i for i in sorted(ids) if split[i] == "held_out"]
        assert held == sorted(ids)[2::3], kind
    assert Counter(split.values())["calibration"] >= 200


def test_cheaters_that_run_no_model_are_deterministic_and_on_the_prompt():
    prompts = [
        {"id": "a", "kind": "code", "prompt": "Write a function that adds two numbers."},
        {"id": "b", "kind": "code", "prompt": "Write a function that doubles a number."},
        {"id": "c", "kind": "list", "prompt": "List three colours."},
    ]
    assert lazy_output("a") == lazy_output("a")
    assert "Write a function that adds two numbers" in generic_output("a", prompts[0]["prompt"])
    assert off_topic_source(prompts, "a") == "b" and off_topic_source(prompts, "b") == "a"
    with pytest.raises(ValueError, match="one prompt"):
        off_topic_source(prompts, "c")
    honest = {("a", 0): "def add(a, b): return a + b", ("b", 0): "def double(n): return 2 * n"}
    rows = list(cheat_rows(prompts[:2], honest))
    assert [r["class"] for r in rows[:4]] == ["lazy", "generic", "garbage", "off_topic"]
    assert rows[3]["text"] == honest[("b", 0)] and rows[3]["source_prompt_id"] == "b"
    assert truncated_budget(128) == 16 and truncated_budget(8) == 2


# -- tasks, rules and rates on hand-made distances -------------------------------------------------


def _rows(n_honest: int, cheats: list[tuple[str, str | None]]) -> list[dict]:
    rows = [{"class": "honest", "miner": m} for m in range(n_honest)]
    return rows + [{"class": c, "miner": 0, "finish": f} for c, f in cheats]


def test_tasks_cover_every_honest_triple_and_every_cheater_with_every_honest_pair():
    rows = _rows(4, [("lazy", None), ("truncated", "stop")])  # a truncated output that ended on its own is no cheat
    n = len(rows)
    matrix = [[0 if i == j else 100_000_000 for j in range(n)] for i in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j and (i == 4 or j == 4):
                matrix[i][j] = 900_000_000
    quality = [800_000_000] * 4 + [50_000_000, 800_000_000]
    obs = task_observations({"id": "p", "kind": "code"}, "calibration", rows, matrix, quality, 3)
    # C(4,3) = 4 honest tasks × 3 outputs, plus C(4,2) = 6 lazy tasks × 3 outputs
    assert len(obs) == 4 * 3 + 6 * 3
    lazy = [o for o in obs if o.output_class == "lazy"]
    assert len(lazy) == 6 and all(o.distance_ppb == 900_000_000 and o.spread_ppb == 100_000_000 for o in lazy)
    assert not any(o.output_class == "truncated" for o in obs)
    r = rates(obs, PoiRule(150_000_000))
    assert (r.honest_in, r.honest, r.cheat_out, r.cheat) == (24, 24, 6, 6)
    # the quality floor alone also puts the lazy output out
    assert rates(obs, PoiRule(2_000_000_000, 300_000_000)).cheat_out == 6


def test_ranked_medoid_prefers_the_better_output_on_a_tie():
    matrix = [[0, 700], [700, 0]]
    assert ranked_distances_ppb(matrix, [10, 90], ["a", "b"]) == [700, 0]
    assert ranked_distances_ppb(matrix, [90, 10], ["a", "b"]) == [0, 700]
    with pytest.raises(ValueError):
        ranked_distances_ppb(matrix, [1], ["a", "b"])


def test_relative_rule_threshold_follows_the_task_spread():
    rule = PoiRule(200_000_000, 0, 20_000, cap_ppb=600_000_000)
    assert rule.threshold_ppb(50_000_000) == 200_000_000  # the floor
    assert rule.threshold_ppb(250_000_000) == 500_000_000  # 2 × spread
    assert rule.threshold_ppb(900_000_000) == 600_000_000  # the cap
    o = Observation("p", "code", "calibration", "honest", "honest", 3, 450_000_000, 900_000_000, 250_000_000)
    assert rule.admits(o) and not PoiRule(200_000_000).admits(o)
    assert not PoiRule(200_000_000, 950_000_000, 20_000).admits(o)  # below the quality floor


def test_roc_helpers():
    honest = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 1000])
    cheat = np.array([500, 600, 700, 10])
    assert auc(honest, cheat) == pytest.approx((9 + 9 + 9 + 1.5) / 40)
    grid = np.arange(0, 1001, 10)
    assert honest_first_threshold(honest, grid, 0.9) == 80
    assert honest_first_threshold(honest, grid, 1.0) == 1000


# -- the committed calibration set ------------------------------------------------------------------


def test_committed_set_has_six_sampling_miners_and_every_cheater_per_prompt():
    data = load_calibration(DATA)
    bundled = {p["id"] for p in load_prompt_set(None)}
    assert {p["id"] for p in data.prompts} == bundled
    assert sum(p["split"] == "calibration" for p in data.prompts) >= 200
    assert {p["kind"] for p in data.prompts if p["split"] == "held_out"} == {p["kind"] for p in data.prompts}
    per_prompt: dict[str, Counter] = {}
    seeds: dict[str, set] = {}
    for r in data.rows:
        per_prompt.setdefault(r["prompt_id"], Counter())[r["class"]] += 1
        if r["class"] == "honest":
            t = r["sampling"]["temperature"]
            assert 0.3 <= t <= 1.0 and t == HONEST_TEMPERATURES[r["miner"]]
            seeds.setdefault(r["prompt_id"], set()).add(r["sampling"]["seed"])
            # llama.cpp goes past the budget to complete a character split over byte tokens (a UTF-8
            # character is at most 4 bytes: up to 3 more; 4 of the 2 100 generations, all in emoji)
            assert r["text"] and 1 <= r["output_tokens"] <= r["max_tokens"] + 3
    for pid, counts in per_prompt.items():
        assert counts["honest"] == HONEST_MINERS and all(counts[c] == 1 for c in CHEAT_CLASSES), pid
        assert len(seeds[pid]) == HONEST_MINERS, pid


def test_default_threshold_is_the_calibrated_one():
    results = json.loads((DATA / "results.json").read_text())
    assert Params().poi_max_distance_ppb == results["chosen"]["max_distance_ppb"]
    assert results["rates"]["chosen"]["max_distance_ppb"] == results["chosen"]["max_distance_ppb"]


@pytest.mark.slow
def test_rates_reproduce_with_the_real_embedding_model():
    """Re-embed every committed output, rebuild every task, and find the recorded rates again."""
    recorded = json.loads((DATA / "results.json").read_text())
    fresh = measure(load_calibration(DATA)).summary
    assert abs(fresh["chosen"]["max_distance_ppb"] - recorded["chosen"]["max_distance_ppb"]) <= 2_000_000
    for rule in ("previous", "chosen"):
        for kind in ("poi", "consensus"):
            for split in ("calibration", "held_out"):
                got, want = fresh["rates"][rule][kind][split], recorded["rates"][rule][kind][split]
                assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
                for rate in ("honest_in_rate", "cheat_out_rate"):
                    assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, (rule, kind, split, rate)
                for c in CHEAT_CLASSES:
                    assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE
    # what the calibration promises for honest miners, on the prompts it was chosen on and on the others
    chosen = fresh["rates"]["chosen"]["poi"]
    assert chosen["calibration"]["honest_in_rate"] >= HONEST_TARGET
    assert chosen["held_out"]["honest_in_rate"] >= HONEST_TARGET - 0.01
    # garbage and nearly all lazy outputs are out of consensus under the whole rule (a lazy output
    # stays in when the task's two honest outputs disagree so much that it becomes the medoid)
    for split in ("calibration", "held_out"):
        by = fresh["rates"]["chosen"]["consensus"][split]["cheat_out_by_class"]
        assert by["lazy"] >= 0.95 and by["garbage"] >= 0.99
    # the validator as shipped (medoid above the floor; with the model checks on the prompts the model read)
    mv, want_mv = fresh["model_validator"], recorded["model_validator"]
    assert mv["prompts"] == want_mv["prompts"] and mv["rule"] == want_mv["rule"]
    for got_block, want_block in (
        (fresh["floor_medoid"], recorded["floor_medoid"]),
        (mv["floor_medoid_same_prompts"], want_mv["floor_medoid_same_prompts"]),
        (mv["rates"], want_mv["rates"]),
    ):
        for split in ("calibration", "held_out"):
            got, want = got_block["consensus"][split], want_block["consensus"][split]
            assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
            for rate in ("honest_in_rate", "cheat_out_rate"):
                assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, (split, rate)
            for c in CHEAT_CLASSES:
                assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE, (split, c)
    for name, v in mv["variants"].items():
        for split in ("calibration", "held_out"):
            assert v[split]["outputs"] == want_mv["variants"][name][split]["outputs"]
            assert abs(v[split]["in_consensus"] - want_mv["variants"][name][split]["in_consensus"]) <= RATE_TOLERANCE
    # the validator with the task checks (off prompt, model-verified floor), on the same tasks
    tv, want_tv = fresh["task_validator"], recorded["task_validator"]
    assert tv["rule"] == want_tv["rule"]
    blocks = [(tv["rates"], want_tv["rates"])] + [
        (tv["what_if_max_distance"][t]["rates"], want_tv["what_if_max_distance"][t]["rates"]) for t in want_tv["what_if_max_distance"]
    ]
    for got_block, want_block in blocks:
        for split in ("calibration", "held_out"):
            got, want = got_block["consensus"][split], want_block["consensus"][split]
            assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
            for rate in ("honest_in_rate", "cheat_out_rate"):
                assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, ("task", split, rate)
            for c in CHEAT_CLASSES:
                assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE, ("task", split, c)
    for name, v in tv["variants"].items():
        for split in ("calibration", "held_out"):
            assert abs(v[split]["in_consensus"] - want_tv["variants"][name][split]["in_consensus"]) <= RATE_TOLERANCE
    # what they add to the model checks: off-topic replays mostly out, more honest outputs in, every cheat class as good
    for split in ("calibration", "held_out"):
        task, model = tv["rates"]["consensus"][split], mv["rates"]["consensus"][split]
        assert task["cheat_out_by_class"]["off_topic"] >= model["cheat_out_by_class"]["off_topic"] + 0.05
        assert task["cheat_out_rate"] >= 0.975 and task["honest_in_rate"] >= model["honest_in_rate"] + 0.004
        for c in ("lazy", "generic", "garbage"):
            assert task["cheat_out_by_class"][c] >= model["cheat_out_by_class"][c] - 0.005
    # the validator with the prompt gain and the short stop, on the prompts the model also read after no prompt
    gv, want_gv = fresh["gain_validator"], recorded["gain_validator"]
    assert gv["prompts"] == want_gv["prompts"] and gv["rule"] == want_gv["rule"]
    blocks = [(gv["rates"], want_gv["rates"]), (gv["task_same_prompts"], want_gv["task_same_prompts"])] + [
        (gv["what_if_max_distance"][t]["rates"], want_gv["what_if_max_distance"][t]["rates"]) for t in want_gv["what_if_max_distance"]
    ]
    for got_block, want_block in blocks:
        for split in ("calibration", "held_out"):
            got, want = got_block["consensus"][split], want_block["consensus"][split]
            assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
            for rate in ("honest_in_rate", "cheat_out_rate"):
                assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, ("gain", split, rate)
            for c in CHEAT_CLASSES:
                assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE, ("gain", split, c)
    for name, v in gv["variants"].items():
        for split in ("calibration", "held_out"):
            assert v[split]["outputs"] == want_gv["variants"][name][split]["outputs"]
            assert abs(v[split]["in_consensus"] - want_gv["variants"][name][split]["in_consensus"]) <= RATE_TOLERANCE
    # what they add to the task checks on the same tasks: replays and cut answers out, honest outputs kept
    for split in ("calibration", "held_out"):
        gain, task = gv["rates"]["consensus"][split], gv["task_same_prompts"]["consensus"][split]
        assert gain["cheat_out_rate"] > task["cheat_out_rate"] and gain["honest_in_rate"] >= task["honest_in_rate"] - 0.002
        for c in CHEAT_CLASSES:
            assert gain["cheat_out_by_class"][c] >= task["cheat_out_by_class"][c]
    # the validator reporting its distances less the task's spread allowance, on the same prompts
    sv, want_sv = fresh["spread_validator"], recorded["spread_validator"]
    assert sv["prompts"] == want_sv["prompts"] == gv["prompts"] and sv["rule"] == want_sv["rule"]
    five, want_five = fresh["other_redundancy"]["5"]["spread"], recorded["other_redundancy"]["5"]["spread"]
    for got_block, want_block in ((sv["rates"], want_sv["rates"]), (five, want_five)):
        for split in ("calibration", "held_out"):
            got, want = got_block["consensus"][split], want_block["consensus"][split]
            assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
            for rate in ("honest_in_rate", "cheat_out_rate"):
                assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, ("spread", split, rate)
            for c in CHEAT_CLASSES:
                assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE, ("spread", split, c)
    for name, v in sv["variants"].items():
        for split in ("calibration", "held_out"):
            assert v[split]["outputs"] == want_sv["variants"][name][split]["outputs"]
            assert abs(v[split]["in_consensus"] - want_sv["variants"][name][split]["in_consensus"]) <= RATE_TOLERANCE
    # what it adds to the prompt-gain validator: honest outputs in at 99 % where it was chosen (about on the
    # held-out prompts), cheaters as before
    for split, target in (("calibration", HONEST_TARGET), ("held_out", HONEST_TARGET - 0.005)):
        spread, gain = sv["rates"]["consensus"][split], gv["rates"]["consensus"][split]
        assert spread["honest_in_rate"] >= max(target, gain["honest_in_rate"] + 0.004)
        assert spread["cheat_out_rate"] >= gain["cheat_out_rate"] - 0.001
    # the validator with the over-budget check and the prompt's vouching, on the same prompts
    vv, want_vv = fresh["vouched_validator"], recorded["vouched_validator"]
    assert vv["prompts"] == want_vv["prompts"] == sv["prompts"] and vv["rule"] == want_vv["rule"]
    five, want_five = fresh["other_redundancy"]["5"]["vouched"], recorded["other_redundancy"]["5"]["vouched"]
    for got_block, want_block in ((vv["rates"], want_vv["rates"]), (five, want_five)):
        for split in ("calibration", "held_out"):
            got, want = got_block["consensus"][split], want_block["consensus"][split]
            assert got["honest"] == want["honest"] and got["cheat"] == want["cheat"]
            for rate in ("honest_in_rate", "cheat_out_rate"):
                assert abs(got[rate] - want[rate]) <= RATE_TOLERANCE, ("vouched", split, rate)
            for c in CHEAT_CLASSES:
                assert abs(got["cheat_out_by_class"][c] - want["cheat_out_by_class"][c]) <= RATE_TOLERANCE, ("vouched", split, c)
    for name, v in vv["variants"].items():
        for split in ("calibration", "held_out"):
            assert v[split]["outputs"] == want_vv["variants"][name][split]["outputs"]
            assert abs(v[split]["in_consensus"] - want_vv["variants"][name][split]["in_consensus"]) <= RATE_TOLERANCE
            assert v[split]["in_consensus"] >= sv["variants"][name][split]["in_consensus"] - 0.001  # no honest set-up loses
    # what it adds to the task-spread validator: honest outputs in and cheaters out at 99 % where it was
    # chosen (about so on the held-out prompts), replays over the budget and cut one-word answers out, no
    # cheat class worse
    for split, target in (("calibration", HONEST_TARGET), ("held_out", HONEST_TARGET - 0.005)):
        vouched, spread = vv["rates"]["consensus"][split], sv["rates"]["consensus"][split]
        assert vouched["honest_in_rate"] >= max(target, spread["honest_in_rate"] + 0.001)
        assert vouched["cheat_out_rate"] >= max(target, spread["cheat_out_rate"] + 0.002)
        assert vouched["cheat_out_by_class"]["off_topic"] >= spread["cheat_out_by_class"]["off_topic"] + 0.01
        assert vouched["cheat_out_by_class"]["truncated"] >= spread["cheat_out_by_class"]["truncated"] + 0.004
        for c in CHEAT_CLASSES:
            assert vouched["cheat_out_by_class"][c] >= spread["cheat_out_by_class"][c]
    # what the model checks add, on the same tasks: generic and truncated outputs mostly out, honest kept
    for split in ("calibration", "held_out"):
        with_model, without = mv["rates"]["consensus"][split], mv["floor_medoid_same_prompts"]["consensus"][split]
        assert with_model["cheat_out_by_class"]["generic"] >= 0.9 > without["cheat_out_by_class"]["generic"]
        assert with_model["cheat_out_by_class"]["truncated"] >= 0.8 > without["cheat_out_by_class"]["truncated"]
        assert with_model["honest_in_rate"] >= without["honest_in_rate"] - 0.01


@pytest.mark.slow
@xfail_off_recording_build
def test_committed_traces_are_what_the_real_model_gives():
    """Read a sample of the committed outputs (every class, and the variants) with the real SmolLM2 and
    find the cached traces again: the same ranks, log-probabilities within float noise, the same checks."""
    from cor_incentives.ai.bundled import gguf_path
    from cor_incentives.ai.likelihood import PROMPT_FREE, TeacherForcer, TokenTrace, likelihood_check
    from cor_incentives.nodes.poi_calibration import output_key, text_sha256

    data = load_calibration(DATA)
    assert data.traces, "no model traces committed"
    prompts = {p["id"]: p for p in data.prompts}
    sample, seen = [], Counter()
    for r in data.rows:
        if (output_key(r), text_sha256(r["text"])) in data.traces and seen[r["class"]] < 3:
            seen[r["class"]] += 1
            sample.append(r)
    assert {"honest", "generic", "truncated", "honest_q4_0"} <= set(seen)
    forcer = TeacherForcer(gguf_path(), n_threads=1, n_ctx=1024)
    checked_free = 0
    for r in sample:
        p = prompts[r["prompt_id"]]
        cached = TokenTrace.from_dict(data.traces[(output_key(r), text_sha256(r["text"]))])
        fresh = forcer.trace(p["prompt"], r["text"])
        assert len(fresh.tokens) == len(cached.tokens), output_key(r)
        close = sum(abs(a.logprob - b.logprob) < 0.05 for a, b in zip(fresh.tokens, cached.tokens))
        assert close >= 0.98 * len(cached.tokens), output_key(r)
        want = likelihood_check(cached, p["max_output_tokens"])
        got = likelihood_check(fresh, p["max_output_tokens"])
        assert got.ending_ppb == want.ending_ppb and abs(got.fidelity_ppb - want.fidelity_ppb) <= 20_000_000, output_key(r)
        # the prompt-free read (the prompt gain), where committed
        key = (output_key(r), text_sha256(r["text"]))
        if key in data.free_traces:
            cached_free = TokenTrace.from_dict(data.free_traces[key])
            fresh_free = forcer.trace(PROMPT_FREE, r["text"])
            assert [t.rank for t in fresh_free.tokens] == [t.rank for t in cached_free.tokens], output_key(r)
            want_gain = likelihood_check(cached, p["max_output_tokens"], free=cached_free).prompt_gain_milli
            got_gain = likelihood_check(fresh, p["max_output_tokens"], free=fresh_free).prompt_gain_milli
            assert want_gain is not None and got_gain is not None and abs(got_gain - want_gain) <= 20, output_key(r)
            checked_free += 1
    assert checked_free >= 5


# -- the generator, with the real SmolLM2 ------------------------------------------------------------


@pytest.mark.slow
def test_generator_resumes_and_samples_with_the_real_model(tmp_path: Path):
    """Pre-fill all but two model outputs of a small run (with a torn last line); the generator runs
    the real model for exactly the missing two, adds the cheaters and writes the canonical file."""
    out = tmp_path / "poi"
    out.mkdir()
    prompts = sorted(load_prompt_set(None), key=lambda p: p["id"])
    kept, seen = [], Counter()
    for p in prompts:
        seen[p["kind"]] += 1
        if seen[p["kind"]] <= 2:
            kept.append(p)
    fake = []
    for p in kept:
        for m in range(HONEST_MINERS):
            fake.append(
                {
                    "prompt_id": p["id"],
                    "kind": p["kind"],
                    "class": "honest",
                    "miner": m,
                    "text": f"stand-in {m}",
                    "sampling": {"temperature": HONEST_TEMPERATURES[m], "seed": m},
                    "finish": "stop",
                    "max_tokens": 8,
                    "output_tokens": 2,
                }
            )
        fake.append(
            {
                "prompt_id": p["id"],
                "kind": p["kind"],
                "class": "truncated",
                "miner": 0,
                "text": "cut",
                "sampling": {},
                "finish": "length",
                "max_tokens": 2,
                "output_tokens": 1,
            }
        )
    target = next(p for p in kept if p["kind"] == "one_word")
    missing = [r for r in fake if r["prompt_id"] == target["id"] and r["class"] == "honest" and r["miner"] in (0, 5)]
    lines = [json.dumps(r) for r in fake if r not in missing]
    (out / "outputs.jsonl").write_text("\n".join(lines) + "\n" + '{"prompt_id": "p0", "tor')
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "poi_generate.py"), "--limit", "2", "--out", str(out)], check=True, capture_output=True, timeout=600
    )
    data = load_calibration(out)
    assert len(data.prompts) == len(kept)
    got = {(r["prompt_id"], r["class"], r["miner"]): r for r in data.rows}
    assert len(got) == len(kept) * (HONEST_MINERS + 1 + 4)
    fresh = [got[(target["id"], "honest", m)] for m in (0, 5)]
    for r in fresh:  # really generated: the model's own text, settings and token count
        assert not r["text"].startswith("stand-in") and r["finish"] in ("stop", "length")
        assert 1 <= r["output_tokens"] <= target["max_output_tokens"] + 3
    assert [r["sampling"]["temperature"] for r in fresh] == [0.3, 1.0]
    assert fresh[0]["sampling"]["seed"] != fresh[1]["sampling"]["seed"]
    assert got[(target["id"], "honest", 1)]["text"] == "stand-in 1"  # kept, not regenerated
    # same settings and seed → the same text again (the generator's outputs are reproducible)
    from cor_incentives.nodes.backends import LlamaBackend
    from cor_incentives.nodes.poi_calibration import honest_sampling

    llama = LlamaBackend(sampling=honest_sampling(target["id"], 5))
    again = llama.generate(target["prompt"], target["max_output_tokens"])
    assert again.text == fresh[1]["text"]
