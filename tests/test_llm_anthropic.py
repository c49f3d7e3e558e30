"""The real anthropic SDK against a scripted local server: forced tool call, prompt caching, failures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from llm_wire import Reply, WireServer, server, anthropic_body, anthropic_error  # noqa: F401 (server is a fixture)

from hyperliquid_agent.config import LLMConfig, config_from_dict
from hyperliquid_agent.errors import (
    ConfigError, LLMAuthError, LLMError, LLMInvalidOutputError, LLMUnavailableError, MissingEnvError,
)
from hyperliquid_agent.llm_client import LLMClient
from hyperliquid_agent.schemas import RegimeSchema

GOOD = {"regime": "carry-friendly", "confidence": 0.6, "reasoning": "funding rich"}


def client(server: WireServer, sleeps: list[float] | None = None, **cfg) -> LLMClient:
    base = {"provider": "anthropic", "model": "claude-sonnet-4-6", "api_key": "sk-ant-test", "base_url": server.url,
            "max_retries": 2}
    base.update(cfg)
    return LLMClient(LLMConfig(**base), sleep=(sleeps if sleeps is not None else []).append)


def test_forced_tool_call_with_cached_system_prefix(server):
    server.push(Reply(200, anthropic_body(GOOD, input_tokens=50, cache_read=3000, cache_write=0, output_tokens=40),
                      {"request-id": "req_ant_1"}))
    r = client(server).query([{"role": "system", "content": "Stable rules."}, {"role": "user", "content": "Now?"}],
                             RegimeSchema, purpose="regime")
    sent = server.seen[0]
    assert sent.path == "/v1/messages"
    assert "sk-ant-test" in (sent.headers.get("x-api-key", ""), sent.headers.get("authorization", "").removeprefix("Bearer "))
    body = sent.body
    assert body["system"] == [{"type": "text", "text": "Stable rules.", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": "Now?"}]
    # API version 2026-10-21 (what the installed SDK speaks) answers 400 to any sampling parameter
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert body["tool_choice"] == {"type": "tool", "name": "RegimeSchema"}
    schema = body["tools"][0]["input_schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"regime", "confidence", "reasoning"}
    assert r.parsed["regime"] == "carry-friendly" and r.request_id == "req_ant_1"
    assert (r.input_tokens, r.cached_input_tokens, r.output_tokens) == (3050, 3000, 40)
    # sonnet 4.6: 50 * 3.00 + 3000 * 0.30 + 40 * 15.00 per million
    assert r.cost_usd == (Decimal(50) * 3 + Decimal(3000) * Decimal("0.30") + Decimal(40) * 15) / 10**6


def test_cache_write_tokens_are_priced_as_writes(server):
    server.push(Reply(200, anthropic_body(GOOD, input_tokens=10, cache_write=2000, output_tokens=0)))
    r = client(server).query([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], RegimeSchema)
    assert r.cache_write_tokens == 2000 and r.input_tokens == 2010
    assert r.cost_usd == (Decimal(10) * 3 + Decimal(2000) * Decimal("3.75")) / 10**6


def test_overloaded_529_is_retried(server):
    server.push(Reply(529, anthropic_error("overloaded_error", "Overloaded")), Reply(200, anthropic_body(GOOD)))
    sleeps: list[float] = []
    r = client(server, sleeps).query("q", RegimeSchema)
    assert r.parsed is not None and len(sleeps) == 1


def test_401_is_auth_error(server):
    server.push(Reply(401, anthropic_error("authentication_error", "invalid x-api-key")))
    with pytest.raises(LLMAuthError, match="anthropic rejected the API key.*invalid x-api-key"):
        client(server).query("q", RegimeSchema)
    assert len(server.seen) == 1


def test_refusal_stop_reason(server):
    server.push(Reply(200, anthropic_body(None, text="I won't.", stop_reason="refusal")))
    with pytest.raises(LLMInvalidOutputError, match="refused"):
        client(server).query("q", RegimeSchema)


def test_tool_input_violating_schema_is_re_asked(server):
    server.push(Reply(200, anthropic_body({"regime": "sideways", "confidence": 0.5, "reasoning": "?"})),
                Reply(200, anthropic_body(GOOD)))
    r = client(server).query("q", RegimeSchema)
    assert r.attempts == 2 and r.parsed["regime"] == "carry-friendly"
    assert server.seen[1].body["messages"][-1]["role"] == "user"
    assert "sideways" in server.seen[1].body["messages"][-2]["content"]


def test_missing_key_fails_at_construction_naming_the_variable():
    cfg = config_from_dict({"llm": {"provider": "anthropic", "model": "claude-haiku-4-5",
                                    "api_key": "${ANTHROPIC_API_KEY}"}}, env={})
    with pytest.raises(MissingEnvError, match="ANTHROPIC_API_KEY.*export ANTHROPIC_API_KEY="):
        LLMClient(cfg.llm)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        LLMClient(LLMConfig(provider="anthropic", model="claude-haiku-4-5"))


def test_timeout(server):
    server.push(Reply(200, anthropic_body(GOOD), delay_s=1.0))
    with pytest.raises(LLMUnavailableError, match="did not answer"):
        client(server, max_retries=0, timeout_s=0.2).query("q", RegimeSchema)


def test_models_without_forced_tools_get_native_structured_output(server):
    import json

    server.push(Reply(200, anthropic_body(None, text=json.dumps(GOOD), model="claude-sonnet-5-5", stop_reason="end_turn")))
    r = client(server, model="claude-sonnet-5-5").query("q", RegimeSchema)
    body = server.seen[0].body
    assert "tools" not in body and body["output_config"]["format"]["type"] == "json_schema"
    assert r.parsed["regime"] == "carry-friendly"


def test_a_model_refusing_forced_tools_is_switched_to_native_structured_output(server):
    import json

    refused = anthropic_error("invalid_request_error",
                              "tool_choice forcing a tool is not supported with this model; use tool_choice auto")
    native = anthropic_body(None, text=json.dumps(GOOD), model="claude-mythos-5-2", stop_reason="end_turn")
    server.push(Reply(400, refused), Reply(200, native), Reply(200, native))
    sleeps: list[float] = []
    c = client(server, sleeps, model="claude-mythos-5-2")
    assert c.query("q", RegimeSchema).parsed["regime"] == "carry-friendly"
    c.query("q", RegimeSchema)
    assert ["tool_choice" in s.body for s in server.seen] == [True, False, False]
    assert server.seen[2].body["output_config"]["format"]["type"] == "json_schema" and sleeps == []


def test_other_400s_are_not_retried(server):
    server.push(Reply(400, anthropic_error("invalid_request_error", "max_tokens: too large")))
    with pytest.raises(LLMError, match="HTTP 400.*max_tokens") as info:
        client(server).query("q", RegimeSchema)
    assert not isinstance(info.value, LLMUnavailableError) and len(server.seen) == 1


@pytest.mark.parametrize("ctype", ["text/html", "application/json"])
def test_a_200_with_an_html_page_is_a_clear_unavailable_error_in_the_ledger(server, ctype):
    page = "<html><body><h1>Sign in to the gateway</h1></body></html>"
    server.push(Reply(200, page, content_type=ctype))
    c = client(server, max_retries=0)
    with pytest.raises(LLMUnavailableError, match=r"anthropic answered with a body that is not .*<html>.*llm.base_url"):
        c.query("q", RegimeSchema)
    assert c.get_cost_summary()["failed_calls"] == 1  # the ledger has a row for the failed call
