"""The machine a bench's figures were taken on: its load, this Python's speed, and how this
Python was built.

Every speed figure here scales with the interpreter's speed, which on a shared machine swings
(sum(range(1000)) has read anywhere from 14 to 27 us on the project's 2-core box within an
hour). Print this line next to the figures so they can be read, and compared, with it.

How the interpreter was built matters as much: a CPython whose core is a shared libpython
(pyenv's default build) took about 35 % longer over the full-year backtest than Debian's
statically linked /usr/bin/python3.11 on the same machine in the same minutes (README, "Which
Python").
"""

from __future__ import annotations

import os
import platform
import sys
import timeit
from pathlib import Path


def describe() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ref = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    return (f"{os.cpu_count()} CPUs, load average {load:.1f} (figures fall as the load passes the CPU count); "
            f"this Python's speed: sum(range(1000)) in {ref:.1f} us (compare figures across machines with it)\n"
            f"{interpreter()}")


def interpreter() -> str:
    """Which Python runs the bench, and whether its core is a shared library."""
    name = f"{platform.python_implementation()} {platform.python_version()} ({os.path.realpath(sys.executable)})"
    shared = shared_libpython()
    if shared is None:
        return f"interpreter: {name}, core linked into the executable"
    return (f"interpreter: {name}, core in a shared library ({shared}): on the project's machine such a "
            f"build took about a third longer than a statically linked one (README, 'Which Python')")


def shared_libpython() -> str | None:
    """The file name of the shared libpython this process runs, if it runs one (Linux: read from
    the process's memory map; elsewhere None: not known)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.rpartition(" ")[2]
        if "/libpython" in path:
            return Path(path).name
    return None
