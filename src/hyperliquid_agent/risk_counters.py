"""RiskCounters: the small persisted memory of the risk policy (pure value).

Daily traded notional and the day-start equity roll over at UTC midnight, computed
from `now_ms` (never the clock). Trades per hour is a sliding window of trade times.
`to_state()`/`from_state()` give plain JSON for the state store (see `risk_store.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Sequence

from hyperliquid_agent.domain import ZERO, to_decimal

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def utc_day(now_ms: int) -> int:
    """Days since the epoch, UTC: the counters' rollover key."""
    return now_ms // DAY_MS


@dataclass(frozen=True)
class RiskCounters:
    day: int = -1  # utc_day of the figures below; -1 = never rolled
    day_start_equity: Decimal | None = None
    daily_notional: Decimal = ZERO
    trade_times_ms: tuple[int, ...] = ()  # trades in the last hour (pruned on roll)
    consecutive_failures: int = 0
    last_open_ms: int | None = None
    max_size_streak: int = 0
    stops: tuple[tuple[str, int], ...] = ()  # (coin, time) of each coin's latest stop-loss close

    def stopped_until(self, coin: str, minutes: int) -> int | None:
        """When the re-entry hold of `coin`'s latest stop-loss ends (None: no hold now or ever)."""
        if not minutes:
            return None
        at = next((t for c, t in self.stops if c == coin), None)
        return None if at is None else at + minutes * 60_000

    def with_stops(self, coins: Sequence[str], now_ms: int) -> "RiskCounters":
        """`coins` closed by the stop-loss at `now_ms` (each coin keeps its latest stop only)."""
        kept = tuple((c, t) for c, t in self.stops if c not in coins)
        return replace(self, stops=kept + tuple((c, now_ms) for c in sorted(set(coins))))

    # ---- transitions (each returns a new value)
    def rolled(self, now_ms: int, equity: Decimal) -> "RiskCounters":
        """Start a new UTC day if `now_ms` is in a later day; drop trades older than an hour."""
        recent = tuple(t for t in self.trade_times_ms if now_ms - t < HOUR_MS)
        today = utc_day(now_ms)
        if today != self.day:
            return replace(self, day=today, day_start_equity=equity, daily_notional=ZERO, trade_times_ms=recent)
        if self.day_start_equity is None:  # today was started by a late-counted trade, with no equity reading
            return replace(self, day_start_equity=equity, trade_times_ms=recent)
        if recent != self.trade_times_ms:
            return replace(self, trade_times_ms=recent)
        return self

    def reviewed(self, now_ms: int, equity: Decimal, max_size_asked: bool | None) -> "RiskCounters":
        """What a risk review starts from: rolled to `now_ms`, and the max-size streak moved when the
        review is of a decision's orders (`max_size_asked` is not None)."""
        out = self.rolled(now_ms, equity)
        return out if max_size_asked is None else out.with_max_size(max_size_asked)

    def with_trade(self, notional: Decimal, now_ms: int, opening: bool, succeeded: bool = True) -> "RiskCounters":
        """One more trade; `succeeded` (a real venue outcome) also resets the failure streak."""
        return RiskCounters(  # the constructor, not dataclasses.replace: this runs per approval
            day=self.day,
            day_start_equity=self.day_start_equity,
            daily_notional=self.daily_notional + abs(notional),
            trade_times_ms=(*self.trade_times_ms, now_ms),
            consecutive_failures=0 if succeeded else self.consecutive_failures,
            last_open_ms=now_ms if opening else self.last_open_ms,
            max_size_streak=self.max_size_streak,
            stops=self.stops,
        )

    def with_landed_trade(self, notional: Decimal, at_ms: int, opening: bool) -> "RiskCounters":
        """A trade learned late (a crash lost its outcome), counted on the UTC day it happened at `at_ms`.

        A trade on a later day than the counters starts that day (its equity is read at the next roll);
        one from an earlier day adds no notional to today's.
        """
        day = utc_day(at_ms)
        if day > self.day:
            return replace(self, day=day, day_start_equity=None, daily_notional=ZERO).with_trade(notional, at_ms, opening)
        out = self.with_trade(notional if day == self.day else ZERO, at_ms, opening)
        if self.last_open_ms is not None and self.last_open_ms > at_ms:  # never move the last open back in time
            out = replace(out, last_open_ms=self.last_open_ms)
        return out

    def with_failure(self) -> "RiskCounters":
        return replace(self, consecutive_failures=self.consecutive_failures + 1)

    def with_success(self) -> "RiskCounters":
        return replace(self, consecutive_failures=0) if self.consecutive_failures else self

    def with_max_size(self, asked: bool) -> "RiskCounters":
        return replace(self, max_size_streak=self.max_size_streak + 1 if asked else 0)

    def trades_last_hour(self, now_ms: int) -> int:
        return sum(1 for t in self.trade_times_ms if now_ms - t < HOUR_MS)

    # ---- persistence
    def to_state(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "day_start_equity": None if self.day_start_equity is None else format(self.day_start_equity, "f"),
            "daily_notional": format(self.daily_notional, "f"),
            "trade_times_ms": list(self.trade_times_ms),
            "consecutive_failures": self.consecutive_failures,
            "last_open_ms": self.last_open_ms,
            "max_size_streak": self.max_size_streak,
            "stops": [[c, t] for c, t in self.stops],
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "RiskCounters":
        """Read `to_state()` output back; raises ValueError naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"risk counters must be an object, got {type(data).__name__}")
        known = {"day", "day_start_equity", "daily_notional", "trade_times_ms", "consecutive_failures",
                 "last_open_ms", "max_size_streak", "stops"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown risk counter field(s): {', '.join(sorted(unknown))}")
        try:
            dse = data.get("day_start_equity")
            last = data.get("last_open_ms")
            return cls(
                day=int(data.get("day", -1)),
                day_start_equity=None if dse is None else to_decimal(dse),
                daily_notional=to_decimal(data.get("daily_notional", "0")),
                trade_times_ms=tuple(int(t) for t in data.get("trade_times_ms", ())),
                consecutive_failures=int(data.get("consecutive_failures", 0)),
                last_open_ms=None if last is None else int(last),
                max_size_streak=int(data.get("max_size_streak", 0)),
                stops=tuple((str(c), int(t)) for c, t in data.get("stops", ())),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"risk counters are malformed: {exc}") from None
