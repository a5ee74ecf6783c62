import dataclasses

import pytest

from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.params import ParamHistory, Params, param_schema, params_from_dict


def test_defaults_are_valid_and_splits_sum():
    p = Params()
    assert sum(p.fee_split_bps.values()) == 10_000
    assert sum(p.emission_split_bps.values()) == 10_000
    assert p.slash_fraction_bps["equivocation"] == 1000


def test_out_of_bounds_refused():
    with pytest.raises(InvalidInput) as e:
        params_from_dict({"max_commission_bps": 10_001})
    assert e.value.code == "parameter_out_of_bounds"


def test_split_must_sum():
    bad = dict(Params().fee_split_bps)
    bad["treasury"] += 1
    with pytest.raises(InvalidInput, match="sum to 10000"):
        params_from_dict({"fee_split_bps": bad})


def test_unknown_and_float_refused():
    with pytest.raises(InvalidInput, match="unknown parameter"):
        params_from_dict({"nope": 1})
    with pytest.raises(InvalidInput):
        params_from_dict({"epoch_length_ticks": 1.5})


def test_params_are_immutable():
    p = Params()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epoch_length_ticks = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.fee_split_bps["miners"] = 1  # type: ignore[index]


def test_history_by_epoch():
    h = ParamHistory(((0, Params()),)).with_changes(3, {"epoch_length_ticks": 50})
    assert h.at(2).epoch_length_ticks == 100
    assert h.at(3).epoch_length_ticks == 50
    assert h.at(99).epoch_length_ticks == 50


def test_schema_lists_bounds():
    names = {e["name"]: e for e in param_schema()}
    assert names["max_commission_bps"]["max"] == 10_000
    assert names["fee_split_bps"]["sum"] == 10_000


def test_history_change_keeps_later_scheduled_versions():
    h = ParamHistory(((0, Params()),)).with_changes(5, {"max_commission_bps": 3000}).with_changes(2, {"epoch_length_ticks": 50})
    assert h.at(1).epoch_length_ticks == 100 and h.at(2).epoch_length_ticks == 50
    assert h.at(5).epoch_length_ticks == 50 and h.at(5).max_commission_bps == 3000
    assert h.at(4).max_commission_bps == 2000
