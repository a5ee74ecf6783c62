"""How the engine's heavy blocks use memory: the cyclic garbage collector paused, numpy's arrays on small pages.

``engine_memory`` is what the writer's transactions, the load's replay and ``cor verify`` run under.

The collector. An epoch close builds hundreds of thousands of objects (statement lines, postings, the
record, its document) over a live state of millions (nodes, positions, the epoch's work rows). Each
collection the allocations trigger walks the young objects and, now and then, the whole heap: a quarter
to a third of the close's CPU at 100 k tasks × 10 k nodes (bench/epoch_e2e.py), ~15 % of a verify's CPU
at 10 k nodes. Nothing the engine applies depends on when garbage is collected: reference counting frees
what is not in a cycle at once, and the collector runs again as soon as the block is over (the counts it
missed are still there).

Small pages. numpy advises the kernel to back every array of 4 MiB or more with transparent huge pages
(``madvise(MADV_HUGEPAGE)``). Each 2 MiB page is then allocated and zeroed whole on its first touch, and
on this machine those faults cost far more than the small pages they replace: the close's temporaries
(columns of millions of rows, each a fresh allocation) spent ~2 s of system time at 1 M tasks × 10 k nodes
(apply 7.0 → 4.9 s CPU, bench/README.md). Inside the block numpy's advice is off, as if
``NUMPY_MADVISE_HUGEPAGE=0`` were set; the kernel's own policy (``transparent_hugepage``) still applies.
No value depends on the page size.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ADVICE_VARIABLE = "NUMPY_MADVISE_HUGEPAGE"  # numpy reads it when it is imported


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


def age_survivors() -> bool:
    """Move every object the collector tracks into its oldest generation, as if each had survived the young
    collections (``gc.freeze()`` then ``gc.unfreeze()``), and return True; or, in a process that keeps objects
    frozen (``cor serve`` freezes what its workers share, which this would unfreeze), do nothing and return False.

    Called at the end of a paused block that builds a large structure and keeps it (``cor verify``'s replayed state:
    ~0.33 M objects the collector tracks at 10 k nodes and 30 k events): the pause leaves every one of them in the youngest generation with
    its count far past the threshold, so the first allocation after the block starts a young collection that walks
    them all (~0.1 s there), and the next collection of the middle generation walks them again. Aged at once they
    are walked only by full collections, paced by their own rule (after a quarter as many objects again have aged).
    No value depends on when garbage is collected: garbage cycles made in the block wait for the next full one."""
    if gc.get_freeze_count():
        return False
    gc.freeze()  # (also sets the youngest generation's count to 0: nothing is pending when the collector resumes)
    gc.unfreeze()
    return True


@contextmanager
def small_pages() -> Iterator[None]:
    """numpy's large arrays allocated inside the block without the huge-page advice (left as it was found after).

    numpy is not imported for this: a read command never loads it (tests/e2e/test_cli_startup_imports.py). When it is
    not loaded yet, ``NUMPY_MADVISE_HUGEPAGE=0`` is put in the environment for the block, so a numpy first imported
    inside it starts with the advice off (and keeps it so after); otherwise numpy's switch
    (``numpy._core.multiarray._set_madvise_hugepage``, which returns what the advice was) is turned off and back."""
    multiarray = sys.modules.get("numpy._core.multiarray")
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        ours = ADVICE_VARIABLE not in os.environ
        if ours:
            os.environ[ADVICE_VARIABLE] = "0"
        try:
            yield
        finally:
            if ours:
                os.environ.pop(ADVICE_VARIABLE, None)
        return
    was = switch(False)
    try:
        yield
    finally:
        switch(was)


@contextmanager
def engine_memory() -> Iterator[None]:
    """The collector paused and numpy's arrays on small pages, for the block (both process-wide, as they are in
    Python and numpy: another thread's allocations in the meantime follow them too; both restored after)."""
    with collection_paused(), small_pages():
        yield
