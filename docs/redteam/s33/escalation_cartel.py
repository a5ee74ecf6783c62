"""V1 over an epoch: 10 validators (equal stake), a cartel of 3 (30 % of validator stake); on each of 20 network tasks,
a cartel member drawn in round 0 reports one miner's quality 0.11 low (just past dissent_bound_ppb), which escalates the
task to 10 validators. Twin: the same world with no dissent. Income = the validators stream's node rewards.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/escalation_cartel.py"""
from cor_incentives.core.units import COR
from support.market import commit_reveal, draw_now, market, network, validate_all

HONEST = (20_000_000, 850_000_000)


def world(dissent: bool, n_tasks: int = 20):
    c = market(n_miners=3, n_validators=10, beacon=True)
    cartel = set(sorted(a for a, n in c.state.nodes.items() if n.role == "validator")[:3])
    c.oracle("epoch.close", {})
    e = c.state.epoch
    escalated = 0
    for k in range(n_tasks):
        tid = network(c, prompt=f"Name a prime number. {k}")
        draw_now(c, tid)
        task = c.state.tasks[tid]
        commit_reveal(c, tid, {a.miner: "2" for a in task.miners})
        draw_now(c, tid)
        liar = min(set(task.validators) & cartel, default=None) if dissent else None
        target = sorted(a.miner for a in task.miners)[0]
        validate_all(c, tid, lambda v, m: (HONEST[0], HONEST[1] - 110_000_000) if (v == liar and m == target) else HONEST)
        t = c.state.tasks.get(tid) or c.state.closed_tasks.get(tid)
        escalated += liar is not None
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    reward = {i.address: i.detail["inputs"]["reward"] for i in rec.items if i.stream == "validator_work:node"}
    s = rec.streams["validators"]
    return sum(reward.get(v, 0) for v in cartel), sum(r for v, r in reward.items() if v not in cartel), s, escalated, len(c.state.slashes)


twin, att = world(False), world(True)
for name, (cart, rest, s, esc, slashes) in (("twin (no dissent)", twin), ("cartel dissents", att)):
    print(f"{name}: escalated {esc}/20; stream budget {s['budget'] / COR:.0f}, paid {s['paid'] / COR:.2f} COR; cartel {cart / COR:.2f}, others {rest / COR:.2f}; slashes {slashes}")
print(f"cartel gain {(att[0] - twin[0]) / COR:+.2f} COR ({(att[0] - twin[0]) * 100 / twin[0]:+.1f} %); others {(att[1] - twin[1]) / COR:+.2f}; extra emission {(att[2]['paid'] - twin[2]['paid']) / COR:+.2f} COR")
