"""The miner agent: answers the tasks assigned to it, with commit-reveal (docs/design.md §4).

It polls for open tasks assigned to it, fetches the prompt blob, generates with its backend (or
cheats per its strategy, ``nodes/strategies.py``) — or, when the oracle's private inbox holds a
planted output for a network task (a canary), takes that instead —, stores the output blob, precommits
``commitment(task, miner, output_hash, salt)`` with a random salt, and reveals once the task is
PRECOMMITTED. Token counts are the backend's real ones. Unrevealed commitments are kept in a state
file so that a restart can still reveal. A miner samples at its ``--temperature`` with its own
random stream: each task's seed is ``derive_seed(--sampling-seed, task id)``, so its outputs are
reproducible. The backend (and how it samples) is chosen in
``nodes/agent.py:build_agent`` and built by ``nodes/backends.py:make_backend``.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from ...app.prompts import estimate_tokens
from ...client import ApiError
from ...core.records import PRECOMMIT_WINDOW, TaskState
from ...core.tasks import commitment
from ..backends import derive_seed
from ..strategies import LAZY_ANSWER, MISMATCH_ANSWER, check_strategy, copier_should_wait, copy_source, garbage_text
from .base import Agent

MINER_STATES = (*PRECOMMIT_WINDOW, TaskState.PRECOMMITTED)
MAX_TRACKED_TASKS = 10_000  # bound on a miner's local commitments


def mine(task: dict[str, Any], me: str) -> dict[str, Any] | None:
    """This miner's assignment in a task view."""
    return next((a for a in task["miners"] if a["miner"] == me), None)


class MinerAgent(Agent):
    role = "miner"

    def __init__(
        self, *args: Any, strategy: str, backend: Any, state_file: str | None = None, sampling_seed: int = 0, inbox: str | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.strategy = check_strategy("miner", strategy)
        self.backend = backend
        self.sampling_seed = sampling_seed  # each task samples with derive_seed(sampling_seed, task id)
        self.state_file = Path(state_file) if state_file else None
        self.inbox = Path(inbox) if inbox else None
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
            gen = self.backend.generate(prompt, max_out, seed=derive_seed(self.sampling_seed, tid))
            took = time.monotonic() - t0
            text = gen.text or "(no output)"
            tokens = max(1, min(gen.output_tokens, max_out))
            return text, tokens, (MISMATCH_ANSWER if self.strategy == "mismatch" else None), took
        if self.strategy == "garbage":
            text = garbage_text(tid, self.me)
        else:  # lazy, and the copier's guess
            text = LAZY_ANSWER
        return text, min(max_out, estimate_tokens(text)), None, 0.0

    def _planted(self, task: dict[str, Any]) -> str | None:
        """The planted output the oracle asked this miner to reveal in a network task (its private inbox), if any."""
        if self.inbox is None or task.get("kind") != "network":
            return None
        f = self.inbox / f"{task['id']}.json"
        if not f.is_file():
            return None
        text = json.loads(f.read_text()).get("text")
        return text if isinstance(text, str) and text else None

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
            planted = self._planted(task)
            if planted is not None:  # the oracle's canary: reveal its planted output instead (out of consensus and offences; paid from rule 18)
                text, tokens, reveal_text = planted, min(task["max_output_tokens"], estimate_tokens(planted)), None
                self.log.info("task=%d: the oracle's instruction, a planted output for a canary", tid)
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
        if self.strategy == "mismatch" and "reveal_hash" in entry:  # none when it committed to a planted canary: revealed as is
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
            body = {"task": tid, "output_hash": output_hash, "salt": entry["salt"]}
            if not task.get("measured_tokens"):  # rules before the measured counts: the miner claims its count
                body["output_tokens"] = tokens
            self.link.submit("task.reveal", body)
        except ApiError as exc:
            self.log.info("reveal task=%d refused: %s", tid, exc.code)
            self.work.pop(tid, None)
            self._save_state()
            return
        self.work.pop(tid, None)
        self._save_state()
        self.log.info("reveal task=%d tokens=%d output=%s (%s)", tid, tokens, output_hash[:14], note)
