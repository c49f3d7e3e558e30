"""HyperliquidExchange failure handling against the emulator: unknown signers, injected 429/500,
timeouts, retry policy per class, agent wallets, vaults and nonces."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from emulator_support import address_of, funded_exchange, market_order, new_key, running_server
from hyperliquid_agent.domain import Filled, Side
from hyperliquid_agent.errors import (
    VenueAuthError,
    VenueRejectedError,
    VenueResponseError,
    VenueUnavailableError,
)
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
from hyperliquid_agent.exchange.nonce import NonceSource, wall_clock_ms


server = running_server(seed=5)


@pytest.fixture(autouse=True)
def _no_leftover_faults(server):
    yield
    server.clear_faults()


def test_unknown_signer_gets_the_venues_auth_error(server):
    stranger = HyperliquidExchange(server.url, new_key(), max_retries=0)
    assert stranger.account_state().positions == ()  # info on an unknown address is just empty
    with pytest.raises(VenueAuthError, match=r"User or API Wallet 0x[0-9a-f]{40} does not exist\."):
        stranger.set_leverage("BTC", 3)
    with pytest.raises(VenueAuthError, match="does not exist"):
        stranger.place_orders([market_order(stranger, "BTC", Side.BUY, "0.01")])


def test_a_read_is_retried_through_429_and_500(server):
    ex = funded_exchange(server)
    ex.asset_specs()
    server.inject_fault(429, count=1, path="/info")
    server.inject_fault(500, count=1, path="/info")
    before = server.count_requests("/info", "clearinghouseState")
    assert ex.account_state().portfolio_value == Decimal(10_000)
    assert server.count_requests("/info", "clearinghouseState") == before + 1  # the faulted ones never reached it


@pytest.mark.parametrize("body", ['{"error": "rate limited"}', '"slow down"', '[]', 'null', 'Too many requests'])
def test_a_429_is_retried_whatever_its_body(server, body):
    # the SDK reads a 4xx body as {"code", "msg"} JSON and raised a KeyError on other JSON, which hid
    # the status: the read failed as an unreadable response instead of being retried
    ex = funded_exchange(server)
    ex.asset_specs()
    server.inject_fault(429, count=1, path="/info", body=body)
    assert ex.account_state().portfolio_value == Decimal(10_000)
    server.inject_fault(400, count=1, path="/info", body='{"error": "bad request"}')
    with pytest.raises(VenueRejectedError, match=r"HTTP 400\): \{\"error\": \"bad request\"\}"):
        ex.account_state()


def test_a_read_that_keeps_failing_raises_unavailable(server):
    ex = funded_exchange(server, max_retries=2)
    ex.asset_specs()
    server.inject_fault(500, count=3, path="/info")
    with pytest.raises(VenueUnavailableError, match="HTTP 500"):
        ex.account_state()


def test_an_order_is_resent_after_429_because_it_certainly_did_not_land(server):
    ex = funded_exchange(server)
    order = market_order(ex, "BTC", Side.BUY, "0.01")
    server.inject_fault(429, count=1, path="/exchange")
    [out] = ex.place_orders([order])
    assert isinstance(out, Filled)
    assert ex.account_state().signed_size("BTC") == Decimal("0.01")


def test_an_order_is_not_resent_after_a_500(server):
    ex = funded_exchange(server)
    order = market_order(ex, "BTC", Side.BUY, "0.01")
    before = server.count_requests("/exchange")
    server.inject_fault(500, count=1, path="/exchange")
    with pytest.raises(VenueUnavailableError, match="HTTP 500"):
        ex.place_orders([order])
    server.clear_faults()
    assert server.count_requests("/exchange") == before  # the one try hit the fault; nothing resent
    assert ex.account_state().signed_size("BTC") == 0


def test_an_order_is_not_resent_after_a_timeout(server):
    ex = funded_exchange(server, timeout_s=0.3)
    order = market_order(ex, "ETH", Side.BUY, "0.1")
    server.inject_fault(None, count=1, delay_s=0.8, path="/exchange")  # answers, but too late
    before = server.count_requests("/exchange", "order")
    with pytest.raises(VenueUnavailableError, match="may have been executed"):
        ex.place_orders([order])
    # the slow request did land: exactly one order reached the venue, and it filled
    for _ in range(50):
        if server.count_requests("/exchange", "order") > before:
            break
        threading.Event().wait(0.05)
    assert server.count_requests("/exchange", "order") == before + 1
    assert ex.account_state().signed_size("ETH") == Decimal("0.1")


def test_a_cancel_is_retried_after_a_500(server):
    ex = funded_exchange(server)
    ex.asset_specs()
    server.inject_fault(500, count=1, path="/exchange")
    assert ex.cancel("BTC", 999_999) is False  # retried, then the venue says it never existed


def test_connection_refused_is_unavailable():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = HyperliquidExchange(f"http://127.0.0.1:{port}", new_key(), max_retries=1, backoff_s=0.001)
    with pytest.raises(VenueUnavailableError, match="connection"):
        ex.asset_specs()


def test_unparseable_response_is_a_response_error(server):
    ex = funded_exchange(server)
    ex.asset_specs()
    # a 200 that is not JSON: the SDK hands back {"error": "Could not parse JSON..."}
    server.inject_fault(200, count=1, path="/info", body="<html>oops</html>")
    with pytest.raises(VenueResponseError, match="not JSON"):
        ex.account_state()


def test_agent_wallet_trades_for_its_master(server):
    master_key, agent_key = new_key(), new_key()
    master = address_of(master_key)
    server.create_account(master, 5_000)
    server.register_agent(address_of(agent_key), master)
    agent = HyperliquidExchange(server.url, agent_key, account_address=master)
    [out] = agent.place_orders([market_order(agent, "SOL", Side.SELL, "3")])
    assert isinstance(out, Filled)
    assert agent.account_state().signed_size("SOL") == Decimal("-3")  # info queries use the master
    as_master = HyperliquidExchange(server.url, master_key)
    assert as_master.account_state().signed_size("SOL") == Decimal("-3")
    agent_own = HyperliquidExchange(server.url, new_key(), account_address=address_of(agent_key))
    assert agent_own.account_state().positions == ()  # the agent address itself holds nothing


def test_unapproved_agent_cannot_trade_for_a_master(server):
    master_key = new_key()
    server.create_account(address_of(master_key), 5_000)
    rogue = HyperliquidExchange(server.url, new_key(), account_address=address_of(master_key), max_retries=0)
    with pytest.raises(VenueAuthError):
        rogue.place_orders([market_order(rogue, "SOL", Side.BUY, "1")])


def test_vault_trading_by_its_leader(server):
    leader_key, vault = new_key(), address_of(new_key())
    server.create_account(address_of(leader_key), 100)
    server.create_account(vault, 20_000)
    server.register_vault(vault, address_of(leader_key))
    ex = HyperliquidExchange(server.url, leader_key, vault_address=vault)
    [out] = ex.place_orders([market_order(ex, "ETH", Side.BUY, "1")])
    assert isinstance(out, Filled)
    assert ex.account_state().signed_size("ETH") == Decimal("1")
    outsider = HyperliquidExchange(server.url, funded_key(server), vault_address=vault, max_retries=0)
    with pytest.raises(VenueAuthError):
        outsider.set_leverage("ETH", 2)


def funded_key(server) -> str:
    key = new_key()
    server.create_account(address_of(key), 100)
    return key


def test_nonce_source_is_strictly_increasing_even_when_the_clock_stands_still():
    frozen = NonceSource(clock_ms=lambda: 1_700_000_000_000)
    got = [frozen.next() for _ in range(1000)]
    assert got == sorted(set(got)) and got[0] == 1_700_000_000_000
    backwards = iter([10, 9, 8, 20])
    src = NonceSource(clock_ms=lambda: next(backwards))
    assert [src.next() for _ in range(4)] == [10, 11, 12, 20]


def test_nonce_source_is_unique_across_threads():
    src = NonceSource(clock_ms=lambda: 5)
    out: list[int] = []
    lock = threading.Lock()

    def work():
        mine = [src.next() for _ in range(500)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 2000


def test_many_actions_in_a_burst_never_collide(server):
    ex = funded_exchange(server)
    for _ in range(30):  # far more than one per millisecond
        ex.schedule_cancel(None)
    assert ex.nonces.last >= 30


def test_the_emulator_refuses_a_duplicate_and_a_too_low_nonce(server):
    from hyperliquid.utils.signing import sign_l1_action
    import eth_account
    import requests

    key = funded_key(server)
    wallet = eth_account.Account.from_key(key)

    def send(nonce: int) -> dict:
        action = {"type": "scheduleCancel"}
        sig = sign_l1_action(wallet, action, None, nonce, None, False)
        body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}
        return requests.post(server.url + "/exchange", json=body, timeout=5).json()

    base = wall_clock_ms() + 60_000  # the venue takes nonces within (now - 2 days, now + 1 day)
    assert send(base)["status"] == "ok"
    assert send(base) == {"status": "err", "response": f"Invalid nonce: duplicate nonce {base}"}
    for i in range(1, 101):
        assert send(base + i)["status"] == "ok"
    low = send(base - 5)
    assert low["status"] == "err" and low["response"].startswith(f"Invalid nonce: nonce too low {base - 5} < ")


def _signed_schedule_cancel(server, nonce: int, expires_after: int | None = None) -> dict:
    from hyperliquid.utils.signing import sign_l1_action
    import eth_account
    import requests

    wallet = eth_account.Account.from_key(funded_key(server))
    action = {"type": "scheduleCancel"}
    sig = sign_l1_action(wallet, action, None, nonce, expires_after, False)
    body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": expires_after}
    return requests.post(server.url + "/exchange", json=body, timeout=5).json()


def test_the_emulator_refuses_nonces_outside_the_time_window(server):
    day = 86_400_000
    stale = wall_clock_ms() - 2 * day - 60_000
    got = _signed_schedule_cancel(server, stale)
    assert got["status"] == "err" and got["response"].startswith(f"Invalid nonce: nonce too low {stale} < ")
    ahead = wall_clock_ms() + day + 60_000
    got = _signed_schedule_cancel(server, ahead)
    assert got["status"] == "err" and got["response"].startswith(f"Invalid nonce: nonce too high {ahead} > ")
    assert _signed_schedule_cancel(server, wall_clock_ms() - day)["status"] == "ok"


def test_the_emulator_enforces_expires_after(server):
    now = wall_clock_ms()
    assert _signed_schedule_cancel(server, now, expires_after=now - 1) == {
        "status": "err", "response": "Action already expired"}
    assert _signed_schedule_cancel(server, now + 1, expires_after=now + 60_000)["status"] == "ok"


def test_repr_never_shows_the_key(server):
    key = new_key()
    ex = HyperliquidExchange(server.url, key)
    assert key[2:] not in repr(ex) and key[2:] not in str(vars(ex))


def test_whole_action_rejection_is_not_retried(server):
    ex = funded_exchange(server)
    before = server.count_requests("/exchange", "updateLeverage")
    with pytest.raises(VenueRejectedError):
        ex.set_leverage("SOL", 99)
    assert server.count_requests("/exchange", "updateLeverage") == before + 1


def test_a_vault_without_funds_must_deposit(server):
    leader_key, vault = new_key(), address_of(new_key())
    server.register_vault(vault, address_of(leader_key))  # the leader has no account of its own either
    ex = HyperliquidExchange(server.url, leader_key, vault_address=vault, max_retries=0)
    with pytest.raises(VenueAuthError, match="Must deposit before performing actions"):
        ex.set_leverage("BTC", 2)


def test_an_agent_cannot_move_the_masters_money(server):
    master_key, agent_key = new_key(), new_key()
    master = address_of(master_key)
    server.create_account(master, 1_000)
    server.register_agent(address_of(agent_key), master)
    agent = HyperliquidExchange(server.url, agent_key, account_address=master, max_retries=0)
    with pytest.raises(VenueAuthError):
        agent.transfer_usd(Decimal(10), to_perp=False)
    HyperliquidExchange(server.url, master_key).transfer_usd(Decimal(10), to_perp=False)
    assert agent.account_state().spot_balance("USDC") == Decimal(10)


def test_a_malformed_key_is_a_config_error_that_does_not_echo_it():
    from hyperliquid_agent.errors import ConfigError

    bad = "0x" + "zz" * 32
    with pytest.raises(ConfigError, match="hyperliquid.secret_key") as err:
        HyperliquidExchange("http://127.0.0.1:9", bad)
    assert "zz" not in str(err.value) and err.value.__cause__ is None


def test_agent_approved_through_the_sdks_own_flow(server):
    """Master calls Exchange.approve_agent() (a user-signed action); the returned key trades for it.
    A second unnamed approval replaces the first agent, as on the venue."""
    from hyperliquid.exchange import Exchange
    import eth_account

    master_key = funded_key(server)
    master = address_of(master_key)
    sdk = Exchange(eth_account.Account.from_key(master_key), server.url)
    resp, agent_key = sdk.approve_agent()
    assert resp == {"status": "ok", "response": {"type": "default"}}
    agent = HyperliquidExchange(server.url, agent_key, account_address=master, max_retries=0)
    agent.set_leverage("ETH", 3)
    _, newer_key = sdk.approve_agent()
    with pytest.raises(VenueAuthError):
        agent.set_leverage("ETH", 4)
    HyperliquidExchange(server.url, newer_key, account_address=master).set_leverage("ETH", 4)
    named_resp, named_key = sdk.approve_agent("bot")
    assert named_resp["status"] == "ok"
    HyperliquidExchange(server.url, named_key, account_address=master).set_leverage("ETH", 5)
    HyperliquidExchange(server.url, newer_key, account_address=master).set_leverage("ETH", 2)  # still valid


def test_vault_transfer_moves_the_vaults_money(server):
    leader_key, vault = funded_key(server), address_of(new_key())
    server.create_account(vault, 5_000)
    server.register_vault(vault, address_of(leader_key))
    ex = HyperliquidExchange(server.url, leader_key, vault_address=vault)
    ex.transfer_usd(Decimal(100), to_perp=False)
    assert ex.account_state().spot_balance("USDC") == Decimal(100)
    leader = HyperliquidExchange(server.url, leader_key)
    assert leader.account_state().spot_balance("USDC") == 0


_META = {"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50}]}
_CTX = {"funding": "0.0000125", "openInterest": "10.0", "oraclePx": "60000.0", "markPx": "60000.0"}


@pytest.mark.parametrize("kind, payload, read, message", [
    ("clearinghouseState", {"assetPositions": [], "withdrawable": "1.0"}, lambda ex: ex.account_state(),
     "clearinghouseState: unexpected response shape: marginSummary: Field required"),
    ("clearinghouseState", {"marginSummary": {"accountValue": "12%"}, "withdrawable": "1.0"},
     lambda ex: ex.account_state(), "clearinghouseState: unexpected response shape: marginSummary.accountValue: '12%' is not a number"),
    ("metaAndAssetCtxs", [_META, []], lambda ex: ex.market_snapshot(),  # no silent zip of too few contexts
     "metaAndAssetCtxs: unexpected response shape: [1]: expected one asset context per asset (1), got 0 asset contexts"),
    ("metaAndAssetCtxs", [_META, [{**_CTX, "markPx": None}]], lambda ex: ex.market_snapshot(),
     "metaAndAssetCtxs: unexpected response shape: [1][0].markPx: cannot read NoneType None as a number"),
    ("allMids", ["BTC", "60000.0"], lambda ex: ex.market_snapshot(),
     "allMids: unexpected response shape: expected an object of coin -> mid price, got ['BTC', '60000.0']"),
    ("allMids", {"BTC": "NaN"}, lambda ex: ex.market_snapshot(),
     "allMids: unexpected response shape: BTC: 'NaN' is not a finite number"),
    ("candleSnapshot", [{"t": 1, "T": 2, "s": "BTC", "i": "1h", "o": "1", "c": "x", "h": "1", "l": "1", "v": "1"}],
     lambda ex: ex.candles("BTC", "1h", 0, 1), "candleSnapshot: unexpected response shape: [0].c: 'x' is not a number"),
    ("userFills", None, lambda ex: ex.fills(), "userFills: unexpected response shape: the response: expected a list, got None"),
    ("userFillsByTime", [{"coin": "BTC", "px": "1", "sz": "1", "side": "X", "time": 1, "oid": 1}], lambda ex: ex.fills(0),
     "userFillsByTime: unexpected response shape: [0].side: Input should be 'A' or 'B', got 'X'"),
    ("frontendOpenOrders", "none", lambda ex: ex.open_orders(),
     "frontendOpenOrders: unexpected response shape: the response: expected a list, got 'none'"),
    ("fundingHistory", [{"coin": "BTC", "time": 1}], lambda ex: ex.funding_history("BTC", 0),
     "fundingHistory: unexpected response shape: [0].fundingRate: Field required"),
    ("l2Book", {"coin": "BTC", "time": 1, "levels": [[{"px": "--", "sz": "1"}], []]}, lambda ex: ex.l2_book("BTC"),
     "l2Book: unexpected response shape: levels[0][0].px: '--' is not a number"),
])
def test_a_malformed_read_names_the_request_and_the_field_on_one_line(server, kind, payload, read, message):
    import json

    ex = funded_exchange(server)
    ex.asset_specs()
    server.inject_fault(200, count=1, path="/info", kind=kind, body=json.dumps(payload))
    with pytest.raises(VenueResponseError) as info:
        read(ex)
    assert str(info.value) == message


def test_an_html_page_names_the_request_it_answered(server):
    ex = funded_exchange(server)
    ex.asset_specs()
    server.inject_fault(200, count=1, path="/info", kind="metaAndAssetCtxs", body="<html>Bad gateway</html>")
    with pytest.raises(VenueResponseError, match=r"^metaAndAssetCtxs: the venue answered with something that is "
                                                 r"not JSON \(it starts with '<html>Bad gateway</html>'\)$"):
        ex.market_snapshot()
    assert ex.market_snapshot().mids["BTC"] > 0  # the next read is fine


def test_an_unreadable_order_status_names_the_field_on_one_line(server):
    ex = funded_exchange(server)
    order = market_order(ex, "BTC", Side.BUY, "0.01")
    status = {"filled": {"totalSz": "abc", "avgPx": "60000.0", "oid": 7}}
    body = '{"status":"ok","response":{"type":"order","data":{"statuses":[%s]}}}' % str(status).replace("'", '"')
    server.inject_fault(200, count=1, path="/exchange", kind="order", body=body)
    with pytest.raises(VenueResponseError) as info:
        ex.place_orders([order])
    assert str(info.value) == ("order: unreadable status {'filled': {'totalSz': 'abc', 'avgPx': '60000.0', 'oid': 7}}: "
                               "filled.totalSz: 'abc' is not a number")
