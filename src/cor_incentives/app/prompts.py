"""The prompt set shipped with the package (``data/prompts.jsonl``) and ``--prompts FILE`` sets."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from ..core.network_prompts import composed_prompt, composes_prompts
from ..core.state import State


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


def genesis_prompt_set(prompts: tuple[dict[str, Any], ...] | None = None) -> list[dict[str, Any]]:
    """The genesis ``network_prompts``: the set network tasks are composed from (default: the bundled set)."""
    return [{"id": p["id"], "prompt": p["prompt"], "max_output_tokens": p["max_output_tokens"]} for p in (prompts or load_prompt_set())]


def network_prompt_view(state: State) -> dict[str, Any] | None:
    """The prompt the next ``task.network`` must ask (rule 9 with a genesis prompt set), or None (the oracle names it)."""
    if not composes_prompts(state):
        return None
    c = composed_prompt(state)
    return {
        "parts": list(c.parts),
        "text": c.text,
        "prompt_hash": c.prompt_hash,
        "prompt_bytes": c.prompt_bytes,
        "max_output_tokens": c.max_output_tokens,
    }


def next_network_prompt(state: State, prompts: tuple[dict[str, Any], ...], prompt_id: str | None = None) -> tuple[str, str, int]:
    """(text, label, max_output_tokens) of the oracle's next network task.

    With rule 9 and a genesis prompt set the beacon composes it (label: the parts' ids joined by '+');
    naming a prompt is then refused (``prompt_composed``). Otherwise the oracle names it (``prompt_id``)
    or takes ``pick_prompt``'s."""
    view = network_prompt_view(state)
    if view is not None:
        if prompt_id is not None:
            raise InvalidInput("on this network the beacon composes each network task's prompt; no prompt can be named", code="prompt_composed")
        return view["text"], "+".join(view["parts"]), view["max_output_tokens"]
    p = next((x for x in prompts if x["id"] == prompt_id), None) if prompt_id else pick_prompt(prompts, state.head_hash, state.tick)
    if p is None:
        raise InvalidInput(f"no prompt {prompt_id!r} in the prompt set", code="invalid_prompt")
    return p["prompt"], p["id"], p["max_output_tokens"]
