"""Point-in-time signals over candles, funding, book and open interest (pure).

A signals table is `dict[str, dict[str, float | None]]`: coin -> signal name -> value;
cross-asset signals live under the pseudo-coin "*".

No look-ahead: `compute_signals(..., now_ms)` filters every input itself. A candle counts
only once it has closed (open time + interval <= now); funding points, open-interest
samples, books and snapshots count when their timestamp is <= now. Whatever the caller
passes after `now` cannot change a value. Money arrives as Decimal and is converted to
float once per candle (signals are indicators, not money).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from hyperliquid_agent.domain import AssetContext, Candle, FundingPoint, L2Book, MarketSnapshot

SIGNAL_NAMES: tuple[str, ...] = (
    "price",
    "ret_1h", "ret_24h", "ret_7d", "ret_30d",
    "sma20_dist", "sma50_dist",
    "ema20", "ema50", "ema_spread",
    "rsi14", "adx14",
    "rv_1h", "rv_24h", "rv_ann",
    "funding_now", "funding_24h_avg", "funding_trend",
    "oi_change_24h",
    "spread_bps", "depth_1pct_usd",
    "basis_bps",
)
CROSS_SIGNAL_NAMES: tuple[str, ...] = ("btc_eth_corr",)
CROSS_KEY = "*"

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Recursive indicators (EMA, RSI, ADX) run over at most this many closed bars: enough for
# EMA50 / Wilder-14 to converge, small enough to keep one cycle well under a millisecond.
INDICATOR_BARS = 300
# Longest window any signal needs (30 days of hourly bars + 1).
MAX_LOOKBACK_HOURS = 24 * 30 + 1

SignalTable = dict[str, dict[str, float | None]]


@dataclass(frozen=True)
class CoinHistory:
    """Everything known about one coin; entries after `now` may be present and are ignored."""

    candles: Sequence[Candle] = ()
    funding: Sequence[FundingPoint] = ()
    book: L2Book | None = None
    open_interest: Sequence[tuple[int, Decimal]] = ()  # (time_ms, open interest in coin units)
    interval_ms: int = HOUR_MS


@dataclass(frozen=True)
class MarketHistory:
    """Per-coin histories plus an optional live snapshot (mids and asset contexts at `time_ms`)."""

    coins: Mapping[str, CoinHistory] = field(default_factory=dict)
    snapshot: MarketSnapshot | None = None


# ---------------------------------------------------------------- float series (cached)


class _Series:
    __slots__ = ("t", "high", "low", "close")

    def __init__(self) -> None:
        self.t: list[int] = []
        self.high: list[float] = []
        self.low: list[float] = []
        self.close: list[float] = []


class SignalCache:
    """Keeps each coin's candles as floats so a new cycle converts only new bars.

    Pass one instance to `compute_signals` on every cycle (optional). A bar is reused only
    when its open time AND its Decimal close match what was converted before, so revised
    or different data is always converted afresh.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[int, tuple[Decimal, float, float, float]]] = {}

    def series(self, coin: str, candles: Sequence[Candle]) -> _Series:
        rows = self._rows.setdefault(coin, {})
        out = _Series()
        for c in candles:
            hit = rows.get(c.t_ms)
            if hit is None or hit[0] != c.close:
                hit = (c.close, float(c.high), float(c.low), float(c.close))
                rows[c.t_ms] = hit
            out.t.append(c.t_ms)
            out.high.append(hit[1])
            out.low.append(hit[2])
            out.close.append(hit[3])
        if len(rows) > 4 * MAX_LOOKBACK_HOURS:  # forget bars long out of every window
            keep = set(out.t)
            for t in [t for t in rows if t not in keep]:
                del rows[t]
        return out


def _time_slice(items: Sequence[Any], key: Callable[[Any], int], lo: int | None, hi: int) -> list[Any]:
    """Items with lo < key <= hi (lo None: no lower bound), ascending, one per time.

    Every item is checked (the caller is not trusted to have cut or sorted its data), so
    nothing after `hi` gets through; unsorted or duplicated input is sorted and de-duplicated.
    """
    picked = [x for x in items if key(x) <= hi and (lo is None or key(x) > lo)]
    if any(key(picked[i]) >= key(picked[i + 1]) for i in range(len(picked) - 1)):
        by_time = {key(x): x for x in picked}
        picked = [by_time[t] for t in sorted(by_time)]
    return picked


def _candle_time(c: Candle) -> int:
    return c.t_ms


def _closed_candles(candles: Sequence[Candle], interval_ms: int, now_ms: int) -> list[Candle]:
    bars = max(MAX_LOOKBACK_HOURS * HOUR_MS // interval_ms, INDICATOR_BARS) + 1
    return _time_slice(candles, _candle_time, None, now_ms - interval_ms)[-bars:]


def _to_series(coin: str, candles: list[Candle], cache: SignalCache | None) -> _Series:
    if cache is not None:
        return cache.series(coin, candles)
    s = _Series()
    for c in candles:
        s.t.append(c.t_ms)
        s.high.append(float(c.high))
        s.low.append(float(c.low))
        s.close.append(float(c.close))
    return s


# ---------------------------------------------------------------- indicators (plain loops)


def ret(close: Sequence[float], bars: int) -> float | None:
    if bars < 1 or len(close) <= bars or close[-1 - bars] == 0:
        return None
    return close[-1] / close[-1 - bars] - 1.0


def sma(values: Sequence[float], n: int) -> float | None:
    if n < 1 or len(values) < n:
        return None
    return sum(values[-n:]) / n


def ema(values: Sequence[float], n: int) -> float | None:
    """EMA seeded with the SMA of the first n values of the given window."""
    if n < 1 or len(values) < n:
        return None
    k = 2.0 / (n + 1)
    e = sum(values[:n]) / n
    for v in values[n:]:
        e += k * (v - e)
    return e


def rsi(close: Sequence[float], n: int = 14) -> float | None:
    """Wilder's RSI in 0..100."""
    if len(close) < n + 1:
        return None
    gain = loss = 0.0
    for i in range(1, n + 1):
        d = close[i] - close[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= n
    loss /= n
    for i in range(n + 1, len(close)):
        d = close[i] - close[i - 1]
        gain = (gain * (n - 1) + (d if d > 0 else 0.0)) / n
        loss = (loss * (n - 1) + (-d if d < 0 else 0.0)) / n
    if loss == 0:
        return 100.0 if gain > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def adx(high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int = 14) -> float | None:
    """Wilder's ADX in 0..100; needs 2n bars."""
    size = len(close)
    if size < 2 * n + 1:
        return None
    tr_s = pdm_s = ndm_s = 0.0
    dx_sum = 0.0
    adx_v = 0.0
    for i in range(1, size):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        pdm = up if up > down and up > 0 else 0.0
        ndm = down if down > up and down > 0 else 0.0
        pc = close[i - 1]
        tr = max(high[i] - low[i], abs(high[i] - pc), abs(low[i] - pc))
        if i <= n:
            tr_s += tr
            pdm_s += pdm
            ndm_s += ndm
            if i < n:
                continue
        else:
            tr_s += tr - tr_s / n
            pdm_s += pdm - pdm_s / n
            ndm_s += ndm - ndm_s / n
        if tr_s <= 0:
            dx = 0.0
        else:
            pdi, ndi = pdm_s / tr_s, ndm_s / tr_s
            dx = 0.0 if pdi + ndi == 0 else abs(pdi - ndi) / (pdi + ndi) * 100.0
        k = i - n  # 0-based count of DX values
        if k < n:
            dx_sum += dx
            if k == n - 1:
                adx_v = dx_sum / n
        else:
            adx_v = (adx_v * (n - 1) + dx) / n
    return adx_v


def log_returns(close: Sequence[float]) -> list[float]:
    return [math.log(close[i] / close[i - 1]) for i in range(1, len(close)) if close[i - 1] > 0 and close[i] > 0]


def realized_vol(log_rets: Sequence[float], n: int) -> float | None:
    """Root mean square of the last n per-bar log returns (zero-mean realized volatility)."""
    if n < 1 or len(log_rets) < n:
        return None
    tail = log_rets[-n:]
    return math.sqrt(sum(r * r for r in tail) / n)


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    n = len(a)
    if n < 3 or n != len(b):
        return None
    ma, mb = sum(a) / n, sum(b) / n
    cov = va = vb = 0.0
    for x, y in zip(a, b):
        dx, dy = x - ma, y - mb
        cov += dx * dy
        va += dx * dx
        vb += dy * dy
    if va <= 0 or vb <= 0:
        return None
    return cov / math.sqrt(va * vb)


# ---------------------------------------------------------------- per-source signals


def _candle_signals(s: _Series, interval_ms: int, out: dict[str, float | None]) -> None:
    close = s.close
    if not close:
        return
    per_hour = max(HOUR_MS // interval_ms, 1) if interval_ms <= HOUR_MS else 0
    bars_per = (lambda ms: ms // interval_ms if ms >= interval_ms else 0)
    out["price"] = close[-1]
    out["ret_1h"] = ret(close, bars_per(HOUR_MS))
    out["ret_24h"] = ret(close, bars_per(DAY_MS))
    out["ret_7d"] = ret(close, bars_per(7 * DAY_MS))
    out["ret_30d"] = ret(close, bars_per(30 * DAY_MS))
    last = close[-1]
    for name, n in (("sma20_dist", 20), ("sma50_dist", 50)):
        m = sma(close, n)
        out[name] = None if not m else last / m - 1.0
    window = close[-INDICATOR_BARS:]
    e20, e50 = ema(window, 20), ema(window, 50)
    out["ema20"], out["ema50"] = e20, e50
    out["ema_spread"] = None if e20 is None or not e50 else e20 / e50 - 1.0
    out["rsi14"] = rsi(window, 14)
    out["adx14"] = adx(s.high[-INDICATOR_BARS:], s.low[-INDICATOR_BARS:], window, 14)
    lr = log_returns(close[-(bars_per(30 * DAY_MS) + 1):])
    out["rv_1h"] = realized_vol(lr, per_hour) if per_hour else None
    out["rv_24h"] = realized_vol(lr, bars_per(DAY_MS))
    if lr:
        bars_per_year = 365 * DAY_MS / interval_ms
        out["rv_ann"] = realized_vol(lr, len(lr)) * math.sqrt(bars_per_year)  # type: ignore[operator]


def _funding_time(p: FundingPoint) -> int:
    return p.time_ms


def _funding_signals(points: Sequence[FundingPoint], now_ms: int, out: dict[str, float | None]) -> None:
    recent = [(p.time_ms, float(p.rate)) for p in _time_slice(points, _funding_time, now_ms - DAY_MS, now_ms)]
    if not recent:
        return
    out["funding_now"] = recent[-1][1]
    out["funding_24h_avg"] = sum(r for _, r in recent) / len(recent)
    last8 = [r for t, r in recent if t > now_ms - 8 * HOUR_MS]
    prev16 = [r for t, r in recent if t <= now_ms - 8 * HOUR_MS]
    if last8 and prev16:
        out["funding_trend"] = sum(last8) / len(last8) - sum(prev16) / len(prev16)


def _oi_change(samples: Sequence[tuple[int, Decimal]], now_ms: int, oi_now: float | None) -> float | None:
    past = [s for s in samples if s[0] <= now_ms]
    if not past:
        return None
    past.sort(key=lambda s: s[0])
    if oi_now is None:
        oi_now = float(past[-1][1])
    before = [s for s in past if s[0] <= now_ms - DAY_MS]
    if not before or before[-1][1] == 0:
        return None
    return oi_now / float(before[-1][1]) - 1.0


def _book_signals(book: L2Book, out: dict[str, float | None]) -> None:
    bid, ask = book.best_bid, book.best_ask
    if bid is None or ask is None or bid.price <= 0 or ask.price <= 0:
        return
    b, a = float(bid.price), float(ask.price)
    mid = (a + b) / 2.0
    out["spread_bps"] = (a - b) / mid * 1e4
    lo, hi = mid * 0.99, mid * 1.01
    depth = 0.0
    for lvl in book.bids:
        p = float(lvl.price)
        if p < lo:
            break
        depth += p * float(lvl.size)
    for lvl in book.asks:
        p = float(lvl.price)
        if p > hi:
            break
        depth += p * float(lvl.size)
    out["depth_1pct_usd"] = depth


def _context_signals(ctx: AssetContext, mid: Decimal | None, out: dict[str, float | None]) -> None:
    if ctx.oracle_price > 0:
        out["basis_bps"] = float((ctx.mark_price - ctx.oracle_price) / ctx.oracle_price) * 1e4
    out["funding_now"] = float(ctx.funding)
    price = mid if mid is not None else ctx.mid_price if ctx.mid_price is not None else ctx.mark_price
    if price > 0:
        out["price"] = float(price)


def empty_row() -> dict[str, float | None]:
    return dict.fromkeys(SIGNAL_NAMES)


def compute_signals(
    history: MarketHistory | Mapping[str, CoinHistory],
    now_ms: int,
    cache: SignalCache | None = None,
) -> SignalTable:
    """The signals table at `now_ms`, from data at or before `now_ms` only."""
    if isinstance(history, MarketHistory):
        coins, snapshot = history.coins, history.snapshot
    else:
        coins, snapshot = history, None
    if snapshot is not None and snapshot.time_ms > now_ms:
        snapshot = None  # a snapshot from the future is ignored, not trusted
    table: SignalTable = {}
    log_rets: dict[str, tuple[list[int], list[float]]] = {}
    for coin, h in coins.items():
        row = empty_row()
        candles = _closed_candles(h.candles, h.interval_ms, now_ms)
        s = _to_series(coin, candles, cache)
        _candle_signals(s, h.interval_ms, row)
        if h.interval_ms == HOUR_MS and len(s.close) > 1:
            log_rets[coin] = (s.t, s.close)
        _funding_signals(h.funding, now_ms, row)
        oi_now: float | None = None
        if snapshot is not None and coin in snapshot.contexts:
            ctx = snapshot.contexts[coin]
            _context_signals(ctx, snapshot.mids.get(coin), row)
            oi_now = float(ctx.open_interest)
        elif snapshot is not None and coin in snapshot.mids:
            row["price"] = float(snapshot.mids[coin])
        row["oi_change_24h"] = _oi_change(h.open_interest, now_ms, oi_now)
        if h.book is not None and h.book.time_ms <= now_ms:
            _book_signals(h.book, row)
        table[coin] = row
    table[CROSS_KEY] = {"btc_eth_corr": _btc_eth_corr(log_rets)}
    return table


def _btc_eth_corr(series: Mapping[str, tuple[list[int], list[float]]]) -> float | None:
    if "BTC" not in series or "ETH" not in series:
        return None
    (tb, cb), (te, ce) = series["BTC"], series["ETH"]
    eth = dict(zip(te, ce))
    # hourly returns over the last 30 days, aligned on bar open times present for both coins
    start = max(tb[-1], te[-1]) - 30 * DAY_MS
    ra: list[float] = []
    rb: list[float] = []
    for i in range(1, len(tb)):
        t0, t1 = tb[i - 1], tb[i]
        if t1 <= start or t1 - t0 != HOUR_MS:
            continue
        e0, e1 = eth.get(t0), eth.get(t1)
        if e0 is None or e1 is None or e0 <= 0 or cb[i - 1] <= 0:
            continue
        ra.append(math.log(cb[i] / cb[i - 1]))
        rb.append(math.log(e1 / e0))
    return correlation(ra, rb)


__all__ = [
    "CROSS_KEY", "CROSS_SIGNAL_NAMES", "CoinHistory", "MarketHistory", "SIGNAL_NAMES", "SignalCache",
    "SignalTable", "adx", "compute_signals", "correlation", "ema", "empty_row", "log_returns",
    "realized_vol", "ret", "rsi", "sma",
]
