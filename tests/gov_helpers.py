"""Builders shared by the governance tests: candles, strategies, plans, contexts."""

from __future__ import annotations

import math
import random
from decimal import Decimal

from hyperliquid_agent.config import GovernanceConfig, GovernorConfig, RegimeConfig, RiskConfig
from hyperliquid_agent.domain import AccountState, Candle, FundingPoint, Position, SpotBalance
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.governance.plan import PlanCard, plan_from_proposal
from hyperliquid_agent.schemas import ProposedPlan, TargetSpec
from hyperliquid_agent.strategies import StrategySpec

HOUR = 3_600_000
MIN = 60_000
T0 = 1_760_000_400_000 - (1_760_000_400_000 % HOUR)  # an hour boundary in late 2025


def d(x: object) -> Decimal:
    return Decimal(str(x))


def walk(n: int, seed: int = 1, start: float = 100.0, drift: float = 0.0, vol: float = 0.01,
         t0: int = T0) -> list[Candle]:
    r = random.Random(seed)
    out: list[Candle] = []
    p = start
    for i in range(n):
        o = p
        p = max(p * math.exp(drift + r.gauss(0, vol)), 0.01)
        hi, lo = max(o, p) * (1 + abs(r.gauss(0, vol / 3))), min(o, p) * (1 - abs(r.gauss(0, vol / 3)))
        out.append(Candle(t_ms=t0 + i * HOUR, open=d(round(o, 4)), high=d(round(hi, 4)), low=d(round(lo, 4)),
                          close=d(round(p, 4)), volume=d(10)))
    return out


def funding(n: int, rate: float = 0.00001, t0: int = T0) -> list[FundingPoint]:
    return [FundingPoint(time_ms=t0 + i * HOUR, rate=d(rate)) for i in range(n)]


def strategy(sid: str = "slow-trend", regimes=("trending-bull", "trending-bear"), dwell: int = 1440,
             max_pos: int = 50, max_lev: int = 3, triggers: tuple[str, ...] = (), markets=("perp",),
             avoid=()) -> StrategySpec:
    return StrategySpec(
        id=sid, title=sid.replace("-", " "), markets=markets, directionality="long-short", risk_profile="medium",
        intended_horizon="days", minimum_dwell_minutes=dwell, compatible_regimes=regimes, avoid_regimes=avoid,
        invalidation_triggers=triggers, max_position_pct=d(max_pos), max_leverage=max_lev,
        expected_switching_cost_bps=d(8), description="Test strategy.",
    )


def proposal(sid: str, targets: dict[str, float], edge: float = 100, lev: int | None = 2,
             market: str = "perp") -> ProposedPlan:
    return ProposedPlan(
        strategy_id=sid, objective=f"run {sid}",
        target_allocation=[TargetSpec(coin=c, target_pct=d(p), market_type=market, leverage=lev)
                           for c, p in targets.items()],
        expected_edge_bps=d(edge), take_profit_pct=d(10), stop_loss_pct=d(5),
    )


def plan(spec: StrategySpec, targets: dict[str, float], now_ms: int = T0, edge: float = 100,
         plan_id: str | None = None, lev: int | None = 2) -> PlanCard:
    return plan_from_proposal(proposal(spec.id, targets, edge, lev), spec, now_ms,
                              plan_id or f"{spec.id}-{now_ms}")


def gov_config(**governor) -> GovernanceConfig:
    base = dict(change_threshold_bps=10, cooldown_minutes=0, rotation_steps=1, medium_loop_s=14400,
                taker_fee_bps=d("4.5"), slippage_bps=d(5))
    base.update(governor)
    return GovernanceConfig(governor=GovernorConfig(**base), regime=RegimeConfig(hysteresis_n=2, hysteresis_m=3))


def account(pv: float = 10000, positions: dict[str, float] | None = None, spot: dict[str, float] | None = None,
            **kw) -> AccountState:
    pos = tuple(Position(coin=c, size=d(s), entry_price=d(100)) for c, s in (positions or {}).items())
    bal = tuple(SpotBalance(coin=c, total=d(v)) for c, v in (spot or {}).items())
    return AccountState(portfolio_value=d(pv), available_balance=d(pv), positions=pos, spot_balances=bal, **kw)


def context(now_ms: int, strategies, acct: AccountState | None = None, mids: dict[str, float] | None = None,
            signals=None, coins=("BTC", "ETH", "SOL")) -> DecisionContext:
    return DecisionContext(
        now_ms=now_ms, mode="governed", coins=tuple(coins), account=acct or account(),
        mids={k: d(v) for k, v in (mids or {"BTC": 100, "ETH": 100, "SOL": 100}).items()},
        signals=signals or {}, strategies=tuple(strategies),
    )


def signals_for(regime: str) -> dict[str, dict[str, float | None]]:
    """A reference-coin signal row that the default rule thresholds classify as `regime`."""
    rows = {
        "trending-bull": {"rv_ann": 0.5, "adx14": 35.0, "ret_7d": 0.08, "ema_spread": 0.02, "funding_24h_avg": 0.00001},
        "trending-bear": {"rv_ann": 0.5, "adx14": 35.0, "ret_7d": -0.08, "ema_spread": -0.02, "funding_24h_avg": 0.0},
        "range-bound": {"rv_ann": 0.4, "adx14": 15.0, "ret_7d": 0.005, "ema_spread": 0.001, "funding_24h_avg": 0.00001},
        "carry-friendly": {"rv_ann": 0.4, "adx14": 15.0, "ret_7d": 0.0, "ema_spread": 0.0, "funding_24h_avg": 0.00005},
        "high-volatility": {"rv_ann": 1.4, "adx14": 30.0, "ret_7d": 0.1, "ema_spread": 0.02, "funding_24h_avg": 0.0},
    }
    return {"BTC": dict(rows[regime]), "*": {"btc_eth_corr": None}}


__all__ = ["HOUR", "MIN", "T0", "RiskConfig", "account", "context", "d", "funding", "gov_config", "plan",
           "proposal", "signals_for", "strategy", "walk"]
