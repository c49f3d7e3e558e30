"""Parse the real recorded Hyperliquid responses (the SDK's VCR cassettes) with our wire models,
and check that what our emulator writes has the same shape (keys and JSON types).

Skips when ../shared/fixtures is absent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hyperliquid_agent.domain import LeverageType, Side
from hyperliquid_agent.exchange import wire

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hyperliquid-api"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures/hyperliquid-api")

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures/hyperliquid-api not present")

# Keys the 2023 recordings carry that the venue has since dropped (we neither read nor write them).
LEGACY_KEYS = {"maxTradeSzs"}
USER = "0x" + "00" * 20  # whose fills the recordings are does not matter: none of them is a liquidation


def recorded(request_type: str) -> list[tuple[dict[str, Any], Any]]:
    """Every (request body, response JSON) pair with this request type, across all cassettes."""
    import yaml

    out = []
    for f in sorted(FIXTURES.glob("*.yaml")):
        for it in yaml.safe_load(f.read_text())["interactions"]:
            req = json.loads(it["request"]["body"])
            if req.get("type") == request_type:
                out.append((req, json.loads(it["response"]["body"]["string"])))
    return out


def one(request_type: str) -> Any:
    pairs = recorded(request_type)
    assert pairs, f"no recorded {request_type} response"
    return pairs[0][1]


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def assert_same_shape(ours: Any, theirs: Any, path: str = "$") -> None:
    """Every key the recording has, we have too, with the same JSON type (null allowed either way)."""
    if theirs is None or ours is None:
        return
    assert _kind(ours) == _kind(theirs), f"{path}: ours is {_kind(ours)}, the venue's is {_kind(theirs)}"
    if isinstance(theirs, dict):
        missing = set(theirs) - set(ours) - LEGACY_KEYS
        assert not missing, f"{path}: keys missing from our response: {sorted(missing)}"
        for k in theirs:
            if k in ours:
                assert_same_shape(ours[k], theirs[k], f"{path}.{k}")
    elif isinstance(theirs, list) and theirs and ours:
        assert_same_shape(ours[0], theirs[0], f"{path}[0]")


# ---------------------------------------------------------------- reading


def test_meta_becomes_asset_specs_with_index_as_asset_id():
    meta = wire.MetaWire.model_validate(one("meta"))
    specs = wire.specs_from_wire(meta)
    assert specs["BTC"].asset_id == 0 and specs["BTC"].sz_decimals == 5
    assert specs["ETH"].asset_id == 1 and specs["ETH"].sz_decimals == 4
    assert specs["SOL"].max_leverage == 50


def test_an_asset_whose_margin_mode_allows_no_cross_is_isolated_only():
    # Current meta says it with `marginMode` ("strictIsolated" | "noCross") rather than the older
    # `onlyIsolated`: read as cross-capable, every leverage update the engine sent for the asset
    # asked for cross margin, which the venue refuses for it.
    meta = wire.MetaWire.model_validate({"universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
        {"name": "OLD", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": True},
        {"name": "NEW", "szDecimals": 0, "maxLeverage": 3, "marginMode": "noCross", "marginTableId": 3},
        {"name": "STR", "szDecimals": 1, "maxLeverage": 5, "marginMode": "strictIsolated"},
    ]})
    specs = wire.specs_from_wire(meta)
    assert {name: s.only_isolated for name, s in specs.items()} == {
        "BTC": False, "OLD": True, "NEW": True, "STR": True}


def test_clearinghouse_state_keeps_signed_sizes_and_exact_decimals():
    state = wire.ClearinghouseStateWire.model_validate(one("clearinghouseState"))
    account = wire.account_from_wire(state)
    btc = account.position("BTC")
    eth = account.position("ETH")
    assert btc is not None and btc.size == Decimal("-0.00785") and btc.is_short
    assert eth is not None and eth.size == Decimal("0.1334") and eth.is_long
    assert btc.entry_price == Decimal("26951.0")
    assert eth.liquidation_price is None  # null on the wire
    assert btc.leverage == 20 and btc.leverage_type is LeverageType.CROSS
    assert account.available_balance == Decimal(state.withdrawable)
    assert account.signed_size("BTC") < 0


def test_candles_parse_to_decimal_ohlcv():
    req, rows = recorded("candleSnapshot")[0]
    candles = [wire.candle_from_wire(wire.CandleWire.model_validate(r)) for r in rows]
    assert candles[0].t_ms == rows[0]["t"]
    assert candles[0].close == Decimal(rows[0]["c"])
    assert all(c.low <= c.high for c in candles)
    assert [c.t_ms for c in candles] == sorted(c.t_ms for c in candles)


def test_funding_history_parses_rates_and_premiums():
    rows = one("fundingHistory")
    points = [wire.funding_from_wire(wire.FundingHistoryWire.model_validate(r)) for r in rows]
    assert points[0].rate == Decimal("-0.00061334")
    assert points[0].premium == Decimal("-0.00091334")


def test_l2_book_sides_are_ordered():
    book = wire.book_from_wire(wire.L2BookWire.model_validate(one("l2Book")))
    assert book.coin == "DYDX"
    assert book.best_bid is not None and book.best_ask is not None
    assert book.best_bid.price < book.best_ask.price
    assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)


def test_user_fills_sides_and_directions():
    fills = [wire.fill_from_wire(wire.UserFillWire.model_validate(r), USER) for r in one("userFills")]
    assert fills and all(f.side in (Side.BUY, Side.SELL) for f in fills)
    assert not any(f.liquidation for f in fills)  # (the recorded fills have no liquidation)
    first = one("userFills")[0]
    assert fills[0].side is Side.from_wire(first["side"])
    assert fills[0].closed_pnl == Decimal(first["closedPnl"])


def test_open_and_frontend_orders_parse():
    plain = [wire.open_order_from_wire(wire.OpenOrderWire.model_validate(r)) for r in one("openOrders")]
    assert plain[0].limit_price == Decimal(one("openOrders")[0]["limitPx"])
    front = [wire.open_order_from_wire(wire.OpenOrderWire.model_validate(r)) for r in one("frontendOpenOrders")]
    triggers = [o for o in front if o.is_trigger]
    assert triggers and all(o.trigger_price is not None and o.reduce_only for o in triggers)


def test_user_funding_parses():
    rows = [wire.UserFundingWire.model_validate(r) for r in one("userFunding")]
    assert rows[0].delta.coin == "APE" and rows[0].delta.usdc == Decimal("0.145796")


def test_all_mids_are_decimals():
    mids = one("allMids")
    assert {k: Decimal(v) for k, v in mids.items()}["BTC"] == Decimal("30135.0")


# ---------------------------------------------------------------- writing: same shape as the venue


def _round_trip(request_type: str, model: Any, to_domain: Any, to_wire: Any) -> None:
    theirs = one(request_type)
    items = theirs if isinstance(theirs, list) else [theirs]
    ours = [to_wire(to_domain(model.model_validate(x))) for x in items]
    assert_same_shape(ours if isinstance(theirs, list) else ours[0], theirs)


def test_written_fills_have_the_venues_shape():
    _round_trip("userFills", wire.UserFillWire, lambda f: wire.fill_from_wire(f, USER),
                lambda f: wire.fill_to_wire(f, USER))


def test_written_orders_have_the_venues_shape():
    _round_trip("openOrders", wire.OpenOrderWire, wire.open_order_from_wire, wire.open_order_to_wire)
    _round_trip("frontendOpenOrders", wire.OpenOrderWire, wire.open_order_from_wire,
                lambda o: wire.open_order_to_wire(o, frontend=True))


def test_written_book_candles_funding_have_the_venues_shape():
    _round_trip("l2Book", wire.L2BookWire, wire.book_from_wire, wire.book_to_wire)
    _round_trip("candleSnapshot", wire.CandleWire, wire.candle_from_wire,
                lambda c: wire.candle_to_wire("kPEPE", "1h", c))
    _round_trip("fundingHistory", wire.FundingHistoryWire, wire.funding_from_wire,
                lambda f: wire.funding_to_wire("BTC", f))


def test_written_clearinghouse_state_has_the_venues_shape():
    theirs = one("clearinghouseState")
    account = wire.account_from_wire(wire.ClearinghouseStateWire.model_validate(theirs))
    state = wire.ClearinghouseStateWire.model_validate(theirs)
    ms = state.marginSummary
    ours = wire.clearinghouse_to_wire(
        account.positions, account_value=ms.accountValue, total_margin_used=ms.totalMarginUsed,
        total_ntl=ms.totalNtlPos, total_raw_usd=ms.totalRawUsd, withdrawable=state.withdrawable, time_ms=1)
    assert_same_shape(ours, theirs)
    # and it reads back to the same account
    again = wire.account_from_wire(wire.ClearinghouseStateWire.model_validate(ours))
    assert again.positions == account.positions


def test_shape_check_catches_a_missing_key():
    with pytest.raises(AssertionError, match="missing"):
        assert_same_shape({"a": "1"}, {"a": "1", "b": "2"})
    with pytest.raises(AssertionError, match="number"):
        assert_same_shape({"a": 1}, {"a": "1"})
