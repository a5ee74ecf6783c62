"""Load over real HTTP and two server processes sharing one database (SQLite file, then PostgreSQL).

20 client threads, each with its own key funded at genesis, send 5 000 signed commands in total
(transfers between clients and delegations to two nodes), half to each of two `cor serve` processes.
Afterwards every accepted command is in the log exactly once (by actor and nonce) at the place its
receipt names, balances equal what the receipts imply, conservation holds after every event, and
`verify_store` is ok.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict

import pytest

from cor_incentives.app.engine import Engine
from cor_incentives.app.verify import verify_store
from cor_incentives.client import ApiError, CorClient
from cor_incentives.core.units import COR

CLIENTS = 20
COMMANDS = 5_000
CLIENT_FUNDS_COR = 1_000_000
TRANSFER_UNITS = 10**15  # 0.001 COR
DELEGATION_UNITS = COR  # 1 COR: min_position_units (rule 20) refuses a first delegation under it


def client_name(i: int) -> str:
    return f"client{i:02d}"


@pytest.mark.slow
def test_5000_signed_commands_from_20_clients_on_two_processes(tmp_path, api_helpers, db_url):
    alloc = {client_name(i): str(CLIENT_FUNDS_COR) for i in range(CLIENTS)}
    alloc.update({"node0": "10000", "node1": "10000"})
    net = api_helpers.make_network(tmp_path / "net", alloc, chain_id="cor-load-test", seed="load", url=db_url)
    nodes = [net.keys["node0"].address, net.keys["node1"].address]
    setup = Engine.open(net.url)
    for n in ("node0", "node1"):
        setup.submit_as(net.keys[n], "node.register", {"role": "miner", "self_bond": str(2000 * COR), "commission_bps": 100, "models": []})
    setup.store.engine.dispose()
    events_before = api_helpers.event_count(net)

    servers = [api_helpers.start_server(net.url, tmp_path / f"serve-{i}.log") for i in range(2)]
    receipts: list[tuple[str, int, str, dict, int]] = []  # (actor, nonce, kind, body, seq)
    rejected: list[tuple[str, int, str]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    addresses = [net.keys[client_name(i)].address for i in range(CLIENTS)]
    per_client = COMMANDS // CLIENTS

    def run(i: int) -> None:
        key = net.keys[client_name(i)]
        mine: list[tuple[str, int, str, dict, int]] = []
        bad: list[tuple[str, int, str]] = []
        try:
            with CorClient(servers[i % 2].base_url, key.private_key, timeout=120) as client:
                for nonce in range(1, per_client + 1):
                    if nonce % 2:
                        kind, body = "transfer", {"to": addresses[(i + nonce) % CLIENTS], "amount": str(TRANSFER_UNITS)}
                    else:
                        kind, body = "stake.delegate", {"node": nodes[nonce % 4 // 2], "amount": str(DELEGATION_UNITS)}
                    if body.get("to") == key.address:
                        body["to"] = addresses[(i + 1) % CLIENTS]
                    try:
                        r = client.submit(kind, body, nonce=nonce)
                        mine.append((key.address, nonce, kind, body, r["seq"]))
                    except ApiError as exc:
                        bad.append((key.address, nonce, exc.code))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        with lock:
            receipts.extend(mine)
            rejected.extend(bad)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    start = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - start
        assert not any(t.is_alive() for t in threads), "client threads did not finish"
        heads = [CorClient(s.base_url).status()["seq"] for s in servers]  # each process sees the other's writes
    finally:
        for s in servers:
            api_helpers.stop_server(s)
    print(
        json.dumps(
            {
                "commands": COMMANDS,
                "clients": CLIENTS,
                "processes": 2,
                "seconds": round(elapsed, 2),
                "accepted_per_second": round(len(receipts) / elapsed, 1),
            }
        )
    )

    assert not failures, failures[:3]
    assert not rejected, Counter(code for _, _, code in rejected)
    assert len(receipts) == COMMANDS
    total = events_before + COMMANDS
    assert heads == [total - 1, total - 1]

    # both processes wrote: every server log has accepted commands, from two different pids
    pids = set()
    for s in servers:
        accepted = [json.loads(x) for x in s.log().splitlines() if x.startswith("{") and '"seq"' in x]
        assert len(accepted) == COMMANDS // 2
        pids |= {x["pid"] for x in accepted}
    assert len(pids) == 2

    # every accepted command is in the log exactly once, where its receipt says
    from sqlalchemy import select

    from cor_incentives.store import db

    store = db.Store(net.url)
    with store.reader() as conn:
        rows = [tuple(r) for r in conn.execute(select(db.events.c.seq, db.events.c.actor, db.events.c.nonce, db.events.c.kind))]
    store.engine.dispose()
    assert len(rows) == total
    assert [r[0] for r in sorted(rows)] == list(range(total))
    by_actor_nonce = Counter((actor, nonce) for _, actor, nonce, _ in rows)
    assert max(by_actor_nonce.values()) == 1
    at_seq = {seq: (actor, nonce, kind) for seq, actor, nonce, kind in rows}
    assert len({r[4] for r in receipts}) == COMMANDS
    for actor, nonce, kind, _, seq in receipts:
        assert at_seq[seq] == (actor, nonce, kind)

    # balances are what the receipts imply; conservation after every event; verify is ok
    engine = Engine.open(net.url, check_conservation=True)  # replays the log checking conservation per event
    expected = defaultdict(int)
    for actor, _, kind, body, _ in receipts:
        if kind == "transfer":
            expected[f"wallet:{actor}"] -= TRANSFER_UNITS
            expected[f"wallet:{body['to']}"] += TRANSFER_UNITS
        else:
            expected[f"wallet:{actor}"] -= DELEGATION_UNITS
            expected[f"delegated:{body['node']}:{actor}"] += DELEGATION_UNITS
    for account, delta in expected.items():
        base = CLIENT_FUNDS_COR * COR if account.startswith("wallet:") else 0
        assert engine.state.ledger.balance(account) == base + delta, account
    report, _ = verify_store(engine.store)
    assert report.ok, report.errors
    assert report.events == total
