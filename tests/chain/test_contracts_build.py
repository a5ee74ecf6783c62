"""The committed ABI and bytecode are exactly what `make contracts` (solc-js, pinned) builds from contracts/."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cor_incentives.chain.contracts import CONTRACTS, artifact

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "src" / "cor_incentives" / "chain" / "artifacts"


def test_contracts_rebuild_byte_for_byte(tmp_path: Path) -> None:
    out = subprocess.run(
        ["node", str(ROOT / "scripts" / "compile-contracts.mjs"), str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    for name in CONTRACTS:
        rebuilt = (tmp_path / f"{name}.json").read_bytes()
        committed = (ARTIFACTS / f"{name}.json").read_bytes()
        assert rebuilt == committed, f"{name}: run `make contracts` and commit the artifacts"
        a = artifact(name)
        assert a.bytecode.startswith("0x60") and len(a.deployed_bytecode) > 1000
        assert a.compiler["version"].startswith("0.8.28+commit.7893614a")


def test_the_compiler_is_the_pinned_one() -> None:
    version = subprocess.run(
        ["node", "-e", "console.log(require('solc').version())"], cwd=ROOT, capture_output=True, text=True, timeout=120
    ).stdout.strip()
    lock = (ROOT / "package-lock.json").read_text()
    assert '"node_modules/solc": {\n      "version": "0.8.28"' in lock
    assert version.startswith("0.8.28+commit.7893614a")
