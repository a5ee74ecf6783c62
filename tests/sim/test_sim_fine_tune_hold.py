"""``fine_tune_hold`` (rule 25, session 29): a stranger who registers a fine-tune of someone's model keeps its owner from
retiring it (``model_has_fine_tunes``) and so keeps the owner's listing deposit locked for as long as the stranger keeps
the fine-tune, at no cost but its own deposit locked the same time (returned whole when it retires it). Open under rule
25; the twin (no stranger) retires at once. The family is exact (no draw decides it), so one seed decides it."""

from cor_incentives.core.params import Params
from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate

DEPOSIT = Params().model_listing_deposit_units // COR


def test_a_fine_tune_holds_the_owners_deposit_for_as_long_as_its_owner_keeps_it():
    r = evaluate(Attack("s", "fine_tune_hold"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    assert (m["owner_deposit_locked_epochs"], m["twin_owner_deposit_locked_epochs"]) == (6, 0)  # every epoch of the run
    assert (m["owner_retired_epoch"], m["twin_owner_retired_epoch"]) == (None, 0)
    assert m["owner_refusal_codes"] == ["model_has_fine_tunes"] and m["owner_wallet_cor"] == 0
    assert m["extra_locked_cor_epochs"] == m["holder_locked_cor_epochs"] == 6 * DEPOSIT and r["gain"] == 1.0
    assert m["holder_cor_spent"] == 0  # the stranger's deposit is all there (wallet + escrow): nothing spent
    assert m["honest_unaffected"]


def test_the_owner_retires_at_the_epoch_after_the_fine_tune_leaves():
    m = evaluate(Attack("s", "fine_tune_hold", {"hold": 2}), seeds=(1,))["measured"]
    # released in epoch 2: the fine-tune is retiring (still live) until that close, so the owner's retire is refused in
    # epochs 0-2 and accepted in 3; its deposit back then
    assert (m["owner_deposit_locked_epochs"], m["owner_retired_epoch"], m["owner_wallet_cor"]) == (3, 3, DEPOSIT)


def test_without_a_fine_tune_the_owner_retires_as_in_the_twin_and_more_fine_tunes_cost_the_stranger_more():
    alone = evaluate(Attack("s", "fine_tune_hold", {"fine_tunes": 0, "rounds": 2}), seeds=(1,))
    assert alone["verdict"] == "stopped" and alone["gain"] == 0 and alone["measured"]["owner_retired_epoch"] == 0
    three = evaluate(Attack("s", "fine_tune_hold", {"fine_tunes": 3, "rounds": 2}), seeds=(1,))
    assert three["verdict"] == "open" and three["measured"]["holder_locked_cor_epochs"] == 3 * 2 * DEPOSIT
    assert three["gain"] == 1 / 3  # one deposit held for three locked
