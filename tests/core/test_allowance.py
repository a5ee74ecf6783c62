"""The counted-offence allowance (rule version 7, core/allowance.py) and the starting reputation capped by recently
slashed nodes: an honest node's isolated PoI misses are forgiven within floor(tasks served well × offence_allowance_bps
/ 10 000) over this epoch and the last; splitting never raises the allowance; the earlier rules slash every offence."""

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from cor_incentives.app import views
from cor_incentives.core.allowance import allowance, window
from cor_incentives.core.errors import EngineError
from cor_incentives.core.records import Node
from cor_incentives.core.rules import RULES_OFFENCE_ALLOWANCE
from cor_incentives.core.slashing import audit_slashes, evidence_hash
from support.chain import addr
from support.market import COR, MODEL, commit_reveal, market, submit, validate_all


def task_with(c, bad=frozenset()):
    """One user task served by every miner; the miners in ``bad`` are out of consensus (a PoI divergence each)."""
    tid = submit(c)
    miners = [a.miner for a in c.state.tasks[tid].miners]
    commit_reveal(c, tid, {m: "Paris" if m not in bad else f"junk {m}" for m in miners})
    validate_all(c, tid, lambda v, m: (900_000_000, 0) if m in bad else (0, 900_000_000))
    return tid


def test_an_isolated_miss_after_ten_tasks_served_well_is_forgiven_and_the_next_is_slashed():
    c = market(n_miners=3)
    m0 = addr("m0")
    assert c.state.params.offence_allowance_bps == 1_000 and c.state.params.rule_version >= RULES_OFFENCE_ALLOWANCE
    for _ in range(10):
        task_with(c)
    node = c.state.nodes[m0]
    assert node.served + node.served_prev == 10 and allowance(c.state, node) == 1
    validators = [n for n in c.state.nodes.values() if n.role == "validator"]
    assert all(v.served + v.served_prev == 10 for v in validators)  # each reported without deviating
    assert views.offence_allowance(c.state, node) == {"served": 10, "forgiven": 0, "left": 1}
    miss = task_with(c, bad={m0})
    assert c.state.slashes == [] and node.forgiven + node.forgiven_prev == 1 and allowance(c.state, node) == 0
    assert views.node(c.state, m0)["offence_allowance"] == {"served": 10, "forgiven": 1, "left": 0}
    assert evidence_hash(m0, "poi_divergence", {"task": miss}) in c.state.evidence_used
    try:  # the oracle cannot have a forgiven offence slashed later
        c.oracle("slash.report", {"node": m0, "offence": "poi_divergence", "evidence": {"task": miss}})
        raise AssertionError("a forgiven offence was slashed on report")
    except EngineError as e:
        assert e.code == "evidence_already_used"
    second = task_with(c, bad={m0})
    (s,) = c.state.slashes
    assert (s.node, s.offence, s.evidence, s.total) == (m0, "poi_divergence", {"task": second}, 10 * COR)
    assert audit_slashes(c.state) == []


def test_the_rules_before_the_allowance_slash_every_counted_offence():
    c = market(n_miners=3, params={"rule_version": RULES_OFFENCE_ALLOWANCE - 1})
    for _ in range(10):
        task_with(c)
    assert c.state.nodes[addr("m0")].served == 0  # nothing counted before the rule
    task_with(c, bad={addr("m0")})
    (s,) = c.state.slashes
    assert s.offence == "poi_divergence" and s.total == 10 * COR


def test_the_window_is_this_epoch_and_the_last():
    c = market(n_miners=3)
    node = c.state.nodes[addr("m0")]
    node.allowance_epoch, node.served = c.state.epoch, 25  # 2 forgiven offences earned this epoch
    assert allowance(c.state, node) == 2
    c.state.epoch += 1
    assert allowance(c.state, node) == 2 and window(c.state, node) == (0, 25, 0, 0)  # last epoch's work still counts
    c.state.epoch += 1
    assert allowance(c.state, node) == 0  # two epochs on: nothing carries over


@given(st.lists(st.integers(0, 500), min_size=1, max_size=12), st.integers(0, 10_000), st.integers(0, 5))
def test_splitting_work_over_keys_never_raises_the_allowance(served, bps, epoch):
    """Σ floor(sᵢ × a) ≤ floor(Σ sᵢ × a): the same work served by several keys earns at most one key's allowance."""
    state = SimpleNamespace(params=SimpleNamespace(offence_allowance_bps=bps), epoch=epoch)

    def node(n):
        return Node(id="x", role="miner", commission_bps=0, registered_tick=0, allowance_epoch=epoch, served=n)

    assert sum(allowance(state, node(n)) for n in served) <= allowance(state, node(sum(served))) == sum(served) * bps // 10_000


def test_a_fresh_key_after_the_jail_ended_starts_no_better_than_the_slashed_node():
    c = market(n_miners=3)
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    c.state.nodes[cheat].reputation_ppb = 450_000_000  # a bad record (above rule 13's newcomer floor, 0.4: below it the floor)
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    jail_end = c.state.nodes[cheat].jailed_until_tick
    c.oracle("tick", {"ticks": jail_end - c.state.tick})  # the jail has ended (the old key is never unjailed)
    c.as_("dev", "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
    fresh = c.state.nodes[addr("dev")]
    assert fresh.reputation_ppb <= c.state.nodes[cheat].reputation_ppb < 500_000_000

    old = market(n_miners=3, params={"rule_version": RULES_OFFENCE_ALLOWANCE - 1})  # the same on rule version 6: 0.5
    tid = submit(old)
    cheat = old.state.tasks[tid].miners[0].miner
    old.state.nodes[cheat].reputation_ppb = 100_000_000
    commit_reveal(old, tid, {a.miner: "Paris" for a in old.state.tasks[tid].miners}, wrong_reveal={cheat})
    old.oracle("tick", {"ticks": old.state.nodes[cheat].jailed_until_tick - old.state.tick})
    old.as_("dev", "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
    assert old.state.nodes[addr("dev")].reputation_ppb == 500_000_000


def test_the_slash_is_forgotten_after_reputation_memory_epochs():
    c = market(n_miners=3, params={"reputation_memory_epochs": 1})
    tid = submit(c)
    cheat = c.state.tasks[tid].miners[0].miner
    c.state.nodes[cheat].reputation_ppb = 100_000_000
    commit_reveal(c, tid, {a.miner: "Paris" for a in c.state.tasks[tid].miners}, wrong_reveal={cheat})
    assert c.state.slashes[-1].epoch == 0
    c.oracle("tick", {"ticks": c.state.nodes[cheat].jailed_until_tick - c.state.tick})  # the jail has ended
    assert c.state.epoch == 2 and c.state.nodes[cheat].jailed  # the slash of epoch 0 is more than one epoch old
    c.as_("dev", "node.register", {"role": "miner", "self_bond": str(1000 * COR), "models": [MODEL]})
    assert c.state.nodes[addr("dev")].reputation_ppb == 500_000_000
