"""Signature recovery for a stream of batches, ahead of need in worker processes (``cor verify``).

One libsecp256k1 recovery costs ~50 µs of CPU, so on one core recovery alone caps a replay at
~10-20 k events/s. ``recovered(batches, workers)`` hands each batch's (message, signature) pairs to
``core.signatures.recover_signers`` and yields each batch with its signers, in the order given:

- ``workers`` = 0: in this process, one batch at a time, exactly as before;
- ``workers`` ≥ 1: a pool of that many helper processes (forked at the start, so they import
  nothing) recovers up to ``workers + 1`` batches ahead while the caller uses the ones already done
  (a replay applies batch k while batch k+1 is being recovered). Results are the same values in the
  same order: an address, or the ``Unauthorized`` error ``recover_signers`` gives for that item
  (rebuilt from its code and message, as exceptions do not cross processes faithfully).

``default_workers()`` is one helper per core this process may run on (``os.sched_getaffinity``)
beyond the one the caller runs on: 0 on one core (no pool), 1 on two (recovery overlaps the replay).
Only for a caller that is the process's only user of threads (the ``cor verify`` command): forking a
process whose other threads hold locks is unsafe, so the server's verify stays in-process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain
from typing import TypeVar

from ..core.errors import Unauthorized
from ..core.signatures import recover_signers

T = TypeVar("T")
Signed = list[tuple[bytes, str]]
Signers = list[str | Unauthorized]
_Wire = list[str | tuple[str, str]]  # an address, or (code, message) of the error


def default_workers() -> int:
    """Helper processes for the cores this process may run on besides its own (0: recover in-process)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(0, cores - 1)


def recovered(batches: Iterable[tuple[T, Signed]], workers: int = 0) -> Iterator[tuple[T, Signers]]:
    """Each (tag, signed) of ``batches`` as (tag, the signers of ``signed``), in order (see the module doc).

    A log of one batch is recovered in-process whatever ``workers`` says (no pool for that)."""
    it = iter(batches)
    first = next(it, None)
    if first is None:
        return
    second = next(it, None) if workers >= 1 else None
    if second is None:
        yield first[0], recover_signers(first[1])
        for tag, signed in it:
            yield tag, recover_signers(signed)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    try:
        ahead: deque[tuple[T, Future[_Wire]]] = deque()
        for tag, signed in chain((first, second), it):
            ahead.append((tag, pool.submit(_recover_wire, signed)))
            if len(ahead) > workers:
                done_tag, future = ahead.popleft()
                yield done_tag, _from_wire(future.result())
        while ahead:
            done_tag, future = ahead.popleft()
            yield done_tag, _from_wire(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _recover_wire(signed: Signed) -> _Wire:
    """In a worker: ``recover_signers`` with each error as (code, message)."""
    return [s if isinstance(s, str) else (s.code, s.message) for s in recover_signers(signed)]


def _from_wire(wire: _Wire) -> Signers:
    return [s if isinstance(s, str) else Unauthorized(s[1], code=s[0]) for s in wire]
