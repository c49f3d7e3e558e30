"""Governance state in the StateStore, and the event calendar file: the I/O edge of the pure
governance core (which stays free of files, SQLite and clocks).

Current state sits in the kv namespace "governance" (keys: governor, tripwires,
scorekeeper); histories get their own append-only tables (regime readings, ended plans
with their post-mortems). `save` writes all current state in one transaction, so a
crash never leaves a plan without its dwell clock.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Mapping

from hyperliquid_agent.config import GovernanceConfig
from hyperliquid_agent.errors import read_config_text
from hyperliquid_agent.governance.calendar import CalendarEvent, parse_calendar
from hyperliquid_agent.governance.governor import Governor
from hyperliquid_agent.governance.regime import RegimeReading
from hyperliquid_agent.governance.scorekeeper import Scorekeeper
from hyperliquid_agent.governance.tripwires import TripwireState
from hyperliquid_agent.store import STATE_DB_NAME, StateStore, dumps, dumps_as_built

NS = "governance"
REARM_KEY = "rearm_request"  # see `request_rearm`
# `id` is the rowid: rows are never deleted, so each new id is the largest plus one, in order.
# (Files made before this note have it AUTOINCREMENT: the same ids, plus a sqlite_sequence row
# rewritten on every save.)
_DDL = """
CREATE TABLE IF NOT EXISTS gov_regime_history (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL, raw TEXT NOT NULL, confidence REAL NOT NULL, confirmed TEXT NOT NULL,
    changed INTEGER NOT NULL, source TEXT NOT NULL, event TEXT
);
CREATE TABLE IF NOT EXISTS gov_plan_history (
    id INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL, ended_ms INTEGER, kind TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gov_plan_history_plan ON gov_plan_history(plan_id);
"""
_INSERT_REGIME = (
    "INSERT INTO gov_regime_history(time_ms, raw, confidence, confirmed, changed, source, event)"
    " VALUES(?,?,?,?,?,?,?)"
)
_INSERT_HISTORY = "INSERT INTO gov_plan_history(plan_id, ended_ms, kind, body) VALUES(?,?,?,?)"


def load_calendar_file(path: str | Path) -> tuple[CalendarEvent, ...]:
    """Read the event calendar named by `[governance.regime] calendar`."""
    p = Path(path)
    text = read_config_text(p, "event calendar", f"event calendar {p} not found (set by [governance.regime] "
                            "calendar). Create it from calendar.example.toml or remove the key.")
    return parse_calendar(text, str(p))


class CalendarFile:
    """The calendar file of a running agent: read at start, re-read whenever it changes on
    disk (its size or modification time), so an edit takes effect without a restart."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None

    def _now_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None  # load_calendar_file says what is wrong
        return st.st_mtime_ns, st.st_size

    def load(self) -> tuple[CalendarEvent, ...]:
        """The events now. Raises ConfigError naming the file and every bad entry."""
        stamp = self._now_stamp()
        events = load_calendar_file(self.path)
        self._stamp = stamp
        return events

    def reload_if_changed(self) -> tuple[CalendarEvent, ...] | None:
        """The events when the file changed since the last good read, else None. A bad edit
        raises ConfigError each time it is checked (the caller keeps the events it had)."""
        if self._stamp is not None and self._now_stamp() == self._stamp:
            return None
        return self.load()


class GovernanceStore:
    def __init__(self, store: StateStore, create: bool = True) -> None:
        self.store = store
        # the value last written per (ns, key): this process owns these keys while it runs
        self._written: dict[tuple[str, str], Any] = {}
        self._plan_text: tuple[dict[str, Any], str] | None = None  # see `_governor_text`
        if create:
            store.ensure_schema("governance", _DDL)

    @classmethod
    def open_existing(cls, state_dir: str | Path) -> "GovernanceStore | None":
        """For read-only commands: None when no state file exists yet (nothing is created)."""
        path = Path(state_dir) / STATE_DB_NAME
        if not path.is_file():
            return None
        return cls(StateStore(path), create=False)

    # ---------------------------------------------------------------- writes

    def save(
        self,
        governor: Governor | None = None,
        tripwires: TripwireState | None = None,
        scorekeeper: Scorekeeper | None = None,
        readings: Iterable[RegimeReading] = (),
        extra: Mapping[tuple[str, str], Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """Write current state, the new regime `readings` and `extra` kv entries ((ns, key) ->
        value), and drain the ended plans / finished scorecards into history: all in one
        transaction. `state` holds the plain data of the three objects when the caller already
        made it (keys governor, tripwires, scorekeeper). A value equal to what this store last
        wrote for its key is neither encoded nor written again (most cycles change the scorecard
        and tripwires, rarely the governor). Written values are kept: do not change them after."""
        state = state or {}
        values: dict[tuple[str, str], Any] = {}
        if governor is not None:
            values[(NS, "governor")] = state["governor"] if "governor" in state else governor.to_state()
        if tripwires is not None:
            values[(NS, "tripwires")] = state["tripwires"] if "tripwires" in state else tripwires.to_dict()
        if scorekeeper is not None:
            values[(NS, "scorekeeper")] = state["scorekeeper"] if "scorekeeper" in state else scorekeeper.to_dict()
        values.update(extra or {})
        changed = {k: v for k, v in values.items() if k not in self._written or self._written[k] != v}
        ended = list(governor.ended) if governor is not None else []
        finished = list(scorekeeper.finished) if scorekeeper is not None else []
        regime_rows = [_regime_row(r) for r in readings]
        if changed or ended or finished or regime_rows:
            # everything encoded before the write lock is taken; one statement call per table
            texts = [(ns, key, self._governor_text(value) if (ns, key) == (NS, "governor") else dumps_as_built(value))
                     for (ns, key), value in changed.items()]
            history = [_history_row(plan, "plan") for plan in ended]
            history += [_history_row(pm, "post_mortem") for pm in finished]
            if regime_rows or history:
                with self.store.transaction():
                    if regime_rows:
                        self.store.executemany(_INSERT_REGIME, regime_rows)
                    self.store.put_many_text(texts)
                    if history:
                        self.store.executemany(_INSERT_HISTORY, history)
            else:  # most cycles: the kv rows alone, one statement (atomic by itself)
                self.store.put_many_text(texts)
            self._written.update(changed)  # only once committed: a failed write is retried next time
        if governor is not None:
            governor.ended.clear()
        if scorekeeper is not None:
            scorekeeper.finished.clear()

    def _governor_text(self, state: Mapping[str, Any]) -> str:
        """The governor state as JSON, its active plan (most of the text) encoded once per plan:
        `Governor.plan_state` shares one unchanging dict per plan, so the same dict has the same text."""
        plan = state.get("active_plan")
        if plan is None or len(state) == 1:
            return dumps_as_built(state)
        if self._plan_text is None or self._plan_text[0] is not plan:
            self._plan_text = (plan, dumps_as_built(plan))
        rest = dumps_as_built({k: v for k, v in state.items() if k != "active_plan"})
        return '{"active_plan":' + self._plan_text[1] + "," + rest[1:]  # rest: "{" + its items

    def record_regime(self, reading: RegimeReading) -> None:
        self.store.execute(_INSERT_REGIME, _regime_row(reading))

    def request_rearm(self, requested: str) -> None:
        """Ask the agent to re-arm its tripwires at its next cycle (`hl-agent gov rearm`; `requested`:
        when and by whom, for the record). A key of its own: a running agent's saves leave it be."""
        self.store.put(NS, REARM_KEY, {"requested": requested})

    def take_rearm_request(self) -> dict[str, Any] | None:
        """The pending re-arm request, removed (None when there is none)."""
        request = self.store.get(NS, REARM_KEY)
        if request is not None:
            self.store.delete(NS, REARM_KEY)
        return request

    # ---------------------------------------------------------------- reads

    def governor_state(self) -> dict[str, Any] | None:
        return self.store.get(NS, "governor")

    def load_governor(self, config: GovernanceConfig, *args: Any, **kwargs: Any) -> Governor:
        """The saved governor; further arguments as `Governor(config, risk, events, coins, regime_client)`."""
        return Governor.from_state(config, self.governor_state(), *args, **kwargs)

    def load_tripwires(self) -> TripwireState:
        return TripwireState.from_dict(self.store.get(NS, "tripwires"))

    def load_scorekeeper(self) -> Scorekeeper:
        return Scorekeeper.from_dict(self.store.get(NS, "scorekeeper"))

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self.store.execute(sql, params)
        except sqlite3.OperationalError as exc:  # opened read-only before any history was written
            if "no such table" in str(exc):
                return []
            raise

    def regime_history(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT time_ms, raw, confidence, confirmed, changed, source, event FROM gov_regime_history"
            " ORDER BY id DESC LIMIT ?", (limit,),
        )
        return [
            {"time_ms": r[0], "raw": r[1], "confidence": r[2], "confirmed": r[3], "changed": bool(r[4]),
             "source": r[5], "event": r[6]}
            for r in reversed(rows)
        ]

    def plan_history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Ended plans, newest first, each with its post-mortem when one was recorded."""
        rows = self._rows("SELECT plan_id, kind, body FROM gov_plan_history ORDER BY id DESC LIMIT ?", (4 * limit,))
        by_plan: dict[str, dict[str, Any]] = {}
        order: list[str] = []
        for plan_id, kind, body in rows:
            if plan_id not in by_plan:
                by_plan[plan_id] = {"plan_id": plan_id, "plan": None, "post_mortem": None}
                order.append(plan_id)
            slot = "plan" if kind == "plan" else "post_mortem"
            if by_plan[plan_id][slot] is None:
                by_plan[plan_id][slot] = json.loads(body)
        return [by_plan[p] for p in order[:limit]]

    def close(self) -> None:
        self.store.close()


def _regime_row(reading: RegimeReading) -> tuple[Any, ...]:
    return (reading.time_ms, reading.raw.value, float(reading.confidence), reading.confirmed.value,
            int(reading.changed), reading.source, reading.event)


def _history_row(body: dict[str, Any], kind: str) -> tuple[Any, ...]:
    return body["plan_id"], body.get("ended_ms"), kind, dumps(body)


__all__ = ["CalendarFile", "GovernanceStore", "NS", "load_calendar_file"]
