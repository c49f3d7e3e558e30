"""ONE cycle, as data flows in ARCHITECTURE.md, in three stages:

1. `collect`  (I/O)  market snapshot, specs, books, history -> signals; account state.
2. `decide`   (pure but for the LLM port) standard: DecisionEngine -> actions or a target
              allocation; governed: tripwires, regime, review gate, governance decision,
              evaluate/activate, current targets. Then `price`: portfolio -> intents.
3. `execute`  (I/O)  risk review, approved orders through the executor, account after.

Between 2 and 3 a backtest moves its venue on by the fill latency (`arrive`) and prices the
decision again on the market and account of that moment: its orders are sized and limited
where they reach the venue, as a live executor's are a few seconds after the decision, not
at a price an hour old. The decision itself saw nothing after its own time.

`CyclePipeline.run` chains them and returns the cycle's plain audit record; it never
raises for a failed cycle (a failure holds: no orders, the error recorded). `decide`
takes only recorded values (`CycleInputs`), so `app.replay` re-runs it from an audit
record with the recorded LLM reply, and the backtest drives the same pipeline against
the in-process simulated venue: the clock, store and audit stay outside, injected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from decimal import Decimal
from typing import Any, Callable, Protocol, Sequence

from hyperliquid_agent.app.market import MarketCollector, MarketData
from hyperliquid_agent.app.outside_fills import OutsideFills, liquidated
from hyperliquid_agent.app.record import (
    decision_record,
    fill_decided,
    fill_report,
    inputs_record,
    llm_record,
    new_record,
    status_snapshot,
    tapped,
)
from hyperliquid_agent.app.status import AGENT_NS
from hyperliquid_agent.audit import to_plain
from hyperliquid_agent.config import PortfolioConfig
from hyperliquid_agent.domain import (
    AccountState,
    AssetSpec,
    BookView,
    CancelIntent,
    Fill,
    Intent,
    LeverageIntent,
    MarketSnapshot,
    OpenOrder,
    OrderIntent,
    TargetEntry,
)
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.execution import ExecutionReport, Executor, Protection
from hyperliquid_agent.portfolio import MarketView, PlanLimits, action_intents, plan_rebalance
from hyperliquid_agent.ports import ExchangePort
from hyperliquid_agent.risk import RiskContext, RiskPolicy, close_positions, resting_sizes
from hyperliquid_agent.risk_counters import RiskCounters, utc_day
from hyperliquid_agent.risk_store import load_counters, update_counters
from hyperliquid_agent.store import StateStore
from hyperliquid_agent.times import utc_minute

API_FAILURES_KEY = "api_failures"

# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class CycleInputs:
    """Everything `decide` reads; recorded in the audit trail so a replay can rebuild it."""

    cycle_id: str
    now_ms: int
    mode: str
    loops: tuple[str, ...]
    coins: tuple[str, ...]
    account: AccountState
    snapshot: MarketSnapshot
    specs: dict[str, AssetSpec]
    books: dict[str, BookView]
    signals: dict[str, dict[str, float | None]]
    counters: RiskCounters
    governance_state: dict[str, Any] | None = None
    api_failures: int = 0  # consecutive cycles whose market/account data could not be read
    # coins whose TP/SL trigger order (from the plan's exit rules) filled since the last cycle, or
    # that the venue liquidated (those are also in `liquidated`)
    exits: tuple[str, ...] = ()
    liquidated: tuple[str, ...] = ()
    # the fills of orders no cycle sent, read since the last cycle (the record keeps them as `outside_fills`)
    outside_fills: tuple[Fill, ...] = ()
    # resting on the venue (any origin): read while collecting in standard mode (the prompt shows
    # them), else just before the risk review of the cycle's orders; None until read
    open_orders: tuple[OpenOrder, ...] | None = None

    @cached_property
    def market_view(self) -> MarketView:
        """What the planner prices with (made once: decide and execute both read it)."""
        marks = {c: ctx.mark_price for c, ctx in self.snapshot.contexts.items()}
        return MarketView(mids=self.snapshot.mids, specs=self.specs, marks=marks, books=self.books)

    @cached_property
    def marks(self) -> dict[str, Decimal]:
        """Mark prices (mids where the venue gives no mark)."""
        out = dict(self.snapshot.mids)
        out.update({c: ctx.mark_price for c, ctx in self.snapshot.contexts.items()})
        return out


@dataclass
class Decided:
    """What `decide` produced: the decision, the intents and the risk review."""

    summary: str = "hold"
    decision: dict[str, Any] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=lambda: {"calls": 0, "cost_usd": "0"})
    targets: list[TargetEntry] | None = None
    actions: list[Any] = field(default_factory=list)  # TradeAction values (standard mode)
    intents: list[Intent] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    governance: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop_losses: tuple[str, ...] = ()  # coins the risk policy's stop-loss closes (their orders replace any other)
    reductions_only: bool = False  # a REDUCING or HALTED book: only reduce-only orders and cancels


class Governance(Protocol):
    """The governed-mode seam (`app.governed.GovernedFlow` adapts the Governor, tripwires,
    regime tracker and scorekeeper to it)."""

    def export_state(self) -> dict[str, Any]: ...

    def take_requests(self, account: AccountState, now_ms: int) -> None:
        """What the user asked for between cycles (`hl-agent gov rearm`), applied before the
        cycle's state is exported."""
        ...

    def begin(self, inputs: CycleInputs) -> dict[str, Any]:
        """Tripwires, invalidation and (medium loop) regime. Returns trading_state, tripwires,
        regime, regime_confidence, plan (PlanCard or None), plan_id, can_review,
        review_reason, plan_summary: a new dict each call (the cycle's record keeps it)."""
        ...

    def consider(self, inputs: CycleInputs, view: dict[str, Any], result: Any) -> dict[str, Any]:
        """Evaluate a governance decision; activate an approved plan. Returns verdict, reason,
        activated_plan_id."""
        ...

    def targets(self, inputs: CycleInputs, view: dict[str, Any]) -> tuple[list[TargetEntry] | None, bool]:
        """The targets to trade toward now (rotation step and trading state applied) and
        whether only reductions may be sent."""
        ...

    def protection(self) -> Protection | None: ...

    def note_stop_loss(self, coins: Sequence[str], what: str = "stop-loss") -> None:
        """A stop-loss closed these coins this cycle (or, as `what` says, a TP/SL trigger or a
        liquidation since the last one)."""
        ...

    def save(self) -> None:
        """Persist the governance state (called after deciding, before acting: crash-only)."""
        ...

    def after(self, inputs: CycleInputs, report: ExecutionReport | None, account_after: AccountState | None,
              outside: Sequence[Fill] = ()) -> None:
        """Scorekeeping and persistence once the cycle has acted (`outside`: fills of orders this cycle
        did not send, such as a TP/SL trigger that fired since the last cycle)."""
        ...


# ---------------------------------------------------------------- actions -> intents


def _adds_risk(intent: Intent) -> bool:
    """An order that is not reduce-only, or a leverage setting (what opens or grows a position)."""
    return isinstance(intent, LeverageIntent) or (isinstance(intent, OrderIntent) and not intent.reduce_only)


def only_reductions(intents: Sequence[Intent]) -> list[Intent]:
    """What a REDUCING or HALTED book may still do: reduce-only orders, and cancels."""
    return [i for i in intents if (isinstance(i, OrderIntent) and i.reduce_only) or isinstance(i, CancelIntent)]


# ---------------------------------------------------------------- the pipeline


@dataclass
class CyclePipeline:
    """One cycle's stages over injected parts. The loop (or a backtest) calls `run`."""

    mode: str
    network: str
    coins: tuple[str, ...]
    exchange: ExchangePort
    collector: MarketCollector
    engine: Any  # decision.DecisionEngine
    risk: RiskPolicy
    portfolio: PortfolioConfig
    store: StateStore  # risk counters, orders ledger (through the executor)
    executor: Executor
    strategies: tuple[Any, ...] = ()
    governance: Governance | None = None
    template_version: str = ""
    max_leverage: int = 1
    approver: Any = None  # human approval above risk.approval_above_usd (None: denied when needed)
    # governed: increases keep the perp margin used at or below this share of the perp equity
    # (`governance.tripwires.planning_margin_ratio`); None: only the available margin bounds them
    max_margin_ratio: Decimal | None = None
    # the backtest's: moves its venue to when the orders of a decision taken at the given time
    # reach it (the fill latency later) and returns that time. None live: orders leave at once
    arrive: Callable[[int], int] | None = None
    # whether each record carries what only `audit replay` reads: the inputs beside the account
    # and signals (counters, governance state the cycle started from, ...) and the market digest
    # (a backtest keeps no audit trail: it leaves them out)
    replayable: bool = True
    wall_ms: Callable[[], float] = field(default=lambda: time.perf_counter() * 1000)
    # the stored api_failures count as this pipeline last read or wrote it (it is the only writer)
    _api_failures: int | None = field(default=None, init=False, repr=False)
    _outside: OutsideFills = field(init=False, repr=False)  # fills of orders no cycle sent

    def __post_init__(self) -> None:
        self._outside = OutsideFills(self.executor.ledger)

    # -------- stage 1: collect (I/O)
    def collect(self, cycle_id: str, now_ms: int, loops: tuple[str, ...]) -> tuple[CycleInputs, MarketData]:
        market = self.collector.collect(now_ms, refresh_specs="slow" in loops)
        account = self.exchange.account_state()
        open_orders = tuple(self.exchange.open_orders()) if self.mode == "standard" else None
        failures = self._stored_api_failures()
        if failures:
            self._store_api_failures(0)  # the venue answered again
        if self.governance is not None:
            self.governance.take_requests(account, now_ms)
        counters = load_counters(self.store)
        if counters.day != utc_day(now_ms) or counters.day_start_equity is None:
            # the day's loss counts from its first cycle, not from its first order (which may come
            # after a loss the daily cap would then not see)
            equity = account.portfolio_value
            counters = update_counters(self.store, lambda stored: stored.rolled(now_ms, equity))
        inputs = CycleInputs(
            cycle_id=cycle_id, now_ms=now_ms, mode=self.mode, loops=loops, coins=self.coins, account=account,
            snapshot=market.snapshot, specs=market.specs, books=market.books, signals=market.signals,
            counters=counters,
            governance_state=self.governance.export_state() if self.governance is not None and self.replayable else None,
            api_failures=failures, open_orders=open_orders,
        )
        return inputs, market

    # -------- stage 2: decide (pure but for the LLM port)
    def decide(self, inputs: CycleInputs, engine: Any = None, governance: Governance | None = None) -> Decided:
        engine = engine if engine is not None else self.engine
        governance = governance if governance is not None else self.governance
        out = Decided()
        out.stop_losses = forced = self.risk.stop_loss_coins(inputs.account, inputs.marks)
        if inputs.mode == "governed":
            if governance is None:
                raise RuntimeError("governed mode needs the governor; wiring did not build one")
            if inputs.exits:  # the plan's TP/SL or a liquidation closed these: flat until a review, not bought back
                liquidations = [c for c in inputs.exits if c in inputs.liquidated]
                triggered = [c for c in inputs.exits if c not in liquidations]
                if triggered:
                    governance.note_stop_loss(triggered, "take-profit/stop-loss trigger")
                if liquidations:
                    governance.note_stop_loss(liquidations, "liquidation")
            if forced:
                governance.note_stop_loss(sorted(forced))
            out.reductions_only = self._decide_governed(inputs, engine, governance, out)
        else:
            self._decide_standard(inputs, engine, out)
        if forced:
            out.summary = f"stop-loss {', '.join(sorted(forced))}; {out.summary}"
        self.price(inputs, out)
        return out

    def price(self, inputs: CycleInputs, out: Decided) -> None:
        """Size and price what `out` decided on the account and market of `inputs`: the portfolio's
        intents toward its targets (or for its actions), and a close of each stop-loss coin's
        position, priced at the marks, in place of any other order for that coin."""
        planned: list[Intent] = []
        skipped: list[tuple[str, str]] = []
        if out.targets is not None:
            plan = plan_rebalance(out.targets, inputs.account, inputs.market_view, self.portfolio,
                                  limits=self.plan_limits)
            planned, skipped = plan.intents, plan.skipped
        elif out.actions:
            planned, skipped = action_intents(out.actions, inputs.account, inputs.market_view, self.portfolio)
        if out.reductions_only:
            planned = only_reductions(planned)
        forced: list[Intent] = []
        if out.stop_losses:
            forced += close_positions(inputs.account, out.stop_losses, inputs.marks, inputs.specs, self.portfolio)
            planned = [i for i in planned if not (isinstance(i, OrderIntent) and i.coin in out.stop_losses)]
        held = self._held_after_stop(inputs)
        if held:  # (the risk policy would deny them: planned, they would be denied every cycle)
            planned = [i for i in planned if not (getattr(i, "coin", None) in held and _adds_risk(i))]
            skipped += [(c, f"held flat after its stop-loss until {utc_minute(t)} (risk.stop_loss_reentry_minutes)")
                        for c, t in sorted(held.items())]
        out.intents = [*forced, *planned]
        out.skipped = skipped

    @cached_property
    def plan_limits(self) -> PlanLimits:
        """What the planner keeps increases within: the risk policy's limits (an order it would deny
        whole is cut to what it lets through) and the governed margin ratio."""
        risk = self.risk.config
        return PlanLimits(max_margin_ratio=self.max_margin_ratio, max_order_usd=risk.max_order_usd,
                          max_position_usd=risk.max_position_usd, max_gross_exposure=risk.max_gross_exposure,
                          max_leverage=min(risk.max_leverage, self.max_leverage))

    def _held_after_stop(self, inputs: CycleInputs) -> dict[str, int]:
        """The coins a stop-loss closed less than `risk.stop_loss_reentry_minutes` ago -> when that ends."""
        hold_ms = self.risk.config.stop_loss_reentry_minutes * 60_000
        ends = {c: t + hold_ms for c, t in inputs.counters.stops} if hold_ms else {}
        return {c: t for c, t in ends.items() if t > inputs.now_ms}

    def at_arrival(self, inputs: CycleInputs, decided: Decided, errors: list[str]) -> CycleInputs:
        """The backtest's venue moved on to when the cycle's orders (and cancels) arrive (`arrive`),
        the account and the market (mids, contexts, books) read there, and `decided` priced again
        on them. The inputs keep the decision's time (risk counters and scorekeeping count by the
        cycle); their open orders are read again before the risk review."""
        if self.arrive is None or self.arrive(inputs.now_ms) == inputs.now_ms:
            return inputs
        snapshot, books = self.collector.quote(errors)
        arrived = replace(inputs, account=self.exchange.account_state(), snapshot=snapshot, books=books,
                          open_orders=None)
        if decided.intents:  # (a cycle that planned no order at its decision sends none)
            self.price(arrived, decided)
        return arrived

    def risk_context(self, inputs: CycleInputs) -> RiskContext:
        leverage = {p.coin: p.leverage for p in inputs.account.positions if p.size != 0}
        return RiskContext(account=inputs.account, marks=inputs.marks, specs=inputs.specs, now_ms=inputs.now_ms,
                           counters=inputs.counters, max_leverage=self.max_leverage, leverage=leverage,
                           approver=self.approver, resting=resting_sizes(inputs.open_orders or ()))

    def _context(self, inputs: CycleInputs, **extra: Any) -> DecisionContext:
        # Built without validation: every value is the cycle's own, already typed (validating
        # would only copy the signals table, float by float).
        return DecisionContext.model_construct(
            now_ms=inputs.now_ms, mode=inputs.mode, coins=inputs.coins, account=inputs.account,
            mids=dict(inputs.snapshot.mids), signals=inputs.signals, strategies=self.strategies,
            max_leverage=self.max_leverage, open_orders=inputs.open_orders or (), **extra)

    def _decide_standard(self, inputs: CycleInputs, engine: Any, out: Decided) -> None:
        result = engine.get_decision(inputs.account, self._context(inputs))
        out.llm = llm_record(tapped(engine))
        out.actions = list(getattr(result, "actions", None) or [])
        targets = getattr(result, "target_allocation", None)
        out.decision = decision_record(result)
        if not out.decision["success"]:
            out.summary = f"hold: {out.decision['error'] or 'decision failed'}"
            out.actions = []
            return
        if targets is not None:
            out.targets = list(targets)
            out.summary = "target: " + (", ".join(f"{t.coin} {t.target_pct}%" for t in targets) or "flat")
        elif out.actions:
            out.summary = "actions: " + ", ".join(
                f"{a.action_type} {getattr(a, 'coin', '') or ''}".strip() for a in out.actions)
        else:
            out.summary = "hold"

    def _decide_governed(self, inputs: CycleInputs, engine: Any, gov: Governance, out: Decided) -> bool:
        view = gov.begin(inputs)
        calls = view.pop("llm_calls", None) or []  # regime classification, then the decision's
        plan = view.pop("plan", None)  # the card itself stays out of the record (its id and summary are in)
        out.governance = view  # the record's governance section: begin's own dict, added to below
        halted = view.get("trading_state") == "HALTED"
        if "medium" in inputs.loops and not halted:
            ctx = self._context(inputs, regime=view.get("regime"), regime_confidence=view.get("regime_confidence"),
                                active_plan=plan, can_review=bool(view.get("can_review")),
                                review_reason=str(view.get("review_reason") or ""))
            result = engine.get_decision_with_governance(inputs.account, plan, view.get("regime"),
                                                         bool(view.get("can_review")), ctx)
            calls = calls + tapped(engine)
            proposed = getattr(result, "proposed_plan", None)
            out.decision = decision_record(result)
            verdict = gov.consider(inputs, view, result)
            out.governance.update(verdict)
            if not out.decision["success"]:
                out.summary = f"hold plan: {out.decision['error'] or 'decision failed'}"
            elif verdict.get("activated_plan_id"):
                out.summary = f"new plan: {verdict['activated_plan_id']}"
            elif proposed is not None:
                out.summary = f"keep plan: proposal {verdict.get('verdict', 'rejected')}"
            else:
                out.summary = "maintain plan"
        else:
            out.summary = "halted" if halted else "track plan"
        out.llm = llm_record(calls)
        targets, reductions_only = gov.targets(inputs, view)
        out.targets = targets
        out.governance["reductions_only"] = reductions_only
        return reductions_only

    # -------- stage 3: execute (I/O)
    def execute(self, inputs: CycleInputs, decided: Decided) -> ExecutionReport | None:
        if not decided.intents:
            return None
        protection = self.governance.protection() if self.governance is not None else None
        return self.executor.run(inputs.cycle_id, decided.intents, self.risk, self.risk_context(inputs),
                                 protection=protection, market=inputs.market_view)

    # -------- the whole cycle
    def run(self, cycle_id: str, seq: int, now_ms: int, loops: tuple[str, ...]) -> dict[str, Any]:
        """The cycle's plain audit record (JSON data)."""
        return to_plain(self.run_record(cycle_id, seq, now_ms, loops))

    def run_record(self, cycle_id: str, seq: int, now_ms: int, loops: tuple[str, ...]) -> dict[str, Any]:
        """`run` before `to_plain`: the record with the values as the stages produced them
        (models, Decimals). The backtest reads a few fields of it and converts only those."""
        rec = self._run_record(cycle_id, seq, now_ms, loops)
        # where the reads of other orders' fills stand, saved before the record is written (see recover)
        self._outside.save(cycle_id, rec.get("outside_fills") or ())
        return rec

    def _run_record(self, cycle_id: str, seq: int, now_ms: int, loops: tuple[str, ...]) -> dict[str, Any]:
        t0 = self.wall_ms()
        rec = new_record(cycle_id, seq, now_ms, self.mode, self.network, loops)
        rec["template_version"] = self.template_version
        try:
            inputs, market = self.collect(cycle_id, now_ms, loops)
        except Exception as exc:
            return self._failed(rec, "collect", exc, t0)
        # after the account read: a trigger that fires in between shows up next cycle, never as an
        # exit of a position the account read still holds
        outside = rec["outside_fills"] = self._outside.read(self.exchange, now_ms, inputs.account, rec["errors"])
        if outside:
            inputs = replace(inputs, exits=self._outside.exits(outside), liquidated=liquidated(outside),
                             outside_fills=tuple(outside))
        if self.replayable:
            rec["inputs"] = inputs_record(inputs)
            rec["market"] = market.digest()
        rec["account_before"] = inputs.account
        rec["signals"] = inputs.signals
        rec["errors"].extend(market.errors)
        try:
            decided = self.decide(inputs)
        except Exception as exc:
            return self._failed(rec, "decide", exc, t0, inputs.account)
        if decided.intents or inputs.exits:  # (the exits' sibling triggers are canceled below)
            try:
                inputs = self.at_arrival(inputs, decided, rec["errors"])
            except Exception as exc:
                fill_decided(rec, decided)
                return self._failed(rec, "read the market where the orders arrive", exc, t0, inputs.account)
        fill_decided(rec, decided)
        if self.governance is not None and decided.intents:
            try:
                self.governance.save()  # a plan activated this cycle is on disk before its orders go out
            except Exception as exc:
                return self._failed(rec, "save governance state", exc, t0, inputs.account)
        if decided.intents and inputs.open_orders is None:  # the risk policy counts what may still fill
            try:
                inputs = replace(inputs, open_orders=tuple(self.exchange.open_orders()))
            except Exception as exc:
                return self._failed(rec, "read open orders", exc, t0, inputs.account)
            if self.replayable:
                rec["inputs"] = inputs_record(inputs)
        t_exec = self.wall_ms()
        if inputs.exits:  # the exit's sibling (the stop of a take-profit that filled) would outlive it
            rec["canceled_triggers"], errors = self.executor.cancel_triggers(inputs.exits)
            rec["errors"].extend(errors)
        report: ExecutionReport | None = None
        try:
            report = self.execute(inputs, decided)
        except Exception as exc:
            rec["errors"].append(f"execute: {type(exc).__name__}: {exc}")
        if decided.stop_losses and self.risk.config.stop_loss_reentry_minutes:
            try:  # the re-entry hold of the coins the stop-loss closed counts from this cycle
                update_counters(self.store, lambda c: c.with_stops(decided.stop_losses, inputs.now_ms))
            except Exception as exc:
                rec["errors"].append(f"risk counters: {type(exc).__name__}: {exc}")
        rec["timing_ms"] = {"decide": round(t_exec - t0, 3), "execute": round(self.wall_ms() - t_exec, 3)}
        account_after = report.account_after if report is not None else None
        if account_after is None:
            try:
                account_after = self.exchange.account_state()
            except Exception as exc:
                rec["errors"].append(f"account after: {type(exc).__name__}: {exc}")
        fill_report(rec, report)
        if self.governance is not None:
            try:
                self.governance.after(inputs, report, account_after, outside)
            except Exception as exc:
                rec["errors"].append(f"governance state: {type(exc).__name__}: {exc}")
        rec["account_after"] = account_after
        self._outside.cycle_done(report.fills if report is not None else (), account_after, rec["account_before"])
        rec["timing_ms"]["total"] = round(self.wall_ms() - t0, 3)
        rec["status_snapshot"] = status_snapshot(rec, account_after or inputs.account, decided)
        return rec

    def _stored_api_failures(self) -> int:
        if self._api_failures is None:
            self._api_failures = int(self.store.get(AGENT_NS, API_FAILURES_KEY, 0) or 0)
        return self._api_failures

    def _store_api_failures(self, count: int) -> None:
        self._api_failures = None  # read back from the store if the write fails
        self.store.put(AGENT_NS, API_FAILURES_KEY, count)
        self._api_failures = count

    def recover(self, pending: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Reconcile a cycle a crash interrupted: ask the venue, by cloid, what its orders did."""
        cycle_id = str(pending.get("cycle_id"))
        rec = new_record(cycle_id, int(pending.get("seq") or 0), int(pending.get("now_ms") or now_ms), self.mode,
                         self.network, tuple(pending.get("loops") or ()))
        rec["recovered"] = True
        rec["decision"] = {"summary": "interrupted by a crash; reconciled at restart"}
        try:
            self.executor.reconcile_unsettled(now_ms)  # rows left pending/unknown: asked by cloid
            rows = self.executor.ledger.for_cycle(cycle_id)
            rec["orders"] = [{"leg": r.leg, "cloid": r.cloid, "intent": r.intent, "status": r.status, "oid": r.oid,
                              "filled_size": r.filled_size, "avg_price": r.avg_price, "error": r.error,
                              "reconciled": True} for r in rows]
            rec["fills"] = self.executor.ledger.fills_for([r.cloid for r in rows])
            rec["outside_fills"] = self._outside.recovered(cycle_id, rec["fills"])
            account = self.exchange.account_state()
            rec["account_after"] = account
            rec["status_snapshot"] = status_snapshot(rec, account, None)
        except Exception as exc:
            rec["errors"].append(f"recover: {type(exc).__name__}: {exc}")
        return to_plain(rec)

    def _failed(self, rec: dict[str, Any], stage: str, exc: BaseException, t0: float,
                account: AccountState | None = None) -> dict[str, Any]:
        """A failed cycle holds: no orders, the error recorded. A venue that could not be read
        counts toward the `api_failures` tripwire (order failures feed the risk circuit breaker)."""
        rec["errors"].append(f"{stage}: {type(exc).__name__}: {exc}")
        rec["decision"] = {"summary": f"hold: {stage} failed"}
        if stage == "collect":
            try:
                self._store_api_failures(self._stored_api_failures() + 1)
            except Exception as store_exc:
                rec["errors"].append(f"state store: {store_exc}")
        rec["timing_ms"] = {"total": round(self.wall_ms() - t0, 3)}
        if account is not None:
            rec["account_before"] = account
        rec["status_snapshot"] = status_snapshot(rec, account, None)
        return rec
