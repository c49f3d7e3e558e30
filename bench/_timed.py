"""A stand-in that wraps one function or method and adds up the time spent inside it (the
benches use it to split a figure into the part that is ours and the part that is not)."""

from __future__ import annotations

import time
from typing import Any, Callable


class Timed:
    """Replaces `owner.name` with itself until `restore()`; `total` is the seconds spent inside,
    on `clock` (CPU time by default, so other load on a shared machine blurs the split less)."""

    def __init__(self, owner: Any, name: str, clock: Callable[[], float] = time.process_time) -> None:
        self.owner, self.name, self.inner, self.clock, self.total = owner, name, getattr(owner, name), clock, 0.0
        setattr(owner, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = self.clock()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.total += self.clock() - t0

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # also works when wrapping a method on a class
        return self if obj is None else (lambda *a, **k: self(obj, *a, **k))

    def restore(self) -> float:
        setattr(self.owner, self.name, self.inner)
        return self.total
