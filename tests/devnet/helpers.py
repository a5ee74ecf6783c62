"""Helpers for the devnet tests (imported as ``devnet.helpers``): run `cor devnet` as a subprocess, serve its database afterwards.

Everything runs in the test's temporary directory (database, keys, agent logs), with real processes:
the devnet command starts `cor serve` and one process per node agent, and stops them itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cor_incentives.app.archive import get_task
from cor_incentives.core.records import Task
from support.server import Server
from support.server import start_server as _start_server


def cor_command(*args: str) -> list[str]:
    """`cor ARGS` through the console entry point when `devnet` is wired into it, else the module itself."""
    from cor_incentives.cli.main import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if args and args[0] == "devnet" and "devnet" not in names:
        return [sys.executable, "-m", "cor_incentives.cli.devnet", *args[1:]]
    return [sys.executable, "-c", "from cor_incentives.cli.main import app; app()", *args]


@dataclass
class DevnetRun:
    data: dict[str, Any]
    db_url: str
    directory: Path
    seconds: float
    stderr: str


def run_devnet(directory: Path, *args: str, timeout: float) -> DevnetRun:
    """`cor devnet --no-serve --json ARGS` with its files under ``directory``; returns the parsed document."""
    directory.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{directory / 'devnet.db'}"
    cmd = cor_command(
        "devnet", "--no-serve", "--json", "--db", db_url, "--keys-dir", str(directory / "keys"), "--log-dir", str(directory / "logs"), *args
    )
    t0 = time.monotonic()
    p = subprocess.run(
        cmd, cwd=directory, capture_output=True, text=True, timeout=timeout, env={**os.environ, "COR_KEYS_DIR": str(directory / "keys")}
    )
    seconds = time.monotonic() - t0
    assert p.returncode == 0, f"cor devnet exited {p.returncode}\nstdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}\n" + logs_tail(directory)
    return DevnetRun(json.loads(p.stdout), db_url, directory, seconds, p.stderr)


def logs_tail(directory: Path, lines: int = 15) -> str:
    out = []
    for f in sorted((directory / "logs").glob("*.*")):
        if f.suffix in (".log", ".err") and f.stat().st_size:
            out.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(out)


def start_server(db_url: str, log_path: Path) -> Server:
    """`cor serve` on a devnet's database, quiet."""
    return _start_server(db_url, log_path, log_level="warning")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by a parent that is gone) counts as stopped
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def every_task(state: Any) -> list[Task]:
    """Every task the live state names, whole and in id order: an open one as it is, a closed one whose record left the
    live state at its close (rule 27, ``RULES_TASK_STUB``: its stub stays live for the slashing window) read from the
    database (``app.archive.get_task``)."""
    return [get_task(state, tid) for tid in sorted({*state.tasks, *state.closed_tasks})]
