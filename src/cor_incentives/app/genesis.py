"""Genesis: the built-in devnet genesis, and genesis files (TOML or JSON).

Devnet defaults (docs/design.md §2): supply 1 000 000 000 COR; ``pool:network_incentives`` 250 M,
``pool:staking`` 100 M, ``treasury`` 150 M, and 500 M in genesis wallets: ``faucet`` 399 M, ``modeldev`` 1 M (owner of the
bundled model, registered by ``cor init``) and ``alice``, ``bob``, ``carol``, ``dave`` 25 M each.

A genesis file has ``chain_id``, optional ``params`` (any subset; the rest default), ``allocations``
(account → COR decimal string; accounts are ``wallet:0x…``, pools or ``treasury``) and
``key_allocations`` (local key name → COR), for which ``cor init`` creates keys.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput
from ..core.params import params_from_dict
from ..core.rules import LATEST as LATEST_RULES
from ..core.units import parse_cor
from .prompts import genesis_prompt_set

DEVNET_CHAIN_ID = "cor-devnet-1"

DEVNET = {
    "chain_id": DEVNET_CHAIN_ID,
    "params": {},
    "allocations": {
        "pool:network_incentives": "250000000",
        "pool:staking": "100000000",
        "treasury": "150000000",
    },
    "key_allocations": {
        "faucet": "399000000",
        "modeldev": "1000000",
        "alice": "25000000",
        "bob": "25000000",
        "carol": "25000000",
        "dave": "25000000",
    },
}


def load_genesis_file(path: str | Path) -> dict[str, Any]:
    """Read and check a genesis file (``.toml`` or ``.json``)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"genesis file {p} does not exist", code="genesis_file_missing")
    try:
        data = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
    except (ValueError, tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: nested past the interpreter's limit
        raise InvalidInput(f"genesis file {p} cannot be parsed: {exc}", code="invalid_genesis") from None
    return check_genesis_spec(data)


def check_genesis_spec(data: Any) -> dict[str, Any]:
    """Validate a genesis spec (before keys are created or anything is written)."""
    if not isinstance(data, dict):
        raise InvalidInput("genesis must be an object", code="invalid_genesis")
    unknown = set(data) - {"chain_id", "params", "allocations", "key_allocations"}
    if unknown:
        raise InvalidInput(f"unknown genesis field(s): {', '.join(sorted(unknown))}", code="invalid_genesis")
    chain_id = data.get("chain_id", DEVNET_CHAIN_ID)
    if not isinstance(chain_id, str) or not 1 <= len(chain_id) <= 64:
        raise InvalidInput("chain_id must be a string of 1-64 characters", code="invalid_genesis")
    params_from_dict(data.get("params", {}))
    for section in ("allocations", "key_allocations"):
        alloc = data.get(section, {})
        if not isinstance(alloc, dict):
            raise InvalidInput(f"{section} must be an object", code="invalid_genesis")
        for v in alloc.values():
            parse_cor(str(v))
    if not data.get("allocations") and not data.get("key_allocations"):
        raise InvalidInput("genesis allocates nothing", code="invalid_genesis")
    return {
        "chain_id": chain_id,
        "params": dict(data.get("params", {})),
        "allocations": dict(data.get("allocations", {})),
        "key_allocations": dict(data.get("key_allocations", {})),
    }


def genesis_body(
    spec: dict[str, Any], oracle: str, key_addresses: dict[str, str], prompts: tuple[dict[str, Any], ...] | None = None
) -> dict[str, Any]:
    """The genesis event body: allocations in base units (decimal strings), and the prompt set network
    tasks are composed from (``prompts``; default: the bundled set)."""
    allocations: dict[str, str] = {}
    for account, cor in spec["allocations"].items():
        allocations[account] = str(parse_cor(str(cor)))
    for name, cor in spec["key_allocations"].items():
        account = f"wallet:{key_addresses[name]}"
        allocations[account] = str(int(allocations.get(account, "0")) + parse_cor(str(cor)))
    supply = sum(int(v) for v in allocations.values())
    params = {"rule_version": LATEST_RULES, **spec["params"]}  # a new network runs the newest rules
    return {
        "chain_id": spec["chain_id"],
        "oracle": oracle,
        "params": params,
        "allocations": allocations,
        "supply": str(supply),
        "network_prompts": genesis_prompt_set(prompts),  # network tasks are composed from it (core/network_prompts.py)
    }
