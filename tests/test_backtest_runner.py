"""The replay loop over the real venue model: point in time, latency, fees, funding, determinism, spend cap."""

from __future__ import annotations

from dataclasses import replace
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
    # with the baseline provider's replay after it, one bar counts both runs
    calls.clear()
    run_backtest(cfg(), BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 9), provider="scripted",
                                     vs_baseline=True, run_id="t2"),
                 feed=make_feed(), step_factory=factory, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (48, 48) and {t for _, t in calls} == {48} and len(calls) == 48
    assert [d for d, _ in calls] == list(range(1, 49))


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
    assert closed.liquidation and not opened.liquidation and r.metrics["liquidations"] == 1
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
    assert r.warnings[-1:] == [f"7 of 23 cycles reported errors and held; the first, at 2025-01-08 02:00: "
                               "decide: LLMUnavailableError: 503"]
    assert r.warnings[0].startswith("only 7.0 days of data before the first decision")  # the test feed's week


def test_a_fill_its_fee_and_funding_by_hand_with_the_configured_venue():
    """A flat market at $50,000, 0.01 %/h funding, [venue] spread 2 bps, slippage 3 bps, taker 0.045 %:
    one 0.1 BTC buy decided at the window's first bar, worked out by hand."""
    from backtest_helpers import OnceStep, flat_feed

    from hyperliquid_agent.domain import Rejected

    c = config_from_dict({"backtest": {"vs_baseline": False},
                          "venue": {"spread_bps": 2, "slippage_bps": 3, "taker_fee": "0.00045"}}, env={})
    steps = []

    def factory(cfg_, exchange, state_dir):
        steps.append(OnceStep(exchange, [(Side.BUY, "0.1", "51000"),
                                         (Side.BUY, "0.0001", "51000"),      # $5: under the $10 minimum
                                         (Side.BUY, "0.123456", "51000")]))  # 6 decimals: BTC trades 5
        return steps[-1]

    spec = BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 10), provider="scripted", run_id="hand")
    r = run_backtest(c, spec, feed=flat_feed(), step_factory=factory)
    t0 = T0 + 7 * 24 * H
    assert r.curve.t_ms[0] == t0 and r.curve.t_ms[-1] == t0 + 47 * H
    (fill,) = r.trades  # the other two were refused by the venue
    assert [type(a) for a in steps[0].answers[1:]] == [Rejected, Rejected]
    # the best ask is half the spread above the mid: 50,000 x 1.0001 = 50,005; slippage 3 bps beyond it
    assert fill.t_ms == t0 + H and fill.side == "buy" and fill.size == D("0.1")
    assert fill.price == D("50005") * D("1.0003") == D("50020.0015")
    assert fill.fee == D("2.250900")  # 0.1 x 50,020.0015 x 0.00045 = 2.2509000675, in micro-USDC
    # the long pays 0.1 x 50,000 x 0.0001 = $0.50 at each hourly settlement after the fill: 46 of them
    assert [f.amount for f in r.funding] == [D("-0.5")] * 46
    assert r.funding[0].t_ms == t0 + 2 * H and r.funding[-1].t_ms == t0 + 47 * H
    assert D(r.metrics["funding_paid_usd"]) == D(23) and D(r.metrics["funding_received_usd"]) == 0
    # end equity: start - fee - funding + the unrealized loss of buying above the mark
    unrealized = D("0.1") * (D(50000) - D("50020.0015"))
    assert D(r.metrics["end_equity"]) == D(10000) - D("2.250900") - D(23) + unrealized
    assert D(r.metrics["fees_usd"]) == D("2.250900") and r.metrics["n_trades"] == 1
    assert r.curve.positions["BTC"][-1] == D("0.1")


def test_the_decision_bar_follows_the_live_loop_tick():
    """Without --interval a governed run decides every [governance.governor] fast_loop_s, as the live loop ticks."""
    c = config_from_dict({"backtest": {"vs_baseline": False},
                          "governance": {"governor": {"fast_loop_s": 14400, "medium_loop_s": 14400}}}, env={})
    factory = StepFactory()
    spec = BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 10), mode="governed", provider="scripted",
                        run_id="tick")
    r = run_backtest(c, spec, feed=make_feed(), step_factory=factory)
    assert r.params.interval == "4h" and not [w for w in r.warnings if "decides every" in w]
    assert {b.t_ms - a.t_ms for a, b in zip(r.decisions, r.decisions[1:])} == {4 * H}
    # the fills still come one bar of the (hourly) data after the decision, not a decision bar later
    decided = {d.t_ms for d in r.decisions if d.orders}
    assert r.trades and all(t.t_ms - H in decided for t in r.trades)
    # standard mode ticks on [agent] tick_interval_s (default 1h); a 15-minute tick decides on hourly bars
    std = run_backtest(c, BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 9), mode="standard",
                                       provider="scripted", run_id="std"), feed=make_feed(), step_factory=factory)
    assert std.params.interval == "1h"
    quick = config_from_dict({"backtest": {"vs_baseline": False}, "agent": {"tick_interval_s": 900}}, env={})
    q = run_backtest(quick, BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 9), mode="standard",
                                         provider="scripted", run_id="q"), feed=make_feed(), step_factory=factory)
    assert q.params.interval == "1h"
    assert any("agent.tick_interval_s" in w and "decides every 1h" in w for w in q.warnings)


def test_the_backtest_port_builds_the_account_once_per_state_of_the_venue():
    from hyperliquid_agent.backtest.venue import LatencyExchange

    class Inner:
        def __init__(self):
            self.builds = 0

        def account_state(self):
            self.builds += 1
            return object()

        def open_orders(self):
            return []

        def set_leverage(self, coin, leverage, is_cross=True):
            return None

        def place_orders(self, orders):
            return []

    clock = [0]
    inner = Inner()
    ex = LatencyExchange(inner, lambda t: clock.__setitem__(0, t), lambda: clock[0], latency_ms=0)
    first = ex.account_state()
    ex.open_orders()  # a read: the venue is as it was
    assert ex.account_state() is first and inner.builds == 1
    ex.set_leverage("BTC", 3)  # anything but a read may change the account
    assert ex.account_state() is not first and inner.builds == 2
    ex.place_orders([])
    ex.account_state()
    clock[0] = H  # the runner's clock moved the venue
    ex.account_state()
    assert inner.builds == 4


def test_a_run_tunes_the_garbage_collector_only_while_it_runs():
    """During a run the young generation is collected less often and the objects from before it
    are frozen out of collections; afterwards (a failed run too) the process's settings are back."""
    import gc

    from hyperliquid_agent.backtest import runner

    before = gc.get_threshold()
    seen = []

    class Watching(StepFactory):
        def __call__(self, *a):
            step = super().__call__(*a)

            def watched(now_ms):
                seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
                return step(now_ms)
            return watched

    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, provider="scripted", run_id="t")
    run_backtest(cfg(), spec, feed=make_feed(), step_factory=Watching())
    assert seen and set(seen) == {(runner.BATCH_GC_THRESHOLD, True)}
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    def failing(*a):
        raise RuntimeError("the step factory failed")
    with pytest.raises(RuntimeError):
        run_backtest(cfg(), spec, feed=make_feed(), step_factory=failing)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.parametrize("latency", [0, 1, 3])
def test_fills_funding_and_bars_go_to_the_decision_whose_orders_made_them(latency):
    """The SMA step flips its plan ("long" / "short") with the order it sends. A fill lands the
    fill latency after its decision, by when the next decision may name the other plan: the fill
    (and the funding and the bars of the position it leaves) is still the sender's. Before, with
    one bar of latency every fill of a flip went to the plan that decided after it."""
    result, _ = run(latency=latency, feed=make_feed(funding_rate="0.0001"))
    lat = latency * H
    plan_at = {d.t_ms: d.plan_id for d in result.decisions}
    assert result.trades and all(t.plan_id == plan_at[t.t_ms - lat] for t in result.trades)
    # funding settled at s was earned over the hour before s, on the position of the last arrival before it
    arrivals = sorted(plan_at)
    checked = 0
    for f in result.funding:
        sent = [t for t in arrivals if t + lat < f.t_ms]
        if sent:
            assert f.plan_id == plan_at[sent[-1]]
            checked += 1
    assert checked > 100
    # a bar of the curve goes to the decision whose fills opened it
    for t, plan in zip(result.curve.t_ms, result.curve.plan_id):
        sent = [d for d in arrivals if d + lat <= t]
        if sent:
            assert plan == plan_at[sent[-1]], (t, plan)
    flips = sum(1 for a, b in zip(result.decisions, result.decisions[1:]) if a.plan_id != b.plan_id)
    assert flips > 3  # the plans do change under the fills, so the test can fail


class AllInThenAlternate:
    """Buys 2.5 BTC at 20x at its first cycle and holds; names plan "a" and "b" by turns."""

    def __init__(self, exchange) -> None:
        self.inner, self.n = AllInLong(exchange), 0

    def __call__(self, now_ms: int) -> StepInfo:
        self.inner(now_ms)
        self.n += 1
        plan = "ab"[self.n % 2]
        return StepInfo(plan_id=plan, strategy_id=plan)


def test_a_liquidation_goes_to_whoever_held_the_position_through_the_bar_not_to_the_decision_arriving_then():
    """The venue liquidates while it crosses the bar, before the orders of the decision that arrive at
    its close: the liquidation belongs, as that hour's funding does, to the charge before."""
    cut = T0 + 10 * 24 * H
    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=END, provider="scripted", run_id="liq2")
    r = run_backtest(cfg(), spec, feed=make_feed(shock_from_ms=cut, shock=0.8),
                     step_factory=lambda c, e, s: AllInThenAlternate(e))
    closed = next(t for t in r.trades if t.liquidation)
    plan_at = {d.t_ms: d.plan_id for d in r.decisions}
    assert closed.t_ms == cut and plan_at[cut - H] != plan_at[cut - 2 * H]
    assert closed.plan_id == plan_at[cut - 2 * H]  # its orders held the position through (cut - H, cut]
    assert [f.plan_id for f in r.funding if f.t_ms == cut] in ([], [plan_at[cut - 2 * H]])


class BuyThenSwitch:
    """Plan "a" buys 0.01 BTC at its first decision; every later decision is plan "b", which trades nothing."""

    def __init__(self, exchange) -> None:
        self.ex, self.calls = exchange, 0

    def __call__(self, now_ms: int) -> StepInfo:
        self.calls += 1
        if self.calls == 1:
            mid = self.ex.market_snapshot().mids["BTC"]
            self.ex.place_orders([approve(OrderIntent(coin="BTC", side=Side.BUY, size=D("0.01"),
                                                      limit_price=round_price(mid * D("1.05"), 5), tif=Tif.IOC))])
            return StepInfo(plan_id="a", strategy_id="sa", orders=1)
        return StepInfo(plan_id="b", strategy_id="sb")


def test_a_fill_the_venue_made_before_a_decision_belongs_to_the_plan_before_it():
    # plan "a"'s order lands an hour later (the latency), at the bar where the next decision names
    # plan "b": the fill was "a"'s (the per-plan rows, like the plans' scorecards, count it there)
    spec = BacktestSpec(coins=("BTC", "ETH"), start=START, end=date(2025, 1, 9), provider="scripted", run_id="t",
                        fill_latency_bars=1)
    r = run_backtest(cfg(), spec, feed=make_feed(), step_factory=lambda c, e, s: BuyThenSwitch(e))
    [fill] = r.trades
    assert fill.t_ms == r.plan_changes[1].t_ms and r.plan_changes[1].plan_id == "b"
    assert (fill.plan_id, fill.strategy_id) == ("a", "sa")
    rows = {g["key"]: g for g in r.metrics["per_plan"]}
    assert rows["a"]["n_trades"] == 1 and rows["b"]["n_trades"] == 0
    # with no latency the fill is the deciding plan's own, at its own bar
    r0 = run_backtest(cfg(), replace(spec, fill_latency_bars=0), feed=make_feed(),
                      step_factory=lambda c, e, s: BuyThenSwitch(e))
    [fill] = r0.trades
    assert fill.t_ms == r0.plan_changes[0].t_ms and fill.plan_id == "a"


def test_a_fill_goes_to_the_decision_that_sent_its_order_whenever_the_venue_makes_it():
    """A TP/SL trigger that plan "a" placed fires on the bar where the next decision (latency 0)
    activates plan "b": stamped with b's bar, it is still a's, known by its client order id; a
    fill no cycle sent (a liquidation) goes by time to the charge that held the position."""
    from hyperliquid_agent.backtest.runner import _Recorder
    from hyperliquid_agent.domain import Fill

    def fill(t_ms, cloid, liquidation=False):
        return Fill(coin="BTC", side=Side.SELL, price=D(60000), size=D("0.01"), fee=D("0.27"), time_ms=t_ms, oid=1,
                    cloid=cloid, crossed=True, liquidation=liquidation)

    class Venue:
        def fills(self, address):
            return [fill(T0 + 2 * H, "0xa1"), fill(T0 + 2 * H, None), fill(T0 + 3 * H, None, liquidation=True)]

        def user_funding(self, address):
            return []

    rec = _Recorder(Venue(), ("BTC",), lambda: None, latency_ms=0, interval_ms=H)
    rec.take_charge(T0 + H, StepInfo(plan_id="a", strategy_id="sa", cloids=("0xa1",)))
    rec.take_charge(T0 + 2 * H, StepInfo(plan_id="b", strategy_id="sb"))
    rec._collect_events()
    assert [(t.plan_id, t.liquidation) for t in rec.trades] == [("a", False), ("b", False), ("b", True)]


def test_a_freeze_by_the_tripwires_is_a_warning_that_names_the_longest_spell_its_trips_and_a_freeze_to_the_end():
    from hyperliquid_agent.backtest.results import DecisionRow
    from hyperliquid_agent.backtest.runner import freeze_summary

    states = ["ACTIVE", "REDUCING", "ACTIVE", "ACTIVE", "REDUCING", "REDUCING", "HALTED", "REDUCING"]
    rows = [DecisionRow(t_ms=T0 + i * H, trading_state=s) for i, s in enumerate(states)]
    trips = [(T0 + H, ("margin_ratio",)), (T0 + 4 * H, ("max_drawdown",)), (T0 + 5 * H, ("max_drawdown",)),
             (T0 + 6 * H, ("max_drawdown", "daily_loss_cap")), (T0 + 7 * H, ("max_drawdown",))]
    [text] = freeze_summary(rows, trips)
    assert "in 5 of 8 cycles, in 2 spell(s)" in text
    assert "the longest, 4 cycles from 2025-01-01 04:00 to the end of the window" in text
    assert "to the end of the window, tripped by max_drawdown (4 cycles), daily_loss_cap (1 cycles)" in text
    assert "It lasted to the end" in text
    # a spell that ends is dated, and an ACTIVE run (or a standard one, with no state) says nothing
    [ended] = freeze_summary(rows[:4], trips[:1])
    assert "1 cycles from" in ended and "It lasted to the end" not in ended and "margin_ratio (1 cycles)" in ended
    assert freeze_summary(rows[:1]) == [] and freeze_summary([DecisionRow(t_ms=T0)]) == []


def test_set_overrides_of_the_backtest_and_venue_settings_are_the_run_s():
    """`--set backtest.fill_latency_bars=0,3` and `--set venue.seed=1,2` (a sweep over latency or over
    synthetic histories) gave identical rows: the latency and the synthetic data were read from the
    config file, while results.json named the seed asked for (1 and 2 over the same seed-7 bars)."""
    def scripted(overrides=None, **kw):
        spec = BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 10), provider="scripted",
                            run_id="t", overrides=overrides or {}, **kw)
        return run_backtest(cfg(), spec, step_factory=StepFactory())

    by_set = scripted({"backtest.fill_latency_bars": 0})
    by_option = scripted(fill_latency_bars=0)
    assert by_set.params.fill_latency_bars == 0
    assert by_set.trades == by_option.trades and by_set.curve.equity == by_option.curve.equity
    assert by_set.trades != scripted().trades  # (the default latency, 1 bar, fills elsewhere)

    seeded = scripted({"venue.seed": 3})
    assert seeded.params.seed == 3
    assert seeded.curve.closes == scripted(seed=3).curve.closes != scripted().curve.closes
    # and the comparison run beside a non-baseline provider follows `--set backtest.vs_baseline`
    on = run_backtest(cfg(), BacktestSpec(coins=("BTC",), start=START, end=date(2025, 1, 10), provider="scripted",
                                          run_id="t", overrides={"backtest.vs_baseline": True}),
                      step_factory=StepFactory())
    assert on.baseline_metrics is not None
