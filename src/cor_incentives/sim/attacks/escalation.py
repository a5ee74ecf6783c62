"""Escalation cartel: a manufactured escalation doubles a network task's paid validations (stopped by rule 29).

escalation_cartel  Until rule 29 every validator of every round of a task had a row in the validators stream
                   (``tasks._record_work``), each earning a whole validation (``network_validation_rate_units`` ×
                   agreement × multiplier): a task that escalates pays about twice its validations. A validator that
                   moves one quality past ``dissent_bound_ppb`` (under ``validator_deviation_max_ppb``: no offence, no
                   slash) escalates the task at will. The world: the population (10 honest miners, 10 validators, a
                   router) under ``tasks`` user and ``tasks`` network tasks an epoch; the attackers are the first
                   ``coalition`` validators (a cartel, 30 % of the validators at 3), strategy ``dissenter`` with
                   ``on = network``: honest, except in the first round of every network task, where it moves the best
                   output's quality by 0.15 toward the middle, so the task escalates (to every other validator: the
                   population has 10, ``validators_per_task`` 5). The honest twin: the same nodes, all honest.
                   Rule 29 (``RULES_ESCALATION_SHARE``): a network task's validations are paid once: its first
                   ``validators_per_task`` validators earn as before, the later ones (escalation rounds) share what
                   the first left of ``validators_per_task`` whole validations (each at most its agreement).

                   Verdict: gain = the cartel's validators-stream income (``validator_work``, through commission and
                   stake) in the attack's world − in the twin's, ÷ the twin's; stopped iff gain ≤ 0. Also measured:
                   the others' income against the twin's, the whole stream paid against the twin's (what a
                   manufactured escalation costs the pool), the escalated network tasks and the cartel's slashes.
                   Knob ``rules`` = ``before_shared`` runs rule 28. From rule 31 (``RULES_ESCALATION_PAY``, the
                   default rules) the escalation rows are paid their agreement and the reports that made the task
                   escalate pay for them (the cartel's dissenters: their row of the task counts 0, and what the
                   escalation earns beyond the first round's leftover is cut from their other validations); rule 30
                   runs with the core parameter ``rule_version`` = 30 (tests/sim/test_sim_escalation_cartel.py). From
                   rule 33 what their validations cannot pay is charged to their bonds, and from rule 35
                   (``RULES_ESCALATION_PRICED``, the default ``priced``) at ``reputation_multiplier_max_ppb`` per
                   validation, the most a payee is paid; ``rules`` = ``before_priced`` runs rule 34 (at 1.0). Also
                   measured: ``stream_net_excess``, the stream's pay net of every bond charge against the twin's.

median_skew        Rule 31 names as an escalation's dissenters (who pay for it: ``Task.dissenters``) the reports past
                   ``dissent_bound_ppb`` from the whole panel's first median, the lower stake-weighted median. A bloc
                   just below half of the stake that reports an extreme value puts that median at the top of the
                   honest reports, so the honest reports at the bottom are past the bound from it: named, their row
                   of the task counts 0 and they share the escalation's charge with the bloc. The world: 10 honest
                   miners, validator-00..(count−1) (49 % of validator stake at 5, strategy ``colluding`` with no miner
                   of its own) report quality ``quality_ppb`` (default 1.0) and distance 0.03 for every miner of every
                   task; the twin: every node honest.
                   Measured: the rows named dissenters, the honest ones, and the *faultless*: honest rows that the
                   honest reports of the task's panel alone would not name (``validation.dissenters`` over them; the
                   stakes at the run's end). Verdict: stopped iff the faultless rows are at most 5 % of the rows
                   named (the 5 % the honest-move families allow) and no honest validator's pay per unit of network
                   work falls by more than 5 % against the twin; gain = faultless ÷ named. Open under rule 31 by the
                   first part (the pay part holds at the default: being named costs a row and a share of a charge,
                   and the escalation rows the bloc provokes pay the honest validators about as much back).

unfunded_escalation  Rule 31 makes an escalation's dissenters pay what its later rows earn beyond what the first round
                   left, as far as their other validations of the epoch reach. A bloc that dissents on every panel it
                   sits on (validator-00..(count−1), strategy ``colluding`` with no miner of its own, reporting quality
                   1.0 and distance 0.03 for every miner: 20 % of validator stake at count 2) has no such validations:
                   each of its rows counts 0, its escalations are short-funded, and the honest validators they draw do
                   the extra validations for ~what the first round left. The twin: every node honest. Verdict: stopped
                   iff no honest validator's pay per unit of network work falls by more than 5 % against the twin;
                   gain = the largest fall (0 when none falls). Also measured: what the bloc and the honest validators
                   paid from their bonds (``escalation_unfunded`` lines). Rule 33 (``RULES_ESCALATION_FUNDED``, the
                   default rules ``funded``) charges what the rows cannot pay to the dissenter's self-bond and funds
                   the escalation with it; knob ``rules`` = ``before_funded`` runs rule 32
                   (tests/sim/test_sim_unfunded_escalation.py). Rule 35 (``RULES_ESCALATION_PRICED``, the default
                   ``priced``) charges a funded validation at ``reputation_multiplier_max_ppb``, the most its payee is
                   paid (``before_priced``: rule 34, at 1.0); ``stream_net_excess`` is the validators stream's pay net
                   of every bond charge against the twin's. Knob ``unbond`` = ``last_tick``: the bloc unbonds its whole
                   self-bond at each epoch's last tick before the close and cancels the entry at the next epoch's first
                   tick (before its first round is drawn): the dodge of a charge read from the bond at the close.

escalation_unbond_dodge  unfunded_escalation with ``unbond`` = ``last_tick`` and its own ``rules`` knob: rule 33 charged the
                   self-bond at the close only, so the bloc that unbonded at the last tick was charged nothing and its
                   escalations were short-funded again; rule 34 (``RULES_ESCALATION_UNBONDING``, the default ``reach``)
                   charges what the bond cannot pay to the operator's own unbonding entries from its node started in the
                   epoch (oldest first); ``before_reach`` runs rule 33 (tests/sim/test_sim_escalation_unbond_dodge.py).
                   Verdict and measures as unfunded_escalation's, plus the unbonds and cancels the bloc made.
"""

from __future__ import annotations

from typing import Any

from ...core.records import TaskKind
from ...core.rules import RULES_ESCALATION_FUNDED, RULES_ESCALATION_PRICED, RULES_ESCALATION_SHARE, RULES_ESCALATION_UNBONDING
from ...core.streams import Stream
from ...core.units import COR
from ...core.validation import dissenters
from ..runner import RunResult
from ..scenarios import ROUTER, Scenario, miners, validators
from ..script import ActorScript, Step, TimedScript
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, final_state, made, node, pct, population_scenario
from .slashing import Watch
from .validators import PPB, _node_totals, honest_rate_changes

SHARED = Rules(RULES_ESCALATION_SHARE, "shared", "before_shared")
FUNDED = Rules(RULES_ESCALATION_FUNDED, "funded", "before_funded")
REACH = Rules(RULES_ESCALATION_UNBONDING, "reach", "before_reach")
# rule 35 prices the charge at reputation_multiplier_max_ppb: escalation_cartel's and unfunded_escalation's ``rules`` knob
# runs it (priced), rule 34 (before_priced), or the rule before the family's first defence
CARTEL_RULES = Rules(RULES_ESCALATION_PRICED, "priced", "before_priced", (SHARED,))
UNFUNDED_RULES = Rules(RULES_ESCALATION_PRICED, "priced", "before_priced", (FUNDED,))
PRICED_DOES = ("a funded validation charged at rate × reputation_multiplier_max_ppb", "charged at rate × 1.0")
UNBOND = Knob(
    "unbond",
    "no",
    "last_tick: the bloc unbonds its whole self-bond at each epoch's last tick before the close and cancels the entry "
    "at the next epoch's first tick (the dodge of a charge read from the bond at the close)",
    choices=("no", "last_tick"),
)


def bond_charged(state: Any, result: RunResult, names: set[str] | None = None) -> int:
    """What ``names`` (None: every node) paid from their self-bonds for escalations their validations could not pay (rule
    33's ``escalation_unfunded`` lines, base units; money to pool:network_incentives, not counted in the stream's income)."""
    mine = {info.address for n, info in result.nodes.items() if names is None or n in names}
    return -sum(i.amount for r in state.epochs.values() for i in r.items if i.stream == Stream.ESCALATION_UNFUNDED and i.address in mine)


def net_excess(paid: int, charged: int, twin_paid: int, twin_charged: int) -> float | None:
    """What the validators stream cost the pool beyond its twin's: (paid − charged) ÷ (twin's paid − twin's charged) − 1, the
    charges (``escalation_unfunded``, bonds → pool:network_incentives) netted off each world's pay (None: a twin that paid
    nothing net), rounded to 4 places. Rule 35 prices the charge at the most a payee can be paid, so the pool pays none of
    a funded escalation: what stays is the first round's leftover and the escalations' reputation observations."""
    twin = twin_paid - twin_charged
    return round((paid - charged) / twin - 1, 4) if twin > 0 else None


class EscalationCartel(Family):
    """Dissent on every network task's first round so that it escalates (see the module docstring): stopped by rule 29."""

    name = "escalation_cartel"
    title = "Manufactured escalations to double a task's paid validations"
    criterion = "a cartel that escalates every network task it validates earns no more from the validators stream than in its honest twin"
    description = (
        "3 of the 10 validators move one quality past dissent_bound_ppb in the first round of every network task they are "
        "drawn for (no offence), so it escalates to the other validators; rule 29 pays a task's validations once: its escalation "
        "rounds share what its first round left; from rule 31 (the default) the reports that made it escalate pay for it. Knob "
        "rules=before_shared runs rule 28, under which each round's row earned a whole validation; rules=before_priced runs rule "
        "34, under which the dissenters' bonds paid a funded validation at multiplier 1.0 while its payees were paid at theirs"
    )
    gain_unit = "the cartel's validators-stream income (net of its escalation charges to its bonds, rule 33) beyond the twin's ÷ the twin's"
    knobs = (
        CARTEL_RULES.knob(*PRICED_DOES, "every round's row earns a whole validation"),
        Knob("coalition", 3, "dissenting validators (the first of the population's 10, 9 000-11 000 COR each)", 1, 9),
        Knob("tasks", 20, "user and network tasks per epoch each", 1, 100),
        Knob("epochs", 4, "epochs run", 2, 20),
    )

    def attackers(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["coalition"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        vals = validators() if twin else validators("dissenter", int(k["coalition"]), options={"on": "network"})
        nodes = miners(("honest", 10)) + vals + ROUTER
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=nodes, params=CARTEL_RULES.params(k), tasks=int(k["tasks"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        state = final_state(made(script, Watch))
        attackers = set(self.attackers(k))
        vals = [n for n, info in result.nodes.items() if info.role == "validator"]

        def total(names: list[str], what: str) -> int:
            return sum(getattr(ep[n], what) for ep in result.epochs for n in names)

        network = [t for t in state.tasks.values() if t.kind == TaskKind.NETWORK]
        return {
            "cartel_bond_charged": bond_charged(state, result, attackers),
            "bond_charged": bond_charged(state, result),  # every node's (the cartel's, and in either world an honest dissenter's)
            "cartel_income": total([n for n in vals if n in attackers], "network"),
            "others_income": total([n for n in vals if n not in attackers], "network"),
            "cartel_slashed": total([n for n in vals if n in attackers], "slashes"),
            "network_tasks": len(network),
            "escalated": sum(1 for t in network if t.round > 0),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def s(rows: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rows)

        # the cartel's income net of what its bonds paid for its escalations (rule 33; 0 before)
        cartel = s(attack, "cartel_income") - s(attack, "cartel_bond_charged")
        twin_cartel = s(twin, "cartel_income") - s(twin, "cartel_bond_charged")
        others, twin_others = s(attack, "others_income"), s(twin, "others_income")
        gain = (cartel - twin_cartel) / twin_cartel if twin_cartel else (0.0 if cartel <= 0 else None)
        measured = {
            "cartel_income": cartel,
            "twin_cartel_income": twin_cartel,
            "others_income": others,
            "twin_others_income": twin_others,
            "stream_paid": s(attack, "cartel_income") + others,
            "twin_stream_paid": s(twin, "cartel_income") + twin_others,
            "network_tasks": s(attack, "network_tasks"),
            "escalated": s(attack, "escalated"),
            "twin_escalated": s(twin, "escalated"),
            "cartel_slashed": s(attack, "cartel_slashed"),
            "cartel_bond_charged": s(attack, "cartel_bond_charged"),  # rule 33: to pool:network_incentives, funding the escalations
            "bond_charged": s(attack, "bond_charged"),
            "twin_bond_charged": s(twin, "bond_charged"),
        }
        # the pool's cost: the stream's pay net of every bond charge, against the twin's
        measured["stream_net_excess"] = net_excess(
            measured["stream_paid"], measured["bond_charged"], measured["twin_stream_paid"], measured["twin_bond_charged"]
        )
        cor = lambda x: f"{x / COR:,.2f}"  # noqa: E731
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            measured,
            f"{measured['escalated']} of {measured['network_tasks']} network tasks escalated (twin: {measured['twin_escalated']}); cartel "
            f"{cor(cartel)} COR from the validators stream net of {cor(measured['cartel_bond_charged'])} its bonds paid for escalations, "
            f"against the twin's {cor(twin_cartel)}, the others {cor(others)} against {cor(twin_others)}; the stream paid "
            f"{cor(measured['stream_paid'])} against {cor(measured['twin_stream_paid'])}, net of the bonds' charges "
            f"{pct(measured['stream_net_excess'])} against the twin; cartel slashed "
            f"{cor(measured['cartel_slashed'])}",
        )


class MedianSkew(Family):
    """A bloc below half the stake skews the panel's first median so that honest reports are named dissenters (module
    docstring)."""

    name = "median_skew"
    title = "A bloc skews the panel's median so that honest validators are named dissenters of the escalations it provokes"
    criterion = (
        "a bloc below half of validator stake reporting an extreme quality for every miner gets at most 5 % of the rows named "
        "dissenters from honest validators the honest reports alone would not name, and no honest validator's pay per unit of "
        "network work cut by more than 5 % against the honest twin"
    )
    description = (
        "validator-00..04 (49 % of validator stake) report quality 1.0 and distance 0.03 for every miner of every task (10 honest "
        "miners): the tasks they are drawn for escalate, and the panel's lower weighted median sits at the top of the honest "
        "reports, so an honest report at the bottom is past dissent_bound_ppb from it and is named a dissenter (its row counts 0 "
        "and it shares the escalation's charge)"
    )
    gain_unit = "the honest rows named dissenters that the honest reports alone would not name ÷ all rows named"
    knobs = (
        Knob("count", 5, "skewing validators (validator-00..; 5 hold 49 % of validator stake)", 1, 5),
        Knob("quality_ppb", PPB, "the quality the bloc reports for every miner", 0, PPB),
        Knob("epochs", 10, "epochs run", 1, 30),
        UNBOND,
    )

    def bloc(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["count"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options = {"harsh_distance": 0.03, "harsh_quality": int(k["quality_ppb"]) / PPB}
        s = Scenario(
            self.name,
            miners(("honest", 10)) + validators("colluding", int(k["count"]), "b", options) + ROUTER,
            self.description,
            epochs=int(k["epochs"]),
        )
        return s.honest_twin() if twin else s

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        """Rows named dissenters (``Task.dissenters`` of the network tasks), the honest ones, and of those the *faultless*:
        not a dissenter of the honest reports of the task's panel alone (``validation.dissenters`` over them, weighted by
        the stakes at the run's end, the planted output's reports included: a measurement, not the core's settlement)."""
        state = final_state(made(script, Watch))
        bloc = set() if twin else {node(n) for n in self.bloc(k)}  # the twin's validator-00..04 are honest
        network = [t for t in state.tasks.values() if t.kind == TaskKind.NETWORK]
        named = [v for t in network for v in t.dissenters]
        faultless = 0
        for t in network:
            honest = {v: {m: (x[0], x[1]) for m, x in r.items()} for v, r in t.reports.items() if v not in bloc}
            if not t.dissenters or not honest:
                continue
            stakes = {v: state.nodes[v].stake_total for v in honest}
            found = set(dissenters(honest, stakes, sorted(next(iter(honest.values()))), state.params.dissent_bound_ppb))
            faultless += sum(1 for v in t.dissenters if v not in bloc and v not in found)
        return {
            "nodes": _node_totals(result),
            "roles": {n.name: n.role for n in result.nodes.values()},
            "escalated": sum(1 for t in network if t.round > 0),
            "network_tasks": len(network),
            "named": len(named),
            "honest_named": sum(1 for v in named if v not in bloc),
            "faultless": faultless,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        bloc = set(self.bloc(k))
        honest = sorted(n for n, role in attack[0]["roles"].items() if role == "validator" and n not in bloc)
        changes = honest_rate_changes(attack, twin, honest)
        moves = [x for x in changes.values() if x is not None]
        drop = min(moves, default=0.0)

        def s(rows: list[dict[str, Any]], key: str) -> int:
            return sum(r[key] for r in rows)

        named, faultless = s(attack, "named"), s(attack, "faultless")
        share = faultless / named if named else 0.0
        measured: dict[str, Any] = {
            "largest_drop": drop,
            "largest_gain": max(moves, default=0.0),
            "honest_rate_change": changes,
            "named": named,
            "honest_named": s(attack, "honest_named"),
            "faultless": faultless,
            "twin_named": s(twin, "named"),
            "twin_honest_named": s(twin, "honest_named"),
            "twin_faultless": s(twin, "faultless"),
            "escalated": s(attack, "escalated"),
            "twin_escalated": s(twin, "escalated"),
            "network_tasks": s(attack, "network_tasks"),
        }
        return Verdict(
            share,
            share <= 0.05 and drop >= -0.05,
            measured,
            f"{int(k['count'])} skewing validators: {measured['honest_named']} of {named} rows named dissenters were honest, "
            f"{faultless} of them ({pct(share)} of the rows) not dissenting from the honest reports alone (twin: "
            f"{measured['twin_faultless']} of {measured['twin_named']}); honest validators' pay per unit of network work "
            f"{pct(drop)} to {pct(measured['largest_gain'])} against the twin; {measured['escalated']} of "
            f"{measured['network_tasks']} network tasks escalated (twin: {measured['twin_escalated']})",
        )


class UnbondWatch(Watch):
    """``Watch`` that also makes ``operators`` unbond their whole self-bond at the epoch's last tick before the close and
    cancel that entry at the next epoch's first tick, before its first round is drawn (knob ``unbond`` = ``last_tick``)."""

    def __init__(self, operators: list[str]) -> None:
        super().__init__()
        steps: list[Step] = []
        for op in operators:
            steps.append(Step(-1, op, "stake.unbond", _unbond_all(op), None, "unbond"))
            steps.append(Step(0, op, "stake.cancel_unbond", _cancel_latest(op), None, "cancel"))
        self.timed = TimedScript(steps)
        self.log = self.timed.log

    def next_tick(self, world: Any) -> int | None:
        return self.timed.next_tick(world)

    def act(self, world: Any) -> None:
        self.timed.act(world)


def _unbond_all(op: str) -> Any:
    def body(state: Any) -> dict[str, Any] | None:
        have = state.ledger.balance(f"bonded:{op}")
        return {"amount": str(have)} if have else None

    return body


def _cancel_latest(op: str) -> Any:
    """Cancel the operator's newest unbonding entry from its own node (what ``_unbond_all`` started), if it holds any."""

    def body(state: Any) -> dict[str, Any] | None:
        mine = [u for u in state.unbondings_of(op) if u.node == op and u.amount > 0 and u.mature_epoch > state.epoch]
        return {"id": mine[-1].id} if mine else None

    return body


class UnfundedEscalation(Family):
    """A bloc dissenting on every panel provokes escalations its validations cannot pay for (module docstring): stopped by
    rule 33."""

    name = "unfunded_escalation"
    title = "A bloc that dissents on every panel provokes escalations it has no validations to pay for"
    criterion = (
        "a bloc reporting an extreme quality for every miner of every task it validates (so every row of it dissents and "
        "counts 0) cuts no honest validator's pay per unit of network work by more than 5 % against the honest twin"
    )
    description = (
        "validator-00..01 (20 % of validator stake) report quality 1.0 and distance 0.03 for every miner of every task (10 honest "
        "miners): the tasks they are drawn for escalate and they are named dissenters, so every row of theirs counts 0 and they "
        "have no validations to pay for the escalations with; rule 33 (the default) charges what they owe to their self-bond "
        "and funds the escalations with it, from rule 35 (the default) at the most a payee can be paid. Knob rules=before_funded "
        "runs rule 32, under which the escalations stayed short-funded and the honest validators they drew did the extra work "
        "for ~what the first round left; rules=before_priced runs rule 34, under which a funded validation was charged at "
        "multiplier 1.0"
    )
    gain_unit = "the largest fall of an honest validator's pay per unit of network work against the twin (0 when none falls)"
    knobs = (
        UNFUNDED_RULES.knob(*PRICED_DOES, "the escalations stay short-funded"),
        Knob("count", 2, "dissenting validators (validator-00..; 2 hold 20 % of validator stake)", 1, 5),
        Knob("epochs", 10, "epochs run", 1, 30),
        UNBOND,
    )

    def bloc(self, k: Knobs) -> list[str]:
        return [f"validator-{i:02d}" for i in range(int(k["count"]))]

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options = {"harsh_distance": 0.03, "harsh_quality": 1.0}
        s = Scenario(
            self.name,
            miners(("honest", 10)) + validators("colluding", int(k["count"]), "b", options) + ROUTER,
            self.description,
            epochs=int(k["epochs"]),
            params=self.params(k),
        )
        return s.honest_twin() if twin else s

    def params(self, k: Knobs) -> dict[str, Any]:
        return UNFUNDED_RULES.params(k)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        if k["unbond"] == "last_tick" and not twin:
            return UnbondWatch([node(n) for n in self.bloc(k)])
        return Watch()

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        """Each node's totals and what each paid from its bond (its ``escalation_unfunded`` lines, by node name)."""
        state = final_state(made(script, Watch))
        name_of = {info.address: n for n, info in result.nodes.items()}
        charged: dict[str, int] = {}
        from_unbonding = 0  # rule 34: the part of the charges taken from unbonding entries (the line's pieces)
        for record in state.epochs.values():
            for item in record.items:
                if item.stream == Stream.ESCALATION_UNFUNDED:
                    n = name_of.get(item.address, item.address)
                    charged[n] = charged.get(n, 0) - item.amount
                    from_unbonding += sum(int(x["amount_units"]) for x in item.detail.get("from_unbonding", []))
        network = [t for t in state.tasks.values() if t.kind == TaskKind.NETWORK]
        return {
            "nodes": _node_totals(result),
            "roles": {n.name: n.role for n in result.nodes.values()},
            "charged": charged,
            "from_unbonding": from_unbonding,
            "escalated": sum(1 for t in network if t.round > 0),
            "network_tasks": len(network),
            "steps": {label: sum(1 for e in script.log if e.label == label and e.ok) for label in ("unbond", "cancel")},
            "refused": sorted({e.code for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        bloc = set(self.bloc(k))
        honest = sorted(n for n, role in attack[0]["roles"].items() if role == "validator" and n not in bloc)
        changes = honest_rate_changes(attack, twin, honest)
        moves = [x for x in changes.values() if x is not None]
        drop = min(moves, default=0.0)

        def paid(rows: list[dict[str, Any]], mine: bool) -> int:
            return sum(v for r in rows for n, v in r["charged"].items() if (n in bloc) == mine)

        def stream(rows: list[dict[str, Any]]) -> int:  # the validators stream's pay (validator_work, through commission and stake)
            return sum(t["network"] for r in rows for n, t in r["nodes"].items() if r["roles"].get(n) == "validator")

        charged, twin_charged = paid(attack, True) + paid(attack, False), paid(twin, True) + paid(twin, False)

        measured: dict[str, Any] = {
            "largest_drop": drop,
            "largest_gain": max(moves, default=0.0),
            "honest_rate_change": changes,
            "bloc_bond_charged": str(paid(attack, True)),
            "honest_bond_charged": str(paid(attack, False)),
            "twin_bond_charged": str(twin_charged),
            "stream_paid": str(stream(attack)),
            "twin_stream_paid": str(stream(twin)),
            "stream_net_excess": net_excess(stream(attack), charged, stream(twin), twin_charged),
            "escalated": sum(r["escalated"] for r in attack),
            "twin_escalated": sum(r["escalated"] for r in twin),
            "network_tasks": sum(r["network_tasks"] for r in attack),
            "charged_from_unbonding": str(sum(r["from_unbonding"] for r in attack)),
            "unbonds": sum(r["steps"]["unbond"] for r in attack),
            "cancels": sum(r["steps"]["cancel"] for r in attack),
            "refused": sorted({c for r in attack for c in r["refused"]}),
        }
        cor = lambda x: f"{int(x) / COR:,.2f}"  # noqa: E731
        return Verdict(
            max(0.0, -drop),
            drop >= -0.05,
            measured,
            f"{int(k['count'])} dissenting validators: honest validators' pay per unit of network work {pct(drop)} to "
            f"{pct(measured['largest_gain'])} against the twin; the bloc paid {cor(measured['bloc_bond_charged'])} COR from its bonds, "
            f"honest validators {cor(measured['honest_bond_charged'])}; {measured['escalated']} of {measured['network_tasks']} "
            f"network tasks escalated (twin: {measured['twin_escalated']}); the validators stream paid {cor(measured['stream_paid'])} COR "
            f"against the twin's {cor(measured['twin_stream_paid'])}, net of the bonds' charges {pct(measured['stream_net_excess'])}"
            + (
                f"; {measured['unbonds']} last-tick unbonds, {measured['cancels']} cancels, {cor(measured['charged_from_unbonding'])} "
                "COR of the charges from unbonding entries"
                if measured["unbonds"]
                else ""
            ),
        )


class EscalationUnbondDodge(UnfundedEscalation):
    """unfunded_escalation's bloc unbonds its whole self-bond at each epoch's last tick and cancels the entry after the
    close (module docstring): stopped by rule 34."""

    name = "escalation_unbond_dodge"
    title = "A dissenting bloc unbonds its self-bond at the epoch's last tick to escape its escalation charge"
    criterion = (
        "a bloc dissenting on every panel that unbonds its whole self-bond one tick before each close and cancels the entry "
        "after it cuts no honest validator's pay per unit of network work by more than 5 % against the honest twin"
    )
    description = (
        "unfunded_escalation's bloc (validator-00..01, 20 % of validator stake, reporting quality 1.0 and distance 0.03 for every "
        "miner) unbonds its whole self-bond at each epoch's last tick before the close and cancels the entry at the next "
        "epoch's first tick, before its first round is drawn; rule 34 (the default) charges what the bond cannot pay to the "
        "operator's own unbonding entries started in the epoch. Knob rules=before_reach runs rule 33, which charged the bond "
        "at the close only"
    )
    knobs = (
        REACH.knob("the charge reaches the operator's unbonding entries of the epoch", "the charge reads the bond at the close only"),
        Knob("count", 2, "dissenting validators (validator-00..; 2 hold 20 % of validator stake)", 1, 5),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def params(self, k: Knobs) -> dict[str, Any]:
        return REACH.params(k)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return Watch() if twin else UnbondWatch([node(n) for n in self.bloc(k)])


FAMILIES: tuple[Family, ...] = (EscalationCartel(), MedianSkew(), UnfundedEscalation(), EscalationUnbondDodge())
