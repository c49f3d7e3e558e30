"""Spot on the venue model and through the emulator: spot meta, balances with holds,
spot orders (fills, resting, insufficient balance), and USDC between spot and perp."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from emulator_support import DAY_MS, address_of, approved, new_key
from hyperliquid_agent.domain import MarketType, OrderIntent, Side, Tif, TpSl, round_price, round_size
from hyperliquid_agent.exchange.emulator import EmulatorServer
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed
from hyperliquid_agent.exchange.venue_types import LimitType, OrderRequest, TriggerType

A = "0x" + "aa" * 20
IOC = LimitType(Tif.IOC)


def spot_model(perp: int = 1_000, spot: int = 5_000) -> VenueModel:
    feed = synthetic_feed(seed=5, days=6)
    model = VenueModel(feed, start_ms=feed.start_ms + 2 * DAY_MS, spot_tokens={"UBTC": "BTC"})
    model.create_account(A, Decimal(perp), Decimal(spot))
    return model


def px(model: VenueModel, away: str) -> Decimal:
    return round_price(model.mids()["@1"] * (1 + Decimal(away)), 5, MarketType.SPOT)


def balance(model: VenueModel, coin: str):
    return next(b for b in model.spot_balances(A) if b.coin == coin)


def test_a_spot_pair_is_listed_beside_the_perps_without_touching_the_feed():
    model = spot_model()
    spec = model.specs["@1"]
    assert (spec.asset_id, spec.market_type, spec.sz_decimals) == (10_001, MarketType.SPOT, 5)
    assert "@1" not in model.feed.specs and model.mids()["@1"] == model.mids()["BTC"]


def test_a_spot_buy_spends_usdc_and_a_sell_gives_it_back_with_spot_fees():
    model = spot_model()
    [buy] = model.place_orders(A, [OrderRequest("@1", True, px(model, "0.01"), Decimal("0.02"), order_type=IOC)])
    assert buy.status == "filled"
    fee = (Decimal("0.02") * buy.avg_price * Decimal("0.0007")).quantize(Decimal("0.000001"))
    assert balance(model, "USDC").total == 5_000 - Decimal("0.02") * buy.avg_price - fee
    ubtc = balance(model, "UBTC")
    assert ubtc.total == Decimal("0.02") and ubtc.entry_notional == Decimal("0.02") * buy.avg_price
    assert model.account_state(A).positions == ()  # spot makes no perp position
    equity = model.account_state(A).portfolio_value  # tokens at the pair's mid: only the fee and spread are lost
    assert equity == 1_000 + balance(model, "USDC").total + Decimal("0.02") * model.mids()["@1"]
    assert 6_000 - equity < Decimal("0.02") * buy.avg_price * Decimal("0.02")
    assert model.account_state(A).spot_balances == tuple(model.spot_balances(A))
    [sell] = model.place_orders(A, [OrderRequest("@1", False, px(model, "-0.01"), Decimal("0.01"), order_type=IOC)])
    assert sell.status == "filled"
    assert balance(model, "UBTC").total == Decimal("0.01")
    assert balance(model, "UBTC").entry_notional == Decimal("0.01") * buy.avg_price
    fill = model.fills(A)[-1]
    assert (fill.coin, fill.direction, fill.closed_pnl) == ("@1", "Sell", 0)


def test_spot_orders_need_the_free_balance():
    model = spot_model(spot=500)
    [big] = model.place_orders(A, [OrderRequest("@1", True, px(model, "0.01"), Decimal("1"), order_type=IOC)])
    assert big.error == "Insufficient spot balance asset=10001"
    [short] = model.place_orders(A, [OrderRequest("@1", False, px(model, "-0.01"), Decimal("0.01"), order_type=IOC)])
    assert short.error == "Insufficient spot balance asset=10001"  # no token to sell: spot cannot go short
    assert model.order_status(A, oid=2).status == "insufficientSpotBalanceRejected"  # oids 1 and 2 were refused


def test_a_resting_spot_buy_holds_usdc_then_fills_as_maker_when_touched():
    model = spot_model(spot=1_000)
    limit = px(model, "-0.002")
    size = round_size(Decimal(600) / limit, 5)
    [rest] = model.place_orders(A, [OrderRequest("@1", True, limit, size)])
    assert rest.status == "resting"
    assert balance(model, "USDC").hold == size * limit
    [second] = model.place_orders(A, [OrderRequest("@1", True, limit, size)])
    assert second.error == "Insufficient spot balance asset=10001"  # the first one holds the USDC
    assert model.usd_class_transfer(A, Decimal(500), to_perp=True) == "Insufficient balance for transfer."
    for _ in range(96):
        model.advance_to(model.now_ms + 3_600_000)
        if not model.open_orders(A):
            break
    assert not model.open_orders(A), "the synthetic market should come back 0.2% within four days"
    fill = model.fills(A)[-1]
    assert (fill.price, fill.size, fill.crossed) == (limit, size, False)
    assert fill.fee == (size * limit * Decimal("0.0004")).quantize(Decimal("0.000001"))
    assert balance(model, "USDC").hold == 0 and balance(model, "UBTC").total == size


def test_spot_refuses_reduce_only_triggers_and_leverage_and_pays_no_funding():
    model = spot_model()
    [ro] = model.place_orders(A, [OrderRequest("@1", False, px(model, "-0.01"), Decimal("0.01"), True, IOC)])
    assert ro.error == "Reduce only order would increase position."
    stop = px(model, "-0.1")
    [trg] = model.place_orders(A, [OrderRequest("@1", False, stop, Decimal("0.01"), False,
                                                TriggerType(stop, True, TpSl.SL))])
    assert trg.status == "error"
    assert model.update_leverage(A, "@1", 2) == "Invalid asset."
    model.place_orders(A, [OrderRequest("@1", True, px(model, "0.01"), Decimal("0.02"), order_type=IOC)])
    model.advance_to(model.now_ms + DAY_MS)
    assert model.user_funding(A) == []


def test_an_unknown_pricing_coin_is_a_clear_error():
    feed = synthetic_feed(seed=5, days=2)
    with pytest.raises(ValueError, match="tracks 'DOGE', which the feed does not list"):
        VenueModel(feed, spot_tokens={"UDOGE": "DOGE"})


# ---------------------------------------------------------------- through the SDK and our adapter


@pytest.fixture(scope="module")
def server():
    feed = synthetic_feed(seed=7, days=12)
    model = VenueModel(feed, start_ms=feed.start_ms + 5 * DAY_MS, spot_tokens={"UBTC": "BTC", "UETH": "ETH"})
    with EmulatorServer(model) as srv:
        yield srv


def test_spot_meta_and_the_sdk_names(server):
    from hyperliquid.info import Info

    meta = requests.post(server.url + "/info", json={"type": "spotMeta"}, timeout=5).json()
    assert [t["name"] for t in meta["tokens"]] == ["USDC", "UBTC", "UETH"]
    assert meta["universe"][1] == {"tokens": [2, 0], "name": "@2", "index": 2, "isCanonical": False}
    info = Info(server.url, skip_ws=True)
    assert info.name_to_asset("UBTC/USDC") == 10_001 and info.name_to_asset("@2") == 10_002
    assert "@1" in info.all_mids()
    assert [a["name"] for a in info.meta()["universe"]] == ["BTC", "ETH", "SOL"]  # perps only
    r = requests.post(server.url + "/info", json={"type": "fundingHistory", "coin": "@1", "startTime": 0}, timeout=5)
    assert (r.status_code, r.text) == (500, "null")


def test_the_adapter_moves_usdc_to_spot_buys_and_reads_the_balance(server):
    key = new_key()
    server.create_account(address_of(key), 2_000)
    ex = HyperliquidExchange(server.url, key, max_retries=1, backoff_s=0.001)
    assert ex.asset_specs()["@1"].market_type is MarketType.SPOT
    ex.transfer_usd(Decimal(1_000), to_perp=False)
    mid = ex.market_snapshot().mids["@1"]
    order = approved(OrderIntent(coin="@1", side=Side.BUY, size=Decimal("0.01"),
                                 limit_price=round_price(mid * Decimal("1.01"), 5, MarketType.SPOT), tif=Tif.IOC))
    [out] = ex.place_orders([order])
    assert out.status == "filled"
    spot = {b.coin: b for b in ex.account_state().spot_balances}
    assert spot["UBTC"].total == Decimal("0.01") and spot["USDC"].total < 1_000
    raw = requests.post(server.url + "/info", json={"type": "spotClearinghouseState", "user": ex.user},
                        timeout=5).json()
    assert [(b["coin"], b["token"]) for b in raw["balances"]] == [("USDC", 0), ("UBTC", 1)]
    too_big = approved(OrderIntent(coin="@1", side=Side.BUY, size=Decimal("1"),
                                   limit_price=round_price(mid * Decimal("1.01"), 5, MarketType.SPOT), tif=Tif.IOC))
    [refused] = ex.place_orders([too_big])
    assert refused.status == "error" and refused.error == "Insufficient spot balance asset=10001"
    # the equity counts the token at its pair's mid, so a spot buy is not booked as a loss
    state = ex.account_state()
    perp = Decimal(requests.post(server.url + "/info", json={"type": "clearinghouseState", "user": ex.user},
                                 timeout=5).json()["marginSummary"]["accountValue"])
    mid_now = Decimal(requests.post(server.url + "/info", json={"type": "allMids"}, timeout=5).json()["@1"])
    assert state.portfolio_value == perp + spot["USDC"].total + Decimal("0.01") * mid_now
