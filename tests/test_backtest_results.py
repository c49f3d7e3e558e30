"""results.json round trips exactly; compare lines two runs up; the HTML report is self-contained."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from hyperliquid_agent.backtest import report, results
from hyperliquid_agent.backtest.metrics import EquityPoint, TradeRecord, compute_metrics
from hyperliquid_agent.backtest.results import (
    BacktestResult,
    Curve,
    PlanChange,
    RunParams,
    compare,
    metrics_from_dict,
    metrics_to_dict,
)
from hyperliquid_agent.errors import ConfigError

H = 3_600_000


def make_result(values, run_id="r1", strategy="slow-trend") -> BacktestResult:
    pts = [EquityPoint(i * H, D(str(v)), D(50), "plan-1", strategy) for i, v in enumerate(values)]
    trades = [TradeRecord(H, "BTC", "sell", D("0.1"), D(100), D("0.0045"), D(3), "plan-1", strategy)]
    m = compute_metrics(pts, trades, llm_cost_usd=D("0.01"))
    n = len(values)
    return BacktestResult(
        run_id=run_id,
        params=RunParams(start="2025-01-01", end="2025-01-02", coins=["BTC"], provider="baseline"),
        metrics=metrics_to_dict(m),
        curve=Curve(
            t_ms=[p.t_ms for p in pts],
            equity=[p.equity for p in pts],
            gross_notional=[p.gross_notional for p in pts],
            plan_id=[p.plan_id for p in pts],
            strategy_id=[p.strategy_id for p in pts],
            regime=["trending-bull"] * (n // 2) + ["range-bound"] * (n - n // 2),
            positions={"BTC": [D("-0.5")] * n},
            closes={"BTC": [D(100)] * n},
            benchmark=[D(str(v)) for v in values],
        ),
        trades=trades,
        plan_changes=[PlanChange(t_ms=0, plan_id="plan-1", strategy_id=strategy)],
        warnings=["window precedes the knowledge cutoff"],
    )


def test_save_load_round_trip_is_exact(tmp_path):
    r = make_result([1000, 1010.5, 990.25, 1020])
    path = results.save(r, tmp_path / "run")
    back = results.load(tmp_path / "run")
    assert back == r
    assert back.trades[0].fee == D("0.0045")
    assert back.curve.positions["BTC"][0] == D("-0.5")  # the sign survives
    typed = back.typed_metrics()
    assert typed.end_equity == D(1020) and typed.llm_cost_usd == D("0.01")
    assert typed == metrics_from_dict(metrics_to_dict(typed))
    # same content, same bytes
    assert results.dumps(back) == path.read_text()


def test_infinite_profit_factor_survives_json(tmp_path):
    r = make_result([100, 101])  # only a winning closing trade: profit factor is infinite
    assert r.metrics["profit_factor"] == "inf"
    results.save(r, tmp_path)
    assert results.load(tmp_path).typed_metrics().profit_factor == float("inf")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no backtest results"):
        results.load(tmp_path / "missing")
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=str(bad)):
        results.load(bad)
    bad.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ConfigError, match="schema version 99"):
        results.load(tmp_path)
    bad.write_text(json.dumps({"schema_version": 1, "run_id": "x"}))
    with pytest.raises(ConfigError, match="params"):
        results.load(tmp_path)


def test_compare_diffs_b_minus_a():
    a = make_result([1000, 1100], run_id="a")
    b = make_result([1000, 1050], run_id="b")
    rows = {row.key: row for row in compare(a, b)}
    assert rows["total_return"].diff == pytest.approx(0.05 - 0.10)
    assert rows["end_equity"].diff == "-50"  # money: an exact decimal string
    assert rows["n_trades"].diff == 0 and isinstance(rows["n_trades"].diff, int)
    assert results.format_value(rows["total_return"].a, "pct") == "10.00 %"
    assert results.format_value(rows["end_equity"].b, "usd") == "$1,050.00"


def test_report_is_self_contained_html(tmp_path):
    r = make_result([1000 + (i % 7) * 3 - i for i in range(3000)], strategy="<script>x</script>")
    path = report.write_report(r, tmp_path)
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert text.count("<svg") >= 4  # equity, drawdown, positions, regime timeline
    assert "<script>x</script>" not in text and "&lt;script&gt;" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "trending-bull" in text and "range-bound" in text
    # long curves are thinned
    biggest = max(len(seg.split("\"")[0].split(" ")) for seg in text.split('points="')[1:])
    assert biggest <= report.MAX_POINTS + 3
    assert "knowledge cutoff" in text
    # every plotted point sits inside its chart
    import re

    for svg in re.findall(r"<svg.*?</svg>", text, re.S):
        w, h = map(float, re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
        for seg in re.findall(r'points="([^"]+)"', svg):
            for x, y in (map(float, p.split(",")) for p in seg.split()):
                assert 0 <= x <= w and 0 <= y <= h


def test_an_amount_under_a_cent_is_not_shown_as_zero():
    """A recording run of 13 gpt-4o-mini calls spent $0.00468: its table read "LLM cost $0.00", as
    the free replay of it does."""
    assert results.format_value("0.00468", "usd") == "$0.0047"
    assert results.format_value("-0.004", "usd") == "-$0.0040"
    assert results.format_value("0.000001", "usd") == "$0.0000010"
    assert results.format_value("0", "usd") == "$0.00"
    assert results.format_value("0.0575", "usd") == "$0.06"
    assert results.format_value("1234.5", "usd") == "$1,234.50"
