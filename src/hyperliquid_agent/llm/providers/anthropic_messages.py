"""Anthropic Messages API. Structured output = one forced tool call whose input_schema is our
strict schema; the system message (the stable prefix) is marked for prompt caching."""

from __future__ import annotations

import json
import logging
from typing import Any

from hyperliquid_agent.errors import LLMError
from hyperliquid_agent.llm.providers.sdk_common import map_sdk_error, not_a_reply, sdk_client
from hyperliquid_agent.llm.types import LLMRequest, RawReply, Usage


log = logging.getLogger("hyperliquid_agent.llm")

# Models that answer HTTP 400 to a forced tool call (tool_choice any/tool); they get the schema as native
# structured output (output_config.format) instead. Any other model that refuses one is switched over at
# its first 400 that names tool_choice, and stays switched for the provider's life.
NATIVE_FORMAT_MODELS: tuple[str, ...] = (
    "claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2",
)


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None = None, transport: Any = None) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self._transport = transport
        self._client: Any = None
        self._sdk: Any = None
        self._native_format: set[str] = set()  # models that answered 400 to a forced tool call

    def _get_client(self, timeout_s: float) -> Any:
        if self._client is None:
            import anthropic

            self._sdk = anthropic
            self._client = sdk_client(anthropic.Anthropic, self._api_key, self.base_url, self._transport, timeout_s)
        return self._client

    def build_kwargs(self, request: LLMRequest, timeout_s: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m["role"], "content": m["content"]} for m in request.turns],
            "timeout": timeout_s,
        }
        # llm.temperature is never sent: the installed SDK (anthropic 2.x) has no sampling parameters, and the
        # API version it speaks (anthropic-version 2026-10-21) answers HTTP 400 to temperature/top_p/top_k,
        # even at their defaults; Opus 4.7+, Sonnet/Opus 5 and Fable refuse a temperature on any version.
        if request.system:
            kwargs["system"] = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
        if request.json_schema is not None and self.native_format(request.model):
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
        elif request.json_schema is not None:
            tool = request.schema_name
            kwargs["tools"] = [{
                "name": tool,
                "description": f"Record the answer as a {tool} object.",
                "input_schema": request.json_schema,
            }]
            kwargs["tool_choice"] = {"type": "tool", "name": tool}
        return kwargs

    def native_format(self, model: str) -> bool:
        """Whether `model` gets the schema as native structured output rather than a forced tool call."""
        return model.startswith(NATIVE_FORMAT_MODELS) or model in self._native_format

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        client = self._get_client(timeout_s)
        try:
            try:
                msg = client.messages.create(**self.build_kwargs(request, timeout_s))
            except self._sdk.BadRequestError as exc:
                if request.json_schema is None or self.native_format(request.model) or "tool_choice" not in str(exc):
                    raise
                log.warning("anthropic model %s refuses a forced tool call; asking it for native structured "
                            "output from now on", request.model)
                self._native_format.add(request.model)
                msg = client.messages.create(**self.build_kwargs(request, timeout_s))
        except self._sdk.AnthropicError as exc:
            if isinstance(exc, (self._sdk.APIStatusError, self._sdk.APIConnectionError)):
                raise map_sdk_error(self._sdk, exc, self.name, timeout_s, self._api_key) from None
            raise LLMError(f"anthropic: {exc}") from None
        except json.JSONDecodeError as exc:  # the SDK read a JSON content type but got no JSON
            raise not_a_reply(self.name, exc.doc, "JSON") from None
        if not isinstance(msg, self._sdk.types.Message):  # a non-JSON body comes back as its text
            raise not_a_reply(self.name, msg, "a Messages API message")
        content = ""
        texts = []
        for block in msg.content or []:
            if block.type == "tool_use" and request.json_schema is not None:
                content = json.dumps(block.input, ensure_ascii=False)
                break
            if block.type == "text":
                texts.append(block.text)
        else:
            content = "".join(texts)
        u = msg.usage
        read = getattr(u, "cache_read_input_tokens", None) or 0
        written = getattr(u, "cache_creation_input_tokens", None) or 0
        usage = Usage(input_tokens=(u.input_tokens or 0) + read + written, cached_input_tokens=read,
                      cache_write_tokens=written, output_tokens=u.output_tokens or 0)
        refusal = ("".join(texts) or "the model refused") if msg.stop_reason == "refusal" else None
        return RawReply(content=content, usage=usage, model=msg.model or request.model,
                        request_id=getattr(msg, "_request_id", None) or msg.id, refusal=refusal,
                        finish_reason=msg.stop_reason)
