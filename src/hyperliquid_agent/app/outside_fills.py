"""Fills of orders no cycle sent, found at the start of the next cycle.

A resting limit or a TP/SL trigger that fills between two cycles, an order placed by hand, or
the venue liquidating the account changes it without any cycle's executor seeing the fill.
`OutsideFills` asks the venue for the fills since the newest one a record holds and keeps the
ones that are not the pipeline's own, so each fill lands in exactly one cycle record (also
across restarts: the starting point is then the newest fill in the orders ledger).

It asks only when the holdings moved since the last cycle ended, since any fill moves a
position or a spot balance. Fills that cancel out are found by the next read, which starts
where the last one did; a read that failed is retried at the next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from hyperliquid_agent.domain import AccountState, Fill, OrderPurpose
from hyperliquid_agent.execution import FILL_CLOCK_SLACK_MS
from hyperliquid_agent.orders_ledger import OrdersLedger, fill_key

OWN_FILLS_KEPT = 1000  # own fills remembered between reads; past this, the venue is asked anyway
_UNREAD = -1  # `seen_ms` before the ledger was consulted


def holdings(account: AccountState) -> tuple:
    """What any fill changes: the signed perp positions and the spot balances."""
    return (tuple((p.coin, p.size) for p in account.positions if p.size),
            tuple((b.coin, b.total) for b in account.spot_balances))


def liquidated(fills: Sequence[Fill]) -> tuple[str, ...]:
    """The coins the venue liquidated us on among `fills`."""
    return tuple(sorted({f.coin for f in fills if f.liquidation}))


@dataclass
class OutsideFills:
    ledger: OrdersLedger
    seen_ms: int | None = _UNREAD  # venue time up to which every fill is accounted for (None: no fill yet)
    own: dict[str, int] = field(default_factory=dict)  # fill key -> time of our own fills a read may return
    holdings_after: tuple | None = None  # as the last cycle left them (None: unknown)
    retry: bool = False  # the last read failed

    def read(self, exchange: Any, now_ms: int, account: AccountState, errors: list[str]) -> list[Fill]:
        """The new fills of other orders, recorded in the ledger; problems go to `errors` (the cycle goes on)."""
        if holdings(account) == self.holdings_after and len(self.own) < OWN_FILLS_KEPT and not self.retry:
            return []
        self.retry = True  # until this read is recorded
        if self.seen_ms == _UNREAD:
            self.seen_ms = self.ledger.last_fill_ms()
        start = now_ms - FILL_CLOCK_SLACK_MS if self.seen_ms is None else self.seen_ms + 1
        try:
            venue = [f for f in exchange.fills(start) if f.time_ms >= start]  # (a venue may send more)
        except Exception as exc:
            errors.append(f"reading fills: {type(exc).__name__}: {exc}")
            return []
        outside = [f for f in venue if fill_key(f) not in self.own]
        if outside:
            try:
                self.ledger.record_fills(outside)
            except Exception as exc:
                errors.append(f"recording fills: {type(exc).__name__}: {exc}")
                return []
        # everything before `start` is accounted for now, even when nothing came back (a fresh state
        # must not keep asking for only the last few minutes)
        self.seen_ms = max([start - 1, *(f.time_ms for f in venue)])
        self.own = {k: t for k, t in self.own.items() if t > self.seen_ms}
        self.retry = False
        return outside

    def exits(self, outside: Sequence[Fill]) -> tuple[str, ...]:
        """The coins among `outside` whose fill came from one of our TP/SL trigger orders, or
        from the venue liquidating us (`liquidated`)."""
        coins = set(liquidated(outside))
        for f in outside:
            row = self.ledger.get(f.cloid) if f.cloid else None
            if row is not None and row.intent.purpose is OrderPurpose.PROTECT:
                coins.add(f.coin)
        return tuple(sorted(coins))

    def cycle_done(self, own_fills: Sequence[Fill], account_after: AccountState | None) -> None:
        """The cycle's own fills (its record holds them) and the holdings it left."""
        self.own.update((fill_key(f), f.time_ms) for f in own_fills)
        self.holdings_after = holdings(account_after) if account_after is not None else None
