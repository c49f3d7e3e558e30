"""LLM client benchmarks: overhead per call (excluding the endpoint) and replay cache hits.

Run: .venv/bin/python bench/bench_llm.py
Targets: client overhead <= 2 ms per call; replay cache hit <= 0.2 ms.
The endpoint is an in-memory httpx2 transport inside the real openai/anthropic SDKs; the
time spent inside the endpoint handler is measured and subtracted. A second line splits off
hl-agent's own share: the query minus the time inside the vendor SDK call.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx2  # noqa: E402
from _timed import Timed  # noqa: E402
from llm_wire import anthropic_body, chat_body  # noqa: E402

from hyperliquid_agent.config import LLMConfig, ReplayConfig  # noqa: E402
from hyperliquid_agent.llm.replay import ReplayProvider, ReplayStore, replay_key  # noqa: E402
from hyperliquid_agent.llm.schema import strict_json_schema  # noqa: E402
from hyperliquid_agent.llm.types import LLMRequest, RawReply, Usage  # noqa: E402
from hyperliquid_agent.llm_client import LLMClient  # noqa: E402
from hyperliquid_agent.schemas import RegimeSchema  # noqa: E402
from hyperliquid_agent.store import StateStore  # noqa: E402

N = 400
REGIME = {"regime": "trending-bull", "confidence": 0.7, "reasoning": "adx 31, ema spread +2%"}
MESSAGES = [{"role": "system", "content": "You are a careful trading assistant. " * 80},
            {"role": "user", "content": "Classify the regime of BTC from these signals: " + "x" * 2000}]


class TimedEndpoint:
    """An in-memory endpoint that accounts for its own time."""

    def __init__(self, body: dict) -> None:
        self.payload = json.dumps(body).encode()
        self.inside = 0.0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        t0 = time.perf_counter()
        request.read()
        resp = httpx2.Response(200, content=self.payload, headers={"content-type": "application/json",
                                                                    "x-request-id": "req_bench"})
        self.inside += time.perf_counter() - t0
        return resp


def overhead(label: str, cfg: LLMConfig, body: dict, with_store: bool) -> None:
    endpoint = TimedEndpoint(body)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore.in_dir(tmp) if with_store else None
        client = LLMClient(cfg, store=store, transport=httpx2.MockTransport(endpoint))
        for _ in range(20):  # warm up: SDK import, client build, schema cache
            client.query(MESSAGES, RegimeSchema, purpose="regime")
        sdk_client = client.provider._client  # type: ignore[attr-defined]
        sdk = (Timed(sdk_client.messages, "create", time.perf_counter) if cfg.provider == "anthropic"
               else Timed(sdk_client, "post", time.perf_counter))
        samples, ours = [], []
        for _ in range(N):
            endpoint.inside = sdk.total = 0.0
            t0 = time.perf_counter()
            client.query(MESSAGES, RegimeSchema, purpose="regime")
            total = time.perf_counter() - t0
            samples.append((total - endpoint.inside) * 1000)
            ours.append((total - sdk.total) * 1000)
        if store is not None:
            store.close()
    samples.sort()
    ours.sort()
    print(f"{label:<58} median {statistics.median(samples):6.3f} ms  p95 {samples[int(N * 0.95)]:6.3f} ms  "
          f"(target <= 2 ms)")
    print(f"{'  of which hl-agent code (outside the vendor SDK call)':<58} median {statistics.median(ours):6.3f} ms  "
          f"p95 {ours[int(N * 0.95)]:6.3f} ms")


def replay_hits() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ReplayStore(Path(tmp) / "replay.sqlite")
        request = LLMRequest(messages=tuple(MESSAGES), model="gpt-4o-mini", temperature=0.2, max_tokens=1500,
                             schema=RegimeSchema, json_schema=strict_json_schema(RegimeSchema))
        for i in range(2000):  # a realistically filled store
            other = LLMRequest(messages=({"role": "user", "content": f"cycle {i}"},), model="gpt-4o-mini",
                               temperature=0.2, max_tokens=1500)
            store.put(replay_key("openai", other), "openai", other, RawReply("{}", Usage(10, 0, 0, 5)))
        store.put(replay_key("openai", request), "openai", request, RawReply(json.dumps(REGIME), Usage(900, 0, 0, 40)))
        provider = ReplayProvider(store, "openai")
        for _ in range(50):
            provider.complete(request, 60)
        samples = []
        for _ in range(N * 5):
            t0 = time.perf_counter()
            provider.complete(request, 60)
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        print(f"{'replay cache hit (key sha256 + SQLite lookup, 2,001 rows)':<58} median "
              f"{statistics.median(samples):6.3f} ms  p95 {samples[int(len(samples) * 0.95)]:6.3f} ms  (target <= 0.2 ms)")

        cfg = LLMConfig(provider="replay", model="gpt-4o-mini", replay=ReplayConfig(wrapped_provider="openai"))
        client = LLMClient(cfg, state_dir=Path(tmp), provider=provider)
        msgs = list(MESSAGES)
        for _ in range(50):
            client.query(msgs, RegimeSchema)
        samples = []
        for _ in range(N):
            t0 = time.perf_counter()
            client.query(msgs, RegimeSchema)
            samples.append((time.perf_counter() - t0) * 1000)
        samples.sort()
        print(f"{'replay hit through LLMClient.query (validate + in-memory ledger)':<58} median "
              f"{statistics.median(samples):6.3f} ms  p95 {samples[int(N * 0.95)]:6.3f} ms  (for reference)")


def main() -> None:
    print(f"hl-agent LLM client benchmark, {N} calls each, python {sys.version.split()[0]}")
    common = {"api_key": "sk-bench", "base_url": "http://bench.invalid/v1", "max_retries": 0}
    overhead("openai chat completions, strict schema, no ledger",
             LLMConfig(provider="openai", model="gpt-4o-mini", **common), chat_body(json.dumps(REGIME)), False)
    overhead("openai chat completions, strict schema, SQLite ledger",
             LLMConfig(provider="openai", model="gpt-4o-mini", **common), chat_body(json.dumps(REGIME)), True)
    anth = {"api_key": "sk-ant-bench", "base_url": "http://bench.invalid", "max_retries": 0}
    overhead("anthropic forced tool call, SQLite ledger",
             LLMConfig(provider="anthropic", model="claude-haiku-4-5", **anth), anthropic_body(REGIME), True)
    replay_hits()


if __name__ == "__main__":
    main()
