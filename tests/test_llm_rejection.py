"""Per-action rejection through the real SDKs: a reply that still fails the schema after the
re-ask is not lost; the engine parses it, keeps the valid actions and rejects the bad ones."""

from __future__ import annotations

import json

import pytest
from llm_wire import Reply, WireServer, server, anthropic_body, chat_body  # noqa: F401 (server is a fixture)

from hyperliquid_agent.config import LLMConfig, defaults_dir
from hyperliquid_agent.decision import DecisionEngine, PromptTemplate
from hyperliquid_agent.domain import BuyAction
from hyperliquid_agent.errors import LLMInvalidOutputError
from hyperliquid_agent.llm_client import LLMClient
from hyperliquid_agent.prompts import sample_context
from hyperliquid_agent.schemas import DecisionSchema
from hyperliquid_agent.testing import FixedClock, ScriptedLLM, ScriptedReply, Usage

ROOT = defaults_dir()
GOOD_BUY = {"action_type": "buy", "coin": "BTC", "market_type": "perp", "size": 0.01, "price": None,
            "amount_usd": None, "to_perp": None, "reasoning": "trend"}
BAD_SHORT = {**GOOD_BUY, "action_type": "short", "coin": "ETH", "reasoning": "not a verb we know"}
MIXED = {"reasoning": "mixed", "selected_strategy": None, "actions": [GOOD_BUY, BAD_SHORT], "target_allocation": None}


@pytest.fixture(scope="module")
def template() -> PromptTemplate:
    return PromptTemplate(ROOT / "prompts" / "default.txt", ROOT / "strategies")


def engine_over(server: WireServer, template: PromptTemplate, provider: str) -> DecisionEngine:
    base = {"openai": {"model": "gpt-4o", "base_url": server.url + "/v1"},
            "anthropic": {"model": "claude-sonnet-4-6", "base_url": server.url}}[provider]
    cfg = LLMConfig(provider=provider, api_key="sk-test-not-real", max_retries=0, timeout_s=5, **base)
    return DecisionEngine(cfg, template, client=LLMClient(cfg, clock=FixedClock(), sleep=lambda _s: None))


def test_openai_one_bad_action_is_rejected_and_the_good_one_stands(server, template):
    body = chat_body(json.dumps(MIXED), prompt_tokens=1000, completion_tokens=80)
    server.push(Reply(200, body), Reply(200, body))  # the re-ask gets the same bad action back
    engine = engine_over(server, template, "openai")
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert len(server.seen) == 2  # one re-ask, then the reply is read item by item
    assert "action_type" in server.seen[1].body["messages"][-1]["content"]
    assert r.success and r.actions == (BuyAction(coin="BTC", market_type="perp", size="0.01", reasoning="trend"),)
    [bad] = r.rejected_actions
    assert bad.raw["action_type"] == "short" and bad.reason.startswith("actions[1]: action_type")
    assert any("failed schema validation after one re-ask" in w for w in r.warnings)
    assert r.input_tokens == 2000 and r.output_tokens == 160 and r.cost_usd is not None and r.cost_usd > 0
    assert engine.total_calls == 1 and engine.failed_calls == 0 and engine.total_cost_usd == r.cost_usd
    record = r.to_record()
    assert record["rejected_actions"][0]["raw"]["action_type"] == "short" and record["raw_response"]


def test_anthropic_one_bad_action_is_rejected_and_the_good_one_stands(server, template):
    body = anthropic_body(MIXED, tool_name="DecisionSchema", input_tokens=500, output_tokens=60)
    server.push(Reply(200, body), Reply(200, body))
    engine = engine_over(server, template, "anthropic")
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert len(server.seen) == 2 and server.seen[0].body["tool_choice"]["name"] == "DecisionSchema"
    assert r.success and [a.coin for a in r.actions] == ["BTC"]
    assert [x.raw["coin"] for x in r.rejected_actions] == ["ETH"]
    assert r.input_tokens == 1000 and r.provider == "anthropic"


def test_a_wholly_unreadable_reply_still_holds(server, template):
    prose = chat_body("I would rather not pick anything today.")
    server.push(Reply(200, prose), Reply(200, prose))
    engine = engine_over(server, template, "openai")
    r = engine.get_decision(sample_context().account)
    assert not r.success and r.actions == () and r.target_allocation is None
    assert r.error.startswith("LLMInvalidOutputError:") and "no JSON object" in r.error
    assert r.raw_response == "I would rather not pick anything today."
    assert engine.failed_calls == 1 and engine.total_calls == 1 and r.input_tokens == 240


def test_a_refusal_holds_without_reading_the_refusal_as_a_reply(server, template):
    server.push(Reply(200, chat_body(None, refusal="I can't help with trading.")))
    engine = engine_over(server, template, "openai")
    r = engine.get_decision(sample_context().account)
    assert not r.success and "refused" in r.error and r.actions == ()
    assert engine.failed_calls == 1 and r.input_tokens == 120  # the refused call was still billed


def test_the_error_carries_the_last_reply_and_the_billed_usage():
    bad = json.dumps({**MIXED, "actions": [BAD_SHORT]})
    llm = ScriptedLLM([ScriptedReply("not json", usage=Usage(input_tokens=10, output_tokens=2)),
                       ScriptedReply(bad, usage=Usage(input_tokens=30, output_tokens=4))],
                      llm_config=LLMConfig(provider="scripted", model="gpt-4o-mini"))
    with pytest.raises(LLMInvalidOutputError) as info:
        llm.query("q", DecisionSchema)
    err = info.value
    assert err.content == bad and bad not in str(err)  # the reply rides on the error, not in its message
    assert (err.response.input_tokens, err.response.output_tokens, err.response.attempts) == (40, 6, 2)
    assert err.response.cost_usd is not None and err.response.parsed is None


def test_governed_mode_salvages_good_micro_adjustments(template):
    gov_template = PromptTemplate(ROOT / "prompts" / "governance.txt", ROOT / "strategies")
    line = {"coin": "BTC", "target_pct": 10, "market_type": "perp", "leverage": 2}
    bad_line = {**line, "coin": "ETH", "market_type": "swap"}
    body = json.dumps({"maintain_plan": True, "reasoning": "steady", "micro_adjustments": [line, bad_line],
                       "proposed_plan": None})
    cfg = LLMConfig(provider="scripted", model="gpt-4o-mini", max_retries=0)
    engine = DecisionEngine(cfg, template, gov_template, client=ScriptedLLM([body, body], llm_config=cfg))
    ctx = sample_context(mode="governed")
    r = engine.get_decision_with_governance(ctx.account, None, "range-bound", True, ctx)
    assert r.success and r.maintain_plan and [t.coin for t in r.micro_adjustments] == ["BTC"]
    assert [x.raw["coin"] for x in r.rejected_adjustments] == ["ETH"]


# A forced tool call cut at max_tokens comes back as a whole object whose last list simply ends early: here
# a target book that never got to ETH and SOL, which would close them.
CUT_BOOK = {"reasoning": "rotate", "selected_strategy": None, "actions": [],
            "target_allocation": [{"coin": "BTC", "target_pct": 20, "market_type": "perp", "leverage": None}]}


def test_a_tool_call_cut_at_max_tokens_is_never_traded_even_when_it_parses(server, template):
    cut = anthropic_body(CUT_BOOK, tool_name="DecisionSchema", stop_reason="max_tokens", output_tokens=1500)
    server.push(Reply(200, cut), Reply(200, cut))
    engine = engine_over(server, template, "anthropic")
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert len(server.seen) == 2  # re-asked once, cut again
    # the re-ask asks for a shorter answer: the same request would be cut again
    assert "did not fit in 1500 output tokens" in server.seen[1].body["messages"][-1]["content"]
    assert "short" in server.seen[1].body["messages"][-1]["content"]
    assert not r.success and r.target_allocation is None and r.actions == ()
    assert r.error.startswith("LLMInvalidOutputError:") and "raise llm.max_tokens" in r.error
    assert engine.failed_calls == 1 and r.output_tokens == 3000  # both cut replies were billed


@pytest.mark.parametrize("finish", ["length", "content_filter"])
def test_a_compatible_server_reply_cut_after_its_json_is_not_used(server, template, finish):
    # prompt mode repairs prose around the JSON; a reply the server says was cut is still not used
    cut = chat_body(json.dumps(CUT_BOOK) + "\nAlso, for ETH I would", finish_reason=finish)
    server.push(Reply(200, cut), Reply(200, chat_body(json.dumps({**CUT_BOOK, "target_allocation": None}))))
    cfg = LLMConfig(provider="openai-compatible", model="qwen2.5:14b", base_url=server.url + "/v1",
                    output_mode="prompt", max_retries=0, timeout_s=5)
    llm = LLMClient(cfg, clock=FixedClock(), sleep=lambda _s: None)
    r = llm.query("q", DecisionSchema)
    assert r.attempts == 2 and r.parsed["target_allocation"] is None  # the second, whole reply is the answer
    reask = server.seen[1].body["messages"][-1]["content"]
    assert ("did not fit in 1500 output tokens" in reask) == (finish == "length")
    assert (f"({finish})" in reask) == (finish != "length")


def test_a_model_that_declines_is_not_pressed_to_decide(server, template):
    # the prompts offer {"error": true, "error_reason": ...} as the way out; a re-ask quoting "error: Extra inputs
    # are not permitted" pushed the model into a decision it had just said it could not make soundly
    declined = chat_body(json.dumps({"error": True, "error_reason": "the signals are stale"}))
    forced = chat_body(json.dumps({**MIXED, "actions": [GOOD_BUY]}))
    server.push(Reply(200, declined), Reply(200, forced))
    cfg = LLMConfig(provider="openai-compatible", model="deepseek-chat", base_url=server.url + "/v1",
                    output_mode="json_object", max_retries=0, timeout_s=5)
    engine = DecisionEngine(cfg, template, client=LLMClient(cfg, clock=FixedClock(), sleep=lambda _s: None))
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert len(server.seen) == 1  # no re-ask
    assert not r.success and r.actions == () and "the model reported an error: the signals are stale" in r.error
    assert engine.failed_calls == 1 and r.input_tokens == 120  # the one call is billed and counted


def test_a_declining_reply_is_not_re_asked_by_the_client():
    llm = ScriptedLLM(['{"error": "no funding data"}', MIXED], llm_config=LLMConfig(provider="scripted", model="gpt-4o-mini"))
    with pytest.raises(LLMInvalidOutputError, match="declined to answer: no funding data") as info:
        llm.query("q", DecisionSchema)
    assert len(llm.requests) == 1 and info.value.content == '{"error": "no funding data"}'
    assert info.value.response.attempts == 1
