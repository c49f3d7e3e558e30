"""The governor: one active plan, held for its dwell time, changed only when it pays (pure).

One governed cycle, as the agent loop calls it:

    gov.check_invalidation(signals, now_ms, plan_drawdown_pct)  # a fired trigger opens a review early
    report = evaluate_tripwires(...)                     # governance.tripwires
    reading = gov.classify_regime(signals, now_ms)       # confirmed regime (hysteresis, calendar)
    ok, why = gov.can_review_plan(now_ms)
    if ok: decision = engine.get_decision_with_governance(...)
        new plan   -> plan = plan_from_proposal(...); verdict = gov.evaluate_plan_change(plan, context)
                      if verdict is Approved: gov.activate_plan(plan, now_ms, current_exposure(...))
                      else: gov.note_review()
        maintained -> gov.note_review(); gov.apply_micro_adjustments(decision.micro_adjustments)
    targets = gov.current_targets(now_ms)               # -> portfolio manager

The governor never reads the clock; state goes out and comes back as plain dicts
(`to_state` / `from_state`) so a restart resumes the same plan with its dwell clock.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Iterable, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from hyperliquid_agent.config import GovernanceConfig, RiskConfig
from hyperliquid_agent.domain import MarketType, Regime, TargetEntry, ZERO, to_decimal
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.governance.calendar import CalendarEvent, active_event
from hyperliquid_agent.governance.plan import (
    Key,
    PlanCard,
    PlanStatus,
    clamp_micro_adjustments,
    current_exposure,
    target_key as _key,
)
from hyperliquid_agent.governance.regime import RegimeReading, RegimeTracker, classify

MINUTE_MS = 60_000
_PCT_STEP = Decimal("0.0001")
_BPS_STEP = Decimal("0.0001")  # change-cost figures (bps, and turnover in % of equity)
_RATE_STEP = Decimal("1e-12")  # hourly funding rates: far finer than the venue's, coarser than float noise


@dataclass(frozen=True)
class ChangeCost:
    """What switching to a plan costs, in bps of portfolio value, and what is left of its edge."""

    turnover_pct: Decimal  # sum of |target - current| exposure changes, % of portfolio value
    trading_bps: Decimal  # turnover x (taker fee + slippage)
    funding_bps: Decimal  # extra funding paid over the horizon (never negative: carry earned is edge)
    total_bps: Decimal
    edge_bps: Decimal
    net_bps: Decimal  # edge - total

    def to_dict(self) -> dict[str, str]:
        return {k: format(v, "f") for k, v in asdict(self).items()}


class Approved(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    verdict: Literal["approved"] = "approved"
    plan: PlanCard
    cost: ChangeCost
    checks: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return f"approved: net edge {self.cost.net_bps:.2f} bps after {self.cost.total_bps:.2f} bps cost"


class Rejected(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    verdict: Literal["rejected"] = "rejected"
    reason_code: str
    detail: str
    cost: ChangeCost | None = None

    @property
    def reason(self) -> str:
        return f"{self.reason_code}: {self.detail}"


PlanVerdict = Approved | Rejected


class Governor:
    def __init__(
        self,
        config: GovernanceConfig,
        risk: RiskConfig | None = None,
        events: Sequence[CalendarEvent] = (),
        coins: Sequence[str] | None = None,
        regime_client: Any | None = None,
    ) -> None:
        self.config = config
        self.risk = risk
        self.events: tuple[CalendarEvent, ...] = tuple(events)
        self.coins = tuple(coins) if coins is not None else None
        self.regime_client = regime_client
        self.tracker = RegimeTracker(config.regime)
        self.active_plan: PlanCard | None = None
        self.rotation_from: dict[Key, Decimal] = {}
        self.overrides: dict[Key, TargetEntry] = {}
        self.last_change_ms: int | None = None
        self.review_regime: Regime | None = None  # the regime the plan was activated or last reviewed under
        self.forced_review: str | None = None
        self.last_reading: RegimeReading | None = None
        self.switches = 0
        self.ended: list[dict[str, Any]] = []  # plans ended since the last persistence save
        self._dumped_plan: tuple[PlanCard, dict[str, Any]] | None = None  # see `plan_state`
        self._book: tuple[PlanCard, int, list[TargetEntry]] | None = None  # see `current_targets`

    # ---------------------------------------------------------------- plan and regime

    def get_active_plan(self) -> PlanCard | None:
        return self.active_plan

    @property
    def regime(self) -> Regime | None:
        return self.tracker.confirmed

    def set_events(self, events: Iterable[CalendarEvent]) -> None:
        self.events = tuple(events)

    def classify_regime(self, signals: Mapping[str, Mapping[str, float | None]], now_ms: int) -> RegimeReading:
        """Classify (rules, or the LLM with the rules as fallback) and confirm with hysteresis."""
        raw, conf, source = classify(signals, self.config.regime, self.regime_client, self.tracker.market)
        self.last_reading = self.tracker.observe(raw, conf, now_ms, source, self.events, self.coins)
        self._refresh(now_ms)
        return self.last_reading

    def check_invalidation(
        self,
        signals: Mapping[str, Mapping[str, float | None]],
        now_ms: int,
        plan_drawdown_pct: Decimal | None = None,
    ) -> str | None:
        """Mark the active plan invalidated when one of its triggers holds, or when the plan's
        own drawdown (from its scorecard) reaches its risk budget; returns what fired."""
        plan = self.active_plan
        if plan is None or plan.status not in (PlanStatus.ACTIVE, PlanStatus.REBALANCING):
            return None
        fired = plan.fired_trigger(signals)
        budget = plan.risk_budget.max_drawdown_pct
        if fired is None and budget is not None and plan_drawdown_pct is not None and plan_drawdown_pct >= budget:
            fired = f"plan drawdown {plan_drawdown_pct:.2f}% >= budget {budget}%"
        if fired is not None:
            self.active_plan = plan.with_status(PlanStatus.INVALIDATED, now_ms, f"trigger fired: {fired}")
        return fired

    def force_review(self, reason: str) -> None:
        """Open the next review whatever the dwell (a tripwire's force-review outcome, a stop-loss,
        an exit). Reasons add up until a review spends them, so the review sees each of them (a
        liquidation and the loss tripwire it sets off), each once."""
        held = self.forced_review.split("; ") if self.forced_review else []
        if reason not in held:
            self.forced_review = "; ".join([*held, reason])

    def note_review(self) -> None:
        """A review took place and kept the plan (maintained, or the proposal was rejected):
        the confirmed regime becomes the one the plan was reviewed under, and a forced review
        is spent. So a regime change opens one early review, not a review every cycle; an
        invalidated plan stays open for review until it is replaced."""
        self.review_regime = self.tracker.confirmed
        self.forced_review = None

    # ---------------------------------------------------------------- review gate

    def event_lock(self, now_ms: int) -> CalendarEvent | None:
        rc = self.config.regime
        return active_event(self.events, now_ms, rc.event_lock_before_minutes, rc.event_lock_after_minutes, self.coins)

    def can_review_plan(self, now_ms: int) -> tuple[bool, str]:
        self._refresh(now_ms)
        plan = self.active_plan
        if plan is None:
            return True, "no active plan"
        if plan.status is PlanStatus.INVALIDATED:
            forced = f"; review forced: {self.forced_review}" if self.forced_review else ""
            return True, f"plan invalidated ({plan.status_reason}){forced}"
        if self.forced_review:
            return True, f"review forced: {self.forced_review}"
        ev = self.event_lock(now_ms)
        if ev is not None:
            return False, f"event lock: {ev.name} at {ev.time_iso}"
        step, steps = self.rotation_step(now_ms)
        if step < steps:
            return False, f"rebalancing in progress: step {step} of {steps}"
        if self.last_change_ms is not None:
            left = self.last_change_ms + self.config.governor.cooldown_minutes * MINUTE_MS - now_ms
            if left > 0:
                return False, f"cooldown after a change: {-(-left // MINUTE_MS)} min left"
        regime = self.tracker.confirmed
        if regime is not None and self.review_regime is not None and regime is not self.review_regime:
            return True, f"regime changed: {self.review_regime.value} -> {regime.value}"
        remaining = plan.dwell_remaining_minutes(now_ms)
        if remaining > 0:
            return False, f"dwell: {remaining} of {plan.minimum_dwell_minutes} min remaining"
        if plan.review_due(now_ms):
            return True, "time-based review due"
        return True, "dwell elapsed"

    # ---------------------------------------------------------------- change gate

    def change_cost(self, plan: PlanCard, context: DecisionContext) -> ChangeCost:
        """Turnover x (taker fee + slippage) + extra funding over the horizon, in bps of equity.

        All Decimal: a float funding rate from the signals is rounded to `_RATE_STEP` first
        (a mean of floats carries binary noise in its last digits), and every figure is
        quantized to `_BPS_STEP`, so equal inputs give equal, readable costs."""
        gc = self.config.governor
        current = current_exposure(context.account, context.mids)
        target = {_key(t): t.target_pct for t in plan.targets}
        turnover = ZERO
        funding = ZERO
        for key in set(current) | set(target):
            delta = target.get(key, ZERO) - current.get(key, ZERO)
            turnover += abs(delta)
            if key[1] is MarketType.PERP:
                rate = _funding_rate(context.signals.get(key[0]) or {})
                if rate is not None:
                    # longs pay a positive rate: added long exposure x rate x hours, in bps of equity
                    funding += delta / 100 * rate * gc.funding_horizon_hours * 10_000
        turnover = turnover.quantize(_BPS_STEP)
        trading = (turnover / 100 * (gc.taker_fee_bps + gc.slippage_bps)).quantize(_BPS_STEP)
        funding = max(funding, ZERO).quantize(_BPS_STEP)
        total = trading + funding
        edge = plan.expected_edge_bps
        return ChangeCost(turnover, trading, funding, total, edge, edge - total)

    def evaluate_plan_change(self, plan: PlanCard, context: DecisionContext) -> PlanVerdict:
        now = context.now_ms
        ok, why = self.can_review_plan(now)
        if not ok:
            return Rejected(reason_code="review_closed", detail=why)
        strategy = next((s for s in context.strategies if getattr(s, "id", None) == plan.strategy_id), None)
        if strategy is None:
            return Rejected(reason_code="unknown_strategy", detail=f"no strategy {plan.strategy_id!r} in the library")
        regime = self.tracker.confirmed or (Regime(context.regime) if context.regime else None)
        if regime is not None and not _fits(strategy, regime):
            return Rejected(reason_code="regime_mismatch",
                            detail=f"{plan.strategy_id} does not fit the confirmed regime {regime.value}")
        problem = self._limit_problem(plan, strategy, context)
        if problem is not None:
            return Rejected(reason_code=problem[0], detail=problem[1])
        fired = plan.fired_trigger(context.signals)
        if fired is not None:  # activated, it would trade its first step and be invalidated at the next cycle
            where = plan.trigger_coins(fired, context.signals)
            return Rejected(reason_code="trigger_holds",
                            detail=f"{plan.strategy_id}'s invalidation trigger {fired!r} holds now"
                                   + (f" ({', '.join(where)})" if where else ""))
        cost = self.change_cost(plan, context)
        threshold = self.config.governor.change_threshold_bps
        if cost.net_bps < threshold:
            return Rejected(
                reason_code="edge_below_cost",
                detail=f"expected edge {cost.edge_bps} bps - change cost {cost.total_bps:.2f} bps = "
                       f"{cost.net_bps:.2f} bps < threshold {threshold} bps",
                cost=cost,
            )
        return Approved(plan=plan, cost=cost,
                        checks=("review_open", "strategy", "regime", "limits", "triggers", "edge_vs_cost"))

    def _limit_problem(self, plan: PlanCard, strategy: Any, context: DecisionContext) -> tuple[str, str] | None:
        max_lev = int(strategy.max_leverage)
        if self.risk is not None:
            max_lev = min(max_lev, self.risk.max_leverage)
        markets = {MarketType(m) for m in getattr(strategy, "markets", (MarketType.PERP, MarketType.SPOT))}
        risk_coins = self.risk.allowed_coins if self.risk is not None else None
        risk_markets = tuple(self.risk.allowed_market_types) if self.risk is not None else None
        gross = ZERO
        for t in plan.targets:
            if context.coins and t.coin not in context.coins:
                return "coin_not_allowed", f"{t.coin} is not one of the configured coins {', '.join(context.coins)}"
            if risk_coins is not None and t.coin not in risk_coins:
                return "coin_not_allowed", f"{t.coin} is not in [risk] allowed_coins ({', '.join(risk_coins)})"
            if t.market_type not in markets:
                return "market_not_allowed", f"{plan.strategy_id} does not trade {t.market_type.value} ({t.coin})"
            if risk_markets is not None and t.market_type not in risk_markets:
                return "market_not_allowed", (f"{t.coin}: {t.market_type.value} is not in [risk] allowed_market_types "
                                              f"({', '.join(m.value for m in risk_markets)})")
            if abs(t.target_pct) > strategy.max_position_pct:
                return "position_limit", (f"{t.coin} target {t.target_pct}% exceeds the strategy's max position "
                                          f"{strategy.max_position_pct}%")
            if t.market_type is MarketType.SPOT and t.target_pct < 0:
                return "spot_short", f"{t.coin}: spot cannot be short ({t.target_pct}%)"
            if t.leverage is not None and t.leverage > max_lev:
                return "leverage_limit", f"{t.coin} leverage {t.leverage}x exceeds the limit {max_lev}x"
            gross += abs(t.target_pct)
        if self.risk is not None and gross > self.risk.max_gross_exposure * 100:
            return "gross_limit", (f"gross target exposure {gross}% exceeds risk.max_gross_exposure "
                                   f"{self.risk.max_gross_exposure * 100}%")
        return None

    # ---------------------------------------------------------------- activation and rotation

    def activate_plan(
        self, plan: PlanCard, now_ms: int, current_pct: Mapping[Key, Decimal] | None = None
    ) -> PlanCard:
        """Make `plan` the active plan. It rotates in from `current_pct` (the live exposure, see
        `current_exposure`) or, without it, from the previous plan's current targets."""
        if current_pct is not None:
            start = dict(current_pct)
        elif self.active_plan is not None:
            start = {_key(t): t.target_pct for t in self.current_targets(now_ms)}
        else:
            start = {}
        old = self.active_plan
        if old is not None:
            if old.status is PlanStatus.INVALIDATED:  # keep why it ended in the history
                self.end_plan(now_ms, PlanStatus.INVALIDATED, f"{old.status_reason}; replaced by {plan.plan_id}")
            else:
                self.end_plan(now_ms, PlanStatus.COMPLETED, f"replaced by {plan.plan_id}")
        steps = self.config.governor.rotation_steps
        status = PlanStatus.REBALANCING if steps > 1 else PlanStatus.ACTIVE
        self.active_plan = plan.model_copy(update={
            "status": status, "activated_ms": now_ms, "status_changed_ms": now_ms, "status_reason": "activated",
            "ended_ms": None,
        })
        self.rotation_from = {k: v for k, v in start.items() if v != 0}
        self.overrides = {}
        self._book = None
        self.last_change_ms = now_ms
        self.review_regime = self.tracker.confirmed
        self.forced_review = None
        self.switches += 1
        self._refresh(now_ms)
        return self.active_plan

    def end_plan(self, now_ms: int, status: PlanStatus = PlanStatus.COMPLETED, reason: str = "") -> PlanCard | None:
        """End the active plan (its targets stay until another plan is activated)."""
        plan = self.active_plan
        if plan is None:
            return None
        ended = plan.with_status(status, now_ms, reason or plan.status_reason)
        self.ended.append(ended.model_dump(mode="json"))
        self.active_plan = None
        return ended

    def rotation_step(self, now_ms: int) -> tuple[int, int]:
        """(step reached, steps): one step at activation, one more per review cycle (medium loop)."""
        steps = self.config.governor.rotation_steps
        plan = self.active_plan
        if plan is None or plan.activated_ms is None:
            return steps, steps
        cycle_ms = self.config.governor.medium_loop_s * 1000
        done = 1 + max(0, now_ms - plan.activated_ms) // cycle_ms
        return min(steps, done), steps

    def current_targets(self, now_ms: int) -> list[TargetEntry]:
        """The target book for the portfolio manager now: the plan's targets (with micro
        adjustments) blended in from where the rotation started; coins absent from the plan
        go to 0."""
        plan = self.active_plan
        if plan is None:
            return []
        step, steps = self.rotation_step(now_ms)
        # the same book every cycle until the rotation steps on, or the plan (a new card) or its adjustments change
        if self._book is None or self._book[0] is not plan or self._book[1] != step:
            self._book = (plan, step, self._blend(plan, step, steps))
        return list(self._book[2])

    def _blend(self, plan: PlanCard, step: int, steps: int) -> list[TargetEntry]:
        """The plan's targets (with micro adjustments) `step` of `steps` of the way from `rotation_from`."""
        final = {_key(t): t for t in plan.targets}
        final.update(self.overrides)
        out: list[TargetEntry] = []
        for key in list(final) + [k for k in self.rotation_from if k not in final]:
            goal = final.get(key)
            if goal is not None and step >= steps:
                out.append(goal)  # rotated in: the line as the plan has it (frozen, so shared)
                continue
            to = goal.target_pct if goal is not None else ZERO
            start = self.rotation_from.get(key, ZERO)
            pct = to if step >= steps else (start + (to - start) * step / steps).quantize(_PCT_STEP)
            out.append(TargetEntry(coin=key[0], target_pct=pct, market_type=key[1],
                                   leverage=goal.leverage if goal is not None else None))
        return out

    def apply_micro_adjustments(self, adjustments: Iterable[Any], now_ms: int) -> tuple[list[TargetEntry], list[str]]:
        """Clamp the model's micro-adjustments to the plan's limits and keep them until the next plan."""
        if self.active_plan is None:
            return [], ["no active plan: micro-adjustments ignored"]
        kept, notes = clamp_micro_adjustments(self.active_plan, adjustments, self.config.governor.micro_adjust_max_pct)
        for t in kept:
            self.overrides[_key(t)] = t
        self._book = None
        return kept, notes

    def _refresh(self, now_ms: int) -> None:
        plan = self.active_plan
        if plan is not None and plan.status is PlanStatus.REBALANCING:
            step, steps = self.rotation_step(now_ms)
            if step >= steps:
                self.active_plan = plan.with_status(PlanStatus.ACTIVE, now_ms, "rotation complete")

    # ---------------------------------------------------------------- state

    def to_state(self) -> dict[str, Any]:
        """Plain data; its "active_plan" is `plan_state()`, shared between calls."""
        return {
            "active_plan": self.plan_state(),
            "rotation_from": [[k[0], k[1].value, format(v, "f")] for k, v in self.rotation_from.items()],
            "overrides": [t.model_dump(mode="json") for t in self.overrides.values()],
            "last_change_ms": self.last_change_ms,
            "review_regime": self.review_regime.value if self.review_regime else None,
            "forced_review": self.forced_review,
            "tracker": self.tracker.to_state(),
            "last_reading": self.last_reading.to_dict() if self.last_reading else None,
            "switches": self.switches,
        }

    def plan_state(self) -> dict[str, Any] | None:
        """The active plan as plain data (shared: read it, do not change it), dumped once per
        plan: the state is exported and saved every cycle, and a PlanCard is frozen (any change
        to the plan makes a new card)."""
        plan = self.active_plan
        if plan is None:
            return None
        if self._dumped_plan is None or self._dumped_plan[0] is not plan:
            self._dumped_plan = (plan, plan.model_dump(mode="json"))
        return self._dumped_plan[1]

    @classmethod
    def from_state(
        cls,
        config: GovernanceConfig,
        state: Mapping[str, Any] | None,
        risk: RiskConfig | None = None,
        events: Sequence[CalendarEvent] = (),
        coins: Sequence[str] | None = None,
        regime_client: Any | None = None,
    ) -> "Governor":
        gov = cls(config, risk, events, coins, regime_client)
        if not state:
            return gov
        if state.get("active_plan"):
            gov.active_plan = PlanCard.model_validate(state["active_plan"])
        gov.rotation_from = {(c, MarketType(m)): Decimal(v) for c, m, v in state.get("rotation_from", [])}
        gov.overrides = {}
        for raw in state.get("overrides", []):
            t = TargetEntry.model_validate(raw)
            gov.overrides[_key(t)] = t
        gov.last_change_ms = state.get("last_change_ms")
        ra = state.get("review_regime", state.get("regime_at_activation"))  # older states
        gov.review_regime = Regime(ra) if ra else None
        gov.forced_review = state.get("forced_review")
        gov.tracker = RegimeTracker.from_state(config.regime, state.get("tracker"))
        lr = state.get("last_reading")
        if lr:
            gov.last_reading = RegimeReading(
                raw=Regime(lr["raw"]), confidence=float(lr["confidence"]), confirmed=Regime(lr["confirmed"]),
                changed=bool(lr["changed"]), source=lr["source"], event=lr.get("event"), time_ms=int(lr["time_ms"]),
            )
        gov.switches = int(state.get("switches", 0))
        return gov


def _funding_rate(row: Mapping[str, float | None]) -> Decimal | None:
    """The hourly funding rate a change is charged at: the 24 h average, else the current rate."""
    rate = row.get("funding_24h_avg")
    if rate is None:
        rate = row.get("funding_now")
    if rate is None or not math.isfinite(rate):
        return None
    return to_decimal(rate).quantize(_RATE_STEP)


def _fits(strategy: Any, regime: Regime) -> bool:
    fits = getattr(strategy, "fits", None)
    if callable(fits):
        return bool(fits(regime))
    return regime in tuple(strategy.compatible_regimes) and regime not in tuple(getattr(strategy, "avoid_regimes", ()))


__all__ = ["Approved", "ChangeCost", "Governor", "PlanVerdict", "Rejected", "current_exposure"]
