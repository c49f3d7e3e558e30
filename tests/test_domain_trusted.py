"""`domain.values.trusted`: a model built without validation equals the validated one."""

from __future__ import annotations

from decimal import Decimal as D

from hyperliquid_agent.domain import AccountState, Filled, LeverageType, Position, SpotBalance
from hyperliquid_agent.domain.values import trusted


def test_a_trusted_position_and_account_equal_validated_ones_down_to_their_repr():
    fields = {"coin": "BTC", "size": D("-0.5"), "entry_price": D("60000.5"), "unrealized_pnl": D("12.25"),
              "leverage": 5, "leverage_type": LeverageType.ISOLATED, "liquidation_price": None,
              "margin_used": D("6000"), "position_value": D("30000"), "cum_funding": D("0.1")}
    pos = trusted(Position, dict(fields))
    assert pos == Position(**fields) and repr(pos) == repr(Position(**fields))
    usdc = {"coin": "USDC", "total": D("10"), "hold": D(0), "entry_notional": D(0)}
    state = {"portfolio_value": D("100"), "available_balance": D("50"), "margin_used": D("6000"),
             "total_notional": D("30000"), "positions": (pos,), "spot_balances": (trusted(SpotBalance, dict(usdc)),),
             "timestamp_ms": 7, "stale": False}
    built = trusted(AccountState, dict(state))
    checked = AccountState(**{**state, "spot_balances": (SpotBalance(**usdc),)})
    assert built == checked and repr(built) == repr(checked)
    assert built.model_dump(mode="json") == checked.model_dump(mode="json")
    assert built.model_copy(update={"stale": True}).stale and not built.stale  # copies stay independent


def test_a_trusted_outcome_serialises_like_a_validated_one():
    fields = {"status": "filled", "oid": 3, "total_size": D("0.01"), "avg_price": D("100.5"), "cloid": None}
    assert trusted(Filled, dict(fields)).model_dump_json() == Filled(**fields).model_dump_json()


def test_without_the_slot_layout_trusted_falls_back_to_model_construct(monkeypatch):
    from hyperliquid_agent.domain import values

    fields = {"status": "filled", "oid": 3, "total_size": D("0.01"), "avg_price": D("100.5"), "cloid": None}
    monkeypatch.setattr(values, "_SLOTS", None)  # as if a pydantic release laid BaseModel out differently
    built = trusted(Filled, dict(fields))
    assert built == Filled(**fields) and built.model_dump_json() == Filled(**fields).model_dump_json()


def test_trusted_values_of_a_frozen_model_share_a_fields_set_that_their_copies_do_not_change():
    fields = {"status": "filled", "oid": 3, "total_size": D("0.01"), "avg_price": D("100.5"), "cloid": None}
    a, b = trusted(Filled, dict(fields)), trusted(Filled, {**fields, "oid": 4})
    assert a.model_fields_set == b.model_fields_set == Filled(**fields).model_fields_set == set(fields)
    copied = a.model_copy(update={"cloid": "0x" + "ab" * 16})
    assert copied.cloid and copied.model_fields_set == set(fields)
    assert a.model_fields_set == b.model_fields_set == set(fields) and a.cloid is None


def test_trusted_values_of_a_model_that_can_be_assigned_to_keep_their_own_fields_set():
    from pydantic import BaseModel

    class Mutable(BaseModel):
        x: int
        y: int = 0

    a, b = trusted(Mutable, {"x": 1, "y": 2}), trusted(Mutable, {"x": 3, "y": 4})
    a.x = 5
    assert a.model_fields_set is not b.model_fields_set and b.model_fields_set == {"x", "y"}
