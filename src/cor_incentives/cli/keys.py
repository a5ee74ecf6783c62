"""`cor keys`: local signing keys, encrypted (keystore v3) with a passphrase from $COR_KEY_PASSPHRASE or a prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..app.keys import PASSPHRASE_ENV, Key, Keystore, passphrase_for, read_keyfile, unlock
from ..core.errors import InvalidInput
from .common import JsonOption, KeysOption, console, emit, handle_errors, table

keys_app = typer.Typer(
    help=f"Local Ethereum keys for signing: encrypted keystore v3 files; the passphrase comes from ${PASSPHRASE_ENV} or a prompt.",
    no_args_is_help=True,
)


def _out(k: Key, as_json: bool, verb: str) -> None:
    data = {"name": k.name, "address": k.address, "encrypted": k.encrypted, "file": str(k.path)}
    emit(data, as_json, lambda: console.print(f"[green]✓[/] key {k.name} {verb}: {k.address} ({'encrypted' if k.encrypted else 'PLAINTEXT'})"))


@keys_app.command("new")
@handle_errors
def keys_new(
    name: str,
    seed: str | None = typer.Option(None, "--seed", help="Derive the key from this seed (reproducible devnets; anyone with the seed has the key)."),
    plaintext: bool = typer.Option(False, "--plaintext", help="Store it unencrypted (development only)."),
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a key, encrypted with a passphrase ($COR_KEY_PASSPHRASE or a prompt)."""
    store = Keystore(keys_dir)
    store.list()  # a broken key file is reported before anything is asked
    passphrase = None if plaintext else passphrase_for(name, confirm=True)
    _out(store.new(name, seed=seed, passphrase=passphrase), as_json, "created")


@keys_app.command("import")
@handle_errors
def keys_import(
    name: str,
    keystore: Path | None = typer.Option(None, "--keystore", help="A keystore v3 JSON file (geth, MetaMask, eth-account); it keeps its passphrase."),
    private_key_file: Path | None = typer.Option(
        None, "--private-key-file", help="A file holding the private key in hex ('-': read it from stdin; without either option it is prompted for)."
    ),
    keys_dir: str | None = KeysOption,
    as_json: bool = JsonOption,
) -> None:
    """Import an existing key: a keystore v3 file, or a hex private key (then encrypted with a passphrase)."""
    store = Keystore(keys_dir)
    store.list()
    if keystore is not None and private_key_file is not None:
        raise InvalidInput("give --keystore or --private-key-file, not both", code="conflicting_options")
    if keystore is not None:
        _out(store.import_keystore(name, keystore, passphrase_for(name)), as_json, "imported")
        return
    if private_key_file is not None and str(private_key_file) != "-":
        try:
            secret = private_key_file.read_text()[:1000]
        except FileNotFoundError:
            raise InvalidInput(f"no file {private_key_file}", code="file_not_found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {private_key_file}: {exc}", code="invalid_private_key") from None
    elif private_key_file is None and sys.stdin.isatty():
        secret = typer.prompt("private key (hex)", hide_input=True)
    else:
        secret = sys.stdin.read(1000)
    _out(store.import_private_key(name, secret, passphrase_for(name, confirm=True)), as_json, "imported")


@keys_app.command("encrypt")
@handle_errors
def keys_encrypt(name: str, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Encrypt a plaintext key (a development or milestone-1 key file) in place."""
    _out(Keystore(keys_dir).encrypt_plaintext(name, passphrase_for(name, confirm=True)), as_json, "encrypted")


@keys_app.command("check")
@handle_errors
def keys_check(name: str, keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """Check that the passphrase opens a key (nothing is printed but its address)."""
    k = Keystore(keys_dir).get(name)
    unlock(read_keyfile(k.path), passphrase_for(name) if k.encrypted else "", name)
    _out(k, as_json, "opens")


@keys_app.command("list")
@handle_errors
def keys_list(keys_dir: str | None = KeysOption, as_json: bool = JsonOption) -> None:
    """List local keys (names, addresses, encrypted or not; never private keys)."""
    ks = Keystore(keys_dir).list()
    emit(
        [{"name": k.name, "address": k.address, "encrypted": k.encrypted} for k in ks],
        as_json,
        lambda: table("local keys", ["name", "address", "encrypted"], [[k.name, k.address, k.encrypted] for k in ks]),
    )
