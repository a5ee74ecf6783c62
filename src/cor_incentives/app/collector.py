"""The writer's transactions run with Python's cyclic garbage collector paused.

An epoch close builds hundreds of thousands of objects (statement lines, postings, the record, its
document) over a live state of millions (nodes, positions, the epoch's work rows). Each collection the
allocations trigger walks the young objects and, now and then, the whole heap: a quarter to a third
of the close's CPU at 100 k tasks × 10 k nodes (bench/epoch_e2e.py). Nothing the engine applies
depends on when garbage is collected: reference counting frees what is not in a cycle at once, and
the collector runs again as soon as the transaction is over (the counts it missed are still there).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (left as it was found: a pause inside a pause is a no-op)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
