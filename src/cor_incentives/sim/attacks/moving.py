"""Moving stake to escape: redelegate or unbond-and-cancel around an offence, and hop stake to the richest node.

redelegate_dodge     a delegator of miner-00 (20 000 COR) redelegates to miner-01 just before the reveal
                     that gives miner-00's offence away; the honest twin stays. The logs are the same up to
                     the move. gain = 1 − the delegator's slash ÷ the twin's: the share of the slash dodged.
cancel_unbond_dodge  the same delegator undelegates just before that reveal and cancels the unbonding
                     ``cancel_after_ticks`` later, back in miner-00 as if it had stayed. gain = 1 − slash ÷ the
                     twin's (a cancel must not turn "unbond for a moment" into a shield).
redelegate_hop       20 000 COR delegated to miner-00 all along, moved at the last tick of every epoch to the
                     node whose stakers earn the most per COR, and back. gain = its staker rewards ÷ its stake ×
                     time share of each node it sat in − 1 (what an honest holder of the same stake for the
                     same time in those nodes earns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.records import Task
from ..runner import RunResult
from ..scenarios import Scenario
from ..script import ActorScript, Step
from ..strategies import Output
from .base import Family, Knob, Knobs, Verdict
from .common import StakeScript, actor, cor_units, final_state, made, node, pct, population_scenario, slash_avoided
from .measure import slashed, staker_rewards
from .slashing import CheatScript

if TYPE_CHECKING:
    from ..runner import World

NODES = ("miner-01", "miner-02", "validator-00", "validator-03")
EPOCH_TICKS = 100


class EscapeScript(CheatScript):
    """miner-00 cheats on its first task; its delegator moves away just before the reveal (``how``: redelegate,
    unbond then cancel, or nothing for the twin)."""

    def __init__(self, offence: str, how: str, amount: int, share_bps: int, to: str, cancel_after: int) -> None:
        super().__init__(node("miner-00"), offence, 1, 0)
        self.delegator, self.amount, self.how, self.share_bps, self.to, self.cancel_after = (
            actor("delegator"),
            amount,
            how,
            share_bps,
            to,
            cancel_after,
        )
        self.cancel_at: int | None = None

    def allocations(self) -> dict[str, int]:
        return {self.delegator: self.amount}

    def actors(self) -> dict[str, str]:
        return {"delegator": self.delegator}

    def setup(self, world: World) -> None:
        super().setup(world)
        self.send(world, self.delegator, "stake.delegate", {"node": self.miner, "amount": str(self.amount)}, "setup:delegate")

    def before_reveal(self, world: World, task: Task, miner: str) -> Output | None:
        if miner != self.miner or not self.cheated or task.id != self.cheated[-1] or any(e.label == "move" for e in self.log):
            return None
        have = world.state.ledger.balance(f"delegated:{self.miner}:{self.delegator}")
        part = have * self.share_bps // 10_000
        if part and self.how == "redelegate":
            self.send(world, self.delegator, "stake.redelegate", {"from": self.miner, "to": self.to, "amount": str(part)}, "move")
        elif part and self.how == "cancel":
            if self.send(world, self.delegator, "stake.undelegate", {"node": self.miner, "amount": str(part)}, "move"):
                self.cancel_at = world.state.tick + self.cancel_after
        return None

    def next_tick(self, world: World) -> int | None:
        return self.cancel_at

    def act(self, world: World) -> None:
        if self.cancel_at is None or world.state.tick < self.cancel_at:
            return
        self.cancel_at = None
        mine = sorted(u.id for u in world.state.unbondings.values() if u.address == self.delegator and u.node == self.miner)
        if mine:
            self.send(world, self.delegator, "stake.cancel_unbond", {"id": mine[-1]}, "cancel")


class _Escape(Family):
    how = ""
    gain_unit = "share of the twin's slash avoided"
    MINER = "miner-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return EscapeScript(
            str(k["offence"]),
            "stay" if twin else self.how,
            cor_units(k["amount_cor"]),
            int(k["share_bps"]),
            node(str(k.get("to", "miner-01"))),
            int(k.get("cancel_after_ticks", 1)),
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, EscapeScript)
        state, d = final_state(script), script.delegator
        return {
            "slashed": sum(slashed(state, e, d) for e in state.epochs),
            "offences": [s.offence for s in state.slashes if s.node == script.miner],
            "moved": bool(script.applied("move")),
            "cancelled": bool(script.applied("cancel")),
            "refused": [e.code for e in script.log if not e.ok],
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got, owed, gain, stopped = slash_avoided(attack, twin)
        return Verdict(
            gain,
            stopped,
            {
                "slashed": got,
                "twin_slashed": owed,
                "runs_moved": sum(r["moved"] for r in attack),
                "runs_cancelled": sum(r["cancelled"] for r in attack),
                "refused": sorted({c for r in attack for c in r["refused"]}),
            },
            f"{k['offence']} at miner-00, its delegator {self.verb} {int(k['share_bps']) / 100:g} % of {k['amount_cor']} COR just before the reveal: "
            f"slashed {got / 10**18:,.2f} COR against the twin's {owed / 10**18:,.2f} COR, {pct(gain)[1:]} dodged",
        )

    verb = ""


class RedelegateDodge(_Escape):
    name = "redelegate_dodge"
    title = "Redelegate away before the slash lands"
    how = "redelegate"
    verb = "redelegated"
    criterion = "a delegator that redelegates between its node's offence and the slash loses as much as one that stays (dodges ≤ 1 %)"
    description = (
        "miner-00 commits to one output and reveals another on its first task; its 20 000 COR delegator redelegates everything to "
        "miner-01 just before the reveal (measured with the move not slashable at its source: it avoided 100 % of its slash)"
    )
    knobs = (
        Knob("offence", "commit_mismatch", "miner-00's offence", choices=("commit_mismatch",)),
        Knob("amount_cor", 20_000, "COR the delegator holds in miner-00", 1, 1_000_000),
        Knob("share_bps", 10_000, "share of the delegation moved", 1, 10_000),
        Knob("to", "miner-01", "the node it moves to", choices=NODES),
        Knob("epochs", 1, "epochs run", 1, 10),
    )


class CancelUnbondDodge(_Escape):
    name = "cancel_unbond_dodge"
    title = "Unbond for a moment, cancel after the slash"
    how = "cancel"
    verb = "unbonded (and cancelled after the slash)"
    criterion = "unbonding before the slash and cancelling after it costs the delegator as much as staying (dodges ≤ 1 %)"
    description = (
        "miner-00 commits to one output and reveals another on its first task; its 20 000 COR delegator undelegates just before the "
        "reveal and cancels the unbonding the next tick, back in miner-00 (measured with a plain cancel: it avoided 100 % of its slash)"
    )
    knobs = (
        Knob("offence", "commit_mismatch", "miner-00's offence", choices=("commit_mismatch",)),
        Knob("amount_cor", 20_000, "COR the delegator holds in miner-00", 1, 1_000_000),
        Knob("share_bps", 10_000, "share of the delegation unbonded", 1, 10_000),
        Knob("cancel_after_ticks", 1, "ticks between the unbond and its cancel", 1, 2 * EPOCH_TICKS),
        Knob("epochs", 1, "epochs run", 1, 10),
    )


class RedelegateHop(Family):
    name = "redelegate_hop"
    title = "Hop stake to the richest node at the close"
    criterion = "stake moved to another node just before the close earns no more than its stake × time share of each node it sat in (+2 %)"
    description = (
        "20 000 COR delegated to miner-00 from the start; one tick before every close it is redelegated to validator-00 (whose stakers earn "
        "more per COR) and moved back after the close; the honest twin keeps it in miner-00"
    )
    gain_unit = "staker rewards ÷ stake×time share of the nodes sat in − 1"
    knobs = (
        Knob("amount_cor", 20_000, "COR moved", 1, 1_000_000),
        Knob("offset_ticks", -1, "when: ticks before the close", -(EPOCH_TICKS - 1), -1),
        Knob("to", "validator-00", "the node hopped to", choices=NODES),
        Knob("epochs", 2, "epochs run", 1, 10),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        who, a, b, amount = actor("hopper"), node("miner-00"), node(str(k["to"])), cor_units(k["amount_cor"])

        def back(state: Any) -> dict[str, Any] | None:
            have = state.ledger.balance(f"delegated:{b}:{who}")
            return {"from": b, "to": a, "amount": str(have)} if have else None

        steps = (
            []
            if twin
            else [
                Step(int(k["offset_ticks"]), who, "stake.redelegate", {"from": a, "to": b, "amount": str(amount)}, label="hop"),
                Step(0, who, "stake.redelegate", back, label="back"),
            ]
        )
        return StakeScript(
            steps,
            watch=[(a, who), (b, who), (a, "*"), (b, "*")],
            wallets={who: amount},
            actor_names={"hopper": who},
            setup_commands=[(who, "stake.delegate", {"node": a, "amount": str(amount)})],
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, clock, who = script.state, script.clock, actor("hopper")
        rows = []
        for e in sorted(state.epochs):
            for n in (node("miner-00"), node(str(k["to"]))):
                every = staker_rewards(state, e, n)
                rows.append(
                    {"node_reward": sum(every.values()), "node_ticks": clock.of(e, n, "*"), "reward": every.get(who, 0), "ticks": clock.of(e, n, who)}
                )
        return {"rows": rows, "hops": len(script.applied("hop")), "refused": [e.code for e in script.log if not e.ok]}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        rows = [r for run in attack for r in run["rows"]]
        got = sum(r["reward"] for r in rows)
        fair = sum(r["node_reward"] * r["ticks"] // r["node_ticks"] for r in rows if r["node_ticks"])
        twin_got = sum(r["reward"] for run in twin for r in run["rows"])
        gain = None if not fair else got / fair - 1
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {
                "reward": got,
                "stake_time_share": fair,
                "twin_reward": twin_got,
                "hops": sum(run["hops"] for run in attack),
                "refused": sorted({c for run in attack for c in run["refused"]}),
            },
            f"{k['amount_cor']} COR hopped to {k['to']} {-int(k['offset_ticks'])} tick(s) before each close: against its stake × time share "
            f"{pct(gain)}; the twin that stayed earned {twin_got / 10**18:,.4f} COR, the hopper {got / 10**18:,.4f} COR",
        )


FAMILIES: tuple[Family, ...] = (RedelegateDodge(), CancelUnbondDodge(), RedelegateHop())
