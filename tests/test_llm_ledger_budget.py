"""The persisted cost ledger and USD budgets (soft switch to the fallback model, hard stop)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hyperliquid_agent.config import BudgetConfig, LLMConfig
from hyperliquid_agent.errors import BudgetExceededError
from hyperliquid_agent.llm.ledger import CostLedger
from hyperliquid_agent.store import StateStore
from hyperliquid_agent.testing import FixedClock, ScriptedLLM, ScriptedReply, Usage

DAY1 = 1_767_225_600_000  # 2026-01-01T00:00Z
REGIME = '{"regime":"range-bound","confidence":0.5,"reasoning":"flat"}'


def priced(n_in: int = 1_000_000, n_out: int = 0) -> ScriptedReply:
    """A reply whose usage costs exactly n_in * $2.50/M + n_out * $10/M on gpt-4o."""
    return ScriptedReply(REGIME, usage=Usage(input_tokens=n_in, output_tokens=n_out), request_id="req")


def cfg(**kw) -> LLMConfig:
    return LLMConfig(provider="scripted", model="gpt-4o", **kw)


def test_ledger_summary_survives_a_reopened_store(tmp_path):
    from hyperliquid_agent.schemas import RegimeSchema

    clock = FixedClock(DAY1)
    store = StateStore.in_dir(tmp_path)
    llm = ScriptedLLM([priced(), priced(0, 100_000)], llm_config=cfg(), store=store, clock=clock)
    llm.query("a", RegimeSchema, purpose="regime")
    clock.advance(hours=24)
    llm.query("b", RegimeSchema, purpose="decision")
    store.close()

    reopened = StateStore.in_dir(tmp_path)
    s = CostLedger(reopened).summary()
    assert s["total_calls"] == 2
    assert s["total_cost_usd"] == Decimal("2.50") + Decimal("1.00")
    assert s["avg_cost_per_call"] == Decimal("1.75")
    assert s["total_input_tokens"] == 1_000_000 and s["total_output_tokens"] == 100_000
    assert set(s["by_day"]) == {"2026-01-01", "2026-01-02"}
    assert s["by_purpose"]["regime"]["total_cost_usd"] == Decimal("2.50")
    assert s["by_model"]["gpt-4o"]["total_calls"] == 2
    assert CostLedger(reopened).summary(since_day="2026-01-02")["total_calls"] == 1
    # the in-process view agrees with the persisted one
    assert llm.get_cost_summary()["total_cost_usd"] == s["total_cost_usd"]


def test_the_average_cost_per_call_leaves_unpriced_calls_out():
    from hyperliquid_agent.llm.ledger import CallRecord, summarize

    rows = [CallRecord(DAY1, "r", "decision", "openai-compatible", "gpt-4o", "ok", cost_usd=Decimal("0.02")),
            CallRecord(DAY1, "r", "decision", "openai-compatible", "gpt-4o", "ok", cost_usd=Decimal("0.04")),
            CallRecord(DAY1, "r", "decision", "openai-compatible", "qwen2.5:14b", "ok", 5000, output_tokens=300)]
    s = summarize(rows)
    # two calls cost $0.06; the third's cost is unknown, not $0: the average of what is known is $0.03
    assert s["total_calls"] == 3 and s["unpriced_calls"] == 1 and s["total_cost_usd"] == Decimal("0.06")
    assert s["avg_cost_per_call"] == Decimal("0.03")
    assert s["by_model"]["qwen2.5:14b"]["avg_cost_per_call"] == 0


def test_daily_soft_limit_switches_to_fallback_then_hard_limit_stops(tmp_path):
    from hyperliquid_agent.schemas import RegimeSchema

    store = StateStore.in_dir(tmp_path)
    clock = FixedClock(DAY1)
    config = cfg(fallback_model="gpt-4o-mini", budget=BudgetConfig(daily_usd=Decimal(5), soft_fraction=Decimal("0.5")))
    llm = ScriptedLLM([priced(), priced(), priced(), priced()], llm_config=config, store=store, clock=clock)
    first = llm.query("1", RegimeSchema)  # spent 0 -> gpt-4o, costs 2.50
    assert llm.requests[-1].model == "gpt-4o" and first.budget_note is None
    second = llm.query("2", RegimeSchema)  # spent 2.50 >= 50% of 5 -> fallback
    assert llm.requests[-1].model == "gpt-4o-mini" and "fallback model gpt-4o-mini" in second.budget_note
    assert second.cost_usd == Decimal("0.15")
    # push spend past the limit with an expensive (unswitched) call recorded by another client today
    other = ScriptedLLM([priced(1_000_000, 300_000)], llm_config=cfg(), store=store, clock=clock)
    other.query("x", RegimeSchema)
    with pytest.raises(BudgetExceededError, match="daily LLM budget reached.*llm.budget.daily_usd"):
        llm.query("3", RegimeSchema)
    assert len(llm.requests) == 2  # no call was made
    s = CostLedger(store).summary()
    assert s["blocked_calls"] == 1
    blocked = [r for r in CostLedger(store).rows() if r.status == "blocked"]
    assert "daily LLM budget reached" in blocked[0].note
    # a new UTC day resets the daily budget
    clock.advance(hours=24)
    assert llm.query("4", RegimeSchema).model == "gpt-4o"


def test_run_budget_counts_only_this_client():
    from hyperliquid_agent.schemas import RegimeSchema

    llm = ScriptedLLM([priced(), priced()], llm_config=cfg(budget=BudgetConfig(run_usd=Decimal("2.5"))))
    llm.query("1", RegimeSchema)
    with pytest.raises(BudgetExceededError, match="run LLM budget"):
        llm.query("2", RegimeSchema)
    fresh = ScriptedLLM([priced()], llm_config=cfg(budget=BudgetConfig(run_usd=Decimal("2.5"))))
    assert fresh.query("1", RegimeSchema).cost_usd == Decimal("2.5")


def test_no_fallback_model_means_no_switch():
    from hyperliquid_agent.schemas import RegimeSchema

    llm = ScriptedLLM([priced(), priced()], llm_config=cfg(budget=BudgetConfig(run_usd=Decimal(10))))
    llm.query("1", RegimeSchema)
    llm.query("2", RegimeSchema)
    assert [r.model for r in llm.requests] == ["gpt-4o", "gpt-4o"]


def test_failed_and_invalid_calls_are_recorded():
    from hyperliquid_agent.errors import LLMInvalidOutputError, LLMUnavailableError
    from hyperliquid_agent.schemas import RegimeSchema

    llm = ScriptedLLM([LLMUnavailableError("down")] * 4 + [priced(), "not json", "still not"],
                      llm_config=cfg(max_retries=3))
    with pytest.raises(LLMUnavailableError):
        llm.query("1", RegimeSchema)
    llm.query("2", RegimeSchema)
    with pytest.raises(LLMInvalidOutputError):
        llm.query("3", RegimeSchema)
    s = llm.get_cost_summary()
    assert s["failed_calls"] == 1 and s["total_calls"] == 3  # the ok call and two billed invalid replies
    assert s["total_cost_usd"] == Decimal("2.50")


def test_purpose_is_checked():
    llm = ScriptedLLM(["x"])
    with pytest.raises(ValueError, match="purpose must be one of decision, governance, regime, other"):
        llm.query("q", purpose="chat")


def test_group_totals_add_up_to_the_grand_total():
    from hypothesis import given, settings, strategies as st

    from hyperliquid_agent.llm.ledger import CallRecord, summarize

    record = st.builds(
        CallRecord,
        ts_ms=st.integers(1_700_000_000_000, 1_700_000_000_000 + 10 * 86_400_000),
        run_id=st.just("r"),
        purpose=st.sampled_from(["decision", "governance", "regime", "other"]),
        provider=st.just("openai"),
        model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "mystery"]),
        status=st.sampled_from(["ok", "invalid", "error", "blocked"]),
        input_tokens=st.integers(0, 10**6),
        output_tokens=st.integers(0, 10**5),
        cost_usd=st.none() | st.decimals(min_value=0, max_value=10, places=6),
    )

    @settings(max_examples=50, deadline=None)
    @given(st.lists(record, max_size=30))
    def check(rows):
        s = summarize(rows)
        for group in ("by_model", "by_day", "by_purpose"):
            parts = s[group].values()
            assert sum(p["total_calls"] for p in parts) == s["total_calls"]
            assert sum((p["total_cost_usd"] for p in parts), Decimal(0)) == s["total_cost_usd"]
            assert sum(p["total_input_tokens"] for p in parts) == s["total_input_tokens"]
        billed = [r for r in rows if r.status in ("ok", "invalid")]
        assert s["total_cost_usd"] == sum((r.cost_usd for r in billed if r.cost_usd is not None), Decimal(0))
        assert s["unpriced_calls"] == sum(1 for r in billed if r.cost_usd is None)

    check()


def test_a_budget_fails_closed_on_a_model_without_a_price():
    from hyperliquid_agent.config import ModelPrice
    from hyperliquid_agent.schemas import RegimeSchema

    budget = BudgetConfig(daily_usd=Decimal(5))
    unpriced = LLMConfig(provider="scripted", model="acme-local-7b", budget=budget)
    llm = ScriptedLLM([priced()], llm_config=unpriced)
    with pytest.raises(BudgetExceededError, match=r'acme-local-7b has no price.*\[llm.pricing."acme-local-7b"\]'):
        llm.query("1", RegimeSchema)
    assert llm.requests == [] and llm.get_cost_summary()["blocked_calls"] == 1
    # priced at zero in config, the same model is called; without a budget it never was blocked
    free = unpriced.model_copy(update={"pricing": {"acme-local-7b": ModelPrice(input=Decimal(0), output=Decimal(0))}})
    assert ScriptedLLM([priced()], llm_config=free).query("1", RegimeSchema).cost_usd == 0
    no_budget = unpriced.model_copy(update={"budget": BudgetConfig()})
    assert ScriptedLLM([priced()], llm_config=no_budget).query("1", RegimeSchema).cost_usd is None
    # a fallback model without a price is refused too once the soft limit switches to it
    fallback = LLMConfig(provider="scripted", model="gpt-4o", fallback_model="acme-local-7b",
                         budget=BudgetConfig(run_usd=Decimal(4), soft_fraction=Decimal("0.5")))
    llm = ScriptedLLM([priced(), priced()], llm_config=fallback)
    llm.query("1", RegimeSchema)
    with pytest.raises(BudgetExceededError, match="acme-local-7b has no price"):
        llm.query("2", RegimeSchema)


def test_a_re_ask_is_a_call_the_budget_can_stop(tmp_path):
    from hyperliquid_agent.errors import LLMInvalidOutputError
    from hyperliquid_agent.schemas import RegimeSchema

    store = StateStore.in_dir(tmp_path)
    # the first reply costs $2.50 of a $2 daily budget and is not the schema: the re-ask must not be made
    bad = ScriptedReply("not json", usage=Usage(input_tokens=1_000_000))
    llm = ScriptedLLM([bad, priced()], llm_config=cfg(budget=BudgetConfig(daily_usd=Decimal(2))), store=store,
                      clock=FixedClock(DAY1))
    with pytest.raises(LLMInvalidOutputError, match="re-ask was not made: daily LLM budget reached") as info:
        llm.query("q", RegimeSchema)
    assert len(llm.requests) == 1 and info.value.content == "not json"
    assert info.value.response.cost_usd == Decimal("2.50")
    s = CostLedger(store).summary()
    assert s["total_cost_usd"] == Decimal("2.50") and s["blocked_calls"] == 1
