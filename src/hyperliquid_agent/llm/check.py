"""A connectivity check: one tiny structured call through the configured provider.

`hl-agent llm check` uses it; the agent may call it at startup to fail fast on a bad key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hyperliquid_agent.llm.types import LLMResponse

PING = 'Reply with the JSON object {"ok": true}.'
OFFLINE = ("baseline", "replay", "scripted")


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: bool


def ping(client) -> LLMResponse:
    """Ask for `{"ok": true}`; raises the client's errors (ConfigError, LLMAuthError, LLMError...)."""
    if client.provider.name in OFFLINE:
        return client.query(PING, purpose="other")
    return client.query(PING, schema=Ping, purpose="other")
