"""Tripwires and the trading state (pure): what the engine may do this cycle, and why.

| code                   | condition                                                   | outcome        |
|------------------------|-------------------------------------------------------------|----------------|
| daily_loss_cap         | equity down >= daily_loss_pct from the UTC day-start equity | halt           |
| max_drawdown           | equity down >= max_drawdown_pct from its peak               | cut, then freeze |
| margin_ratio           | perp margin used / perp equity >= max_margin_ratio          | cut, then freeze |
| liquidation_distance   | a perp's mark within min_liquidation_distance_pct of liq.   | cut, then freeze |
| stale_data             | market data older than stale_data_s, or the account stale   | freeze         |
| api_failures           | max_api_failures consecutive venue failures                 | halt           |
| plan_invalidated       | an invalidation trigger of the active plan fired            | force review   |

Outcomes: freeze = REDUCING (no new risk); cut = scale exposure to cut_floor_pct of what
it is, once per episode, then freeze until the condition clears by a 10% margin; halt =
HALTED (no orders); force review = open a plan review now. Spot holdings never count toward the perp margin checks. Conditions are
re-evaluated every cycle; the daily loss cap resets at 00:00 UTC with a new day-start equity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Mapping

from hyperliquid_agent.config import TripwireConfig
from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain import AccountState, TargetEntry, ZERO
from hyperliquid_agent.domain.account import perp_margin
from hyperliquid_agent.governance.plan import Key, pct_below, target_key

DAY_MS = 86_400_000
_Q = Decimal("0.0001")


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only trades that reduce exposure
    HALTED = "HALTED"  # no trades


class TripOutcome(StrEnum):
    FREEZE = "freeze"
    CUT = "cut"
    HALT = "halt"
    FORCE_REVIEW = "force_review"


@dataclass(frozen=True)
class Trip:
    code: str
    outcome: TripOutcome
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "outcome": self.outcome.value, "detail": self.detail}


@dataclass(frozen=True)
class TripwireInputs:
    account: AccountState
    mids: Mapping[str, Decimal]
    now_ms: int
    last_data_ms: int | None  # time of the newest market data we hold
    api_failures: int = 0  # consecutive
    plan_invalidated: str | None = None  # the trigger that fired, if any


@dataclass
class TripwireState:
    day_start_ms: int | None = None
    day_start_equity: Decimal | None = None
    peak_equity: Decimal | None = None
    cut_done: list[str] = field(default_factory=list)  # cut trips already applied in this episode
    trading_state: TradingState = TradingState.ACTIVE
    trips: list[dict[str, str]] = field(default_factory=list)  # the last report's trips
    updated_ms: int | None = None
    frozen_ms: int | None = None  # when the max_drawdown cut held now was made (its freeze began)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day_start_ms": self.day_start_ms,
            "day_start_equity": None if self.day_start_equity is None else plain_text(self.day_start_equity),
            "peak_equity": None if self.peak_equity is None else plain_text(self.peak_equity),
            "cut_done": list(self.cut_done),
            "trading_state": self.trading_state.value,
            "trips": list(self.trips),
            "updated_ms": self.updated_ms,
            "frozen_ms": self.frozen_ms,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "TripwireState":
        if not d:
            return cls()
        dse, peak = d.get("day_start_equity"), d.get("peak_equity")
        return cls(
            day_start_ms=d.get("day_start_ms"),
            day_start_equity=None if dse is None else Decimal(dse),
            peak_equity=None if peak is None else Decimal(peak),
            cut_done=list(d.get("cut_done", [])),
            trading_state=TradingState(d.get("trading_state", "ACTIVE")),
            trips=list(d.get("trips", [])),
            updated_ms=d.get("updated_ms"),
            frozen_ms=d.get("frozen_ms"),
        )


@dataclass(frozen=True)
class TripwireReport:
    state: TradingState
    trips: tuple[Trip, ...] = ()
    cut_floor_pct: Decimal | None = None  # set when exposure must be cut this cycle
    notes: tuple[str, ...] = ()  # what changed besides the trips (a re-armed drawdown)

    @property
    def force_review(self) -> bool:
        return any(t.outcome is TripOutcome.FORCE_REVIEW for t in self.trips)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.trips)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "trips": [t.to_dict() for t in self.trips],
            "cut_floor_pct": None if self.cut_floor_pct is None else plain_text(self.cut_floor_pct),
            "notes": list(self.notes),
        }


# governed orders fill the perp margin up to this share of max_margin_ratio (`planning_margin_ratio`),
# and a cut's freeze lifts when its condition is back inside this share of its limit
PLANNING_HEADROOM = Decimal("0.9")

_CLEAR = TripwireReport(state=TradingState.ACTIVE)  # nothing tripped (frozen: one for every such cycle)


def _margin_trips(inputs: TripwireInputs, config: TripwireConfig) -> list[Trip]:
    account, mids = inputs.account, inputs.mids
    perps = [p for p in account.positions if p.size != 0]
    if not perps:
        return []  # spot holdings alone never trigger a perp margin cut
    trips: list[Trip] = []
    used, equity = perp_margin(account, mids)
    ratio = used / equity if equity > 0 else Decimal("Infinity")
    if ratio >= config.max_margin_ratio:
        shown = "no perp equity left" if equity <= 0 else f"{ratio:.3f}"
        trips.append(Trip("margin_ratio", TripOutcome.CUT,
                          f"perp margin used / perp equity = {shown} >= {config.max_margin_ratio}"))
    for p, mid, dist in _liquidation_distances(perps, mids):
        if dist < config.min_liquidation_distance_pct:
            trips.append(Trip("liquidation_distance", TripOutcome.CUT,
                              f"{p.coin} mark {mid} is {dist:.2f}% from liquidation at {p.liquidation_price} "
                              f"(< {config.min_liquidation_distance_pct}%)"))
    return trips


def _liquidation_distances(perps: Iterable[Any], mids: Mapping[str, Decimal]) -> Iterable[tuple[Any, Decimal, Decimal]]:
    """(position, mid, percent from the mid to its liquidation price) of each perp that has both."""
    for p in perps:
        mid = mids.get(p.coin)
        if p.liquidation_price is not None and mid is not None and mid > 0:
            yield p, mid, abs(mid - p.liquidation_price) / mid * 100


def _not_clear(code: str, inputs: TripwireInputs, state: "TripwireState", config: TripwireConfig) -> str | None:
    """Why the condition of a cut made earlier in this episode has not cleared by the margin yet
    (None: it has). The margin is PLANNING_HEADROOM: the drawdown and the margin ratio back under 90%
    of their limits, every perp's distance to liquidation over its limit / 0.9."""
    if code == "max_drawdown":
        line = config.max_drawdown_pct * PLANNING_HEADROOM
        dd = pct_below(state.peak_equity, inputs.account.portfolio_value)
        if dd >= line:
            return (f"drawdown {dd:.2f}% from peak {state.peak_equity:.2f} after a cut: frozen until below "
                    f"{plain_text(line)}%")
        return None
    perps = [p for p in inputs.account.positions if p.size != 0]
    if not perps:
        return None
    if code == "margin_ratio":
        line = planning_margin_ratio(config)
        used, equity = perp_margin(inputs.account, inputs.mids)
        if equity <= 0 or used / equity >= line:
            shown = "no perp equity left" if equity <= 0 else f"{used / equity:.3f}"
            return f"perp margin used / perp equity = {shown} after a cut: frozen until below {plain_text(line)}"
        return None
    if code == "liquidation_distance":
        line = config.min_liquidation_distance_pct / PLANNING_HEADROOM
        for p, mid, dist in _liquidation_distances(perps, inputs.mids):
            if dist < line:
                return (f"{p.coin} mark {mid} is {dist:.2f}% from liquidation at {p.liquidation_price} after a cut: "
                        f"frozen until over {line:.2f}%")
    return None


def evaluate_tripwires(
    inputs: TripwireInputs, state: TripwireState, config: TripwireConfig
) -> tuple[TripwireState, TripwireReport]:
    """Check every tripwire; returns the new state (to persist) and this cycle's report."""
    now, equity = inputs.now_ms, inputs.account.portfolio_value
    day = now - now % DAY_MS
    new = TripwireState(
        day_start_ms=state.day_start_ms, day_start_equity=state.day_start_equity,
        peak_equity=state.peak_equity, updated_ms=now,
    )
    if new.day_start_ms != day or new.day_start_equity is None:
        new.day_start_ms, new.day_start_equity = day, equity
    if new.peak_equity is None or equity > new.peak_equity:
        new.peak_equity = equity
    notes: tuple[str, ...] = ()
    hours = config.drawdown_rearm_hours
    if (hours is not None and "max_drawdown" in state.cut_done and state.frozen_ms is not None
            and now - state.frozen_ms >= hours * 3_600_000):
        # frozen that long: the drawdown counts from here (a book that may only shrink seldom recovers)
        state = replace(state, cut_done=[c for c in state.cut_done if c != "max_drawdown"], frozen_ms=None)
        notes = (f"max_drawdown re-armed after {hours} h frozen (drawdown_rearm_hours): the drawdown now "
                 f"counts from {equity:.2f}, the peak was {new.peak_equity:.2f}",)
        new.peak_equity = equity
    trips: list[Trip] = []

    # (the caps are positive: equity at or above the reference is no loss, and needs no division)
    if equity < new.day_start_equity and (loss := pct_below(new.day_start_equity, equity)) >= config.daily_loss_pct:
        trips.append(Trip("daily_loss_cap", TripOutcome.HALT, f"down {loss:.2f}% since the UTC day start "
                          f"({new.day_start_equity:.2f}); cap {config.daily_loss_pct}%"))
    if equity < new.peak_equity and (dd := pct_below(new.peak_equity, equity)) >= config.max_drawdown_pct:
        trips.append(Trip("max_drawdown", TripOutcome.CUT,
                          f"drawdown {dd:.2f}% from peak {new.peak_equity:.2f} >= {config.max_drawdown_pct}%"))
    trips.extend(_margin_trips(inputs, config))
    age_ms = None if inputs.last_data_ms is None else now - inputs.last_data_ms
    if inputs.account.stale or age_ms is None or age_ms > config.stale_data_s * 1000:
        why = "the account snapshot is stale" if inputs.account.stale else (
            "no market data" if age_ms is None else f"market data is {age_ms // 1000} s old")
        trips.append(Trip("stale_data", TripOutcome.FREEZE, f"{why} (limit {config.stale_data_s} s)"))
    if inputs.api_failures >= config.max_api_failures:
        trips.append(Trip("api_failures", TripOutcome.HALT,
                          f"{inputs.api_failures} consecutive API failures (limit {config.max_api_failures})"))
    if inputs.plan_invalidated:
        trips.append(Trip("plan_invalidated", TripOutcome.FORCE_REVIEW,
                          f"invalidation trigger fired: {inputs.plan_invalidated}"))

    # a cut's episode lasts until its condition clears by a margin, not the first reading a hair
    # inside the limit: else the plan buys its book back and the next wobble cuts it again
    tripped = {t.code for t in trips}
    held: list[str] = []
    for code in state.cut_done:
        why = None if code in tripped else _not_clear(code, inputs, new, config)
        if why is not None:
            held.append(code)
            trips.append(Trip(code, TripOutcome.FREEZE, why))

    if not trips:  # the usual cycle: ACTIVE, and a cut episode (if any) is over
        return new, (TripwireReport(state=TradingState.ACTIVE, notes=notes) if notes else _CLEAR)

    # a cut applies once per episode; while its condition holds it then only freezes
    cut_codes = [t.code for t in trips if t.outcome is TripOutcome.CUT]
    fresh_cut = any(c not in state.cut_done for c in cut_codes)
    new.cut_done = cut_codes + held
    if "max_drawdown" in new.cut_done:  # the freeze began with its cut (this cycle's, or held from then)
        new.frozen_ms = state.frozen_ms if "max_drawdown" in state.cut_done and state.frozen_ms is not None else now
    trips = [t if t.outcome is not TripOutcome.CUT or fresh_cut else Trip(t.code, TripOutcome.FREEZE, t.detail)
             for t in trips]
    outcomes = {t.outcome for t in trips}
    if TripOutcome.HALT in outcomes:
        ts = TradingState.HALTED
    elif outcomes & {TripOutcome.FREEZE, TripOutcome.CUT}:
        ts = TradingState.REDUCING
    else:
        ts = TradingState.ACTIVE
    new.trading_state = ts
    new.trips = [t.to_dict() for t in trips]
    report = TripwireReport(state=ts, trips=tuple(trips),
                            cut_floor_pct=config.cut_floor_pct if TripOutcome.CUT in outcomes else None, notes=notes)
    return new, report


def rearm(state: TripwireState, equity: Decimal, now_ms: int) -> TripwireState:
    """The state after `hl-agent gov rearm`: the drawdown counts from `equity` (a new peak), the
    day's loss from `equity` too, and no cut episode is held, so a freeze lifts at the next cycle
    unless its condition holds anew there (which cuts again)."""
    return replace(state, peak_equity=equity, day_start_equity=equity, cut_done=[], frozen_ms=None,
                   trading_state=TradingState.ACTIVE, trips=[], updated_ms=now_ms)


def planning_margin_ratio(config: TripwireConfig) -> Decimal:
    """The margin ratio the portfolio planner keeps governed orders under: 90% of
    max_margin_ratio. Orders that filled the margin to the tripwire's own ratio would trip it
    (a cut, then the plan's targets bought back at the next cycle, then a cut again, every
    cycle), and a price move right after them would too."""
    return config.max_margin_ratio * PLANNING_HEADROOM


def restrict_targets(
    targets: Iterable[TargetEntry], current_pct: Mapping[Key, Decimal], report: TripwireReport
) -> list[TargetEntry]:
    """Apply the trading state to a target book.

    ACTIVE: unchanged. HALTED: hold what is held (no orders). REDUCING: each line may only
    move toward flat (never grow, never flip); a cut also caps it at cut_floor_pct of now.
    """
    given = {target_key(t): t for t in targets}
    if report.state is TradingState.ACTIVE:
        return list(given.values())
    out: list[TargetEntry] = []
    for key in list(given) + [k for k in current_pct if k not in given]:
        cur = current_pct.get(key, ZERO)
        t = given.get(key)
        lev = t.leverage if t is not None else None
        if report.state is TradingState.HALTED:
            pct = cur
        else:
            want = t.target_pct if t is not None else ZERO
            if cur == 0 or (want > 0) != (cur > 0) or want == 0:
                pct = ZERO
            else:
                pct = want if abs(want) <= abs(cur) else cur
            if report.cut_floor_pct is not None:
                cap = abs(cur) * report.cut_floor_pct / 100
                if abs(pct) > cap:
                    pct = cap if cur > 0 else -cap
        out.append(TargetEntry(coin=key[0], target_pct=pct.quantize(_Q), market_type=key[1], leverage=lev))
    return out


__all__ = [
    "Trip", "TripOutcome", "TripwireInputs", "TripwireReport", "TripwireState", "TradingState",
    "evaluate_tripwires", "planning_margin_ratio", "rearm", "restrict_targets",
]
