"""Prompt templates: placeholder checks at load, literal braces, the cacheable split, rendered state."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.config import defaults_dir
from hyperliquid_agent.domain import AccountState, Position
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.errors import TemplateError
from hyperliquid_agent.prompts import PLACEHOLDERS, PromptTemplate, estimate_tokens, format_signals, sample_context
from hyperliquid_agent.signals import SIGNAL_NAMES
from hyperliquid_agent.strategies import load_strategies

ROOT = defaults_dir()
STRATEGIES = load_strategies(ROOT / "strategies")


def account(pv: str = "10000", positions=()) -> AccountState:
    return AccountState(portfolio_value=Decimal(pv), available_balance=Decimal("6000"), positions=tuple(positions),
                        timestamp_ms=1_700_000_000_000)


def test_unknown_placeholder_is_an_error_at_load_naming_it_and_the_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Value: {portfolio_value}\nOops: {portfolio_valeu} {also_bad}\n")
    with pytest.raises(TemplateError) as info:
        PromptTemplate(path, strategies=STRATEGIES)
    msg = str(info.value)
    assert "{portfolio_valeu}" in msg and "{also_bad}" in msg and str(path) in msg


@pytest.mark.parametrize("text", ["a } b", "a { b", "{portfolio_value!r}", "{portfolio_value:>10}", "{}", "{0}"])
def test_bad_fields_are_errors(text):
    with pytest.raises(TemplateError):
        PromptTemplate.from_text(text, STRATEGIES, name="t.txt")


def test_literal_braces_render_as_json():
    t = PromptTemplate.from_text('Reply {{"maintain_plan": true}} at {timestamp}', STRATEGIES)
    assert t.format(account()) == 'Reply {"maintain_plan": true} at 2023-11-14T22:13:20Z'


def test_missing_template_file_names_the_config_key(tmp_path):
    with pytest.raises(TemplateError, match="prompt_template"):
        PromptTemplate(tmp_path / "missing.txt", strategies=STRATEGIES)


def test_shipped_templates_use_the_required_placeholders():
    std = PromptTemplate(ROOT / "prompts" / "default.txt", ROOT / "strategies")
    gov = PromptTemplate(ROOT / "prompts" / "governance.txt", ROOT / "strategies")
    for name in ("portfolio_value", "available_balance", "timestamp", "positions", "strategies", "signals", "regime"):
        assert name in std.placeholders
    for name in ("active_plan", "dwell_remaining", "review_status", "compatible_strategies", "regime"):
        assert name in gov.placeholders
    assert set(std.placeholders) <= set(PLACEHOLDERS)
    assert len(std.strategies) == len(STRATEGIES)
    # the reply contract is spelled out, including the error form
    for t in (std, gov):
        text = t.format(account())
        assert '{"error": true, "error_reason":' in text


def test_stable_prefix_first_and_identical_across_cycles():
    t = PromptTemplate(ROOT / "prompts" / "default.txt", strategies=STRATEGIES)
    a = account("10000", [Position(coin="BTC", size=Decimal("0.1"), entry_price=Decimal("60000"))])
    b = account("12345.67", [Position(coin="ETH", size=Decimal("-2"), entry_price=Decimal("3000"))])
    ctx = sample_context()
    pa, sa = t.render_parts(a, ctx.model_copy(update={"account": a}))
    pb, sb = t.render_parts(b, ctx.model_copy(update={"account": b}))
    assert pa == pb  # the cacheable prefix does not change with the account
    assert sa != sb
    assert "funding-carry" in pa and "10,000.00" not in pa
    assert "10,000.00 USDC" in sa and "12,345.67 USDC" in sb
    assert pa + sa == t.format(a, ctx.model_copy(update={"account": a}))
    assert sa.startswith("Time (UTC):")  # cut at the start of the first per-cycle line


def test_positions_keep_their_sign_and_exposure():
    short = Position(coin="ETH", size=Decimal("-2"), entry_price=Decimal("3000"), position_value=Decimal("6000"), leverage=3)
    t = PromptTemplate.from_text("{positions}", STRATEGIES)
    ctx = DecisionContext(now_ms=1, account=account("10000", [short]), mids={"ETH": Decimal("2500")})
    text = t.format(context=ctx)
    assert "ETH perp SHORT size -2" in text and "-50.0% of equity" in text  # -2 * 2500 / 10000
    assert t.format(account()) == "none (flat)"


def test_signals_table_is_ordered_and_positional():
    table = format_signals({"*": {"btc_eth_corr": 0.81}, "ETH": {"rsi14": 55.5, "price": 3000.5},
                            "BTC": {"funding_now": 0.0000125, "ret_24h": None}}, ["BTC", "ETH"])
    lines = table.splitlines()
    assert lines[0] == "BTC: ret_24h=null funding_now=0.0000125"
    assert lines[1] == "ETH: price=3000.5 rsi14=55.5"
    assert lines[2] == "cross-asset: btc_eth_corr=0.81"


def test_governance_shows_only_compatible_strategies_and_plan_summary():
    class Plan:
        def prompt_summary(self) -> str:
            return "plan p-1: funding-carry, BTC -20%"

    t = PromptTemplate(ROOT / "prompts" / "governance.txt", strategies=STRATEGIES)
    ctx = sample_context(mode="governed").model_copy(update={"regime": "event-risk", "active_plan": Plan(),
                                                               "can_review": False, "review_reason": "dwell 30 min left"})
    text = t.format(context=ctx, dwell_remaining="30 min")
    assert "### stand-aside" in text and "### event-de-risking" in text
    assert "### slow-trend-following" not in text and "### funding-carry" not in text
    assert "Active plan: plan p-1: funding-carry, BTC -20%" in text
    assert "Review status: CLOSED" in text and "dwell 30 min left" in text
    assert "Dwell remaining: 30 min" in text
    assert "Confirmed regime: event-risk" in text


def test_active_plan_falls_back_to_str_and_none():
    t = PromptTemplate.from_text("{active_plan}", STRATEGIES)
    base = sample_context()
    assert t.format(context=base) == "none"
    assert t.format(context=base.model_copy(update={"active_plan": "plain plan"})) == "plain plan"


def test_full_mode_includes_descriptions_and_version_tracks_text():
    full = PromptTemplate.from_text("{strategies}", STRATEGIES, render_mode="full")
    summary = PromptTemplate.from_text("{strategies}", STRATEGIES, render_mode="summary")
    assert "**Entry.**" in full.format(account()) and "**Entry.**" not in summary.format(account())
    assert full.version == summary.version  # same text
    assert PromptTemplate.from_text("{strategies} ", STRATEGIES).version != full.version


def test_unknown_value_names_are_refused_and_explicit_values_win():
    t = PromptTemplate.from_text("{regime} / {dwell_remaining}", STRATEGIES)
    assert t.format(account(), regime="trending-bull", dwell_remaining="5 min") == "trending-bull / 5 min"
    assert t.format(account()) == "unknown / n/a"
    with pytest.raises(TemplateError, match="dwell_remainig"):
        t.format(account(), dwell_remainig="5")


def test_strategies_placeholder_needs_a_library():
    with pytest.raises(TemplateError, match="strategies_dir"):
        PromptTemplate.from_text("{strategies}", [])


def test_estimate_tokens_is_chars_over_four():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_plan_summary_receives_the_decision_time_when_it_takes_one():
    class Plan:
        def prompt_summary(self, now_ms: int | None = None) -> str:
            return f"plan at {now_ms}"

    t = PromptTemplate.from_text("{active_plan}", STRATEGIES)
    ctx = sample_context().model_copy(update={"active_plan": Plan()})
    assert t.format(context=ctx) == f"plan at {ctx.now_ms}"


def test_sample_snapshot_has_every_signal_for_every_coin():
    ctx = sample_context(("BTC", "ETH", "DOGE"))
    for coin in ctx.coins:
        assert set(ctx.signals[coin]) >= set(SIGNAL_NAMES) and all(v is not None for v in ctx.signals[coin].values())
    assert ctx.signals["*"]["btc_eth_corr"] == 0.83
    text = PromptTemplate.from_text("{signals}", STRATEGIES).format(context=ctx)
    assert text.splitlines()[0].startswith("BTC: price=95210 ret_1h=0.0012")
    assert "e-" not in text and "e+" not in text  # positional numbers only


def test_context_strategies_narrow_what_is_offered():
    t = PromptTemplate.from_text("{strategies}\n====\n{compatible_strategies}", STRATEGIES)
    two = [s for s in STRATEGIES if s.id in ("stand-aside", "slow-trend-following")]
    ctx = sample_context().model_copy(update={"strategies": tuple(two), "regime": "range-bound"})
    everything, compatible = t.format(context=ctx).split("\n====\n")
    assert "### slow-trend-following" in everything and "### funding-carry" not in everything
    assert "### stand-aside" in compatible and "### slow-trend-following" not in compatible
    full = sample_context().model_copy(update={"strategies": tuple(STRATEGIES)})
    assert "### funding-carry" in t.format(context=full)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_signal_values_are_positional_with_five_significant_figures(v):
    line = format_signals({"BTC": {"rsi14": v}}, ["BTC"])
    text = line.split("rsi14=", 1)[1]
    assert "e" not in text.lower() and Decimal(text) == Decimal(f"{v:.5g}")
