"""The slashing families' summaries say which way a gain goes: a negative gain is dearer, not cheaper (the
threshold_split row once read "8.8 % cheaper" for a gain of −8.8 %)."""

from cor_incentives.sim.attacks.slashing import _cheaper, _dodged


def test_a_negative_gain_reads_dearer_and_a_positive_one_cheaper():
    assert _cheaper(-0.088) == "8.8 % dearer"
    assert _cheaper(0.25) == "25.0 % cheaper"
    assert _cheaper(0.0) == "0.0 % the same" and _cheaper(None) == "n/a"


def test_a_negative_dodge_reads_as_more_slashed():
    assert _dodged(0.5) == "50.0 % dodged"
    assert _dodged(-0.1) == "10.0 % more slashed than the twin"
    assert _dodged(None) == "n/a dodged"
