"""`cor verify` full replay rate on a signed log with many nodes, against a same-run floor.

    python bench/verify.py [--nodes 10000] [--events 30000] [--db FILE] [--profile N] [--workers N] [--quick]

Builds a network on a real SQLite file (genesis, ``--nodes`` miners funded and registered, then a
tail of ordinary signed commands until the log holds ``--events`` events: transfers, delegations to
the nodes in turn, an oracle tick every 50 events, so epochs close over every node), then times,
in CPU seconds of this process:

- ``verify``: ``app.verify.verify_store`` (what ``cor verify`` runs): every check, full replay from
  genesis, projections and roots compared at the end, in this process (``workers=0``);
- ``pool`` (when this process may run on more than one core): the same with the signatures
  recovered by ``cores - 1`` helper processes ahead of the replay (``cor verify``'s default), in wall
  seconds and in CPU seconds of this process and its workers together;
- ``floor``: the same rows read in the same way, the hash chain checked and every signature
  recovered and compared with the command's actor (``app.signing.authenticate_batch``: each payload
  decoded once, the batch recovered through libsecp256k1), nothing else: what any verify pays before
  it replays anything;
- ``replay``: the core's ``apply`` of every event into a fresh state, alone (rows read and commands
  decoded before the clock starts; no journal, no check, no projection): what any verify that replays
  through this core pays on top of the floor. ``ceiling_ratio`` = floor / (floor + replay) is the best
  ``ratio`` such a verify can reach; ``beyond_seconds`` = verify - floor - replay is what verify's own
  checks add (conservation, columns, projections and roots compared at the end, slashes, the loop), split into
  ``end_seconds`` (the end comparison, ``app.verify._check_projections``: the projections, pruned rows, epoch records
  and roots against the replayed state, timed within verify) and ``loop_beyond_seconds`` = beyond - end (the per-event
  checks and the loop, the full conservation scans, slashes, blobs).

Prints one JSON object: ``events_per_second`` (verify, CPU seconds of one process: robust to the
load of a shared machine), ``floor_events_per_second``, their ratio, the sizes, raw CPU and wall
seconds, and ``pool`` (wall and CPU of the pooled verify, and its wall-time gain over ``workers=0``).
``--db FILE`` keeps the log in FILE and reuses it when it exists (building 10 k nodes takes minutes);
``--profile N`` adds the N functions with the most own time in verify. All three run with the cyclic garbage
collector paused and numpy on small pages, as verify runs (``app.collector.engine_memory``); the replay alone, like
verify, ages the state it made into the collector's oldest generation before the collector resumes
(``collector.age_survivors``; before session 23 both paid a young collection of the whole state there, ~0.1 s).
What verify imports only when it first needs it (numpy and the close's modules, pyarrow) is imported before any clock
starts (``import_lazy_modules``, ``imports_seconds``), as building the log does: before session 24 a run reusing ``--db``
charged those ~0.14 s to verify alone.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
try:
    import cor_incentives  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(BENCH.parent / "src"))

GOAL_EVENTS_PER_SECOND = 50_000
GOAL_NODES = 10_000
FLOOR_BATCH = 1_024


TICK_EVERY = 50  # the oracle ticks once per this many events of the tail
DELEGATE_EVERY = 10  # one command in this many of the tail is a delegation to a node (round robin)


def build_log(path: Path, nodes: int, events: int) -> dict[str, int]:
    """A signed log of ``events`` events in the SQLite file ``path``: genesis, ``nodes`` miners funded and
    registered, then a tail of ordinary commands: transfers between clients, delegations to the nodes
    in turn, and an oracle tick every ``TICK_EVERY`` events (so epochs close with every node)."""
    from all import SignedLog
    from cor_incentives.core.units import COR

    log = SignedLog(f"sqlite:///{path}", path.parent / f"{path.stem}-keys", nodes)
    node_keys = [log.keys[f"node{i}"] for i in range(nodes)]
    oracle, clients = log.keys["oracle"], log.clients
    counts = {"transfer": 0, "stake.delegate": 0, "tick": 0}
    batch: list[tuple[Any, str, dict[str, Any]]] = []
    for i in range(max(0, events - log.events)):
        c = clients[i % len(clients)]
        if i % TICK_EVERY == TICK_EVERY - 1:  # the oracle's tick reveals the beacon value of the state it follows
            log._submit(batch)
            batch = []
            log.engine.submit_as(oracle, "tick", {"ticks": 1})
            counts["tick"] += 1
            continue
        if i % DELEGATE_EVERY == DELEGATE_EVERY - 1:
            batch.append((c, "stake.delegate", {"node": node_keys[(i // DELEGATE_EVERY) % nodes].address, "amount": str(10 * COR)}))
        else:
            batch.append((c, "transfer", {"to": clients[(i + 1) % len(clients)].address, "amount": str(10**15)}))
        counts[batch[-1][1]] += 1
    log._submit(batch)
    counts["epochs_closed"] = len(log.engine.state.epochs)
    log.engine.store.dispose()
    return counts


def import_lazy_modules() -> float:
    """Import what a verify of this log loads only when it first needs it, before any clock starts; its CPU seconds.

    Building the log (``build_log``) imports them in this process (the engine's close: ``core.epoch`` and numpy's reward
    kernels; its format-2 epoch document: pyarrow's zstd codec), so a run that builds the log measures verify without
    them; a run that reuses ``--db`` would charge them (~0.14 s: numpy ~0.10, pyarrow ~0.02) to verify alone, which
    runs first, while the floor needs none of them and the replay alone, run after verify, finds them imported. Every
    other module verify runs is imported before its clock starts too (``verify_seconds``)."""
    start = time.process_time()
    import pyarrow  # type: ignore[import-untyped]  # noqa: F401

    from cor_incentives.core import epoch  # noqa: F401

    return time.process_time() - start


def floor_seconds(url: str) -> tuple[float, float, int]:
    """CPU and wall seconds to read every row, check the hash chain and authenticate every signature; and the count."""
    from cor_incentives.app.collector import engine_memory
    from cor_incentives.app.logcheck import link_problems
    from cor_incentives.app.signing import authenticate_batch
    from cor_incentives.core.events import GENESIS_PREV_HASH
    from cor_incentives.store.db import Store

    store = Store(url, create=False)
    start, wall = time.process_time(), time.perf_counter()
    prev, expected, n = GENESIS_PREV_HASH, 0, 0
    with store.snapshot() as conn, engine_memory():  # as verify runs
        rows = store.iter_logged(conn=conn)
        while chunk := [r for _, r in zip(range(FLOOR_BATCH), rows)]:
            for event, _ in chunk:
                if link_problems(event, expected, prev):
                    raise SystemExit(f"the bench log is broken at {event.seq}")
                prev, expected = event.hash, event.seq + 1
            for result in authenticate_batch([(e.payload, e.signature) for e, _ in chunk]):
                if isinstance(result, Exception):
                    raise SystemExit(f"a signature of the bench log does not check: {result}")
            n += len(chunk)
    seconds, wall = time.process_time() - start, time.perf_counter() - wall
    store.dispose()
    return seconds, wall, n


def replay_seconds(url: str) -> tuple[float, int]:
    """CPU seconds of ``core.apply`` alone over the whole log (decoded beforehand), and the events applied."""
    from cor_incentives.app.collector import age_survivors, engine_memory
    from cor_incentives.app.signing import seal_decoded
    from cor_incentives.core.apply import apply
    from cor_incentives.core.events import Command
    from cor_incentives.core.state import State
    from cor_incentives.store.db import Store

    store = Store(url, create=False)
    with store.snapshot() as conn:
        sealed = [seal_decoded(event, Command.decode(event.payload)) for event, _ in store.iter_logged(conn=conn)]
    store.dispose()
    state = State()
    start = time.process_time()
    with engine_memory():  # as verify runs
        for event in sealed:
            apply(state, event, atomic=False)
        age_survivors()  # as verify leaves its block: no young collection walks the state as the collector resumes
    return time.process_time() - start, len(sealed)


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (the pool's workers, once joined)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def verify_seconds(url: str, profile: int = 0, workers: int = 0) -> tuple[float, float, int, str, float]:
    """CPU seconds (this process and its workers) and wall seconds of ``verify_store`` over the whole
    log (which must verify) with ``workers``, the events, a profile (of this process), and the CPU seconds of
    this process in its end comparison (``_check_projections``: projections, pruned rows, epoch records and roots)."""
    from cor_incentives.app import verify as verify_module
    from cor_incentives.app.verify import verify_store
    from cor_incentives.store.db import Store

    store = Store(url, create=False)
    prof = cProfile.Profile() if profile else None
    compare, end = verify_module._check_projections, [0.0]

    def timed_compare(*args: Any, **kwargs: Any) -> None:  # (one call a verify: its timer costs nothing measurable)
        begin = time.process_time()
        try:
            compare(*args, **kwargs)
        finally:
            end[0] += time.process_time() - begin

    verify_module._check_projections = timed_compare
    try:
        start, wall = _cpu_with_children(), time.perf_counter()
        if prof:
            prof.enable()
        report, _ = verify_store(store, workers=workers)
        if prof:
            prof.disable()
        seconds, wall = _cpu_with_children() - start, time.perf_counter() - wall
    finally:
        verify_module._check_projections = compare
    store.dispose()
    if not report.ok:
        raise SystemExit(f"verify failed on the bench log: {report.to_dict()}")
    text = ""
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(profile)
        text = out.getvalue()
    return seconds, wall, report.events, text, end[0]


def measure(nodes: int, events: int, db: Path | None = None, profile: int = 0, workers: int | None = None) -> dict[str, Any]:
    from cor_incentives.app.recovery import default_workers

    workers = default_workers() if workers is None else workers
    with tempfile.TemporaryDirectory(prefix="cor-bench-verify-") as tmp:
        path = db if db is not None else Path(tmp) / "cor.db"
        built = not path.exists()
        tail = build_log(path, nodes, events) if built else {}
        imports_s = import_lazy_modules()  # (~0 after a build, which imported them)
        url = f"sqlite:///{path}"
        floor_s, floor_wall, n = floor_seconds(url)
        verify_s, verify_wall, verified, prof, end_s = verify_seconds(url, profile)
        replay_s, replayed = replay_seconds(url)
        pooled = verify_seconds(url, 0, workers) if workers >= 1 else None
    assert verified == n == replayed and (pooled is None or pooled[2] == n)
    rate, floor_rate = n / verify_s, n / floor_s
    out: dict[str, Any] = {
        "events": n,
        "nodes": nodes,
        "log_built": built,
        "tail": tail,
        "events_per_second": round(rate, 1),
        "floor_events_per_second": round(floor_rate, 1),
        "ratio": round(rate / floor_rate, 4),
        "verify_seconds": round(verify_s, 3),
        "floor_seconds": round(floor_s, 3),
        "replay_seconds": round(replay_s, 3),
        "ceiling_ratio": round(floor_s / (floor_s + replay_s), 4),
        "beyond_seconds": round(verify_s - floor_s - replay_s, 3),
        "end_seconds": round(end_s, 3),
        "loop_beyond_seconds": round(verify_s - floor_s - replay_s - end_s, 3),
        "imports_seconds": round(imports_s, 3),
        "verify_wall_seconds": round(verify_wall, 3),
        "floor_wall_seconds": round(floor_wall, 3),
        "pool": None
        if pooled is None
        else {
            "workers": workers,
            "wall_seconds": round(pooled[1], 3),
            "cpu_seconds": round(pooled[0], 3),
            "events_per_second_wall": round(n / pooled[1], 1),
            "wall_gain": round(verify_wall / pooled[1], 3),
            "cpu_ratio": round(pooled[0] / verify_s, 3),
        },
        "goal_events_per_second": GOAL_EVENTS_PER_SECOND,
        "holds": rate >= GOAL_EVENTS_PER_SECOND and nodes >= GOAL_NODES,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if prof:
        out["profile"] = prof
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=GOAL_NODES)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--db", type=Path, default=None, help="keep the log in this SQLite file (reused when it exists)")
    ap.add_argument("--profile", type=int, default=0, help="add the N functions with the most own time in verify")
    ap.add_argument("--quick", action="store_true", help="20 nodes, 300 events")
    ap.add_argument("--workers", type=int, default=None, help="helper processes of the pooled verify (default: cores - 1; 0: no pooled run)")
    args = ap.parse_args(argv)
    nodes, events = (20, 300) if args.quick else (args.nodes, args.events)
    print(json.dumps(measure(nodes, events, args.db, args.profile, args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
