"""What every node agent shares: a loop that sets up, then steps until stopped, over its ``Link``.

Each role is one module beside this one (``miner``, ``validator``, ``router``, ``user``); the process
entry point that picks one is ``nodes/agent.py``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from ...client import ApiError
from ..link import Link, Stopped, StopSignal


def make_logger(name: str, log_file: str | None) -> logging.Logger:
    log = logging.getLogger(f"cor.node.{name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d " + name + " %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    return log


class Agent:
    """The loop every role shares: set up, then ``step`` every ``poll_seconds`` until stopped."""

    role = "agent"

    def __init__(
        self, name: str, link: Link, log: logging.Logger, stop: StopSignal | threading.Event, poll_seconds: float, ready_file: str | None = None
    ) -> None:
        self.name = name
        self.link = link
        self.me = link.address or ""
        self.log = log
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.ready_file = ready_file
        self.seen_head = -2

    def setup(self) -> dict[str, Any]:
        """Anything to do before the first step; returns extra fields for the ready file."""
        return {}

    def step(self) -> bool:
        """One pass; True when there is more to do at once (no pause before the next pass)."""
        raise NotImplementedError

    def changed(self) -> int | None:
        """The log head if it moved since the last completed step, else None."""
        head = self.link.head_seq()
        return None if head == self.seen_head else head

    def run(self) -> int:
        try:
            extra = self.setup()
        except Stopped:
            return 0
        if self.ready_file:
            tmp = Path(self.ready_file + ".tmp")
            tmp.write_text(json.dumps({"name": self.name, "role": self.role, "address": self.me, "pid": os.getpid(), **extra}))
            tmp.replace(self.ready_file)
        self.log.info("ready as %s %s", self.role, self.me)
        while not self.stop.is_set():
            busy = False
            try:
                busy = bool(self.step())
            except Stopped:
                break
            except ApiError as exc:
                self.log.info("error %s: %s", exc.code, exc.message[:200])
            except Exception as exc:  # noqa: BLE001 - an agent must outlive one bad step; the log says what happened
                self.log.info("error %s: %s", type(exc).__name__, str(exc)[:200])
            if not busy:
                self.stop.wait(self.poll_seconds)
        self.shutdown()
        self.log.info("stopped")
        return 0

    def shutdown(self) -> None:
        self.link.close()
