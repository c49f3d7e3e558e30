"""The adapter's failures as a user meets them: through `hl-agent run` on testnet settings (a
loopback URL standing in; nothing leaves the machine) and the retry policy's final word."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from _agent_env import config_file
from hyperliquid_agent.cli import app
from hyperliquid_agent.errors import VenueUnavailableError
from hyperliquid_agent.exchange.retry import Landed, RetryPolicy, VenueCallError, call_with_retry

runner = CliRunner()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def test_an_unreachable_testnet_venue_is_a_clear_error_not_a_traceback(tmp_path):
    # The start-up check re-raises the venue's error with a hint as `type(exc)(message)`; the
    # adapter's retryable error needed a second argument, so this ended in a TypeError traceback.
    port = _closed_port()
    cfg = config_file(tmp_path, f'[hyperliquid]\nbase_url = "http://127.0.0.1:{port}"\n'
                                f'secret_key = "0x{"5a" * 32}"\ntimeout_s = 2\nmax_retries = 0\n')
    res = runner.invoke(app, ["run", "-c", str(cfg), "--testnet", "--once"])
    assert res.exit_code == 2, res.output
    assert "cannot reach the venue" in res.output and f"127.0.0.1:{port}" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "5a" * 32 not in res.output


def test_a_retryable_error_rebuilt_from_its_message_stays_retryable_and_cautious():
    err = VenueCallError("allMids: venue server error (HTTP 502)")
    assert isinstance(err, VenueUnavailableError) and err.landed is Landed.MAYBE


def test_exhausted_retries_say_how_many_attempts_were_made_and_which_key_sets_them():
    waits: list[float] = []

    def fail() -> None:
        raise VenueCallError("allMids: venue server error (HTTP 502): <html>", Landed.MAYBE)

    with pytest.raises(VenueCallError) as caught:
        call_with_retry(fail, "allMids", RetryPolicy(max_retries=3, backoff_s=0.25), only_if_not_landed=False,
                        sleep=waits.append)
    assert "gave up after 4 attempts" in str(caught.value) and "hyperliquid.max_retries" in str(caught.value)
    assert caught.value.landed is Landed.MAYBE
    assert waits == [0.25, 0.5, 1.0]


def test_a_failure_not_retried_is_raised_as_it_came():
    def fail() -> None:
        raise VenueCallError("order: venue server error (HTTP 500)", Landed.MAYBE)

    with pytest.raises(VenueCallError) as caught:
        call_with_retry(fail, "order", RetryPolicy(), only_if_not_landed=True, sleep=lambda _: None)
    assert str(caught.value) == "order: venue server error (HTTP 500)"  # one attempt: nothing to add


def test_a_mainnet_url_with_a_trailing_slash_still_signs_for_mainnet():
    # Built without any request (the SDK objects are made on first use): nothing leaves the machine.
    from hyperliquid.utils.constants import MAINNET_API_URL, TESTNET_API_URL

    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange

    key = "0x" + "6b" * 32
    ex = HyperliquidExchange(MAINNET_API_URL + "/", key)
    assert ex.base_url == MAINNET_API_URL and ex.is_mainnet
    assert not HyperliquidExchange(TESTNET_API_URL + "//", key).is_mainnet
    assert HyperliquidExchange("https://API.hyperliquid.xyz:443", key).is_mainnet  # the host decides
    assert not HyperliquidExchange("http://127.0.0.1:3001", key).is_mainnet


@pytest.mark.parametrize("answer", ["hello", '{"status": "ok"}', "[1, 2]"])
def test_a_venue_url_that_is_not_an_emulator_is_named_with_the_fix(answer):
    """A server answering 200 to anything at venue.url: a clear error, not a JSONDecodeError or KeyError."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.exchange.factory import build_exchange

    class Anything(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = answer.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Anything)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        cfg = config_from_dict({"venue": {"url": url}, "hyperliquid": {"max_retries": 0}}, env={})
        with pytest.raises(VenueUnavailableError, match=r"is not an hl-agent emulator.*venue\.url"):
            build_exchange(cfg)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cut_answer_server() -> tuple[str, "socket.socket"]:
    """A server that starts a chunked JSON answer and hangs up in the middle of it."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\n{\"a\":\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}", srv


def test_an_answer_cut_off_midway_is_a_retryable_failure_that_may_have_landed():
    from hyperliquid.api import API

    from hyperliquid_agent.exchange.retry import classify, with_http_errors

    url, srv = _cut_answer_server()
    try:
        api = with_http_errors(API(url, 2))
        with pytest.raises(Exception) as caught:
            api.post("/info", {"type": "allMids"})
    finally:
        srv.close()
    err = classify(caught.value, "allMids")
    assert isinstance(err, VenueCallError) and err.landed is Landed.MAYBE  # was a VenueResponseError: never retried
    assert "connection dropped while the venue was answering" in str(err)


def test_a_read_cut_off_once_is_retried_and_an_order_cut_off_is_not_resent():
    import requests

    from emulator_support import address_of, make_server, market_order, new_key
    from hyperliquid_agent.domain import Side
    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange

    with make_server() as server:
        key = new_key()
        server.create_account(address_of(key), 10_000)
        ex = HyperliquidExchange(server.url, key, max_retries=2, sleep=lambda _: None)
        info, sdk = ex._sdk()
        calls = {"info": 0, "exchange": 0}

        def cut(obj, name):
            post = obj.post

            def once(path, payload=None):
                calls[name] += 1
                answer = post(path, payload)
                if calls[name] == 1:
                    raise requests.exceptions.ChunkedEncodingError("Response ended prematurely")
                return answer
            obj.post = once

        cut(info, "info")
        assert ex.account_state().portfolio_value == 10_000
        order = market_order(ex, "BTC", Side.BUY, "0.01")
        cut(sdk, "exchange")
        with pytest.raises(VenueUnavailableError, match="may have been executed"):
            ex.place_orders([order])
        assert calls["exchange"] == 1
        assert ex.account_state().signed_size("BTC") == Decimal("0.01")  # it landed once


@pytest.mark.parametrize("meta, message", [
    ('{"universe": [{"name": "BTC", "szDecimals": -1, "maxLeverage": 50}]}',
     r"meta: unexpected response shape: meta\.universe\[0\] \(BTC\): sz_decimals: Input should be greater than or equal to 0"),
    ('{"universe": [{"name": "BTC", "szDecimals": 40}]}', r"meta\.universe\[0\] \(BTC\): sz_decimals"),
])
def test_asset_specs_the_domain_refuses_are_a_response_error_naming_the_asset(meta, message):
    from emulator_support import address_of, make_server, new_key
    from hyperliquid_agent.errors import VenueResponseError
    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange

    with make_server() as server:
        key = new_key()
        server.create_account(address_of(key), 1_000)
        ex = HyperliquidExchange(server.url, key, max_retries=0)
        server.inject_fault(200, body=meta, kind="meta")
        with pytest.raises(VenueResponseError, match=message):  # was a bare pydantic ValidationError
            ex.asset_specs()
        assert ex.asset_specs()["BTC"].sz_decimals == 5  # the next try reads the venue's own meta


@pytest.mark.parametrize("network, key, value", [
    ("local", "account_address", "0x1234...abcd"),  # the docs' placeholder, left in
    ("local", "vault_address", "0x" + "ab" * 19),
    ("testnet", "account_address", "ABC"),
    ("mainnet", "vault_address", "0x" + "zz" * 20),
])
def test_an_address_that_is_not_one_is_a_config_error_naming_the_key(network, key, value):
    # Was an emulator refusal of createAccount (local) or the venue's HTTP 422 on the first read
    # (testnet, mainnet), neither naming the config key. Refused before anything is sent.
    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.errors import ConfigError
    from hyperliquid_agent.exchange.factory import build_exchange

    cfg = config_from_dict({"hyperliquid": {"network": network, key: value, "secret_key": "0x" + "2d" * 32},
                            "venue": {"synthetic_days": 10}}, env={})
    with pytest.raises(ConfigError, match=rf"hyperliquid\.{key} = .* is not an address; expected 0x followed by 40 hex"):
        build_exchange(cfg)


def test_funding_history_of_a_spot_pair_is_refused_without_asking_the_venue():
    # The venue answers HTTP 500 "null" for it: four requests with backoff, then "venue server error".
    from emulator_support import DAY_MS, address_of, new_key
    from hyperliquid_agent.errors import VenueRejectedError
    from hyperliquid_agent.exchange.emulator import EmulatorServer
    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
    from hyperliquid_agent.exchange.model import VenueModel
    from hyperliquid_agent.exchange.synthetic import synthetic_feed

    feed = synthetic_feed(days=5)
    with EmulatorServer(VenueModel(feed, start_ms=feed.start_ms + 2 * DAY_MS, spot_tokens={"UBTC": "BTC"})) as server:
        key = new_key()
        server.create_account(address_of(key), 1_000)
        ex = HyperliquidExchange(server.url, key, sleep=lambda _: None)
        [pair] = [name for name, s in ex.asset_specs().items() if s.market_type.value == "spot"]
        before = server.count_requests("/info", "fundingHistory")
        with pytest.raises(VenueRejectedError, match=rf"fundingHistory: {pair} is a spot pair; only perps have funding"):
            ex.funding_history(pair, feed.start_ms)
        assert server.count_requests("/info", "fundingHistory") == before
        assert ex.funding_history("BTC", feed.start_ms)  # perps as before


@pytest.mark.parametrize("section, key, network, url", [
    ("hyperliquid", "base_url", "testnet", "127.0.0.1:3001"),  # no scheme: "No connection adapters were found"
    ("hyperliquid", "base_url", "local", "http://"),
    ("venue", "url", "local", "localhost:3001"),
    ("venue", "url", "local", "http://127.0.0.1:abc"),
])
def test_a_venue_url_that_is_not_a_url_is_a_config_error_naming_the_key(section, key, network, url):
    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.errors import ConfigError
    from hyperliquid_agent.exchange.factory import build_exchange

    cfg = config_from_dict({"hyperliquid": {"network": network, "secret_key": "0x" + "2d" * 32},
                            section: {key: url}}, env={})
    with pytest.raises(ConfigError, match=rf"{section}\.{key} = .* is not a URL; expected http://HOST:PORT"):
        build_exchange(cfg)
