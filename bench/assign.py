"""Bench ``assign_cost_flat``: the cost of drawing one task's miners as the network grows from 100 to 100 000 nodes.

    python bench/assign.py [--sizes 100,1000,10000,100000] [--draws 2000] [--k 3] [--json]

For each size, a state with that many selectable miners (stakes and reputations spread over a range)
is built directly: nodes and their bonds in the ledger, then marked and synced into the selection
index the way events do it (``State.touch``, ``selection.sync``). That build is not timed. Then, on
the same state:

    assign   ``tasks.draw_miners``: the handler that draws a waiting task's miners when the beacon
             value comes (sync with nothing marked, a Sampford draw over the weight trees, the
             assignment and its deadline). Mean over --draws tasks, each with its own seed.
    update   one node's reputation changes, then the next draw's sync re-reads it: an O(log n) walk
             up the Fenwick and max trees of each of its pools.
    legacy   the baseline, measured in the same run on the same state: the first rules' draw
             (``selection.sample_nodes``: scan the nodes, weigh each, shuffle by hashing every one,
             systematic PPS), which is what assigning a task cost before. It is the fairest
             baseline: the same weights and the same inclusion probabilities.

The goal is a flat cost: assigning one task at 100 000 nodes costs at most 3× what it costs at 100.
O(k log n) alone predicts log2(100 000) / log2(100) ≈ 2.5×, and the constant per draw (hashing,
Python calls) flattens that further. ``measured`` is that ratio for ``assign``. ``baseline`` is the
same ratio for ``legacy``, which grows linearly. Times are CPU seconds of this process on a shared
machine: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

try:
    from cor_incentives.core import selection
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cor_incentives.core import selection

from cor_incentives.core.beacon import randomness
from cor_incentives.core.ledger import bonded
from cor_incentives.core.params import ParamHistory, Params
from cor_incentives.core.records import Beacon, Node, Task, TaskState
from cor_incentives.core.sampling import SelectionIndex, reference_draw
from cor_incentives.core.state import State
from cor_incentives.core.tasks import draw_miners
from cor_incentives.core.units import COR, PPB

MODEL = "bench-model"
FLAT_TARGET = 3.0


def build(n: int, seed: int) -> State:
    """A state with ``n`` selectable miners serving MODEL (and the beacon rules), its index synced."""
    rng = random.Random(seed)
    state = State(chain_id="bench")
    state.params_history = ParamHistory(((0, Params()),))
    state.beacon = Beacon(value="0x" + "00" * 32, round=0, chain=0, length=1, left=1)
    state.selection = SelectionIndex()
    min_bond = state.params.min_self_bond_miner_units
    for i in range(n):
        nid = "0x" + f"{i:040x}"
        bond = min_bond + rng.randrange(0, 20_000) * COR
        state.ledger.balances[bonded(nid)] = bond
        state.nodes[nid] = Node(nid, "miner", 0, 0, stake_total=bond, models=(MODEL,), reputation_ppb=rng.randrange(PPB // 10, PPB))
        state.touch(nid)
    selection.sync(state)
    return state


def new_task(state: State, tid: int) -> Task:
    task = Task(
        id=tid,
        kind="network",
        user=None,
        session=None,
        router=None,
        model=MODEL,
        prompt_hash="0x" + "11" * 32,
        prompt_bytes=10,
        input_tokens=10,
        max_output_tokens=10,
        redundancy=3,
        validators_wanted=3,
        state=TaskState.CREATED,
        created_tick=0,
        created_epoch=0,
        deadline_tick=0,
        escrowed=0,
        seed="",
        miners=[],
    )
    state.tasks[tid] = task
    return task


def cpu() -> float:
    return time.process_time()


def measure(n: int, draws: int, k: int, seed: int) -> dict[str, float | int]:
    state = build(n, seed)
    value = bytes(32)
    # the index draws what the O(n) reference sampler draws (a spot check of the state built here)
    tree = state.selection.trees[f"miner|{MODEL}"] if state.selection else None
    if tree is not None and n <= 10_000:
        for i in range(5):
            s = randomness(value, "check", i)
            assert tree.draw(k, s) == reference_draw(tree.slots(), k, s)
    t0 = cpu()
    for i in range(draws):
        task = new_task(state, i + 1)
        draw_miners(state, task.id, randomness(value, "task:miners", task.id))
        assert len(task.miners) == k
        state.deadlines.clear()
        del state.tasks[task.id]
    assign = (cpu() - t0) / draws
    nodes = list(state.nodes)
    rng = random.Random(seed + 1)
    t0 = cpu()
    for _ in range(draws):
        nid = rng.choice(nodes)
        state.nodes[nid].reputation_ppb = rng.randrange(PPB // 10, PPB)
        state.touch(nid)
        selection.sync(state)
    update = (cpu() - t0) / draws
    legacy_draws = max(3, min(draws, 200_000 // n))
    t0 = cpu()
    for i in range(legacy_draws):
        assert len(selection.sample_nodes(state, "miner", k, f"task:{i}:miners", model=MODEL)) == k
    legacy = (cpu() - t0) / legacy_draws
    return {"nodes": n, "assign_us": assign * 1e6, "update_us": update * 1e6, "legacy_us": legacy * 1e6, "legacy_draws": legacy_draws}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print only the JSON result")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rows = []
    for n in sizes:
        rows.append(measure(n, args.draws, args.k, args.seed))
        if not args.json:
            r = rows[-1]
            print(
                f"{n:>7} nodes: assign {r['assign_us']:8.1f} µs   update {r['update_us']:6.1f} µs   legacy {r['legacy_us']:11.1f} µs", file=sys.stderr
            )
    small, large = rows[0], rows[-1]
    measured = large["assign_us"] / small["assign_us"]
    baseline = large["legacy_us"] / small["legacy_us"]
    report = {
        "name": "assign_cost_flat",
        "goal": f"cost of assigning one task at {large['nodes']:,} nodes ≤ {FLAT_TARGET}× its cost at {small['nodes']:,} (O(k log n))",
        "measured": round(measured, 3),
        "unit": f"× (assign at {large['nodes']} nodes ÷ at {small['nodes']})",
        "baseline": round(baseline, 3),
        "ratio": round(large["legacy_us"] / large["assign_us"], 1),
        "holds": measured <= FLAT_TARGET,
        "baseline_is": "the first rules' O(n) draw (selection.sample_nodes) on the same states, same run",
        "ratio_is": "the baseline's cost ÷ the new draw's, at the largest size",
        "k": args.k,
        "sizes": rows,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
