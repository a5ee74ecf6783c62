"""The devnet: a whole local network — the API, node agents as separate processes, and the clock.

Processes
    * this process: creates a fresh database and seeded keys, writes genesis, the bundled model, the
      nodes' bonds and a few delegations (the operator's bootstrap, like ``cor init`` + ``cor node
      register``); then holds the **oracle key** and acts only over the HTTP API: it advances logical
      time with signed ``tick`` commands and issues network tasks;
    * ``cor serve`` (``python -m cor_incentives.cli.serve``) on a loopback port: the API (and dashboard);
    * one ``python -m cor_incentives.nodes.agent`` per node: miners, validators, a router, a user,
      each signing with its own key file.

The clock (``clock``): a tick at most every ``tick_seconds``, and
    ``deadline``  (default) ... except a tick that would pass the deadline of an open task on which a
                  *live* node — an agent process that is running and whose strategy acts (not
                  ``offline``) — still owes an action (a precommit, a reveal or a validation): that tick
                  waits until the action lands. Between deadlines time runs at the cadence, so tasks
                  overlap and the machine stays busy; honest work never misses a deadline however
                  loaded the machine is, while nodes that do not act still miss theirs. The tick that
                  closes an epoch waits for all owed work, as in lockstep, so an epoch's statements
                  hold the tasks issued in it (except those waiting on nodes that do not act).
    ``lockstep``  ... and only once no live node owes anything on any open task: every tick's work is
                  done before the next tick, so a run does the same work whatever the machine's speed
                  (the most reproducible results, the slowest runs).
    ``wall``      whatever the nodes are doing: deadlines (in ticks) are wall-clock budgets of
                  ``deadline_ticks × tick_seconds`` and a slow node misses them.
    In ``deadline`` and ``lockstep``, after ``max_tick_wait_seconds`` the clock ticks anyway, so a
    stuck agent cannot stop the network (the run reports these ``forced_ticks``).
    Network tasks are issued on the ticks that are multiples of ``network_task_interval_ticks``
    (a parameter), from the prompt set, chosen by ``pick_prompt(prompts, head_hash, tick)``; epochs
    close when a tick crosses their boundary.

Results
    After ``epochs`` epochs the agents are stopped and every number of the final table is read back
    through the API: statements per address and epoch (rewards = claimable items, fees =
    ``task_fee:*``, slashes = ``slash``, payments = ``task_payment``), task views for assignment
    counts and consensus, node views for reputation.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..app.bundled import BUNDLED_MODEL_ID, bundled_model_body
from ..app.engine import Engine
from ..app.genesis import DEVNET, check_genesis_spec, genesis_body
from ..app.keys import Key, Keystore
from ..app.prompts import estimate_tokens, load_prompt_set, pick_prompt
from ..client import ApiError
from ..core.errors import Conflict, InvalidInput
from ..core.records import PRECOMMIT_WINDOW, TaskState
from ..core.streams import TASK_FEE_PREFIX, Stream
from ..core.units import COR, PPB, format_cor
from .link import Link, wait_for_api
from .strategies import FREE_MINER_STRATEGIES, MINER_STRATEGIES, VALIDATOR_STRATEGIES

DEFAULT_DB_PATH = "cor-data/devnet.db"
DEFAULT_KEYS_DIR = "cor-data/devnet-keys"
DEFAULT_LOG_DIR = "cor-data/devnet-logs"
DEFAULT_MINERS = "honest:5,lazy,garbage,mismatch"
DEFAULT_VALIDATORS = "honest:3,copier"
GENESIS_NAMES = ("oracle", "faucet", "modeldev", "alice", "bob", "carol", "dave")
API_START_TIMEOUT_SECONDS = 60
AGENT_READY_TIMEOUT_SECONDS = 180
AGENT_STOP_TIMEOUT_SECONDS = 20
MAX_NODES_PER_ROLE = 64
CLOCKS = ("lockstep", "deadline", "wall")

# Parameters the devnet writes into genesis (the rest are the defaults of core/params.py). How they
# were chosen is in docs/devnet.md: deadlines that honest nodes meet on a 2-core machine, epochs short
# enough that a few of them finish in minutes, thresholds low enough that cheaters are caught within
# an epoch of a handful of assignments.
COMMON_PARAMS = {
    "poi_divergence_threshold": 2,
    "validator_deviation_threshold": 2,
    "missed_deadline_threshold": 3,
}
PROFILES: dict[str, dict[str, Any]] = {
    "scripted": {
        "params": {
            "epoch_length_ticks": 20,
            "network_task_interval_ticks": 2,
            "precommit_deadline_ticks": 3,
            "reveal_deadline_ticks": 3,
            "validation_deadline_ticks": 3,
        },
        "clock": "deadline",
        "tick_seconds": 0.2,
        "max_tick_wait_seconds": 20.0,
        "poll_seconds": 0.2,
        "user_every_ticks": 2,
    },
    "llama": {
        "params": {
            "epoch_length_ticks": 12,
            "network_task_interval_ticks": 3,
            "precommit_deadline_ticks": 6,
            "reveal_deadline_ticks": 4,
            "validation_deadline_ticks": 4,
        },
        "clock": "deadline",
        "tick_seconds": 1.0,
        "max_tick_wait_seconds": 120.0,
        "poll_seconds": 0.3,
        "user_every_ticks": 3,
    },
    "openai": {
        "params": {
            "epoch_length_ticks": 12,
            "network_task_interval_ticks": 3,
            "precommit_deadline_ticks": 6,
            "reveal_deadline_ticks": 4,
            "validation_deadline_ticks": 4,
        },
        "clock": "deadline",
        "tick_seconds": 1.0,
        "max_tick_wait_seconds": 120.0,
        "poll_seconds": 0.3,
        "user_every_ticks": 3,
    },
}
# wall clock: seconds per tick such that precommit_deadline_ticks × tick_seconds covers a 48-token
# generation queued behind another on a loaded 2-core machine (measured: docs/devnet.md)
WALL_TICK_SECONDS = {"scripted": 0.5, "llama": 4.0, "openai": 4.0}

FUNDING_COR = {"miner": 3_000, "validator": 6_000, "router": 1_500, "user": 100}
SELF_BOND_COR = {"miner": 2_000, "validator": 5_000, "router": 1_000}
COMMISSION_BPS = {"miner": 500, "validator": 1_000, "router": 0}
# modest, so that no node's stake × reputation reaches 1/redundancy of the total (it would be in every task)
DELEGATION_COR = {"alice": 2_000, "bob": 3_000, "carol": 2_000}


# --- the node mix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """One participant the devnet starts: its key name, role and strategy."""

    name: str
    role: str
    strategy: str = "honest"


def parse_mix(text: str, role: str) -> list[str]:
    """``"honest:5,lazy,garbage"`` → one strategy per node."""
    allowed = MINER_STRATEGIES if role == "miner" else VALIDATOR_STRATEGIES
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        if name not in allowed:
            raise InvalidInput(f"{role} strategy {name!r} is not one of {', '.join(allowed)}", code="invalid_mix")
        if count and (not count.isdigit() or not 0 <= int(count) <= MAX_NODES_PER_ROLE):
            raise InvalidInput(f"{part!r}: the count must be an integer in [0, {MAX_NODES_PER_ROLE}]", code="invalid_mix")
        out += [name] * (int(count) if count else 1)
    if len(out) > MAX_NODES_PER_ROLE:
        raise InvalidInput(f"at most {MAX_NODES_PER_ROLE} {role}s", code="invalid_mix")
    return out


def node_specs(miners: str, validators: str, routers: int = 1, users: int = 1) -> list[NodeSpec]:
    """Names: honest nodes are numbered (``miner-1``), others carry their strategy (``miner-lazy``)."""
    specs: list[NodeSpec] = []
    for role, mix in (("miner", parse_mix(miners, "miner")), ("validator", parse_mix(validators, "validator"))):
        seen: Counter[str] = Counter()
        for strategy in mix:
            seen[strategy] += 1
            n = seen[strategy]
            name = f"{role}-{n}" if strategy == "honest" else f"{role}-{strategy}" + (f"-{n}" if mix.count(strategy) > 1 else "")
            specs.append(NodeSpec(name, role, strategy))
    specs += [NodeSpec(f"router-{i}", "router") for i in range(1, routers + 1)]
    specs += [NodeSpec(f"user-{i}", "user") for i in range(1, users + 1)]
    if sum(s.role == "miner" for s in specs) < 2 or not any(s.role == "validator" for s in specs):
        raise InvalidInput("a devnet needs at least 2 miners and 1 validator", code="invalid_mix")
    return specs


@dataclass
class DevnetConfig:
    epochs: int = 3
    seed: str = "devnet"
    backend: str = "llama"
    openai_url: str | None = None
    openai_model: str = "default"
    prompts: str | None = None
    db_url: str | None = None
    port: int | None = None
    keys_dir: str = DEFAULT_KEYS_DIR
    log_dir: str = DEFAULT_LOG_DIR
    miners: str = DEFAULT_MINERS
    validators: str = DEFAULT_VALIDATORS
    routers: int = 1
    users: int = 1
    clock: str | None = None  # deadline | lockstep | wall (default: the backend's profile)
    tick_seconds: float | None = None
    max_tick_wait_seconds: float | None = None
    max_output_tokens: int = 48
    user_every_ticks: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # overrides of the profile's parameters
    llama_threads: int = 1

    def __post_init__(self) -> None:
        if self.backend not in PROFILES:
            raise InvalidInput(f"unknown backend {self.backend!r}: llama, openai or scripted", code="invalid_backend")
        if self.backend == "openai" and not self.openai_url:
            raise InvalidInput("--miners-backend openai needs --openai-url", code="invalid_backend")
        if not 1 <= self.epochs <= 1_000:
            raise InvalidInput("epochs must be in [1, 1000]", code="invalid_epochs")
        if self.clock is not None and self.clock not in CLOCKS:
            raise InvalidInput(f"clock must be one of {', '.join(CLOCKS)}", code="invalid_clock")
        if not 1 <= self.max_output_tokens <= 4096:
            raise InvalidInput("max_output_tokens must be in [1, 4096]", code="invalid_tokens")

    @property
    def profile(self) -> dict[str, Any]:
        return PROFILES[self.backend]

    @property
    def clock_mode(self) -> str:
        return self.clock or self.profile["clock"]

    @property
    def tick_interval(self) -> float:
        if self.tick_seconds is not None:
            return self.tick_seconds
        return WALL_TICK_SECONDS[self.backend] if self.clock_mode == "wall" else float(self.profile["tick_seconds"])

    @property
    def max_wait(self) -> float:
        return self.max_tick_wait_seconds if self.max_tick_wait_seconds is not None else float(self.profile["max_tick_wait_seconds"])

    @property
    def url(self) -> str:
        return self.db_url or f"sqlite:///{DEFAULT_DB_PATH}"

    def genesis_params(self) -> dict[str, Any]:
        return {**COMMON_PARAMS, **self.profile["params"], **self.params}

    @property
    def every_ticks(self) -> int:
        return self.user_every_ticks or int(self.profile["user_every_ticks"])


# --- processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


def die_with_parent() -> None:
    """In the child, before exec (Linux): have the kernel SIGTERM it when the devnet process dies, even
    by SIGKILL, so that no agent or API outlives the devnet that started it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(p: Proc, timeout: float = AGENT_STOP_TIMEOUT_SECONDS, group: bool = False) -> None:
    """SIGTERM the process we started (its own process group when ``group``), SIGKILL after ``timeout``."""
    if not p.alive():
        return
    try:
        os.killpg(p.proc.pid, signal.SIGTERM) if group else p.proc.send_signal(signal.SIGTERM)
        p.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.proc.pid, signal.SIGKILL) if group else p.proc.kill()
        p.proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


# --- the devnet -----------------------------------------------------------------------------


class Devnet:
    """Set up, run and tear down one devnet (use as a context manager: processes are always stopped)."""

    def __init__(self, config: DevnetConfig, log: logging.Logger | None = None) -> None:
        self.config = config
        self.log = log or logging.getLogger("cor.devnet")
        self.specs = node_specs(config.miners, config.validators, config.routers, config.users)
        self.params = config.genesis_params()
        self.keys: dict[str, Key] = {}
        self.api: Proc | None = None
        self.api_url = ""
        self.agents: dict[str, Proc] = {}
        self.ready: dict[str, dict[str, Any]] = {}
        self.oracle: Link | None = None
        self.reader: Link | None = None
        self.log_dir = Path(config.log_dir)
        self.prompts = load_prompt_set(config.prompts)
        self.tick = 0
        self.epoch = 0
        self.created_at = self.started_at = time.monotonic()
        self.epoch_seconds: list[float] = []
        self.network_tasks = 0
        self.forced_ticks = 0
        self.recent: deque[str] = deque(maxlen=12)
        self.initial_totals: dict[str, int] = {}
        self._pending_cache: tuple[int, list[tuple[int, str, int]]] = (-2, [])

    # names and addresses
    @property
    def by_address(self) -> dict[str, str]:
        return {k.address: n for n, k in self.keys.items()}

    def spec(self, name: str) -> NodeSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def __enter__(self) -> Devnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_agents()
        self.stop_api()

    # --- 1. a fresh network ------------------------------------------------------------------

    def prepare(self) -> None:
        """Fresh database and keys; genesis, the bundled model, funded and bonded nodes, delegations."""
        url = self.config.url
        path = sqlite_path(url)
        if path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        ks = Keystore(self.config.keys_dir)
        names = [*GENESIS_NAMES, *(s.name for s in self.specs)]
        for n in names:
            (ks.path / f"{n}.json").unlink(missing_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for n in names + ["api"]:  # devnet.log is the caller's (already open)
            for suffix in (".log", ".ready", ".err", ".log.state.json"):
                (self.log_dir / f"{n}{suffix}").unlink(missing_ok=True)
        engine = Engine.open(url)
        if engine.state.seq >= 0:
            raise Conflict(f"{url} is not empty; the devnet needs a fresh database (drop it first)", code="database_not_empty")
        self.keys = {n: ks.new(n, seed=self.config.seed) for n in names}
        spec = check_genesis_spec({**DEVNET, "params": self.params})
        k = self.keys
        engine.submit_as(k["oracle"], "genesis", genesis_body(spec, k["oracle"].address, {n: k[n].address for n in GENESIS_NAMES}))
        engine.submit_as(k["modeldev"], "model.register", bundled_model_body())
        for s in self.specs:
            engine.submit_as(k["faucet"], "transfer", {"to": k[s.name].address, "amount": str(FUNDING_COR[s.role] * COR)})
            if s.role in SELF_BOND_COR:
                engine.submit_as(
                    k[s.name],
                    "node.register",
                    {
                        "role": s.role,
                        "self_bond": str(SELF_BOND_COR[s.role] * COR),
                        "commission_bps": COMMISSION_BPS[s.role],
                        "models": [BUNDLED_MODEL_ID] if s.role == "miner" else [],
                    },
                )
        for delegator, node in self.delegations():
            engine.submit_as(k[delegator], "stake.delegate", {"node": k[node].address, "amount": str(DELEGATION_COR[delegator] * COR)})
        engine.store.engine.dispose()

    def delegations(self) -> list[tuple[str, str]]:
        """alice → the first honest miner, bob → the first honest validator, carol → a cheating miner.

        carol picks the cheater that is caught first (mismatch, then copier, garbage, lazy, offline), so her
        stake does not lift a cheater's selection weight for long; she shares its slash pro rata.
        """
        out = []
        honest_m = next((s.name for s in self.specs if s.role == "miner" and s.strategy == "honest"), None)
        honest_v = next((s.name for s in self.specs if s.role == "validator" and s.strategy == "honest"), None)
        cheats = [s for s in self.specs if s.role == "miner" and s.strategy != "honest"]
        order = ("mismatch", "copier", "garbage", "lazy", "offline")
        cheat_m = min(cheats, key=lambda s: order.index(s.strategy)).name if cheats else None
        for who, node in (("alice", honest_m), ("bob", honest_v), ("carol", cheat_m)):
            if node:
                out.append((who, node))
        return out

    # --- 2. processes ------------------------------------------------------------------------

    def start_api(self) -> str:
        port = self.config.port or free_port()
        log_path = self.log_dir / "api.log"
        cmd = [
            sys.executable,
            "-m",
            "cor_incentives.cli.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            self.config.url,
            "--log-level",
            "warning",
        ]
        with open(log_path, "w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent
            )
        self.api = Proc("api", proc, log_path)
        self.api_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + API_START_TIMEOUT_SECONDS
        while True:
            if not self.api.alive():
                raise RuntimeError(f"cor serve exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                wait_for_api(self.api_url, 0.5)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cor serve did not answer within {API_START_TIMEOUT_SECONDS}s") from None
        self.oracle = Link(self.api_url, self.keys["oracle"].private_key, log=self.log)
        self.reader = Link(self.api_url, None, log=self.log)
        self.initial_totals = {n: self._total(n) for n in self.keys if n not in ("oracle", "faucet", "modeldev", "dave")}
        return self.api_url

    def agent_command(self, s: NodeSpec) -> list[str]:
        c = self.config
        cmd = [
            sys.executable,
            "-m",
            "cor_incentives.nodes.agent",
            "--role",
            s.role,
            "--name",
            s.name,
            "--key-file",
            str(Path(c.keys_dir) / f"{s.name}.json"),
            "--api",
            self.api_url,
            "--strategy",
            s.strategy,
            "--backend",
            c.backend,
            "--poll-seconds",
            str(c.profile["poll_seconds"]),
            "--log-file",
            str(self.log_dir / f"{s.name}.log"),
            "--ready-file",
            str(self.log_dir / f"{s.name}.ready"),
        ]
        if s.role == "miner" and s.strategy not in FREE_MINER_STRATEGIES:
            cmd += ["--threads", str(c.llama_threads)]
            if c.backend == "openai":
                cmd += ["--openai-url", str(c.openai_url), "--openai-model", c.openai_model]
        if s.role == "user":
            router = next((r for r in self.ready.values() if r.get("role") == "router"), None)
            if router:
                cmd += ["--router-url", router["url"]]
            cmd += ["--every-ticks", str(c.every_ticks), "--max-output-tokens", str(c.max_output_tokens), "--seed", c.seed]
            if c.prompts:
                cmd += ["--prompts", c.prompts]
        return cmd

    def start_agents(self, progress: Callable[[str], None] | None = None) -> None:
        """Routers with the miners and validators, then users (they need a router's URL); wait until each is ready."""
        for group in (("router", "miner", "validator"), ("user",)):
            batch = [s for s in self.specs if s.role in group]
            for s in batch:
                err = self.log_dir / f"{s.name}.err"
                with open(err, "w") as out:
                    proc = subprocess.Popen(
                        self.agent_command(s),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        preexec_fn=die_with_parent,
                    )
                self.agents[s.name] = Proc(s.name, proc, self.log_dir / f"{s.name}.log")
            self._wait_ready([s.name for s in batch], progress)

    def _wait_ready(self, names: list[str], progress: Callable[[str], None] | None) -> None:
        deadline = time.monotonic() + AGENT_READY_TIMEOUT_SECONDS
        waiting = set(names)
        while waiting:
            for n in sorted(waiting):
                f = self.log_dir / f"{n}.ready"
                if f.is_file():
                    self.ready[n] = json.loads(f.read_text())
                    waiting.discard(n)
                    if progress:
                        progress(f"{n} ready")
                elif not self.agents[n].alive():
                    tail = (self.log_dir / f"{n}.err").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"agent {n} exited with {self.agents[n].proc.returncode} before it was ready:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"agents not ready after {AGENT_READY_TIMEOUT_SECONDS}s: {', '.join(sorted(waiting))}")
            if waiting:
                time.sleep(0.1)

    def stop_agents(self) -> None:
        """SIGTERM every agent we started (all at once, then wait for each by its own pid)."""
        for p in self.agents.values():
            if p.alive():
                try:
                    p.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.agents.values():
            stop_process(p)

    def stop_api(self) -> None:
        for link in (self.oracle, self.reader):
            if link is not None:
                link.close()
        self.oracle = self.reader = None
        if self.api is not None:
            stop_process(self.api, group=True)
            self.api = None

    # --- 3. the clock ------------------------------------------------------------------------

    def live(self, name: str) -> bool:
        """Whether node ``name`` is expected to act: its agent runs and its strategy acts."""
        s, p = self.spec(name), self.agents.get(name)
        return s is not None and s.strategy != "offline" and p is not None and p.alive()

    def pending_work(self) -> list[tuple[int, str, int]]:
        """(task, node name, the task's deadline tick) for every action a live node still owes on an open task."""
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        head = self.reader.head_seq()
        if head == self._pending_cache[0]:
            return self._pending_cache[1]
        names = self.by_address
        out: list[tuple[int, str, int]] = []
        for t in self.reader.tasks(state="open", limit=1000):
            if t["state"] in PRECOMMIT_WINDOW:
                owing = [a["miner"] for a in t["miners"] if not a["precommitted"]]
            elif t["state"] == TaskState.PRECOMMITTED:
                owing = [a["miner"] for a in t["miners"] if a["precommitted"] and not a["revealed"]]
            else:
                owing = [v["validator"] for v in t["validators"] if not v["reported"]]
            out += [(t["id"], names.get(a, a), int(t["deadline_tick"])) for a in owing if self.live(names.get(a, a))]
        self._pending_cache = (head, out)
        return out

    def next_tick_closes_epoch(self) -> bool:
        length = int(self.params.get("epoch_length_ticks", 100))
        return (self.tick + 1) % length == 0

    def advance(self) -> dict[str, Any]:
        """One signed tick; a network task when the schedule says so."""
        if self.oracle is None:
            raise RuntimeError("the devnet is not started")
        before = self.epoch
        r = self.oracle.submit("tick", {"ticks": 1})
        self.tick, self.epoch = int(r["tick"]), int(r["epoch"])
        if self.epoch > before:
            self.epoch_seconds.append(time.monotonic() - self.started_at - sum(self.epoch_seconds))
            self.recent.append(f"tick {self.tick}: epoch {before} closed")
            self.log.info("epoch %d closed at tick %d", before, self.tick)
        interval = int(self.params.get("network_task_interval_ticks", 10))
        if interval and self.tick % interval == 0 and self.epoch < self.config.epochs:
            self.issue_network_task()
        return r

    def issue_network_task(self) -> None:
        if self.oracle is None or self.reader is None:
            raise RuntimeError("the devnet is not started")
        head_hash = self.reader.chain()["head_hash"]
        p = pick_prompt(self.prompts, head_hash, self.tick)
        data = p["prompt"].encode("utf-8")
        h = self.oracle.put_blob(data)
        body = {
            "model": BUNDLED_MODEL_ID,
            "prompt_hash": h,
            "prompt_bytes": len(data),
            "input_tokens": estimate_tokens(p["prompt"]),
            "max_output_tokens": min(p["max_output_tokens"], self.config.max_output_tokens),
        }
        try:
            self.oracle.submit("task.network", body)
            self.network_tasks += 1
            self.recent.append(f"tick {self.tick}: network task ({p['id']})")
        except ApiError as exc:
            self.recent.append(f"tick {self.tick}: network task refused: {exc.code}")
            self.log.info("network task refused at tick %d: %s", self.tick, exc.code)

    def run_clock(self, on_progress: Callable[[Devnet], None] | None = None, progress_seconds: float = 1.0) -> None:
        """Tick until ``epochs`` epochs have closed."""
        c = self.config
        last_tick = time.monotonic() - c.tick_interval
        hold_since: float | None = None
        last_progress = 0.0
        self.started_at = time.monotonic()
        while self.epoch < c.epochs:
            now = time.monotonic()
            if on_progress and now - last_progress >= progress_seconds:
                on_progress(self)
                last_progress = now
            if now - last_tick < c.tick_interval:
                time.sleep(min(0.05, c.tick_interval - (now - last_tick)))
                continue
            if c.clock_mode != "wall":
                pending = self.pending_work()
                if c.clock_mode == "deadline" and not self.next_tick_closes_epoch():
                    # hold only a tick that would pass a deadline with work still owed (a closing tick drains all)
                    pending = [p for p in pending if p[2] <= self.tick + 1]
                if pending:
                    hold_since = hold_since or now
                    if now - hold_since < c.max_wait:
                        time.sleep(0.05)
                        continue
                    self.forced_ticks += 1
                    who = ", ".join(sorted({n for _, n, _ in pending}))
                    self.recent.append(f"tick {self.tick}: waited {c.max_wait:g}s for {who}; ticking anyway")
                    self.log.info("max tick wait passed at tick %d; still owed by %s", self.tick, who)
            hold_since = None
            self.advance()
            last_tick = time.monotonic()
            for name, p in self.agents.items():
                if not p.alive() and f"{name} exited" not in self.recent:
                    self.recent.append(f"{name} exited")
        if on_progress:
            on_progress(self)

    # --- 4. reading the network back ---------------------------------------------------------

    def _total(self, name: str) -> int:
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        try:
            b = self.reader.retry("balance", lambda: self.reader.client.balance(self.keys[name].address))  # type: ignore[union-attr]
        except ApiError:
            return 0
        return sum(int(v) for v in b.get("accounts_units", {}).values())

    def snapshot(self) -> dict[str, Any]:
        """What the live view shows: time, tasks by state, recent events, each node's change in holdings."""
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        tasks = self.reader.tasks(limit=1000)
        by_state = Counter(t["state"] for t in tasks)
        names = self.by_address
        ev = self.reader.retry("events", lambda: self.reader.client.events(max(-1, self.reader.head_seq() - 8), 8))  # type: ignore[union-attr]
        events = []
        for e in ev.get("events", []):
            body = json.loads(e["payload"]).get("body", {})
            what = f" task {body['task']}" if "task" in body else ""
            events.append(f"#{e['seq']} t{e['tick']} {e['kind']}{what} by {names.get(e['actor'], e['actor'][:10])}")
        rows = []
        for s in self.specs:
            delta = self._total(s.name) - self.initial_totals.get(s.name, 0)
            rows.append(
                {"name": s.name, "role": s.role, "strategy": s.strategy, "alive": self.live(s.name) or s.strategy == "offline", "delta_units": delta}
            )
        return {
            "tick": self.tick,
            "epoch": self.epoch,
            "epochs": self.config.epochs,
            "elapsed": time.monotonic() - self.started_at,
            "tasks_by_state": dict(sorted(by_state.items())),
            "tasks": len(tasks),
            "events": events,
            "notes": list(self.recent),
            "nodes": rows,
        }

    def results(self) -> dict[str, Any]:
        """The end table (per node and per other participant) from statements, task and node views."""
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        r = self.reader
        epochs = list(range(self.config.epochs))
        end_tick = int(r.retry("epoch", lambda: r.client.epoch(epochs[-1]))["end_tick"])
        every = r.all_tasks()
        closed = [t for t in every if t.get("closed_tick") is not None and t["closed_tick"] <= end_tick]
        nodes = {n["id"]: n for n in r.retry("nodes", r.client.nodes)}
        deviation_max = int(self.params.get("validator_deviation_max_ppb", 200_000_000))
        people = [(s.name, s.role, s.strategy) for s in self.specs] + [(d, "delegator", f"delegates to {n}") for d, n in self.delegations()]
        rows = []
        for name, role, strategy in people:
            addr = self.keys[name].address
            row: dict[str, Any] = {
                "name": name,
                "address": addr,
                "role": role,
                "strategy": strategy,
                **task_counts(role, addr, closed, deviation_max),
            }
            n = nodes.get(addr)
            if n is not None:
                row.update({k: n[k] for k in ("reputation_ppb", "state", "slash_count", "stake_total")})
            row.update(money_columns(statement_sums(r, addr, epochs), row.get("tasks")))
            rows.append(row)
        c = self.config
        return {
            "ok": True,
            "epochs": c.epochs,
            "seed": c.seed,
            "backend": c.backend,
            "clock": c.clock_mode,
            "tick_seconds": c.tick_interval,
            "max_output_tokens": c.max_output_tokens,
            "db": c.url,
            "db_path": str(sqlite_path(c.url)) if sqlite_path(c.url) else None,
            "keys_dir": c.keys_dir,
            "log_dir": str(self.log_dir),
            "api": self.api_url,
            "wall_seconds": round(time.monotonic() - self.created_at, 1),
            "clock_seconds": round(sum(self.epoch_seconds), 1),
            "epoch_seconds": [round(x, 1) for x in self.epoch_seconds],
            "ticks": self.tick,
            "forced_ticks": self.forced_ticks,
            "network_tasks": self.network_tasks,
            "params": self.params,
            "tasks": {"closed_in_report": len(closed), "by_state": dict(sorted(Counter(t["state"] for t in every).items()))},
            "nodes": [x for x in rows if x["role"] in ("miner", "validator", "router")],
            "users": [x for x in rows if x["role"] == "user"],
            "delegators": [x for x in rows if x["role"] == "delegator"],
            "slashes": [
                {"node": self.by_address.get(x["node"], x["node"]), "offence": x["offence"], "epoch": x["epoch"], "total": x["total"]}
                for x in r.retry("slashes", r.client.slashes)
            ],
        }


def task_counts(role: str, addr: str, tasks: list[dict[str, Any]], deviation_max_ppb: int) -> dict[str, Any]:
    """Assignments of ``addr`` in ``tasks`` (closed ones), and how many were in consensus."""
    out: dict[str, Any] = {}
    if role == "miner":
        mine = [(t, a) for t in tasks for a in t["miners"] if a["miner"] == addr]
        out["tasks"] = len(mine)
        # in consensus in a task that settled (the medoid of a failed task is not in consensus with anyone)
        out["in_consensus"] = sum(1 for t, a in mine if a["in_consensus"] and t["state"] == TaskState.SETTLED)
        out["mismatched_reveals"] = sum(1 for _, a in mine if a["mismatch"])
        out["missed_precommits"] = sum(1 for _, a in mine if not a["precommitted"])
    elif role == "validator":
        mine_v = [v for t in tasks for v in t["validators"] if v["validator"] == addr]
        agreements = [int(v["agreement_ppb"]) for v in mine_v if v.get("agreement_ppb") is not None]
        out["tasks"] = len(mine_v)
        out["reported"] = sum(1 for v in mine_v if v["reported"])
        out["mean_agreement_ppb"] = sum(agreements) // len(agreements) if agreements else None
        # in consensus: reported without a large deviation (agreement ≥ 1 − validator_deviation_max)
        out["in_consensus"] = sum(1 for a in agreements if a >= PPB - deviation_max_ppb)
    elif role in ("router", "user"):
        out["tasks"] = sum(1 for t in tasks if t.get(role) == addr)
    if role in ("miner", "validator"):
        out["in_consensus_rate_bps"] = out["in_consensus"] * 10_000 // out["tasks"] if out["tasks"] else None
    return out


def money_columns(sums: dict[str, int], tasks: int | None) -> dict[str, Any]:
    """COR strings and exact ``*_units`` per category, and net profit = rewards + fees − slashes."""
    net = sums["rewards"] + sums["fees"] - sums["slashes"]
    out: dict[str, Any] = {k: format_cor(v) for k, v in sums.items()}
    out.update({f"{k}_units": str(v) for k, v in sums.items()})
    out["net_profit"], out["net_profit_units"] = format_cor(net), str(net)
    if tasks:
        per_task = net // tasks if net >= 0 else -(-net // tasks)  # toward zero
        out["net_per_task"], out["net_per_task_units"] = format_cor(per_task), str(per_task)
    return out


# --- statements -----------------------------------------------------------------------------

CATEGORIES = ("rewards", "fees", "slashes", "payments", "other")


def item_category(item: dict[str, Any]) -> str:
    """Which column of the end table a statement line item adds to."""
    stream = item["stream"]
    if stream == Stream.SLASH:
        return "slashes"
    if stream.startswith(TASK_FEE_PREFIX):
        return "fees"
    if stream == Stream.TASK_PAYMENT:
        return "payments"
    if item.get("claimable"):
        return "rewards"
    return "other"


def statement_sums(link: Link, address: str, epochs: list[int]) -> dict[str, int]:
    """Σ statement amounts per category over ``epochs`` (slashes and payments as positive numbers)."""
    sums = dict.fromkeys(CATEGORIES, 0)
    for e in epochs:
        st = link.retry("statement", lambda e=e: link.client.statement(address, e))
        for item in st["items"]:
            sums[item_category(item)] += int(item["amount_units"])
    sums["slashes"] = -sums["slashes"]
    sums["payments"] = -sums["payments"]
    return sums
