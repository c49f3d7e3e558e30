"""`hl-agent run` through typer's CliRunner: full paper sessions in both modes on the embedded
emulator with the baseline provider, then fast, clear failures for bad setups."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from _agent_env import config_file
from hyperliquid_agent.audit import audit_path, read_records
from hyperliquid_agent.cli import app

runner = CliRunner()


@pytest.mark.parametrize("mode", ["standard", "governed"])
def test_paper_session_runs_n_cycles_and_prints_the_summary(tmp_path, mode):
    cfg = config_file(tmp_path, "[venue]\nsynthetic_days = 45\n")
    res = runner.invoke(app, ["run", "-c", str(cfg), "--mode", mode, "--cycles", "5"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    for word in ("hl-agent run summary", "decisions", "plan changes", "fills", "PnL", "fees", "funding", "LLM cost"):
        assert word in out
    assert "ok venue" in out and "paper: embedded emulator" in out
    recs = list(read_records(audit_path(tmp_path / "state")))
    assert [r["seq"] for r in recs] == [1, 2, 3, 4, 5] and all(r["mode"] == mode for r in recs)
    assert all(r["errors"] == [] for r in recs), [r["errors"] for r in recs]
    if mode == "governed":
        assert "medium" in recs[0]["loops"] and recs[0]["llm"]["calls"] == 1
    status = json.loads(runner.invoke(app, ["status", "-c", str(cfg), "--json"]).stdout)
    assert status["cycle_id"] == "c000005" and status["mode"] == mode and status["stopped_at_ms"]
    # the operator commands read what the run wrote: tail, show and replay (through the CLI)
    tail = runner.invoke(app, ["audit", "tail", "-c", str(cfg), "-n", "3", "--json"])
    assert tail.exit_code == 0 and [json.loads(x)["cycle_id"] for x in tail.stdout.splitlines()] == \
        ["c000003", "c000004", "c000005"]
    traded = next(r for r in recs if r["orders"])
    shown = json.loads(runner.invoke(app, ["audit", "show", "-c", str(cfg), traded["cycle_id"], "--json"]).stdout)
    assert shown["orders"] == traded["orders"]
    table = runner.invoke(app, ["audit", "show", "-c", str(cfg), str(traded["seq"])]).stdout
    fills = len(traded["fills"])
    assert f"{fills}, fees ${Decimal(traded['fees_usd']):,.6f}" in table and "$10,000.00 -> $" in table
    res = runner.invoke(app, ["audit", "replay", "-c", str(cfg), traded["cycle_id"]])
    assert res.exit_code == 0 and f"reproduces its {len(traded['orders'])} order(s)" in res.stdout, res.output
    # an edited record (a recorded order's size) no longer replays: exit 1 naming the difference
    path = audit_path(tmp_path / "state")
    lines = path.read_text().splitlines()
    i = traded["seq"] - 1
    doctored = json.loads(lines[i])
    doctored["orders"][0]["intent"]["size"] = str(Decimal(doctored["orders"][0]["intent"]["size"]) * 2)
    lines[i] = json.dumps(doctored)
    path.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["audit", "replay", "-c", str(cfg), traded["cycle_id"]])
    assert res.exit_code == 1 and "differs from the record" in res.stdout, res.output


def test_once_with_json_prints_a_machine_readable_summary(tmp_path):
    cfg = config_file(tmp_path, "[venue]\nsynthetic_days = 40\n")
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once", "--json", "--mode", "standard"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["cycles"] == 1 and summary["stopped_by_signal"] is False
    assert summary["start_equity_usd"] == "10000.0" or summary["start_equity_usd"].startswith("10000")


def test_a_missing_key_fails_fast_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = config_file(tmp_path, '[llm]\nprovider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "${OPENAI_API_KEY}"\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once"])
    assert res.exit_code == 2
    assert "OPENAI_API_KEY" in res.output and "export OPENAI_API_KEY=" in res.output
    assert not (tmp_path / "state" / "audit.jsonl").exists()  # nothing started


def test_testnet_without_a_private_key_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HL_SECRET_KEY", raising=False)
    cfg = config_file(tmp_path, '[hyperliquid]\nsecret_key = "${HL_SECRET_KEY}"\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--testnet", "--once"])
    assert res.exit_code == 2 and "HL_SECRET_KEY" in res.output


def test_an_unreachable_venue_fails_fast_with_the_fix(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    cfg = config_file(tmp_path, f'[hyperliquid]\nbase_url = "http://127.0.0.1:{port}"\ntimeout_s = 2\nmax_retries = 0\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once"])
    assert res.exit_code == 2, res.output
    assert "cannot reach" in res.output and f"127.0.0.1:{port}" in res.output


@pytest.mark.parametrize("text, needle", [
    ("[agent]\nmode = \"turbo\"\n", "agent.mode"),
    ("[agent]\ncoins = [\"BTC\"]\nsurprise = 1\n", "surprise"),
    ("[agent\n", "not valid TOML"),
])
def test_a_malformed_config_fails_fast_naming_file_and_key(tmp_path, text, needle):
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once"])
    assert res.exit_code == 2
    assert needle in res.output and "config.toml" in res.output


def test_unknown_coin_is_a_config_error_naming_agent_coins(tmp_path):
    cfg = config_file(tmp_path, coins=["BTC", "DOGE"])
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once"])
    assert res.exit_code == 2 and "DOGE" in res.output and "agent.coins" in res.output


def test_mainnet_needs_live_and_a_confirmation(tmp_path, monkeypatch):
    cfg = config_file(tmp_path, '[hyperliquid]\nnetwork = "mainnet"\nsecret_key = "0x' + "11" * 32 + '"\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once"])
    assert res.exit_code == 2 and "--live" in res.output
    monkeypatch.delenv("HL_AGENT_CONFIRM_MAINNET", raising=False)
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--yes", "--once"])
    assert res.exit_code == 2 and "HL_AGENT_CONFIRM_MAINNET=yes" in res.output and "REAL MONEY" in res.output
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--once"], input="yes\n")
    assert res.exit_code == 1 and "not confirmed" in res.output
    assert not (tmp_path / "state").exists()  # nothing was started


def test_live_without_a_private_key_fails_before_asking_to_confirm(tmp_path, monkeypatch):
    monkeypatch.delenv("HL_SECRET_KEY", raising=False)
    monkeypatch.setenv("HL_AGENT_CONFIRM_MAINNET", "yes")
    cfg = config_file(tmp_path, '[hyperliquid]\nsecret_key = "${HL_SECRET_KEY}"\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--yes", "--once"])
    assert res.exit_code == 2 and "export HL_SECRET_KEY=" in res.output
    assert "REAL MONEY" not in res.output and "starting in" not in res.output  # no banner, no countdown
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--forever", "--once"], input="LIVE\n")
    assert res.exit_code == 2 and "--forever" in res.output and "REAL MONEY" not in res.output


def test_the_live_banner_names_the_risk_section(tmp_path, monkeypatch):
    monkeypatch.delenv("HL_AGENT_CONFIRM_MAINNET", raising=False)
    cfg = config_file(tmp_path, '[hyperliquid]\nsecret_key = "0x' + "11" * 32 + '"\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--yes", "--once"])
    assert "Risk limits: see [risk] in your config" in " ".join(res.output.split())  # not eaten as rich markup


def test_once_and_cycles_together_is_a_usage_error_not_a_silent_choice(tmp_path):
    cfg = config_file(tmp_path)
    res = runner.invoke(app, ["run", "-c", str(cfg), "--once", "--cycles", "3"])
    assert res.exit_code == 2 and "--once" in res.output and "--cycles" in res.output
    assert not (tmp_path / "state").exists()  # nothing started


def test_a_confirmed_mainnet_start_counts_down_5_seconds_and_ctrl_c_aborts_it(monkeypatch):
    import typer

    from hyperliquid_agent.cli import run_cmd
    from hyperliquid_agent.cli.common import confirm_real_money

    def confirm_and_count_down(yes: bool) -> None:  # what `run --live` does once the keys are checked
        confirm_real_money(yes)
        run_cmd._count_down()

    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    monkeypatch.setattr("builtins.input", lambda prompt: "LIVE")
    confirm_and_count_down(yes=False)  # typed LIVE: returns after the abort window
    assert slept == [1] * run_cmd.ABORT_WINDOW_S == [1] * 5
    monkeypatch.setenv("HL_AGENT_CONFIRM_MAINNET", "yes")
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("--yes must not ask"))
    slept.clear()
    confirm_and_count_down(yes=True)
    assert len(slept) == 5

    def ctrl_c(_s):
        raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", ctrl_c)
    with pytest.raises(typer.Exit) as stopped:
        confirm_and_count_down(yes=True)
    assert stopped.value.exit_code == 1


class _ChatStub:
    """A local OpenAI-compatible endpoint: answers the startup ping and each decision, or 401s."""

    def __init__(self, reply: str, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        stub = self
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if status != 200:
                    data = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                      "code": "invalid_api_key"}}
                else:
                    schema = json.dumps(body.get("response_format") or {})
                    content = '{"ok": true}' if "Ping" in schema else reply
                    data = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                         "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()


SECRET = "sk-local-test-key-0123456789abcdef"


def _llm_config(tmp_path, url: str) -> str:
    return config_file(tmp_path, f'[llm]\nprovider = "openai-compatible"\nmodel = "local-model"\nbase_url = "{url}"\n'
                                 f'api_key = "{SECRET}"\nmax_retries = 0\n'
                                 '[llm.pricing."local-model"]\ninput = 1.0\noutput = 2.0\n'
                                 "[venue]\nsynthetic_days = 40\n", mode="standard")


def test_a_real_sdk_provider_on_loopback_drives_a_paper_session_and_the_key_never_reaches_disk(tmp_path):
    from _agent_env import target_reply

    stub = _ChatStub(target_reply(("BTC", 10)))
    try:
        cfg = _llm_config(tmp_path, stub.url)
        res = runner.invoke(app, ["run", "-c", str(cfg), "--cycles", "2"])
    finally:
        stub.close()
    assert res.exit_code == 0, res.output
    assert "answered in" in res.stdout  # the startup ping went through the real openai SDK
    assert len(stub.requests) == 3 and stub.requests[0]["auth"] == f"Bearer {SECRET}"
    recs = list(read_records(audit_path(tmp_path / "state")))
    assert recs[0]["llm"]["provider"] == "openai-compatible" and recs[0]["llm"]["input_tokens"] == 1000
    assert recs[0]["llm"]["cost_usd"] == "0.0012"  # 1000 in at $1/M + 100 out at $2/M
    assert [o["status"] for o in recs[0]["orders"]] == ["filled"] and recs[1]["orders"] == []
    for f in (tmp_path / "state").iterdir():
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f"the API key was written to {f.name}"


def test_a_rejected_key_fails_fast_at_startup(tmp_path):
    stub = _ChatStub("", status=401)
    try:
        res = runner.invoke(app, ["run", "-c", str(_llm_config(tmp_path, stub.url)), "--once"])
    finally:
        stub.close()
    assert res.exit_code == 2
    assert "rejected the key in llm.api_key" in res.output and SECRET not in res.output
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def _testnet_stand_in(tmp_path, fund: bool):
    """An emulator standing in for testnet at hyperliquid.base_url (a wallet funded or unknown)."""
    import eth_account

    from hyperliquid_agent.app.paper import paper_emulator
    from hyperliquid_agent.config import VenueConfig
    from hyperliquid_agent.exchange.factory import build_venue_model

    key = "0x" + "7c" * 32
    model = build_venue_model(VenueConfig(synthetic_days=40))
    server = paper_emulator(model)
    url = server.start()
    server.advance_to(model.feed.timeline[0] + 31 * 86_400_000)
    if fund:
        server.create_account(eth_account.Account.from_key(key).address.lower(), 10_000)
    cfg = config_file(tmp_path, f'[hyperliquid]\nbase_url = "{url}"\nsecret_key = "{key}"\nmax_retries = 0\n',
                      mode="standard")
    return server, cfg, key


def test_testnet_path_runs_a_cycle_on_the_wall_clock_against_a_stand_in(tmp_path):
    server, cfg, key = _testnet_stand_in(tmp_path, fund=True)
    try:
        res = runner.invoke(app, ["run", "-c", str(cfg), "--testnet", "--once", "--json"])
    finally:
        server.stop()
    assert res.exit_code == 0, res.output
    recs = list(read_records(audit_path(tmp_path / "state")))
    assert len(recs) == 1 and recs[0]["network"] == "testnet" and recs[0]["errors"] == []
    assert key[2:] not in (tmp_path / "state" / "audit.jsonl").read_text()


def test_testnet_with_an_empty_or_unknown_account_fails_fast_naming_the_fix(tmp_path):
    server, cfg, _ = _testnet_stand_in(tmp_path, fund=False)
    try:
        res = runner.invoke(app, ["run", "-c", str(cfg), "--testnet", "--once"])
    finally:
        server.stop()
    assert res.exit_code == 2
    assert "holds nothing on testnet" in res.output and "hyperliquid.account_address" in res.output


class _Terminal:
    """stdin as a terminal on which the user types `answer`."""

    def __init__(self, answer: str) -> None:
        self.lines = [answer + "\n"]

    def isatty(self) -> bool:
        return True

    def readline(self, *_: object) -> str:
        return self.lines.pop(0) if self.lines else ""


@pytest.mark.parametrize("answer, approved", [("y", True), ("yes", True), ("n", False), ("", False)])
def test_orders_above_the_approval_amount_are_asked_at_a_terminal(monkeypatch, capsys, answer, approved):
    import io
    import sys

    from hyperliquid_agent.cli.run_cmd import _terminal_approver
    from hyperliquid_agent.domain import OrderIntent, Side, Tif

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped input is no terminal: nobody can approve
    assert _terminal_approver() is None
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    approve = _terminal_approver()
    intent = OrderIntent(coin="BTC", side=Side.BUY, size=Decimal("0.5"), limit_price=Decimal("60000"), tif=Tif.IOC)
    assert approve(intent) is approved
    assert "approve buy 0.5 BTC @ 60000 (about 30,000.00 USDC)?" in capsys.readouterr().out


def test_startup_lines_and_errors_show_no_url_credentials(tmp_path):
    """The llm startup check names llm.base_url; a credentialed one is printed without its secrets."""
    from llm_wire import Reply, WireServer, chat_body

    server = WireServer()
    url = server.url.replace("http://", "http://proxyuser:canarypass9@") + "/v1?api-key=canaryqkey7"
    llm = f'[llm]\nprovider = "openai-compatible"\nmodel = "local-model"\nbase_url = "{url}"\nmax_retries = 0\n'
    try:
        server.push(Reply(200, chat_body('{"ok": true}')))  # the startup ping; the cycle's call then fails
        ok = runner.invoke(app, ["run", "-c", str(config_file(tmp_path, llm, mode="standard")), "--once", "--json"])
        server.push(Reply(401, {"error": {"message": "bad key"}}))
        (tmp_path / "b").mkdir()
        bad = runner.invoke(app, ["run", "-c", str(config_file(tmp_path / "b", llm, mode="standard")), "--once"])
    finally:
        server.close()
    assert ok.exit_code == 0 and "ok llm" in ok.stderr and "proxyuser:[REDACTED]@" in ok.stderr, ok.output
    assert bad.exit_code == 2 and "rejected the key" in bad.stderr, bad.output
    for text in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
        assert "canarypass9" not in text and "canaryqkey7" not in text


def test_a_testnet_run_whose_base_url_is_the_mainnet_api_needs_live(tmp_path, monkeypatch):
    monkeypatch.delenv("HL_AGENT_CONFIRM_MAINNET", raising=False)
    cfg = config_file(tmp_path, '[hyperliquid]\nnetwork = "testnet"\nbase_url = "https://api.hyperliquid.xyz/"\n'
                                'secret_key = "0x' + "11" * 32 + '"\n')
    for flags in ([], ["--testnet"]):
        res = runner.invoke(app, ["run", "-c", str(cfg), "--once", *flags])
        assert res.exit_code == 2 and "--live" in res.output and "mainnet API" in res.output, res.output
    res = runner.invoke(app, ["run", "-c", str(cfg), "--live", "--once"], input="no\n")
    assert res.exit_code == 1 and "not confirmed" in res.output
    assert not (tmp_path / "state").exists()  # nothing was started
