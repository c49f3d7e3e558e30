"""Decision parsing (never raises, rejects one by one, never coerces) and the DecisionEngine."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from hyperliquid_agent.config import LLMConfig, defaults_dir
from hyperliquid_agent.decision import (
    DecisionEngine, DecisionResult, GovernanceDecisionResult, PromptTemplate, parse_decision, parse_governance_decision,
)
from hyperliquid_agent.domain import BuyAction, CloseAction, HoldAction, MarketType, SellAction, TransferAction
from hyperliquid_agent.errors import LLMAuthError, LLMUnavailableError
from hyperliquid_agent.prompts import sample_context
from hyperliquid_agent.testing import ScriptedLLM, ScriptedReply, Usage

ROOT = defaults_dir()
IDS = {"funding-carry", "stand-aside"}


def reply(**over) -> str:
    body = {"reasoning": "carry is paid", "selected_strategy": "funding-carry", "actions": [], "target_allocation": None}
    body.update(over)
    return json.dumps(body)


def buy(**over) -> dict:
    a = {"action_type": "buy", "coin": "BTC", "market_type": "perp", "size": 0.01, "price": None, "reasoning": "x"}
    a.update(over)
    return a


# ---------------------------------------------------------------- accepted shapes


def test_pure_json_with_exact_decimals():
    r = parse_decision(reply(actions=[buy(size=0.1, price=65000.5)]), IDS)
    assert r.success and r.error is None and r.selected_strategy == "funding-carry"
    (a,) = r.actions
    assert isinstance(a, BuyAction) and a.size == Decimal("0.1") and a.price == Decimal("65000.5")
    assert a.market_type is MarketType.PERP
    assert r.raw_response.startswith("{")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda j: f"```json\n{j}\n```",
        lambda j: f"Here is my decision:\n```\n{j}\n```\nGood luck!",
        lambda j: f"I looked at the {{signals}} and decided. {j} That's all.",
        lambda j: f"<think>Funding is {{high}}; maybe carry? {{\"no\": 1}}</think>\n{j}",
        lambda j: f"<thinking>hmm</thinking>{j}",
        lambda j: j[:-1] + ",}",  # trailing comma
    ],
)
def test_wrapped_and_slightly_broken_json(wrap):
    r = parse_decision(wrap(reply(actions=[buy()])), IDS)
    assert r.success, r.error
    assert len(r.actions) == 1 and r.selected_strategy == "funding-carry"


def test_single_quotes_and_python_literals_are_repaired_when_unambiguous():
    text = "{'reasoning': 'flat', 'selected_strategy': None, 'actions': [], 'target_allocation': [{'coin': 'BTC', 'target_pct': 0, 'market_type': 'perp', 'leverage': None},]}"
    r = parse_decision(text)
    assert r.success and r.target_allocation is not None
    assert r.target_allocation[0].target_pct == 0 and r.target_allocation[0].leverage is None


def test_explicit_error_form_is_a_failed_hold_with_the_reason():
    r = parse_decision('{"error": true, "error_reason": "signals are stale"}')
    assert not r.success and "signals are stale" in (r.error or "")
    assert r.actions == () and r.target_allocation is None


def test_target_allocation_is_signed_and_exact():
    r = parse_decision(reply(target_allocation=[
        {"coin": "BTC", "target_pct": 25, "market_type": "perp", "leverage": 3},
        {"coin": "ETH", "target_pct": -12.5, "market_type": "perp", "leverage": None},
        {"coin": "PURR", "target_pct": 5, "market_type": "spot"},  # leverage omitted -> null
    ]))
    assert r.success
    btc, eth, purr = r.target_allocation
    assert btc.target_pct == 25 and btc.leverage == 3
    assert eth.target_pct == Decimal("-12.5")
    assert purr.market_type is MarketType.SPOT and purr.leverage is None


def test_all_action_kinds():
    r = parse_decision(reply(actions=[
        buy(), buy(action_type="sell", coin="ETH", size=None), buy(action_type="close", coin="SOL", size=None),
        {"action_type": "hold", "reasoning": "wait"},
        {"action_type": "transfer", "amount_usd": 250, "to_perp": True, "reasoning": "margin"},
    ]))
    assert r.success and not r.rejected_actions
    kinds = [type(a) for a in r.actions]
    assert kinds == [BuyAction, SellAction, CloseAction, HoldAction, TransferAction]
    assert r.actions[4].amount == 250 and r.actions[4].to_perp is True


# ---------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "bad, reason",
    [
        (buy(market_type="futures"), "market_type: Input should be 'perp' or 'spot', got 'futures'"),  # never "perp"
        (buy(market_type=None), "needs market_type"),
        (buy(action_type="long"), "action_type"),
        (buy(coin=""), "needs a coin"),
        (buy(size=-1), "size"),
        (buy(size=0), "size"),
        (buy(size="lots"), "size: Input should be a valid decimal, got 'lots'"),
        (buy(size="12%"), "size: Input should be a valid decimal, got '12%'"),
        (buy(size="NaN"), "size: Input should be a finite number, got 'NaN'"),
        (buy(size=True), "size"),
        (buy(price=-5), "price"),
        (buy(size=1e20), "out of range"),
        (buy(leverage=10), "unknown field"),
        (buy(amount_usd=5), "belong to transfers"),
        ({"action_type": "transfer", "amount_usd": 5, "to_perp": "yes", "reasoning": ""}, "to_perp"),
        ({"action_type": "transfer", "amount_usd": -5, "to_perp": True, "reasoning": ""}, "amount"),
        ({"action_type": "transfer", "to_perp": True, "reasoning": ""}, "amount_usd"),
        ({"action_type": "transfer", "coin": "BTC", "amount_usd": 5, "to_perp": True, "reasoning": ""}, "USDC"),
        ("buy BTC", "JSON object"),
    ],
)
def test_invalid_actions_are_rejected_one_by_one(bad, reason):
    r = parse_decision(reply(actions=[buy(coin="ETH"), bad]))
    assert r.success  # the good action stands
    assert [a.coin for a in r.actions] == ["ETH"]
    (rej,) = r.rejected_actions
    assert rej.raw == json.loads(json.dumps(bad), parse_float=Decimal) and reason in rej.reason and rej.reason.startswith("actions[1]")


def test_every_action_rejected_is_a_failed_hold():
    r = parse_decision(reply(actions=[buy(market_type="swap")]))
    assert not r.success and "every action was rejected" in r.error and r.actions == ()
    assert len(r.rejected_actions) == 1


@pytest.mark.parametrize(
    "entry",
    [
        {"coin": "ETH", "target_pct": 5000, "market_type": "perp", "leverage": 2},
        {"coin": "ETH", "target_pct": 5, "market_type": "future", "leverage": 2},
        {"coin": "ETH", "target_pct": 5, "market_type": "perp", "leverage": True},
        {"coin": "ETH", "target_pct": 5, "market_type": "perp", "leverage": 0},
        {"coin": "BTC", "target_pct": 5, "market_type": "perp", "leverage": 2},  # duplicate coin
        {"target_pct": 5, "market_type": "perp"},
    ],
)
def test_one_bad_target_line_rejects_the_whole_book(entry):
    good = {"coin": "BTC", "target_pct": 10, "market_type": "perp", "leverage": 2}
    r = parse_decision(reply(actions=[buy()], target_allocation=[good, entry]))
    assert not r.success and r.target_allocation is None and r.actions == ()
    assert "all or nothing" in r.error
    assert any(x.where == "target_allocation" for x in r.rejected_actions)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("no json here", "no JSON object"),
        ("[1, 2, 3]", "no JSON object"),
        ('{"reasoning": "x"}', "neither"),
        ('{"actions": {"a": 1}}', "must be a list"),
        ('{"actions": [], "target_allocation": "all in"}', "target_allocation"),
        ('{"actions": [], "target_allocation": [], "reasoning": NaN}', "NaN is not a number we accept"),
        ("```json\n{'actions': [], 'target_allocation': [{'coin': 'BTC', 'target_pct': Infinity}]}\n```",
         "Infinity is not a number we accept"),
    ],
)
def test_failures_are_holds_with_an_error(text, expected):
    r = parse_decision(text)
    assert isinstance(r, DecisionResult) and not r.success and expected in r.error
    assert r.actions == () and r.target_allocation is None


def test_unknown_strategy_and_fields_are_warnings_not_coercions():
    r = parse_decision(reply(selected_strategy="moonshot", confidence=0.9), IDS)
    assert r.success and r.selected_strategy == "moonshot"
    assert any("moonshot" in w for w in r.warnings) and any("confidence" in w for w in r.warnings)


def test_record_is_json_serialisable_with_exact_numbers():
    r = parse_decision(reply(actions=[buy(size=0.123456789), buy(size=-0.5)]))
    rec = json.loads(json.dumps(r.to_record()))
    assert rec["actions"][0]["size"] == "0.123456789" and rec["success"] is True
    assert rec["rejected_actions"][0]["raw"]["size"] == "-0.5"


# ---------------------------------------------------------------- governance parsing


def plan(**over) -> dict:
    p = {"strategy_id": "funding-carry", "objective": "earn funding", "expected_edge_bps": 40,
         "target_allocation": [{"coin": "BTC", "target_pct": -20, "market_type": "perp", "leverage": 2}],
         "take_profit_pct": None, "stop_loss_pct": 3}
    p.update(over)
    return p


def gov(**over) -> str:
    body = {"maintain_plan": True, "reasoning": "fits", "micro_adjustments": [], "proposed_plan": None}
    body.update(over)
    return json.dumps(body)


def test_governance_maintain_with_adjustments_rejected_one_by_one():
    r = parse_governance_decision(gov(micro_adjustments=[
        {"coin": "BTC", "target_pct": -18, "market_type": "perp", "leverage": 2},
        {"coin": "ETH", "target_pct": 3, "market_type": "options", "leverage": 2},
    ]), IDS)
    assert r.success and r.maintain_plan and r.proposed_plan is None
    assert [a.coin for a in r.micro_adjustments] == ["BTC"] and r.micro_adjustments[0].target_pct == -18
    assert len(r.rejected_adjustments) == 1 and "micro_adjustments[1]" in r.rejected_adjustments[0].reason


def test_governance_new_plan_is_validated():
    r = parse_governance_decision(gov(maintain_plan=False, proposed_plan=plan()), IDS)
    assert r.success and not r.maintain_plan
    assert r.proposed_plan.strategy_id == "funding-carry" and r.proposed_plan.expected_edge_bps == 40
    (t,) = r.proposed_targets
    assert t.coin == "BTC" and t.target_pct == -20


@pytest.mark.parametrize(
    "text, expected",
    [
        (gov(maintain_plan="yes"), "maintain_plan must be true or false"),
        (gov(maintain_plan=False), "proposed_plan is missing"),
        (gov(maintain_plan=False, proposed_plan=plan(strategy_id="yolo")), "not in the strategy library"),
        (gov(maintain_plan=False, proposed_plan=plan(target_allocation=[])), "non-empty"),
        (gov(maintain_plan=False, proposed_plan=plan(expected_edge_bps="lots")), "expected_edge_bps"),
        (gov(maintain_plan=False, proposed_plan=plan(target_allocation=[{"coin": "BTC", "target_pct": 5, "market_type": "perps"}])), "market_type"),
        ('{"error": true, "error_reason": "no regime"}', "no regime"),
        ("<think>Funding is high so {maybe", "cut off"),
    ],
)
def test_governance_failures_keep_the_plan(text, expected):
    r = parse_governance_decision(text, IDS)
    assert isinstance(r, GovernanceDecisionResult) and not r.success and expected in r.error
    assert r.maintain_plan and r.proposed_plan is None and r.micro_adjustments == ()


def test_plan_given_while_maintaining_is_ignored_with_a_warning():
    r = parse_governance_decision(gov(maintain_plan=True, proposed_plan=plan()), IDS)
    assert r.success and r.maintain_plan and r.proposed_plan is None and r.warnings


# ---------------------------------------------------------------- never raises (properties)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["actions", "target_allocation", "action_type", "coin", "market_type", "size", "price",
                         "maintain_plan", "proposed_plan", "micro_adjustments", "target_pct", "leverage", "error",
                         "reasoning", "selected_strategy", "strategy_id", "to_perp", "amount_usd", "x"]),
        children, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parse_never_raises_on_any_text(text):
    assert isinstance(parse_decision(text), DecisionResult)
    assert isinstance(parse_governance_decision(text), GovernanceDecisionResult)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["{}", "```json\n{}\n```", "<think>x</think>{}", "Sure: {} ok", "{},"]))
def test_parse_never_raises_on_jsonish_structures(value, wrapper):
    text = wrapper.replace("{}", json.dumps(value)) if "{}" in wrapper else json.dumps(value)
    for result in (parse_decision(text, IDS), parse_governance_decision(text, IDS)):
        if not result.success:
            assert result.error
        if isinstance(result, DecisionResult) and not result.success:
            assert result.actions == () and result.target_allocation is None


# ---------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def templates():
    return (PromptTemplate(ROOT / "prompts" / "default.txt", ROOT / "strategies"),
            PromptTemplate(ROOT / "prompts" / "governance.txt", ROOT / "strategies"))


PRICED = LLMConfig(provider="scripted", model="gpt-4o-mini", max_retries=0)


def test_engine_standard_decision_with_cost_and_cacheable_messages(templates):
    llm = ScriptedLLM([ScriptedReply(reply(selected_strategy="stand-aside", target_allocation=[]),
                                     usage=Usage(input_tokens=2000, output_tokens=100))] * 2, llm_config=PRICED)
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=llm)
    ctx = sample_context()
    r1 = engine.get_decision(ctx.account, ctx)
    r2 = engine.get_decision(ctx.account, ctx)
    assert r1.success and r1.selected_strategy == "stand-aside" and r1.target_allocation == ()
    assert r1.input_tokens == 2000 and r1.output_tokens == 100 and r1.cost_usd and r1.cost_usd > 0
    assert r1.prompt_version == templates[0].version
    assert engine.total_calls == 2 and engine.total_cost_usd == r1.cost_usd + r2.cost_usd
    system, user = llm.requests[0].messages
    assert system["role"] == "system" and "## Strategy library" in system["content"]
    assert user["role"] == "user" and "10,000.00 USDC" in user["content"]
    assert llm.requests[0].messages == llm.requests[1].messages


@pytest.mark.parametrize("exc", [LLMUnavailableError("503 from provider"), LLMAuthError("bad key"), RuntimeError("bug")])
def test_engine_turns_llm_failures_into_holds(templates, exc):
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=ScriptedLLM([exc], llm_config=PRICED))
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert not r.success and r.actions == () and r.target_allocation is None
    assert str(exc) in r.error
    assert engine.failed_calls == 1 and engine.total_calls == 0 and engine.total_cost_usd == 0


def test_engine_parses_content_even_when_the_provider_parsed_it(templates):
    class Response:  # a client whose .parsed disagrees with .content: content wins
        content = reply(actions=[buy(market_type="swap")])
        parsed = {"actions": [], "reasoning": "", "selected_strategy": None, "target_allocation": None}
        input_tokens = output_tokens = cached_input_tokens = 0
        cost_usd = None
        provider = model = "fake"

    class Client:
        def query(self, messages, schema=None, purpose="decision", context=None):
            return Response()

    engine = DecisionEngine(PRICED, templates[0], client=Client())
    r = engine.get_decision(sample_context().account)
    assert not r.success and r.rejected_actions


def test_engine_governed_review_closed_drops_a_proposal(templates):
    llm = ScriptedLLM([gov(maintain_plan=False, proposed_plan=plan())], llm_config=PRICED)
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=llm)
    ctx = sample_context(mode="governed")
    r = engine.get_decision_with_governance(ctx.account, "plan p-7 (funding-carry)", "carry-friendly",
                                            (False, "dwell: 300 min left"), ctx, dwell_remaining_minutes=300)
    assert r.success and r.maintain_plan and r.proposed_plan is None
    assert any("review is closed" in w for w in r.warnings)
    prompt = llm.requests[0].messages[0]["content"] + llm.requests[0].messages[1]["content"]
    assert "Active plan: plan p-7 (funding-carry)" in prompt and "Dwell remaining: 300 min" in prompt
    assert "Review status: CLOSED" in prompt and "Confirmed regime: carry-friendly" in prompt
    assert llm.requests[0].context.regime == "carry-friendly"


def test_engine_governed_review_open_keeps_the_proposal(templates):
    llm = ScriptedLLM([gov(maintain_plan=False, proposed_plan=plan())], llm_config=PRICED)
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=llm)
    ctx = sample_context(mode="governed")
    r = engine.get_decision_with_governance(ctx.account, None, "carry-friendly", True, ctx)
    assert r.success and not r.maintain_plan and r.proposed_plan.strategy_id == "funding-carry"


def test_engine_without_governance_template_holds(templates):
    engine = DecisionEngine(PRICED, templates[0], client=ScriptedLLM([], llm_config=PRICED))
    ctx = sample_context()
    r = engine.get_decision_with_governance(ctx.account, None, "range-bound", True)
    assert not r.success and "governance_template" in r.error and r.maintain_plan


def test_engine_runs_end_to_end_on_the_offline_baseline(templates):
    engine = DecisionEngine(LLMConfig(), templates[0], templates[1])  # default config: baseline, no key
    ctx = sample_context()
    r = engine.get_decision(ctx.account, ctx)
    assert r.success, r.error
    assert r.provider == "baseline" and engine.total_calls == 1


def test_engine_governed_bare_flag_keeps_the_context_reason(templates):
    llm = ScriptedLLM([gov()], llm_config=PRICED)
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=llm)
    ctx = sample_context(mode="governed").model_copy(update={"review_reason": "cooldown 45 min left"})
    r = engine.get_decision_with_governance(ctx.account, None, "range-bound", False, ctx)
    assert r.success and r.maintain_plan
    assert "CLOSED: maintain the plan (micro-adjustments only) (cooldown 45 min left)" in llm.requests[0].messages[1]["content"]


def test_falsy_error_flags_are_not_errors():
    for flag in ("false", "null", "0", '""'):
        r = parse_decision(reply().replace('{"reasoning"', '{"error": ' + flag + ', "reasoning"', 1))
        assert r.success, (flag, r.error)


def test_a_cancel_action_needs_the_coin_and_an_order_id_and_oid_belongs_to_cancels_only():
    from hyperliquid_agent.decision import parse_decision
    from hyperliquid_agent.domain import CancelAction

    def reply(*actions):
        return json.dumps({"reasoning": "r", "selected_strategy": None, "actions": list(actions),
                           "target_allocation": None})

    ok = parse_decision(reply({"action_type": "cancel", "coin": "ETH", "oid": 12, "reasoning": "stale"}))
    assert ok.success and ok.actions == (CancelAction(coin="ETH", oid=12, reasoning="stale"),)
    bad = parse_decision(reply({"action_type": "cancel", "coin": "ETH", "reasoning": "no id"},
                               {"action_type": "cancel", "coin": "ETH", "oid": True, "reasoning": "bool"},
                               {"action_type": "buy", "coin": "ETH", "market_type": "perp", "size": 1, "oid": 3,
                                "reasoning": "oid on a buy"}))
    assert bad.actions == () and len(bad.rejected_actions) == 3


def test_a_prompt_nobody_reads_is_not_rendered_and_the_decision_is_the_same(templates):
    """The offline baseline decides from the context. In a run that keeps no prompt hashes (a
    backtest's tap) nobody reads the prompt, so none is rendered; the decisions are the same.
    A provider that reads the prompt still gets it there."""
    from hyperliquid_agent.app.record import LLMTap
    from hyperliquid_agent.llm.providers.offline import BaselineProvider
    from hyperliquid_agent.llm_client import LLMClient

    seen: list[str] = []

    class Spy(BaselineProvider):
        def complete(self, request, timeout_s):
            seen.append("".join(m["content"] for m in request.messages))
            return super().complete(request, timeout_s)

    ctx = sample_context(mode="governed")
    decided = {}
    for hashes in (True, False):
        tap = LLMTap(LLMClient(LLMConfig(), provider=Spy()), prompt_hashes=hashes)
        engine = DecisionEngine(LLMConfig(), templates[0], templates[1], client=tap)
        decided[hashes] = (engine.get_decision(ctx.account, ctx),
                           engine.get_decision_with_governance(ctx.account, None, "range-bound", True, ctx))
        assert [c["prompt_hash"] is not None for c in tap.take()] == [hashes, hashes]
    assert all("Review status" in s or "## Strategy library" in s for s in seen[:2]) and seen[2:] == ["", ""]
    assert decided[True] == decided[False] and decided[True][1].success
    llm = ScriptedLLM([gov()], llm_config=PRICED)
    engine = DecisionEngine(PRICED, templates[0], templates[1], client=LLMTap(llm, prompt_hashes=False))
    assert engine.get_decision_with_governance(ctx.account, None, "range-bound", True, ctx).success
    assert "Review status: OPEN" in llm.requests[0].messages[1]["content"]
