"""The plan card: what the engine is committed to, for how long, and when it stops (pure).

A plan is built from a model's `ProposedPlan` plus the strategy file it names
(`plan_from_proposal`). Everything that protects us comes from the strategy, never from
the model: minimum dwell, compatible regimes, leverage and position limits, invalidation
triggers. The model contributes the objective, the targets, the expected edge and TP/SL.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from hyperliquid_agent.conditions import cached_condition, first_holding
from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain import AccountState, MarketType, Money, Regime, TargetEntry, ZERO
from hyperliquid_agent.schemas import ProposedPlan, TargetSpec

_FROZEN = ConfigDict(frozen=True, extra="forbid")
MINUTE_MS = 60_000
Key = tuple[str, MarketType]  # a target book line: (coin, market type)
# time-based review per intended horizon, when the strategy gives no other rule
REVIEW_AFTER_MINUTES = {"minutes": 60, "hours": 24 * 60, "days": 7 * 24 * 60}


class PlanStatus(StrEnum):
    ACTIVE = "active"
    REBALANCING = "rebalancing"  # rotating in over several review cycles
    INVALIDATED = "invalidated"  # an invalidation trigger fired
    COMPLETED = "completed"  # replaced by another plan or ended on purpose


class RiskBudget(BaseModel):
    model_config = _FROZEN
    max_position_pct: Money  # largest |target_pct| of one coin
    max_leverage: int = Field(ge=1)
    max_drawdown_pct: Money | None = None  # from peak, while this plan is active
    per_trade_risk_pct: Money | None = None  # equity at risk if a max-size position hits its stop


class ExitRules(BaseModel):
    model_config = _FROZEN
    take_profit_pct: Money | None = None
    stop_loss_pct: Money | None = None
    review_after_minutes: int | None = None  # time-based review
    invalidation_triggers: tuple[str, ...] = ()  # conditions over signals (hyperliquid_agent.conditions)


class ChangeCostModel(BaseModel):
    """The inputs of the change cost the governor computes (bps of traded notional)."""

    model_config = _FROZEN
    taker_fee_bps: Money
    slippage_bps: Money
    funding_horizon_hours: int = 24
    strategy_switching_cost_bps: Money = ZERO  # the strategy file's own estimate, shown for reference


class PlanCard(BaseModel):
    model_config = _FROZEN
    plan_id: str
    strategy_id: str
    strategy_version: int = 1
    objective: str
    targets: tuple[TargetEntry, ...]
    leverage_range: tuple[int, int]  # allowed (min, max)
    risk_budget: RiskBudget
    exit_rules: ExitRules
    change_cost: ChangeCostModel
    expected_edge_bps: Money
    minimum_dwell_minutes: int = Field(ge=0)
    compatible_regimes: tuple[Regime, ...]
    status: PlanStatus = PlanStatus.ACTIVE
    status_reason: str = ""
    created_ms: int
    activated_ms: int | None = None
    status_changed_ms: int
    ended_ms: int | None = None

    # ---------------------------------------------------------------- queries

    def target_for(self, coin: str) -> TargetEntry | None:
        for t in self.targets:
            if t.coin == coin:
                return t
        return None

    def dwell_ends_ms(self) -> int | None:
        if self.activated_ms is None:
            return None
        return self.activated_ms + self.minimum_dwell_minutes * MINUTE_MS

    def dwell_remaining_minutes(self, now_ms: int) -> int:
        end = self.dwell_ends_ms()
        if end is None:
            return self.minimum_dwell_minutes
        return max(0, -(-(end - now_ms) // MINUTE_MS))

    def review_due(self, now_ms: int) -> bool:
        """The exit rules' time-based review has come due."""
        r = self.exit_rules.review_after_minutes
        return r is not None and self.activated_ms is not None and now_ms >= self.activated_ms + r * MINUTE_MS

    def fired_trigger(self, signals: Any, coins: Iterable[str] | None = None) -> str | None:
        """The first invalidation trigger that holds on `signals` (for the plan's coins), else None."""
        watch = list(coins) if coins is not None else [t.coin for t in self.targets]
        return first_holding(self.exit_rules.invalidation_triggers, signals, watch)

    def trigger_coins(self, text: str, signals: Any) -> list[str]:
        """The plan's coins for which the per-coin trigger `text` holds ([] for a trigger that
        names its coins or reads cross-asset signals only, or an unreadable one)."""
        cond = cached_condition(text)
        if cond is None or not cond.per_coin:
            return []
        return cond.matching_coins(signals, [t.coin for t in self.targets])

    def with_status(self, status: PlanStatus, now_ms: int, reason: str = "") -> "PlanCard":
        update: dict[str, Any] = {"status": status, "status_changed_ms": now_ms, "status_reason": reason}
        if status in (PlanStatus.INVALIDATED, PlanStatus.COMPLETED) and self.ended_ms is None:
            update["ended_ms"] = now_ms
        return self.model_copy(update=update)

    def prompt_summary(self, now_ms: int | None = None) -> str:
        """A compact description of the plan for the governance prompt."""
        lo, hi = self.leverage_range
        book = ", ".join(
            f"{t.coin} {plain_text(t.target_pct, signed=True)}% {t.market_type.value}"
            + (f" {t.leverage}x" if t.leverage else "")
            for t in self.targets
        ) or "flat (no positions)"
        ex = self.exit_rules
        exits = []
        if ex.take_profit_pct is not None:
            exits.append(f"take profit +{plain_text(ex.take_profit_pct)}%")
        if ex.stop_loss_pct is not None:
            exits.append(f"stop loss -{plain_text(ex.stop_loss_pct)}%")
        if ex.review_after_minutes is not None:
            exits.append(f"review after {ex.review_after_minutes} min")
        lines = [
            f"plan {self.plan_id}: strategy {self.strategy_id} v{self.strategy_version} [{self.status.value}]",
            f"objective: {self.objective}",
            f"targets: {book}",
            f"leverage {lo}-{hi}x | max position {plain_text(self.risk_budget.max_position_pct)}% | expected edge "
            f"{plain_text(self.expected_edge_bps)} bps",
            f"regimes: {', '.join(r.value for r in self.compatible_regimes)}",
            "exits: " + ("; ".join(exits) if exits else "none set"),
        ]
        if ex.invalidation_triggers:
            lines.append("invalidated when: " + " ; ".join(ex.invalidation_triggers))
        if now_ms is not None and self.activated_ms is not None:
            lines.append(f"dwell: {self.dwell_remaining_minutes(now_ms)} of {self.minimum_dwell_minutes} min remaining")
        else:
            lines.append(f"minimum dwell: {self.minimum_dwell_minutes} min")
        return "\n".join(lines)


def pct_below(reference: Decimal | None, value: Decimal) -> Decimal:
    """How many percent `value` sits below `reference` (0 when there is no positive reference)."""
    if reference is None or reference <= 0:
        return ZERO
    return (reference - value) / reference * 100


def current_exposure(account: AccountState, mids: Mapping[str, Decimal]) -> dict[Key, Decimal]:
    """Signed exposure per (coin, market type) as % of portfolio value (shorts negative)."""
    out: dict[Key, Decimal] = {}
    pv = account.portfolio_value
    if pv <= 0:
        return out
    for p in account.positions:
        mid = mids.get(p.coin)
        if p.size != 0 and mid is not None:
            out[(p.coin, MarketType.PERP)] = p.size * mid / pv * 100
    for b in account.spot_balances:
        mid = mids.get(b.coin)
        if b.total != 0 and mid is not None and b.coin != "USDC":
            out[(b.coin, MarketType.SPOT)] = b.total * mid / pv * 100
    return out


def target_key(t: TargetEntry) -> Key:
    return (t.coin, t.market_type)


def target_from_spec(spec: TargetSpec) -> TargetEntry:
    return TargetEntry(coin=spec.coin, target_pct=spec.target_pct, market_type=MarketType(spec.market_type),
                       leverage=spec.leverage)


def plan_from_proposal(
    proposal: ProposedPlan,
    strategy: Any,
    now_ms: int,
    plan_id: str,
    *,
    taker_fee_bps: Decimal = Decimal("4.5"),
    slippage_bps: Decimal = Decimal(5),
    funding_horizon_hours: int = 24,
    max_drawdown_pct: Decimal | None = None,
    default_dwell_minutes: int = 1440,
) -> PlanCard:
    """A PlanCard from a model's proposal and the strategy it names (a `StrategySpec`).

    Raises ValueError when the proposal names another strategy or a target is malformed;
    limits (sizes, leverage, regime) are checked by the governor, which can say why.
    """
    if proposal.strategy_id != strategy.id:
        raise ValueError(f"proposal names strategy {proposal.strategy_id!r} but was paired with {strategy.id!r}")
    targets: list[TargetEntry] = []
    seen: set[tuple[str, str]] = set()
    for spec in proposal.target_allocation:
        entry = target_from_spec(spec)
        key = (entry.coin, entry.market_type.value)
        if key in seen:
            raise ValueError(f"target_allocation lists {entry.coin} ({entry.market_type.value}) twice")
        seen.add(key)
        targets.append(entry)
    stop = proposal.stop_loss_pct
    per_trade = None if stop is None else (stop * strategy.max_position_pct / 100)
    return PlanCard(
        plan_id=plan_id,
        strategy_id=strategy.id,
        strategy_version=int(getattr(strategy, "version", 1)),
        objective=proposal.objective,
        targets=tuple(targets),
        leverage_range=(1, int(strategy.max_leverage)),
        risk_budget=RiskBudget(
            max_position_pct=strategy.max_position_pct, max_leverage=int(strategy.max_leverage),
            max_drawdown_pct=max_drawdown_pct, per_trade_risk_pct=per_trade,
        ),
        exit_rules=ExitRules(
            take_profit_pct=proposal.take_profit_pct, stop_loss_pct=stop,
            review_after_minutes=REVIEW_AFTER_MINUTES.get(getattr(strategy, "intended_horizon", ""), None),
            invalidation_triggers=tuple(strategy.invalidation_triggers),
        ),
        change_cost=ChangeCostModel(
            taker_fee_bps=taker_fee_bps, slippage_bps=slippage_bps, funding_horizon_hours=funding_horizon_hours,
            strategy_switching_cost_bps=getattr(strategy, "expected_switching_cost_bps", ZERO),
        ),
        expected_edge_bps=proposal.expected_edge_bps,
        minimum_dwell_minutes=int(default_dwell_minutes if strategy.minimum_dwell_minutes is None
                                  else strategy.minimum_dwell_minutes),
        compatible_regimes=tuple(Regime(r) for r in strategy.compatible_regimes),
        status=PlanStatus.ACTIVE,
        created_ms=now_ms,
        status_changed_ms=now_ms,
    )


def clamp_micro_adjustments(
    plan: PlanCard,
    adjustments: Iterable[TargetEntry | TargetSpec],
    max_shift_pct: Decimal,
) -> tuple[list[TargetEntry], list[str]]:
    """Keep micro-adjustments inside the plan: only the plan's coins and market types, each
    target within `max_shift_pct` points of the plan's target, on the same side (no flips),
    within the plan's max position and leverage range. Returns (kept, notes on what changed)."""
    kept: list[TargetEntry] = []
    notes: list[str] = []
    lo_lev, hi_lev = plan.leverage_range
    cap = plan.risk_budget.max_position_pct
    for adj in adjustments:
        entry = target_from_spec(adj) if isinstance(adj, TargetSpec) else adj
        base = plan.target_for(entry.coin)
        if base is None or base.market_type is not entry.market_type:
            notes.append(f"{entry.coin} {entry.market_type.value}: not in the active plan; dropped")
            continue
        lo, hi = base.target_pct - max_shift_pct, base.target_pct + max_shift_pct
        if base.target_pct > 0:
            lo = max(lo, ZERO)
        elif base.target_pct < 0:
            hi = min(hi, ZERO)
        lo, hi = max(lo, -cap), min(hi, cap)
        pct = min(max(entry.target_pct, lo), hi)
        lev = entry.leverage if entry.leverage is not None else base.leverage
        if lev is not None:
            lev = min(max(lev, lo_lev), hi_lev)
        if pct != entry.target_pct or lev != entry.leverage:
            notes.append(f"{entry.coin}: {entry.target_pct}% -> {pct}%" + (f", leverage {lev}x" if lev else ""))
        kept.append(TargetEntry(coin=entry.coin, target_pct=pct, market_type=entry.market_type, leverage=lev))
    return kept, notes


__all__ = [
    "ChangeCostModel", "ExitRules", "Key", "PlanCard", "PlanStatus", "RiskBudget", "clamp_micro_adjustments",
    "current_exposure", "pct_below", "plain", "plan_from_proposal", "target_from_spec", "target_key",
]
