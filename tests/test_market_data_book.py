"""The synthetic book's integer arithmetic gives the Decimals (down to their printed form) and
the floats that the Decimal arithmetic and float() give."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.domain import AssetSpec, L2Book, MarketType
from hyperliquid_agent.exchange import market_data as md
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed

amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("200000"), places=8, allow_nan=False)
cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200000"), places=2, allow_nan=False)


def _printed(side: md._Side) -> tuple[list[str], list[float]]:
    return [str(v) for v in side.values], side.floats


@st.composite
def ladders(draw):
    """A touch and a step as synthetic_book gets them: short Decimals, or a step with the
    28 digits of a quotient (mid * spread_bps / 10000 can have them)."""
    start = draw(st.one_of(amounts, cents))  # (cents: often on the tick, as a touch is)
    step = draw(st.one_of(amounts, st.decimals(min_value=0, max_value=5000, places=2),
                          amounts.map(lambda d: d / 7), st.just(Decimal(0))))
    if draw(st.booleans()):
        start, step = start.normalize(), step.normalize()
    return start, step


@settings(max_examples=600, deadline=None)
@given(ladder=ladders(), sz_decimals=st.integers(min_value=0, max_value=8), spot=st.booleans(),
       down=st.booleans(), levels=st.integers(min_value=1, max_value=25))
def test_a_price_ladder_in_ticks_is_the_decimal_ladder(ladder, sz_decimals, spot, down, levels):
    start, step = ladder
    spec = AssetSpec(name="X", asset_id=0, sz_decimals=sz_decimals,
                     market_type=MarketType.SPOT if spot else MarketType.PERP)
    step, rounding = (-step, ROUND_DOWN) if down else (step, ROUND_UP)
    fast = md._price_ladder_in_ticks(start, step, levels, spec, rounding)
    slow = md._price_ladder_by_decimals(start, step, levels, spec, rounding)
    if fast is not None:
        assert _printed(fast) == _printed(slow)
    assert _printed(md._price_ladder(start, step, levels, spec, rounding)) == _printed(slow)


@settings(max_examples=400, deadline=None)
@given(volume=st.one_of(amounts, amounts.map(lambda d: d * 1000)), mid=amounts,
       sz_decimals=st.integers(min_value=0, max_value=8), levels=st.integers(min_value=1, max_value=25))
def test_level_sizes_in_lots_are_the_decimal_sizes(volume, mid, sz_decimals, levels):
    base = max(volume / 40, md.MIN_LEVEL_USD / mid)  # as synthetic_book works it out (often 28 digits)
    fast = md._level_sizes_in_lots(base, sz_decimals, levels)
    slow = md._level_sizes_by_decimals(base, sz_decimals, levels)
    if fast is not None:
        assert _printed(fast) == _printed(slow)
    assert _printed(md._level_sizes(base, sz_decimals, levels)) == _printed(slow)


def test_levels_under_one_lot_show_one_lot_in_lots_as_in_decimals():
    for base, levels in ((Decimal("0.3"), 5), (Decimal("0.9"), 8)):  # every level under a lot; the first ones
        fast = md._level_sizes_in_lots(base, 0, levels)
        assert fast is not None and _printed(fast) == _printed(md._level_sizes_by_decimals(base, 0, levels))
    assert md._level_sizes_in_lots(Decimal("0.9"), 0, 8).floats == [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]


def test_the_integer_ways_are_taken_for_usual_books():
    spec = AssetSpec(name="ETH", asset_id=1, sz_decimals=4)
    assert md._price_ladder_in_ticks(Decimal("3868"), Decimal("-0.8"), 20, spec, ROUND_DOWN) is not None
    assert md._price_ladder_in_ticks(Decimal("3868.1"), Decimal("0.38681"), 20, spec, ROUND_UP) is not None
    assert md._level_sizes_in_lots(Decimal("993.9166") / 40, 4, 20) is not None


def test_a_synthetic_books_floats_are_its_levels_converted_and_its_view_the_venues():
    feed = synthetic_feed(seed=3, days=40)
    m = VenueModel(feed)
    for t in feed.timeline[700:760:7]:
        m.advance_to(t)
        for coin in feed.coins:
            book = m.l2_book(coin)
            assert m.book_view(coin) == book.view()  # what the cycle reads, made without the levels
            again = L2Book.model_validate(book.model_dump())  # a book as the venue's would be: floats not given
            assert again == book
            assert book.floats == again.floats
            assert book.floats.bid_prices == [float(x.price) for x in book.bids]
            assert book.floats.ask_sizes == [float(x.size) for x in book.asks]
            thinner = book.model_copy(update={"bids": book.bids[:1], "asks": book.asks[1:]})  # other levels
            assert thinner.floats.bid_prices == [float(book.bids[0].price)]
            assert thinner.floats.ask_sizes == [float(x.size) for x in book.asks[1:]]
            assert book.model_copy(update={"time_ms": 0}).floats is book.floats  # the same levels: kept


def test_trusted_levels_are_validated_levels():
    import dataclasses

    import pytest
    from pydantic import ValidationError

    from hyperliquid_agent.domain import BookLevel
    from hyperliquid_agent.domain.market import trusted_level

    level, other = trusted_level(Decimal("3867.2"), Decimal("0.5000"), 2), trusted_level(Decimal("3867"), Decimal("1"), 1)
    assert other == BookLevel(price=Decimal("3867"), size=Decimal("1"), orders=1)
    assert level == BookLevel(price="3867.2", size=Decimal("0.5000"), orders=2) == BookLevel(
        **{"price": "3867.2", "size": "0.5000", "orders": 2})
    assert hash(level) == hash(BookLevel(price=Decimal("3867.2"), size=Decimal("0.5000"), orders=2))
    assert repr(level) == "BookLevel(price=Decimal('3867.2'), size=Decimal('0.5000'), orders=2)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.price = Decimal(1)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        BookLevel(**{"price": "x", "size": "1"})
    with pytest.raises(ValidationError):
        BookLevel(**{"price": "1", "size": "1", "side": "B"})


def test_the_scale_of_a_denominator_is_the_smallest_power_of_ten_it_divides():
    for twos in range(32):
        for fives in range(32):
            assert md._scale_of(2 ** twos * 5 ** fives) == 10 ** max(twos, fives)


@settings(max_examples=300, deadline=None)
@given(mid=st.one_of(amounts, cents), half_spread=st.one_of(amounts.map(lambda d: d / 1000), st.just(Decimal(0))),
       spread_bps=st.decimals(min_value=0, max_value=500, places=2), volume=st.one_of(amounts, st.just(Decimal(0))),
       sz_decimals=st.integers(min_value=0, max_value=8), spot=st.booleans(), levels=st.integers(1, 25))
def test_a_book_view_is_the_books_view_without_its_levels(mid, half_spread, spread_bps, volume, sz_decimals, spot,
                                                          levels):
    """What a cycle reads (touch levels, every level's floats) is the same from either builder,
    on the integer ways and on the Decimal fallbacks (28-digit steps, ladders that stop at zero)."""
    from types import SimpleNamespace

    spec = AssetSpec(name="X", asset_id=0, sz_decimals=sz_decimals,
                     market_type=MarketType.SPOT if spot else MarketType.PERP)
    series = SimpleNamespace(coin="X", spec=spec, volume=[volume])
    bid, ask = mid - half_spread, mid + half_spread
    args = (series, 1, mid, bid, ask, spread_bps, 7, levels)
    book = md.synthetic_book(*args)
    view = md.synthetic_book_view(*args)
    assert view == book.view()
    assert (view.best_bid, view.best_ask) == (book.best_bid, book.best_ask)
    printed = [(str(x.price), str(x.size)) for x in (view.best_bid, view.best_ask) if x is not None]
    assert printed == [(str(x.price), str(x.size)) for x in (*book.bids[:1], *book.asks[:1])]  # as the record prints
