"""Epoch work rewards: vectorised == reference, conservation, floors, monotonicity, bounds, vectors."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core import work_rewards as wr
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.params import MAX_MULTIPLIER_PPB
from cor_incentives.core.units import BPS, PPB
from cor_incentives.core.work_rewards import (
    DEFAULT_WORK_REWARD_PARAMS,
    MAX_COMPLEXITY_UNITS,
    WorkRewardParams,
    WorkRewards,
    compute_validator_rewards,
    compute_validator_rewards_reference,
    compute_work_rewards,
    compute_work_rewards_reference,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "work_rewards.json"
WORK_KERNELS = [compute_work_rewards, compute_work_rewards_reference]
VALIDATOR_KERNELS = [compute_validator_rewards, compute_validator_rewards_reference]
SETTINGS = settings(max_examples=150, deadline=None)

# --- strategies ------------------------------------------------------------------------------------

mostly_true = st.sampled_from([True, True, True, False])
qualities = st.one_of(st.just(0), st.just(PPB), st.integers(0, PPB), st.integers(PPB // 2, PPB))
units = st.one_of(st.integers(0, 5), st.integers(0, MAX_COMPLEXITY_UNITS), st.just(MAX_COMPLEXITY_UNITS))
reputations = st.one_of(st.just(0), st.just(PPB), st.integers(0, PPB))
streams = st.one_of(st.integers(0, 1_000), st.integers(0, 10**27), st.just(10**27))


@st.composite
def params_strategy(draw: st.DrawFn) -> WorkRewardParams:
    lo, hi = sorted(draw(st.lists(st.integers(0, MAX_MULTIPLIER_PPB), min_size=2, max_size=2)))
    return WorkRewardParams(
        min_precommit_rate_bps=draw(st.integers(0, BPS)),
        min_score_bps=draw(st.integers(0, BPS)),
        reputation_multiplier_min_ppb=lo,
        reputation_multiplier_max_ppb=hi,
    )


@st.composite
def epochs(draw: st.DrawFn, max_nodes: int = 8, max_rows: int = 60) -> dict:
    """Work-kernel keyword arguments; nodes above ``active`` never get rows."""
    node_count = draw(st.integers(1, max_nodes))
    active = draw(st.integers(1, node_count))
    rows = draw(st.integers(0, max_rows))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=rows, max_size=rows))

    return {
        "node_index": column(st.integers(0, active - 1)),
        "complexity_units": column(units),
        "quality_ppb": column(qualities),
        "in_consensus": column(mostly_true),
        "precommitted": column(mostly_true),
        "reputation_ppb": draw(st.lists(reputations, min_size=node_count, max_size=node_count)),
        "stream_amount": draw(streams),
        "params": draw(st.one_of(st.just(DEFAULT_WORK_REWARD_PARAMS), params_strategy())),
    }


@st.composite
def validator_epochs(draw: st.DrawFn) -> dict:
    node_count = draw(st.integers(1, 6))
    rows = draw(st.integers(0, 40))
    return {
        "node_index": draw(st.lists(st.integers(0, node_count - 1), min_size=rows, max_size=rows)),
        "agreement_ppb": draw(st.lists(qualities, min_size=rows, max_size=rows)),
        "on_time": draw(st.lists(mostly_true, min_size=rows, max_size=rows)),
        "reputation_ppb": draw(st.lists(reputations, min_size=node_count, max_size=node_count)),
        "stream_amount": draw(streams),
        "params": draw(st.one_of(st.just(DEFAULT_WORK_REWARD_PARAMS), params_strategy())),
    }


# --- vectorised == reference ---------------------------------------------------------------------------


@SETTINGS
@given(epochs())
def test_vectorised_equals_reference(epoch: dict) -> None:
    assert compute_work_rewards(**epoch) == compute_work_rewards_reference(**epoch)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_reference_on_larger_random_epochs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, nodes = 30_000, 400
    node_index = rng.integers(0, nodes - 50, rows)  # the last 50 nodes have no rows
    precommit_probability = rng.uniform(0.3, 1.0, nodes)[node_index]  # some nodes fail the gate
    epoch = {
        "node_index": node_index,
        "complexity_units": rng.integers(0, MAX_COMPLEXITY_UNITS + 1, rows),
        "quality_ppb": np.where(rng.random(rows) < 0.9, rng.integers(PPB // 2, PPB + 1, rows), rng.integers(0, PPB + 1, rows)),
        "in_consensus": rng.random(rows) < 0.9,
        "precommitted": rng.random(rows) < precommit_probability,
        "reputation_ppb": rng.integers(0, PPB + 1, nodes),
        "stream_amount": 10**27 + seed,
    }
    fast, slow = compute_work_rewards(**epoch), compute_work_rewards_reference(**epoch)
    assert fast == slow
    assert set(fast.reason) >= {None, "no_assignments", "precommit_rate_below_min"}


def test_work_beyond_int64_is_exact() -> None:
    # 10 000 rows of 10**6 units at quality 1.0 on one node: work = 10**4 × 10**15 = 10**19 > 2**63 − 1.
    rows = 20_000
    epoch = {
        "node_index": np.arange(rows) % 2,
        "complexity_units": np.full(rows, MAX_COMPLEXITY_UNITS),
        "quality_ppb": np.full(rows, PPB),
        "in_consensus": np.ones(rows, dtype=bool),
        "precommitted": np.ones(rows, dtype=bool),
        "reputation_ppb": [PPB, 0],
        "stream_amount": 10**27,
    }
    fast = compute_work_rewards(**epoch)
    assert fast == compute_work_rewards_reference(**epoch)
    assert fast.work == (10**19, 10**19)
    assert fast.weighted == (15 * 10**18, 5 * 10**18)
    assert fast.reward == (75 * 10**25, 25 * 10**25)
    assert fast.remainder == 0


def test_accepts_any_integer_dtype() -> None:
    lists = {
        "node_index": [0, 1, 1],
        "complexity_units": [3, 200, 7],
        "quality_ppb": [PPB, 700_000_000, 900_000_000],
        "in_consensus": [True, True, False],
        "precommitted": [True, True, True],
        "reputation_ppb": [0, 400_000_000],
        "stream_amount": 999,
    }
    typed = dict(lists)
    typed["node_index"] = np.array(lists["node_index"], dtype=np.uint8)
    typed["complexity_units"] = np.array(lists["complexity_units"], dtype=np.int16)
    typed["quality_ppb"] = np.array(lists["quality_ppb"], dtype=np.uint32)
    typed["reputation_ppb"] = np.array(lists["reputation_ppb"], dtype=np.int32)
    for kernel in WORK_KERNELS:
        assert kernel(**typed) == kernel(**lists)


# --- the split: conservation, floors, remainder ---------------------------------------------------------


@SETTINGS
@given(epochs())
def test_split_conserves_and_floors(epoch: dict) -> None:
    result = compute_work_rewards(**epoch)
    stream = epoch["stream_amount"]
    assert result.distributed + result.remainder == stream
    assert sum(result.reward) == result.distributed
    assert result.total_weighted == sum(result.weighted)
    total = result.total_weighted
    for reward, weighted in zip(result.reward, result.weighted):
        if total:
            # reward_n = floor(stream × weighted_n / total): the largest integer not above the share.
            assert reward * total <= stream * weighted < (reward + 1) * total
        else:
            assert reward == 0
    earners = sum(1 for w in result.weighted if w > 0)
    assert result.remainder == stream if total == 0 else result.remainder < earners


@SETTINGS
@given(epochs())
def test_gates_and_reasons_agree(epoch: dict) -> None:
    result = compute_work_rewards(**epoch)
    params = epoch["params"]
    for n in range(len(result.reward)):
        assert result.eligible[n] == (result.reason[n] is None)
        if result.assignments[n] == 0:
            assert result.reason[n] == "no_assignments"
            assert result.work[n] == 0
        elif result.eligible[n]:
            assert result.precommit_rate_bps[n] >= params.min_precommit_rate_bps
            assert result.score_bps[n] >= params.min_score_bps
        else:
            assert result.weighted[n] == 0 and result.reward[n] == 0
        assert params.reputation_multiplier_min_ppb <= result.multiplier_ppb[n] <= params.reputation_multiplier_max_ppb


@SETTINGS
@given(epochs(), st.data())
def test_more_quality_never_lowers_the_reward(epoch: dict, data: st.DataObject) -> None:
    if not epoch["node_index"]:
        return
    row = data.draw(st.integers(0, len(epoch["node_index"]) - 1))
    node = epoch["node_index"][row]
    better = dict(epoch, quality_ppb=list(epoch["quality_ppb"]))
    better["quality_ppb"][row] = data.draw(st.integers(epoch["quality_ppb"][row], PPB))
    before, after = compute_work_rewards(**epoch), compute_work_rewards(**better)
    assert after.reward[node] >= before.reward[node]
    if before.total_weighted:  # nobody else gains when one node's work grows
        assert all(after.reward[m] <= before.reward[m] for m in range(len(before.reward)) if m != node)


@SETTINGS
@given(epochs(), st.data())
def test_more_reputation_never_lowers_the_reward(epoch: dict, data: st.DataObject) -> None:
    node = data.draw(st.integers(0, len(epoch["reputation_ppb"]) - 1))
    better = dict(epoch, reputation_ppb=list(epoch["reputation_ppb"]))
    better["reputation_ppb"][node] = data.draw(st.integers(epoch["reputation_ppb"][node], PPB))
    assert compute_work_rewards(**better).reward[node] >= compute_work_rewards(**epoch).reward[node]


@pytest.mark.parametrize("kernel", WORK_KERNELS)
def test_zero_work_epoch_keeps_the_whole_stream(kernel) -> None:
    result = kernel(
        node_index=[0, 1, 1],
        complexity_units=[5, 5, 5],
        quality_ppb=[PPB, PPB, PPB],
        in_consensus=[False, False, False],
        precommitted=[True, True, True],
        reputation_ppb=[PPB, PPB, PPB],
        stream_amount=10**27,
    )
    assert result.reward == (0, 0, 0)
    assert result.total_weighted == 0 and result.distributed == 0 and result.remainder == 10**27
    assert result.reason == ("score_below_min", "score_below_min", "no_assignments")


@pytest.mark.parametrize("kernel", WORK_KERNELS)
def test_all_ineligible_keeps_the_whole_stream(kernel) -> None:
    strict = WorkRewardParams(min_score_bps=BPS)  # only a perfect score passes
    result = kernel(
        node_index=[0, 1, 2],
        complexity_units=[10, 10, 10],
        quality_ppb=[PPB - 1, 900_000_000, 10],
        in_consensus=[True, True, True],
        precommitted=[True, True, True],
        reputation_ppb=[PPB, PPB, PPB],
        stream_amount=12345,
        params=strict,
    )
    assert result.eligible == (False, False, False)
    assert result.remainder == 12345 and result.distributed == 0


@pytest.mark.parametrize("kernel", WORK_KERNELS)
def test_no_nodes_no_rows(kernel) -> None:
    empty: list[int] = []
    result = kernel(
        node_index=empty,
        complexity_units=empty,
        quality_ppb=empty,
        in_consensus=empty,
        precommitted=empty,
        reputation_ppb=empty,
        stream_amount=7,
    )
    assert result.reward == () and result.remainder == 7 and result.total_weighted == 0


@pytest.mark.parametrize("kernel", WORK_KERNELS)
def test_single_node_takes_the_whole_stream(kernel) -> None:
    result = kernel(
        node_index=[0, 0],
        complexity_units=[1, 2],
        quality_ppb=[PPB, 600_000_000],
        in_consensus=[True, True],
        precommitted=[True, True],
        reputation_ppb=[0],
        stream_amount=10**27 - 1,
    )
    assert result.reward == (10**27 - 1,) and result.remainder == 0


# --- validators: the same kernel with agreement-weighted validations ----------------------------------


@SETTINGS
@given(validator_epochs())
def test_validator_rewards_are_the_work_kernel_with_unit_rows(epoch: dict) -> None:
    fast = compute_validator_rewards(**epoch)
    assert fast == compute_validator_rewards_reference(**epoch)
    rows = len(epoch["node_index"])
    as_work = compute_work_rewards_reference(
        node_index=epoch["node_index"],
        complexity_units=[1] * rows,
        quality_ppb=epoch["agreement_ppb"],
        in_consensus=epoch["on_time"],
        precommitted=epoch["on_time"],
        reputation_ppb=epoch["reputation_ppb"],
        stream_amount=epoch["stream_amount"],
        params=epoch["params"],
    )
    assert fast == as_work


# --- bounds and rejections ------------------------------------------------------------------------------


def _good_epoch() -> dict:
    return {
        "node_index": [0, 1],
        "complexity_units": [1, 2],
        "quality_ppb": [PPB, 500_000_000],
        "in_consensus": [True, True],
        "precommitted": [True, False],
        "reputation_ppb": [PPB, 0],
        "stream_amount": 100,
    }


BAD_INPUTS = [
    ("negative_units", {"complexity_units": [-1, 2]}, "complexity_units_out_of_range", "complexity_units"),
    (
        "units_above_max",
        {"complexity_units": [1, MAX_COMPLEXITY_UNITS + 1]},
        "complexity_units_out_of_range",
        "complexity_units",
    ),
    ("quality_above_1e9", {"quality_ppb": [PPB + 1, 0]}, "quality_out_of_range", "quality_ppb"),
    ("negative_quality", {"quality_ppb": [-5, 0]}, "quality_out_of_range", "quality_ppb"),
    ("reputation_above_1e9", {"reputation_ppb": [PPB, PPB + 1]}, "reputation_out_of_range", "reputation_ppb"),
    ("node_index_past_table", {"node_index": [0, 2]}, "node_index_out_of_range", "node_index"),
    ("negative_node_index", {"node_index": [-1, 0]}, "node_index_out_of_range", "node_index"),
    ("mismatched_lengths", {"quality_ppb": [PPB]}, "mismatched_lengths", "same length"),
    ("mismatched_bool_column", {"precommitted": [True, True, True]}, "mismatched_lengths", "same length"),
    ("float_quality", {"quality_ppb": [0.5, 1.0]}, "invalid_column", "quality_ppb"),
    ("float_units", {"complexity_units": np.array([1.0, 2.0])}, "invalid_column", "complexity_units"),
    ("int_as_bool", {"in_consensus": [1, 0]}, "invalid_column", "in_consensus"),
    ("bool_as_units", {"complexity_units": [True, False]}, "invalid_column", "complexity_units"),
    ("int_beyond_int64", {"complexity_units": [2**70, 1]}, "invalid_column", "complexity_units"),
    ("two_dimensional", {"node_index": [[0], [1]]}, "invalid_column", "one-dimensional"),
    ("rows_without_nodes", {"reputation_ppb": []}, "node_index_out_of_range", "no nodes"),
    ("negative_stream", {"stream_amount": -1}, "invalid_amount", "negative"),
    ("float_stream", {"stream_amount": 1.5}, "invalid_amount", "integer"),
]


@pytest.mark.parametrize("kernel", WORK_KERNELS)
@pytest.mark.parametrize("name, change, code, text", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_are_rejected_clearly(kernel, name: str, change: dict, code: str, text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        kernel(**{**_good_epoch(), **change})
    assert caught.value.code == code
    assert text in caught.value.message


@pytest.mark.parametrize("kernel", VALIDATOR_KERNELS)
def test_validator_agreement_bounds(kernel) -> None:
    with pytest.raises(InvalidInput) as caught:
        kernel(node_index=[0], agreement_ppb=[PPB + 1], on_time=[True], reputation_ppb=[0], stream_amount=1)
    assert caught.value.code == "agreement_out_of_range"
    with pytest.raises(InvalidInput) as caught:
        kernel(node_index=[0, 0], agreement_ppb=[1], on_time=[True, True], reputation_ppb=[0], stream_amount=1)
    assert caught.value.code == "mismatched_lengths"


def test_row_limit_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wr, "MAX_ASSIGNMENTS_PER_EPOCH", 1)
    with pytest.raises(InvalidInput) as caught:
        compute_work_rewards(**_good_epoch())
    assert caught.value.code == "too_many_assignments"


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"min_precommit_rate_bps": BPS + 1}, "parameter_out_of_bounds"),
        ({"min_score_bps": -1}, "parameter_out_of_bounds"),
        ({"reputation_multiplier_min_ppb": 2 * PPB, "reputation_multiplier_max_ppb": PPB}, "invalid_parameter"),
        ({"reputation_multiplier_max_ppb": MAX_MULTIPLIER_PPB + 1}, "parameter_out_of_bounds"),
        ({"min_score_bps": 50.0}, "invalid_parameter"),
        ({"min_score_bps": True}, "invalid_parameter"),
    ],
)
def test_bad_params_are_rejected(fields: dict, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        WorkRewardParams(**fields)
    assert caught.value.code == code


def test_the_kernel_reads_the_one_declaration_of_its_parameters() -> None:
    """Defaults and bounds are those of ``Params``: a value governance can set, the kernel takes."""
    from cor_incentives.core.params import Params, param_bounds

    p = Params()
    assert WorkRewardParams.in_force(p) == WorkRewardParams()
    for name in ("min_precommit_rate_bps", "min_score_bps", "reputation_multiplier_min_ppb", "reputation_multiplier_max_ppb"):
        lo, hi = param_bounds(name)
        fine = p.replace(**{name: hi if name != "reputation_multiplier_min_ppb" else p.reputation_multiplier_max_ppb})
        WorkRewardParams.in_force(fine)  # whatever Params accepts, the kernel accepts
        with pytest.raises(InvalidInput):
            p.replace(**{name: hi + 1})


# --- golden vectors -------------------------------------------------------------------------------------

CASES = json.loads(VECTORS.read_text())["cases"]


def _run_case(case: dict, kernel_pair: int) -> WorkRewards:
    params = WorkRewardParams(**case.get("params", {}))
    rows = case["rows"]
    common = {
        "reputation_ppb": case["reputation_ppb"],
        "stream_amount": int(case["stream_amount"]),
        "params": params,
        "node_index": [r["node_index"] for r in rows],
    }
    if case["kind"] == "validator":
        kernel = VALIDATOR_KERNELS[kernel_pair]
        return kernel(**common, agreement_ppb=[r["agreement_ppb"] for r in rows], on_time=[r["on_time"] for r in rows])
    kernel = WORK_KERNELS[kernel_pair]
    return kernel(
        **common,
        complexity_units=[r["complexity_units"] for r in rows],
        quality_ppb=[r["quality_ppb"] for r in rows],
        in_consensus=[r["in_consensus"] for r in rows],
        precommitted=[r["precommitted"] for r in rows],
    )


def test_vectors_cover_the_cases_we_promise() -> None:
    assert 4 <= len(CASES) <= 8
    assert all(case["why"] for case in CASES)


@pytest.mark.parametrize("kernel_pair", [0, 1], ids=["vectorised", "reference"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_vectors(case: dict, kernel_pair: int) -> None:
    result = _run_case(case, kernel_pair)
    expected = case["expected"]
    for field in ("assignments", "precommit_rate_bps", "score_bps", "eligible", "reason", "multiplier_ppb"):
        assert list(getattr(result, field)) == expected[field], field
    for field in ("work", "weighted", "reward"):
        assert list(getattr(result, field)) == [int(v) for v in expected[field]], field
    for field in ("total_weighted", "distributed", "remainder"):
        assert getattr(result, field) == int(expected[field]), field


def test_for_node_is_the_statement_line() -> None:
    case = CASES[0]
    result = _run_case(case, 0)
    line = result.for_node(0)
    assert line["reward"] == int(case["expected"]["reward"][0])
    assert line["total_weighted"] == result.total_weighted and line["stream_amount"] == int(case["stream_amount"])


@settings(max_examples=25, deadline=None)
@given(
    st.integers(9_100, 9_400),
    st.integers(MAX_COMPLEXITY_UNITS - 3, MAX_COMPLEXITY_UNITS),
    st.integers(PPB - 3, PPB),
    st.booleans(),
    st.booleans(),
)
def test_work_sums_at_and_past_the_int64_bound(rows: int, units: int, quality: int, all_in_consensus: bool, all_precommitted: bool) -> None:
    """The per-node products summed without the hi/lo split only when rows × the largest product < 2**63: at 10**15 a
    row (units 10**6 × quality 10**9), 9 223 rows on one node sum to just under 2**63 and 9 224 past it; the sums, the
    counts and the gates equal the reference's whether every row is in consensus and precommitted (the columns not
    used to select) or one is not."""
    epoch = {
        "node_index": np.zeros(rows, dtype=np.int64),
        "complexity_units": np.full(rows, units),
        "quality_ppb": np.full(rows, quality),
        "in_consensus": np.arange(rows) != (-1 if all_in_consensus else rows // 2),
        "precommitted": np.arange(rows) != (-1 if all_precommitted else 7),
        "reputation_ppb": [PPB, PPB // 2],
        "stream_amount": 10**27,
    }
    fast = compute_work_rewards(**epoch)
    assert fast == compute_work_rewards_reference(**epoch)
    assert fast.work[0] == (rows - (not all_in_consensus)) * units * quality
    assert wr._products_fit_int64(np.full(rows, units), np.full(rows, quality)) == (rows * units * quality < 2**63)


FLAG_SHARES = st.sampled_from(["every row", "some rows", "no row"])
LENIENT = WorkRewardParams(min_precommit_rate_bps=0, min_score_bps=0)  # every node with rows eligible: its work is paid


def _flags(share: str, rows: int, data: st.DataObject) -> np.ndarray:
    if share == "every row":
        return np.ones(rows, dtype=bool)
    if share == "no row":
        return np.zeros(rows, dtype=bool)
    return np.array(data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), st.integers(-2, 2), st.booleans(), st.data())
def test_products_fit_int64_exactly_when_their_bound_can(count: int, offset: int, apart: bool, data: st.DataObject) -> None:
    """At the bound itself: ``count`` rows whose max(units) × max(quality) is 2**63 // count + offset fit exactly when
    count × that < 2**63 (a total of 2**63 does not), whether the two maxima are on one row or on two (the bound is then
    above every product: it decides by the maxima, not by the largest product); when they fit, the int64 sum of the
    products is the integers' sum."""
    largest = (2**63 - 1) // count + offset if count > 1 else 2**63 - 1 + min(offset, 0)
    quality_max = data.draw(st.sampled_from([1, 2, 3]).filter(lambda q: largest % q == 0))
    units_max = largest // quality_max
    units = [units_max, *data.draw(st.lists(st.integers(0, units_max), min_size=count - 1, max_size=count - 1))]
    quality = [quality_max, *data.draw(st.lists(st.integers(0, quality_max), min_size=count - 1, max_size=count - 1))]
    if apart and count > 1:
        quality[0], quality[1] = min(quality[1], 1), quality_max  # the largest units and the largest quality on two rows
    fits = wr._products_fit_int64(np.array(units, dtype=np.int64), np.array(quality, dtype=np.int64))
    assert fits == (count * units_max * quality_max < 2**63)
    if fits:
        products = np.array(units, dtype=np.int64) * np.array(quality, dtype=np.int64)
        assert int(products.sum()) == sum(u * q for u, q in zip(units, quality, strict=True))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 30), st.booleans(), st.booleans(), FLAG_SHARES, st.booleans(), st.data())
def test_products_summed_chunk_by_chunk_equal_the_reference(
    chunk: int, nodes: int, rows: int, large: bool, flags: bool, consensus: str, narrow: bool, data: st.DataObject
) -> None:
    """``_product_sums`` makes the products ``PRODUCT_CHUNK`` rows at a time: with chunks of 1 to 5 rows (so most rows
    are in a chunk after the first, and the last chunk is short) the work per node equals the per-row reference and the
    sums over every row kept, with products near 10**15 (int64 units) or small ones (uint8 units: 0/1 as the
    validators' flags, or up to 255), any rows out of consensus (the split path: the test below); the node indexes int32
    (``narrow``: as the close hands them, read as they are) or int64."""
    idx = data.draw(st.lists(st.integers(0, nodes - 1), min_size=rows, max_size=rows))
    top = MAX_COMPLEXITY_UNITS if large else (1 if flags else 255)
    units = data.draw(st.lists(st.integers(max(0, top - 1) if large else 0, top), min_size=rows, max_size=rows))
    quality = data.draw(st.lists(st.integers(PPB - 1 if large else 0, PPB), min_size=rows, max_size=rows))
    in_consensus = _flags(consensus, rows, data)
    epoch = {
        "node_index": np.array(idx, dtype=np.int32 if narrow else np.int64),
        "complexity_units": np.array(units, dtype=np.int64 if large else np.uint8),
        "quality_ppb": np.array(quality, dtype=np.int64),
        "in_consensus": in_consensus,
        "precommitted": np.ones(rows, dtype=bool),
        "reputation_ppb": [PPB] * nodes,
        "stream_amount": 10**30,
        "params": LENIENT,
    }
    with patch.object(wr, "PRODUCT_CHUNK", chunk), patch.object(wr, "COUNT_CHUNK", chunk):  # (the row counts a chunk at a time too)
        result = compute_work_rewards(**epoch)
    wide = dict(epoch, node_index=np.array(idx, dtype=np.int64), complexity_units=np.array(units, dtype=np.int64))
    assert result == compute_work_rewards_reference(**wide)
    kept = [sum(u * q for i, u, q, c in zip(idx, units, quality, in_consensus, strict=True) if i == n and c) for n in range(nodes)]
    assert list(result.work) == kept


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 20), max_size=60),
    st.integers(0, 25),
    st.integers(1, 9),
    st.sampled_from([np.int32, np.int64, np.uint16]),
    st.booleans(),
)
def test_group_counts_is_bincount_whatever_the_chunks(owners: list[int], groups: int, chunk: int, dtype: type, negative: bool) -> None:
    """``group_counts`` counts ``chunk`` rows at a time (1 to 9 here: most rows after the first chunk, a short last one):
    each group's count as ``np.bincount(owners, minlength=groups)`` gives it, the same length (groups, or the largest
    owner + 1 when it is past them: a later chunk lengthens the counts) and dtype, for int32, int64 and uint16 owners;
    a negative owner is refused as bincount refuses it."""
    column = np.array(owners, dtype=dtype)
    if negative and dtype is not np.uint16 and owners:
        column[len(owners) // 2] = -1
        with pytest.raises(ValueError):
            np.bincount(column, minlength=groups)
        with pytest.raises(ValueError):
            wr.group_counts(column, groups, chunk)
        return
    got, expected = wr.group_counts(column, groups, chunk), np.bincount(column, minlength=groups)
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()


def test_int32_node_indexes_are_read_as_they_are_and_checked_alike() -> None:
    """The close's int32 node indexes are checked as int64 ones are (within 0..nodes − 1) and then read as they are: the
    checked column is the array given, not an int64 copy; another narrow type (int16) is still widened to int64."""
    node_index = np.array([0, 2, 1, 2], dtype=np.int32)
    args = (np.array([1, 1, 1, 1]), np.array([PPB] * 4), np.ones(4, dtype=bool), np.ones(4, dtype=bool), [PPB] * 3, 10**9)
    assert wr._check_work_rows(node_index, *args).node_index is node_index
    assert wr._check_work_rows(node_index.astype(np.int16), *args).node_index.dtype == np.int64
    with pytest.raises(InvalidInput) as refused:
        wr._check_work_rows(np.array([0, 3, 1, 2], dtype=np.int32), *args)
    assert refused.value.code == "node_index_out_of_range"


@pytest.mark.parametrize("chunk", [1_000, 4_096, 9_299, 2**16])
def test_split_products_summed_chunk_by_chunk_equal_the_reference(chunk: int) -> None:
    """Past the int64 bound (9 300 rows of products near 10**15: the split into high and low 32 bits) the chunks' sums
    equal the reference's on two nodes, a row out of consensus in the first and in the last chunk."""
    rows = 9_300
    units = np.full(rows, MAX_COMPLEXITY_UNITS) - (np.arange(rows) % 2)
    quality = np.full(rows, PPB) - (np.arange(rows) % 3)
    epoch = {
        "node_index": np.arange(rows) % 2,
        "complexity_units": units,
        "quality_ppb": quality,
        "in_consensus": ~np.isin(np.arange(rows), [3, rows - 2]),
        "precommitted": np.ones(rows, dtype=bool),
        "reputation_ppb": [PPB, PPB // 3],
        "stream_amount": 10**30,
        "params": LENIENT,
    }
    assert not wr._products_fit_int64(units, quality)
    with patch.object(wr, "PRODUCT_CHUNK", chunk):
        result = compute_work_rewards(**epoch)
    assert result == compute_work_rewards_reference(**epoch)
    on_node = [epoch["in_consensus"] & (np.arange(rows) % 2 == n) for n in range(2)]
    assert list(result.work) == [sum(int(u) * int(q) for u, q in zip(units[rows_of], quality[rows_of], strict=True)) for rows_of in on_node]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), st.integers(0, 40), FLAG_SHARES, FLAG_SHARES, st.data())
def test_sums_over_the_rows_kept_equal_the_reference(nodes: int, rows: int, consensus: str, precommit: str, data: st.DataObject) -> None:
    """The counts and sums over the rows in consensus (precommitted) are the sums over every row less those over the
    rows left out: the same results as the per-row reference whether every row, some or none is in consensus or
    precommitted, for miners (units × quality) and validators (agreement, on time), out rows of any quality."""
    idx = data.draw(st.lists(st.integers(0, nodes - 1), min_size=rows, max_size=rows))
    units = data.draw(st.lists(st.integers(0, MAX_COMPLEXITY_UNITS), min_size=rows, max_size=rows))
    quality = data.draw(st.lists(st.integers(0, PPB), min_size=rows, max_size=rows))
    reputation = data.draw(st.lists(st.integers(0, PPB), min_size=nodes, max_size=nodes))
    in_consensus, precommitted = _flags(consensus, rows, data), _flags(precommit, rows, data)
    epoch = {
        "node_index": np.array(idx, dtype=np.int64),
        "complexity_units": np.array(units, dtype=np.int64),
        "quality_ppb": np.array(quality, dtype=np.int64),
        "in_consensus": in_consensus,
        "precommitted": precommitted,
        "reputation_ppb": reputation,
        "stream_amount": 10**24,
        "params": LENIENT,
    }
    result = compute_work_rewards(**epoch)
    assert result == compute_work_rewards_reference(**epoch)
    kept = [sum(u * q for i, u, q, c in zip(idx, units, quality, in_consensus, strict=True) if i == n and c) for n in range(nodes)]
    assert list(result.work) == kept
    on_time = in_consensus
    checks = {"node_index": epoch["node_index"], "agreement_ppb": epoch["quality_ppb"], "on_time": on_time}
    checks |= {"reputation_ppb": reputation, "stream_amount": 10**24, "params": LENIENT}
    assert compute_validator_rewards(**checks) == compute_validator_rewards_reference(**checks)


@settings(max_examples=25, deadline=None)
@given(st.integers(9_100, 9_400), st.integers(0, 3), st.booleans())
def test_rows_out_of_consensus_count_toward_the_int64_bound(rows: int, out: int, out_large: bool) -> None:
    """The sums over every row (the rows out of consensus too) decide between the plain and the split int64 sums: near
    2**63 with rows out of consensus whose products are the largest (past the bound only through them) or zero, both
    paths give the reference's work."""
    units, quality = MAX_COMPLEXITY_UNITS, PPB
    in_consensus = np.arange(rows) >= out
    epoch = {
        "node_index": np.zeros(rows, dtype=np.int64),
        "complexity_units": np.where(in_consensus | out_large, units, 0),
        "quality_ppb": np.where(in_consensus | out_large, quality, 0),
        "in_consensus": in_consensus,
        "precommitted": np.ones(rows, dtype=bool),
        "reputation_ppb": [PPB],
        "stream_amount": 10**27,
        "params": LENIENT,
    }
    fast = compute_work_rewards(**epoch)
    assert fast == compute_work_rewards_reference(**epoch)
    assert fast.work[0] == (rows - out) * units * quality


@settings(max_examples=200, deadline=None)
@given(epochs(), st.booleans())
def test_uint8_units_give_the_int64_units_results(epoch: dict, flags: bool) -> None:
    """Units given as uint8 (``RowColumns.network_units``: the validators' network flags' bytes) stay uint8 in the checked
    rows and give exactly the results of the same units as int64, and the reference's: 0/1 flags or any units up to 255."""
    units = [min(u, 255) if not flags else u % 2 for u in epoch["complexity_units"]]
    wide = dict(epoch, complexity_units=np.array(units, dtype=np.int64))
    narrow = dict(epoch, complexity_units=np.array(units, dtype=np.uint8))
    checked = wr._check_work_rows(**{k: v for k, v in narrow.items() if k != "params"})
    assert checked.complexity_units.dtype == np.uint8 or not units
    assert compute_work_rewards(**narrow) == compute_work_rewards(**wide) == compute_work_rewards_reference(**wide)
