"""Signals: known values on hand-built series, and the no-look-ahead property."""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from pathlib import Path

import pytest
from gov_helpers import HOUR, T0, d, funding, walk
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.domain import AssetContext, BookLevel, Candle, FundingPoint, L2Book, MarketSnapshot
from hyperliquid_agent.signals import (
    CROSS_KEY,
    SIGNAL_NAMES,
    CoinHistory,
    MarketHistory,
    SignalCache,
    adx,
    compute_signals,
    rsi,
)


def flat(n: int, price: float = 100.0, t0: int = T0) -> list[Candle]:
    p = d(price)
    return [Candle(t_ms=t0 + i * HOUR, open=p, high=p, low=p, close=p, volume=d(1)) for i in range(n)]


def geometric(n: int, growth: float, t0: int = T0) -> list[Candle]:
    out = []
    for i in range(n):
        c = d(round(100 * (1 + growth) ** i, 10))
        out.append(Candle(t_ms=t0 + i * HOUR, open=c, high=c, low=c, close=c, volume=d(1)))
    return out


def after(n: int) -> int:
    """`now` just as the n-th hourly bar has closed."""
    return T0 + n * HOUR


def test_every_signal_name_is_present_and_none_without_data():
    table = compute_signals({"BTC": CoinHistory()}, after(0))
    assert set(table["BTC"]) == set(SIGNAL_NAMES)
    assert all(v is None for v in table["BTC"].values())
    assert table[CROSS_KEY] == {"btc_eth_corr": None}


def test_returns_and_moving_averages_on_a_geometric_series():
    g = 0.001
    row = compute_signals({"BTC": CoinHistory(candles=geometric(800, g))}, after(800))["BTC"]
    assert row["price"] == pytest.approx(100 * (1 + g) ** 799)
    assert row["ret_1h"] == pytest.approx(g)
    assert row["ret_24h"] == pytest.approx((1 + g) ** 24 - 1)
    assert row["ret_7d"] == pytest.approx((1 + g) ** 168 - 1)
    assert row["ret_30d"] == pytest.approx((1 + g) ** 720 - 1)
    assert row["sma20_dist"] > 0 and row["sma50_dist"] > row["sma20_dist"]
    assert row["ema20"] > row["ema50"] and row["ema_spread"] > 0
    assert row["rsi14"] == 100.0  # only gains
    # every hourly log return is log(1+g): realized vol is exactly that
    assert row["rv_1h"] == pytest.approx(math.log(1 + g))
    assert row["rv_24h"] == pytest.approx(math.log(1 + g))
    assert row["rv_ann"] == pytest.approx(math.log(1 + g) * math.sqrt(24 * 365))


def test_flat_series_is_neutral():
    row = compute_signals({"BTC": CoinHistory(candles=flat(100))}, after(100))["BTC"]
    assert row["ret_24h"] == 0.0 and row["sma50_dist"] == 0.0 and row["ema_spread"] == 0.0
    assert row["rsi14"] == 50.0 and row["rv_24h"] == 0.0
    assert row["ret_30d"] is None  # not enough data


def test_rsi_and_adx_ranges_on_a_random_walk():
    c = [float(x.close) for x in walk(400, seed=3)]
    hi = [float(x.high) for x in walk(400, seed=3)]
    lo = [float(x.low) for x in walk(400, seed=3)]
    assert 0 <= rsi(c) <= 100
    assert 0 <= adx(hi, lo, c) <= 100
    # a strong one-way move has a high ADX, a flat market a zero one
    up = [100 + i for i in range(100)]
    assert adx([u + 0.5 for u in up], [u - 0.5 for u in up], up) > 50
    assert adx([100.0] * 100, [100.0] * 100, [100.0] * 100) == 0.0


def test_a_candle_counts_only_after_it_closes():
    candles = geometric(50, 0.01)
    closed = compute_signals({"BTC": CoinHistory(candles=candles)}, after(49) + 30 * 60_000)["BTC"]
    # bar 49 is still open at 49h30m: the price is bar 48's close
    assert closed["price"] == pytest.approx(float(candles[48].close))


def test_funding_level_average_and_trend():
    now = after(24)
    points = [FundingPoint(time_ms=T0 + (i + 1) * HOUR, rate=d(0.00001 if i < 16 else 0.00003)) for i in range(24)]
    row = compute_signals({"BTC": CoinHistory(funding=points)}, now)["BTC"]
    assert row["funding_now"] == pytest.approx(0.00003)
    assert row["funding_24h_avg"] == pytest.approx((16 * 0.00001 + 8 * 0.00003) / 24)
    assert row["funding_trend"] == pytest.approx(0.00002)


def test_open_interest_change_book_and_basis():
    now = after(30)
    oi = [(T0 + 5 * HOUR, d(1000)), (T0 + 6 * HOUR, d(1100)), (T0 + 29 * HOUR, d(1200))]
    book = L2Book(coin="BTC", time_ms=now - 1000,
                  bids=(BookLevel(price=d(99.9), size=d(10)), BookLevel(price=d(98), size=d(100))),
                  asks=(BookLevel(price=d(100.1), size=d(5)), BookLevel(price=d(100.5), size=d(1))))
    ctx = AssetContext(coin="BTC", mark_price=d(100.2), oracle_price=d(100), funding=d(0.00002),
                       open_interest=d(1500), day_volume=d(1))
    hist = MarketHistory(coins={"BTC": CoinHistory(open_interest=oi, book=book)},
                         snapshot=MarketSnapshot(time_ms=now, mids={"BTC": d(100)}, contexts={"BTC": ctx}))
    row = compute_signals(hist, now)["BTC"]
    assert row["oi_change_24h"] == pytest.approx(1500 / 1100 - 1)  # latest at or before now-24h is 1100
    assert row["spread_bps"] == pytest.approx(0.2 / 100 * 1e4)
    # within 1% of mid 100: bid 99.9 x 10, asks 100.1 x 5 and 100.5 x 1 (98 is outside)
    assert row["depth_1pct_usd"] == pytest.approx(999 + 500.5 + 100.5)
    assert row["basis_bps"] == pytest.approx(20.0)
    assert row["funding_now"] == pytest.approx(0.00002)
    assert row["price"] == 100.0


def test_book_depth_stops_at_the_first_level_outside_the_band():
    """Each side counts its levels best first up to the first one outside mid +-1%, even
    when a later level (out of order) lies inside again."""
    now = after(1)
    book = L2Book(coin="BTC", time_ms=now,
                  bids=(BookLevel(price=d(99.9), size=d(1)), BookLevel(price=d(98), size=d(1)),
                        BookLevel(price=d(99.5), size=d(1))),
                  asks=(BookLevel(price=d(100.1), size=d(2)), BookLevel(price=d(100.9), size=d(1)),
                        BookLevel(price=d(102), size=d(1)), BookLevel(price=d(100.2), size=d(1))))
    row = compute_signals({"BTC": CoinHistory(book=book)}, now)["BTC"]
    assert row["depth_1pct_usd"] == 99.9 * 1.0 + 100.1 * 2.0 + 100.9 * 1.0


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.sampled_from([98.5, 98.9, 99.0, 99.2, 100.8, 101.0, 101.1, 101.5]), min_size=1, max_size=8))
def test_levels_inside_the_band_by_the_farthest_level_or_a_scan(prices):
    """The count of a side's levels before the first beyond the band, found from the farthest
    level when none is beyond, else by a scan, equals the scan's in every order of levels."""
    from operator import gt, lt

    from hyperliquid_agent.signals import _levels_inside
    for beyond, farthest, bound in ((lt, min, 99.0), (gt, max, 101.0)):
        scan = next((i for i, p in enumerate(prices) if beyond(p, bound)), len(prices))
        assert _levels_inside(prices, beyond, farthest, bound) == scan


def test_btc_eth_correlation():
    a = walk(300, seed=5)
    same = compute_signals({"BTC": CoinHistory(candles=a), "ETH": CoinHistory(candles=a)}, after(300))
    assert same[CROSS_KEY]["btc_eth_corr"] == pytest.approx(1.0)
    other = compute_signals({"BTC": CoinHistory(candles=a), "ETH": CoinHistory(candles=walk(300, seed=9))}, after(300))
    assert -0.3 < other[CROSS_KEY]["btc_eth_corr"] < 0.3


def test_cache_gives_the_same_table_and_notices_revised_bars():
    cache = SignalCache()
    candles = walk(300, seed=2)
    h = {"BTC": CoinHistory(candles=candles, funding=funding(300))}
    plain = compute_signals(h, after(300))
    assert compute_signals(h, after(300), cache) == plain
    assert compute_signals(h, after(300), cache) == plain
    revised = candles[:-1] + [candles[-1].model_copy(update={"close": candles[-1].close * 2})]
    again = compute_signals({"BTC": CoinHistory(candles=revised)}, after(300), cache)
    assert again["BTC"]["ret_1h"] == pytest.approx(compute_signals(
        {"BTC": CoinHistory(candles=revised)}, after(300))["BTC"]["ret_1h"])


def test_unsorted_or_duplicated_input_gives_the_same_signals():
    import random

    candles, fund = walk(300, seed=4), funding(300)
    now = after(250)
    base = compute_signals({"BTC": CoinHistory(candles=candles, funding=fund)}, now)
    shuffled_c, shuffled_f = candles[:], fund[:]
    random.Random(1).shuffle(shuffled_c)
    random.Random(2).shuffle(shuffled_f)
    assert compute_signals({"BTC": CoinHistory(candles=shuffled_c, funding=shuffled_f)}, now) == base
    assert compute_signals({"BTC": CoinHistory(candles=candles + candles[:50], funding=fund)}, now) == base


def test_long_history_uses_only_the_windows_it_needs():
    candles = walk(3000, seed=8)
    now = after(3000)
    assert compute_signals({"BTC": CoinHistory(candles=candles)}, now) == compute_signals(
        {"BTC": CoinHistory(candles=candles[-(24 * 30 + 2):])}, now)


def test_future_book_and_snapshot_are_ignored():
    now = after(10)
    book = L2Book(coin="BTC", time_ms=now + 1, bids=(BookLevel(price=d(99), size=d(1)),),
                  asks=(BookLevel(price=d(101), size=d(1)),))
    snap = MarketSnapshot(time_ms=now + 1, mids={"BTC": d(5)})
    row = compute_signals(MarketHistory(coins={"BTC": CoinHistory(candles=flat(10), book=book)}, snapshot=snap),
                          now)["BTC"]
    assert row["spread_bps"] is None and row["price"] == 100.0


# ---------------------------------------------------------------- no look-ahead, as a property


def _same(a: dict, b: dict) -> bool:
    for coin in a:
        for k, v in a[coin].items():
            w = b[coin][k]
            if (v is None) != (w is None):
                return False
            if v is not None and not (v == w or (math.isnan(v) and math.isnan(w))):
                return False
    return set(a) == set(b)


def _history(seed: int, n: int) -> dict[str, CoinHistory]:
    out = {}
    for i, coin in enumerate(("BTC", "ETH")):
        candles = walk(n, seed=seed + i)
        fund = [FundingPoint(time_ms=T0 + k * HOUR, rate=d(round(0.00001 * math.sin(seed + k), 8))) for k in range(n)]
        oi = [(T0 + k * HOUR, d(1000 + 7 * ((seed + k) % 13))) for k in range(n)]
        book = L2Book(coin=coin, time_ms=T0 + (n // 2) * HOUR, bids=(BookLevel(price=d(99), size=d(3)),),
                      asks=(BookLevel(price=d(101), size=d(2)),))
        out[coin] = CoinHistory(candles=candles, funding=fund, open_interest=oi, book=book)
    return out


def _perturb(h: CoinHistory, cut_ms: int, factor: Decimal) -> CoinHistory:
    candles = [c if c.t_ms + HOUR <= cut_ms else c.model_copy(update={
        "high": c.high * factor, "low": c.low * factor / 2, "close": c.close * factor}) for c in h.candles]
    fund = [p if p.time_ms <= cut_ms else p.model_copy(update={"rate": p.rate * -5}) for p in h.funding]
    oi = [s if s[0] <= cut_ms else (s[0], s[1] * factor) for s in h.open_interest]
    return CoinHistory(candles=candles, funding=fund, open_interest=oi, book=h.book)


def _truncate(h: CoinHistory, cut_ms: int) -> CoinHistory:
    return CoinHistory(
        candles=[c for c in h.candles if c.t_ms + HOUR <= cut_ms],
        funding=[p for p in h.funding if p.time_ms <= cut_ms],
        open_interest=[s for s in h.open_interest if s[0] <= cut_ms],
        book=h.book if h.book.time_ms <= cut_ms else None,
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(40, 220),
    cut_frac=st.floats(0.1, 0.95),
    offset_min=st.integers(0, 59),
    factor=st.sampled_from([Decimal("0.5"), Decimal("1.7"), Decimal("3")]),
)
def test_no_look_ahead_cutting_or_perturbing_later_data_changes_nothing(seed, n, cut_frac, offset_min, factor):
    hist = _history(seed, n)
    now = T0 + int(n * cut_frac) * HOUR + offset_min * 60_000
    base = compute_signals(hist, now)
    cut = compute_signals({c: _truncate(h, now) for c, h in hist.items()}, now)
    moved = compute_signals({c: _perturb(h, now, factor) for c, h in hist.items()}, now)
    assert _same(base, cut)
    assert _same(base, moved)


# ---------------------------------------------------------------- real data (skipped without ../shared)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid"


def _csv_candles(coin: str) -> list[Candle]:
    with (SHARED / f"{coin}_1h_candles.csv").open() as fh:
        return [Candle(t_ms=int(r["t_ms"]), open=Decimal(r["open"]), high=Decimal(r["high"]), low=Decimal(r["low"]),
                       close=Decimal(r["close"]), volume=Decimal(r["volume"])) for r in csv.DictReader(fh)]


def _csv_funding(coin: str) -> list[FundingPoint]:
    with (SHARED / f"{coin}_funding.csv").open() as fh:
        return [FundingPoint(time_ms=int(r["time_ms"]), rate=Decimal(r["fundingRate"])) for r in csv.DictReader(fh)]


@pytest.mark.skipif(not (SHARED / "BTC_1h_candles.csv").is_file(), reason="../shared/data/hyperliquid not present")
def test_real_btc_eth_history_gives_sane_signals_and_several_regimes():
    from hyperliquid_agent.config import RegimeConfig
    from hyperliquid_agent.governance.regime import classify_rules

    btc, eth, fund = _csv_candles("BTC"), _csv_candles("ETH"), _csv_funding("BTC")
    regimes = set()
    cache = SignalCache()
    for i in range(800, len(btc), 24 * 14):  # every two weeks
        now = btc[i].t_ms
        table = compute_signals({"BTC": CoinHistory(candles=btc[i - 760:i + 1],
                                                    funding=[f for f in fund if now - 2 * 86_400_000 < f.time_ms]),
                                 "ETH": CoinHistory(candles=eth[i - 760:i + 1])}, now, cache)
        row = table["BTC"]
        assert 0 <= row["rsi14"] <= 100 and 0 <= row["adx14"] <= 100
        assert 0.05 < row["rv_ann"] < 3.0  # BTC's annualized volatility, as a fraction
        assert abs(row["funding_24h_avg"]) < 0.01
        assert table[CROSS_KEY]["btc_eth_corr"] > 0.3  # BTC and ETH move together
        regimes.add(classify_rules(table, RegimeConfig())[0])
    assert len(regimes) >= 3, regimes


# ---------------------------------------------------------------- incremental == from scratch, as a property


def _feed(candles: list[Candle], now: int, keep: int, revise: bool) -> list[Candle]:
    """What a collector would pass at `now`: the last `keep` bars opened before now (the
    still-open one included), optionally with the newest closed bar re-fetched as a new object."""
    out = [c for c in candles if c.t_ms < now][-keep:]
    if revise and len(out) > 1:
        out[-2] = out[-2].model_copy()
    return out


_WALKS = (walk(700, seed=11), walk(700, seed=12), walk(700, seed=13))


@settings(max_examples=12, deadline=None)
@given(
    pair=st.sampled_from([(0, 1), (1, 2), (2, 0)]),
    n=st.integers(60, 560),
    gaps=st.lists(st.integers(1, 558), max_size=3),
    btc_gaps=st.lists(st.integers(1, 558), max_size=2),
    steps=st.lists(st.tuples(st.integers(-30, 150), st.booleans(), st.integers(0, 59)), min_size=2, max_size=8),
    keep=st.sampled_from([40, 400, 800]),
)
def test_incremental_signals_equal_a_from_scratch_computation(pair, n, gaps, btc_gaps, steps, keep):
    btc = [c for i, c in enumerate(_WALKS[pair[0]][:n]) if i not in btc_gaps]  # missing bars
    eth = [c for i, c in enumerate(_WALKS[pair[1]][:n]) if i not in gaps]
    cache = SignalCache()
    bar = n // 3
    for jump, revise, minute in steps:
        bar = min(max(bar + jump, 1), n + 1)  # mostly forward, sometimes back in time
        now = T0 + bar * HOUR + minute * 60_000
        hist = {"BTC": CoinHistory(candles=_feed(btc, now, keep, revise)),
                "ETH": CoinHistory(candles=_feed(eth, now, keep, False))}
        assert _same(compute_signals(hist, now, cache), compute_signals(hist, now))


_RATES = [FundingPoint(time_ms=T0 + i * HOUR, rate=d(round(0.00001 * math.sin(i / 7) + 0.000003 * (i % 5), 9)))
          for i in range(400)]


@settings(max_examples=20, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 399), max_size=4),
    steps=st.lists(st.tuples(st.integers(-30, 60), st.sampled_from(["", "copy", "rebuild", "revise", "future"]),
                             st.integers(0, 59)), min_size=2, max_size=8),
    keep=st.sampled_from([5, 48, 200]),
)
def test_incremental_funding_equals_a_from_scratch_computation(gaps, steps, keep):
    """The funding points a collector passes (the last `keep` hours, sometimes a re-fetched
    copy, all points rebuilt, a revised rate or points from the future) give what a fresh
    cache gives."""
    points = [p for i, p in enumerate(_RATES) if i not in gaps]
    cache = SignalCache()
    hour = 100
    for jump, change, minute in steps:
        hour = min(max(hour + jump, 1), 399)
        now = T0 + hour * HOUR + minute * 60_000
        fed = [p for p in points if now - keep * HOUR <= p.time_ms <= now]
        if fed and change == "copy":
            fed[-1] = fed[-1].model_copy()
        elif change == "rebuild":  # every point a new object with the same values
            fed = [p.model_copy() for p in fed]
        elif fed and change == "revise":
            fed[-1] = fed[-1].model_copy(update={"rate": fed[-1].rate * 3 + d(0.00001)})
        elif change == "future":
            fed += [p for p in points if p.time_ms > now][:3]
        hist = {"BTC": CoinHistory(funding=fed)}
        assert _same(compute_signals(hist, now, cache), compute_signals(hist, now))


def test_cache_replaces_a_revised_bar_deep_in_the_window():
    candles = walk(500, seed=6)
    cache = SignalCache()
    compute_signals({"BTC": CoinHistory(candles=candles)}, after(500), cache)
    k = 450  # inside the recursive indicators' window
    revised = candles[:k] + [candles[k].model_copy(update={"high": candles[k].high * 2})] + candles[k + 1:]
    h = {"BTC": CoinHistory(candles=revised)}
    assert _same(compute_signals(h, after(500), cache), compute_signals(h, after(500)))
    assert compute_signals(h, after(500))["BTC"]["adx14"] != compute_signals(
        {"BTC": CoinHistory(candles=candles)}, after(500))["BTC"]["adx14"]


def _reference_corr(btc: list[Candle], eth: list[Candle], now: int) -> float | None:
    """BTC-ETH correlation spelled out: hourly log returns at the times both coins have a bar and the bar before."""
    from hyperliquid_agent.signals import correlation

    b = {c.t_ms: float(c.close) for c in btc if c.t_ms + HOUR <= now}
    e = {c.t_ms: float(c.close) for c in eth if c.t_ms + HOUR <= now}
    start = max(max(b), max(e)) - 30 * 24 * HOUR
    times = [t for t in sorted(b) if t > start and t - HOUR in b and t in e and t - HOUR in e]
    return correlation([math.log(b[t] / b[t - HOUR]) for t in times], [math.log(e[t] / e[t - HOUR]) for t in times])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(30, 700), btc_gaps=st.lists(st.integers(0, 699), max_size=3),
       eth_gaps=st.lists(st.integers(0, 699), max_size=3))
def test_btc_eth_correlation_aligns_returns_on_time_across_missing_bars(n, btc_gaps, eth_gaps):
    btc = [c for i, c in enumerate(_WALKS[0][:n]) if i not in btc_gaps]
    eth = [c for i, c in enumerate(_WALKS[1][:n]) if i not in eth_gaps]
    now = after(n)
    got = compute_signals({"BTC": CoinHistory(candles=btc), "ETH": CoinHistory(candles=eth)}, now)[CROSS_KEY]
    assert got["btc_eth_corr"] == _reference_corr(btc, eth, now)


def test_a_month_long_window_sliding_hour_by_hour_keeps_exact_return_sums():
    """Past 30 days of bars the volatility and correlation windows slide: their sums are
    carried from cycle to cycle (running totals, the BTC x ETH products added and taken off)
    and must equal a fresh computation's, bar after bar, also across a revised bar."""
    btc, eth = walk(800, seed=21), walk(800, seed=22)
    cache = SignalCache()
    for bar in range(740, 790):
        now = after(bar)
        fed_btc = [c for c in btc if c.t_ms < now][-722:]
        if bar == 760:  # a revised bar inside the window: the carried sums start again
            fed_btc[-300] = fed_btc[-300].model_copy(update={"close": fed_btc[-300].close * 2})
            btc = [c for c in btc if c.t_ms not in {fed_btc[-300].t_ms}] + [fed_btc[-300]]
            btc.sort(key=lambda c: c.t_ms)
        hist = {"BTC": CoinHistory(candles=fed_btc), "ETH": CoinHistory(candles=[c for c in eth if c.t_ms < now][-722:])}
        cached, fresh = compute_signals(hist, now, cache), compute_signals(hist, now)
        assert _same(cached, fresh)
        assert cached[CROSS_KEY]["btc_eth_corr"] == fresh[CROSS_KEY]["btc_eth_corr"] is not None
        assert cached["BTC"]["rv_ann"] == fresh["BTC"]["rv_ann"] is not None
