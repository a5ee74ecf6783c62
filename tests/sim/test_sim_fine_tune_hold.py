"""Attack fine_tune_hold (sim/attacks/models.py): a stranger's fine-tune of someone's model. Under rule 25
(rules=before_release) it kept the owner from retiring the model (``model_has_fine_tunes``) and so held the owner's
listing deposit for as long as the stranger kept the fine-tune, at no cost but its own deposit locked the same time.
From rule 26 (``RULES_FINE_TUNE_RELEASE``, the default) the owner retires at once and takes its deposit back; the
retired model stays live while the fine-tune names it."""

from cor_incentives.core.params import Params
from cor_incentives.core.units import COR
from cor_incentives.sim.attacks import Attack, evaluate

DEPOSIT = Params().model_listing_deposit_units // COR
OLD = {"rules": "before_release"}


def test_under_rule_25_a_fine_tune_holds_the_owners_deposit_for_as_long_as_its_owner_keeps_it():
    r = evaluate(Attack("s", "fine_tune_hold", OLD), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "open"
    m = r["measured"]
    assert (m["owner_deposit_locked_epochs"], m["twin_owner_deposit_locked_epochs"]) == (6, 0)  # every epoch of the run
    assert (m["owner_retired_epoch"], m["twin_owner_retired_epoch"]) == (None, 0)
    assert m["owner_refusal_codes"] == ["model_has_fine_tunes"] and m["owner_wallet_cor"] == 0
    assert m["extra_locked_cor_epochs"] == m["holder_locked_cor_epochs"] == 6 * DEPOSIT and r["gain"] == 1.0
    assert m["holder_cor_spent"] == 0  # the stranger's deposit is all there (wallet + escrow): nothing spent
    assert m["honest_unaffected"]


def test_under_rule_26_the_owner_retires_at_once_and_its_model_stays_live_for_the_fine_tune():
    r = evaluate(Attack("s", "fine_tune_hold"), seeds=(1,))
    assert r["books"]["ok"] and r["verdict"] == "stopped" and r["gain"] == 0
    m = r["measured"]
    assert (m["owner_deposit_locked_epochs"], m["twin_owner_deposit_locked_epochs"]) == (0, 0)
    assert (m["owner_retired_epoch"], m["twin_owner_retired_epoch"]) == (0, 0)  # as the twin
    assert m["owner_refusal_codes"] == [] and m["owner_wallet_cor"] == DEPOSIT  # the deposit back at the first retire
    assert m["owner_model_held_live"] and not m["twin_owner_model_held_live"]  # retired, live while the fine-tune names it
    assert m["holder_locked_cor_epochs"] == 6 * DEPOSIT and m["holder_cor_spent"] == 0 and m["honest_unaffected"]


def test_under_rule_26_the_retired_model_leaves_at_the_close_its_fine_tune_leaves():
    m = evaluate(Attack("s", "fine_tune_hold", {"hold": 2}), seeds=(1,))["measured"]
    assert (m["owner_retired_epoch"], m["owner_deposit_locked_epochs"], m["owner_wallet_cor"]) == (0, 0, DEPOSIT)
    assert not m["owner_model_held_live"]  # the fine-tune retired in epoch 2 left at that close, and its parent with it


def test_under_rule_25_the_owner_retires_at_the_epoch_after_the_fine_tune_leaves():
    m = evaluate(Attack("s", "fine_tune_hold", OLD | {"hold": 2}), seeds=(1,))["measured"]
    # released in epoch 2: the fine-tune is retiring (still live) until that close, so the owner's retire is refused in
    # epochs 0-2 and accepted in 3; its deposit back then
    assert (m["owner_deposit_locked_epochs"], m["owner_retired_epoch"], m["owner_wallet_cor"]) == (3, 3, DEPOSIT)


def test_without_a_fine_tune_the_owner_retires_as_in_the_twin_and_more_fine_tunes_cost_the_stranger_more():
    alone = evaluate(Attack("s", "fine_tune_hold", OLD | {"fine_tunes": 0, "rounds": 2}), seeds=(1,))
    assert alone["verdict"] == "stopped" and alone["gain"] == 0 and alone["measured"]["owner_retired_epoch"] == 0
    three = evaluate(Attack("s", "fine_tune_hold", OLD | {"fine_tunes": 3, "rounds": 2}), seeds=(1,))
    assert three["verdict"] == "open" and three["measured"]["holder_locked_cor_epochs"] == 3 * 2 * DEPOSIT
    assert three["gain"] == 1 / 3  # one deposit held for three locked
    stopped = evaluate(Attack("s", "fine_tune_hold", {"fine_tunes": 3, "rounds": 2}), seeds=(1,))
    assert stopped["verdict"] == "stopped" and stopped["gain"] == 0
