"""PoI calibration's fast paths give exactly what the per-observation reference gives.

``ObservationTable`` counts ``rates`` with integer arrays; ``rule_rates`` and ``alternatives`` use it. The
references below are those functions as they were written over ``rates`` and ``PoiRule.admits``, one
observation at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.units import PPB
from cor_incentives.nodes.poi_calibration import (
    CHEAT_CLASSES,
    HONEST_TARGET,
    SPLITS,
    SPREAD_FACTORS_BPS,
    Observation,
    ObservationTable,
    PoiRule,
    _sum_rates,
    alternatives,
    honest_first_threshold,
    rates,
    rule_rates,
    split_distances,
)

CLASSES = ("honest", *CHEAT_CLASSES, "honest_q4_0", "honest_untruncated", "composed")
KINDS = ("code", "math", "chat")


def _reference_rule_rates(obs: list[Observation], rule: PoiRule) -> dict[str, Any]:
    poi_only = PoiRule(rule.max_distance_ppb, 0, rule.spread_factor_bps, rule.cap_ppb)
    out: dict[str, Any] = {"max_distance_ppb": rule.max_distance_ppb, "min_quality_ppb": rule.min_quality_ppb}
    for name, r in (("poi", poi_only), ("consensus", rule)):
        block: dict[str, Any] = {}
        for split in SPLITS:
            part = [o for o in obs if o.split == split]
            block[split] = rates(part, r).to_dict()
            block[split]["cheat_out_by_class"] = {
                c: rates([o for o in part if o.output_class == c], r).to_dict()["cheat_out_rate"] for c in CHEAT_CLASSES
            }
            block[split]["honest_in_by_task"] = {
                m: rates([o for o in part if o.output_class == "honest" and o.task_mix == m], r).to_dict()["honest_in_rate"]
                for m in ("honest", *CHEAT_CLASSES)
            }
            kinds = sorted({o.kind for o in part})
            block[split]["by_kind"] = {k: rates([o for o in part if o.kind == k], r).to_dict() for k in kinds}
        out[name] = block
    return out


def _reference_alternatives(obs: list[Observation], grid: np.ndarray, floor: int) -> dict[str, Any]:
    cal = [o for o in obs if o.split == "calibration"]
    out: dict[str, Any] = {}
    per_kind = {
        k: honest_first_threshold(split_distances([o for o in cal if o.kind == k])[0], grid, HONEST_TARGET) for k in sorted({o.kind for o in obs})
    }
    out["per_kind"] = {
        "thresholds_ppb": per_kind,
        **{
            name: {
                split: _sum_rates(rates([o for o in obs if o.split == split and o.kind == k], PoiRule(t, q)) for k, t in per_kind.items()).to_dict()
                for split in SPLITS
            }
            for name, q in (("poi", 0), ("consensus", floor))
        },
    }
    spread = {}
    for factor in SPREAD_FACTORS_BPS:
        best = int(grid[-1])
        for t in grid[::5]:
            if rates(cal, PoiRule(int(t), 0, factor)).honest_in_rate >= HONEST_TARGET:
                best = int(t)
                break
        spread[str(factor)] = {
            "floor_ppb": best,
            **{
                name: {split: rates([o for o in obs if o.split == split], PoiRule(best, q, factor)).to_dict() for split in SPLITS}
                for name, q in (("poi", 0), ("consensus", floor))
            },
        }
    out["spread_relative"] = spread
    return out


ppb = st.integers(0, 2 * PPB)
observation = st.builds(
    Observation,
    prompt_id=st.just("p"),
    kind=st.sampled_from(KINDS),
    split=st.sampled_from(SPLITS),
    output_class=st.sampled_from(CLASSES),
    task_mix=st.sampled_from(CLASSES),
    redundancy=st.just(3),
    distance_ppb=ppb,
    quality_ppb=ppb,
    spread_ppb=ppb,
)
rule = st.builds(
    PoiRule,
    max_distance_ppb=ppb,
    min_quality_ppb=ppb,
    spread_factor_bps=st.sampled_from((0, 10_000, 15_000, 20_000, 30_000, 12_345)),
    cap_ppb=ppb,
)


def _nan_equal(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (an empty subset's rate)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None)
@given(st.lists(observation, max_size=60), rule)
def test_table_rates_match_the_per_observation_rule(obs, r):
    t = ObservationTable.of(obs)
    ok = t.admitted(r)
    assert ok.tolist() == [r.admits(o) for o in obs]
    for split in SPLITS:
        assert t.rates(t.split == split, ok) == rates([o for o in obs if o.split == split], r)
    assert t.rates(t.everything(), ok) == rates(obs, r)


@settings(max_examples=100, deadline=None)
@given(st.lists(observation, max_size=60), rule)
def test_rule_rates_match_the_reference(obs, r):
    assert _nan_equal(rule_rates(obs, r), _reference_rule_rates(obs, r))
    assert _nan_equal(rule_rates(ObservationTable.of(obs), r), _reference_rule_rates(obs, r))


@settings(max_examples=50, deadline=None)
@given(st.lists(observation, min_size=1, max_size=60), ppb)
def test_alternatives_match_the_reference(obs, floor):
    grid = np.arange(0, 2 * PPB + 1, 20_000_000, dtype=np.int64)
    assert _nan_equal(alternatives(obs, grid, floor), _reference_alternatives(obs, grid, floor))


def test_values_beyond_int64_fall_back_to_the_rule():
    huge = 2**70
    obs = [
        Observation("p", "code", "calibration", "honest", "honest", 3, huge, 1, huge),
        Observation("p", "code", "calibration", "lazy", "lazy", 3, 5, 1, 2**61),
    ]
    for r in (PoiRule(10, 0, 20_000, cap_ppb=2**72), PoiRule(huge, 0), PoiRule(10, 0, 20_000)):
        t = ObservationTable.of(obs)
        assert t.admitted(r).tolist() == [r.admits(o) for o in obs]
        assert t.rates(t.everything(), t.admitted(r)) == rates(obs, r)
    t = ObservationTable.of(obs[1:])  # fits int64, but spread × factor would not
    r = PoiRule(10, 0, 30_000, cap_ppb=2**61)
    assert t.admitted(r).tolist() == [r.admits(obs[1])]
