"""Venue rounding rules, in one place.

Hyperliquid accepts a price with at most 5 significant figures and at most
`6 - szDecimals` decimals on perps (`8 - szDecimals` on spot); an integer price is
always accepted. Sizes are multiples of 10^-szDecimals; we always round them DOWN
(toward zero), so rounding never buys more than was asked for.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from hyperliquid_agent.domain.values import MarketType

MAX_SIGNIFICANT_FIGURES = 5
_PERP_MAX_DECIMALS = 6
_SPOT_MAX_DECIMALS = 8


def max_price_decimals(sz_decimals: int, market_type: MarketType) -> int:
    base = _SPOT_MAX_DECIMALS if market_type is MarketType.SPOT else _PERP_MAX_DECIMALS
    return max(base - sz_decimals, 0)


def round_price(
    price: Decimal,
    sz_decimals: int,
    market_type: MarketType = MarketType.PERP,
    rounding: str = ROUND_HALF_EVEN,
) -> Decimal:
    """Round `price` to the venue's precision.

    `rounding` is a `decimal` rounding mode; pass ROUND_UP/ROUND_DOWN (or CEILING/FLOOR)
    to round a limit price away from or toward the market deliberately.
    """
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    if price == price.to_integral_value():
        return price.quantize(Decimal(1))
    max_dec = max_price_decimals(sz_decimals, market_type)
    # exponent of the last allowed significant digit
    sig_exp = price.adjusted() - (MAX_SIGNIFICANT_FIGURES - 1)
    exp = min(0, max(sig_exp, -max_dec))
    rounded = price.quantize(Decimal(1).scaleb(exp), rounding=rounding)
    if rounded <= 0:
        # a tiny price rounded to zero: the smallest allowed tick instead
        rounded = Decimal(1).scaleb(exp)
    if rounded == rounded.to_integral_value():
        return rounded.quantize(Decimal(1))
    # Rounding up can add a digit (9.99995 -> 10.0000): re-apply to stay within 5 figures.
    if _significant_figures(rounded) > MAX_SIGNIFICANT_FIGURES:
        return round_price(rounded, sz_decimals, market_type, rounding)
    return rounded.normalize() if rounded.as_tuple().exponent < 0 else rounded


def _significant_figures(value: Decimal) -> int:
    digits = value.normalize().as_tuple().digits
    return len(digits)


def round_size(size: Decimal, sz_decimals: int) -> Decimal:
    """Round a (possibly signed) size toward zero to a multiple of 10^-sz_decimals."""
    return size.quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN)


def is_valid_price(price: Decimal, sz_decimals: int, market_type: MarketType = MarketType.PERP) -> bool:
    if price <= 0:
        return False
    if price == price.to_integral_value():
        return True
    exponent = price.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return decimals <= max_price_decimals(sz_decimals, market_type) and _significant_figures(price) <= MAX_SIGNIFICANT_FIGURES


def is_valid_size(size: Decimal, sz_decimals: int) -> bool:
    return size == round_size(size, sz_decimals)
