"""Proof of Inference: medoid math on hand-made vectors, then distances with the real model."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.ai.embedding import get_embedder
from cor_incentives.ai.poi import (
    MAX_DISTANCE_PPB,
    MAX_OUTPUTS,
    TASK_SPREAD_CAP_PPB,
    compute_poi,
    distances_from_vectors,
    medoid_from_distances,
    medoid_index,
    pairwise_distances_ppb,
    poi_distances_ppb,
    poi_from_vectors,
    ranked_distances_ppb,
    reported_distances_ppb,
)

# this test's own line between a paraphrase and an unrelated text (the governed default, params.poi_max_distance_ppb, is looser)
POI_MAX_DISTANCE_PPB = 150_000_000
CASES = json.loads((Path(__file__).parent / "quality_cases.json").read_text())


# -- hand-made vectors (no model) ---------------------------------------------------------------


def test_identical_vectors_are_at_distance_zero():
    assert distances_from_vectors([[0.6, 0.8], [0.6, 0.8], [0.6, 0.8]]) == [0, 0, 0]


def test_medoid_is_the_vector_closest_to_all_others():
    # distances: d01 = 0.2, d02 = 1, d12 = 0.4 → sums 1.2, 0.6, 1.4 → medoid 1
    vectors = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    result = poi_from_vectors(vectors)
    assert result.medoid_index == 1
    expected = [200_000_000, 0, 400_000_000]
    assert all(abs(d - e) <= 1 for d, e in zip(result.distances_ppb, expected))


def test_distance_is_the_floor_of_one_minus_cosine():
    # cos([3, 4], [4, 3]) = 24/25 = 0.96
    matrix = pairwise_distances_ppb([[3.0, 4.0], [4.0, 3.0]])
    assert matrix == [[0, 40_000_000], [40_000_000, 0]]
    # cos = 1/sqrt(2): distance 0.2928932188… → floor
    (_, d), _ = pairwise_distances_ppb([[1.0, 0.0], [1.0, 1.0]])
    assert d == math.floor((1 - 1 / math.sqrt(2)) * 1e9)


def test_ties_go_to_the_lowest_index():
    assert medoid_from_distances([[0, 5], [5, 0]]) == 0
    assert poi_from_vectors([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).medoid_index == 0


def test_opposite_vectors_are_at_the_maximum_distance():
    assert distances_from_vectors([[1.0, 0.0], [-1.0, 0.0]]) == [0, MAX_DISTANCE_PPB]


def test_one_output_is_its_own_medoid():
    assert distances_from_vectors([[0.1, 0.2, 0.3]]) == [0]


def test_outlier_is_far_and_cluster_is_near():
    vectors = [[1.0, 0.05, 0.0], [1.0, 0.0, 0.05], [1.0, 0.02, 0.02], [0.0, 0.0, 1.0]]
    result = poi_from_vectors(vectors)
    assert result.medoid_index in (0, 1, 2)
    assert max(result.distances_ppb[:3]) < POI_MAX_DISTANCE_PPB < result.distances_ppb[3]


def test_results_are_plain_ints():
    result = poi_from_vectors(np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0]], dtype=np.float32))
    assert type(result.medoid_index) is int
    assert all(type(d) is int for d in result.distances_ppb)


@pytest.mark.parametrize(
    "vectors, message",
    [
        ([], "at least one output"),
        ([[0.0, 0.0], [1.0, 0.0]], "vector 0 is all zeros"),
        ([[1.0, float("nan")]], "finite"),
        ([[1.0, 0.0], [1.0]], "2-D"),
        ([[1.0]] * (MAX_OUTPUTS + 1), "at most"),
    ],
)
def test_bad_vectors_are_refused_with_a_clear_message(vectors, message):
    with pytest.raises(ValueError, match=message):
        distances_from_vectors(vectors)


def test_empty_output_list_is_refused():
    with pytest.raises(ValueError, match="at least one output"):
        poi_distances_ppb([])


vector_lists = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(min_value=-50, max_value=50), min_size=4, max_size=4).filter(any),
        min_size=n,
        max_size=n,
    )
)


@settings(max_examples=150, deadline=None)
@given(vector_lists)
def test_properties_of_the_distances(vectors):
    result = poi_from_vectors(vectors)
    assert result.distances_ppb[result.medoid_index] == 0
    assert all(0 <= d <= MAX_DISTANCE_PPB for d in result.distances_ppb)
    # scaling by a power of two is exact in floating point: identical integers
    assert poi_from_vectors([[4.0 * x for x in v] for v in vectors]) == result
    # the matrix is symmetric and the medoid has the smallest row sum
    matrix = pairwise_distances_ppb(vectors)
    assert all(matrix[i][j] == matrix[j][i] for i in range(len(vectors)) for j in range(len(vectors)))
    assert sum(matrix[result.medoid_index]) == min(sum(row) for row in matrix)


# -- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def test_identical_outputs_have_distance_about_zero(embedder):
    text = CASES["cases"][1]["answers"]["good"]
    distances = poi_distances_ppb([text, text, text], embedder)
    assert all(d < 1_000_000 for d in distances)


def test_a_paraphrase_is_closer_than_an_unrelated_text(embedder):
    for case in CASES["cases"]:
        answers = case["answers"]
        if "paraphrase" not in answers or "unrelated" not in answers:
            continue
        vectors = embedder.embed([answers["good"], answers["paraphrase"], answers["unrelated"]])
        matrix = pairwise_distances_ppb(vectors)
        assert matrix[0][1] < matrix[0][2], case["id"]


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["id"])
def test_unrelated_and_garbage_outputs_fall_outside_the_default_threshold(embedder, case):
    consistent = [case["answers"]["good"], *case["consistent"]]
    outliers = [CASES["generic_answers"]["garbage"]]
    if "unrelated" in case["answers"]:
        outliers.append(case["answers"]["unrelated"])
    for outlier in outliers:
        result = compute_poi([*consistent, outlier], embedder)
        assert result.medoid_index < len(consistent), case["id"]
        assert result.distances_ppb[-1] > POI_MAX_DISTANCE_PPB, (case["id"], result.distances_ppb)


def test_medoid_index_agrees_with_the_distances(embedder):
    case = CASES["cases"][7]
    outputs = [case["answers"]["unrelated"], case["answers"]["good"], *case["consistent"]]
    distances = poi_distances_ppb(outputs, embedder)
    assert distances[medoid_index(outputs, embedder)] == 0
    assert medoid_index(outputs, embedder) != 0


def test_reported_distances_take_the_task_spread_off():
    D = 850_000_000
    names = ["a", "b", "c"]
    # two valid outputs 0.96 apart and one below the floor: the spread is 0.96, the task's threshold 0.96,
    # so the far one is reported at exactly 0.85 (in); the output below the floor moves by the same 0.11
    matrix = [[0, 960_000_000, 1_200_000_000], [960_000_000, 0, 1_100_000_000], [1_200_000_000, 1_100_000_000, 0]]
    quality = [900_000_000, 700_000_000, 50_000_000]
    assert ranked_distances_ppb(matrix, quality, names, 300_000_000) == [0, 960_000_000, 1_200_000_000]
    assert reported_distances_ppb(matrix, quality, names, 300_000_000, D) == [0, D, 1_090_000_000]
    # with two valid outputs the spread is their distance, whatever it is (up to the cap): both are in
    matrix[0][1] = matrix[1][0] = 960_000_001
    assert reported_distances_ppb(matrix, quality, names, 300_000_000, D)[:2] == [0, D]
    # two valid outputs that agree: no allowance, a valid third far from both is reported as measured
    agree = [[0, 200_000_000, 900_000_000], [200_000_000, 0, 950_000_000], [900_000_000, 950_000_000, 0]]
    assert reported_distances_ppb(agree, [900_000_000, 800_000_000, 700_000_000], names, 300_000_000, D) == [0, 200_000_000, 900_000_000]
    # the allowance is capped: a spread beyond TASK_SPREAD_CAP_PPB loosens the threshold to the cap only
    apart = [[0, 1_500_000_000], [1_500_000_000, 0]]
    assert TASK_SPREAD_CAP_PPB < 1_500_000_000
    assert reported_distances_ppb(apart, [900_000_000, 800_000_000], names[:2], 300_000_000, D) == [0, 1_500_000_000 - (TASK_SPREAD_CAP_PPB - D)]
    # the threshold is never tightened: a threshold above the cap gets no allowance and no penalty
    assert reported_distances_ppb(apart, [900_000_000, 800_000_000], names[:2], 300_000_000, 1_800_000_000) == [0, 1_500_000_000]
    # nothing above the floor: no reference, every output at the maximum (as ranked_distances_ppb)
    assert reported_distances_ppb(matrix, [10, 20, 30], names, 300_000_000, D) == [MAX_DISTANCE_PPB] * 3


def test_medoid_is_chosen_among_the_outputs_above_the_quality_floor():
    # two cheaters close to each other, one honest output far from both: 2 of 3 miners cheat
    matrix = [[0, 300, 950], [300, 0, 940], [950, 940, 0]]
    quality = [50, 60, 800]
    names = ["cheat-a", "cheat-b", "honest"]
    # without a floor the cheaters' summed distances win: the honest output is measured from a cheater
    assert ranked_distances_ppb(matrix, quality, names) == [300, 0, 940]
    # with the floor only the honest output can be the reference: it is at 0, the cheaters far
    assert ranked_distances_ppb(matrix, quality, names, 300) == [950, 940, 0]
    # no output passes: no reference, nobody in consensus (the medoid of all would put cheat-b at 0)
    assert ranked_distances_ppb(matrix, quality, names, 900) == [MAX_DISTANCE_PPB] * 3
    # two candidates: their summed distances to each other tie, so the better one is the reference
    # (cheat-a here, although cheat-b is closer to the output below the floor)
    assert ranked_distances_ppb(matrix, [500, 400, 10], names, 300) == [0, 300, 950]
