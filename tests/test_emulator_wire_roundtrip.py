"""Properties of the wire layer both doors rely on: what the emulator writes, the adapter reads
back exactly; a valid Decimal price/size survives the SDK's float wire format unchanged."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.domain import Fill, Filled, LeverageType, Position, Rejected, Resting, Side, round_price, round_size
from hyperliquid_agent.exchange import wire

prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(500_000), places=6, allow_nan=False)
sizes = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(1_000_000), places=5, allow_nan=False)
signed = st.decimals(min_value=Decimal(-100_000), max_value=Decimal(100_000), places=5, allow_nan=False)
sz_decimals = st.integers(min_value=0, max_value=5)


@settings(max_examples=300, deadline=None)
@given(prices, sizes, sz_decimals)
def test_valid_prices_and_sizes_survive_the_sdks_float_wire_format(price, size, szd):
    from hyperliquid.utils.signing import float_to_wire

    p = round_price(price, szd)
    s = round_size(size, szd)
    assert Decimal(float_to_wire(float(p))) == p
    if s > 0:
        assert Decimal(float_to_wire(float(s))) == s


@settings(max_examples=200, deadline=None)
@given(signed, prices, st.sampled_from(list(LeverageType)), st.integers(min_value=1, max_value=50))
def test_positions_round_trip_with_their_sign(size, entry, lev_type, lev):
    if size == 0:
        return
    p = Position(coin="ETH", size=size, entry_price=entry, leverage=lev, leverage_type=lev_type,
                 unrealized_pnl=Decimal("-1.5"), margin_used=Decimal(3), position_value=abs(size) * entry)
    out = wire.clearinghouse_to_wire(
        [p], account_value=Decimal(100), total_margin_used=Decimal(3), total_ntl=abs(size) * entry,
        total_raw_usd=Decimal(100), withdrawable=Decimal(97), time_ms=1)
    back = wire.account_from_wire(wire.ClearinghouseStateWire.model_validate(out)).positions[0]
    assert back.size == size and (back.size < 0) == (size < 0)
    assert back.leverage == lev and back.leverage_type is lev_type
    # the entry comes back as the venue shows it: 6 significant figures (exactly, when it had no more)
    assert abs(back.entry_price - entry) <= abs(entry) * Decimal("0.000005")
    assert len(back.entry_price.normalize().as_tuple().digits) <= 6
    if len(entry.normalize().as_tuple().digits) <= 6:
        assert back.entry_price == entry


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal(-10**9), max_value=Decimal(10**9), allow_nan=False, allow_infinity=False),
       prices)
def test_account_amounts_are_written_as_the_venue_writes_them(amount, px):
    # USDC to 6 decimals, liquidation prices to 8, no trailing zeros, "0.0" never "-0.0" (as recorded)
    for text, places in ((wire.usdc_text(amount), 6), (wire.eight_decimals_text(px), 8)):
        whole, _, frac = text.partition(".")
        assert frac and len(frac) <= places and (frac == "0" or not frac.endswith("0")) and text != "-0.0"
    assert abs(Decimal(wire.usdc_text(amount)) - amount) <= Decimal("0.0000005")


USER = "0x" + "ab" * 20


@settings(max_examples=200, deadline=None)
@given(prices, sizes, st.sampled_from([Side.BUY, Side.SELL]), signed, st.booleans(), st.booleans())
def test_fills_round_trip(px, sz, side, start, crossed, liquidation):
    f = Fill(coin="BTC", side=side, price=px, size=sz, fee=Decimal("0.01"), time_ms=5, oid=7, cloid="0x" + "a" * 32,
             closed_pnl=Decimal("-2.25"), direction="Liquidated Cross Long" if liquidation else "Open Long",
             crossed=crossed, start_position=start, tid=9, liquidation=liquidation)
    assert wire.fill_from_wire(wire.UserFillWire.model_validate(wire.fill_to_wire(f, USER)), USER) == f


def test_a_liquidation_fill_is_ours_only_when_it_names_our_account_as_the_liquidated_user():
    f = Fill(coin="ETH", side=Side.SELL, price=Decimal("1900"), size=Decimal("0.9"), fee=Decimal("0.77"), time_ms=5,
             oid=7, direction="Liquidated Cross Long", tid=9, liquidation=True)
    ours = wire.fill_to_wire(f, USER)
    assert ours["liquidation"] == {"liquidatedUser": USER, "markPx": "1900.0", "method": "market"}
    assert wire.fill_from_wire(wire.UserFillWire.model_validate(ours), USER.upper().replace("0X", "0x")).liquidation
    # the liquidator's fill of someone else's liquidation carries the same object, naming that someone
    theirs = {**ours, "dir": "Open Short", "liquidation": {"liquidatedUser": "0x" + "99" * 20, "markPx": "1900.5",
                                                           "method": "backstop"}}
    parsed = wire.UserFillWire.model_validate(theirs)
    assert parsed.liquidation is not None and parsed.liquidation.markPx == Decimal("1900.5")
    assert not wire.fill_from_wire(parsed, USER).liquidation
    assert not wire.fill_from_wire(wire.UserFillWire.model_validate(wire.fill_to_wire(
        f.model_copy(update={"liquidation": False}), USER)), USER).liquidation


@given(st.integers(min_value=1, max_value=10**12), sizes, prices, st.text(min_size=1, max_size=80))
def test_order_outcomes_round_trip(oid, sz, px, error):
    for outcome in (Resting(oid=oid, cloid="0x" + "1" * 32), Filled(oid=oid, total_size=sz, avg_price=px),
                    Rejected(error=error)):
        assert wire.outcome_from_wire(wire.outcome_to_wire(outcome)) == outcome


def test_unknown_status_is_refused_not_guessed():
    import pytest

    with pytest.raises(ValueError):
        wire.outcome_from_wire({"surprise": {}})
    with pytest.raises(ValueError):
        wire.outcome_from_wire("success")
    assert isinstance(wire.outcome_from_wire("waitingForTrigger"), Resting)


def test_numbers_are_written_like_the_venue():
    assert wire.dec(Decimal("26951")) == "26951.0"
    assert wire.dec(Decimal("-0.00785")) == "-0.00785"
    assert wire.dec(Decimal("1E+2")) == "100.0"
    assert wire.dec(None) is None
