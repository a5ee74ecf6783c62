"""Prometheus metrics of the API, in the text exposition format (v0.0.4), right with several workers.

Counters (commands accepted, rejected by code, requests by route and status) and a latency histogram
by route are ``prometheus_client`` metrics; gauges are read from the engine's state at each scrape
(events in the log, epoch, tick, nodes by role: the same in every process).

One process: the counters live in this process. ``cor serve --workers N`` (N > 1) runs prometheus_client's
multiprocess mode: it sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the workers
start, every worker writes its counters there (memory-mapped files, one per process), and a scrape,
whichever worker answers it, sums every worker's files. So one scrape after another never goes down.
"""

from __future__ import annotations

import os
import threading
from typing import Any

LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_LABEL_SETS = 1_000  # a bound on distinct label sets per metric (per process)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess() -> bool:
    """Whether the counters are shared by several worker processes (``PROMETHEUS_MULTIPROC_DIR`` is a directory)."""
    path = os.environ.get(MULTIPROC_ENV)
    return bool(path) and os.path.isdir(path or "")


class Metrics:
    """The API's counters and latency histogram (thread-safe: prometheus_client locks each value)."""

    def __init__(self) -> None:
        # imported here, not at module import: prometheus_client picks its value class (per process or
        # multiprocess) when first imported, and `cor serve` sets PROMETHEUS_MULTIPROC_DIR first
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.multiprocess import MultiProcessCollector

        self._lock = threading.Lock()
        self._registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = multiprocess()
        reg = None if self._multiprocess else self._registry  # multiprocess: values go to the shared files, read at scrape
        self.accepted = Counter("cor_commands_accepted", "Commands accepted.", registry=reg)
        self.rejected = Counter("cor_commands_rejected", "Commands rejected, by error code.", ["code"], registry=reg)
        self.requests = Counter("cor_http_requests", "HTTP requests served, by route and status.", ["method", "route", "status"], registry=reg)
        self.latency = Histogram(
            "cor_http_request_duration_seconds", "HTTP request latency, by route.", ["method", "route"], buckets=LATENCY_BUCKETS_SECONDS, registry=reg
        )
        self._labels: dict[str, set[tuple[str, ...]]] = {"rejected": set(), "requests": set(), "latency": set()}
        if self._multiprocess:
            MultiProcessCollector(self._registry)

    def _admit(self, family: str, labels: tuple[str, ...]) -> bool:
        """Whether a label set may be counted (at most MAX_LABEL_SETS per metric)."""
        seen = self._labels[family]
        with self._lock:
            if labels in seen:
                return True
            if len(seen) >= MAX_LABEL_SETS:
                return False
            seen.add(labels)
            return True

    def command_accepted(self) -> None:
        self.accepted.inc()

    def command_rejected(self, code: str) -> None:
        if self._admit("rejected", (code,)):
            self.rejected.labels(code=code).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        if self._admit("latency", (method, route)):
            self.latency.labels(method=method, route=route).observe(seconds)
            if self._admit("requests", (method, route, str(status))):
                self.requests.labels(method=method, route=route, status=str(status)).inc()

    def render(self, gauges: dict[str, Any]) -> str:
        """The exposition text: the state's gauges, then the counters (of every worker in multiprocess mode)."""
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        family("cor_events_total", "counter", "Events in the log (every process's).")
        out.append(f"cor_events_total {gauges['events']}")
        family("cor_epoch", "gauge", "Current epoch.")
        out.append(f"cor_epoch {gauges['epoch']}")
        family("cor_tick", "gauge", "Current logical tick.")
        out.append(f"cor_tick {gauges['tick']}")
        family("cor_nodes", "gauge", "Registered nodes by role.")
        for role, n in sorted(gauges["nodes"].items()):
            out.append(f'cor_nodes{{role="{_esc(role)}"}} {n}')
        from prometheus_client import generate_latest

        counters = generate_latest(self._registry).decode("utf-8")
        return "\n".join(out) + "\n" + "".join(line + "\n" for line in counters.splitlines() if not _created(line))


def _created(line: str) -> bool:
    """prometheus_client's ``*_created`` timestamps (one process only): not part of what this API exposes."""
    name = line.split("{", 1)[0].split(" ", 1)[0] if not line.startswith("#") else line.split(" ", 3)[2]
    return name.endswith("_created")


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
