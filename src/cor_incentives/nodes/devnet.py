"""The devnet: a whole local network — the API, node agents as separate processes, and the clock (docs/design.md §9).

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
    (a parameter), each asking the prompt the beacon composed from the genesis prompt set (``/v1/chain``
    ``network_prompt``; rule 9), its output budget capped at ``max_output_tokens``; epochs
    close when a tick crosses their boundary.

Canaries (``oracle_duties``)
    Every network task carries the oracle's canary commitment; ``canary_rate`` of them plant an
    output: the miners' backend's answer to another prompt of the set (``nodes/canary.py``: fluent, so
    no lexical check tells it from an honest answer; random letters on the scripted backend, whose
    template answers every composed prompt alike). Once the task's miners are drawn, the oracle
    picks one of them and leaves the planted text in that miner's private inbox
    (``<log_dir>/inbox/<miner>/<task>.json``: on one machine a directory stands for an encrypted
    message); the miner reveals it instead of its own answer. When the reports are revealed (AUDITING) the oracle opens the commitment
    (``task.canary``), and the core judges each validator's report on the planted output.

Where things are
    ``nodes/devnet_config.py``   the options, the node mix and each backend's profile
    ``nodes/processes.py``       starting, watching and stopping processes
    this module                  the bootstrap, the processes of this devnet, and the clock
    ``nodes/devnet_results.py``  the live view and the end table, read back through the API
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ai.bundled import BUNDLED_MODEL_ID, bundled_model_body
from ..ai.tokens import count_tokens
from ..app.engine import Engine
from ..app.genesis import DEVNET, check_genesis_spec, genesis_body
from ..app.keys import Key, Keystore
from ..app.prompts import load_prompt_set, pick_prompt
from ..client import ApiError
from ..core.errors import Conflict
from ..core.records import CLOSED_TASK_STATES, PRECOMMIT_WINDOW, TaskState
from ..core.units import COR
from ..core.validation import canary_commitment
from .backends import Backend, Sampling, derive_seed, make_backend
from .canary import planted_output
from .devnet_config import (
    COMMISSION_BPS,
    DELEGATION_COR,
    FUNDING_COR,
    GENESIS_NAMES,
    SELF_BOND_COR,
    USER_DEPOSIT_COR,
    DevnetConfig,
    NodeSpec,
    node_specs,
)
from .link import Link, wait_for_api
from .processes import (
    AGENT_READY_TIMEOUT_SECONDS,
    API_START_TIMEOUT_SECONDS,
    Proc,
    free_port,
    spawn,
    sqlite_path,
    stop_process,
)
from .strategies import FREE_MINER_STRATEGIES, garbage_text

NEWEST_TASKS = 20  # network tasks read to find the one just issued (the oracle's own: newest first)
PLANT_ATTEMPTS = 3  # a planted output generated again when the network prompt moved while it was generated


@dataclass(frozen=True)
class Canary:
    """The oracle's secret of one network task: its planted output (None: no canary), the salt, and the planting."""

    planted_hash: str | None
    salt: str
    text: str | None
    told: bool = False  # the planting miner has its instruction


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
        self.checkpoint: dict[str, Any] | None = None  # the last (seq, hash) the oracle saw, for its next tick
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
        self.epoch_hooks: list[Callable[[int], None]] = []  # called with each closed epoch (the chain's publisher)
        self._open_cache: tuple[int, list[dict[str, Any]]] = (-2, [])
        self.canaries: dict[int, Canary] = {}  # open network tasks -> the oracle's secret (planted output or none, salt)
        self.canaries_opened = 0
        self._looked_up: dict[int, int] = {}  # a canary's task not in the open list -> the log head it was last read at
        self.canary_backend: Backend | None = None  # the miners' backend, for the planted outputs (loaded with the first canary)

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
        engine.submit_as(k["oracle"], "genesis", genesis_body(spec, k["oracle"].address, {n: k[n].address for n in GENESIS_NAMES}, self.prompts))
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
        self.api = spawn("api", cmd, log_path)
        proc = self.api.proc
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
        self.initial_totals = {n: self.holdings(n) for n in self.keys if n not in ("oracle", "faucet", "modeldev", "dave")}
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
        if s.role == "miner":
            cmd += ["--inbox", str(self.log_dir / "inbox" / s.name)]
        if s.role == "miner" and s.strategy not in FREE_MINER_STRATEGIES:
            cmd += ["--threads", str(c.llama_threads), "--temperature", repr(c.miner_temperature)]
            cmd += ["--sampling-seed", str(c.sampling_seed(s.name))]
            if c.backend == "openai":
                cmd += ["--openai-url", str(c.openai_url), "--openai-model", c.openai_model]
        if s.role == "user":
            router = next((r for r in self.ready.values() if r.get("role") == "router"), None)
            if router:
                cmd += ["--router-url", router["url"]]
            cmd += ["--every-ticks", str(c.every_ticks), "--max-output-tokens", str(c.max_output_tokens), "--seed", c.seed]
            cmd += ["--deposit", USER_DEPOSIT_COR, "--topup-below", c.user_topup_below]
            if c.prompts:
                cmd += ["--prompts", c.prompts]
        return cmd

    def start_agents(self, progress: Callable[[str], None] | None = None) -> None:
        """Routers with the miners and validators, then users (they need a router's URL); wait until each is ready."""
        for group in (("router", "miner", "validator"), ("user",)):
            batch = [s for s in self.specs if s.role in group]
            for s in batch:
                err = self.log_dir / f"{s.name}.err"
                self.agents[s.name] = spawn(s.name, self.agent_command(s), err, self.log_dir / f"{s.name}.log")
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
        for t in self.open_tasks():
            if t["state"] in PRECOMMIT_WINDOW:
                owing = [a["miner"] for a in t["miners"] if not a["precommitted"]]
            elif t["state"] == TaskState.PRECOMMITTED:
                owing = [a["miner"] for a in t["miners"] if a["precommitted"] and not a["revealed"]]
            elif t["state"] == TaskState.COMMITTED:
                owing = [v["validator"] for v in t["validators"] if v["round"] == t["round"] and not v["committed"]]
            elif t["state"] == TaskState.REPORTING:
                owing = [v["validator"] for v in t["validators"] if v["round"] == t["round"] and v["committed"] and not v["reported"]]
            else:  # AUDITING: the oracle (this process) opens its canary commitment on its next pass
                owing = []
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
        # every tick carries the oracle's checkpoint: the last event it saw (its own previous tick will
        # do: a checkpoint may cite any of the last few thousand events, so it never races the head)
        for attempt in (1, 2):
            if self.checkpoint is None:
                head = self.oracle.chain()
                self.checkpoint = {"seq": int(head["head_seq"]), "hash": str(head["head_hash"])}
            try:
                r = self.oracle.submit("tick", {"ticks": 1, "checkpoint": self.checkpoint})
                break
            except ApiError as exc:
                if attempt == 2 or not exc.code.startswith("checkpoint_"):
                    raise
                self.checkpoint = None  # too old (or this process's view was stale): cite the head instead
        if "seq" in r and "hash" in r:
            self.checkpoint = {"seq": int(r["seq"]), "hash": str(r["hash"])}
        self.tick, self.epoch = int(r["tick"]), int(r["epoch"])
        if self.epoch > before:
            self.epoch_seconds.append(time.monotonic() - self.started_at - sum(self.epoch_seconds))
            self.recent.append(f"tick {self.tick}: epoch {before} closed")
            self.log.info("epoch %d closed at tick %d", before, self.tick)
            for hook in self.epoch_hooks:
                hook(before)
        interval = int(self.params.get("network_task_interval_ticks", 10))
        if interval and self.tick % interval == 0 and self.epoch < self.config.epochs:
            self.issue_network_task()
        return r

    def network_prompt(self) -> tuple[str, tuple[str, ...], int]:
        """(text, the base prompts' ids, output budget) of the next network task: composed from the beacon's last value and
        the oracle's nonce (rule 9; from the log head without a beacon); the oracle only says when. Before it: ``pick_prompt``."""
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        chain = self.reader.chain()
        composed = chain.get("network_prompt")
        if composed is not None:
            return str(composed["text"]), tuple(composed["parts"]), int(composed["max_output_tokens"])
        p = pick_prompt(self.prompts, chain["head_hash"], self.tick)
        return p["prompt"], (p["id"],), p["max_output_tokens"]

    def planted_output(self, parts: tuple[str, ...], max_output_tokens: int) -> tuple[tuple[str, ...], str]:
        """(the source's parts, the planted output) of a canary issued now: the miners' backend's answer to another prompt
        (``nodes.canary``); the scripted backend, which answers every composed prompt with one template, plants random letters."""
        c = self.config
        if c.backend == "scripted":
            return (), garbage_text(self.tick, "canary")
        if self.canary_backend is None:  # loaded with the first canary (the llama backend: SmolLM2 in this process)
            sampling = Sampling(temperature=c.miner_temperature, seed=derive_seed("devnet-canary", c.seed))
            self.canary_backend = make_backend(
                c.backend, openai_url=c.openai_url, openai_model=c.openai_model, threads=c.llama_threads, sampling=sampling
            )
        return planted_output(self.canary_backend, self.prompts, parts, max_output_tokens, c.seed, self.tick)

    def issue_network_task(self) -> None:
        """A network task from the prompt set; with ``canary_rate`` it is a canary (a planted output: ``planted_output``).

        Every network task carries a canary commitment, so a canary looks like any other network task."""
        if self.oracle is None or self.reader is None:
            raise RuntimeError("the devnet is not started")
        text, parts, budget = self.network_prompt()
        rng = random.Random(f"{self.config.seed}|canary|{self.tick}")
        planted: str | None = None
        if rng.random() < self.config.canary_rate:
            for _ in range(PLANT_ATTEMPTS):
                planted = self.planted_output(parts, min(budget, self.config.max_output_tokens))[1]
                # the prompt moves with the beacon's value (a tick) and the oracle's nonce (its commands), and this process
                # sent neither while generating; without a beacon it moves with the log head: then it is planted again
                again = self.network_prompt()
                if again == (text, parts, budget):
                    break
                (text, parts, budget), planted = again, None  # no canary this time if the log never stood still
        label = "+".join(parts)
        data = text.encode("utf-8")
        h = self.oracle.put_blob(data)
        planted_hash = self.oracle.put_blob(planted.encode("utf-8")) if planted else None
        salt = secrets.token_hex(16)
        body = {
            "model": BUNDLED_MODEL_ID,
            "prompt_hash": h,
            "prompt_bytes": len(data),
            "input_tokens": count_tokens(text),
            "max_output_tokens": min(budget, self.config.max_output_tokens),
            "canary": canary_commitment(h, planted_hash, salt),
        }
        try:
            self.oracle.submit("task.network", body)
            self.network_tasks += 1
            self.recent.append(f"tick {self.tick}: network task ({label})")
        except ApiError as exc:
            self.recent.append(f"tick {self.tick}: network task refused: {exc.code}")
            self.log.info("network task refused at tick %d: %s", self.tick, exc.code)
            return
        # the newest network tasks, not the open ones: a task waits for its miners' draw (the next tick) outside the
        # open index, and one looked up there was never found, so no canary was ever planted or opened
        tid = max((t["id"] for t in self.reader.tasks(kind="network", limit=NEWEST_TASKS) if t["prompt_hash"] == h), default=None)
        if tid is not None:
            self.canaries[tid] = Canary(planted_hash, salt, planted)

    def oracle_duties(self) -> None:
        """Tell a canary's planting miner (its private inbox), and open every commitment whose reports are in."""
        if self.oracle is None or self.reader is None:
            raise RuntimeError("the devnet is not started")
        if not self.canaries:
            return
        tasks = {t["id"]: t for t in self.open_tasks()}
        for tid in sorted(self.canaries):
            c, t = self.canaries[tid], tasks.get(tid)
            if t is None:  # not open yet (its miners are drawn at the next tick), or closed meanwhile (failed)
                head = self._open_cache[0]
                if self._looked_up.get(tid) != head:  # once per log head
                    self._looked_up[tid] = head
                    if self.reader.task(tid)["state"] in CLOSED_TASK_STATES:  # nothing to open
                        del self.canaries[tid]
                        self._looked_up.pop(tid)
                continue
            if c.text and not c.told and t["miners"]:
                slot = random.Random(f"{self.config.seed}|plant|{tid}").choice(sorted(a["miner"] for a in t["miners"]))
                inbox = self.log_dir / "inbox" / self.by_address.get(slot, slot)
                inbox.mkdir(parents=True, exist_ok=True)
                (inbox / f"{tid}.json").write_text(json.dumps({"task": tid, "text": c.text}))
                self.canaries[tid] = Canary(c.planted_hash, c.salt, c.text, told=True)
            if t["state"] == TaskState.AUDITING:
                body = {"task": tid, "salt": c.salt, **({"planted": c.planted_hash} if c.planted_hash else {})}
                try:
                    self.oracle.submit("task.canary", body)
                    if c.planted_hash:
                        self.canaries_opened += 1
                        self.recent.append(f"tick {self.tick}: canary opened (task {tid})")
                except ApiError as exc:
                    self.log.info("canary of task %d refused: %s", tid, exc.code)
                del self.canaries[tid]
                self._looked_up.pop(tid, None)

    def open_tasks(self) -> list[dict[str, Any]]:
        """The open tasks (read once per log head)."""
        if self.reader is None:
            raise RuntimeError("the devnet is not started")
        head = self.reader.head_seq()
        if head != self._open_cache[0]:
            self._open_cache = (head, self.reader.tasks(state="open", limit=1000))
        return self._open_cache[1]

    def run_clock(self, on_progress: Callable[[Devnet], None] | None = None, progress_seconds: float = 1.0) -> None:
        """Tick until ``epochs`` epochs have closed."""
        c = self.config
        last_tick = time.monotonic() - c.tick_interval
        hold_since: float | None = None
        last_progress = 0.0
        self.started_at = time.monotonic()
        while self.epoch < c.epochs:
            self.oracle_duties()  # plant a new canary before its miners answer; open the commitments whose reports are in
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
            self.oracle_duties()
            self.advance()
            self.oracle_duties()
            last_tick = time.monotonic()
            for name, p in self.agents.items():
                if not p.alive() and f"{name} exited" not in self.recent:
                    self.recent.append(f"{name} exited")
        if on_progress:
            on_progress(self)

    def holdings(self, name: str) -> int:
        """Σ of every account of a participant, in base units (0 when the API cannot say)."""
        reader = self.reader
        if reader is None:
            raise RuntimeError("the devnet is not started")
        try:
            b = reader.retry("balance", lambda: reader.client.balance(self.keys[name].address))
        except ApiError:
            return 0
        return sum(int(v) for v in b.get("accounts_units", {}).values())
