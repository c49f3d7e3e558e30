"""A paid provider in a backtest goes through record/replay: the first run calls the model (the
real openai SDK against a local chat-completions endpoint) and records; the rerun makes no
calls, costs $0 and reproduces every decision and fill. `--max-cost` stops the first run."""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hyperliquid_agent.backtest import results
from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec, day_ms
from hyperliquid_agent.config import load_config
from hyperliquid_agent.exchange.synthetic import synthetic_feed

REPO = Path(__file__).resolve().parents[1]
H = 3_600_000


class Model:
    """Answers every chat completion with a target book that flips with the request count."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with model.lock:
                    model.calls += 1
                    n = model.calls
                pct = 20 if n % 6 < 3 else -20
                content = json.dumps({
                    "reasoning": "local test model", "selected_strategy": None, "actions": [],
                    "target_allocation": [{"coin": "BTC", "target_pct": pct, "market_type": "perp", "leverage": 2}],
                })
                data = json.dumps({
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 2000, "completion_tokens": 100, "total_tokens": 2100},
                }).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def model():
    m = Model()
    yield m
    m.close()


def cfg(model: Model, state_dir: Path):
    c = load_config(REPO / "config.toml", env={})
    c.llm.provider = "openai-compatible"
    c.llm.model = "gpt-4o-mini"
    c.llm.base_url = model.url
    # one retry (a user's config has 3): in one full-suite run of 8, a run's first request failed
    # before it reached the model (22 requests for 23 decisions) and that cycle held. The counts
    # below still catch a reply asked for twice
    c.llm.max_retries = 1
    c.agent.state_dir = str(state_dir)
    c.backtest.vs_baseline = False
    return c


def spec(**kw) -> BacktestSpec:
    kw.setdefault("provider", "openai-compatible")
    return BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6), mode="standard",
                        run_id="rr", **kw)


@pytest.fixture(scope="module")
def feed():
    return synthetic_feed(seed=5, days=40, coins=["BTC"], start_ms=day_ms(date(2024, 1, 1)))


def test_first_run_records_rerun_replays_for_free(model, feed, tmp_path):
    first = run_backtest(cfg(model, tmp_path / "state"), spec(), feed=feed)
    calls = model.calls
    # one decision per bar (the last bar has none); should one hold, the message says which and why
    held = [(d.t_ms, d.detail, d.error) for d in first.decisions if d.error or d.detail.startswith("hold")]
    assert calls == len(first.decisions) == 23, held
    assert D(first.metrics["llm_cost_usd"]) > 0
    assert first.trades, "the recorded targets flip, so there are fills"
    assert (tmp_path / "state" / "llm-replay.sqlite").is_file()

    second = run_backtest(cfg(model, tmp_path / "state"), spec(), feed=feed)
    assert model.calls == calls  # nothing reached the model
    assert D(second.metrics["llm_cost_usd"]) == 0
    assert second.trades == first.trades
    assert second.curve == first.curve
    strip = lambda rows: [r.model_copy(update={"llm_cost_usd": D(0)}) for r in rows]  # noqa: E731
    assert strip(second.decisions) == strip(first.decisions)

    strict = run_backtest(cfg(model, tmp_path / "state"), spec(provider="replay"), feed=feed)
    assert model.calls == calls and strict.trades == first.trades
    # every replay of the recording writes the same bytes (only the provider named in params differs)
    assert results.dumps(strict.model_copy(update={"params": second.params})) == results.dumps(second)


def test_max_cost_stops_the_recording_run(model, feed, tmp_path):
    c = cfg(model, tmp_path / "state")
    per_call = D("2000") * D("0.15") / 10**6 + D("100") * D("0.60") / 10**6  # gpt-4o-mini list price
    cap = per_call * D("5.5")
    r = run_backtest(c, spec(max_cost_usd=cap), feed=feed)
    assert r.stopped_early and "--max-cost" in r.stopped_early
    spent = D(r.metrics["llm_cost_usd"])
    assert spent <= cap
    assert model.calls == len(r.decisions) <= 5


def test_the_baseline_provider_runs_beside_a_paid_one(model, feed, tmp_path):
    c = cfg(model, tmp_path / "state")
    r = run_backtest(c, spec(vs_baseline=True), feed=feed)
    base = run_backtest(c, spec(provider="baseline"), feed=feed)
    assert r.baseline_metrics == base.metrics
    assert r.curve.baseline == base.curve.equity and len(r.curve.baseline) == len(r.curve.t_ms)
    assert D(r.baseline_metrics["llm_cost_usd"]) == 0 and D(r.metrics["llm_cost_usd"]) > 0
    assert r.metrics["baseline_return"] == base.metrics["total_return"]
    assert r.metrics["excess_vs_baseline"] == r.metrics["total_return"] - base.metrics["total_return"]
    assert r.typed_metrics().excess_vs_baseline == r.metrics["excess_vs_baseline"]
    from hyperliquid_agent.backtest.report import render_html

    assert "baseline provider" in render_html(r)


def test_a_run_stopped_early_sits_beside_the_baseline_over_the_same_bars(model, feed, tmp_path):
    """The baseline's metrics beside a run stopped by --max-cost are those of the run's own bars. They
    covered the whole window: on the real BTC data 2025-01-03..05, a run stopped after 13 of 47 hours
    read "total return" -0.35 % (0.54 days) beside the baseline column's -0.35 % (1.96 days), while
    the row "baseline provider return" (on the run's bars) read -0.13 %."""
    c = cfg(model, tmp_path / "state")
    per_call = D("2000") * D("0.15") / 10**6 + D("100") * D("0.60") / 10**6  # gpt-4o-mini list price
    r = run_backtest(c, spec(max_cost_usd=per_call * D("5.5"), vs_baseline=True), feed=feed)
    assert r.stopped_early
    assert r.baseline_metrics is not None
    assert r.baseline_metrics["days"] == r.metrics["days"] < 1
    assert r.baseline_metrics["total_return"] == r.metrics["baseline_return"]
    assert len(r.curve.baseline) == len(r.curve.t_ms)
    # the baseline's replay of the whole window, up to the bar before the stop (its last point is
    # taken, as the run's is, after the fills that landed on it)
    whole = run_backtest(c, spec(provider="baseline"), feed=feed)
    n = len(r.curve.t_ms)
    assert r.curve.baseline[:n - 1] == whole.curve.equity[:n - 1]
    assert r.baseline_metrics["n_trades"] < whole.metrics["n_trades"]


def test_a_model_without_a_price_is_not_reported_as_free(model, feed, tmp_path):
    """A model missing from the price table: its cost is unknown, not $0. The run's LLM cost read
    $0.00 and its return net of LLM cost equalled its return, with nothing in results.json to say
    the cost was not known (23 calls of a local model, real BTC data 2025-02-01)."""
    c = cfg(model, tmp_path / "state")
    c.llm.model = "my-local-model"
    first = run_backtest(c, spec(), feed=feed)
    assert model.calls == len(first.decisions) == 23
    unpriced = [w for w in first.warnings if "no price in the LLM price table" in w]
    assert unpriced and unpriced[0].startswith("23 of 23 cycles called my-local-model")
    assert '[llm.pricing."my-local-model"]' in unpriced[0]
    # the rerun replays every reply: those cost nothing, truly
    second = run_backtest(c, spec(), feed=feed)
    assert model.calls == 23 and not [w for w in second.warnings if "no price" in w]
