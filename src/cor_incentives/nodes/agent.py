"""Node agents: one process per node, talking to the service only over its HTTP API, with its own key.

    python -m cor_incentives.nodes.agent --role miner --key-file keys/miner-1.json --api http://127.0.0.1:8545 \
        --strategy honest --backend llama --log-file logs/miner-1.log

Roles
    miner      polls for tasks assigned to it in PREPARED/STARTED, fetches the prompt blob, generates
               with its backend (or cheats per ``--strategy``), PUTs the output blob, precommits
               ``commitment(task, miner, output_hash, salt)`` with a random salt, and reveals once the
               task is PRECOMMITTED. Token counts are the backend's real ones.
    validator  polls COMMITTED tasks where it is a validator, fetches the prompt and the revealed
               outputs, runs ``evaluate_outputs`` (PoI + PoUW, the real embedding model) or its
               strategy, and submits ``task.validate`` with the reports (criteria included).
    router     serves an HTTP gateway (``nodes/router.py``) that carries users' signed commands.
    user       opens a session with a deposit (or reuses its open one), submits a prompt every
               ``--every-ticks`` ticks (bundled prompt set or ``--prompts FILE``), names its router so
               the router earns the routing share, and tops the deposit up when it runs low.

Every agent: retries transient errors (``nodes/link.py``), writes one log line per action to
``--log-file``, writes ``--ready-file`` (JSON) once it is ready, and stops cleanly on SIGTERM/SIGINT.
A miner keeps its unrevealed commitments in ``<log-file>.state.json`` so that a restart can still reveal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..app.prompts import estimate_tokens, load_prompt_set
from ..client import ApiError
from ..core.records import PRECOMMIT_WINDOW, TaskState
from ..core.tasks import commitment
from ..core.units import format_cor, parse_cor
from .link import Link, Stopped, wait_for_api
from .strategies import (
    LAZY_ANSWER,
    MISMATCH_ANSWER,
    check_strategy,
    copier_reports,
    copier_should_wait,
    copy_source,
    garbage_text,
)

ROLES = ("miner", "validator", "router", "user")
BACKENDS = ("llama", "openai", "scripted")
MINER_STATES = (*PRECOMMIT_WINDOW, TaskState.PRECOMMITTED)
MAX_TRACKED_TASKS = 10_000  # bound on a miner's local commitments
SESSION_SCAN_MARGIN = 64


def load_key_file(path: str | Path) -> dict[str, str]:
    """A keystore file (``app/keys.py`` format): name, address, private_key."""
    data = json.loads(Path(path).read_text())
    for field in ("address", "private_key"):
        if not isinstance(data.get(field), str):
            raise ValueError(f"key file {path} has no {field}")
    return data


def make_logger(name: str, log_file: str | None) -> logging.Logger:
    log = logging.getLogger(f"cor.node.{name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d " + name + " %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    return log


def mine(task: dict[str, Any], me: str) -> dict[str, Any] | None:
    """This miner's assignment in a task view."""
    return next((a for a in task["miners"] if a["miner"] == me), None)


class Agent:
    """The loop every role shares: set up, then ``step`` every ``poll_seconds`` until stopped."""

    role = "agent"

    def __init__(self, name: str, link: Link, log: logging.Logger, stop: threading.Event, poll_seconds: float, ready_file: str | None = None) -> None:
        self.name = name
        self.link = link
        self.me = link.address or ""
        self.log = log
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.ready_file = ready_file
        self.seen_head = -2

    def setup(self) -> dict[str, Any]:
        """Anything to do before the first step; returns extra fields for the ready file."""
        return {}

    def step(self) -> bool:
        """One pass; True when there is more to do at once (no pause before the next pass)."""
        raise NotImplementedError

    def changed(self) -> int | None:
        """The log head if it moved since the last completed step, else None."""
        head = self.link.head_seq()
        return None if head == self.seen_head else head

    def run(self) -> int:
        try:
            extra = self.setup()
        except Stopped:
            return 0
        if self.ready_file:
            tmp = Path(self.ready_file + ".tmp")
            tmp.write_text(json.dumps({"name": self.name, "role": self.role, "address": self.me, "pid": os.getpid(), **extra}))
            tmp.replace(self.ready_file)
        self.log.info("ready as %s %s", self.role, self.me)
        while not self.stop.is_set():
            busy = False
            try:
                busy = bool(self.step())
            except Stopped:
                break
            except ApiError as exc:
                self.log.info("error %s: %s", exc.code, exc.message[:200])
            except Exception as exc:  # noqa: BLE001 - an agent must outlive one bad step; the log says what happened
                self.log.info("error %s: %s", type(exc).__name__, str(exc)[:200])
            if not busy:
                self.stop.wait(self.poll_seconds)
        self.shutdown()
        self.log.info("stopped")
        return 0

    def shutdown(self) -> None:
        self.link.close()


# --- miner ----------------------------------------------------------------------------------


class MinerAgent(Agent):
    role = "miner"

    def __init__(self, *args: Any, strategy: str, backend: Any, state_file: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.strategy = check_strategy("miner", strategy)
        self.backend = backend
        self.state_file = Path(state_file) if state_file else None
        # task id -> {"output_hash", "salt", "output_tokens", "sent"} committed to (and, for a mismatch, what it reveals)
        self.work: dict[int, dict[str, Any]] = self._load_state()
        self.ignored: set[int] = set()

    def _load_state(self) -> dict[int, dict[str, Any]]:
        if self.state_file and self.state_file.is_file():
            return {int(k): v for k, v in json.loads(self.state_file.read_text()).items()}
        return {}

    def _save_state(self) -> None:
        if self.state_file:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({str(k): v for k, v in self.work.items()}))
            tmp.replace(self.state_file)

    def step(self) -> bool:
        head = self.changed()
        if head is None:
            return False
        tasks = [t for t in self.link.tasks(state="open", assigned=self.me, limit=1000) if t["state"] in MINER_STATES]
        # reveals first (cheap, and late reveals cost a deadline), then one precommit per step
        for t in sorted(tasks, key=lambda t: t["id"]):
            a = mine(t, self.me)
            if t["state"] == TaskState.PRECOMMITTED and a is not None and a["precommitted"] and not a["revealed"]:
                self.reveal(t)
        todo = [
            t
            for t in sorted(tasks, key=lambda t: t["id"])
            if t["state"] in PRECOMMIT_WINDOW
            and (a := mine(t, self.me)) is not None
            and not a["precommitted"]
            and not self.work.get(t["id"], {}).get("sent")
            and t["id"] not in self.ignored
        ]
        if todo and not self.stop.is_set():
            self.precommit(todo[0])
            if len(todo) > 1:
                return True  # look again at once (a reveal may have become due meanwhile)
        open_ids = {t["id"] for t in tasks}
        stale = [tid for tid in self.work if tid not in open_ids]  # closed before we revealed: nothing left to do
        for tid in stale:
            self.work.pop(tid)
        if stale:
            self._save_state()
        if len(self.ignored) > MAX_TRACKED_TASKS:
            self.ignored = {tid for tid in self.ignored if tid in open_ids}
        self.seen_head = head
        return False

    # what to commit to, by strategy: (text committed, tokens, text revealed or None for the same)
    def _answer(self, task: dict[str, Any]) -> tuple[str, int, str | None, float]:
        tid, max_out = task["id"], task["max_output_tokens"]
        if self.strategy in ("honest", "mismatch"):
            prompt = self.link.get_blob(task["prompt_hash"]).decode("utf-8", errors="replace")
            t0 = time.monotonic()
            gen = self.backend.generate(prompt, max_out)
            took = time.monotonic() - t0
            text = gen.text or "(no output)"
            tokens = max(1, min(gen.output_tokens, max_out))
            return text, tokens, (MISMATCH_ANSWER if self.strategy == "mismatch" else None), took
        if self.strategy == "garbage":
            text = garbage_text(tid, self.me)
        else:  # lazy, and the copier's guess
            text = LAZY_ANSWER
        return text, min(max_out, estimate_tokens(text)), None, 0.0

    def precommit(self, task: dict[str, Any]) -> None:
        tid = task["id"]
        if self.strategy == "offline":
            if tid not in self.ignored:
                self.ignored.add(tid)
                self.log.info("offline: ignoring task %d", tid)
            return
        entry = self.work.get(tid)
        took = 0.0
        if entry is None:
            text, tokens, reveal_text, took = self._answer(task)
            entry = {"output_hash": self.link.put_blob(text.encode("utf-8")), "salt": secrets.token_hex(16), "output_tokens": tokens, "sent": False}
            if reveal_text is not None:
                entry["reveal_hash"] = self.link.put_blob(reveal_text.encode("utf-8"))
                entry["reveal_tokens"] = min(task["max_output_tokens"], estimate_tokens(reveal_text))
            # kept before sending: if the post's fate is unknown (a failure after all retries), the next pass
            # re-sends this same commitment instead of computing a new one it could not reveal
            self.work[tid] = entry
            self._save_state()
        elif entry.get("sent"):
            return  # committed already; the view is behind
        try:
            self.link.submit("task.precommit", {"task": tid, "commit": commitment(tid, self.me, entry["output_hash"], entry["salt"])})
        except ApiError as exc:
            if exc.code != "already_precommitted":  # already_precommitted: an earlier post of this very commitment landed
                self.log.info("precommit task=%d refused: %s (generation took %.2fs)", tid, exc.code, took)
                self.work.pop(tid, None)
                self._save_state()
                self.ignored.add(tid)
                return
        entry["sent"] = True
        self._save_state()
        self.log.info(
            "precommit task=%d strategy=%s tokens=%d gen=%.2fs output=%s", tid, self.strategy, entry["output_tokens"], took, entry["output_hash"][:14]
        )

    def reveal(self, task: dict[str, Any]) -> None:
        tid = task["id"]
        entry = self.work.get(tid)
        if entry is None:
            if tid not in self.ignored:
                self.ignored.add(tid)
                self.log.info("reveal task=%d impossible: no local record of the commitment", tid)
            return
        output_hash, tokens, note = entry["output_hash"], entry["output_tokens"], "own output"
        if self.strategy == "mismatch":
            output_hash, tokens, note = entry["reveal_hash"], entry["reveal_tokens"], "a different output (mismatch)"
        elif self.strategy == "copier":
            if copier_should_wait(task, self.me):
                return
            src = copy_source(task, self.me)
            if src is not None:
                output_hash, tokens = src["output_hash"], min(task["max_output_tokens"], src["output_tokens"] or 1)
                note = f"a copy of {src['miner'][:10]}'s output"
            else:
                note = "its own guess (nothing to copy)"
        try:
            self.link.submit("task.reveal", {"task": tid, "output_hash": output_hash, "salt": entry["salt"], "output_tokens": tokens})
        except ApiError as exc:
            self.log.info("reveal task=%d refused: %s", tid, exc.code)
            self.work.pop(tid, None)
            self._save_state()
            return
        self.work.pop(tid, None)
        self._save_state()
        self.log.info("reveal task=%d tokens=%d output=%s (%s)", tid, tokens, output_hash[:14], note)


# --- validator ------------------------------------------------------------------------------


class ValidatorAgent(Agent):
    role = "validator"

    def __init__(self, *args: Any, strategy: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.strategy = check_strategy("validator", strategy)
        self.ignored: set[int] = set()

    def setup(self) -> dict[str, Any]:
        if self.strategy == "honest":  # load the embedding model before declaring ready
            from .validator import evaluate_outputs

            evaluate_outputs("warm up", {"a": "warm", "b": "up"}, 8)
        return {}

    def step(self) -> bool:
        head = self.changed()
        if head is None:
            return False
        for t in sorted(self.link.tasks(state=TaskState.COMMITTED, assigned=self.me, limit=1000), key=lambda t: t["id"]):
            if self.stop.is_set():
                return
            if any(v["validator"] == self.me and not v["reported"] for v in t["validators"]):
                self.validate(t)
        self.seen_head = head
        return False

    def validate(self, task: dict[str, Any]) -> None:
        tid = task["id"]
        if self.strategy == "offline":
            if tid not in self.ignored:
                self.ignored.add(tid)
                self.log.info("offline: not validating task %d", tid)
            return
        revealed = [a for a in task["miners"] if a["revealed"] and not a["mismatch"]]
        t0 = time.monotonic()
        if self.strategy == "copier":
            reports: list[dict[str, Any]] = copier_reports([a["miner"] for a in revealed])
        else:
            from .validator import evaluate_outputs

            prompt = self.link.get_blob(task["prompt_hash"]).decode("utf-8", errors="replace")
            outputs = {a["miner"]: self._output(a["output_hash"]) for a in revealed}
            reports = evaluate_outputs(prompt, outputs, task["max_output_tokens"])
        took = time.monotonic() - t0
        try:
            self.link.submit("task.validate", {"task": tid, "reports": reports})
        except ApiError as exc:
            self.log.info("validate task=%d refused: %s", tid, exc.code)
            return
        summary = " ".join(f"{r['miner'][:8]}:d={r['poi_distance_ppb'] / 1e9:.3f},q={r['quality_ppb'] / 1e9:.2f}" for r in reports)
        self.log.info("validate task=%d strategy=%s eval=%.2fs %s", tid, self.strategy, took, summary)

    def _output(self, output_hash: str) -> str:
        """A revealed output's text; one whose blob was never stored is scored as empty."""
        try:
            return self.link.get_blob(output_hash).decode("utf-8", errors="replace")
        except ApiError as exc:
            if exc.status == 404:
                self.log.info("output %s is not stored: scored as empty", output_hash[:14])
                return ""
            raise


# --- router ---------------------------------------------------------------------------------


class RouterAgent(Agent):
    role = "router"

    def __init__(self, *args: Any, api_url: str, listen_host: str = "127.0.0.1", listen_port: int = 0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        from .router import RouterGateway

        self.gateway = RouterGateway(self.me, api_url, self.log, listen_host, listen_port)

    def setup(self) -> dict[str, Any]:
        self.gateway.start()
        self.log.info("gateway listening on %s", self.gateway.url)
        return {"url": self.gateway.url}

    def step(self) -> bool:
        return False  # the gateway's threads do the work

    def shutdown(self) -> None:
        self.gateway.stop()
        self.log.info("carried %d command(s), refused %d", self.gateway.carried, self.gateway.refused)
        super().shutdown()


# --- user -----------------------------------------------------------------------------------


class UserAgent(Agent):
    role = "user"

    def __init__(
        self,
        *args: Any,
        model: str,
        prompts: tuple[dict[str, Any], ...],
        every_ticks: int,
        deposit_units: int,
        topup_below_units: int,
        max_output_tokens: int | None,
        router: str | None,
        seed: str,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.model = model
        self.prompts = prompts
        self.every_ticks = max(1, every_ticks)
        self.deposit_units = deposit_units
        self.topup_below_units = topup_below_units
        self.max_output_tokens = max_output_tokens
        self.router = router
        self.rng = random.Random(f"{seed}|{self.name}")
        self.session_id: int | None = None
        self.next_tick = 1
        self.submitted = 0

    def setup(self) -> dict[str, Any]:
        if self.router is None:
            try:
                self.router = str(self.link.get_json("/router")["address"])
            except ApiError:
                self.router = None  # talking to the API directly: no router named
        self.session_id = self.find_session()
        if self.session_id is None:
            self.link.submit("session.open", {"deposit": str(self.deposit_units)})
            self.session_id = self.find_session()
            if self.session_id is None:
                raise RuntimeError("opened a session but cannot find it")
            self.log.info("session.open session=%d deposit=%s COR", self.session_id, format_cor(self.deposit_units))
        else:
            self.log.info("reusing open session %d", self.session_id)
        self.next_tick = int(self.link.chain()["tick"]) + 1
        return {"session": self.session_id, "router": self.router}

    def find_session(self) -> int | None:
        """This user's open session with the lowest id (ids are shared with tasks; scanned up to a bound)."""
        top = max((t["id"] for t in self.link.tasks(limit=100)), default=0) + SESSION_SCAN_MARGIN
        for sid in range(1, top + 1):
            try:
                s = self.link.session(sid)
            except ApiError as exc:
                if exc.status == 404:
                    continue
                raise
            if s["owner"] == self.me and s["open"]:
                return sid
        return None

    def step(self) -> bool:
        tick = int(self.link.chain()["tick"])
        if tick < self.next_tick:
            return False
        self.next_tick = tick + self.every_ticks
        self.top_up()
        self.submit_task(tick)
        return False

    def top_up(self) -> None:
        if self.session_id is None:
            raise RuntimeError("session_id is not set up yet")
        deposit = int(self.link.session(self.session_id)["deposit_units"])
        if deposit >= self.topup_below_units:
            return
        amount = self.deposit_units - deposit
        self.link.submit("session.deposit", {"session": self.session_id, "amount": str(amount)})
        self.log.info("session.deposit session=%d amount=%s COR (deposit was %s)", self.session_id, format_cor(amount), format_cor(deposit))

    def submit_task(self, tick: int) -> None:
        p = self.rng.choice(self.prompts)
        data = p["prompt"].encode("utf-8")
        prompt_hash = self.link.put_blob(data)
        max_out = min(p["max_output_tokens"], self.max_output_tokens or p["max_output_tokens"])
        body: dict[str, Any] = {
            "session": self.session_id,
            "model": self.model,
            "prompt_hash": prompt_hash,
            "prompt_bytes": len(data),
            "input_tokens": estimate_tokens(p["prompt"]),
            "max_output_tokens": max_out,
        }
        if self.router:
            body["router"] = self.router
        try:
            r = self.link.submit("task.submit", body)
        except ApiError as exc:
            self.log.info("task.submit refused at tick %d: %s %s", tick, exc.code, exc.message[:120])
            return
        self.submitted += 1
        self.log.info(
            "task.submit prompt=%s max_output_tokens=%d tick=%d seq=%s via=%s",
            p["id"],
            max_out,
            tick,
            r.get("seq"),
            "router" if self.router else "api",
        )


# --- process entry point --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m cor_incentives.nodes.agent", description="Run one COR node agent.")
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("--key-file", required=True, help="keystore JSON file of this node (name, address, private_key)")
    ap.add_argument("--api", required=True, help="base URL of the API (cor serve)")
    ap.add_argument("--strategy", default="honest")
    ap.add_argument("--backend", default="scripted", choices=BACKENDS, help="miner inference backend")
    ap.add_argument("--openai-url", default=None)
    ap.add_argument("--openai-model", default="default")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads of this miner")
    ap.add_argument("--poll-seconds", type=float, default=0.25)
    ap.add_argument("--log-file", default=None)
    ap.add_argument("--ready-file", default=None)
    ap.add_argument("--name", default=None, help="name in logs (default: the key's name)")
    # router
    ap.add_argument("--listen-port", type=int, default=0, help="router: gateway port (0: any free port)")
    # user
    ap.add_argument("--router-url", default=None, help="user: send requests through this router gateway")
    ap.add_argument("--prompts", default=None, help="user: JSONL prompt file (default: the bundled prompt set)")
    ap.add_argument("--model", default=None, help="user: model id (default: the bundled model)")
    ap.add_argument("--every-ticks", type=int, default=2, help="user: submit one task every N ticks")
    ap.add_argument("--deposit", default="0.1", help="user: session deposit, COR")
    ap.add_argument("--topup-below", default="0.04", help="user: top the deposit up to --deposit when it falls below this, COR")
    ap.add_argument("--max-output-tokens", type=int, default=None, help="user: cap on each task's max_output_tokens")
    ap.add_argument("--seed", default="devnet", help="user: seed of the prompt choice")
    ap.add_argument("--api-wait-seconds", type=float, default=60.0)
    return ap.parse_args(argv)


def build_agent(args: argparse.Namespace, stop: threading.Event) -> Agent:
    key = load_key_file(args.key_file)
    name = args.name or key.get("name") or key["address"][:10]
    log = make_logger(name, args.log_file)
    common = dict(stop=stop, poll_seconds=args.poll_seconds, ready_file=args.ready_file)
    if args.role == "user" and args.router_url:
        link = Link(args.router_url, key["private_key"], log=log, stop=stop)
    else:
        link = Link(args.api, key["private_key"], log=log, stop=stop)
    if args.role == "miner":
        check_strategy("miner", args.strategy)
        backend = None
        if args.strategy in ("honest", "mismatch"):
            from .backends import make_backend

            backend = make_backend(args.backend, openai_url=args.openai_url, openai_model=args.openai_model, threads=args.threads)
        state_file = args.log_file + ".state.json" if args.log_file else None
        return MinerAgent(name, link, log, strategy=args.strategy, backend=backend, state_file=state_file, **common)
    if args.role == "validator":
        return ValidatorAgent(name, link, log, strategy=args.strategy, **common)
    if args.role == "router":
        return RouterAgent(name, link, log, api_url=args.api, listen_port=args.listen_port, **common)
    from ..app.bundled import BUNDLED_MODEL_ID

    return UserAgent(
        name,
        link,
        log,
        model=args.model or BUNDLED_MODEL_ID,
        prompts=load_prompt_set(args.prompts),
        every_ticks=args.every_ticks,
        deposit_units=parse_cor(args.deposit),
        topup_below_units=parse_cor(args.topup_below),
        max_output_tokens=args.max_output_tokens,
        router=None,
        seed=args.seed,
        **common,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        wait_for_api(args.api, args.api_wait_seconds, stop)
    except Stopped:
        return 0
    agent = build_agent(args, stop)
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
