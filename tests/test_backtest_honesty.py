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


# ---------------------------------------------------------------- missing bars (gaps in the data)


def _without_btc_bar(feed: MarketFeed, gap_open_ms: int) -> MarketFeed:
    """`feed` with BTC's bar opening at `gap_open_ms` removed (its funding records kept)."""
    from hyperliquid_agent.exchange.feed import series_from_rows

    s = feed.series["BTC"]
    candles = [s.candle(i) for i in range(len(s)) if s.t[i] != gap_open_ms]
    funding = [s.funding_point(j) for j in range(len(s.funding_t))]
    return MarketFeed({**feed.series, "BTC": series_from_rows("BTC", s.spec, "1h", candles, funding)})


class BuyAt:
    """Buys 0.1 BTC with an IOC at each of the given decision times, else holds."""

    def __init__(self, exchange, times) -> None:
        self.ex, self.times = exchange, set(times)
        self.decided: list[int] = []

    def __call__(self, now_ms: int):
        from backtest_helpers import approve

        from hyperliquid_agent.backtest.runner import StepInfo
        from hyperliquid_agent.domain import OrderIntent, Side, Tif, round_price

        self.decided.append(now_ms)
        if now_ms in self.times:
            mid = self.ex.market_snapshot().mids["BTC"]
            self.ex.place_orders([approve(OrderIntent(coin="BTC", side=Side.BUY, size=D("0.1"),
                                                      limit_price=round_price(mid * D("1.05"), 5), tif=Tif.IOC))])
        return StepInfo(plan_id="buy", strategy_id="buy")


def test_no_fill_lands_on_a_missing_bar_at_the_stale_price_and_the_gap_is_reported():
    """A BTC bar is missing: an order decided on the bar before it used to fill at the close the
    decision saw (the venue held BTC at its last close), a zero-latency fill at a known price."""
    from backtest_helpers import H, T0, make_feed

    from hyperliquid_agent.config import config_from_dict

    gap = T0 + 32 * 24 * H + 5 * H  # BTC's bar 05:00-06:00 on 2025-02-02 is missing
    feed = _without_btc_bar(make_feed(days=45), gap)
    steps = []

    def factory(c, exchange, state_dir):
        steps.append(BuyAt(exchange, [gap - 2 * H, gap]))
        return steps[-1]

    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2025, 2, 2), end=date(2025, 2, 3), provider="scripted",
                        run_id="gap")
    r = run_backtest(c, spec, feed=feed, step_factory=factory)
    btc_closes = set(feed.series["BTC"].close_t)
    assert gap + H not in btc_closes
    # no decision at the missing bar, nor at the bar whose fills would land on it
    assert gap + H not in steps[0].decided and gap not in steps[0].decided
    assert gap - 2 * H in steps[0].decided
    assert [t.t_ms for t in r.trades] == [gap - H]  # only the order decided two bars before
    assert all(t.t_ms in btc_closes for t in r.trades)
    (warning,) = [w for w in r.warnings if w.startswith("BTC:")]
    assert "1 hourly bar(s) missing" in warning and "2025-02-02 06:00" in warning


def test_funding_of_an_hour_without_a_bar_is_paid_at_the_next_bar():
    from backtest_helpers import H, T0, make_feed

    rate = "0.0001"
    feed = make_feed(days=3, funding_rate=rate)
    gap = T0 + 30 * H
    s = _without_btc_bar(feed, gap).series["BTC"]
    i = s.t.index(gap + H)  # the bar after the gap
    assert s.bar_funding[i] == 2 * D(rate)  # its own hour and the missing one
    # no record is lost: every hour after the first bar settles once
    assert sum(r for r in s.bar_funding if r is not None) == sum(r for r in feed.series["BTC"].bar_funding if r)


def test_a_window_outside_the_data_or_short_of_warm_up_says_so():
    from backtest_helpers import H, T0, make_feed

    from hyperliquid_agent.backtest.runner import plan_run

    feed = make_feed(days=20)  # 2025-01-01 .. 2025-01-21
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2024, 12, 20), end=date(2025, 2, 1), provider="baseline")
    plan = plan_run(cfg(), spec, feed)
    text = "\n".join(plan.warnings)
    assert "starts after --start: the window starts at 2025-01-01 01:00" in text
    assert "ends before --end: the window ends at 2025-01-21 00:00" in text
    assert "only 0.0 days of data before the first decision" in text
    inside = plan_run(cfg(), BacktestSpec(coins=("BTC", "ETH"), provider="baseline"), make_feed(days=40))
    assert not [w for w in inside.warnings if "data" in w]
    assert inside.times[0] == T0 + 31 * 24 * H + H  # a month after the first bar's close


# ---------------------------------------------------------------- costs, worked out from the real rows


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/hyperliquid is not present")
def test_a_short_its_fill_fee_and_funding_from_the_real_rows_by_hand():
    """0.05 BTC sold at the first decision of 2024-11-05 (default [venue]: spread 1 bp, slippage
    2 bps, taker 0.045 %), held for a day: each figure from the CSV rows themselves."""
    import csv

    from backtest_helpers import OnceStep

    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.domain import Side

    with open(SHARED_DATA / "BTC_1h_candles.csv") as fh:
        closes = {int(row["t_ms"]) + HOUR_MS: D(row["close"]) for row in csv.DictReader(fh)}
    with open(SHARED_DATA / "BTC_funding.csv") as fh:
        rates = {int(row["time_ms"]) // HOUR_MS * HOUR_MS: D(row["fundingRate"]) for row in csv.DictReader(fh)}
    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    spec = BacktestSpec(coins=("BTC",), start=date(2024, 11, 5), end=date(2024, 11, 6), provider="scripted",
                        data_dir=SHARED_DATA, run_id="real-hand")
    r = run_backtest(c, spec, step_factory=lambda c_, ex, sd: OnceStep(ex, [(Side.SELL, "0.05", "50000")]))
    t0 = day_ms(date(2024, 11, 5))
    (fill,) = r.trades
    # decided on the close of 00:00, filled on the next hour's close: 68,073
    assert fill.t_ms == t0 + HOUR_MS and closes[fill.t_ms] == D("68073.0")
    # best bid half a bp under it, rounded down to 5 significant figures (68,069), then 2 bps of slippage
    assert fill.price == D("68069") * D("0.9998") == D("68055.3862")
    assert fill.fee == D("1.531246")  # 0.05 x 68,055.3862 x 0.00045 = 1.5312461895
    # the short receives size x close (no oracle recorded) x rate at every hour it is held
    assert len(r.funding) == 22 and r.funding[0].t_ms == t0 + 2 * HOUR_MS
    for p in r.funding:
        assert p.amount == (D("0.05") * closes[p.t_ms] * rates[p.t_ms]).quantize(D("0.000001"))
    got = sum((p.amount for p in r.funding), D(0))
    assert D(r.metrics["funding_received_usd"]) == got and D(r.metrics["funding_paid_usd"]) == 0
    end = D(10000) - fill.fee + got + D("0.05") * (fill.price - r.curve.closes["BTC"][-1])
    assert D(r.metrics["end_equity"]) == end


class PortReader:
    """Reads everything the exchange port shows at each decision (snapshot with every asset
    context, books, 1h/4h/1d candles, funding history, account) and buys or sells a little, so
    the account moves too; `seen` keeps it all for comparison."""

    def __init__(self, exchange) -> None:
        self.ex = exchange
        self.seen: list[tuple[int, str]] = []

    def __call__(self, now_ms: int):
        from backtest_helpers import approve

        from hyperliquid_agent.backtest.runner import StepInfo
        from hyperliquid_agent.domain import OrderIntent, Side, Tif, round_price

        snap = self.ex.market_snapshot()
        view = [snap, self.ex.account_state()]
        for coin in ("BTC", "ETH"):
            view.append(self.ex.l2_book(coin))
            view.append(self.ex.book_view(coin))
            for iv in ("1h", "4h", "1d"):
                view.append(self.ex.candles(coin, iv, now_ms - 10 * 86_400_000, now_ms))
            view.append(self.ex.funding_history(coin, now_ms - 3 * 86_400_000, now_ms))
        self.seen.append((now_ms, repr(view)))
        if now_ms // HOUR_MS % 5 == 0:
            side = Side.BUY if now_ms // HOUR_MS % 2 else Side.SELL
            mid = snap.mids["ETH"]
            limit = round_price(mid * (D("1.05") if side is Side.BUY else D("0.95")), 4)
            self.ex.place_orders([approve(OrderIntent(coin="ETH", side=side, size=D("0.1"), limit_price=limit,
                                                      tif=Tif.IOC))])
        return StepInfo(plan_id="read", strategy_id="read")


@pytest.mark.parametrize("cut_hour", [13, 14, 16])  # inside a 4h bucket, at its end, inside a day
def test_nothing_the_exchange_port_shows_before_the_cut_depends_on_data_after_it(syn_feed, cut_hour):
    """Stronger than comparing decisions: every value the port returns up to the cut, the asset
    contexts (mark, oracle, premium, funding, open interest, day volume, price a day ago) and the
    books included, whether or not the pipeline's signals use it."""
    from hyperliquid_agent.config import config_from_dict

    cut = day_ms(date(2024, 2, 7)) + cut_hour * HOUR_MS
    c = config_from_dict({"backtest": {"vs_baseline": False}}, env={})
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2024, 2, 6), end=date(2024, 2, 9), provider="scripted",
                        run_id="port")
    readers = []

    def factory(c_, exchange, state_dir):
        readers.append(PortReader(exchange))
        return readers[-1]

    a = run_backtest(c, spec, feed=syn_feed, step_factory=factory)
    b = run_backtest(c, spec, feed=perturbed(syn_feed, cut), step_factory=factory)
    seen_a, seen_b = readers
    assert [s for s in seen_a.seen if s[0] <= cut] == [s for s in seen_b.seen if s[0] <= cut]
    assert next(s for s in seen_a.seen if s[0] > cut) != next(s for s in seen_b.seen if s[0] > cut)
    assert a.trades and [t for t in a.trades if t.t_ms <= cut] == [t for t in b.trades if t.t_ms <= cut]
