"""Token units: integer base units, 1 COR = 10**18. Parse and format decimal strings exactly (docs/design.md §2).

Rates are integers too: basis points (``*_bps``, 1/10 000) and parts per billion (``*_ppb``).
No float ever touches an amount.
"""

from __future__ import annotations

import re
from typing import Any, NewType

from eth_hash.auto import keccak

from .errors import InvalidInput, shown

DECIMALS = 18
COR = 10**DECIMALS
BPS = 10_000
PPB = 1_000_000_000

Amount = NewType("Amount", int)
Address = NewType("Address", str)
NodeId = NewType("NodeId", str)
Epoch = NewType("Epoch", int)
Tick = NewType("Tick", int)

_DECIMAL = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_UNITS = re.compile(r"^(0|[1-9][0-9]*)$")
MAX_AMOUNT = 2**256 - 1
MAX_AMOUNT_DIGITS = len(str(MAX_AMOUNT))  # 78


def parse_cor(text: str) -> Amount:
    """Parse a decimal COR string ("12.5") into base units, exactly; refuse anything else."""
    if not isinstance(text, str):
        raise InvalidInput(f"amount must be a decimal string, got {type(text).__name__}", code="invalid_amount")
    s = text.strip()
    m = _DECIMAL.match(s) if len(s) <= MAX_AMOUNT_DIGITS + 1 else None
    if not m:
        raise InvalidInput(f"amount must be a plain decimal number of COR like '12.5', got {shown(text)}", code="invalid_amount")
    whole, frac = m.group(1), m.group(2) or ""
    if len(frac) > DECIMALS:
        raise InvalidInput(f"amount {shown(text)} has more than {DECIMALS} decimal places (1 base unit = 1e-18 COR)", code="invalid_amount")
    value = int(whole) * COR + int(frac.ljust(DECIMALS, "0") or "0")
    return amount(value)


def is_amount(text: Any) -> bool:
    """A count of base units as signed: ASCII digits, no leading zero, at most 2**256-1. Fewer digits than 2**256-1 has
    (78) is below it (at most 10**77 - 1), so only a 78-digit string is converted to compare."""
    return (
        isinstance(text, str)
        and len(text) <= MAX_AMOUNT_DIGITS
        and bool(_UNITS.match(text))
        and (len(text) < MAX_AMOUNT_DIGITS or int(text) <= MAX_AMOUNT)
    )


def parse_units(text: str) -> Amount:
    """Parse an integer count of base units (as in a signed payload: a decimal integer string)."""
    if not is_amount(text):
        raise InvalidInput(
            f"amount in base units must be a string of ASCII digits without leading zeros, at most 2**256-1, got {shown(text)}", code="invalid_amount"
        )
    return Amount(int(text))


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


def cor_text(value: int) -> str:
    """An amount for a message a person reads: ``"12.5 COR"`` (exact; base units are for machines)."""
    return f"{format_cor(value)} COR"


def mul_bps(value: int, rate_bps: int) -> int:
    """value × rate / 10 000, floored."""
    return value * rate_bps // BPS


def mul_ppb(value: int, rate_ppb: int) -> int:
    """value × rate / 10**9, floored."""
    return value * rate_ppb // PPB


def checksum_address(text: str) -> str:
    """The EIP-55 mixed-case form of a 0x address: hex letter i is upper case when nibble i of keccak(lower hex) ≥ 8."""
    hex_lower = text[2:].lower()
    digest = keccak(hex_lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_lower))


def is_address(text: Any) -> bool:
    """0x + 40 hex digits, all lower case or with a valid EIP-55 checksum."""
    if not isinstance(text, str) or not _ADDRESS.match(text):
        return False
    return text == text.lower() or text == checksum_address(text)


def lookup_address(text: str) -> Address:
    """An address to look something up by (reads, not commands): 0x + 40 hex digits in any case, lower-cased."""
    if not isinstance(text, str) or not _ADDRESS.match(text):
        raise InvalidInput(f"not an Ethereum address (0x followed by 40 hex digits): {shown(text)}", code="invalid_address")
    return Address(text.lower())


def address(text: str) -> Address:
    """Normalise an Ethereum address (lower case, or valid EIP-55) to lower-case 0x form; refuse anything else."""
    if not is_address(text):
        raise InvalidInput(
            f"not an Ethereum address (0x + 40 hex digits, lower case or a valid EIP-55 checksum): {shown(text)}", code="invalid_address"
        )
    return Address(text.lower())
