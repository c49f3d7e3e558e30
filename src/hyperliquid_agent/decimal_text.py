"""Decimals as exact plain text, the one rule every record, prompt and log line uses.

Kept free of pydantic and the domain package so the CLI's light paths (logs) can import it.
"""

from __future__ import annotations

from decimal import Decimal


def plain_text(d: Decimal, signed: bool = False) -> str:
    """A Decimal as plain text without trailing zeros or an exponent, exact: 10100.500 -> "10100.5",
    1E+2 -> "100", -0.0 -> "0". `signed` puts a "+" before a positive value."""
    text = format(d.normalize(), "f") if d != 0 else "0"
    return ("+" + text) if signed and d > 0 else text


def usd_text(d: Decimal, places: int = 2) -> str:
    """A dollar amount for a table, the sign before the dollar: -1234.5 -> "-$1,234.50"."""
    return f"-${-d:,.{places}f}" if d < 0 else f"${d:,.{places}f}"
