"""Record/replay of LLM replies, keyed by a sha256 of provider, model, messages, schema, temperature.

The store is its own SQLite file under the state dir (`llm.replay.path`). A hit returns
the recorded content (with its refusal and finish reason) bit for bit and costs $0; a miss raises in strict mode, or calls
the wrapped provider (and records its reply) in fallthrough mode. Recording wraps any
real provider (`llm.replay.record = true`).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from hyperliquid_agent.errors import LLMError, StateError
from hyperliquid_agent.llm.types import LLMRequest, Provider, RawReply, Usage
from hyperliquid_agent.store import StateStore

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
    recorded_ms INTEGER NOT NULL,
    finish_reason TEXT
);
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
    """The replay table in its own SQLite file (a StateStore, so it is crash-safe the same way)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = StateStore(path)
        except StateError as exc:
            raise StateError(f"replay store: {exc}") from None
        self._db.ensure_schema("llm_replay", DDL)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(llm_replay)")}
        if "finish_reason" not in columns:  # a store recorded before finish reasons were kept
            self._db.execute("ALTER TABLE llm_replay ADD COLUMN finish_reason TEXT")

    def get(self, key: str) -> RawReply | None:
        rows = self._db.execute(
            "SELECT content, usage, model, request_id, refusal, finish_reason FROM llm_replay WHERE key = ?", (key,)
        )
        if not rows:
            return None
        content, usage, model, request_id, refusal, finish_reason = rows[0]
        return RawReply(content=content, usage=Usage(**json.loads(usage)), model=model, request_id=request_id,
                        refusal=refusal, finish_reason=finish_reason, replayed=True)

    def put(self, key: str, provider: str, request: LLMRequest, reply: RawReply) -> None:
        doc = json.dumps(_request_doc(provider, request), sort_keys=True, ensure_ascii=False)
        self._db.execute(
            "INSERT OR REPLACE INTO llm_replay(key, provider, model, request, content, usage, request_id,"
            " refusal, recorded_ms, finish_reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (key, provider, request.model, doc, reply.content, json.dumps(asdict(reply.usage)),
             reply.request_id, reply.refusal, int(time.time() * 1000), reply.finish_reason),
        )

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM llm_replay")[0][0]

    def close(self) -> None:
        self._db.close()


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
