"""Finding G1: a staker with >= gov_quorum_bps of the aged stake harvests the whole governance stream every epoch
with a do-nothing proposal it votes `abstain` on (quorum met, threshold not met -> REJECTED, deposit refunded), and
splits its power over 4 addresses to get 4 x gov_voter_reward_cap_bps = 100 % of the stream.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/gov_selfvote.py"""
from cor_incentives.core.units import COR
from support.chain import Chain, addr

PARAMS = {"gov_voting_period_ticks": 10, "epoch_length_ticks": 20}  # shipped deposit (1000 COR), quorum, cap
honest = {"h1": 4000, "h2": 4000, "h3": 4000}
whale = {f"w{i}": 2000 for i in range(4)}  # 8 000 of 20 000 = 40 % of the stake, 4 keys (each at the validator minimum)
c = Chain(wallets={n: 10_000 * COR for n in [*honest, *whale]}, params=PARAMS)
for n, bond in {**honest, **whale}.items():
    c.as_(n, "node.register", {"role": "validator", "self_bond": str(bond * COR)})
c.oracle("epoch.close", {})
c.oracle("epoch.close", {})
p = c.state.params
print("shipped gov_min_deposit_units", p.gov_min_deposit_units // COR, "COR; quorum_bps", p.gov_quorum_bps, "cap_bps", p.gov_voter_reward_cap_bps)


def wallet(n):
    return c.state.ledger.balance(f"wallet:{addr(n)}")


for epoch_round in range(3):
    before = {n: wallet(n) for n in whale}
    pool0 = c.state.ledger.balance("pool:network_incentives")
    pid = c.state.next_id
    if epoch_round > 0:  # epoch_round 0: the baseline, nobody proposes
        c.as_("w0", "gov.propose", {"kind": "param_change", "title": "noop", "changes": {"max_commission_bps": p.max_commission_bps}, "effective_epoch": c.state.epoch + 2})
        for n in whale:
            c.as_(n, "gov.vote", {"proposal": pid, "option": "abstain"})
        c.oracle("tick", {"ticks": c.state.proposals[pid].end_tick - c.state.tick})
    e = c.state.epoch
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    g = rec.streams["governance"]
    lines = {i.address: i.amount for i in rec.items if i.stream == "governance"}
    whale_paid = sum(lines.get(addr(n), 0) for n in whale)
    status = c.state.proposals[pid].status if epoch_round > 0 else "-"
    print(f"epoch {e}: proposal {status} quorum_met={c.state.proposals[pid].quorum_met if epoch_round else '-'}; governance budget {g['budget'] / COR:.2f} COR,"
          f" paid {g['paid'] / COR:.2f}, to the whale's 4 keys {whale_paid / COR:.2f} ({whale_paid * 100 // max(1, g['budget'])} %),"
          f" honest {sum(lines.get(addr(n), 0) for n in honest) / COR:.2f}; whale wallets' change (deposit back?) {sum(wallet(n) - before[n] for n in whale) / COR:.2f}")
