"""Finding V1: one validator's deliberate dissent on a network task doubles the task's paid validations: the escalation
round's validators each earn network_validation_rate_units (42 COR) x agreement x multiplier from the validators
stream, for re-checking a task nobody disputed in good faith. The dissenter's cost is a small cut of its own row; it stays
under validator_deviation_max_ppb (no slash). Twin worlds: same seed, same task, with and without the dissent.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/escalation_pay.py"""
from cor_incentives.core.units import COR
from support.market import commit_reveal, draw_now, market, network, validate_all

HONEST = (20_000_000, 850_000_000)


def world(dissent: bool):
    c = market(n_miners=3, n_validators=10, beacon=True)
    c.oracle("epoch.close", {})
    e = c.state.epoch
    tid = network(c)
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "2" for a in task.miners})
    draw_now(c, tid)
    first = sorted(task.validators)
    liar = first[0]
    target = sorted(a.miner for a in task.miners)[0]

    def judge(v, m):  # the liar reports one miner's quality 0.11 lower: just past dissent_bound_ppb (0.1)
        if dissent and v == liar and m == target:
            return (HONEST[0], HONEST[1] - 110_000_000)
        return HONEST

    validate_all(c, tid, judge)
    task = c.state.tasks.get(tid) or task
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    s = rec.streams["validators"]
    node_lines = {i.address: i.detail for i in rec.items if i.stream == "validator_work:node"}
    liar_reward = node_lines.get(liar, {}).get("inputs", {}).get("reward", 0)
    return c, s, len(task.validators), task.round, liar_reward, task.agreement_ppb.get(liar), [x.offence for x in c.state.slashes if x.node == liar]


for dissent in (False, True):
    c, s, nval, rnd, liar_reward, liar_agreement, liar_slashes = world(dissent)
    print(f"{'dissent' if dissent else 'honest '}: validators on the task {nval} (round {rnd}); validators stream budget {s['budget'] / COR:.2f} COR,"
          f" paid {s['paid'] / COR:.2f}; the dissenter: agreement {liar_agreement}, reward {liar_reward / COR:.2f} COR, slashes {liar_slashes}")
print("rate", c.state.params.network_validation_rate_units / COR, "COR per validation; escalation_rounds_max", c.state.params.escalation_rounds_max)
