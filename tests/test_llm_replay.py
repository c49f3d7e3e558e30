"""Record/replay: a recorded reply comes back bit-identical at $0; a strict miss is an error."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from llm_wire import Reply, WireServer, server, chat_body  # noqa: F401 (server is a fixture)

from hyperliquid_agent.config import LLMConfig, ReplayConfig
from hyperliquid_agent.errors import ConfigError, LLMError, LLMInvalidOutputError
from hyperliquid_agent.llm.replay import DDL, ReplayStore, replay_key
from hyperliquid_agent.llm.types import LLMRequest
from hyperliquid_agent.llm_client import LLMClient
from hyperliquid_agent.schemas import RegimeSchema
from hyperliquid_agent.store import StateStore

# odd spacing and a float that must survive byte for byte
CONTENT = '{"regime": "high-volatility",  "confidence": 0.8300000000000001, "reasoning": "rv \\u00e9"}'
MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "now?"}]


def openai_cfg(server, **replay) -> LLMConfig:
    return LLMConfig(provider="openai", model="gpt-4o-mini", api_key="sk-test", base_url=server.url + "/v1",
                     replay=ReplayConfig(**replay))


def test_record_then_replay_is_bit_identical_and_free(server, tmp_path):
    server.push(Reply(200, chat_body(CONTENT, model="gpt-4o-mini-2024-07-18", prompt_tokens=500, completion_tokens=40)))
    recorder = LLMClient(openai_cfg(server, record=True), store=StateStore.in_dir(tmp_path))
    live = recorder.query(MESSAGES, RegimeSchema, purpose="regime")
    assert live.cost_usd > 0

    replayer = LLMClient(LLMConfig(provider="replay", model="gpt-4o-mini",
                                   replay=ReplayConfig(wrapped_provider="openai", mode="strict")),
                         store=StateStore.in_dir(tmp_path))
    again = replayer.query(MESSAGES, RegimeSchema, purpose="regime")
    assert again.content == live.content == CONTENT
    assert again.parsed == live.parsed
    assert again.cost_usd == Decimal(0) and again.replayed
    assert len(server.seen) == 1  # the replay did not touch the network
    assert replayer.get_cost_summary()["replayed_calls"] == 1


def test_strict_miss_is_an_error_naming_the_fix(tmp_path):
    c = LLMClient(LLMConfig(provider="replay", model="gpt-4o", replay=ReplayConfig(wrapped_provider="openai")),
                  state_dir=tmp_path)
    with pytest.raises(LLMError, match="no recorded reply.*llm.replay.record = true"):
        c.query("never recorded", RegimeSchema)


def test_fallthrough_miss_calls_the_wrapped_provider_and_records(server, tmp_path):
    server.push(Reply(200, chat_body(CONTENT, model="gpt-4o-mini")))
    cfg = LLMConfig(provider="replay", model="gpt-4o-mini", api_key="sk-test", base_url=server.url + "/v1",
                    replay=ReplayConfig(wrapped_provider="openai", mode="fallthrough"))
    c = LLMClient(cfg, state_dir=tmp_path)
    first = c.query("q", RegimeSchema)
    second = c.query("q", RegimeSchema)
    assert not first.replayed and first.cost_usd > 0
    assert second.replayed and second.cost_usd == 0 and second.content == first.content
    assert len(server.seen) == 1


def test_key_covers_every_input():
    base = LLMRequest(messages=tuple(MESSAGES), model="m", temperature=0.2, max_tokens=10,
                      json_schema={"type": "object"})
    k = replay_key("openai", base)
    from dataclasses import replace

    variants = [replace(base, model="m2"), replace(base, temperature=0.3), replace(base, json_schema=None),
                replace(base, messages=(MESSAGES[1],))]
    assert len({k, replay_key("anthropic", base), *(replay_key("openai", v) for v in variants)}) == 6
    assert replay_key("openai", replace(base, max_tokens=99)) == k  # not part of the key


def test_replay_needs_the_recorded_provider_name(tmp_path):
    with pytest.raises(ConfigError, match="llm.replay.wrapped_provider"):
        LLMClient(LLMConfig(provider="replay"), state_dir=tmp_path)


def test_store_roundtrip(tmp_path):
    store = ReplayStore(tmp_path / "r.sqlite")
    assert store.get("nope") is None and store.count() == 0


def test_a_cut_reply_replays_as_cut(server, tmp_path):
    # a reply cut at max_tokens that still parses is refused live; its replay must be refused the same way
    cut = chat_body(CONTENT + " and then", model="gpt-4o-mini", finish_reason="length")
    server.push(Reply(200, cut), Reply(200, cut))
    cfg = LLMConfig(provider="openai-compatible", model="qwen", base_url=server.url + "/v1", output_mode="prompt",
                    max_retries=0, replay=ReplayConfig(record=True))
    with pytest.raises(LLMInvalidOutputError, match=r"cut off at llm.max_tokens = 1500 \(length\)"):
        LLMClient(cfg, state_dir=tmp_path).query(MESSAGES, RegimeSchema)
    replayer = LLMClient(LLMConfig(provider="replay", model="qwen", output_mode="prompt",
                                   replay=ReplayConfig(wrapped_provider="openai-compatible")), state_dir=tmp_path)
    with pytest.raises(LLMInvalidOutputError, match=r"cut off at llm.max_tokens = 1500 \(length\)"):
        replayer.query(MESSAGES, RegimeSchema)
    assert len(server.seen) == 2


def test_a_store_recorded_before_finish_reasons_were_kept_still_opens(tmp_path):
    old = StateStore(tmp_path / "r.sqlite")
    old.ensure_schema("llm_replay", DDL.replace(",\n    finish_reason TEXT", ""))
    old.execute("INSERT INTO llm_replay VALUES ('k', 'openai', 'm', '{}', 'hi', '{}', NULL, NULL, 0)")
    old.close()
    store = ReplayStore(tmp_path / "r.sqlite")
    hit = store.get("k")
    assert hit.content == "hi" and hit.finish_reason is None and store.count() == 1


def test_a_compatible_servers_fenced_reply_replays_as_it_was_read_live(server, tmp_path):
    # the live client repairs an openai-compatible reply (prose, fences); the replay read it strictly, failed,
    # re-asked, and ended in "no recorded reply" for a reply that was recorded
    fenced = "Sure:\n```json\n" + CONTENT + "\n```"
    server.push(Reply(200, chat_body(fenced, model="qwen")))
    cfg = LLMConfig(provider="openai-compatible", model="qwen", base_url=server.url + "/v1", output_mode="json_object",
                    replay=ReplayConfig(record=True))
    live = LLMClient(cfg, state_dir=tmp_path).query(MESSAGES, RegimeSchema)
    replayer = LLMClient(LLMConfig(provider="replay", model="qwen", replay=ReplayConfig(wrapped_provider="openai-compatible")),
                         state_dir=tmp_path)
    again = replayer.query(MESSAGES, RegimeSchema)
    assert again.parsed == live.parsed and again.attempts == 1 and again.replayed
