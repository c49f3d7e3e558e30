"""Per-plan scorecards and post-mortems (pure): how did this plan actually do?

The app feeds each plan's card with equity marks, fills (with the mid at decision time,
for slippage) and funding payments; when the plan ends, `post_mortem` freezes a summary
that the history keeps. Money stays Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain import Fill, Position, Side, ZERO
from hyperliquid_agent.governance.plan import pct_below

_MONEY_FIELDS = ("start_equity", "last_equity", "peak_equity", "max_drawdown_pct", "realized_pnl", "fees",
                 "funding", "turnover_usd", "slippage_usd")


@dataclass
class Scorecard:
    plan_id: str
    strategy_id: str
    started_ms: int
    start_equity: Decimal
    last_equity: Decimal = ZERO
    peak_equity: Decimal = ZERO
    max_drawdown_pct: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # closed PnL from fills
    fees: Decimal = ZERO
    funding: Decimal = ZERO  # positive = paid
    turnover_usd: Decimal = ZERO
    slippage_usd: Decimal = ZERO  # paid versus the mid (negative = price improvement)
    trades: int = 0
    wins: int = 0
    losses: int = 0
    switches: int = 0  # plan changes made while this card was open (0 or 1: the switch that ended it)
    last_ms: int = 0
    ended_ms: int | None = None
    end_reason: str = ""

    def __post_init__(self) -> None:
        if self.last_equity == 0:
            self.last_equity = self.start_equity
        if self.peak_equity == 0:
            self.peak_equity = self.start_equity
        if not self.last_ms:
            self.last_ms = self.started_ms

    # ---------------------------------------------------------------- feeding

    def mark(self, equity: Decimal, now_ms: int) -> Decimal:
        """Record the portfolio value at `now_ms` (drawdown is measured on these marks); returns
        the drawdown at this mark (`drawdown_pct`)."""
        self.last_equity = equity
        self.last_ms = now_ms
        if equity > self.peak_equity:
            self.peak_equity = equity
        elif equity < self.peak_equity:
            drawdown = self.drawdown_pct
            if drawdown > self.max_drawdown_pct:
                self.max_drawdown_pct = drawdown
            return drawdown
        return ZERO  # at its peak: no drawdown, nothing to divide

    def record_fill(self, fill: Fill, mid: Decimal | None = None) -> None:
        self.trades += 1
        self.fees += fill.fee
        self.turnover_usd += fill.price * fill.size
        self.realized_pnl += fill.closed_pnl
        if fill.closed_pnl > 0:
            self.wins += 1
        elif fill.closed_pnl < 0:
            self.losses += 1
        if mid is not None:
            # a buy above the mid or a sell below it costs money
            self.slippage_usd += (fill.price - mid) * fill.size * (1 if fill.side is Side.BUY else -1)

    def record_funding(self, amount: Decimal) -> None:
        """A funding payment; positive = paid by us."""
        self.funding += amount

    # ---------------------------------------------------------------- results

    @property
    def pnl(self) -> Decimal:
        """Change in equity since the plan started (fees and funding included)."""
        return self.last_equity - self.start_equity

    @property
    def drawdown_pct(self) -> Decimal:
        """How far the last mark sits below this plan's peak, in percent (0 at a new peak)."""
        return max(pct_below(self.peak_equity, self.last_equity), ZERO)

    @property
    def hit_rate(self) -> float | None:
        decided = self.wins + self.losses
        return None if decided == 0 else self.wins / decided

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "plan_id": self.plan_id, "strategy_id": self.strategy_id, "started_ms": self.started_ms,
            "last_ms": self.last_ms, "ended_ms": self.ended_ms, "end_reason": self.end_reason,
            "pnl": plain_text(self.pnl),
            "return_pct": format((self.pnl / self.start_equity * 100) if self.start_equity else ZERO, ".4f"),
            "hit_rate": None if self.hit_rate is None else round(self.hit_rate, 4),
            "trades": self.trades, "wins": self.wins, "losses": self.losses, "switches": self.switches,
            "duration_minutes": (self.last_ms - self.started_ms) // 60_000,
        }
        for name in _MONEY_FIELDS:
            value = getattr(self, name)
            out[name] = format(value, ".4f") if name == "max_drawdown_pct" else plain_text(value)
        return out

    def post_mortem(self, now_ms: int, reason: str, switched: bool = True) -> dict[str, Any]:
        """Close the card and return its summary with a one-line verdict."""
        self.ended_ms = now_ms
        self.last_ms = max(self.last_ms, now_ms)
        self.end_reason = reason
        if switched:
            self.switches += 1
        s = self.summary()
        costs = self.fees + self.funding + max(self.slippage_usd, ZERO)
        s["costs_usd"] = plain_text(costs)
        s["verdict"] = (
            f"{self.strategy_id}: {'gained' if self.pnl >= 0 else 'lost'} {abs(self.pnl):.2f} USD over "
            f"{s['duration_minutes']} min, max drawdown {self.max_drawdown_pct:.2f}%, "
            f"{self.trades} trades, costs {costs:.2f} USD; ended: {reason}"
        )
        return s

    # ---------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        d = {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scorecard":
        kwargs = dict(d)
        for name in _MONEY_FIELDS:
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = Decimal(kwargs[name])
        return cls(**kwargs)


@dataclass
class Scorekeeper:
    """The open scorecard of the active plan plus the post-mortems of ended ones.

    It also remembers each perp position's cumulative funding (`Position.cum_funding`, paid
    since the position opened) so `observe_funding` can book what was paid in between."""

    current: Scorecard | None = None
    finished: list[dict[str, Any]] = field(default_factory=list)  # not yet persisted
    funding_seen: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # coin -> (size, cum_funding)

    def start(self, plan_id: str, strategy_id: str, now_ms: int, equity: Decimal) -> Scorecard:
        if self.current is not None and self.current.ended_ms is None:
            self.finished.append(self.current.post_mortem(now_ms, f"replaced by {plan_id}"))
        self.current = Scorecard(plan_id=plan_id, strategy_id=strategy_id, started_ms=now_ms, start_equity=equity)
        return self.current

    def end(self, now_ms: int, reason: str) -> dict[str, Any] | None:
        if self.current is None or self.current.ended_ms is not None:
            return None
        pm = self.current.post_mortem(now_ms, reason, switched=False)
        self.finished.append(pm)
        return pm

    def observe_funding(self, positions: Iterable[Position], record: bool = True,
                        forget: Iterable[str] = ()) -> Decimal:
        """Book the funding paid since the last observation into the open card and remember
        where each position's cumulative funding stands now. Returns the amount booked.

        The venue counts funding since a position opened, so a position that is new, gone or
        on the other side since the last look starts over (nothing booked for it: its
        count restarted). `record=False` only takes the reference point (after our own
        trades, which may have reopened a position); coins in `forget` lose theirs (traded
        with no account read back, so where their count stands is unknown)."""
        booked = ZERO
        seen: dict[str, tuple[Decimal, Decimal]] = {}
        for p in positions:
            if p.size == 0:
                continue
            before = self.funding_seen.get(p.coin)
            if record and before is not None and (before[0] > 0) == (p.size > 0):
                booked += p.cum_funding - before[1]
            seen[p.coin] = (p.size, p.cum_funding)
        for coin in forget:
            seen.pop(coin, None)
        self.funding_seen = seen
        card = self.current
        if booked and card is not None and card.ended_ms is None:
            card.record_funding(booked)
        return booked

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current.to_dict() if self.current else None,
                "funding_seen": {c: [plain_text(size), plain_text(cum)]
                                 for c, (size, cum) in sorted(self.funding_seen.items())}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Scorekeeper":
        cur = (d or {}).get("current")
        seen = {c: (Decimal(size), Decimal(cum)) for c, (size, cum) in ((d or {}).get("funding_seen") or {}).items()}
        return cls(current=Scorecard.from_dict(cur) if cur else None, funding_seen=seen)


__all__ = ["Scorecard", "Scorekeeper"]
