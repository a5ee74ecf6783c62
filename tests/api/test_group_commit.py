"""The API's group commit: requests await a future resolved by one committer thread, concurrent commands
share writer transactions, each gets its own outcome, and the engine decodes each command once.
Real SQLite file, real keys, real signatures."""

from __future__ import annotations

import asyncio
import threading

from cor_incentives.api.service import ApiService
from cor_incentives.app.engine import Engine, Receipt
from cor_incentives.app.signing import SealedEvent, authenticate, seal_decoded, sign_command
from cor_incentives.core import events as core_events
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import make_event

from .conftest import make_network


def test_concurrent_requests_share_commits_and_each_gets_its_own_outcome(tmp_path, monkeypatch):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    svc = ApiService(Engine.open(net.url))
    alice, bob = net.keys["alice"], net.keys["bob"]
    first = svc.engine.next_nonce(alice.address)
    good = [sign_command(alice.private_key, net.chain_id, "transfer", first + i, {"to": bob.address, "amount": "1"}) for i in range(40)]
    unfunded = sign_command(bob.private_key, net.chain_id, "transfer", 1, {"to": alice.address, "amount": str(10**25)})
    bad_sig = (good[0][0], "0x" + "11" * 65)
    batches: list[int] = []
    real = svc.engine.submit_batch

    def counted(commands, hold=None):
        batches.append(len(commands))
        return real(commands, hold=hold)

    monkeypatch.setattr(svc.engine, "submit_batch", counted)

    async def post(payload: bytes, signature: str) -> object:
        try:
            return await svc.submit_async(payload.decode(), signature)
        except EngineError as exc:
            return exc

    wakes: list[int] = []  # the committer's calls into the requests' event loop, with how many outcomes each carried

    async def all_at_once() -> list[object]:
        loop = asyncio.get_running_loop()
        real_wake = loop.call_soon_threadsafe

        def wake(callback, *args):
            wakes.append(len(args[0]) if args and isinstance(args[0], list) else 1)
            return real_wake(callback, *args)

        loop.call_soon_threadsafe = wake  # type: ignore[method-assign]
        requests = [post(*c) for c in good]
        requests.insert(20, post(*unfunded))
        requests.insert(7, post(*bad_sig))
        return await asyncio.wait_for(asyncio.gather(*requests), timeout=120)  # a request never told fails, not hangs

    results = asyncio.run(all_at_once())
    refused = [r for r in results if isinstance(r, EngineError)]
    assert sorted(r.code for r in refused) == ["insufficient_funds", "invalid_signature"]
    receipts = [r for r in results if isinstance(r, Receipt)]
    assert len(receipts) == 40 and sorted(r.seq for r in receipts) == list(range(receipts[0].seq, receipts[0].seq + 40))
    assert sum(batches) == 42 and len(batches) < 42  # grouped: fewer transactions than commands
    assert wakes == batches  # the loop is woken once per group commit, with every outcome of it
    assert svc._committer is not None and svc._committer.is_alive()
    idle = threading.active_count()
    assert svc.submit(*_transfer(net, first + 40)).seq == max(r.seq for r in receipts) + 1  # the thread caller's path
    assert threading.active_count() == idle  # the same committer thread served it: none started per request
    fresh = Engine.open(net.url, create=False)
    assert fresh.state.to_dict() == svc.engine.state.to_dict()


def _transfer(net, nonce: int) -> tuple[str, str]:
    payload, sig = sign_command(net.keys["alice"].private_key, net.chain_id, "transfer", nonce, {"to": net.keys["bob"].address, "amount": "1"})
    return payload.decode(), sig


def test_a_sealed_event_is_the_event_and_carries_its_decoding(tmp_path, monkeypatch):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    payload, sig = sign_command(net.keys["alice"].private_key, net.chain_id, "transfer", 1, {"to": net.keys["bob"].address, "amount": "3"})
    cmd = authenticate(payload, sig)
    plain = make_event(5, 0, payload, sig, "0x" + "00" * 32)
    sealed = seal_decoded(plain, cmd)
    fields = ("seq", "tick", "payload", "signature", "prev_hash", "hash")
    assert isinstance(sealed, SealedEvent) and [getattr(sealed, f) for f in fields] == [getattr(plain, f) for f in fields]
    assert sealed.command is cmd and plain.command == cmd
    engine = Engine.open(net.url)
    decodes = []
    real = core_events.Command.decode

    def counting(raw):
        decodes.append(raw)
        return real(raw)

    monkeypatch.setattr(core_events.Command, "decode", staticmethod(counting))
    [receipt] = engine.submit_batch([(payload, sig)])
    assert isinstance(receipt, Receipt) and decodes == [payload]  # authenticated once, applied from that decoding
    monkeypatch.undo()
    assert Engine.open(net.url, create=False).state.to_dict() == engine.state.to_dict()


def test_a_request_that_goes_away_does_not_stop_the_committer(tmp_path):
    net = make_network(tmp_path / "net", {"alice": "1000", "bob": "1000"})
    svc = ApiService(Engine.open(net.url))
    nonce = svc.engine.next_nonce(net.keys["alice"].address)

    async def abandoned() -> None:
        task = asyncio.ensure_future(svc.submit_async(*_transfer(net, nonce)))
        await asyncio.sleep(0)
        task.cancel()

    asyncio.run(abandoned())  # its loop is closed before (or after) the commit answers
    receipt = svc.submit(*_transfer(net, nonce + 1))
    assert isinstance(receipt, Receipt)
