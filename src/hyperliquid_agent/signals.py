"""Point-in-time signals over candles, funding, book and open interest (pure).

A signals table is `dict[str, dict[str, float | None]]`: coin -> signal name -> value;
cross-asset signals live under the pseudo-coin "*".

No look-ahead: `compute_signals(..., now_ms)` filters every input itself. A candle counts
only once it has closed (open time + interval <= now); funding points, open-interest
samples, books and snapshots count when their timestamp is <= now. Whatever the caller
passes after `now` cannot change a value. Money arrives as Decimal and is converted to
float once per candle and funding point (signals are indicators, not money).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import compress, count, islice, repeat
from operator import attrgetter, gt, is_, itemgetter, lt, mul
from typing import Any, Callable, Iterable, Mapping, MutableSequence, NamedTuple, Sequence

from hyperliquid_agent.domain import AssetContext, BookView, Candle, FundingPoint, L2Book, MarketSnapshot

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
# Recursive indicators (EMA, RSI, ADX) run over a window anchored on the bar clock: it
# starts at the latest multiple of ANCHOR_BARS bar slots (open time // interval) that lies
# at least INDICATOR_BARS bars before the newest closed bar, so it holds INDICATOR_BARS ..
# INDICATOR_BARS + ANCHOR_BARS - 1 bars: enough for EMA50 / Wilder-14 to converge. A new bar
# extends the smoothing state in O(1); once every ANCHOR_BARS bars the window restarts.
INDICATOR_BARS = 300
ANCHOR_BARS = 100
# Longest window any signal needs (30 days of hourly bars + 1).
MAX_LOOKBACK_HOURS = 24 * 30 + 1
# Log returns are summed in fixed point, as integer counts of 2^-RETURN_BITS: integer sums are
# exact, so a window's sum is the difference of two running totals and the same however the
# bars came to be held (a cache carried across cycles gives what a fresh one gives).
RETURN_BITS = 96

SignalTable = dict[str, dict[str, float | None]]

# (a Decimal compared with a Decimal: with the int 0, each comparison converts the 0 first)
_ZERO = Decimal(0)
_candle_time = attrgetter("t_ms")
_funding_time = attrgetter("time_ms")
_sample_time = itemgetter(0)
_rate = attrgetter("rate")


@dataclass(frozen=True)
class CoinHistory:
    """Everything known about one coin; entries after `now` may be present and are ignored."""

    candles: Sequence[Candle] = ()
    funding: Sequence[FundingPoint] = ()
    book: L2Book | BookView | None = None
    open_interest: Sequence[tuple[int, Decimal]] = ()  # (time_ms, open interest in coin units)
    interval_ms: int = HOUR_MS


@dataclass(frozen=True)
class MarketHistory:
    """Per-coin histories plus an optional live snapshot (mids and asset contexts at `time_ms`)."""

    coins: Mapping[str, CoinHistory] = field(default_factory=dict)
    snapshot: MarketSnapshot | None = None


# ---------------------------------------------------------------- recursive indicators (O(1) per bar)


class _Ema:
    """EMA seeded with the SMA of the first n values given."""

    __slots__ = ("n", "k", "count", "acc", "value")

    def __init__(self, n: int) -> None:
        self.n, self.k, self.count, self.acc = n, 2.0 / (n + 1), 0, 0.0
        self.value: float | None = None

    def extend(self, values: Iterable[float]) -> None:
        it = iter(values)
        if self.value is None:  # still seeding: sum the first n values
            n = self.n
            for v in it:
                self.acc += v
                self.count += 1
                if self.count == n:
                    self.value = self.acc / n
                    break
            else:
                return
        e, k = self.value, self.k
        for v in it:
            e += k * (v - e)
        self.value = e


class _Rsi:
    """Wilder's RSI: the first n changes averaged, then Wilder-smoothed."""

    __slots__ = ("n", "prev", "count", "gain", "loss")

    def __init__(self, n: int) -> None:
        self.n, self.count, self.gain, self.loss = n, 0, 0.0, 0.0
        self.prev: float | None = None

    def extend(self, closes: Iterable[float]) -> None:
        n, p, i, gain, loss = self.n, self.prev, self.count, self.gain, self.loss
        for c in closes:
            if p is None:
                p = c
                continue
            d = c - p
            p = c
            i += 1
            if i <= n:
                if d > 0:
                    gain += d
                else:
                    loss -= d
                if i == n:
                    gain /= n
                    loss /= n
            else:
                gain = (gain * (n - 1) + (d if d > 0 else 0.0)) / n
                loss = (loss * (n - 1) + (-d if d < 0 else 0.0)) / n
        self.prev, self.count, self.gain, self.loss = p, i, gain, loss

    @property
    def value(self) -> float | None:
        if self.count < self.n:
            return None
        if self.loss == 0:
            return 100.0 if self.gain > 0 else 50.0
        return 100.0 - 100.0 / (1.0 + self.gain / self.loss)


class _Adx:
    """Wilder's ADX: smoothed TR/+DM/-DM over n bars, DX averaged then smoothed; needs 2n+1 bars."""

    __slots__ = ("n", "i", "ph", "pl", "pc", "tr_s", "pdm_s", "ndm_s", "dx_sum", "adx_v")

    def __init__(self, n: int) -> None:
        self.n, self.i = n, -1
        self.ph = self.pl = self.pc = self.tr_s = self.pdm_s = self.ndm_s = self.dx_sum = self.adx_v = 0.0

    def extend(self, highs: Iterable[float], lows: Iterable[float], closes: Iterable[float]) -> None:
        n, i, ph, pl, pc = self.n, self.i, self.ph, self.pl, self.pc
        tr_s, pdm_s, ndm_s, dx_sum, adx_v = self.tr_s, self.pdm_s, self.ndm_s, self.dx_sum, self.adx_v
        for h, lo, c in zip(highs, lows, closes):
            i += 1
            if i == 0:
                ph, pl, pc = h, lo, c
                continue
            up, down = h - ph, pl - lo
            tr = max(h - lo, abs(h - pc), abs(lo - pc))
            ph, pl, pc = h, lo, c
            pdm = up if up > down and up > 0 else 0.0
            ndm = down if down > up and down > 0 else 0.0
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
        self.i, self.ph, self.pl, self.pc = i, ph, pl, pc
        self.tr_s, self.pdm_s, self.ndm_s, self.dx_sum, self.adx_v = tr_s, pdm_s, ndm_s, dx_sum, adx_v

    @property
    def value(self) -> float | None:
        return self.adx_v if self.i >= 2 * self.n else None


class _Recursive:
    """EMA20, EMA50, RSI14 and ADX14 over one anchored window, extended bar by bar."""

    __slots__ = ("first_t", "last_t", "ema20", "ema50", "rsi14", "adx14")

    def __init__(self, first_t: int) -> None:
        self.first_t, self.last_t = first_t, first_t
        self.ema20, self.ema50, self.rsi14, self.adx14 = _Ema(20), _Ema(50), _Rsi(14), _Adx(14)

    def extend(self, last_t: int, highs: Sequence[float], lows: Sequence[float], closes: Sequence[float]) -> None:
        """Take in the next bars (each indicator in one loop over them), the last opening at last_t."""
        self.last_t = last_t
        self.ema20.extend(closes)
        self.ema50.extend(closes)
        self.rsi14.extend(closes)
        self.adx14.extend(highs, lows, closes)


# ---------------------------------------------------------------- held runs (per-coin caches)


class _Held:
    """A run of timed records (candles, funding points) carried from one cycle to the next:
    sorted and unique by time, with per-record columns a subclass adds (floats converted once).

    `prefix` proves a caller's sequence sorted and unique cheaply when it starts with held
    records; `sync` makes a sorted, unique run of the caller's records a run of held ones,
    converting only what is new.
    """

    __slots__ = ("objs", "t")
    time_of: Callable[[Any], int]

    def __init__(self) -> None:
        self.objs: list[Any] = []
        self.t: list[int] = []

    def _columns(self) -> tuple[MutableSequence[Any], ...]:
        return self.objs, self.t

    def _same(self, a: Any, b: Any) -> bool:
        """Whether record a can stand for held record b (the same values every column holds)."""
        raise NotImplementedError

    def append(self, x: Any) -> None:
        self.objs.append(x)
        self.t.append(self.time_of(x))

    def truncate(self, q: int) -> None:
        """Forget the records from index q on."""
        if q < len(self.t):
            for xs in self._columns():
                del xs[q:]

    def drop_front(self, q: int) -> None:
        for xs in self._columns():
            del xs[:q]

    def prefix(self, items: Sequence[Any], hi_ms: int) -> tuple[Sequence[Any], int, int] | None:
        """(seq, k, m) with seq[:k] the items with time <= hi_ms, when the held run proves
        `items` sorted and unique: they start with m held records (the same objects, or
        equal ones between the same objects) and only a short tail is new. None when that
        cannot be shown cheaply."""
        t = self.t
        if not t or not items:
            return None
        seq = items if isinstance(items, list) else list(items)
        time_of = self.time_of
        p = bisect_left(t, time_of(seq[0]))
        m = min(len(seq), len(t) - p)
        objs = self.objs
        # One C-level pass: list equality takes a held object as equal to itself without calling
        # __eq__. The held objects at both ends come first, so a caller that builds its records
        # afresh every cycle takes the general path instead of a model __eq__ per record.
        if m == 0 or seq[0] is not objs[p] or seq[m - 1] is not objs[p + m - 1] or seq[:m] != objs[p:p + m]:
            return None
        last = t[p + m - 1]
        k = m if last <= hi_ms else bisect_right(t, hi_ms, p, p + m) - p
        for x in seq[m:]:  # the new tail (a slice: islice would step through the m held ones)
            tx = time_of(x)
            if tx <= last:
                return None
            last = tx
            if tx <= hi_ms:
                k += 1
        return seq, k, min(m, k)

    def sync(self, seq: Sequence[Any], start: int, stop: int, known: int = 0) -> tuple[int, int]:
        """Make seq[start:stop] (sorted, unique, non-empty) a run of held records; returns its [lo, hi).

        Held records are reused while they are the same objects or `_same`; from the first
        that differs on, the new records replace them. `known`: how many records from start
        on the caller already found to be held.
        """
        t0 = self.time_of(seq[start])
        p = bisect_left(self.t, t0)
        if p == len(self.t) or self.t[p] != t0:
            self.truncate(0)
            p = m = 0
        else:
            m = min(stop - start, len(self.t) - p)
            if known < m:
                m = self._matching(seq, start, p, known, m)
            if p + m < len(self.t):
                self.truncate(p + m)
        for i in range(start + m, stop):
            self.append(seq[i])
        if p > 2 * ANCHOR_BARS:  # records long out of every window
            self.drop_front(p)
            p = 0
        return p, p + stop - start

    def _matching(self, seq: Sequence[Any], start: int, p: int, j: int, m: int) -> int:
        """How many of seq[start:start+m] stand for the held records from p on (the first j
        known to), adopting the caller's objects for equal-valued ones."""
        objs = self.objs
        if all(map(is_, islice(seq, start + j, start + m), islice(objs, p + j, p + m))):
            return m
        for j in range(j, m):
            a, b = seq[start + j], objs[p + j]
            if a is b:
                continue
            if not self._same(a, b):
                return j
            objs[p + j] = a
        return m


class _Bars(_Held):
    """One coin's closed bars as floats, with per-bar log returns and running counts.

    `ret[i]` is log(close[i] / close[i-1]) in fixed point (`_fixed`) when bar i has a
    return (both closes positive, i not the first bar held; else 0); `ret_sum[i]` and
    `sq_sum[i]` are the exact running totals of the returns and their squares over 0..i, so
    a window's sums are one subtraction each. `bad[i]` counts the bars in 0..i without a
    return and `hourly[i]` the bars in 1..i whose predecessor opened exactly one hour
    earlier, so a window's checks are two subtractions. `gen` changes whenever held bars
    are replaced, so (gen, first time, last time) names a window's content. The float
    columns are arrays: a window's slice is one contiguous copy, not a walk over scattered
    float objects.
    """

    __slots__ = ("high", "low", "close", "ret", "ret_sum", "sq_sum", "bad", "hourly", "gen", "rec", "row_key", "row")
    time_of = _candle_time

    def __init__(self) -> None:
        super().__init__()
        self.high, self.low, self.close = array("d"), array("d"), array("d")
        self.ret: list[int] = []
        self.ret_sum: list[int] = []
        self.sq_sum: list[int] = []
        self.bad: list[int] = []
        self.hourly: list[int] = []
        self.gen = 0
        self.rec: _Recursive | None = None
        self.row_key: tuple[int, ...] | None = None
        self.row: dict[str, float | None] = {}

    def _columns(self) -> tuple[MutableSequence[Any], ...]:
        return (self.objs, self.t, self.high, self.low, self.close, self.ret, self.ret_sum, self.sq_sum, self.bad,
                self.hourly)

    def has_return(self, i: int) -> bool:
        return self.bad[i] == (self.bad[i - 1] if i else 0)

    def _same(self, a: Candle, b: Candle) -> bool:
        return a.t_ms == b.t_ms and a.high == b.high and a.low == b.low and a.close == b.close

    def truncate(self, q: int) -> None:
        if q < len(self.t):
            if self.rec is not None and self.rec.last_t >= self.t[q]:
                self.rec = None
            self.gen += 1
            super().truncate(q)

    def append(self, c: Candle) -> None:
        h, lo, cl = float(c.high), float(c.low), float(c.close)
        r: float | None = None
        hourly = 0
        if self.t:
            prev = self.close[-1]
            if prev > 0 and cl > 0:
                r = math.log(cl / prev)
            hourly = self.hourly[-1] + (c.t_ms - self.t[-1] == HOUR_MS)
        super().append(c)
        self.high.append(h)
        self.low.append(lo)
        self.close.append(cl)
        x = 0 if r is None else _fixed(r)
        self.ret.append(x)
        self.ret_sum.append(self.ret_sum[-1] + x if self.ret_sum else x)
        self.sq_sum.append(self.sq_sum[-1] + x * x if self.sq_sum else x * x)
        self.bad.append((self.bad[-1] if self.bad else 0) + (r is None))
        self.hourly.append(hourly)


class _Funding(_Held):
    """One coin's funding points up to now, with their rates as floats (and as given)."""

    __slots__ = ("rate", "given")
    time_of = _funding_time

    def __init__(self) -> None:
        super().__init__()
        self.rate: list[float] = []
        self.given: list[Decimal] = []

    def _columns(self) -> tuple[MutableSequence[Any], ...]:
        return self.objs, self.t, self.rate, self.given

    def _same(self, a: FundingPoint, b: FundingPoint) -> bool:
        return a.time_ms == b.time_ms and a.rate == b.rate

    def _matching(self, seq: Sequence[Any], start: int, p: int, j: int, m: int) -> int:
        # A caller that builds its points afresh every cycle: times and rates compared column-wise
        # in C (the same test as _same), then its objects adopted in one go.
        fresh = seq[start + j:start + m]
        if (list(map(_funding_time, fresh)) == self.t[p + j:p + m]
                and list(map(_rate, fresh)) == self.given[p + j:p + m]):
            self.objs[p + j:p + m] = fresh
            return m
        return super()._matching(seq, start, p, j, m)

    def append(self, p: FundingPoint) -> None:
        super().append(p)
        self.rate.append(float(p.rate))
        self.given.append(p.rate)


class _CrossSum:
    """The exact sum of the products of two coins' returns over a run of common consecutive
    hours, carried from one cycle to the next: a window that slides on adds the products of
    the hours that joined it and takes off those of the hours that left, instead of summing
    the whole window again."""

    __slots__ = ("gens", "first_t", "last_t", "total")

    def __init__(self) -> None:
        self.gens: tuple[int, int] | None = None
        self.first_t = self.last_t = self.total = 0

    def over(self, a: _Bars, ia: int, b: _Bars, ib: int, n: int) -> int:
        """sum(a.ret[ia + k] * b.ret[ib + k] for k in range(n)), where bars ia.. of a and ib..
        of b are the same n consecutive hours."""
        first_t, last_t = a.t[ia], a.t[ia + n - 1]
        left, joined = (first_t - self.first_t) // HOUR_MS, (last_t - self.last_t) // HOUR_MS
        old_first, old_last = ia - left, ia + n - 1 - joined  # where the last window's ends are held now
        if ((a.gen, b.gen) == self.gens and 0 <= left and 0 <= joined and first_t <= self.last_t
                and old_first >= 0 and ib - left >= 0 and a.t[old_first] == self.first_t == b.t[ib - left]
                and a.t[old_last] == self.last_t == b.t[ib + n - 1 - joined]):
            total = self.total - sum(map(mul, a.ret[old_first:ia], b.ret[ib - left:ib]))
            total += sum(map(mul, a.ret[old_last + 1:ia + n], b.ret[ib + n - joined:ib + n]))
        else:
            total = sum(map(mul, a.ret[ia:ia + n], b.ret[ib:ib + n]))
        self.gens, self.first_t, self.last_t, self.total = (a.gen, b.gen), first_t, last_t, total
        return total


class SignalCache:
    """Per-coin state carried from one cycle to the next (optional; pass the same instance
    to `compute_signals` every cycle).

    Each coin's closed bars are held as floats with their log returns, and the recursive
    indicators' smoothing state is kept at the last bar, so a cycle with one new bar costs
    O(1) for them and a few C-level passes over the 30-day window for the rest; funding
    rates are held as floats too. A held record is reused only while the caller's is the
    same object or has the same values, so revised or different data is recomputed.
    Results are identical to a fresh cache's: both run the same float operations in the
    same order.
    """

    def __init__(self) -> None:
        self._bars: dict[str, _Bars] = {}
        self._funding: dict[str, _Funding] = {}
        self._corr: tuple[tuple[int, ...], float | None] | None = None
        self.cross = _CrossSum()

    def bars(self, coin: str) -> _Bars:
        b = self._bars.get(coin)
        if b is None:
            b = self._bars[coin] = _Bars()
        return b

    def funding(self, coin: str) -> _Funding:
        f = self._funding.get(coin)
        if f is None:
            f = self._funding[coin] = _Funding()
        return f


def _time_slice(items: Sequence[Any], key: Callable[[Any], int], hi: int) -> list[Any]:
    """Items with key <= hi, ascending, one per time.

    Every item is checked (the caller is not trusted to have cut or sorted its data), so
    nothing after `hi` gets through; unsorted or duplicated input is sorted and de-duplicated.
    """
    keys = list(map(key, items))
    if all(map(lt, keys, islice(keys, 1, None))):  # strictly ascending (the usual case): cut by bisection
        return list(islice(items, bisect_right(keys, hi)))
    by_time = {k: x for k, x in zip(keys, items) if k <= hi}
    return [by_time[t] for t in sorted(by_time)]


def _up_to(held: _Held, items: Sequence[Any], hi_ms: int) -> tuple[Sequence[Any], int, int]:
    """The items with time <= hi_ms, sorted, unique, as seq[:k]; with how many leading ones
    are known to be held already (the held run's proof, else a full check of every item)."""
    fast = held.prefix(items, hi_ms)
    if fast is not None:
        return fast
    seq = _time_slice(items, held.time_of, hi_ms)
    return seq, len(seq), 0


def _window_bars(interval_ms: int) -> int:
    return max(MAX_LOOKBACK_HOURS * HOUR_MS // interval_ms, INDICATOR_BARS + ANCHOR_BARS) + 1


def _closed_candles(bars: _Bars, candles: Sequence[Candle], interval_ms: int,
                    now_ms: int) -> tuple[Sequence[Candle], int, int, int]:
    """The closed candles (open time + interval <= now), sorted, unique, the last window's
    worth, as seq[start:stop]; with how many from start on are known to be held already."""
    seq, stop, known = _up_to(bars, candles, now_ms - interval_ms)
    start = max(stop - _window_bars(interval_ms), 0)
    return seq, start, stop, max(known - start, 0)


# ---------------------------------------------------------------- indicators (public helpers)


def ret(close: Sequence[float], bars: int) -> float | None:
    return _ret_in(close, 0, len(close), bars)


def _ret_in(close: Sequence[float], lo: int, hi: int, bars: int) -> float | None:
    """The return over the last `bars` bars of the window close[lo:hi] (read in place)."""
    if bars < 1 or hi - lo <= bars or close[hi - 1 - bars] == 0:
        return None
    return close[hi - 1] / close[hi - 1 - bars] - 1.0


def sma(values: Sequence[float], n: int) -> float | None:
    return _sma_in(values, 0, len(values), n)


def _sma_in(values: Sequence[float], lo: int, hi: int, n: int) -> float | None:
    """The mean of the last n values of the window values[lo:hi]."""
    if n < 1 or hi - lo < n:
        return None
    return sum(values[hi - n:hi]) / n


def ema(values: Sequence[float], n: int) -> float | None:
    """EMA seeded with the SMA of the first n values of the given window."""
    if n < 1 or len(values) < n:
        return None
    e = _Ema(n)
    e.extend(values)
    return e.value


def rsi(close: Sequence[float], n: int = 14) -> float | None:
    """Wilder's RSI in 0..100."""
    r = _Rsi(n)
    r.extend(close)
    return r.value


def adx(high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int = 14) -> float | None:
    """Wilder's ADX in 0..100; needs 2n+1 bars."""
    a = _Adx(n)
    a.extend(high, low, close)
    return a.value


def _fixed(r: float) -> int:
    """A log return as an integer count of 2^-RETURN_BITS (every bit of a return down to 2^-96 kept)."""
    return int(math.ldexp(r, RETURN_BITS))


def _rms(square_sum: int, n: int) -> float:
    """sqrt of the mean of n squared fixed-point returns summing to `square_sum`: the
    zero-mean realized volatility of those n bars."""
    return math.sqrt(math.ldexp(float(square_sum), -2 * RETURN_BITS) / n)


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson correlation of two equally long series of log returns (None under 3 points,
    or when either is constant), from exact sums of their fixed-point values."""
    if len(a) != len(b):
        return None
    return _fixed_correlation(list(map(_fixed, a)), list(map(_fixed, b)))


def _fixed_correlation(a: list[int], b: list[int]) -> float | None:
    return _correlation_of_sums(len(a), sum(a), sum(b), sum(map(mul, a, a)), sum(map(mul, b, b)), sum(map(mul, a, b)))


def _correlation_of_sums(n: int, sa: int, sb: int, saa: int, sbb: int, sab: int) -> float | None:
    """The correlation of n pairs from the exact sums of a, b, a*a, b*b and a*b."""
    va, vb = n * saa - sa * sa, n * sbb - sb * sb  # n^2 times each variance, exactly
    if n < 3 or va <= 0 or vb <= 0:
        return None
    return float(n * sab - sa * sb) / math.sqrt(float(va * vb))


# ---------------------------------------------------------------- per-source signals


class _Spans(NamedTuple):
    """How many bars of one interval each candle signal spans (0: less than a bar)."""

    hour: int
    day: int
    week: int
    month: int
    annualize: float  # sqrt(bars a year): a per-bar volatility's annual equivalent


@lru_cache(maxsize=None)
def _spans(interval_ms: int) -> _Spans:
    def bars(ms: int) -> int:
        return ms // interval_ms if ms >= interval_ms else 0

    return _Spans(bars(HOUR_MS), bars(DAY_MS), bars(7 * DAY_MS), bars(30 * DAY_MS),
                  math.sqrt(365 * DAY_MS / interval_ms))


def _candle_signals(bars: _Bars, lo: int, hi: int, interval_ms: int) -> dict[str, float | None]:
    """A row with the candle signals over held bars [lo, hi) (hi > lo), the others None;
    cached per window content (the caller copies it before adding the others)."""
    key = (bars.gen, bars.t[lo], bars.t[hi - 1], interval_ms)
    if bars.row_key == key:
        return bars.row
    spans = _spans(interval_ms)
    close = bars.close  # the window is close[lo:hi], read in place
    last = close[hi - 1]
    out = empty_row()
    out["price"] = last
    out["ret_1h"] = _ret_in(close, lo, hi, spans.hour)
    out["ret_24h"] = _ret_in(close, lo, hi, spans.day)
    out["ret_7d"] = _ret_in(close, lo, hi, spans.week)
    out["ret_30d"] = _ret_in(close, lo, hi, spans.month)
    for name, n in (("sma20_dist", 20), ("sma50_dist", 50)):
        m = _sma_in(close, lo, hi, n)
        out[name] = None if not m else last / m - 1.0
    rec = _recursive(bars, lo, hi, interval_ms)
    e20, e50 = rec.ema20.value, rec.ema50.value
    out["ema20"], out["ema50"] = e20, e50
    out["ema_spread"] = None if e20 is None or not e50 else e20 / e50 - 1.0
    out["rsi14"] = rec.rsi14.value
    out["adx14"] = rec.adx14.value
    # realized volatility over the per-bar log returns of the last 30 days (+1) of bars
    out["rv_1h"], out["rv_24h"], out["rv_ann"] = _realized_vols(bars, max(lo, hi - 1 - spans.month) + 1, hi, spans)
    bars.row_key, bars.row = key, out
    return out


def _realized_vols(bars: _Bars, first: int, hi: int, spans: _Spans) -> tuple[float | None, float | None, float | None]:
    """rv_1h, rv_24h and rv_ann over the returns of held bars [first, hi) that exist (a bar
    after a gap in the data, or after a non-positive close, has none)."""
    end = hi - 1
    sq_sum, valid = bars.sq_sum, None
    if first >= hi or bars.bad[end] == bars.bad[first - 1]:  # every bar has one: the running totals' differences
        count = hi - first if first < hi else 0
    else:
        valid = [bars.ret[i] for i in range(first, hi) if bars.has_return(i)]
        count = len(valid)
    vols: list[float | None] = []
    for n in (spans.hour, spans.day, count):  # the last hour's returns, the last day's, all of them
        if 0 < n <= count:
            vols.append(_rms(sq_sum[end] - sq_sum[end - n] if valid is None else sum(r * r for r in valid[-n:]), n))
        else:
            vols.append(None)
    hour, day, every = vols
    return hour, day, every * spans.annualize if every is not None else None


def _recursive(bars: _Bars, lo: int, hi: int, interval_ms: int) -> _Recursive:
    """The recursive indicators' state at bar hi-1 over the anchored window (see ANCHOR_BARS),
    extended from the held state when that covers the same window start, else rebuilt."""
    slot = bars.t[hi - 1] // interval_ms
    anchor_ms = (slot - INDICATOR_BARS + 1) // ANCHOR_BARS * ANCHOR_BARS * interval_ms
    first = bisect_left(bars.t, anchor_ms, lo, hi)
    t = bars.t
    rec = bars.rec
    if rec is not None and rec.first_t == t[first] and rec.last_t <= t[hi - 1]:
        start = bisect_right(t, rec.last_t, first, hi)
    else:
        rec = bars.rec = _Recursive(t[first])
        start = first
    if start < hi:
        rec.extend(t[hi - 1], bars.high[start:hi], bars.low[start:hi], bars.close[start:hi])
    return rec


def _funding_signals(held: _Funding, points: Sequence[FundingPoint], now_ms: int,
                     out: dict[str, float | None]) -> None:
    seq, stop, known = _up_to(held, points, now_ms)
    if not stop:
        return
    lo, hi = held.sync(seq, 0, stop, known)
    t, rate = held.t, held.rate
    first = bisect_right(t, now_ms - DAY_MS, lo, hi)  # the last 24 hours: [first, hi)
    if first == hi:
        return
    out["funding_now"] = rate[hi - 1]
    out["funding_24h_avg"] = sum(rate[first:hi]) / (hi - first)
    split = bisect_right(t, now_ms - 8 * HOUR_MS, first, hi)  # the last 8 hours: [split, hi)
    if first < split < hi:
        out["funding_trend"] = sum(rate[split:hi]) / (hi - split) - sum(rate[first:split]) / (split - first)


def _oi_change(samples: Sequence[tuple[int, Decimal]], now_ms: int, oi_now: float | None) -> float | None:
    past = _time_slice(samples, _sample_time, now_ms)
    if not past:
        return None
    if oi_now is None:
        oi_now = float(past[-1][1])
    day_ago = bisect_right(past, now_ms - DAY_MS, key=_sample_time)  # the samples a day old or older
    if not day_ago or past[day_ago - 1][1] == _ZERO:
        return None
    return oi_now / float(past[day_ago - 1][1]) - 1.0


def _book_signals(book: L2Book | BookView, out: dict[str, float | None]) -> None:
    bid, ask = book.best_bid, book.best_ask
    if bid is None or ask is None or bid.price <= _ZERO or ask.price <= _ZERO:
        return
    bid_px, bid_sz, ask_px, ask_sz = book.floats
    b, a = bid_px[0], ask_px[0]
    mid = (a + b) / 2.0
    out["spread_bps"] = (a - b) / mid * 1e4
    # depth within 1% of mid: each side's levels up to the first outside the band (best first)
    nb = _levels_inside(bid_px, lt, min, mid * 0.99)
    na = _levels_inside(ask_px, gt, max, mid * 1.01)
    depth = sum(map(mul, bid_px[:nb], bid_sz), 0.0)  # (a slice: islice steps through its items one call at a time)
    out["depth_1pct_usd"] = sum(map(mul, ask_px[:na], ask_sz), depth)


def _levels_inside(prices: list[float], beyond: Callable[[float, float], bool],
                   farthest: Callable[[list[float]], float], bound: float) -> int:
    """How many of a side's levels (best first) come before the first beyond the bound."""
    if not beyond(farthest(prices), bound):  # none is (the usual book): no level-by-level scan
        return len(prices)
    return next(compress(count(), map(beyond, prices, repeat(bound))), len(prices))


def _context_signals(ctx: AssetContext, mid: Decimal | None, out: dict[str, float | None]) -> None:
    if ctx.oracle_price > _ZERO:
        out["basis_bps"] = float((ctx.mark_price - ctx.oracle_price) / ctx.oracle_price) * 1e4
    out["funding_now"] = float(ctx.funding)
    price = mid if mid is not None else ctx.mid_price if ctx.mid_price is not None else ctx.mark_price
    if price > _ZERO:
        out["price"] = float(price)


_EMPTY_ROW: dict[str, float | None] = dict.fromkeys(SIGNAL_NAMES)


def empty_row() -> dict[str, float | None]:
    return _EMPTY_ROW.copy()  # a copy of a built dict: no key inserted one by one


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
    if cache is None:
        cache = SignalCache()
    table: SignalTable = {}
    hourly: dict[str, tuple[_Bars, int, int]] = {}
    for coin, h in coins.items():
        held = cache.bars(coin)
        candles, start, stop, known = _closed_candles(held, h.candles, h.interval_ms, now_ms)
        if stop > start:
            lo, hi = held.sync(candles, start, stop, known)
            row = _candle_signals(held, lo, hi, h.interval_ms).copy()
            if h.interval_ms == HOUR_MS and hi - lo > 1:
                hourly[coin] = (held, lo, hi)
        else:
            row = empty_row()
        _funding_signals(cache.funding(coin), h.funding, now_ms, row)
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
    table[CROSS_KEY] = {"btc_eth_corr": _btc_eth_corr(hourly, cache)}
    return table


def _btc_eth_corr(hourly: Mapping[str, tuple[_Bars, int, int]], cache: SignalCache) -> float | None:
    """Correlation of BTC and ETH hourly log returns over the last 30 days, on the bar open
    times t where both coins have bars at t - 1h and t (a return with a non-positive close
    is left out); cached per (BTC window, ETH window)."""
    if "BTC" not in hourly or "ETH" not in hourly:
        return None
    (sb, lb, hb), (se, le, he) = hourly["BTC"], hourly["ETH"]
    key = (sb.gen, sb.t[lb], sb.t[hb - 1], se.gen, se.t[le], se.t[he - 1])
    if cache._corr is not None and cache._corr[0] == key:
        return cache._corr[1]
    start = max(sb.t[hb - 1], se.t[he - 1]) - 30 * DAY_MS
    ib = max(lb + 1, bisect_right(sb.t, start, lb, hb))
    ie = max(le + 1, bisect_right(se.t, start, le, he))
    n = hb - ib
    if (0 < n == he - ie and sb.t[ib] == se.t[ie]
            and sb.hourly[hb - 1] - sb.hourly[ib - 1] == n == se.hourly[he - 1] - se.hourly[ie - 1]
            and sb.bad[hb - 1] == sb.bad[ib - 1] and se.bad[he - 1] == se.bad[ie - 1]):
        # the same n consecutive hours on both sides, each with a return: sums from running totals
        value = _correlation_of_sums(n, sb.ret_sum[hb - 1] - sb.ret_sum[ib - 1], se.ret_sum[he - 1] - se.ret_sum[ie - 1],
                                     sb.sq_sum[hb - 1] - sb.sq_sum[ib - 1], se.sq_sum[he - 1] - se.sq_sum[ie - 1],
                                     cache.cross.over(sb, ib, se, ie, n))
    else:
        eth = {se.t[j]: j for j in range(le + 1, he)}
        ra, rb = [], []
        for i in range(ib, hb):
            j = eth.get(sb.t[i])
            if j is None or sb.t[i] - sb.t[i - 1] != HOUR_MS or se.t[j] - se.t[j - 1] != HOUR_MS:
                continue
            if sb.has_return(i) and se.has_return(j):
                ra.append(sb.ret[i])
                rb.append(se.ret[j])
        value = _fixed_correlation(ra, rb)
    cache._corr = (key, value)
    return value


__all__ = [
    "CROSS_KEY", "CROSS_SIGNAL_NAMES", "CoinHistory", "MarketHistory", "SIGNAL_NAMES", "SignalCache",
    "SignalTable", "adx", "compute_signals", "correlation", "ema", "empty_row", "ret", "rsi", "sma",
]
