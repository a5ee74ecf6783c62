"""Slash dodges: unbond before the slash lands, split a node under the offence thresholds, re-register after jail.

slash_dodge_unbond     miner-00 cheats on its first task(s) and unbonds its self-bond just before the
                       reveal that gives it away; the honest twin (an offender that stays bonded) does the
                       same without unbonding. The two logs are the same up to the unbond.
                       gain = 1 − slashed ÷ the twin's slashed: the share of the slash dodged.
threshold_split        one operator's lazy stake in ``split`` miners instead of one; the twin is the same
                       stake in one miner. gain = 1 − (slashed per assignment, split) ÷ (the same, single):
                       how much cheaper each offence gets by splitting. (The payouts are reported too: on
                       the old rule a split node also dropped out of selection after its first slash, below
                       the minimum bond, while the single node kept working and paying.)
reregister_after_jail  miner-00 is jailed for a commit mismatch; instead of waiting, its operator registers
                       a fresh key with spare capital and abandons the old one, at once or (``register`` =
                       ``after_jail``) once the jail has ended. The twin waits out the jail.
                       gain = fresh key's reputation ÷ the jailed key's − 1 (selection weight and the
                       reward multiplier both scale with reputation). ``failures`` > 0: miner-00 first
                       answers that many tasks with garbage, so the jailed key's record is bad; below
                       reputation_newcomer_floor_ppb (rule 13) the fresh key starts at the floor, the
                       rule's measured price (10 failures: jailed 0.39, fresh 0.40, +2.6 %; 20: 0.31, +30 %).
newcomer_griefing      the incumbents keep a sacrificial miner (sac-00, 20 000 COR, reveals garbage last) failing
                       and slashed, so its reputation falls to ~0.06 and caps every new miner's start
                       (staking.starting_reputation); ``newcomers`` honest miners register at ``join_epoch``.
                       The twin has no sacrificial miner. ``rules`` "before_floor" runs rule 12 (the cap
                       unfloored). gain = 1 − the newcomers' work pay ÷ the twin's (their loss).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.records import Task, TaskState
from ...core.rules import RULES_NEWCOMER_FLOOR
from ...core.state import State
from ..runner import RunResult
from ..scenarios import NodeGroup, Scenario
from ..script import ActorScript, Override
from ..strategies import MinerContext, MinerPlan, Output, garbage_output, honest_output, lazy_output, sha
from .base import Family, Knob, Knobs, Verdict
from .common import POPULATION, Rules, final_state, made, node, pct, population_scenario, slash_avoided
from .measure import slashed

if TYPE_CHECKING:
    from ..runner import World


def _cheaper(gain: float | None) -> str:
    """How much cheaper (gain > 0) or dearer (gain < 0) each offence got, in words (a negative gain is no saving)."""
    if gain is None:
        return "n/a"
    return f"{abs(gain) * 100:.1f} % " + ("cheaper" if gain > 0 else "dearer" if gain < 0 else "the same")


def _dodged(gain: float | None) -> str:
    """The share of the twin's slash dodged (gain > 0), or paid on top of it (gain < 0)."""
    if gain is None:
        return "n/a dodged"
    return f"{gain * 100:.1f} % dodged" if gain >= 0 else f"{-gain * 100:.1f} % more slashed than the twin"


def cheat_plan(offence: str, ctx: MinerContext) -> MinerPlan:
    """commit_mismatch: commit to the honest answer, reveal another; poi_divergence: a lazy answer (committed and revealed)."""
    if offence == "poi_divergence":
        out = lazy_output(ctx.env, ctx.seed, ctx.task, ctx.miner)
        return MinerPlan(out, out, 0)
    out = honest_output(ctx.env, ctx.seed, ctx.task, ctx.miner)
    return MinerPlan(out, Output(sha(f"swapped|{ctx.task.key}|{ctx.miner}"), "honest", out.quality, out.tokens), ctx.env.inference_cost_units)


class CheatScript(ActorScript):
    """One miner cheats on its first ``offences`` tasks; ``unbond_bps`` > 0 unbonds that share of its self-bond before the last cheat's reveal."""

    def __init__(self, miner: str, offence: str, offences: int, unbond_bps: int) -> None:
        super().__init__()
        self.miner, self.offence, self.offences, self.unbond_bps = miner, offence, offences, unbond_bps
        self.cheated: list[int] = []
        self.world: World | None = None

    def setup(self, world: World) -> None:
        self.world = world

    def plan(self, world: World, ctx: MinerContext) -> Override | None:
        if ctx.miner != self.miner or len(self.cheated) >= self.offences:
            return None
        self.cheated.append(ctx.task.task_id)
        return Override(cheat_plan(self.offence, ctx))

    def before_reveal(self, world: World, task: Task, miner: str) -> Output | None:
        if miner == self.miner and self.unbond_bps and self.cheated and task.id == self.cheated[-1] and len(self.cheated) == self.offences:
            have = world.state.ledger.balance(f"bonded:{miner}")
            amount = have * self.unbond_bps // 10_000
            if amount and not self.applied("unbond"):
                self.send(world, miner, "stake.unbond", {"amount": str(amount)}, "unbond")
        return None


class SlashDodgeUnbond(Family):
    name = "slash_dodge_unbond"
    title = "Unbond before the slash lands"
    criterion = "a cheater that unbonds between its offence and the slash loses as much as one that stays bonded (dodges ≤ 1 %)"
    description = (
        "miner-00 (self-bond 2 000 COR) commits to one output and reveals another on its first task, unbonding its whole self-bond "
        "just before the reveal (measured on the old rule: it avoided 100 % of the commit_mismatch slash)"
    )
    gain_unit = "share of the twin's slash avoided"
    knobs = (
        Knob("offence", "commit_mismatch", "the offence committed", choices=("commit_mismatch", "poi_divergence")),
        Knob("offences", 1, "tasks cheated on before the unbond (a commit mismatch jails at the first)", 1, 10),
        Knob("unbond_bps", 10_000, "share of the self-bond unbonded before the last cheat's reveal", 0, 10_000),
        Knob("epochs", 1, "epochs run", 1, 10),
    )
    MINER = "miner-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return CheatScript(node(self.MINER), str(k["offence"]), int(k["offences"]), 0 if twin else int(k["unbond_bps"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, CheatScript)
        state, m = final_state(script), node(self.MINER)
        return {
            "slashed": sum(slashed(state, e, m) for e in state.epochs),
            "offences": [s.offence for s in state.slashes if s.node == m],
            "cheated": len(script.cheated),
            "unbonded": bool(script.applied("unbond")),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got, owed, gain, stopped = slash_avoided(attack, twin)
        return Verdict(
            gain,
            stopped,
            {
                "slashed": got,
                "twin_slashed": owed,
                "runs_unbonded": sum(r["unbonded"] for r in attack),
                "slash_records": sum(len(r["offences"]) for r in attack),
                "twin_slash_records": sum(len(r["offences"]) for r in twin),
            },
            f"{k['offence']} × {k['offences']} then unbond {int(k['unbond_bps']) / 100:g} %: slashed {got / 10**18:,.2f} COR against the "
            f"twin's {owed / 10**18:,.2f} COR, {_dodged(gain)}",
        )


class Watch(ActorScript):
    """No actions: keeps the world so that ``measure`` can read its final state."""

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None

    def setup(self, world: World) -> None:
        self.world = world


OFFENCE_OF = {"lazy": "poi_divergence", "garbage": "poi_divergence", "offline": "missed_deadline"}


def offences_found(state: State, node_id: str, offence: str) -> int:
    """How many ``offence``s by ``node_id`` its tasks' records show (what the core finds when it applies the task's events)."""
    p = state.params
    n = 0
    for task in state.tasks.values():
        a = task.assignment(node_id)
        if a is None or task.state not in (TaskState.SETTLED, TaskState.FAILED):
            continue
        if offence == "missed_deadline":
            n += a.commit is None or a.reveal_tick is None
        elif offence == "poi_divergence" and a.reveal_tick is not None and not a.mismatch and a.distance_ppb is not None:
            if task.state == TaskState.SETTLED:
                n += not a.in_consensus
            else:
                n += task.failure == "no_consensus" and (a.quality_ppb or 0) < p.consensus_min_quality_ppb
    return n


class ThresholdSplit(Family):
    name = "threshold_split"
    title = "Split a node under the offence thresholds"
    criterion = "splitting a cheating operator's stake over many nodes makes no offence cheaper: slashed per offence ≥ 95 % of one node's"
    description = (
        "one lazy operator's 10 000 COR in ten miners of 1 000 COR instead of one (measured on the old rule: −3 264 COR became +46 COR, "
        "because offence thresholds were counted per node)"
    )
    gain_unit = "1 − slashed per offence split ÷ single"
    knobs = (
        Knob("split", 10, "miners the stake is split over", 2, 20),
        Knob("stake_cor", 10_000, "the operator's stake (COR; each split miner needs at least the 1 000 COR minimum)", 1_000, 200_000),
        Knob("strategy", "lazy", "what the operator's miners do", choices=tuple(OFFENCE_OF)),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        split = 1 if twin else int(k["split"])
        each = int(k["stake_cor"]) // split
        group = NodeGroup("miner", str(k["strategy"]), split, (str(each),), prefix="op", operator="op")
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=POPULATION + (group,), tasks=20)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, Watch)
        state, offence = final_state(script), OFFENCE_OF[str(k["strategy"])]
        ops = [n for n in result.nodes.values() if n.operator == "op"]
        out = {"earnings": 0, "slashes": 0, "assigned": 0, "found": 0, "slashed_for_it": 0, "slash_records": 0}
        for n in ops:
            out["found"] += offences_found(state, n.address, offence)
            for sl in state.slashes:
                if sl.node == n.address and sl.offence == offence:
                    out["slashed_for_it"] += sl.total
                    out["slash_records"] += 1
            for epoch in result.epochs:
                out["earnings"] += epoch[n.name].earnings
                out["slashes"] += epoch[n.name].slashes
                out["assigned"] += epoch[n.name].assigned
        return out

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(rs: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rs)

        split, single = total(attack, "earnings") - total(attack, "slashes"), total(twin, "earnings") - total(twin, "slashes")
        per = total(attack, "slashed_for_it") / total(attack, "found") if total(attack, "found") else None
        twin_per = total(twin, "slashed_for_it") / total(twin, "found") if total(twin, "found") else None
        gain = None if per is None or not twin_per else 1 - per / twin_per
        n = max(1, len(attack))
        offence = OFFENCE_OF[str(k["strategy"])]
        return Verdict(
            gain,
            gain is not None and gain <= 0.05,
            {
                "offence": offence,
                "slashed_per_offence_split": per,
                "slashed_per_offence_single": twin_per,
                "offences_found_split": total(attack, "found"),
                "offences_found_single": total(twin, "found"),
                "slash_records_split": total(attack, "slash_records"),
                "slash_records_single": total(twin, "slash_records"),
                "assignments_split": total(attack, "assigned"),
                "assignments_single": total(twin, "assigned"),
                "payout_split_per_seed": split // n,
                "payout_single_per_seed": single // n,
            },
            f"{k['strategy']} operator: each {offence} cost {(per or 0) / 10**18:,.3f} COR split over {k['split']} miners against "
            f"{(twin_per or 0) / 10**18:,.3f} COR in one ({_cheaper(gain)}); payout per seed {split // n / 10**18:,.2f} against "
            f"{single // n / 10**18:,.2f} COR",
        )


class ReregisterScript(CheatScript):
    """miner-00 mismatches once and is jailed; the attack registers the late node ``fresh`` and unbonds the old key."""

    def __init__(self, miner: str, fresh: str | None, after_jail: bool = False, failures: int = 0) -> None:
        super().__init__(miner, "commit_mismatch", 1, 0)
        self.fresh = fresh
        self.after_jail = after_jail  # register once the jail has ended (the old key is never unjailed)
        self.failures = failures  # tasks answered with garbage before the mismatch (a key with a bad record)
        self.failed: list[int] = []
        self.jailed_rep: int | None = None
        self.fresh_rep: int | None = None
        self.register_tick: int | None = None

    def plan(self, world: World, ctx: MinerContext) -> Override | None:
        if ctx.miner == self.miner and len(self.failed) < self.failures:
            self.failed.append(ctx.task.task_id)
            out = garbage_output(ctx.env, ctx.seed, ctx.task, ctx.miner)
            return Override(MinerPlan(out, out, 0))
        return super().plan(world, ctx)

    def keeps_jailed(self, address: str) -> bool:
        return self.fresh is not None and address == self.miner

    def next_tick(self, world: World) -> int | None:
        node = world.state.nodes[self.miner]
        if self.jailed_rep is not None or not node.jailed:
            return None
        return node.jailed_until_tick if self.after_jail else world.state.tick

    def act(self, world: World) -> None:
        state = world.state
        self.jailed_rep = state.nodes[self.miner].reputation_ppb
        self.register_tick = state.tick
        if self.fresh is None:
            return
        name = world.name_of[self.fresh]
        if self.send(world, self.fresh, "node.register", world.register_body(name), "register_fresh"):
            self.fresh_rep = state.nodes[self.fresh].reputation_ppb
        have = state.ledger.balance(f"bonded:{self.miner}")
        if have:
            self.send(world, self.miner, "stake.unbond", {"amount": str(have)}, "abandon")


class ReregisterAfterJail(Family):
    name = "reregister_after_jail"
    title = "Re-register a fresh key after jail"
    criterion = "a fresh key starts with no better reputation than the jailed key it replaces (gain ≤ 0)"
    description = (
        "miner-00 is jailed for a commit mismatch; its operator registers a fresh key with 2 000 COR of spare capital and abandons the "
        "jailed one (measured on the old rule: the fresh key was selectable at once, with reputation 0.50 against the jailed 0.42)"
    )
    gain_unit = "fresh key's reputation ÷ the jailed key's − 1"
    knobs = (
        Knob("epochs", 4, "epochs run", 1, 20),
        Knob(
            "register",
            "at_once",
            "when the fresh key registers: as soon as the old key is jailed, or once its jail has ended",
            choices=("at_once", "after_jail"),
        ),
        Knob("failures", 0, "tasks miner-00 answers with garbage before the mismatch (its reputation falls first)", 0, 500),
    )
    MINER, FRESH = "miner-00", "fresh-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        fresh = NodeGroup("miner", "honest", 1, ("2000",), prefix="fresh", options={"late": True})
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=POPULATION + (fresh,))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ReregisterScript(node(self.MINER), None if twin else node(self.FRESH), k["register"] == "after_jail", int(k["failures"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, ReregisterScript)
        income = 0
        for epoch in result.epochs:
            for name in (self.MINER, self.FRESH):
                income += epoch[name].earnings - epoch[name].slashes
        return {"jailed_rep": script.jailed_rep, "fresh_rep": script.fresh_rep, "income": income}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        pairs = [(r["fresh_rep"], r["jailed_rep"]) for r in attack if r["fresh_rep"] is not None and r["jailed_rep"]]
        gain = None if not pairs else sum(f for f, _ in pairs) / sum(j for _, j in pairs) - 1
        fresh = None if not pairs else sum(f for f, _ in pairs) / len(pairs) / 1e9
        jailed = None if not pairs else sum(j for _, j in pairs) / len(pairs) / 1e9
        inc, tinc = sum(r["income"] for r in attack), sum(r["income"] for r in twin)
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            {
                "fresh_reputation": fresh,
                "jailed_reputation": jailed,
                "registered": len(pairs),
                "income_all_keys": inc,
                "twin_income": tinc,
                "income_change_vs_twin": None if not tinc else inc / tinc - 1,
            },
            f"fresh key's reputation {fresh if fresh is None else f'{fresh:.3f}'} against the jailed key's "
            f"{jailed if jailed is None else f'{jailed:.3f}'} ({pct(gain)}); income over the run {pct(None if not tinc else inc / tinc - 1)} "
            "against waiting out the jail (the fresh key works with 2 000 COR the twin leaves idle)",
        )


class JoinScript(ActorScript):
    """Registers the late nodes ``names`` at the first tick of epoch ``join_epoch``; records where they and ``watch`` stand then."""

    def __init__(self, names: tuple[str, ...], join_epoch: int, watch: str | None) -> None:
        super().__init__()
        self.names, self.join_epoch, self.watch = names, join_epoch, watch
        self.starts: dict[str, int] = {}
        self.watched_rep: int | None = None
        self.watched_slashed_recently: bool | None = None
        self.joined = False

    def next_tick(self, world: World) -> int | None:
        state = world.state
        if self.joined or state.epoch < self.join_epoch:
            return None
        return state.tick

    def act(self, world: World) -> None:
        state = world.state
        self.joined = True
        if self.watch is not None and self.watch in state.nodes:
            self.watched_rep = state.nodes[self.watch].reputation_ppb
            since = state.epoch - state.params.reputation_memory_epochs
            self.watched_slashed_recently = any(s.node == self.watch and s.epoch >= since for s in state.slashes)
        for name in self.names:
            a = world.nodes[name].address
            if self.send(world, a, "node.register", world.register_body(name), "join"):
                self.starts[name] = state.nodes[a].reputation_ppb


RULES = Rules(RULES_NEWCOMER_FLOOR, "floor", "before_floor")


class NewcomerGriefing(Family):
    name = "newcomer_griefing"
    title = "Hold newcomers down with a failing, slashed miner"
    criterion = (
        "no other node's record costs an honest newcomer much: the newcomers' draws and work pay (fees + emission) each stay "
        "within 20 % of the twin's, where no node caps their start"
    )
    description = (
        "the incumbents keep a sacrificial miner (20 000 COR, garbage revealed last) failing and slashed, so its reputation falls "
        "to ~0.06 and caps every new miner's starting reputation; 3 honest miners of 2 000 COR register at epoch 3 "
        "(measured on rule 12: they started at its 0.06, drew 79 % and were paid 86 % less than with no such miner)"
    )
    gain_unit = "1 − the newcomers' work pay ÷ the twin's (the share of their pay the griefing takes)"
    knobs = (
        Knob("newcomers", 3, "honest miners that register at join_epoch", 1, 10),
        Knob("join_epoch", 3, "the epoch the newcomers register in (the sacrificial miner fails from epoch 0)", 1, 20),
        Knob("sac_stake_cor", 20_000, "the sacrificial miner's self-bond (COR): drawn often enough to fall fast", 1_000, 200_000),
        RULES.knob(doc="the rules: the floored cap (13), or the rules before it (12)"),
        Knob("epochs", 10, "epochs run", 2, 30),
    )
    SAC = "sac-00"
    LOSS_BOUND = 0.2

    def _new(self, k: Knobs) -> tuple[str, ...]:
        return tuple(f"new-{i:02d}" for i in range(int(k["newcomers"])))

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        new = NodeGroup("miner", "honest", int(k["newcomers"]), ("2000",), prefix="new", options={"late": True})
        sac = NodeGroup("miner", "garbage_last", 1, (str(k["sac_stake_cor"]),), prefix="sac")
        nodes = POPULATION + ((new,) if twin else (sac, new))
        params = RULES.params(k)
        epochs = max(int(k["epochs"]), int(k["join_epoch"]) + 1)
        return population_scenario(self.world_name(twin), epochs, nodes=nodes, params=params, tasks=20)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return JoinScript(self._new(k), int(k["join_epoch"]), None if twin else node(self.SAC))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, JoinScript)
        new, join = self._new(k), int(k["join_epoch"])
        after = result.epochs[join:]
        out: dict[str, Any] = {
            "starts": dict(script.starts),
            "assigned": sum(e[n].assigned + e[n].planted for e in after for n in new),  # every seat drawn, planted ones too
            "work_pay": sum(e[n].work_earnings for e in after for n in new),
            "network_pay": sum(e[n].network for e in after for n in new),
            "end_reputation": [result.epochs[-1][n].reputation_ppb for n in new],
            "incumbent_work_pay": sum(e[f"miner-{i:02d}"].work_earnings for e in after for i in range(10)),
        }
        if not twin:
            out["sac_reputation"] = script.watched_rep
            out["sac_slashed_recently"] = script.watched_slashed_recently
            out["sac_slashed"] = sum(e[self.SAC].slashes for e in result.epochs)
            out["sac_slash_count"] = sum(e[self.SAC].slash_count for e in result.epochs)
        return out

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(rs: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rs)

        n = max(1, len(attack))
        draws = total(attack, "assigned") / total(twin, "assigned") if total(twin, "assigned") else None
        pay = total(attack, "work_pay") / total(twin, "work_pay") if total(twin, "work_pay") else None
        gain = None if pay is None else 1 - pay
        starts = [s for r in attack for s in r["starts"].values()]
        twin_starts = [s for r in twin for s in r["starts"].values()]
        start = sum(starts) / len(starts) / 1e9 if starts else None
        twin_start = sum(twin_starts) / len(twin_starts) / 1e9 if twin_starts else None
        sac = [r["sac_reputation"] for r in attack if r.get("sac_reputation") is not None]
        inc, tinc = total(attack, "incumbent_work_pay"), total(twin, "incumbent_work_pay")
        passed = draws is not None and pay is not None and draws >= 1 - self.LOSS_BOUND and pay >= 1 - self.LOSS_BOUND
        return Verdict(
            gain,
            passed and all(r["sac_slashed_recently"] for r in attack),
            {
                "newcomer_start_reputation": start,
                "twin_newcomer_start_reputation": twin_start,
                "sac_reputation_at_join": sum(sac) / len(sac) / 1e9 if sac else None,
                "sac_slashed_in_memory_at_join": sum(bool(r["sac_slashed_recently"]) for r in attack),
                "newcomer_draws": total(attack, "assigned"),
                "twin_newcomer_draws": total(twin, "assigned"),
                "draws_ratio": draws,
                "newcomer_work_pay": total(attack, "work_pay"),
                "twin_newcomer_work_pay": total(twin, "work_pay"),
                "pay_ratio": pay,
                "newcomer_network_pay": total(attack, "network_pay"),
                "twin_newcomer_network_pay": total(twin, "network_pay"),
                "incumbent_work_pay_change": None if not tinc else inc / tinc - 1,
                "griefing_cost_per_seed": total(attack, "sac_slashed") // n,
                "sac_slashes_per_seed": total(attack, "sac_slash_count") / n,
            },
            f"{k['rules']} rules: newcomers started at {'n/a' if start is None else f'{start:.3f}'} (twin "
            f"{'n/a' if twin_start is None else f'{twin_start:.3f}'}), drew {pct(None if draws is None else draws - 1)} and were paid "
            f"{pct(None if pay is None else pay - 1)} for their work against the twin; the sacrificial miner stood at "
            f"{'n/a' if not sac else f'{sum(sac) / len(sac) / 1e9:.3f}'} and lost {total(attack, 'sac_slashed') // n / 10**18:,.0f} COR per seed",
        )


FAMILIES: tuple[Family, ...] = (SlashDodgeUnbond(), ThresholdSplit(), ReregisterAfterJail(), NewcomerGriefing())
