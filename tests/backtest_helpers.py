"""Shared fixtures for the backtest tests: a small deterministic feed and a rule-based cycle
step that sees the venue only through the exchange port (like the real pipeline)."""

from __future__ import annotations

import math
from decimal import Decimal as D
from pathlib import Path

from hyperliquid_agent.backtest.runner import StepInfo
from hyperliquid_agent.domain import AssetSpec, Candle, FundingPoint, OrderIntent, Side, Tif, round_price, round_size
from hyperliquid_agent.domain.verdicts import Approved, ApprovedOrder, _ISSUER_KEY
from hyperliquid_agent.exchange.feed import MarketFeed, series_from_rows

H = 3_600_000
T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
SPECS = {"BTC": (5, 40, 60000.0), "ETH": (4, 25, 3000.0)}


def make_feed(days: int = 40, funding_rate: str = "0.0000125", shock_from_ms: int | None = None,
              shock: float = 1.5, start_ms: int = T0) -> MarketFeed:
    """Hourly bars: a slow sine wave plus a deterministic wiggle; constant hourly funding.
    Bars that open at or after `shock_from_ms` are multiplied by `shock` (to test look-ahead)."""
    series = {}
    for idx, (coin, (sz, lev, base)) in enumerate(SPECS.items()):
        candles, funding = [], []
        prev = base
        for i in range(days * 24):
            t = start_ms + i * H
            close = base * (1 + 0.08 * math.sin(i / 90 + idx) + 0.01 * math.sin(i * 1.7))
            o, c = prev, close
            if shock_from_ms is not None and t >= shock_from_ms:
                o, c = o * shock, c * shock
            hi, lo = max(o, c) * 1.002, min(o, c) * 0.998
            candles.append(Candle(t_ms=t, open=D(f"{o:.1f}"), high=D(f"{hi:.1f}"), low=D(f"{lo:.1f}"),
                                  close=D(f"{c:.1f}"), volume=D(100)))
            funding.append(FundingPoint(time_ms=t + H, rate=D(funding_rate)))
            prev = close
        spec = AssetSpec(name=coin, asset_id=idx, sz_decimals=sz, max_leverage=lev)
        series[coin] = series_from_rows(coin, spec, "1h", candles, funding)
    return MarketFeed(series)


def approve(intent: OrderIntent) -> ApprovedOrder:
    """Test-only: stand in for the risk policy's approval."""
    return ApprovedOrder._issue(intent, Approved(checks=("test",)), _ISSUER_KEY)


class SmaStep:
    """Long BTC when the last close is above its 24-bar average, short below; every decision
    and the data it saw are kept in `seen` for the look-ahead tests."""

    def __init__(self, exchange, size: str = "0.05", cost_per_cycle: str = "0", split: bool = False) -> None:
        self.ex = exchange
        self.split = split  # send each order in two submissions, as an executor with several legs does
        self.size = D(size)
        self.cost = D(cost_per_cycle)
        self.seen: list[tuple[int, int, D, D]] = []

    def __call__(self, now_ms: int) -> StepInfo:
        candles = self.ex.candles("BTC", "1h", now_ms - 30 * H, now_ms)
        closes = [c.close for c in candles]
        avg = sum(closes, D(0)) / len(closes)
        up = closes[-1] > avg
        target = self.size if up else -self.size
        current = self.ex.account_state().signed_size("BTC")
        self.seen.append((now_ms, candles[-1].t_ms, closes[-1], current))
        delta = target - current
        orders = 0
        if delta != 0:
            side = Side.BUY if delta > 0 else Side.SELL
            mid = self.ex.market_snapshot().mids["BTC"]
            limit = round_price(mid * (D("1.05") if side is Side.BUY else D("0.95")), 5)
            sizes = [round_size(abs(delta) / 2, 5)] * 2 if self.split else [round_size(abs(delta), 5)]
            for sz in sizes:
                intent = OrderIntent(coin="BTC", side=side, size=sz, limit_price=limit, tif=Tif.IOC, is_market=True)
                self.ex.place_orders([approve(intent)])
            orders = len(sizes)
        plan = "long" if up else "short"
        return StepInfo(regime="trending-bull" if up else "trending-bear", plan_id=plan, strategy_id=f"sma-{plan}",
                        action="targets", detail=f"BTC {target}", orders=orders, llm_cost_usd=self.cost,
                        llm_calls=1 if self.cost else 0)


class StepFactory:
    """Builds SmaStep for the runner and keeps the last one for inspection."""

    def __init__(self, **kw) -> None:
        self.kw = kw
        self.steps: list[SmaStep] = []

    def __call__(self, cfg, exchange, state_dir: Path) -> SmaStep:
        step = SmaStep(exchange, **self.kw)
        self.steps.append(step)
        return step


def flat_feed(price: str = "50000", funding_rate: str = "0.0001", days: int = 10, start_ms: int = T0) -> MarketFeed:
    """BTC and ETH at one constant price, constant hourly funding: every figure can be worked out by hand."""
    px = D(price)
    series = {}
    for idx, (coin, (sz, lev, _)) in enumerate(SPECS.items()):
        candles = [Candle(t_ms=start_ms + i * H, open=px, high=px, low=px, close=px, volume=D(100))
                   for i in range(days * 24)]
        funding = [FundingPoint(time_ms=start_ms + (i + 1) * H, rate=D(funding_rate)) for i in range(days * 24)]
        series[coin] = series_from_rows(coin, AssetSpec(name=coin, asset_id=idx, sz_decimals=sz, max_leverage=lev),
                                        "1h", candles, funding)
    return MarketFeed(series)


class OnceStep:
    """Sends the given (side, size, limit) BTC IOC orders at its first cycle, then holds;
    keeps each submission's venue answer in `answers`."""

    def __init__(self, exchange, orders: list[tuple[Side, str, str]]) -> None:
        self.ex, self.orders, self.answers = exchange, orders, []

    def __call__(self, now_ms: int) -> StepInfo:
        if self.orders:
            for side, size, limit in self.orders:
                intent = OrderIntent(coin="BTC", side=side, size=D(size), limit_price=D(limit), tif=Tif.IOC)
                self.answers.extend(self.ex.place_orders([approve(intent)]))
            self.orders = []
        return StepInfo(plan_id="once", strategy_id="once")


def keeping_pipelines(built: list):
    """A step factory for `run_backtest`: the engine's own backtest step (`build_cycle_step`),
    each cycle pipeline it builds appended to `built`, for the test to look into afterwards."""
    from hyperliquid_agent.backtest.pipeline import build_cycle_step

    def factory(c, exchange, state_dir):
        step = build_cycle_step(c, exchange)
        built.append(step.pipeline)
        return step

    return factory
