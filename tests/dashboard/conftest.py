"""Fixtures for the dashboard tests: a network with several epochs of activity in a temporary SQLite
file, the API + dashboard served by uvicorn on loopback (in a thread of this process), and Debian's
Chromium driven by Playwright.

The network: everything tests/api/network_activity.py builds (a settled task, a failed one, a
delegation, a passed proposal, a slashed and jailed miner, epochs 0 to 2 closed), then EPOCHS more epochs,
each with TASKS_PER_EPOCH settled tasks (scores that change from epoch to epoch, one miner out of
consensus in every third task) and growing delegations, each closed by the oracle; and finally one
task left open. Tests that add events do it through ``busy.engine`` (real signed commands): the
server sees them at its next read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn

from api.network_activity import OUTPUTS, build, submit_task
from cor_incentives.api.app import create_app
from support.network import COR, run_commit_reveal, run_reports
from support.services import chromium_launch_kwargs, free_tcp_port

EPOCHS = 4  # closed after epoch 2
BUILT_EPOCHS = 3  # closed by network_activity.build
TASKS_PER_EPOCH = 3
DELEGATIONS = (("carol", "miner"), ("faucet", "validator0"), ("faucet", "validator1"), ("dave", "validator2"))  # "miner": net.miner
GARBAGE = "qwx zzkv plor mnbvc xxqq lkjh"
SERVER_START_TIMEOUT_SECONDS = 30


def settle_scored(eng, keys, tid: int, step: int) -> None:
    """Commit-reveal by every assigned miner; validators report distances and qualities that move with ``step``;
    in every third task the last miner answers garbage and falls out of consensus."""
    miners = [a.miner for a in eng.state.tasks[tid].miners]
    garbage = step % 3 == 2
    outputs = {m: (GARBAGE if garbage and i == len(miners) - 1 else OUTPUTS[i % len(OUTPUTS)]) for i, m in enumerate(miners)}
    run_commit_reveal(eng, keys, tid, outputs)
    reports = []
    for i, m in enumerate(miners):
        bad = garbage and i == len(miners) - 1
        reports.append(
            {
                "miner": m,
                "poi_distance_ppb": 400_000_000 if bad else 30_000_000 + 15_000_000 * ((i + step) % 4),
                "quality_ppb": 200_000_000 if bad else 950_000_000 - 40_000_000 * ((i * 2 + step) % 5),
                "output_tokens": 9 + step % 5,
            }
        )
    run_reports(eng, keys, tid, lambda v: reports, input_tokens=lambda v: 14)


def build_busy(directory: Path) -> SimpleNamespace:
    url = f"sqlite:///{directory / 'cor.db'}"
    net = build(url, directory / "keys")
    eng, keys = net.engine, net.keys
    eng.refresh()
    step = 0
    for epoch in range(1, EPOCHS + 1):  # epochs BUILT_EPOCHS .. BUILT_EPOCHS + EPOCHS - 1
        for _ in range(TASKS_PER_EPOCH):
            settle_scored(eng, keys, submit_task(eng, keys), step)
            step += 1
        delegator, node = DELEGATIONS[(epoch - 1) % len(DELEGATIONS)]
        target = net.miner if node == "miner" else keys[node].address
        eng.submit_as(keys[delegator], "stake.delegate", {"node": target, "amount": str(epoch * 2_000_000 * COR)})
        eng.submit_as(keys["oracle"], "epoch.close", {})
    net.open_task = submit_task(eng, keys)
    net.url = url
    net.epochs_closed = EPOCHS + BUILT_EPOCHS
    eng.store.engine.dispose()
    return net


class ThreadServer:
    """uvicorn serving ``create_app(url)`` on a free loopback port, in a daemon thread."""

    def __init__(self, url: str) -> None:
        self.port = free_tcp_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(url), host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dashboard-uvicorn", daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The busy network, served; ``busy.base_url`` is the dashboard."""
    net = build_busy(tmp_path_factory.mktemp("busy"))
    server = ThreadServer(net.url).start()
    net.base_url = server.base_url
    net.engine.refresh()
    yield net
    server.stop()
    net.engine.store.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(**chromium_launch_kwargs())
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page (desktop viewport) that records console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(f"pageerror: {exc}"))
    pg.on("console", lambda msg: pg.errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    yield pg
    context.close()
