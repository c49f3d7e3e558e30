"""SimulatedExchange: the in-process ExchangePort over the venue model, for one account."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from hyperliquid_agent.config import VenueConfig
from hyperliquid_agent.domain import MarketType, OrderIntent, Side, Tif, TpSl, TriggerSpec
from hyperliquid_agent.domain.verdicts import _ISSUER_KEY, Approved, ApprovedOrder
from hyperliquid_agent.errors import ConfigError, VenueRejectedError
from hyperliquid_agent.exchange.feed import HOUR_MS, save_feed
from hyperliquid_agent.exchange.simulated import SimulatedExchange, feed_from_config, model_from_config
from hyperliquid_agent.ports import ExchangePort
from test_venue_model import T0, flat, make_feed, model_for


def approved(intent: OrderIntent) -> ApprovedOrder:
    """Test-only: only the risk policy issues ApprovedOrder in product code."""
    return ApprovedOrder._issue(intent, Approved(), _ISSUER_KEY)


def intent(side, size, price, **kw) -> OrderIntent:
    return OrderIntent(coin=kw.pop("coin", "ETH"), side=side, size=D(str(size)), limit_price=D(str(price)), **kw)


def port(**kw) -> SimulatedExchange:
    m = model_for({"ETH": [(2000,) * 4, (2000, 2001, 1890, 1900), (1900,) * 4]}, **kw)
    return SimulatedExchange(m, "0x" + "11" * 20)


def test_it_is_an_exchange_port():
    assert isinstance(port(), ExchangePort)


def test_place_orders_takes_only_approved_orders():
    ex = port()
    with pytest.raises(TypeError, match="ApprovedOrder"):
        ex.place_orders([intent(Side.BUY, 1, 2100)])
    assert ex.account_state().positions == ()


def test_open_long_then_flip_short_then_close_through_the_port():
    ex = port()
    out = ex.place_orders([approved(intent(Side.BUY, 1, 2100, cloid="0x" + "01" * 16))])
    assert out[0].status == "filled" and out[0].cloid == "0x" + "01" * 16
    ex.place_orders([approved(intent(Side.SELL, 3, 1900))])
    assert ex.account_state().signed_size("ETH") == D(-2)
    ex.place_orders([approved(intent(Side.BUY, 2, 2100, reduce_only=True))])
    assert ex.account_state().signed_size("ETH") == 0
    assert [f.direction for f in ex.fills()] == ["Open Long", "Long > Short", "Close Short"]
    assert ex.order_status_by_cloid("0x" + "01" * 16) == "filled"
    assert ex.order_status_by_cloid("0x" + "ff" * 16) is None


def test_rejections_come_back_as_values_in_order():
    ex = port()
    outs = ex.place_orders([approved(intent(Side.BUY, "0.001", 2100)), approved(intent(Side.BUY, 1, 2100)),
                            approved(intent(Side.BUY, 1, 10, market_type=MarketType.SPOT))])
    assert outs[0].error == "Order must have minimum value of $10. asset=1"
    assert outs[1].status == "filled"
    assert "spot" in outs[2].error


def test_resting_and_trigger_intents_and_cancels():
    ex = port()
    ex.place_orders([approved(intent(Side.BUY, 1, 2100))])
    rest = ex.place_orders([approved(intent(Side.BUY, 1, 1950, tif=Tif.GTC, cloid="0x" + "02" * 16))])[0]
    stop = ex.place_orders([approved(intent(Side.SELL, 1, 1800, reduce_only=True,
                                            trigger=TriggerSpec(trigger_price=D(1950), tpsl=TpSl.SL)))])[0]
    assert rest.status == stop.status == "resting"
    assert {o.order_type for o in ex.open_orders()} == {"Limit", "Stop Market"}
    assert ex.cancel_by_cloid("ETH", "0x" + "02" * 16) is True
    assert ex.cancel("ETH", rest.oid) is False
    ex.model.advance_to(T0 + 2 * HOUR_MS)  # the bar's low of 1890 fires the stop
    assert ex.account_state().signed_size("ETH") == 0
    assert ex.open_orders() == []


def test_leverage_and_transfer_failures_raise_venue_rejected():
    ex = port()
    ex.set_leverage("ETH", 10)
    ex.place_orders([approved(intent(Side.BUY, 1, 2100))])
    assert ex.account_state().position("ETH").leverage == 10
    with pytest.raises(VenueRejectedError, match="Invalid leverage value"):
        ex.set_leverage("ETH", 26)
    ex.transfer_usd(D(100), to_perp=False)
    assert ex.account_state().spot_balance("USDC") == D(100)
    with pytest.raises(VenueRejectedError, match="Insufficient balance"):
        ex.transfer_usd(D(1000), to_perp=True)
    with pytest.raises(VenueRejectedError, match="Insufficient balance"):
        ex.transfer_usd(D(9800), to_perp=False)  # 200 of margin is in use


def test_market_data_through_the_port_is_point_in_time():
    ex = port()
    snap = ex.market_snapshot()
    assert snap.time_ms == T0 + HOUR_MS and snap.mids == {"ETH": D(2000)}
    assert snap.contexts["ETH"].mark_price == D(2000)
    assert type(snap).model_validate(snap.model_dump()) == snap  # built unvalidated: what validation gives
    assert len(ex.candles("ETH", "1h", 0, T0 + 10 * HOUR_MS)) == 1
    assert ex.l2_book("ETH").best_ask.price == D("2000.1")
    assert ex.asset_specs()["ETH"].sz_decimals == 4
    ex.schedule_cancel(T0 + 5 * HOUR_MS)


def test_an_unknown_account_needs_a_starting_balance():
    m = model_for({"ETH": flat(2000)})
    with pytest.raises(ValueError, match="start_usdc"):
        SimulatedExchange(m, "0x" + "33" * 20)
    ex = SimulatedExchange(m, "0x" + "33" * 20, start_usdc=D(500))
    assert ex.account_state().portfolio_value == D(500)


def test_building_the_venue_from_config(tmp_path: Path):
    cfg = VenueConfig(seed=3, synthetic_days=5, taker_fee=D("0.0005"), slippage_bps=D(0),
                      impact_bps_per_million_usd=D(3))
    feed = feed_from_config(cfg, ["BTC", "SOL"])
    assert feed.coins == ["BTC", "SOL"] and len(feed.timeline) == 5 * 24
    m = model_from_config(cfg, feed)
    assert m.fees.taker == D("0.0005") and m.slippage.bps == 0 and m.slippage.bps_for(D(2000000)) == 6
    save_feed(make_feed({"ETH": flat(2000, 5)}), tmp_path)
    data = feed_from_config(VenueConfig(source="data", data_dir=str(tmp_path)), ["ETH"], tmp_path)
    assert data.coins == ["ETH"]
    with pytest.raises(ConfigError, match="data_dir"):
        feed_from_config(VenueConfig(source="data"), ["ETH"], None)
