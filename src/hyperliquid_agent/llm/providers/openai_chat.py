"""OpenAI and OpenAI-compatible servers: chat completions, and the Responses API for gpt-5 / o-series.

Structured output modes:
  json_schema - `response_format` json_schema with strict=True (OpenAI, vLLM, recent Ollama)
  json_object - JSON mode plus the schema written into the system message
  prompt      - no server support: the schema goes into the system message, the reply is repaired
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from hyperliquid_agent.errors import LLMError
from hyperliquid_agent.llm.providers.sdk_common import map_sdk_error, not_a_reply, sdk_client, tokens
from hyperliquid_agent.llm.schema import schema_instruction
from hyperliquid_agent.llm.types import LLMRequest, RawReply

log = logging.getLogger("hyperliquid_agent.llm")

_BASE_URL_HINT = " (an OpenAI-compatible server's usually ends in /v1)"
# o-series, gpt-5 and every later generation (gpt-5.x, gpt-6-astra, gpt-6.1-terra...), but not
# the *-chat-latest aliases: they reject a temperature other than the default, so none is sent.
_REASONING = re.compile(r"^(o\d|gpt-(?:[5-9]|\d{2,})(?![.\d]*-chat))")


def is_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 onwards (not the *-chat-latest aliases): Responses API, no temperature."""
    return bool(_REASONING.match(model))


class OpenAIChatProvider:
    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        api: str = "auto",
        output_mode: str = "json_schema",
        name: str = "openai",
        transport: Any = None,
    ) -> None:
        self.name = name
        self._api_key = api_key or "not-needed"  # local servers ignore it; the SDK wants one
        self.base_url = base_url
        self.api = api
        self.output_mode = output_mode
        self._transport = transport
        self._client: Any = None
        self._sdk: Any = None
        self._no_temperature: set[str] = set()  # models that answered 400 to a temperature

    # ---------------------------------------------------------------- plumbing
    def _get_client(self, timeout_s: float) -> Any:
        if self._client is None:
            import openai

            self._sdk = openai
            self._client = sdk_client(openai.OpenAI, self._api_key, self.base_url, self._transport, timeout_s)
        return self._client

    def uses_responses_api(self, model: str) -> bool:
        if self.api == "responses":
            return True
        if self.api == "chat" or self.name != "openai":
            return False
        return is_reasoning_model(model)

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        client = self._get_client(timeout_s)
        try:
            try:
                return self._send(client, request, timeout_s)
            except self._sdk.BadRequestError as exc:
                if getattr(exc, "param", None) != "temperature" or not self._sends_temperature(request.model):
                    raise
                # A model we did not know to be a reasoning model refused the temperature: leave it
                # out for this model from now on and send the same request once more.
                log.warning("%s model %s does not accept a temperature; sending none to it from now on",
                            self.name, request.model)
                self._no_temperature.add(request.model)
                return self._send(client, request, timeout_s)
        except self._sdk.OpenAIError as exc:
            if isinstance(exc, (self._sdk.APIStatusError, self._sdk.APIConnectionError)):
                raise map_sdk_error(self._sdk, exc, self.name, timeout_s, self._api_key) from None
            raise LLMError(f"{self.name}: {exc}") from None
        except json.JSONDecodeError as exc:  # the SDK read a JSON content type but got no JSON
            raise not_a_reply(self.name, exc.doc, "JSON", _BASE_URL_HINT) from None

    def _send(self, client: Any, request: LLMRequest, timeout_s: float) -> RawReply:
        if self.uses_responses_api(request.model):
            return self._responses(client, request, timeout_s)
        return self._chat(client, request, timeout_s)

    def _sends_temperature(self, model: str) -> bool:
        return not is_reasoning_model(model) and model not in self._no_temperature

    def _schema_in_prompt(self, request: LLMRequest) -> bool:
        return request.schema is not None and self.output_mode in ("json_object", "prompt")

    def _messages(self, request: LLMRequest) -> list[dict[str, str]]:
        msgs = [dict(m) for m in request.messages]
        if self._schema_in_prompt(request):
            note = schema_instruction(request.schema)  # type: ignore[arg-type]
            systems = [m for m in msgs if m["role"] == "system"]
            if systems:
                systems[-1]["content"] += "\n\n" + note
            else:
                msgs.insert(0, {"role": "system", "content": note})
        return msgs

    @staticmethod
    def _post(client: Any, path: str, body: dict[str, Any], cast_to: type, timeout_s: float) -> Any:
        """POST a body we built ourselves (plain JSON values) through the SDK's public `client.post`
        (its documented way to call an endpoint directly): the same auth, retries, errors and typed
        response (`cast_to`) as `create()`, without `create()` walking the body (our strict schema and
        the whole prompt) through its TypedDict transform, which was most of the SDK's time per call."""
        return client.post(path, cast_to=cast_to, body=body, options={"timeout": timeout_s})

    # ---------------------------------------------------------------- chat completions
    def _chat(self, client: Any, request: LLMRequest, timeout_s: float) -> RawReply:
        kwargs: dict[str, Any] = {"model": request.model, "messages": self._messages(request)}
        if self.name == "openai":
            kwargs["max_completion_tokens"] = request.max_tokens
        else:
            kwargs["max_tokens"] = request.max_tokens
        if self._sends_temperature(request.model):
            kwargs["temperature"] = request.temperature
        if request.json_schema is not None:
            if self.output_mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": request.schema_name, "schema": request.json_schema, "strict": True},
                }
            elif self.output_mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
        from openai.types.chat import ChatCompletion

        completion = self._post(client, "/chat/completions", kwargs, ChatCompletion, timeout_s)
        if not isinstance(completion, ChatCompletion):  # a non-JSON body comes back as its text
            raise not_a_reply(self.name, completion, "a chat completion", _BASE_URL_HINT)
        usage = tokens(completion.usage, "prompt_tokens", "completion_tokens",
                       "prompt_tokens_details", "completion_tokens_details")
        if not completion.choices:  # billed all the same: an empty reply, re-asked, its usage kept
            return RawReply(content="", usage=usage, model=completion.model or request.model,
                            request_id=getattr(completion, "_request_id", None) or completion.id)
        choice = completion.choices[0]
        msg = choice.message
        return RawReply(
            content=msg.content or "",
            usage=usage,
            model=completion.model or request.model,
            request_id=getattr(completion, "_request_id", None) or completion.id,
            refusal=getattr(msg, "refusal", None),
            finish_reason=choice.finish_reason,
        )

    # ---------------------------------------------------------------- responses API
    def _responses(self, client: Any, request: LLMRequest, timeout_s: float) -> RawReply:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "input": [{"role": m["role"], "content": m["content"]} for m in self._messages(request)
                      if m["role"] != "system"],
            "max_output_tokens": request.max_tokens,
        }
        system = "\n\n".join(m["content"] for m in self._messages(request) if m["role"] == "system")
        if system:
            kwargs["instructions"] = system
        if self._sends_temperature(request.model):
            kwargs["temperature"] = request.temperature
        if request.json_schema is not None and self.output_mode == "json_schema":
            kwargs["text"] = {"format": {"type": "json_schema", "name": request.schema_name,
                                         "schema": request.json_schema, "strict": True}}
        elif request.json_schema is not None and self.output_mode == "json_object":
            kwargs["text"] = {"format": {"type": "json_object"}}
        from openai.types.responses import Response

        resp = self._post(client, "/responses", kwargs, Response, timeout_s)
        if not isinstance(resp, Response):
            raise not_a_reply(self.name, resp, "a Responses API response", _BASE_URL_HINT)
        refusal = None
        for item in resp.output or []:
            for part in getattr(item, "content", None) or []:
                if getattr(part, "type", None) == "refusal":
                    refusal = part.refusal
        usage = tokens(resp.usage, "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
        finish = resp.status
        if resp.status == "incomplete" and resp.incomplete_details is not None:
            finish = f"incomplete: {resp.incomplete_details.reason}"
        return RawReply(
            content=resp.output_text or "",
            usage=usage,
            model=resp.model or request.model,
            request_id=getattr(resp, "_request_id", None) or resp.id,
            refusal=refusal,
            finish_reason=finish,
        )
