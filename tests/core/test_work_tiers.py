"""Model work tiers come from governance's listing, never from a model card: registering earns no tier."""

import pytest

from cor_incentives.app import views
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.params import MAX_LISTED_MODELS, Params, param_schema, params_from_dict
from cor_incentives.core.pricing import complexity_units, model_tier, work_tier
from support.chain import Chain
from support.market import COR, MODEL, commit_reveal, h, validate_all

BIG = "big-70b"


def chain(params=None):
    names = ["m0", "m1", "m2", "v0", "v1", "v2", "dev", "att"]
    c = Chain(wallets={n: 1_000_000 * COR for n in names}, params={"epoch_length_ticks": 1000, "gov_voting_period_ticks": 10, **(params or {})})
    card = {"quantization": "q2_k", "context_length": 4096, "license": "mit"}
    c.as_("dev", "model.register", {"id": MODEL, "parameter_count": 135_000_000, **card, "content_hash": h("small")})
    c.as_("att", "model.register", {"id": BIG, "parameter_count": 70_000_000_000, **card, "content_hash": h("big")})
    for m in ("m0", "m1", "m2"):
        c.as_(m, "node.register", {"role": "miner", "self_bond": str(2000 * COR), "models": [MODEL, BIG]})
    for v in ("v0", "v1", "v2"):
        c.as_(v, "node.register", {"role": "validator", "self_bond": str(5000 * COR)})
    return c


def network_units(c, model):
    """Issue one network task on ``model``, run it honestly; the units its rows count."""
    tid = c.state.next_id
    c.oracle("task.network", {"model": model, "prompt_hash": h(f"p{tid}"), "prompt_bytes": 40, "input_tokens": 10, "max_output_tokens": 64})
    t = c.state.tasks[tid]
    commit_reveal(c, tid, {a.miner: "Paris" for a in t.miners})
    validate_all(c, tid, lambda v, m: (5_000_000, 900_000_000))
    assert c.state.tasks[tid].state == "SETTLED"
    return {r.complexity_units for r in c.state.epoch_work if r.task == tid}


def test_a_model_card_claiming_70b_earns_no_tier():
    c = chain()
    big, small = c.state.models[BIG], c.state.models[MODEL]
    assert model_tier(big.parameter_count) == "large" and work_tier(c.state.params, big) == "tiny"
    assert network_units(c, BIG) == network_units(c, MODEL) == {30}  # (10 + 20) tokens × 1, not × 64
    shown = views.model(big, c.state.params)
    assert (shown["tier"], shown["work_tier"], shown["listed"]) == ("large", "tiny", False)
    assert complexity_units(c.state.params, small, 10, 20) == 30


def test_governance_lists_a_model_and_its_work_counts_at_the_listed_tier():
    c = chain()
    c.oracle("epoch.close", {})
    c.oracle("epoch.close", {})  # epoch 2: the stake bonded in epoch 0 votes
    c.as_(
        "att",
        "gov.propose",
        {"kind": "param_change", "title": "list big-70b as large", "changes": {"listed_model_tiers": {BIG: "large"}}, "effective_epoch": 3},
    )
    pid = max(c.state.proposals)
    for v in ("v0", "v1", "v2"):
        c.as_(v, "gov.vote", {"proposal": pid, "option": "yes"})
    c.oracle("tick", {"ticks": 11})
    assert c.state.proposals[pid].status == "PASSED"
    assert network_units(c, BIG) == {30}  # not in force yet: epoch 2
    c.oracle("epoch.close", {})
    assert c.state.params.listed_model_tiers == {BIG: "large"}
    assert network_units(c, BIG) == {30 * 64} and network_units(c, MODEL) == {30}
    assert views.model(c.state.models[BIG], c.state.params)["listed"] is True


def test_genesis_may_list_models():
    c = chain({"listed_model_tiers": {MODEL: "small"}})
    assert network_units(c, MODEL) == {30 * 4} and network_units(c, BIG) == {30}


@pytest.mark.parametrize(
    "listing",
    [
        {"Big-70B": "large"},  # not a model id
        {BIG: "huge"},  # not a tier
        {BIG: 64},
        ["big-70b"],
        {f"m{i}": "tiny" for i in range(MAX_LISTED_MODELS + 1)},
    ],
)
def test_a_bad_listing_is_refused(listing):
    with pytest.raises(InvalidInput) as e:
        params_from_dict({"listed_model_tiers": listing})
    assert e.value.code == "invalid_parameter"


def test_the_listing_round_trips_and_is_in_the_schema():
    p = params_from_dict({"listed_model_tiers": {BIG: "large", MODEL: "tiny"}})
    assert dict(p.listed_model_tiers) == {MODEL: "tiny", BIG: "large"} and params_from_dict(p.to_dict()) == p
    assert Params().listed_model_tiers == {}
    entry = next(e for e in param_schema() if e["name"] == "listed_model_tiers")
    assert entry["values"] == ["tiny", "small", "medium", "large"] and entry["max_entries"] == MAX_LISTED_MODELS
