"""Note for rule 29 (s33-rule29 owns the fix): sum(agreement_ppb) = 0 is reachable WITHOUT any canary: three
validators whose reports each sit >= agreement_tolerance_ppb (0.1) from the per-measure medians all score 0, none
deviates past validator_deviation_max_ppb (0.2) so none is slashed, and settle_fee's `pool // n` branch pays each an
equal third. A rule-29 fix keyed on canary_failed alone would leave this path.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/fee_zero_agreement_no_canary.py"""
from support.market import draw_now, market, submit, commit_reveal, validate_all

c = market(n_miners=3, n_validators=3, beacon=True, params={"escalation_rounds_max": 0})
tid = submit(c)
draw_now(c, tid)
task = c.state.tasks[tid]
commit_reveal(c, tid, {a.miner: "Paris" for a in task.miners})
draw_now(c, tid)
va, vb, vc = sorted(task.validators)
R = {va: (300_000_000, 400_000_000), vb: (100_000_000, 600_000_000), vc: (500_000_000, 800_000_000)}
validate_all(c, tid, lambda v, m: R[v])
task = c.state.tasks.get(tid) or task
print("rule", c.state.params.rule_version, "state", task.state, "canary", task.canary, "canary_failed", task.canary_failed)
print("consensus (d, q) per miner", {a.miner[:8]: (a.distance_ppb, a.quality_ppb, a.in_consensus) for a in task.miners})
print("agreement", {v[:8]: x for v, x in task.agreement_ppb.items()})
print("validators part", task.split["validators"], "paid", [(e.address[:8], e.amount) for e in c.state.earnings if e.stream == "task_fee:validator" and e.detail["task"] == tid])
print("slashes", [(s.node[:8], s.offence) for s in c.state.slashes])
