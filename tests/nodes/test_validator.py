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
