"""Download candles and funding history from Hyperliquid (or the emulator) into a data folder.

- `candleSnapshot` serves at most 5000 candles per request and `fundingHistory` at most 500
  rows, so both are paged: candles in windows of 5000 intervals, funding from the last row.
- Requests are weight-limited on a sliding 60 s window (1200 weight per minute per IP):
  candleSnapshot weighs 20 + 1 per 60 candles returned, fundingHistory 20 + 1 per 20 rows.
  A 429 or 5xx is retried with backoff (reads are always safe to retry).
- Resume: rows already on disk are kept; only what is missing before the first or after the
  last stored row is fetched. New rows are written after every page (candles before the
  stored ones are paged backward from them; funding rows before them are written once that
  range is complete), so an interrupted download never leaves a hole a later run would miss.
- Output is `exchange/feed.py`'s CSV format (`<COIN>_<interval>_candles.csv`,
  `<COIN>_funding.csv`) plus `meta.json`, so `[venue] source = "data"` can replay it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from hyperliquid_agent.errors import DataFileError, VenueResponseError
from hyperliquid_agent.exchange import feed, wire
from hyperliquid_agent.exchange.nonce import wall_clock_ms
from hyperliquid_agent.exchange.retry import RetryPolicy, call_with_retry, parse, with_http_errors
from hyperliquid_agent.files import replacing
from hyperliquid_agent.times import utc_minute

WEIGHT_PER_MINUTE = 1200
BASE_WEIGHT = 20
CANDLE_PAGE = 5000
FUNDING_PAGE = 500


def candle_weight(items: int) -> int:
    return BASE_WEIGHT + items // 60


def funding_weight(items: int) -> int:
    return BASE_WEIGHT + items // 20


class WeightLimiter:
    """A sliding-window budget of request weight (Hyperliquid: 1200 per minute per IP)."""

    def __init__(self, per_minute: int = WEIGHT_PER_MINUTE, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._spent: deque[tuple[float, int]] = deque()
        self.waited_s = 0.0

    def used(self) -> int:
        now = self._clock()
        while self._spent and self._spent[0][0] <= now - self.window_s:
            self._spent.popleft()
        return sum(w for _, w in self._spent)

    def acquire(self, weight: int) -> None:
        """Wait until `weight` fits in the window, then record it."""
        weight = min(weight, self.per_minute)
        while self.used() + weight > self.per_minute:
            wait = self._spent[0][0] + self.window_s - self._clock()
            wait = max(wait, 0.001)
            self.waited_s += wait
            self._sleep(wait)
        self._spent.append((self._clock(), weight))

    def charge(self, weight: int) -> None:
        """Record extra weight learned after a response (items returned)."""
        if weight > 0:
            self._spent.append((self._clock(), weight))


@dataclass
class CoinReport:
    coin: str
    candles_added: int = 0
    candles_total: int = 0
    funding_added: int = 0
    funding_total: int = 0
    requests: int = 0
    candles_from: int | None = None  # the open time (ms) of the first candle the folder holds


class Downloader:
    """Pages candles and funding for coins into `out_dir` through the SDK's Info client."""

    def __init__(self, url: str, out_dir: Path, *, limiter: WeightLimiter | None = None,
                 timeout_s: float = 10.0, max_retries: int = 3, backoff_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, now_ms: Callable[[], int] = wall_clock_ms,
                 candle_page: int = CANDLE_PAGE, funding_page: int = FUNDING_PAGE,
                 progress: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.out_dir = Path(out_dir)
        self.limiter = limiter or WeightLimiter(sleep=sleep)
        self.timeout_s = timeout_s
        self.policy = RetryPolicy(max_retries=max_retries, backoff_s=backoff_s, max_backoff_s=30.0)
        self._sleep = sleep
        self._now_ms = now_ms
        self.candle_page = candle_page
        self.funding_page = funding_page
        self._progress = progress or (lambda _msg: None)
        self._info: Any = None
        self._meta: Any = None

    def _client(self) -> Any:
        """The SDK's Info client, built once: meta fetched here (one request), no spot pairs
        (market data downloads are perps; an empty spotMeta also avoids the SDK's KeyError on
        inconsistent spot tokens), no websocket."""
        if self._info is None:
            from hyperliquid.api import API
            from hyperliquid.info import Info

            api = with_http_errors(API(self.url, self.timeout_s))
            self.limiter.acquire(BASE_WEIGHT)
            meta = call_with_retry(lambda: api.post("/info", {"type": "meta", "dex": ""}), "meta", self.policy,
                                   only_if_not_landed=False, sleep=self._sleep)
            self._meta = parse(wire.MetaWire, meta, "meta")
            self._info = with_http_errors(Info(self.url, skip_ws=True, meta=meta,
                                               spot_meta={"tokens": [], "universe": []}, timeout=self.timeout_s))
        return self._info

    def _get(self, what: str, call: Callable[[Any], Any], weight: int) -> list[Any]:
        info = self._client()
        self.limiter.acquire(weight)
        data = call_with_retry(lambda: call(info), what, self.policy, only_if_not_landed=False, sleep=self._sleep)
        if not isinstance(data, list):
            raise VenueResponseError(f"{what}: expected a list, got {type(data).__name__}")
        return data

    # ---------------------------------------------------------------- public
    def run(self, coins: Iterable[str], interval: str, start_ms: int, end_ms: int) -> list[CoinReport]:
        iv = feed.interval_ms(interval)
        if end_ms <= start_ms:
            raise ValueError(f"--end ({utc_minute(end_ms, zone=True)}) must be after --start ({utc_minute(start_ms, zone=True)})")
        now = self._now_ms()
        if start_ms >= now:
            raise ValueError(f"--start ({utc_minute(start_ms, zone=True)}) is in the future: there is nothing to download yet")
        end_ms = min(end_ms, now)  # nothing exists after now: no requests for windows of the future
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise DataFileError(str(self.out_dir), None, None, "is a file, not a folder; give --out a folder "
                                "(it is created if missing)")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataFileError(str(self.out_dir), None, None, f"cannot create the folder: {exc.strerror or exc}") from None
        reports = []
        info = self._client()
        coins = list(coins)
        for coin in coins:  # every name checked before anything is fetched or written
            if coin not in info.name_to_coin:
                close = [c.name for c in self._meta.universe if c.name.lower() == coin.lower()]
                hint = f"; did you mean {close[0]!r}? (names are case-sensitive)" if close else \
                    " (--coins takes the perp names of the venue's meta, e.g. BTC,ETH)"
                raise ValueError(f"unknown coin {coin!r} at {self.url}{hint}")
        for coin in coins:
            rep = CoinReport(coin)
            self._candles(coin, interval, iv, start_ms, end_ms, rep)
            self._funding(coin, start_ms, end_ms, rep)
            reports.append(rep)
        self._write_meta()
        return reports

    # ---------------------------------------------------------------- candles
    def _candles(self, coin: str, interval: str, iv: int, start: int, end: int, rep: CoinReport) -> None:
        path = feed.candles_path(self.out_dir, coin, interval)
        have = feed.read_candles_csv(path) if path.is_file() else []
        before = len(have)
        now = self._now_ms()
        for lo, hi in _missing_ranges([c.t_ms for c in have], start, end, step=iv):
            # A range before the stored rows is paged backward from them, so a run interrupted
            # there leaves one unbroken span that the next run extends (paged forward, it would
            # leave a hole between the new pages and the old rows that no later run sees).
            backward = bool(have) and hi < have[0].t_ms
            for s, e in _windows(lo, hi, self.candle_page * iv, backward):
                rows = self._get("candleSnapshot", lambda i, s=s, e=e: i.candles_snapshot(coin, interval, s, e),
                                 candle_weight(0))
                rep.requests += 1
                self.limiter.charge(candle_weight(len(rows)) - candle_weight(0))
                page = parse(wire.rows(wire.CandleWire), rows, "candleSnapshot")
                fetched = [wire.candle_from_wire(c) for c in page if s <= c.t <= e and c.close_ms < now]  # closed bars
                if fetched:
                    have = _merge(have, fetched, key=lambda c: c.t_ms)
                    feed.write_candles_csv(path, have)
                    self._progress(f"{coin}: {len(have)} candles")
        rep.candles_total = len(have)
        rep.candles_from = have[0].t_ms if have else None
        rep.candles_added = len(have) - before

    # ---------------------------------------------------------------- funding
    def _funding(self, coin: str, start: int, end: int, rep: CoinReport) -> None:
        path = feed.funding_path(self.out_dir, coin)
        have = feed.read_funding_csv(path) if path.is_file() else []
        before = len(have)
        for lo, hi in _missing_ranges([p.time_ms for p in have], start, end, step=1):
            # fundingHistory pages only forward (the earliest rows of a range), so the rows of a
            # range before the stored ones are written once the range is complete: an interrupted
            # run must not leave a hole between them and the old rows, which no later run would see.
            prepend = bool(have) and hi < have[0].time_ms
            pending: list[Any] = []
            s = lo
            while s <= hi:
                rows = self._get("fundingHistory", lambda i, s=s: i.funding_history(coin, s, hi), funding_weight(0))
                rep.requests += 1
                self.limiter.charge(funding_weight(len(rows)) - funding_weight(0))
                page = [wire.funding_from_wire(r) for r in parse(wire.rows(wire.FundingHistoryWire), rows, "fundingHistory")]
                page = [p for p in page if s <= p.time_ms <= hi]
                if not page:
                    break
                if prepend:
                    pending.extend(page)
                    self._progress(f"{coin}: {len(pending)} earlier funding rows fetched")
                else:
                    have = _merge(have, page, key=lambda p: p.time_ms)
                    feed.write_funding_csv(path, have)
                    self._progress(f"{coin}: {len(have)} funding rows")
                if len(rows) < self.funding_page:
                    break
                s = page[-1].time_ms + 1
            if pending:
                have = _merge(have, pending, key=lambda p: p.time_ms)
                feed.write_funding_csv(path, have)
                self._progress(f"{coin}: {len(have)} funding rows")
        rep.funding_total = len(have)
        rep.funding_added = len(have) - before

    def _write_meta(self) -> None:
        """meta.json with the venue's specs (szDecimals, maxLeverage), merged with what is there."""
        path = self.out_dir / "meta.json"
        known: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                known = {u["name"]: u for u in json.loads(path.read_text(encoding="utf-8"))["universe"]}
            except (ValueError, KeyError, TypeError):
                known = {}
        for a in self._meta.universe:
            known[a.name] = {"name": a.name, "szDecimals": a.szDecimals, "maxLeverage": a.maxLeverage}
        with replacing(path) as fh:  # whole or not at all, like the CSVs
            fh.write(json.dumps({"universe": list(known.values())}, indent=1) + "\n")


def _missing_ranges(times: list[int], start: int, end: int, step: int) -> list[tuple[int, int]]:
    """The parts of [start, end] not covered by the stored rows (before the first, after the last),
    each reaching to the stored rows: a window wholly after them is fetched from the last stored row
    on, as one wholly before them is fetched up to the first, so the file never gets a hole."""
    if not times:
        return [(start, end)]
    first, last = min(times), max(times)
    out = []
    if start < first:
        out.append((start, first - 1))
    if last + step <= end:
        out.append((last + step, end))
    return out


def _windows(lo: int, hi: int, width: int, backward: bool) -> list[tuple[int, int]]:
    """[lo, hi] cut into windows of `width` ms, in time order or (backward) newest first."""
    out = [(s, min(s + width - 1, hi)) for s in range(lo, hi + 1, width)]
    if backward:  # aligned on hi, so the newest window ends exactly where the stored rows begin
        out = [(max(e - width + 1, lo), e) for e in range(hi, lo - 1, -width)]
    return out


def _merge(have: list[Any], new: list[Any], key: Callable[[Any], int]) -> list[Any]:
    by_key = {key(x): x for x in have}
    for x in new:
        by_key.setdefault(key(x), x)
    return [by_key[k] for k in sorted(by_key)]


__all__ = ["CoinReport", "Downloader", "WeightLimiter", "candle_weight", "funding_weight"]
