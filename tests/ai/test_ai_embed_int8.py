"""The embedder's int8 compute path (ai.embed_graph) with the real all-MiniLM-L6-v2 int8 ONNX file."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from cor_incentives.ai import embed_graph, embedding
from cor_incentives.ai.embedding import Embedder, locate_model_files
from cor_incentives.ai.poi import pairwise_distances_ppb

DATA = Path(__file__).resolve().parents[2] / "data" / "poi-calibration"
TEXTS = [
    "The capital of Australia is Canberra.",
    "hi",
    "",
    "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]",
    "TCP is connection-oriented and reliable; UDP is connectionless and lighter. " * 2,
    '{"name": "Tokyo", "country": "Japan", "population": 14000000}',
    "Proof of stake selects validators in proportion to the tokens they lock as collateral. " * 3,
    "asdkj qwe zzxq lkjfd pqowieur mnbvx",
]


@pytest.fixture(scope="module")
def int8():
    return Embedder(cache_size=0, compute=embedding.COMPUTE_INT8)


@pytest.fixture(scope="module")
def fp32():
    return Embedder(cache_size=0, compute=embedding.COMPUTE_FP32)


def test_validators_run_the_exact_path_by_default():
    assert embedding.DEFAULT_COMPUTE == embedding.COMPUTE_FP32
    assert embedding.get_embedder().compute == embedding.COMPUTE_FP32


def test_the_int8_graph_carries_the_files_weights_exactly():
    """Every rewritten MatMul dequantizes to the file's Cast(q) × scale, bit for bit."""
    import onnx
    from onnx import numpy_helper

    path = locate_model_files().model
    rewritten = embed_graph.dequantized_weights(embed_graph.int8_model_bytes(path))
    proto = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    producer = {o: n for n in proto.graph.node for o in n.output}
    expected = {}
    for node in proto.graph.node:
        if node.op_type == "MatMul" and node.input[1] in producer and producer[node.input[1]].op_type == "Mul":
            mul = producer[node.input[1]]
            cast = producer.get(mul.input[0])
            if cast is None or cast.op_type != "Cast" or cast.input[0] not in init:
                continue  # attention's scaled product: activations on both sides
            expected[f"{node.name}/int8"] = init[cast.input[0]].astype(np.float32) * init[mul.input[1]]
    assert len(expected) == 36  # 6 layers × (Q, K, V, attention out, FFN in, FFN out)
    assert sorted(rewritten) == sorted(expected)
    for name, weight in expected.items():
        assert rewritten[name].dtype == np.float32 and rewritten[name].tobytes() == weight.tobytes(), name


def test_int8_vectors_do_not_depend_on_the_other_texts_or_threads(int8):
    alone = [int8.embed([t])[0].tobytes() for t in TEXTS]
    rng = random.Random(11)
    for _ in range(4):
        picked = rng.sample(range(len(TEXTS)), rng.randint(2, len(TEXTS)))
        assert [row.tobytes() for row in int8.embed([TEXTS[i] for i in picked])] == [alone[i] for i in picked]
    two_threads = Embedder(cache_size=0, compute=embedding.COMPUTE_INT8, intra_op_threads=2)
    assert [row.tobytes() for row in two_threads.embed(TEXTS)] == alone
    assert int8.batch_size == embedding.INT8_BATCH_SIZE == 1


def test_int8_distances_stay_within_the_stated_tolerance(int8, fp32):
    """On the test texts and on the calibration outputs of a few prompts (every cheat class among them)."""
    groups = [TEXTS]
    by: dict[str, list[str]] = {}
    for line in (DATA / "outputs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["prompt_id"] in ("p0001", "p0002", "p0003"):
            by.setdefault(row["prompt_id"], []).append(row["text"])
    groups += list(by.values())
    assert sum(len(g) for g in groups) > 30
    worst = 0
    for texts in groups:
        quick, exact = int8.embed(texts), fp32.embed(texts)
        np.testing.assert_allclose(np.linalg.norm(quick.astype(np.float64), axis=1), 1.0, atol=1e-6)
        drift = np.abs(np.array(pairwise_distances_ppb(quick)) - np.array(pairwise_distances_ppb(exact)))
        worst = max(worst, int(drift.max()))
    assert 0 < worst <= embed_graph.INT8_MAX_DISTANCE_DRIFT_PPB  # not the same bits, within the tolerance


def test_bad_compute_and_block_are_refused(tmp_path):
    with pytest.raises(ValueError, match="compute must be one of int8, fp32"):
        Embedder(compute="fp16")
    with pytest.raises(ValueError, match="block_size"):
        embed_graph.int8_model_bytes(locate_model_files().model, block_size=48)


def test_a_model_without_int8_weights_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
    node = helper.make_node("MatMul", ["X", "W"], ["Y"])
    graph = helper.make_graph(
        [node],
        "plain",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(embed_graph.EmbeddingGraphError, match="no int8-weight MatMul"):
        embed_graph.int8_model_bytes(path)
