"""The per-plan and per-strategy rows add up to the run's totals, also when some bars, fills or
funding happened under no plan (an LLM decision in standard mode that names no strategy)."""

from __future__ import annotations

from decimal import Decimal as D

from hyperliquid_agent.backtest.metrics import NO_KEY, EquityPoint, FundingEvent, TradeRecord, compute_metrics

H = 3_600_000


def test_what_happened_under_no_plan_is_a_row_so_the_rows_add_up():
    curve = [EquityPoint(0, D(1000)), EquityPoint(H, D(1000), D(500), "p1", "s1"),
             EquityPoint(2 * H, D(1010), D(500), None, None), EquityPoint(3 * H, D(1004), D(500), "p1", "s1"),
             EquityPoint(4 * H, D(1007), D(500), "p1", "s1")]
    trades = [TradeRecord(H, "BTC", "buy", D("0.01"), D(50000), D("0.2"), D(0), "p1", "s1"),
              TradeRecord(3 * H, "BTC", "sell", D("0.001"), D(50000), D("0.1"), D(1), None, None)]
    funding = [FundingEvent(3 * H, "BTC", D("-0.05"), None, None), FundingEvent(4 * H, "BTC", D("0.02"), "p1", "s1")]
    m = compute_metrics(curve, trades, funding)
    for groups in (m.per_plan, m.per_strategy):
        rows = {g.key: g for g in groups}
        assert set(rows) == {NO_KEY, "p1"} or set(rows) == {NO_KEY, "s1"}
        assert rows[NO_KEY].pnl_usd == D(-6) and rows[NO_KEY].bars == 2 and rows[NO_KEY].n_trades == 1
        assert sum((g.pnl_usd for g in groups), D(0)) == m.pnl_usd == D(7)
        assert sum((g.fees_usd for g in groups), D(0)) == m.fees_usd
        assert sum((g.funding_usd for g in groups), D(0)) == m.funding_received_usd - m.funding_paid_usd
        assert sum(g.n_trades for g in groups) == m.n_trades


def test_flat_bars_before_the_first_plan_make_no_row():
    curve = [EquityPoint(0, D(1000)), EquityPoint(H, D(1000)), EquityPoint(2 * H, D(1000), D(0), "p1", "s1"),
             EquityPoint(3 * H, D(1003), D(100), "p1", "s1")]
    m = compute_metrics(curve)
    assert [g.key for g in m.per_plan] == ["p1"] and m.per_plan[0].pnl_usd == D(3)
