"""The replay loop over the real venue model: point in time, latency, fees, funding, determinism, spend cap."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from backtest_helpers import H, T0, StepFactory, approve, make_feed

from hyperliquid_agent.backtest import results
from hyperliquid_agent.backtest.runner import StepInfo, run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.config import Config, config_from_dict
from hyperliquid_agent.domain import OrderIntent, Side, Tif, round_price

START, END = date(2025, 1, 8), date(2025, 1, 20)


def cfg(**backtest) -> Config:
    return config_from_dict({"backtest": {"vs_baseline": False, **backtest}, "venue": {"slippage_bps": 2}}, env={})


def run(feed=None, latency=1, **spec_kw):
    factory = StepFactory(**spec_kw.pop("step", {}))
    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, provider="scripted", fill_latency_bars=latency,
                        run_id="t", **spec_kw)
    result = run_backtest(cfg(), spec, feed=feed or make_feed(), step_factory=factory)
    return result, factory.steps[-1]


def test_decisions_see_only_closed_bars_and_fills_come_one_bar_later():
    result, step = run()
    start_ms = T0 + 7 * 24 * H
    assert result.decisions[0].t_ms == start_ms
    for now, last_open, _, _ in step.seen:
        assert last_open + H <= now  # the newest candle it saw had closed by `now`
    # every trade is one bar after the decision that caused it
    decided = {d.t_ms for d in result.decisions if d.orders}
    assert result.trades and all(t.t_ms - H in decided for t in result.trades)
    # with one bar of latency the engine still decides every bar; the curve has every bar of the window
    # (but not on the last bar, whose fills would land after the window)
    assert len(result.curve.t_ms) == 12 * 24 and len(result.decisions) == 12 * 24 - 1
    assert result.curve.t_ms[-1] == T0 + 19 * 24 * H - H
    assert max(t.t_ms for t in result.trades) <= result.curve.t_ms[-1]


def test_several_submissions_of_one_cycle_fill_at_the_same_bar():
    result, _ = run(step={"split": True})
    decided = {d.t_ms for d in result.decisions if d.orders}
    assert len(result.trades) >= 2 * len(decided) - 2
    assert all(t.t_ms - H in decided for t in result.trades)
    assert len(result.decisions) == 12 * 24 - 1  # the second submission did not push the clock further


def test_latency_zero_fills_at_the_decision_bar_and_two_bars_halves_the_cadence():
    r0, _ = run(latency=0)
    decided = {d.t_ms for d in r0.decisions if d.orders}
    assert all(t.t_ms in decided for t in r0.trades)
    r2, _ = run(latency=2)
    gaps = {b.t_ms - a.t_ms for a, b in zip(r2.decisions, r2.decisions[1:])}
    assert min(gaps) >= H and 2 * H in gaps  # a cycle waits for its fills
    assert len(r2.curve.t_ms) == len(r0.curve.t_ms)  # the curve still has every bar


def test_look_ahead_perturbing_later_data_changes_nothing_before():
    cut = T0 + 14 * 24 * H  # 2025-01-15
    base, base_step = run(feed=make_feed())
    shocked, shocked_step = run(feed=make_feed(shock_from_ms=cut, shock=1.5))
    before = [d for d in base.decisions if d.t_ms <= cut]
    assert before == [d for d in shocked.decisions if d.t_ms <= cut]
    assert [s for s in base_step.seen if s[0] <= cut] == [s for s in shocked_step.seen if s[0] <= cut]
    assert [t for t in base.trades if t.t_ms <= cut] == [t for t in shocked.trades if t.t_ms <= cut]
    n = sum(1 for t in base.curve.t_ms if t <= cut)
    assert base.curve.equity[:n] == shocked.curve.equity[:n]
    # and the shock does show up afterwards, so the test can fail
    assert base.curve.equity[n + 2:] != shocked.curve.equity[n + 2:]


def test_same_inputs_identical_results():
    a, _ = run()
    b, _ = run()
    assert results.dumps(a) == results.dumps(b)


def test_fees_are_taker_rate_on_fill_notional():
    result, _ = run()
    taker = Config().venue.taker_fee
    assert result.trades
    for t in result.trades:
        assert t.fee == pytest.approx(t.price * t.size * taker, abs=D("0.000001"))
    assert D(result.metrics["fees_usd"]) == sum((t.fee for t in result.trades), D(0))


def test_funding_is_size_times_price_times_rate_and_adds_up():
    rate = D("0.0001")
    result, step = run(feed=make_feed(funding_rate=str(rate)))
    assert result.funding
    pos = dict(zip(result.curve.t_ms, result.curve.positions["BTC"]))
    px = dict(zip(result.curve.t_ms, result.curve.closes["BTC"]))
    checked = 0
    for f in result.funding:
        size = pos.get(f.t_ms - f.t_ms % H)
        # (the last point is taken after the last bar's fills, so it is left out)
        if f.coin == "BTC" and size is not None and f.t_ms < result.curve.t_ms[-1]:
            # longs pay, shorts receive when the rate is positive
            expected = -size * px[f.t_ms - f.t_ms % H] * rate
            assert abs(f.amount - expected) <= D("0.000001")  # the venue settles in micro-USDC
            checked += 1
    assert checked > 10
    paid = sum((-f.amount for f in result.funding if f.amount < 0), D(0))
    received = sum((f.amount for f in result.funding if f.amount > 0), D(0))
    assert D(result.metrics["funding_paid_usd"]) == paid
    assert D(result.metrics["funding_received_usd"]) == received


def test_equity_change_is_realized_plus_unrealized_minus_fees_plus_funding():
    result, _ = run()
    # hand-replay the BTC fills: signed position and average entry
    pos, entry = D(0), D(0)
    for t in result.trades:
        signed = t.size if t.side == "buy" else -t.size
        if pos == 0 or (pos > 0) == (signed > 0):
            entry = (entry * abs(pos) + t.price * t.size) / (abs(pos) + t.size)
        elif abs(signed) > abs(pos):
            entry = t.price  # flipped: the remainder opens at the fill price
        pos += signed
        if pos == 0:
            entry = D(0)
    assert pos == result.curve.positions["BTC"][-1]
    realized = sum((t.closed_pnl for t in result.trades), D(0))
    fees = sum((t.fee for t in result.trades), D(0))
    funding = sum((f.amount for f in result.funding), D(0))
    unrealized = pos * (result.curve.closes["BTC"][-1] - entry)
    start, end = D(result.metrics["start_equity"]), D(result.metrics["end_equity"])
    assert end - start == pytest.approx(realized - fees + funding + unrealized, abs=D("0.0001"))


def test_max_cost_stops_before_the_cycle_that_would_pass_it():
    result, step = run(max_cost_usd=D("1.00"), step={"cost_per_cycle": "0.30"})
    assert len(result.decisions) == 3  # 0.90 spent; a fourth 0.30 cycle would reach 1.20
    assert result.stopped_early and "--max-cost" in result.stopped_early
    assert D(result.metrics["llm_cost_usd"]) == D("0.90")
    assert len(step.seen) == 3


def test_per_plan_metrics_and_plan_changes_are_recorded():
    result, _ = run()
    plans = {g["key"] for g in result.metrics["per_plan"]}
    assert plans <= {"long", "short"} and plans
    assert result.plan_changes and result.plan_changes[0].t_ms == result.decisions[0].t_ms
    assert all(t.plan_id in ("long", "short") for t in result.trades)
    assert set(result.curve.regime) <= {"trending-bull", "trending-bear"}
    assert result.curve.benchmark[0] == Config().venue.start_equity_usd


def test_progress_reports_every_bar_up_to_the_total():
    calls = []
    factory = StepFactory()
    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, provider="scripted", run_id="t")
    run_backtest(cfg(), spec, feed=make_feed(), step_factory=factory, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (12 * 24, 12 * 24)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) == 12 * 24


class AllInLong:
    """Buys 2.5 BTC (about 16x the account) once, at 20x leverage, and holds."""

    def __init__(self, exchange) -> None:
        self.ex, self.done = exchange, False

    def __call__(self, now_ms: int) -> StepInfo:
        if not self.done:
            mid = self.ex.market_snapshot().mids["BTC"]
            self.ex.set_leverage("BTC", 20)
            self.ex.place_orders([approve(OrderIntent(coin="BTC", side=Side.BUY, size=D("2.5"),
                                                      limit_price=round_price(mid * D("1.05"), 5), tif=Tif.IOC))])
            self.done = True
        return StepInfo(plan_id="all-in", strategy_id="long")


def test_liquidation_comes_from_the_venue_model():
    cut = T0 + 10 * 24 * H
    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, provider="scripted", run_id="liq")
    r = run_backtest(cfg(), spec, feed=make_feed(shock_from_ms=cut, shock=0.8),
                     step_factory=lambda c, e, s: AllInLong(e))
    opened, closed = r.trades
    assert opened.side == "buy" and closed.side == "sell" and closed.size == opened.size == D("2.5")
    assert closed.t_ms == cut and closed.closed_pnl < -5000  # forced out on the gap, not by the strategy
    after = [p for t, p in zip(r.curve.t_ms, r.curve.positions["BTC"]) if t >= cut]
    assert after and all(p == 0 for p in after)
    assert r.metrics["max_drawdown"] > 0.5 and D(r.metrics["end_equity"]) > 0


class Failing:
    """Every third cycle fails the way a pipeline reports it: an error, no orders."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, now_ms: int) -> StepInfo:
        self.n += 1
        return StepInfo(error="decide: LLMUnavailableError: 503" if self.n % 3 == 0 else None)


def test_failed_cycles_are_summarised_in_the_warnings():
    spec = BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 9), provider="scripted", run_id="f")
    r = run_backtest(cfg(), spec, feed=make_feed(), step_factory=lambda c, e, s: Failing())
    assert len(r.decisions) == 23
    assert r.warnings == [f"7 of 23 cycles reported errors and held; the first, at 2025-01-08 02:00: "
                          "decide: LLMUnavailableError: 503"]
