import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.core.errors import EngineError
from cor_incentives.core.staking import accrue_all, credit_node_reward, is_selectable, settle_node_rewards
from support.chain import Chain, addr
from support.market import COR, commit_reveal, market, submit

SMALL = {
    "min_position_units": "1",  # no minimum position (rule 20): these tests move a few base units
    "min_self_bond_miner_units": "100",
    "min_self_bond_validator_units": "100",
    "unbonding_period_epochs": 2,
    "epoch_length_ticks": 10,
    "jail_duration_ticks": 20,
}


def chain():
    return Chain(wallets={"op": 10_000, "d": 10_000, "e": 10_000}, params=SMALL)


def rejected(c, who, kind, body, code):
    before = c.state.to_dict()
    with pytest.raises(EngineError) as e:
        c.submit(who, kind, body) if who.startswith("0x") else c.as_(who, kind, body)
    assert e.value.code == code
    assert c.state.to_dict() == before, "a rejected command changed the state"


def test_register_rules():
    c = chain()
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "99"}, "self_bond_below_minimum")
    rejected(c, "op", "node.register", {"role": "oracle", "self_bond": "100"}, "invalid_role")
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "20000"}, "stake_exceeds_balance")
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "100", "commission_bps": 2001}, "commission_out_of_bounds")
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    rejected(c, "op", "node.register", {"role": "miner", "self_bond": "100"}, "node_already_registered")
    assert is_selectable(c.state, c.state.nodes[addr("op")])


def test_unbond_withdraw_after_period():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500"})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": "300"})
    rejected(c, "d", "stake.undelegate", {"node": addr("op"), "amount": "301"}, "unbond_exceeds_stake")
    c.as_("d", "stake.undelegate", {"node": addr("op"), "amount": "300"})
    assert c.balance(f"unbonding:{addr('d')}") == 300
    rejected(c, "d", "stake.withdraw", {}, "unbonding_not_mature")
    c.oracle("tick", {"ticks": 10})
    rejected(c, "d", "stake.withdraw", {}, "unbonding_not_mature")
    c.oracle("tick", {"ticks": 10})
    c.as_("d", "stake.withdraw", {})
    assert c.balance(f"wallet:{addr('d')}") == 10_000
    rejected(c, "d", "stake.withdraw", {}, "nothing_to_withdraw")
    assert addr("d") not in c.state.nodes[addr("op")].delegators


def test_commission_change_bounded_and_rate_limited():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500", "commission_bps": 1000})
    rejected(c, "op", "node.set_commission", {"commission_bps": 1600}, "commission_change_too_large")
    c.as_("op", "node.set_commission", {"commission_bps": 1500})
    rejected(c, "op", "node.set_commission", {"commission_bps": 1400}, "commission_change_too_soon")
    c.oracle("epoch.close", {})
    c.as_("op", "node.set_commission", {"commission_bps": 1400})


def test_jail_and_unjail_needs_cooldown_and_bond():
    c = market(n_miners=3, params={"jail_duration_ticks": 20, "min_self_bond_miner_units": str(2000 * COR)})
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    node = c.state.nodes[cheat]
    assert node.jailed and not is_selectable(c.state, node)
    rejected(c, cheat, "node.unjail", {}, "jail_cooldown_not_over")
    c.oracle("tick", {"ticks": 20})
    rejected(c, cheat, "node.unjail", {}, "self_bond_below_minimum")  # 2000 - 5% = 1900 < 2000
    c.submit(cheat, "stake.bond", {"amount": str(100 * COR)})
    c.submit(cheat, "node.unjail", {})
    assert is_selectable(c.state, c.state.nodes[cheat])


def test_non_oracle_cannot_report_or_tick():
    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    rejected(c, "d", "slash.report", {"node": addr("op"), "offence": "commit_mismatch", "evidence": {"x": 1}}, "unauthorized_reporter")
    rejected(c, "d", "tick", {"ticks": 1}, "unauthorized_actor")


def test_reused_nonce_refused():
    from cor_incentives.core.apply import apply
    from cor_incentives.core.events import Command, make_event
    from support.chain import CHAIN_ID, SIG

    c = chain()
    c.as_("d", "transfer", {"to": addr("e"), "amount": "1"})
    payload = Command(CHAIN_ID, "transfer", addr("d"), 1, {"to": addr("e"), "amount": "1"}).encode()
    with pytest.raises(EngineError) as e:
        apply(c.state, make_event(c.state.seq + 1, 0, payload, SIG, c.state.head_hash))
    assert e.value.code == "nonce_already_used"


# --- stake × time against a naive per-position count --------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(0, 10**24)),
        st.tuples(st.just("tick"), st.integers(1, 30)),
        st.tuples(st.just("delegate"), st.integers(0, 3), st.integers(1, 10**21)),
        st.tuples(st.just("undelegate"), st.integers(0, 3), st.integers(1, 10**21)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(0, 2000))
def test_stake_time_shares_match_a_naive_count(ops, commission):
    """Within one epoch, whatever the order of credits, ticks and stake changes, each position (including one that left)
    is paid exactly floor(R × its stake × ticks / the node's), R being every credit's part after commission (all of a
    credit made before any stake × ticks, rule 31)."""
    names = ["d0", "d1", "d2", "d3"]
    params = {"min_self_bond_miner_units": "1", "min_position_units": "1", "epoch_length_ticks": 10_000}
    c = Chain(wallets={"op": 10**22, **{n: 10**23 for n in names}}, params=params, check=False)
    c.as_("op", "node.register", {"role": "miner", "self_bond": str(10**21), "commission_bps": commission})
    node = addr("op")
    stakes = {node: 10**21}
    ticks: dict[str, int] = {node: 0}
    commissions = rest = 0
    for op in ops:
        if op[0] == "credit":
            s = c.state
            s.ledger.begin()
            credit_node_reward(s, node, "pool:network_incentives", op[1], "test", {})
            s.ledger.commit()
            # rule 31 (RULES_STAKE_TICKS_COMMISSION): before any stake × ticks the whole credit is commission
            taken = op[1] * commission // 10_000 if sum(ticks.values()) else op[1]
            commissions += taken
            rest += op[1] - taken
        elif op[0] == "tick":
            c.oracle("tick", {"ticks": op[1]})
            for a, v in stakes.items():
                ticks[a] = ticks.get(a, 0) + v * op[1]
        else:
            who = addr(names[op[1]])
            kind = "stake.delegate" if op[0] == "delegate" else "stake.undelegate"
            try:
                c.as_(names[op[1]], kind, {"node": node, "amount": str(op[2])})
            except EngineError:
                continue
            stakes[who] = stakes.get(who, 0) + (op[2] if op[0] == "delegate" else -op[2])
            ticks.setdefault(who, 0)
    c.state.ledger.begin()
    dust = settle_node_rewards(c.state, node)
    c.state.ledger.commit()
    total = sum(ticks.values())
    accrue_all(c.state, c.state.nodes[node])
    assert c.state.nodes[node].stake_ticks == total
    for a, t in ticks.items():
        assert c.state.nodes[node].positions[a].stake_ticks == t
        expect = (rest * t // total if total else 0) + (commissions if a == node else 0)
        assert c.balance(f"claimable:{a}") == expect, a
    assert c.balance(f"rewards:{node}") == 0
    assert sum(c.balance(f"claimable:{a}") for a in ticks) + dust == commissions + rest


def test_stake_bonded_for_the_last_tick_earns_one_tick_of_the_epoch():
    """20 000 delegated one tick before the close next to an operator's 2 000 bonded all epoch: the work reward and the
    APR are split 2 000 × 100 : 20 000 × 1, not by the stake at the close (which gave the late delegation 90.9 %)."""
    c = Chain(wallets={"op": 2_000 * 10**18, "late": 20_000 * 10**18}, params={"min_self_bond_miner_units": "1"})
    c.as_("op", "node.register", {"role": "miner", "self_bond": str(2_000 * 10**18)})
    node = addr("op")
    c.oracle("tick", {"ticks": 99})
    c.as_("late", "stake.delegate", {"node": node, "amount": str(20_000 * 10**18)})
    c.state.ledger.begin()
    credit_node_reward(c.state, node, "pool:network_incentives", 1_000 * 10**18, "miner_work", {})
    c.state.ledger.commit()
    c.oracle("epoch.close", {})
    items = [i for i in c.state.epochs[0].items if i.detail.get("node") == node and i.stream in ("stake_reward", "staking_apr:stake")]
    late = sum(i.amount for i in items if i.address == addr("late"))
    own = sum(i.amount for i in items if i.address == node)
    assert late * 10 == pytest.approx(own, rel=1e-12)  # 20 000 × 1 tick is a tenth of 2 000 × 100 ticks
    line = next(i for i in items if i.address == addr("late"))
    assert line.detail["stake_ticks"] == 20_000 * 10**18 and line.detail["node_stake_ticks"] == 220_000 * 10**18
    assert line.amount == line.detail["node_reward"] * line.detail["stake_ticks"] // line.detail["node_stake_ticks"]


def test_a_commission_change_applies_from_the_next_epoch():
    no_apr = {"pool:network_incentives": 10**24, "treasury": 10**24}  # an empty pool:staking pays no APR
    c = Chain(wallets={"op": 1_000, "d": 9_000}, params={"min_self_bond_miner_units": "1", "min_position_units": "1"}, pools=no_apr)
    c.as_("op", "node.register", {"role": "miner", "self_bond": "1000", "commission_bps": 0})
    node = addr("op")
    c.as_("d", "stake.delegate", {"node": node, "amount": "9000"})
    c.oracle("tick", {"ticks": 98})
    c.as_("op", "node.set_commission", {"commission_bps": 500})
    assert c.state.nodes[node].commission_bps == 0 and c.state.nodes[node].commission_next_bps == 500

    def credit(amount):
        c.state.ledger.begin()
        credit_node_reward(c.state, node, "pool:network_incentives", amount, "miner_work", {})
        c.state.ledger.commit()

    credit(1_000)
    c.oracle("epoch.close", {})
    assert c.balance(f"claimable:{node}") == 100 and c.balance(f"claimable:{addr('d')}") == 900  # 0 % in epoch 0
    assert c.state.nodes[node].commission_bps == 500 and c.state.nodes[node].commission_next_bps is None
    c.oracle("tick", {"ticks": 1})  # stake × ticks in the new epoch (rule 31: a credit before any is all commission)
    credit(1_000)
    c.oracle("epoch.close", {})
    assert c.balance(f"claimable:{node}") == 100 + 50 + 95 and c.balance(f"claimable:{addr('d')}") == 900 + 855


def test_a_stake_move_costs_the_same_whatever_the_node_has_delegators():
    """A delegation reads O(1) balances, not one per delegator of the node (each delegation to a node of 10 k delegators
    cost ~4 ms when change_stake summed every position: a replay of n delegations to one node was O(n²))."""
    from cor_incentives.core.apply import conservation_holds

    names = [f"w{i}" for i in range(300)]
    c = Chain(wallets={"op": 10_000, **{n: 10 for n in names}}, params=SMALL, check=False)  # the full check: at the end
    c.as_("op", "node.register", {"role": "miner", "self_bond": "100"})
    ledger = type(c.state.ledger)
    reads: list[int] = []
    real = ledger.balance

    def counted(self, account):
        reads[-1] += 1
        return real(self, account)

    try:
        ledger.balance = counted
        for n in names:
            reads.append(0)
            c.as_(n, "stake.delegate", {"node": addr("op"), "amount": "1"})
    finally:
        ledger.balance = real
    assert len(c.state.nodes[addr("op")].delegators) == 300
    conservation_holds(c.state)  # and the cached total equals the ledger
    assert max(reads[-10:]) == max(reads[:10]) < 30, (reads[:10], reads[-10:])


def test_the_full_check_finds_a_cached_stake_that_differs_from_the_ledger():
    """change_stake checks each move alone; the full check (every node against the ledger) is what finds a cached
    stake_total that drifted, wherever it drifted."""
    from cor_incentives.core.apply import conservation_holds
    from cor_incentives.core.conservation import Conservation
    from cor_incentives.core.errors import InvariantViolation

    c = chain()
    c.as_("op", "node.register", {"role": "miner", "self_bond": "500"})
    c.as_("d", "stake.delegate", {"node": addr("op"), "amount": "300"})
    conservation_holds(c.state)
    Conservation().full(c.state)
    c.state.nodes[addr("op")].stake_total += 1
    with pytest.raises(InvariantViolation, match="stake_total differs from the ledger"):
        conservation_holds(c.state)
    with pytest.raises(InvariantViolation, match="stake_total differs from the ledger"):
        Conservation().full(c.state)
