"""Bench: signed commands accepted per second over HTTP, against the in-process floor (docs/design.md §10).

    python bench/ingest.py [--commands 5000] [--clients 20] [--servers 1] [--workers 2] [--db URL] [--client raw|httpx]

Creates a network whose genesis funds one key per client (in a temporary SQLite file, or in the
empty database at --db, e.g. ``postgresql+psycopg://…``), starts ``--servers`` ``cor serve``
processes (``--workers`` uvicorn workers each) on that database, and has ``--clients`` clients POST
``--commands`` signed commands (transfers and delegations, alternating), round-robin over the
servers, each client on one keep-alive connection, one request in flight. Commands are signed, and
their requests built, before the clock starts (clients sign on their own machines); one thread drives
every connection (``run_http``: a few tens of µs of client CPU per request; ``--client httpx``, the
bench's client until session 14, spends ~0.8 ms per request on the servers' cores). Then, in
the same run and on the same database, the floor: ``Engine.submit`` called directly in this process
for the same number of pre-signed commands. Finally ``verify_store`` must be ok. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

try:
    from cor_incentives.app.engine import Engine
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cor_incentives.app.engine import Engine

from cor_incentives.app.genesis import check_genesis_spec, genesis_body
from cor_incentives.app.keys import Key, Keystore
from cor_incentives.app.signing import sign_command
from cor_incentives.app.verify import verify_store
from cor_incentives.core.units import COR

TRANSFER_UNITS = 10**15
DELEGATION_UNITS = COR  # min_position_units (rule 20): a first delegation under it is refused
SERVER_START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_network(url: str, keys_dir: Path, clients: int) -> tuple[Engine, dict[str, Key], list[str]]:
    """Genesis funding every client key, and two miner nodes to delegate to."""
    engine = Engine.open(url)
    if engine.state.seq != -1:
        raise SystemExit(f"{url} is not empty; the bench needs an empty database")
    ks = Keystore(keys_dir)
    names = ["oracle", "node0", "node1", *[f"client{i:03d}" for i in range(clients)]]
    keys = {n: ks.new(n, seed="bench") for n in names}
    spec = check_genesis_spec(
        {
            "chain_id": "cor-bench",
            "allocations": {"pool:staking": "100000000", "treasury": "150000000"},
            "key_allocations": {n: "1000000" for n in names[1:]},
        }
    )
    engine.submit_as(keys["oracle"], "genesis", genesis_body(spec, keys["oracle"].address, {n: k.address for n, k in keys.items()}))
    for n in ("node0", "node1"):
        engine.submit_as(keys[n], "node.register", {"role": "miner", "self_bond": str(2000 * COR), "commission_bps": 100, "models": []})
    return engine, keys, [keys["node0"].address, keys["node1"].address]


def signed_commands(keys: list[Key], chain_id: str, nodes: list[str], per_client: int, first_nonce: int) -> list[list[tuple[bytes, str]]]:
    """Per client: ``per_client`` signed commands, alternating transfer and delegation."""
    out = []
    addresses = [k.address for k in keys]
    for i, key in enumerate(keys):
        mine = []
        for j in range(per_client):
            nonce = first_nonce + j
            if j % 2 == 0:
                kind, body = "transfer", {"to": addresses[(i + 1 + j) % len(keys)] if len(keys) > 1 else nodes[0], "amount": str(TRANSFER_UNITS)}
                if body["to"] == key.address:
                    body["to"] = nodes[0]
            else:
                kind, body = "stake.delegate", {"node": nodes[j % 2], "amount": str(DELEGATION_UNITS)}
            mine.append(sign_command(key.private_key, chain_id, kind, nonce, body))
        out.append(mine)
    return out


def start_servers(url: str, count: int, workers: int, log_dir: Path) -> list[tuple[str, subprocess.Popen]]:
    servers = []
    for i in range(count):
        port = free_port()
        log = open(log_dir / f"serve-{i}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cor_incentives.cli.serve", "--port", str(port), "--db", url, "--workers", str(workers), "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        servers.append((f"http://127.0.0.1:{port}", proc))
    wait_until_healthy(servers, "cor serve", log_dir)
    return servers


HEALTH_POLL_SECONDS = 0.02


def wait_until_healthy(servers: list[tuple[str, subprocess.Popen]], what: str, log_dir: Path) -> None:
    """Poll each server's ``/healthz`` until it answers 200 (the same loop for ``cor serve`` and the echo
    app, so a start and its floor are timed alike). One client for all the polls: ``httpx.get`` builds a
    client, and its TLS context, per call (~30 ms CPU, taken from the server being timed on 2 cores)."""
    with httpx.Client(timeout=1) as client:
        for base, proc in servers:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_servers(servers)
                    raise SystemExit(f"{what} did not start; see {log_dir}")
                try:
                    if client.get(base + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(HEALTH_POLL_SECONDS)


def stop_servers(servers: list[tuple[str, subprocess.Popen]]) -> None:
    for _, proc in servers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for _, proc in servers:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def server_cpu_seconds(servers: list[tuple[str, subprocess.Popen]]) -> float | None:
    """CPU seconds (user + system) used so far by the server processes and their forked workers (from
    /proc; None where there is none). Steadier than wall time on a shared machine: with ``accepted`` it
    gives the server's CPU per command, whatever else runs."""
    tick = os.sysconf("SC_CLK_TCK")

    def tree(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick + sum(tree(int(c)) for c in children)

    if not Path("/proc/self/stat").exists():
        return None
    return sum(tree(proc.pid) for _, proc in servers)


def cpu_ms_per_command(before: float | None, after: float | None, accepted: int) -> float | None:
    return None if before is None or after is None or not accepted else round((after - before) * 1000 / accepted, 3)


def _run_clients(n: int, client: Callable[[int], None]) -> float:
    """Run ``client(0..n-1)`` on one thread each, all at once; the wall seconds until the last is done."""
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _p50_p99_ms(latencies: list[float]) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] if latencies else 0.0] * 99
    return {"p50": round(q[49] * 1000, 2), "p99": round(q[98] * 1000, 2)}


class ResponseError(RuntimeError):
    """A server's answer the bench cannot count: not HTTP/1.1 with a length, a 200 without a receipt, or a
    connection closed before its answer (a POST is never resent: it might have been appended)."""


def request_bytes(base: str, path: str, payload: bytes, signature: str) -> bytes:
    """One whole HTTP/1.1 ``POST`` of ``{"payload", "signature"}`` as JSON, ready to send (keep-alive)."""
    host = base.split("://", 1)[1].rstrip("/")
    body = json.dumps({"payload": payload.decode("ascii"), "signature": signature}, separators=(",", ":")).encode("ascii")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


class _Conn:
    """One client: a keep-alive socket, its pre-built requests and where it is in them."""

    __slots__ = ("address", "sock", "requests", "next", "buf", "sent_at", "latencies", "close_after")

    def __init__(self, address: tuple[str, int], requests: list[bytes]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.requests = requests
        self.next = 0
        self.buf = bytearray()
        self.sent_at = 0.0
        self.latencies: list[float] = []
        self.close_after = False


def _answer(buf: bytearray) -> tuple[int, bytes, bool, int] | None:
    """The first whole response in ``buf``: (status, body, the server closes the connection, bytes used), or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or status_line[0] != b"HTTP/1.1":
        raise ResponseError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
    length, close = None, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise ResponseError("a chunked answer (the bench expects content-length)")
    if length is None:
        raise ResponseError("an answer without content-length")
    total = end + 4 + length
    if len(buf) < total:
        return None
    return int(status_line[1]), bytes(buf[end + 4 : total]), close, total


def run_http(batches: list[list[tuple[bytes, str]]], bases: list[str], path: str = "/v1/commands") -> dict:
    """The single-command path: client ``i`` posts ``batches[i]`` in order, one command a request, each
    request after the previous answer, on its own keep-alive connection to ``bases[i % len(bases)]``.

    A lean load generator: every request is built as bytes before the clock starts, and one thread
    drives all the connections (non-blocking sockets, one ``selectors`` loop), so the client spends a few
    tens of µs of CPU per request instead of httpx's ~0.8 ms, and what is timed is the server. Each answer
    is still read whole and checked: a 200 must carry a JSON object with an integer ``seq`` (a receipt, or
    the echo app's), anything else is counted as rejected under its ``error`` code (or its status)."""
    conns = []
    for i, mine in enumerate(batches):
        base = bases[i % len(bases)]
        host, port = base.split("://", 1)[1].rstrip("/").rsplit(":", 1)
        conns.append(_Conn((host, int(port)), [request_bytes(base, path, p, s) for p, s in mine]))
    codes: dict[str, int] = {}
    accepted = 0
    sel = selectors.DefaultSelector()

    def connect(c: _Conn) -> None:
        c.sock = socket.create_connection(c.address)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)

    def send_next(c: _Conn) -> None:
        if c.close_after:  # the server said it closes: a new connection for the next request
            _close(sel, c)
            connect(c)
            c.close_after = False
        assert c.sock is not None
        data = c.requests[c.next]
        c.sent_at = time.perf_counter()
        sent = c.sock.send(data)  # a few hundred bytes into an empty socket buffer: sent whole
        if sent < len(data):
            c.sock.setblocking(True)
            c.sock.sendall(data[sent:])
            c.sock.setblocking(False)

    cpu, start = time.process_time(), time.perf_counter()
    try:
        for c in conns:
            if c.requests:
                connect(c)
                send_next(c)
        waiting = sum(1 for c in conns if c.requests)
        while waiting:
            for key, _ in sel.select():
                c = key.data
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise ResponseError(f"the server closed the connection before answering request {c.next} of a client")
                c.buf += chunk
                while (got := _answer(c.buf)) is not None:
                    status, body, close, used = got
                    c.latencies.append(time.perf_counter() - c.sent_at)
                    del c.buf[:used]
                    if status == 200:
                        answer = json.loads(body)
                        if not isinstance(answer, dict) or type(answer.get("seq")) is not int:
                            raise ResponseError(f"a 200 answer that is not a receipt: {body[:200]!r}")
                        accepted += 1
                    else:
                        try:
                            code = str(json.loads(body).get("error", status))
                        except (ValueError, AttributeError):
                            code = str(status)
                        codes[code] = codes.get(code, 0) + 1
                    c.close_after = close
                    c.next += 1
                    if c.next == len(c.requests):
                        waiting -= 1
                        _close(sel, c)
                        break
                    if c.buf:
                        raise ResponseError("bytes after an answer to the one request in flight")
                    send_next(c)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for c in conns:
            _close(sel, c)
        sel.close()
    return _single_path_report("raw", accepted, codes, seconds, cpu, [t for c in conns for t in c.latencies])


def _single_path_report(client: str, accepted: int, codes: dict[str, int], seconds: float, cpu: float, latencies: list[float]) -> dict:
    """What a single-command run reports, whichever client drove it (``cpu``: the client's CPU seconds)."""
    return {
        "accepted": accepted,
        "rejected": codes,
        "seconds": round(seconds, 3),
        "commands_per_second": round(accepted / seconds, 1),
        "latency_ms": _p50_p99_ms(latencies),
        "client": client,
        "client_cpu_ms_per_request": round(cpu * 1000 / max(1, len(latencies)), 4),
    }


def _close(sel: selectors.BaseSelector, c: _Conn) -> None:
    if c.sock is not None:
        sel.unregister(c.sock)
        c.sock.close()
        c.sock = None


def run_http_httpx(batches: list[list[tuple[bytes, str]]], bases: list[str]) -> dict:
    """The single-command path as the bench drove it until session 14: one ``httpx.Client`` thread per
    client. Kept for comparison (``--client httpx``): it spends ~0.8 ms of CPU per request in this process,
    on the cores the servers use, so it measures itself as much as the server (bench/README.md)."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    lock = threading.Lock()

    def client(i: int) -> None:
        mine, bad = [], {}
        with httpx.Client(base_url=bases[i % len(bases)], timeout=120) as http:
            for payload, sig in batches[i]:
                t = time.perf_counter()
                r = http.post("/v1/commands", json={"payload": payload.decode("ascii"), "signature": sig})
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    code = r.json().get("error", str(r.status_code))
                    bad[code] = bad.get(code, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in bad.items():
                codes[k] = codes.get(k, 0) + v

    cpu = time.process_time()
    seconds = _run_clients(len(batches), client)
    cpu = time.process_time() - cpu
    return _single_path_report("httpx", len(latencies) - sum(codes.values()), codes, seconds, cpu, latencies)


def run_http_batch(batches: list[list[tuple[bytes, str]]], bases: list[str], per_request: int) -> dict:
    """Each client posts its commands ``per_request`` at a time to ``POST /v1/commands:batch`` (in
    nonce order); counts the commands accepted per second and each request's latency."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    accepted = [0]
    lock = threading.Lock()

    def client(i: int) -> None:
        mine, bad, ok = [], {}, 0
        with httpx.Client(base_url=bases[i % len(bases)], timeout=300) as http:
            for start in range(0, len(batches[i]), per_request):
                chunk = batches[i][start : start + per_request]
                body = {"commands": [{"payload": p.decode("ascii"), "signature": sig} for p, sig in chunk]}
                t = time.perf_counter()
                r = http.post("/v1/commands:batch", json=body)
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    code = r.json().get("error", str(r.status_code))
                    bad[code] = bad.get(code, 0) + len(chunk)
                    continue
                for res in r.json()["results"]:
                    if res["status"] == 200:
                        ok += 1
                    else:
                        bad[res["error"]] = bad.get(res["error"], 0) + 1
        with lock:
            latencies.extend(mine)
            accepted[0] += ok
            for k, v in bad.items():
                codes[k] = codes.get(k, 0) + v

    seconds = _run_clients(len(batches), client)
    return {
        "accepted": accepted[0],
        "rejected": codes,
        "requests": len(latencies),
        "commands_per_request": per_request,
        "seconds": round(seconds, 3),
        "commands_per_second": round(accepted[0] / seconds, 1),
        "request_latency_ms": _p50_p99_ms(latencies),
    }


def run_group_floor(engine: Engine, batches: list[list[tuple[bytes, str]]], per_commit: int) -> dict:
    """``Engine.submit_batch`` called directly, ``per_commit`` commands per writer transaction: the
    group commit without HTTP (what the batch path can approach at most)."""
    engine.refresh()
    flat = [c for batch in batches for c in batch]
    start, cpu = time.perf_counter(), time.process_time()
    accepted = 0
    for i in range(0, len(flat), per_commit):
        accepted += sum(1 for r in engine.submit_batch(flat[i : i + per_commit]) if not isinstance(r, Exception))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "accepted": accepted,
        "seconds": round(seconds, 3),
        "commands_per_second": round(accepted / seconds, 1),
        "cpu_ms_per_command": round(cpu * 1000 / max(1, accepted), 3),
    }


def run_floor(engine: Engine, batches: list[list[tuple[bytes, str]]]) -> dict:
    engine.refresh()
    flat = [c for batch in batches for c in batch]
    start = time.perf_counter()
    for payload, sig in flat:
        engine.submit(payload, sig)
    seconds = time.perf_counter() - start
    return {"accepted": len(flat), "seconds": round(seconds, 3), "commands_per_second": round(len(flat) / seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=5_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--servers", type=int, default=1, help="cor serve processes (clients are spread over them; each applies every command)")
    ap.add_argument("--workers", type=int, default=2, help="workers per cor serve process (one writer, the others forward commands to it)")
    ap.add_argument("--db", default=None, help="empty database URL (default: a temporary SQLite file)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator: raw (one thread) or httpx (a thread each)")
    args = ap.parse_args()
    if not 1 <= args.clients <= 1_000 or not 1 <= args.servers <= 16 or args.commands < args.clients:
        raise SystemExit("need 1 <= clients <= 1000, 1 <= servers <= 16, commands >= clients")

    with tempfile.TemporaryDirectory(prefix="cor-bench-") as tmp:
        work = Path(tmp)
        url = args.db or f"sqlite:///{work / 'cor.db'}"
        engine, keys, nodes = make_network(url, work / "keys", args.clients)
        clients = [keys[f"client{i:03d}"] for i in range(args.clients)]
        per_client = args.commands // args.clients
        http_batches = signed_commands(clients, engine.state.chain_id, nodes, per_client, first_nonce=1)
        floor_batches = signed_commands(clients, engine.state.chain_id, nodes, per_client, first_nonce=per_client + 1)

        servers = start_servers(url, args.servers, args.workers, work)
        try:
            cpu_before = server_cpu_seconds(servers)
            http = (run_http if args.client == "raw" else run_http_httpx)(http_batches, [b for b, _ in servers])
            http["server_cpu_ms_per_command"] = cpu_ms_per_command(cpu_before, server_cpu_seconds(servers), http["accepted"])
        finally:
            stop_servers(servers)
        floor = run_floor(engine, floor_batches)
        report, _ = verify_store(engine.store)
        print(
            json.dumps(
                {
                    "bench": "ingest",
                    "db": engine.store.engine.dialect.name,
                    "cpus": os.cpu_count(),
                    "commands": per_client * args.clients,
                    "clients": args.clients,
                    "server_processes": args.servers,
                    "workers_per_server": args.workers,
                    "http": http,
                    "floor_in_process": floor,
                    "http_vs_floor": round(http["commands_per_second"] / floor["commands_per_second"], 3),
                    "events": report.events,
                    "verify_ok": report.ok,
                },
                indent=2,
            )
        )
        if not report.ok or http["rejected"]:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
