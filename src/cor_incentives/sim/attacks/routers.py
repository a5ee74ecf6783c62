"""Self-routing: a user that names its own router on its tasks (docs/rewards.md, "Task fees": the router's part).

self_router  A user task pays ``fee_split_bps.router`` (5 %) of its price to the router it names, which must be an
             active router node. The attacker runs one (``own-router-00``, 1 000 COR, operator ``attacker``) and,
             with ``own_miners`` "yes" (default), 3 of the 10 miners (``miner-07..09``): a wash trader. Its
             wallet (``attacker:user``) opens a session and pays ``tasks_per_epoch`` user tasks an epoch on the
             common model, naming its own router; the twin is the same world (the same router node, miners,
             wallet and tasks) naming the population's router ``router-00`` instead. Draws come from the
             beacon, so both worlds draw the same miners and validators and the tasks settle alike.

             Measured per seed: the attacker's income (its nodes' payout less costs, less the fees its wallet
             paid), the fees its tasks paid, what came back to it from them (fee lines to its router and
             miners, and the user-task bonus its miners earned on them: ``miner_work:node`` bonus rows), and
             the router's part of each price (price × router bps // 10 000).

                 gain   = Σ (income − twin income) ÷ Σ fees paid     (the discount, as a share of the fees)
                 passed = income − twin income = Σ the router parts of its tasks, exactly, in every seed (a plain
                          discount: nothing else follows from naming oneself), the same tasks settled at the
                          same prices with the same bonus in both worlds, and its own tasks bring back less than
                          they cost (fees back + bonus < fees paid)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.epoch_document import bonus_rows_of
from ...core.streams import TASK_FEE_PREFIX, LinePart, Stream, line
from ...core.units import COR
from ..runner import MODEL_ID, RunResult
from ..scenarios import ROUTER, NodeGroup, Scenario, miners, validators
from ..script import ActorScript, TaskSpec
from .base import Family, Knob, Knobs, Verdict
from .common import actor, final_state, made, node
from .wash import own_bonus, user_task

if TYPE_CHECKING:
    from ..runner import World

OPERATOR = "attacker"
OWN_ROUTER = "own-router-00"
THIRD_PARTY_ROUTER = "router-00"


class SelfRouterScript(ActorScript):
    """The attacker's wallet: a session and its tasks, naming its own router (the twin: the population's)."""

    def __init__(self, k: Knobs, twin: bool) -> None:
        super().__init__()
        self.k, self.twin = k, twin
        self.wallet = actor("user")
        self.router = node(THIRD_PARTY_ROUTER if twin else OWN_ROUTER)
        self.world: World | None = None
        self.session = 0

    def allocations(self) -> dict[str, int]:
        return {self.wallet: int(self.k["deposit_cor"]) * COR + 1_000 * COR}

    # The wallet is a user, not listed in ``actors`` (see wash.WashScript: a user's statement does not reconcile with
    # its wallet the way a node's does); the router node is a node of the scenario, reconciled each epoch.

    def setup(self, world: World) -> None:
        self.world = world
        if self.send(world, self.wallet, "session.open", {"deposit": str(int(self.k["deposit_cor"]) * COR)}, "session.open"):
            self.session = max(world.state.sessions)

    def tasks(self, world: World, epoch: int, round_: int) -> list[TaskSpec]:
        if not self.session:
            return []
        out: list[TaskSpec] = []
        for slot in range(round_, int(self.k["tasks_per_epoch"]), world.s.rounds_per_epoch):
            key = f"{epoch}:self-routed:{slot}"
            out.append(
                user_task(world, self.wallet, self.session, MODEL_ID, "self-routed", key, int(self.k["max_output_tokens"]), router=self.router)
            )
        return out


class SelfRouter(Family):
    name = "self_router"
    title = "Self-routing: naming one's own router is a plain fee discount"
    criterion = (
        "naming its own router gains the attacker exactly the router's part of its tasks' prices (no bonus, emission or other "
        "line moves), and its own tasks still bring back less than they cost"
    )
    description = (
        "a user that runs a router node (1 000 COR) and 3 of the 10 miners pays 5 user tasks an epoch naming its own router; the "
        "twin names the population's router (the router's part is fee_split_bps.router = 5 % of each price)"
    )
    gain_unit = "the attacker's income − the twin's, ÷ the fees it paid (the discount rate)"
    knobs = (
        Knob("tasks_per_epoch", 5, "user tasks the attacker pays per epoch", 1, 200),
        Knob("own_miners", "yes", "the attacker also runs miner-07..09 (a wash trader)", choices=("yes", "no")),
        Knob("max_output_tokens", 64, "max_output_tokens of each task", 1, 2_048),
        Knob("deposit_cor", 1_000, "COR the attacker deposits in its session", 1, 1_000_000),
        Knob("epochs", 10, "epochs run", 1, 30),
    )

    def scenario(self, k: Knobs, twin: bool) -> Scenario:
        pool = miners(("honest", 7)) + (NodeGroup("miner", "honest", 3, ("2000",), operator=OPERATOR),)
        if k["own_miners"] != "yes":
            pool = miners(("honest", 10))
        own_router = NodeGroup("router", "honest", 1, ("1000",), prefix="own-router", operator=OPERATOR)
        return Scenario(self.world_name(twin), pool + validators() + ROUTER + (own_router,), seeds=(1,), epochs=int(k["epochs"]))

    def script(self, k: Knobs, twin: bool) -> ActorScript:
        return SelfRouterScript(k, twin)

    def measure(self, k: Knobs, result: RunResult, script: ActorScript, twin: bool) -> dict[str, Any]:
        script = made(script, SelfRouterScript)
        state, me = final_state(script), script.wallet
        ours = [n for n in result.nodes.values() if n.operator == OPERATOR]
        mine = {n.address for n in ours}
        own_router = node(OWN_ROUTER)
        out = {"nodes_net": sum(ep[n.name].net for ep in result.epochs for n in ours), "fees_paid": 0, "router_part": 0, "miner_part": 0}
        out |= {"router_back": 0, "own_task_fees": 0, "own_task_bonus": 0, "own_router_apr": 0, "tasks": 0, "settled": 0, "router_bps_of_price": 0}
        own_tasks = [t for t in state.tasks.values() if t.user == me]
        out["prices"] = [t.charged for t in sorted(own_tasks, key=lambda t: t.id)]
        for t in own_tasks:
            out["tasks"] += 1
            out["settled"] += t.state == "SETTLED"
            out["router_part"] += t.split.get("router", 0)
            out["router_bps_of_price"] += t.charged * state.params.fee_split_bps["router"] // 10_000
            out["miner_part"] += sum(a.paid for a in t.miners if a.miner in mine)
        for e, record in sorted(state.epochs.items()):
            own = {t.id for t in own_tasks if t.created_epoch == e}
            for item in record.items:
                s = item.stream
                if item.address == me and s == Stream.TASK_PAYMENT:
                    out["fees_paid"] -= item.amount
                if item.address in mine and s.startswith(TASK_FEE_PREFIX) and item.detail.get("task") in own:
                    out["own_task_fees"] += item.amount
                    out["router_back"] += item.amount if s == Stream.TASK_FEE_ROUTER else 0
                if item.address in mine and s == line(Stream.MINER_WORK, LinePart.NODE):
                    out["own_task_bonus"] += own_bonus(item.detail["inputs"], bonus_rows_of(record.streams, item), own)
                if item.address == own_router and s.startswith(Stream.STAKING_APR):
                    out["own_router_apr"] += item.amount
        out["income"] = out["nodes_net"] - out["fees_paid"]
        return out

    def judge(self, k: Knobs, attack: list[dict[str, Any]], twin: list[dict[str, Any]]) -> Verdict:
        gains = [a["income"] - t["income"] for a, t in zip(attack, twin)]
        fees = sum(a["fees_paid"] for a in attack)
        router = sum(a["router_part"] for a in attack)
        back = sum(a["own_task_fees"] + a["own_task_bonus"] for a in attack)
        twin_back = sum(t["own_task_fees"] + t["own_task_bonus"] for t in twin)
        plain = all(g == a["router_part"] for g, a in zip(gains, attack))
        same_tasks = all(a["prices"] == t["prices"] and a["own_task_bonus"] == t["own_task_bonus"] for a, t in zip(attack, twin))
        settled = sum(a["settled"] for a in attack)
        gain = sum(gains) / fees if fees else None
        passed = settled > 0 and plain and same_tasks and back < fees
        measured = {
            "tasks": sum(a["tasks"] for a in attack),
            "settled": settled,
            "fees_paid": str(fees),
            "twin_fees_paid": str(sum(t["fees_paid"] for t in twin)),
            "router_part": str(router),
            "router_bps_of_price": str(sum(a["router_bps_of_price"] for a in attack)),
            "router_back": str(sum(a["router_back"] for a in attack)),
            "twin_router_back": str(sum(t["router_back"] for t in twin)),
            "own_task_fees": str(sum(a["own_task_fees"] for a in attack)),
            "twin_own_task_fees": str(sum(t["own_task_fees"] for t in twin)),
            "own_task_bonus": str(sum(a["own_task_bonus"] for a in attack)),
            "twin_own_task_bonus": str(sum(t["own_task_bonus"] for t in twin)),
            "own_miner_fee_share": str(sum(a["miner_part"] for a in attack)),
            "return_per_cor_of_fees": None if not fees else round((back - fees) / fees, 6),
            "twin_return_per_cor_of_fees": None if not fees else round((twin_back - fees) / fees, 6),
            "gain_per_seed_units": [str(g) for g in gains],
            "router_part_per_seed_units": [str(a["router_part"]) for a in attack],
            "gain_is_the_router_part": plain,
            "same_prices_and_bonus": same_tasks,
            "own_router_apr": str(sum(a["own_router_apr"] for a in attack)),
        }
        summary = (
            f"its {settled} settled tasks cost {fees / COR:,.4f} COR; naming its own router brought back "
            f"{sum(a['router_back'] for a in attack) / COR:,.4f} COR ({'n/a' if gain is None else f'{gain * 100:.2f} %'} of the fees), "
            f"{'exactly' if plain else 'NOT exactly'} the router's part; bonus on its tasks {sum(a['own_task_bonus'] for a in attack) / COR:,.6f} "
            f"COR in both worlds{'' if same_tasks else ' (NOT the same)'}; return per COR of fees "
            f"{measured['return_per_cor_of_fees']} (twin {measured['twin_return_per_cor_of_fees']})"
        )
        return Verdict(gain, passed, measured, summary)


FAMILIES = (SelfRouter(),)
