"""A memo of attack runs for ``tests/sim/conftest.py``'s ``shared_runs`` fixture (its docstring says why it is sound).

``evaluate_many`` (sim/attacks/base.py) measures each world through ``base._job``, in its process or on a
``base.ProcessPoolExecutor``; ``Runs`` stands in for both: a run with the same inputs as one it kept is answered
from the memo (a fresh copy, unpickled, as a worker process would hand it back), any other is run by the real
``_job`` (``measure``, importable by a worker process) and kept.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from cor_incentives.sim.attacks import base

_JOB: Callable[..., Any] = base._job  # the real ones, taken before any patch
_EXECUTOR = base.ProcessPoolExecutor


def measure(*args: Any) -> Any:
    """One world's run (``base._job``), as a worker process runs it."""
    return _JOB(*args)


class Runs:
    def __init__(self) -> None:
        self.done: dict[str, bytes] = {}

    @staticmethod
    def key(args: tuple[Any, ...]) -> str:
        family, knobs, seed, twin, params, reference = args  # evaluate_many's Job
        return repr((family, sorted(knobs.items()), seed, twin, sorted((params or {}).items()), reference))

    def get(self, args: tuple[Any, ...]) -> Any:
        kept = self.done.get(self.key(args))
        return None if kept is None else pickle.loads(kept)

    def put(self, args: tuple[Any, ...], measured: Any) -> None:
        self.done[self.key(args)] = pickle.dumps(measured)

    def job(self, *args: Any) -> Any:
        """``base._job`` with the memo."""
        kept = self.get(args)
        if kept is None:
            kept = measure(*args)
            self.put(args, kept)
        return kept

    def executor(self, max_workers: int | None = None) -> Pool:
        """``base.ProcessPoolExecutor`` with the memo."""
        return Pool(self, max_workers)


class Pool:
    def __init__(self, runs: Runs, max_workers: int | None) -> None:
        self.runs = runs
        self.real = _EXECUTOR(max_workers=max_workers)

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        assert fn == self.runs.job, fn  # evaluate_many submits its one job function (``base._job``, patched)
        out: Future[Any] = Future()
        kept = self.runs.get(args)
        if kept is not None:
            out.set_result(kept)
            return out

        def done(f: Future[Any]) -> None:  # kept before the caller sees it
            try:
                measured = f.result()
            except BaseException as e:
                out.set_exception(e)
                return
            self.runs.put(args, measured)
            out.set_result(measured)

        self.real.submit(measure, *args).add_done_callback(done)
        return out

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self.real.shutdown(*args, **kwargs)
