"""The backtest drives the agent's real cycle pipeline (signals, regime, governor, decision,
portfolio, risk, executor) against the in-process venue: both modes, no look-ahead through
the whole engine, determinism, and a real-data check when ../shared is present."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from hyperliquid_agent.backtest import results
from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec, day_ms
from hyperliquid_agent.config import load_config
from hyperliquid_agent.exchange.feed import CoinSeries, MarketFeed
from hyperliquid_agent.exchange.synthetic import synthetic_feed
from hyperliquid_agent.strategies import load_strategies

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data" / "hyperliquid"
START, END = date(2024, 2, 5), date(2024, 2, 10)


def cfg():
    c = load_config(REPO / "config.toml", env={})
    c.backtest.vs_baseline = False
    return c


def spec(mode: str, **kw) -> BacktestSpec:
    return BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, mode=mode, provider="baseline", run_id="p", **kw)


@pytest.fixture(scope="module")
def feed():
    return synthetic_feed(seed=11, days=45, coins=["BTC", "ETH"], start_ms=day_ms(date(2024, 1, 1)))


def shocked(feed: MarketFeed, from_ms: int, factor: str = "1.3") -> MarketFeed:
    """The same feed with every bar opening at or after `from_ms` scaled (prices, oracle, funding)."""
    f = D(factor)
    out = {}
    for coin, s in feed.series.items():
        scale = [f if t >= from_ms else D(1) for t in s.t]
        out[coin] = CoinSeries(
            coin, s.spec, s.interval_ms, s.t,
            [x * k for x, k in zip(s.open, scale)], [x * k for x, k in zip(s.high, scale)],
            [x * k for x, k in zip(s.low, scale)], [x * k for x, k in zip(s.close, scale)], s.volume,
            s.funding_t, [r * (2 if t > from_ms else 1) for r, t in zip(s.funding_rate, s.funding_t)],
            s.funding_premium,
            [x * k for x, k in zip(s.oracle, scale)] if s.oracle is not None else None,
            [x * k for x, k in zip(s.open_interest, scale)] if s.open_interest is not None else None,
        )
    return MarketFeed(out)


@pytest.fixture(scope="module")
def governed(feed):
    """One governed run over the window, shared by the tests that only read it."""
    return run_backtest(cfg(), spec("governed"), feed=feed)


@pytest.mark.parametrize("mode", ["governed", "standard"])
def test_real_pipeline_runs_both_modes(feed, governed, mode):
    r = governed if mode == "governed" else run_backtest(cfg(), spec(mode), feed=feed)
    assert len(r.curve.t_ms) == 5 * 24
    assert len(r.decisions) == 5 * 24 - 1
    assert not [d for d in r.decisions if d.error], [d.error for d in r.decisions if d.error][:3]
    assert D(r.metrics["llm_cost_usd"]) == 0 and r.llm_calls >= 0
    ids = {s.id for s in load_strategies(REPO / "strategies")}
    assert {s for s in r.curve.strategy_id if s} <= ids
    if mode == "governed":
        assert r.plan_changes, "the baseline should activate a plan from the library"
        assert r.plan_changes[0].strategy_id in ids
        assert {d.regime for d in r.decisions} - {None}
    assert r.trades, "the baseline should trade something in five days"
    assert all(t.plan_id is not None for t in r.trades)


def test_whole_engine_has_no_look_ahead(feed, governed):
    cut = day_ms(date(2024, 2, 8))
    a = governed
    b = run_backtest(cfg(), spec("governed"), feed=shocked(feed, cut))
    before = [d for d in a.decisions if d.t_ms <= cut]
    assert before and all(d.inputs_digest for d in before)
    # every decision up to and including the cut saw the same signals and account, and chose the same
    assert before == [d for d in b.decisions if d.t_ms <= cut]
    # the first decision after the cut sees the shocked bar, so the digest can tell
    after_a = next(d for d in a.decisions if d.t_ms > cut)
    after_b = next(d for d in b.decisions if d.t_ms > cut)
    assert after_a.inputs_digest != after_b.inputs_digest
    assert [t for t in a.trades if t.t_ms <= cut] == [t for t in b.trades if t.t_ms <= cut]
    assert [f for f in a.funding if f.t_ms <= cut] == [f for f in b.funding if f.t_ms <= cut]
    n = sum(1 for t in a.curve.t_ms if t <= cut)
    assert a.curve.equity[:n] == b.curve.equity[:n]
    assert a.curve.closes["BTC"][n + 1:] != b.curve.closes["BTC"][n + 1:]  # the shock is real


def test_same_inputs_identical_results_through_the_engine(feed, governed):
    again = run_backtest(cfg(), spec("governed"), feed=feed)
    assert results.dumps(again) == results.dumps(governed)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/hyperliquid is not present")
def test_real_data_window():
    s = BacktestSpec(coins=("BTC", "ETH", "SOL"), start=date(2024, 11, 1), end=date(2024, 11, 3), mode="governed",
                     provider="baseline", data_dir=SHARED_DATA.resolve(), run_id="real")
    r = run_backtest(cfg(), s)
    assert len(r.curve.t_ms) == 2 * 24
    # the real closes are what the venue marked at
    import csv

    with open(SHARED_DATA / "BTC_1h_candles.csv") as fh:
        closes = {int(row["t_ms"]) + 3_600_000: D(row["close"]) for row in csv.DictReader(fh)}
    assert all(closes[t] == px for t, px in zip(r.curve.t_ms, r.curve.closes["BTC"]))
    assert not [d for d in r.decisions if d.error]
    # funding accrues on every open position each hour
    if any(p != 0 for p in r.curve.positions["BTC"]):
        assert any(f.coin == "BTC" for f in r.funding)
    assert r.metrics["buy_and_hold_return"] is not None


def test_a_run_can_be_offered_only_some_strategies(feed, governed):
    # with the whole library this window's baseline picks basis-mean-reversion; without it, something else
    chosen = ("slow-trend-following", "volatility-compression-breakout")
    full = governed
    assert {c.strategy_id for c in full.plan_changes} - set(chosen)
    r = run_backtest(cfg(), spec("governed", strategies=chosen), feed=feed)
    assert r.params.strategies == list(chosen)
    assert {s for s in r.curve.strategy_id if s} <= set(chosen)
    assert {c.strategy_id for c in r.plan_changes} <= set(chosen) and r.plan_changes
    from hyperliquid_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown strategy id.*no-such-strategy.*known: basis-mean-reversion"):
        run_backtest(cfg(), spec("governed", strategies=("no-such-strategy",)), feed=feed)


def test_decision_rows_built_trusted_are_what_validation_gives(governed):
    # the runner builds each row from its StepInfo without validating it: the same row, field for field
    assert governed.decisions
    for row in governed.decisions:
        validated = results.DecisionRow.model_validate(dict(row))
        assert validated == row and validated.model_dump_json() == row.model_dump_json()
