"""The user agent: a session with a deposit, and a prompt every few ticks through its router.

It opens a session (or reuses its open one), submits a prompt every ``every_ticks`` ticks (the bundled
prompt set or a file), names its router so the router earns the routing share of the fee, and tops
the deposit up when it runs low.
"""

from __future__ import annotations

import random
from typing import Any

from ...ai.tokens import count_tokens
from ...client import ApiError
from ...core.units import format_cor
from .base import Agent

SESSION_SCAN_MARGIN = 64


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
            "input_tokens": count_tokens(p["prompt"]),  # a bound: validators count the prompt, the charge is at their count
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
