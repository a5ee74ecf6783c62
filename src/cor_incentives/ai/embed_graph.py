"""The embedding model's encoder graph with integer matrix products (an opt-in compute path).

Concepts
    The pinned all-MiniLM-L6-v2 ONNX file stores every linear layer's weight as int8 with one fp32
    scale per output column (``W = q × s``, symmetric, ``q`` in [-127, 127]), dequantized in the
    graph (``Cast`` → ``Mul``). onnxruntime folds that into an fp32 matrix, so the encoder runs fp32
    GEMMs: 73 % of its time, already at one core's fp32 peak (see ``embedding``'s Speed notes).

    ``int8_model_bytes`` rewrites each such ``MatMul(X, Mul(Cast(q), s))`` into onnxruntime's
    ``com.microsoft.MatMulNBits`` (8 bits, ``accuracy_level`` 4) carrying **the same weights**: the
    stored bytes are ``q + 128`` (the op's default zero point for 8 bits is 128) and every block's
    scale is the column's ``s``, so the op dequantizes to exactly the file's ``q × s`` (checked by
    ``dequantized_weights`` and tests). With ``accuracy_level`` 4 onnxruntime quantizes each row of
    ``X`` per block of ``block_size`` inputs to int8 (symmetric, its own scale per block) and runs
    int8 × int8 dot products with int32 sums (AVX-512 VNNI here), then scales and adds the blocks'
    sums in fp32. Nothing else in the graph changes (attention, softmax, GELU, layer norms stay fp32).

Accuracy and speed (``bench/embed_int8.py`` on the PoI calibration outputs; why it is not the default)
    Rounding each block of activations to 8 bits moves the vectors, and the rounding amplifies
    last-bit differences: a vector depends on the kernel's row tiling, so the int8 path runs each
    text alone (``embedding.INT8_BATCH_SIZE``), which keeps a text's vector independent of the other
    texts and of the thread count (tested). Against the exact fp32 path, on all 2 989 distinct
    calibration outputs (19 732 pairs of outputs of one prompt): distance drift median 2.6 M ppb,
    99th percentile 11.2 M, max 19.0 M (block 128); on 60 prompts blocks of 64 / 32 drifted about as
    much (max 12 M against 17 M) and gained less; int8 only after layer norms (Q, K, V, FFN in)
    drifted as much (19 M) for no gain. Speed: 1.12× the fp32 path on the calibration outputs
    (1.32× against the fair batch-32 baseline, fp32 1.18×), 1.25× on bench/embed.py's shorter texts. The whole
    calibration re-measured on this path (``nodes.poi_calibration.measure``): aggregate honest-in and
    cheat-out rates within 0.002 of the recorded ones, but per cheat class up to 0.012 (lazy +0.011,
    off-topic −0.012 under the model validator's consensus), beyond the rates test's 0.005, and the
    calibrated threshold 849 M instead of 850 M ppb. So ``Embedder()`` keeps the exact fp32 path;
    ``INT8_MAX_DISTANCE_DRIFT_PPB`` is the tolerance the int8 path is held to (tests, bench).

Determinism
    The conversion is a pure function of the pinned model file's bytes and ``block_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INT8_BLOCK_SIZE = 128  # inputs per activation-quantization block (K = 384 and 1536 are multiples)
INT8_ACCURACY_LEVEL = 4  # MatMulNBits: quantize the activations to int8, integer dot products
INT8_ZERO_POINT = 128  # MatMulNBits' default zero point for 8-bit weights (unsigned storage)
INT8_MAX_DISTANCE_DRIFT_PPB = 30_000_000  # stated tolerance: |distance(int8) − distance(fp32)| on calibration pairs


class EmbeddingGraphError(RuntimeError):
    """The model file is not the weight-only int8 graph this rewrite expects."""


def int8_model_bytes(model: Path, block_size: int = INT8_BLOCK_SIZE) -> bytes:
    """The serialized model with every int8-weight MatMul replaced by an 8-bit MatMulNBits."""
    import onnx
    from onnx import helper, numpy_helper

    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(f"block_size must be a power of two >= 16, got {block_size}")
    proto = onnx.load(str(model))
    graph = proto.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    nodes = []
    replaced: set[str] = set()
    added = []
    for node in graph.node:
        weight = _int8_weight(node, producer, initializers)
        if weight is None:
            nodes.append(node)
            continue
        mul, cast = weight
        q = numpy_helper.to_array(initializers[cast.input[0]])
        scale = numpy_helper.to_array(initializers[mul.input[1]])
        k, n = q.shape
        if q.dtype != np.int8 or scale.shape != (1, n) or scale.dtype != np.float32 or k % block_size:
            raise EmbeddingGraphError(f"{node.name}: weight {q.dtype}{list(q.shape)}, scale {list(scale.shape)} is not per-column int8")
        if int(q.min()) < -127:
            raise EmbeddingGraphError(f"{node.name}: weight holds -128, which is not a symmetric int8 weight")
        blocks = k // block_size
        packed = (q.T.astype(np.int16) + INT8_ZERO_POINT).astype(np.uint8).reshape(n, blocks, block_size)
        scales = np.repeat(scale.reshape(n, 1), blocks, axis=1)
        packed_name, scales_name = f"{node.name}/int8_weight", f"{node.name}/int8_scale"
        added += [numpy_helper.from_array(packed, packed_name), numpy_helper.from_array(scales, scales_name)]
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], packed_name, scales_name],
                list(node.output),
                name=f"{node.name}/int8",
                domain="com.microsoft",
                K=k,
                N=n,
                bits=8,
                block_size=block_size,
                accuracy_level=INT8_ACCURACY_LEVEL,
            )
        )
        replaced.update((mul.name, cast.name))
    if not added:
        raise EmbeddingGraphError("no int8-weight MatMul found in the model")
    still_used = {i for node in nodes if node.name not in replaced for i in node.input}
    kept = [node for node in nodes if node.name not in replaced or any(o in still_used for o in node.output)]
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(added)
    if not any(o.domain == "com.microsoft" for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return bytes(proto.SerializeToString())


def _int8_weight(node: object, producer: dict, initializers: dict) -> tuple[object, object] | None:
    """(Mul, Cast) when ``node`` is ``MatMul(X, Mul(Cast(int8 initializer), scale initializer))``."""
    if getattr(node, "op_type", None) != "MatMul":
        return None
    mul = producer.get(node.input[1])  # type: ignore[attr-defined]
    if mul is None or mul.op_type != "Mul" or mul.input[1] not in initializers:
        return None
    cast = producer.get(mul.input[0])
    if cast is None or cast.op_type != "Cast" or cast.input[0] not in initializers:
        return None
    if len(initializers[cast.input[0]].dims) != 2:
        return None
    return mul, cast


def dequantized_weights(model_bytes: bytes) -> dict[str, np.ndarray]:
    """Each MatMulNBits node's weight as the op computes it: (stored byte − 128) × block scale, [K, N]."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_from_string(model_bytes)
    initializers = {i.name: i for i in proto.graph.initializer}
    out = {}
    for node in proto.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        packed = numpy_helper.to_array(initializers[node.input[1]]).astype(np.int16) - INT8_ZERO_POINT
        scales = numpy_helper.to_array(initializers[node.input[2]])
        n, blocks, block = packed.shape
        out[node.name] = (packed.astype(np.float32) * scales.reshape(n, blocks, 1)).reshape(n, blocks * block).T
    return out
