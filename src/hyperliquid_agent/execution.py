"""The executor: risk-approved orders to the exchange port, exactly once per cycle and leg.

Order of work in one cycle (`Executor.run`):
1. the risk policy reviews the planned intents (only `ApprovedOrder` values go further);
2. reductions and closes are placed in one bulk action;
3. USD transfers, then leverage settings;
4. increases and opens in one bulk action (the open leg of a flip is skipped when its
   close leg did not go through, an increase when setting its leverage failed);
5. the account is read back; the TP/SL trigger orders of a position just closed (or flipped) are canceled;
6. optional TP/SL trigger orders (reduce-only) for the coins that were opened or increased;
7. fills for our orders are recorded with their fees (asking the venue only for fills since
   the cycle's orders went out, not the account's whole history), and the optional dead-man
   switch (schedule-cancel) is renewed.

Each order gets a deterministic client order id, `cloid_for(cycle_id, leg)`, and is written
to the orders ledger BEFORE it is sent. A cycle that runs again (a retry, or a restart after
a crash) finds its cloids in the ledger and asks the venue for their status by cloid
instead of sending them again. Failures feed the risk counters' circuit breaker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import reduce
from operator import methodcaller
from typing import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from hyperliquid_agent.config import PortfolioConfig
from hyperliquid_agent.domain import (
    ZERO,
    AccountState,
    CancelIntent,
    Fill,
    Filled,
    Intent,
    LeverageIntent,
    Money,
    OrderIntent,
    OrderOutcome,
    OrderPurpose,
    Rejected,
    Resting,
    TransferIntent,
)
from hyperliquid_agent.domain.verdicts import Approved, ApprovedOrder, Denied
from hyperliquid_agent.errors import VenueError
from hyperliquid_agent.orders_ledger import OPEN_STATUSES, LedgerRow, OrdersLedger
from hyperliquid_agent.portfolio import MarketView, protective_intents
from hyperliquid_agent.ports import ExchangePort
from hyperliquid_agent.risk import RiskContext, RiskPolicy
from hyperliquid_agent.risk_counters import RiskCounters
from hyperliquid_agent.risk_store import update_counters
from hyperliquid_agent.store import StateStore

_FROZEN = ConfigDict(frozen=True)
_TRANSFERS_NS = "executor.transfers"
_OPENING = (OrderPurpose.OPEN, OrderPurpose.INCREASE)
FILL_CLOCK_SLACK_MS = 5 * 60_000


def cloid_for(cycle_id: str, leg: str | int) -> str:
    """A client order id ("0x" + 32 hex) that is the same every time for the same cycle and leg."""
    return "0x" + hashlib.sha256(f"{cycle_id}|{leg}".encode()).hexdigest()[:32]


class OrderRecord(BaseModel):
    model_config = _FROZEN
    leg: str
    cloid: str | None  # None for denied or skipped orders (never sent)
    intent: OrderIntent
    verdict: Approved | Denied
    status: str  # filled | partial | resting | rejected | unknown | denied | skipped | <venue status by cloid>
    oid: int | None = None
    filled_size: Money | None = None
    avg_price: Money | None = None
    error: str | None = None
    reconciled: bool = False  # learned from the venue by cloid, not sent this time


class SetupRecord(BaseModel):
    model_config = _FROZEN
    intent: LeverageIntent | TransferIntent | CancelIntent
    status: str  # done | failed | denied | skipped | already_done
    detail: str = ""


class ExecutionReport(BaseModel):
    """What one cycle's execution did, for the audit trail."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    cycle_id: str
    orders: list[OrderRecord]
    setup: list[SetupRecord]
    fills: list[Fill]
    fees: Money
    errors: list[str]
    flags: list[str]
    account_after: AccountState | None
    counters: dict
    canceled_triggers: list[dict] = []  # TP/SL orders canceled as stale: {coin, oid}

    @property
    def sent(self) -> list[OrderRecord]:
        return [o for o in self.orders if o.cloid is not None and not o.reconciled]

    def to_audit(self) -> dict:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Protection:
    """TP/SL trigger orders the plan asks for, as percent moves from the entry price."""

    take_profit_pct: Decimal | None = None
    stop_loss_pct: Decimal | None = None


SubmitHook = Callable[[list[ApprovedOrder], list[OrderOutcome]], None]
Change = Callable[[RiskCounters], RiskCounters]  # one step of the counters (`methodcaller("with_failure")`)


class Executor:
    def __init__(
        self,
        exchange: ExchangePort,
        store: StateStore,
        *,
        config: PortfolioConfig | None = None,
        after_submit: SubmitHook | None = None,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.config = config or PortfolioConfig()
        self.ledger = OrdersLedger(store)
        self._after_submit = after_submit  # test seam: runs between the venue's answer and the ledger update

    # ---------------------------------------------------------------- one cycle
    def run(
        self,
        cycle_id: str,
        intents: Sequence[Intent],
        policy: RiskPolicy,
        ctx: RiskContext,
        *,
        protection: Protection | None = None,
        market: MarketView | None = None,
    ) -> ExecutionReport:
        """Review `intents` with `policy`, execute what is approved, persist the counters."""
        start, counters = ctx.counters, ctx.counters
        changes: list[Change] = []
        earlier: dict[str, LedgerRow] = {}
        rows = self.ledger.for_cycle(cycle_id)
        fills = _VenueFills(self.exchange, rows)
        for row in rows:  # a rerun: settle what the last attempt left open
            settled = earlier[row.cloid] = self._reconcile_row(row, ctx.now_ms, fills)
            landed = _landed(row, settled)
            if landed is not None:  # orders that landed before a crash count against today's limits
                changes.append(landed)
                counters = landed(counters)
        if counters is not ctx.counters:
            ctx = replace(ctx, counters=counters)
        review = policy.review(intents, ctx)
        changes.append(methodcaller("reviewed", ctx.now_ms, ctx.account.portfolio_value, review.max_size_asked))
        state = _CycleState(cycle_id, ctx.now_ms, review.counters, earlier, base=start, changes=changes)
        for intent, denial in review.denied:
            if isinstance(intent, OrderIntent):
                state.orders.append(OrderRecord(leg="", cloid=None, intent=intent, verdict=denial, status="denied",
                                                error=f"{denial.reason_code}: {denial.detail}"))
            else:
                state.setup.append(SetupRecord(intent=intent, status="denied",
                                               detail=f"{denial.reason_code}: {denial.detail}"))
        reductions = [a for a in review.approved if _is_reduction(a.intent)]
        increases = [a for a in review.approved if not _is_reduction(a.intent) and a.intent.purpose is not OrderPurpose.PROTECT]
        protects = [a for a in review.approved if a.intent.purpose is OrderPurpose.PROTECT]

        self._cancel(state, [i for i in review.passed if isinstance(i, CancelIntent)])  # first: frees margin
        self._submit(state, reductions)
        self._setup(state, [i for i in review.passed if isinstance(i, TransferIntent)])
        opening = {a.intent.coin for a in increases}
        refused = {i.coin for i, _ in review.denied if isinstance(i, OrderIntent)} - opening
        for lev in review.passed:  # a leverage setting only serves the increase that follows it
            if isinstance(lev, LeverageIntent) and lev.coin in refused:
                state.setup.append(SetupRecord(intent=lev, status="skipped",
                                               detail=f"the {lev.coin} order it was for was denied; leverage left as is"))
        self._setup(state, [i for i in review.passed if isinstance(i, LeverageIntent) and i.coin not in refused])
        blocked = {o.intent.coin: "the close leg of this flip did not fill; open leg not sent"
                   for o in state.orders if o.intent.purpose is OrderPurpose.CLOSE and o.cloid
                   and o.status not in ("filled", "resting")}
        blocked.update({s.intent.coin: f"setting leverage failed ({s.detail}); not sent at the venue's old leverage"
                        for s in state.setup if isinstance(s.intent, LeverageIntent) and s.status == "failed"})
        go: list[ApprovedOrder] = []
        for a in increases:
            if a.intent.coin in blocked:
                state.orders.append(OrderRecord(leg="", cloid=None, intent=a.intent, verdict=a.verdict, status="skipped",
                                                error=blocked[a.intent.coin]))
            else:
                go.append(a)
        self._submit(state, go)
        self._submit(state, protects)
        if state.counters is not state.saved:  # also when nothing was sent (the rolled day, the streak)
            self._save_counters(state)

        account_after = self._account(state)
        # a closed position's TP/SL would act on a later one: also when a flip's open leg already
        # holds the coin again (its own triggers, if asked for, are placed below)
        self._cancel_old_triggers(state, {o.intent.coin for o in state.orders
                                          if o.intent.purpose is OrderPurpose.CLOSE and o.status == "filled"})
        if protection and account_after is not None and market is not None:
            opened = {o.intent.coin for o in state.orders if o.intent.purpose in _OPENING and o.status in ("filled", "partial")}
            triggers = protective_intents(account_after, opened, market, self.config,
                                          protection.take_profit_pct, protection.stop_loss_pct)
            if triggers:
                self._cancel_old_triggers(state, opened)
                sub = policy.review(triggers, replace(ctx, account=account_after, counters=state.counters))
                for intent, denial in sub.denied:
                    state.orders.append(OrderRecord(leg="", cloid=None, intent=intent, verdict=denial,  # type: ignore[arg-type]
                                                    status="denied", error=f"{denial.reason_code}: {denial.detail}"))
                self._submit(state, sub.approved)
        self._record_fills(state)
        if self.config.dead_man_switch_s:
            try:
                self.exchange.schedule_cancel(ctx.now_ms + self.config.dead_man_switch_s * 1000)
            except VenueError as exc:
                state.errors.append(f"schedule_cancel failed: {exc}")
        return ExecutionReport(
            cycle_id=cycle_id, orders=state.orders, setup=state.setup, fills=state.fills,
            fees=sum((f.fee for f in state.fills), ZERO), errors=state.errors, flags=review.flags,
            account_after=account_after, counters=state.counters.to_state(), canceled_triggers=state.canceled,
        )

    def reconcile_unsettled(self, now_ms: int) -> list[LedgerRow]:
        """Startup: ask the venue, by cloid, about every ledger row left pending or unknown."""
        out = []
        changes: list[Change] = []
        rows = self.ledger.unsettled()
        fills = _VenueFills(self.exchange, rows)
        for row in rows:
            settled = self._reconcile_row(row, now_ms, fills)
            landed = _landed(row, settled)
            if landed is not None:  # orders that landed before a crash count against today's limits
                changes.append(landed)
            out.append(settled)
        if changes:
            update_counters(self.store, lambda counters: _apply(changes, counters))
        return out

    # ---------------------------------------------------------------- internals
    def _submit(self, state: "_CycleState", batch: Sequence[ApprovedOrder]) -> None:
        fresh: list[tuple[str, ApprovedOrder]] = []
        for a in batch:
            leg = state.leg_key(a.intent)
            cloid = cloid_for(state.cycle_id, leg)
            # A cloid names (cycle, leg) and a run numbers its legs afresh, so only an earlier
            # attempt of this cycle can have sent it: its ledger rows were read when the run began.
            row = state.earlier.get(cloid)
            if row is not None:  # sent before (a retry or a restart): ask, never resend
                before, row = row, self._reconcile_row(row, state.now_ms)
                landed = _landed(before, row)
                if landed is not None:
                    state.count(landed)
                state.add(_record(leg, cloid, a, row.status, row.oid, row.filled_size, row.avg_price,
                                            row.error, reconciled=True))
                continue
            fresh.append((leg, a.with_cloid(cloid)))
        if not fresh:
            return
        with self.store.transaction():  # every leg of the batch is on disk before any is sent
            for leg, a in fresh:
                self.ledger.record_pending(a.intent.cloid or "", state.cycle_id, leg, a.intent, state.now_ms)
        orders = [a for _, a in fresh]
        try:
            outcomes = list(self.exchange.place_orders(orders))
        except ValueError as exc:  # the adapter refused before sending (e.g. precision): nothing left us
            state.errors.append(f"place_orders refused the batch before sending: {exc}")
            with self.store.transaction():
                for leg, a in fresh:
                    cloid = a.intent.cloid or ""
                    self.ledger.update(cloid, "rejected", state.now_ms, error=str(exc))
                    state.add(_record(leg, cloid, a, "rejected", None, None, None, str(exc)))
                    state.count(_FAILURE)
                self._save_counters(state)
            return
        except VenueError as exc:
            state.errors.append(f"place_orders failed: {type(exc).__name__}: {exc}")
            fills = _VenueFills(self.exchange, start_ms=state.now_ms)
            for leg, a in fresh:
                cloid = a.intent.cloid or ""
                self.ledger.update(cloid, "unknown", state.now_ms, error=str(exc))
                before = self.ledger.get(cloid)
                row = self._reconcile_row(before, state.now_ms, fills)  # type: ignore[arg-type]
                state.add(_record(leg, cloid, a, row.status, row.oid, row.filled_size, row.avg_price, row.error))
                state.count(_landed(before, row) or _FAILURE)  # type: ignore[arg-type]
            self._save_counters(state)
            return
        if self._after_submit is not None:
            self._after_submit(orders, outcomes)
        # The venue's answers and the counters they move land together (per batch: a crash later
        # in the cycle keeps these counts; a crash before this commit leaves the rows pending, and
        # the restart's reconciliation by cloid counts what landed).
        with self.store.transaction():
            for i, (leg, a) in enumerate(fresh):
                cloid = a.intent.cloid or ""
                outcome = outcomes[i] if i < len(outcomes) else None
                status, oid, size, price, error = _read_outcome(a.intent, outcome)
                self.ledger.update(cloid, status, state.now_ms, oid=oid, filled_size=size, avg_price=price,
                                   error=error)
                state.add(_record(leg, cloid, a, status, oid, size, price, error))
                if status in ("filled", "partial", "resting"):
                    filled = size * price if size is not None and price is not None else a.intent.notional
                    state.count(methodcaller("with_trade", filled, state.now_ms, a.intent.purpose in _OPENING))
                else:
                    state.count(_FAILURE)
            self._save_counters(state)

    def _save_counters(self, state: "_CycleState") -> None:
        state.saved = update_counters(self.store, state.rebase)
        state.settle(state.saved)

    def _reconcile_row(self, row: LedgerRow, now_ms: int, fills: "_VenueFills | None" = None) -> LedgerRow:
        if row.status not in OPEN_STATUSES:
            return row
        try:
            venue = self.exchange.order_status_by_cloid(row.cloid)
        except VenueError as exc:
            return replace(row, error=f"status by cloid failed: {exc}")
        status = {"open": "resting"}.get(venue or "", venue or "not_found")
        size, price = (fills or _VenueFills(self.exchange, [row])).filled(row.cloid) if venue else (None, None)
        if size is not None and status not in ("filled", "resting"):
            status = "partial"  # filled in part, the rest canceled (an IOC that met too little, say)
        self.ledger.update(row.cloid, status, now_ms, filled_size=size, avg_price=price,
                           error=None if venue else "the venue has no order with this cloid")
        return self.ledger.get(row.cloid) or row

    def _setup(self, state: "_CycleState", intents: Sequence[LeverageIntent | TransferIntent]) -> None:
        for n, intent in enumerate(intents):
            try:
                if isinstance(intent, LeverageIntent):
                    self.exchange.set_leverage(intent.coin, intent.leverage, intent.is_cross)
                else:
                    key = cloid_for(state.cycle_id, f"transfer:{n}")
                    if self.store.get(_TRANSFERS_NS, key):
                        state.setup.append(SetupRecord(intent=intent, status="already_done"))
                        continue
                    self.exchange.transfer_usd(intent.amount, intent.to_perp)
                    self.store.put(_TRANSFERS_NS, key, {"cycle_id": state.cycle_id, "amount": intent.amount})
                state.setup.append(SetupRecord(intent=intent, status="done"))
                state.count(_SUCCESS)  # the venue took a signed action
            except VenueError as exc:
                state.setup.append(SetupRecord(intent=intent, status="failed", detail=str(exc)))
                state.errors.append(f"{intent.kind} failed: {exc}")
                state.count(_FAILURE)

    def _cancel(self, state: "_CycleState", intents: Sequence[CancelIntent]) -> None:
        """Cancels the decision asked for, by oid; one the venue no longer holds (filled, or already
        canceled) is recorded as failed, with no penalty on the circuit breaker."""
        for intent in intents:
            try:
                done = self.exchange.cancel(intent.coin, intent.oid)
            except VenueError as exc:
                state.setup.append(SetupRecord(intent=intent, status="failed", detail=str(exc)))
                state.errors.append(f"cancel {intent.coin} oid {intent.oid} failed: {exc}")
                continue
            state.setup.append(SetupRecord(intent=intent, status="done" if done else "failed",
                                           detail="" if done else "the venue holds no such open order"))

    def _account(self, state: "_CycleState") -> AccountState | None:
        try:
            return self.exchange.account_state()
        except VenueError as exc:
            state.errors.append(f"account_state after execution failed: {exc}")
            return None

    def _cancel_old_triggers(self, state: "_CycleState", coins: set[str]) -> None:
        if coins:
            canceled, errors = self.cancel_triggers(coins)
            state.canceled.extend(canceled)
            state.errors.extend(errors)

    def cancel_triggers(self, coins: set[str] | Sequence[str]) -> tuple[list[dict[str, object]], list[str]]:
        """Cancel the TP/SL trigger orders resting for `coins` (the ones an exit or a new position
        makes stale); returns what was canceled ({coin, oid}) and the errors."""
        wanted = set(coins)
        canceled: list[dict[str, object]] = []
        try:
            for o in self.exchange.open_orders():
                if o.is_trigger and o.coin in wanted:
                    self.exchange.cancel(o.coin, o.oid)
                    canceled.append({"coin": o.coin, "oid": o.oid})
        except VenueError as exc:
            return canceled, [f"cancelling old TP/SL orders failed: {exc}"]
        return canceled, []

    def _record_fills(self, state: "_CycleState") -> None:
        if not state.cloids:
            return
        # Only the fills since this cycle's orders went out (or an earlier attempt's did): the venue
        # stamps fills with its own clock, which may run behind ours, hence the slack.
        since = min([r.created_ms for r in state.earlier.values()] + [state.now_ms]) - FILL_CLOCK_SLACK_MS
        try:
            venue_fills = self.exchange.fills(since)
        except VenueError as exc:
            state.errors.append(f"reading fills failed: {exc}")
            return
        ours = []
        for f in venue_fills:
            cloid = f.cloid or state.oids.get(f.oid)
            if cloid is not None and cloid in state.cloids:
                ours.append(f if f.cloid else f.model_copy(update={"cloid": cloid}))
        self.ledger.record_fills(ours)
        state.fills = ours


class _CycleState:
    def __init__(self, cycle_id: str, now_ms: int, counters: RiskCounters,
                 earlier: dict[str, LedgerRow] | None = None, *, base: RiskCounters | None = None,
                 changes: Sequence[Change] = ()) -> None:
        self.cycle_id = cycle_id
        self.now_ms = now_ms
        self.counters = counters
        self.saved: RiskCounters | None = None  # the counters this run last wrote to the store
        # the stored counters this run started from (or last wrote), and its changes since then
        self.base = base if base is not None else counters
        self.changes: list[Change] = list(changes)
        self.canceled: list[dict[str, object]] = []  # stale TP/SL orders canceled
        self.earlier = earlier or {}  # cloid -> the ledger row an earlier attempt of this cycle left
        self.orders: list[OrderRecord] = []
        self.setup: list[SetupRecord] = []
        self.errors: list[str] = []
        self.fills: list[Fill] = []
        self.oids: dict[int, str] = {}  # venue order id -> our cloid, for fills that carry no cloid
        self.cloids: set[str] = set()  # every cloid this run sent or reconciled
        self._legs: dict[str, int] = {}

    def count(self, change: Change) -> None:
        """One step of the risk counters (a trade, a failure, ...), kept so it can be applied again."""
        self.counters = change(self.counters)
        self.changes.append(change)

    def rebase(self, stored: RiskCounters) -> RiskCounters:
        """The counters to write over `stored`: this run's own when the store still holds what the
        run started from; else another process (a manual order while the agent runs) counted
        something meanwhile, and this run's steps are applied again on top of what it wrote."""
        return self.counters if stored == self.base else _apply(self.changes, stored)

    def settle(self, written: RiskCounters) -> None:
        self.counters = self.base = written
        self.changes = []

    def add(self, record: OrderRecord) -> None:
        self.orders.append(record)
        if record.cloid:
            self.cloids.add(record.cloid)
            if record.oid is not None:
                self.oids[record.oid] = record.cloid

    def leg_key(self, o: OrderIntent) -> str:
        """`purpose:coin:side[:tpsl]:n`: stable when a retried cycle plans the same legs again."""
        base = f"{o.purpose.value}:{o.coin}:{o.side.value}" + (f":{o.trigger.tpsl.value}" if o.trigger else "")
        n = self._legs.get(base, 0)
        self._legs[base] = n + 1
        return f"{base}:{n}"


_FAILURE: Change = methodcaller("with_failure")
_SUCCESS: Change = methodcaller("with_success")


class _VenueFills:
    """The account's fills since the earliest of some ledger rows was written, read from the venue
    once and only when first needed, to tell what each of those orders filled (by cloid)."""

    def __init__(self, exchange: ExchangePort, rows: Sequence[LedgerRow] = (), start_ms: int | None = None) -> None:
        self._exchange = exchange
        self._start_ms = start_ms if start_ms is not None else min((r.created_ms for r in rows), default=0)
        self._fills: list[Fill] | None = None
        self._failed = False

    def filled(self, cloid: str) -> tuple[Decimal | None, Decimal | None]:
        """The size and average price the order `cloid` filled, or (None, None) when it has no
        fill or the fills cannot be read (its status alone then stands)."""
        if self._fills is None and not self._failed:
            try:
                self._fills = list(self._exchange.fills(start_ms=self._start_ms))
            except VenueError:
                self._failed = True
        cloid = cloid.lower()
        mine = [f for f in self._fills or () if (f.cloid or "").lower() == cloid]
        size = sum((f.size for f in mine), Decimal(0))
        if not size:
            return None, None
        return size, sum((f.size * f.price for f in mine), Decimal(0)) / size


def _apply(changes: Sequence[Change], counters: RiskCounters) -> RiskCounters:
    return reduce(lambda c, change: change(c), changes, counters)


def _landed(before: LedgerRow, after: LedgerRow) -> Change | None:
    """An order whose outcome was lost (a crash, a timeout) and that the venue says landed: the step
    that counts it now, or None.

    It counts as a trade at the time it was sent (daily notional, trades per hour, cooldown), at
    what filled when the venue's fills say (else at the order's notional), and as a success for the
    circuit breaker; rows that were already settled are not counted twice.
    """
    if before.status not in OPEN_STATUSES or after.status not in ("filled", "partial", "resting"):
        return None
    done = after.filled_size * after.avg_price if after.filled_size is not None and after.avg_price is not None \
        else after.intent.notional
    return methodcaller("with_landed_trade", done, before.created_ms, after.intent.purpose in _OPENING)


def _is_reduction(o: OrderIntent) -> bool:
    return o.purpose is not OrderPurpose.PROTECT and (o.reduce_only or o.purpose in (OrderPurpose.REDUCE, OrderPurpose.CLOSE))


def _read_outcome(intent: OrderIntent, outcome: OrderOutcome | None) -> tuple[str, int | None, Decimal | None, Decimal | None, str | None]:
    match outcome:
        case Filled(oid=oid, total_size=size, avg_price=price):
            return ("filled" if size >= intent.size else "partial"), oid, size, price, None
        case Resting(oid=oid):
            return "resting", oid, None, None, None
        case Rejected(error=error):
            return "rejected", None, None, None, error
        case _:
            return "unknown", None, None, None, "the venue returned no status for this order"


def _record(leg: str, cloid: str, a: ApprovedOrder, status: str, oid: int | None, size: Decimal | None,
            price: Decimal | None, error: str | None, reconciled: bool = False) -> OrderRecord:
    return OrderRecord(leg=leg, cloid=cloid, intent=a.intent.model_copy(update={"cloid": cloid}), verdict=a.verdict,
                       status=status, oid=oid, filled_size=size, avg_price=price, error=error, reconciled=reconciled)
