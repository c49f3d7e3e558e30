"""`hl-agent llm check`, `hl-agent costs`, `costs estimate`, and lazy vendor imports."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from llm_wire import Reply, WireServer, openai_error
from typer.testing import CliRunner

from hyperliquid_agent.cli import app
from hyperliquid_agent.config import LLMConfig, defaults_dir
from hyperliquid_agent.store import StateStore
from hyperliquid_agent.testing import FixedClock, ScriptedLLM, ScriptedReply, Usage

runner = CliRunner()


def write_config(tmp_path: Path, llm: str) -> Path:
    state = tmp_path / "state"
    path = tmp_path / "config.toml"
    d = defaults_dir()
    path.write_text(
        f'[agent]\nstate_dir = "{state}"\nprompt_template = "{d / "prompts" / "default.txt"}"\n'
        f'governance_template = "{d / "prompts" / "governance.txt"}"\nstrategies_dir = "{d / "strategies"}"\n\n'
        f'[llm]\n{llm}\n', encoding="utf-8")
    return path


def test_llm_check_offline_baseline(tmp_path):
    cfg = write_config(tmp_path, 'provider = "baseline"')
    result = runner.invoke(app, ["llm", "check", "-c", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["provider"] == "baseline" and data["offline"]


def test_llm_check_missing_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = write_config(tmp_path, 'provider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "${OPENAI_API_KEY}"')
    result = runner.invoke(app, ["llm", "check", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.output and "export OPENAI_API_KEY=" in result.output


def test_llm_check_invalid_key_is_a_clear_failure(tmp_path, monkeypatch):
    server = WireServer()
    try:
        server.push(Reply(401, openai_error(401, "Incorrect API key provided")))
        monkeypatch.setenv("HL_TEST_KEY", "sk-wrong-secret-value")
        cfg = write_config(tmp_path, f'provider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "${{HL_TEST_KEY}}"\n'
                                     f'base_url = "{server.url}/v1"')
        result = runner.invoke(app, ["llm", "check", "-c", str(cfg)])
    finally:
        server.close()
    assert result.exit_code == 3
    assert "rejected the API key" in result.output and "llm.api_key" in result.output
    assert "sk-wrong-secret-value" not in result.output  # never print the secret


def test_costs_across_restarts_by_purpose_and_since(tmp_path):
    cfg = write_config(tmp_path, 'provider = "baseline"')
    clock = FixedClock(1_767_225_600_000)  # 2026-01-01
    for day in range(2):  # two "processes", each with its own store connection
        store = StateStore.in_dir(tmp_path / "state")
        llm = ScriptedLLM([ScriptedReply("hi", usage=Usage(input_tokens=1_000_000, output_tokens=1000))],
                          llm_config=LLMConfig(provider="scripted", model="gpt-4o-mini"), store=store, clock=clock)
        llm.query("q", purpose="decision" if day == 0 else "governance")
        store.close()
        clock.advance(hours=24)
    result = runner.invoke(app, ["costs", "-c", str(cfg), "--by", "purpose", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    per_call = Decimal("0.15") + Decimal(1000) * Decimal("0.60") / 10**6
    assert data["total_calls"] == 2 and Decimal(data["total_cost_usd"]) == per_call * 2
    assert set(data["by_purpose"]) == {"decision", "governance"}
    since = json.loads(runner.invoke(app, ["costs", "-c", str(cfg), "--since", "2026-01-02", "--json"]).stdout)
    assert since["total_calls"] == 1
    table = runner.invoke(app, ["costs", "-c", str(cfg), "--by", "day"])
    assert table.exit_code == 0 and "2026-01-02" in table.output
    bad = runner.invoke(app, ["costs", "-c", str(cfg), "--by", "colour"])
    assert bad.exit_code == 2 and "--by must be model, day or purpose" in bad.output


def test_costs_with_no_ledger_yet(tmp_path):
    cfg = write_config(tmp_path, 'provider = "baseline"')
    data = json.loads(runner.invoke(app, ["costs", "-c", str(cfg), "--json"]).stdout)
    assert data["total_calls"] == 0


def test_costs_estimate_prices_the_rendered_prompt(tmp_path):
    cfg = write_config(tmp_path, 'provider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "sk-x"')
    result = runner.invoke(app, ["costs", "estimate", "-c", str(cfg), "--prompt-chars", "4000",
                                 "--reply-tokens", "1000", "--cycles-per-day", "10", "--json"])
    assert result.exit_code == 0, result.output
    est = json.loads(result.stdout)["estimates"][0]
    per_call = (Decimal(1000) * Decimal("0.15") + Decimal(1000) * Decimal("0.60")) / 10**6
    assert Decimal(est["cost_per_day_usd"]) == per_call * 10
    rendered = runner.invoke(app, ["costs", "estimate", "-c", str(cfg)])
    assert rendered.exit_code == 0, rendered.output
    assert "gpt-4o-mini" in rendered.output and "/day" in rendered.output


def test_costs_estimate_counts_the_calls_the_configured_loop_can_make(tmp_path):
    llm = 'provider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "sk-x"'

    def calls(agent: str, extra: str = "") -> int:
        cfg = write_config(tmp_path, llm)
        text = cfg.read_text(encoding="utf-8").replace("[agent]\n", f"[agent]\n{agent}", 1)
        cfg.write_text(text + extra, encoding="utf-8")
        result = runner.invoke(app, ["costs", "estimate", "-c", str(cfg), "--prompt-chars", "4000", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["estimates"][0]["calls_per_day"]

    assert calls('mode = "standard"\ntick_interval_s = 1800\n') == 48  # one per tick
    # governed: one review per medium loop, and a regime call beside each when the regime asks the LLM
    gov = '\n[governance.governor]\nfast_loop_s = 600\nmedium_loop_s = 7200\n'
    assert calls('mode = "governed"\n', gov) == 12
    assert calls('mode = "governed"\n', gov + '\n[governance.regime]\nuse_llm = true\nllm_model = "gpt-4o-mini"\n') == 24


def test_importing_the_client_loads_no_vendor_sdk():
    code = ("import sys, hyperliquid_agent.llm_client, hyperliquid_agent.testing; "
            "from hyperliquid_agent.config import LLMConfig; "
            "from hyperliquid_agent.llm_client import LLMClient; LLMClient(LLMConfig()).query('x'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'anthropic', 'httpx', 'httpx2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_openai_provider_imports_only_openai():
    code = ("import sys; from hyperliquid_agent.config import LLMConfig; "
            "from hyperliquid_agent.llm_client import LLMClient; "
            "LLMClient(LLMConfig(provider='openai', model='gpt-4o', api_key='sk-x')); "
            "print('anthropic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_llm_check_replay_reports_the_store(tmp_path):
    from hyperliquid_agent.llm.replay import ReplayStore, replay_key
    from hyperliquid_agent.llm.types import LLMRequest, RawReply

    cfg = write_config(tmp_path, 'provider = "replay"\nmodel = "gpt-4o"\n[llm.replay]\nwrapped_provider = "openai"')
    missing = runner.invoke(app, ["llm", "check", "-c", str(cfg)])
    assert missing.exit_code == 2 and "llm.replay.record = true" in missing.output
    store = ReplayStore(tmp_path / "state" / "llm-replay.sqlite")
    req = LLMRequest(messages=({"role": "user", "content": "x"},), model="gpt-4o", temperature=0.2, max_tokens=5)
    store.put(replay_key("openai", req), "openai", req, RawReply("{}"))
    store.close()
    ok = runner.invoke(app, ["llm", "check", "-c", str(cfg), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["recorded_replies"] == 1


def test_llm_check_against_a_working_endpoint(tmp_path):
    from llm_wire import chat_body

    server = WireServer()
    try:
        server.push(Reply(200, chat_body('{"ok": true}', model="gpt-4o-mini-2024-07-18", prompt_tokens=40,
                                         completion_tokens=5), {"x-request-id": "req_ping"}))
        cfg = write_config(tmp_path, f'provider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "sk-x"\n'
                                     f'base_url = "{server.url}/v1"')
        result = runner.invoke(app, ["llm", "check", "-c", str(cfg), "--json"])
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["request_id"] == "req_ping" and data["offline"] is False
    assert Decimal(data["cost_usd"]) == (Decimal(40) * Decimal("0.15") + Decimal(5) * Decimal("0.60")) / 10**6
    assert server.seen[0].body["response_format"]["json_schema"]["name"] == "Ping"


def test_sdk_debug_logging_switches_print_no_secret(tmp_path):
    """ANTHROPIC_LOG / OPENAI_LOG make the SDKs log every request (URL included) to a root handler of
    their own; with a credentialed base_url, neither that nor our own warnings may show a secret."""
    import os

    from llm_wire import anthropic_body

    server = WireServer()
    try:
        server.push(Reply(500, {"error": {"message": "overloaded"}}), Reply(200, anthropic_body({"ok": True}, tool_name="Ping")))
        url = server.url.replace("http://", "http://proxyuser:canarypass9@") + "?api-key=canaryqkey7"
        cfg = write_config(tmp_path, f'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\n'
                                     f'api_key = "canary-token-Zq8Wv3Lx"\nbase_url = "{url}"\nmax_retries = 1')
        env = {**os.environ, "ANTHROPIC_LOG": "debug", "OPENAI_LOG": "debug", "LOG_LEVEL": "DEBUG"}
        code = "from hyperliquid_agent.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code, "llm", "check", "-c", str(cfg)], capture_output=True,
                              text=True, env=env, timeout=60)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert "Sending HTTP Request" in done.stderr  # the SDK did log the request
    for leak in ("canary-token-Zq8Wv3Lx", "canarypass9", "canaryqkey7"):
        assert leak not in done.stdout + done.stderr, leak


def test_costs_estimate_prices_a_prefix_the_cache_has_dropped_between_calls(tmp_path):
    # an hourly loop finds the ~5 minute prompt cache empty at every call: the anthropic provider writes the
    # prefix again each time (1.25x input), it never reads it back (0.1x)
    cfg = write_config(tmp_path, 'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\napi_key = "sk-ant-x"')

    def estimate(*extra: str) -> dict:
        result = runner.invoke(app, ["costs", "estimate", "-c", str(cfg), "--reply-tokens", "0", "--json", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    hourly = estimate("--cycles-per-day", "24")
    [est] = hourly["estimates"]
    assert est["cached_input_tokens"] == 0 and est["cache_write_tokens"] > 0 and "cache write" in hourly["cache"]
    fresh = est["input_tokens"] - est["cache_write_tokens"]
    assert Decimal(est["cost_per_call_usd"]) == (Decimal(fresh) * 3 + Decimal(est["cache_write_tokens"]) * Decimal("3.75")) / 10**6
    # a call a minute keeps the cache warm: the prefix is read back at the cached price
    [warm] = estimate("--cycles-per-day", "1440")["estimates"]
    assert warm["cached_input_tokens"] == est["cache_write_tokens"] and warm["cache_write_tokens"] == 0
    # --cached still forces the old assumption
    [forced] = estimate("--cycles-per-day", "24", "--cached")["estimates"]
    assert forced["cost_per_call_usd"] == warm["cost_per_call_usd"]
