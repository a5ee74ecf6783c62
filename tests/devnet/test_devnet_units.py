"""The devnet's pieces without processes: node mix, statement categories, the router's rule, retries."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

from cor_incentives.cli.devnet import slash_summary
from cor_incentives.client import ApiError
from cor_incentives.core.errors import InvalidInput
from cor_incentives.nodes.devnet_config import DevnetConfig, node_specs, parse_mix
from cor_incentives.nodes.devnet_results import item_category
from cor_incentives.nodes.link import Link, is_transient
from cor_incentives.nodes.router import RouterGateway
from cor_incentives.nodes.strategies import copier_should_wait, copy_source

ME = "0x" + "1" * 40
OTHER = "0x" + "2" * 40


def test_mix_and_names():
    assert parse_mix("honest:3,lazy, garbage", "miner") == ["honest", "honest", "honest", "lazy", "garbage"]
    specs = node_specs("honest:2,lazy:2,mismatch", "honest,copier")
    assert [s.name for s in specs] == [
        "miner-1",
        "miner-2",
        "miner-lazy-1",
        "miner-lazy-2",
        "miner-mismatch",
        "validator-1",
        "validator-copier",
        "router-1",
        "user-1",
    ]
    with pytest.raises(InvalidInput):
        parse_mix("honest,sneaky", "miner")
    with pytest.raises(InvalidInput):
        parse_mix("mismatch", "validator")
    with pytest.raises(InvalidInput):
        node_specs("honest", "honest")  # one miner cannot reach consensus


def test_config_profiles():
    c = DevnetConfig(backend="scripted")
    assert c.clock_mode == "deadline" and c.genesis_params()["epoch_length_ticks"] == 20
    for backend in ("scripted", "llama"):  # a reveal due the next tick could pass while the clock decides to tick
        p = DevnetConfig(backend=backend).genesis_params()
        assert p["report_reveal_deadline_ticks"] == p["canary_open_deadline_ticks"] == 2, backend
    w = DevnetConfig(backend="llama", clock="wall")
    assert w.tick_interval * w.genesis_params()["precommit_deadline_ticks"] >= 20  # a queued 48-token generation fits
    assert DevnetConfig(backend="scripted", params={"epoch_length_ticks": 7}).genesis_params()["epoch_length_ticks"] == 7
    with pytest.raises(InvalidInput):
        DevnetConfig(backend="openai")  # needs --openai-url
    with pytest.raises(InvalidInput):
        DevnetConfig(backend="gpt")


def test_miners_sample_by_default_with_a_seed_per_node():
    c = DevnetConfig(backend="llama")
    specs = node_specs("honest:3,lazy,mismatch", "honest")
    ms = c.miner_sampling(specs)
    assert ms["temperature"] == 0.7 > 0 and ms["applies"] and not ms["greedy"]
    # every miner that runs the model has its own seed; the lazy one runs nothing
    assert sorted(ms["node_seeds"]) == ["miner-1", "miner-2", "miner-3", "miner-mismatch"]
    assert len(set(ms["node_seeds"].values())) == 4
    assert ms["node_seeds"] != DevnetConfig(backend="llama", seed="other").miner_sampling(specs)["node_seeds"]
    assert DevnetConfig(backend="llama", miner_temperature=0).miner_sampling(specs)["greedy"]
    assert not DevnetConfig(backend="scripted").miner_sampling(specs)["applies"]
    for bad in (-0.1, 2.5):
        with pytest.raises(InvalidInput) as e:
            DevnetConfig(backend="llama", miner_temperature=bad)
        assert e.value.code == "invalid_temperature"


def test_user_topup_threshold_is_an_amount_within_the_deposit():
    for bad in ("abc", "-1", "1.2", "1e-3"):  # (1.2: above the user's 1 COR deposit)
        with pytest.raises(InvalidInput) as e:
            DevnetConfig(backend="scripted", user_topup_below=bad)
        assert e.value.code == "invalid_topup" and repr(bad) in str(e.value)
    assert DevnetConfig(backend="scripted").user_topup_below == "0.04"
    assert DevnetConfig(backend="scripted", user_topup_below="0.1").user_topup_below == "0.1"


def test_statement_categories():
    assert item_category({"stream": "slash", "claimable": False}) == "slashes"
    assert item_category({"stream": "task_fee:miner", "claimable": False}) == "fees"
    assert item_category({"stream": "task_fee:router", "claimable": False}) == "fees"
    assert item_category({"stream": "task_payment", "claimable": False}) == "payments"
    assert item_category({"stream": "miners:commission", "claimable": True}) == "rewards"
    assert item_category({"stream": "task_refund", "claimable": False}) == "other"


def _view(*miners):
    return {
        "miners": [{"miner": m, "precommitted": p, "revealed": r, "mismatch": x, "output_hash": h, "output_tokens": 5} for m, p, r, x, h in miners]
    }


def test_copier_waits_for_something_to_copy():
    waiting = _view((ME, True, False, False, None), (OTHER, True, False, False, None))
    assert copier_should_wait(waiting, ME) and copy_source(waiting, ME) is None
    revealed = _view((ME, True, False, False, None), (OTHER, True, True, False, "0xabc"))
    assert not copier_should_wait(revealed, ME) and copy_source(revealed, ME)["miner"] == OTHER
    alone = _view((ME, True, False, False, None), (OTHER, False, False, False, None))
    assert not copier_should_wait(alone, ME) and copy_source(alone, ME) is None  # reveals its own guess


def test_router_carries_only_tasks_that_name_it():
    gw = RouterGateway(ME, "http://127.0.0.1:9", logging.getLogger("test"))
    try:

        def cmd(kind, body):
            return json.dumps({"payload": json.dumps({"kind": kind, "body": body}), "signature": "0x"}).encode()

        assert gw.refusal(cmd("task.submit", {"router": ME})) is None
        assert gw.refusal(cmd("task.submit", {"router": OTHER}))["error"] == "router_not_named"
        assert gw.refusal(cmd("task.submit", {}))["error"] == "router_not_named"
        assert gw.refusal(cmd("session.open", {"deposit": "1"})) is None  # other commands pass through
        assert gw.refusal(b"not json") is None  # the API gives the precise error
        status, body, _ = gw.forward("GET", "/healthz", None, None)  # nothing listens on port 9
        assert status == 503 and json.loads(body)["error"] == "api_unreachable"
    finally:
        gw.stop()


def test_link_retries_transient_errors_and_resubmits_the_same_bytes():
    posted: list[bytes] = []
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/nonce/"):
            return httpx.Response(200, json={"nonce": 7})
        if request.url.path == "/v1/chain":
            return httpx.Response(200, json={"chain_id": "cor-test"})
        posted.append(request.content)
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, json={"error": "database_unavailable", "message": "busy"})
        if calls["n"] == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(409, json={"error": "nonce_already_used", "message": "used"})  # the timed-out post went through

    link = Link("http://api", "0x" + "ab" * 32, stop=threading.Event())
    link.client.http = httpx.Client(base_url="http://api", transport=httpx.MockTransport(handler))
    import cor_incentives.nodes.link as link_mod

    link_mod.BACKOFF_FIRST_SECONDS, saved = 0.0, link_mod.BACKOFF_FIRST_SECONDS
    try:
        out = link.submit("transfer", {"to": OTHER, "amount": "1"})
    finally:
        link_mod.BACKOFF_FIRST_SECONDS = saved
    assert out["nonce"] == 7 and len(posted) == 3 and len(set(posted)) == 1  # one signature, posted three times
    assert is_transient(ApiError("database_unavailable", "", 503)) and not is_transient(ApiError("insufficient_funds", "", 409))


def test_a_stop_signal_ends_a_request_the_server_never_answers():
    """A stopping agent must not sit in its request until the timeout (a loaded server can hold it that long):
    the SIGTERM handler's ``interrupt`` ends it with ``Stopped``, and a stopped link makes no new request."""
    import signal
    import socket
    import time

    from cor_incentives.nodes.link import Stopped, StopSignal

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts the connection in the kernel, never answers
    stop = StopSignal()
    link = Link(f"http://127.0.0.1:{server.getsockname()[1]}", None, stop=stop, timeout=30.0)

    def on_alarm(_signum: int, _frame: object) -> None:
        stop.set()
        link.interrupt()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(Stopped):
            link.head_seq()
        assert time.monotonic() - started < 10, "the request ran on to its timeout"
        assert not link.waiting
        with pytest.raises(Stopped):  # once stopping, no new request starts
            link.head_seq()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        link.close()
        server.close()
        stop.close()
    link.interrupt()  # outside a request it does nothing


HAMMER = """
import signal, sys, threading, time
from cor_incentives.nodes.link import StopSignal
make = {"StopSignal": StopSignal, "Event": threading.Event}[sys.argv[1]]
stop = make()
def on_signal(_signum, _frame):
    stop.set()  # what the agent's SIGTERM handler does
signal.signal(signal.SIGALRM, on_signal)
signal.setitimer(signal.ITIMER_REAL, 0.0007, 0.0007)
started = renewed = time.monotonic()
while time.monotonic() - started < 1.5:
    stop.wait(0.00001)  # what an agent does between its steps
    if time.monotonic() - renewed > 0.003:  # a fresh flag to set again (old = the one the handler may set next)
        old, stop, renewed = stop, make(), time.monotonic()
        getattr(old, "close", lambda: None)()
signal.setitimer(signal.ITIMER_REAL, 0)
print("done")
"""


@pytest.mark.parametrize("flag", ["StopSignal", "Event"])
def test_a_signal_handler_setting_the_stop_flag_never_deadlocks_the_waiting_agent(flag):
    """The agent's SIGTERM handler sets its stop flag on the main thread, between two bytecodes of whatever the
    main thread runs, most often ``stop.wait(poll)``. ``threading.Event.set`` takes the lock that ``Event.wait``
    holds on its way in and out, so a signal landing there hangs the agent until it is SIGKILLed (the s34 CI
    failure: a devnet miner never logged "stopped"). Signals at ~1.4 kHz against a tight wait loop: the agent's
    ``StopSignal`` finishes; ``threading.Event`` (the control, showing this test sees the bug) does not: its main
    thread blocks on the lock it holds, and the next signals, handled inside that wait, nest until RecursionError."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        out = subprocess.run([sys.executable, "-c", HAMMER, flag], capture_output=True, text=True, timeout=20, env=env)
        finished = out.stdout.strip() == "done"
    except subprocess.TimeoutExpired:
        finished = False
    assert finished is (flag == "StopSignal")


def test_stop_signal_wakes_a_wait_at_once_and_stays_set():
    import time

    from cor_incentives.nodes.link import StopSignal

    stop = StopSignal()
    try:
        assert stop.wait(0.01) is False and not stop.is_set()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert stop.wait(10) is True and time.monotonic() - started < 5
        assert stop.is_set() and stop.wait(10) is True and stop.wait(0) is True
        for _ in range(70_000):  # more bytes than a pipe holds: set never blocks
            stop.set()
    finally:
        stop.close()


def test_slash_line_counts_the_reported_epochs_apart_from_the_open_one():
    """The tables' money columns sum the statements of the reported epochs (0 … epochs-1); the slashes line counted every
    slash the API lists, those of the epoch the run left open too: an honest miner slashed there showed ×1 in the line
    and 0.00 in its column (session 42's `make run`)."""
    slashes = [
        {"node": "miner-lazy", "offence": "poi_divergence", "epoch": 1, "total": "10"},
        {"node": "miner-lazy", "offence": "poi_divergence", "epoch": 2, "total": "10"},
        {"node": "miner-mismatch", "offence": "commit_mismatch", "epoch": 0, "total": "200"},
        {"node": "miner-1", "offence": "poi_divergence", "epoch": 3, "total": "10"},
        {"node": "miner-lazy", "offence": "poi_divergence", "epoch": 3, "total": "10"},
    ]
    line = slash_summary({"epochs": 3, "slashes": slashes})
    inside, after = line.split("; ")
    assert inside == "slashes in the 3 epoch(s) above: miner-lazy poi_divergence ×2, miner-mismatch commit_mismatch ×1"
    assert after == "after them (epoch 3, left open, not in the columns): miner-1 poi_divergence ×1, miner-lazy poi_divergence ×1"
    assert slash_summary({"epochs": 3, "slashes": slashes[:3]}).count(";") == 0
    assert slash_summary({"epochs": 2, "slashes": []}) == "slashes in the 2 epoch(s) above: none"
