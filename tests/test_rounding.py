"""Venue rounding (domain.rounding): properties over sizes and prices, and known cases."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

import pytest
from hypothesis import assume, given, strategies as st

from hyperliquid_agent.domain import MarketType, is_valid_price, is_valid_size, round_price, round_size
from hyperliquid_agent.domain.rounding import finest_price_decimal, round_prices, tick_exponent

sizes = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), allow_nan=False, allow_infinity=False, places=12)
prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("5000000"), allow_nan=False, allow_infinity=False, places=10)
perp_sz = st.integers(min_value=0, max_value=6)
spot_sz = st.integers(min_value=0, max_value=8)


def significant_figures(d: Decimal) -> int:
    return len(d.normalize().as_tuple().digits)


def decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


# ---------------------------------------------------------------- sizes


@given(size=sizes, sz=perp_sz)
def test_rounded_size_never_exceeds_the_input_and_sits_on_the_grid(size, sz):
    r = round_size(size, sz)
    step = Decimal(1).scaleb(-sz)
    assert abs(r) <= abs(size)  # toward zero: never buys (or sells) more than asked
    assert r == 0 or (r > 0) == (size > 0)  # the sign of a signed size survives
    assert r % step == 0  # a multiple of 10^-szDecimals
    assert abs(size) - abs(r) < step  # and the largest such multiple
    assert is_valid_size(r, sz)


@given(size=sizes.filter(lambda d: d > 0), sz=perp_sz)
def test_size_rounding_is_idempotent(size, sz):
    once = round_size(size, sz)
    assert round_size(once, sz) == once


@pytest.mark.parametrize("size, sz, expected", [
    (Decimal("0.123456789"), 5, Decimal("0.12345")),
    (Decimal("-1.99"), 1, Decimal("-1.9")),  # a short stays short, rounded toward zero
    (Decimal("0.009"), 2, Decimal("0.00")),
    (Decimal("12"), 0, Decimal("12")),
])
def test_size_examples(size, sz, expected):
    assert round_size(size, sz) == expected


# ---------------------------------------------------------------- prices


@given(price=prices, sz=perp_sz)
def test_rounded_perp_price_is_valid(price, sz):
    r = round_price(price, sz, MarketType.PERP)
    assert r > 0
    assert is_valid_price(r, sz, MarketType.PERP)
    if r != r.to_integral_value():
        assert significant_figures(r) <= 5
        assert decimals(r) <= 6 - sz


@given(price=prices, sz=spot_sz)
def test_rounded_spot_price_is_valid(price, sz):
    r = round_price(price, sz, MarketType.SPOT)
    assert is_valid_price(r, sz, MarketType.SPOT)
    if r != r.to_integral_value():
        assert significant_figures(r) <= 5 and decimals(r) <= 8 - sz


@given(price=prices, sz=perp_sz)
def test_rounded_price_is_close_to_the_input(price, sz):
    tick = Decimal(1).scaleb(-(6 - sz))
    assume(price >= tick)  # below the smallest tick the venue cannot express the price at all
    r = round_price(price, sz)
    # within one unit of the 5th significant figure, or of the smallest allowed decimal
    unit = max(Decimal(1).scaleb(price.adjusted() - 4), tick)
    assert abs(r - price) <= unit


@given(price=prices, sz=perp_sz)
def test_directed_rounding_never_crosses_the_input(price, sz):
    assume(price >= Decimal(1).scaleb(-(6 - sz)))
    down = round_price(price, sz, rounding=ROUND_DOWN)
    up = round_price(price, sz, rounding=ROUND_UP)
    assert down <= price <= up
    assert is_valid_price(down, sz) and is_valid_price(up, sz)


@given(price=prices, sz=perp_sz)
def test_price_rounding_is_idempotent(price, sz):
    once = round_price(price, sz)
    assert round_price(once, sz) == once


@given(ladder=st.lists(prices, max_size=25), sz=spot_sz, market=st.sampled_from(MarketType),
       rounding=st.sampled_from([ROUND_DOWN, ROUND_UP, ROUND_HALF_EVEN]))
def test_a_ladder_rounds_like_each_price_on_its_own(ladder, sz, market, rounding):
    rounded = round_prices(ladder, sz, market, rounding)
    expected = [round_price(p, sz, market, rounding) for p in ladder]
    assert [(r, r.as_tuple()) for r in rounded] == [(e, e.as_tuple()) for e in expected]  # same digits, same exponent


@pytest.mark.parametrize("price, sz, market, expected", [
    (Decimal("68250.525"), 5, MarketType.PERP, Decimal("68251")),  # the SDK's slippage example
    (Decimal("123456.7"), 0, MarketType.PERP, Decimal("123457")),  # integers are always allowed
    (Decimal("12345.6"), 0, MarketType.PERP, Decimal("12346")),  # 6 figures is too many
    (Decimal("1.234567"), 2, MarketType.PERP, Decimal("1.2346")),
    (Decimal("0.0123456"), 0, MarketType.PERP, Decimal("0.012346")),
    (Decimal("0.0123456"), 4, MarketType.PERP, Decimal("0.01")),  # at most 6 - 4 = 2 decimals
    (Decimal("0.00012345"), 2, MarketType.SPOT, Decimal("0.000123")),  # spot: 8 - 2 = 6 decimals
    (Decimal("9.99996"), 0, MarketType.PERP, Decimal("10")),  # rounding up adds a digit
])
def test_price_examples(price, sz, market, expected):
    assert round_price(price, sz, market) == expected


def test_invalid_prices():
    assert not is_valid_price(Decimal("12345.6"), 0)
    assert is_valid_price(Decimal("123456"), 5)
    assert not is_valid_price(Decimal("0.001"), 4)  # 3 decimals > 6 - 4
    with pytest.raises(ValueError):
        round_price(Decimal("0"), 2)
    with pytest.raises(ValueError):
        round_price(Decimal("-5"), 2)


@given(price=prices, sz=spot_sz, market=st.sampled_from(MarketType))
def test_a_price_is_valid_exactly_when_rounding_leaves_it_alone(price, sz, market):
    """The validity check (one quantize, no re-rounding) agrees with the rounder."""
    assert is_valid_price(price, sz, market) == (round_price(price, sz, market) == price)


@given(size=sizes, sz=spot_sz)
def test_a_size_is_valid_exactly_when_rounding_leaves_it_alone(size, sz):
    assert is_valid_size(size, sz) == (round_size(size, sz) == size)


@given(size=sizes, sz=perp_sz)
def test_a_valid_size_is_one_that_rounding_to_the_lot_keeps(size, sz):
    """`is_valid_size` (a remainder) agrees with its definition: rounding to the lot loses nothing."""
    assert is_valid_size(size, sz) == (size == size.quantize(Decimal(1).scaleb(-sz), ROUND_DOWN))


@given(price=prices, sz=spot_sz, spot=st.booleans())
def test_a_valid_price_is_one_that_rounding_to_its_tick_keeps(price, sz, spot):
    """`is_valid_price` (a remainder) agrees with its definition: keeping the digits down to the
    price's tick loses nothing (an integer price is always valid)."""
    market = MarketType.SPOT if spot else MarketType.PERP
    finest = finest_price_decimal(sz, market)
    exp = tick_exponent(price, finest)
    kept = price.to_integral_value() if exp == 0 else price.quantize(Decimal(1).scaleb(exp))
    assert is_valid_price(price, sz, market) == (price == kept)
    assert is_valid_price(round_price(price, sz, market), sz, market)
