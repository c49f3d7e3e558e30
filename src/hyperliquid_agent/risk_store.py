"""Risk counters in the state store, so limits survive restarts (the only I/O of the risk slice)."""

from __future__ import annotations

from hyperliquid_agent.errors import StateError
from hyperliquid_agent.risk_counters import RiskCounters
from hyperliquid_agent.store import StateStore

NAMESPACE = "risk"
KEY = "counters"


def load_counters(store: StateStore) -> RiskCounters:
    """The saved counters, or fresh ones when nothing was saved yet."""
    data = store.get(NAMESPACE, KEY)
    if data is None:
        return RiskCounters()
    try:
        return RiskCounters.from_state(data)
    except ValueError as exc:
        raise StateError(
            f"{store.path}: kv[{NAMESPACE}/{KEY}] holds unreadable risk counters ({exc}). "
            f"Delete that row to start the counters fresh (limits then count from zero)."
        ) from None


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
