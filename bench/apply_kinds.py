"""CPU µs of the core's ``apply`` per event kind, replaying a log `bench/verify.py --db` built (no journal, as a replay).

    python bench/apply_kinds.py --db FILE [--rounds 3] [--atomic]

The log's rows are read and their commands decoded before any clock starts; each round replays every event into a
fresh state (``apply(state, event, atomic=False)``, or journaled with ``--atomic``, as a live event) under
``app.collector.engine_memory`` and charges each call's CPU time to its command's kind. Prints one JSON line a round:
each kind's count and mean µs, and the total seconds. Run a tree's ``src`` on PYTHONPATH for a paired before/after.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cor_incentives.app.collector import engine_memory  # noqa: E402
from cor_incentives.app.signing import seal_decoded  # noqa: E402
from cor_incentives.core.apply import apply  # noqa: E402
from cor_incentives.core.events import Command  # noqa: E402
from cor_incentives.core.state import State  # noqa: E402
from cor_incentives.store.db import Store  # noqa: E402
from verify import import_lazy_modules  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="a log bench/verify.py --db built")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--atomic", action="store_true", help="each event under the journal, as a live event")
    args = ap.parse_args()
    import_lazy_modules()
    store = Store(f"sqlite:///{args.db}", create=False)
    with store.snapshot() as conn:
        sealed = [seal_decoded(e, Command.decode(e.payload)) for e, _ in store.iter_logged(conn=conn)]
    clock = time.process_time
    for _ in range(args.rounds):
        spent: dict[str, float] = collections.defaultdict(float)
        count: collections.Counter[str] = collections.Counter()
        state = State()
        with engine_memory():
            for event in sealed:
                kind = event.command.kind
                start = clock()
                apply(state, event, atomic=args.atomic)
                spent[kind] += clock() - start
                count[kind] += 1
        kinds = {k: {"count": count[k], "mean_us": round(v / count[k] * 1e6, 2)} for k, v in sorted(spent.items())}
        print(json.dumps({"kinds": kinds, "total_seconds": round(sum(spent.values()), 3), "atomic": args.atomic}))


if __name__ == "__main__":
    main()
