"""The cost ledger: every LLM call as a row in the state store, and summaries of them.

Rows outlive the process (the `llm_calls` table of `state.sqlite`), so `hl-agent costs`
reports across restarts. Costs are stored as decimal strings and summed as Decimal;
a call whose model has no price keeps its tokens and a NULL cost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any, Iterable

from hyperliquid_agent.store import StateStore

# `id` is the rowid: rows are never deleted, so each new id is the largest plus one, in call
# order. (Files made before this note have it AUTOINCREMENT: the same ids, plus a sqlite_sequence
# row rewritten on every insert.)
DDL = """
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    run_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd TEXT,
    latency_ms REAL NOT NULL DEFAULT 0,
    request_id TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    note TEXT
);
CREATE INDEX IF NOT EXISTS llm_calls_day ON llm_calls(day);
CREATE INDEX IF NOT EXISTS llm_calls_run ON llm_calls(run_id);
"""

DAY_MS = 86_400_000

# ok: a usable reply; invalid: billed but not the schema; error: no reply; blocked: the budget stopped it
STATUSES = ("ok", "invalid", "error", "blocked")
BILLED = ("ok", "invalid")
GROUPS = ("model", "day", "purpose")


def utc_day(ts_ms: int) -> str:
    return _day_name(ts_ms // DAY_MS)


@lru_cache(maxsize=16)
def _day_name(day: int) -> str:
    """"YYYY-MM-DD" of a day since the epoch (every call of a day asks for the same one: cached)."""
    return datetime.fromtimestamp(day * DAY_MS // 1000, tz=timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class CallRecord:
    ts_ms: int
    run_id: str
    purpose: str
    provider: str
    model: str
    status: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    request_id: str | None = None
    replayed: bool = False
    note: str | None = None  # why: the error, the budget reason, "fallback model ..."

    @property
    def day(self) -> str:
        return utc_day(self.ts_ms)


def _totals(rows: list[CallRecord]) -> dict[str, Any]:
    billed = [r for r in rows if r.status in BILLED]
    priced = [r.cost_usd for r in billed if r.cost_usd is not None]
    total = sum(priced, Decimal(0))
    return {
        "total_calls": len(billed),
        "total_input_tokens": sum(r.input_tokens for r in billed),
        "total_output_tokens": sum(r.output_tokens for r in billed),
        "total_cached_input_tokens": sum(r.cached_input_tokens for r in billed),
        "total_reasoning_tokens": sum(r.reasoning_tokens for r in billed),
        "total_cost_usd": total,
        # over the priced calls only: an unpriced call's cost is unknown, not $0
        "avg_cost_per_call": (total / len(priced)) if priced else Decimal(0),
        "unpriced_calls": len(billed) - len(priced),
        "replayed_calls": sum(1 for r in billed if r.replayed),
        "failed_calls": sum(1 for r in rows if r.status == "error"),
        "blocked_calls": sum(1 for r in rows if r.status == "blocked"),
    }


def summarize(rows: Iterable[CallRecord]) -> dict[str, Any]:
    """Totals plus the same totals by model, by UTC day and by purpose.

    `total_cost_usd` sums the priced calls and `avg_cost_per_call` averages them; `unpriced_calls`
    counts billed calls whose model has no price (their tokens are counted, their cost is unknown).
    """
    rows = list(rows)
    out = _totals(rows)
    for group in GROUPS:
        buckets: dict[str, list[CallRecord]] = defaultdict(list)
        for r in rows:
            buckets[r.day if group == "day" else getattr(r, group)].append(r)
        out[f"by_{group}"] = {k: _totals(v) for k, v in sorted(buckets.items())}
    return out


_FIELDS = tuple(f.name for f in fields(CallRecord))
_INSERT = (f"INSERT INTO llm_calls ({', '.join(_FIELDS + ('day',))})"
           f" VALUES ({', '.join('?' * (len(_FIELDS) + 1))})")
_row_values = attrgetter(*_FIELDS)  # every field of a record as a tuple, in one call
_COST, _REPLAYED = _FIELDS.index("cost_usd"), _FIELDS.index("replayed")


class CostLedger:
    """Append-only call log in the state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.ensure_schema("llm_calls", DDL)

    def record(self, rec: CallRecord) -> None:
        row = list(_row_values(rec))  # every field is a scalar: no deep copy
        row[_COST] = format(rec.cost_usd, "f") if rec.cost_usd is not None else None
        row[_REPLAYED] = int(rec.replayed)
        row.append(rec.day)
        self.store.execute(_INSERT, tuple(row))

    def rows(self, since_day: str | None = None, run_id: str | None = None) -> list[CallRecord]:
        sql = ("SELECT ts_ms, run_id, purpose, provider, model, status, input_tokens, cached_input_tokens,"
               " cache_write_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms, request_id,"
               " replayed, note FROM llm_calls")
        where, params = [], []
        if since_day is not None:
            where.append("day >= ?")
            params.append(since_day)
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for row in self.store.execute(sql + " ORDER BY id", tuple(params)):
            vals = list(row)
            vals[11] = Decimal(vals[11]) if vals[11] is not None else None
            vals[14] = bool(vals[14])
            out.append(CallRecord(*vals))
        return out

    def summary(self, since_day: str | None = None) -> dict[str, Any]:
        return summarize(self.rows(since_day=since_day))

    def spent_on_day(self, day: str) -> Decimal:
        rows = self.store.execute(
            "SELECT cost_usd FROM llm_calls WHERE day = ? AND cost_usd IS NOT NULL AND status IN ('ok','invalid')",
            (day,),
        )
        return sum((Decimal(r[0]) for r in rows), Decimal(0))
