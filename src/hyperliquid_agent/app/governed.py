"""Governed mode at the cycle seam: the Governor, tripwires, regime and scorekeeper, one cycle at a time.

`GovernedFlow` implements `cycle.Governance`. It follows the order the governor documents:
plan scorecard (funding, equity mark) -> invalidation (triggers, plan drawdown) -> tripwires
-> regime (medium loop, with hysteresis) -> review gate -> (LLM decision, made by the
pipeline) -> evaluate -> activate -> current targets, restricted by the trading state. Its
state goes out as plain data (`export_state`, recorded in each audit record, with the
calendar events the cycle used) so an audit replay rebuilds the same governor; `after`
persists it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

from hyperliquid_agent.app.status import AGENT_NS
from hyperliquid_agent.config import Config
from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain import AccountState, Fill
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.errors import HLAgentError
from hyperliquid_agent.execution import ExecutionReport, Protection
from hyperliquid_agent.governance.calendar import CalendarEvent
from hyperliquid_agent.governance.governor import Approved, Governor
from hyperliquid_agent.governance_store import CalendarFile, GovernanceStore
from hyperliquid_agent.governance.plan import PlanStatus, current_exposure, plan_from_proposal
from hyperliquid_agent.governance.scorekeeper import Scorekeeper
from hyperliquid_agent.governance.tripwires import (
    TradingState,
    TripwireInputs,
    TripwireReport,
    TripwireState,
    evaluate_tripwires,
    rearm,
    restrict_targets,
)


STOPPED_KEY = "stopped_out"


class GovernedFlow:
    def __init__(
        self,
        cfg: Config,
        strategies: Sequence[Any],
        governor: Governor,
        tripwires: TripwireState | None = None,
        scorekeeper: Scorekeeper | None = None,
        persist: GovernanceStore | None = None,
        calendar: CalendarFile | None = None,
    ) -> None:
        self.cfg = cfg
        self.calendar = calendar  # re-read at the start of a cycle when the file changed
        self.calendar_error: str | None = None  # why the last re-read failed (the old events stay)
        self.strategies = tuple(strategies)
        self.governor = governor
        self.tripwires = tripwires or TripwireState()
        self.scorekeeper = scorekeeper or Scorekeeper()
        self.persist = persist
        self.report: TripwireReport | None = None
        self._readings: list[Any] = []
        # coins a stop-loss closed under the current plan: kept flat until the next plan
        self.stopped_out: set[str] = set()
        # those closed this cycle: a plan activated in it was decided on the account before they
        # were closed, so they stay flat under it too (until the plan after it)
        self._stopped_now: set[str] = set()
        self.plan_summary = PlanSummary()
        self._flat_lines: dict[Any, Any] = {}  # a stopped-out coin's target line -> its copy at 0 (see `_held_flat`)
        self._funding_read: AccountState | None = None  # the account whose funding `begin` booked
        self._rearmed: list[str] = []  # the note of a re-arm `take_requests` made, for `begin` to report
        # the state `save` wrote, for the next export_state; each call that changes the state drops it
        self._saved: dict[str, Any] | None = None

    # ---- state in and out
    @classmethod
    def from_state(cls, cfg: Config, strategies: Sequence[Any], state: Mapping[str, Any] | None,
                   events: Sequence[CalendarEvent] = (), regime_client: Any = None,
                   persist: GovernanceStore | None = None) -> "GovernedFlow":
        state = state or {}
        if "events" in state:  # the calendar as that cycle saw it (the file may have changed since)
            events = tuple(CalendarEvent.model_validate(e) for e in state["events"])
        gov = Governor.from_state(cfg.governance, state.get("governor"), cfg.risk, events, cfg.agent.coins,
                                  regime_client)
        flow = cls(cfg, strategies, gov, TripwireState.from_dict(state.get("tripwires")),
                   Scorekeeper.from_dict(state.get("scorekeeper")), persist)
        flow.stopped_out = set(state.get("stopped_out") or ())
        return flow

    @classmethod
    def restore(cls, cfg: Config, strategies: Sequence[Any], persist: GovernanceStore,
                regime_client: Any = None, calendar: CalendarFile | None = None) -> "GovernedFlow":
        """The governor, tripwires and scorekeeper as the last run left them (plan and dwell clock
        intact), with the `calendar` file's events (edits are picked up each cycle)."""
        events = calendar.load() if calendar is not None else ()
        gov = persist.load_governor(cfg.governance, cfg.risk, events, cfg.agent.coins, regime_client)
        flow = cls(cfg, strategies, gov, persist.load_tripwires(), persist.load_scorekeeper(), persist, calendar)
        flow.stopped_out = set(persist.store.get(AGENT_NS, STOPPED_KEY) or ())
        return flow

    def export_state(self) -> dict[str, Any]:
        """The state a cycle starts from (recorded in its audit record for replay). Called when
        the cycle collects its inputs, so this is where an edited calendar file is picked up:
        the events the cycle uses are the ones it records."""
        self._refresh_calendar()
        # the state the last cycle saved is the state this one starts from (taken once: the cycle changes it)
        state, self._saved = self._saved or self._plain_state(), None
        return {**state, "events": [e.model_dump(mode="json") for e in self.governor.events]}

    def _plain_state(self) -> dict[str, Any]:
        return {"governor": self.governor.to_state(), "tripwires": self.tripwires.to_dict(),
                "scorekeeper": self.scorekeeper.to_dict(), "stopped_out": sorted(self.stopped_out)}

    def _refresh_calendar(self) -> None:
        if self.calendar is None:
            return
        try:
            events = self.calendar.reload_if_changed()
        except HLAgentError as exc:  # a bad edit: keep the events we had, say why in every cycle's record
            self.calendar_error = str(exc)
            return
        self.calendar_error = None
        if events is not None:
            self.governor.set_events(events)

    def note_stop_loss(self, coins: Sequence[str], what: str = "stop-loss") -> None:
        """A stop-loss (or, as `what` says, the plan's TP/SL trigger or a liquidation) closed these
        coins: keep them flat under this plan and open a review."""
        self._saved = None
        self.stopped_out.update(coins)
        self._stopped_now.update(coins)
        self.governor.force_review(f"{what} on {', '.join(sorted(coins))}")

    # ---- the cycle
    def begin(self, inputs: Any) -> dict[str, Any]:
        self._saved = None
        gov, now = self.governor, inputs.now_ms
        fired = gov.check_invalidation(inputs.signals, now, plan_drawdown_pct=self._track_plan(inputs))
        tw_inputs = TripwireInputs(account=inputs.account, mids=inputs.snapshot.mids, now_ms=now,
                                   last_data_ms=inputs.snapshot.time_ms,
                                   api_failures=inputs.api_failures, plan_invalidated=fired)
        rearmed, self._rearmed = self._rearmed, []
        self.tripwires, self.report = evaluate_tripwires(tw_inputs, self.tripwires, self.cfg.governance.tripwires)
        if self.report.force_review:
            gov.force_review(", ".join(self.report.reason_codes))
        if "medium" in inputs.loops or gov.regime is None:
            self._readings.append(gov.classify_regime(inputs.signals, now))
        ok, why = gov.can_review_plan(now)
        plan = gov.get_active_plan()
        if plan is not None and self.stopped_out:
            why += "; " + self._held_flat_note(plan)
        reading = gov.last_reading
        tap = gov.regime_client
        extra = {"calendar_error": self.calendar_error} if self.calendar_error else {}
        return {
            **extra,
            "llm_calls": tap.take() if hasattr(tap, "take") else [],  # regime classification calls
            "trading_state": self.report.state.value,
            "tripwires": [t.to_dict() for t in self.report.trips],
            **({"tripwire_notes": [*rearmed, *self.report.notes]} if rearmed or self.report.notes else {}),
            "regime": gov.regime.value if gov.regime is not None else None,
            "regime_raw": reading.raw.value if reading is not None else None,
            "regime_confidence": reading.confidence if reading is not None else None,
            "plan": plan,
            "plan_id": plan.plan_id if plan is not None else None,
            "plan_summary": self.plan_summary(gov, now),
            "can_review": ok,
            "review_reason": why,
            "invalidated_by": fired,
            "stopped_out": sorted(self.stopped_out),
        }

    def take_requests(self, account: AccountState, now_ms: int) -> None:
        """Before the cycle's state is recorded: re-arm the tripwires when `hl-agent gov rearm`
        asked for it since the last cycle (the request waits in the state store for a running or a
        restarted agent; a replay starts from the state recorded after it). `begin` notes it."""
        request = self.persist.take_rearm_request() if self.persist is not None else None
        if request is None:
            return
        equity = account.portfolio_value
        self.tripwires = rearm(self.tripwires, equity, now_ms)
        self._saved = None
        self._rearmed = [f"tripwires re-armed ({request.get('requested') or 'hl-agent gov rearm'}): the drawdown "
                         f"and the day's loss count from {equity:.2f}"]

    def _track_plan(self, inputs: Any) -> Decimal | None:
        """Book the funding paid since the last cycle and mark the active plan's scorecard at
        this cycle's equity; returns the plan's drawdown from its own peak (None without a card)."""
        self.scorekeeper.observe_funding(inputs.account.positions)
        self._funding_read = inputs.account
        card, plan = self.scorekeeper.current, self.governor.get_active_plan()
        if card is not None and card.ended_ms is None:
            # filled since the last cycle, under the plan in charge then (before this cycle may replace
            # it); no mid of that moment to measure slippage against
            for f in inputs.outside_fills:
                card.record_fill(f)
        if card is None or card.ended_ms is not None or plan is None or card.plan_id != plan.plan_id:
            return None
        return card.mark(inputs.account.portfolio_value, inputs.now_ms)

    def consider(self, inputs: Any, view: dict[str, Any], result: Any) -> dict[str, Any]:
        self._saved = None
        gov, now = self.governor, inputs.now_ms
        if not getattr(result, "success", True):
            return {"verdict": "none", "reason": str(getattr(result, "error", "") or "decision failed")}
        proposed = getattr(result, "proposed_plan", None)
        if getattr(result, "maintain_plan", True) or proposed is None:
            if view.get("can_review"):
                gov.note_review()  # reviewed and kept: the next early review needs a new reason
            adjustments = list(getattr(result, "micro_adjustments", None) or [])
            # a coin this plan keeps flat stays flat: its adjustment would be kept and never traded
            flat = [a for a in adjustments if a.coin in self.stopped_out]
            dropped = [f"{a.coin}: held flat until the next plan; micro-adjustment dropped" for a in flat]
            adjustments = [a for a in adjustments if a.coin not in self.stopped_out]
            if not adjustments:
                return {"verdict": "maintain", "reason": "; ".join(dropped) or "plan maintained"}
            kept, notes = gov.apply_micro_adjustments(adjustments, now)
            return {"verdict": "maintain", "reason": "; ".join(notes + dropped) or "micro-adjustments applied",
                    "micro_adjustments": kept}
        strategy = next((s for s in self.strategies if s.id == proposed.strategy_id), None)
        if strategy is None:
            return {"verdict": "rejected", "reason": f"unknown_strategy: no strategy {proposed.strategy_id!r}"}
        gc = self.cfg.governance.governor
        plan_id = f"{strategy.id}-{inputs.cycle_id}"
        try:
            plan = plan_from_proposal(proposed, strategy, now, plan_id, taker_fee_bps=gc.taker_fee_bps,
                                      slippage_bps=gc.slippage_bps, funding_horizon_hours=gc.funding_horizon_hours,
                                      max_drawdown_pct=self.cfg.governance.tripwires.max_drawdown_pct,
                                      default_dwell_minutes=gc.default_dwell_minutes)
        except ValueError as exc:
            return {"verdict": "rejected", "reason": f"invalid_proposal: {exc}"}
        ctx = DecisionContext(now_ms=now, mode="governed", coins=inputs.coins, account=inputs.account,
                              mids=dict(inputs.snapshot.mids), signals=inputs.signals, strategies=self.strategies,
                              regime=view.get("regime"))
        verdict = gov.evaluate_plan_change(plan, ctx)
        out: dict[str, Any] = {"verdict": verdict.verdict, "reason": verdict.reason, "proposed_plan_id": plan_id}
        if verdict.cost is not None:
            out["change_cost"] = verdict.cost.to_dict()
        if not isinstance(verdict, Approved) and view.get("can_review"):
            gov.note_review()  # reviewed, and the proposal did not clear the gate
        if isinstance(verdict, Approved):
            gov.activate_plan(plan, now, current_exposure(inputs.account, inputs.snapshot.mids))
            self.stopped_out = set(self._stopped_now)
            self._flat_lines.clear()
            self.scorekeeper.start(plan_id, strategy.id, now, inputs.account.portfolio_value)
            out["activated_plan_id"] = plan_id
            out["plan_id"] = plan_id
            out["plan_summary"] = self.plan_summary(gov, now)
        return out

    def targets(self, inputs: Any, view: dict[str, Any]) -> tuple[list[Any] | None, bool]:
        self._stopped_now.clear()  # (the cycle's last governance step: its decision is taken)
        plan = self.governor.get_active_plan()
        report = self.report
        if plan is None or plan.status is PlanStatus.INVALIDATED:
            # no plan (or an invalidated one awaiting review): hold what is held, unless tripwires cut
            if report is not None and report.cut_floor_pct is not None:
                current = current_exposure(inputs.account, inputs.snapshot.mids)
                return restrict_targets([], current, report), True
            return None, report is not None and report.state is not TradingState.ACTIVE
        targets = self._held_flat(self.governor.current_targets(inputs.now_ms))
        if report is None or report.state is TradingState.ACTIVE:
            return targets, False
        current = current_exposure(inputs.account, inputs.snapshot.mids)
        return restrict_targets(targets, current, report), True

    def _held_flat_note(self, plan: Any) -> str:
        """What the plan card does not say: which of its coins this plan keeps flat (the review sees
        its targets, and after the first review no longer why a coin it lists is not held)."""
        coins = []
        for coin in sorted(self.stopped_out):
            t = plan.target_for(coin)
            coins.append(f"{coin} (its target {plain_text(t.target_pct)}%)" if t is not None else coin)
        return f"held flat until the next plan: {', '.join(coins)}"

    def _held_flat(self, targets: list[Any]) -> list[Any]:
        """`targets` with each stopped-out coin's line at 0. The flat copy of a line is kept
        (the same lines come back every cycle) until the next plan clears `stopped_out`."""
        if not self.stopped_out:
            return targets
        out = []
        for t in targets:
            if t.coin in self.stopped_out:
                flat = self._flat_lines.get(t)
                if flat is None:
                    flat = self._flat_lines[t] = t.model_copy(update={"target_pct": Decimal(0)})
                t = flat
            out.append(t)
        return out

    def protection(self) -> Protection | None:
        plan = self.governor.get_active_plan()
        if plan is None:
            return None
        ex = plan.exit_rules
        if ex.take_profit_pct is None and ex.stop_loss_pct is None:
            return None
        return Protection(take_profit_pct=ex.take_profit_pct, stop_loss_pct=ex.stop_loss_pct)

    def after(self, inputs: Any, report: ExecutionReport | None, account_after: AccountState | None,
              outside: Sequence[Fill] = ()) -> None:
        self._saved = None
        fills = report.fills if report is not None else ()
        if self._funding_read is not None and inputs.account is not self._funding_read:
            # the account was read again where the orders arrived (a backtest's fill latency): the
            # funding settled while they were on their way is this cycle's, booked before our trades
            self.scorekeeper.observe_funding(inputs.account.positions)
        self._funding_read = None
        card = self.scorekeeper.current
        if card is not None and card.ended_ms is None:
            for f in fills:
                card.record_fill(f, inputs.snapshot.mids.get(f.coin))
            equity = (account_after or inputs.account).portfolio_value
            if not (card.last_ms == inputs.now_ms and card.last_equity is equity):  # else `begin` marked it so
                card.mark(equity, inputs.now_ms)
        # funding reference points after our own trades (which may have reopened a position); when the
        # venue handed back the very account `begin` read (nothing traded: a backtest's), they stand
        if account_after is None:
            self.scorekeeper.observe_funding(inputs.account.positions, record=False,
                                             forget={f.coin for f in (*outside, *fills)})
        elif account_after is not inputs.account:
            self.scorekeeper.observe_funding(account_after.positions, record=False)
        self.save()

    def save(self) -> None:
        """Persist the governor, tripwires, scorekeeper and regime readings (before acting, and
        after). The next `export_state` reuses what was written, so whoever changes this state
        between cycles (outside the cycle's own calls) saves it again before the next cycle."""
        self._saved = None
        if self.persist is not None:
            state = self._plain_state()
            self.persist.save(self.governor, self.tripwires, self.scorekeeper, readings=self._readings,
                              extra={(AGENT_NS, STOPPED_KEY): state["stopped_out"]}, state=state)
            self._saved = state
        self._readings.clear()


class PlanSummary:
    """The active plan in brief, for each cycle's record. All but the dwell left is made once per
    plan card (any change to the plan makes a new card); the records share it, read only."""

    def __init__(self) -> None:
        self._made: tuple[Any, dict[str, Any]] | None = None  # (plan card, its summary)

    def __call__(self, gov: Governor, now_ms: int) -> dict[str, Any] | None:
        plan = gov.get_active_plan()
        if plan is None:
            return None
        if self._made is None or self._made[0] is not plan:
            self._made = (plan, {
                "plan_id": plan.plan_id, "strategy_id": plan.strategy_id, "status": plan.status.value,
                "objective": plan.objective, "targets": [dict(t) for t in gov.plan_state()["targets"]],
                "activated_ms": plan.activated_ms, "minimum_dwell_minutes": plan.minimum_dwell_minutes,
                "dwell_remaining_minutes": None,  # per cycle, below (its place kept in the record)
                "expected_edge_bps": format(plan.expected_edge_bps, "f"),
            })
        return {**self._made[1], "dwell_remaining_minutes": plan.dwell_remaining_minutes(now_ms)}
