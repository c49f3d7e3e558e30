"""Backtest metrics against hand-computed cases, plus properties of the math."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.backtest.metrics import (
    MS_PER_YEAR,
    EquityPoint,
    FundingEvent,
    TradeRecord,
    annualize,
    buy_and_hold_curve,
    compute_metrics,
    count_switches,
    drawdown_series,
    max_drawdown,
)

H = 3_600_000


def curve(values, plans=None, strategies=None, gross=None):
    plans = plans or [None] * len(values)
    strategies = strategies or plans
    gross = gross or [D(0)] * len(values)
    return [EquityPoint(i * H, D(str(v)), D(str(g)), p, s) for i, (v, p, s, g) in enumerate(zip(values, plans, strategies, gross))]


def test_returns_drawdown_sharpe_sortino_by_hand():
    m = compute_metrics(curve([100, 110, 99, 121]))
    assert m.total_return == pytest.approx(0.21)
    assert m.pnl_usd == D(21)
    # peak 110, trough 99
    assert m.max_drawdown == pytest.approx(0.1)
    r = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(r) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    per_year = 365 * 24
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(per_year))
    down = math.sqrt(0.01 / 3)
    assert m.sortino == pytest.approx(mean / down * math.sqrt(per_year))
    years = 3 * H / MS_PER_YEAR
    assert m.annualized_return == pytest.approx(1.21 ** (1 / years) - 1)
    assert m.calmar == pytest.approx(m.annualized_return / 0.1)


def test_fees_funding_win_rate_profit_factor_by_hand():
    trades = [
        TradeRecord(0, "BTC", "buy", D("0.01"), D(50000), D("0.225")),  # opening fill: no closed pnl
        TradeRecord(H, "BTC", "sell", D("0.01"), D(51000), D("1"), closed_pnl=D(10)),  # +9 net
        TradeRecord(2 * H, "ETH", "sell", D("1"), D(2000), D("1"), closed_pnl=D(-5)),  # -6 net
        TradeRecord(3 * H, "SOL", "buy", D("2"), D(100), D("3"), closed_pnl=D(2)),  # -1 net
    ]
    funding = [
        FundingEvent(H, "BTC", D("1.2")),
        FundingEvent(2 * H, "BTC", D("-0.7")),
        FundingEvent(3 * H, "ETH", D("-0.3")),
    ]
    m = compute_metrics(curve([1000, 1000, 1000, 1000]), trades, funding, llm_cost_usd=D("2.5"))
    assert m.n_trades == 4
    assert m.fees_usd == D("5.225")
    assert m.funding_paid_usd == D("1.0")
    assert m.funding_received_usd == D("1.2")
    assert m.win_rate == pytest.approx(1 / 3)
    assert m.profit_factor == pytest.approx(9 / 7)
    # traded notional 500 + 510 + 2000 + 200 = 3210 over average equity 1000
    assert m.traded_notional_usd == D("3210")
    assert m.turnover == pytest.approx(3.21)
    assert m.llm_cost_usd == D("2.5")
    assert m.net_return_after_llm == pytest.approx(-0.0025)


def test_liquidations_count_the_times_the_account_was_liquidated_not_the_fills():
    trades = [
        TradeRecord(0, "BTC", "buy", D("1"), D(100), D(0)),
        TradeRecord(H, "BTC", "sell", D("1"), D(80), D(0), closed_pnl=D(-20), liquidation=True),
        TradeRecord(H, "ETH", "buy", D("1"), D(50), D(0), closed_pnl=D(-5), liquidation=True),  # the same event
        TradeRecord(2 * H, "SOL", "sell", D("1"), D(10), D(0), closed_pnl=D(-1)),  # an ordinary close
        TradeRecord(3 * H, "SOL", "buy", D("1"), D(12), D(0), closed_pnl=D(-2), liquidation=True),
    ]
    assert compute_metrics(curve([100, 75, 74, 72]), trades).liquidations == 2
    assert compute_metrics(curve([100, 75, 74, 72]), trades[:1]).liquidations == 0


def test_exposure_and_leverage():
    m = compute_metrics(curve([100, 100, 100, 100], gross=[0, 50, 200, 0]))
    assert m.exposure == pytest.approx(0.5)
    assert m.avg_gross_leverage == pytest.approx((0 + 0.5 + 2 + 0) / 4)


def test_per_plan_and_switches():
    c = curve([100, 110, 105, 120, 118], plans=["p1", "p1", "p2", "p2", "p1"], strategies=["trend", "trend", "carry", "carry", "trend"])
    trades = [TradeRecord(H, "BTC", "buy", D(1), D(10), D("0.1"), plan_id="p1", strategy_id="trend")]
    funding = [FundingEvent(2 * H, "BTC", D("-0.2"), plan_id="p2", strategy_id="carry")]
    m = compute_metrics(c, trades, funding)
    by_plan = {g.key: g for g in m.per_plan}
    # a bar's change goes to whoever was in charge at its start:
    # p1: 100->110 (+10), 110->105 (-5); p2: 105->120 (+15), 120->118 (-2)
    assert by_plan["p1"].pnl_usd == D(5) and by_plan["p1"].bars == 2
    assert by_plan["p2"].pnl_usd == D(13) and by_plan["p2"].bars == 2
    assert by_plan["p1"].fees_usd == D("0.1") and by_plan["p1"].n_trades == 1
    assert by_plan["p2"].funding_usd == D("-0.2")
    assert {g.key for g in m.per_strategy} == {"trend", "carry"}
    assert m.plan_switches == 2
    assert m.plan_switches_per_day == pytest.approx(2 / (4 / 24))


def test_buy_and_hold_by_hand():
    bh = buy_and_hold_curve({"BTC": [D(100), D(120)], "ETH": [D(10), D(5)]}, D(1000))
    # 500 buys 5 BTC, 500 buys 50 ETH: 5*120 + 50*5 = 850
    assert bh == [D(1000), D(850)]
    m = compute_metrics(curve([1000, 900]), benchmark=bh)
    assert m.buy_and_hold_return == pytest.approx(-0.15)
    assert m.excess_vs_buy_and_hold == pytest.approx(-0.1 + 0.15)


def test_versus_another_curve_by_hand():
    from hyperliquid_agent.backtest.metrics import versus

    assert versus(0.10, [D(1000), D(950), D(1040)]) == (pytest.approx(0.04), pytest.approx(0.06))
    assert versus(0.10, None) == (None, None) and versus(0.10, []) == (None, None)


def test_no_closing_trades_gives_no_win_rate():
    m = compute_metrics(curve([100, 101]))
    assert m.win_rate is None and m.profit_factor is None
    assert m.sharpe == 0.0  # one return: no spread to measure


def test_count_switches_ignores_gaps():
    assert count_switches([None, "a", None, "a", "b", "b", "a"]) == 2


def test_annualize_wiped_out():
    assert annualize(-1.0, MS_PER_YEAR) == -1.0
    assert annualize(0.1, MS_PER_YEAR) == pytest.approx(0.1)


money = st.decimals(min_value=D(1), max_value=D(10**7), places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(money, min_size=1, max_size=60))
def test_drawdown_bounds(values):
    dd = drawdown_series(values)
    assert all(0.0 <= x < 1.0 for x in dd)
    assert max_drawdown(values) == max(dd)
    # the running peak has no drawdown
    peak = D(0)
    for v, d in zip(values, dd):
        if v >= peak:
            assert d == 0.0
            peak = v


@settings(max_examples=100, deadline=None)
@given(st.lists(money, min_size=2, max_size=60))
def test_total_return_matches_ends(values):
    m = compute_metrics([EquityPoint(i * H, v) for i, v in enumerate(values)])
    assert m.pnl_usd == values[-1] - values[0]
    assert m.total_return == pytest.approx(float(values[-1] / values[0] - 1))
    if sorted(values) == list(values):
        assert m.max_drawdown == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(money, st.sampled_from(["a", "b", "c"])), min_size=2, max_size=50))
def test_per_plan_pnl_adds_up_to_the_total(rows):
    curve = [EquityPoint(i * H, v, D(0), p, p) for i, (v, p) in enumerate(rows)]
    m = compute_metrics(curve)
    assert sum((g.pnl_usd for g in m.per_plan), D(0)) == m.pnl_usd
    assert sum(g.bars for g in m.per_plan) == len(rows) - 1
    assert m.plan_switches == sum(1 for a, b in zip(rows, rows[1:]) if a[1] != b[1])
