import pytest

from cor_incentives.core.errors import InsufficientFunds, InvariantViolation
from cor_incentives.core.ledger import Ledger, check_conservation, split_by_bps


def test_transfer_and_rollback():
    l = Ledger()
    l.begin()
    l.transfer("genesis", "wallet:a", 100, "g")
    l.commit()
    l.begin()
    l.transfer("wallet:a", "wallet:b", 60, "t")
    with pytest.raises(InsufficientFunds):
        l.transfer("wallet:a", "wallet:b", 41, "t")
    l.rollback()
    assert l.balance("wallet:a") == 100 and l.balance("wallet:b") == 0
    check_conservation(l, 100, 0)


def test_conservation_detects_tampering():
    l = Ledger()
    l.transfer("genesis", "wallet:a", 100, "g")
    l.balances["wallet:a"] = 101
    with pytest.raises(InvariantViolation):
        check_conservation(l, 100, 0)


def test_split_remainder_written_down():
    parts, rest = split_by_bps(101, {"a": 3333, "b": 3333, "c": 3334})
    assert parts == {"a": 33, "b": 33, "c": 33} and rest == 2
