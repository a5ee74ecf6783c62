import builtins

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cor_incentives.core.units as units
from cor_incentives.core.errors import InvalidInput
from cor_incentives.core.units import COR, MAX_AMOUNT, address, checksum_address, format_cor, is_amount, mul_bps, parse_cor, parse_units


@pytest.mark.parametrize(
    "text,units",
    [
        ("0", 0),
        ("1", COR),
        ("12.5", 12 * COR + COR // 2),
        ("0.000000000000000001", 1),
        ("1000000000", 10**27),
        ("007.10", 7 * COR + COR // 10),
    ],
)
def test_parse_cor_exact(text, units):
    assert parse_cor(text) == units


@pytest.mark.parametrize(
    "bad,code",
    [
        ("1e3", "invalid_amount"),
        ("-1", "invalid_amount"),
        ("0.0000000000000000001", "invalid_amount"),
        ("", "invalid_amount"),
        ("1.", "invalid_amount"),
        (".5", "invalid_amount"),
        ("1,5", "invalid_amount"),
        ("nan", "invalid_amount"),
    ],
)
def test_parse_cor_refuses(bad, code):
    with pytest.raises(InvalidInput) as e:
        parse_cor(bad)
    assert e.value.code == code
    assert repr(bad) in e.value.message or "negative" in e.value.message or "decimal" in e.value.message


@given(st.integers(min_value=0, max_value=10**30))
def test_format_parse_roundtrip(units):
    assert parse_cor(format_cor(units)) == units


def test_format_cor():
    assert format_cor(1) == "0.000000000000000001"
    assert format_cor(12 * COR + COR // 2) == "12.5"
    assert format_cor(-COR) == "-1"


def test_parse_units_refuses_floats_and_bools():
    for bad in (1.5, True, "1.5", "-3", None):
        with pytest.raises(InvalidInput):
            parse_units(bad)
    assert parse_units("123") == 123


def test_mul_bps_floors():
    assert mul_bps(999, 3333) == 332  # 332.9667 floored


def test_address():
    lower = "0x" + "ab" * 20
    assert address(lower) == lower
    assert address(checksum_address(lower)) == lower
    # the EIP-55 test vectors
    for a in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert checksum_address(a.lower()) == a and address(a) == a.lower()
    for bad in ("0x123", "0x" + "Ab" * 20, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "0x" + "AB" * 20, "0x" + "ab" * 20 + " ", 5, None):
        with pytest.raises(InvalidInput) as err:
            address(bad)
        assert err.value.code == "invalid_address"


def test_units_are_ascii_digits_without_leading_zeros():
    assert parse_units("0") == 0 and parse_units("12") == 12 and parse_units(str(2**256 - 1)) == 2**256 - 1
    for bad in ("01", "00", "١٢", "１２", "𝟏𝟐", "12 ", "+12", "-1", "1e3", "", "1" * 5000, str(2**256), 12, True, None, ["1"]):
        with pytest.raises(InvalidInput) as err:
            parse_units(bad)
        assert err.value.code == "invalid_amount"
    for bad in ("١٢", "１２", "𝟏𝟐", "1" * 5000):
        with pytest.raises(InvalidInput):
            parse_cor(bad)


def is_amount_before_s30(text) -> bool:
    """``units.is_amount`` until session 30: every string of digits converted to compare with 2**256-1."""
    return isinstance(text, str) and len(text) <= 78 and bool(units._UNITS.match(text)) and int(text) <= MAX_AMOUNT


EDGES = [str(v) for v in (0, 1, 10**76, 10**77 - 1, 10**77, MAX_AMOUNT - 1, MAX_AMOUNT, MAX_AMOUNT + 1, 10**78 - 1, 10**78)]


@given(
    st.one_of(
        st.sampled_from(EDGES),
        st.integers(0, 10**79).map(str),
        st.integers(0, 78).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),  # leading zeros too
        st.text(max_size=80),
        st.integers(-5, 5),
        st.none(),
    )
)
def test_is_amount_is_the_old_check(text):
    """The same answer as the check that converted every string (below 78 digits a string is below 2**256-1)."""
    assert is_amount(text) == is_amount_before_s30(text)


def test_is_amount_converts_only_a_78_digit_string(monkeypatch):
    """~0.1 µs a call saved (the conversion of a 19-22 digit amount), of every amount a command carries."""
    converted = []

    def counting(text):
        converted.append(text)
        return builtins.int(text)

    monkeypatch.setattr(units, "int", counting, raising=False)  # (the module's name ``int``, read before the builtin)
    assert is_amount("1" * 77) and is_amount(str(10**18)) and not converted
    assert is_amount(str(MAX_AMOUNT)) and not is_amount(str(MAX_AMOUNT + 1)) and converted == [str(MAX_AMOUNT), str(MAX_AMOUNT + 1)]
