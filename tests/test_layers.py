"""The layering is enforced: adding a forbidden import breaks `make lint`.

Each case copies the package to a temporary directory, adds one import that a contract in
pyproject.toml forbids, and runs lint-imports (the tool `make lint` runs) on the copy: it must fail
and name the broken contract. The unmodified copy must pass, so a failure means the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cor_incentives"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_copy(tmp_path: Path, module: str | None = None, line: str = "") -> subprocess.CompletedProcess[str]:
    """lint-imports over a copy of the package, with ``line`` added to the top of ``module``."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "cor_incentives", ignore=shutil.ignore_patterns("__pycache__"))
    if module is not None:
        path = src / "cor_incentives" / module
        text = path.read_text()
        head, sep, rest = text.partition("from __future__ import annotations\n")
        path.write_text(head + sep + line + "\n" + rest)
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "400"}  # one line per contract in the report
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_unmodified_package_keeps_every_contract(tmp_path):
    out = lint_copy(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/ledger.py", "from ..store import db as _db", "The core imports nothing of the shell"),
        ("core/tasks.py", "from ..app.engine import Engine as _Engine", "The core imports nothing of the shell"),
        ("core/units.py", "import time as _time", "The core is pure"),
        ("core/selection.py", "import random as _random", "The core is pure"),
        ("app/engine.py", "from ..api import service as _service", "Layers"),
        ("store/db.py", "from ..app import keys as _keys", "Layers"),
        ("sim/runner.py", "from ..nodes import link as _link", "Layers"),
        ("chain/publisher.py", "from ..api import service as _service", "Layers"),
        ("core/bridge.py", "from ..chain import rpc as _rpc", "The core imports nothing of the shell"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    out = lint_copy(tmp_path, module, line)
    assert out.returncode != 0, out.stdout
    broken = [ln for ln in out.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), out.stdout
