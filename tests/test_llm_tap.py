"""The cycle's LLM tap records what every call cost, a call whose reply was unusable too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel

from hyperliquid_agent.app.record import LLMTap, llm_record
from hyperliquid_agent.config import LLMConfig
from hyperliquid_agent.errors import LLMInvalidOutputError
from hyperliquid_agent.testing import ScriptedLLM, ScriptedReply, Usage

PRICED = LLMConfig(provider="scripted", model="gpt-4o-mini", max_retries=0)
MESSAGES = [{"role": "user", "content": "classify"}]


def billed(content: str) -> ScriptedReply:
    return ScriptedReply(content, Usage(input_tokens=1200, output_tokens=80))


class Answer(BaseModel):
    regime: str


def test_an_invalid_reply_and_its_reask_are_billed_in_the_cycles_record():
    tap = LLMTap(ScriptedLLM([billed("not json"), billed("still not json")], llm_config=PRICED))
    with pytest.raises(LLMInvalidOutputError):
        tap.query(MESSAGES, schema=Answer, purpose="regime")
    failed = llm_record(tap.take())
    # (its reply is not kept: `audit replay` replays the cycle's failure, not an invalid reply)
    assert failed["errors"] and failed["raw_reply"] is None
    # the same two calls, answered validly the second time: the failed query cost as much
    tap = LLMTap(ScriptedLLM([billed("not json"), billed('{"regime": "trending"}')], llm_config=PRICED))
    tap.query(MESSAGES, schema=Answer, purpose="regime")
    ok = llm_record(tap.take())
    assert not ok["errors"] and Decimal(ok["cost_usd"]) > 0
    assert (failed["input_tokens"], failed["output_tokens"]) == (ok["input_tokens"], ok["output_tokens"]) == (2400, 160)
    assert failed["cost_usd"] == ok["cost_usd"] and not failed["unpriced"]


def test_an_unusable_reply_from_a_model_without_a_price_is_flagged_unpriced():
    unpriced = LLMConfig(provider="scripted", model="no-such-model", max_retries=0)
    tap = LLMTap(ScriptedLLM([billed("not json"), billed("still not json")], llm_config=unpriced))
    with pytest.raises(LLMInvalidOutputError):
        tap.query(MESSAGES, schema=Answer)
    record = llm_record(tap.take())
    assert record["unpriced"] and record["cost_usd"] == "0" and record["input_tokens"] == 2400


def test_a_call_that_got_no_reply_costs_nothing_and_keeps_its_error():
    class Down(ScriptedLLM):
        def query(self, *args, **kwargs):
            raise ConnectionError("no route to host")

    tap = LLMTap(Down([], llm_config=PRICED))
    with pytest.raises(ConnectionError):
        tap.query(MESSAGES, schema=Answer)
    record = llm_record(tap.take())
    assert record["errors"] == ["ConnectionError: no route to host"] and record["cost_usd"] == "0"
    assert not record["unpriced"]
