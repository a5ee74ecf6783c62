"""Encrypted keystores (keystore v3), imports, the passphrase sources, plaintext keys of milestone 1 — through the real CLI."""

from __future__ import annotations

import json
import os
import stat

import pytest
from eth_account import Account
from typer.testing import CliRunner

from cor_incentives.app import keys as keys_mod
from cor_incentives.app.keys import Keystore
from cor_incentives.cli.main import app
from cor_incentives.core.errors import InvalidInput, NotFound, Unauthorized
from cor_incentives.core.signatures import private_key_address, recover_signer, sign_message

HEX = "0x4c0883a69102937d9231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDR = private_key_address(HEX)


def cor(tmp_path, *args: str, passphrase: str | None = None, stdin: str | None = None) -> tuple[int, dict | list]:
    env = {"COR_KEYS_DIR": str(tmp_path / "keys")}
    if passphrase is not None:
        env["COR_KEY_PASSPHRASE"] = passphrase
    r = CliRunner().invoke(app, [*args, "--json"], env=env, input=stdin)
    assert "Traceback" not in r.output
    return r.exit_code, json.loads(r.stdout.strip().splitlines()[-1])


def test_new_key_is_a_keystore_v3_file_that_only_its_passphrase_opens(tmp_path):
    code, out = cor(tmp_path, "keys", "new", "alice", passphrase="correct horse")
    assert code == 0 and out["encrypted"] is True
    f = tmp_path / "keys" / "alice.json"
    data = json.loads(f.read_text())
    assert data["version"] == 3 and "private_key" not in data and data["crypto"]["kdf"] == "scrypt"
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    secret = "0x" + bytes(Account.decrypt(data, "correct horse")).hex()  # eth-account itself reads the file
    assert private_key_address(secret) == out["address"]
    code, err = cor(tmp_path, "keys", "check", "alice", passphrase="wrong")
    assert code == 4 and err["error"] == "wrong_passphrase"
    assert cor(tmp_path, "keys", "check", "alice", passphrase="correct horse")[0] == 0


def test_no_passphrase_no_terminal_is_a_clear_error_and_writes_nothing(tmp_path):
    code, err = cor(tmp_path, "keys", "new", "bob")
    assert code == 2 and err["error"] == "passphrase_required" and "COR_KEY_PASSPHRASE" in err["message"]
    assert not (tmp_path / "keys" / "bob.json").exists()
    code, err = cor(tmp_path, "keys", "new", "bob", passphrase="")
    assert err["error"] == "empty_passphrase" and not (tmp_path / "keys" / "bob.json").exists()


def test_import_hex_from_stdin_and_keystore_file(tmp_path):
    code, out = cor(tmp_path, "keys", "import", "carol", "--private-key-file", "-", passphrase="pw", stdin=HEX + "\n")
    assert code == 0 and out["address"] == ADDR and out["encrypted"]
    assert "4c0883a69102937d" not in (tmp_path / "keys" / "carol.json").read_text()
    code, err = cor(tmp_path, "keys", "import", "carol2", "--private-key-file", "-", passphrase="pw", stdin=HEX)
    assert err["error"] == "key_exists"  # the same key twice under two names
    code, err = cor(tmp_path, "keys", "import", "x", "--private-key-file", "-", passphrase="pw", stdin="0x1234")
    assert code == 2 and err["error"] == "invalid_private_key" and "1234" not in err["message"]
    ext = tmp_path / "geth.json"
    ext.write_text(json.dumps(Account.encrypt(bytes.fromhex("11" * 32), "geth-pass")))
    code, err = cor(tmp_path, "keys", "import", "dave", "--keystore", str(ext), passphrase="not it")
    assert code == 4 and err["error"] == "wrong_passphrase" and not (tmp_path / "keys" / "dave.json").exists()
    code, out = cor(tmp_path, "keys", "import", "dave", "--keystore", str(ext), passphrase="geth-pass")
    assert code == 0 and out["address"] == private_key_address("0x" + "11" * 32)
    for bad, text in [("garbage.json", "not json"), ("empty.json", "{}"), ("list.json", "[1]")]:
        (tmp_path / bad).write_text(text)
        code, err = cor(tmp_path, "keys", "import", "e", "--keystore", str(tmp_path / bad), passphrase="x")
        assert code == 2 and err["error"] == "invalid_keyfile", bad
    code, err = cor(tmp_path, "keys", "import", "e", "--keystore", str(tmp_path / "absent.json"), passphrase="x")
    assert err["error"] == "keyfile_not_found"


def test_signing_decrypts_once_and_signs_with_the_right_key(tmp_path, monkeypatch):
    ks = Keystore(tmp_path / "keys")
    ks.new("erin", passphrase="pw")
    monkeypatch.setenv("COR_KEY_PASSPHRASE", "pw")
    k = Keystore(tmp_path / "keys").get("erin")
    assert k.encrypted and k._private_key is None and "private" not in repr(k)
    sig = sign_message(k.private_key, b"hello")
    assert recover_signer(b"hello", sig) == k.address
    monkeypatch.setenv("COR_KEY_PASSPHRASE", "wrong now")
    assert Keystore(tmp_path / "keys").get("erin").private_key == k.private_key  # decrypted once per process
    keys_mod._unlocked.clear()
    with pytest.raises(Unauthorized) as e:
        _ = Keystore(tmp_path / "keys").get("erin").private_key
    assert e.value.code == "wrong_passphrase"


def test_milestone_1_plaintext_keys_load_with_one_warning_and_can_be_encrypted(tmp_path, monkeypatch, capsys):
    d = tmp_path / "keys"
    d.mkdir()
    (d / "old.json").write_text(json.dumps({"name": "old", "address": ADDR, "private_key": HEX}))  # the milestone-1 format
    k = Keystore(d).get("old")
    assert not k.encrypted and k.private_key == HEX and k.private_key == HEX
    assert capsys.readouterr().err.count("stored unencrypted") == 1
    monkeypatch.setenv("COR_KEY_PASSPHRASE", "pw")
    keys_mod._unlocked.clear()
    k2 = Keystore(d).encrypt_plaintext("old", "pw")
    assert k2.encrypted and json.loads((d / "old.json").read_text())["version"] == 3 and HEX[2:] not in (d / "old.json").read_text()
    assert Keystore(d).get("old").private_key == HEX and "stored unencrypted" not in capsys.readouterr().err
    with pytest.raises(InvalidInput):
        keys_mod.check_private_key("0x" + "ff" * 32)  # above the curve order
    with pytest.raises(NotFound):
        Keystore(d).get("nobody")


def test_a_broken_file_in_the_keys_directory_is_named(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "broken.json").write_text("{")
    code, err = cor(tmp_path, "keys", "list")
    assert code == 2 and err["error"] == "invalid_keyfile" and "broken.json" in err["message"]
