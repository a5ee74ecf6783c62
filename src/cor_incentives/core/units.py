"""Token units: integer base units, 1 COR = 10**18. Parse and format decimal strings exactly (docs/design.md §2).

Rates are integers too: basis points (``*_bps``, 1/10 000) and parts per billion (``*_ppb``).
No float ever touches an amount.
"""

from __future__ import annotations

import re
from typing import NewType

from .errors import InvalidInput

DECIMALS = 18
COR = 10**DECIMALS
BPS = 10_000
PPB = 1_000_000_000

Amount = NewType("Amount", int)
Address = NewType("Address", str)
NodeId = NewType("NodeId", str)
Epoch = NewType("Epoch", int)
Tick = NewType("Tick", int)

_DECIMAL = re.compile(r"^(\d+)(?:\.(\d+))?$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
MAX_AMOUNT = 2**256 - 1


def parse_cor(text: str) -> Amount:
    """Parse a decimal COR string ("12.5") into base units, exactly; refuse anything else."""
    if not isinstance(text, str):
        raise InvalidInput(f"amount must be a decimal string, got {type(text).__name__}", code="invalid_amount")
    s = text.strip()
    if s.startswith("-"):
        raise InvalidInput(f"amount must not be negative: {text!r}", code="invalid_amount")
    m = _DECIMAL.match(s)
    if not m:
        raise InvalidInput(f"amount must be a plain decimal number of COR like '12.5', got {text!r}", code="invalid_amount")
    whole, frac = m.group(1), m.group(2) or ""
    if len(frac) > DECIMALS:
        raise InvalidInput(
            f"amount {text!r} has more than {DECIMALS} decimal places (1 base unit = 1e-18 COR)",
            code="invalid_amount",
        )
    value = int(whole) * COR + int(frac.ljust(DECIMALS, "0") or "0")
    return amount(value)


def parse_units(text: str | int) -> Amount:
    """Parse an integer count of base units (as in a signed payload: a decimal integer string)."""
    if isinstance(text, bool):
        raise InvalidInput("amount in base units must be an integer", code="invalid_amount")
    if isinstance(text, int):
        return amount(text)
    if not isinstance(text, str) or not re.fullmatch(r"\d+", text):
        raise InvalidInput(f"amount in base units must be a decimal integer string, got {text!r}", code="invalid_amount")
    return amount(int(text))


def amount(value: int) -> Amount:
    """Check that ``value`` is a non-negative integer amount in range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"amount must be an integer number of base units, got {type(value).__name__}", code="invalid_amount")
    if value < 0:
        raise InvalidInput(f"amount must not be negative: {value}", code="invalid_amount")
    if value > MAX_AMOUNT:
        raise InvalidInput("amount is larger than 2**256-1", code="invalid_amount")
    return Amount(value)


def format_cor(value: int) -> str:
    """Format base units as a decimal COR string, exactly, without trailing zeros."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("format_cor takes an int")
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), COR)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(DECIMALS, '0').rstrip('0')}"


def mul_bps(value: int, rate_bps: int) -> int:
    """value × rate / 10 000, floored."""
    return value * rate_bps // BPS


def mul_ppb(value: int, rate_ppb: int) -> int:
    """value × rate / 10**9, floored."""
    return value * rate_ppb // PPB


def address(text: str) -> Address:
    """Normalise an Ethereum address to lower-case 0x form; refuse anything else."""
    if not isinstance(text, str) or not _ADDRESS.match(text):
        raise InvalidInput(f"not an Ethereum address (0x followed by 40 hex digits): {text!r}", code="invalid_address")
    return Address(text.lower())
