"""A small market on the pure Chain: a model, miners, validators, a user with a session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cor_incentives.core.records import ClosedTask, Task
from cor_incentives.core.tasks import commitment
from support.chain import Chain, addr
from support.reports import report_rounds

MODEL = "smollm2-135m"
COR = 10**18


def h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def market(
    n_miners: int = 4,
    n_validators: int = 3,
    params: dict | None = None,
    deposit: int = 100 * COR,
    beacon: bool = False,
    network_prompts: list[dict] | None = None,
) -> Chain:
    """With ``beacon``, the genesis commits to a beacon chain: tasks get their miners and validators at the next tick.
    With ``network_prompts``, the genesis holds a prompt set and network tasks ask what the beacon composes (rule 9)."""
    names = [f"m{i}" for i in range(n_miners)] + [f"v{i}" for i in range(n_validators)] + ["user", "dev", "router"]
    c = Chain(
        wallets={n: 1_000_000 * COR for n in names},
        params={"redundancy": min(3, n_miners), **(params or {})},
        beacon=4096 if beacon else None,
        network_prompts=network_prompts,
    )
    c.as_(
        "dev",
        "model.register",
        {
            "id": MODEL,
            "parameter_count": 135_000_000,
            "quantization": "q8_0",
            "context_length": 2048,
            "license": "apache-2.0",
            "content_hash": h("weights"),
        },
    )
    for i in range(n_miners):
        c.as_(f"m{i}", "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [MODEL]})
    for i in range(n_validators):
        c.as_(f"v{i}", "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    c.as_("router", "node.register", {"role": "router", "self_bond": str(1000 * COR)})
    c.as_("user", "session.open", {"deposit": str(deposit)})
    return c


def submit(c: Chain, prompt: str = "What is the capital of France?", max_out: int = 64, **extra) -> int:
    tid = c.state.next_id
    c.as_(
        "user",
        "task.submit",
        {
            "session": extra.pop("session", 1),
            "model": MODEL,
            "prompt_hash": h(prompt),
            "prompt_bytes": len(prompt.encode()),
            "input_tokens": 12,
            "max_output_tokens": max_out,
            **extra,
        },
    )
    return tid


def network(c: Chain, prompt: str = "Name a prime number.", max_out: int = 64, input_tokens: int = 12) -> int:
    """An oracle-issued network task on the market's model; returns its id."""
    tid = c.state.next_id
    c.oracle(
        "task.network",
        {"model": MODEL, "prompt_hash": h(prompt), "prompt_bytes": len(prompt.encode()), "input_tokens": input_tokens, "max_output_tokens": max_out},
    )
    return tid


def live_task(c: Chain, tid: int) -> Task | ClosedTask:
    """The live task ``tid``: its whole record, or the stub of a closed task whose record left (rule 27, pruning on)."""
    return c.state.tasks.get(tid) or c.state.closed_tasks[tid]


def whole(task: Task | ClosedTask) -> Task:
    assert isinstance(task, Task)
    return task


def commit_reveal(c: Chain, tid: int, outputs: dict[str, str], wrong_reveal: set[str] = frozenset(), tokens: int = 20) -> None:
    """Precommit then reveal for every assigned miner named in ``outputs`` (by address). A miner claims no token count,
    except before the measured-token rules, where it claims ``tokens``."""
    for miner, text in outputs.items():
        c.submit(miner, "task.precommit", {"task": tid, "commit": commitment(tid, miner, h(text), "salt")})
    for miner, text in outputs.items():
        shown = h(text + " (changed)") if miner in wrong_reveal else h(text)
        claim = {} if c.state.tasks[tid].measured_tokens else {"output_tokens": tokens}
        c.submit(miner, "task.reveal", {"task": tid, "output_hash": shown, "salt": "salt"} | claim)


def draw_now(c: Chain, tid: int) -> None:
    """With a beacon: the tick whose value draws a task's miners (CREATED) or its validators (COMMITTED, none drawn for the round)."""
    task = c.state.tasks[tid]
    if c.state.beacon is not None and (task.state == "CREATED" or (task.state == "COMMITTED" and not task.drawn_in(task.round))):
        c.oracle("tick", {"ticks": 1})


def network_drawn(c: Chain) -> tuple[int, Task, str, str]:
    """A network task with its miners drawn, their outputs ("2") committed and revealed, and its validators drawn: its id,
    the task, its first validator and its first miner by address (the escalation tests' liar and the miner it lies on)."""
    tid = network(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "2" for a in task.miners})
    draw_now(c, tid)
    return tid, task, sorted(task.validators)[0], sorted(a.miner for a in task.miners)[0]


def validate_all(
    c: Chain,
    tid: int,
    judge: Callable[[str, str], tuple[int, int]],
    tokens: int | Callable[[str, str], int] = 20,
    input_tokens: int | Callable[[str], int] | None = None,
    spread: Callable[[str], int] | None = None,
) -> None:
    """Every drawn validator commits to, then reveals, judge(validator, miner) -> (distance_ppb, quality_ppb), each round,
    and on the measured-token rules its token counts: ``tokens`` of each output (or tokens(validator, miner)),
    ``input_tokens`` of the prompt (default: the task's bound). Earlier rules take no counts from validators.
    ``spread(validator)``: its spread of the task on the spread rule (default 0); none before it."""
    task = c.state.tasks[tid]
    miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]
    counting = task.measured_tokens

    def count(v: str, m: str) -> int:
        return tokens(v, m) if callable(tokens) else tokens

    def prompt(v: str) -> int:
        if input_tokens is None:
            return c.state.tasks[tid].input_tokens
        return input_tokens(v) if callable(input_tokens) else input_tokens

    while True:
        report_rounds(
            c.submit,
            lambda: live_task(c, tid),
            lambda v: [
                {"miner": m, "poi_distance_ppb": judge(v, m)[0], "quality_ppb": judge(v, m)[1]} | ({"output_tokens": count(v, m)} if counting else {})
                for m in miners
            ],
            first_rules=c.state.beacon is None,
            input_tokens=prompt if counting else None,
            spread=spread,
        )
        now = live_task(c, tid)
        if c.state.beacon is None or now.state != "COMMITTED" or whole(now).drawn_in(whole(now).round):
            return
        draw_now(c, tid)  # an escalation: its validators are drawn by the next tick


def dissent(c: Chain, task: Task, honest: tuple[int, int] = (20_000_000, 850_000_000), prompt_tokens: int = 12) -> None:
    """A task's first round (on a network with a beacon) committed and revealed: its first validator reports (0, 10**9)
    of every miner, the others ``honest``, each with ``prompt_tokens`` for the prompt and 20 tokens an output; the
    dissent leaves the task waiting for the beacon value that draws its escalation."""
    liar, drawn = task.validators[0], len(task.validators)
    miners = [a.miner for a in task.miners if a.reveal_tick is not None and not a.mismatch]

    def reports_of(v: str) -> list[dict[str, int | str]]:
        distance, quality = (0, 10**9) if v == liar else honest
        return [{"miner": m, "poi_distance_ppb": distance, "quality_ppb": quality, "output_tokens": 20} for m in miners]

    report_rounds(c.submit, lambda: task, reports_of, salt="s", input_tokens=lambda v: prompt_tokens)
    assert task.state == "COMMITTED" and task.round == 1 and len(task.validators) == drawn  # waiting for the value


OUT_OF_CONSENSUS_PPB = 900_000_000  # a distance far over any threshold


def late_miss(rule_version: int, allowance_bps: int = 10_000) -> tuple[Chain, int, str]:
    """Epoch 0: every miner serves one task well. Epoch 1: a task is created 3 ticks before the close and revealed;
    epoch 2: it is judged, one miner out of consensus. Returns (chain, the task, the miner). (Rules 15 and 16: an offence
    judged after its task's epoch, ``tests/core/test_offence_by_task_epoch.py``, ``test_counted_in_task_epoch.py``.)"""
    c = market(n_miners=3, params={"offence_allowance_bps": allowance_bps, "rule_version": rule_version})
    t0 = submit(c)
    commit_reveal(c, t0, {a.miner: "Paris" for a in c.state.tasks[t0].miners})
    validate_all(c, t0, lambda v, m: (0, 900_000_000))
    c.oracle("epoch.close", {})
    c.oracle("tick", {"ticks": c.state.epochs[0].end_tick + c.state.params.epoch_length_ticks - 3 - c.state.tick})
    t1 = submit(c)
    miners = [a.miner for a in c.state.tasks[t1].miners]
    commit_reveal(c, t1, {m: "Paris" for m in miners})
    c.oracle("epoch.close", {})
    assert c.state.epoch == 2 and c.state.tasks[t1].created_epoch == 1 and c.state.tasks[t1].state == "COMMITTED"
    bad = miners[0]
    assert c.state.nodes[bad].served_prev == 0  # nothing served in epoch 1: the two-epoch window (1, 2) holds nothing
    validate_all(c, t1, lambda v, m: (OUT_OF_CONSENSUS_PPB if m == bad else 0, 900_000_000))
    assert c.state.tasks[t1].state == "SETTLED"
    return c, t1, bad


__all__ = [
    "market",
    "submit",
    "network",
    "commit_reveal",
    "draw_now",
    "validate_all",
    "addr",
    "h",
    "MODEL",
    "COR",
    "late_miss",
    "OUT_OF_CONSENSUS_PPB",
]
