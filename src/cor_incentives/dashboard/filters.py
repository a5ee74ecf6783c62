"""Jinja filters of the dashboard: display forms of amounts, rates and addresses (display only).

Amounts arrive as exact COR decimal strings; ``cor`` groups thousands and keeps every decimal,
``cor_short`` rounds down to a few decimals for cards and charts' labels (the exact value goes in
the element's ``title``). No float is involved: ``decimal.Decimal`` on the strings.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..core.units import format_cor

if TYPE_CHECKING:
    from jinja2 import Environment

PPB = 10**9


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def cor(value: Any) -> str:
    """Exact, thousands grouped: ``1234567.000001`` → ``1,234,567.000001``."""
    d = _decimal(value)
    if d is None:
        return str(value)
    sign, (whole, _, frac) = ("-" if d < 0 else ""), format(abs(d), "f").partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def cor_short(value: Any, places: int = 2) -> str:
    """Rounded down to ``places`` decimals, thousands grouped; tiny non-zero amounts keep 6 significant places."""
    d = _decimal(value)
    if d is None:
        return str(value)
    if d != 0 and abs(d) < Decimal(1).scaleb(-places):
        return tiny(d)
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return f"{q:,.{places}f}"


def tiny(d: Decimal, digits: int = 6) -> str:
    """A non-zero amount below the shown precision, positional (never ``3.00e-18``), cut (down) after ``digits`` significant
    digits: ``0.000000000000000003``, ``0.0000123456``."""
    sign, text = ("-" if d < 0 else ""), format(abs(d), "f")
    whole, _, frac = text.partition(".")
    lead = len(frac) - len(frac.lstrip("0"))
    return f"{sign}{whole}.{frac[: lead + digits].rstrip('0') or '0'}"


def share(part_ppb: Any, whole_nonzero: bool = True) -> str:
    """A share in parts per billion as a percentage with enough digits to never read 0 for a real amount:
    ``43 063 COR of 1 000 000 000`` → ``0.0043%``; 0 ppb of something non-zero → ``< 0.0000001%``."""
    if part_ppb is None:
        return "—"
    v = int(part_ppb)
    if v == 0:
        return "< 0.0000001%" if whole_nonzero else "0%"
    percent = Decimal(v) / Decimal(10**7)
    if percent >= 1:
        return f"{percent.quantize(Decimal('0.01'), rounding=ROUND_DOWN)}%"
    return f"{tiny(percent, 2)}%"


def cor_compact(value: Any) -> str:
    """Large amounts with a suffix for cards: ``1,000,000,000`` → ``1.00B``, ``150,000,040`` → ``150.00M``."""
    d = _decimal(value)
    if d is None:
        return str(value)
    for scale, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M")):
        if abs(d) >= scale:
            return f"{(d / scale).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}{suffix}"
    return cor_short(d)


def bps(value: Any) -> str:
    """Basis points as a percentage: 5999 → ``59.99%``."""
    if value is None:
        return "—"
    return f"{Decimal(int(value)) / 100:.2f}%"


def ppb(value: Any) -> str:
    """Parts per billion as a fraction with 3 decimals: 850000000 → ``0.850``."""
    if value is None:
        return "—"
    return f"{Decimal(int(value)) / PPB:.3f}"


def short(value: Any, head: int = 6, tail: int = 4) -> str:
    """``0x1234…abcd`` for addresses and hashes."""
    text = "" if value is None else str(value)
    return text if len(text) <= head + tail + 1 else f"{text[:head]}…{text[-tail:]}"


def units(value: Any) -> str:
    """Base units (an int or a decimal string) as exact COR, thousands grouped."""
    try:
        return cor(format_cor(int(value)))
    except (TypeError, ValueError):
        return str(value)


def inputs(detail: Any) -> str:
    """The scalar fields of a statement line's detail (but its task) for a line without a formula: ``quality_ppb 790000000 · pool 27``."""
    if not isinstance(detail, dict):
        return ""
    return " · ".join(
        f"{k} {v}" for k, v in detail.items() if k not in ("formula", "why", "task") and isinstance(v, (int, str)) and not isinstance(v, bool)
    )


def account(name: str, owner: str) -> str:
    """An account of ``owner`` without the owner's address, other addresses shortened:
    ``delegated:<node>:<owner>`` → ``delegated:0x1234…abcd``."""
    parts = [p for p in str(name).split(":") if p != owner]
    return ":".join(short(p) if p.startswith("0x") else p for p in parts)


def register_filters(env: Environment) -> None:
    env.filters.update(
        {
            "cor": cor,
            "cor_short": cor_short,
            "cor_compact": cor_compact,
            "share": share,
            "units": units,
            "account": account,
            "inputs": inputs,
            "bps": bps,
            "ppb": ppb,
            "short": short,
        }
    )
