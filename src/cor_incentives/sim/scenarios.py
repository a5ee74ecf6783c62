"""Scenarios as data: parameters + node mix (counts, strategies, stakes) + workload + seeds.

A ``Scenario`` is a frozen dataclass, the whole description of an experiment; ``runner.run`` turns
one scenario and one seed into a result by driving the real core. Scenarios load from JSON or TOML
(``load_scenarios``), either one object or ``{"scenarios": [...]}``; ``"extends": "<built-in name>"``
starts from a built-in scenario and overrides the keys given.

The built-in scenarios share one population so that they compare node by node (same names, hence
the same addresses, same stakes): 10 miners of 2 000 COR, 10 validators of 10 000 COR except
``validator-03`` (9 000) and ``validator-08`` (11 000) — so that ``validator-00`` alone holds 10 %
of validator stake, ``validator-00..02`` 30 % and ``validator-00..04`` 49 % — and one router. Each
scenario turns some of these nodes to another strategy; ``baseline = "honest_twin"`` compares a
scenario with the same population, stakes, parameters and seeds where every node is honest (for the
built-ins that twin is exactly ``honest_only``).

Workload (per epoch): ``user_tasks_per_epoch`` paid tasks (through the router, from one user
session) and ``network_tasks_per_epoch`` network tasks (the oracle's, prompts from the bundled prompt
set), issued in ``rounds_per_epoch`` rounds; every round's tasks run to completion (with ticks for
the deadlines of silent nodes) before the next, and the epoch is closed with ``epoch.close``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..core.errors import InvalidInput
from ..core.params import params_from_dict
from ..core.units import parse_cor
from .strategies import Environment, strategy_names

MAX_NODES = 500
MAX_EPOCHS = 1_000
MAX_TASKS_PER_EPOCH = 10_000
MAX_SEEDS = 1_000
ROLES = ("miner", "validator", "router")
BASELINES = ("", "honest_twin")


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class NodeGroup:
    """``count`` nodes of one role and strategy; names are ``<prefix>-NN``, numbered across groups."""

    role: str
    strategy: str = "honest"
    count: int = 1
    stake_cor: tuple[str, ...] = ("2000",)  # self-bond per node in COR: one value for all, or one per node
    prefix: str = ""  # default: the role
    coalition: str = ""  # colluding validators favour miners of their own coalition
    operator: str = ""  # who runs these nodes (income is also summed per operator); default: each node alone
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidInput(f"node role must be one of {', '.join(ROLES)}, got {self.role!r}", code="invalid_scenario")
        if self.strategy not in strategy_names(self.role):
            raise InvalidInput(
                f"unknown {self.role} strategy {self.strategy!r}; one of {', '.join(strategy_names(self.role))}", code="invalid_scenario"
            )
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 0 <= self.count <= MAX_NODES:
            raise InvalidInput(f"node count must be an integer in [0, {MAX_NODES}]", code="invalid_scenario")
        stakes = (self.stake_cor,) if isinstance(self.stake_cor, str) else tuple(self.stake_cor)
        if len(stakes) not in (1, self.count):
            raise InvalidInput("stake_cor must be one value or one per node", code="invalid_scenario")
        for s in stakes:
            parse_cor(str(s))
        object.__setattr__(self, "stake_cor", tuple(str(s) for s in stakes))
        object.__setattr__(self, "options", _frozen(self.options))

    def stake_units(self, i: int) -> int:
        """Self-bond of the group's i-th node in base units."""
        return parse_cor(self.stake_cor[0] if len(self.stake_cor) == 1 else self.stake_cor[i])

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "strategy": self.strategy,
            "count": self.count,
            "stake_cor": list(self.stake_cor),
            "prefix": self.prefix,
            "coalition": self.coalition,
            "operator": self.operator,
            "options": dict(self.options),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> NodeGroup:
        _known(data, NodeGroup, "node group")
        d = dict(data)
        if isinstance(d.get("stake_cor"), (str, int)):
            d["stake_cor"] = (str(d["stake_cor"]),)
        return NodeGroup(**d)


@dataclass(frozen=True)
class Remedy:
    """A parameter (or environment) change to try when a check fails, with why it should help."""

    label: str
    params: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "env", _frozen(self.env))

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "params": dict(self.params), "env": dict(self.env), "note": self.note}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Remedy:
        _known(data, Remedy, "remedy")
        return Remedy(**data)


@dataclass(frozen=True)
class Scenario:
    """One experiment: who runs which strategy with what stake, under which parameters, for how long."""

    name: str
    nodes: tuple[NodeGroup, ...]
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)  # overrides of the devnet defaults (core Params names)
    env: Environment = field(default_factory=Environment)
    epochs: int = 10
    user_tasks_per_epoch: int = 20
    network_tasks_per_epoch: int = 20
    rounds_per_epoch: int = 5
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)  # every check at the defaults over at least 5 seeds (`cor simulate --scenario all`)
    baseline: str = ""  # "", "honest_twin", or the name of another scenario
    checks: tuple[str, ...] = ()  # incentive checks (report.CHECKS) evaluated on this scenario
    beacon: bool = True  # the genesis commits to a beacon (current rules); False: the first rules, draws seeded by the log head
    remedies: tuple[Remedy, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "remedies", tuple(self.remedies))
        check_scenario(self)

    # --- derived scenarios ---

    def honest_twin(self) -> Scenario:
        """Same population, stakes, parameters, workload and seeds; every node honest, no coalitions."""
        groups = tuple(replace(g, strategy="honest", coalition="", options={}) for g in self.nodes)
        return replace(self, name=f"{self.name}~honest", nodes=groups, baseline="", checks=(), remedies=(), description="")

    def with_remedy(self, remedy: Remedy) -> Scenario:
        env = Environment.from_dict({**self.env.to_dict(), **remedy.env})
        return replace(self, name=f"{self.name}+{remedy.label}", params={**self.params, **remedy.params}, env=env, remedies=())

    def with_overrides(self, *, epochs: int | None = None, seeds: tuple[int, ...] | None = None) -> Scenario:
        return replace(self, epochs=self.epochs if epochs is None else epochs, seeds=self.seeds if seeds is None else tuple(seeds))

    def node_names(self) -> list[tuple[str, NodeGroup, int]]:
        """(name, group, index in group) for every node, in order."""
        counters: dict[str, int] = {}
        out = []
        for g in self.nodes:
            prefix = g.prefix or g.role
            for i in range(g.count):
                n = counters.get(prefix, 0)
                counters[prefix] = n + 1
                out.append((f"{prefix}-{n:02d}", g, i))
        return out

    def run_key(self) -> str:
        """Everything that determines a run (not its name, description, checks or remedies)."""
        d = self.to_dict()
        for k in ("name", "description", "baseline", "checks", "remedies", "seeds"):
            d.pop(k)
        d["nodes"] = [[name, g.role, g.strategy, str(g.stake_units(i)), g.coalition, g.operator, dict(g.options)] for name, g, i in self.node_names()]
        return json.dumps(d, sort_keys=True)

    # --- (de)serialisation ---

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": dict(self.params),
            "env": self.env.to_dict(),
            "nodes": [g.to_dict() for g in self.nodes],
            "epochs": self.epochs,
            "user_tasks_per_epoch": self.user_tasks_per_epoch,
            "network_tasks_per_epoch": self.network_tasks_per_epoch,
            "rounds_per_epoch": self.rounds_per_epoch,
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "checks": list(self.checks),
            "beacon": self.beacon,
            "remedies": [r.to_dict() for r in self.remedies],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Scenario:
        d = dict(data)
        base = d.pop("extends", None)
        if base is not None:
            if base not in SCENARIOS:
                raise InvalidInput(f"extends names no built-in scenario: {base!r}", code="invalid_scenario")
            d = {**SCENARIOS[base].to_dict(), **d}
        _known(d, Scenario, "scenario")
        if "name" not in d or "nodes" not in d:
            raise InvalidInput("a scenario needs a name and nodes", code="invalid_scenario")
        d["nodes"] = tuple(NodeGroup.from_dict(g) for g in d["nodes"])
        d["env"] = Environment.from_dict(d.get("env", {}))
        d["remedies"] = tuple(Remedy.from_dict(r) for r in d.get("remedies", ()))
        return Scenario(**d)


def _known(data: Mapping[str, Any], cls: type, what: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a {what} must be an object", code="invalid_scenario")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise InvalidInput(f"unknown {what} field(s): {', '.join(unknown)}", code="invalid_scenario")


def _bounded(name: str, v: Any, lo: int, hi: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InvalidInput(f"{name} must be an integer in [{lo}, {hi}]", code="invalid_scenario")


def check_scenario(s: Scenario) -> None:
    """Refuse a scenario that cannot run: bad counts, unknown parameters, rounds that do not fit an epoch."""
    if not isinstance(s.name, str) or not s.name:
        raise InvalidInput("scenario name must be a non-empty string", code="invalid_scenario")
    _bounded("epochs", s.epochs, 1, MAX_EPOCHS)
    _bounded("user_tasks_per_epoch", s.user_tasks_per_epoch, 0, MAX_TASKS_PER_EPOCH)
    _bounded("network_tasks_per_epoch", s.network_tasks_per_epoch, 0, MAX_TASKS_PER_EPOCH)
    _bounded("rounds_per_epoch", s.rounds_per_epoch, 1, 1_000)
    if not s.seeds or len(s.seeds) > MAX_SEEDS:
        raise InvalidInput(f"seeds must list 1 to {MAX_SEEDS} integers", code="invalid_scenario")
    for x in s.seeds:
        _bounded("seed", x, 0, 2**63)
    if sum(g.count for g in s.nodes) > MAX_NODES:
        raise InvalidInput(f"at most {MAX_NODES} nodes", code="invalid_scenario")
    counts = {r: sum(g.count for g in s.nodes if g.role == r) for r in ROLES}
    if counts["validator"] < 1:
        raise InvalidInput("a scenario needs at least one validator", code="invalid_scenario")
    p = params_from_dict(dict(s.params))
    if counts["miner"] < p.redundancy:
        raise InvalidInput(f"{counts['miner']} miners cannot serve redundancy {p.redundancy}", code="invalid_scenario")
    # the worst case of one round: every phase runs to its deadline; validation rounds after the first
    # (escalations) only run to theirs when some validator never reports
    silent = any(g.role == "validator" and g.strategy == "offline" and g.count for g in s.nodes)
    rounds = 1 + (p.escalation_rounds_max if silent else 0)
    needed = (
        p.precommit_deadline_ticks
        + p.reveal_deadline_ticks
        + rounds * (p.validation_deadline_ticks + p.report_reveal_deadline_ticks)
        + p.canary_open_deadline_ticks
        + 1
        + ((1 + rounds) if s.beacon else 0)  # the draws: miners, then validators of each round
    )
    if p.epoch_length_ticks // s.rounds_per_epoch < needed:
        raise InvalidInput(
            f"{s.rounds_per_epoch} rounds of {needed} ticks do not fit an epoch of {p.epoch_length_ticks} ticks", code="invalid_scenario"
        )


# --- the built-in scenarios ------------------------------------------------------------------------

VALIDATOR_STAKES = ("10000", "10000", "10000", "9000", "10000", "10000", "10000", "10000", "11000", "10000")
MINER_STAKE = "2000"
N_MINERS = 10


def miners(*mix: tuple[str, int], coalition_first: str = "") -> tuple[NodeGroup, ...]:
    """Miner groups in order (e.g. ("honest", 7), ("lazy", 3)); optionally miner-00 in a coalition."""
    out: list[NodeGroup] = []
    for strategy, count in mix:
        if coalition_first and not out and count:
            out.append(NodeGroup("miner", strategy, 1, (MINER_STAKE,), coalition=coalition_first))
            count -= 1
        if count:
            out.append(NodeGroup("miner", strategy, count, (MINER_STAKE,)))
    return tuple(out)


def validators(first: str = "honest", k: int = 0, coalition: str = "", options: Mapping[str, Any] | None = None) -> tuple[NodeGroup, ...]:
    """The 10 validators; the first ``k`` run ``first`` (as one coalition when given)."""
    groups = []
    if k:
        groups.append(NodeGroup("validator", first, k, VALIDATOR_STAKES[:k], coalition=coalition, options=options or {}))
    groups.append(NodeGroup("validator", "honest", 10 - k, VALIDATOR_STAKES[k:]))
    return tuple(groups)


ROUTER = (NodeGroup("router", "honest", 1, ("1000",)),)
COLLUSION_REMEDIES = (
    Remedy(
        "validators_per_task=7",
        {"validators_per_task": 7},
        note="more validators per task: a coalition must hold the stake-weighted majority of a larger sample",
    ),
    Remedy(
        "validators_per_task=10",
        {"validators_per_task": 10},
        note="every validator checks every task: the median is over all validator stake, which the coalition does not hold",
    ),
)


def _colluding(share: int, k: int) -> Scenario:
    return Scenario(
        name=f"colluding_validators_{share}",
        description=f"validator-00..{k - 1:02d} ({share} % of validator stake) collude for miner-00: distance 0 and quality 1 "
        "for it, distance 0.5 and quality 0.1 for every other miner",
        nodes=miners(("honest", N_MINERS), coalition_first="c") + validators("colluding", k, "c") + ROUTER,
        baseline="honest_twin",
        checks=("collusion_below_half",),
        remedies=COLLUSION_REMEDIES,
    )


def builtin_scenarios() -> dict[str, Scenario]:
    """The scenarios shipped with ``cor simulate`` (by name)."""
    v = validators()
    bad_mix = miners(("honest", 8), ("lazy", 1), ("garbage", 1))
    out = [
        Scenario(
            "honest_only",
            miners(("honest", N_MINERS)) + v + ROUTER,
            "every node honest: the reference for the other scenarios",
            checks=("honest_miners_profit",),
        ),
        Scenario(
            "lazy_miners",
            miners(("honest", 7), ("lazy", 3)) + v + ROUTER,
            "3 of 10 miners answer with a short generic text without running the model",
            checks=("honest_vs_lazy",),
        ),
        Scenario(
            "garbage_miners", miners(("honest", 8), ("garbage", 2)) + v + ROUTER, "2 of 10 miners reveal unrelated text", checks=("garbage_loses",)
        ),
        Scenario(
            "mismatched_reveal",
            miners(("honest", 8), ("mismatched", 2)) + v + ROUTER,
            "2 of 10 miners reveal an output different from their precommit",
            checks=("mismatched_loses",),
        ),
        Scenario(
            "offline_miners",
            miners(("honest", 8), ("offline", 2)) + v + ROUTER,
            "2 of 10 miners are registered but never answer",
            checks=("offline_unpaid",),
        ),
        Scenario(
            "copier_miners",
            miners(("honest", 8), ("copier", 2)) + v + ROUTER,
            "2 of 10 miners never run the model: they guess, or replay a published answer to a prompt an earlier task asked; "
            "a mostly idle network (5 user + 35 network tasks per epoch) over 30 epochs; network prompts come from the "
            "bundled set of 300 (rule 9: the beacon composes each of 2 parts, so they practically never repeat; "
            "rules 1-8: the oracle names one prompt of the set, so they repeat)",
            epochs=30,
            user_tasks_per_epoch=5,
            network_tasks_per_epoch=35,
            checks=("copier_miners_unprofitable",),
            remedies=(
                Remedy(
                    "unique_network_prompts",
                    env={"network_prompts": "unique"},
                    note="network prompts never repeat at all (a synthetic prompt per task)",
                ),
            ),
        ),
        Scenario(
            "stitching_copier",
            miners(("honest", 8), ("stitcher", 2)) + v + ROUTER,
            "2 of 10 miners never run the model: on a composed network prompt (rule 9) they glue published answers to its "
            "single parts (every base prompt was asked alone before rule 9) and the validators keep such an answer in with "
            "the share measured with the real models (scripts/poi_composed.py); elsewhere they guess like the copier; "
            "a mostly idle network (5 user + 35 network tasks per epoch) over 30 epochs",
            epochs=30,
            user_tasks_per_epoch=5,
            network_tasks_per_epoch=35,
            checks=("stitching_copier_unprofitable",),
        ),
        Scenario(
            "borrowing_copier",
            miners(("honest", 8), ("borrower", 2)) + v + ROUTER,
            "2 of 10 miners never run the model: on a composed network prompt whose first part was asked first in an earlier "
            "settled task, they cut that task's published first answer and glue a published answer for part 2 (the part check "
            "passes such a first answer: it was sampled after a composed prompt with that first part); the validators keep it "
            "in with the share measured with the real models (scripts/poi_composed.py borrow); without such a task they "
            "stitch; a mostly idle network (5 user + 35 network tasks per epoch) over 30 epochs",
            epochs=30,
            user_tasks_per_epoch=5,
            network_tasks_per_epoch=35,
            checks=("borrowing_copier_unprofitable",),
        ),
        Scenario(
            "token_inflation",
            miners(("honest", 8), ("inflater", 2)) + v + ROUTER,
            "2 of 10 miners answer honestly but claim output_tokens = max_output_tokens",
            checks=("inflation_unprofitable",),
        ),
        Scenario(
            "copier_validators",
            bad_mix + validators("copier", 3) + ROUTER,
            "validator-00..02 (30 % of stake) never evaluate: they report distance 0.05 and quality 0.8 for every "
            "miner; miners: 8 honest, 1 lazy, 1 garbage",
            checks=("copier_validators_earn_less",),
            remedies=COLLUSION_REMEDIES,
        ),
        _colluding(10, 1),
        _colluding(30, 3),
        Scenario(
            "double_claim",
            miners(("honest", 8), ("double_claimer", 2)) + v + ROUTER,
            "epochs are paid through a RewardsDistributor (a model of the contract) after each close; 2 of 10 miners claim every "
            "leaf on every path: in the engine right after the close, then on chain, then in the engine and on chain again",
            env=Environment(payout="evm"),
            epochs=4,
            baseline="honest_twin",
            checks=("double_claim_pays_once",),
        ),
        Scenario(
            "sybil_single",
            miners(("honest", N_MINERS)) + (NodeGroup("miner", "honest", 1, ("10000",), prefix="op", operator="op"),) + v + ROUTER,
            "one operator runs a single miner with 10 000 COR (a third of miner stake)",
            seeds=(1, 2, 3, 4, 5),
        ),
        Scenario(
            "sybil_split",
            miners(("honest", N_MINERS)) + (NodeGroup("miner", "honest", 5, ("2000",), prefix="op", operator="op"),) + v + ROUTER,
            "the same operator splits its 10 000 COR over 5 miners of 2 000 COR",
            baseline="sybil_single",
            checks=("sybil_no_gain",),
            seeds=(1, 2, 3, 4, 5),  # a check on draws: measured over five seeds at the defaults
        ),
    ]
    return {s.name: s for s in out}


SCENARIOS: dict[str, Scenario] = builtin_scenarios()


def read_scenario_file(path: str | Path) -> Any:
    """The parsed content of a JSON or TOML scenario file."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"scenario file {p} does not exist", code="invalid_scenario")
    text = p.read_text()
    try:
        return tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: nested past the interpreter's limit
        raise InvalidInput(f"{p}: cannot parse: {exc}", code="invalid_scenario") from None


def load_scenarios(path: str | Path, *, allow_empty: bool = False) -> list[Scenario]:
    """Scenarios from a JSON or TOML file: one scenario object, or {"scenarios": [...]} (next to "attacks", which ``sim.attacks`` reads)."""
    p = Path(path)
    data = read_scenario_file(p)
    if allow_empty and isinstance(data, dict) and "scenarios" not in data and "name" not in data:
        return []
    items = data.get("scenarios", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InvalidInput(f'{p}: expected a scenario or {{"scenarios": [...]}}', code="invalid_scenario")
    return [Scenario.from_dict(d) for d in items]


def select_scenarios(names: str = "all", path: str | Path | None = None) -> tuple[list[Scenario], dict[str, Scenario]]:
    """Scenarios by comma-separated names or "all", from the built-ins or a file; and the catalog for baselines."""
    catalog = dict(SCENARIOS)
    pool = load_scenarios(path) if path is not None else list(SCENARIOS.values())
    catalog.update({s.name: s for s in pool})
    if names.strip() in ("", "all"):
        return pool, catalog
    by_name = {s.name: s for s in pool}
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in by_name:
            raise InvalidInput(f"unknown scenario {name!r}; one of: all, {', '.join(by_name)}", code="unknown_scenario")
        chosen.append(by_name[name])
    return chosen, catalog
