"""Local Ethereum keys for signing (a development keystore: plain JSON files, mode 0600).

Keys live in ``$COR_KEYS_DIR`` or ``cor-data/keys``; each file ``<name>.json`` holds name, address and
private key. Production operators should sign with their own wallet through the API instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InvalidInput, NotFound
from ..core.signatures import SECP256K1_N, private_key_address
from ..core.units import address

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Key:
    name: str
    address: str
    private_key: str


def keys_dir(path: str | None = None) -> Path:
    return Path(path or os.environ.get("COR_KEYS_DIR") or "cor-data/keys")


class Keystore:
    """Named keys in a directory."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else keys_dir()

    def new(self, name: str, seed: str | None = None) -> Key:
        """Create key ``name`` (random, or derived from ``seed`` for reproducible devnets)."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(f"key name must be 1-64 letters, digits, '_', '-' or '.', got {name!r}", code="invalid_key_name")
        if (self.path / f"{name}.json").exists():
            raise InvalidInput(f"key {name!r} already exists", code="key_exists")
        secret = hashlib.sha256(f"cor-key:{seed}:{name}".encode()).digest() if seed is not None else os.urandom(32)
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:  # probability ~2**-128
            raise InvalidInput("derived key is out of range; choose another seed", code="invalid_seed")
        private_key = "0x" + secret.hex()
        key = Key(name, private_key_address(private_key), private_key)
        self.path.mkdir(parents=True, exist_ok=True)
        f = self.path / f"{name}.json"
        f.write_text(json.dumps({"name": name, "address": key.address, "private_key": key.private_key}, indent=2))
        os.chmod(f, 0o600)
        return key

    def list(self) -> list[Key]:
        if not self.path.is_dir():
            return []
        out = []
        for f in sorted(self.path.glob("*.json")):
            d = json.loads(f.read_text())
            out.append(Key(d["name"], d["address"], d["private_key"]))
        return out

    def get(self, name_or_address: str) -> Key:
        """A key by name or by address."""
        needle = name_or_address.lower()
        for k in self.list():
            if k.name == name_or_address or k.address == needle:
                return k
        raise NotFound(f"no local key named {name_or_address!r} in {self.path} (see `cor keys list`)", code="key_not_found")

    def resolve_address(self, name_or_address: str) -> str:
        """An address given directly, or the address of a local key name."""
        if re.fullmatch(r"0x[0-9a-fA-F]{40}", name_or_address):
            return address(name_or_address)  # lower case, or a valid EIP-55 checksum (a wrong one is a typo)
        return self.get(name_or_address).address
