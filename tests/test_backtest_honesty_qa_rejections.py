"""The orders a backtest's venue refused are counted and said: an IOC priced when it is decided
reaches the venue an hour later (the default latency) and, when the price has moved past its
limit by then, does not fill. Before, those orders vanished from the results: a week's run
whose engine sent 220 orders and got 137 fills said nothing about the other 83."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from backtest_helpers import T0, approve, make_feed

from hyperliquid_agent.backtest.pipeline import step_info
from hyperliquid_agent.backtest.runner import IOC_NO_MATCH, StepInfo, rejection_summary, run_backtest
from hyperliquid_agent.backtest import results
from hyperliquid_agent.backtest.results import RefusedOrder
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.config import config_from_dict
from hyperliquid_agent.domain import OrderIntent, Rejected, Side, Tif, round_price
from hyperliquid_agent.exchange.feed import HOUR_MS

IOC_ERROR = f"{IOC_NO_MATCH} asset=0"


def _order(status: str, error: str | None = None, reconciled: bool = False) -> dict:
    return {"leg": "open", "cloid": None if status in ("denied", "skipped") else "0x" + "1" * 32, "status": status,
            "intent": {"coin": "BTC", "side": "buy", "size": "0.01"}, "error": error, "reconciled": reconciled}


def test_a_cycles_record_gives_the_orders_sent_and_the_venues_refusals():
    record = {"mode": "standard", "decision": {"summary": "target: BTC 50%"}, "orders": [
        _order("filled"), _order("rejected", IOC_ERROR), _order("resting"),
        _order("denied", "max_order_usd: too big"), _order("skipped"),
        _order("rejected", "Insufficient margin to place order. asset=1", reconciled=True),  # an earlier cycle's
    ]}
    info = step_info(record)
    assert info.orders == 6 and info.sent == 3 and info.rejections == (("BTC", "buy", "0.01", IOC_ERROR),)


def test_no_refusal_no_warning_and_the_summary_names_counts_reasons_and_the_first_time():
    assert rejection_summary([], 5, 1) == []
    t = 1_730_599_200_000  # 2024-11-03 02:00 UTC

    def refused(k: int, error: str) -> RefusedOrder:
        return RefusedOrder(t_ms=t + (k + 1) * HOUR_MS, decided_ms=t + k * HOUR_MS, coin="BTC", side="buy",
                            size=D("0.01"), error=error)

    orders = [refused(0, IOC_ERROR), refused(1, "Insufficient margin to place order. asset=2"),
              refused(2, f"{IOC_NO_MATCH} asset=1")]
    [text] = rejection_summary(orders, 5, 1)
    assert text.startswith(f"the venue refused 3 of 5 orders sent (2 x {IOC_NO_MATCH!r}; "
                           "1 x 'Insufficient margin to place order.'; the first decided at 2024-11-03 02:00)")
    assert "reaches the venue 1 hourly bar(s) later than its decision" in text and "market_slippage_bps" in text
    # with no latency, the IOC's limit is not stale: no hint about it
    assert "reaches the venue" not in rejection_summary(orders, 5, 0)[0]


class LateIoc:
    """Buys 0.1 BTC with an IOC limited 0.5 % above the mid at the window's first bar: the feed
    jumps 20 % before the order reaches the venue an hour later, so the venue refuses it; then
    a second IOC at a limit the price has not left fills."""

    def __init__(self, exchange) -> None:
        self.ex, self.n = exchange, 0

    def __call__(self, now_ms: int) -> StepInfo:
        self.n += 1
        if self.n > 2:
            return StepInfo(plan_id="late", strategy_id="late")
        mid = self.ex.market_snapshot().mids["BTC"]
        factor = "1.005" if self.n == 1 else "1.5"
        out = self.ex.place_orders([approve(OrderIntent(coin="BTC", side=Side.BUY, size=D("0.1"),
                                                        limit_price=round_price(mid * D(factor), 5), tif=Tif.IOC))])
        errors = tuple(("BTC", "buy", "0.1", o.error) for o in out if isinstance(o, Rejected))
        return StepInfo(plan_id="late", strategy_id="late", orders=1, sent=1, rejections=errors)


def test_an_ioc_the_price_ran_away_from_during_the_latency_is_refused_counted_and_warned_about(tmp_path):
    start = T0 + 8 * 24 * HOUR_MS
    feed = make_feed(days=12, shock_from_ms=start, shock=1.2)  # the bar after the first decision jumps 20 %
    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    spec = BacktestSpec(coins=("BTC",), start=date(2025, 1, 9), end=date(2025, 1, 11), provider="scripted",
                        run_id="late")
    r = run_backtest(c, spec, feed=feed, step_factory=lambda c_, e, s: LateIoc(e))
    first, second = r.decisions[0], r.decisions[1]
    assert r.orders_sent == 2 and r.refused == [RefusedOrder(t_ms=first.t_ms + HOUR_MS, decided_ms=first.t_ms,
                                                             coin="BTC", side="buy", size=D("0.1"), error=IOC_ERROR)]
    assert len(r.trades) == 1 and r.trades[0].t_ms == second.t_ms + HOUR_MS
    assert any(w.startswith(f"the venue refused 1 of 2 orders sent (1 x {IOC_NO_MATCH!r}; the first decided at "
                            "2025-01-09 00:00)") for w in r.warnings)
    again = results.load(results.save(r, tmp_path))  # kept in results.json
    assert again.refused == r.refused and again.orders_sent == 2


def _counting_factory(answers: list, priced_at_arrival: bool = True):
    """The engine's own step (the live loop's pipeline), with every answer of the venue to an
    order kept in `answers`; `priced_at_arrival=False` prices the orders at their decision, as
    the backtest did before, and sends them the latency later all the same."""
    from hyperliquid_agent.backtest.runner import default_step_factory

    def factory(c_, exchange, state_dir):
        inner = exchange._inner
        place = inner.place_orders

        def counted(orders):
            out = place(orders)
            answers.extend(out)
            return out

        inner.place_orders = counted
        step = default_step_factory(c_, exchange, state_dir)
        if not priced_at_arrival:
            step.pipeline.arrive = None
        return step

    return factory


WEEK = BacktestSpec(coins=("BTC", "ETH", "SOL"), start=date(2024, 2, 1), end=date(2024, 2, 8), mode="standard",
                    provider="baseline", run_id="std")


def test_orders_priced_at_their_decision_and_sent_an_hour_later_miss_and_every_miss_is_listed():
    """Through the whole engine (standard mode, baseline provider, synthetic data), with the
    orders priced when decided: the IOCs the price ran away from during the hour of latency are
    refused, and the rows count exactly the orders the venue answered and the ones it refused."""
    answers: list = []
    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    r = run_backtest(c, WEEK, step_factory=_counting_factory(answers, priced_at_arrival=False))
    refused = [a for a in answers if isinstance(a, Rejected)]
    assert refused, "a week of hourly decisions priced an hour before they arrive misses some IOCs"
    assert {a.error.split(" asset=")[0] for a in refused} == {IOC_NO_MATCH}
    assert r.orders_sent == len(answers)
    assert [o.error for o in r.refused] == [a.error for a in refused]
    assert all(o.t_ms == o.decided_ms + HOUR_MS and o.decided_ms in {d.t_ms for d in r.decisions} for o in r.refused)
    assert len(r.trades) == len(answers) - len(refused)  # every other order filled (IOCs: none rests)
    assert any(w.startswith(f"the venue refused {len(refused)} of {len(answers)} orders sent") for w in r.warnings)


def test_the_engine_prices_its_orders_where_they_arrive_so_none_misses_and_each_fills_near_that_bars_price():
    """The same week as the backtest runs it: each order is sized and limited on the market of
    the bar it reaches the venue at (an hour after its decision), so no IOC is refused for a
    stale limit, and each fill is within `market_slippage_bps` of that bar's close."""
    answers: list = []
    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    r = run_backtest(c, WEEK, step_factory=_counting_factory(answers))
    assert answers and r.orders_sent == len(answers) and r.refused == [] and len(r.trades) == len(answers)
    assert not any(w.startswith("the venue refused") for w in r.warnings)
    decided = {d.t_ms for d in r.decisions if d.orders}
    bound = c.portfolio.market_slippage_bps / D(10_000)
    for trade in r.trades:
        assert trade.t_ms - HOUR_MS in decided  # filled at the bar after its decision
        close = r.curve.closes[trade.coin][r.curve.t_ms.index(trade.t_ms)]
        assert abs(trade.price - close) <= close * bound, (trade, close)


def test_a_refusal_is_known_only_when_the_order_arrives_not_at_its_decision():
    """The look-ahead check of `test_backtest_honesty` over the refused orders (of orders priced
    at their decision, which miss): data after the cut changes none up to it, and the refusal of
    an order decided at the cut (arriving after it) is free to change, as a fill would be."""
    from test_backtest_honesty import cfg, perturbed, unperturbed_with_oi

    from hyperliquid_agent.backtest.spec import day_ms
    from hyperliquid_agent.exchange.synthetic import synthetic_feed

    feed = unperturbed_with_oi(synthetic_feed(seed=11, days=45, coins=["BTC", "ETH"],
                                              start_ms=day_ms(date(2024, 1, 1))))
    cut = day_ms(date(2024, 2, 7)) + 13 * HOUR_MS
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2024, 2, 5), end=date(2024, 2, 9), mode="standard",
                        provider="baseline", run_id="la")
    a = run_backtest(cfg(), spec, feed=feed, step_factory=_counting_factory([], priced_at_arrival=False))
    b = run_backtest(cfg(), spec, feed=perturbed(feed, cut), step_factory=_counting_factory([], priced_at_arrival=False))
    early = [o for o in a.refused if o.t_ms <= cut]
    assert early and early == [o for o in b.refused if o.t_ms <= cut]
    assert a.refused != b.refused
