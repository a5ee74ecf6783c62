"""The chain file: where one network's contracts live (no web3 import, so the CLI starts fast).

``$COR_CHAIN_FILE`` or ``cor-data/chain.json``: RPC URL, EVM chain id, token and distributor
addresses, publisher, deployment block and gas, and the pid of a node ``cor chain up`` started.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInput, NotFound

DEV_ETH_WEI = 1_000 * 10**18  # gas money a development node gives the publisher and local keys


def chain_file(path: str | None = None) -> Path:
    return Path(path or os.environ.get("COR_CHAIN_FILE") or "cor-data/chain.json")


@dataclass
class Deployment:
    """Where the contracts of one network live."""

    rpc_url: str
    evm_chain_id: int
    token: str
    distributor: str
    publisher: str
    block: int
    supply_units: str
    gas: dict[str, int] = field(default_factory=dict)
    node_pid: int | None = None
    node_log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.is_file():
            raise NotFound(f"no chain file at {path}: run `cor chain up` (or pass --rpc and --distributor)", code="no_chain")
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"chain file {path} is not valid: {exc}", code="invalid_chain_file") from None
