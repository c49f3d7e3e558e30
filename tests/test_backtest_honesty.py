"""Adversarial checks that a backtest trades only on what it could have known, and pays what
trading would have cost: every field of the data after a cut-off is perturbed (prices,
volume, oracle, open interest, funding rates and premiums) and nothing at or before the cut
may move, through the whole engine, on synthetic and (when present) real data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec, day_ms
from hyperliquid_agent.config import load_config
from hyperliquid_agent.exchange.feed import HOUR_MS, CoinSeries, MarketFeed, load_feed
from hyperliquid_agent.exchange.synthetic import synthetic_feed

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data" / "hyperliquid").resolve()


def cfg():
    c = load_config(REPO / "config.toml", env={})
    c.backtest.vs_baseline = False
    return c


def perturbed(feed: MarketFeed, cut: int) -> MarketFeed:
    """The same feed with every field of every bar that opens at or after `cut` changed (open,
    high, low, close, volume, oracle, open interest; with or without a recorded oracle/OI), and
    every funding record that settles after `cut` changed (rate and premium). A funding record
    settles at the close of the bar whose hour it falls in: the one stamped a few ms after `cut`
    is the payment AT `cut` (Hyperliquid's hourly settlement), so it is not "after"."""
    out = {}
    for coin, s in feed.series.items():
        late = [t >= cut for t in s.t]

        def px(col, k):
            return [x * D(k) if x_late else x for x, x_late in zip(col, late)]

        later_funding = [t - t % HOUR_MS > cut for t in s.funding_t]
        rates = [-3 * r - D("0.0001") if f else r for r, f in zip(s.funding_rate, later_funding)]
        prem = [D("0.002") if f else p for p, f in zip(s.funding_premium or [None] * len(rates), later_funding)]
        oracle = px(s.oracle, "0.9") if s.oracle is not None else px(s.close, "0.9")
        oi = px(s.open_interest, "2") if s.open_interest is not None else [D(1000) * (2 if x else 1) for x in late]
        out[coin] = CoinSeries(
            coin, s.spec, s.interval_ms, s.t,
            px(s.open, "1.25"), px(s.high, "1.3"), px(s.low, "1.2"), px(s.close, "1.25"), px(s.volume, "7"),
            s.funding_t, rates, prem, oracle, oi,
        )
    return MarketFeed(out)


def unperturbed_with_oi(feed: MarketFeed) -> MarketFeed:
    """The feed as `perturbed` builds it before the cut: an oracle and open interest recorded for
    every bar (the real CSVs have none), so the comparison changes only what lies after the cut."""
    return perturbed(feed, cut=10 ** 15)


def assert_nothing_moves_up_to(a, b, cut: int) -> None:
    before_a = [d for d in a.decisions if d.t_ms <= cut]
    assert before_a and all(d.inputs_digest for d in before_a)
    assert before_a == [d for d in b.decisions if d.t_ms <= cut]
    assert [t for t in a.trades if t.t_ms <= cut] == [t for t in b.trades if t.t_ms <= cut]
    assert [f for f in a.funding if f.t_ms <= cut] == [f for f in b.funding if f.t_ms <= cut]
    n = sum(1 for t in a.curve.t_ms if t <= cut)
    assert a.curve.t_ms[:n] == b.curve.t_ms[:n]
    assert a.curve.equity[:n] == b.curve.equity[:n]
    assert a.curve.regime[:n] == b.curve.regime[:n] and a.curve.plan_id[:n] == b.curve.plan_id[:n]
    for coin in a.curve.positions:
        assert a.curve.positions[coin][:n] == b.curve.positions[coin][:n]
        assert a.curve.closes[coin][:n] == b.curve.closes[coin][:n]
    assert a.curve.benchmark[:n] == b.curve.benchmark[:n]
    # the perturbation is real: the first decision after the cut sees it
    after_a = next(d for d in a.decisions if d.t_ms > cut)
    after_b = next(d for d in b.decisions if d.t_ms > cut)
    assert after_a.inputs_digest != after_b.inputs_digest


@pytest.fixture(scope="module")
def syn_feed():
    return unperturbed_with_oi(synthetic_feed(seed=11, days=45, coins=["BTC", "ETH"],
                                              start_ms=day_ms(date(2024, 1, 1))))


@pytest.mark.parametrize("mode,interval,cut_hour", [("governed", "1h", 13), ("standard", "1h", 13),
                                                     ("governed", "4h", 10)])
def test_every_field_after_the_cut_changes_nothing_before_it(syn_feed, mode, interval, cut_hour):
    """4h decisions with a cut inside a 4h bucket: the aggregated candle of that bucket must
    not be seen before the bucket has closed."""
    cut = day_ms(date(2024, 2, 7)) + cut_hour * HOUR_MS
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2024, 2, 5), end=date(2024, 2, 9), mode=mode,
                        interval=interval, provider="baseline", run_id="la")
    a = run_backtest(cfg(), spec, feed=syn_feed)
    b = run_backtest(cfg(), spec, feed=perturbed(syn_feed, cut))
    assert a.trades, "the baseline should trade in four days"
    assert_nothing_moves_up_to(a, b, cut)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/hyperliquid is not present")
def test_every_field_after_the_cut_changes_nothing_before_it_on_real_data():
    feed = load_feed(SHARED_DATA, ["BTC", "ETH", "SOL"])
    cut = day_ms(date(2024, 11, 3)) + 13 * HOUR_MS
    spec = BacktestSpec(coins=("BTC", "ETH", "SOL"), start=date(2024, 11, 1), end=date(2024, 11, 5),
                        mode="governed", provider="baseline", run_id="la-real")
    a = run_backtest(cfg(), spec, feed=unperturbed_with_oi(feed))
    b = run_backtest(cfg(), spec, feed=perturbed(feed, cut))
    assert_nothing_moves_up_to(a, b, cut)

