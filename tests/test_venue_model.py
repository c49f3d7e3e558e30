"""The venue model: Hyperliquid's order rules and error strings, fills, fees, positions,
funding, liquidation, transfers, leverage, and point-in-time market data.

Hand-built feeds with known bars make every expected number computable by hand. The
helpers here are shared with the other test_venue_model* modules.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from hyperliquid_agent.domain import AssetSpec, Filled, Rejected, Resting, Tif, TpSl
from hyperliquid_agent.errors import VenueAuthError
from hyperliquid_agent.exchange.feed import HOUR_MS, CoinSeries, MarketFeed
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.venue_types import (
    FeeSchedule,
    LimitType,
    OrderRequest,
    SlippageModel,
    TriggerType,
)

T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS
ADDR = "0x" + "11" * 20
SPECS = {"BTC": (0, 5, 40), "ETH": (1, 4, 25)}
IOC, GTC, ALO = LimitType(Tif.IOC), LimitType(Tif.GTC), LimitType(Tif.ALO)


def make_feed(bars: dict[str, list[tuple]], funding: dict[str, list] | None = None) -> MarketFeed:
    """Hourly bars from T0: bars[coin] = [(open, high, low, close), ...]; funding[coin] = the
    rate settled at each bar's close (None for none)."""
    series = {}
    for coin, rows in bars.items():
        asset, sz, lev = SPECS[coin]
        spec = AssetSpec(name=coin, asset_id=asset, sz_decimals=sz, max_leverage=lev)
        t = [T0 + k * HOUR_MS for k in range(len(rows))]
        cols = [[D(str(r[j])) for r in rows] for j in range(4)]
        rates = (funding or {}).get(coin) or []
        ft = [t[k] + HOUR_MS + 7 for k, r in enumerate(rates) if r is not None]  # records land just after the hour
        fr = [D(str(r)) for r in rates if r is not None]
        series[coin] = CoinSeries(coin, spec, HOUR_MS, t, *cols, [D(100)] * len(rows), ft, fr)
    return MarketFeed(series)


def flat(price, n: int = 10) -> list[tuple]:
    return [(price, price, price, price)] * n


def model_for(bars, funding=None, usdc="10000", slippage_bps="0", **kw) -> VenueModel:
    """A model one bar in (the first bar closed: mark = its close) with a funded account."""
    m = VenueModel(make_feed(bars, funding), FeeSchedule(), SlippageModel(bps=D(slippage_bps), spread_bps=D(1)),
                   start_ms=T0 + HOUR_MS, **kw)
    m.create_account(ADDR, D(usdc))
    return m


def req(coin, is_buy, px, sz, reduce_only=False, order_type=IOC, cloid=None) -> OrderRequest:
    return OrderRequest(coin, is_buy, D(str(px)), D(str(sz)), reduce_only, order_type, cloid)


def place(m: VenueModel, *reqs):
    out = m.place_orders(ADDR, list(reqs))
    return out[0] if len(out) == 1 else out


def szi(m: VenueModel, coin: str) -> D:
    return m.account_state(ADDR).signed_size(coin)


# ---------------------------------------------------------------- fills, fees, positions


def test_ioc_buy_fills_at_the_ask_plus_slippage_and_pays_taker_fee():
    m = model_for({"ETH": flat(2000)}, slippage_bps="2")
    out = place(m, req("ETH", True, 2100, "1.5"))
    assert isinstance(out, Filled)
    assert Filled.model_validate(out.model_dump()) == out  # a complete, valid domain value
    ask = D("2000.1")  # 2000 x (1 + 0.5 bp) rounded up to ETH's 2 decimals
    assert out.avg_price == ask * D("1.0002") and out.total_size == D("1.5")
    fill = m.fills(ADDR)[0]
    assert fill.fee == (D("1.5") * out.avg_price * D("0.00045")).quantize(D("0.000001"))
    assert fill.crossed and fill.direction == "Open Long" and fill.start_position == 0
    st = m.account_state(ADDR)
    assert st.signed_size("ETH") == D("1.5") and st.position("ETH").entry_price == out.avg_price


def test_market_fill_never_beyond_the_limit():
    m = model_for({"ETH": flat(2000)}, slippage_bps="50")
    out = place(m, req("ETH", True, "2000.5", 1))  # ask 2000.1 crosses, slipped price 2010.1 is capped
    assert out.avg_price == D("2000.5")
    out = place(m, req("ETH", False, "1999.5", 1))
    assert out.avg_price == D("1999.5")


def test_size_impact_adds_slippage_per_million_of_notional():
    m = VenueModel(make_feed({"BTC": flat(60000)}), FeeSchedule(),
                   SlippageModel(bps=D(1), spread_bps=D(1), impact_bps_per_million_usd=D(10)), start_ms=T0 + HOUR_MS)
    m.create_account(ADDR, D(1000000))
    small, big = place(m, req("BTC", True, 61000, "0.01")), place(m, req("BTC", True, 61000, 5))
    ask = D(60003)  # 60000 x (1 + 0.5 bp), rounded up to a whole dollar
    assert small.avg_price == ask * (1 + (1 + 10 * ask * D("0.01") / 1000000) / 10000)
    assert big.avg_price == ask * (1 + (1 + 10 * ask * 5 / 1000000) / 10000)  # ~4 bps for a $300k order


def test_flip_long_to_short_in_one_order_realizes_pnl_on_the_closed_part():
    m = model_for({"ETH": flat(2000)})
    place(m, req("ETH", True, 2100, 1))  # at the ask 2000.1
    out = place(m, req("ETH", False, 1900, 3))  # at the bid 1999.9
    assert out.avg_price == D("1999.9")
    fill = m.fills(ADDR)[-1]
    assert fill.direction == "Long > Short" and fill.start_position == D(1)
    assert fill.closed_pnl == D("1999.9") - D("2000.1")
    pos = m.account_state(ADDR).position("ETH")
    assert pos.size == D(-2) and pos.entry_price == D("1999.9")


def test_average_entry_and_partial_close():
    m = model_for({"ETH": [(2000,) * 4, (2200,) * 4, (2200,) * 4]})
    place(m, req("ETH", True, 2100, 1))  # 2000.1
    m.advance_to(T0 + 2 * HOUR_MS)  # mark 2200
    place(m, req("ETH", True, 2300, 1))  # ask 2200.2 (2200 x 1.00005 = 2200.11 -> up to 2200.2)
    pos = m.account_state(ADDR).position("ETH")
    assert pos.entry_price == (D("2000.1") + D("2200.2")) / 2
    place(m, req("ETH", False, 2100, "0.5"))  # bid 2199.8
    fill = m.fills(ADDR)[-1]
    assert fill.direction == "Close Long"
    assert fill.closed_pnl == D("0.5") * (D("2199.8") - pos.entry_price)
    assert szi(m, "ETH") == D("1.5")


def test_reduce_only_is_clamped_to_the_position_and_refused_when_it_would_grow_it():
    m = model_for({"ETH": flat(2000)})
    assert place(m, req("ETH", False, 1900, 1, reduce_only=True)).error == "Reduce only order would increase position."
    place(m, req("ETH", True, 2100, 1))
    assert place(m, req("ETH", True, 2100, 1, reduce_only=True)).error == "Reduce only order would increase position."
    out = place(m, req("ETH", False, 1900, 5, reduce_only=True))
    assert out.total_size == D(1) and szi(m, "ETH") == 0


def test_closing_short_buys_and_pnl_sign():
    m = model_for({"ETH": [(2000,) * 4, (1800,) * 4]})
    place(m, req("ETH", False, 1900, 2))  # short at 1999.9
    m.advance_to(T0 + 2 * HOUR_MS)
    out = place(m, req("ETH", True, 1900, 2, reduce_only=True))  # buy back at 1800.1
    assert out.avg_price == D("1800.1")
    assert m.fills(ADDR)[-1].closed_pnl == 2 * (D("1999.9") - D("1800.1"))
    assert m.fills(ADDR)[-1].direction == "Close Short"


# ---------------------------------------------------------------- the venue's per-order errors


@pytest.mark.parametrize("order, error", [
    (req("ETH", True, "2000.123", 1), "Order has invalid price."),  # 3 decimals > 6 - szDecimals
    (req("BTC", True, "60000.5", "0.01"), "Order has invalid price."),  # 6 significant figures
    (req("ETH", True, 2100, "0.00001"), "Order has invalid size."),  # finer than szDecimals=4
    (req("ETH", True, 2100, "0.004"), "Order must have minimum value of $10. asset=1"),
    (req("BTC", True, 61000, "0.0001"), "Order must have minimum value of $10. asset=0"),
    (req("ETH", True, 100, 1, order_type=GTC), "Order price cannot be more than 80% away from the reference price"),
    (req("ETH", True, 1999, 1), "Order could not immediately match against any resting orders. asset=1"),
    (req("ETH", True, "2000.1", 1, order_type=ALO), "Post only order would have immediately matched, bbo was 1999.9@2000.1."),
    (req("ETH", True, 2100, 100), "Insufficient margin to place order. asset=1"),  # 200k notional at 20x on 10k
    (req("DOGE", True, 1, 100), "Unknown asset DOGE."),
])
def test_per_order_errors_use_the_venues_strings(order, error):
    m = model_for({"BTC": flat(60000), "ETH": flat(2000)})
    out = place(m, order)
    assert isinstance(out, Rejected) and out.error == error
    assert m.account_state(ADDR).positions == () and m.open_orders(ADDR) == []


def test_one_outcome_per_order_in_order_and_a_bad_order_does_not_stop_the_rest():
    m = model_for({"ETH": flat(2000)})
    outs = place(m, req("ETH", True, 2100, 1), req("ETH", True, "1.234", 1), req("ETH", True, 1990, 1, order_type=GTC))
    assert [o.status for o in outs] == ["filled", "error", "resting"]


def test_margin_counts_resting_orders_and_leverage():
    m = model_for({"ETH": flat(2000)}, usdc="1000")
    assert m.update_leverage(ADDR, "ETH", 2) is None
    assert place(m, req("ETH", True, 1900, "0.5", order_type=GTC)).status == "resting"  # holds 475 of margin
    # 0.6 more would need 600 + 475 > 1000; 0.5 needs 500 + 475 (+ fee)
    assert place(m, req("ETH", True, 2100, "0.6")).error == "Insufficient margin to place order. asset=1"
    assert place(m, req("ETH", True, 2100, "0.5")).status == "filled"
    st = m.account_state(ADDR)
    assert st.position("ETH").leverage == 2
    assert st.margin_used == D("0.5") * 2000 / 2


def test_leverage_must_be_an_integer_up_to_max():
    m = model_for({"ETH": flat(2000), "BTC": flat(60000)})
    assert m.update_leverage(ADDR, "ETH", 26) == "Invalid leverage value"
    assert m.update_leverage(ADDR, "ETH", 0) == "Invalid leverage value"
    assert m.update_leverage(ADDR, "BTC", 40) is None
    assert m.update_leverage(ADDR, "ETH", 25, is_cross=False) is None


# ---------------------------------------------------------------- resting orders and triggers


def test_resting_limit_fills_as_maker_when_a_bar_touches_it():
    bars = {"ETH": [(2000,) * 4, (2000, 2010, 1990, 2005), (2005, 2006, 1940, 1950)]}
    m = model_for(bars)
    out = place(m, req("ETH", True, 1950, 1, order_type=GTC, cloid="0x" + "ab" * 16))
    assert isinstance(out, Resting) and out.cloid == "0x" + "ab" * 16
    assert m.advance_to(T0 + 2 * HOUR_MS, report=True) == []  # low 1990 does not reach 1950
    events = m.advance_to(T0 + 3 * HOUR_MS, report=True)
    assert [e.kind for e in events] == ["fill"]
    fill = m.fills(ADDR)[0]
    assert fill.price == D(1950) and not fill.crossed and fill.time_ms == T0 + 3 * HOUR_MS
    assert fill.fee == (D(1950) * D("0.00015")).quantize(D("0.000001"))
    assert m.open_orders(ADDR) == []
    assert m.order_status(ADDR, cloid="0x" + "ab" * 16).status == "filled"


def test_advancing_without_a_report_builds_no_events_and_records_the_same():
    bars = {"ETH": [(2000,) * 4, (2000, 2010, 1990, 2005), (2005, 2006, 1940, 1950), (1950, 1960, 1800, 1850)]}
    runs = []
    for report in (True, False):
        m = model_for(bars, funding={"ETH": [None, "0.0001", "0.0001", "-0.0002"]})
        place(m, req("ETH", True, 2100, 1))
        place(m, req("ETH", True, 1950, 1, order_type=GTC))
        place(m, req("ETH", False, 1850, 1, reduce_only=True, order_type=TriggerType(D(1900), True, TpSl.SL)))
        got = [m.advance_to(T0 + k * HOUR_MS, report=report) for k in (2, 3, 4)]
        assert all(e is None for e in got) if not report else sum(map(len, got)) > 0
        runs.append((m.fills(ADDR), m.user_funding(ADDR), m.account_state(ADDR), m.open_orders(ADDR)))
    assert runs[0] == runs[1]


def test_stop_loss_triggers_on_the_bars_low_and_fills_at_the_bid_below_the_trigger_less_slippage():
    bars = {"ETH": [(2000,) * 4, (2000, 2001, 1890, 1900)]}
    m = model_for(bars, slippage_bps="10")
    place(m, req("ETH", True, 2100, 1))
    sl = TriggerType(D(1950), True, TpSl.SL)
    out = place(m, req("ETH", False, 1800, 1, reduce_only=True, order_type=sl))
    assert out.status == "resting"
    oo = m.open_orders(ADDR)[0]
    assert oo.is_trigger and oo.order_type == "Stop Market" and oo.trigger_price == D(1950)
    kinds = [e.kind for e in m.advance_to(T0 + 2 * HOUR_MS, report=True)]
    assert kinds[:2] == ["trigger", "fill"]
    fill = m.fills(ADDR)[-1]
    # the bid half the 1 bp spread below the trigger (1949.9025, rounded down to 1949.9), less 10 bp
    assert fill.price == D("1949.9") * D("0.999") and fill.crossed
    assert szi(m, "ETH") == 0


def test_a_stop_limit_at_its_trigger_rests_when_the_bid_is_below_its_limit_and_fills_when_touched():
    """A triggered stop-limit meets the book around the price that fired it: selling with a limit
    at the trigger, it finds the bid half the spread below and does not fill; it rests as a limit
    and fills when a later bar trades through it."""
    bars = {"ETH": [(2000,) * 4, (2000, 2001, 1940, 1945), (1945, 1960, 1944, 1955)]}
    m = model_for(bars)
    place(m, req("ETH", True, 2100, 1))
    place(m, req("ETH", False, 1950, 1, reduce_only=True, order_type=TriggerType(D(1950), False, TpSl.SL)))
    m.advance_to(T0 + 2 * HOUR_MS)
    (rests,) = m.open_orders(ADDR)
    assert rests.trigger_price is None and rests.tif == "Gtc" and rests.limit_price == D(1950)  # fired, resting
    assert szi(m, "ETH") == 1
    m.advance_to(T0 + 3 * HOUR_MS)
    assert szi(m, "ETH") == 0 and m.fills(ADDR)[-1].price == D(1950) and not m.fills(ADDR)[-1].crossed


def test_a_gap_through_the_trigger_fills_at_the_bid_below_the_open():
    bars = {"ETH": [(2000,) * 4, (1900, 1910, 1880, 1890)]}
    m = model_for(bars)
    place(m, req("ETH", True, 2100, 1))
    place(m, req("ETH", False, 1500, 1, reduce_only=True, order_type=TriggerType(D(1950), True, TpSl.SL)))
    m.advance_to(T0 + 2 * HOUR_MS)
    assert m.fills(ADDR)[-1].price == D("1899.9")  # 1900 less half the spread, rounded down


def test_take_profit_on_a_short_triggers_when_price_falls():
    bars = {"ETH": [(2000,) * 4, (2000, 2001, 1890, 1900)]}
    m = model_for(bars)
    place(m, req("ETH", False, 1900, 1))
    place(m, req("ETH", True, 2000, 1, reduce_only=True, order_type=TriggerType(D(1920), True, TpSl.TP)))
    m.advance_to(T0 + 2 * HOUR_MS)
    assert szi(m, "ETH") == 0 and m.fills(ADDR)[-1].price == D("1920.1")  # the ask above 1920, rounded up


@pytest.mark.parametrize("long", [True, False])
def test_a_bar_that_reaches_both_the_take_profit_and_the_stop_fires_the_stop(long):
    """The path inside a bar is unknown: the model takes the one worse for the position (a long's
    bar falls first, a short's rises first), so the stop fires even though the take-profit was
    placed first (the executor places TP before SL), and the take-profit finds no position."""
    bars = {"ETH": [(2000,) * 4, (2000, 2100, 1900, 2000)]}  # one bar through 2060 and 1940
    m = model_for(bars)
    place(m, req("ETH", long, 2100 if long else 1900, 1))
    tp, sl = (D(2060), D(1940)) if long else (D(1940), D(2060))
    exit_px = 1500 if long else 2500
    place(m, req("ETH", not long, exit_px, 1, reduce_only=True, order_type=TriggerType(tp, True, TpSl.TP)),
          req("ETH", not long, exit_px, 1, reduce_only=True, order_type=TriggerType(sl, True, TpSl.SL)))
    m.advance_to(T0 + 2 * HOUR_MS)
    exit_fill = m.fills(ADDR)[-1]
    # at the book around the stop (a long sells at the bid below it, a short buys at the ask above it),
    # against an entry at the ask 2000.1 (a long) or the bid 1999.9 (a short)
    price, pnl = (D("1939.9"), D("-60.2")) if long else (D("2060.2"), D("-60.3"))
    assert szi(m, "ETH") == 0 and exit_fill.price == price and exit_fill.closed_pnl == pnl
    assert m.open_orders(ADDR) == []
    assert [m.order_status(ADDR, oid=o).status for o in (2, 3)] == ["reduceOnlyCanceled", "filled"]


def test_a_take_profit_the_bar_opened_through_still_fires_first():
    """What the open shows is known: a bar that opens beyond the take-profit fills it at the open."""
    bars = {"ETH": [(2000,) * 4, (2070, 2100, 1900, 2000)]}
    m = model_for(bars)
    place(m, req("ETH", True, 2100, 1))
    place(m, req("ETH", False, 1500, 1, reduce_only=True, order_type=TriggerType(D(2060), True, TpSl.TP)),
          req("ETH", False, 1500, 1, reduce_only=True, order_type=TriggerType(D(1940), True, TpSl.SL)))
    m.advance_to(T0 + 2 * HOUR_MS)
    assert szi(m, "ETH") == 0 and m.fills(ADDR)[-1].price == D("2069.8")  # the bid below the open


def test_trigger_already_satisfied_is_an_invalid_tpsl_price():
    m = model_for({"ETH": flat(2000)})
    place(m, req("ETH", True, 2100, 1))
    out = place(m, req("ETH", False, 1900, 1, reduce_only=True, order_type=TriggerType(D(2050), True, TpSl.SL)))
    assert out.error == "Invalid TP/SL price."
    out = place(m, req("ETH", False, 1900, 1, reduce_only=True, order_type=TriggerType(D(1950), True, TpSl.TP)))
    assert out.error == "Invalid TP/SL price."


def test_reduce_only_resting_order_is_canceled_when_the_position_is_gone():
    bars = {"ETH": [(2000,) * 4, (2000, 2100, 2000, 2050)]}
    m = model_for(bars)
    place(m, req("ETH", True, 2100, 1))
    tp = place(m, req("ETH", False, 2080, 1, reduce_only=True, order_type=GTC))
    place(m, req("ETH", False, 1900, 1, reduce_only=True))  # closed by hand first
    events = m.advance_to(T0 + 2 * HOUR_MS, report=True)
    assert [(e.kind, e.note) for e in events] == [("cancel", "reduceOnlyCanceled")]
    assert m.order_status(ADDR, oid=tp.oid).status == "reduceOnlyCanceled"


def test_cancel_by_oid_and_cloid_and_the_error_for_a_second_cancel():
    m = model_for({"ETH": flat(2000)})
    a = place(m, req("ETH", True, 1900, 1, order_type=GTC))
    place(m, req("ETH", True, 1901, 1, order_type=GTC, cloid="0x" + "cd" * 16))
    assert m.cancel(ADDR, "ETH", a.oid) is None
    assert m.cancel(ADDR, "ETH", a.oid) == "Order was never placed, already canceled, or filled."
    assert m.cancel(ADDR, "BTC", 999) == "Order was never placed, already canceled, or filled."
    assert m.cancel_by_cloid(ADDR, "ETH", "0x" + "CD" * 16) is None
    assert m.open_orders(ADDR) == []
    assert m.order_status(ADDR, oid=a.oid).status == "canceled"


def test_schedule_cancel_cancels_everything_at_its_time():
    m = model_for({"ETH": flat(2000)})
    a = place(m, req("ETH", True, 1900, 1, order_type=GTC))
    m.schedule_cancel(ADDR, T0 + 3 * HOUR_MS)
    m.advance_to(T0 + 2 * HOUR_MS)
    assert len(m.open_orders(ADDR)) == 1
    m.advance_to(T0 + 3 * HOUR_MS)
    assert m.open_orders(ADDR) == []
    assert m.order_status(ADDR, oid=a.oid).status == "scheduledCancel"


def test_a_resent_cloid_keeps_the_first_orders_status():
    m = model_for({"ETH": flat(2000)}, usdc="1000")
    cloid = "0x" + "12" * 16
    assert place(m, req("ETH", True, 2100, "0.1", cloid=cloid)).status == "filled"
    assert place(m, req("ETH", True, 2100, 100, cloid=cloid)).status == "error"  # no margin for this one
    assert m.order_status(ADDR, cloid=cloid).status == "filled"


def test_order_status_reports_rejections_by_cloid_and_unknown_orders_as_none():
    m = model_for({"ETH": flat(2000)})
    cloid = "0x" + "ef" * 16
    place(m, req("ETH", True, 2100, "0.001", cloid=cloid))
    assert m.order_status(ADDR, cloid=cloid).status == "minTradeNtlRejected"
    assert m.order_status(ADDR, cloid="0x" + "00" * 16) is None
    assert m.order_status(ADDR, oid=12345) is None
    assert m.order_status("0x" + "22" * 20, cloid=cloid) is None  # another account's order


# ---------------------------------------------------------------- funding, liquidation, wallets


def test_hourly_funding_is_size_times_oracle_times_rate_and_longs_pay_when_positive():
    bars = {"ETH": [(2000,) * 4, (2000, 2010, 1990, 2010)], "BTC": [(60000,) * 4] * 2}
    m = model_for(bars, funding={"ETH": [None, "0.0001"], "BTC": [None, "-0.0002"]})
    place(m, req("ETH", True, 2100, 2), req("BTC", False, 59000, "0.01"))
    cash_before = m.margin_summary(ADDR).total_raw_usd
    m.advance_to(T0 + 2 * HOUR_MS)
    pays = {p.coin: p for p in m.user_funding(ADDR)}
    assert pays["ETH"].usdc == -(2 * D(2010) * D("0.0001"))  # long pays 0.402
    assert pays["BTC"].usdc == -(D("-0.01") * D(60000) * D("-0.0002"))  # short pays when negative: -0.12
    assert m.margin_summary(ADDR).total_raw_usd - cash_before == pays["ETH"].usdc + pays["BTC"].usdc
    assert m.account_state(ADDR).position("ETH").cum_funding == D("0.402")


def test_funding_is_paid_on_the_recorded_oracle_price_not_the_close():
    rows = [(2000,) * 4, (2000, 2010, 1990, 2010)]
    spec = AssetSpec(name="ETH", asset_id=1, sz_decimals=4, max_leverage=25)
    t = [T0, T0 + HOUR_MS]
    cols = [[D(str(r[j])) for r in rows] for j in range(4)]
    series = CoinSeries("ETH", spec, HOUR_MS, t, *cols, [D(100)] * 2, [T0 + 2 * HOUR_MS + 7], [D("0.0001")],
                        oracle=[D(2000), D(1990)])
    m = VenueModel(MarketFeed({"ETH": series}), start_ms=T0 + HOUR_MS)
    m.create_account(ADDR, D(10_000))
    place(m, req("ETH", True, 2100, 2))
    m.advance_to(T0 + 2 * HOUR_MS)
    [pay] = m.user_funding(ADDR)
    assert pay.usdc == -(2 * D(1990) * D("0.0001"))  # the oracle 1990, not the close 2010


def test_liquidation_when_the_bars_adverse_extreme_breaches_maintenance():
    bars = {"ETH": [(2000,) * 4, (2000, 2001, 1980, 1990), (1990, 1995, 1900, 1950)]}
    m = model_for(bars, usdc="100")
    place(m, req("ETH", True, 1990, 1, order_type=GTC))  # rests; cancelled by the liquidation
    place(m, req("ETH", True, 2100, "0.9"))  # ~1800 notional on 100 USDC at 20x
    liq = m.account_state(ADDR).position("ETH").liquidation_price
    assert D(1900) < liq < D(1980)
    m.advance_to(T0 + 2 * HOUR_MS)  # the low of 1980 stays above the liquidation price
    assert szi(m, "ETH") == D("0.9")
    events = m.advance_to(T0 + 3 * HOUR_MS, report=True)
    assert "liquidation" in [e.kind for e in events]
    assert szi(m, "ETH") == 0 and m.open_orders(ADDR) == []
    *ordinary, liquidated = m.fills(ADDR)
    assert liquidated.price == D(1900) and liquidated.side.value == "sell" and liquidated.size == D("0.9")
    assert liquidated.liquidation and liquidated.direction == "Liquidated Cross Long"
    assert [(f.liquidation, f.direction) for f in ordinary] == [(False, "Open Long")]
    assert m.account_state(ADDR).portfolio_value >= 0


def test_a_liquidated_short_on_isolated_leverage_says_so_in_its_direction():
    # isolated is margined as cross here, but the fill names the margin mode the account set, as the venue does
    bars = {"ETH": [(2000,) * 4, (2000, 2100, 1995, 2050)]}
    m = model_for(bars, usdc="100")
    assert m.update_leverage(ADDR, "ETH", 20, is_cross=False) is None
    place(m, req("ETH", False, 1900, "0.9"))
    m.advance_to(T0 + 2 * HOUR_MS)
    opened, liquidated = m.fills(ADDR)
    assert not opened.liquidation and opened.direction == "Open Short"
    assert liquidated.liquidation and liquidated.direction == "Liquidated Isolated Short"
    assert liquidated.side.value == "buy" and liquidated.price == D(2100) and szi(m, "ETH") == 0


def test_liquidation_price_is_where_account_value_meets_maintenance():
    m = model_for({"ETH": flat(2000)}, usdc="300")
    place(m, req("ETH", False, 1900, 2))
    st = m.account_state(ADDR)
    pos = st.position("ETH")
    liq = pos.liquidation_price
    value_at_liq = m.margin_summary(ADDR).total_raw_usd + pos.size * liq
    maint_at_liq = abs(pos.size) * liq / 50
    assert abs(value_at_liq - maint_at_liq) < D("1e-18")


def test_usd_class_transfer_between_spot_and_perp():
    m = model_for({"ETH": flat(2000)}, usdc="1000")
    assert m.usd_class_transfer(ADDR, D(2000), to_perp=False) == "Insufficient balance for transfer."
    assert m.usd_class_transfer(ADDR, D(400), to_perp=False) is None
    assert m.spot_balances(ADDR)[0].total == D(400)
    assert m.usd_class_transfer(ADDR, D(500), to_perp=True) == "Insufficient balance for transfer."
    assert m.usd_class_transfer(ADDR, D(150), to_perp=True) is None
    st = m.account_state(ADDR)
    assert st.available_balance == D(750) and st.spot_balance("USDC") == D(250)
    assert st.portfolio_value == D(1000)


def test_withdrawable_keeps_the_margin_in_use():
    m = model_for({"ETH": flat(2000)}, usdc="1000")
    m.update_leverage(ADDR, "ETH", 5)
    place(m, req("ETH", True, 2100, 1))
    s = m.margin_summary(ADDR)
    assert s.total_margin_used == D(400)
    assert s.withdrawable == s.account_value - D(400)


def test_unknown_accounts():
    m = model_for({"ETH": flat(2000)})
    other = "0x" + "99" * 20
    with pytest.raises(VenueAuthError, match="does not exist"):
        m.place_orders(other, [req("ETH", True, 2100, 1)])
    st = m.account_state(other)
    assert st.portfolio_value == 0 and st.positions == ()
    assert m.fills(other) == [] and m.open_orders(other) == [] and not m.has_account(other)
    assert m.has_account(ADDR.upper().replace("0X", "0x"))


# ---------------------------------------------------------------- market data, point in time


def ramp(n: int, start: int = 100) -> list[tuple]:
    return [(start + k, start + k + 2, start + k - 1, start + k + 1) for k in range(n)]


def test_candles_are_only_bars_closed_at_or_before_now():
    m = VenueModel(make_feed({"ETH": ramp(48, 2000)}), start_ms=T0 + 5 * HOUR_MS + 10)
    got = m.candles("ETH", "1h", T0, T0 + 48 * HOUR_MS)
    assert [c.t_ms for c in got] == [T0 + k * HOUR_MS for k in range(5)]
    m.advance_to(T0 + 6 * HOUR_MS)
    assert len(m.candles("ETH", "1h", T0, T0 + 48 * HOUR_MS)) == 6
    assert m.mids()["ETH"] == D(2006)


def test_coarser_candles_aggregate_complete_utc_buckets_only():
    day0 = T0 - T0 % (24 * HOUR_MS)
    k0 = (day0 + 24 * HOUR_MS - T0) // HOUR_MS  # first bar of the next UTC day
    m = VenueModel(make_feed({"ETH": ramp(int(k0) + 30, 2000)}), start_ms=T0 + (k0 + 10) * HOUR_MS)
    start = day0 + 24 * HOUR_MS
    four = m.candles("ETH", "4h", start, start + 48 * HOUR_MS)
    assert [c.t_ms - start for c in four] == [0, 4 * HOUR_MS]  # the third bucket is still open
    c = four[0]
    assert c.open == D(2000 + k0) and c.close == D(2000 + k0 + 4) and c.high == D(2000 + k0 + 5)
    assert c.low == D(2000 + k0 - 1) and c.volume == D(400)
    with pytest.raises(ValueError, match="finer"):
        m.candles("ETH", "15m", start, start + HOUR_MS)


def test_funding_history_stops_at_now():
    m = VenueModel(make_feed({"ETH": flat(2000, 10)}, {"ETH": ["0.00001"] * 10}), start_ms=T0 + 3 * HOUR_MS + 100)
    pts = m.funding_history("ETH", T0)
    assert len(pts) == 3 and all(p.time_ms <= m.now_ms for p in pts)
    assert m.asset_contexts()["ETH"].funding == D("0.00001")


def test_asset_contexts_and_book_around_the_mark():
    m = VenueModel(make_feed({"ETH": ramp(30, 2000)}), start_ms=T0 + 26 * HOUR_MS)
    ctx = m.asset_contexts()["ETH"]
    assert ctx.mark_price == D(2026) == ctx.oracle_price and ctx.prev_day_price == D(2002)
    assert ctx.day_volume == sum(D(100) * D(2000 + k + 1) for k in range(2, 26))
    book = m.l2_book("ETH")
    assert book.best_bid.price < ctx.mark_price < book.best_ask.price
    assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert len(book.bids) == len(book.asks) == 20


def test_a_book_ladder_stops_above_zero_and_both_sides_share_the_level_sizes():
    from hyperliquid_agent.exchange.market_data import synthetic_book

    s = make_feed({"ETH": ramp(30, 2000)}).series["ETH"]
    book = synthetic_book(s, 26, D(1050), D(1000), D(1100), D(2), T0, levels=20)
    assert [lv.price for lv in book.bids] == [D(1000 - 100 * k) for k in range(10)]  # 0 and below: no level
    assert [lv.price for lv in book.asks] == [D(1100 + 100 * k) for k in range(20)]
    assert [lv.size for lv in book.bids] == [lv.size for lv in book.asks[:10]]
    assert [lv.orders for lv in book.asks] == [1 + k % 3 for k in range(20)]
    one = D("0.0001")  # ETH's size step
    base = s.volume[25] / 40
    assert [lv.size for lv in book.asks] == [max((base * (1 + D(k) / 4)).quantize(one, "ROUND_DOWN"), one)
                                             for k in range(20)]


def test_the_book_and_contexts_built_unvalidated_are_what_validation_gives():
    from hyperliquid_agent.domain import AssetContext, L2Book

    m = VenueModel(make_feed({"ETH": ramp(30, 2000)}), start_ms=T0 + 26 * HOUR_MS)
    book = m.l2_book("ETH")
    assert L2Book.model_validate(book.model_dump()) == book
    assert isinstance(book.bids, tuple) and isinstance(book.asks, tuple)
    ctx = m.asset_contexts()["ETH"]
    assert AssetContext.model_validate(ctx.model_dump()) == ctx


def test_time_only_moves_forward():
    m = model_for({"ETH": flat(2000)})
    with pytest.raises(ValueError, match="forward"):
        m.advance_to(T0)


def test_unknown_coins_in_market_data_name_the_listed_ones():
    m = model_for({"ETH": flat(2000)})
    for call in (lambda: m.candles("DOGE", "1h", 0, T0), lambda: m.l2_book("DOGE"), lambda: m.funding_history("DOGE", 0)):
        with pytest.raises(ValueError, match="unknown coin 'DOGE'; this venue lists ETH"):
            call()


# ---------------------------------------------------------------- purity


PURE = ["model.py", "order_entry.py", "matching.py", "accounts.py", "market_data.py", "venue_types.py", "synthetic.py"]
IMPURE = {"time", "datetime", "os", "pathlib", "socket", "http", "urllib", "sqlite3", "subprocess", "threading",
          "requests", "httpx", "hyperliquid", "csv", "json", "io"}


@pytest.mark.parametrize("name", PURE)
def test_the_simulation_core_reads_no_clock_files_or_network(name):
    import ast
    from pathlib import Path

    import hyperliquid_agent.exchange as pkg

    path = Path(pkg.__file__).parent / name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mods = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    mods += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0]
    bad = [mod for mod in mods if mod.split(".")[0] in IMPURE]
    assert not bad, f"{name} imports {bad}; the venue model must stay pure (time moves only via advance_to)"


def test_the_model_stays_under_the_instance_attributes_a_shared_key_dict_holds():
    """A 30th attribute would make CPython 3.11 give the model a plain dict, and every attribute
    and method lookup on it in the hot paths a slower one (see VenueModel.__init__)."""
    assert len(vars(model_for({"ETH": flat(2000)}))) <= 29
