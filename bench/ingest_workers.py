"""Bench: ``cor serve --workers 2`` (one writer, one read worker forwarding to it) against ``--workers 1``,
paired in the same run on the same database, on the single-command and the batch path.

    python bench/ingest_workers.py [--commands 2000] [--clients 8] [--per-request 125] [--rounds 2] [--db URL]

Creates a network (bench/ingest.py's: one funded key per client, two miner nodes), then for each round
starts one ``cor serve`` with ``--workers 1`` and one with ``--workers 2`` in turn (the order alternates
round by round), and against each: ``--clients`` threads POST ``--commands`` signed commands one per
request (``/v1/commands``), then as many again ``--per-request`` at a time (``/v1/commands:batch``).
Commands are signed before the clock starts. Reported per server and path: commands accepted per
second (wall: noisy on a shared machine) and the server's CPU per accepted command (all its processes,
from /proc: the steadier measure), and the ratios ``workers_2 / workers_1`` of their medians. Every
command must be accepted and ``verify_store`` ok, else exit 1. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cor_incentives.app.verify import verify_store  # noqa: E402
from ingest import (  # noqa: E402 (bench/ingest.py, next to this file)
    cpu_ms_per_command,
    make_network,
    run_http,
    run_http_batch,
    server_cpu_seconds,
    signed_commands,
    start_servers,
    stop_servers,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=2_000, help="commands per path, per server, per round")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-request", type=int, default=125, help="commands per batch request")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--db", default=None, help="empty database URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    if not 1 <= args.clients <= 200 or args.commands < args.clients or not 1 <= args.per_request <= 256 or not 1 <= args.rounds <= 10:
        raise SystemExit("need 1 <= clients <= 200, commands >= clients, 1 <= per-request <= 256, 1 <= rounds <= 10")

    with tempfile.TemporaryDirectory(prefix="cor-bench-workers-") as tmp:
        work = Path(tmp)
        url = args.db or f"sqlite:///{work / 'cor.db'}"
        engine, keys, nodes = make_network(url, work / "keys", args.clients)
        chain_id = engine.state.chain_id
        engine.store.engine.dispose()
        clients = [keys[f"client{i:03d}"] for i in range(args.clients)]
        per_client = args.commands // args.clients
        nonce = 1
        runs: dict[str, dict[str, list[dict]]] = {"workers_1": {"single": [], "batch": []}, "workers_2": {"single": [], "batch": []}}
        failed = False
        for r in range(args.rounds):
            order = (1, 2) if r % 2 == 0 else (2, 1)
            for workers in order:
                servers = start_servers(url, 1, workers, work)
                try:
                    for path in ("single", "batch"):
                        batches = signed_commands(clients, chain_id, nodes, per_client, first_nonce=nonce)
                        nonce += per_client
                        before = server_cpu_seconds(servers)
                        bases = [b for b, _ in servers]
                        out = run_http(batches, bases) if path == "single" else run_http_batch(batches, bases, args.per_request)
                        out["server_cpu_ms_per_command"] = cpu_ms_per_command(before, server_cpu_seconds(servers), out["accepted"])
                        out["round"] = r
                        runs[f"workers_{workers}"][path].append(out)
                        failed = failed or bool(out["rejected"])
                finally:
                    stop_servers(servers)
        report, _ = verify_store(engine.store)

        def median(key: str, workers: int, path: str) -> float | None:
            values = [x[key] for x in runs[f"workers_{workers}"][path] if x.get(key) is not None]
            return round(statistics.median(values), 3) if values else None

        summary = {}
        for path in ("single", "batch"):
            row = {}
            for key in ("commands_per_second", "server_cpu_ms_per_command"):
                one, two = median(key, 1, path), median(key, 2, path)
                row[key] = {"workers_1": one, "workers_2": two, "ratio_2_over_1": round(two / one, 3) if one and two else None}
            summary[path] = row
        print(
            json.dumps(
                {
                    "bench": "ingest_workers",
                    "db": engine.store.engine.dialect.name,
                    "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 1),
                    "commands_per_path": per_client * args.clients,
                    "clients": args.clients,
                    "per_request": args.per_request,
                    "rounds": args.rounds,
                    "summary": summary,
                    "runs": runs,
                    "events": report.events,
                    "verify_ok": report.ok,
                },
                indent=2,
            )
        )
        if not report.ok or failed:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
