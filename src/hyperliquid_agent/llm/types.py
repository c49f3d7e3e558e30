"""Plain values that pass between the facade and the providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel

PURPOSES: tuple[str, ...] = ("decision", "governance", "regime", "other")
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Usage:
    """Token counts of one provider call.

    `input_tokens` is the whole prompt, including the part read from the cache
    (`cached_input_tokens`) and the part written to it (`cache_write_tokens`).
    `output_tokens` includes `reasoning_tokens`.
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True)
class LLMRequest:
    """One call as a provider sees it. `json_schema` is the strict schema of `schema`."""

    messages: tuple[dict[str, str], ...]
    model: str
    temperature: float
    max_tokens: int
    schema: type[BaseModel] | None = None
    json_schema: dict[str, Any] | None = None
    context: Any = None  # DecisionContext for the offline baseline; real providers ignore it

    @property
    def system(self) -> str:
        return "\n\n".join(m["content"] for m in self.messages if m["role"] == "system")

    @property
    def turns(self) -> list[dict[str, str]]:
        return [m for m in self.messages if m["role"] != "system"]

    @property
    def schema_name(self) -> str:
        return self.schema.__name__ if self.schema is not None else "reply"


@dataclass(frozen=True)
class RawReply:
    """What a provider returns: the text, its usage and where it came from."""

    content: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    request_id: str | None = None
    refusal: str | None = None
    finish_reason: str | None = None
    replayed: bool = False  # served from the replay store: costs $0
    free: bool = False  # offline providers: no tokens, no cost


class Provider(Protocol):
    """One vendor wire format. `complete` raises errors from `hyperliquid_agent.errors`."""

    name: str

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply: ...


@dataclass(frozen=True)
class LLMResponse:
    """The answer to one `LLMClient.query`.

    Token counts and cost cover every provider call the query made (a re-ask after a
    validation failure is billed too). `cost_usd` is None when the model has no price.
    """

    content: str
    parsed: dict[str, Any] | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal | None
    latency_ms: float
    provider: str
    model: str
    request_id: str | None
    cache_write_tokens: int = 0
    purpose: str = "decision"
    attempts: int = 1
    replayed: bool = False
    budget_note: str | None = None  # e.g. "switched to fallback model gpt-4o-mini: daily spend 4.10 >= 80% of 5"


def normalize_messages(prompt_or_messages: str | list[dict[str, str]]) -> tuple[dict[str, str], ...]:
    """A prompt string becomes one user message; message lists are checked for role and content."""
    if isinstance(prompt_or_messages, str):
        return ({"role": "user", "content": prompt_or_messages},)
    out: list[dict[str, str]] = []
    for i, m in enumerate(prompt_or_messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ValueError(f"message {i}: role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"message {i}: content must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in out):
        raise ValueError("messages need at least one user message")
    return tuple(out)
