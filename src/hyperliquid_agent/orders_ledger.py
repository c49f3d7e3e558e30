"""The orders ledger: every order intent with its cloid, written BEFORE it is submitted.

A row starts as `pending` (we may or may not have reached the venue), then becomes what the
venue said: `resting`, `filled`, `partial` (filled less than asked), `rejected`, or a status
learned later by cloid (`canceled`, ...). `unknown` means the submit failed in a way that
leaves it unclear; a retry or restart reconciles such rows by cloid and never resubmits them.
Fills (with fees) sit in their own table keyed by the venue's trade id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from hyperliquid_agent.domain import Fill, OrderIntent, to_decimal
from hyperliquid_agent.store import StateStore, dumps

_DDL = """
CREATE TABLE IF NOT EXISTS orders_ledger (
  cloid TEXT PRIMARY KEY,
  cycle_id TEXT NOT NULL,
  leg TEXT NOT NULL,
  coin TEXT NOT NULL,
  intent TEXT NOT NULL,
  status TEXT NOT NULL,
  oid INTEGER,
  filled_size TEXT,
  avg_price TEXT,
  error TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_ledger_cycle ON orders_ledger(cycle_id);
CREATE INDEX IF NOT EXISTS orders_ledger_status ON orders_ledger(status);
CREATE TABLE IF NOT EXISTS order_fills (
  fill_key TEXT PRIMARY KEY,
  cloid TEXT,
  oid INTEGER NOT NULL,
  coin TEXT NOT NULL,
  fill TEXT NOT NULL,
  fee TEXT NOT NULL,
  time_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS order_fills_cloid ON order_fills(cloid);
"""

OPEN_STATUSES = ("pending", "unknown")  # not yet known to have reached (or missed) the venue


@dataclass(frozen=True)
class LedgerRow:
    cloid: str
    cycle_id: str
    leg: str
    coin: str
    intent: OrderIntent
    status: str
    oid: int | None
    filled_size: Decimal | None
    avg_price: Decimal | None
    error: str | None
    created_ms: int
    updated_ms: int


class OrdersLedger:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.ensure_schema("orders_ledger", _DDL)

    def record_pending(self, cloid: str, cycle_id: str, leg: str, intent: OrderIntent, now_ms: int) -> None:
        """Write the intent before it is sent; a second call for the same cloid changes nothing."""
        self.store.execute(
            "INSERT OR IGNORE INTO orders_ledger(cloid, cycle_id, leg, coin, intent, status, created_ms, updated_ms)"
            " VALUES(?,?,?,?,?,?,?,?)",
            (cloid, cycle_id, leg, intent.coin, dumps(intent.model_dump(mode="json")), "pending", now_ms, now_ms),
        )

    def update(
        self,
        cloid: str,
        status: str,
        now_ms: int,
        *,
        oid: int | None = None,
        filled_size: Decimal | None = None,
        avg_price: Decimal | None = None,
        error: str | None = None,
    ) -> None:
        self.store.execute(
            "UPDATE orders_ledger SET status=?, oid=COALESCE(?, oid), filled_size=COALESCE(?, filled_size),"
            " avg_price=COALESCE(?, avg_price), error=?, updated_ms=? WHERE cloid=?",
            (status, oid, _s(filled_size), _s(avg_price), error, now_ms, cloid),
        )

    def get(self, cloid: str) -> LedgerRow | None:
        rows = self.store.execute(f"SELECT {_COLS} FROM orders_ledger WHERE cloid=?", (cloid,))
        return _row(rows[0]) if rows else None

    def for_cycle(self, cycle_id: str) -> list[LedgerRow]:
        rows = self.store.execute(f"SELECT {_COLS} FROM orders_ledger WHERE cycle_id=? ORDER BY rowid", (cycle_id,))
        return [_row(r) for r in rows]

    def unsettled(self) -> list[LedgerRow]:
        """Rows whose venue status we do not know yet (startup reconciliation reads these)."""
        marks = ",".join("?" for _ in OPEN_STATUSES)
        rows = self.store.execute(
            f"SELECT {_COLS} FROM orders_ledger WHERE status IN ({marks}) ORDER BY rowid", OPEN_STATUSES
        )
        return [_row(r) for r in rows]

    def recent(self, limit: int = 50) -> list[LedgerRow]:
        rows = self.store.execute(f"SELECT {_COLS} FROM orders_ledger ORDER BY rowid DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    # ---- fills
    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Store fills once each (keyed by trade id, else oid+time+size), in one transaction; returns
        how many were new."""
        rows = [(fill_key(f), f.cloid, f.oid, f.coin, dumps(f.model_dump(mode="json")), format(f.fee, "f"), f.time_ms)
                for f in fills]
        if not rows:
            return 0
        with self.store.transaction():
            return self.store.executemany(
                "INSERT OR IGNORE INTO order_fills(fill_key, cloid, oid, coin, fill, fee, time_ms)"
                " VALUES(?,?,?,?,?,?,?)", rows)

    def last_fill_ms(self) -> int | None:
        """The venue time of the newest fill recorded (None when none is)."""
        rows = self.store.execute("SELECT MAX(time_ms) FROM order_fills")
        return rows[0][0] if rows else None

    def fills_by_key(self, keys: Iterable[str]) -> list[Fill]:
        """The recorded fills with these `fill_key`s (unknown keys are left out)."""
        return self._fills_where("fill_key", keys)

    def fills_for(self, cloids: Iterable[str]) -> list[Fill]:
        return self._fills_where("cloid", cloids)

    def _fills_where(self, column: str, values: Iterable[str]) -> list[Fill]:
        """The recorded fills whose `column` (fill_key or cloid) is one of `values`, in time order."""
        wanted = list(values)
        if not wanted:
            return []
        marks = ",".join("?" for _ in wanted)
        rows = self.store.execute(
            f"SELECT fill FROM order_fills WHERE {column} IN ({marks}) ORDER BY time_ms, rowid", tuple(wanted)
        )
        return [Fill.model_validate_json(r[0]) for r in rows]

_COLS = "cloid, cycle_id, leg, coin, intent, status, oid, filled_size, avg_price, error, created_ms, updated_ms"


def fill_key(f: Fill) -> str:
    """What tells one fill from another: the venue's trade id, else its order, time, size and price."""
    return str(f.tid) if f.tid is not None else f"{f.oid}:{f.time_ms}:{f.size}:{f.price}"


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _row(r: tuple) -> LedgerRow:
    return LedgerRow(
        cloid=r[0], cycle_id=r[1], leg=r[2], coin=r[3], intent=OrderIntent.model_validate_json(r[4]),
        status=r[5], oid=r[6], filled_size=None if r[7] is None else to_decimal(r[7]),
        avg_price=None if r[8] is None else to_decimal(r[8]), error=r[9], created_ms=r[10], updated_ms=r[11],
    )
