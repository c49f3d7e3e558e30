"""The in-process venue of a backtest: its market data, the venue model, the decision bars,
and the exchange port with the run's fill latency."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, Sequence

from hyperliquid_agent.backtest.spec import BacktestSpec, day_ms, run_settings
from hyperliquid_agent.config import Config
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.exchange.feed import HOUR_MS, WARMUP_DAYS
from hyperliquid_agent.times import utc_minute

ADDRESS = "0x" + "0b" * 20  # the one simulated account of a backtest


def build_feed(cfg: Config, spec: BacktestSpec):
    """The market data of the run: the CSV folder (hourly bars), or the seeded synthetic generator
    (the window's part of the seed's history, see `synthetic.timeline_origin`)."""
    if spec.data_dir is not None:
        from hyperliquid_agent.exchange.feed import load_feed

        return load_feed(spec.data_dir, list(spec.coins), "1h")
    from hyperliquid_agent.exchange import synthetic

    venue = run_settings(cfg, spec).venue if spec.overrides else cfg.venue  # a `--set venue.seed=...` too
    seed = venue.seed if spec.seed is None else spec.seed
    days = venue.synthetic_days
    if spec.start is None:
        start_ms = synthetic.DEFAULT_START_MS
        if spec.end is not None:
            days = max(2, (day_ms(spec.end) - start_ms) // 86_400_000)
    else:
        start_ms = day_ms(spec.start) - WARMUP_DAYS * 86_400_000  # history before the window, for the signals
        end = spec.end or date.fromordinal(spec.start.toordinal() + days)
        days = (end.toordinal() - spec.start.toordinal()) + WARMUP_DAYS
    # a window (with its warm-up) is a slice of the seed's one history: the same dates give the same bars
    return synthetic.synthetic_feed(seed=seed, days=days, coins=list(spec.coins), start_ms=start_ms,
                                    origin_ms=synthetic.timeline_origin(start_ms))


def build_venue(cfg: Config, feed, start_ms: int):
    """The venue model `[venue]` describes (fees, slippage, spread, impact: the same builder the
    paper venue uses) over the run's feed, with the one account funded with `start_equity_usd`."""
    from hyperliquid_agent.exchange.simulated import model_from_config

    model = model_from_config(cfg.venue, feed, start_ms=start_ms)
    model.create_account(ADDRESS, cfg.venue.start_equity_usd)
    return model


def common_closes(feed, coins: Sequence[str]) -> set[int]:
    """The bar close times at which every coin has a bar (a missing bar of any coin leaves its hour out)."""
    common: set[int] | None = None
    for coin in coins:
        if coin not in feed.series:
            raise ConfigError(f"no data for {coin} (have {', '.join(feed.coins)}); fix --coins or the data folder")
        closes = set(feed.series[coin].close_t)
        common = closes if common is None else common & closes
    return common or set()


def bar_times(feed, coins: Sequence[str], interval_ms: int, start_ms: int | None, end_ms: int | None) -> list[int]:
    """Decision times: bar closes where every coin has a bar, on the interval's grid, within [start, end).

    Without a start, the window begins after `WARMUP_DAYS` of data, so the first decision
    already has the month of history the slow signals need.
    """
    times = sorted(t for t in common_closes(feed, coins) if t % interval_ms == 0)
    if start_ms is None and times:
        start_ms = times[0] + WARMUP_DAYS * 86_400_000
        if start_ms > times[-1]:
            start_ms = times[0]
    return [t for t in times if t >= start_ms and (end_ms is None or t < end_ms)]


def coverage_warnings(feed, coins: Sequence[str], times: Sequence[int], interval_ms: int, start_ms: int | None,
                      end_ms: int | None) -> list[str]:
    """What the data does not cover, said before the run: a window that starts before or ends
    after the data, a warm-up shorter than the signals' month, and missing bars in the window
    (during which the venue holds each coin at its last close and no decision is taken)."""
    out: list[str] = []
    first, last = times[0], times[-1]
    step = feed.interval_ms
    if start_ms is not None and first - interval_ms > start_ms:  # the first decision closes the window's first bar
        out.append(f"the data for {','.join(coins)} starts after --start: the window starts at {utc_minute(first)} "
                   f"(the first bar close every coin has), not {utc_minute(start_ms)}")
    if end_ms is not None and last + interval_ms < end_ms:
        out.append(f"the data for {','.join(coins)} ends before --end: the window ends at {utc_minute(last)}, "
                   f"not {utc_minute(end_ms)}")
    history = first - max(feed.series[c].t[0] for c in coins)
    if history < WARMUP_DAYS * 86_400_000:
        out.append(f"only {history / 86_400_000:.1f} days of data before the first decision ({utc_minute(first)}); the "
                   f"signals want {WARMUP_DAYS} (a month of hourly bars), so the early decisions see less "
                   f"history than a live agent would")
    out += _funding_warnings(feed, coins, first, last)
    for coin in coins:
        have = set(feed.series[coin].close_t)
        missing = [t for t in range(first, last + step, step) if t not in have]
        if missing:
            out.append(f"{coin}: {len(missing)} hourly bar(s) missing in the window (the first closing at "
                       f"{utc_minute(missing[0])}): the venue holds {coin} at its last close until its next bar, checks "
                       f"no order or liquidation for it meanwhile and pays that funding at the next bar, and no "
                       f"decision is taken at such a bar or at one whose fills would land on it")
    return out


FUNDING_GAP_MS = 9 * HOUR_MS  # older records settle every 8 hours; a longer gap at an edge is missing data


def _funding_warnings(feed, coins: Sequence[str], first: int, last: int) -> list[str]:
    """A coin with no funding records over the window (its `<COIN>_funding.csv` missing, or
    ending early) would silently pay and receive nothing: say so."""
    from bisect import bisect_left, bisect_right

    out: list[str] = []
    for coin in coins:
        ft = feed.series[coin].funding_t
        inside = ft[bisect_left(ft, first - FUNDING_GAP_MS):bisect_right(ft, last)]
        if not inside:
            out.append(f"{coin}: no funding records between {utc_minute(first)} and {utc_minute(last)}: the run pays and "
                       f"receives no funding on {coin}; add {coin}_funding.csv to the data folder "
                       f"(`hl-agent data download` writes it)")
            continue
        if inside[0] > first + FUNDING_GAP_MS:
            out.append(f"{coin}: funding records start at {utc_minute(inside[0])}, after the window's first bar "
                       f"({utc_minute(first)}): no funding is paid or received on {coin} before then")
        if inside[-1] < last - FUNDING_GAP_MS:
            out.append(f"{coin}: funding records end at {utc_minute(inside[-1])}, before the window's last bar "
                       f"({utc_minute(last)}): no funding is paid or received on {coin} after then")
        out += _funding_cadence_warning(coin, inside)
    return out


def _funding_cadence_warning(coin: str, times: Sequence[int]) -> list[str]:
    """Between a coin's first and last funding record of the window: records that come every
    8 hours (Hyperliquid's older data) or hours that have none (a gap in the file)."""
    from statistics import median

    hours = sorted({t - t % HOUR_MS for t in times})
    if len(hours) < 2:
        return []
    missing = (hours[-1] - hours[0]) // HOUR_MS + 1 - len(hours)
    if not missing:
        return []
    every = int(median(b - a for a, b in zip(hours, hours[1:]))) // HOUR_MS
    if every > 1:
        return [f"{coin}: its funding records come every {every} hours over the window (Hyperliquid settled every "
                f"8 hours before 2023-06-08): the venue pays each record's rate once, at its hour, as the funding of "
                f"its whole period, but the signals and strategies read the latest record as the hourly rate, so the "
                f"funding they see is about {every} times what an hourly record would say; use a window with hourly "
                f"funding records, or weigh funding-driven decisions accordingly"]
    first_gap = next(a + HOUR_MS for a, b in zip(hours, hours[1:]) if b - a > HOUR_MS)
    return [f"{coin}: {missing} hour(s) of the window have no funding record (the first at {utc_minute(first_gap)}): "
            f"no funding is paid or received on {coin} for those hours; `hl-agent data download` fetches what "
            f"is missing"]


class LatencyExchange:
    """The exchange port over the simulated venue, with the backtest's fill latency.

    Everything delegates to the in-process `SimulatedExchange`; placing orders first moves
    the model `latency_ms` forward through the runner's clock (so the curve records every
    bar crossed). Reads never move time.

    The account state is built once per state of the venue and shared by every read until
    the state changes (the curve's bar, then the cycle's account before and after: most
    cycles place nothing, so one build serves all three). The backtest's venue changes only
    when the runner's clock moves it or through this port, so the cached value is dropped
    when the clock reads differently or on any call through the port that is not a read.
    """

    # port calls that change nothing on the venue (anything else drops the cached account)
    READS = frozenset({"asset_specs", "market_snapshot", "candles", "funding_history", "l2_book", "book_view", "open_orders",
                       "fills", "user_funding", "order_status_by_cloid"})

    def __init__(self, inner: Any, advance: Callable[[int], None], now: Callable[[], int], latency_ms: int) -> None:
        self._inner = inner
        self._advance = advance
        self._now = now
        self._latency_ms = latency_ms
        self.decision_ms: int | None = None  # set by the runner before each cycle
        self._changes = 0  # calls through the port that may have changed the venue
        self._account: tuple[tuple[int, int], Any] | None = None  # ((clock, changes), account state)

    def account_state(self):
        state = (self._now(), self._changes)
        if self._account is None or self._account[0] != state:
            self._account = (state, self._inner.account_state())
        return self._account[1]

    def arrive(self, decision_ms: int) -> int:
        """Move the venue to when the orders of a decision taken at `decision_ms` reach it (the
        cycle pipeline does, to price them there); returns that time."""
        due = decision_ms + self._latency_ms
        if due > self._now():
            self._advance(due)
        return due

    def place_orders(self, orders):
        # every submission of one cycle (reductions, then increases) lands at the same bar
        # (the pipeline has moved the venue there already, to price them)
        self.arrive(self.decision_ms if self.decision_ms is not None else self._now())
        self._changes += 1
        return self._inner.place_orders(orders)

    def __getattr__(self, name: str) -> Any:
        if name not in self.READS:
            self._changes += 1
            return getattr(self._inner, name)
        read = self.__dict__[name] = getattr(self._inner, name)  # kept: the next lookup finds it without this call
        return read
