"""Where experiment runs execute: here (``local``: worker processes) or on Ray (``ray``: a local Ray or a cluster).

Every experiment job is a plain function of a JSON-ready dict (``sim.sweep.run_job``) that drives the
real core and returns a JSON-ready dict; no job reads a clock or a global random source, so the same
job gives the same answer wherever it runs. ``Backend.map`` returns results in job order whatever
order they finish in, which is what makes a Ray run equal to a local run of the same jobs.

    local   ``workers`` processes on this machine (1: in this process, no pool)
    ray     ``ray.init`` with ``address`` (an existing cluster, e.g. ``ray://head:10001`` or ``auto``), or
            a Ray started here with ``workers`` CPUs and a bounded object store, shut down afterwards.
            The workers must have this package installed (same version): jobs name functions by import path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidInput

BACKENDS = ("local", "ray")
RAY_OBJECT_STORE_BYTES = 200 * 1024 * 1024  # a local Ray's shared-memory store (jobs exchange small dicts only)

Job = dict[str, Any]
Progress = Callable[[int, int], None]  # (jobs done, jobs in all)


@dataclass
class Backend:
    """Runs jobs locally or on Ray (see the module docstring); use as a context manager around ``map`` calls."""

    kind: str = "local"
    workers: int = 1
    address: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise InvalidInput(f"backend must be one of {', '.join(BACKENDS)}, got {self.kind!r}", code="invalid_option")
        if self.address and self.kind != "ray":
            raise InvalidInput("--ray-address needs --backend ray", code="invalid_option")
        self.workers = self.workers or (os.cpu_count() or 1)
        self._ray: Any = None
        self._started = False
        self._remote: dict[Callable[[Job], dict[str, Any]], Any] = {}

    def __enter__(self) -> Backend:
        if self.kind == "ray":
            self._ray = _start_ray(self.address, self.workers)
            self._started = not self.address
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "workers": self.workers, "ray_address": self.address or None}

    def map(self, fn: Callable[[Job], dict[str, Any]], jobs: list[Job], progress: Progress | None = None) -> list[dict[str, Any]]:
        """``[fn(j) for j in jobs]``, run where this backend runs; results in job order."""
        if not jobs:
            return []
        if self.kind == "ray":
            return self._map_ray(fn, jobs, progress)
        if self.workers <= 1 or len(jobs) == 1:
            out = []
            for i, j in enumerate(jobs):
                out.append(fn(j))
                if progress:
                    progress(i + 1, len(jobs))
            return out
        results: list[dict[str, Any] | None] = [None] * len(jobs)
        with ProcessPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            futures = {pool.submit(fn, j): i for i, j in enumerate(jobs)}
            for n, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(n, len(jobs))
        return [r for r in results if r is not None]

    def _map_ray(self, fn: Callable[[Job], dict[str, Any]], jobs: list[Job], progress: Progress | None) -> list[dict[str, Any]]:
        ray = self._ray
        if ray is None:
            raise RuntimeError("the Ray backend is used outside its `with` block")
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = [remote.remote(j) for j in jobs]
        index = {r: i for i, r in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(jobs)
        pending, done = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                results[index[r]] = ray.get(r)
                done += 1
            if progress:
                progress(done, len(jobs))
        return [r for r in results if r is not None]


def _start_ray(address: str, cpus: int) -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a pinned dependency
        raise InvalidInput("the ray backend needs the ray package (pip install -r requirements.lock)", code="invalid_option") from None
    if ray.is_initialized():
        ray.shutdown()
    if address:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InvalidInput(f"cannot reach the Ray cluster at {address}: {exc}", code="ray_unreachable") from None
    else:
        ray.init(
            num_cpus=cpus,
            object_store_memory=RAY_OBJECT_STORE_BYTES,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    return ray


@contextmanager
def backend(kind: str = "local", workers: int = 1, address: str = "") -> Iterator[Backend]:
    """A started backend, shut down on the way out."""
    with Backend(kind, workers, address) as b:
        yield b
