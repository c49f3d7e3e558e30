"""The HTML report reads right on the runs a user makes first: a short one with a tiny drawdown,
one that never trades, one with no plan change."""

from __future__ import annotations

import re
from decimal import Decimal as D

from hyperliquid_agent.backtest import report
from hyperliquid_agent.backtest.metrics import EquityPoint, compute_metrics
from hyperliquid_agent.backtest.results import BacktestResult, Curve, PlanChange, RunParams, metrics_to_dict

H = 3_600_000


def result(equity, positions, changes=()) -> BacktestResult:
    pts = [EquityPoint(i * H, D(e)) for i, e in enumerate(equity)]
    n = len(pts)
    return BacktestResult(
        run_id="r", params=RunParams(start="2025-01-01", end="2025-01-02", coins=["BTC"]),
        metrics=metrics_to_dict(compute_metrics(pts, [], llm_cost_usd=D(0))),
        curve=Curve(t_ms=[p.t_ms for p in pts], equity=[p.equity for p in pts], gross_notional=[D(0)] * n,
                    plan_id=[None] * n, strategy_id=[None] * n, regime=["range-bound"] * n,
                    positions={"BTC": [D(p) for p in positions]}, closes={"BTC": [D(100)] * n}),
        plan_changes=list(changes),
    )


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'<text x="2" [^>]*>([^<]+)</text>', svg)


def test_a_tiny_drawdown_and_a_small_equity_move_get_axis_labels_that_differ():
    r = result(["10000", "10000", "9999.74", "9999.80"], ["0", "0", "0.5", "0.5"])
    dd = axis_labels(report.drawdown_chart(r))
    assert len(set(dd)) == 3, dd  # (were "0.0 %", "-0.0 %", "-0.0 %")
    assert dd[-1] == "0.0000 %" and not any(label.startswith("-0.0000") for label in dd)
    eq = axis_labels(report.equity_chart(r))
    assert eq == ["9,999.74", "9,999.87", "10,000.00"]  # (were "10,000" three times)
    assert axis_labels(report.equity_chart(result(["9005", "13228"], ["0", "0"]))) == ["9,005", "11,116", "13,228"]


def test_a_run_that_never_traded_says_so_instead_of_drawing_flat_lines():
    r = result(["10000"] * 5, ["0"] * 5)
    assert report.positions_chart(r) == "<p>no position was held</p>"
    assert "plan change" not in report.equity_chart(r)  # no marker, no legend entry for one
    changed = result(["10000"] * 5, ["0"] * 5, [PlanChange(t_ms=H, plan_id="p-1", strategy_id="p")])
    assert "plan change" in report.equity_chart(changed)
    timeline = report.regime_timeline(r)
    assert "1970-01-01 00:00" in timeline and "1970-01-01 04:00" in timeline  # the timeline's dates


def test_a_baseline_run_is_not_said_to_have_made_llm_calls():
    r = result(["10000"] * 3, ["0"] * 3).model_copy(update={"llm_calls": 2})
    page = report.render_html(r)
    assert "decided by the offline baseline policy (no LLM)" in page and "LLM calls" not in page
    paid = r.model_copy(update={"params": r.params.model_copy(update={"provider": "openai", "model": "gpt-4o-mini"})})
    assert "LLM calls 2" in report.render_html(paid)


def test_the_report_names_the_settings_that_tell_two_runs_apart():
    """Two runs differing only in `--set risk.max_leverage` (or the seed, the cap, the strategies)
    headed their reports alike: the overrides were in results.json only."""
    r = result(["10000"] * 3, ["0"] * 3)
    params = r.params.model_copy(update={"overrides": {"risk.max_leverage": 2, "llm.api_key": "[REDACTED]"},
                                         "seed": 11, "max_cost_usd": D("2.5"), "strategies": ["funding-carry"]})
    page = report.render_html(r.model_copy(update={"params": params}))
    for text in ("risk.max_leverage=2", "llm.api_key=[REDACTED]", "seed 11", "LLM spend cap $2.50",
                 "strategies funding-carry", f"end {params.end} exclusive", "start equity $10,000.00"):
        assert text in page, text
