"""The user's event calendar (macro releases, token unlocks) and the event lock (pure).

File format (TOML), loaded by the app (`governance_store.load_calendar_file`) and
handed to the governor as values:

    [[events]]
    name = "US CPI"
    time = "2026-12-10T13:30:00Z"   # ISO 8601, UTC (a timezone offset is converted)
    kind = "macro"                  # macro | unlock | other
    coins = ["SOL"]                 # optional; empty or absent: every market

Within `event_lock_before_minutes` before and `event_lock_after_minutes` after an event,
the regime is `event-risk` and plan reviews are locked.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperliquid_agent.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EVENT_KINDS = ("macro", "unlock", "other")
MINUTE_MS = 60_000


class CalendarEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    time_ms: int
    kind: str = "other"
    coins: tuple[str, ...] = ()

    def applies_to(self, coins: Iterable[str] | None) -> bool:
        if not self.coins or coins is None:
            return True
        return bool(set(self.coins) & set(coins))

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.time_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> int:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    else:
        raise ValueError(f"time must be an ISO 8601 UTC string such as 2026-12-10T13:30:00Z, got {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def parse_calendar(text: str, source: str = "calendar") -> tuple[CalendarEvent, ...]:
    """Parse calendar TOML. Raises ConfigError naming the file, the entry and every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - {"events"})
    problems: list[str] = [f"{source}: unknown top-level key '{k}'; only [[events]] tables are allowed"
                           for k in unknown]
    entries = raw.get("events", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'events' must be an array of tables written as [[events]]")
    events: list[CalendarEvent] = []
    for i, entry in enumerate(entries, start=1):
        label = f"{source}: event #{i}" + (f" ({entry.get('name')!r})" if isinstance(entry, dict) and entry.get("name") else "")
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table with name, time, kind")
            continue
        extra = sorted(set(entry) - {"name", "time", "kind", "coins"})
        if extra:
            problems.append(f"{label}: unknown key(s) {', '.join(extra)}; allowed: name, time, kind, coins")
            continue
        if "time" not in entry or "name" not in entry:
            problems.append(f"{label}: needs both 'name' and 'time'")
            continue
        kind = entry.get("kind", "other")
        if kind not in EVENT_KINDS:
            problems.append(f"{label}: kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
            continue
        coins = entry.get("coins", [])
        if not isinstance(coins, list) or not all(isinstance(c, str) for c in coins):
            problems.append(f"{label}: coins must be a list of names such as [\"BTC\", \"ETH\"]")
            continue
        try:
            t = _parse_time(entry["time"])
            events.append(CalendarEvent(name=str(entry["name"]), time_ms=t, kind=kind, coins=tuple(coins)))
        except (ValueError, ValidationError) as exc:
            problems.append(f"{label}: {exc}")
    if problems:
        raise ConfigError("invalid event calendar:\n" + "\n".join(f"  - {p}" for p in problems))
    return tuple(sorted(events, key=lambda e: e.time_ms))


def active_event(
    events: Iterable[CalendarEvent],
    now_ms: int,
    before_minutes: int,
    after_minutes: int,
    coins: Iterable[str] | None = None,
) -> CalendarEvent | None:
    """The event whose lock window contains `now_ms` (the nearest one), or None."""
    best: CalendarEvent | None = None
    coin_list = list(coins) if coins is not None else None
    for ev in events:
        if not ev.time_ms - before_minutes * MINUTE_MS <= now_ms <= ev.time_ms + after_minutes * MINUTE_MS:
            continue
        if not ev.applies_to(coin_list):
            continue
        if best is None or abs(ev.time_ms - now_ms) < abs(best.time_ms - now_ms):
            best = ev
    return best


__all__ = ["CalendarEvent", "EVENT_KINDS", "active_event", "parse_calendar"]
