"""Risk counters in the state store, so limits survive restarts (the only I/O of the risk slice)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Callable

from hyperliquid_agent.errors import StateError
from hyperliquid_agent.risk_counters import RiskCounters
from hyperliquid_agent.store import StateStore

NAMESPACE = "risk"
KEY = "counters"


def load_counters(store: StateStore) -> RiskCounters:
    """The saved counters, or fresh ones when nothing was saved yet."""
    text = store.get_text(NAMESPACE, KEY)
    if text is None:
        return RiskCounters()
    try:
        return _counters_from(text)
    except ValueError as exc:
        raise StateError(
            f"{store.path}: kv[{NAMESPACE}/{KEY}] holds unreadable risk counters ({exc}). "
            f"Delete that row to start the counters fresh (limits then count from zero)."
        ) from None


@lru_cache(maxsize=8)
def _counters_from(text: str) -> RiskCounters:
    """Counters from their stored JSON. Every cycle reads them and most cycles do not change them:
    the same text gives the same (immutable) value, parsed once."""
    return RiskCounters.from_state(json.loads(text))


def save_counters(store: StateStore, counters: RiskCounters) -> None:
    store.put(NAMESPACE, KEY, counters.to_state())


def update_counters(store: StateStore, change: Callable[[RiskCounters], RiskCounters]) -> RiskCounters:
    """Read the counters, change them and write the result in one transaction; returns the result.

    Another process may write them at any time (`hl-agent order` while the agent runs): a value
    computed from an earlier read and saved as is would drop what that process counted meanwhile.
    """
    with store.transaction():
        current = load_counters(store)
        changed = change(current)
        if changed != current:
            save_counters(store, changed)
    return changed


def reset_circuit_breaker(store: StateStore) -> int:
    """Set the consecutive-failure count to zero (an operator's decision); returns what it was.

    Every other counter (today's notional, trades this hour, day-start equity, ...) is kept.
    """
    was: list[int] = []

    def reset(counters: RiskCounters) -> RiskCounters:
        was.append(counters.consecutive_failures)
        return counters.with_success()

    update_counters(store, reset)
    return was[0]
