"""The machine a bench's figures were taken on: its load and this Python's speed.

Every speed figure here scales with the interpreter's speed, which on a shared machine swings
(sum(range(1000)) has read anywhere from 14 to 27 us on the project's 2-core box within an
hour). Print this line next to the figures so they can be read, and compared, with it.
"""

from __future__ import annotations

import os
import timeit


def describe() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ref = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    return (f"{os.cpu_count()} CPUs, load average {load:.1f} (figures fall as the load passes the CPU count); "
            f"this Python's speed: sum(range(1000)) in {ref:.1f} us (compare figures across machines with it)")
