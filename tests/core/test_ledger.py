import pytest

from cor_incentives.core.errors import InsufficientFunds, InvariantViolation
from cor_incentives.core.journal import journal
from cor_incentives.core.ledger import Ledger, Posting, check_conservation, split_by_bps


def test_transfer_and_rollback():
    ledger = Ledger()
    ledger.begin()
    ledger.transfer("genesis", "wallet:a", 100, "g")
    assert ledger.commit() == [Posting("genesis", "wallet:a", 100, "g")]
    with pytest.raises(InsufficientFunds), journal():
        ledger.begin()
        ledger.transfer("wallet:a", "wallet:b", 60, "t")
        ledger.transfer("wallet:a", "wallet:b", 41, "t")
    assert ledger.balance("wallet:a") == 100 and ledger.balance("wallet:b") == 0 and ledger.postings == []
    check_conservation(ledger, 100, 0)


def test_conservation_detects_tampering():
    ledger = Ledger()
    ledger.transfer("genesis", "wallet:a", 100, "g")
    ledger.balances["wallet:a"] = 101
    with pytest.raises(InvariantViolation):
        check_conservation(ledger, 100, 0)


def test_split_remainder_written_down():
    parts, rest = split_by_bps(101, {"a": 3333, "b": 3333, "c": 3334})
    assert parts == {"a": 33, "b": 33, "c": 33} and rest == 2


def test_insufficient_funds_reads_in_cor_and_keeps_the_base_units_in_its_details():
    ledger = Ledger()
    ledger.transfer("genesis", "wallet:a", 10 * 10**18, "g")
    with pytest.raises(InsufficientFunds) as err, journal():
        ledger.transfer("wallet:a", "wallet:b", 12_500_000_000_000_000_000, "t")
    assert str(err.value) == "wallet:a holds 10 COR, 12.5 COR needed"
    assert err.value.to_dict()["details"]["needed"] == "12500000000000000000"
