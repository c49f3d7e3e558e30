"""`hl-agent config check` and `hl-agent init` through typer's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hyperliquid_agent.cli import app

runner = CliRunner()


def test_config_check_prints_resolved_config_with_masked_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-not-print")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[llm]\nprovider = "openai"\nmodel = "gpt-4o"\napi_key = "${OPENAI_API_KEY}"\n')
    result = runner.invoke(app, ["config", "check", "-c", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    assert "sk-test-should-not-print" not in result.output
    data = json.loads(result.output)
    assert data["config"]["llm"]["api_key"] == "********"
    assert data["config"]["llm"]["model"] == "gpt-4o"


def test_config_check_fails_on_missing_needed_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[llm]\nprovider = "openai"\napi_key = "${OPENAI_API_KEY}"\n')
    result = runner.invoke(app, ["config", "check", "-c", str(cfg)])
    assert result.exit_code != 0
    assert "OPENAI_API_KEY" in result.output


def test_config_check_fails_on_unknown_key(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[agent]\ncoinz = [\"BTC\"]\n")
    result = runner.invoke(app, ["config", "check", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "agent.coinz" in result.output


def test_config_check_refuses_a_secret_key_run_would_refuse_and_never_prints_it(tmp_path):
    # an unterminated ${...} stays a literal; `config OK` was printed, then `run` failed at the venue
    cfg = tmp_path / "config.toml"
    for key in ("${HL_SECRET_KEY", "0xabc123notakey"):
        cfg.write_text(f'[hyperliquid]\nsecret_key = "{key}"\n')
        result = runner.invoke(app, ["config", "check", "-c", str(cfg)])
        assert result.exit_code == 2, result.output
        assert "hyperliquid.secret_key is not a valid private key" in result.output and key not in result.output
    cfg.write_text('[hyperliquid]\nsecret_key = "0x' + "6b" * 32 + '"\n')
    assert runner.invoke(app, ["config", "check", "-c", str(cfg)]).exit_code == 0

@pytest.mark.parametrize("llm, needle", [
    ('provider = "openai-compatible"\nmodel = "llama3"\n', "llm.base_url is required"),
    ('provider = "replay"\n', "llm.replay.wrapped_provider must name"),
])
def test_config_check_names_a_provider_setting_the_run_would_stop_on(tmp_path, llm, needle):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[llm]\n{llm}")
    result = runner.invoke(app, ["config", "check", "-c", str(cfg)])
    assert result.exit_code == 2 and needle in result.output and "config OK" not in result.output


def test_init_writes_editable_copies_that_load(tmp_path):
    target = tmp_path / "mybot"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "config.toml").is_file()
    assert (target / "prompts").is_dir() and (target / "strategies").is_dir()
    check = runner.invoke(app, ["config", "check", "-c", str(target / "config.toml"), "--json"])
    assert check.exit_code == 0, check.output


def test_init_calendar_example_loads_relative_to_the_copied_config(tmp_path):
    from hyperliquid_agent.app.wiring import load_events
    from hyperliquid_agent.config import load_config

    target = tmp_path / "mybot"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    cfg_file = target / "config.toml"
    text = cfg_file.read_text().replace('# calendar = "calendar.toml"', 'calendar = "calendar.example.toml"')
    cfg_file.write_text(text)
    events = load_events(load_config(cfg_file, env={}))
    assert events and all(e.name for e in events)


def test_init_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "mybot"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    (target / "config.toml").write_text("# mine\n")
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code != 0 and "--force" in again.output
    assert (target / "config.toml").read_text() == "# mine\n"
    assert runner.invoke(app, ["init", str(target), "--force"]).exit_code == 0
    assert (target / "config.toml").read_text() != "# mine\n"


def test_error_messages_keep_bracketed_section_names(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[venue]\nsorce = 1\n")
    result = runner.invoke(app, ["config", "check", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "venue.sorce" in result.output


def test_help_loads_no_vendor_sdk_and_no_rich():
    # `hl-agent --help` start-up: the SDKs, pydantic and rich (typer's rich help) are all lazy.
    # -X importtime lists every module the real entry point imports, one per stderr line.
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "hyperliquid_agent", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Commands:" in out.stdout and "config" in out.stdout
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert "hyperliquid_agent" in loaded and "typer" in loaded
    heavy = {"openai", "anthropic", "hyperliquid", "eth_account", "httpx", "requests", "rich", "pydantic"}
    assert not loaded & heavy
