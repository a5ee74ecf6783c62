"""docs/signing.md stays true: its test vector is what Python and ethers v6 produce, and the server
accepts a command signed the way the document says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from cor_incentives.app.signing import authenticate, sign_command
from cor_incentives.core.events import Command

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "signing.md"


def vector() -> dict[str, str]:
    text = DOC.read_text()
    return {name: re.search(rf"^{name.replace('_', ' ')}\s+(\S+)$", text, re.M).group(1) for name in ("private_key", "payload", "signature")}


def test_doc_vector_matches_python():
    v = vector()
    cmd = Command.decode(v["payload"])
    payload, sig = sign_command(v["private_key"], cmd.chain_id, cmd.kind, cmd.nonce, cmd.body)
    assert payload.decode("ascii") == v["payload"]
    assert sig == v["signature"]
    assert authenticate(payload, sig).actor == cmd.actor


def test_doc_vector_matches_ethers():
    v = vector()
    node = shutil.which("node")
    assert node, "node (20+) is required"
    script = (
        "import { Wallet } from 'ethers';"
        "const [pk, payload] = process.argv.slice(1);"
        "process.stdout.write(JSON.stringify({sig: await new Wallet(pk).signMessage(payload), address: new Wallet(pk).address}));"
    )
    p = subprocess.run(
        [node, "--input-type=module", "-e", script, v["private_key"], v["payload"]], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["sig"] == v["signature"]
    assert out["address"].lower() == Command.decode(v["payload"]).actor


def test_doc_example_canonical_json_is_the_tested_one():
    """The canonicalJson printed in the document is the one tests/js/sign_command.mjs runs (modulo layout)."""
    doc = DOC.read_text()
    js = (ROOT / "tests" / "js" / "sign_command.mjs").read_text()
    squash = lambda s: re.sub(r"\s+|[{};]", "", s)  # noqa: E731
    for fragment in (".replace(/[\\u007f-\\uffff]/g", "Number.isSafeInteger(value)", "codePointAt(0)", '.padStart(4, "0")'):
        assert squash(fragment) in squash(doc) and squash(fragment) in squash(js), fragment
