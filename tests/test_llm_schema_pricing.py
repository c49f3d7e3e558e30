"""Strict schemas, reply parsing, the price table and knowledge cutoffs."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from hyperliquid_agent.config import ModelPrice
from hyperliquid_agent.llm.pricing import cost_of, estimate_spend, knowledge_cutoff, match_key, price_table
from hyperliquid_agent.llm.schema import ReplyInvalid, parse_reply, strict_json_schema
from hyperliquid_agent.llm.types import Usage
from hyperliquid_agent.schemas import DecisionSchema, GovernanceDecisionSchema, RegimeSchema


def walk_objects(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for v in node.values():
            yield from walk_objects(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_objects(v)


@pytest.mark.parametrize("model", [DecisionSchema, GovernanceDecisionSchema, RegimeSchema])
def test_strict_schema_rules(model):
    schema = strict_json_schema(model)
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and '"default"' not in text
    objects = list(walk_objects(schema))
    assert objects
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


def test_nullable_fields_are_anyof_null():
    props = strict_json_schema(DecisionSchema)["properties"]
    assert {"type": "null"} in props["selected_strategy"]["anyOf"]
    assert {"type": "null"} in props["target_allocation"]["anyOf"]
    action = props["actions"]["items"]["properties"]
    assert {"type": "null"} in action["size"]["anyOf"] and {"type": "number"} in action["size"]["anyOf"]


def test_parse_reply_reads_decimals_and_names_bad_fields():
    parsed = parse_reply('{"regime":"range-bound","confidence":0.1,"reasoning":"r"}', RegimeSchema)
    assert parsed["confidence"] == Decimal("0.1")
    with pytest.raises(ReplyInvalid, match="confidence"):
        parse_reply('{"regime":"range-bound","reasoning":"r"}', RegimeSchema)
    with pytest.raises(ReplyInvalid, match="confidence: Input should be a valid decimal, got '75%'"):
        parse_reply('{"regime":"range-bound","confidence":"75%","reasoning":"r"}', RegimeSchema)
    with pytest.raises(ReplyInvalid, match="mood: Extra inputs"):
        parse_reply('{"regime":"range-bound","confidence":1,"reasoning":"r","mood":"x"}', RegimeSchema)
    with pytest.raises(ReplyInvalid, match="JSON object"):
        parse_reply("[1, 2]", RegimeSchema)
    for repair in (False, True):  # NaN is no confidence, whichever way the JSON is read
        with pytest.raises(ReplyInvalid):
            parse_reply('{"regime":"range-bound","confidence":NaN,"reasoning":"r"}', RegimeSchema, repair=repair)


def test_repair_extracts_fenced_json_only_when_asked():
    text = 'Sure:\n```json\n{"regime": "event-risk", "confidence": 0.9, "reasoning": "FOMC {today}"}\n```'
    assert parse_reply(text, RegimeSchema, repair=True)["regime"] == "event-risk"
    with pytest.raises(ReplyInvalid, match="not valid JSON"):
        parse_reply(text, RegimeSchema)


@given(st.text())
def test_parsing_never_raises_anything_but_reply_invalid(text):
    try:
        parsed = parse_reply(text, RegimeSchema, repair=True)
    except ReplyInvalid:
        return
    assert set(parsed) == {"regime", "confidence", "reasoning"}


# ---------------------------------------------------------------- pricing

@pytest.mark.parametrize("model,key", [
    ("gpt-4o", "gpt-4o"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # exact id beats its prefix
    ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("gpt-5.2-2025-12-11", "gpt-5.2"),
    ("o4-mini-2025-04-16", "o4-mini"),
    ("o3-mini-2025-01-31", "o3-mini"),
    ("gpt-6.1-terra", "gpt-6.1-terra"),
    ("gpt-6-sol-2026-09-22", "gpt-6-sol"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-opus-4-20250514", "claude-opus-4"),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("deepseek-chat", "deepseek-chat"),
])
def test_price_lookup_exact_then_longest_tagged_prefix(model, key):
    table = price_table()
    assert match_key(model, table.prices) == key


@pytest.mark.parametrize("model", ["gpt-4o-audio-preview", "claude-opus-4-9", "o1-mini", "gpt-6-nova", "llama3",
                                   "gpt-5-codex-max", "claude-haiku-5-5"])
def test_unknown_models_are_not_guessed(model):
    assert price_table().price_for(model) is None
    assert price_table().cost(model, Usage(input_tokens=10)) is None


def test_mini_is_never_priced_as_its_big_sibling():
    t = price_table()
    assert t.price_for("gpt-4o-mini-2024-07-18").input == Decimal("0.15")
    assert t.price_for("gpt-4o-2024-11-20").input == Decimal("2.50")


def test_config_overrides_win_and_add_models():
    t = price_table({"gpt-4o": ModelPrice(input=Decimal(1), output=Decimal(2)),
                     "llama3": ModelPrice(input=Decimal(0), output=Decimal(0))})
    assert t.price_for("gpt-4o-2024-08-06").input == Decimal(1)
    assert t.cost("llama3", Usage(input_tokens=1000, output_tokens=1000)) == 0
    assert price_table().price_for("gpt-4o").input == Decimal("2.50")  # shipped table untouched


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**6))
def test_cost_is_exact_and_caching_never_costs_more(fresh, cached, written_extra, out):
    price = ModelPrice(input=Decimal("3"), cached_input=Decimal("0.3"), output=Decimal("15"), cache_write=Decimal("3.75"))
    total_in = fresh + cached
    with_cache = cost_of(price, Usage(input_tokens=total_in, cached_input_tokens=cached, output_tokens=out))
    without = cost_of(price, Usage(input_tokens=total_in, output_tokens=out))
    assert with_cache <= without
    assert without == (Decimal(total_in) * 3 + Decimal(out) * 15) / 10**6
    no_cached_price = ModelPrice(input=Decimal("3"), output=Decimal("15"))
    assert cost_of(no_cached_price, Usage(input_tokens=total_in, cached_input_tokens=cached, output_tokens=out)) == without


def test_knowledge_cutoffs():
    assert knowledge_cutoff("gpt-4o-2024-08-06") == date(2023, 10, 31)
    assert knowledge_cutoff("claude-haiku-4-5-20251001") == date(2025, 2, 28)
    assert knowledge_cutoff("some-local-model") is None
    assert knowledge_cutoff("gpt-5-mini-2025-08-07") == knowledge_cutoff("gpt-5-nano") == date(2024, 5, 31)
    assert knowledge_cutoff("some-local-model", {"some-local-model": "2024-01-31"}) == date(2024, 1, 31)


def test_gpt5_nano_cached_input_is_billed_at_its_cached_price():
    # OpenAI's gpt-5-nano page: $0.05 input, $0.005 cached input, $0.40 output per million tokens
    usage = Usage(input_tokens=10_000, cached_input_tokens=8_000, output_tokens=1_000)
    assert price_table().cost("gpt-5-nano-2025-08-07", usage) == (
        Decimal(2_000) * Decimal("0.05") + Decimal(8_000) * Decimal("0.005") + Decimal(1_000) * Decimal("0.40")
    ) / 10**6


def test_estimate_spend():
    est = estimate_spend(price_table(), "gpt-4o-mini", prompt_chars=8000, reply_tokens=500, calls_per_day=24)
    assert est.input_tokens == 2000
    per_call = (Decimal(2000) * Decimal("0.15") + Decimal(500) * Decimal("0.60")) / 10**6
    assert est.cost_per_call_usd == per_call and est.cost_per_day_usd == per_call * 24
    assert estimate_spend(price_table(), "mystery", 100, 10, 1).cost_per_day_usd is None
