"""Finding K1: the marketplace stream has no rate: the models used by the epoch's in-consensus network rows share the
WHOLE stream (1 000 bps of emission) whatever the usage, so one network task of 12 + 1 tokens pays its model's owner
~5 000 COR while its three miners earn ~100 COR of work reward. Who gets it is the oracle's choice of model.
Fixed by rule 31 (RULES_MARKETPLACE_RATE): the usage earns marketplace_usage_rate_units a unit (24.48 COR for one task).
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/marketplace_one_task.py"""
from cor_incentives.core.units import COR
from support.chain import addr
from support.market import commit_reveal, draw_now, market, network, validate_all

for n_tasks in (1, 10):
    c = market(n_miners=3, n_validators=5, beacon=True)
    c.oracle("epoch.close", {})
    e = c.state.epoch
    for k in range(n_tasks):
        tid = network(c, prompt=f"Name a prime number. {k}")
        draw_now(c, tid)
        task = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: "2" for a in task.miners})
        draw_now(c, tid)
        validate_all(c, tid, lambda v, m: (20_000_000, 850_000_000))
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    mk = rec.streams["marketplace"]
    owner = sum(i.amount for i in rec.items if i.stream == "marketplace" and i.address == addr("dev"))
    print(f"{n_tasks:2d} network task(s): marketplace budget {mk['budget'] / COR:.2f} COR, paid {mk['paid'] / COR:.2f} (model owner 'dev': {owner / COR:.2f});"
          f" miners stream paid {rec.streams['miners']['paid'] / COR:.2f}, validators {rec.streams['validators']['paid'] / COR:.2f}")
