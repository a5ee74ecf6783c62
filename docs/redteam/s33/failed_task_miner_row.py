"""Check M1: a network task that FAILS (no_consensus: 1 miner in consensus of min_consensus 2) still gives its one
in-consensus miner a paid work row (units from the settled input tokens only; output_tokens is never set on a failed
task), while docs/rewards.md says 'a failed task's rows count toward the gates and earn nothing'.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/failed_task_miner_row.py"""
from cor_incentives.core.units import COR
from support.market import commit_reveal, draw_now, market, network, validate_all

c = market(n_miners=3, n_validators=5, beacon=True)
c.oracle("epoch.close", {})
e = c.state.epoch
tid = network(c)
draw_now(c, tid)
task = c.state.tasks[tid]
good = sorted(a.miner for a in task.miners)[0]
commit_reveal(c, tid, {a.miner: ("2" if a.miner == good else f"junk {a.miner}") for a in task.miners})
draw_now(c, tid)
validate_all(c, tid, lambda v, m: (20_000_000, 850_000_000) if m == good else (950_000_000, 50_000_000))
task = c.state.tasks.get(tid) or task
print("task", task.state, getattr(task, "failure", None))
c.oracle("epoch.close", {})
rec = c.state.epochs[e]
for i in rec.items:
    if i.stream in ("miner_work:node", "miner_work:none") and i.address == good:
        inp = i.detail.get("inputs", i.detail)
        print("good miner line", i.stream, {k: inp.get(k) for k in ("assignments", "eligible", "reason", "work", "weighted", "network_claim", "reward")})
print("miners stream paid", rec.streams["miners"]["paid"] / COR, "COR")
