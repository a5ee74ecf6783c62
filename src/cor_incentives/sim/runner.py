"""Run one scenario for one seed through the real core and measure every node, epoch by epoch.

What happens (all as events applied by ``core.apply``, nothing recomputed here)
    1. genesis (devnet pools and treasury, a wallet per node with its stake plus a 1 000 COR buffer),
       a tiny model, ``node.register`` for every node, one user session with a deposit;
    2. per epoch, ``rounds_per_epoch`` rounds at evenly spaced ticks; in each round: jailed nodes whose
       strategy does so top up their bond and ``node.unjail`` once the cooldown is over; the round's
       user tasks (``task.submit`` through the router) and network tasks (``task.network``) are
       issued, each with the oracle's canary commitment (a user task's from rule 17, ``task.canary_commit`` right after
       its submission; ``canary_rate`` of them plant ``env.canary_output``); then every assigned node acts by its
       strategy — precommit, reveal, validate — and when nobody can act the oracle ticks, so deadlines move tasks with
       silent nodes on; a round's tasks finish in their epoch (asserted). Only a script's closing tasks
       (``ActorScript.across_close``), issued a few ticks before the close, may cross it: driven until the tick before
       the close, those still open are finished with the next epoch's first round and counted there;
    3. ``epoch.close``; the epoch's statement items (``EpochRecord.items``: fees, network rewards,
       staking APR, slashes) are summed per node, with the off-chain costs the runner tracked.

Payout (``env.payout = "evm"``)
    After each close the oracle logs ``bridge.post`` for the epoch and posts it to ``SimDistributor``
    (a model of the RewardsDistributor contract); every node then claims its leaf there once. A
    ``claims_every_path`` miner first re-claims in the engine every epoch already posted (refused:
    else this epoch's claimable would pay an old leaf twice); in even epochs it claims in the engine
    right after the close (allowed: the epoch is not posted yet, and the post marks the leaf claimed
    on chain); after the post it claims on chain, then once more on each path (refused). Per node:
    ``leaves`` (its leaves), ``received`` (what claims actually paid it), ``claims_refused``.

Checked after every epoch
    conservation (``conservation_holds``: Σ balances = supply, none negative), and that each node's
    statement reconciles with the ledger: the change of its holdings (wallet, bond, claimable,
    unbonding, and with ``evm`` payouts its tokens and unclaimed leaves at the distributor) over the
    epoch equals the sum of its statement items.

Determinism: all randomness is ``strategies.derive(seed, ...)``; the engine's own selection is
seeded by the simulated oracle's beacon (by the log head for a scenario with ``beacon = false``).
The same scenario and seed give the same log head hash and the same numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..app.prompts import estimate_tokens, genesis_prompt_set, load_prompt_set
from ..core.apply import conservation_holds
from ..core.errors import EngineError, InvariantViolation, invariant
from ..core.ledger import account_owner
from ..core.merkle import build_tree
from ..core.network_prompts import composed_prompt, composes_prompts
from ..core.records import CLOSED_TASK_STATES, PRECOMMIT_WINDOW, Task, TaskKind, TaskState
from ..core.rules import RULES_USER_CANARIES, rules_since
from ..core.state import State
from ..core.streams import TASK_FEE_PREFIX, Stream
from ..core.tasks import commitment
from ..core.units import COR, PPB
from ..core.validation import canary_commitment, report_commitment
from .chain import SimChain, addr
from .distributor import SIM_DISTRIBUTOR, SIM_EVM_CHAIN_ID, Revert, SimDistributor
from .scenarios import Scenario
from .script import ActorScript
from .strategies import (
    MINER_STRATEGIES,
    VALIDATOR_STRATEGIES,
    MinerContext,
    MinerPlan,
    Output,
    TaskInfo,
    ValidatorContext,
    derive,
    garbage_output,
    offtopic_output,
    sha,
    to_ppb,
    true_measures,
)

MODEL_ID = "sim-tiny-135m"
TRUE_TIER_WEIGHT = 1  # what one token of simulated inference really costs in work units (the tiny tier), whatever a card claims
MODEL_BODY = {
    "id": MODEL_ID,
    "parameter_count": 135_000_000,
    "quantization": "q8_0",
    "context_length": 2048,
    "license": "apache-2.0",
    "content_hash": sha("sim-tiny-135m weights"),
}
POOLS = {"pool:network_incentives": 250_000_000 * COR, "pool:staking": 100_000_000 * COR, "treasury": 150_000_000 * COR}
WALLET_BUFFER = 1_000 * COR  # each operator's spare COR (to restore a slashed bond before unjail)
USER_DEPOSIT = 5_000 * COR
MAX_STEPS_PER_ROUND = 10_000
HISTORY_LIMIT = 500


@dataclass(frozen=True)
class Planted:
    """A canary's planted output and the assigned miner the oracle told to reveal it ("" until drawn)."""

    output: Output
    slot: str


@dataclass(frozen=True)
class NodeInfo:
    name: str
    address: str
    role: str
    strategy: str
    coalition: str
    operator: str
    stake_units: int


class Earnings:
    """What a node's credits add up to, for ``NodeEpoch`` and the sums of them (``checks.Totals``)."""

    fees: int
    network: int
    staking: int
    other: int

    @property
    def work_earnings(self) -> int:
        """Pay for work: task fees and the work emission."""
        return self.fees + self.network

    @property
    def earnings(self) -> int:
        """Everything credited: work pay, staking APR and the rest."""
        return self.fees + self.network + self.staking + self.other


@dataclass
class NodeEpoch(Earnings):
    """One node's measurements over one epoch (money in base units)."""

    assigned: int = 0  # miners: task assignments; validators: validation assignments
    served: int = 0  # miners: outputs revealed; validators: reports submitted
    in_consensus: int = 0  # miners only
    work_offered: int = 0  # true useful work done, ppb-scaled: miners Σ complexity units × true quality; validators 10**9 per report
    network_work: int = 0  # the part of work_offered done on network tasks (the work emission pays for)
    planted: int = 0  # miners: seats filled with a canary's planted output, as the oracle told it (not in assigned)
    planted_work: int = 0  # miners, from rule 18: a paid planter's seat credited as its task's typical work (below)
    planted_network_work: int = 0  # the part of planted_work on network tasks
    fees: int = 0  # task_fee:* (paid at settlement)
    network: int = 0  # miner_work / validator_work (emission, through commission and stake)
    staking: int = 0  # staking_apr
    other: int = 0  # anything else credited (e.g. stake_reward harvested on a stake change)
    slashes: int = 0  # stake lost to slashing
    slash_count: int = 0
    costs: int = 0  # off-chain: inference, validation, running the node
    reputation_ppb: int = 0
    jailed: bool = False
    leaves: int = 0  # with env.payout "evm": the node's claimable leaves of this epoch ...
    received: int = 0  # ... what claims paid it for them (engine wallet or distributor tokens) ...
    claims_refused: int = 0  # ... and claims the engine or the distributor refused
    canaries_failed: int = 0  # validators: canaries whose planted output its report let pass
    evaluated: int = 0  # validators: reports it evaluated (ran the model for, paying validation_cost_units)

    @property
    def net(self) -> int:
        return self.earnings - self.slashes - self.costs


@dataclass
class EpochTasks:
    submitted: int = 0
    rejected: int = 0
    settled: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    captured: dict[str, int] = field(default_factory=dict)  # coalition -> tasks where it held ≥ half the reporting stake
    canaries: int = 0  # tasks that carried a planted output (opened by the oracle): network tasks, and from rule 17 user tasks
    escalated: int = 0  # tasks that drew more validators because reports dissented
    validations: int = 0  # validators drawn, over all rounds
    network_prompt_repeats: int = 0  # network tasks asking a prompt an earlier network task of the run asked


@dataclass
class RunResult:
    scenario: str
    seed: int
    nodes: dict[str, NodeInfo]
    epochs: list[dict[str, NodeEpoch]]
    tasks: list[EpochTasks]
    conservation_errors: list[str]
    reconcile_errors: list[str]
    events: int
    head_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "nodes": {k: asdict(v) for k, v in self.nodes.items()},
            "epochs": [{k: asdict(v) for k, v in e.items()} for e in self.epochs],
            "tasks": [asdict(t) for t in self.tasks],
            "conservation_errors": self.conservation_errors,
            "reconcile_errors": self.reconcile_errors,
            "events": self.events,
            "head_hash": self.head_hash,
        }


def run(scenario: Scenario, seed: int, *, check_each_event: bool = False, script: ActorScript | None = None) -> RunResult:
    """Run ``scenario`` with ``seed`` through the core; measure every node in every epoch.

    ``script``: an actor script (``sim/script.py``) acting next to the node strategies.
    """
    world = World(scenario, seed, check_each_event, script=script)
    for e in range(scenario.epochs):
        world.run_epoch(e)
    return world.result()


class World:
    """The simulated network: the chain, the nodes' strategies, and the environment's knowledge."""

    def __init__(
        self, scenario: Scenario, seed: int, check_each_event: bool = False, keep_events: bool = False, script: ActorScript | None = None
    ) -> None:
        self.s = scenario
        self.seed = seed
        self.env = scenario.env
        self.script = script
        self.nodes = {
            name: NodeInfo(name, addr(name), g.role, g.strategy, g.coalition, g.operator or name, g.stake_units(i))
            for name, g, i in scenario.node_names()
        }
        self.options = {addr(name): g.options for name, g, _ in scenario.node_names()}
        self.name_of = {n.address: n.name for n in self.nodes.values()}
        self.late = {addr(name) for name, g, _ in scenario.node_names() if g.options.get("late")}  # registered by the script
        self.coalition_of = {n.address: n.coalition for n in self.nodes.values()}
        self.user, self.dev = addr("user"), addr("modeldev")
        self.router = next((n.address for n in self.nodes.values() if n.role == "router"), None)
        self.prompts = load_prompt_set() if self.env.network_prompts == "bundled" else ()
        self.chain = SimChain(
            self._allocations(),
            dict(scenario.params),
            check_each=check_each_event,
            keep_events=keep_events,
            beacon=scenario.beacon,
            network_prompts=genesis_prompt_set(self.prompts) if self.prompts else None,
        )
        self.distributor = SimDistributor() if self.env.payout == "evm" else None
        self.network_prompts_asked: set[str] = set()
        self.carried: list[int] = []  # the script's closing tasks still open at the close: finished in the next epoch's first round
        self.plans: dict[int, dict[str, MinerPlan | None]] = defaultdict(dict)
        self.revealed: dict[int, dict[str, Output]] = defaultdict(dict)
        self.attempted: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self.truth: dict[int, dict[str, tuple[float, float]]] = {}
        self.report_plans: dict[int, dict[str, tuple[list[dict[str, Any]], str, dict[str, int]]]] = defaultdict(dict)
        self.pending_canary: dict[str, tuple[Output | None, str]] = {}
        self.canary_secrets: dict[int, tuple[str | None, str]] = {}  # task -> (planted output hash or None, salt)
        self.canaries: dict[int, Planted] = {}  # canary tasks: the planted output and the miner told to reveal it
        self.plant_asks: list[tuple[int, str]] = []  # (task, miner) every instruction to plant, obeyed or not (attack plant_refusal)
        self.info: dict[int, TaskInfo] = {}
        self.public_answers: dict[str, Output] = {}
        self.published_first_parts: set[str] = set()  # base prompts asked first in a settled composed task with a published honest answer
        self.history: list[tuple[int, int]] = []
        self.costs: Counter[str] = Counter()
        self.epochs: list[dict[str, NodeEpoch]] = []
        self.tasks: list[EpochTasks] = []
        self.conservation_errors: list[str] = []
        self.reconcile_errors: list[str] = []
        self._setup()

    @property
    def state(self) -> State:
        return self.chain.state

    # --- set-up ------------------------------------------------------------------------------

    def _allocations(self) -> dict[str, int]:
        out = {f"wallet:{n.address}": n.stake_units + WALLET_BUFFER for n in self.nodes.values()}
        out[f"wallet:{self.user}"] = USER_DEPOSIT + WALLET_BUFFER
        out[f"wallet:{self.dev}"] = WALLET_BUFFER
        if self.script is not None:
            for a, units in self.script.allocations().items():
                out[f"wallet:{a}"] = out.get(f"wallet:{a}", 0) + units
        return {**out, **POOLS}

    def _setup(self) -> None:
        self.chain.submit(self.dev, "model.register", dict(MODEL_BODY))
        for n in self.nodes.values():
            if n.address not in self.late:
                self.chain.submit(n.address, "node.register", self.register_body(n.name))
        self.chain.submit(self.user, "session.open", {"deposit": str(USER_DEPOSIT)})
        self.session = max(self.state.sessions)
        if self.script is not None:
            self.script.setup(self)

    def add_node(self, name: str, address: str, role: str, stake_units: int, strategy: str = "honest", register: bool = True) -> None:
        """A node a script brings (e.g. one with a real signing key): known to the world from now on, registered unless told not to.

        Call it from the script's ``setup``; its wallet must come from the script's ``allocations`` and
        its address be one of the script's ``actors`` (so the books see it from genesis).
        """
        invariant(name not in self.nodes and address not in self.name_of, f"node {name} exists")
        self.nodes[name] = NodeInfo(name, address, role, strategy, "", name, stake_units)
        self.options[address] = {}
        self.name_of[address] = name
        self.coalition_of[address] = ""
        if hasattr(self, "stats"):
            self.stats[name] = NodeEpoch()
        if register:
            self.chain.submit(address, "node.register", self.register_body(name))

    def register_body(self, name: str) -> dict[str, Any]:
        """The ``node.register`` body of node ``name`` (its role, self-bond and the model)."""
        n = self.nodes[name]
        body: dict[str, Any] = {"role": n.role, "self_bond": str(n.stake_units)}
        if n.role == "miner":
            body["models"] = list(self.options[n.address].get("models", [MODEL_ID]))
        return body

    # --- one epoch ---------------------------------------------------------------------------

    def run_epoch(self, e: int) -> None:
        invariant(self.state.epoch == e, f"simulation expected epoch {e}, the engine is at {self.state.epoch}")
        before = self._holdings()
        stats = {name: NodeEpoch() for name in self.nodes}
        counts = EpochTasks()
        p = self.state.params
        round_ticks = p.epoch_length_ticks // self.s.rounds_per_epoch
        start = self.state.epoch_start_tick
        self.costs = Counter()
        self.stats = stats
        carried, self.carried = self.carried, []
        for r in range(self.s.rounds_per_epoch):
            self._advance_to(start + r * round_ticks)
            self._unjail_ready()
            tids = (carried if r == 0 else []) + self._issue_round(e, r, counts)
            if self.script is not None:
                tids += self.script.issue(self, e, r)
            self._drive(tids)
            self._collect_tasks(tids, stats, counts)
            invariant(self.state.epoch == e, "a round crossed an epoch boundary")
        if self.script is not None:
            self._closing_tasks(e, start + p.epoch_length_ticks, counts, stats)
            self._advance_to(start + p.epoch_length_ticks - 1)
        self.chain.oracle("epoch.close", {})
        if self.distributor is not None:
            self._pay_on_chain(e, stats)
        self._collect_money(e, stats)
        self._check_books(e, before)
        self.epochs.append(stats)
        self.tasks.append(counts)
        if self.script is not None:
            self.script.after_close(self, e)

    def _closing_tasks(self, e: int, close: int, counts: EpochTasks, stats: dict[str, NodeEpoch]) -> None:
        """The script's tasks issued in the last ticks of the epoch (``ActorScript.across_close``): driven until the tick
        before the close; those still open there cross it (``epoch.close`` runs their deadlines and the draws waiting for
        the beacon in the next epoch) and finish with the next epoch's first round, where they are counted (if the rounds
        ran past ``close − ahead``, they are issued at once). The only tasks whose life may cross a close: every round's
        tasks still finish in their epoch."""
        if self.script is None or e == self.s.epochs - 1:  # the last epoch: no next one to finish them in
            return
        ahead, specs = self.script.across_close(self, e)
        if not specs:
            return
        length = self.state.params.epoch_length_ticks
        invariant(1 <= ahead < length, f"closing tasks are issued 1 to {length - 1} ticks before the close, not {ahead}")
        self._advance_to(close - ahead)
        tids = [t for spec in specs for t in self._issue(spec, counts)]
        self.carried = self._drive(tids, stop=close - 1)
        self._collect_tasks([t for t in tids if t not in self.carried], stats, counts)
        invariant(self.state.epoch == e, "closing tasks were driven past the close")

    def _advance_to(self, tick: int) -> None:
        """Move the clock to ``tick``, stopping wherever the script wants to act."""
        self._script_acts()
        while self.state.tick < tick:
            due = self.script.next_tick(self) if self.script is not None else None
            stop = tick if due is None or due <= self.state.tick or due > tick else due
            self.chain.oracle("tick", {"ticks": stop - self.state.tick})
            self._script_acts()

    def _script_acts(self) -> None:
        if self.script is None:
            return
        due = self.script.next_tick(self)
        if due is not None and due <= self.state.tick:
            self.script.act(self)

    def _unjail_ready(self) -> None:
        for n in self.nodes.values():
            node = self.state.nodes.get(n.address)
            if node is None or not node.jailed or self.state.tick < (node.jailed_until_tick or 0):
                continue
            if self.script is not None and self.script.keeps_jailed(n.address):
                continue
            strategy = MINER_STRATEGIES.get(n.strategy) if n.role == "miner" else VALIDATOR_STRATEGIES.get(n.strategy)
            if strategy is not None and not strategy.unjails:
                continue
            need = self.state.params.min_self_bond(n.role) - self.chain.balance(f"bonded:{n.address}")
            try:
                if need > 0:
                    self.chain.submit(n.address, "stake.bond", {"amount": str(need)})
                self.chain.submit(n.address, "node.unjail", {})
            except EngineError:
                continue  # cannot restore the bond: stays jailed

    # --- issuing tasks -----------------------------------------------------------------------

    def _issue_round(self, e: int, r: int, counts: EpochTasks) -> list[int]:
        rounds = self.s.rounds_per_epoch
        tids = []
        for slot in range(r, self.s.user_tasks_per_epoch, rounds):
            tids += self._issue(self._user_task(e, slot), counts)
        for slot in range(r, self.s.network_tasks_per_epoch, rounds):
            tids += self._issue(self._network_task(e, slot), counts)
        if self.script is not None:
            for spec in self.script.tasks(self, e, r):
                tids += self._issue(spec, counts)
        return tids

    def _user_task(self, e: int, slot: int) -> tuple[TaskInfo, str, str, dict[str, Any]]:
        key = f"{e}:user:{slot}"
        rng = derive(self.seed, "user-task", key)
        prompt_id = f"user|{self.seed}|{key}"
        max_out = self.env.user_max_output_tokens
        prompt_bytes = rng.randint(20, 2000)
        input_tokens = rng.randint(*self.env.user_input_tokens)
        body = {
            "session": self.session,
            "model": MODEL_ID,
            "prompt_hash": sha(prompt_id),
            "prompt_bytes": prompt_bytes,
            "input_tokens": input_tokens,
            "max_output_tokens": max_out,
        }
        if self.router:
            body["router"] = self.router
        return TaskInfo(key, 0, "user", prompt_id, max_out, input_tokens), self.user, "task.submit", body

    def _network_task(self, e: int, slot: int) -> tuple[TaskInfo, str, str, dict[str, Any]]:
        key = f"{e}:network:{slot}"
        first = ""
        if composes_prompts(self.state):  # rule 9: the beacon composes it from the genesis set; the oracle only issues it
            c = composed_prompt(self.state)
            # equal for a copier: the same parts in any order (an answer to (B, A) lies within PoI of one to (A, B))
            prompt_id, text, max_out = "+".join(sorted(c.parts)), c.text, c.max_output_tokens
            first = c.parts[0]
        elif self.prompts:  # rules 1-8: the oracle names a prompt of the set
            pr = derive(self.seed, "network-prompt", key).choice(self.prompts)
            prompt_id, text, max_out = pr["id"], pr["prompt"], pr["max_output_tokens"]
        else:
            prompt_id, max_out = f"network|{self.seed}|{key}", 128
            text = prompt_id
        info = TaskInfo(key, 0, "network", prompt_id, max_out, estimate_tokens(text), first_part=first)
        # the oracle's canary: a planted output (or none), committed to before anyone sees the task
        canaries = self.state.beacon is not None  # the first rules (no beacon) have no canaries
        planted = self._plant(info) if canaries else None
        salt = f"c{self.seed}-{key}"
        body = {
            "model": MODEL_ID,
            "prompt_hash": sha(text),
            "prompt_bytes": len(text.encode()),
            "input_tokens": info.input_tokens,
            "max_output_tokens": max_out,
            **({"canary": canary_commitment(sha(text), planted.hash if planted else None, salt)} if canaries else {}),
        }
        if canaries:
            self.pending_canary[key] = (planted, salt)
        return info, self.chain.state.oracle, "task.network", body

    def _plant(self, info: TaskInfo) -> Output | None:
        """The oracle's policy: with ``canary_rate`` a task is a canary, planting ``canary_output`` (a fluent off-topic answer
        by default; "garbage", word salad, measures the old policy)."""
        if derive(self.seed, "canary", info.key).random() >= self.env.canary_rate:
            return None
        return (offtopic_output if self.env.canary_output == "offtopic" else garbage_output)(self.env, self.seed, info, "oracle")

    def _commit_user_canary(self, tid: int, info: TaskInfo) -> None:
        """From rule 17 the oracle commits on every user task (``task.canary_commit``), at once: a user task without a
        commitment would be a known non-canary. It plants with ``canary_rate``, like on a network task."""
        if self.state.beacon is None or not rules_since(self.state.params, RULES_USER_CANARIES):
            return
        task = self.chain.task(tid)
        if task.kind != TaskKind.USER or task.canary_commit is not None:
            return
        planted = self._plant(info)
        salt = f"u{self.seed}-{info.key}"
        try:
            self.chain.oracle(
                "task.canary_commit", {"task": tid, "canary": canary_commitment(task.prompt_hash, planted.hash if planted else None, salt)}
            )
        except EngineError:
            return  # a script's task already past its commit window: no commitment
        self.canary_secrets[tid] = (planted.hash if planted else None, salt)
        if planted is not None:
            self.canaries[tid] = Planted(planted, "")

    def _issue(self, spec: tuple[TaskInfo, str, str, dict[str, Any]], counts: EpochTasks) -> list[int]:
        info, actor, kind, body = spec
        tid = self.state.next_id
        counts.submitted += 1
        try:
            self.chain.submit(actor, kind, body)
        except EngineError as exc:
            counts.rejected += 1
            counts.rejections[exc.code] = counts.rejections.get(exc.code, 0) + 1
            return []
        self.info[tid] = replace(info, task_id=tid)
        if info.kind == "network":
            counts.network_prompt_repeats += info.prompt_id in self.network_prompts_asked
            self.network_prompts_asked.add(info.prompt_id)
        if info.key in self.pending_canary:
            planted, salt = self.pending_canary.pop(info.key)
            self.canary_secrets[tid] = (planted.hash if planted else None, salt)
            if planted is not None:
                self.canaries[tid] = Planted(planted, "")
        self._commit_user_canary(tid, self.info[tid])
        return [tid]

    def adopt(self, tid: int, key: str, kind: str, prompt_id: str, max_output_tokens: int, input_tokens: int = 0) -> None:
        """A task a script submitted: the world drives it (its nodes act by their strategies) and counts it."""
        self.info[tid] = TaskInfo(key, tid, kind, prompt_id, max_output_tokens, input_tokens)
        self._commit_user_canary(tid, self.info[tid])

    # --- nodes acting ------------------------------------------------------------------------

    def _drive(self, tids: list[int], stop: int | None = None) -> list[int]:
        """Let every node act on ``tids`` (the oracle ticks when nobody can) until all are closed; with ``stop``, only
        until the clock reaches that tick with nothing left to do there: the tasks still open then."""
        for _ in range(MAX_STEPS_PER_ROUND):
            acted = False
            for tid in tids:
                acted = self._step(self.chain.task(tid)) or acted
            if all(self.chain.task(t).state in CLOSED_TASK_STATES for t in tids):
                return []
            if not acted:
                if stop is not None and self.state.tick >= stop:
                    return [t for t in tids if self.chain.task(t).state not in CLOSED_TASK_STATES]
                self.chain.oracle("tick", {"ticks": 1})
                self._script_acts()
        raise InvariantViolation(f"round did not finish within {MAX_STEPS_PER_ROUND} steps")

    def _step(self, task: Task) -> bool:
        if task.state in PRECOMMIT_WINDOW:
            return self._precommits(task)
        if task.state == TaskState.PRECOMMITTED:
            return self._reveals(task)
        if task.state == TaskState.COMMITTED:
            return self._report_commits(task)
        if task.state == TaskState.REPORTING:
            return self._report_reveals(task)
        if task.state == TaskState.AUDITING:
            return self._open_canary(task)
        return False

    def _salt(self, tid: int) -> str:
        return f"s{self.seed}-{tid}"

    def _precommits(self, task: Task) -> bool:
        acted = False
        for a in sorted(task.miners, key=lambda a: a.miner):
            if a.commit is not None or a.miner in self.plans[task.id]:
                continue
            n = self.nodes[self.name_of[a.miner]]
            ctx = MinerContext(
                self.env, self.seed, self.info[task.id], a.miner, self.options[a.miner], self.public_answers, self.published_first_parts
            )
            override = self.script.plan(self, ctx) if self.script is not None else None
            plan = override.plan if override is not None else MINER_STRATEGIES[n.strategy].plan(ctx)
            planted = self._planted_slot(task)
            if plan is not None and planted is not None and planted.slot == a.miner and self.options[a.miner].get("plant") != "refuse":
                plan = MinerPlan(planted.output, planted.output, 0)  # the oracle's instruction: reveal its output (option plant=refuse: ignore it)
            self.plans[task.id][a.miner] = plan
            if plan is None:
                continue
            self.costs[a.miner] += plan.cost_units
            self.chain.submit(
                a.miner, "task.precommit", {"task": task.id, "commit": commitment(task.id, a.miner, plan.commit.hash, self._salt(task.id))}
            )
            acted = True
        return acted

    def _planted_slot(self, task: Task) -> Planted | None:
        """A canary's planting miner: one of the assigned miners, drawn by the oracle once they are known."""
        planted = self.canaries.get(task.id)
        if planted is not None and not planted.slot:
            slot = derive(self.seed, "plant", self.info[task.id].key).choice(sorted(a.miner for a in task.miners))
            planted = self.canaries[task.id] = Planted(planted.output, slot)
            self.plant_asks.append((task.id, slot))
        return planted

    def _reveals(self, task: Task) -> bool:
        acted = False
        for a in sorted(task.miners, key=lambda a: self._reveal_order(task, a.miner)):
            if task.state != TaskState.PRECOMMITTED:
                break
            if a.commit is None or a.reveal_tick is not None or ("reveal", a.miner) in self.attempted[task.id]:
                continue
            self.attempted[task.id].add(("reveal", a.miner))
            plan = self.plans[task.id].get(a.miner)
            if plan is None or plan.reveal is None:
                continue
            out = plan.reveal
            if plan.copy_at_reveal:
                shown = [self.revealed[task.id][b.miner] for b in task.miners if b.reveal_tick is not None and not b.mismatch]
                out = shown[0] if shown else out
            if self.script is not None:
                out = self.script.before_reveal(self, task, a.miner) or out
                if task.state != TaskState.PRECOMMITTED:
                    break
            self.revealed[task.id][a.miner] = out
            body: dict[str, Any] = {"task": task.id, "output_hash": out.hash, "salt": self._salt(task.id)}
            if not task.measured_tokens:  # rules before RULES_MEASURED_TOKENS: the miner's own claim (from RULES_MEASURED_TOKENS validators count)
                body["output_tokens"] = min(task.max_output_tokens, plan.claimed_tokens if plan.claimed_tokens is not None else out.tokens)
            self.chain.submit(a.miner, "task.reveal", body)
            acted = True
        return acted

    def _reveal_order(self, task: Task, miner: str) -> tuple[bool, float, str]:
        """Who reveals first: strategies that wait go last; otherwise a random latency per task and miner."""
        waits = MINER_STRATEGIES[self.nodes[self.name_of[miner]].strategy].reveals_last
        return waits, derive(self.seed, "latency", self.info[task.id].key, miner).random(), miner

    def _report_commits(self, task: Task) -> bool:
        """The current round's validators decide their reports (by strategy) and commit to them."""
        if task.id not in self.truth:
            valid = {a.miner: self.revealed[task.id][a.miner] for a in task.miners if a.reveal_tick is not None and not a.mismatch}
            self.truth[task.id] = true_measures(self.env, self.seed, valid)
        acted = False
        strategy = lambda v: VALIDATOR_STRATEGIES[self.nodes[self.name_of[v]].strategy]  # noqa: E731
        for v in sorted(task.drawn_in(task.round), key=lambda v: (strategy(v).reports_last, v)):
            if task.state != TaskState.COMMITTED:
                break
            if v in task.report_commits or ("commit", v) in self.attempted[task.id]:
                continue
            self.attempted[task.id].add(("commit", v))
            ctx = self._validator_context(task, v)
            report = strategy(v).report(ctx)
            if report is None:
                continue
            evaluated = strategy(v).evaluated(ctx)
            if evaluated:
                self.costs[v] += self.env.validation_cost_units
                self.stats[self.name_of[v]].evaluated += 1
            reports: list[dict[str, Any]] = [{"miner": m, "poi_distance_ppb": d, "quality_ppb": q} for m, d, q in report]
            spread = strategy(v).spread(ctx) if task.spread_rule else None  # rule 12: its spread too
            prompt: int | None = None
            if task.measured_tokens:  # the validator's token counts go in its (committed) report
                prompt, counts = self._token_counts(task, evaluated)
                for r in reports:
                    r["output_tokens"] = counts[r["miner"]]
            extra: dict[str, int] = ({} if prompt is None else {"input_tokens": prompt}) | ({} if spread is None else {"spread_ppb": spread})
            if self.state.beacon is None:  # the first rules: the report is public at once, no commitment
                self.chain.submit(v, "task.validate", {"task": task.id, "reports": reports} | extra)
                acted = True
                continue
            salt = f"r{self.seed}-{task.id}-{v[-6:]}"
            self.report_plans[task.id][v] = (reports, salt, extra)
            self.chain.submit(v, "task.report_commit", {"task": task.id, "commit": report_commitment(task.id, v, reports, salt, prompt, spread)})
            acted = True
        return acted

    def _report_reveals(self, task: Task) -> bool:
        acted = False
        for v in sorted(task.drawn_in(task.round)):
            if task.state != TaskState.REPORTING:
                break
            if v not in task.report_commits or v in task.reports or ("reveal", v) in self.attempted[task.id]:
                continue
            self.attempted[task.id].add(("reveal", v))
            plan = self.report_plans[task.id].get(v)
            if plan is None:
                continue
            reports, salt, extra = plan
            self.chain.submit(v, "task.validate", {"task": task.id, "reports": reports, "salt": salt} | extra)
            acted = True
        return acted

    def _token_counts(self, task: Task, evaluates: bool) -> tuple[int, dict[str, int]]:
        """What a validator reports as token counts: the true ones when it evaluates (it runs the tokenizer); a
        validator that evaluates nothing counts nothing either and reports the most allowed (the task's bounds)."""
        revealed = self.revealed[task.id]
        if evaluates:
            return self.info[task.id].input_tokens or task.input_tokens, {m: revealed[m].tokens for m in self.truth[task.id]}
        return task.input_tokens, {m: task.max_output_tokens for m in self.truth[task.id]}

    def _open_canary(self, task: Task) -> bool:
        """The oracle opens its canary commitment once the reports are revealed; it leaves unopened a canary planted at a
        miner with option ``canary_open = "never"`` (attack canary_unopened: a faulty or hostile oracle)."""
        if ("canary", "") in self.attempted[task.id]:
            return False
        self.attempted[task.id].add(("canary", ""))
        secret = self.canary_secrets.get(task.id)
        if secret is None:
            return False
        planted_at = self.canaries.get(task.id)
        if planted_at is not None and planted_at.slot and self.options[planted_at.slot].get("canary_open") == "never":
            return False
        planted, salt = secret
        body: dict[str, Any] = {"task": task.id, "salt": salt}
        if planted is not None:
            body["planted"] = planted
        self.chain.oracle("task.canary", body)
        return True

    def _validator_context(self, task: Task, v: str) -> ValidatorContext:
        miners = sorted(self.truth[task.id])
        so_far = {w: {m: (x[0], x[1]) for m, x in r.items()} for w, r in task.reports.items()}  # revealed, earlier rounds
        stakes = {w: self.state.nodes[w].stake_total for w in task.validators}
        p = self.state.params
        return ValidatorContext(
            self.env,
            self.seed,
            self.info[task.id],
            v,
            self.options[v],
            miners,
            self.truth[task.id],
            self.coalition_of,
            so_far,
            stakes,
            self.history,
            spread_rule=task.spread_rule,
            min_quality_ppb=p.consensus_min_quality_ppb,
            spread_allowance_ppb=max(0, p.poi_spread_cap_ppb - p.poi_max_distance_ppb),
            lengths={m: self.revealed[task.id][m].tokens for m in miners},
            word_salad=frozenset(m for m in miners if self.revealed[task.id][m].cluster == "garbage"),
        )

    # --- measuring ---------------------------------------------------------------------------

    def _collect_tasks(self, tids: list[int], stats: dict[str, NodeEpoch], counts: EpochTasks) -> None:
        for tid in tids:
            task = self.chain.task(tid)
            if task.state == TaskState.SETTLED:
                counts.settled += 1
                self._publish(task)
            else:
                counts.failed += 1
                counts.failures[task.failure or task.state] = counts.failures.get(task.failure or task.state, 0) + 1
            self._count_capture(task, counts)
            units = TRUE_TIER_WEIGHT  # every simulated inference runs the same tiny model, whatever a model card claims
            true_input = self.info[tid].input_tokens or task.input_tokens
            typical: list[int] = []  # the true work of the task's in-consensus miners, for a paid planter's seat
            for a in task.miners:
                if a.planted:
                    stats[self.name_of[a.miner]].planted += 1
                    continue  # the oracle's output in a canary: not this miner's work
                st = stats[self.name_of[a.miner]]
                st.assigned += 1
                st.served += a.reveal_tick is not None
                st.in_consensus += a.in_consensus
                out = self.revealed[tid].get(a.miner)
                if out is not None and not a.mismatch:
                    work = (true_input + out.tokens) * units * to_ppb(out.quality)
                    st.work_offered += work
                    st.network_work += work if task.kind == "network" else 0
                    if a.in_consensus:
                        typical.append(work)
            for a in task.miners:
                if a.planted and a.quality_ppb is not None and task.state == TaskState.SETTLED and typical:
                    # rule 18 paid this planter as a typical in-consensus miner of the task (the core credits it the task's
                    # units at their median quality): its seat counts the median of their true work, so pay per unit of
                    # work does not move with how many plants a miner happened to be told
                    st = stats[self.name_of[a.miner]]
                    q, n = sorted(typical), len(typical)
                    credit = q[n // 2] if n % 2 else (q[n // 2 - 1] + q[n // 2]) // 2  # the median as the core takes it
                    st.planted_work += credit
                    st.planted_network_work += credit if task.kind == "network" else 0
            for v in task.validators:
                st = stats[self.name_of[v]]
                st.assigned += 1
                st.served += v in task.reports
                st.work_offered += PPB if v in task.reports else 0
                st.network_work += PPB if v in task.reports and task.kind == "network" else 0
                st.canaries_failed += v in task.canary_failed
            if task.canary == "planted":
                counts.canaries += 1
            counts.escalated += task.round > 0
            counts.validations += len(task.validators)
            for d in (self.plans, self.revealed, self.attempted, self.truth, self.report_plans, self.canary_secrets, self.canaries):
                d.pop(tid, None)  # type: ignore[attr-defined]

    def _count_capture(self, task: Task, counts: EpochTasks) -> None:
        """Tasks whose stake-weighted median a coalition decided (it held at least half the reporting stake)."""
        stakes = {v: self.state.nodes[v].stake_total for v in task.reports}
        total = sum(stakes.values())
        for c in sorted({self.coalition_of[v] for v in task.reports} - {""}):
            mine = sum(x for v, x in stakes.items() if self.coalition_of[v] == c)
            if total and 2 * mine >= total:
                counts.captured[c] = counts.captured.get(c, 0) + 1

    def _publish(self, task: Task) -> None:
        """Revealed outputs of a settled task are public: copiers may replay them, copiers may read the medians."""
        prompt = self.info[task.id].prompt_id
        for a in task.miners:
            out = self.revealed[task.id].get(a.miner)
            if a.in_consensus and out is not None and out.cluster == "honest":
                self.public_answers.setdefault(prompt, out)
                if self.info[task.id].first_part:
                    self.published_first_parts.add(self.info[task.id].first_part)
            if a.distance_ppb is not None and a.quality_ppb is not None:
                self.history.append((a.distance_ppb, a.quality_ppb))
        del self.history[:-HISTORY_LIMIT]

    def _collect_money(self, e: int, stats: dict[str, NodeEpoch]) -> None:
        record = self.state.epochs[e]
        for item in record.items:
            name = self.name_of.get(item.address)
            if name is None:
                continue
            st, s = stats[name], item.stream
            if s.startswith(TASK_FEE_PREFIX):
                st.fees += item.amount
            elif s.startswith((Stream.MINER_WORK, Stream.VALIDATOR_WORK)):
                st.network += item.amount
            elif s.startswith(Stream.STAKING_APR):
                st.staking += item.amount
            elif s == Stream.SLASH:
                st.slashes -= item.amount
            else:
                st.other += item.amount
        for sl in self.state.slashes:
            if sl.epoch == e and sl.node in self.name_of:
                stats[self.name_of[sl.node]].slash_count += 1
        for name, n in self.nodes.items():
            node = self.state.nodes.get(n.address)
            stats[name].costs = self.costs[n.address] + (self.env.node_cost_per_epoch_units if node is not None else 0)
            if node is not None:  # a late node exists once its script registered it
                stats[name].reputation_ppb = node.reputation_ppb
                stats[name].jailed = node.jailed

    # --- claims through the distributor (env.payout "evm") --------------------------------------

    def _chain(self) -> SimDistributor:
        """The distributor claims go through (only with env.payout "evm")."""
        if self.distributor is None:
            raise InvariantViolation('a claim on chain needs env.payout "evm"')
        return self.distributor

    def _pay_on_chain(self, e: int, stats: dict[str, NodeEpoch]) -> None:
        """Post epoch ``e`` (log, then distributor) and let every node claim its leaf by its strategy."""
        distributor = self._chain()
        record = self.state.epochs[e]
        if record.root is None:
            return
        mine = {n.address: n for n in self.nodes.values() if n.address in record.leaves}
        grabbers = [a for a, n in sorted(mine.items()) if n.role == "miner" and MINER_STRATEGIES[n.strategy].claims_every_path]
        for a in grabbers:
            for p in sorted(distributor.epochs):  # stale claims of epochs already paid on chain, while claimable holds this epoch's leaf
                if a in self.state.epochs[p].leaves:
                    self._claim_in_engine(p, a, stats)
            if e % 2 == 0:  # before the post the engine is still this epoch's payout path: paid here (even epochs)
                self._claim_in_engine(e, a, stats)
        try:
            self.chain.oracle("bridge.post", {"epoch": e, "evm_chain_id": SIM_EVM_CHAIN_ID, "distributor": SIM_DISTRIBUTOR})
        except (EngineError, InvariantViolation) as exc:
            self.conservation_errors.append(f"epoch {e}: bridge.post failed: {exc}")
            return
        posted = self.state.bridged[e]
        distributor.post(e, posted.root, posted.total, posted.claimed_offchain)
        for a, n in sorted(mine.items()):
            stats[n.name].leaves += record.leaves[a]
            self._claim_on_chain(e, a, stats)
        for a in grabbers:  # and once more on each path
            self._claim_on_chain(e, a, stats)
            self._claim_in_engine(e, a, stats)

    def _leaf(self, e: int, a: str) -> tuple[int, list[str]]:
        record = self.state.epochs[e]
        return record.leaves[a], build_tree([(x, e, v) for x, v in record.leaves.items()]).proof((a, e, record.leaves[a]))

    def _claim_in_engine(self, e: int, a: str, stats: dict[str, NodeEpoch]) -> None:
        amount, proof = self._leaf(e, a)
        try:
            self.chain.submit(a, "reward.claim", {"address": a, "epoch": e, "amount": str(amount), "proof": proof})
        except EngineError:
            stats[self.name_of[a]].claims_refused += 1
            return
        stats[self.name_of[a]].received += amount

    def _claim_on_chain(self, e: int, a: str, stats: dict[str, NodeEpoch]) -> None:
        amount, proof = self._leaf(e, a)
        try:
            self._chain().claim(e, a, amount, proof)
        except Revert:
            stats[self.name_of[a]].claims_refused += 1
            return
        stats[self.name_of[a]].received += amount

    def _holdings(self) -> dict[str, int]:
        """Per node (and script actor) address: wallet + bond + delegations + claimable + unbonding (+ distributor tokens and unclaimed leaves)."""
        out = {n.address: 0 for n in self.nodes.values()}
        if self.script is not None:
            out.update({a: 0 for a in self.script.actors().values()})
        for account, value in self.state.ledger.balances.items():
            owner = account_owner(account)
            if owner in out and not account.startswith("rewards:"):
                out[owner] += value
        if self.distributor is not None:
            for a in out:
                out[a] += self.distributor.tokens[a]
            for e, posted in self.state.bridged.items():
                for a, amount in posted.leaves.items():
                    if a in out and (e, a) not in self.distributor.is_claimed:
                        out[a] += amount
        return out

    def _check_books(self, e: int, before: dict[str, int]) -> None:
        try:
            conservation_holds(self.state)
        except InvariantViolation as exc:
            self.conservation_errors.append(f"epoch {e}: {exc}")
        after = self._holdings()
        items: Counter[str] = Counter()
        for item in self.state.epochs[e].items:
            items[item.address] += item.amount
        names = {**({a: n for n, a in self.script.actors().items()} if self.script else {}), **self.name_of}
        for address, value in after.items():
            if value - before.get(address, 0) != items[address]:
                self.reconcile_errors.append(
                    f"epoch {e}: {names[address]} holdings changed by {value - before.get(address, 0)}, statement sums to {items[address]}"
                )

    def result(self) -> RunResult:
        return RunResult(
            self.s.name,
            self.seed,
            self.nodes,
            self.epochs,
            self.tasks,
            self.conservation_errors,
            self.reconcile_errors,
            self.chain.count,
            self.state.head_hash,
        )


# --- many runs ---------------------------------------------------------------------------------------


def _run_from_dict(data: dict[str, Any], seed: int) -> RunResult:
    return run(Scenario.from_dict(data), seed)


class RunCache:
    """Runs by (what determines a run, seed): a scenario and its honest twin that coincide run once."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.results: dict[tuple[str, int], RunResult] = {}

    def missing(self, scenarios: list[Scenario]) -> list[tuple[Scenario, int]]:
        """(scenario, seed) pairs not run yet, without duplicates."""
        out: dict[tuple[str, int], tuple[Scenario, int]] = {}
        for s in scenarios:
            for seed in s.seeds:
                key = (s.run_key(), seed)
                if key not in self.results and key not in out:
                    out[key] = (s, seed)
        return list(out.values())

    def run_all(self, scenarios: list[Scenario], progress: Callable[[str], None] | None = None) -> None:
        """Run every missing (scenario, seed), in ``workers`` processes when more than one."""
        todo = self.missing(scenarios)
        if self.workers == 1 or len(todo) <= 1:
            for s, seed in todo:
                self.results[(s.run_key(), seed)] = run(s, seed)
                if progress:
                    progress(f"{s.name} seed {seed}")
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(_run_from_dict, s.to_dict(), seed): (s, seed) for s, seed in todo}
            for fut in as_completed(futures):
                s, seed = futures[fut]
                self.results[(s.run_key(), seed)] = fut.result()
                if progress:
                    progress(f"{s.name} seed {seed}")

    def get(self, s: Scenario) -> list[RunResult]:
        """The runs of ``s`` for each of its seeds, in seed order (run them first)."""
        return [self.results[(s.run_key(), seed)] for seed in s.seeds]
