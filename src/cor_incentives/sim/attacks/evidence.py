"""Evidence attacks: the same equivocation reported many times, and slashes the oracle makes up.

equivocation_rewrap      a miner with a real signing key signs two different precommit statements for one
                         task; a reporter reports the pair, then the same pair re-wrapped (messages swapped,
                         a key added around it, a key added inside a message). The honest twin reports it once.
                         gain = the reporter's reward ÷ the twin's − 1.
self_report              a keyed miner with delegations many times its self-bond signs two different statements
                         for every scope of every task it served, after they settled, and reports each pair from
                         a second key of its own. The honest twin signs nothing. gain = the operator's net (the
                         second key's reporter reward less the operator's own slashed stake, less the twin's)
                         ÷ its self-bond.
oracle_fabricated_slash  the oracle (a compromised one) reports offences against honest nodes: a task that does
                         not exist, real tasks the nodes did honestly, back-dated to tick 0, with a friend as
                         the reporter. The twin reports nothing. Every report must be refused:
                         gain = stake taken from the victims ÷ their stake (0 when all are refused).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ...app.signing import sign_scoped
from ...core.records import Task, TaskState
from ...core.rules import RULES_SELF_REPORT
from ...core.signatures import private_key_address
from ...core.streams import Stream
from ..chain import ORACLE
from ..runner import WALLET_BUFFER, RunResult
from ..scenarios import Scenario
from ..script import ActorScript
from ..strategies import Output, sha
from .base import Family, Knob, Knobs, Verdict
from .common import Rules, actor, cor_units, final_state, made, node, pct, population_scenario
from .measure import earned, slashed

if TYPE_CHECKING:
    from ...core.state import State
    from ..runner import World


def sim_key(name: str) -> str:
    """A deterministic private key for a simulated actor that must sign (never use outside simulations)."""
    return "0x" + hashlib.sha256(f"cor-sim-key:{name}".encode()).hexdigest()


def _reports_paid(state: State, reporter: str, signer: str) -> tuple[int, int]:
    """What ``reporter`` earned from slash reports over the run, and how many equivocation slashes ``signer`` took."""
    reward = sum(earned(state, e, reporter, Stream.SLASH_REPORTER_REWARD) for e in state.epochs)
    return reward, sum(1 for s in state.slashes if s.node == signer and s.offence == "equivocation")


class EquivocationScript(ActorScript):
    """A keyed miner double-signs its first task's precommit; the reporter reports the pair ``1 + rewraps`` times."""

    SIGNER = "signer-00"

    def __init__(self, rewraps: int) -> None:
        super().__init__()
        self.key = sim_key(self.SIGNER)
        self.signer = private_key_address(self.key)
        self.reporter = actor("reporter")
        self.rewraps = rewraps
        self.world: World | None = None
        self.reported = False

    def allocations(self) -> dict[str, int]:
        return {self.signer: cor_units(2_000) + WALLET_BUFFER}

    def actors(self) -> dict[str, str]:
        return {self.SIGNER: self.signer, "reporter": self.reporter}

    def setup(self, world: World) -> None:
        self.world = world
        world.add_node(self.SIGNER, self.signer, "miner", cor_units(2_000))

    def before_reveal(self, world: World, task: Task, miner: str) -> Output | None:
        a = task.assignment(self.signer)
        if miner != self.signer or self.reported or a is None or a.commit is None:
            return None
        self.reported = True
        chain, scope = world.state.chain_id, f"task:{task.id}:precommit"
        m1 = sign_scoped(self.key, chain, scope, a.commit)
        m2 = sign_scoped(self.key, chain, scope, sha(f"another commit|{task.id}"))
        wraps: list[dict[str, Any]] = [
            {"messages": [m1, m2]},
            {"messages": [m2, m1]},  # the same pair, swapped
            {"messages": [m1, m2], "note": "reported again"},  # a key added around it
            {"messages": [{**m1, "seen_at": "gossip"}, m2]},  # a key added inside a message
        ]
        for evidence in wraps[: 1 + self.rewraps]:
            self.send(world, self.reporter, "slash.report", {"node": self.signer, "offence": "equivocation", "evidence": evidence}, "report")
        return None


class EquivocationRewrap(Family):
    name = "equivocation_rewrap"
    title = "One equivocation reported many times"
    criterion = "one equivocation is slashed once, whatever the order or wrapping of its evidence (the reporter earns what the twin earns)"
    description = (
        "signer-00 signs two different precommits for one task; a reporter reports the pair and three re-wrapped copies (measured on "
        "the old rule: slashed 4 times, the reporter paid each time)"
    )
    gain_unit = "reporter's reward ÷ the twin's − 1"
    knobs = (
        Knob("rewraps", 3, "re-wrapped copies reported after the original (swapped, wrapped, a key inside)", 0, 3),
        Knob("epochs", 1, "epochs run", 1, 5),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return EquivocationScript(0 if twin else int(k["rewraps"]))

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, EquivocationScript)
        state = final_state(script)
        reward, slashes = _reports_paid(state, script.reporter, script.signer)
        return {
            "reporter_reward": reward,
            "slashed": sum(slashed(state, e, script.signer) for e in state.epochs),
            "slashes": slashes,
            "reports": len(script.log),
            "refused": sorted({e.code for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        got, base = sum(r["reporter_reward"] for r in attack), sum(r["reporter_reward"] for r in twin)
        gain = None if not base else got / base - 1
        slashes, tslashes = sum(r["slashes"] for r in attack), sum(r["slashes"] for r in twin)
        return Verdict(
            gain,
            gain is not None and gain <= 0 and slashes == tslashes,
            {
                "reporter_reward": got,
                "twin_reporter_reward": base,
                "slashes": slashes,
                "twin_slashes": tslashes,
                "slashed": sum(r["slashed"] for r in attack),
                "twin_slashed": sum(r["slashed"] for r in twin),
                "refusal_codes": sorted({c for r in attack for c in r["refused"]}),
            },
            f"{1 + int(k['rewraps'])} reports of one equivocation: {slashes} slashes against the twin's {tslashes}; the reporter earned "
            f"{pct(gain)} against the twin",
        )


SELF_REPORT_RULES = Rules(RULES_SELF_REPORT, "own_pieces", "before_own_pieces")


class SelfReportScript(ActorScript):
    """signer-00 (self-bond ``bond``, delegated ``bond × delegated_x`` by a delegator) serves an epoch honestly; at the
    epoch 1's first tick it signs two statements for each precommit and reveal scope of its tasks (all settled) and
    reports them from ``op2``."""

    SIGNER = "signer-00"

    def __init__(self, bond: int, delegated: int, active: bool) -> None:
        super().__init__()
        self.key = sim_key(self.SIGNER)
        self.signer = private_key_address(self.key)
        self.reporter, self.delegator = actor("op2"), actor("delegator")
        self.bond, self.delegated, self.active = bond, delegated, active
        self.world: World | None = None
        self.reported = False

    def allocations(self) -> dict[str, int]:
        return {self.signer: self.bond + WALLET_BUFFER, self.delegator: self.delegated}

    def actors(self) -> dict[str, str]:
        return {self.SIGNER: self.signer, "op2": self.reporter, "delegator": self.delegator}

    def setup(self, world: World) -> None:
        self.world = world
        world.add_node(self.SIGNER, self.signer, "miner", self.bond)
        self.send(world, self.delegator, "stake.delegate", {"node": self.signer, "amount": str(self.delegated)}, "setup:delegate")

    def next_tick(self, world: World) -> int | None:
        return world.state.params.epoch_length_ticks if self.active and not self.reported else None  # epoch 1's first tick

    def act(self, world: World) -> None:
        self.reported = True
        chain = world.state.chain_id
        for task in sorted(world.state.tasks.values(), key=lambda t: t.id):
            if not task.assigned(self.signer):
                continue
            for phase in ("precommit", "reveal"):
                scope = f"task:{task.id}:{phase}"
                msgs = [sign_scoped(self.key, chain, scope, sha(f"{side}|{scope}")) for side in ("a", "b")]
                body = {"node": self.signer, "offence": "equivocation", "evidence": {"messages": msgs}}
                self.send(world, self.reporter, "slash.report", body, "report")


class SelfReport(Family):
    name = "self_report"
    title = "An operator reports its own equivocation"
    criterion = "an operator reporting its own double-signs from a second key loses money (its reward is at most a tenth of its own loss)"
    description = (
        "signer-00 (2 000 COR self-bond, delegations 25x it) serves epoch 0 honestly, then signs two statements for each "
        "precommit and reveal scope of its tasks and reports every pair from its own second key op2 (measured on rule 28, "
        "rules=before_own_pieces, seed 1: op2 earned 5 123 COR for 1 970 COR of the operator's own stake, +157.6 % of its "
        "self-bond, and the delegators lost 49 261 of 50 000 COR; from rule 29 they lose 10 % once)"
    )
    gain_unit = "operator's net (op2's reward − its own slashed stake) ÷ its self-bond"
    knobs = (
        Knob("delegated_x", 25, "delegations, as a multiple of the self-bond", 0, 100),
        Knob("epochs", 2, "epochs run (the reports come at the first tick of epoch 1)", 2, 4),
        SELF_REPORT_RULES.knob(
            "reward from the operator's own pieces; one lapse before a jail costs delegators once", "of the whole slash, every scope"
        ),
    )
    BOND = 2_000

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]), params=SELF_REPORT_RULES.params(k))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return SelfReportScript(cor_units(self.BOND), cor_units(self.BOND * int(k["delegated_x"])), not twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, SelfReportScript)
        state = final_state(script)
        reward, slashes = _reports_paid(state, script.reporter, script.signer)
        return {
            "reporter_reward": reward,
            "operator_slashed": sum(slashed(state, e, script.signer) for e in state.epochs),
            "delegators_slashed": sum(slashed(state, e, script.delegator) for e in state.epochs),
            "slashes": slashes,
            "reports": len(script.applied("report")),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def net(rows: list[dict[str, Any]]) -> int:
            return sum(r["reporter_reward"] - r["operator_slashed"] for r in rows)

        gain = (net(attack) - net(twin)) / (cor_units(self.BOND) * len(attack))
        got, lost = sum(r["reporter_reward"] for r in attack), sum(r["operator_slashed"] for r in attack)
        slashes = sum(r["slashes"] for r in attack)
        return Verdict(
            gain,
            gain <= 0,
            {
                "reporter_reward": got,
                "operator_slashed": lost,
                "delegators_slashed": sum(r["delegators_slashed"] for r in attack),
                "twin_delegators_slashed": sum(r["delegators_slashed"] for r in twin),
                "slashes": slashes,
                "twin_slashes": sum(r["slashes"] for r in twin),
            },
            f"{slashes} self-reported equivocations: op2 earned {got / cor_units(1):.2f} COR, the operator's own stake lost "
            f"{lost / cor_units(1):.2f} COR: net {pct(gain)} of its self-bond",
        )


class FabricationScript(ActorScript):
    """At ``offset`` ticks into the first epoch the oracle reports made-up offences against honest nodes."""

    def __init__(self, offset: int, offence: str, reporter: bool, backdate: bool, active: bool) -> None:
        super().__init__()
        self.offset, self.offence, self.with_reporter, self.backdate, self.active = offset, offence, reporter, backdate, active
        self.friend = actor("friend")
        self.victims: dict[str, int] = {}  # node -> its stake when the reports were made
        self.world: World | None = None
        self.fired = False

    def actors(self) -> dict[str, str]:
        return {"friend": self.friend}

    def setup(self, world: World) -> None:
        self.world = world

    def next_tick(self, world: World) -> int | None:
        return None if self.fired or world.state.epoch != 0 else world.state.epoch_start_tick + self.offset

    def act(self, world: World) -> None:
        self.fired = True
        state = world.state
        honest = [t for t in sorted(state.tasks.values(), key=lambda t: t.id) if t.state == TaskState.SETTLED]
        reports: list[tuple[str, str, dict[str, Any]]] = [("commit_mismatch", node("miner-01"), {"task": 10**9})]  # no such task
        if honest:
            t = honest[0]
            miner = next(a.miner for a in t.miners if a.in_consensus)
            reports += [
                ("commit_mismatch", miner, {"task": t.id}),
                ("poi_divergence", miner, {"task": t.id}),
                ("missed_deadline", miner, {"task": t.id}),
            ]
            if t.validators:
                reports.append(("validator_deviation", t.validators[0], {"task": t.id}))
        for offence, victim, evidence in reports:
            if self.offence != "all" and offence != self.offence:
                continue
            self.victims.setdefault(victim, state.nodes[victim].stake_total if victim in state.nodes else 0)
            if not self.active:
                continue
            body: dict[str, Any] = {"node": victim, "offence": offence, "evidence": evidence}
            if self.backdate:
                body["offence_tick"] = 0
            if self.with_reporter:
                body["reporter"] = self.friend
            self.send(world, ORACLE, "slash.report", body, offence)


class OracleFabricatedSlash(Family):
    name = "oracle_fabricated_slash"
    title = "The oracle makes up offences"
    criterion = "every offence the oracle reports without logged events that prove it is refused (no stake taken, nothing paid)"
    description = (
        "a compromised oracle reports commit_mismatch against a task that does not exist and four offences against honest nodes on a "
        "task they did honestly, back-dated to tick 0, naming a friend as reporter (measured on the old rule: slashed, and `cor verify` said ok)"
    )
    gain_unit = "victims' stake taken ÷ their stake"
    knobs = (
        Knob(
            "offence",
            "all",
            "which made-up offences the oracle reports",
            choices=("all", "commit_mismatch", "poi_divergence", "missed_deadline", "validator_deviation"),
        ),
        Knob("reporter", "friend", "name a friend as the reporter, or none", choices=("friend", "none")),
        Knob("backdate", 1, "date the offence at tick 0 (1) or let the core date it (0)", 0, 1),
        Knob("offset_ticks", 60, "ticks into the first epoch when the oracle reports", 1, 99),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), 1)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return FabricationScript(int(k["offset_ticks"]), str(k["offence"]), k["reporter"] == "friend", bool(k["backdate"]), not twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, FabricationScript)
        state = final_state(script)
        return {
            "taken": sum(slashed(state, e, v) for e in state.epochs for v in script.victims),
            "stake": sum(script.victims.values()),
            "friend_paid": sum(earned(state, e, script.friend, Stream.SLASH_REPORTER_REWARD) for e in state.epochs),
            "reports": len(script.log),
            "accepted": sum(1 for e in script.log if e.ok),
            "refused": sorted({e.code for e in script.log if not e.ok}),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        taken, stake = sum(r["taken"] for r in attack), sum(r["stake"] for r in attack)
        twin_taken = sum(r["taken"] for r in twin)
        gain = None if not stake else (taken - twin_taken) / stake
        accepted, reports = sum(r["accepted"] for r in attack), sum(r["reports"] for r in attack)
        friend = sum(r["friend_paid"] for r in attack)
        return Verdict(
            gain,
            gain is not None and gain <= 0 and accepted == 0 and friend == 0,
            {
                "reports": reports,
                "accepted": accepted,
                "stake_taken": taken,
                "twin_stake_taken": twin_taken,
                "victims_stake": stake,
                "friend_paid": friend,
                "refusal_codes": sorted({c for r in attack for c in r["refused"]}),
            },
            f"{accepted} of {reports} made-up reports accepted; {taken / 10**18:,.2f} COR taken from honest nodes, "
            f"{friend / 10**18:,.2f} COR paid to the oracle's friend",
        )


FAMILIES: tuple[Family, ...] = (EquivocationRewrap(), SelfReport(), OracleFabricatedSlash())
