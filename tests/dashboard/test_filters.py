"""Display filters of the dashboard: exact grouping, rounding down, suffixes, rates, addresses."""

from cor_incentives.dashboard.filters import account, bps, cor, cor_compact, cor_short, inputs, ppb, short, units

A = "0x" + "ab" * 20
N = "0x" + "12" * 20


def test_amounts():
    assert cor("1234567.000001") == "1,234,567.000001" and cor("-0.5") == "-0.5" and cor("0") == "0"
    assert cor_short("27499.999999999999999997") == "27,499.99"  # rounded down, never up
    assert cor_short("0.0037918") == "0.0037918" and cor_short("0") == "0.00" and cor_short("12", 0) == "12"
    assert cor_compact("1000000000") == "1.00B" and cor_compact("150000040") == "150.00M" and cor_compact("24900") == "24,900.00"
    assert units(10**18) == "1" and units("2500000000000000000") == "2.5" and units(1) == "0.000000000000000001"


def test_rates_and_addresses():
    assert bps(5999) == "59.99%" and bps(None) == "—" and ppb(850_000_000) == "0.850" and ppb(None) == "—"
    assert short(A) == "0xabab…abab" and short("0x12") == "0x12"
    assert account(f"wallet:{A}", A) == "wallet" and account(f"delegated:{N}:{A}", A) == "delegated:0x1212…1212"
    assert inputs({"task": 3, "quality_ppb": 9, "formula": "x", "nested": {}}) == "quality_ppb 9"
