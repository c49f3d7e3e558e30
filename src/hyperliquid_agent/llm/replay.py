"""Record/replay of LLM replies, keyed by a sha256 of provider, model, messages, schema, temperature.

The store is its own SQLite file under the state dir (`llm.replay.path`). A hit returns
the recorded content bit for bit and costs $0; a miss raises in strict mode, or calls
the wrapped provider (and records its reply) in fallthrough mode. Recording wraps any
real provider (`llm.replay.record = true`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from hyperliquid_agent.errors import LLMError, StateError
from hyperliquid_agent.llm.types import LLMRequest, Provider, RawReply, Usage

DDL = """
CREATE TABLE IF NOT EXISTS llm_replay (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    content TEXT NOT NULL,
    usage TEXT NOT NULL,
    request_id TEXT,
    refusal TEXT,
    recorded_ms INTEGER NOT NULL
)
"""


class ReplayMissError(LLMError):
    """No recorded reply for these inputs (strict replay)."""


def _request_doc(provider: str, request: LLMRequest) -> dict:
    return {
        "provider": provider,
        "model": request.model,
        "messages": [dict(m) for m in request.messages],
        "schema": request.json_schema,
        "temperature": request.temperature,
    }


def replay_key(provider: str, request: LLMRequest) -> str:
    doc = json.dumps(_request_doc(provider, request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


class ReplayStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(DDL)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"replay store {self.path} is unreadable ({exc}). Move it aside to record anew.") from None
        self._lock = threading.Lock()

    def get(self, key: str) -> RawReply | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT content, usage, model, request_id, refusal FROM llm_replay WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        content, usage, model, request_id, refusal = row
        return RawReply(content=content, usage=Usage(**json.loads(usage)), model=model,
                        request_id=request_id, refusal=refusal, replayed=True)

    def put(self, key: str, provider: str, request: LLMRequest, reply: RawReply) -> None:
        doc = json.dumps(_request_doc(provider, request), sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO llm_replay(key, provider, model, request, content, usage, request_id,"
                " refusal, recorded_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                (key, provider, request.model, doc, reply.content, json.dumps(asdict(reply.usage)),
                 reply.request_id, reply.refusal, int(time.time() * 1000)),
            )

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM llm_replay").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class RecordingProvider:
    """Wraps a real provider and records every reply it gives."""

    def __init__(self, inner: Provider, store: ReplayStore) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        reply = self.inner.complete(request, timeout_s)
        self.store.put(replay_key(self.inner.name, request), self.inner.name, request, reply)
        return reply


class ReplayProvider:
    """Serves recorded replies of `source` (the provider they were recorded from)."""

    name = "replay"

    def __init__(self, store: ReplayStore, source: str, mode: str = "strict", wrapped: Provider | None = None) -> None:
        self.store = store
        self.source = source
        self.mode = mode
        self.wrapped = RecordingProvider(wrapped, store) if wrapped is not None else None

    def complete(self, request: LLMRequest, timeout_s: float) -> RawReply:
        key = replay_key(self.source, request)
        hit = self.store.get(key)
        if hit is not None:
            return hit
        if self.mode == "fallthrough" and self.wrapped is not None:
            return replace(self.wrapped.complete(request, timeout_s), replayed=False)
        raise ReplayMissError(
            f"no recorded reply for this {self.source}/{request.model} request (key {key[:12]}) in "
            f"{self.store.path}. Record it first with llm.replay.record = true on provider {self.source}, "
            "or set llm.replay.mode = \"fallthrough\" to call the real provider on a miss."
        )
