"""Rule version RULES_PRUNE in the core (core/prune.py): earlier epoch records slim down, leave once every leaf is
claimed, superseded parameter versions leave, the running hash folds each record in order, a state
decoded from a snapshot at any event replays the rest like the original, and rule 6 keeps everything."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cor_incentives.app import views
from cor_incentives.core.apply import apply, conservation_holds
from cor_incentives.core.errors import EngineError
from cor_incentives.core.events import content_hash
from cor_incentives.core.prune import PARAMS, RECORDS, fold
from cor_incentives.core.records import Pruned
from cor_incentives.core.rules import LATEST, RULES_PRUNE
from cor_incentives.core.state import State
from cor_incentives.core.state_codec import encode_state, pruned_record_hash
from cor_incentives.core.units import COR
from support.chain import Chain, addr
from support.replays import through_snapshot

STAKERS = ("A", "B", "d")


def network(prune: int = 1, rule_version: int = RULES_PRUNE) -> Chain:
    """Three addresses earning staking APR every epoch (three leaves per closed epoch)."""
    params = {
        "epochs_per_year": 100,
        "epoch_length_ticks": 10,
        "min_self_bond_miner_units": "1",
        "emission_per_epoch_units": "0",
        "prune_closed_records": prune,
        "rule_version": rule_version,
    }
    c = Chain(wallets={"A": 10_000 * COR, "B": 10_000 * COR, "d": 10_000 * COR}, params=params)
    c.as_("A", "node.register", {"role": "miner", "self_bond": str(1000 * COR)})
    c.as_("B", "node.register", {"role": "miner", "self_bond": str(1000 * COR), "commission_bps": 1000})
    c.as_("d", "stake.delegate", {"node": addr("B"), "amount": str(2000 * COR)})
    return c


def claim(c: Chain, who: str, epoch: int):
    p = views.proof(c.state, addr(who), epoch)
    return c.as_(who, "reward.claim", {"address": addr(who), "epoch": epoch, "amount": p["amount_units"], "proof": p["proof"]})


def test_earlier_epochs_slim_then_leave_once_claimed():
    c = network()
    c.oracle("epoch.close", {})
    whole = c.state.epochs[0]
    assert whole.items and whole.leaves
    c.oracle("epoch.close", {})
    slim = c.state.epochs[0]
    assert slim.items == [] and slim.totals == {} and (slim.root, slim.leaves) == (whole.root, whole.leaves)
    assert c.state.epochs[1].items  # the epoch that just closed stays whole
    for who in STAKERS:
        claim(c, who, 0)  # a slim record pays its leaves
    conservation_holds(c.state)
    c.oracle("epoch.close", {})
    assert 0 not in c.state.epochs and not any(k.startswith("0|") for k in c.state.claimed)
    assert 1 in c.state.epochs and not c.state.epochs[1].items  # unclaimed: slim
    with pytest.raises(EngineError) as exc:
        c.as_("A", "reward.claim", {"address": addr("A"), "epoch": 0, "amount": "1", "proof": []})
    assert exc.value.code == "nothing_to_claim"
    assert c.state.epoch == 3 and c.state.pruned.epochs_through == 1


def test_rule_six_and_the_archive_setting_keep_everything():
    for c in (network(rule_version=RULES_PRUNE - 1), network(prune=0)):
        for _ in range(4):
            c.oracle("epoch.close", {})
        assert sorted(c.state.epochs) == [0, 1, 2, 3] and all(r.items for r in c.state.epochs.values())
        assert c.state.pruned == Pruned() and "pruned" not in c.state.to_dict()


@pytest.mark.parametrize("rule_version", [RULES_PRUNE, LATEST])
def test_the_running_hash_folds_what_left_in_order(rule_version):
    c = network(rule_version=rule_version)
    folded, seen = Pruned().hash, 0
    for _ in range(5):
        c.oracle("epoch.close", {})
        for _, kind, key, n, data, rules in c.state.retired:
            if n >= seen:
                assert n == seen and rules == rule_version
                # a parameter version's hash is of the fields its rule version knew (state_codec.pruned_record_hash)
                record_hash = pruned_record_hash(RECORDS[kind], rules, data)
                # (the whole record's under the latest rules; fewer fields under rule 10, whose parameters were fewer)
                assert (record_hash == content_hash(data)) == (kind != PARAMS or rule_version == LATEST)
                folded, seen = fold(folded, kind, key, record_hash), seen + 1
        c.state.retired.clear()
    assert (seen, folded) == (c.state.pruned.count, c.state.pruned.hash)
    assert c.state.params_history is not None and len(c.state.params_history.versions) <= 2  # one version per controller step otherwise


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["close", "claim", "tick"]), st.sampled_from(STAKERS)), min_size=4, max_size=14), st.integers(0, 40))
def test_a_snapshot_at_any_event_replays_the_rest_like_the_original(steps, cut_at):
    c = network()
    for what, who in steps:
        if what == "close":
            c.oracle("epoch.close", {})
        elif what == "tick":
            c.oracle("tick", {"ticks": 3})
        else:
            open_leaves = [e for e, r in c.state.epochs.items() if addr(who) in r.leaves and f"{e}|{addr(who)}" not in c.state.claimed]
            if open_leaves and not c.state.bridged:
                claim(c, who, open_leaves[0])
    events = c.events
    cut = min(cut_at, len(events) - 1)
    state = State()
    for event in events[: cut + 1]:
        apply(state, event)
    resumed = through_snapshot(state)
    for event in events[cut + 1 :]:
        apply(resumed, event)
    assert encode_state(resumed) == encode_state(c.state)
    conservation_holds(resumed)
