"""Timing attacks on stakers' rewards: stake that arrives just before the close, and commission switched at the last tick.

Every staker reward (the miner and validator streams passed through to a node's stakers, and the
staking APR) is credited at the epoch close. The stake × ticks each position held in the epoch is
measured by the simulator itself (``measure.StakeClock``), so a judge can say what an honest holder
of the same stake for the same time earns, whatever rule the core uses.

    jit_delegation     delegate just before the close, undelegate right after it, every epoch.
                       gain = reward ÷ (the node's staker reward × the actor's stake-ticks ÷ the node's
                       stake-ticks) − 1: the excess over the stake × time share of the same node, the
                       share an honest delegator with the same stake for the same time earns.
    jit_bonding        the same, measured on the staking APR alone against the honest twin (the same
                       stake delegated from the start): gain = APR per COR-tick ÷ the twin's − 1.
    operator_dilution  the operator bonds a large amount just before the close (and unbonds after):
                       gain = the operator's staker reward ÷ its stake × time share of the node's − 1 (what
                       its all-epoch delegator earns per COR-tick in the same epochs).
    commission_switch  the operator raises its commission just before the close:
                       gain = (commission taken − the honest twin's) ÷ the twin's delegator reward.
    idle_stake         stake parked in a node no task can draw: a miner registered for a model no task asks for
                       (or whose self-bond is just below the role's minimum, so it is not selectable) is never
                       drawn, so it never works and can never be slashed. Until rule 14 the staking APR (paid on
                       stake × ticks to every node not slashed or jailed) paid its stake, and any stake delegated
                       to it, like a working node's; from rule 14 only stake exposed to work earns it (knob
                       rules=before_exposure runs rule 13). The honest twin keeps the same COR unstaked.
                       gain = the parked stake's income over the run ÷ the stake (its yield for no work and no risk).
    dust_positions     (rule 20) one key holder with many keys opens a one-base-unit delegation from each on the miners
                       (one of them, cheat-00, reveals what it did not commit and is slashed), then a proposal opens:
                       its snapshot stores every aged position and each slash of cheat-00 reads every position in it,
                       whatever the money behind them. The honest twin puts the same money in one position. Until rule
                       20 (knob rules=before_min_position runs rule 19) each base unit could be a position; from rule 20
                       a position holds 0 or at least min_position_units (1 COR), so positions ≤ stake locked ÷ 1 COR.
                       gain = the attacker's positions no min_position_units of its locked stake backs ÷ its keys.
    node_churn         (rule 23) a churner with the money for one router registers a key, unbonds the whole self-bond at
                       once, withdraws it when it matures (unbonding_period_epochs later), passes it to a new key that
                       registers, round after round; the honest twin keeps one router registered with the same money.
                       Both worlds prune (prune_closed_records = 1, what a node with a database holds). A probe counts
                       the churner's node records in the live state (every node a close walks, its selection slots)
                       mid-cycle. Until
                       rule 23 (rules=before_retire runs rule 22) every record stays, one more per round; from rule 23
                       a node with nothing left leaves at the next close. gain = (the churner's live records at the
                       last probe ÷ at the first) − 1; stopped iff gain ≤ 0 and no churn step was refused.
    last_tick_unbond   (rule 31, finding S1) miner-00's delegator (8 000 COR from the start) leaves 50 ticks before the
                       close; the operator unbonds its whole self-bond at the last tick, so the node has no stake at the
                       close. Until rule 31 (rules=stake_at_close runs rule 30) "no stake" read the stake at the close
                       and the whole node reward, the departed delegator's stake × time share included, was commission;
                       from rule 31 it reads the epoch's stake × ticks. The honest twin: the same delegator leaves, the
                       operator keeps its bond. gain = (the operator's income from the node, commission and its own
                       share, − the twin's) ÷ the twin's delegator reward; stopped iff gain ≤ 0.
"""

from __future__ import annotations

from typing import Any

from ...core.params import Params
from ...core.rules import RULES_EXPOSED_STAKE, RULES_MIN_POSITION, RULES_NODE_RETIRE, RULES_STAKE_TICKS_COMMISSION
from ...core.staking import stakers
from ...core.state import State
from ...core.state_codec import encode_record
from ...core.units import BPS, COR, cor_text
from ..runner import WALLET_BUFFER, RunResult
from ..scenarios import NodeGroup, Scenario
from ..script import ActorScript, Step
from .base import Family, Knob, Knobs, Verdict
from .common import POPULATION, Rules, StakeScript, actor, cor_units, made, node, pct, population_scenario
from .measure import commission, staker_rewards

EPOCH_TICKS = 100  # the devnet epoch length the offsets' bounds assume
NODES = ("miner-00", "miner-01", "validator-00", "validator-03", "router-00")


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _rate(reward: int, ticks: int) -> float | None:
    """Reward per COR-tick (1e18 base units × tick); for comparisons only."""
    return reward / ticks if ticks else None


def _undelegate_all(who: str, node_addr: str, kind: str = "stake.undelegate") -> Any:
    def body(state: State) -> dict[str, Any] | None:
        account = f"bonded:{node_addr}" if who == node_addr else f"delegated:{node_addr}:{who}"
        have = state.ledger.balance(account)
        if not have:
            return None
        return {"amount": str(have)} if kind == "stake.unbond" else {"node": node_addr, "amount": str(have)}

    return body


def _extra_bond(who: str, node_addr: str, base: int) -> Any:
    """Unbond whatever the operator holds above its original self-bond."""

    def body(state: State) -> dict[str, Any] | None:
        extra = state.ledger.balance(f"bonded:{node_addr}") - base
        return {"amount": str(extra)} if extra > 0 else None

    return body


def _book(script: ActorScript, epochs: int, node_name: str, addresses: dict[str, str]) -> list[dict[str, Any]]:
    """Per epoch: each watched address's staker reward (all streams and APR) and stake-ticks in the node, and the node's totals."""
    script = made(script, StakeScript)
    state, clock, n = script.state, script.clock, node(node_name)
    out = []
    for e in range(epochs):
        if e not in state.epochs:
            break
        every, apr = staker_rewards(state, e, n), staker_rewards(state, e, n, prefix="staking_apr")
        row: dict[str, Any] = {
            "node_reward": sum(every.values()),
            "node_apr": sum(apr.values()),
            "node_ticks": clock.of(e, n, "*"),
            "commission": commission(state, e, n),
        }
        for label, a in addresses.items():
            row[label] = {"reward": every.get(a, 0), "apr": apr.get(a, 0), "ticks": clock.of(e, n, a)}
        out.append(row)
    return out


def _sum(rows: list[dict[str, Any]], who: str, what: str) -> int:
    return sum(r[who][what] for r in rows)


class JitDelegation(Family):
    name = "jit_delegation"
    title = "Just-in-time delegation"
    criterion = "stake delegated just before the close earns no more than its stake × time share of the node's staker reward (+2 %)"
    description = (
        "an outside actor delegates 20 000 COR to miner-00 (self-bond 2 000) one tick before every epoch close and undelegates "
        "right after it (measured at the defaults on the old rule: it took 90.9 % of the reward the operator's own stake earned all epoch)"
    )
    gain_unit = "reward ÷ stake×time share of the node's staker reward − 1"
    knobs = (
        Knob("amount_cor", 20_000, "COR delegated just in time", 1, 1_000_000),
        Knob("offset_ticks", -1, "when: ticks before the close (-1: the last tick)", -(EPOCH_TICKS - 1), -1),
        Knob("node", "miner-00", "the node delegated to", choices=NODES),
        Knob("epochs", 1, "epochs run (the script acts in every one it has the capital for: undelegated stake waits out unbonding)", 1, 20),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        who, n, amount = actor("jit"), node(str(k["node"])), cor_units(k["amount_cor"])
        delegate = {"node": n, "amount": str(amount)}
        if twin:  # the honest twin: the same stake delegated from the start, kept all the time
            steps: list[Step] = []
            setup = [(who, "stake.delegate", delegate)]
        else:
            steps = [
                Step(int(k["offset_ticks"]), who, "stake.delegate", delegate, label="jit_delegate"),
                Step(0, who, "stake.undelegate", _undelegate_all(who, n), label="undelegate"),
            ]
            setup = []
        return StakeScript(steps, watch=[(n, who), (n, n), (n, "*")], wallets={who: amount}, actor_names={"jit": who}, setup_commands=setup)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        n = node(str(k["node"]))
        return {"epochs": _book(script, int(k["epochs"]), str(k["node"]), {"actor": actor("jit"), "operator": n})}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        rows = [r for run in attack for r in run["epochs"]]
        trows = [r for run in twin for r in run["epochs"]]
        got = _sum(rows, "actor", "reward")
        fair = sum(r["node_reward"] * r["actor"]["ticks"] // r["node_ticks"] for r in rows if r["node_ticks"])
        share = _ratio(got, sum(r["node_reward"] for r in rows))
        gain = None if not fair else got / fair - 1
        twin_rate = _rate(_sum(trows, "actor", "reward"), _sum(trows, "actor", "ticks"))
        rate = _rate(got, _sum(rows, "actor", "ticks"))
        passed = gain is not None and gain <= 0.02
        return Verdict(
            gain,
            passed,
            {
                "reward": got,
                "stake_time_share": fair,
                "stake_ticks": _sum(rows, "actor", "ticks"),
                "node_stake_ticks": sum(r["node_ticks"] for r in rows),
                "node_staker_reward": sum(r["node_reward"] for r in rows),
                "share_of_node_staker_reward": share,
                "operator_reward": _sum(rows, "operator", "reward"),
                "twin_reward": _sum(trows, "actor", "reward"),
                "twin_stake_ticks": _sum(trows, "actor", "ticks"),
                "reward_per_cor_tick_vs_twin": None if rate is None or not twin_rate else rate / twin_rate,
            },
            f"{k['amount_cor']} COR delegated {-int(k['offset_ticks'])} tick(s) before the close took "
            f"{pct(share)[1:]} of {k['node']}'s staker reward; against its stake × time share: {pct(gain)}",
        )


class JitBonding(Family):
    name = "jit_bonding"
    title = "Bonding just before the APR step"
    criterion = "stake bonded just before the close earns no more staking APR per COR-tick than the honest twin bonded all epoch (+2 %)"
    description = (
        "20 000 COR bonded (delegated) to miner-00 one tick before every close, unbonded right after; the honest twin bonds the same "
        "stake from the start (measured on the old rule: 10 % of a full epoch's APR for 1 % of the time)"
    )
    gain_unit = "staking APR per COR-tick ÷ the honest twin's − 1"
    knobs = JitDelegation.knobs

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return JitDelegation().scenario(k, twin)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return JitDelegation().script(k, twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        return JitDelegation().measure(k, result, script, twin)

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        rows = [r for run in attack for r in run["epochs"]]
        trows = [r for run in twin for r in run["epochs"]]
        apr, ticks = _sum(rows, "actor", "apr"), _sum(rows, "actor", "ticks")
        tapr, tticks = _sum(trows, "actor", "apr"), _sum(trows, "actor", "ticks")
        rate, trate = _rate(apr, ticks), _rate(tapr, tticks)
        gain = None if rate is None or not trate else rate / trate - 1
        full = _ratio(apr, tapr)
        time = _ratio(ticks, tticks)
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {"apr": apr, "stake_ticks": ticks, "twin_apr": tapr, "twin_stake_ticks": tticks, "share_of_twin_apr": full, "share_of_twin_time": time},
            f"bonded {-int(k['offset_ticks'])} tick(s) before the close: {pct(full)[1:]} of the twin's APR for {pct(time)[1:]} of its "
            f"stake-time; APR per COR-tick against the twin: {pct(gain)}",
        )


class OperatorDilution(Family):
    name = "operator_dilution"
    title = "Operator dilutes its delegators"
    criterion = "an operator's stake bonded just before the close earns no more than its stake × time share of the node's staker reward (+2 %)"
    description = (
        "miner-00's operator (self-bond 2 000 COR, a 20 000 COR delegator all epoch) bonds 200 000 COR one tick before every close and "
        "unbonds right after (measured on the old rule: its delegators' reward fell by 90.1 %)"
    )
    gain_unit = "operator's staker reward ÷ its stake×time share − 1"
    knobs = (
        Knob("bond_cor", 200_000, "COR the operator bonds just in time", 1, 10_000_000),
        Knob("delegation_cor", 20_000, "COR its honest delegator holds all epoch", 1, 1_000_000),
        Knob("offset_ticks", -1, "when: ticks before the close", -(EPOCH_TICKS - 1), -1),
        Knob("epochs", 1, "epochs run (the operator bonds again in every one it has the capital for)", 1, 20),
    )
    OPERATOR = "miner-00"
    BASE_BOND = 2_000

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        op, d = node(self.OPERATOR), actor("delegator")
        bond = cor_units(k["bond_cor"])
        steps = (
            []
            if twin
            else [
                Step(int(k["offset_ticks"]), op, "stake.bond", {"amount": str(bond)}, label="jit_bond"),
                Step(0, op, "stake.unbond", _extra_bond(op, op, cor_units(self.BASE_BOND)), label="unbond"),
            ]
        )
        return StakeScript(
            steps,
            watch=[(op, d), (op, op), (op, "*")],
            wallets={op: bond, d: cor_units(k["delegation_cor"])},  # the twin holds the same capital, idle
            actor_names={"delegator": d},
            setup_commands=[(d, "stake.delegate", {"node": op, "amount": str(cor_units(k["delegation_cor"]))})],
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        return {"epochs": _book(script, int(k["epochs"]), self.OPERATOR, {"operator": node(self.OPERATOR), "delegator": actor("delegator")})}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        rows = [r for run in attack for r in run["epochs"]]
        got = _sum(rows, "operator", "reward")
        fair = sum(r["node_reward"] * r["operator"]["ticks"] // r["node_ticks"] for r in rows if r["node_ticks"])
        gain = None if not fair else got / fair - 1
        # the first epoch is the same log in both worlds up to the operator's bond: its delegator's loss is exact there
        first = sum(run["epochs"][0]["delegator"]["reward"] for run in attack if run["epochs"])
        tfirst = sum(run["epochs"][0]["delegator"]["reward"] for run in twin if run["epochs"])
        cut = None if not tfirst else 1 - first / tfirst
        return Verdict(
            gain,
            gain is not None and gain <= 0.02,
            {
                "operator_reward": got,
                "operator_stake_time_share": fair,
                "operator_stake_ticks": _sum(rows, "operator", "ticks"),
                "delegator_reward": _sum(rows, "delegator", "reward"),
                "delegator_stake_ticks": _sum(rows, "delegator", "ticks"),
                "delegator_cut_first_epoch_vs_twin": cut,
            },
            f"the operator's stakers' reward against its stake × time share: {pct(gain)}; in the first epoch its delegator lost "
            f"{pct(cut)[1:]} of what it earned in the honest twin",
        )


class CommissionSwitch(Family):
    name = "commission_switch"
    title = "Commission raised at the last tick"
    criterion = "a commission change made during an epoch takes nothing from that epoch's rewards (the operator's commission equals the twin's)"
    description = (
        "miner-00's operator (0 % commission, a 20 000 COR delegator all epoch) raises its commission by 500 bps one tick before "
        "the close (measured on the old rule: the raise applied to the whole epoch)"
    )
    gain_unit = "extra commission ÷ the twin's delegator reward"
    knobs = (
        Knob("raise_bps", 500, "commission raise (bps; the core refuses more than max_commission_change_bps)", 1, 2_000),
        Knob("offset_ticks", -1, "when: ticks before the close", -(EPOCH_TICKS - 1), -1),
        Knob("epochs", 1, "epochs run; the raise is in the last one", 1, 20),
    )
    OPERATOR = "miner-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        op, d = node(self.OPERATOR), actor("delegator")
        last = int(k["epochs"]) - 1
        steps = [] if twin else [Step(int(k["offset_ticks"]), op, "node.set_commission", {"commission_bps": int(k["raise_bps"])}, (last,), "raise")]
        return StakeScript(
            steps,
            watch=[(op, d), (op, op), (op, "*")],
            wallets={d: cor_units(20_000)},
            actor_names={"delegator": d},
            setup_commands=[(d, "stake.delegate", {"node": op, "amount": str(cor_units(20_000))})],
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        rows = _book(script, int(k["epochs"]), self.OPERATOR, {"delegator": actor("delegator")})
        return {"epochs": rows, "raised": bool(script.applied("raise"))}

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        took = sum(r["commission"] for run in attack for r in run["epochs"])
        ttook = sum(r["commission"] for run in twin for r in run["epochs"])
        tdel = sum(r["delegator"]["reward"] for run in twin for r in run["epochs"])
        gain = None if not tdel else (took - ttook) / tdel
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            {"commission": took, "twin_commission": ttook, "twin_delegator_reward": tdel, "raises_applied": sum(run["raised"] for run in attack)},
            f"a {k['raise_bps']} bps raise {-int(k['offset_ticks'])} tick(s) before the close took {pct(gain)} of the delegator's reward",
        )


EXPOSED_RULES = Rules(RULES_EXPOSED_STAKE, "exposed", "before_exposure")
IDLE_MODEL = "idle-model"  # a model id no task in the simulation asks for (the core takes any well-formed id in node.register)


def _holdings(state: State, who: str) -> int:
    """Everything ``who`` owns in the ledger: wallet, claimable, unbonding, self-bond and delegations."""
    total = sum(state.ledger.balance(f"{kind}:{who}") for kind in ("wallet", "claimable", "unbonding", "bonded"))
    return total + sum(state.ledger.balance(f"delegated:{n}:{who}") for n in sorted(state.nodes) if who in state.nodes[n].delegators)


def _below_minimum(k: Knobs) -> int:
    """What the idle operator unbonds so that its self-bond is one base unit below the miners' default minimum."""
    return cor_units(k["stake_cor"]) - Params().min_self_bond("miner") + 1


def _apr_lines(state: State, epoch: int, node_addr: str) -> int:
    """The staking APR ``node_addr`` paid out in ``epoch``: its operator's commission and every position's share."""
    return sum(staker_rewards(state, epoch, node_addr, prefix="staking_apr").values()) + commission(state, epoch, node_addr, prefix="staking_apr")


class IdleStake(Family):
    """Stake parked in a node no draw reaches (see the module docstring): stopped from rule 14 (``RULES_EXPOSED_STAKE``)."""

    name = "idle_stake"
    title = "Stake parked in a node that never works earns no staking APR"
    criterion = "stake behind a node no task can draw (it serves no model any task asks for, or is not selectable) earns no staking APR (gain ≤ 0)"
    description = (
        "an operator registers a miner with 2 000 COR for a model no task asks for (or unbonds to just under the minimum): it is "
        "never drawn, never works and can never be slashed; the honest twin keeps the same COR unstaked. Rule 14 pays the APR "
        "only on stake exposed to work (0 COR); under rule 13 it earned 6 × 3.2877 COR over 6 epochs, the full 60 % a year"
    )
    gain_unit = "the parked stake's income over the run ÷ the stake (its yield for no work and no slashing risk)"
    knobs = (
        Knob("stake_cor", 2_000, "the idle miner's self-bond in COR (the miners' minimum is 1 000)", 1_000, 1_000_000),
        Knob("delegated_cor", 0, "COR an outside staker delegates to the idle node (stake that seeks the APR without the risk)", 0, 1_000_000),
        Knob("epochs", 6, "epochs run", 1, 20),
        Knob(
            "how",
            "unused_model",
            "how the node avoids every draw: registered for a model no task asks for, or (serving the network's model) its "
            "self-bond unbonded to one base unit below the miners' minimum before any task, so it is not selectable",
            choices=("unused_model", "below_minimum"),
        ),
        EXPOSED_RULES.knob("only stake exposed to work earns the APR", "every stake × tick"),
    )
    IDLE, WORKING = "idle-00", "miner-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        options: dict[str, Any] = {"models": [IDLE_MODEL]} if k["how"] == "unused_model" else {}
        if twin:  # the twin's node is never registered: its operator holds the same COR in its wallet
            options["late"] = True
        idle = NodeGroup("miner", "honest", 1, (str(k["stake_cor"]),), prefix="idle", options=options)
        params = EXPOSED_RULES.params(k)
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=POPULATION + (idle,), params=params)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        idle, working, parker = node(self.IDLE), node(self.WORKING), actor("parker")
        amount = cor_units(k["delegated_cor"])
        setup: list[tuple[str, str, dict[str, Any]]] = []
        if not twin and k["how"] == "below_minimum":
            setup.append((idle, "stake.unbond", {"amount": str(_below_minimum(k))}))
        if not twin and amount:
            setup.append((parker, "stake.delegate", {"node": idle, "amount": str(amount)}))
        return StakeScript(
            [],
            watch=[(idle, "*"), (working, "*")],
            wallets={parker: amount} if amount else {},
            actor_names={"parker": parker},
            setup_commands=setup,
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, clock = script.state, script.clock
        idle, working, parker = node(self.IDLE), node(self.WORKING), actor("parker")
        epochs = [e for e in range(int(k["epochs"])) if e in state.epochs]
        honest_apr = sum(
            i.amount for e in epochs for i in state.epochs[e].items if i.stream.startswith("staking_apr") and i.address not in (idle, parker)
        )
        stats = [ep.get(self.IDLE) for ep in result.epochs]
        capital = cor_units(k["stake_cor"]) + cor_units(k["delegated_cor"])
        return {
            # what the operator and the parker own at the end − what they were given (every node's wallet has WALLET_BUFFER over its stake)
            "income": _holdings(state, idle) + _holdings(state, parker) - capital - WALLET_BUFFER,
            "capital": capital,
            "idle_apr": sum(_apr_lines(state, e, idle) for e in epochs) if idle in state.nodes else 0,
            "idle_ticks": sum(clock.of(e, idle, "*") for e in epochs),
            "working_apr": sum(_apr_lines(state, e, working) for e in epochs),
            "working_ticks": sum(clock.of(e, working, "*") for e in epochs),
            "assigned": sum(s.assigned for s in stats if s is not None),
            "slashed": sum(s.slashes for s in stats if s is not None),
            "honest_apr": honest_apr,
            "epochs_per_year": state.params.epochs_per_year,
            "epochs": len(epochs),
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        cap = sum(r["capital"] for r in attack)
        inc, tinc = sum(r["income"] for r in attack), sum(r["income"] for r in twin)
        gain = None if not cap else (inc - tinc) / cap
        rate = _rate(sum(r["idle_apr"] for r in attack), sum(r["idle_ticks"] for r in attack))
        wrate = _rate(sum(r["working_apr"] for r in attack), sum(r["working_ticks"] for r in attack))
        vs_working = None if rate is None or not wrate else rate / wrate
        epochs = sum(r["epochs"] for r in attack) // max(1, len(attack))
        per_year = attack[0]["epochs_per_year"] if attack else 0
        annual = None if gain is None or not epochs else gain * per_year / epochs
        honest, thonest = sum(r["honest_apr"] for r in attack), sum(r["honest_apr"] for r in twin)
        assigned, slashed = sum(r["assigned"] for r in attack), sum(r["slashed"] for r in attack)
        return Verdict(
            gain,
            gain is not None and gain <= 0,
            {
                "income": inc,
                "twin_income": tinc,
                "capital": cap,
                "yield_over_run": gain,
                "yield_per_year": annual,
                "idle_apr": sum(r["idle_apr"] for r in attack),
                "idle_stake_ticks": sum(r["idle_ticks"] for r in attack),
                "apr_per_cor_tick_vs_working_miner": vs_working,
                "assigned": assigned,
                "slashed": slashed,
                "honest_stakers_apr": honest,
                "twin_honest_stakers_apr": thonest,
            },
            f"{int(k['stake_cor']) + int(k['delegated_cor']):,} COR parked in a node no task draws ({assigned} assignments, {slashed} slashed) "
            f"earned {pct(gain)[1:]} of itself in {epochs} epochs ({pct(annual)[1:]} a year), {pct(vs_working)[1:]} of a working "
            f"miner's APR per COR-tick; honest stakers' APR {pct(None if not thonest else honest / thonest - 1)} against the twin",
        )


# --- rule 20: dust positions ---
DUST_NODES = tuple(f"miner-{i:02d}" for i in range(10)) + ("cheat-00",)  # the miners the keys delegate to, in turn
DUST_PROPOSAL_EPOCH = 2  # stake delegated at the start votes (is snapshotted) from epoch 2: aged a whole epoch
MIN_POSITION_RULES = Rules(RULES_MIN_POSITION, "min_position", "before_min_position")


def _dust_keys(k: Knobs, twin: bool) -> list[str]:
    return [actor("dust-twin")] if twin else [actor(f"dust-{i:04d}") for i in range(int(k["keys"]))]


class DustPositions(Family):
    """Many one-unit stake positions (see the module docstring): stopped from rule 20 (``RULES_MIN_POSITION``)."""

    name = "dust_positions"
    title = "Dust stake positions that every snapshot and slash must read"
    criterion = (
        "every stake position the attacker holds is backed by at least min_position_units (rule 20's default, 1 COR) of its "
        "locked stake: its positions ≤ its locked COR ÷ 1 COR (gain ≤ 0)"
    )
    description = (
        "200 keys each delegate one base unit to the miners in turn (cheat-00, slashed for reveals that do not match their "
        "commits, among them); an honest proposer opens a param_change in epoch 2. Under rule 19 the 200 positions, 200 base "
        "units in all, are stored in the proposal's snapshot and read by each slash of cheat-00; from rule 20 each delegation "
        "is refused (position_below_minimum), and so is the twin's single position of 200 base units"
    )
    gain_unit = "the attacker's positions not backed by min_position_units (1 COR) of its locked stake ÷ its keys"
    knobs = (
        Knob("keys", 200, "keys the attacker delegates from (one position each)", 1, 5_000),
        Knob("units_per_key", 1, "base units each key delegates (10**18: 1 COR, the minimum position)", 1, 10**24),
        MIN_POSITION_RULES.knob("a position holds 0 or at least min_position_units"),
        Knob("epochs", 3, "epochs run (the proposal opens in epoch 2)", DUST_PROPOSAL_EPOCH + 1, 10),
    )
    PROPOSER = "dust-proposer"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        cheat = NodeGroup("miner", "copier", 1, ("2000",), prefix="cheat", options={"reveal": "copy"})  # commit_mismatch: slashed
        params = MIN_POSITION_RULES.params(k)
        return population_scenario(self.world_name(twin), int(k["epochs"]), nodes=POPULATION + (cheat,), params=params)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        keys, each = _dust_keys(k, twin), int(k["units_per_key"])
        amount = each * int(k["keys"]) if twin else each  # the twin: the same money in one position
        targets = ["cheat-00"] if twin else list(DUST_NODES)
        setup = [(who, "stake.delegate", {"node": node(targets[i % len(targets)]), "amount": str(amount)}) for i, who in enumerate(keys)]
        proposer = actor(self.PROPOSER)
        body = {"kind": "param_change", "title": "a commission cap of 25 %", "changes": {"max_commission_bps": 2_500}}
        propose = Step(1, proposer, "gov.propose", lambda state: {**body, "effective_epoch": state.epoch + 2}, (DUST_PROPOSAL_EPOCH,), "propose")
        names = {f"dust-{i}": who for i, who in enumerate(keys)} | {"proposer": proposer}
        wallets = {who: amount for who in keys} | {proposer: Params().gov_min_deposit_units}
        return StakeScript([propose], watch=[], wallets=wallets, actor_names=names, setup_commands=setup)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, StakeScript)
        state, keys = script.state, set(_dust_keys(k, twin))
        held = [(n, who) for n in sorted(state.nodes) for who in sorted(state.nodes[n].delegators) if who in keys]
        proposals = [p for p in state.proposals.values() if p.proposer == actor(self.PROPOSER)]
        snapshot = proposals[0].positions if proposals else {}
        cheat = node("cheat-00")
        opened = {e.actor for e in script.log if e.ok and e.kind == "stake.delegate"}
        return {
            "rule_version": state.params.rule_version,
            "min_position_units": state.params.min_position_units,
            "positions": len(held),
            # what its accepted delegations locked (slashes of cheat-00 take from it since: positions stay, stake shrinks)
            "locked": sum(int(body["amount"]) for who, kind, body in script.setup_commands if who in opened),
            "held": sum(state.ledger.balance(f"delegated:{n}:{who}") for n, who in held),
            "refused": sorted({e.code for e in script.log if not e.ok}),
            "refusals": sum(1 for e in script.log if not e.ok),
            "proposed": bool(proposals),
            "snapshot_positions": sum(len(v) for v in snapshot.values()),
            "snapshot_attacker_positions": sum(1 for v in snapshot.values() for who in v if who in keys),
            "slashes": len(state.slashes_of(cheat)),
            "positions_a_slash_reads": len(stakers(state, cheat)),  # cheat-00's positions now (they do not move after setup)
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        positions, locked = sum(r["positions"] for r in attack), sum(r["locked"] for r in attack)
        tpositions, tlocked = sum(r["positions"] for r in twin), sum(r["locked"] for r in twin)
        backed = min(positions, locked // COR)  # positions min_position_units (rule 20's default, 1 COR) of stake can back
        keys = int(k["keys"]) * max(1, len(attack))
        gain = (positions - backed) / keys
        per_cor = None if not locked else positions * COR / locked
        tper_cor = None if not tlocked else tpositions * COR / tlocked
        snap, tsnap = max((r["snapshot_positions"] for r in attack), default=0), max((r["snapshot_positions"] for r in twin), default=0)
        reads, treads = max((r["positions_a_slash_reads"] for r in attack), default=0), max((r["positions_a_slash_reads"] for r in twin), default=0)
        slashes = sum(r["slashes"] for r in attack)
        codes = sorted({c for r in attack for c in r["refused"]})
        runs = max(1, len(attack))
        return Verdict(
            gain,
            gain <= 0,
            {
                "rule_version": attack[0]["rule_version"] if attack else None,
                "positions": positions,
                "locked_units": locked,
                "positions_per_cor_locked": per_cor,
                "twin_positions": tpositions,
                "twin_locked_units": tlocked,
                "twin_positions_per_cor_locked": tper_cor,
                "unbacked_positions": positions - backed,
                "snapshot_positions": snap,
                "twin_snapshot_positions": tsnap,
                "snapshot_attacker_positions": max((r["snapshot_attacker_positions"] for r in attack), default=0),
                "positions_a_slash_of_cheat_reads": reads,
                "twin_positions_a_slash_of_cheat_reads": treads,
                "slashes_of_cheat": slashes,
                "refusals": sum(r["refusals"] for r in attack),
                "refused": codes,
            },
            f"{int(k['keys'])} keys × {cor_text(int(k['units_per_key']))}: {positions // runs} positions held on "
            f"{cor_text(locked // runs)} locked ({'n/a' if per_cor is None else f'{per_cor:.3g}'} per COR; the twin "
            f"{tpositions // runs} on {cor_text(tlocked // runs)}); the proposal's snapshot held {snap} positions (the twin's {tsnap}), "
            f"a slash of cheat-00 read {reads} (the twin's {treads}); refused: {', '.join(codes) or 'none'}",
        )


# --- rule 23: node churn ---
RETIRE_RULES = Rules(RULES_NODE_RETIRE, "retire", "before_retire")
CHURN_WITHDRAW, CHURN_PASS, CHURN_REGISTER, CHURN_UNBOND, CHURN_PROBE = 1, 2, 3, 4, 50  # offsets in an epoch


def _churn_key(i: int) -> str:
    return actor(f"churn-{i:03d}")


class _NodeChurnScript(StakeScript):
    """A ``StakeScript`` that also keeps the probe's samples: (epoch, the churner's live records, their bytes, nodes, the
    churner's slots in the selection index's weight trees)."""

    def __init__(self, steps: list[Step], samples: list[tuple[int, int, int, int, int]], **kw: Any) -> None:
        super().__init__(steps, **kw)
        self.samples = samples


class NodeChurn(Family):
    """One router's money registered under a new key every unbonding period (see the module docstring): stopped from
    rule 23 (``RULES_NODE_RETIRE``)."""

    name = "node_churn"
    title = "A churner stores node records without end by registering the same self-bond under new keys"
    criterion = (
        "the live state holds no more of the churner's node records at the last round than at the first (gain = last ÷ "
        "first − 1 ≤ 0), however many rounds it runs, and no churn step is refused"
    )
    description = (
        "one router's minimum self-bond (500 COR): a key registers, stays bonded through one close (hold), unbonds all of it, "
        "withdraws it unbonding_period_epochs later and transfers it to the next key, which registers; one round every 3 epochs. "
        "Both worlds run with prune_closed_records = 1; rules=before_retire runs rule 22, where a node is never deleted. "
        "The twin: the first key registers and stays"
    )
    gain_unit = "(the churner's node records in the live state at the last round ÷ at the first round) − 1"
    knobs = (
        Knob("rounds", 6, "registrations the churner makes (one per unbonding period and hold)", 2, 30),
        Knob("hold", 1, "closes each key stays bonded through before it unbonds (its slot in the selection index is made at a close)", 0, 5),
        RETIRE_RULES.knob("a node with nothing left leaves at the next close", "kept forever"),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        params = RETIRE_RULES.params(k, pruned=True)
        period = Params().unbonding_period_epochs + int(k["hold"])
        return population_scenario(self.world_name(twin), int(k["rounds"]) * period + 2, tasks=2, params=params)

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        hold, bond = int(k["hold"]), Params().min_self_bond_router_units
        period, rounds = Params().unbonding_period_epochs + hold, int(k["rounds"])
        keys = [_churn_key(i) for i in range(1 if twin else rounds)]
        register = {"role": "router", "self_bond": str(bond)}
        steps: list[Step] = []
        for i, key in enumerate(keys):
            start = i * period  # the epoch this key registers in
            steps.append(Step(CHURN_REGISTER, key, "node.register", register, (start,), "churn_register"))
            if twin:
                continue
            steps.append(Step(CHURN_UNBOND, key, "stake.unbond", {"amount": str(bond)}, (start + hold,), "churn_unbond"))
            steps.append(Step(CHURN_WITHDRAW, key, "stake.withdraw", {}, (start + period,), "churn_withdraw"))
            if i + 1 < len(keys):
                steps.append(Step(CHURN_PASS, key, "transfer", {"to": keys[i + 1], "amount": str(bond)}, (start + period,), "churn_pass"))
        samples: list[tuple[int, int, int, int, int]] = []
        probe_epochs = tuple(i * period + 1 for i in range(rounds))  # mid-cycle: the round's key registered, the last one retired
        steps.append(Step(CHURN_PROBE, keys[0], "probe", _node_probe(set(_churn_key(i) for i in range(rounds)), samples), probe_epochs, "probe"))
        names = {f"churn-{i}": key for i, key in enumerate(keys)}
        return _NodeChurnScript(steps, samples, watch=[], wallets={keys[0]: bond}, actor_names=names)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        churn = made(script, _NodeChurnScript)
        state = churn.state
        return {
            "rule_version": state.params.rule_version,
            "samples": [list(x) for x in churn.samples],
            "churn_refused": sorted({f"{e.label}: {e.code}" for e in churn.log if not e.ok}),
            "retired": state.pruned.count,
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        runs = len(attack) or 1
        first = sum(a["samples"][0][1] if a["samples"] else 0 for a in attack) / runs
        last = sum(a["samples"][-1][1] if a["samples"] else 0 for a in attack) / runs
        last_bytes = sum(a["samples"][-1][2] if a["samples"] else 0 for a in attack) / runs
        walked = sum(a["samples"][-1][3] if a["samples"] else 0 for a in attack) / runs
        slots = sum(a["samples"][-1][4] if a["samples"] else 0 for a in attack) / runs
        twin_walked = sum(t["samples"][-1][3] if t["samples"] else 0 for t in twin) / (len(twin) or 1)
        twin_last = sum(t["samples"][-1][1] if t["samples"] else 0 for t in twin) / (len(twin) or 1)
        gain = last / first - 1 if first else 0.0
        refused = sorted({r for a in attack for r in a["churn_refused"]})
        growth = [s[1] for s in attack[0]["samples"]] if attack else []
        bond_cor = Params().min_self_bond_router_units / COR
        period = Params().unbonding_period_epochs + int(k["hold"])
        return Verdict(
            gain,
            gain <= 0 and not refused,
            {
                "live_records_by_round": growth,
                "live_records_first_round": first,
                "live_records_last_round": last,
                "live_record_bytes_last_round": last_bytes,
                "nodes_a_close_walks_last_round": walked,
                "churn_selection_slots_last_round": slots,
                "twin_nodes_a_close_walks_last_round": twin_walked,
                "twin_live_records_last_round": twin_last,
                "records_per_cor_per_epoch_made": 1 / (bond_cor * period),
                "refused": refused,
            },
            f"{k['rules']}: the churner's live node records by round {growth} ({last_bytes / 1024:.1f} KiB at the last; the "
            f"twin holds {twin_last:g}); a close walks {walked:g} nodes (the twin's {twin_walked:g}), its keys hold {slots:g} "
            f"selection slots; it makes one record per "
            f"{bond_cor:g} COR every {period} epochs{' (refused: ' + ', '.join(refused[:3]) + ')' if refused else ''}",
        )


def _node_probe(keys: set[str], samples: list[tuple[int, int, int, int, int]]) -> Any:
    """Records the churner's node records held in the live state, their bytes, every node a close walks, and the slots its
    keys hold in the selection index's weight trees; sends nothing."""

    def body(state: State) -> dict[str, Any] | None:
        mine = [n for a, n in state.nodes.items() if a in keys]
        trees = state.selection.trees.values() if state.selection is not None else ()
        slots = sum(1 for tree in trees for a in tree.slot if a in keys)
        samples.append((state.epoch, len(mine), sum(len(encode_record(n)) for n in mine), len(state.nodes), slots))
        return None

    return body


STAKE_TICKS_RULES = Rules(RULES_STAKE_TICKS_COMMISSION, "stake_ticks", "stake_at_close")


class LastTickUnbond(Family):
    """last_tick_unbond: the operator times its unbond against a delegator that left during the epoch (finding S1).

    The delegator delegates ``delegation_cor`` to the node before epoch 0 and undelegates all of it ``leave_offset_ticks``
    before the close, in both worlds; in the attack world the operator also unbonds its whole self-bond
    ``unbond_offset_ticks`` before the close, so no stake is left at the close. Measured in epoch 0 from the statement
    lines: the operator's income from the node (its commission and its own staker share, every stream), the delegator's
    staker share, and the stake × ticks the simulator's clock counted for each."""

    name = "last_tick_unbond"
    title = "An operator unbonds at the last tick to take a departed delegator's share as commission"
    criterion = (
        "an operator that unbonds its whole self-bond at the last tick, after its delegator left, takes nothing of the "
        "delegator's stake × time share (the operator's income from the node − the honest twin's ≤ 0)"
    )
    description = (
        "miner-00's delegator (8 000 COR from the start) leaves 50 ticks before the close; the operator (self-bond 2 000) "
        "unbonds all of it one tick before the close, so the node has no stake at the close; the honest twin keeps its bond"
    )
    gain_unit = "(the operator's income from the node − the twin's) ÷ the twin's delegator reward"
    knobs = (
        Knob("delegation_cor", 8_000, "COR the delegator holds until it leaves", 1, 1_000_000),
        Knob("leave_offset_ticks", -50, "when the delegator leaves: ticks before the close", -(EPOCH_TICKS - 1), -1),
        Knob("unbond_offset_ticks", -1, "when the operator unbonds its whole self-bond: ticks before the close", -(EPOCH_TICKS - 1), -1),
        STAKE_TICKS_RULES.knob(
            "all commission only when the node's stake × ticks of the epoch is 0", "all commission when the node's stake at the close is 0"
        ),
    )
    OPERATOR = "miner-00"

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        return population_scenario(self.world_name(twin), 1, params=STAKE_TICKS_RULES.params(k))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        op, d = node(self.OPERATOR), actor("delegator")
        amount = cor_units(k["delegation_cor"])
        steps = [Step(int(k["leave_offset_ticks"]), d, "stake.undelegate", _undelegate_all(d, op), (0,), "leave")]
        if not twin:
            steps.append(Step(int(k["unbond_offset_ticks"]), op, "stake.unbond", _undelegate_all(op, op, "stake.unbond"), (0,), "unbond"))
        return StakeScript(
            sorted(steps, key=lambda x: x.offset),
            watch=[(op, d), (op, op), (op, "*")],
            wallets={d: amount},
            actor_names={"delegator": d},
            setup_commands=[(d, "stake.delegate", {"node": op, "amount": str(amount)})],
        )

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        s = made(script, StakeScript)
        state, clock = s.state, s.clock
        op, d = node(self.OPERATOR), actor("delegator")
        shares = staker_rewards(state, 0, op)
        dust = sum(i.amount for i in state.epochs[0].items if i.stream.endswith(":dust") and i.detail.get("node") == op)
        took = commission(state, 0, op)
        return {
            "commission": took,
            "commission_bps": state.epochs[0].staking.get("nodes", {}).get(op, {}).get("commission_bps", 0),
            "operator_share": shares.get(op, 0),
            "delegator_reward": shares.get(d, 0),
            "node_reward": took + sum(shares.values()) + dust,
            "operator_ticks": clock.of(0, op, op),
            "delegator_ticks": clock.of(0, op, d),
            "stake_at_close": state.epochs[0].staking.get("nodes", {}).get(op, {}).get("stake"),
            "steps": {e.label: e.ok for e in s.log},
        }

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        def total(runs: list[dict[str, Any]], what: str) -> int:
            return sum(r[what] for r in runs)

        income, tincome = (total(a, "commission") + total(a, "operator_share") for a in (attack, twin))
        dreward, tdreward = total(attack, "delegator_reward"), total(twin, "delegator_reward")
        gain = None if not tdreward else (income - tincome) / tdreward
        # the delegator's stake × time share (the simulator's clock) of the node reward less the commission at its rate
        fair = sum(
            (r["node_reward"] - r["node_reward"] * r["commission_bps"] // BPS) * r["delegator_ticks"] // (r["delegator_ticks"] + r["operator_ticks"])
            for r in attack
            if r["delegator_ticks"]
        )
        refused = sorted({label for r in attack + twin for label, ok in r["steps"].items() if not ok})
        measured = {
            "rules": k["rules"],
            "operator_income": str(income),
            "twin_operator_income": str(tincome),
            "commission": str(total(attack, "commission")),
            "twin_commission": str(total(twin, "commission")),
            "delegator_reward": str(dreward),
            "twin_delegator_reward": str(tdreward),
            "delegator_stake_time_share": str(fair),
            "stake_at_close": [r["stake_at_close"] for r in attack],
            "refused_steps": refused,
        }
        summary = (
            f"{k['rules']}: the operator unbonding {-int(k['unbond_offset_ticks'])} tick(s) before the close took "
            f"{income / COR:,.4f} COR from miner-00 (twin {tincome / COR:,.4f}; commission {total(attack, 'commission') / COR:,.4f}), "
            f"{pct(gain)} of the twin's delegator reward; the delegator that left {-int(k['leave_offset_ticks'])} ticks before "
            f"it was paid {dreward / COR:,.4f} COR (twin {tdreward / COR:,.4f}, its stake × time share {fair / COR:,.4f})"
        )
        return Verdict(gain, gain is not None and gain <= 0 and not refused, measured, summary)


FAMILIES: tuple[Family, ...] = (
    JitDelegation(),
    JitBonding(),
    OperatorDilution(),
    CommissionSwitch(),
    IdleStake(),
    DustPositions(),
    NodeChurn(),
    LastTickUnbond(),
)
