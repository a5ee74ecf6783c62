"""The prompt set shipped with the package (``data/prompts.jsonl``) and ``--prompts FILE`` sets."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput


def estimate_tokens(text: str) -> int:
    """A model-independent estimate of a prompt's tokens: UTF-8 bytes / 4, rounded up (at least 1)."""
    return max(1, -(-len(text.encode("utf-8")) // 4))


@lru_cache(maxsize=4)
def load_prompt_set(path: str | None = None) -> tuple[dict[str, Any], ...]:
    """Prompts as dicts with id, prompt, max_output_tokens (and kind); refuses malformed lines."""
    if path is None:
        text = resources.files("cor_incentives").joinpath("data/prompts.jsonl").read_text()
        source = "bundled prompt set"
    else:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"prompt file {p} does not exist", code="invalid_prompts")
        text, source = p.read_text(), str(p)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InvalidInput(f"{source} line {n}: not JSON ({exc})", code="invalid_prompts") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
            raise InvalidInput(f'{source} line {n}: needs a non-empty "prompt" string', code="invalid_prompts")
        mot = obj.get("max_output_tokens", 96)
        if isinstance(mot, bool) or not isinstance(mot, int) or not 1 <= mot <= 4096:
            raise InvalidInput(f"{source} line {n}: max_output_tokens must be an integer in [1, 4096]", code="invalid_prompts")
        out.append({"id": str(obj.get("id", f"line{n}")), "prompt": obj["prompt"], "max_output_tokens": mot, "kind": obj.get("kind", "question")})
    if not out:
        raise InvalidInput(f"{source} has no prompts", code="invalid_prompts")
    return tuple(out)


def pick_prompt(prompts: tuple[dict[str, Any], ...], head_hash: str, tick: int) -> dict[str, Any]:
    """Deterministic choice from the log head and tick (the oracle's network-task schedule)."""
    i = int.from_bytes(hashlib.sha256(f"{head_hash}|{tick}".encode()).digest()[:8], "big") % len(prompts)
    return prompts[i]
