"""`build_exchange(cfg)`: the in-process emulator, a running one, real networks; and
`hl-agent venue serve` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from emulator_support import address_of, make_server, market_order, new_key
from hyperliquid_agent.config import config_from_dict
from hyperliquid_agent.domain import Filled, Side
from hyperliquid_agent.errors import MissingEnvError, VenueUnavailableError
from hyperliquid_agent.exchange.factory import build_exchange, warmup_start
from hyperliquid_agent.ports import ExchangePort


def test_local_network_starts_a_funded_in_process_emulator():
    cfg = config_from_dict({"venue": {"synthetic_days": 10, "start_equity_usd": 2500}}, env={})
    ex, close = build_exchange(cfg)
    try:
        assert isinstance(ex, ExchangePort)
        assert ex.base_url.startswith("http://127.0.0.1:")
        state = ex.account_state()
        assert state.portfolio_value == Decimal(2500)
        [out] = ex.place_orders([market_order(ex, "ETH", Side.BUY, "0.1")])
        assert isinstance(out, Filled)
        assert ex.now_ms() >= 5 * 24 * 3_600_000 + 1_704_067_200_000  # started after the warm-up
    finally:
        close()
    with pytest.raises(requests.ConnectionError):
        requests.post(ex.base_url + "/info", json={"type": "allMids"}, timeout=2)


@pytest.mark.parametrize("proxy", [None, "http://127.0.0.1:9"])  # a dead proxy must not matter on loopback
def test_local_network_connects_to_a_running_emulator_with_an_agent_key(monkeypatch, proxy):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    if proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
    with make_server() as srv:
        master = address_of(new_key())
        key = new_key()
        cfg = config_from_dict({"hyperliquid": {"secret_key": key, "account_address": master},
                                "venue": {"url": srv.url, "start_equity_usd": 777}}, env={})
        ex, close = build_exchange(cfg)
        try:
            assert ex.user == master and srv.agents[address_of(key)] == master
            assert ex.account_state().portfolio_value == Decimal(777)
            assert ex.now_ms() == srv.now_ms()  # the emulator's simulated clock
            ex.place_orders([market_order(ex, "SOL", Side.SELL, "1")])
            assert ex.account_state().signed_size("SOL") == Decimal(-1)
        finally:
            close()
        monkeypatch.delenv("HTTP_PROXY", raising=False)  # the check below uses plain requests
        assert requests.post(srv.url + "/info", json={"type": "allMids"}, timeout=2).ok  # not ours to stop


def test_unreachable_emulator_url_is_a_clear_error():
    cfg = config_from_dict({"venue": {"url": "http://127.0.0.1:9"}}, env={})
    with pytest.raises(VenueUnavailableError, match="hl-agent venue serve"):
        build_exchange(cfg)


def test_real_networks_need_the_secret_key_and_use_the_sdk_urls():
    cfg = config_from_dict({"hyperliquid": {"network": "testnet", "secret_key": "${HL_SECRET_KEY}"}}, env={})
    with pytest.raises(MissingEnvError, match="HL_SECRET_KEY"):
        build_exchange(cfg)
    key = new_key()
    cfg = config_from_dict({"hyperliquid": {"network": "mainnet", "secret_key": "${HL_SECRET_KEY}"}},
                           env={"HL_SECRET_KEY": key})
    ex, close = build_exchange(cfg)  # builds nothing on the network until used
    from hyperliquid.utils.constants import MAINNET_API_URL

    assert ex.base_url == MAINNET_API_URL and ex.is_mainnet
    assert key[2:] not in repr(ex)
    close()


def test_warmup_start_is_bounded_by_half_the_data():
    from hyperliquid_agent.exchange.synthetic import synthetic_feed

    short = synthetic_feed(seed=1, days=4)
    assert warmup_start(short) == short.start_ms + 2 * 24 * 3_600_000
    long = synthetic_feed(seed=1, days=90)
    assert warmup_start(long) == long.start_ms + 31 * 24 * 3_600_000  # the signals look back 30 days + 1 h


def test_venue_serve_cli_serves_until_interrupted(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[venue]\nsynthetic_days = 5\n')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hyperliquid_agent", "venue", "serve", "--port", "0",
                             "--speedup", "1", "--spot", "UBTC=BTC", "--json", "-c", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:  # the JSON document ends with a closing brace on its own line
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        assert info["coins"] == ["@1", "BTC", "ETH", "SOL"] and info["spot"] == {"@1": "UBTC/USDC"}
        assert requests.post(info["url"] + "/info", json={"type": "allMids"}, timeout=5).json()["BTC"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_venue_serve_rejects_both_sources():
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--data", "x", "--synthetic"])
    assert result.exit_code == 2 and "one of --data" in result.output


@pytest.mark.parametrize("spot, message", [("UBTC", "write TOKEN=COIN"),
                                           ("UDOGE=DOGE", "tracks 'DOGE', which the feed does not list")])
def test_venue_serve_names_a_bad_spot_token(spot, message):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--synthetic", "--spot", spot, "--port", "0"])
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_a_malformed_local_key_is_a_config_error():
    from hyperliquid_agent.errors import ConfigError

    cfg = config_from_dict({"hyperliquid": {"secret_key": "not-a-key"}, "venue": {"url": "http://127.0.0.1:9"}}, env={})
    with pytest.raises(ConfigError, match="hyperliquid.secret_key") as err:
        build_exchange(cfg)
    assert "not-a-key" not in str(err.value)


def test_venue_modules_import_the_sdk_lazily():
    code = ("import sys\n"
            "import hyperliquid_agent.exchange.factory, hyperliquid_agent.exchange.emulator, "
            "hyperliquid_agent.exchange.download, hyperliquid_agent.cli.venue_cmd, hyperliquid_agent.cli.data_cmd\n"
            "heavy = [m for m in ('hyperliquid', 'eth_account', 'requests', 'rich') if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_venue_serve_names_a_missing_data_folder(tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--data", str(tmp_path / "nope"), "--port", "0"])
    assert result.exit_code == 2
    assert "data directory not found" in result.output and "[venue]" in result.output
    assert "\\[venue]" not in result.output  # escaped once, not twice


def test_venue_serve_refuses_a_port_out_of_range_without_a_traceback():
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--synthetic", "--port", "99999"])
    assert result.exit_code == 2 and "--port" in result.output and "65535" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
