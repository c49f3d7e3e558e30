"""The SQLite state store: one file under `agent.state_dir`, shared by every part.

A namespaced key/value table holds small JSON state (governor, risk counters, ...);
modules that keep ledgers (LLM calls, orders, fills) create their own tables through
`ensure_schema`. Every write commits at once (crash-only: kill -9 loses nothing
already written). JSON encodes Decimal as a string; read it back with Decimal(...).
The kv table is the store's own: it is written only through `put`, `put_text`,
`put_many_text` and `delete`, never with `execute`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from hyperliquid_agent.errors import StateError

STATE_DB_NAME = "state.sqlite"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


# one encoder per key order for every write (json.dumps with `default=` would build a new one per call)
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"), sort_keys=True)
_ENCODER_AS_BUILT = json.JSONEncoder(default=_json_default, separators=(",", ":"))

_UPSERT = "INSERT INTO kv(ns, key, value) VALUES(?,?,?) ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value"


@lru_cache(maxsize=16)
def _upsert_rows(count: int) -> str:
    """`_UPSERT` for `count` rows in one statement."""
    return _UPSERT.replace("VALUES(?,?,?)", "VALUES" + ",".join(["(?,?,?)"] * count))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def dumps_as_built(value: Any) -> str:
    """`dumps` with each object's keys in the order the value holds them, not sorted: cheaper, for
    state that is only read back with `get` (the same value), never compared as text."""
    return _ENCODER_AS_BUILT.encode(value)


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (ns, key))"
            )
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state store {self.path} is unreadable ({exc}). Move it aside to start fresh; "
                "nothing was changed."
            ) from None
        self._lock = threading.RLock()
        self._schemas: set[str] = set()
        # an in-memory database is this store's alone (no other process writes it), so its kv rows
        # are read once and then kept as last read or written: (ns, key) -> text, None when missing
        self._kv_seen: dict[tuple[str, str], str | None] | None = {} if str(path) == ":memory:" else None

    @classmethod
    def in_dir(cls, state_dir: str | Path) -> "StateStore":
        return cls(Path(state_dir) / STATE_DB_NAME)

    @classmethod
    def memory(cls) -> "StateStore":
        return cls(":memory:")

    # ---- key/value
    def get(self, ns: str, key: str, default: Any = None) -> Any:
        text = self.get_text(ns, key)
        return json.loads(text) if text is not None else default

    def get_text(self, ns: str, key: str) -> str | None:
        """`get` before decoding: the stored JSON text (None when missing)."""
        with self._lock:
            if self._kv_seen is not None and (ns, key) in self._kv_seen:
                return self._kv_seen[ns, key]
            row = self._conn.execute("SELECT value FROM kv WHERE ns=? AND key=?", (ns, key)).fetchone()
            text = row[0] if row else None
            self._seen(ns, key, text)
        return text

    def put(self, ns: str, key: str, value: Any) -> None:
        self.put_text(ns, key, dumps(value))

    def put_text(self, ns: str, key: str, text: str) -> None:
        """`put` for a value the caller already encoded as JSON text (`dumps` or `dumps_as_built`)."""
        with self._lock:
            self._conn.execute(_UPSERT, (ns, key, text))
            self._seen(ns, key, text)

    def put_many_text(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """`put_text` for several (ns, key, text) entries in one statement: they land together
        (outside a `transaction` too, without the BEGIN and COMMIT statements one would cost)."""
        rows = list(entries)
        if rows:
            with self._lock:
                self._conn.execute(_upsert_rows(len(rows)), [v for row in rows for v in row])
                for ns, key, text in rows:
                    self._seen(ns, key, text)

    def delete(self, ns: str, key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM kv WHERE ns=? AND key=?", (ns, key))
            self._seen(ns, key, None)

    def _seen(self, ns: str, key: str, text: str | None) -> None:
        """A kv row as now read or written (kept only for an in-memory database)."""
        if self._kv_seen is not None:
            self._kv_seen[ns, key] = text

    def items(self, ns: str) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM kv WHERE ns=? ORDER BY key", (ns,)).fetchall()
        return {k: json.loads(v) for k, v in rows}

    # ---- module-owned tables
    def ensure_schema(self, name: str, ddl: str) -> None:
        """Run a module's CREATE TABLE IF NOT EXISTS script once per connection."""
        if name in self._schemas:
            return
        with self._lock:
            self._conn.executescript(ddl)
            self._schemas.add(name)

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        """One write statement run once per row of parameters; returns how many rows it changed."""
        with self._lock:
            return self._conn.executemany(sql, rows).rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Several writes that land together or not at all (`put`, `delete` and `execute` on this
        store inside the block, from the same thread, join the transaction). It takes the write lock
        at once, so what the block reads no other process can change before it commits. A block
        inside another joins the outer one."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._kv_seen is not None:
                    self._kv_seen.clear()  # the rows the block wrote are undone: read them again
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
