"""The validator's evaluation with the real embedding model and scorer."""

from cor_incentives.nodes.validator import evaluate_outputs


def test_two_outputs_garbage_never_becomes_the_reference():
    reports = {
        r["miner"]: r
        for r in evaluate_outputs(
            "What is the capital of France?", {"0xaa": "qwx zzkv plor mnbvc xxqq lkjh", "0xbb": "The capital of France is Paris."}, 32
        )
    }
    # "0xaa" sorts first, but the better answer is the medoid: its distance is 0, the garbage is far
    assert reports["0xbb"]["poi_distance_ppb"] == 0
    assert reports["0xaa"]["poi_distance_ppb"] > 150_000_000
    assert reports["0xbb"]["quality_ppb"] > 300_000_000 > reports["0xaa"]["quality_ppb"]
    assert set(reports["0xbb"]["criteria"]) == {"relevance", "compliance", "completeness", "integrity"}


def test_three_consistent_outputs_are_close():
    reports = evaluate_outputs(
        "Name the largest planet.",
        {
            "0x01": "Jupiter is the largest planet in the solar system.",
            "0x02": "The largest planet is Jupiter.",
            "0x03": "Jupiter is the largest planet in the solar system.",
        },
        32,
    )
    assert all(r["poi_distance_ppb"] < 150_000_000 for r in reports)


def test_two_cheaters_of_three_cannot_become_the_reference():
    prompt = "What is the capital of France?"
    outputs = {
        "0xaa": "qwx zzkv plor mnbvc xxqq lkjh",
        "0xab": "qwx zzkv plor mnbvc xxqq lkjh zzkv",
        "0xbb": "The capital of France is Paris.",
    }
    reports = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, 32)}
    # the medoid is chosen among the outputs above the quality floor: the honest answer
    assert reports["0xbb"]["poi_distance_ppb"] == 0
    assert reports["0xaa"]["poi_distance_ppb"] > 850_000_000 and reports["0xab"]["poi_distance_ppb"] > 850_000_000
    # without the floor the two garbage outputs (close to each other) would have been the reference
    old = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, 32, min_quality_ppb=0)}
    assert old["0xbb"]["poi_distance_ppb"] > 850_000_000 and min(old["0xaa"]["poi_distance_ppb"], old["0xab"]["poi_distance_ppb"]) == 0


def test_no_output_above_the_quality_floor_means_no_reference():
    prompt = "What is the capital of France?"
    outputs = {
        "0xaa": "qwx zzkv plor mnbvc xxqq lkjh",
        "0xab": "qwx zzkv plor mnbvc xxqq lkjh",
        "0xbb": "I am not sure, please check online.",
    }
    reports = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, 32)}
    assert all(r["quality_ppb"] < 300_000_000 for r in reports.values())
    # no output passes the floor: nobody is the reference, so nobody is reported near one; the medoid
    # of all outputs would have put the two identical garbage outputs at distance 0
    assert {r["poi_distance_ppb"] for r in reports.values()} == {2_000_000_000}
    # a validator that reports these outputs' quality above the floor cannot carry the copied garbage
    # into consensus with this validator's distance: the core's median distance is out of reach
    from cor_incentives.core.params import Params
    from cor_incentives.core.validation import aggregate

    p = Params()
    lenient = {m: (0 if m != "0xbb" else 900_000_000, 600_000_000) for m in outputs}
    strict = {m: (r["poi_distance_ppb"], r["quality_ppb"]) for m, r in reports.items()}
    views = {"0xv1": strict, "0xv2": lenient, "0xv3": {m: (strict[m][0], lenient[m][1]) for m in outputs}}
    c = aggregate(views, {v: 1 for v in views}, sorted(outputs), p.poi_max_distance_ppb, p.consensus_min_quality_ppb)
    assert not c.in_consensus["0xaa"] and not c.in_consensus["0xab"]


def test_two_honest_answers_that_disagree_are_both_in_beside_garbage():
    """Two sampled answers of the calibration set (p0247, miners 0 and 4) lie 0.97 apart; the third miner
    reveals garbage. Measured from the better one, the other used to be out (> 0.85) although nothing in
    the task agrees more; the spread allowance reports it at the threshold. The garbage stays out."""
    import json
    from pathlib import Path

    from cor_incentives.core.params import Params
    from cor_incentives.nodes.poi_calibration import garbage_output

    data = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
    prompt = next(p for p in map(json.loads, (data / "prompts.jsonl").read_text().splitlines()) if p["id"] == "p0247")
    rows = [json.loads(line) for line in (data / "outputs.jsonl").read_text().splitlines()]
    honest = {r["miner"]: r["text"] for r in rows if r["prompt_id"] == "p0247" and r["class"] == "honest"}
    outputs = {"0xa0": honest[0], "0xa4": honest[4], "0xgg": garbage_output("p0247")}
    dmax = Params().poi_max_distance_ppb
    reports = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], outputs, prompt["max_output_tokens"])}
    assert reports["0xgg"]["quality_ppb"] < 300_000_000 <= min(reports["0xa0"]["quality_ppb"], reports["0xa4"]["quality_ppb"])
    assert reports["0xa0"]["poi_distance_ppb"] == 0 and reports["0xa4"]["poi_distance_ppb"] == dmax
    # the distance measured, as reported before the allowance (a threshold of 2.0 leaves no allowance)
    raw = {r["miner"]: r for r in evaluate_outputs(prompt["prompt"], outputs, prompt["max_output_tokens"], max_distance_ppb=2 * 10**9)}
    assert raw["0xa4"]["poi_distance_ppb"] > 950_000_000 > dmax
    # every distance moved by the same allowance; the garbage is out by its quality (the core's rule needs both)
    allowance = raw["0xa4"]["poi_distance_ppb"] - dmax
    assert raw["0xgg"]["poi_distance_ppb"] - reports["0xgg"]["poi_distance_ppb"] == allowance


def test_the_spread_allowance_gives_nothing_beside_two_answers_that_agree():
    prompt = "Name the largest planet."
    outputs = {
        "0x01": "Jupiter is the largest planet in the solar system.",
        "0x02": "The largest planet is Jupiter.",
        "0x03": "The French Revolution began in 1789 with the storming of the Bastille in Paris.",
    }
    reports = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, 32)}
    raw = {r["miner"]: r for r in evaluate_outputs(prompt, outputs, 32, max_distance_ppb=2 * 10**9)}
    assert {m: r["poi_distance_ppb"] for m, r in reports.items()} == {m: r["poi_distance_ppb"] for m, r in raw.items()}
    assert reports["0x01"]["poi_distance_ppb"] + reports["0x02"]["poi_distance_ppb"] < 300_000_000
    assert reports["0x03"]["poi_distance_ppb"] > 850_000_000 or reports["0x03"]["quality_ppb"] < 300_000_000


def test_a_task_computes_its_reference_once(monkeypatch):
    """``evaluate_task`` computes the task's reference (the O(n²) medoid, ``ai.poi._reference``) once and hands it to the
    spread and the distances (each used to compute it again: three times under the rules before 12); the reports and
    the spread are those of the public functions called one by one, each computing the reference itself."""
    import numpy as np

    from cor_incentives.ai import poi
    from cor_incentives.ai.quality import QualityScore
    from cor_incentives.nodes import validator

    # four outputs: two valid ones ~0.96 apart (spread beyond the threshold: an allowance), a valid third, one under the floor
    vectors = {"a": [1.0, 0.0, 0.0], "b": [0.04, 1.0, 0.0], "c": [0.1, 0.0, 1.0], "d": [-1.0, 0.2, 0.3]}
    quality = {"a": 900_000_000, "b": 800_000_000, "c": 700_000_000, "d": 50_000_000}

    class Embed:
        def embed(self, texts):
            return np.array([vectors[t] for t in texts], dtype=np.float32)

    class Score:
        name = "fake"

        def score(self, prompt, output, *, max_output_tokens=None):
            return QualityScore(quality[output], {"relevance": quality[output]}, "ok", 5)

    monkeypatch.setattr(validator, "count_tokens", len)
    outputs = {"0x01": "a", "0x02": "b", "0x03": "c", "0x04": "d"}
    floor, dmax, cap, factor = 300_000_000, 850_000_000, 1_200_000_000, 10_000
    miners = sorted(outputs)
    matrix = poi.pairwise_distances_ppb(Embed().embed([outputs[m] for m in miners]))
    q = [quality[outputs[m]] for m in miners]
    spread = poi.task_spread_ppb(matrix, q, miners, floor)
    assert spread > dmax  # the allowance is not zero: the reported distances differ from the raw ones
    expected = {
        True: (poi.ranked_distances_ppb(matrix, q, miners, floor), spread),
        False: (poi.reported_distances_ppb(matrix, q, miners, floor, dmax, cap, factor), spread),
    }
    assert expected[True][0] != expected[False][0]

    calls = []
    original = poi._reference
    monkeypatch.setattr(poi, "_reference", lambda *a: calls.append(a) or original(*a))
    for spread_rule in (True, False):
        calls.clear()
        ev = validator.evaluate_task(
            "p", outputs, 8, Score(), floor, None, Embed(), dmax, spread_rule=spread_rule, spread_cap_ppb=cap, spread_factor_bps=factor
        )
        assert len(calls) == 1, spread_rule
        assert ([r["poi_distance_ppb"] for r in ev.reports], ev.spread_ppb) == expected[spread_rule]
        assert [r["quality_ppb"] for r in ev.reports] == q and [r["output_tokens"] for r in ev.reports] == [1] * 4
