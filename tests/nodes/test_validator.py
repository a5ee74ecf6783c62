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
