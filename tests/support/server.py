"""A real `cor serve` process on a free loopback port, for tests: start it, wait for /healthz, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.services import free_tcp_port

SERVER_START_TIMEOUT_SECONDS = 60


@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    lines: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(url: str, log_path: Path, *, workers: int = 1, port: int | None = None, log_level: str | None = None) -> Server:
    """Start ``cor serve`` in its own process group and wait until /healthz answers."""
    port = port or free_tcp_port()
    cmd = [sys.executable, "-m", "cor_incentives.cli.serve", "--host", "127.0.0.1", "--port", str(port), "--db", url, "--workers", str(workers)]
    if log_level:
        cmd += ["--log-level", log_level]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cor serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return Server(base, proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(Server(base, proc, log_path))
    raise RuntimeError(f"cor serve did not answer within {SERVER_START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    """Stop the server we started (its own process group: uvicorn and its workers)."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)
