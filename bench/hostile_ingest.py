"""Bench: honest signed writes per second over HTTP while a hostile sender posts bad commands.

    python bench/hostile_ingest.py [--commands 2000] [--clients 8] [--workers 1] [--hostile-rate 5] [--rounds 2]

Milestone 1 measured a 5-per-second attacker posting malformed commands (deep JSON, a 5 000-digit
amount, a list where an address belongs, …) cutting honest writes by 46 % with one worker and 80 % with
two, because each bad command failed every other command in its group commit. This bench replays that
on a real ``cor serve`` (SQLite file, ``--workers`` uvicorn workers) and measures, in the same run and on
the same server, alternating rounds of:

- ``quiet``: ``--clients`` honest threads post their pre-signed commands (transfers and delegations);
- ``hostile``: the same, while one attacker thread posts ``--hostile-rate`` bad commands per second, cycling
  through the shapes in ``SHAPE_NAMES`` (each from a fresh unfunded key, signed, so it reaches the core).

It reports honest commands accepted per second in each, ``honest_kept`` = hostile / quiet (1.0 = the
attacker costs the honest senders nothing), every honest command accepted, every hostile one refused
with a 4xx and a specific code (never a 5xx), and ``verify_store`` ok at the end. Prints one JSON object;
exits 1 if an honest command was refused, a hostile one was accepted or got a 5xx, or verify fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cor_incentives.app.signing import sign_bytes, sign_command  # noqa: E402
from cor_incentives.app.verify import verify_store  # noqa: E402
from ingest import make_network, run_http, signed_commands, start_servers, stop_servers  # noqa: E402


def _deep(chain_id: str, actor: str) -> bytes:
    deep = "[" * 975 + "1" + "]" * 975
    return f'{{"actor":"{actor}","body":{{"deposit":"0","x":{deep}}},"chain_id":"{chain_id}","kind":"session.open","nonce":1}}'.encode()


class _Key:
    def __init__(self, i: int) -> None:
        self.private_key = "0x" + hashlib.sha256(f"cor-bench-hostile:{i}".encode()).hexdigest()
        self.address = Account.from_key(self.private_key).address


def hostile_commands(chain_id: str, target: str, count: int) -> list[tuple[str, dict]]:
    """``count`` bad commands (the shape's name, the request body), each signed by its own fresh key."""
    shapes: list[tuple[str, Any]] = [
        ("deep_json", lambda k: (_deep(chain_id, k.address), None)),
        ("huge_amount", lambda k: (None, ("transfer", {"to": target, "amount": "9" * 5000}))),
        ("list_for_address", lambda k: (None, ("transfer", {"to": [target], "amount": "1"}))),
        ("unicode_digits", lambda k: (None, ("transfer", {"to": target, "amount": "١٢"}))),
        ("leading_zero", lambda k: (None, ("transfer", {"to": target, "amount": "01"}))),
        ("unknown_field", lambda k: (None, ("transfer", {"to": target, "amount": "1", "junk": "x" * 1000}))),
        ("bad_checksum", lambda k: (None, ("transfer", {"to": target[:2] + target[2:].swapcase(), "amount": "1"}))),
        ("unfunded_transfer", lambda k: (None, ("transfer", {"to": target, "amount": "1"}))),
    ]
    out = []
    for i in range(count):
        name, make = shapes[i % len(shapes)]
        key = _Key(i)
        raw, cmd = make(key)
        if raw is not None:
            body = {"payload": raw.decode("ascii"), "signature": sign_bytes(key.private_key, raw)}
        else:
            kind, fields = cmd
            payload, sig = sign_command(key.private_key, chain_id, kind, 1, fields)
            body = {"payload": payload.decode("ascii"), "signature": sig}
        out.append((name, body))
    if tuple(n for n, _ in shapes) != SHAPE_NAMES:
        raise SystemExit("SHAPE_NAMES must list the shapes in order")
    return out


SHAPE_NAMES = ("deep_json", "huge_amount", "list_for_address", "unicode_digits", "leading_zero", "unknown_field", "bad_checksum", "unfunded_transfer")


def run_attacker(base: str, commands: list[tuple[str, dict]], rate: float, stop: threading.Event) -> dict:
    """Post ``commands`` at ``rate`` per second until ``stop`` (and at least every shape once); tally status and error codes."""
    sent, statuses, codes = 0, {}, {}
    with httpx.Client(base_url=base, timeout=60) as http:
        next_at = time.perf_counter()
        while (not stop.is_set() or sent < len(SHAPE_NAMES)) and sent < len(commands):
            now = time.perf_counter()
            if now < next_at:
                time.sleep(min(next_at - now, 0.05))
                continue
            _name, body = commands[sent]
            r = http.post("/v1/commands", json=body)
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
            if r.status_code != 200:
                code = r.json().get("error", "?")
                codes[code] = codes.get(code, 0) + 1
            sent += 1
            next_at += 1.0 / rate
    return {"sent": sent, "statuses": statuses, "codes": codes}


def attack_into(result: dict, base: str, commands: list[tuple[str, dict]], rate: float, stop: threading.Event) -> None:
    result.update(run_attacker(base, commands, rate, stop))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=2_000, help="honest commands per round")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the one cor serve process")
    ap.add_argument("--hostile-rate", type=float, default=5.0, help="bad commands per second during hostile rounds")
    ap.add_argument("--rounds", type=int, default=2, help="quiet/hostile pairs, alternating")
    args = ap.parse_args()
    if not 1 <= args.clients <= 200 or args.commands < args.clients or not 0 < args.hostile_rate <= 1000 or not 1 <= args.rounds <= 20:
        raise SystemExit("need 1 <= clients <= 200, commands >= clients, 0 < hostile-rate <= 1000, 1 <= rounds <= 20")

    with tempfile.TemporaryDirectory(prefix="cor-bench-hostile-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'cor.db'}"
        engine, keys, nodes = make_network(url, work / "keys", args.clients)
        clients = [keys[f"client{i:03d}"] for i in range(args.clients)]
        per_client = args.commands // args.clients
        chain_id = engine.state.chain_id
        batches = [signed_commands(clients, chain_id, nodes, per_client, first_nonce=1 + r * per_client) for r in range(2 * args.rounds)]
        hostile = hostile_commands(chain_id, nodes[0], int(args.hostile_rate * 600) + 1)

        servers = start_servers(url, 1, args.workers, work)
        base = servers[0][0]
        quiet, loud, attack = [], [], {"sent": 0, "statuses": {}, "codes": {}}
        cursor = 0
        try:
            for r in range(args.rounds):
                quiet.append(run_http(batches[2 * r], [base]))
                stop = threading.Event()
                result: dict = {}
                t = threading.Thread(target=attack_into, args=(result, base, hostile[cursor:], args.hostile_rate, stop))
                t.start()
                loud.append(run_http(batches[2 * r + 1], [base]))
                stop.set()
                t.join()
                cursor += result["sent"]
                attack["sent"] += result["sent"]
                for field in ("statuses", "codes"):
                    for k, v in result[field].items():
                        attack[field][k] = attack[field].get(k, 0) + v
        finally:
            stop_servers(servers)
        engine.refresh()
        report, _ = verify_store(engine.store)

    def rate(rounds: list[dict]) -> float:
        return round(statistics.median(x["commands_per_second"] for x in rounds), 1)

    honest_refused = sum(sum(x["rejected"].values()) for x in quiet + loud)
    hostile_accepted = attack["statuses"].get("200", 0)
    server_errors = sum(v for k, v in attack["statuses"].items() if k.startswith("5"))
    out = {
        "bench": "hostile_ingest",
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "honest_commands_per_round": per_client * args.clients,
        "rounds": args.rounds,
        "hostile_rate_per_second": args.hostile_rate,
        "quiet_commands_per_second": rate(quiet),
        "hostile_commands_per_second": rate(loud),
        "honest_kept": round(rate(loud) / rate(quiet), 3),
        "honest_refused": honest_refused,
        "hostile": attack,
        "hostile_accepted": hostile_accepted,
        "hostile_server_errors": server_errors,
        "events": report.events,
        "verify_ok": report.ok,
    }
    print(json.dumps(out, indent=2))
    if honest_refused or hostile_accepted or server_errors or not report.ok or attack["sent"] == 0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
