"""Fills of orders no cycle sent, found at the start of the next cycle.

A resting limit or a TP/SL trigger that fills between two cycles, an order placed by hand, or
the venue liquidating the account changes it without any cycle's executor seeing the fill.
`OutsideFills` asks the venue for the fills since the newest one a record holds and keeps the
ones that are not the pipeline's own, so each fill lands in exactly one cycle record, also
across restarts: where the reads stand (`position`) is saved with every cycle record, and a
new process goes on from there. The orders ledger is no such point: it also holds the fills
of orders placed by hand (`hl-agent order`) and those a cycle read before a crash cut it
short, which no record holds yet. A cycle that crashed after saving the position is recorded
at restart with the fills it had read (`recovered`).

It asks only when the holdings moved since the last cycle ended, since any fill moves a
position or a spot balance, and after a cycle that traded or whose holdings moved while it
acted (another order may have filled meanwhile). Fills that cancel out are found by the
next read, which starts where the last one did; a read that failed is retried at the next
cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from hyperliquid_agent.app.status import AGENT_NS
from hyperliquid_agent.domain import AccountState, Fill, OrderPurpose
from hyperliquid_agent.execution import FILL_CLOCK_SLACK_MS
from hyperliquid_agent.orders_ledger import OrdersLedger, fill_key

OWN_FILLS_KEPT = 1000  # own fills remembered between reads; past this, the venue is asked anyway
POSITION_KEY = "outside_fills"  # kv[agent/outside_fills]: where the reads stand as of the last record
_UNREAD = -1  # `seen_ms` before the saved position was consulted


def holdings(account: AccountState) -> tuple:
    """What any fill changes: the signed perp positions and the spot balances."""
    return (tuple([(p.coin, p.size) for p in account.positions if p.size]),
            tuple([(b.coin, b.total) for b in account.spot_balances]))


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
    _saved: tuple | None = field(default=None, repr=False)  # (seen_ms, own) as last saved

    def _start(self) -> None:
        """Where the reads stand for a new process: the saved position, else (a state dir from before
        positions were saved) the newest fill in the ledger."""
        if self.seen_ms != _UNREAD:
            return
        saved = self.ledger.store.get(AGENT_NS, POSITION_KEY)
        if saved:
            self.seen_ms = saved.get("seen_ms")
            self.own = {str(k): int(t) for k, t in (saved.get("own") or {}).items()}
            self._saved = (self.seen_ms, dict(self.own))
        else:
            self.seen_ms = self.ledger.last_fill_ms()

    def read(self, exchange: Any, now_ms: int, account: AccountState, errors: list[str]) -> list[Fill]:
        """The new fills of other orders, recorded in the ledger; problems go to `errors` (the cycle goes on)."""
        if holdings(account) == self.holdings_after and len(self.own) < OWN_FILLS_KEPT and not self.retry:
            return []
        self.retry = True  # until this read is recorded
        self._start()
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

    def cycle_done(self, own_fills: Sequence[Fill], account_after: AccountState | None,
                   account_before: AccountState | None = None) -> None:
        """The cycle's own fills (its record holds them) and the holdings it left. Those count as
        explained (the next cycle need not ask) only when the cycle left them as it read them
        (`account_before`, where this cycle's read stands): a cycle that traded or moved the venue
        may have seen another order fill on the way (a TP/SL trigger), so the next cycle asks."""
        self.own.update((fill_key(f), f.time_ms) for f in own_fills)
        explained = (account_after is not None and not own_fills and account_before is not None
                     and holdings(account_after) == holdings(account_before))
        self.holdings_after = holdings(account_after) if explained else None

    def save(self, cycle_id: str, outside: Sequence[Fill], force: bool = False) -> None:
        """Save the position once cycle `cycle_id`'s record is built (`outside`: the fills it read),
        before the record is written: a crash in between is recovered with `recovered`."""
        if self.seen_ms == _UNREAD or (not force and not outside and self._saved == (self.seen_ms, self.own)):
            return
        self.ledger.store.put(AGENT_NS, POSITION_KEY, {
            "cycle_id": cycle_id, "seen_ms": self.seen_ms, "own": self.own,
            "outside": [fill_key(f) for f in outside]})
        self._saved = (self.seen_ms, dict(self.own))

    def recovered(self, cycle_id: str, own_fills: Sequence[Fill]) -> list[Fill]:
        """A crash cut cycle `cycle_id` short; its record (rebuilt at restart) holds `own_fills`. Returns
        the fills of other orders it had read, when it got as far as saving the position; the rest are
        read again by the next cycle."""
        self._start()
        saved = self.ledger.store.get(AGENT_NS, POSITION_KEY) or {}
        outside = self.ledger.fills_by_key(saved.get("outside") or ()) if saved.get("cycle_id") == cycle_id else []
        self.own.update((fill_key(f), f.time_ms) for f in own_fills if self.seen_ms is None or f.time_ms > self.seen_ms)
        self.save(cycle_id, outside, force=True)
        return outside
