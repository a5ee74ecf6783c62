"""Volume an attacker creates for itself: paying user-task fees to its own miners, hoping they turn into emission.

The attacker runs 3 of the 10 miners (``miner-07..09``, operator ``attacker``) and a wallet
(``attacker:wash``). At set-up it may register a model of its own (``own_model``) with whatever card
it likes (``parameter_count``, ``quantization``: "70 B, q2_k" claims the largest work tier while the
quantization halves the price) and its miners serve that model only (``serve = "own"``) or it beside
the common model (``"both"``). It opens a session and every epoch pays ``tasks_per_epoch`` user tasks
on its model (or the common one), declaring ``declared_input_tokens`` input tokens (0: the true
count) whatever the prompt holds. Its miners serve them honestly (they run the model).

The honest twin has the same nodes with the same stake serving the common model, and no wallet
activity. Measured per seed: the attacker's income (its nodes' payout less their costs, plus its
wallet's royalty and marketplace lines, less the fees it paid) in both worlds, and, exactly, what
its own tasks brought back to it: the fees its nodes and wallet received from them and the emission
its miners earned on them (``miner_work:node`` bonus rows of those tasks).

    gain   = Σ (income − twin income) ÷ Σ twin income over the seeds (0: no advantage)
    passed = its own tasks return no more than they cost (fees back + emission on them ≤ fees paid)
             and the income gain is not above two standard errors of its per-seed values

Three built-in attacks share the knobs, each at its own defaults: ``wash_trading`` (all levers, as
measured before emission was tied to verified work), ``model_tier_farming`` (the tier claim alone)
and ``declared_tokens`` (the declared size alone).
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from ...core.epoch_document import bonus_rows_of
from ...core.models import QUANTIZATIONS
from ...core.records import TaskKind
from ...core.streams import TASK_FEE_PREFIX, LinePart, Stream, line
from ...core.units import COR
from ..runner import MODEL_ID, RunResult
from ..scenarios import ROUTER, NodeGroup, Scenario, miners, validators
from ..script import ActorScript, TaskSpec
from ..strategies import TaskInfo, derive, sha
from .base import Family, Knob, Knobs, Verdict
from .common import actor, final_state, made

if TYPE_CHECKING:
    from ..runner import World

OPERATOR = "attacker"
OWN_MODEL = "wash-70b"
ATTACKER_MINERS = ("miner-07", "miner-08", "miner-09")


def own_bonus(inputs: dict[str, Any], rows: list[dict[str, Any]], tasks: set[int]) -> int:
    """The part of a miner's reward (its ``miner_work:node`` inputs) that its bonus ``rows`` on ``tasks`` earned.

    A user task can add to a miner's emission only through its bonus row; when the budget binds,
    every claim was paid reward // claim of itself."""
    bonus = sum(r["bonus"] for r in rows if r["task"] in tasks)
    return bonus * inputs["reward"] // inputs["claim"] if inputs.get("claim") else 0


class WashScript(ActorScript):
    """The attacker's wallet: its model, its session, its tasks; the twin registers nothing and pays nothing."""

    def __init__(self, k: Knobs, twin: bool) -> None:
        super().__init__()
        self.k, self.twin = k, twin
        self.wallet = actor("wash")
        self.world: World | None = None
        self.session = 0

    def allocations(self) -> dict[str, int]:
        return {self.wallet: (0 if self.twin else int(self.k["deposit_cor"]) * COR) + 1_000 * COR}

    # The wallet is a user, not listed in ``actors``: a user's statement shows ``task_payment`` (−price) and
    # ``task_refund`` (the unused escrow back to the session) but not the escrow locked at submission, so
    # it does not reconcile with wallet + claimable the way a node's does.

    def model(self) -> str:
        return OWN_MODEL if self.k["own_model"] == "yes" else MODEL_ID

    def setup(self, world: World) -> None:
        self.world = world
        if self.twin:
            return
        if self.k["own_model"] == "yes":
            card = {
                "id": OWN_MODEL,
                "parameter_count": int(self.k["parameter_count_m"]) * 1_000_000,
                "quantization": self.k["quantization"],
                "context_length": 32_768,
                "license": "apache-2.0",
                "content_hash": sha("the attacker's weights"),
            }
            self.send(world, self.wallet, "model.register", card, "model.register")
        if self.send(world, self.wallet, "session.open", {"deposit": str(int(self.k["deposit_cor"]) * COR)}, "session.open"):
            self.session = max(world.state.sessions)

    def tasks(self, world: World, epoch: int, round_: int) -> list[TaskSpec]:
        if self.twin or not self.session:
            return []
        out: list[TaskSpec] = []
        for slot in range(round_, int(self.k["tasks_per_epoch"]), world.s.rounds_per_epoch):
            key = f"{epoch}:wash:{slot}"
            declared = int(self.k["declared_input_tokens"]) or None
            out.append(user_task(world, self.wallet, self.session, self.model(), "wash", key, int(self.k["max_output_tokens"]), declared))
        return out


def user_task(
    world: World, wallet: str, session: int, model: str, tag: str, key: str, max_out: int, input_tokens: int | None = None, **extra: Any
) -> TaskSpec:
    """A user task an attacker's wallet pays for: its prompt ``tag|seed|key`` of a length drawn from the environment's
    user prompts (``derive(seed, tag + "-task", key)``), declaring ``input_tokens`` (default: the true count), with
    ``extra`` body fields (e.g. ``router``)."""
    true_tokens = derive(world.seed, f"{tag}-task", key).randint(*world.env.user_input_tokens)
    prompt = f"{tag}|{world.seed}|{key}"
    body = {
        "session": session,
        "model": model,
        "prompt_hash": sha(prompt),
        "prompt_bytes": true_tokens * 4,
        "input_tokens": input_tokens or true_tokens,
        "max_output_tokens": max_out,
        **extra,
    }
    return (TaskInfo(key, 0, TaskKind.USER, prompt, max_out, true_tokens), wallet, "task.submit", body)


def _miner_models(k: Knobs, twin: bool) -> list[str]:
    if twin or k["own_model"] != "yes":
        return [MODEL_ID]
    return [OWN_MODEL] if k["serve"] == "own" else [MODEL_ID, OWN_MODEL]


class WashFamily(Family):
    """Shared by the three built-in attacks (each sets ``name`` and its defaults)."""

    gain_unit = "the attacker's income − the honest twin's, ÷ the twin's (its nodes' payout less costs, plus its wallet's income less fees paid)"
    criterion = (
        "the attacker's own tasks bring back no more than they cost (fees to its nodes and wallet + emission its miners earned on "
        "them ≤ the fees it paid), and its income is not above the honest twin's by more than two standard errors over the seeds"
    )
    defaults_override: dict[str, int | str] = {}

    def __init__(self) -> None:
        base = {
            "tasks_per_epoch": Knob("tasks_per_epoch", 1, "user tasks the attacker pays per epoch", 0, 200),
            "declared_input_tokens": Knob("declared_input_tokens", 15_624, "input tokens declared on each task (0: the true count)", 0, 30_000),
            "own_model": Knob("own_model", "yes", "register a model of its own and submit the tasks on it", choices=("yes", "no")),
            "parameter_count_m": Knob("parameter_count_m", 70_000, "millions of parameters its model card claims", 1, 10_000_000),
            "quantization": Knob("quantization", "q2_k", "the quantization its model card claims", choices=QUANTIZATIONS),
            "serve": Knob("serve", "own", "its miners serve its model only, or it beside the common model", choices=("own", "both")),
            "max_output_tokens": Knob("max_output_tokens", 64, "max_output_tokens of each task", 1, 2_048),
            "deposit_cor": Knob("deposit_cor", 1_000, "COR the attacker deposits in its session", 1, 1_000_000),
        }
        self.knobs = tuple(Knob(k.name, self.defaults_override.get(k.name, k.default), k.doc, k.lo, k.hi, k.choices) for k in base.values())

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        models = _miner_models(k, twin)
        attacker = NodeGroup("miner", "honest", 3, ("2000",), operator=OPERATOR, options={"models": models})
        return Scenario(self.world_name(twin), miners(("honest", 7)) + (attacker,) + validators() + ROUTER, seeds=(1,))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return WashScript(k, twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, WashScript)
        state, me = final_state(script), script.wallet
        mine = {me} | {n.address for n in result.nodes.values() if n.operator == OPERATOR}
        nodes = sum(ep[n].net for ep in result.epochs for n in result.nodes if result.nodes[n].operator == OPERATOR)
        out = {"nodes_net": nodes, "fees_paid": 0, "owner_income": 0, "own_task_fees": 0, "own_task_emission": 0, "tasks": 0}
        out |= {"declared_input_tokens": 0, "true_input_tokens": 0}
        own_tasks = [t for t in state.tasks.values() if t.user == me]
        for t in own_tasks:
            out["tasks"] += 1
            out["declared_input_tokens"] += t.input_tokens
            out["true_input_tokens"] += script.world.info[t.id].input_tokens
        for e, record in sorted(state.epochs.items()):
            own = {t.id for t in own_tasks if t.created_epoch == e}
            for item in record.items:
                s = item.stream
                if item.address == me and s == Stream.TASK_PAYMENT:
                    out["fees_paid"] -= item.amount
                if item.address == me and (s.startswith(Stream.TASK_FEE_ROYALTY) or s == Stream.MARKETPLACE):
                    out["owner_income"] += item.amount
                if item.address in mine and s.startswith(TASK_FEE_PREFIX) and item.detail.get("task") in own:
                    out["own_task_fees"] += item.amount
                if item.address in mine and s == line(Stream.MINER_WORK, LinePart.NODE):
                    out["own_task_emission"] += own_bonus(item.detail["inputs"], bonus_rows_of(record.streams, item), own)
        out["income"] = nodes + out["owner_income"] - out["fees_paid"]
        out["epochs"] = len(result.epochs)
        return out

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        gains = [a["income"] - t["income"] for a, t in zip(attack, twin)]
        twin_income = sum(t["income"] for t in twin)
        fees = sum(a["fees_paid"] for a in attack)
        back = sum(a["own_task_fees"] + a["own_task_emission"] for a in attack)
        epochs = max(1, sum(a["epochs"] for a in attack))
        mean = statistics.fmean(gains)
        se = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else 0.0
        gain = sum(gains) / twin_income if twin_income else None
        tasks = sum(a["tasks"] for a in attack)
        passed = tasks > 0 and back <= fees and mean <= 2 * se
        per_fee = (back - fees) / fees if fees else None
        measured = {
            "tasks": tasks,
            "fees_paid": str(fees),
            "own_task_fees": str(sum(a["own_task_fees"] for a in attack)),
            "own_task_emission": str(sum(a["own_task_emission"] for a in attack)),
            "return_per_cor_of_fees": None if per_fee is None else round(per_fee, 6),
            "declared_input_tokens": sum(a["declared_input_tokens"] for a in attack),
            "true_input_tokens": sum(a["true_input_tokens"] for a in attack),
            "income": str(sum(a["income"] for a in attack)),
            "twin_income": str(twin_income),
            "gain_per_epoch_units": str(sum(gains) // epochs),
            "gain_per_seed_units": [str(g) for g in gains],
            "gain_standard_error_units": str(int(se)),
        }
        summary = (
            f"its own tasks cost {fees / COR:,.2f} COR of fees and brought back {back / COR:,.2f} COR "
            f"({'n/a' if per_fee is None else f'{per_fee:+.3f}'} COR per COR of fees); income against the honest twin "
            f"{sum(gains) / epochs / COR:+,.1f} COR per epoch ({'n/a' if gain is None else f'{gain * 100:+.2f} %'}, "
            f"standard error {se / COR:,.1f} COR per seed)"
        )
        return Verdict(gain, passed, measured, summary)


class WashTrading(WashFamily):
    name = "wash_trading"
    title = "Wash trading: fees paid to one's own miners"
    description = (
        "an attacker runs 3 of 10 miners, registers its own model claiming 70 B parameters at q2_k that only its miners serve, and "
        "pays one user task per epoch on it declaring 15 624 input tokens (measured at the defaults before emission was tied to "
        "verified work: +24 027 COR per epoch against the honest twin, 69 025 COR back per COR of fees)"
    )


class ModelTierFarming(WashFamily):
    name = "model_tier_farming"
    title = "Model tier farming: a model card claiming the largest tier"
    description = (
        "an attacker registers a model claiming 70 B parameters (the largest work tier, 64×) at q2_k (half price); its 3 miners "
        "serve it beside the common model and it pays 5 user tasks per epoch on it with honest sizes (measured before: +21 795 COR "
        "per epoch, 31 143 COR back per COR of fees)"
    )
    defaults_override = {"declared_input_tokens": 0, "serve": "both", "tasks_per_epoch": 5}


class DeclaredTokens(WashFamily):
    name = "declared_tokens"
    title = "Declared tokens: a user task's size taken on its word"
    description = (
        "an attacker registers a model with an honest card (135 M parameters, q8_0: the common model's tier) that its 3 miners serve "
        "beside the common model, and pays 5 user tasks per epoch on it declaring 15 624 input tokens for prompts of 8-200 tokens "
        "(measured before: +22 517 COR per epoch, 13 077 COR back per COR of fees)"
    )
    defaults_override = {"parameter_count_m": 135, "quantization": "q8_0", "serve": "both", "tasks_per_epoch": 5}


FAMILIES = (WashTrading(), ModelTierFarming(), DeclaredTokens())
