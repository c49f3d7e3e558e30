"""Collect one cycle's market view from the exchange port: snapshot, specs, books, history, signals.

The collector keeps each coin's candle and funding history in memory and fetches only
what is new each cycle (the last, possibly still open, bar is re-fetched), so a cycle
costs a handful of small requests instead of 30 days of candles. Open-interest samples
come from successive snapshots. `compute_signals` filters everything to `now` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Sequence

from hyperliquid_agent.domain import AssetSpec, BookLevel, BookView, Candle, FundingPoint, MarketSnapshot, MarketType
from hyperliquid_agent.ports import ExchangePort
from hyperliquid_agent.signals import (
    HOUR_MS,
    MAX_LOOKBACK_HOURS,
    CoinHistory,
    MarketHistory,
    SignalCache,
    SignalTable,
    compute_signals,
)

FUNDING_LOOKBACK_MS = 48 * HOUR_MS
OI_KEEP_MS = 26 * HOUR_MS

_open_time = attrgetter("t_ms")
_funding_time = attrgetter("time_ms")


@dataclass(frozen=True)
class MarketData:
    """What one cycle knows about the market at `now_ms`."""

    now_ms: int
    snapshot: MarketSnapshot
    specs: dict[str, AssetSpec]
    books: dict[str, BookView]
    signals: SignalTable
    errors: tuple[str, ...] = ()

    def digest(self) -> dict:
        """A compact view for the audit record (and enough for a replay)."""
        return {
            "time_ms": self.snapshot.time_ms,
            "mids": {c: self.snapshot.mids[c] for c in sorted(self.snapshot.mids) if c in self.specs},
            "contexts": {c: ctx for c, ctx in sorted(self.snapshot.contexts.items()) if c in self.specs},
            "books": {c: {"bids": _level(b.best_bid), "asks": _level(b.best_ask), "time_ms": b.time_ms}
                      for c, b in self.books.items()},
            "specs": self.specs,
        }


def _level(best: BookLevel | None) -> tuple[BookLevel, ...]:
    """A side's top level as the record keeps it: a one-level (or empty) side."""
    return () if best is None else (best,)


@dataclass
class _CoinState:
    candles: list[Candle] = field(default_factory=list)
    funding: list[FundingPoint] = field(default_factory=list)
    oi: list[tuple[int, object]] = field(default_factory=list)


class MarketCollector:
    def __init__(self, exchange: ExchangePort, coins: Sequence[str], interval: str = "1h",
                 interval_ms: int = HOUR_MS, lookback_bars: int = MAX_LOOKBACK_HOURS) -> None:
        self.exchange = exchange
        self.coins = tuple(coins)
        self.interval = interval
        self.interval_ms = interval_ms
        self.lookback_bars = lookback_bars
        self.cache = SignalCache()
        self._state: dict[str, _CoinState] = {c: _CoinState() for c in self.coins}
        self._specs: dict[str, AssetSpec] | None = None

    def specs(self, refresh: bool = False) -> dict[str, AssetSpec]:
        if self._specs is None or refresh:
            all_specs = self.exchange.asset_specs()
            self._specs = {c: all_specs[c] for c in self.coins if c in all_specs}
        return self._specs

    def collect(self, now_ms: int, refresh_specs: bool = False) -> MarketData:
        specs = self.specs(refresh_specs)
        snapshot = self.exchange.market_snapshot()
        books: dict[str, BookView] = {}
        errors: list[str] = []
        coins: dict[str, CoinHistory] = {}
        for coin in self.coins:
            st = self._state[coin]
            self._update_candles(coin, st, now_ms)
            self._update_funding(coin, st, now_ms)
            ctx = snapshot.contexts.get(coin)
            if ctx is not None:
                st.oi.append((snapshot.time_ms, ctx.open_interest))
                cut = snapshot.time_ms - OI_KEEP_MS
                while st.oi and st.oi[0][0] < cut:
                    st.oi.pop(0)
            elif coin in specs and specs[coin].market_type is MarketType.PERP:  # (spot pairs have none)
                errors.append(f"{coin}: no asset context in the venue's metaAndAssetCtxs: its funding rate, open "
                              "interest, mark and oracle are missing from this cycle's signals")
            self._read_book(coin, books, errors)
            coins[coin] = CoinHistory(candles=st.candles, funding=st.funding, book=books.get(coin),
                                      open_interest=tuple(st.oi), interval_ms=self.interval_ms)
        signals = compute_signals(MarketHistory(coins=coins, snapshot=snapshot), now_ms, self.cache)
        return MarketData(now_ms=now_ms, snapshot=snapshot, specs=specs, books=books, signals=signals,
                          errors=tuple(errors))

    def quote(self, errors: list[str]) -> tuple[MarketSnapshot, dict[str, BookView]]:
        """The snapshot and the books alone, as they are now (no history, no signals): what
        orders are priced on when they are priced after the cycle's collect (a backtest's, at
        the end of its fill latency). A book that cannot be read is left out, said in `errors`."""
        snapshot = self.exchange.market_snapshot()
        books: dict[str, BookView] = {}
        for coin in self.coins:
            self._read_book(coin, books, errors)
        return snapshot, books

    def _read_book(self, coin: str, books: dict[str, BookView], errors: list[str]) -> None:
        try:
            books[coin] = self.exchange.book_view(coin)
        except Exception as exc:  # a missing book degrades spread/depth signals only
            errors.append(f"{coin}: no order book ({exc})")

    def _update_candles(self, coin: str, st: _CoinState, now_ms: int) -> None:
        floor = now_ms - self.lookback_bars * self.interval_ms
        start = st.candles[-1].t_ms if st.candles else floor
        fresh = sorted(self.exchange.candles(coin, self.interval, start, now_ms), key=_open_time)
        if fresh and st.candles and fresh[0] is st.candles[-1]:  # the bar we hold, handed back: the rest is new
            st.candles += fresh[1:]
        elif fresh:  # replace from the first re-fetched bar on (the last bar may have been open)
            k = len(st.candles)
            while k and st.candles[k - 1].t_ms >= fresh[0].t_ms:
                k -= 1
            held = {c.t_ms: c for c in st.candles[k:]}
            st.candles[k:] = [_kept(held, c) for c in fresh]
        drop = 0
        while drop < len(st.candles) and st.candles[drop].t_ms < floor:
            drop += 1
        if drop:
            del st.candles[:drop]

    def _update_funding(self, coin: str, st: _CoinState, now_ms: int) -> None:
        start = st.funding[-1].time_ms + 1 if st.funding else now_ms - FUNDING_LOOKBACK_MS
        fresh = self.exchange.funding_history(coin, start, now_ms)
        if fresh:
            st.funding.extend(sorted(fresh, key=_funding_time))
        cut = now_ms - FUNDING_LOOKBACK_MS
        drop = 0  # the records are in time order: the old ones are a prefix (usually one)
        while drop < len(st.funding) and st.funding[drop].time_ms < cut:
            drop += 1
        if drop:
            st.funding = st.funding[drop:]  # a new list: the cycles before keep theirs


def _kept(held: dict[int, Candle], c: Candle) -> Candle:
    """The held bar at c's time when it is the same bar, else c: an unchanged bar keeps its
    object, so the signal cache takes its fast path (same objects). Identity is checked
    first: the simulated venue hands back its cached candles, and a new bar has no held one."""
    old = held.get(c.t_ms)
    return old if old is not None and (old is c or old == c) else c
