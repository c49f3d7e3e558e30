"""The real openai SDK against a scripted local server: structured outputs, usage, failures."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from llm_wire import Reply, WireServer, server, chat_body, openai_error, responses_body  # noqa: F401 (server is a fixture)

from hyperliquid_agent.config import LLMConfig
from hyperliquid_agent.errors import LLMAuthError, LLMError, LLMInvalidOutputError, LLMUnavailableError
from hyperliquid_agent.llm_client import LLMClient
from hyperliquid_agent.schemas import RegimeSchema
from hyperliquid_agent.testing import FixedClock

GOOD = {"regime": "trending-bull", "confidence": 0.75, "reasoning": "ema spread up, adx 31"}


def client(server: WireServer, sleeps: list[float] | None = None, **cfg) -> LLMClient:
    base = {"provider": "openai", "model": "gpt-4o", "api_key": "sk-test-not-real", "base_url": server.url + "/v1",
            "max_retries": 2, "timeout_s": 5}
    base.update(cfg)
    sink = sleeps if sleeps is not None else []
    return LLMClient(LLMConfig(**base), clock=FixedClock(), sleep=sink.append)


def test_structured_success_sends_strict_schema_and_reads_usage(server):
    server.push(Reply(200, chat_body(json.dumps(GOOD), prompt_tokens=1000, completion_tokens=50, cached=800),
                      {"x-request-id": "req_123"}))
    c = client(server)
    r = c.query([{"role": "system", "content": "You classify."}, {"role": "user", "content": "BTC?"}],
                RegimeSchema, purpose="regime")
    assert r.parsed == {"regime": "trending-bull", "confidence": Decimal("0.75"), "reasoning": GOOD["reasoning"]}
    assert (r.input_tokens, r.cached_input_tokens, r.output_tokens) == (1000, 800, 50)
    assert r.request_id == "req_123" and r.model == "gpt-4o-2024-08-06" and r.provider == "openai"
    # gpt-4o: 200 fresh * 2.50 + 800 cached * 1.25 + 50 * 10.00 per million
    assert r.cost_usd == (Decimal(200) * Decimal("2.50") + Decimal(800) * Decimal("1.25") + Decimal(50) * 10) / 10**6
    sent = server.seen[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-not-real"
    fmt = sent.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["additionalProperties"] is False
    assert sent.body["messages"][0] == {"role": "system", "content": "You classify."}
    assert sent.body["temperature"] == 0.2 and sent.body["max_completion_tokens"] == 1500
    summary = c.get_cost_summary()
    assert summary["total_calls"] == 1 and summary["total_cached_input_tokens"] == 800
    assert summary["by_purpose"]["regime"]["total_cost_usd"] == r.cost_usd


def test_429_with_retry_after_is_honoured_then_succeeds(server):
    server.push(Reply(429, openai_error(429, "Rate limit reached", "rate_limit_error"), {"retry-after": "7"}),
                Reply(200, chat_body(json.dumps(GOOD))))
    sleeps: list[float] = []
    r = client(server, sleeps).query("q", RegimeSchema)
    assert r.parsed["regime"] == "trending-bull"
    assert sleeps == [7.0]
    assert len(server.seen) == 2


def test_500_until_retries_are_exhausted(server):
    server.push(*[Reply(500, openai_error(500, "boom", "server_error"))] * 3)
    sleeps: list[float] = []
    c = client(server, sleeps, max_retries=2)
    with pytest.raises(LLMUnavailableError, match="HTTP 500.*gave up after 2 retries"):
        c.query("q", RegimeSchema)
    assert len(server.seen) == 3 and len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.2  # backoff grows
    s = c.get_cost_summary()
    assert s["total_calls"] == 0 and s["failed_calls"] == 1


def test_timeout_is_unavailable(server):
    server.push(Reply(200, chat_body(json.dumps(GOOD)), delay_s=1.5), Reply(200, chat_body(json.dumps(GOOD)), delay_s=1.5))
    c = client(server, max_retries=1, timeout_s=0.2)
    with pytest.raises(LLMUnavailableError, match="did not answer within 0.2 s"):
        c.query("q", RegimeSchema)
    assert len(server.seen) == 2


def test_not_json_is_re_asked_with_the_error_then_succeeds(server):
    server.push(Reply(200, chat_body("Sure! The regime is bullish.")), Reply(200, chat_body(json.dumps(GOOD))))
    c = client(server)
    r = c.query("q", RegimeSchema)
    assert r.parsed["regime"] == "trending-bull" and r.attempts == 2
    reask = server.seen[1].body["messages"]
    assert reask[-2] == {"role": "assistant", "content": "Sure! The regime is bullish."}
    assert "not valid JSON" in reask[-1]["content"]
    assert r.input_tokens == 240  # both calls are billed
    assert c.get_cost_summary()["total_calls"] == 2


def test_schema_violation_twice_is_invalid_output(server):
    bad = {"regime": "moon", "confidence": 2, "reasoning": "x"}
    server.push(Reply(200, chat_body(json.dumps(bad))), Reply(200, chat_body(json.dumps({"regime": "x"}))))
    with pytest.raises(LLMInvalidOutputError, match="no valid RegimeSchema after one re-ask"):
        client(server).query("q", RegimeSchema)
    assert "regime" in server.seen[1].body["messages"][-1]["content"]


def test_refusal_is_invalid_output_without_re_ask(server):
    server.push(Reply(200, chat_body(None, refusal="I can't help with that.")))
    with pytest.raises(LLMInvalidOutputError, match="refused.*can't help"):
        client(server).query("q", RegimeSchema)
    assert len(server.seen) == 1


def test_empty_content_is_re_asked(server):
    server.push(Reply(200, chat_body("")), Reply(200, chat_body("")))
    with pytest.raises(LLMInvalidOutputError, match="empty"):
        client(server).query("q", RegimeSchema)
    assert len(server.seen) == 2


def test_401_is_auth_error_and_never_retried(server):
    server.push(Reply(401, openai_error(401, "Incorrect API key provided: sk-test****real.")))
    sleeps: list[float] = []
    with pytest.raises(LLMAuthError, match="rejected the API key.*llm.api_key"):
        client(server, sleeps).query("q", RegimeSchema)
    assert len(server.seen) == 1 and sleeps == []


def test_400_is_not_retried(server):
    server.push(Reply(400, openai_error(400, "Invalid schema for response_format")))
    with pytest.raises(LLMError, match="HTTP 400.*Invalid schema") as info:
        client(server).query("q", RegimeSchema)
    assert not isinstance(info.value, LLMUnavailableError) and len(server.seen) == 1


def test_connection_refused_is_unavailable():
    dead = WireServer()
    url = dead.url
    dead.close()
    c = LLMClient(LLMConfig(provider="openai", model="gpt-4o", api_key="sk-x", base_url=url + "/v1", max_retries=1),
                  sleep=lambda s: None)
    with pytest.raises(LLMUnavailableError, match="cannot reach openai"):
        c.query("q")


def test_gpt5_uses_responses_api_with_reasoning_tokens(server):
    server.push(Reply(200, responses_body(json.dumps(GOOD), input_tokens=2000, cached=1500, output_tokens=300,
                                          reasoning=250)))
    c = client(server, model="gpt-5")
    r = c.query([{"role": "system", "content": "sys"}, {"role": "user", "content": "u"}], RegimeSchema)
    assert server.seen[0].path == "/v1/responses"
    body = server.seen[0].body
    assert body["instructions"] == "sys" and body["input"] == [{"role": "user", "content": "u"}]
    assert body["text"]["format"]["type"] == "json_schema" and body["text"]["format"]["strict"] is True
    assert "temperature" not in body and body["max_output_tokens"] == 1500
    assert (r.reasoning_tokens, r.cached_input_tokens, r.output_tokens) == (250, 1500, 300)
    assert r.parsed["confidence"] == Decimal("0.75")
    assert r.cost_usd == (Decimal(500) * Decimal("1.25") + Decimal(1500) * Decimal("0.125") + 300 * Decimal(10)) / 10**6


def test_api_chat_forces_chat_completions_for_gpt5(server):
    server.push(Reply(200, chat_body(json.dumps(GOOD), model="gpt-5-2025-08-07")))
    client(server, model="gpt-5", api="chat").query("q", RegimeSchema)
    assert server.seen[0].path == "/v1/chat/completions" and "temperature" not in server.seen[0].body


def test_unknown_model_records_tokens_with_unknown_cost(server, caplog):
    server.push(Reply(200, chat_body(json.dumps(GOOD), model="acme-chat-1", prompt_tokens=77)))
    c = client(server, model="acme-chat-1")
    r = c.query("q", RegimeSchema)
    assert r.cost_usd is None and r.input_tokens == 77
    assert any("no price known for model acme-chat-1" in m for m in caplog.messages)
    s = c.get_cost_summary()
    assert s["unpriced_calls"] == 1 and s["total_input_tokens"] == 77 and s["total_cost_usd"] == 0


def test_compatible_json_object_mode_puts_schema_in_system_prompt(server):
    server.push(Reply(200, chat_body(json.dumps(GOOD), model="qwen2.5:7b")))
    c = client(server, provider="openai-compatible", model="qwen2.5:7b", api_key=None, output_mode="json_object")
    r = c.query([{"role": "system", "content": "You classify."}, {"role": "user", "content": "q"}], RegimeSchema)
    body = server.seen[0].body
    assert body["response_format"] == {"type": "json_object"} and body["max_tokens"] == 1500
    assert body["messages"][0]["content"].startswith("You classify.") and '"additionalProperties":false' in body["messages"][0]["content"]
    assert r.provider == "openai-compatible" and r.cost_usd is None


def test_compatible_prompt_mode_repairs_fenced_json(server):
    server.push(Reply(200, chat_body("Here you go:\n```json\n" + json.dumps(GOOD) + "\n```", model="llama3")))
    c = client(server, provider="openai-compatible", model="llama3", api_key=None, output_mode="prompt")
    r = c.query("q", RegimeSchema)
    assert "response_format" not in server.seen[0].body
    assert r.parsed["regime"] == "trending-bull" and r.attempts == 1


def test_plain_text_query_without_schema(server):
    server.push(Reply(200, chat_body("pong")))
    r = client(server).query("ping", purpose="other")
    assert r.content == "pong" and r.parsed is None and "response_format" not in server.seen[0].body


def test_an_echoed_key_is_masked_in_the_error(server):
    server.push(Reply(401, openai_error(401, "key sk-test-not-real is not valid")))
    with pytest.raises(LLMAuthError) as info:
        client(server).query("q")
    assert "sk-test-not-real" not in str(info.value) and "****" in str(info.value)


def test_truncated_reply_names_max_tokens(server):
    cut = chat_body('{"regime": "trending-bu', finish_reason="length")
    server.push(Reply(200, cut), Reply(200, cut))
    with pytest.raises(LLMInvalidOutputError, match="cut off at llm.max_tokens = 1500"):
        client(server).query("q", RegimeSchema)


def test_gpt6_is_a_reasoning_model_no_temperature(server):
    server.push(Reply(200, responses_body(json.dumps(GOOD), model="gpt-6-astra")))
    client(server, model="gpt-6-astra").query("q", RegimeSchema)
    assert server.seen[0].path == "/v1/responses" and "temperature" not in server.seen[0].body


def test_a_model_refusing_temperature_is_asked_again_without_it_once_and_for_all(server):
    refused = openai_error(400, "Unsupported parameter: 'temperature' is not supported with this model.")
    refused["error"]["param"] = "temperature"
    server.push(Reply(400, refused), Reply(200, chat_body(json.dumps(GOOD))), Reply(200, chat_body(json.dumps(GOOD))))
    sleeps: list[float] = []
    c = client(server, sleeps, model="gpt-4.5-preview")
    assert c.query("q", RegimeSchema).parsed["regime"] == "trending-bull"
    c.query("q", RegimeSchema)
    assert [("temperature" in s.body) for s in server.seen] == [True, False, False] and sleeps == []


def test_other_400s_still_fail_at_once(server):
    other = openai_error(400, "Invalid value for 'max_completion_tokens'")
    other["error"]["param"] = "max_completion_tokens"
    server.push(Reply(400, other))
    with pytest.raises(LLMError, match="HTTP 400"):
        client(server).query("q", RegimeSchema)
    assert len(server.seen) == 1


def test_openai_cache_writes_are_read_and_priced_as_writes(server):
    server.push(Reply(200, responses_body(json.dumps(GOOD), model="gpt-6-astra", input_tokens=5000, cached=1000,
                                          cache_write=3000, output_tokens=100, reasoning=40)))
    r = client(server, model="gpt-6-astra").query("q", RegimeSchema)
    assert (r.input_tokens, r.cached_input_tokens, r.cache_write_tokens) == (5000, 1000, 3000)
    # gpt-6-astra: 1000 fresh * 10 + 1000 cached * 1.00 + 3000 written * 12.50 + 100 * 50 per million
    assert r.cost_usd == (Decimal(1000) * 10 + Decimal(1000) + Decimal(3000) * Decimal("12.50") + 100 * 50) / 10**6


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-5"])
@pytest.mark.parametrize("ctype", ["text/html", "application/json"])
def test_a_200_with_an_html_page_is_a_clear_unavailable_error_in_the_ledger(server, ctype, model):
    page = "<html><body><h1>Sign in to the gateway</h1></body></html>"
    server.push(Reply(200, page, content_type=ctype), Reply(200, page, content_type=ctype))
    c = client(server, max_retries=1, model=model)
    with pytest.raises(LLMUnavailableError, match=r"not (JSON|a chat completion|a Responses API response) "
                                                  r"\(it starts with '<html><body><h1>Sign in.*llm.base_url"):
        c.query("q", RegimeSchema)
    assert len(server.seen) == 2  # retried like a gateway error
    assert c.get_cost_summary()["failed_calls"] == 1  # the ledger has a row for the failed call
    server.push(Reply(200, responses_body(json.dumps(GOOD)) if model == "gpt-5" else chat_body(json.dumps(GOOD))))
    assert c.query("q", RegimeSchema).parsed["regime"] == "trending-bull"  # the next call works


def test_an_empty_choices_list_is_an_empty_reply_whose_tokens_are_still_billed(server):
    empty = {**chat_body(None, prompt_tokens=100, completion_tokens=0), "choices": []}
    server.push(Reply(200, empty), Reply(200, empty))
    c = client(server)
    with pytest.raises(LLMInvalidOutputError, match="the reply was empty") as info:
        c.query("q", RegimeSchema)
    assert len(server.seen) == 2  # re-asked once, like any empty reply
    assert info.value.response.input_tokens == 200 and info.value.response.cost_usd > 0
    assert c.get_cost_summary()["total_input_tokens"] == 200


def test_a_half_masked_key_and_url_credentials_in_an_error_reach_no_record(server, tmp_path):
    """OpenAI's 401 quotes the key half-masked ("sk-test****real"); a proxy may quote the URL with its
    credentials. Neither may reach the error text, which also goes to the LLM call log."""
    from hyperliquid_agent.store import StateStore

    url = server.url.replace("http://", "http://proxyuser:canarypass9@") + "/v1?api-key=canaryqkey7"
    server.push(Reply(401, openai_error(401, f"Incorrect API key provided: sk-canar****wxyz. Sent to {url}")))
    store = StateStore.in_dir(tmp_path)
    c = LLMClient(LLMConfig(provider="openai", model="gpt-4o", api_key="sk-canary-0123456789abcdwxyz",
                            base_url=url, max_retries=0), store=store, clock=FixedClock())
    with pytest.raises(LLMAuthError) as info:
        c.query("q")
    notes = " ".join(r.note or "" for r in c.ledger.rows())
    store.close()
    for text in (str(info.value), notes):
        for leak in ("sk-canar", "wxyz", "canarypass9", "canaryqkey7"):
            assert leak not in text, (leak, text)


def test_a_429_for_an_exhausted_quota_is_not_retried(server):
    # OpenAI answers 429 insufficient_quota when the account is out of credit: waiting does not cure it
    body = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                      "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}
    server.push(*[Reply(429, body)] * 3)
    sleeps: list[float] = []
    c = client(server, sleeps, max_retries=2)
    with pytest.raises(LLMError, match="HTTP 429 insufficient_quota.*Not retried.*billing") as info:
        c.query("q", RegimeSchema)
    assert not isinstance(info.value, LLMUnavailableError)
    assert len(server.seen) == 1 and sleeps == []


def test_deepseek_cache_hits_are_priced_as_cached_input(server):
    # DeepSeek reports cache hits as usage.prompt_cache_hit_tokens, not prompt_tokens_details.cached_tokens
    body = chat_body(json.dumps(GOOD), model="deepseek-chat", prompt_tokens=10_000, completion_tokens=100)
    del body["usage"]["prompt_tokens_details"]
    body["usage"].update(prompt_cache_hit_tokens=9_000, prompt_cache_miss_tokens=1_000)
    server.push(Reply(200, body))
    r = client(server, provider="openai-compatible", model="deepseek-chat").query("q", RegimeSchema)
    assert (r.input_tokens, r.cached_input_tokens) == (10_000, 9_000)
    # deepseek-chat: $0.28 a cache miss, $0.028 a cache hit, $0.42 output, per million tokens
    assert r.cost_usd == (Decimal(1_000) * Decimal("0.28") + Decimal(9_000) * Decimal("0.028") + Decimal(100) * Decimal("0.42")) / 10**6
