"""The run loop: ticks, fast/medium/slow loops, crash-only bookkeeping, graceful stop.

Each tick runs one cycle through a `CycleRunner` (see `cycle.py`), then:
the audit record is appended (fsynced), the status snapshot and the schedule are saved
in the state store, and the canonical log line is written. Before a cycle acts, a
"pending" marker with its id is saved; a restart that finds one (kill -9 mid-cycle)
asks the runner to reconcile that cycle with the venue (`recover`) and records it,
so nothing is lost and nothing is sent twice. A stop request (SIGINT/SIGTERM) lets
the current cycle finish and persist, then the loop returns.

The clocks (`app.paper`): a stepped simulated venue for paper sessions (no waiting),
the wall clock for testnet and mainnet.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from hyperliquid_agent.app.status import AGENT_NS, load_status, save_status
from hyperliquid_agent.audit import AuditWriter, last_record
from hyperliquid_agent.logs import log_cycle
from hyperliquid_agent.prompts import format_timestamp
from hyperliquid_agent.store import StateStore

PENDING_KEY = "pending_cycle"
SEQ_KEY = "seq"
SCHEDULE_KEY = "schedule"


class CycleRunner(Protocol):
    def run(self, cycle_id: str, seq: int, now_ms: int, loops: tuple[str, ...]) -> dict[str, Any]:
        """Run one cycle; return its plain audit record. Never raises for a failed cycle."""
        ...

    def recover(self, pending: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Reconcile a cycle interrupted by a crash; return its audit record."""
        ...


class LoopClock(Protocol):
    def now_ms(self) -> int: ...

    def wait_until(self, t_ms: int, stop: threading.Event) -> None: ...


@dataclass(frozen=True)
class Schedule:
    """When each loop runs. Standard mode: one kind of cycle every `tick_s`."""

    mode: str
    tick_s: int
    medium_s: int | None = None
    slow_s: int | None = None

    def due(self, now_ms: int, last: dict[str, int]) -> tuple[str, ...]:
        if self.mode != "governed":
            return ("standard",)
        loops = ["fast"]
        for name, every in (("medium", self.medium_s), ("slow", self.slow_s)):
            prev = last.get(name)
            # a small tolerance so a tick that lands a few ms early still counts
            if every is not None and (prev is None or now_ms - prev >= every * 1000 - 1000):
                loops.append(name)
        return tuple(loops)


@dataclass
class LoopResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[dict[str, Any]] = field(default_factory=list)
    stopped_by_signal: bool = False
    data_exhausted: bool = False  # a paper session reached the end of its market data


def iso(ms: int) -> str:
    return format_timestamp(ms)


class AgentLoop:
    def __init__(
        self,
        runner: CycleRunner,
        store: StateStore,
        audit: AuditWriter,
        clock: LoopClock,
        schedule: Schedule,
        logger: Any = None,
        max_cycles: int | None = None,
        stop: threading.Event | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.runner, self.store, self.audit, self.clock = runner, store, audit, clock
        self.schedule, self.logger, self.max_cycles = schedule, logger, max_cycles
        self.stop = stop or threading.Event()
        self.on_record = on_record

    # ---- crash-only bookkeeping
    def _next_seq(self) -> int:
        seq = int(self.store.get(AGENT_NS, SEQ_KEY, 0)) + 1
        self.store.put(AGENT_NS, SEQ_KEY, seq)
        return seq

    def recover_pending(self) -> dict[str, Any] | None:
        """Reconcile and record a cycle a crash interrupted (called at startup)."""
        pending = self.store.get(AGENT_NS, PENDING_KEY)
        if not pending:
            return None
        last = last_record(self.audit.path)
        if last is not None and last.get("cycle_id") == pending.get("cycle_id"):
            # the crash came after the record was written: the cycle is complete
            self.store.delete(AGENT_NS, PENDING_KEY)
            return None
        record = self.runner.recover(pending, self.clock.now_ms())
        self._persist(record)
        self.store.delete(AGENT_NS, PENDING_KEY)
        return record

    def _persist(self, record: dict[str, Any]) -> dict[str, Any]:
        snapshot = record.pop("status_snapshot", None)  # for the state store, not the trail
        written = self.audit.append(record)
        if snapshot:
            snapshot = self.audit.scrub(snapshot)
            if snapshot.get("partial"):  # keep the last known account, plan and regime
                snapshot = {**(load_status(self.store) or {}), **snapshot}
            save_status(self.store, snapshot)
        if self.logger is not None:
            log_cycle(self.logger, written)
        if self.on_record is not None:
            self.on_record(written)
        return written

    # ---- the loop
    def run(self) -> LoopResult:
        result = LoopResult()
        rec = self.recover_pending()
        if rec is not None:
            result.recovered.append(rec)
        self.store.delete(AGENT_NS, "stopped_at_ms")
        last: dict[str, int] = dict(self.store.get(AGENT_NS, SCHEDULE_KEY, {}) or {})
        done = 0
        while not self.stop.is_set() and (self.max_cycles is None or done < self.max_cycles):
            now_ms = self.clock.now_ms()
            loops = self.schedule.due(now_ms, last)
            seq = self._next_seq()
            cycle_id = f"c{seq:06d}"
            self.store.put(AGENT_NS, PENDING_KEY, {"cycle_id": cycle_id, "seq": seq, "now_ms": now_ms,
                                                   "loops": list(loops)})
            try:
                record = self.runner.run(cycle_id, seq, now_ms, loops)
            except Exception as exc:  # a bug, not a venue or LLM fault: record it, hold, go on
                record = {"cycle_id": cycle_id, "seq": seq, "time_ms": now_ms, "time": iso(now_ms),
                          "mode": self.schedule.mode, "loops": list(loops), "decision": {"summary": "hold: cycle crashed"},
                          "orders": [], "errors": [f"cycle: {type(exc).__name__}: {exc}"]}
            result.records.append(self._persist(record))
            for name in loops:
                last[name] = now_ms
            with self.store.transaction():  # schedule and "cycle done" land together
                self.store.put(AGENT_NS, SCHEDULE_KEY, last)
                self.store.delete(AGENT_NS, PENDING_KEY)
            done += 1
            if self.max_cycles is not None and done >= self.max_cycles:
                break
            self.clock.wait_until(now_ms + self.schedule.tick_s * 1000, self.stop)
        result.data_exhausted = bool(getattr(self.clock, "exhausted", False))
        result.stopped_by_signal = self.stop.is_set() and not result.data_exhausted
        self.store.put(AGENT_NS, "stopped_at_ms", self.clock.now_ms())
        return result
