"""A monotonic nonce per signer.

Hyperliquid keeps the 100 highest nonces of each signer and refuses a duplicate, so two
actions signed in the same millisecond (the SDK's default nonce is the wall-clock ms)
collide. `NonceSource.next()` returns the wall-clock ms, or the previous nonce + 1 when
the clock has not moved on (or went back): strictly increasing, thread-safe, never far from
real time.

The venue counts nonces per signer, not per client object: `for_signer(address)` gives every
adapter of one key in this process the same source, so two adapters (a session and a tool
sharing the key, two threads) never sign the same nonce.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class NonceSource:
    """Strictly increasing millisecond nonces for one signer (one per process and key)."""

    def __init__(self, clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._clock_ms = clock_ms
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            nonce = max(self._clock_ms(), self._last + 1)
            self._last = nonce
            return nonce

    @property
    def last(self) -> int:
        return self._last


_BY_SIGNER: dict[str, NonceSource] = {}
_BY_SIGNER_LOCK = threading.Lock()


def for_signer(address: str) -> NonceSource:
    """The one wall-clock nonce source of `address` (any case) in this process."""
    key = address.lower()
    with _BY_SIGNER_LOCK:
        source = _BY_SIGNER.get(key)
        if source is None:
            source = _BY_SIGNER[key] = NonceSource()
        return source
