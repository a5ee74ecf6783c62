"""The README's first session runs as printed: every command of the block between ``<!-- tour:start -->``
and ``<!-- tour:end -->``, in order, in an empty directory, through the installed `cor` console script."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- tour:start -->\s*```bash\n(.*?)```\s*<!-- tour:end -->", text, re.S)
    assert block, "README.md has no tour block"
    lines = [line.split(" # ")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_the_readme_tour_runs_in_order(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COR_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    commands = tour_commands()
    assert commands[0].startswith("cor init") and len(commands) >= 10
    outputs = []
    warned: dict[str, str] = {}
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "cor", command
        p = subprocess.run(
            [str(BIN / "cor"), *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        assert p.returncode == 0 and "Traceback" not in p.stderr, f"{command}\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
        outputs.append(p.stdout)
        warned[command] = p.stderr  # (warnings go to stderr)
    said = dict(zip(commands, outputs, strict=True))
    alice = next(c for c in commands if c.startswith("cor node show alice"))  # a miner no task has drawn yet (rule 14)
    assert "earns no staking APR" in warned[alice]
    claim = next(c for c in commands if c.startswith("cor claim"))
    assert "claimed" in said[claim] and "epoch(s)" in said[claim]
    audit = next(c for c in commands if c.startswith("cor audit"))
    matched = re.search(r"(\d+)/(\d+) matched \(ok\)", said[audit])
    assert matched and matched.group(1) == matched.group(2) and int(matched.group(2)) > 0
    assert "verify: ok" in said[commands[-1]]
    assert (tmp_path / "cor-data" / "cor.db").is_file()
