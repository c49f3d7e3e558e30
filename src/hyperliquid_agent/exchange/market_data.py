"""Point-in-time market data over a `CoinSeries`: what the venue shows at a moment when
`closed` bars have closed. Candles (aggregated to coarser intervals), funding records, the
asset context, and the synthetic order book. Pure functions; the model passes the state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from functools import cache
from operator import mul

from hyperliquid_agent.domain import AssetContext, Candle, FundingPoint, L2Book, round_size
from hyperliquid_agent.domain.market import BookLevel
from hyperliquid_agent.domain.rounding import round_ladder
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
            out.append(Candle.model_construct(t_ms=b, open=o, high=hi_px, low=lo_px, close=s.close[j - 1], volume=vol))
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
        "day_volume": sum(map(mul, s.volume[day], s.close[day]), ZERO),  # (the same sums, in order)
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


def synthetic_book(s: CoinSeries, closed: int, mid: Decimal, bid: Decimal, ask: Decimal, spread_bps: Decimal,
                   now_ms: int, levels: int = 20) -> L2Book:
    """The book around `mid`: the touch, then levels one spread apart, sized from the last
    bar's volume (about 1/40 of it at the touch, growing outward; at least $10 a level)."""
    spec = s.spec
    vol = s.volume[closed - 1] if closed else ZERO
    base = max(vol / 40, MIN_LEVEL_USD / mid)
    step = max(ask - bid, mid * spread_bps / BPS)
    one = Decimal(1).scaleb(-spec.sz_decimals)
    sizes = [max(round_size(base * f, spec.sz_decimals), one) for f in _size_factors(levels)]
    bid_prices = [p for p in (bid - step * k for k in range(levels)) if p > ZERO]  # the ladder stops at zero
    bid_prices = round_ladder(bid_prices, spec.sz_decimals, spec.market_type, ROUND_DOWN)
    ask_prices = round_ladder([ask + step * k for k in range(levels)], spec.sz_decimals, spec.market_type, ROUND_UP)
    orders = _level_orders(levels)
    return trusted(L2Book, {
        "coin": s.coin, "time_ms": now_ms,
        "bids": _levels(bid_prices, sizes, orders),
        "asks": _levels(ask_prices, sizes, orders),
    })


def _levels(prices: list[Decimal], sizes: list[Decimal], orders: tuple[int, ...]) -> tuple[BookLevel, ...]:
    """One side's levels (as many as there are prices), built without validation: prices and
    sizes are already Decimals and order counts ints, which is all BookLevel's validation
    checks, and validating a book's 40 levels cost more than working them out."""
    return tuple([trusted(BookLevel, {"price": p, "size": z, "orders": n}) for p, z, n in zip(prices, sizes, orders)])
