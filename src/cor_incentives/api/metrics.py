"""Prometheus metrics of one API process, written out in the text exposition format (v0.0.4).

Counters of this process (commands accepted and rejected by code, requests and their latency by
route) plus gauges read from the engine's state (events in the log, epoch, tick, nodes by role).
With several worker processes each keeps its own counters: scrape each process, or sum them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_LABEL_SETS = 1_000  # a bound on distinct (method, route, status) label sets

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Thread-safe counters and a latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected: dict[str, int] = defaultdict(int)
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency_buckets: dict[tuple[str, str], list[int]] = {}
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.latency_count: dict[tuple[str, str], int] = defaultdict(int)

    def command_accepted(self) -> None:
        with self._lock:
            self.accepted += 1

    def command_rejected(self, code: str) -> None:
        with self._lock:
            if code in self.rejected or len(self.rejected) < MAX_LABEL_SETS:
                self.rejected[code] += 1

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route)
        with self._lock:
            if key not in self.latency_buckets:
                if len(self.latency_buckets) >= MAX_LABEL_SETS:
                    return
                self.latency_buckets[key] = [0] * len(LATENCY_BUCKETS_SECONDS)
            counts = self.latency_buckets[key]
            for i, bound in enumerate(LATENCY_BUCKETS_SECONDS):
                if seconds <= bound:
                    counts[i] += 1
            self.latency_sum[key] += seconds
            self.latency_count[key] += 1
            self.requests[(method, route, str(status))] += 1

    def render(self, gauges: dict[str, Any]) -> str:
        """The exposition text: this process's counters and the state's gauges."""
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
        with self._lock:
            family("cor_commands_accepted_total", "counter", "Commands this process accepted.")
            out.append(f"cor_commands_accepted_total {self.accepted}")
            family("cor_commands_rejected_total", "counter", "Commands this process rejected, by error code.")
            for code, n in sorted(self.rejected.items()):
                out.append(f'cor_commands_rejected_total{{code="{_esc(code)}"}} {n}')
            family("cor_http_requests_total", "counter", "HTTP requests this process served, by route and status.")
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f'cor_http_requests_total{{method="{_esc(method)}",route="{_esc(route)}",status="{status}"}} {n}')
            family("cor_http_request_duration_seconds", "histogram", "HTTP request latency, by route.")
            for (method, route), counts in sorted(self.latency_buckets.items()):
                labels = f'method="{_esc(method)}",route="{_esc(route)}"'
                for bound, n in zip(LATENCY_BUCKETS_SECONDS, counts):
                    out.append(f'cor_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}')
                total = self.latency_count[(method, route)]
                out.append(f'cor_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}')
                out.append(f"cor_http_request_duration_seconds_sum{{{labels}}} {self.latency_sum[(method, route)]:.6f}")
                out.append(f"cor_http_request_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
