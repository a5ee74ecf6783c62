"""Processes the devnet starts (the API, the node agents): start, watch, stop; and the helpers they need."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

API_START_TIMEOUT_SECONDS = 60
AGENT_READY_TIMEOUT_SECONDS = 180
AGENT_STOP_TIMEOUT_SECONDS = 20


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


def die_with_parent() -> None:
    """In the child, before exec (Linux): have the kernel SIGTERM it when the devnet process dies, even
    by SIGKILL, so that no agent or API outlives the devnet that started it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(name: str, cmd: list[str], output: Path, log_path: Path | None = None) -> Proc:
    """Start ``cmd`` in its own session, stdout and stderr to ``output``; the kernel stops it if we die."""
    with open(output, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent
        )
    return Proc(name, proc, log_path or output)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(p: Proc, timeout: float = AGENT_STOP_TIMEOUT_SECONDS, group: bool = False) -> None:
    """SIGTERM the process we started (its own process group when ``group``), SIGKILL after ``timeout``."""
    if not p.alive():
        return
    try:
        os.killpg(p.proc.pid, signal.SIGTERM) if group else p.proc.send_signal(signal.SIGTERM)
        p.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.proc.pid, signal.SIGKILL) if group else p.proc.kill()
        p.proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None
