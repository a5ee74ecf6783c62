"""R1 on a network with a beacon and pruning (rule 27 stubs): the tasks settled honestly, an epoch passes, then the
operator signs two statements per scope offline and reports them from a second key.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/self_report_settled.py"""
from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.units import COR
from support.chain import addr
from support.market import MODEL, commit_reveal, draw_now, market, submit, validate_all

NODE_KEY = "0x" + "42" * 32
OP = private_key_address(NODE_KEY)
c = market(n_miners=2, n_validators=3, beacon=True, params={"redundancy": 3, "prune_closed_records": 1}, deposit=1_000 * COR)
c.state.ledger.transfer("treasury", f"wallet:{OP}", 2_000 * COR, "test funding")
c.submit(OP, "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
c.as_("user", "stake.delegate", {"node": OP, "amount": str(99_000 * COR)})
c.oracle("epoch.close", {})
done = []
for k in range(4):
    tid = submit(c, prompt=f"q{k}")
    draw_now(c, tid)
    task = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
    draw_now(c, tid)
    validate_all(c, tid, lambda v, m: (20_000_000, 850_000_000))
    state = c.state.tasks[tid].state if tid in c.state.tasks else c.state.closed_tasks[tid].state
    if OP in {a.miner for a in task.miners}:
        done.append((tid, state))
c.oracle("epoch.close", {})
print("tasks of the operator's node:", done, "| live records:", [t for t, _ in done if t in c.state.tasks], "stubs:", [t for t, _ in done if t in c.state.closed_tasks])
bond0, op2_0, stake0 = c.balance(f"bonded:{OP}"), c.balance(f"wallet:{addr('op2')}"), c.state.nodes[OP].stake_total
for tid, _ in done:
    for phase in ("precommit", "reveal"):
        msgs = [sign_scoped(NODE_KEY, c.state.chain_id, f"task:{tid}:{phase}", m) for m in ("0xaaa", "0xbbb")]
        c.as_("op2", "slash.report", {"node": OP, "offence": "equivocation", "evidence": {"messages": msgs}})
loss, gain = bond0 - c.balance(f"bonded:{OP}"), c.balance(f"wallet:{addr('op2')}") - op2_0
print(f"{len(c.state.slashes)} slashes; node stake {stake0 / COR:.0f} -> {c.state.nodes[OP].stake_total / COR:.2f} COR;"
      f" operator's bond lost {loss / COR:.2f}, its second key gained {gain / COR:.2f}, net {(gain - loss) / COR:+.2f} COR")
