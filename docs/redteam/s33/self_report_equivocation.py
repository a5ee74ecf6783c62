"""Finding R1: an operator reports its OWN node's equivocation from a second key and collects slash_reporter_bps (10 %)
of each slash, which falls mostly on its delegators. The core refuses only reporter == node (`self_report`); it does not
check accounts.is_linked (the second key here is even funded by the operator). Equivocation evidence is two different
statements the node signs itself, offline, for any scope of any task it was assigned in the freshness window, so the
operator can make as many offences as it has scopes (task:<id>:precommit and :reveal per miner task).
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/self_report_equivocation.py"""
from cor_incentives.app.signing import sign_scoped
from cor_incentives.core.signatures import private_key_address
from cor_incentives.core.units import COR
from support.chain import addr
from support.market import MODEL, market, submit

NODE_KEY = "0x" + "42" * 32
OP = private_key_address(NODE_KEY)
c = market(n_miners=1, params={"redundancy": 2})
c.state.ledger.transfer("treasury", f"wallet:{OP}", 2_000 * COR, "test funding")  # (a funded operator key)
c.submit(OP, "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
c.submit(OP, "transfer", {"to": addr("op2"), "amount": str(1 * COR)})  # op2: the operator's second key, funded BY it
c.as_("user", "stake.delegate", {"node": OP, "amount": str(99_000 * COR)})  # delegators: 99 x the self-bond
tasks = []
for k in range(3):  # three tasks the node is drawn for (cancelled here: no deadline missed, still 'assigned')
    tid = submit(c, prompt=f"q{k}")
    if OP in {a.miner for a in c.state.tasks[tid].miners}:
        tasks.append(tid)
    c.as_("user", "task.cancel", {"task": tid})
stake0 = c.state.nodes[OP].stake_total
op2_0 = c.balance(f"wallet:{addr('op2')}")
bond0 = c.balance(f"bonded:{OP}")
n = 0
for tid in tasks:
    for phase in ("precommit", "reveal"):
        msgs = [sign_scoped(NODE_KEY, c.state.chain_id, f"task:{tid}:{phase}", m) for m in ("0xaaa", "0xbbb")]
        c.as_("op2", "slash.report", {"node": OP, "offence": "equivocation", "evidence": {"messages": msgs}})
        n += 1
op_loss = bond0 - c.balance(f"bonded:{OP}")
op2_gain = c.balance(f"wallet:{addr('op2')}") - op2_0
print(f"{n} self-reported equivocations on {len(tasks)} tasks; node stake {stake0 / COR:.0f} -> {c.state.nodes[OP].stake_total / COR:.2f} COR")
print(f"operator's own bond lost {op_loss / COR:.2f} COR; its second key (reporter) gained {op2_gain / COR:.2f} COR; net {(op2_gain - op_loss) / COR:+.2f} COR")
deleg = c.balance("delegated:" + OP + ":" + addr("user"))
print(f"delegators lost {(99_000 * COR - deleg) / COR:.2f} COR; slashes {[(s.offence, s.reporter == addr('op2')) for s in c.state.slashes]}")
