"""The synthetic generator: deterministic per seed, valid venue data, and regimes that
leave their marks on returns, volatility and funding."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from decimal import Decimal as D

import pytest

from hyperliquid_agent.domain import REGIME_NAMES, is_valid_price, is_valid_size
from hyperliquid_agent.exchange.feed import HOUR_MS
from hyperliquid_agent.exchange.synthetic import DEFAULT_START_MS, generate_market, regime_path, synthetic_feed


@pytest.fixture(scope="module")
def year():
    return generate_market(seed=11, days=365)


def test_same_seed_same_data_other_seed_other_data():
    a, b = synthetic_feed(seed=4, days=10), synthetic_feed(seed=4, days=10)
    c = synthetic_feed(seed=5, days=10)
    for coin in a.coins:
        assert a.series[coin].close == b.series[coin].close
        assert a.series[coin].funding_rate == b.series[coin].funding_rate
        assert a.series[coin].close != c.series[coin].close


def test_data_is_the_same_in_another_process_with_another_hash_seed():
    code = ("from hyperliquid_agent.exchange.synthetic import synthetic_feed; f = synthetic_feed(seed=4, days=3); "
            "print(f.series['SOL'].close[-1], f.series['BTC'].funding_rate[-1], f.series['ETH'].volume[7])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2")}
    f = synthetic_feed(seed=4, days=3)
    assert outs == {f"{f.series['SOL'].close[-1]} {f.series['BTC'].funding_rate[-1]} {f.series['ETH'].volume[7]}\n"}


def test_a_later_start_on_the_same_origin_gives_the_same_bars_from_there():
    whole = generate_market(seed=4, days=12)
    later = DEFAULT_START_MS + 5 * 24 * HOUR_MS + 7 * HOUR_MS
    part = generate_market(seed=4, days=3, start_ms=later, origin_ms=DEFAULT_START_MS)
    k = 5 * 24 + 7
    for coin in whole.feed.coins:
        w, p = whole.feed.series[coin], part.feed.series[coin]
        assert p.t[0] == later and len(p) == 72
        for field in ("t", "open", "high", "low", "close", "volume", "oracle", "open_interest", "funding_t",
                      "funding_rate"):
            assert list(getattr(p, field)) == list(getattr(w, field))[k:k + 72], field
    assert part.regimes == whole.regimes[k:k + 72]
    with pytest.raises(ValueError, match="at or before the start"):
        generate_market(seed=4, days=1, start_ms=DEFAULT_START_MS, origin_ms=DEFAULT_START_MS + HOUR_MS)


def test_backtest_windows_are_slices_of_one_history_so_other_dates_are_other_markets():
    """Two synthetic windows share their bars where their dates meet (warm-up included), and
    two windows of the same length at other dates are other markets, not the same one
    relabelled. A window whose warm-up starts before 2024-01-01 gets a history of its own."""
    from datetime import date

    from hyperliquid_agent.backtest.spec import BacktestSpec
    from hyperliquid_agent.backtest.venue import build_feed
    from hyperliquid_agent.config import Config

    def feed(start, end):
        return build_feed(Config(), BacktestSpec(coins=("BTC", "ETH"), start=start, end=end, mode="governed",
                                                 provider="baseline", run_id="t")).series["ETH"]

    quarter, week = feed(date(2024, 3, 1), date(2024, 6, 1)), feed(date(2024, 4, 10), date(2024, 4, 17))
    k = quarter.t.index(week.t[0])
    assert week.close == quarter.close[k:k + len(week)] and week.funding_rate == quarter.funding_rate[k:k + len(week)]
    other_week = feed(date(2024, 8, 10), date(2024, 8, 17))
    assert len(other_week) == len(week) and other_week.close != week.close
    early = feed(date(2023, 6, 1), date(2023, 6, 8))
    assert early.t[0] < DEFAULT_START_MS and early.close == feed(date(2023, 6, 1), date(2023, 6, 8)).close


def test_a_coins_path_does_not_depend_on_which_other_coins_are_generated():
    both = synthetic_feed(seed=9, days=5, coins=["BTC", "ETH"])
    alone = synthetic_feed(seed=9, days=5, coins=["ETH"])
    assert both.series["ETH"].close == alone.series["ETH"].close
    assert alone.specs["ETH"].asset_id == 0 and both.specs["ETH"].asset_id == 1


def test_shape_specs_and_times(year):
    feed = year.feed
    assert feed.coins == ["BTC", "ETH", "SOL"]
    assert [(s.sz_decimals, s.max_leverage) for s in feed.specs.values()] == [(5, 40), (4, 25), (2, 20)]
    for s in feed.series.values():
        assert len(s) == 365 * 24 and s.t[0] == DEFAULT_START_MS
        assert all(b - a == HOUR_MS for a, b in zip(s.t, s.t[1:]))
        assert all(r is not None for r in s.bar_funding)  # hourly funding settles at every close
    assert len(year.regimes) == 365 * 24 and set(year.regimes) <= set(REGIME_NAMES)


def test_every_value_is_valid_for_the_venue(year):
    for s in year.feed.series.values():
        sz = s.spec.sz_decimals
        for i in range(len(s)):
            o, h, lo, c = s.open[i], s.high[i], s.low[i], s.close[i]
            assert lo <= min(o, c) and h >= max(o, c) and lo > 0
            assert all(is_valid_price(p, sz) for p in (o, h, lo, c, s.oracle[i]))
            assert is_valid_size(s.volume[i], sz) and s.volume[i] > 0 and s.open_interest[i] > 0
            assert abs(s.funding_rate[i]) <= D("0.04")
        assert s.open[1:] == s.close[:-1]  # each bar opens at the previous close


def test_prices_stay_at_realistic_levels(year):
    for coin, (lo, hi) in {"BTC": (6000, 600000), "ETH": (300, 30000), "SOL": (15, 1500)}.items():
        closes = year.feed.series[coin].close
        assert lo < min(closes) and max(closes) < hi


def test_a_year_visits_the_regimes_and_each_leaves_its_signature(year):
    regimes = year.regimes
    counts = {r: regimes.count(r) for r in REGIME_NAMES}
    assert sum(1 for n in counts.values() if n > 0) >= 5
    btc = year.feed.series["BTC"]
    rets = [math.log(btc.close[i] / btc.open[i]) for i in range(len(btc))]
    by = {r: [x for x, g in zip(rets, regimes) if g == r] for r in REGIME_NAMES if counts[r] > 100}
    assert set(by) >= {"trending-bull", "trending-bear", "range-bound", "carry-friendly", "high-volatility"}
    vol = {r: statistics.pstdev(x) for r, x in by.items()}
    assert vol["high-volatility"] > 2 * vol["range-bound"]
    assert statistics.mean(by["trending-bull"]) > 0 > statistics.mean(by["trending-bear"])
    fund = [float(r) for r in btc.funding_rate]
    mean_f = {r: statistics.mean(f for f, g in zip(fund, regimes) if g == r) for r in by}
    assert mean_f["carry-friendly"] > 2 * mean_f["range-bound"] > 0 > mean_f["trending-bear"]


def test_coins_move_together(year):
    s = year.feed.series
    r = {c: [math.log(s[c].close[i] / s[c].open[i]) for i in range(len(s[c]))] for c in ("BTC", "ETH")}
    assert statistics.correlation(r["BTC"], r["ETH"]) > 0.5


def test_regime_paths_switch_and_a_coin_without_a_profile_still_gets_data():
    path = regime_path(3, 24 * 90)
    switches = sum(1 for a, b in zip(path, path[1:]) if a is not b)
    assert 3 <= switches <= 60
    feed = synthetic_feed(seed=3, days=2, coins=["DOGE"])
    assert feed.specs["DOGE"].max_leverage == 10 and len(feed.series["DOGE"]) == 48
    with pytest.raises(ValueError):
        synthetic_feed(days=0)
