"""Funding files that do not hold one record an hour: Hyperliquid's older 8-hourly records (each
paid once, as its period's funding) and hourly files with holes. Both change what a run pays
and what its signals see, and before, neither was said."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from backtest_helpers import T0, flat_feed

from hyperliquid_agent.backtest.runner import StepInfo, plan_run, run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.config import config_from_dict
from hyperliquid_agent.domain import FundingPoint, OrderIntent, Side, Tif
from hyperliquid_agent.exchange.feed import HOUR_MS, MarketFeed, series_from_rows

SPEC = BacktestSpec(coins=("BTC", "ETH"), start=date(2025, 1, 3), end=date(2025, 1, 8), provider="scripted",
                    run_id="funding")


def cfg():
    return config_from_dict({"backtest": {"vs_baseline": False}}, env={})


def with_btc_funding(feed: MarketFeed, keep) -> MarketFeed:
    """`feed` with only the BTC funding records whose settlement hour `keep(hour)` accepts."""
    s = feed.series["BTC"]
    candles = [s.candle(i) for i in range(len(s))]
    funding = [FundingPoint(time_ms=t + 27, rate=r) for t, r in zip(s.funding_t, s.funding_rate) if keep(t)]
    return MarketFeed({**feed.series, "BTC": series_from_rows("BTC", s.spec, "1h", candles, funding)})


def _btc_warnings(feed: MarketFeed) -> list[str]:
    return [w for w in plan_run(cfg(), SPEC, feed).warnings if w.startswith("BTC")]


def test_hourly_records_warn_of_nothing():
    assert _btc_warnings(with_btc_funding(flat_feed(), lambda t: True)) == []


def test_eight_hourly_records_are_named_with_what_they_do_to_the_signals():
    feed = with_btc_funding(flat_feed(funding_rate="0.0008"), lambda t: t // HOUR_MS % 8 == 0)
    [warning] = _btc_warnings(feed)
    assert warning.startswith("BTC: its funding records come every 8 hours over the window")
    assert "pays each record's rate once" in warning and "about 8 times" in warning
    assert not [w for w in plan_run(cfg(), SPEC, feed).warnings if w.startswith("ETH")]


def test_hours_without_a_record_are_counted_from_the_first():
    gap = T0 + (3 * 24 + 5) * HOUR_MS  # 2025-01-04 05:00 and 06:00 have no record
    feed = with_btc_funding(flat_feed(), lambda t: t not in (gap, gap + HOUR_MS))
    assert _btc_warnings(feed) == [
        "BTC: 2 hour(s) of the window have no funding record (the first at 2025-01-04 05:00): no funding is paid or "
        "received on BTC for those hours; `hl-agent data download` fetches what is missing"]


class HoldLong:
    """Buys 0.1 BTC at the first decision, then holds."""

    def __init__(self, exchange) -> None:
        self.ex, self.done = exchange, False

    def __call__(self, now_ms: int) -> StepInfo:
        from backtest_helpers import approve

        if not self.done:
            self.ex.place_orders([approve(OrderIntent(coin="BTC", side=Side.BUY, size=D("0.1"), limit_price=D("51000"),
                                                      tif=Tif.IOC))])
            self.done = True
        return StepInfo(plan_id="long", strategy_id="long")


def test_an_eight_hourly_record_is_paid_once_at_its_hour_on_the_whole_rate():
    """As the warning says: 0.1 BTC long at $50,000 pays 0.08 % of $5,000 = $4 at each 8-hour record, nothing between."""
    feed = with_btc_funding(flat_feed(funding_rate="0.0008"), lambda t: t // HOUR_MS % 8 == 0)
    r = run_backtest(cfg(), SPEC, feed=feed, step_factory=lambda c, e, s: HoldLong(e))
    btc = [f for f in r.funding if f.coin == "BTC"]
    assert btc and all(f.t_ms // HOUR_MS % 8 == 0 and f.amount == D("-4") for f in btc)
    assert len(btc) == len([t for t in range(r.trades[0].t_ms + HOUR_MS, r.curve.t_ms[-1] + 1, HOUR_MS)
                            if t // HOUR_MS % 8 == 0])
