"""Closed-task attacks: what a closed task holds in the live state over the evidence window.

closed_task_bloat  a user (``attacker:bloat``) opens a session asking for as many miners and validators as the session
                   allows (``redundancy``, ``validators``: the record's assignments, reports, criteria and token counts
                   grow with miners × validators) and submits ``tasks`` of the cheapest kind every epoch (one output
                   token). The world's honest nodes serve them. Both worlds prune (prune_closed_records = 1, what a node
                   with a database holds); a probe at the end of each round measures the canonical bytes the attacker's
                   closed tasks hold in the live state (rule 26: their whole records, until the close past
                   unbonding_period_epochs; rule 27: their stubs, ``ClosedTask``) and, beside them, the bytes of those
                   tasks' stubs (``ClosedTask.of``: the nodes each one names, which its fee pays). The twin: no attacker.
                   gain = (live bytes of the attacker's closed tasks) ÷ (the bytes of their stubs) − 1 at the last round;
                   stopped iff gain ≤ 0 (a closed task holds no more than what names its paid nodes, whatever the
                   reports, criteria and counts its session made it hold) and the honest user's tasks live at the end
                   are in the states of the twin's (its wallet is reported: the attacker's tasks take its miners' time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.records import CLOSED_TASK_STATES, ClosedTask
from ...core.rules import RULES_TASK_STUB
from ...core.state import State
from ...core.state_codec import encode_record
from ...core.units import COR
from ..runner import MODEL_ID, RunResult
from ..scenarios import Scenario
from ..script import ActorScript, TaskSpec
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, actor, made, rounds_scenario
from .wash import user_task

if TYPE_CHECKING:
    from ..runner import World

RULES = Rules(RULES_TASK_STUB, "stub", "before_stub")
DEPOSIT_COR = 2_000


def _attacker() -> str:
    return actor("bloat")


def held(state: State, user: str | None) -> tuple[int, int, int]:
    """The closed tasks of ``user`` the live state holds: how many, their canonical bytes as held (a whole record or a
    stub), and the bytes of their stubs."""
    whole = [t for t in state.tasks.values() if t.user == user and t.state in CLOSED_TASK_STATES]
    stubs = [s for s in state.closed_tasks.values() if s.user == user]
    live = sum(len(encode_record(t)) for t in whole) + sum(len(encode_record(s)) for s in stubs)
    as_stubs = sum(len(encode_record(ClosedTask.of(t))) for t in whole) + sum(len(encode_record(s)) for s in stubs)
    return len(whole) + len(stubs), live, as_stubs


class BloatScript(ActorScript):
    """The attacker's session and its cheapest tasks; a probe at each round's end. The twin sends nothing."""

    def __init__(self, k: Knobs, twin: bool) -> None:
        super().__init__()
        self.k, self.twin = k, twin
        self.wallet = _attacker()
        self.world: World | None = None
        self.session = 0
        self.samples: list[tuple[int, int, int, int, int]] = []  # (epoch, tasks held, live bytes, stub bytes, spent)

    def allocations(self) -> dict[str, int]:
        return {self.wallet: (0 if self.twin else DEPOSIT_COR * COR) + 10 * COR}

    def setup(self, world: World) -> None:
        self.world = world
        if self.twin:
            return
        body = {"deposit": str(DEPOSIT_COR * COR), "redundancy": int(self.k["redundancy"]), "validators": int(self.k["validators"])}
        if self.send(world, self.wallet, "session.open", body, "session.open"):
            self.session = max(world.state.sessions)

    def tasks(self, world: World, epoch: int, round_: int) -> list[TaskSpec]:
        if self.twin or not self.session:
            return []
        if round_ == 0 and epoch > 0:
            self._probe(world)
        return [
            user_task(world, self.wallet, self.session, MODEL_ID, "bloat", f"{epoch}:bloat:{i}", 1)
            for i in range(int(self.k["tasks"]))
            if round_ == 0
        ]

    def _probe(self, world: World) -> None:
        state = world.state
        n, live, stubs = held(state, self.wallet)
        spent = DEPOSIT_COR * COR + 10 * COR - state.ledger.balance(f"wallet:{self.wallet}") - state.ledger.balance(f"escrow:session:{self.session}")
        self.samples.append((state.epoch, n, live, stubs, spent))


class ClosedTaskBloat(Family):
    name = "closed_task_bloat"
    title = "A user's closed tasks hold the live state with what their session made them hold"
    criterion = (
        "the attacker's closed tasks hold no more live bytes than their stubs (the nodes each names, which its fee pays: "
        "gain = live bytes ÷ stub bytes − 1 ≤ 0 at the last round), and the honest user's tasks end as in the twin"
    )
    description = (
        "a user opens a session of 8 miners and 6 validators a task and submits 10 one-token tasks every epoch; the honest "
        "nodes serve them; both worlds prune (prune_closed_records = 1); rules=before_stub runs rule 26 (a closed task's "
        "whole record stays live until the close past the window)"
    )
    gain_unit = "(live bytes of the attacker's closed tasks) ÷ (the bytes of their stubs) − 1"
    knobs = (
        Knob("rounds", 4, "epochs the attacker submits in", 1, 30),
        Knob("tasks", 10, "one-token tasks the attacker submits each epoch", 0, 200),
        Knob("redundancy", 8, "miners a task of the attacker's session asks for", 2, 32),
        Knob("validators", 6, "validators a task of the attacker's session asks for", 1, 32),
        RULES.knob("a closed task leaves whole at its close, a stub stays for the window", "the whole record stays for the window"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return rounds_scenario(self.world_name(twin), int(k["rounds"]), RULES.params(k, pruned=True))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return BloatScript(k, twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        bloat = made(script, BloatScript)
        world = bloat.world
        state = world.state if world is not None else State()
        user = next((s.owner for s in state.sessions.values() if s.owner != bloat.wallet), None)
        n, live, stubs = held(state, user)
        tasks = [str(t.state) for t in state.tasks.values() if t.user == user]  # (ids move with the attacker's tasks)
        tasks += [str(t.state) for t in state.closed_tasks.values() if t.user == user]
        return {
            "samples": [list(x) for x in bloat.samples],
            "honest_held": [n, live, stubs],
            "refusal_codes": sorted({e.code for e in bloat.log if not e.ok}),
            "user_wallet": state.ledger.balance(f"wallet:{user}") if user else 0,
            "user_tasks": sorted(tasks),
            "user_wallet_cor": (state.ledger.balance(f"wallet:{user}") if user else 0) / COR,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        last = [a["samples"][-1] for a in attack if a["samples"]]
        per_seed = len(attack) or 1  # (means per seed)
        held_tasks = sum(s[1] for s in last) / per_seed
        live = sum(s[2] for s in last) / per_seed
        stubs = sum(s[3] for s in last) / per_seed
        spent = sum(s[4] for s in last) / per_seed
        gain = live / stubs - 1 if stubs else 0.0
        unaffected = all(a["user_tasks"] == t["user_tasks"] for a, t in zip(attack, twin, strict=True))
        honest = [t["honest_held"] for t in twin]
        honest_per_task = sum(h[1] for h in honest) / max(1, sum(h[0] for h in honest))
        growth = [s[2] for s in attack[0]["samples"]] if attack else []
        return Verdict(
            gain,
            gain <= 0 and unaffected and not any(a["refusal_codes"] for a in attack),
            {
                "attacker_closed_tasks_held": held_tasks,
                "attacker_live_bytes": live,
                "attacker_stub_bytes": stubs,
                "attacker_live_bytes_per_task": live / max(1, held_tasks),
                "attacker_live_bytes_per_cor_spent": live * COR / max(1, spent),
                "attacker_live_bytes_by_round": growth,
                "honest_live_bytes_per_closed_task_twin": honest_per_task,
                "spent_cor": spent / COR,
                "refusal_codes": sorted({c for a in attack for c in a["refusal_codes"]}),
                "honest_unaffected": unaffected,
            },
            f"{k['rules']}: the attacker's {held_tasks:.0f} closed tasks held {live / 1024:.1f} KiB live at the last round "
            f"({live / max(1, held_tasks):.0f} B a task, their stubs {stubs / max(1, held_tasks):.0f} B; "
            f"{live * COR / max(1, spent) / 1024:.1f} KiB per COR spent); the honest user's closed tasks in the twin "
            f"{honest_per_task:.0f} B a task; honest user {'unaffected' if unaffected else 'AFFECTED'}",
        )


FAMILIES = (ClosedTaskBloat(),)
