"""The look-ahead check of `test_backtest_honesty` (every field after a cut-off perturbed,
nothing up to it may move) over the decision bars and latencies it did not cover: daily
decisions, and latencies of 0 and 3 hourly bars (3 is longer than an hourly decision bar, so
the engine skips the bars before its fills)."""

from __future__ import annotations

from datetime import date

import pytest
from test_backtest_honesty import assert_nothing_moves_up_to, cfg, perturbed, unperturbed_with_oi

from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec, day_ms
from hyperliquid_agent.exchange.feed import HOUR_MS
from hyperliquid_agent.exchange.synthetic import synthetic_feed


@pytest.fixture(scope="module")
def feed():
    return unperturbed_with_oi(synthetic_feed(seed=11, days=60, coins=["BTC", "ETH"],
                                              start_ms=day_ms(date(2024, 1, 1))))


@pytest.mark.parametrize("mode,interval,latency,start,end,cut", [
    ("governed", "1d", 0, date(2024, 2, 3), date(2024, 2, 28), (date(2024, 2, 14), 0)),    # at a decision
    ("standard", "1d", 3, date(2024, 2, 3), date(2024, 2, 28), (date(2024, 2, 14), 13)),   # inside a day
    ("standard", "4h", 3, date(2024, 2, 5), date(2024, 2, 12), (date(2024, 2, 7), 10)),    # inside a 4h bucket
    ("standard", "1h", 0, date(2024, 2, 5), date(2024, 2, 9), (date(2024, 2, 7), 13)),
    ("standard", "1h", 3, date(2024, 2, 5), date(2024, 2, 9), (date(2024, 2, 7), 13)),
])
def test_nothing_up_to_the_cut_moves_at_any_decision_bar_and_latency(feed, mode, interval, latency, start, end, cut):
    cut_ms = day_ms(cut[0]) + cut[1] * HOUR_MS
    spec = BacktestSpec(coins=("BTC", "ETH"), start=start, end=end, mode=mode, interval=interval,
                        provider="baseline", fill_latency_bars=latency, run_id="la")
    a = run_backtest(cfg(), spec, feed=feed)
    b = run_backtest(cfg(), spec, feed=perturbed(feed, cut_ms))
    assert a.trades, "the baseline should trade in the window"
    assert_nothing_moves_up_to(a, b, cut_ms)
    assert [o for o in a.refused if o.t_ms <= cut_ms] == [o for o in b.refused if o.t_ms <= cut_ms]
