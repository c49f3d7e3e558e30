"""Properties of the venue model over random order flows and random price paths.

- a reduce-only order never increases |position| and never flips it;
- equity conservation: account value = start + sum over fills of size x (mark - fill price)
  - fees + funding received, computed from the fills alone (independent of the model's
  average-entry bookkeeping);
- positions equal the signed sum of fills; the entry price is the VWAP since the position
  last opened or flipped; when flat, realized PnL equals the cash flow of the fills;
- same feed and same calls give identical results.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperliquid_agent.domain import round_price, round_size
from hyperliquid_agent.exchange.accounts import (
    Account,
    PositionState,
    clear_of_liquidation,
    liquidation_prices,
    margin_exposure,
    plainly_affordable,
)
from hyperliquid_agent.exchange.matching import adds_exposure
from hyperliquid_agent.exchange.feed import HOUR_MS, load_feed
from hyperliquid_agent.exchange.model import VenueModel
from test_venue_model import ADDR, GTC, IOC, T0, model_for, req

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

moves = st.lists(st.integers(min_value=-40, max_value=40), min_size=4, max_size=12)
orders = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=1, max_value=40), st.booleans(), st.booleans(),
              st.integers(min_value=0, max_value=3)),
    min_size=1, max_size=25,
)


def bars_from(steps: list[int]) -> list[tuple]:
    """A price path for ETH around 2000: each step moves the close by `step` dollars, with
    wicks of 5 either side."""
    out, px = [], 2000
    for s in [0] + steps:
        o, c = px, px + s
        out.append((o, max(o, c) + 5, min(o, c) - 5, c))
        px = c
    return out


def run_flow(path, flow, funding_rate="0.00002"):
    """Drive a model with `flow`: (is_buy, size in 0.1 ETH, reduce_only, resting?, bars to advance)."""
    m = model_for({"ETH": bars_from(path)}, funding={"ETH": [funding_rate] * (len(path) + 1)},
                  usdc="1000000", slippage_bps="3")
    t = T0 + HOUR_MS
    end = T0 + (len(path) + 1) * HOUR_MS
    reduce_checks = []
    for is_buy, tenths, reduce_only, resting, advance in flow:
        mid = m.mids()["ETH"]
        px = round_price(mid * (D("1.003") if is_buy else D("0.997")) if not resting
                         else mid * (D("0.996") if is_buy else D("1.004")), 4)
        before = m.account_state(ADDR).signed_size("ETH")
        out = m.place_orders(ADDR, [req("ETH", is_buy, px, D(tenths) / 10, reduce_only, GTC if resting else IOC)])[0]
        after = m.account_state(ADDR).signed_size("ETH")
        if reduce_only:
            reduce_checks.append((before, after, out))
        t = min(t + advance * HOUR_MS, end)
        m.advance_to(t)
    return m, reduce_checks


@SETTINGS
@given(moves, orders)
def test_reduce_only_never_increases_or_flips_a_position(path, flow):
    m, checks = run_flow(path, flow)
    for before, after, _ in checks:  # at placement
        assert abs(after) <= abs(before)
        assert after == 0 or (after > 0) == (before > 0)
    for f in m.fills(ADDR):  # and whenever a resting reduce-only order fills later
        if m.order_status(ADDR, oid=f.oid).order.reduce_only:
            end = f.start_position + f.size * f.side.sign
            assert abs(end) <= abs(f.start_position)
            assert end == 0 or (end > 0) == (f.start_position > 0)


@SETTINGS
@given(moves, orders)
def test_equity_is_conserved_from_fills_fees_and_funding(path, flow):
    m, _ = run_flow(path, flow)
    mark = m.mids()["ETH"]
    fills = m.fills(ADDR)
    trading = sum((f.size * f.side.sign * (mark - f.price) for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    funding = sum((p.usdc for p in m.user_funding(ADDR)), D(0))
    value = m.margin_summary(ADDR).account_value
    assert abs(value - (D(1000000) + trading - fees + funding)) < D("1e-12")


@SETTINGS
@given(moves, orders)
def test_positions_entries_and_realized_pnl_follow_the_fills(path, flow):
    m, _ = run_flow(path, flow)
    size, cost = D(0), D(0)  # independent replay: signed size and signed cost of the open position
    for f in m.fills(ADDR):
        signed = f.size * f.side.sign
        assert f.start_position == size
        new = size + signed
        if size == 0 or (size > 0) == (signed > 0):
            cost += signed * f.price
        elif new == 0 or (new > 0) == (size > 0):
            cost = cost * new / size  # partial close keeps the entry
        else:
            cost = new * f.price  # flip: the remainder opens at the fill price
        size = new
    pos = m.account_state(ADDR).position("ETH")
    if size == 0:
        assert pos is None
        flows = sum((-(f.size * f.side.sign) * f.price for f in m.fills(ADDR)), D(0))
        realized = sum((f.closed_pnl for f in m.fills(ADDR)), D(0))
        assert abs(realized - flows) < D("1e-12")
    else:
        assert pos.size == size
        assert abs(pos.entry_price - cost / size) < D("1e-12")


@settings(max_examples=15, deadline=None)
@given(moves, orders)
def test_fills_since_a_time_are_exactly_the_fills_at_or_after_it(path, flow):
    m, _ = run_flow(path, flow)
    every = m.fills(ADDR)
    times = [f.time_ms for f in every]
    assert times == sorted(times)  # made in time order, resting fills included
    for start in {0, *times, *(t + 1 for t in times)}:
        assert m.fills(ADDR, start) == [f for f in every if f.time_ms >= start]


@settings(max_examples=15, deadline=None)
@given(moves, orders)
def test_same_feed_and_calls_give_identical_results(path, flow):
    a, _ = run_flow(path, flow)
    b, _ = run_flow(path, flow)
    assert a.fills(ADDR) == b.fills(ADDR)
    assert a.account_state(ADDR) == b.account_state(ADDR)
    assert a.user_funding(ADDR) == b.user_funding(ADDR)
    assert a.open_orders(ADDR) == b.open_orders(ADDR)


@SETTINGS
@given(st.lists(st.integers(min_value=-150, max_value=150), min_size=3, max_size=10),
       st.lists(st.tuples(st.booleans(), st.integers(min_value=5, max_value=30)), min_size=1, max_size=6))
def test_liquidation_flattens_the_account_and_never_leaves_it_negative(path, flow):
    """Small equity at 20x on violent bars: whenever the venue liquidates, every position and
    order is gone afterwards and the account value is not negative; equity stays conserved
    once the absorbed bad debt is counted."""
    m = model_for({"ETH": bars_from(path)}, usdc="300", slippage_bps="3")
    end = T0 + (len(path) + 1) * HOUR_MS
    t = T0 + HOUR_MS
    liquidated = False
    for is_buy, tenths in flow:
        mid = m.mids()["ETH"]
        px = round_price(mid * (D("1.01") if is_buy else D("0.99")), 4)
        m.place_orders(ADDR, [req("ETH", is_buy, px, D(tenths) / 10, order_type=IOC)])
        m.place_orders(ADDR, [req("ETH", not is_buy, round_price(mid * D("1.02") if not is_buy else mid * D("0.98"), 4),
                                  D("0.1"), order_type=GTC)])
        t = min(t + HOUR_MS, end)
        if any(e.kind == "liquidation" for e in m.advance_to(t, report=True)):
            liquidated = True
            st_ = m.account_state(ADDR)
            assert st_.positions == () and m.open_orders(ADDR) == []
            assert st_.portfolio_value >= 0
    mark = m.mids()["ETH"]
    fills = m.fills(ADDR)
    trading = sum((f.size * f.side.sign * (mark - f.price) for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    funding = sum((p.usdc for p in m.user_funding(ADDR)), D(0))
    totals = m.totals(ADDR)
    assert totals.fees_paid == fees and totals.funding_paid == -funding
    assert totals.realized_pnl == sum((f.closed_pnl for f in fills), D(0))
    assert abs(m.margin_summary(ADDR).account_value - (D(300) + trading - fees + funding + totals.bad_debt)) < D("1e-12")
    assert liquidated or totals.bad_debt == 0


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/hyperliquid not present")
def test_a_month_of_real_data_with_daily_flips_conserves_equity():
    feed = load_feed(REAL, ["BTC", "ETH", "SOL"])
    m = VenueModel(feed, start_ms=feed.timeline[0])
    m.create_account(ADDR, D(100000))
    for day in range(30):
        for coin, spec in feed.specs.items():
            mid = m.mids()[coin]
            buy = day % 2 == 0
            size = round_size(D(20000) / mid, spec.sz_decimals) * (2 if day else 1)  # flip each day
            px = round_price(mid * (D("1.01") if buy else D("0.99")), spec.sz_decimals)
            assert m.place_orders(ADDR, [req(coin, buy, px, size)])[0].status == "filled"
        m.advance_to(feed.timeline[0] + (day + 1) * 24 * HOUR_MS)
    fills = m.fills(ADDR)
    marks = m.mids()
    trading = sum((f.size * f.side.sign * (marks[f.coin] - f.price) for f in fills), D(0))
    funding = sum((p.usdc for p in m.user_funding(ADDR)), D(0))
    fees = sum((f.fee for f in fills), D(0))
    assert len(m.user_funding(ADDR)) >= 3 * 29 * 24 - 10  # hourly funding on every position
    assert abs(m.margin_summary(ADDR).account_value - (D(100000) + trading - fees + funding)) < D("1e-9")
    assert {f.direction for f in fills} >= {"Open Long", "Long > Short", "Short > Long"}


_SIZES = st.decimals(min_value=D("-5"), max_value=D("5"), places=2)


@given(old=_SIZES, sz=st.decimals(min_value=D("0.01"), max_value=D("5"), places=2), is_buy=st.booleans())
def test_adds_exposure_is_opening_growing_or_flipping(old, sz, is_buy):
    """The margin check's shortcut agrees with the definition it stands for."""
    new = old + sz if is_buy else old - sz
    grows = new != 0 and (old == 0 or (old > 0) != (new > 0) or abs(new) > abs(old))
    assert adds_exposure(old, new, is_buy) == grows


_PRICES = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)


@settings(max_examples=400)
@given(cash=st.decimals(min_value=D("-1000"), max_value=D("10000000"), places=6),
       book=st.lists(st.tuples(st.decimals(min_value=D("-5"), max_value=D("5"), places=3), _PRICES, _PRICES,
                               _PRICES, st.sampled_from([D("0.5"), D("1") / 6, D("0.01"), D("0.0125")]),
                               st.booleans()), min_size=1, max_size=4))
def test_clear_of_liquidation_only_when_the_full_check_finds_nothing(cash, book):
    """The liquidation check's shortcut never clears an account the full computation would
    liquidate (accounts near the edge included: cash, sizes and prices span the boundary)."""
    acct = Account(ADDR, cash)
    ranges, marks, maint = {}, {}, {}
    for n, (szi, entry, a, b, frac, has_bar) in enumerate(book):
        coin = f"C{n}"
        p = acct.positions[coin] = PositionState()
        p.szi, p.entry = szi, entry
        marks[coin], maint[coin] = a, frac
        if has_bar:
            ranges[coin] = (min(a, b), max(a, b))
    worst = {c: (ranges[c][0] if p.szi > 0 else ranges[c][1]) if c in ranges else marks[c]
             for c, p in acct.positions.items()}
    value = cash + sum((p.szi * (worst[c] - p.entry) for c, p in acct.positions.items()), D(0))
    maintenance = sum((abs(p.szi) * worst[c] * maint[c] for c, p in acct.positions.items()), D(0))
    if clear_of_liquidation(acct, ranges, marks) is not None:
        assert value >= maintenance and liquidation_prices(acct, ranges, marks, maint) is None
    else:  # the full check decides
        assert (liquidation_prices(acct, ranges, marks, maint) is not None) == (value < maintenance and any(
            p.szi for p in acct.positions.values()))


def test_a_well_funded_account_is_cleared_without_the_full_check():
    acct = Account(ADDR, D(1_000_000))
    for coin, szi, entry in (("BTC", D("0.1"), D(60000)), ("ETH", D(-2), D(3000))):
        p = acct.positions[coin] = PositionState()
        p.szi, p.entry = szi, entry
    # the bound: the long's cost (0.1 x 60000) plus twice the short's notional at the bar's high (2 x 2 x 9000)
    assert clear_of_liquidation(acct, {"BTC": (D(1), D(90000)), "ETH": (D(1), D(9000))}, {}) == D(6000 + 36000)
    assert clear_of_liquidation(acct, {"BTC": (D(1), D(90000)), "ETH": (D(1), D(300000))}, {}) is None


@settings(max_examples=150, deadline=None)
@given(cash=st.integers(min_value=50, max_value=300000), path=moves,
       flow=st.lists(st.tuples(st.sampled_from(["BTC", "ETH"]), st.booleans(), st.integers(min_value=1, max_value=60),
                               st.integers(min_value=-300, max_value=300), st.booleans(),
                               st.sampled_from([None, None, None, 1, 3, 20])), min_size=1, max_size=30))
def test_the_margin_checks_bound_never_passes_an_order_the_full_check_refuses(cash, path, flow):
    """Between bars the margin check first tries `plainly_affordable` on the account's exposure,
    kept up to date fill by fill: the kept exposure never falls below what the positions need
    at the marks, and the bound never passes an order the full sum would refuse (accounts near
    the edge included: cash spans it, sizes reach several times the account; leverages change)."""
    eth = bars_from(path)
    btc = [tuple(20 * x for x in bar) for bar in eth]
    m = model_for({"BTC": btc, "ETH": eth}, usdc=str(cash), slippage_bps="3")
    acct = m._accounts[ADDR]
    t = T0 + HOUR_MS
    for coin, is_buy, tenths, offset_bps, advance, lev in flow:
        if lev is not None:
            m.update_leverage(ADDR, coin, lev)
        old = acct.szi(coin)
        mark = m.mids()[coin]
        sz = D(tenths) / 100 if coin == "BTC" else D(tenths) / 10
        px = mark * (1 + D(offset_bps) / 10000)
        exposure = acct.exposure
        if exposure is None:
            exposure = margin_exposure(acct, m._marks, m._leverages(acct))
        else:
            assert exposure >= margin_exposure(acct, m._marks, m._leverages(acct)) - D("1e-12")
        if plainly_affordable(acct, exposure, old, sz, px, m._taker, m._open_order_margin(acct)):
            assert m._margin_ok(acct, coin, old, is_buy, sz, px)
        limit = round_price(mark * (D("1.05") if is_buy else D("0.95")), 5 if coin == "BTC" else 4)
        m.place_orders(ADDR, [req(coin, is_buy, limit, sz, order_type=IOC)])
        if advance and t < T0 + len(eth) * HOUR_MS:
            t += HOUR_MS
            m.advance_to(t)
