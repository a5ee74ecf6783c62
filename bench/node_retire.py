"""Probe: what rule 23's retirement test (``prune.retirable``) adds to an epoch close while one node is idle and the live
state holds many tasks (attack ``node_churn``: every retirement is preceded by a close at which the node is idle).

    python bench/node_retire.py [--sizes 10000,100000,1000000] [--rounds 2] [--json]

For each size N, two chains (one genesis naming rule 22, one naming rule 23; pruning on, epoch 20 ticks, unbonding period
2 epochs): a router registers, unbonds all of its self-bond, waits out the period and withdraws, so it is idle (nothing
left) at the next close. Then N settled tasks inside the evidence window are put in the live state (synthetic: copies of
one record naming a router, 3 miners and 7 validators among 60 other addresses, each with its own id, created this
epoch; ``State.rebuild_entry_indexes`` then makes any index derived from them, as a decoded state does). Not timed.
Then the oracle's ``epoch.close`` (journaled, as the engine applies it): CPU seconds of this process, with the cyclic
collector paused. Rule 22 and rule 23 alternate ``--rounds`` times (a fresh pair of chains each round); the same-run
baseline is rule 22 (no retirement test). Rule 23's close retires the idle node; rule 22's keeps it.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from cor_incentives.core.records import Assignment, Task, TaskKind, TaskState  # noqa: E402
from cor_incentives.core.units import COR  # noqa: E402
from support.chain import Chain, addr  # noqa: E402

EPOCH = 20
BOND = 500 * COR
U = 2


def chain(rule: int, n: int) -> Chain:
    c = Chain(
        wallets={"op": BOND},
        params={"prune_closed_records": 1, "epoch_length_ticks": EPOCH, "unbonding_period_epochs": U, "rule_version": rule},
        check=False,
    )
    c.as_("op", "node.register", {"role": "router", "self_bond": str(BOND)})
    c.as_("op", "stake.unbond", {"amount": str(BOND)})
    for _ in range(U):
        c.oracle("epoch.close", {})
    c.as_("op", "stake.withdraw", {})
    s = c.state
    names = [addr(f"n{i}") for i in range(60)]
    template = Task(
        id=0,
        kind=TaskKind.USER,
        user=addr("user"),
        session=None,
        router=names[0],
        model="m",
        prompt_hash="0x" + "00" * 32,
        prompt_bytes=1,
        input_tokens=1,
        max_output_tokens=1,
        redundancy=3,
        validators_wanted=7,
        state=TaskState.SETTLED,
        created_tick=s.tick,
        created_epoch=s.epoch,
        deadline_tick=0,
        escrowed=0,
        seed="",
        miners=[],
        closed_tick=s.tick,
    )
    tasks = s.tasks
    for k in range(n):
        t = copy.copy(template)
        object.__setattr__(t, "id", s.next_id + k)
        object.__setattr__(t, "router", names[k % 5])
        object.__setattr__(t, "miners", [Assignment(names[5 + (k + j) % 20]) for j in range(3)])
        object.__setattr__(t, "validators", [names[25 + (k + j) % 35] for j in range(7)])
        tasks[t.id] = t
    s.next_id += n
    s.rebuild_entry_indexes()
    return c


def close_seconds(rule: int, n: int) -> tuple[float, int]:
    c = chain(rule, n)
    before = len(c.state.nodes)
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        c.oracle("epoch.close", {})
        seconds = time.process_time() - t0
    finally:
        gc.enable()
    retired = before - len(c.state.nodes)
    assert retired == (1 if rule >= 23 else 0), (rule, retired)
    assert len(c.state.tasks) == n
    return seconds, retired


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        runs: dict[int, list[float]] = {22: [], 23: []}
        for _ in range(args.rounds):
            for rule in (22, 23):
                runs[rule].append(close_seconds(rule, n)[0])
        row = {"tasks": n, "rule22_close_s": runs[22], "rule23_close_s": runs[23], "added_s": [b - a for a, b in zip(runs[22], runs[23])]}
        rows.append(row)
        if not args.json:
            r22 = " / ".join(f"{x:.3f}" for x in runs[22])
            r23 = " / ".join(f"{x:.3f}" for x in runs[23])
            print(f"{n:>9} live tasks: close rule 22 {r22} s, rule 23 {r23} s", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
