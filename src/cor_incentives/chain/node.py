"""A local EVM node: Hardhat 2's JSON-RPC server (npm ``hardhat``, pinned in package-lock.json).

``start_node(port)`` runs ``hardhat node`` from the repository's ``node_modules`` with the
repository's ``hardhat.config.cjs`` (chain id 31337, automine, failed transactions mined with
status 0 rather than thrown), waits until it answers ``eth_chainId``, and returns a ``NodeProcess``.
``detach=True`` starts it in its own session so it outlives the command (``cor chain up``; stop it
with ``cor chain down``, which kills exactly that pid).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import ChainError

HARDHAT_CHAIN_ID = 31337
START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 10


def project_root() -> Path:
    """The directory holding ``hardhat.config.cjs`` and ``node_modules`` (``$COR_JS_ROOT``, else found
    upwards from the working directory or from this package)."""
    env = os.environ.get("COR_JS_ROOT")
    candidates = [Path(env)] if env else []
    for start in (Path.cwd(), Path(__file__).resolve()):
        candidates += [start, *start.parents]
    for d in candidates:
        if (d / "hardhat.config.cjs").is_file() and (d / "node_modules" / "hardhat").is_dir():
            return d
    raise ChainError("hardhat is not installed: run `make node-deps` in the repository (or set COR_JS_ROOT)", code="hardhat_missing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_answers(url: str, timeout: float = 2.0) -> int | None:
    """The chain id a JSON-RPC node at ``url`` reports, or None when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(json.loads(r.read())["result"], 16)
    except Exception:
        return None


@dataclass
class NodeProcess:
    """A running Hardhat node."""

    pid: int
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None  # None when attached to by pid

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Stop this node (its whole process group: npx/node children included)."""
        stop_pid(self.pid)
        if self.process is not None:
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                pass


def stop_pid(pid: int) -> None:
    """SIGTERM the process group led by ``pid`` (we start the node as a group leader), then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except OSError:
            return
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def start_node(port: int | None = None, *, log_path: Path | None = None, detach: bool = False) -> NodeProcess:
    """Start ``hardhat node`` on 127.0.0.1:``port`` (a free port without one); wait until it serves."""
    root = project_root()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    if rpc_answers(url) is not None:
        raise ChainError(f"something already serves JSON-RPC on port {port}", code="port_in_use")
    log_path = log_path or Path("cor-data") / f"hardhat-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cli = root / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    cmd = ["node", str(cli), "--config", str(root / "hardhat.config.cjs"), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "DO_NOT_TRACK": "1"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    node = NodeProcess(proc.pid, port, log_path, None if detach else proc)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while rpc_answers(url) != HARDHAT_CHAIN_ID:
        if proc.poll() is not None or time.monotonic() > deadline:
            node.stop()
            tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
            raise ChainError(f"hardhat node did not start on port {port}: {tail}", code="hardhat_failed")
        time.sleep(0.2)
    return node
