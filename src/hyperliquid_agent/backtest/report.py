"""A self-contained HTML report of one run, with inline SVG charts (no plotting dependency).

Charts: equity curve (with buy-and-hold), drawdown, signed position notional per coin,
regime timeline, plan changes (markers on the equity chart and a table). Long curves
are thinned to at most `MAX_POINTS` points per series so the file stays small.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Sequence

from hyperliquid_agent.backtest.metrics import drawdown_series
from hyperliquid_agent.backtest.results import (
    HEADLINE,
    BacktestResult,
    RunParams,
    format_value,
    iter_groups,
    make_output_dir,
    write_text,
)
from hyperliquid_agent.decimal_text import usd_text
from hyperliquid_agent.times import utc_minute

MAX_POINTS = 1200
W, H, PAD = 960, 220, 40
LEFT = 64  # room for the value labels left of a chart ("10,000.00", "-0.0026 %")
REPORT_FILE = "report.html"

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
REGIME_COLORS = {
    "trending-bull": "#2ca02c",
    "trending-bear": "#d62728",
    "range-bound": "#7f7f7f",
    "carry-friendly": "#17becf",
    "high-volatility": "#ff7f0e",
    "event-risk": "#9467bd",
}


def _thin(n: int) -> list[int]:
    if n <= MAX_POINTS:
        return list(range(n))
    step = n / MAX_POINTS
    idx = sorted({int(i * step) for i in range(MAX_POINTS)} | {n - 1})
    return idx


class _Frame:
    """Maps (time, value) to SVG coordinates for one chart."""

    def __init__(self, t0: int, t1: int, lo: float, hi: float, height: int = H) -> None:
        if hi <= lo:  # a flat series: give it some room
            lo, hi = lo - 1.0, lo + 1.0
        self.t0, self.t1, self.lo, self.hi, self.h = t0, max(t1, t0 + 1), lo, hi, height

    def x(self, t: int) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * (W - LEFT - PAD)

    def y(self, v: float) -> float:
        return self.h - PAD / 2 - (v - self.lo) / (self.hi - self.lo) * (self.h - PAD)


def _polyline(frame: _Frame, ts: Sequence[int], vs: Sequence[float], color: str, width: float = 1.5) -> str:
    pts = " ".join(f"{frame.x(ts[i]):.1f},{frame.y(vs[i]):.1f}" for i in _thin(len(ts)))
    return f'<polyline fill="none" stroke="{color}" stroke-width="{width}" points="{pts}"/>'


def _decimals(lo: float, hi: float) -> int:
    """Decimals for an axis whose three labels (lo, middle, hi) must read differently: none for
    a span of 20 or more, up to 4 for a tiny one (a drawdown of a few hundredths of a per cent)."""
    half = (hi - lo) / 2
    if not half > 0 or half >= 10:
        return 0
    return min(4, max(0, 1 - math.floor(math.log10(half))))


def _axes(frame: _Frame, unit: str = "") -> str:
    parts = [f'<rect x="{LEFT}" y="{PAD / 2}" width="{W - LEFT - PAD}" height="{frame.h - PAD}" fill="none" stroke="#ccc"/>']
    places = _decimals(frame.lo, frame.hi)
    for v in (frame.lo, (frame.lo + frame.hi) / 2, frame.hi):
        y = frame.y(v)
        label = f"{v + 0.0:,.{places}f}{unit}"  # (+ 0.0: no "-0")
        parts.append(f'<text x="2" y="{y + 4:.1f}" font-size="10">{html.escape(label)}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{W - PAD}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    parts.append(f'<text x="{LEFT}" y="{frame.h - 2}" font-size="10">{utc_minute(frame.t0)}</text>')
    parts.append(f'<text x="{W - PAD}" y="{frame.h - 2}" font-size="10" text-anchor="end">{utc_minute(frame.t1)}</text>')
    return "".join(parts)


def _svg(body: str, height: int = H) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}">{body}</svg>'


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return " ".join(
        f'<span style="color:{c}">&#9632;</span> {html.escape(label)}' for label, c in items
    )


def equity_chart(r: BacktestResult) -> str:
    c = r.curve
    if not c.t_ms:
        return "<p>no bars</p>"
    eq = [float(e) for e in c.equity]
    bh = [float(e) for e in c.benchmark]
    base = [float(e) for e in c.baseline]
    vals = eq + bh + base
    f = _Frame(c.t_ms[0], c.t_ms[-1], min(vals), max(vals))
    body = _axes(f) + _polyline(f, c.t_ms, eq, _COLORS[0])
    legend = [("equity", _COLORS[0])]
    if bh:
        body += _polyline(f, c.t_ms[: len(bh)], bh, "#999", 1.0)
        legend.append(("buy and hold", "#999"))
    if base:
        body += _polyline(f, c.t_ms[: len(base)], base, _COLORS[2], 1.0)
        legend.append(("baseline provider", _COLORS[2]))
    for ch in r.plan_changes:
        x = f.x(ch.t_ms)
        label = html.escape(ch.strategy_id or ch.plan_id)
        body += f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD / 2}" y2="{H - PAD / 2}" stroke="#f0a" stroke-dasharray="3,3"><title>{utc_minute(ch.t_ms)} {label}</title></line>'
    if r.plan_changes:
        legend.append(("plan change", "#f0a"))
    return _svg(body) + "<div>" + _legend(legend) + "</div>"


def drawdown_chart(r: BacktestResult) -> str:
    c = r.curve
    if not c.t_ms:
        return ""
    dd = [-x * 100 for x in drawdown_series(c.equity)]
    f = _Frame(c.t_ms[0], c.t_ms[-1], min(dd + [-0.01]), 0.0, height=160)
    pts = " ".join(f"{f.x(c.t_ms[i]):.1f},{f.y(dd[i]):.1f}" for i in _thin(len(dd)))
    x0, x1, y0 = f.x(c.t_ms[0]), f.x(c.t_ms[-1]), f.y(0.0)
    body = _axes(f, " %") + f'<polygon fill="#d62728" fill-opacity="0.35" stroke="#d62728" points="{x0:.1f},{y0:.1f} {pts} {x1:.1f},{y0:.1f}"/>'
    return _svg(body, 160)


def positions_chart(r: BacktestResult) -> str:
    c = r.curve
    if not c.t_ms or not c.positions:
        return ""
    series: list[tuple[str, list[float]]] = []
    for coin, sizes in sorted(c.positions.items()):
        closes = c.closes.get(coin) or []
        if len(closes) == len(sizes):
            series.append((coin, [float(s * p) for s, p in zip(sizes, closes)]))
        else:
            series.append((coin, [float(s) for s in sizes]))
    vals = [v for _, s in series for v in s] + [0.0]
    if not any(vals):
        return "<p>no position was held</p>"
    f = _Frame(c.t_ms[0], c.t_ms[-1], min(vals), max(vals))
    body = _axes(f)
    y0 = f.y(0.0)
    body += f'<line x1="{LEFT}" x2="{W - PAD}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="#888"/>'
    legend = []
    for i, (coin, s) in enumerate(series):
        color = _COLORS[i % len(_COLORS)]
        body += _polyline(f, c.t_ms, s, color, 1.2)
        legend.append((f"{coin} signed notional (USD)", color))
    return _svg(body) + "<div>" + _legend(legend) + "</div>"


def regime_timeline(r: BacktestResult) -> str:
    c = r.curve
    if not c.t_ms or not any(c.regime):
        return ""
    height, band = 52, 30
    f = _Frame(c.t_ms[0], c.t_ms[-1], 0.0, 1.0, height=height)
    body, start = [], 0
    regimes = c.regime
    for i in range(1, len(regimes) + 1):
        if i == len(regimes) or regimes[i] != regimes[start]:
            name = regimes[start]
            if name:
                x0 = f.x(c.t_ms[start])
                x1 = f.x(c.t_ms[i]) if i < len(regimes) else W - PAD
                color = REGIME_COLORS.get(name, "#444")
                body.append(
                    f'<rect x="{x0:.1f}" y="5" width="{max(x1 - x0, 0.5):.1f}" height="{band}" fill="{color}">'
                    f"<title>{html.escape(name)} from {utc_minute(c.t_ms[start])}</title></rect>"
                )
            start = i
    body.append(f'<text x="{LEFT}" y="{height - 2}" font-size="10">{utc_minute(c.t_ms[0])}</text>'
                f'<text x="{W - PAD}" y="{height - 2}" font-size="10" text-anchor="end">{utc_minute(c.t_ms[-1])}</text>')
    seen = sorted({x for x in regimes if x})
    legend = _legend([(n, REGIME_COLORS.get(n, "#444")) for n in seen])
    return _svg("".join(body), height) + f"<div>{legend}</div>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metrics_table(r: BacktestResult) -> str:
    base = r.baseline_metrics
    headers = ["metric", "this run"] + (["baseline provider"] if base else [])
    rows = []
    for key, label, kind in HEADLINE:
        row = [label, format_value(r.metrics.get(key), kind)]
        if base:
            row.append(format_value(base.get(key), kind))
        rows.append(row)
    return _table(headers, rows)


def _group_table(r: BacktestResult, which: str) -> str:
    rows = [
        [g["key"], str(g["bars"]), format_value(g["pnl_usd"], "usd"), format_value(g["fees_usd"], "usd"),
         format_value(g["funding_usd"], "usd"), str(g["n_trades"]), format_value(g["max_drawdown"], "pct")]
        for g in iter_groups(r.metrics, which)
    ]
    if not rows:
        return "<p>none</p>"
    return _table(["id", "bars", "PnL", "fees", "funding", "trades", "max drawdown"], rows)


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}h2{margin-top:28px}.warn{color:#a60}
"""


def _settings_line(p: RunParams) -> str:
    """The run's other settings (the end is exclusive; overrides as results.json keeps them, secrets
    redacted): two runs that differ only in a `--set` would otherwise head their reports alike."""
    parts = [f"end {html.escape(p.end)} exclusive", f"start equity {html.escape(usd_text(p.start_equity_usd))}"]
    if p.seed is not None:
        parts.append(f"seed {p.seed}")
    if p.max_cost_usd is not None:
        parts.append(f"LLM spend cap {html.escape(usd_text(p.max_cost_usd))}")
    if p.strategies:
        parts.append("strategies " + html.escape(", ".join(p.strategies)))
    parts += [f"{html.escape(str(k))}={html.escape(str(v))}" for k, v in p.overrides.items()]
    return "<br>" + " &middot; ".join(parts)


def render_html(r: BacktestResult) -> str:
    p = r.params
    title = f"hl-agent backtest {r.run_id}"
    warnings = "".join(f'<p class="warn">&#9888; {html.escape(w)}</p>' for w in r.warnings)
    if r.stopped_early:
        warnings += f'<p class="warn">&#9888; stopped early: {html.escape(r.stopped_early)}</p>'
    changes = _table(
        ["time", "plan", "strategy", "previous plan"],
        [[utc_minute(c.t_ms), c.plan_id, c.strategy_id or "", c.previous_plan_id or ""] for c in r.plan_changes],
    ) if r.plan_changes else "<p>none</p>"
    summary = (
        f"{html.escape(', '.join(p.coins))} &middot; {html.escape(p.start)} to {html.escape(p.end)} &middot; "
        f"{html.escape(p.interval)} &middot; mode {html.escape(p.mode)} &middot; provider {html.escape(p.provider)}"
        f"{(' (' + html.escape(p.model) + ')') if p.model else ''} &middot; data {html.escape(p.data)} &middot; "
        f"fill latency {p.fill_latency_bars} bar(s) &middot; "
        + ("decided by the offline baseline policy (no LLM)" if p.provider == "baseline" else f"LLM calls {r.llm_calls}")
        + _settings_line(p)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{summary}</p>{warnings}"
        f"<h2>Metrics</h2>{_metrics_table(r)}"
        f"<h2>Equity</h2>{equity_chart(r)}<h2>Drawdown</h2>{drawdown_chart(r)}"
        f"<h2>Positions</h2>{positions_chart(r)}<h2>Regime timeline</h2>{regime_timeline(r) or '<p>no regime recorded</p>'}"
        f"<h2>Plan changes</h2>{changes}"
        f"<h2>Per plan</h2>{_group_table(r, 'per_plan')}<h2>Per strategy</h2>{_group_table(r, 'per_strategy')}"
        "</body></html>\n"
    )


def write_report(r: BacktestResult, out_dir: str | Path) -> Path:
    path = make_output_dir(out_dir) / REPORT_FILE
    write_text(path, render_html(r))
    return path
