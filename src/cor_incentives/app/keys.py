"""Local Ethereum keys for signing: encrypted keystores (Ethereum keystore v3), one file per key.

Keys live in ``$COR_KEYS_DIR`` or ``cor-data/keys``; each file ``<name>.json`` (mode 0600) is either

* a keystore v3 file (``version: 3``, ``address``, ``crypto``: the private key encrypted with a key
  derived from a passphrase by scrypt; the format of geth, MetaMask exports and eth-account), plus a
  ``name`` field; or
* a plaintext file ``{name, address, private_key}``: the milestone-1 format, and what ``cor init``
  writes for a development network without a passphrase. It still loads, with a warning on stderr
  the first time its private key is used (``cor keys encrypt NAME`` converts it).

The passphrase comes from ``$COR_KEY_PASSPHRASE``, else from a prompt when stdin is a terminal; a key
is decrypted only when something is signed with it (``Key.private_key``), at most once per process.
Listing keys and resolving names to addresses never needs the passphrase.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from ..core.signatures import SECP256K1_N, private_key_address
from ..core.units import address

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
PASSPHRASE_ENV = "COR_KEY_PASSPHRASE"
MAX_KEYFILE_BYTES = 64 * 1024


def _warn_plaintext(key: Key) -> None:
    sys.stderr.write(f"warning: key {key.name!r} is stored unencrypted in {key.path}; encrypt it with `cor keys encrypt {key.name}`\n")


on_plaintext: Callable[[Key], None] = _warn_plaintext
"""Called once per plaintext key whose private key is used (a warning on stderr by default)."""
_warned: set[Path] = set()
_unlocked: dict[tuple[Path, str], str] = {}  # keys decrypted by this process (one passphrase prompt per key)


class Key:
    """A named key: its address always; its private key decrypted on first use."""

    def __init__(self, name: str, address: str, private_key: str | None = None, *, path: Path, encrypted: bool = False) -> None:
        self.name = name
        self.address = address
        self.path = path
        self.encrypted = encrypted
        self._private_key = private_key

    @property
    def private_key(self) -> str:
        """The 0x-hex private key (decrypting the keystore file with the passphrase on first use)."""
        if self._private_key is None:
            cached = _unlocked.get((self.path.resolve(), self.address))
            self._private_key = cached or unlock(read_keyfile(self.path), passphrase_for(self.name), self.name)
            _unlocked[(self.path.resolve(), self.address)] = self._private_key
        elif not self.encrypted and self.path not in _warned:
            _warned.add(self.path)
            on_plaintext(self)
        return self._private_key

    def __repr__(self) -> str:  # never the private key
        return f"Key(name={self.name!r}, address={self.address!r}, encrypted={self.encrypted})"


def keys_dir(path: str | None = None) -> Path:
    return Path(path or os.environ.get("COR_KEYS_DIR") or "cor-data/keys")


# --- passphrases and keystore v3 files ---------------------------------------------------------


def passphrase_for(name: str, *, confirm: bool = False) -> str:
    """The passphrase of key ``name``: ``$COR_KEY_PASSPHRASE``, else asked on the terminal."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        if not env:
            raise InvalidInput(f"${PASSPHRASE_ENV} is set but empty", code="empty_passphrase")
        return env
    if not sys.stdin.isatty():
        raise InvalidInput(f"key {name!r} needs a passphrase: set ${PASSPHRASE_ENV} or run the command in a terminal", code="passphrase_required")
    first = getpass.getpass(f"passphrase for key {name}: ")
    if not first:
        raise InvalidInput("the passphrase is empty", code="empty_passphrase")
    if confirm and getpass.getpass("repeat the passphrase: ") != first:
        raise InvalidInput("the two passphrases differ", code="passphrase_mismatch")
    return first


def is_keystore_v3(data: dict[str, Any]) -> bool:
    return data.get("version") == 3 and isinstance(data.get("crypto") or data.get("Crypto"), dict)


def read_keyfile(path: Path) -> dict[str, Any]:
    """A key file's JSON object: a keystore v3 file or a plaintext key; ``invalid_keyfile`` otherwise."""
    try:
        if path.stat().st_size > MAX_KEYFILE_BYTES:
            raise InvalidInput(f"{path} is not a key file (larger than {MAX_KEYFILE_BYTES} bytes)", code="invalid_keyfile")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"no key file {path}", code="keyfile_not_found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a key file: {exc}", code="invalid_keyfile") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} is not a key file: not a JSON object", code="invalid_keyfile")
    if is_keystore_v3(data):
        if not isinstance(data.get("address"), str) or not re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", data["address"]):
            raise InvalidInput(f"{path}: a keystore v3 file needs its address (40 hex digits)", code="invalid_keyfile")
        return data
    if isinstance(data.get("private_key"), str) and isinstance(data.get("address"), str):
        return data
    raise InvalidInput(f"{path} is neither a keystore v3 file (version 3, crypto, address) nor a plaintext key", code="invalid_keyfile")


def keyfile_address(data: dict[str, Any]) -> str:
    raw = str(data["address"]).lower()
    return raw if raw.startswith("0x") else "0x" + raw


def unlock(data: dict[str, Any], passphrase: str, name: str) -> str:
    """The private key in a key file (decrypted with ``passphrase`` when it is a keystore v3 file)."""
    if not is_keystore_v3(data):
        return str(data["private_key"])
    from eth_account import Account  # here, not at import: eth-account and its BLS code take seconds to import; only keystores need it

    try:
        secret = Account.decrypt(data, passphrase)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise Unauthorized(f"wrong passphrase for key {name!r}", code="wrong_passphrase") from None
        raise InvalidInput(f"key {name!r}: the keystore cannot be decrypted: {exc}", code="invalid_keyfile") from None
    except (KeyError, TypeError, NotImplementedError) as exc:
        raise InvalidInput(f"key {name!r}: the keystore cannot be decrypted: {exc!r}", code="invalid_keyfile") from None
    private_key = "0x" + bytes(secret).hex()
    if private_key_address(private_key) != keyfile_address(data):
        raise InvalidInput(f"key {name!r}: the decrypted key does not belong to the file's address", code="invalid_keyfile")
    return private_key


def encrypt(private_key: str, passphrase: str, name: str) -> dict[str, Any]:
    """A keystore v3 object for ``private_key`` (scrypt, the eth-account defaults) with the key's name."""
    from eth_account import Account

    return {"name": name, **Account.encrypt(bytes.fromhex(private_key.removeprefix("0x")), passphrase, kdf="scrypt")}


def check_private_key(text: str) -> str:
    """A 0x-hex secp256k1 private key from user input; ``invalid_private_key`` otherwise (the value is never echoed)."""
    text = text.strip()
    if not _HEX_KEY.fullmatch(text):
        raise InvalidInput("a private key is 64 hex digits (with or without 0x)", code="invalid_private_key")
    value = int(text.removeprefix("0x").removeprefix("0X"), 16)
    if not 0 < value < SECP256K1_N:
        raise InvalidInput("the private key is out of the secp256k1 range", code="invalid_private_key")
    return "0x" + value.to_bytes(32, "big").hex()


class Keystore:
    """Named keys in a directory."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else keys_dir()

    def _file(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(f"key name must be 1-64 letters, digits, '_', '-' or '.', got {name!r}", code="invalid_key_name")
        return self.path / f"{name}.json"

    def _write(self, f: Path, data: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even for a moment
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(data, indent=2))

    def _store(self, name: str, private_key: str, passphrase: str | None, *, imported: bool = False) -> Key:
        f = self._file(name)
        if f.exists():
            raise Conflict(f"key {name!r} already exists in {self.path}", code="key_exists")
        addr = private_key_address(private_key)
        # an imported key may already be here under another name; a new one is fresh (random, or a seed and a new name),
        # and a devnet or benchmark creating thousands of keys must not read every file for each
        if imported and any(k.address == addr for k in self.list()):
            raise Conflict(f"this key is already in {self.path} (address {addr})", code="key_exists")
        if passphrase is None:
            self._write(f, {"name": name, "address": addr, "private_key": private_key})
            _warned.add(f)  # the process that chose to write it plaintext (a devnet, `--plaintext`) is not warned; later loads are
        else:
            self._write(f, encrypt(private_key, passphrase, name))
        return Key(name, addr, private_key, path=f, encrypted=passphrase is not None)

    def new(self, name: str, seed: str | None = None, passphrase: str | None = None) -> Key:
        """Create key ``name`` (random, or derived from ``seed`` for reproducible devnets); encrypted with
        ``passphrase`` (keystore v3), or a plaintext development key without one."""
        self._file(name)
        secret = hashlib.sha256(f"cor-key:{seed}:{name}".encode()).digest() if seed is not None else os.urandom(32)
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:  # probability ~2**-128
            raise InvalidInput("derived key is out of range; choose another seed", code="invalid_seed")
        return self._store(name, "0x" + secret.hex(), passphrase)

    def import_private_key(self, name: str, private_key: str, passphrase: str) -> Key:
        """Store an existing private key (hex) under ``name``, encrypted with ``passphrase``."""
        return self._store(name, check_private_key(private_key), passphrase, imported=True)

    def import_keystore(self, name: str, source: Path, passphrase: str) -> Key:
        """Copy a keystore v3 file under ``name`` after checking that ``passphrase`` opens it (the file keeps its encryption)."""
        data = read_keyfile(source)
        if not is_keystore_v3(data):
            raise InvalidInput(f"{source} is not a keystore v3 file (for a plaintext key use --private-key-file)", code="invalid_keyfile")
        private_key = unlock(data, passphrase, name)
        f = self._file(name)
        if f.exists():
            raise Conflict(f"key {name!r} already exists in {self.path}", code="key_exists")
        addr = keyfile_address(data)
        if any(k.address == addr for k in self.list()):
            raise Conflict(f"this key is already in {self.path} (address {addr})", code="key_exists")
        self._write(f, {**data, "name": name})
        return Key(name, addr, private_key, path=f, encrypted=True)

    def encrypt_plaintext(self, name: str, passphrase: str) -> Key:
        """Replace plaintext key ``name`` by a keystore v3 file of the same key."""
        f = self._file(name)
        data = read_keyfile(f)
        if is_keystore_v3(data):
            raise Conflict(f"key {name!r} is already encrypted", code="key_already_encrypted")
        private_key = check_private_key(str(data["private_key"]))
        tmp = f.with_name(f".{name}.json.new")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(encrypt(private_key, passphrase, name), indent=2))
        os.replace(tmp, f)
        return Key(name, private_key_address(private_key), private_key, path=f, encrypted=True)

    def list(self) -> list[Key]:
        """Every key (names and addresses; nothing is decrypted). A file that is no key file is an error naming it."""
        if not self.path.is_dir():
            return []
        out = []
        for f in sorted(self.path.glob("*.json")):
            data = read_keyfile(f)  # the file name is the key's name
            if is_keystore_v3(data):
                out.append(Key(f.stem, keyfile_address(data), path=f, encrypted=True))
            else:
                out.append(Key(f.stem, keyfile_address(data), str(data["private_key"]), path=f))
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
