"""Times as the CLI, warnings and reports write them."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_minute(t_ms: int, zone: bool = False) -> str:
    """`t_ms` (epoch ms) as "YYYY-MM-DD HH:MM" in UTC, with " UTC" after it when `zone`. A value
    no date can hold (a mistyped epoch, say) is written as "<t_ms> ms"."""
    try:
        text = datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return f"{t_ms} ms"
    return f"{text} UTC" if zone else text
