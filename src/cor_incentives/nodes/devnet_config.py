"""What a devnet is made of: its options (``DevnetConfig``), the node mix, and the profile of each miner backend.

A new devnet option is a field of ``DevnetConfig`` (checked in ``__post_init__``), set by ``cor
devnet`` (``cli/devnet.py``), and passed on to the processes that need it in ``Devnet.agent_command``
or ``Devnet.start_api`` (``nodes/devnet.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import InvalidInput
from ..core.units import parse_cor
from .backends import MAX_TEMPERATURE, Sampling, derive_seed
from .strategies import FREE_MINER_STRATEGIES, MINER_STRATEGIES, VALIDATOR_STRATEGIES

DEFAULT_DB_PATH = "cor-data/devnet.db"
DEFAULT_KEYS_DIR = "cor-data/devnet-keys"
DEFAULT_LOG_DIR = "cor-data/devnet-logs"
DEFAULT_MINERS = "honest:5,lazy,garbage,mismatch"
# real miners sample: each at this temperature with its own seed (the PoI threshold is calibrated for
# temperatures 0.3-1.0 with distinct seeds: docs/poi-calibration.md)
DEFAULT_MINER_TEMPERATURE = 0.7
DEFAULT_VALIDATORS = "honest:3,copier"
GENESIS_NAMES = ("oracle", "faucet", "modeldev", "alice", "bob", "carol", "dave")
MAX_NODES_PER_ROLE = 64
CLOCKS = ("lockstep", "deadline", "wall")

# Parameters the devnet writes into genesis (the rest are the defaults of core/params.py). How they
# were chosen is in docs/devnet.md: deadlines that honest nodes meet on a 2-core machine, epochs short
# enough that a few of them finish in minutes. (Counted offences are slashed one by one, so no
# threshold needs lowering for cheaters to be caught within an epoch.)
# Two ticks, not the default one, for a report reveal and the canary's opening: the clock reads what is
# owed, then ticks, and a task whose last report commit (or reveal) lands in between would get a
# deadline of the very next tick, which would pass before anyone could act on it (measured: 2 of ~36
# tasks per scripted run failed `no_validation`, every honest validator slashed for a missed deadline).
# With two, the clock's next read (after its own tick) sees the owed reveal and holds the tick for it.
COMMON_PARAMS: dict[str, Any] = {"report_reveal_deadline_ticks": 2, "canary_open_deadline_ticks": 2}
PROFILES: dict[str, dict[str, Any]] = {
    "scripted": {
        "params": {
            "epoch_length_ticks": 20,
            "network_task_interval_ticks": 2,
            "precommit_deadline_ticks": 3,
            "reveal_deadline_ticks": 3,
            "validation_deadline_ticks": 3,
        },
        "clock": "deadline",
        "tick_seconds": 0.2,
        "max_tick_wait_seconds": 20.0,
        "poll_seconds": 0.2,
        "user_every_ticks": 2,
    },
    "llama": {
        "params": {
            "epoch_length_ticks": 12,
            "network_task_interval_ticks": 3,
            "precommit_deadline_ticks": 6,
            "reveal_deadline_ticks": 4,
            "validation_deadline_ticks": 4,
        },
        "clock": "deadline",
        "tick_seconds": 1.0,
        "max_tick_wait_seconds": 120.0,
        "poll_seconds": 0.3,
        "user_every_ticks": 3,
    },
    "openai": {
        "params": {
            "epoch_length_ticks": 12,
            "network_task_interval_ticks": 3,
            "precommit_deadline_ticks": 6,
            "reveal_deadline_ticks": 4,
            "validation_deadline_ticks": 4,
        },
        "clock": "deadline",
        "tick_seconds": 1.0,
        "max_tick_wait_seconds": 120.0,
        "poll_seconds": 0.3,
        "user_every_ticks": 3,
    },
}
# wall clock: seconds per tick such that precommit_deadline_ticks × tick_seconds covers a 48-token
# generation queued behind another on a loaded 2-core machine (measured: docs/devnet.md)
WALL_TICK_SECONDS = {"scripted": 0.5, "llama": 4.0, "openai": 4.0}

USER_DEPOSIT_COR = "1"  # each user's session deposit (the agent's --deposit): session_min_deposit_units (rule 24)
FUNDING_COR = {"miner": 3_000, "validator": 6_000, "router": 1_500, "user": 100}
SELF_BOND_COR = {"miner": 2_000, "validator": 5_000, "router": 1_000}
COMMISSION_BPS = {"miner": 500, "validator": 1_000, "router": 0}
# modest, so that no node's stake × reputation reaches 1/redundancy of the total (it would be in every task)
DELEGATION_COR = {"alice": 2_000, "bob": 3_000, "carol": 2_000}


# --- the node mix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """One participant the devnet starts: its key name, role and strategy."""

    name: str
    role: str
    strategy: str = "honest"


def parse_mix(text: str, role: str) -> list[str]:
    """``"honest:5,lazy,garbage"`` → one strategy per node."""
    allowed = MINER_STRATEGIES if role == "miner" else VALIDATOR_STRATEGIES
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        if name not in allowed:
            raise InvalidInput(f"{role} strategy {name!r} is not one of {', '.join(allowed)}", code="invalid_mix")
        if count and (not count.isdigit() or not 0 <= int(count) <= MAX_NODES_PER_ROLE):
            raise InvalidInput(f"{part!r}: the count must be an integer in [0, {MAX_NODES_PER_ROLE}]", code="invalid_mix")
        out += [name] * (int(count) if count else 1)
    if len(out) > MAX_NODES_PER_ROLE:
        raise InvalidInput(f"at most {MAX_NODES_PER_ROLE} {role}s", code="invalid_mix")
    return out


def node_specs(miners: str, validators: str, routers: int = 1, users: int = 1) -> list[NodeSpec]:
    """Names: honest nodes are numbered (``miner-1``), others carry their strategy (``miner-lazy``)."""
    specs: list[NodeSpec] = []
    for role, mix in (("miner", parse_mix(miners, "miner")), ("validator", parse_mix(validators, "validator"))):
        seen: Counter[str] = Counter()
        for strategy in mix:
            seen[strategy] += 1
            n = seen[strategy]
            name = f"{role}-{n}" if strategy == "honest" else f"{role}-{strategy}" + (f"-{n}" if mix.count(strategy) > 1 else "")
            specs.append(NodeSpec(name, role, strategy))
    specs += [NodeSpec(f"router-{i}", "router") for i in range(1, routers + 1)]
    specs += [NodeSpec(f"user-{i}", "user") for i in range(1, users + 1)]
    if sum(s.role == "miner" for s in specs) < 2 or not any(s.role == "validator" for s in specs):
        raise InvalidInput("a devnet needs at least 2 miners and 1 validator", code="invalid_mix")
    return specs


@dataclass
class DevnetConfig:
    epochs: int = 3
    seed: str = "devnet"
    backend: str = "llama"
    openai_url: str | None = None
    openai_model: str = "default"
    prompts: str | None = None
    db_url: str | None = None
    port: int | None = None
    keys_dir: str = DEFAULT_KEYS_DIR
    log_dir: str = DEFAULT_LOG_DIR
    miners: str = DEFAULT_MINERS
    validators: str = DEFAULT_VALIDATORS
    routers: int = 1
    users: int = 1
    clock: str | None = None  # deadline | lockstep | wall (default: the backend's profile)
    tick_seconds: float | None = None
    max_tick_wait_seconds: float | None = None
    max_output_tokens: int = 48
    user_every_ticks: int | None = None
    user_topup_below: str = "0.04"  # COR: the user tops its 1 COR deposit back up below this
    params: dict[str, Any] = field(default_factory=dict)  # overrides of the profile's parameters
    llama_threads: int = 1
    miner_temperature: float = DEFAULT_MINER_TEMPERATURE  # every model-running miner samples; 0: greedy
    canary_rate: float = 0.25  # share of network tasks that carry a planted output (the oracle's canaries)

    def __post_init__(self) -> None:
        if not 0.0 <= self.miner_temperature <= MAX_TEMPERATURE:
            raise InvalidInput(f"--miner-temperature must be in [0, {MAX_TEMPERATURE}], got {self.miner_temperature}", code="invalid_temperature")
        if self.backend not in PROFILES:
            raise InvalidInput(f"unknown backend {self.backend!r}: llama, openai or scripted", code="invalid_backend")
        if self.backend == "openai" and not self.openai_url:
            raise InvalidInput("--miners-backend openai needs --openai-url", code="invalid_backend")
        if not 1 <= self.epochs <= 1_000:
            raise InvalidInput("epochs must be in [1, 1000]", code="invalid_epochs")
        if self.clock is not None and self.clock not in CLOCKS:
            raise InvalidInput(f"clock must be one of {', '.join(CLOCKS)}", code="invalid_clock")
        if not 1 <= self.max_output_tokens <= 4096:
            raise InvalidInput("max_output_tokens must be in [1, 4096]", code="invalid_tokens")
        try:
            topup = parse_cor(self.user_topup_below)
        except InvalidInput:
            topup = -1
        if not 0 <= topup <= parse_cor(USER_DEPOSIT_COR):
            raise InvalidInput(
                f"--user-topup-below must be an amount of COR in [0, {USER_DEPOSIT_COR}], got {self.user_topup_below!r}", code="invalid_topup"
            )
        if not 0.0 <= self.canary_rate <= 1.0:
            raise InvalidInput("canary_rate must be in [0, 1]", code="invalid_canary_rate")

    @property
    def profile(self) -> dict[str, Any]:
        return PROFILES[self.backend]

    def sampling_seed(self, node: str) -> int:
        """A node's own sampling seed, from the devnet seed and its name."""
        return derive_seed("devnet-sampling", self.seed, node)

    def miner_sampling(self, specs: list[NodeSpec]) -> dict[str, Any]:
        """The sampling settings the model-running miners use (``miner_sampling`` in the results)."""
        sampling = Sampling(temperature=self.miner_temperature)
        return {
            "backend": self.backend,
            "applies": self.backend != "scripted",  # scripted answers are canned: nothing to sample
            "greedy": sampling.greedy,
            **{k: v for k, v in sampling.to_dict().items() if k != "seed"},
            "task_seed": "derive_seed(node seed, task id)",
            "node_seeds": {s.name: self.sampling_seed(s.name) for s in specs if s.role == "miner" and s.strategy not in FREE_MINER_STRATEGIES},
        }

    @property
    def clock_mode(self) -> str:
        return self.clock or self.profile["clock"]

    @property
    def tick_interval(self) -> float:
        if self.tick_seconds is not None:
            return self.tick_seconds
        return WALL_TICK_SECONDS[self.backend] if self.clock_mode == "wall" else float(self.profile["tick_seconds"])

    @property
    def max_wait(self) -> float:
        return self.max_tick_wait_seconds if self.max_tick_wait_seconds is not None else float(self.profile["max_tick_wait_seconds"])

    @property
    def url(self) -> str:
        return self.db_url or f"sqlite:///{DEFAULT_DB_PATH}"

    def genesis_params(self) -> dict[str, Any]:
        return {**COMMON_PARAMS, **self.profile["params"], **self.params}

    @property
    def every_ticks(self) -> int:
        return self.user_every_ticks or int(self.profile["user_every_ticks"])
