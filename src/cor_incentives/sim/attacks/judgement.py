"""Late judgement: a dissent pushes an honest miss's judgement past the epoch close (stopped by rule 15).

late_judgement  The offence allowance forgives a node's counted offences up to floor(tasks served well in a window
                of epochs × offence_allowance_bps / 10 000) (docs/rewards.md, "Allowance for honest misses"). Until
                rule 15 the window was the judging epoch's (E − 1 … E). A task's judgement waits for its
                escalation's draw, and the draw for the next beacon value: a validator that dissents on a task
                created in the last ticks of epoch e has it judged in e + 1, whose window holds the epoch just begun
                (almost nothing served yet) instead of the one before the task. For an honest miner that serves
                fewer than 10 tasks an epoch, that window earns no allowance, and an honest miss (PoI's false
                positive) its earlier work would have covered is slashed. That is what docs/devnet.md, finding 5,
                saw in a fresh ``make run``. Rule 15 judges the offence by its task's epoch: window
                max(e − 1, E − 2) … E.

                The world: the population (10 honest miners of 2 000 COR, 10 validators, a router) under
                ``tasks`` user and ``tasks`` network tasks an epoch (about 6.5 tasks per miner per epoch at 12),
                plus ``closing_tasks`` user tasks issued ``ticks_before_close`` ticks before each close (but the
                last) through ``ActorScript.across_close``, the runner's one way for a task to cross a close. In
                each closing task PoI misjudges one of its miners, drawn by the seed (the script reveals a
                garbage-like output for it, as the ``unlucky`` strategy does): an honest miss, the same in both
                worlds. The attackers are the first ``coalition`` validators, strategy ``dissenter``: honest,
                except that in a closing task's first round they move one quality past the dissent bound
                (under the deviation that is an offence), so the task escalates. The honest twin: the same
                nodes and stake, the validators honest. Its closing tasks are judged before the close.

                Verdict: the honest nodes' slashes in the attack's world ≤ the twin's (``passed``); gain = the
                honest stake slashed beyond the twin's ÷ the twin's (``extra_honest_slashed``: the same in base
                units). Also measured: the counted offences judged in a later
                epoch than their task's (``late_offences``, from the tasks' records: a task still open at a close
                is judged after its epoch), how many were slashed, and what the attack costs the coalition
                (its income, costs and slashes against the same nodes' in the twin). Knob ``rules`` =
                ``judging_epoch`` runs rule 14, ``window_only`` rule 15.

                What rule 15 left open (not in the verdict; ``tests/sim/test_sim_late_judgement.py`` counts it
                with a spy on the allowance): a late-judged forgiveness was counted in the judging epoch, so it
                stayed in the window one epoch longer and could spend the allowance of a miss of a task of e + 2
                (1 slash in seeds 1-5 at the defaults). Rule 16 counts a task's service and forgiveness in its
                task's epoch (knob ``rules`` = ``window_only`` runs rule 15): 16 honest slashes in seeds 1-5
                against rule 15's 17, 60 against 66 in seeds 1-20. Delaying a judgement by two closes (E ≥ e + 2, where the
                window loses e − 1) needs a task to outlive an epoch: not at the default parameters (a task's
                life, one escalation included, is at most 26 ticks by the deadlines; an epoch 100).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.records import CLOSED_TASK_STATES, TaskState
from ...core.rules import RULES_COUNTED_IN_TASK_EPOCH, RULES_OFFENCE_BY_TASK_EPOCH
from ...core.units import COR
from ..runner import MODEL_ID, RunResult
from ..scenarios import MINER_STAKE, ROUTER, NodeGroup, Scenario, miners, validators
from ..script import ActorScript, Override, TaskSpec
from ..strategies import CLOSING, MinerContext, MinerPlan, TaskInfo, derive, garbage_output, sha
from .base import Family, Knob, Knobs, Verdict
from .common import final_state, made, population_scenario, world_of

if TYPE_CHECKING:
    from ..runner import World

COUNTED = ("poi_divergence", "missed_deadline", "validator_deviation")


class ClosingScript(ActorScript):
    """Issues the closing tasks, makes PoI misjudge one miner in each, and records the epoch each closing task is judged in."""

    def __init__(self, closing: int, ahead: int) -> None:
        super().__init__()
        self.closing, self.ahead = closing, ahead
        self.judged: dict[int, int] = {}  # closing task -> the epoch it closed in
        self.world: World | None = None

    def setup(self, world: World) -> None:
        self.world = world  # read by world_of / final_state in measure

    def across_close(self, world: World, epoch: int) -> tuple[int, list[TaskSpec]]:
        return self.ahead, [self._task(world, epoch, i) for i in range(self.closing)]

    def issued(self) -> list[int]:
        """The closing tasks the engine accepted (the world keeps every issued task's ``TaskInfo``)."""
        return sorted(t for t, info in world_of(self).info.items() if CLOSING in info.key)

    def _task(self, world: World, epoch: int, i: int) -> TaskSpec:
        key = f"{epoch}{CLOSING}{i}"
        rng = derive(world.seed, "closing-task", key)
        prompt_id = f"user|{world.seed}|{key}"
        max_out, tokens = world.env.user_max_output_tokens, rng.randint(*world.env.user_input_tokens)
        body: dict[str, Any] = {
            "session": world.session,
            "model": MODEL_ID,
            "prompt_hash": sha(prompt_id),
            "prompt_bytes": rng.randint(20, 2000),
            "input_tokens": tokens,
            "max_output_tokens": max_out,
        }
        if world.router:
            body["router"] = world.router
        return TaskInfo(key, 0, "user", prompt_id, max_out, tokens), world.user, "task.submit", body

    def plan(self, world: World, ctx: MinerContext) -> Override | None:
        if CLOSING not in ctx.task.key:
            return None
        drawn = sorted(a.miner for a in world.state.tasks[ctx.task.task_id].miners)
        if ctx.miner != derive(world.seed, "closing-miss", ctx.task.key).choice(drawn):
            return None
        out = garbage_output(ctx.env, ctx.seed, ctx.task, ctx.miner)  # computed honestly; PoI puts it out of consensus
        return Override(MinerPlan(out, out, ctx.env.inference_cost_units))

    def after_close(self, world: World, epoch: int) -> None:
        for tid in self.issued():
            if tid not in self.judged and world.state.tasks[tid].state in CLOSED_TASK_STATES:
                self.judged[tid] = epoch


def _counted(state: Any, tid: int) -> list[tuple[str, str]]:
    """The counted offences the core found in task ``tid`` (node, offence), from its record (as ``offences_found``)."""
    task, p = state.tasks[tid], state.params
    out: list[tuple[str, str]] = []
    for a in task.miners:
        if a.planted:
            continue
        if a.commit is None or a.reveal_tick is None:
            out.append((a.miner, "missed_deadline"))
        elif not a.mismatch and a.distance_ppb is not None:
            if (task.state == TaskState.SETTLED and not a.in_consensus) or (
                task.failure == "no_consensus" and (a.quality_ppb or 0) < p.consensus_min_quality_ppb
            ):
                out.append((a.miner, "poi_divergence"))
    return out


class LateJudgement(Family):
    """Dissent on tasks created in an epoch's last ticks so that an honest miss is judged in the next epoch (see the module
    docstring): stopped by rule 15 (``RULES_OFFENCE_BY_TASK_EPOCH``)."""

    name = "late_judgement"
    title = "Dissent to push an honest miss's judgement past the epoch close"
    criterion = "an honest miss whose judgement a dissent pushes past the close costs the honest nodes no more slashes than in the honest twin"
    description = (
        "2 of the 10 validators dissent to escalate the user tasks created 3 ticks before each close, so their judgement "
        "(and one honest miner's PoI miss in each) lands in the next epoch, where a miner serving ~6.5 tasks an epoch has "
        "served almost nothing yet; rule 15 judges the miss by its task's epoch. Knob rules=judging_epoch runs rule 14, "
        "under which the miss lost the allowance the miner had earned"
    )
    gain_unit = "honest stake slashed beyond the twin's ÷ the twin's"
    knobs = (
        Knob(
            "rules",
            "task_epoch",
            "the rules: task_epoch (rules 15 and 16: the allowance window of the task's epoch, and a late task's service and "
            "forgiveness counted in its epoch), window_only (rule 15: the window of the task's epoch, but a late forgiveness "
            "counted in the judging epoch) or judging_epoch (rule 14: the judging epoch's window)",
            choices=("task_epoch", "window_only", "judging_epoch"),
        ),
        Knob("coalition", 2, "dissenting validators (the first of the population's 10, 9 000-11 000 COR each)", 1, 10),
        Knob("closing_tasks", 2, "user tasks issued before each close (but the last), each with one honest miss", 1, 20),
        Knob("ticks_before_close", 3, "when the closing tasks are created: ticks before the close", 1, 99),
        Knob("tasks", 12, "user and network tasks per epoch each (what a miner serves: about 0.55 × this an epoch)", 1, 100),
        Knob("epochs", 6, "epochs run", 2, 20),
        Knob(
            "miss_rate_bps",
            0,
            "PoI also misjudges every honest miner's ordinary tasks at this rate (bps; strategy unlucky, both worlds): misses "
            "judged on time, whose allowance a late-judged forgiveness may use up",
            0,
            10_000,
        ),
    )

    def attackers(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["coalition"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        vals = validators() if twin else validators("dissenter", int(k["coalition"]))
        version = {"task_epoch": None, "window_only": RULES_COUNTED_IN_TASK_EPOCH - 1, "judging_epoch": RULES_OFFENCE_BY_TASK_EPOCH - 1}[k["rules"]]
        params = {} if version is None else {"rule_version": version}
        rate = int(k["miss_rate_bps"])
        honest = (NodeGroup("miner", "unlucky", 10, (MINER_STAKE,), options={"rate": rate / 10_000}),) if rate else miners(("honest", 10))
        nodes = honest + vals + ROUTER
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=nodes, params=params, tasks=int(k["tasks"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return ClosingScript(int(k["closing_tasks"]), int(k["ticks_before_close"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, ClosingScript)
        state = final_state(script)
        attackers = set(self.attackers(k))
        honest = [n for n in result.nodes if n not in attackers]
        slashed = {(s.node, s.evidence.get("task"), s.offence) for s in state.slashes}
        closing = [t for t in script.issued() if t in script.judged]
        offences = late = late_slashed = 0
        for tid in closing:
            task = state.tasks[tid]
            later = script.judged[tid] > task.created_epoch
            for who, offence in _counted(state, tid):
                offences += 1
                late += later
                late_slashed += later and (who, tid, offence) in slashed
        name_of = {n.address: n.name for n in result.nodes.values()}
        in_closing = set(closing)
        ordinary = [x for x in state.slashes if name_of.get(x.node) not in attackers and x.evidence.get("task") not in in_closing]

        def total(names: list[str] | set[str], what: str) -> int:
            return sum(getattr(ep[n], what) for ep in result.epochs for n in names)

        return {
            "honest_slashed": total(honest, "slashes"),
            "honest_slash_count": total(honest, "slash_count"),
            "closing_tasks": len(closing),
            "judged_late": sum(1 for t in closing if script.judged[t] > state.tasks[t].created_epoch),
            "escalated": sum(1 for t in closing if state.tasks[t].round > 0),
            "dissented": sum(1 for t in closing if attackers & {name_of[v] for v in state.tasks[t].drawn_in(0)}),
            "offences": offences,
            "ordinary_slash_count": len(ordinary),
            "late_offences": late,
            "late_slashed": late_slashed,
            "attacker_income": total(attackers, "earnings"),
            "attacker_costs": total(attackers, "costs"),
            "attacker_slashed": total(attackers, "slashes"),
            "attacker_reputation_ppb": sum(result.epochs[-1][n].reputation_ppb for n in attackers) // max(1, len(attackers)),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def s(rows: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rows)

        harm = s(attack, "honest_slashed") - s(twin, "honest_slashed")
        paid = (s(twin, "attacker_income") - s(twin, "attacker_costs") - s(twin, "attacker_slashed")) - (
            s(attack, "attacker_income") - s(attack, "attacker_costs") - s(attack, "attacker_slashed")
        )
        rep, trep = s(attack, "attacker_reputation_ppb") // len(attack), s(twin, "attacker_reputation_ppb") // len(twin)
        measured = {
            "honest_slashed": s(attack, "honest_slashed"),
            "honest_slash_count": s(attack, "honest_slash_count"),
            "twin_honest_slashed": s(twin, "honest_slashed"),
            "twin_honest_slash_count": s(twin, "honest_slash_count"),
            "extra_honest_slashed": harm,
            "closing_tasks": s(attack, "closing_tasks"),
            "dissented": s(attack, "dissented"),
            "escalated": s(attack, "escalated"),
            "judged_late": s(attack, "judged_late"),
            "twin_judged_late": s(twin, "judged_late"),
            "offences": s(attack, "offences"),
            "ordinary_slash_count": s(attack, "ordinary_slash_count"),
            "twin_ordinary_slash_count": s(twin, "ordinary_slash_count"),
            "late_offences": s(attack, "late_offences"),
            "late_slashed": s(attack, "late_slashed"),
            "twin_late_offences": s(twin, "late_offences"),
            "attacker_paid": paid,  # the dissenters' net (income − costs − slashes) in the twin − in the attack's world
            "attacker_slashed": s(attack, "attacker_slashed"),
            "attacker_reputation_ppb": rep,
            "twin_attacker_reputation_ppb": trep,
        }
        cor = lambda x: f"{x / COR:,.2f}"  # noqa: E731
        twin_slashed = s(twin, "honest_slashed")
        return Verdict(
            harm / twin_slashed if twin_slashed else (0.0 if harm <= 0 else None),
            harm <= 0,
            measured,
            f"{measured['late_offences']} honest misses judged after their task's epoch ({measured['late_slashed']} slashed; twin: "
            f"{measured['twin_late_offences']}); honest nodes slashed {cor(measured['honest_slashed'])} COR "
            f"({measured['honest_slash_count']}) against the twin's {cor(measured['twin_honest_slashed'])} COR "
            f"({measured['twin_honest_slash_count']}); the {k['coalition']} dissenters' net against the same validators in the twin: "
            f"{'+' if paid <= 0 else '-'}{cor(abs(paid))} COR ({cor(measured['attacker_slashed'])} slashed, reputation "
            f"{rep / 1e9:.3f} against {trep / 1e9:.3f})",
        )


FAMILIES: tuple[Family, ...] = (LateJudgement(),)
