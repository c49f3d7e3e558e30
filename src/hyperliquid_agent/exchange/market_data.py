"""Point-in-time market data over a `CoinSeries`: what the venue shows at a moment when
`closed` bars have closed. Candles (aggregated to coarser intervals), funding records, the
asset context, and the synthetic order book. Pure functions; the model passes the state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from functools import cache, partial
from itertools import repeat
from math import lcm
from operator import floordiv, truediv
from typing import NamedTuple, Sequence

from hyperliquid_agent.domain import AssetContext, AssetSpec, Candle, FundingPoint, L2Book, round_size
from hyperliquid_agent.domain.market import BookFloats, BookLevel, BookView, trusted_level
from hyperliquid_agent.domain.rounding import QUANTUM, finest_price_decimal, lot_size, round_prices, tick_exponent
from hyperliquid_agent.domain.values import trusted
from hyperliquid_agent.exchange.feed import HOUR_MS, CoinSeries, interval_ms

ZERO = Decimal(0)
BPS = Decimal(10000)
MIN_LEVEL_USD = Decimal(10)


def closed_candles(s: CoinSeries, closed: int, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
    """Candles with open time in [start_ms, end_ms] among the first `closed` bars. A coarser
    interval aggregates whole UTC-aligned buckets; a bucket still open is left out."""
    iv = interval_ms(interval)
    if iv < s.interval_ms:
        raise ValueError(f"interval {interval} is finer than the data's {s.interval_ms // 60000}m bars")
    if iv == s.interval_ms:
        lo, hi = bisect_left(s.t, start_ms), min(bisect_right(s.t, end_ms), closed)
        return [s.candle(i) for i in range(lo, hi)]
    if closed == 0:
        return []
    last_close = s.close_t[closed - 1]
    out: list[Candle] = []
    i = bisect_left(s.t, start_ms - start_ms % iv)
    while i < closed:
        b = s.t[i] - s.t[i] % iv
        if b > end_ms or b + iv > last_close:
            break
        j = i
        o, hi_px, lo_px, vol = s.open[i], s.high[i], s.low[i], ZERO
        while j < closed and s.t[j] < b + iv:
            hi_px, lo_px, vol = max(hi_px, s.high[j]), min(lo_px, s.low[j]), vol + s.volume[j]
            j += 1
        if b >= start_ms:
            out.append(trusted(Candle, {"t_ms": b, "open": o, "high": hi_px, "low": lo_px, "close": s.close[j - 1],
                                        "volume": vol}))
        i = j
    return out


def funding_records(s: CoinSeries, start_ms: int, stop_ms: int) -> list[FundingPoint]:
    lo, hi = bisect_left(s.funding_t, start_ms), bisect_right(s.funding_t, stop_ms)
    return [s.funding_point(j) for j in range(lo, hi)]


def asset_context(s: CoinSeries, closed: int, mark: Decimal, now_ms: int) -> AssetContext:
    """metaAndAssetCtxs for one coin: the last settled funding rate, the day's notional
    volume, the price a day ago; the premium from the funding record, else mark vs oracle."""
    i = max(closed - 1, 0)
    oracle = s.oracle_px(i) if closed else mark
    j = s.funding_count(now_ms) - 1
    rate = s.funding_rate[j] if j >= 0 else ZERO
    prem = s.funding_premium[j] if j >= 0 and s.funding_premium is not None else None
    per_day = max(1, 24 * HOUR_MS // s.interval_ms)
    day = slice(max(0, closed - per_day), closed)
    return trusted(AssetContext, {  # every field given, each already a Decimal: nothing to validate
        "coin": s.coin, "mark_price": mark, "oracle_price": oracle, "mid_price": mark, "funding": rate,
        "open_interest": s.open_interest[i] if s.open_interest is not None and closed else ZERO,
        "premium": prem if prem is not None else (mark - oracle) / oracle,
        "day_volume": sum(s.notional[day], ZERO),
        "prev_day_price": s.close[closed - per_day - 1] if closed > per_day else s.open[0],
    })


@cache
def _size_factors(levels: int) -> tuple[Decimal, ...]:
    """Level k of a synthetic book holds (1 + k/4) times the touch's size (the same for every book)."""
    return tuple(1 + Decimal(k) / 4 for k in range(levels))


@cache
def _level_orders(levels: int) -> tuple[int, ...]:
    """How many orders level k of a synthetic book shows: 1, 2, 3, 1, 2, 3, ..."""
    return tuple(1 + k % 3 for k in range(levels))


_TOUCH_ORDERS = _level_orders(1)[0]  # the orders the best level shows


class _Side(NamedTuple):
    """One side's prices (or the level sizes), best first, as floats and (for as many levels as
    the caller asked, or all) as Decimals."""

    values: list[Decimal]
    floats: list[float]


# `_new_side((values, floats))`: a _Side made in C (its generated __new__ is a Python function, and
# a book view makes three a coin every bar)
_new_side = partial(tuple.__new__, _Side)


def synthetic_book(s: CoinSeries, closed: int, mid: Decimal, bid: Decimal, ask: Decimal, spread_bps: Decimal,
                   now_ms: int, levels: int = 20) -> L2Book:
    """The book around `mid`: the touch, then levels one spread apart, sized from the last
    bar's volume (about 1/40 of it at the touch, growing outward; at least $10 a level)."""
    bids, asks, sizes = _book_sides(s, closed, mid, bid, ask, spread_bps, levels, None)
    orders = _level_orders(levels)
    book = trusted(L2Book, {
        "coin": s.coin, "time_ms": now_ms,
        "bids": tuple(map(trusted_level, bids.values, sizes.values, orders)),  # (our own Decimals and ints:
        "asks": tuple(map(trusted_level, asks.values, sizes.values, orders)),  # nothing to validate)
    })
    # the float view the signals read, known here without converting the levels' Decimals
    book.keep_floats(_book_floats(bids, asks, sizes))
    return book


def synthetic_book_view(s: CoinSeries, closed: int, mid: Decimal, bid: Decimal, ask: Decimal, spread_bps: Decimal,
                        now_ms: int, levels: int = 20) -> BookView:
    """`synthetic_book(...).view()` without the Decimals and levels behind the touch: what a cycle
    reads of the book (the levels as floats, the touch as levels)."""
    bids, asks, sizes = _book_sides(s, closed, mid, bid, ask, spread_bps, levels, 1)
    return BookView(s.coin, now_ms, _best_level(bids, sizes), _best_level(asks, sizes), _book_floats(bids, asks, sizes))


def _book_sides(s: CoinSeries, closed: int, mid: Decimal, bid: Decimal, ask: Decimal, spread_bps: Decimal,
                levels: int, decimals: int | None) -> tuple[_Side, _Side, _Side]:
    """The bid and ask ladders and the level sizes (each level's float; the Decimals of the first
    `decimals` levels, of all when None)."""
    spec = s.spec
    vol = s.volume[closed - 1] if closed else ZERO
    base = max(vol / 40, MIN_LEVEL_USD / mid)
    step = max(ask - bid, mid * spread_bps / BPS)
    sizes = _level_sizes(base, spec.sz_decimals, levels, decimals)
    bids = _price_ladder(bid, -step, levels, spec, ROUND_DOWN, decimals)
    asks = _price_ladder(ask, step, levels, spec, ROUND_UP, decimals)
    return bids, asks, sizes


def _book_floats(bids: _Side, asks: _Side, sizes: _Side) -> BookFloats:
    n = len(sizes.floats)  # a side with every level reads the sizes list itself (the view is read only)
    return BookFloats(bids.floats, sizes.floats if len(bids.floats) == n else sizes.floats[:len(bids.floats)],
                      asks.floats, sizes.floats if len(asks.floats) == n else sizes.floats[:len(asks.floats)])


def _best_level(side: _Side, sizes: _Side) -> BookLevel | None:
    """A side's best level (None for an empty side)."""
    if not side.values:
        return None
    return trusted_level(side.values[0], sizes.values[0], _TOUCH_ORDERS)


# ---------------------------------------------------------------- the book's numbers in integers
#
# A synthetic book's 20 levels a side come from two Decimals each (the touch and the step; the
# base size): worked out as integers over a common power of ten, each level costs a few integer
# operations and one Decimal, and its float is an exact integer division (correctly rounded, as
# float(Decimal) is). The Decimal arithmetic they replace is exact whenever its results fit in
# the context's 28 digits, which the integers check; when they do not, the Decimal way runs.

_EXACT_BELOW = 10 ** 28  # decimal's default precision: integers below this are exact Decimals


def _scale_of(denominator: int) -> int:
    """The smallest power of ten that is a multiple of a Decimal's denominator (a 2^i 5^j)."""
    scale = 10 ** ((denominator & -denominator).bit_length() - 1)  # 10^i for the 2^i (one step from 1 to 10^28)
    while scale % denominator:  # (then on to 10^j when j > i)
        scale *= 10
    return scale


def _level_sizes(base: Decimal, sz_decimals: int, levels: int, decimals: int | None = None) -> _Side:
    """max(round_size(base * (1 + k/4)), one lot) for k < levels: the size of each level (as a
    Decimal for at least the first `decimals` levels, all when None)."""
    return (_level_sizes_in_lots(base, sz_decimals, levels, decimals)
            or _level_sizes_by_decimals(base, sz_decimals, levels))


def _level_sizes_by_decimals(base: Decimal, sz_decimals: int, levels: int) -> _Side:
    one = lot_size(sz_decimals)
    sizes = [max(round_size(base * f, sz_decimals), one) for f in _size_factors(levels)]
    return _new_side((sizes, list(map(float, sizes))))


def _level_sizes_in_lots(base: Decimal, sz_decimals: int, levels: int, decimals: int | None = None) -> _Side | None:
    """The sizes as whole lots: base * (4 + k) / 4 rounded down (base is positive). None when
    a product base * (1 + k/4) has more digits than Decimal keeps (it would have rounded it)."""
    num, den = base.as_integer_ratio()
    # the largest product, base * (4 + levels - 1) / 4, as a count of its last digit (base's, / 100)
    if num * (_scale_of(den) // den) * 25 * (3 + levels) >= _EXACT_BELOW:
        return None
    per_lot = 10 ** sz_decimals
    in_lots, quarters = num * per_lot, 4 * den  # base = in_lots / per_lot / den; the factors are quarters
    # in_lots * q // quarters for q = 4, 5, ...: the products are a range, divided by a map in C
    lots = list(map(floordiv, range(4 * in_lots, (4 + levels) * in_lots, in_lots), repeat(quarters)))
    if lots and not lots[0]:  # (a level under one lot shows one: the smallest come first)
        lots = [n or 1 for n in lots]
    return _new_side((list(map(lot_size(sz_decimals).__mul__, lots[:decimals])),
                      list(map(truediv, lots, repeat(per_lot)))))


def _price_ladder(start: Decimal, step: Decimal, levels: int, spec: AssetSpec, rounding: str,
                  decimals: int | None = None) -> _Side:
    """start + step * k for k < levels, those above zero, each rounded to the venue's price
    precision (`rounding` is ROUND_DOWN or ROUND_UP); as Decimals for at least the first
    `decimals` levels (all when None), as floats for all."""
    return (_price_ladder_in_ticks(start, step, levels, spec, rounding, decimals)
            or _price_ladder_by_decimals(start, step, levels, spec, rounding))


def _price_ladder_by_decimals(start: Decimal, step: Decimal, levels: int, spec: AssetSpec, rounding: str) -> _Side:
    prices = [p for p in (start + step * k for k in range(levels)) if p > ZERO]  # the ladder stops at zero
    prices = round_prices(prices, spec.sz_decimals, spec.market_type, rounding)
    return _new_side((prices, list(map(float, prices))))


def _price_ladder_in_ticks(start: Decimal, step: Decimal, levels: int, spec: AssetSpec, rounding: str,
                           decimals: int | None = None) -> _Side | None:
    """The ladder as whole ticks of one size (when both ends round at the same digit, every level
    between does), then each price in `round_price`'s canonical form. None outside that case, when the start
    is not positive, or when Decimal would have rounded a level or a step * k."""
    (n0, d0), (n1, d1) = start.as_integer_ratio(), step.as_integer_ratio()
    scale = _scale_of(lcm(d0, d1))  # start and step are whole multiples of 1/scale
    first, per_level = n0 * (scale // d0), n1 * (scale // d1)
    if first <= 0 or per_level == 0 or levels <= 0:
        return None
    units = range(first, max(first + per_level * levels, 0), per_level)  # (a falling ladder stops above zero)
    if max(first, units[-1], abs(per_level) * levels) >= _EXACT_BELOW:
        return None
    finest = finest_price_decimal(spec.sz_decimals, spec.market_type)
    exp = tick_exponent(start, finest)
    if exp != tick_exponent(Decimal(units[-1]) / scale, finest):
        return None
    per_tick = 10 ** -exp
    tick0, off_tick0 = divmod(first * per_tick, scale)
    ticks_per_level, off_tick = divmod(per_level * per_tick, scale)
    if not (off_tick0 or off_tick):  # start and step on the tick (the usual book): nothing to round
        ticks: Sequence[int] = range(tick0, tick0 + ticks_per_level * len(units), ticks_per_level)
    elif rounding == ROUND_DOWN:
        ticks = [u * per_tick // scale for u in units]
    else:
        ticks = [-(-u * per_tick // scale) for u in units]
    if ticks[0] <= 0 or ticks[-1] <= 0:  # rounded to zero: the generic rounder's smallest tick instead
        return None
    tick = QUANTUM[exp]
    # a count of ticks not ending in 0 is a price without trailing zeros: canonical as it is
    prices = [tick * n if n % 10 else _canonical_price(n, exp, per_tick) for n in ticks[:decimals]]
    return _new_side((prices, list(map(truediv, ticks, repeat(per_tick)))))


def _canonical_price(ticks: int, exp: int, per_tick: int) -> Decimal:
    """ticks * 10^exp as `round_price` writes a price: an integer without a point, others
    without trailing zeros."""
    if ticks % per_tick == 0:
        return Decimal(ticks // per_tick)
    while ticks % 10 == 0:
        ticks //= 10
        exp += 1
    return QUANTUM[exp] * ticks
