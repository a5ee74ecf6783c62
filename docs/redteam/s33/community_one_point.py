"""Finding C1: the community stream has no rate: one attestation of 1 point pays its member the whole stream
(800 bps of emission), the same total as 1 000 points spread over many members.
Run: PYTHONPATH=$PWD/src:$PWD/tests .venv/bin/python docs/redteam/s33/community_one_point.py"""
from cor_incentives.core.units import COR
from support.chain import Chain, addr

c = Chain(wallets={"cur": 10 * COR, "a": 5_000 * COR, "b": 5_000 * COR, "c": 5_000 * COR})
c.oracle("community.appoint", {"curator": addr("cur")})
c.oracle("epoch.close", {})
p = c.state.params
print("member points cap", p.community_max_points_per_member_epoch, "curator points/epoch", p.community_curator_points_per_epoch)
for label, attests in (("1 point to one member", [("a", 1)]), ("300 points each to three members (3 x 100 each)", [(m, 100) for m in "abc" for _ in range(3)])):
    for i, (m, pts) in enumerate(attests):
        c.as_("cur", "community.attest", {"member": addr(m), "kind": "forum", "points": pts, "reference": f"r{c.state.epoch}-{i}"})
    e = c.state.epoch
    c.oracle("epoch.close", {})
    rec = c.state.epochs[e]
    s = rec.streams["community"]
    lines = {i.address: i.amount for i in rec.items if i.stream == "community"}
    print(f"epoch {e}: {label}: budget {s['budget'] / COR:.2f} COR, paid {s['paid'] / COR:.2f};"
          f" per point {s['paid'] // sum(p for _, p in attests) / COR:.4f} COR; a got {lines.get(addr('a'), 0) / COR:.2f}")
