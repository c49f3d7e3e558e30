"""HyperliquidExchange through the real hyperliquid-python-sdk against the local emulator:
trading behaviour (opens, closes, flips, per-order errors, resting orders, transfers)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emulator_support import approved, cloid, funded_exchange, limit_order, market_order, running_server
from hyperliquid_agent.domain import Filled, OrderIntent, Rejected, Resting, Side, Tif
from hyperliquid_agent.errors import VenueRejectedError
from hyperliquid_agent.exchange.hyperliquid import NETWORK_URLS


server = running_server()


@pytest.fixture()
def ex(server):
    return funded_exchange(server)


def test_mainnet_and_testnet_urls_are_the_sdks_constants():
    from hyperliquid.utils import constants

    assert NETWORK_URLS["mainnet"] == constants.MAINNET_API_URL
    assert NETWORK_URLS["testnet"] == constants.TESTNET_API_URL
    assert not NETWORK_URLS["mainnet"].endswith("/")


def test_a_loopback_venue_ignores_proxy_settings_from_the_environment(server, monkeypatch):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    ex = funded_exchange(server)  # built after the variable is set: would go through the dead proxy
    assert ex.market_snapshot().mids["BTC"] > 0 and ex.account_state().portfolio_value > 0


def test_market_data_reads_parse_to_domain_values(ex, server):
    specs = ex.asset_specs()
    assert specs["BTC"].sz_decimals == 5 and specs["ETH"].asset_id == 1
    snap = ex.market_snapshot()
    assert set(snap.mids) == {"BTC", "ETH", "SOL"}
    assert isinstance(snap.mids["BTC"], Decimal)
    assert snap.contexts["BTC"].mark_price == snap.mids["BTC"]
    now = server.now_ms()
    candles = ex.candles("BTC", "1h", now - 48 * 3_600_000, now)
    assert len(candles) == 48 and all(c.t_ms + 3_600_000 <= now for c in candles)
    assert ex.funding_history("ETH", now - 24 * 3_600_000)
    book = ex.l2_book("SOL")
    assert book.best_bid.price < book.best_ask.price
    with pytest.raises(VenueRejectedError, match="unknown coin"):
        ex.candles("DOGE", "1h", 0, now)


def test_open_and_close_a_long(ex, server):
    [out] = ex.place_orders([market_order(ex, "BTC", Side.BUY, "0.01")])
    assert isinstance(out, Filled) and out.total_size == Decimal("0.01")
    assert ex.account_state().signed_size("BTC") == Decimal("0.01")
    [out] = ex.place_orders([market_order(ex, "BTC", Side.SELL, "0.01", reduce_only=True)])
    assert isinstance(out, Filled)
    state = ex.account_state()
    assert state.signed_size("BTC") == 0 and state.position("BTC") is None
    fills = ex.fills()
    assert [f.direction for f in sorted(fills, key=lambda f: f.tid or 0)] == ["Open Long", "Close Long"]
    assert all(f.fee > 0 for f in fills)
    assert len(ex.fills(start_ms=server.now_ms())) == 2 and ex.fills(start_ms=server.now_ms() + 1) == []


def test_open_and_close_a_short_keeps_the_sign(ex):
    ex.place_orders([market_order(ex, "ETH", Side.SELL, "0.5")])
    state = ex.account_state()
    assert state.signed_size("ETH") == Decimal("-0.5")
    assert state.position("ETH").is_short
    ex.place_orders([market_order(ex, "ETH", Side.BUY, "0.5", reduce_only=True)])
    assert ex.account_state().signed_size("ETH") == 0


def test_flip_from_long_to_short(ex):
    ex.place_orders([market_order(ex, "SOL", Side.BUY, "2")])
    [out] = ex.place_orders([market_order(ex, "SOL", Side.SELL, "5")])
    assert isinstance(out, Filled) and out.total_size == Decimal("5")
    assert ex.account_state().signed_size("SOL") == Decimal("-3")


def test_partial_close_leaves_the_rest(ex):
    ex.place_orders([market_order(ex, "ETH", Side.BUY, "1")])
    ex.place_orders([market_order(ex, "ETH", Side.SELL, "0.4", reduce_only=True)])
    assert ex.account_state().signed_size("ETH") == Decimal("0.6")


def test_per_order_errors_are_surfaced_one_by_one(ex):
    ok = market_order(ex, "BTC", Side.BUY, "0.002")
    tiny = market_order(ex, "ETH", Side.BUY, "0.001")  # about $2: under the $10 minimum
    grow = market_order(ex, "SOL", Side.BUY, "1", reduce_only=True)  # no position: would grow
    outs = ex.place_orders([ok, tiny, grow])
    assert isinstance(outs[0], Filled)
    assert isinstance(outs[1], Rejected) and "minimum value of $10" in outs[1].error
    assert isinstance(outs[2], Rejected) and outs[2].error == "Reduce only order would increase position."
    assert ex.account_state().signed_size("SOL") == 0


def test_reduce_only_that_would_grow_a_short_is_rejected(ex):
    ex.place_orders([market_order(ex, "SOL", Side.SELL, "1")])
    [out] = ex.place_orders([market_order(ex, "SOL", Side.SELL, "1", reduce_only=True)])
    assert isinstance(out, Rejected) and "Reduce only" in out.error
    assert ex.account_state().signed_size("SOL") == Decimal("-1")


def test_insufficient_margin_is_a_per_order_error(server):
    poor = funded_exchange(server, usdc=50)
    [out] = poor.place_orders([market_order(poor, "BTC", Side.BUY, "0.05")])  # ~$2k+ notional on $50
    assert isinstance(out, Rejected) and out.error.startswith("Insufficient margin to place order.")


def test_ioc_with_no_fill_is_rejected(ex):
    order = limit_order(ex, "ETH", Side.BUY, "0.1", away="0.05", tif=Tif.IOC)
    [out] = ex.place_orders([order])
    assert isinstance(out, Rejected)
    assert out.error.startswith("Order could not immediately match against any resting orders.")


def test_leverage_up_to_max_and_above(ex):
    ex.set_leverage("BTC", 10)
    ex.set_leverage("SOL", 20, is_cross=False)
    with pytest.raises(VenueRejectedError, match="Invalid leverage value"):
        ex.set_leverage("BTC", 41)
    ex.place_orders([market_order(ex, "BTC", Side.BUY, "0.01")])
    assert ex.account_state().position("BTC").leverage == 10


def test_price_precision_is_checked_before_sending(ex, server):
    before = server.count_requests("/exchange")
    bad = approved(OrderIntent(coin="ETH", side=Side.BUY, size=Decimal("0.1"), limit_price=Decimal("2000.123"),
                               tif=Tif.GTC))
    with pytest.raises(ValueError, match="precision"):
        ex.place_orders([bad])
    odd_size = approved(OrderIntent(coin="BTC", side=Side.BUY, size=Decimal("0.000001"), limit_price=Decimal(50000)))
    with pytest.raises(ValueError, match="multiple"):
        ex.place_orders([odd_size])
    assert server.count_requests("/exchange") == before


def test_the_emulator_rejects_an_invalid_price_from_a_raw_sdk_client(server):
    from hyperliquid.exchange import Exchange
    import eth_account

    from emulator_support import address_of, new_key

    key = new_key()
    server.create_account(address_of(key), 10_000)
    sdk = Exchange(eth_account.Account.from_key(key), server.url)
    resp = sdk.order("ETH", True, 0.1, 2000.123, {"limit": {"tif": "Gtc"}})
    assert resp["status"] == "ok"
    assert resp["response"]["data"]["statuses"] == [{"error": "Order has invalid price."}]


def test_only_approved_orders_reach_the_venue(ex):
    intent = OrderIntent(coin="BTC", side=Side.BUY, size=Decimal("0.01"), limit_price=Decimal(50000))
    with pytest.raises(TypeError, match="ApprovedOrder"):
        ex.place_orders([intent])  # type: ignore[list-item]


def test_resting_order_status_cancel_by_cloid(ex):
    c = cloid(0xABC1)
    [out] = ex.place_orders([limit_order(ex, "ETH", Side.BUY, "0.1", away="0.03", cloid=c)])
    assert isinstance(out, Resting) and out.cloid == c
    [open_order] = ex.open_orders()
    assert open_order.cloid == c and open_order.oid == out.oid and open_order.side is Side.BUY
    assert ex.order_status_by_cloid(c) == "open"
    assert ex.cancel_by_cloid("ETH", c) is True
    assert ex.order_status_by_cloid(c) == "canceled"
    assert ex.cancel_by_cloid("ETH", c) is False
    assert ex.order_status_by_cloid(cloid(0xDEAD)) is None
    assert ex.open_orders() == []


def test_cancel_by_oid(ex):
    [out] = ex.place_orders([limit_order(ex, "SOL", Side.SELL, "1", away="0.05")])
    assert ex.cancel("SOL", out.oid) is True
    assert ex.cancel("SOL", out.oid) is False


def test_resting_limit_fills_when_time_moves(server):
    ex = funded_exchange(server)
    [out] = ex.place_orders([limit_order(ex, "BTC", Side.BUY, "0.01", away="0.0005")])
    assert isinstance(out, Resting)
    server.step(6 * 3_600_000)  # a few bars: a 5 bp limit gets touched
    fills = ex.fills()
    assert any(f.oid == out.oid and not f.crossed for f in fills)
    assert ex.account_state().signed_size("BTC") == Decimal("0.01")


def test_schedule_cancel_clears_open_orders_when_due(server):
    ex = funded_exchange(server)
    ex.place_orders([limit_order(ex, "ETH", Side.BUY, "0.1", away="0.2")])
    ex.schedule_cancel(server.now_ms() + 60_000)
    server.step(3_600_000)
    assert ex.open_orders() == []
    ex.schedule_cancel(None)


def test_usd_transfer_between_spot_and_perp(ex):
    before = ex.account_state()
    ex.transfer_usd(Decimal("1000"), to_perp=False)
    mid = ex.account_state()
    assert mid.spot_balance("USDC") == before.spot_balance("USDC") + 1000
    assert mid.available_balance == before.available_balance - 1000
    ex.transfer_usd(Decimal("250.5"), to_perp=True)
    assert ex.account_state().spot_balance("USDC") == before.spot_balance("USDC") + Decimal("749.5")
    with pytest.raises(VenueRejectedError):
        ex.transfer_usd(Decimal("1000000"), to_perp=False)


def test_the_masters_liquidation_reads_as_ours_through_its_agent_wallet_and_a_liquidators_fill_does_not():
    # a short at 40x on 1,000 USDC, opened through an agent wallet: the venue liquidates the master
    # account within hours. The agent reads the master's fills, so the fill is a liquidation of ours.
    import json

    from hyperliquid.info import Info

    from emulator_support import address_of, make_server, new_key
    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange

    server = make_server()
    server.start()
    try:
        master_key, agent_key = new_key(), new_key()
        master = server.create_account(address_of(master_key), 1_000)
        server.register_agent(address_of(agent_key), master)
        ex = HyperliquidExchange(server.url, agent_key, account_address=master)
        ex.set_leverage("BTC", 40)
        size = Decimal(1_000) * 36 / ex.market_snapshot().mids["BTC"]
        [opened] = ex.place_orders([market_order(ex, "BTC", Side.SELL, str(round(size, 3)))])
        assert isinstance(opened, Filled)
        for _ in range(48):
            server.step(3_600_000)
            if not ex.account_state().positions:
                break
        assert not ex.account_state().positions, "a 40x short was not liquidated in 48 hours"
        newest, first = ex.fills()  # newest first, as the venue sends them
        assert not first.liquidation and first.direction == "Open Short"
        assert newest.liquidation and newest.direction == "Liquidated Cross Short" and newest.side is Side.BUY
        assert newest.size == opened.total_size and newest.oid != opened.oid
        raw = Info(server.url, skip_ws=True).user_fills(master)[0]
        assert raw["liquidation"] == {"liquidatedUser": master, "markPx": raw["px"], "method": "market"}
        # the liquidator's side of someone else's liquidation, as the venue sends it: not ours
        theirs = {**raw, "dir": "Open Short", "side": "A", "liquidation": {**raw["liquidation"],
                                                                           "liquidatedUser": "0x" + "99" * 20}}
        server.inject_fault(200, count=1, path="/info", body=json.dumps([theirs]))  # the next /info answer
        [fill] = ex.fills()
        assert fill.direction == "Open Short" and not fill.liquidation
    finally:
        server.stop()
