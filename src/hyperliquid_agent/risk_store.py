"""Risk counters in the state store, so limits survive restarts (the only I/O of the risk slice)."""

from __future__ import annotations

import json
from functools import lru_cache

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


def reset_circuit_breaker(store: StateStore) -> int:
    """Set the consecutive-failure count to zero (an operator's decision); returns what it was.

    Every other counter (today's notional, trades this hour, day-start equity, ...) is kept.
    """
    counters = load_counters(store)
    if counters.consecutive_failures:
        save_counters(store, counters.with_success())
    return counters.consecutive_failures
