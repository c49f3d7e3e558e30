"""What the agent last knew, saved every cycle and read back by `hl-agent status`.

The loop writes a status snapshot (account, positions, plan, regime, trading state) to
the state store after each cycle; `read_status` reads it with today's LLM cost and
never starts anything: no venue, no LLM, no clock other than for "today".
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from hyperliquid_agent.audit import audit_path, read_records
from hyperliquid_agent.llm.ledger import utc_day
from hyperliquid_agent.store import STATE_DB_NAME, StateStore

AGENT_NS = "agent"
STATUS_KEY = "status"


def save_status(store: StateStore, snapshot: dict[str, Any]) -> None:
    store.put(AGENT_NS, STATUS_KEY, snapshot)


def load_status(store: StateStore) -> dict[str, Any] | None:
    return store.get(AGENT_NS, STATUS_KEY)


def llm_cost_for_day(store: StateStore | None, state_dir: Path, day: str, ledger_day: str | None = None) -> dict[str, Any]:
    """LLM calls and USD cost on one UTC day.

    From the LLM cost ledger when it exists (calls are stamped with the wall clock, so
    `ledger_day` is today's date); else summed from the audit trail by cycle time `day`
    (a paper session's clock)."""
    if store is not None and _has_table(store, "llm_calls"):
        from hyperliquid_agent.llm.ledger import CostLedger

        wanted = ledger_day or day
        row = CostLedger(store).summary(since_day=wanted).get("by_day", {}).get(wanted) or {}
        return {"day": wanted, "calls": int(row.get("total_calls", 0)),
                "cost_usd": format(Decimal(str(row.get("total_cost_usd", 0))), "f"), "source": "ledger"}
    calls, cost = 0, Decimal(0)
    for rec in read_records(audit_path(state_dir)):
        if utc_day(int(rec.get("time_ms") or 0)) != day:
            continue
        llm = rec.get("llm") or {}
        calls += int(llm.get("calls") or 0)
        cost += Decimal(str(llm.get("cost_usd") or "0"))
    return {"day": day, "calls": calls, "cost_usd": format(cost, "f"), "source": "audit"}


def _has_table(store: StateStore, name: str) -> bool:
    return bool(store.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)))


def read_status(state_dir: str | Path, now_ms: int | None = None) -> dict[str, Any]:
    """The status report as plain data; `running` is False when no agent has saved state yet."""
    state_dir = Path(state_dir)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    db = state_dir / STATE_DB_NAME
    if not db.exists():
        return {"state_dir": str(state_dir), "has_state": False,
                "message": f"no agent state in {state_dir}: start one with `hl-agent run`"}
    store = StateStore(db)
    try:
        snap = load_status(store) or {}
        day = utc_day(int(snap.get("time_ms") or now_ms))
        report: dict[str, Any] = {"state_dir": str(state_dir), "has_state": bool(snap)}
        report.update(snap)
        report["llm_today"] = llm_cost_for_day(store, state_dir, day, ledger_day=utc_day(now_ms))
        report["stopped_at_ms"] = store.get(AGENT_NS, "stopped_at_ms")
        report["running_pid"] = running_pid(state_dir)
        return report
    finally:
        store.close()


def running_pid(state_dir: Path) -> int | None:
    """The pid of the agent holding the state dir's lock, None when no agent runs on it."""
    import fcntl
    import os

    path = state_dir / "agent.lock"
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
