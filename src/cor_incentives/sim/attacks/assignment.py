"""Attacks on who is assigned: grinding the draw, and throwing draws away.

    assignment_grinding  miner-00 returns garbage and reveals last, so its reveal is the event that
                         starts validation. Validators validator-00.. collude for it: they report it
                         perfect and the other miners fair. Before that reveal, miner-00 sends free
                         1-unit self-transfers. Each one moves the log head, until the validators the
                         core would draw give its coalition half of the reporting stake. On the first
                         rules the draw is seeded by the log head, so this works. With a beacon, the
                         validators are drawn from a value revealed after the reveal, and there is
                         nothing to grind.
                         gain = the attacker's payout (miner-00 and the colluding validators: fees +
                         network − slashes) ÷ the same nodes' payout in the honest twin − 1.
    cancel_lottery       an operator runs some miners and is also a user. It submits its tasks in
                         batches, keeps the ones whose miners are all its own, and cancels the rest
                         (or, ``method = abstain``, its miners skip the tasks they share, so those fail
                         and are refunded). On the first rules, assignment is visible at once and
                         cancelling is free. With a beacon, the miners are drawn at the next tick,
                         and a task whose miners are drawn can no longer be cancelled.
                         gain = its miners' payout without the fees of its own tasks (its own money
                         coming back), less their costs, ÷ the same in the honest twin − 1 (the twin
                         submits the same tasks and keeps them all).

Each family's ``beacon`` attribute says which rules its worlds run (``True``: the current rules). The
"before" numbers in the notes come from the same family with ``beacon=False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.errors import EngineError
from ...core.records import Task
from ...core.selection import sample_nodes
from ...core.streams import TASK_FEE_PREFIX, Stream
from ...core.units import COR
from ..runner import MODEL_ID, RunResult
from ..scenarios import ROUTER, NodeGroup, Scenario, validators
from ..script import ActorScript, Override
from ..strategies import MinerContext, Output, sha
from .base import Family, Knob, Knobs, Verdict
from .common import actor, made, node, pct

if TYPE_CHECKING:
    from ..runner import World

GRINDER = "miner-00"


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _payout(result: RunResult, names: list[str]) -> dict[str, int]:
    """Σ over epochs of the nodes' fees, network rewards, other credits, slashes and costs, and assignments."""
    out = {"payout": 0, "costs": 0, "assigned": 0, "in_consensus": 0, "slashes": 0, "fees": 0, "network": 0}
    for epoch in result.epochs:
        for n in names:
            st = epoch[n]
            out["payout"] += st.fees + st.network + st.other - st.slashes
            out["costs"] += st.costs
            out["assigned"] += st.assigned
            out["in_consensus"] += st.in_consensus
            out["slashes"] += st.slashes
            out["fees"] += st.fees
            out["network"] += st.network
    return out


# --- grinding the validators' draw ----------------------------------------------------------------------


class GrindScript(ActorScript):
    """Before miner-00's reveal that starts validation: self-transfers until the drawn validators suit its coalition."""

    def __init__(self, max_tries: int, coalition: list[str]) -> None:
        super().__init__()
        self.max_tries = max_tries
        self.coalition = set(coalition)
        self.grinder = node(GRINDER)
        self.reveals: list[dict[str, Any]] = []

    def _captured(self, world: World, validators: list[str]) -> bool:
        stakes = {v: world.state.nodes[v].stake_total for v in validators}
        mine = sum(s for v, s in stakes.items() if v in self.coalition)
        return bool(validators) and 2 * mine >= sum(stakes.values())

    def before_reveal(self, world: World, task: Task, miner: str) -> Output | None:
        if miner != self.grinder or not self.coalition:
            return None
        if any(a.commit and a.reveal_tick is None and a.miner != miner for a in task.miners):
            return None  # not the last reveal: validation does not start with it
        tries, predictable = 0, world.state.beacon is None
        if predictable:  # the first rules: the draw is seeded by the log head as it stands before the reveal
            while tries < self.max_tries:
                drawn = sample_nodes(world.state, "validator", task.validators_wanted, f"task:{task.id}:validators")
                if self._captured(world, drawn):
                    break
                tries += 1
                self.send(world, miner, "transfer", {"to": miner, "amount": "1"}, "grind")
        self.reveals.append({"task": task.id, "tries": tries, "predictable": predictable})
        return None


class AssignmentGrinding(Family):
    name = "assignment_grinding"
    title = "Grinding the validators' draw"
    criterion = "the grinding miner and its colluding validators earn no more than the same nodes in the honest twin (gain ≤ 0)"
    description = (
        "miner-00 returns garbage and reveals last; validator-00..02 (30 % of validator stake) report it perfect and the other "
        "miners fair; before its reveal it sends free 1-unit self-transfers until the validators the core would draw give the "
        "coalition half the reporting stake (measured on the first rules: 4.8 tries per task, in consensus on 333 of 333 tasks, "
        "+23 % per task over honest miners)"
    )
    gain_unit = "the attacker's payout (miner-00 and the colluding validators) ÷ the same nodes' payout in the honest twin − 1"
    knobs = (
        Knob("coalition", 3, "colluding validators (validator-00 onwards; 10 % of validator stake each)", lo=0, hi=5),
        Knob("max_tries", 32, "self-transfers miner-00 may send per task to re-roll the draw", lo=0, hi=256),
        Knob("others", "fair", "what the colluding validators report for the other miners", choices=("fair", "harsh")),
        Knob("epochs", 6, "epochs per run", lo=1, hi=30),
    )
    beacon = True

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        n = int(k["coalition"])
        options = {"harsh_distance": 0.03, "harsh_quality": 0.8} if k["others"] == "fair" else {}
        grinder = NodeGroup("miner", "honest" if twin else "garbage_last", 1, ("2000",), coalition="" if twin else "c")
        miners_ = (grinder, NodeGroup("miner", "honest", 9, ("2000",)))
        vals = validators() if twin or n == 0 else validators("colluding", n, "c", options)
        return Scenario(
            name=f"{self.name}{'~honest' if twin else ''}",
            nodes=miners_ + vals + ROUTER,
            epochs=int(k["epochs"]),
            user_tasks_per_epoch=10,
            network_tasks_per_epoch=10,
            seeds=(1,),
            beacon=self.beacon,
        )

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        coalition = [] if twin else [node(f"validator-{i:02d}") for i in range(int(k["coalition"]))]
        return GrindScript(int(k["max_tries"]), coalition)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, GrindScript)
        attacker = [GRINDER] + [f"validator-{i:02d}" for i in range(int(k["coalition"]))]
        return {
            "attacker": _payout(result, attacker),
            "miner": _payout(result, [GRINDER]),
            "honest_miners": _payout(result, [f"miner-{i:02d}" for i in range(1, 10)]),
            "last_reveals": len(script.reveals),
            "tries": sum(t["tries"] for t in script.reveals),
            "predictable": sum(t["predictable"] for t in script.reveals),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(runs: list[dict[str, Any]], who: str, field: str) -> int:
            return sum(r[who][field] for r in runs)

        got, base = total(attack, "attacker", "payout"), total(twin, "attacker", "payout")
        gain = None if not base else got / base - 1
        per_task = _ratio(total(attack, "miner", "payout"), total(attack, "miner", "assigned"))
        honest_per_task = _ratio(total(attack, "honest_miners", "payout"), total(attack, "honest_miners", "assigned"))
        twin_per_task = _ratio(total(twin, "miner", "payout"), total(twin, "miner", "assigned"))
        in_consensus = total(attack, "miner", "in_consensus")
        assigned = total(attack, "miner", "assigned")
        reveals = sum(r["last_reveals"] for r in attack)
        tries = sum(r["tries"] for r in attack)
        per_task_vs_honest = None if per_task is None or not honest_per_task else per_task / honest_per_task - 1
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            {
                "attacker_payout": got,
                "twin_payout": base,
                "miner_in_consensus": in_consensus,
                "miner_assigned": assigned,
                "miner_payout_per_task": per_task,
                "honest_miner_payout_per_task": honest_per_task,
                "miner_per_task_vs_honest_miners": per_task_vs_honest,
                "twin_miner_payout_per_task": twin_per_task,
                "grinding_reveals": reveals,
                "tries_per_reveal": _ratio(tries, reveals),
                "draws_predictable": sum(r["predictable"] for r in attack),
            },
            f"garbage miner in consensus on {in_consensus} of {assigned} assignments, {pct(per_task_vs_honest)} per task against honest "
            f"miners, {tries} self-transfers over {reveals} last reveals; attacker payout against the honest twin: {pct(gain)}",
        )


# --- the cancel lottery -------------------------------------------------------------------------------


class LotteryScript(ActorScript):
    """An operator's user that wants its tasks served by its own miners only.

    ``cancel``: submit, look at the miners, cancel the task unless they are all its own, submit again.
    It probes first (one copy per task it wants); if a cancel is refused it stops trying, since every
    extra copy would run and be paid. ``abstain``: its miners skip the precommit of its tasks they share
    with others whenever that leaves too few miners, so the task fails and the escrow returns; it
    submits the failed ones again in the next round."""

    def __init__(self, own: list[str], k: Knobs, twin: bool) -> None:
        super().__init__()
        self.user = actor("lottery-user")
        self.own = {node(n) for n in own}
        self.tasks_per_epoch, self.batch, self.attempts = int(k["tasks_per_epoch"]), int(k["batch"]), int(k["attempts"])
        self.redundancy, self.method, self.twin = int(k["redundancy"]), str(k["method"]), twin
        self.session = 0
        self.cancel_ok: bool | None = None  # learnt from the first cancel
        self.mine: set[int] = set()  # every task it submitted
        self.owed = 0  # abstain: tasks that failed and are submitted again
        self.submitted = self.cancelled = self.refused = self.kept_own = self.kept = self.abstained = 0
        self.own_task_fees = 0  # what its miners earned as fees on its own tasks (its own money coming back)
        self.spent = 0  # task payments

    def allocations(self) -> dict[str, int]:
        return {self.user: 20_000 * COR}

    def setup(self, world: World) -> None:
        world.chain.submit(self.user, "session.open", {"deposit": str(10_000 * COR), "redundancy": self.redundancy})
        self.session = max(world.state.sessions)

    def _submit(self, world: World, epoch: int) -> int | None:
        tid = world.state.next_id
        body = {"session": self.session, "model": MODEL_ID, "prompt_hash": sha(f"lottery|{epoch}|{tid}"), "prompt_bytes": 200}
        try:
            world.chain.submit(self.user, "task.submit", {**body, "input_tokens": 50, "max_output_tokens": 128})
        except EngineError:
            return None
        self.submitted += 1
        self.mine.add(tid)
        return tid

    def _all_own(self, task: Task) -> bool:
        return bool(task.miners) and all(a.miner in self.own for a in task.miners)

    def issue(self, world: World, epoch: int, round_: int) -> list[int]:
        wanted = len(range(round_, self.tasks_per_epoch, world.s.rounds_per_epoch)) + self.owed
        self.owed = 0
        kept: list[int] = []
        lottery = not self.twin and self.method == "cancel"
        for attempt in range(self.attempts if lottery else 1):
            need = wanted - len(kept)
            if need <= 0:
                break
            copies = need * (self.batch if lottery and self.cancel_ok else 1)
            batch = [t for t in (self._submit(world, epoch) for _ in range(copies)) if t is not None]
            if world.state.beacon is not None:
                world.chain.oracle("tick", {"ticks": 1})  # the draw
            last = attempt == self.attempts - 1
            for tid in sorted(batch, key=lambda t: not self._all_own(world.state.tasks[t])):  # its own first
                own = self._all_own(world.state.tasks[tid])
                wants = len(kept) < wanted and (own or last or not lottery)
                if not wants and self.cancel_ok is not False:
                    ok = self.send(world, self.user, "task.cancel", {"task": tid}, "cancel")
                    self.cancel_ok = ok if self.cancel_ok is None else self.cancel_ok
                    if ok:
                        self.cancelled += 1
                        continue
                    self.refused += 1
                kept.append(tid)  # wanted, or a cancel refused: it runs either way
                self.kept_own += own
        for tid in kept:
            world.adopt(tid, f"{epoch}:lottery:{tid}", "user", f"lottery|{tid}", 128, 50)
        self.kept += len(kept)
        return kept

    def plan(self, world: World, ctx: MinerContext) -> Override | None:
        if self.twin or self.method != "abstain" or ctx.miner not in self.own or ctx.task.task_id not in self.mine:
            return None
        task = world.state.tasks[ctx.task.task_id]
        others = sum(1 for a in task.miners if a.miner not in self.own)
        if others and others < world.state.params.min_consensus:  # without its miners the task cannot settle
            self.abstained += 1
            if self.abstained % len([a for a in task.miners if a.miner in self.own]) == 0:
                self.owed += 1
            return Override(None)
        return None

    def after_close(self, world: World, epoch: int) -> None:
        for item in world.state.epochs[epoch].items:
            if item.address == self.user and item.stream == Stream.TASK_PAYMENT:
                self.spent -= item.amount
            if item.address in self.own and item.stream.startswith(TASK_FEE_PREFIX) and item.detail.get("task") in self.mine:
                self.own_task_fees += item.amount


class CancelLottery(Family):
    name = "cancel_lottery"
    title = "Throwing draws away until one's own miners serve one's tasks"
    criterion = (
        "an operator whose user cancels (or whose miners sabotage) every task not served only by its own miners earns no more "
        "than its honest twin (+2 %), not counting its own fees coming back to it"
    )
    description = (
        "an operator runs miner-00 and miner-01 (2 of 10 miners) and is a user with a session of redundancy 2; for each of its 5 "
        "tasks per epoch it submits 16 copies, keeps one whose two miners are both its own and cancels the others, 3 times per round "
        "(measured on the first rules: both miners its own after 74 tries, at 0 COR)"
    )
    gain_unit = "(its miners' payout − fees from its own tasks − costs) ÷ the honest twin's − 1"
    knobs = (
        Knob("method", "cancel", "throw draws away by cancelling, or by its miners abstaining", choices=("cancel", "abstain")),
        Knob("attacker_miners", 2, "miners the operator runs (miner-00 onwards, 2 000 COR each, of 10)", lo=1, hi=6),
        Knob("redundancy", 2, "its session's redundancy (miners per task)", lo=2, hi=4),
        Knob("tasks_per_epoch", 5, "tasks it wants served per epoch", lo=1, hi=20),
        Knob("batch", 16, "copies submitted per wanted task in one attempt", lo=1, hi=64),
        Knob("attempts", 3, "attempts per round (with a beacon each costs a tick)", lo=1, hi=4),
        Knob("epochs", 5, "epochs per run", lo=1, hi=30),
    )
    beacon = True

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        m = int(k["attacker_miners"])
        miners_ = (NodeGroup("miner", "honest", m, ("2000",), operator="op"), NodeGroup("miner", "honest", 10 - m, ("2000",)))
        return Scenario(
            name=f"{self.name}{'~honest' if twin else ''}",
            nodes=miners_ + validators() + ROUTER,
            epochs=int(k["epochs"]),
            user_tasks_per_epoch=0,
            network_tasks_per_epoch=10,
            seeds=(1,),
            beacon=self.beacon,
        )

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return LotteryScript([f"miner-{i:02d}" for i in range(int(k["attacker_miners"]))], k, twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, LotteryScript)
        miners = _payout(result, [f"miner-{i:02d}" for i in range(int(k["attacker_miners"]))])
        return {
            "net": miners["payout"] - script.own_task_fees - miners["costs"],
            "network": miners["network"],
            "own_task_fees": script.own_task_fees,
            "spent": script.spent,
            "submitted": script.submitted,
            "cancelled": script.cancelled,
            "refused": script.refused,
            "abstained": script.abstained,
            "kept": script.kept,
            "kept_own": script.kept_own,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(runs: list[dict[str, Any]], field: str) -> int:
            return sum(r[field] for r in runs)

        net, base = total(attack, "net"), total(twin, "net")
        gain = None if not base else net / base - 1
        own_share, twin_share = _ratio(total(attack, "kept_own"), total(attack, "kept")), _ratio(total(twin, "kept_own"), total(twin, "kept"))
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {
                "net": net,
                "twin_net": base,
                "network": total(attack, "network"),
                "twin_network": total(twin, "network"),
                "own_task_fees": total(attack, "own_task_fees"),
                "submitted": total(attack, "submitted"),
                "cancelled": total(attack, "cancelled"),
                "cancels_refused": total(attack, "refused"),
                "abstentions": total(attack, "abstained"),
                "kept_served_by_own_miners": own_share,
                "twin_served_by_own_miners": twin_share,
            },
            f"{pct(own_share)[1:]} of its kept tasks served only by its own miners (twin {pct(twin_share)[1:]}); "
            f"{total(attack, 'cancelled')} cancelled, {total(attack, 'refused')} cancels refused, {total(attack, 'abstained')} abstentions; "
            f"net against the honest twin: {pct(gain)}",
        )


FAMILIES = (AssignmentGrinding(), CancelLottery())
