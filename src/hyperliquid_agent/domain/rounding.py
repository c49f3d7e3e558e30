"""Venue rounding rules, in one place.

Hyperliquid accepts a price with at most 5 significant figures and at most
`6 - szDecimals` decimals on perps (`8 - szDecimals` on spot); an integer price is
always accepted. Sizes are multiples of 10^-szDecimals; we always round them DOWN
(toward zero), so rounding never buys more than was asked for. USDC amounts have 6 decimals.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Iterable

from hyperliquid_agent.domain.values import MarketType

MAX_SIGNIFICANT_FIGURES = 5
USDC_QUANTUM = Decimal("0.000001")  # USDC amounts have 6 decimals on Hyperliquid
_PERP_MAX_DECIMALS = 6
_SPOT_MAX_DECIMALS = 8
_SPOT = MarketType.SPOT  # (enum member lookups are slow on 3.11; these run per order)
QUANTUM = {e: Decimal(1).scaleb(e) for e in range(-_SPOT_MAX_DECIMALS, 1)}  # 10^e, e <= 0: the tick at exponent e
_ONE = Decimal(1)
_ZERO = Decimal(0)  # (comparing a Decimal with a Decimal is several times faster than with an int)


def finest_price_decimal(sz_decimals: int, market_type: MarketType) -> int:
    """The exponent of the finest decimal a price may have (-(6 - szDecimals) on perps)."""
    return min(sz_decimals - (_SPOT_MAX_DECIMALS if market_type is _SPOT else _PERP_MAX_DECIMALS), 0)


def tick_exponent(price: Decimal, finest_decimal: int) -> int:
    """The exponent of the last digit a price may have: the 5th significant figure, no finer
    than the allowed decimals, and never above the units (integers are always allowed)."""
    # min(0, max(fifth, finest_decimal)) spelt with comparisons: this runs per price level
    fifth = price.adjusted() - (MAX_SIGNIFICANT_FIGURES - 1)
    if fifth < finest_decimal:
        return finest_decimal
    return fifth if fifth < 0 else 0


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
    return round_price_at(price, finest_price_decimal(sz_decimals, market_type), rounding)


def round_prices(
    prices: Iterable[Decimal],
    sz_decimals: int,
    market_type: MarketType = MarketType.PERP,
    rounding: str = ROUND_HALF_EVEN,
) -> list[Decimal]:
    """`round_price` over a ladder of prices (an order book's levels), with the allowed
    decimals worked out once for the whole ladder."""
    finest_decimal = finest_price_decimal(sz_decimals, market_type)
    return [round_price_at(p, finest_decimal, rounding) for p in prices]


def round_price_at(price: Decimal, finest_decimal: int, rounding: str) -> Decimal:
    """`round_price` with the allowed decimals (`finest_price_decimal`) worked out already."""
    # Hot path (every order and book level): `quantize` takes the rounding mode positionally,
    # as a keyword it costs several times the rounding itself on 3.11.
    if price <= _ZERO:
        raise ValueError(f"price must be positive, got {price}")
    exp = tick_exponent(price, finest_decimal)
    rounded = price.quantize(QUANTUM[exp], rounding)  # an integer price comes back unchanged
    if not rounded:  # (a positive price rounds to zero or more: a truth test, not a comparison)
        # a tiny price rounded to zero: the smallest allowed tick instead
        rounded = QUANTUM[exp]
    if exp == 0:  # rounded to the units already
        return rounded
    if not rounded % _ONE:  # (a remainder: an operator, not a method call parsing its keywords)
        return rounded.quantize(_ONE)
    # Rounding up can add a digit (0.0999996 -> 0.100000): re-apply to stay within 5 figures.
    # (Rounding down cannot: the book's bid side and sell limits skip the two adjusted() calls.)
    if rounding is not ROUND_DOWN and rounded.adjusted() > price.adjusted():
        return round_price_at(rounded, finest_decimal, rounding)
    return rounded.normalize()


def lot_size(sz_decimals: int) -> Decimal:
    """The size step: 10^-sz_decimals."""
    return QUANTUM.get(-sz_decimals) or Decimal(1).scaleb(-sz_decimals)


def round_size(size: Decimal, sz_decimals: int) -> Decimal:
    """Round a (possibly signed) size toward zero to a multiple of 10^-sz_decimals."""
    return size.quantize(lot_size(sz_decimals), ROUND_DOWN)  # (positional: the keyword form is much slower)


def is_valid_price(price: Decimal, sz_decimals: int, market_type: MarketType = MarketType.PERP) -> bool:
    return is_valid_price_at(price, finest_price_decimal(sz_decimals, market_type))


def is_valid_price_at(price: Decimal, finest_decimal: int) -> bool:
    """`is_valid_price` with the allowed decimals worked out already (the venue checks every order)."""
    if price <= _ZERO:
        return False
    exp = tick_exponent(price, finest_decimal)
    if exp == 0:  # 5 figures reach the units: only an integer fits (and any integer is allowed)
        return price == price.to_integral_value()
    # valid when nothing is lost keeping digits down to the finest allowed one (an integer loses none):
    # a multiple of that digit (a remainder costs half a quantize and a comparison)
    return not price % QUANTUM[exp]


def is_valid_size(size: Decimal, sz_decimals: int) -> bool:
    return fits_lot(size, lot_size(sz_decimals))


def fits_lot(size: Decimal, lot: Decimal) -> bool:
    """`is_valid_size` with the lot worked out already (the venue checks every order): a multiple of
    it (a remainder costs half of `round_size`'s quantize and a comparison)."""
    return not size % lot
