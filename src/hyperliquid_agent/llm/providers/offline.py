"""Offline providers: no key, no network, no cost.

baseline - the deterministic policy in `llm.baseline_policy`
scripted - a queue of canned replies (and errors) for tests
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from hyperliquid_agent.errors import LLMError
from hyperliquid_agent.llm import baseline_policy
from hyperliquid_agent.llm.types import LLMRequest, RawReply, Usage


class BaselineProvider:
    name = "baseline"
    reads_prompt = False  # it decides from the request's structured context alone

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        schema_name = request.schema.__name__ if request.schema is not None else "DecisionSchema"
        try:
            content = baseline_policy.answer(schema_name, request.context)
        except ValueError as exc:
            raise LLMError(str(exc)) from None
        return RawReply(content=content, model=request.model, request_id=None, free=True)


@dataclass(frozen=True)
class ScriptedReply:
    """A canned reply with optional usage, refusal or request id."""

    content: str
    usage: Usage = Usage()
    refusal: str | None = None
    request_id: str | None = None
    model: str | None = None


class ScriptedProvider:
    """Answers from a queue: str (content), dict (JSON-encoded), ScriptedReply, or an Exception to raise.

    Every request it receives is kept in `requests`, so tests can assert on what was asked.
    """

    name = "scripted"

    def __init__(self, replies: Iterable[Any] = ()) -> None:
        self._queue: deque[Any] = deque(replies)
        self.requests: list[LLMRequest] = []

    def push(self, *replies: Any) -> None:
        self._queue.extend(replies)

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        self.requests.append(request)
        if not self._queue:
            raise LLMError("scripted provider: no canned reply left; push() more replies in the test")
        item = self._queue.popleft()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ScriptedReply):
            return RawReply(content=item.content, usage=item.usage, model=item.model or request.model,
                            request_id=item.request_id, refusal=item.refusal)
        if isinstance(item, (dict, list)):
            item = json.dumps(item)
        return RawReply(content=str(item), model=request.model, free=True)
