"""Network prompts: composed by the beacon from the genesis prompt set (rule 9, docs/design.md §4).

Why
    Network tasks are issued by the oracle. Before rule 9 it named each task's prompt, taken from a
    finite set, so prompts came back and a miner could replay the output published for an earlier
    task without running a model (the copier). A nonce added to the prompt does not stop that: it
    does not change the answer, so the earlier answer to the same text still fits.

The rule (from ``RULES_NETWORK_PROMPTS``, on a network whose genesis holds ``network_prompts``)
    seed    = sha256(v ‖ "network-prompt:" ‖ n)
              v: the last revealed beacon value (the log head on a network without a beacon),
              n: the oracle's last used nonce (moves with each of its commands, and only with them)
    parts   = ``network_prompt_parts`` distinct positions in the set, each the first not yet taken of
              int(sha256(seed ‖ ":" ‖ j)[:8]) mod N, for j = 0, 1, ...   (N: prompts in the set)
    prompt  = the part's text when one part; otherwise
              "Answer each of these K parts in order, numbering your answers." followed, for each part
              i = 1..K, by a blank line and "i. " + the part's text
    budget  = the sum of the parts' max_output_tokens; prompt_bytes = the prompt's UTF-8 length

    A ``task.network`` must name exactly that prompt (its sha256 as ``prompt_hash`` and its bytes) and
    a max_output_tokens of at most the budget; anything else is refused with ``network_prompt_mismatch``. The oracle only
    says *when* a network task is issued, never *what* it asks; ``cor verify`` recomputes every
    prompt from the log (the genesis set and the beacon values).

How often prompts repeat
    K parts from N prompts make N!/(N-K)! ordered instances, N!/(K!(N-K)!) sets of parts (300
    prompts, K = 2: 89 700 and 44 850). After T network tasks about T²/(2·sets) pairs of tasks asked
    the same parts (1 050 tasks: ~12). The published answer to an equal prompt (or to the same parts
    in another order) is what a copier can replay. What this rule does not stop: an answer stitched
    from answers to single parts seen in earlier tasks; only PoI and the quality score can judge that
    (scripts/network_prompts_check.py measures it with the real models: most such replays pass PoI).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import perm
from typing import Any

from .errors import Conflict, InvalidInput, invariant
from .records import NetworkPrompt
from .rules import RULES_NETWORK_PROMPTS, rules_since
from .state import State

MAX_SET_SIZE = 4_096
MAX_PART_BYTES = 4_096
MAX_PART_OUTPUT_TOKENS = 4_096
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class ComposedPrompt:
    """A network task's prompt as the rule composes it."""

    parts: tuple[str, ...]  # ids of the base prompts, in order
    text: str
    prompt_hash: str
    prompt_bytes: int
    max_output_tokens: int


def parse_prompt_set(spec: Any) -> tuple[NetworkPrompt, ...]:
    """The genesis ``network_prompts``: [{id, prompt, max_output_tokens}, ...], ids unique (or refused)."""
    if spec is None:
        return ()
    if not isinstance(spec, list) or not 1 <= len(spec) <= MAX_SET_SIZE:
        raise InvalidInput(f"network_prompts must be a list of 1-{MAX_SET_SIZE} prompts", code="invalid_prompt_set")
    out: list[NetworkPrompt] = []
    seen: set[str] = set()
    for i, item in enumerate(spec):
        if not isinstance(item, dict) or set(item) != {"id", "prompt", "max_output_tokens"}:
            raise InvalidInput(f"network_prompts[{i}] must be {{id, prompt, max_output_tokens}}", code="invalid_prompt_set")
        pid, text, mot = item["id"], item["prompt"], item["max_output_tokens"]
        if not isinstance(pid, str) or not 1 <= len(pid) <= 64 or not set(pid) <= _ID_CHARS or pid in seen:
            raise InvalidInput(f"network_prompts[{i}].id must be a new id of 1-64 letters, digits, '.', '_' or '-'", code="invalid_prompt_set")
        if not isinstance(text, str) or not text.strip() or len(text.encode("utf-8")) > MAX_PART_BYTES:
            raise InvalidInput(f"network_prompts[{i}].prompt must be non-empty text of at most {MAX_PART_BYTES} bytes", code="invalid_prompt_set")
        if isinstance(mot, bool) or not isinstance(mot, int) or not 1 <= mot <= MAX_PART_OUTPUT_TOKENS:
            raise InvalidInput(
                f"network_prompts[{i}].max_output_tokens must be an integer in [1, {MAX_PART_OUTPUT_TOKENS}]", code="invalid_prompt_set"
            )
        seen.add(pid)
        out.append(NetworkPrompt(pid, text, mot))
    return tuple(out)


def composes_prompts(state: State) -> bool:
    """Whether network prompts are the rule's (rule 9 in force and a prompt set in the genesis)."""
    return bool(state.network_prompts) and rules_since(state.params, RULES_NETWORK_PROMPTS)


def prompt_seed(value: str, oracle_nonce: int) -> bytes:
    """sha256(v ‖ "network-prompt:" ‖ n): v the last beacon value (or the log head), n the oracle's last nonce."""
    return hashlib.sha256(bytes.fromhex(value[2:]) + f"network-prompt:{oracle_nonce}".encode()).digest()


def draw_parts(seed: bytes, size: int, k: int) -> tuple[int, ...]:
    """``min(k, size)`` distinct positions in a set of ``size``, in the order drawn."""
    invariant(size >= 1 and k >= 1, "draw_parts: an empty set or no parts")
    want, j = min(k, size), 0
    chosen: list[int] = []
    while len(chosen) < want:
        i = int.from_bytes(hashlib.sha256(seed + f":{j}".encode()).digest()[:8], "big") % size
        if i not in chosen:
            chosen.append(i)
        j += 1
    return tuple(chosen)


def compose(parts: tuple[NetworkPrompt, ...]) -> str:
    """The prompt of a task made of ``parts`` (one part: its text)."""
    if len(parts) == 1:
        return parts[0].prompt
    head = f"Answer each of these {len(parts)} parts in order, numbering your answers."
    return head + "".join(f"\n\n{i}. {p.prompt}" for i, p in enumerate(parts, 1))


def compose_prompt(prompt_set: tuple[NetworkPrompt, ...], k: int, value: str, oracle_nonce: int) -> ComposedPrompt:
    """The prompt composed from ``prompt_set`` for beacon value (or head) ``value`` and the oracle's last nonce."""
    chosen = tuple(prompt_set[i] for i in draw_parts(prompt_seed(value, oracle_nonce), len(prompt_set), k))
    text = compose(chosen)
    data = text.encode("utf-8")
    return ComposedPrompt(
        parts=tuple(p.id for p in chosen),
        text=text,
        prompt_hash="0x" + hashlib.sha256(data).hexdigest(),
        prompt_bytes=len(data),
        max_output_tokens=sum(p.max_output_tokens for p in chosen),
    )


def composed_prompt(state: State) -> ComposedPrompt:
    """The prompt the next ``task.network`` must ask (anyone computes it from the same state: views show it)."""
    invariant(bool(state.network_prompts), "composed_prompt: no prompt set")
    value = state.beacon.value if state.beacon is not None else state.head_hash
    return compose_prompt(state.network_prompts, state.params.network_prompt_parts, value, state.nonces.get(state.oracle, 0))


def check_network_prompt(state: State, prompt_hash: str, prompt_bytes: int, max_output_tokens: int) -> None:
    """Refuse a network task that does not ask the composed prompt (``network_prompt_mismatch``); its output
    budget may be below the parts' sum (a network with small miners), never above."""
    c = composed_prompt(state)
    if (prompt_hash, prompt_bytes) != (c.prompt_hash, c.prompt_bytes) or max_output_tokens > c.max_output_tokens:
        raise Conflict(
            f"a network task asks the prompt the beacon composed ({'+'.join(c.parts)}): prompt_hash {c.prompt_hash}, "
            f"prompt_bytes {c.prompt_bytes}, max_output_tokens at most {c.max_output_tokens}",
            code="network_prompt_mismatch",
            prompt_hash=c.prompt_hash,
            prompt_bytes=c.prompt_bytes,
            max_output_tokens=c.max_output_tokens,
        )


def instances(size: int, k: int) -> int:
    """Distinct prompts the rule can compose from a set of ``size`` with ``k`` parts: size!/(size-k)!."""
    return perm(size, min(k, size))
