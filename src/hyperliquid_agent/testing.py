"""Shipped fakes that implement our ports, for tests and examples (no network, no keys).

- `ScriptedLLM`: an `LLMClient` whose provider answers from a queue of canned replies
  (strings, dicts, `ScriptedReply` values, or exceptions to raise).
- `FixedClock`: a clock that only moves when told to.
Other slices may append their fakes here.
"""

from __future__ import annotations

from typing import Any, Iterable

from hyperliquid_agent.config import LLMConfig
from hyperliquid_agent.llm.client import LLMClient
from hyperliquid_agent.llm.providers.offline import ScriptedProvider, ScriptedReply
from hyperliquid_agent.llm.types import Usage


class FixedClock:
    """`now_ms()` returns a fixed time until `advance()` or `set()` moves it."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self._now = int(now_ms)

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int = 0, *, seconds: float = 0, minutes: float = 0, hours: float = 0) -> int:
        self._now += int(ms + seconds * 1000 + minutes * 60_000 + hours * 3_600_000)
        return self._now

    def set(self, now_ms: int) -> None:
        self._now = int(now_ms)


class ScriptedLLM(LLMClient):
    """An LLMClient over a `ScriptedProvider`: `ScriptedLLM([reply, ...])`.

    `push()` queues more replies; `requests` lists what the client sent (messages, model,
    schema, context). Budgets, validation, re-ask and the ledger behave as in production.
    """

    def __init__(
        self,
        replies: Iterable[Any] = (),
        llm_config: LLMConfig | None = None,
        store: Any = None,
        clock: Any = None,
        **kwargs: Any,
    ) -> None:
        cfg = llm_config or LLMConfig(provider="scripted", model="scripted")
        self.scripted = ScriptedProvider(replies)
        kwargs.setdefault("sleep", lambda _s: None)
        super().__init__(cfg, store=store, clock=clock if clock is not None else FixedClock(),
                         provider=self.scripted, **kwargs)

    def push(self, *replies: Any) -> None:
        self.scripted.push(*replies)

    @property
    def requests(self) -> list[Any]:
        return self.scripted.requests


__all__ = ["FixedClock", "ScriptedLLM", "ScriptedProvider", "ScriptedReply", "Usage"]
