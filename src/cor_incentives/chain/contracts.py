"""The compiled contracts (``artifacts/*.json``, written by ``make contracts`` with solc-js).

``CorToken``: the COR ERC-20 (OpenZeppelin), fixed supply minted to one holder.
``RewardsDistributor``: per epoch the Merkle root, the funded total and the log anchor; ``claim``
pays a leaf once. Its custom errors are decoded here into the codes ``ChainError`` carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi import decode
from eth_hash.auto import keccak

CONTRACTS = ("CorToken", "RewardsDistributor")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]


@cache
def artifact(name: str) -> Artifact:
    """One compiled contract from the package's artifacts."""
    if name not in CONTRACTS:
        raise KeyError(name)
    data = json.loads(resources.files(__package__).joinpath("artifacts", f"{name}.json").read_text())
    return Artifact(name, data["abi"], data["bytecode"], data["deployedBytecode"], data["compiler"])


# custom error name -> ChainError code
ERROR_CODES = {
    "EmptyRoot": "empty_root",
    "EpochAlreadyPosted": "epoch_already_posted",
    "EpochNotPosted": "epoch_not_posted_onchain",
    "AlreadyClaimed": "already_claimed_onchain",
    "InvalidProof": "invalid_proof",
    "EpochTotalExceeded": "epoch_total_exceeded",
    "OwnableUnauthorizedAccount": "not_publisher",
    "ERC20InsufficientBalance": "insufficient_token_balance",
    "ERC20InsufficientAllowance": "insufficient_allowance",
}


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    out: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in CONTRACTS:
        for item in artifact(name).abi:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
                out[selector] = (item["name"], types, [i["name"] for i in item["inputs"]])
    return out


def decode_revert(data: str | bytes | None) -> tuple[str, dict[str, Any]] | None:
    """The custom error (name, arguments) in revert data, or None when it is not one of ours."""
    if data is None:
        return None
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
    found = _error_selectors().get(raw[:4])
    if found is None:
        return None
    name, types, names = found
    try:
        values = decode(types, raw[4:])
    except Exception:
        return name, {}
    return name, {n: (v.hex() if isinstance(v, bytes) else v) for n, v in zip(names, values)}
