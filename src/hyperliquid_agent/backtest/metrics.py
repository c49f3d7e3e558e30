"""Backtest metrics from an equity curve, trades and funding events (pure).

Money (equity, fees, funding, PnL, costs) stays `Decimal`; ratios (returns, Sharpe,
drawdown) are floats. Conventions:

- returns are fractions (0.05 = +5 %); annualization uses 365-day years and the
  median spacing of the equity curve as the bar length;
- Sharpe and Sortino use per-bar simple returns with a zero risk-free rate;
  Sortino's downside deviation is sqrt(mean(min(r, 0)^2)) over all bars;
- win rate and profit factor count closing fills (`closed_pnl != 0`) and use their
  realized PnL net of that fill's fee;
- a funding event's `amount` is signed from the account's side: > 0 received, < 0 paid;
- exposure is the share of bars with any open position; `avg_gross_leverage` is the
  mean of gross notional / equity;
- turnover is traded notional / average equity over the whole run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from typing import Iterable, Sequence

from hyperliquid_agent.domain.values import ZERO

MS_PER_DAY = 86_400_000
MS_PER_YEAR = 365 * MS_PER_DAY


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The account at the close of one bar, and who was in charge."""

    t_ms: int
    equity: Decimal
    gross_notional: Decimal = ZERO
    plan_id: str | None = None
    strategy_id: str | None = None


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill. `size` is unsigned; `side` is "buy" or "sell"."""

    t_ms: int
    coin: str
    side: str
    size: Decimal
    price: Decimal
    fee: Decimal
    closed_pnl: Decimal = ZERO
    plan_id: str | None = None
    strategy_id: str | None = None
    liquidation: bool = False  # the venue model liquidated the account with this fill

    @property
    def notional(self) -> Decimal:
        return self.size * self.price


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """One hourly funding payment; `amount` > 0 received, < 0 paid."""

    t_ms: int
    coin: str
    amount: Decimal
    plan_id: str | None = None
    strategy_id: str | None = None


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    """What one plan or one strategy did while it was in charge."""

    key: str
    bars: int
    pnl_usd: Decimal
    fees_usd: Decimal
    funding_usd: Decimal
    n_trades: int
    traded_notional_usd: Decimal
    max_drawdown: float


@dataclass(frozen=True, slots=True)
class Metrics:
    start_equity: Decimal
    end_equity: Decimal
    pnl_usd: Decimal
    total_return: float
    annualized_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    win_rate: float | None
    profit_factor: float | None
    exposure: float
    avg_gross_leverage: float
    turnover: float
    traded_notional_usd: Decimal
    n_trades: int
    fees_usd: Decimal
    funding_paid_usd: Decimal
    funding_received_usd: Decimal
    llm_cost_usd: Decimal
    net_return_after_llm: float
    days: float
    plan_switches: int
    plan_switches_per_day: float
    buy_and_hold_return: float | None = None
    excess_vs_buy_and_hold: float | None = None
    baseline_return: float | None = None  # the baseline provider's total return on the same window
    excess_vs_baseline: float | None = None
    liquidations: int = 0  # times the venue model liquidated the account (all its positions at once)
    per_plan: tuple[GroupMetrics, ...] = field(default_factory=tuple)
    per_strategy: tuple[GroupMetrics, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- return series


def bar_returns(equity: Sequence[Decimal]) -> list[float]:
    """Simple per-bar returns; a bar that starts at zero or less equity returns -1 (wiped out)."""
    out: list[float] = []
    prev = None
    for e in equity:
        if prev is not None:
            out.append(float(e / prev - 1) if prev > 0 else -1.0)
        prev = e
    return out


def bar_ms(times: Sequence[int]) -> int:
    """The typical bar length: the median spacing of the timestamps (1 h when unknown)."""
    if len(times) < 2:
        return 3_600_000
    return int(median(b - a for a, b in zip(times, times[1:]))) or 3_600_000


def annualize(total_return: float, span_ms: int) -> float:
    """Compound a total return over `span_ms` to a yearly rate."""
    if span_ms <= 0:
        return 0.0
    if total_return <= -1:
        return -1.0
    years = span_ms / MS_PER_YEAR
    try:
        return (1 + total_return) ** (1 / years) - 1
    except OverflowError:
        return math.inf


def sharpe_ratio(returns: Sequence[float], periods_per_year: float) -> float:
    """Annualized mean / standard deviation (population) of per-bar returns; 0 when flat."""
    n = len(returns)
    if n < 2:
        return 0.0
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / n
    if var <= 0:
        return 0.0
    return mean / math.sqrt(var) * math.sqrt(periods_per_year)


def sortino_ratio(returns: Sequence[float], periods_per_year: float) -> float:
    """Annualized mean / downside deviation; 0 when there is no downside or no data."""
    n = len(returns)
    if n < 2:
        return 0.0
    mean = sum(returns) / n
    down = sum(min(r, 0.0) ** 2 for r in returns) / n
    if down <= 0:
        return 0.0
    return mean / math.sqrt(down) * math.sqrt(periods_per_year)


def drawdown_series(equity: Sequence[Decimal]) -> list[float]:
    """Per bar: fraction below the running peak (0 at a new high, 0.25 = 25 % under)."""
    out: list[float] = []
    peak: Decimal | None = None
    for e in equity:
        if peak is None or e > peak:
            peak = e
        out.append(float(1 - e / peak) if peak > 0 else 0.0)
    return out


def max_drawdown(equity: Sequence[Decimal]) -> float:
    return max(drawdown_series(equity), default=0.0)


def buy_and_hold_curve(
    closes: dict[str, Sequence[Decimal]], start_equity: Decimal
) -> list[Decimal]:
    """Equal weights at the first close, held to the end, no fees: the benchmark curve.

    Every coin's series must be aligned on the same bars.
    """
    if not closes:
        return []
    n = min(len(v) for v in closes.values())
    if n == 0:
        return []
    share = start_equity / len(closes)
    units = {c: share / v[0] for c, v in closes.items()}
    return [sum((units[c] * v[i] for c, v in closes.items()), ZERO) for i in range(n)]


# ---------------------------------------------------------------- grouping


def _group(
    key_of: str,
    curve: Sequence[EquityPoint],
    trades: Sequence[TradeRecord],
    funding: Sequence[FundingEvent],
) -> tuple[GroupMetrics, ...]:
    """PnL per plan/strategy: each bar's equity change is credited to whoever was in charge
    at the start of that bar (the previous point's key). What happened under no plan (a
    decision that named no strategy) forms a row `NO_KEY` when it moved money or traded, so
    the rows add up to the run's totals."""
    pnl: dict[str, Decimal] = {}
    bars: dict[str, int] = {}
    eq_path: dict[str, list[Decimal]] = {}
    for prev, cur in zip(curve, curve[1:]):
        k = getattr(prev, key_of) or NO_KEY
        pnl[k] = pnl.get(k, ZERO) + (cur.equity - prev.equity)
        bars[k] = bars.get(k, 0) + 1
        path = eq_path.setdefault(k, [ZERO])
        path.append(path[-1] + (cur.equity - prev.equity))
    fees: dict[str, Decimal] = {}
    n_trades: dict[str, int] = {}
    notional: dict[str, Decimal] = {}
    for t in trades:
        k = getattr(t, key_of) or NO_KEY
        fees[k] = fees.get(k, ZERO) + t.fee
        n_trades[k] = n_trades.get(k, 0) + 1
        notional[k] = notional.get(k, ZERO) + t.notional
    fund: dict[str, Decimal] = {}
    for f in funding:
        k = getattr(f, key_of) or NO_KEY
        fund[k] = fund.get(k, ZERO) + f.amount
    start = curve[0].equity if curve else ZERO
    keys = sorted(set(pnl) | set(fees) | set(fund))
    if NO_KEY in keys and not (pnl.get(NO_KEY) or fees.get(NO_KEY) or fund.get(NO_KEY) or n_trades.get(NO_KEY)):
        keys.remove(NO_KEY)  # flat bars before the first plan: nothing to show
    out = []
    for k in keys:
        # drawdown of the key's own cumulative PnL, measured on the starting equity
        path = [start + x for x in eq_path.get(k, [ZERO])]
        out.append(
            GroupMetrics(
                key=k,
                bars=bars.get(k, 0),
                pnl_usd=pnl.get(k, ZERO),
                fees_usd=fees.get(k, ZERO),
                funding_usd=fund.get(k, ZERO),
                n_trades=n_trades.get(k, 0),
                traded_notional_usd=notional.get(k, ZERO),
                max_drawdown=max_drawdown(path) if start > 0 else 0.0,
            )
        )
    return tuple(out)


NO_KEY = "(none)"  # the per-plan / per-strategy row of what happened under no plan


def versus(total_return: float, other: Sequence[Decimal] | None) -> tuple[float | None, float | None]:
    """(the other curve's total return, this run's excess over it); (None, None) without a curve."""
    if not other:
        return None, None
    theirs = float(other[-1] / other[0] - 1) if other[0] > 0 else 0.0
    return theirs, total_return - theirs


def count_switches(keys: Iterable[str | None]) -> int:
    """How many times the (non-empty) key changes from one value to another."""
    switches = 0
    last: str | None = None
    for k in keys:
        if k is None:
            continue
        if last is not None and k != last:
            switches += 1
        last = k
    return switches


# ---------------------------------------------------------------- summary


def compute_metrics(
    curve: Sequence[EquityPoint],
    trades: Sequence[TradeRecord] = (),
    funding: Sequence[FundingEvent] = (),
    llm_cost_usd: Decimal = ZERO,
    benchmark: Sequence[Decimal] | None = None,
) -> Metrics:
    """Every headline figure of a run. `benchmark` is a buy-and-hold equity curve on the same bars."""
    if not curve:
        raise ValueError("an equity curve needs at least one point")
    equity = [p.equity for p in curve]
    times = [p.t_ms for p in curve]
    start, end = equity[0], equity[-1]
    span = times[-1] - times[0]
    step = bar_ms(times)
    per_year = MS_PER_YEAR / step
    rets = bar_returns(equity)
    total = float(end / start - 1) if start > 0 else 0.0
    ann = annualize(total, span)
    mdd = max_drawdown(equity)
    calmar = ann / mdd if mdd > 0 else 0.0

    closing = [t.closed_pnl - t.fee for t in trades if t.closed_pnl != 0]
    wins = [x for x in closing if x > 0]
    losses = [x for x in closing if x < 0]
    win_rate = len(wins) / len(closing) if closing else None
    gross_loss = -sum(losses, ZERO)
    profit_factor = float(sum(wins, ZERO) / gross_loss) if gross_loss > 0 else (math.inf if wins else None)

    exposure = sum(1 for p in curve if p.gross_notional != 0) / len(curve)
    lev = [float(p.gross_notional / p.equity) for p in curve if p.equity > 0]
    avg_lev = sum(lev) / len(lev) if lev else 0.0
    traded = sum((t.notional for t in trades), ZERO)
    avg_eq = sum(equity, ZERO) / len(equity)
    turnover = float(traded / avg_eq) if avg_eq > 0 else 0.0

    fees = sum((t.fee for t in trades), ZERO)
    paid = -sum((f.amount for f in funding if f.amount < 0), ZERO)
    received = sum((f.amount for f in funding if f.amount > 0), ZERO)
    net = float((end - llm_cost_usd) / start - 1) if start > 0 else 0.0
    days = span / MS_PER_DAY
    switches = count_switches(p.plan_id for p in curve)

    bh, bh_excess = versus(total, benchmark)

    return Metrics(
        start_equity=start,
        end_equity=end,
        pnl_usd=end - start,
        total_return=total,
        annualized_return=ann,
        sharpe=sharpe_ratio(rets, per_year),
        sortino=sortino_ratio(rets, per_year),
        max_drawdown=mdd,
        calmar=calmar,
        win_rate=win_rate,
        profit_factor=profit_factor,
        exposure=exposure,
        avg_gross_leverage=avg_lev,
        turnover=turnover,
        traded_notional_usd=traded,
        n_trades=len(trades),
        fees_usd=fees,
        funding_paid_usd=paid,
        funding_received_usd=received,
        llm_cost_usd=llm_cost_usd,
        net_return_after_llm=net,
        days=days,
        plan_switches=switches,
        plan_switches_per_day=switches / days if days > 0 else 0.0,
        buy_and_hold_return=bh,
        excess_vs_buy_and_hold=bh_excess,
        liquidations=len({t.t_ms for t in trades if t.liquidation}),
        per_plan=_group("plan_id", curve, trades, funding),
        per_strategy=_group("strategy_id", curve, trades, funding),
    )
