"""The venue model's leverage rules with a position open, as on Hyperliquid: the margin mode
cannot switch, and a lower leverage must leave margin for the position (before, 1x on a 20x
position was accepted and left margin used at 20 times the account value)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hyperliquid_agent.domain import Tif, round_price
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed
from hyperliquid_agent.exchange.venue_types import FeeSchedule, LimitType, OrderRequest, SlippageModel

ADDR = "0x" + "ab" * 20
DAY = 86_400_000


@pytest.fixture()
def model():
    feed = synthetic_feed(seed=7, days=60)
    m = VenueModel(feed, FeeSchedule(), SlippageModel(bps=Decimal(0)), start_ms=feed.start_ms + 35 * DAY)
    m.create_account(ADDR, Decimal(1000))
    return m


def open_long(m: VenueModel, size: str) -> None:
    px = round_price(m.mids()["ETH"] * Decimal("1.01"), 4)
    (out,) = m.place_orders(ADDR, [OrderRequest("ETH", True, px, Decimal(size), order_type=LimitType(Tif.IOC))])
    assert out.status == "filled"


def test_leverage_type_cannot_switch_with_a_position_open(model):
    assert model.update_leverage(ADDR, "ETH", 10, is_cross=False) is None  # flat: anything goes
    assert model.update_leverage(ADDR, "ETH", 10, is_cross=True) is None
    open_long(model, "1")
    assert model.update_leverage(ADDR, "ETH", 10, is_cross=False) == "Cannot switch leverage type with open position."
    assert model.account_state(ADDR).positions[0].leverage_type.value == "cross"
    assert model.update_leverage(ADDR, "BTC", 5, is_cross=False) is None  # another coin, no position there


def test_a_lower_leverage_needs_the_margin_for_it(model):
    model.update_leverage(ADDR, "ETH", 20)
    open_long(model, "4")  # about $14k at 20x: $700 of margin on a $1000 account
    before = model.margin_summary(ADDR)
    assert model.update_leverage(ADDR, "ETH", 10) == (
        "Cross position does not have sufficient margin available to decrease leverage.")
    assert model.account_state(ADDR).positions[0].leverage == 20
    assert model.margin_summary(ADDR) == before  # nothing changed
    assert model.update_leverage(ADDR, "ETH", 25) is None  # raising is fine
    assert model.update_leverage(ADDR, "ETH", 15) is None  # $930 of margin still fits
    assert model.account_state(ADDR).positions[0].leverage == 15
    assert model.margin_summary(ADDR).total_margin_used <= model.margin_summary(ADDR).account_value
