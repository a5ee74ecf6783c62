"""Golden vectors for the report formulas (tests/vectors/validation.json, worked out by hand)."""

import json
from pathlib import Path

import pytest

from cor_incentives.core.validation import Consensus, aggregate, agreement_ppb, deviation_ppb, passes_canary

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "validation.json").read_text())
P = VECTORS["params"]


@pytest.mark.parametrize("case", VECTORS["consensus"], ids=lambda c: c["name"])
def test_consensus(case):
    reports = {v: {"m": tuple(r)} for v, r in case["reports"].items()}
    cons = aggregate(reports, case["stakes"], ["m"], P["poi_max_distance_ppb"], P["consensus_min_quality_ppb"], P["dissent_bound_ppb"])
    e = case["expected"]
    assert (cons.distance_ppb["m"], cons.quality_ppb["m"], cons.in_consensus["m"], cons.disputed) == (
        e["distance_ppb"],
        e["quality_ppb"],
        e["in_consensus"],
        e["disputed"],
    )


@pytest.mark.parametrize("case", VECTORS["agreement"], ids=lambda c: c["name"])
def test_agreement(case):
    d, q = case["consensus"]
    cons = Consensus({"m": d}, {"m": q}, {"m": True})
    for report, dev, agree in zip(case["reports"], case["expected_deviation_ppb"], case["expected_agreement_ppb"]):
        assert deviation_ppb({"m": tuple(report)}, cons) == dev
        assert agreement_ppb({"m": tuple(report)}, cons, P["agreement_tolerance_ppb"]) == agree


@pytest.mark.parametrize("case", VECTORS["canary"], ids=lambda c: c["why"][:30])
def test_canary(case):
    assert passes_canary(tuple(case["report"]), P["poi_max_distance_ppb"], P["consensus_min_quality_ppb"]) is case["passes"]
