"""The offline baseline policy: deterministic, schema-valid, within leverage, regime-aware."""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hyperliquid_agent.config import LLMConfig
from hyperliquid_agent.domain import AccountState, Regime
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.llm import baseline_policy
from hyperliquid_agent.llm_client import LLMClient
from hyperliquid_agent.schemas import DecisionSchema, GovernanceDecisionSchema, RegimeSchema
from hyperliquid_agent.strategies import StrategySpec

ACCOUNT = AccountState(portfolio_value=Decimal(10000), available_balance=Decimal(10000))
TREND_UP = {"ema_spread": 0.02, "adx14": 35.0, "rv_ann": 0.5, "funding_24h_avg": 0.0, "ret_7d": 0.08, "price": 100.0}
TREND_DOWN = {"ema_spread": -0.03, "adx14": 40.0, "rv_ann": 0.7, "funding_24h_avg": 0.00005, "ret_7d": -0.1}


def spec(sid: str, compatible: tuple[Regime, ...], avoid: tuple[Regime, ...] = (), direction: str = "long-short",
         max_pct: int = 30, lev: int = 3) -> StrategySpec:
    return StrategySpec(
        id=sid, title=sid, markets=("perp",), directionality=direction, risk_profile="medium",
        intended_horizon="days", minimum_dwell_minutes=60, compatible_regimes=compatible, avoid_regimes=avoid,
        max_position_pct=Decimal(max_pct), max_leverage=lev, expected_switching_cost_bps=Decimal(5),
        description="test strategy",
    )


TREND = spec("trend-follow", (Regime.TRENDING_BULL, Regime.TRENDING_BEAR), (Regime.RANGE_BOUND,))
CARRY = spec("funding-carry", (Regime.CARRY_FRIENDLY, Regime.RANGE_BOUND), (Regime.TRENDING_BULL,), "market-neutral")
LONG_ONLY = spec("long-only", (Regime.TRENDING_BULL,), direction="long", max_pct=10, lev=2)


def ctx(**kw) -> DecisionContext:
    base = dict(now_ms=1_767_225_600_000, coins=("BTC", "ETH", "SOL"), account=ACCOUNT,
                signals={"BTC": TREND_UP, "ETH": TREND_DOWN, "SOL": {"price": 150.0}},
                strategies=(TREND, CARRY), regime="trending-bull", max_leverage=2)
    base.update(kw)
    return DecisionContext(**base)


def client() -> LLMClient:
    return LLMClient(LLMConfig())


def test_standard_decision_follows_trend_and_is_flat_without_signals():
    r = client().query("render", DecisionSchema, context=ctx())
    DecisionSchema.model_validate(r.parsed)
    targets = {t["coin"]: t["target_pct"] for t in r.parsed["target_allocation"]}
    assert targets["BTC"] > 0 > targets["ETH"] and targets["SOL"] == 0
    assert r.parsed["selected_strategy"] == "trend-follow"
    assert (r.input_tokens, r.output_tokens, r.cost_usd, r.provider) == (0, 0, Decimal(0), "baseline")


def test_baseline_output_is_bit_identical_across_clients():
    a = client().query("x", DecisionSchema, context=ctx()).content
    b = client().query("different prompt, same context", DecisionSchema, context=ctx()).content
    assert a == b
    g1 = client().query("x", GovernanceDecisionSchema, context=ctx()).content
    assert g1 == client().query("x", GovernanceDecisionSchema, context=ctx()).content


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.2, 0.2), st.floats(0, 100), st.floats(0.01, 5), st.floats(-0.001, 0.001)),
                min_size=1, max_size=6),
       st.integers(1, 5))
def test_gross_exposure_never_exceeds_max_leverage(rows, lev):
    coins = tuple(f"C{i}" for i in range(len(rows)))
    signals = {c: {"ema_spread": s, "adx14": a, "rv_ann": v, "funding_24h_avg": f} for c, (s, a, v, f) in zip(coins, rows)}
    doc = json.loads(baseline_policy.answer("DecisionSchema", ctx(coins=coins, signals=signals, max_leverage=lev)))
    gross = sum(abs(Decimal(str(t["target_pct"]))) for t in doc["target_allocation"])
    assert gross <= Decimal(100 * lev) + Decimal("0.05")
    assert all(t["leverage"] <= lev for t in doc["target_allocation"])


def test_no_context_answers_a_safe_hold_and_maintain():
    c = client()
    d = c.query("x", DecisionSchema).parsed
    assert d["target_allocation"] is None and d["actions"] == []
    g = c.query("x", GovernanceDecisionSchema, purpose="governance").parsed
    assert g["maintain_plan"] is True and g["proposed_plan"] is None
    assert c.query("x", RegimeSchema, purpose="regime").parsed["regime"] == "range-bound"


class Plan:
    def __init__(self, strategy_id: str) -> None:
        self.strategy_id = strategy_id


def test_governance_proposes_best_fitting_strategy_when_none_is_active():
    g = client().query("x", GovernanceDecisionSchema, context=ctx(mode="governed")).parsed
    assert g["maintain_plan"] is False
    plan = g["proposed_plan"]
    assert plan["strategy_id"] == "trend-follow" and plan["expected_edge_bps"] > 0
    assert all(abs(t["target_pct"]) <= 30 for t in plan["target_allocation"])


def test_governance_keeps_a_fitting_plan_and_a_plan_under_dwell():
    keep = client().query("x", GovernanceDecisionSchema, context=ctx(active_plan=Plan("trend-follow"))).parsed
    assert keep["maintain_plan"] is True
    locked = ctx(active_plan=Plan("funding-carry"), can_review=False, review_reason="dwell 30/60 min")
    assert client().query("x", GovernanceDecisionSchema, context=locked).parsed["maintain_plan"] is True


def test_governance_rotates_out_of_a_plan_that_no_longer_fits():
    g = client().query("x", GovernanceDecisionSchema, context=ctx(active_plan=Plan("funding-carry"))).parsed
    assert g["maintain_plan"] is False and g["proposed_plan"]["strategy_id"] == "trend-follow"
    assert "funding-carry" in g["reasoning"]


def test_strategy_directionality_and_limits_are_respected():
    g = client().query("x", GovernanceDecisionSchema, context=ctx(strategies=(LONG_ONLY,))).parsed
    targets = g["proposed_plan"]["target_allocation"]
    assert all(0 <= t["target_pct"] <= 10 for t in targets) and all(t["leverage"] <= 2 for t in targets)
    neutral = client().query("x", GovernanceDecisionSchema,
                             context=ctx(strategies=(CARRY,), regime="carry-friendly")).parsed
    total = sum(Decimal(str(t["target_pct"])) for t in neutral["proposed_plan"]["target_allocation"])
    assert abs(total) <= Decimal("0.02")
    assert any(t["target_pct"] != 0 for t in neutral["proposed_plan"]["target_allocation"])


def test_no_fitting_strategy_proposes_nothing():
    g = client().query("x", GovernanceDecisionSchema, context=ctx(strategies=(CARRY,), regime="trending-bull")).parsed
    assert g["maintain_plan"] is True and g["proposed_plan"] is None


def test_regime_uses_the_rules_classifier():
    r = client().query("x", RegimeSchema, purpose="regime", context=ctx(signals={"BTC": TREND_UP})).parsed
    assert r["regime"] == "trending-bull" and 0 < r["confidence"] <= 1


def test_unknown_schema_is_a_clear_error():
    from pydantic import BaseModel

    from hyperliquid_agent.errors import LLMError

    class Other(BaseModel):
        x: int

    with pytest.raises(LLMError, match="baseline policy answers DecisionSchema"):
        client().query("x", Other)


def test_baseline_policy_module_is_pure():
    src = Path(baseline_policy.__file__).read_text()
    names = [a.name for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom) and n.module]
    allowed = ("__future__", "json", "math", "decimal", "functools", "typing", "hyperliquid_agent.governance.regime",
               "hyperliquid_agent.conditions",
               "hyperliquid_agent.config")
    assert all(m.startswith(allowed) for m in names), names
    assert "time." not in src and "datetime" not in src and "open(" not in src


RANGING = {"ema_spread": 0.0005, "adx14": 14.0, "rv_ann": 0.5, "funding_24h_avg": 0.0}


def test_a_ranging_market_fades_rsi_extremes_instead_of_going_flat():
    signals = {"BTC": {**RANGING, "rsi14": 30.0}, "ETH": {**RANGING, "rsi14": 70.0}, "SOL": {**RANGING, "rsi14": 50.0}}
    doc = json.loads(baseline_policy.answer("DecisionSchema", ctx(signals=signals, regime=None)))
    targets = {t["coin"]: t["target_pct"] for t in doc["target_allocation"]}
    # oversold leans long, overbought short, at half the volatility-sized position (0.2 / 0.5 vol = 40%)
    assert targets == {"BTC": 20.0, "ETH": -20.0, "SOL": 0.0}


def test_a_market_neutral_strategy_holds_relative_strength_when_everything_trends_up():
    up = {"BTC": {**TREND_UP, "rv_ann": 0.4}, "ETH": TREND_UP, "SOL": {**TREND_UP, "rv_ann": 1.0}}
    pair = spec("pair", (Regime.TRENDING_BULL,), direction="market-neutral", max_pct=35, lev=2)
    doc = json.loads(baseline_policy.answer("DecisionSchema", ctx(signals=up, strategies=(pair,))))
    targets = {t["coin"]: Decimal(str(t["target_pct"])) for t in doc["target_allocation"]}
    assert abs(sum(targets.values())) <= Decimal("0.02")
    assert targets["BTC"] > 0 > targets["SOL"]  # the calmer coin is held long against the wilder one
    assert max(abs(v) for v in targets.values()) <= 35


def test_among_equally_fitting_strategies_the_one_that_keeps_the_view_wins():
    # both fit trending-bull; the pair strategy sorts first by id but would neutralize a one-way trend
    pair = spec("a-pair", (Regime.TRENDING_BULL,), direction="market-neutral")
    flat = spec("a-flat", (Regime.TRENDING_BULL,), direction="flat")
    up = {c: TREND_UP for c in ("BTC", "ETH", "SOL")}
    doc = json.loads(baseline_policy.answer("DecisionSchema", ctx(signals=up, strategies=(pair, flat, TREND))))
    assert doc["selected_strategy"] == "trend-follow"
    assert all(t["target_pct"] > 0 for t in doc["target_allocation"])
    # a flat strategy still wins when it is the only one that fits
    doc = json.loads(baseline_policy.answer("DecisionSchema", ctx(signals=up, strategies=(flat, CARRY))))
    assert doc["selected_strategy"] == "a-flat" and all(t["target_pct"] == 0 for t in doc["target_allocation"])


def _ranked_first(strategies, regime, context):
    """best_strategy as a full ranking (the reference its tie-only work must agree with)."""
    raw = baseline_policy.raw_targets(context)[0]

    def kept(s):
        _, max_pct, direction = baseline_policy._strategy_limits(s, context)
        book = baseline_policy._limit(raw, float(context.max_leverage), max_pct, direction)
        return round(sum(abs(v) for v in book.values()), 6)

    fit = baseline_policy.fit_score
    ranked = sorted(strategies, key=lambda s: (-fit(s, regime), -kept(s), str(s.id)))
    return None if not ranked or fit(ranked[0], regime) < 0 else ranked[0]


POOL = (TREND, CARRY, LONG_ONLY, spec("pair", (Regime.TRENDING_BULL,), direction="market-neutral", max_pct=35),
        spec("flat", tuple(Regime), direction="flat"), spec("bear", (Regime.TRENDING_BEAR,), (Regime.TRENDING_BULL,)))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(POOL), unique_by=lambda s: s.id, max_size=len(POOL)),
       st.sampled_from([None, *[r.value for r in Regime]]), st.sampled_from([None, *[s.id for s in POOL]]),
       st.sampled_from([TREND_UP, TREND_DOWN, RANGING]))
def test_the_best_strategy_is_the_first_of_the_full_ranking(offered, regime, plan_strategy, btc):
    context = ctx(strategies=tuple(offered), regime=regime, signals={"BTC": btc, "ETH": TREND_DOWN, "SOL": TREND_UP},
                  active_plan={"strategy_id": plan_strategy} if plan_strategy else None, can_review=True)
    best = _ranked_first(tuple(offered), regime, context)
    assert baseline_policy.best_strategy(tuple(offered), regime, context) is best
    doc = baseline_policy.decide_governance(context)
    proposed = (doc["proposed_plan"] or {}).get("strategy_id")
    current = next((s for s in offered if s.id == plan_strategy), None)
    fit = baseline_policy.fit_score
    def flat(s):  # trades nothing: kept only while nothing that trades fits as well
        return s.directionality == "flat" or s.max_position_pct <= 0

    rivals = [s for s in offered if best is not None and fit(s, regime) == fit(best, regime)]
    keeps = plan_strategy is not None and (best is None or (
        current is not None and fit(current, regime) >= fit(best, regime)
        and not (flat(current) and any(not flat(s) for s in rivals))))
    assert proposed == (None if keeps or best is None else best.id)


class InvalidatedPlan(Plan):
    status = "invalidated"  # as PlanStatus.INVALIDATED compares


def test_governance_replaces_an_invalidated_plan_instead_of_keeping_it():
    # an invalidated plan holds its book frozen until it is replaced: keeping it froze the book for
    # months on the real data (btc-eth-pair, invalidated 2024-12-20, "maintained" to the end of the data)
    g = client().query("x", GovernanceDecisionSchema,
                       context=ctx(active_plan=InvalidatedPlan("trend-follow"), mode="governed")).parsed
    assert g["maintain_plan"] is False and g["proposed_plan"]["strategy_id"] == "trend-follow"
    assert "invalidated" in g["reasoning"]


def test_governance_never_proposes_a_strategy_whose_invalidation_trigger_holds():
    # the governor would refuse it (trigger_holds): the next best fit is proposed instead
    broken = spec("breakout", (Regime.TRENDING_BULL,), max_pct=30).model_copy(
        update={"invalidation_triggers": ("adx14 > 30",)})
    g = client().query("x", GovernanceDecisionSchema,
                       context=ctx(strategies=(broken, TREND), mode="governed")).parsed
    assert g["proposed_plan"]["strategy_id"] == "trend-follow"
    alone = client().query("x", GovernanceDecisionSchema,
                           context=ctx(strategies=(broken,), active_plan=InvalidatedPlan("breakout"))).parsed
    assert alone["maintain_plan"] is True and alone["proposed_plan"] is None
    assert "adx14 > 30" in alone["reasoning"]


def test_a_flat_plan_is_not_kept_when_a_strategy_that_trades_fits_as_well():
    # stand-aside fits every regime: kept whenever it "still fits", a flat plan (chosen while every
    # other fitting strategy's trigger held, or in an event lock) would never end
    flat = spec("stand-aside", tuple(Regime), direction="flat", max_pct=0, lev=1)
    g = client().query("x", GovernanceDecisionSchema,
                       context=ctx(strategies=(flat, TREND), active_plan=Plan("stand-aside"), mode="governed")).parsed
    assert g["maintain_plan"] is False and g["proposed_plan"]["strategy_id"] == "trend-follow"
    alone = client().query("x", GovernanceDecisionSchema,
                           context=ctx(strategies=(flat, CARRY), active_plan=Plan("stand-aside"))).parsed
    assert alone["maintain_plan"] is True  # nothing that trades fits trending-bull: flat it stays
