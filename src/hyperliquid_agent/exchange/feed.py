"""Market data the venue replays: per coin candles, funding and (optional) oracle price and
open interest, with the asset specs; CSV load and save.

CSV format (what `hl-agent data download` writes and `hl-agent data import` reads):
- `<COIN>_<interval>_candles.csv`: `t_ms,open,high,low,close,volume` (t_ms = bar open time)
- `<COIN>_funding.csv`: `time_ms,fundingRate` (hourly rates; an optional third column `premium`)
- `<COIN>_<interval>_context.csv` (optional): `t_ms,oracle_px,open_interest` per bar
- `meta.json` (optional): Hyperliquid's `meta` response (`{"universe":[{"name","szDecimals","maxLeverage"}]}`)

Every value is parsed to Decimal once, here, so the model's hot path does no parsing.
A bad file raises `DataFileError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import json
from bisect import bisect_right
from decimal import Decimal, InvalidOperation
from operator import mul
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from hyperliquid_agent.domain import AssetSpec, Candle, FundingPoint
from hyperliquid_agent.domain.values import trusted
from hyperliquid_agent.errors import DataFileError
from hyperliquid_agent.files import replacing
from hyperliquid_agent.signals import MAX_LOOKBACK_HOURS

HOUR_MS = 3_600_000
# The warm-up: whole days of data before the first decision, enough for the signals' longest
# window (30 days of hourly bars + 1 -> 31 days). Paper sessions, the emulator's start and
# backtests all use this one figure.
WARMUP_DAYS = -(-MAX_LOOKBACK_HOURS // 24)
WARMUP_MS = WARMUP_DAYS * 24 * HOUR_MS
INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": HOUR_MS, "2h": 2 * HOUR_MS, "4h": 4 * HOUR_MS, "8h": 8 * HOUR_MS, "12h": 12 * HOUR_MS,
    "1d": 24 * HOUR_MS, "3d": 72 * HOUR_MS, "1w": 168 * HOUR_MS,
}
CANDLE_HEADER = ("t_ms", "open", "high", "low", "close", "volume")
FUNDING_HEADER = ("time_ms", "fundingRate")
CONTEXT_HEADER = ("t_ms", "oracle_px", "open_interest")

# szDecimals and maxLeverage of the majors (Hyperliquid mainnet meta).
KNOWN_SPECS: dict[str, tuple[int, int]] = {"BTC": (5, 40), "ETH": (4, 25), "SOL": (2, 20)}


def interval_ms(interval: str) -> int:
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise ValueError(f"unknown candle interval {interval!r}; use one of {', '.join(INTERVAL_MS)}") from None


def infer_spec(coin: str, asset_id: int, price: Decimal) -> AssetSpec:
    """Specs for a coin: the known majors' real values, else szDecimals chosen so one size
    step is worth at most about $2 (Hyperliquid's own convention) and leverage 10."""
    if coin in KNOWN_SPECS:
        sz, lev = KNOWN_SPECS[coin]
        return AssetSpec(name=coin, asset_id=asset_id, sz_decimals=sz, max_leverage=lev)
    sz = 0
    while sz < 6 and price.scaleb(-sz) > 2:
        sz += 1
    return AssetSpec(name=coin, asset_id=asset_id, sz_decimals=sz, max_leverage=10)


class CoinSeries:
    """One coin's bars (parallel lists, oldest first) and its funding records."""

    __slots__ = ("coin", "spec", "interval_ms", "t", "close_t", "open", "high", "low", "close", "volume",
                 "notional", "oracle", "open_interest", "funding_t", "funding_rate", "funding_premium", "bar_funding",
                 "_candles", "_funding_points")

    def __init__(
        self,
        coin: str,
        spec: AssetSpec,
        interval_ms: int,
        t: Sequence[int],
        open: Sequence[Decimal],
        high: Sequence[Decimal],
        low: Sequence[Decimal],
        close: Sequence[Decimal],
        volume: Sequence[Decimal],
        funding_t: Sequence[int] = (),
        funding_rate: Sequence[Decimal] = (),
        funding_premium: Sequence[Decimal | None] | None = None,
        oracle: Sequence[Decimal] | None = None,
        open_interest: Sequence[Decimal] | None = None,
    ) -> None:
        n = len(t)
        if n == 0:
            raise ValueError(f"{coin}: no candles")
        for name, col in (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume),
                          ("oracle", oracle), ("open_interest", open_interest)):
            if col is not None and len(col) != n:
                raise ValueError(f"{coin}: {name} has {len(col)} values for {n} bars")
        if len(funding_t) != len(funding_rate):
            raise ValueError(f"{coin}: {len(funding_t)} funding times for {len(funding_rate)} rates")
        self.coin = coin
        self.spec = spec
        self.interval_ms = interval_ms
        # Tuples of plain values: the garbage collector untracks them, so a long feed adds
        # nothing to every collection's work while a backtest allocates.
        self.t = tuple(t)
        self.close_t = tuple(x + interval_ms for x in self.t)
        self.open, self.high, self.low = tuple(open), tuple(high), tuple(low)
        self.close, self.volume = tuple(close), tuple(volume)
        self.notional = tuple(map(mul, self.volume, self.close))  # each bar's volume x close (a day's sums them)
        self.oracle = tuple(oracle) if oracle is not None else None
        self.open_interest = tuple(open_interest) if open_interest is not None else None
        self.funding_t = tuple(funding_t)
        self.funding_rate = tuple(funding_rate)
        self.funding_premium = tuple(funding_premium) if funding_premium is not None else None
        self.bar_funding = tuple(self._settlements_per_bar())
        self._candles: list[Candle | None] = [None] * n
        self._funding_points: list[FundingPoint | None] = [None] * len(self.funding_t)

    def _settlements_per_bar(self) -> list[Decimal | None]:
        """The funding rate settled at each bar's close: the records whose hour (records land a
        few ms to minutes after the hour) falls in (open, close]; None when there is none. A
        record whose hour has no bar (a gap in the candles) settles at the next bar's close, so
        a position held across a gap still pays it; records before the first bar are dropped."""
        out: list[Decimal | None] = [None] * len(self.t)
        j, ft, fr = 0, self.funding_t, self.funding_rate
        while j < len(ft) and ft[j] - ft[j] % HOUR_MS <= self.t[0]:
            j += 1
        for i, t1 in enumerate(self.close_t):
            total: Decimal | None = None
            while j < len(ft) and ft[j] - ft[j] % HOUR_MS <= t1:
                total = fr[j] if total is None else total + fr[j]
                j += 1
            out[i] = total
        return out

    def __len__(self) -> int:
        return len(self.t)

    def closed_count(self, now_ms: int) -> int:
        """How many bars have closed at or before `now_ms`."""
        return bisect_right(self.close_t, now_ms)

    def oracle_px(self, i: int) -> Decimal:
        return self.oracle[i] if self.oracle is not None else self.close[i]

    def candle(self, i: int) -> Candle:
        c = self._candles[i]
        if c is None:
            c = trusted(Candle, {"t_ms": self.t[i], "open": self.open[i], "high": self.high[i], "low": self.low[i],
                                 "close": self.close[i], "volume": self.volume[i]})  # (the series' own Decimals)
            self._candles[i] = c
        return c

    def funding_point(self, j: int) -> FundingPoint:
        p = self._funding_points[j]
        if p is None:
            prem = self.funding_premium[j] if self.funding_premium is not None else None
            p = trusted(FundingPoint, {"time_ms": self.funding_t[j], "rate": self.funding_rate[j], "premium": prem})
            self._funding_points[j] = p
        return p

    def funding_count(self, now_ms: int) -> int:
        return bisect_right(self.funding_t, now_ms)


class MarketFeed:
    """Per coin series sharing one bar interval, plus their specs (asset ids in coin order)."""

    def __init__(self, series: Mapping[str, CoinSeries]) -> None:
        if not series:
            raise ValueError("a market feed needs at least one coin")
        intervals = {s.interval_ms for s in series.values()}
        if len(intervals) != 1:
            raise ValueError(f"all coins must share one bar interval, got {sorted(intervals)} ms")
        self.series: dict[str, CoinSeries] = dict(series)
        self.interval_ms = intervals.pop()
        self.timeline: tuple[int, ...] = tuple(sorted({c for s in self.series.values() for c in s.close_t}))

    @property
    def coins(self) -> list[str]:
        return list(self.series)

    @property
    def specs(self) -> dict[str, AssetSpec]:
        return {c: s.spec for c, s in self.series.items()}

    @property
    def start_ms(self) -> int:
        """Open time of the earliest bar."""
        return min(s.t[0] for s in self.series.values())

    @property
    def end_ms(self) -> int:
        """Close time of the latest bar."""
        return self.timeline[-1]


# ---------------------------------------------------------------- CSV reading


def _decimal(text: str, path: Path, line: int, column: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise DataFileError(str(path), line, column, f"{text!r} is not a number") from None
    if not d.is_finite():
        raise DataFileError(str(path), line, column, f"{text!r} is not a finite number")
    return d


def _int(text: str, path: Path, line: int, column: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DataFileError(str(path), line, column, f"{text!r} is not an integer millisecond timestamp") from None


def _rows(path: Path, header: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterable[tuple[int, list[str]]]:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataFileError(str(path), None, None, f"cannot read: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh)
        first = next(reader, None)
        got = tuple(h.strip() for h in first) if first else ()
        if got not in (header, header + optional):
            want = ",".join(header) + (f"[,{','.join(optional)}]" if optional else "")
            raise DataFileError(str(path), 1, None, f"header is {','.join(got) or '(empty)'}; expected {want}")
        width = len(got)
        for lineno, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise DataFileError(str(path), lineno, None, f"{len(row)} fields; expected {width} ({','.join(got)})")
            yield lineno, row


def _after(prev: int | None, t: int, path: Path, line: int, field: str) -> int:
    """`t`, which must come after the previous row's time (the files are in time order, no repeats)."""
    if prev is not None and t <= prev:
        fix = "remove the repeated row" if t == prev else "sort the file by time"
        raise DataFileError(str(path), line, field, f"time {t} is not after the previous row's {prev}; {fix}")
    return t


def read_candles_csv(path: Path) -> list[Candle]:
    """Validated candles, oldest first: increasing times, low <= open/close <= high, volume >= 0."""
    out: list[Candle] = []
    prev = None
    for line, row in _rows(path, CANDLE_HEADER):
        t = _int(row[0], path, line, "t_ms")
        o, h, lo, c, v = (_decimal(row[k], path, line, CANDLE_HEADER[k]) for k in range(1, 6))
        prev = _after(prev, t, path, line, "t_ms")
        for name, val in (("open", o), ("high", h), ("low", lo), ("close", c)):
            if val <= 0:
                raise DataFileError(str(path), line, name, f"price {val} must be positive")
        if h < max(o, c, lo):
            raise DataFileError(str(path), line, "high", f"high {h} is below open/close/low")
        if lo > min(o, c):
            raise DataFileError(str(path), line, "low", f"low {lo} is above open/close")
        if v < 0:
            raise DataFileError(str(path), line, "volume", f"volume {v} is negative")
        out.append(trusted(Candle, {"t_ms": t, "open": o, "high": h, "low": lo, "close": c, "volume": v}))
    if not out:
        raise DataFileError(str(path), None, None, "no candle rows")
    return out


def read_funding_csv(path: Path) -> list[FundingPoint]:
    """Validated funding records, oldest first (hourly rates; longs pay when positive)."""
    out: list[FundingPoint] = []
    prev = None
    for line, row in _rows(path, FUNDING_HEADER, ("premium",)):
        t = _int(row[0], path, line, "time_ms")
        rate = _decimal(row[1], path, line, "fundingRate")
        prem = _decimal(row[2], path, line, "premium") if len(row) > 2 and row[2].strip() else None
        prev = _after(prev, t, path, line, "time_ms")
        if abs(rate) > Decimal("0.04"):
            raise DataFileError(str(path), line, "fundingRate", f"rate {rate} exceeds the 4%/hour cap")
        out.append(trusted(FundingPoint, {"time_ms": t, "rate": rate, "premium": prem}))
    return out


def read_context_csv(path: Path) -> dict[int, tuple[Decimal, Decimal]]:
    """Optional per-bar oracle price and open interest, keyed by bar open time (increasing, as the
    candles: a repeated time would silently replace the earlier row)."""
    out: dict[int, tuple[Decimal, Decimal]] = {}
    prev = None
    for line, row in _rows(path, CONTEXT_HEADER):
        t = _int(row[0], path, line, "t_ms")
        px = _decimal(row[1], path, line, "oracle_px")
        oi = _decimal(row[2], path, line, "open_interest")
        prev = _after(prev, t, path, line, "t_ms")
        if px <= 0:
            raise DataFileError(str(path), line, "oracle_px", f"price {px} must be positive")
        if oi < 0:
            raise DataFileError(str(path), line, "open_interest", f"open interest {oi} is negative")
        out[t] = (px, oi)
    return out


# ---------------------------------------------------------------- CSV writing


def _fmt(d: Decimal) -> str:
    return format(d, "f")


def candles_path(data_dir: Path, coin: str, interval: str = "1h") -> Path:
    return Path(data_dir) / f"{coin}_{interval}_candles.csv"


def funding_path(data_dir: Path, coin: str) -> Path:
    return Path(data_dir) / f"{coin}_funding.csv"


def context_path(data_dir: Path, coin: str, interval: str = "1h") -> Path:
    return Path(data_dir) / f"{coin}_{interval}_context.csv"


def write_candles_csv(path: Path, candles: Iterable[Candle]) -> None:
    with replacing(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CANDLE_HEADER)
        for c in candles:
            w.writerow((c.t_ms, _fmt(c.open), _fmt(c.high), _fmt(c.low), _fmt(c.close), _fmt(c.volume)))


def write_funding_csv(path: Path, points: Iterable[FundingPoint]) -> None:
    """Funding records; a `premium` column is added when any record carries one."""
    rows = list(points)
    with_premium = any(p.premium is not None for p in rows)
    with replacing(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(FUNDING_HEADER + (("premium",) if with_premium else ()))
        for p in rows:
            prem = (_fmt(p.premium) if p.premium is not None else "",) if with_premium else ()
            w.writerow((p.time_ms, _fmt(p.rate)) + prem)


def save_feed(feed: MarketFeed, data_dir: Path, interval: str = "1h") -> None:
    """Write every coin's candles, funding, context (when known) and meta.json into `data_dir`."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    for coin, s in feed.series.items():
        write_candles_csv(candles_path(d, coin, interval), (s.candle(i) for i in range(len(s))))
        write_funding_csv(funding_path(d, coin), (s.funding_point(j) for j in range(len(s.funding_t))))
        if s.oracle is not None or s.open_interest is not None:
            with replacing(context_path(d, coin, interval)) as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(CONTEXT_HEADER)
                for i in range(len(s)):
                    oi = s.open_interest[i] if s.open_interest is not None else Decimal(0)
                    w.writerow((s.t[i], _fmt(s.oracle_px(i)), _fmt(oi)))
    universe = [{"name": s.spec.name, "szDecimals": s.spec.sz_decimals, "maxLeverage": s.spec.max_leverage}
                for s in sorted(feed.series.values(), key=lambda s: s.spec.asset_id)]
    (d / "meta.json").write_text(json.dumps({"universe": universe}, indent=1) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- loading a data directory


def _read_meta(path: Path) -> dict[str, AssetSpec]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {u["name"]: AssetSpec(name=u["name"], asset_id=i, sz_decimals=int(u["szDecimals"]),
                                     max_leverage=int(u["maxLeverage"]))
                for i, u in enumerate(raw["universe"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFileError(str(path), None, None,
                            f"not a Hyperliquid meta document ({exc}); expected "
                            '{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":40}]} or delete the file') from None


def series_from_rows(coin: str, spec: AssetSpec, interval: str, candles: Sequence[Candle],
                     funding: Sequence[FundingPoint] = (),
                     context: Mapping[int, tuple[Decimal, Decimal]] | None = None) -> CoinSeries:
    """Build a CoinSeries from domain candles and funding points (plus optional per-bar context)."""
    oracle = oi = None
    if context:
        oracle = [context[c.t_ms][0] if c.t_ms in context else c.close for c in candles]
        oi = [context[c.t_ms][1] if c.t_ms in context else Decimal(0) for c in candles]
    has_prem = any(p.premium is not None for p in funding)
    return CoinSeries(
        coin, spec, interval_ms(interval),
        [c.t_ms for c in candles], [c.open for c in candles], [c.high for c in candles],
        [c.low for c in candles], [c.close for c in candles], [c.volume for c in candles],
        [p.time_ms for p in funding], [p.rate for p in funding],
        [p.premium for p in funding] if has_prem else None, oracle, oi,
    )


def discover_coins(data_dir: Path, interval: str = "1h") -> list[str]:
    suffix = f"_{interval}_candles.csv"
    return sorted(p.name[: -len(suffix)] for p in Path(data_dir).glob(f"*{suffix}"))


def load_feed(data_dir: Path | str, coins: Sequence[str] | None = None, interval: str = "1h") -> MarketFeed:
    """Load a data directory. Coins default to every `<COIN>_<interval>_candles.csv` found;
    a missing funding file means no funding for that coin."""
    d = Path(data_dir)
    if d.is_file():
        raise DataFileError(str(d), None, None, f"is a file, not a data folder; give the folder that holds it ({d.parent})")
    if not d.is_dir():
        raise DataFileError(str(d), None, None, "data directory not found; download data with `hl-agent data download` "
                            "or set [venue] source = \"synthetic\"")
    wanted = list(coins) if coins else discover_coins(d, interval)
    if not wanted:
        raise DataFileError(str(d), None, None, f"no *_{interval}_candles.csv files; expected e.g. BTC_{interval}_candles.csv")
    meta = _read_meta(d / "meta.json") if (d / "meta.json").is_file() else {}
    series: dict[str, CoinSeries] = {}
    for idx, coin in enumerate(wanted):
        cpath = candles_path(d, coin, interval)
        if not cpath.is_file():
            raise DataFileError(str(cpath), None, None, f"missing candles for {coin}; download them or drop {coin} from the coins")
        candles = read_candles_csv(cpath)
        fpath = funding_path(d, coin)
        funding = read_funding_csv(fpath) if fpath.is_file() else []
        xpath = context_path(d, coin, interval)
        context = read_context_csv(xpath) if xpath.is_file() else None
        # asset ids are the coin's position here, so they stay contiguous like meta's universe
        known = meta.get(coin)
        spec = known.model_copy(update={"asset_id": idx}) if known else infer_spec(coin, idx, candles[-1].close)
        try:
            series[coin] = series_from_rows(coin, spec, interval, candles, funding, context)
        except ValueError as exc:
            raise DataFileError(str(cpath), None, None, str(exc)) from None
    return MarketFeed(series)
