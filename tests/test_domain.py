"""Domain values: exact money, signed positions, the action union, approved orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from hyperliquid_agent.domain import (
    AccountState,
    MarketType,
    OrderIntent,
    Position,
    Side,
    TargetEntry,
    TradeAction,
    to_decimal,
)
from hyperliquid_agent.domain.verdicts import Approved, ApprovedOrder, require_approved

ACTION = TypeAdapter(TradeAction)


def test_to_decimal_is_exact_for_strings_and_float_reprs():
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")
    assert to_decimal(0.1) == Decimal("0.1")
    for bad in ("abc", "NaN", float("inf"), True, None):
        with pytest.raises(ValueError):
            to_decimal(bad)


def test_side_wire_letters_round_trip():
    assert Side.from_wire(Side.BUY.wire) is Side.BUY and Side.from_wire("A") is Side.SELL
    assert Side.BUY.opposite is Side.SELL and Side.SELL.sign == -1
    with pytest.raises(ValueError):
        Side.from_wire("X")


def test_short_position_keeps_its_sign():
    acct = AccountState(portfolio_value="1000", available_balance="900",
                        positions=(Position(coin="ETH", size="-1.5", entry_price="2000"),))
    assert acct.signed_size("ETH") == Decimal("-1.5")
    assert acct.position("ETH").is_short
    assert acct.position("ETH").notional(Decimal(2100)) == Decimal("-3150.0")
    assert acct.signed_size("BTC") == 0


def test_action_union_dispatches_on_action_type():
    a = ACTION.validate_python({"action_type": "close", "coin": "SOL", "market_type": "perp"})
    assert a.action_type == "close" and a.market_type is MarketType.PERP
    hold = ACTION.validate_python({"action_type": "hold"})
    assert hold.action_type == "hold"


@pytest.mark.parametrize("raw", [
    {"action_type": "buy", "coin": "BTC", "market_type": "futures"},  # unknown market type is an error
    {"action_type": "buy", "coin": "BTC", "market_type": "perp", "size": "-1"},
    {"action_type": "yolo", "coin": "BTC", "market_type": "perp"},
    {"action_type": "transfer", "amount": "0", "to_perp": True},
])
def test_invalid_actions_are_rejected_not_coerced(raw):
    with pytest.raises(ValidationError):
        ACTION.validate_python(raw)


def test_target_entry_is_signed_percent():
    t = TargetEntry(coin="ETH", target_pct="-25")
    assert t.target_pct == Decimal(-25)
    with pytest.raises(ValidationError):
        TargetEntry(coin="ETH", target_pct="5000")


def test_approved_order_cannot_be_built_outside_the_risk_policy():
    intent = OrderIntent(coin="BTC", side=Side.BUY, size="0.001", limit_price="65000")
    with pytest.raises(TypeError):
        ApprovedOrder(intent, Approved())
    with pytest.raises(TypeError):
        ApprovedOrder._issue(intent, Approved(), object())
    with pytest.raises(TypeError):
        require_approved([intent])


def test_json_round_trip_keeps_decimals_exact():
    intent = OrderIntent(coin="BTC", side=Side.SELL, size="0.00123", limit_price="65000.5")
    again = OrderIntent.model_validate_json(intent.model_dump_json())
    assert again == intent and isinstance(again.size, Decimal)


def test_spot_equity_values_tokens_at_their_price_else_at_cost():
    from hyperliquid_agent.domain.account import SpotBalance, spot_equity

    balances = [SpotBalance(coin="USDC", total=Decimal("100.5")),
                SpotBalance(coin="UBTC", total=Decimal("0.5"), entry_notional=Decimal("30000")),
                SpotBalance(coin="PURR", total=Decimal("10"), entry_notional=Decimal("2.5"))]
    assert spot_equity(balances, {"UBTC": Decimal("70000")}) == Decimal("100.5") + 35000 + Decimal("2.5")
    assert spot_equity(balances, {}) == Decimal("100.5") + 30000 + Decimal("2.5")
