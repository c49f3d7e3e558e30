"""The portfolio planner: signed targets to sized, rounded, sequenced intents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.config import PortfolioConfig
from hyperliquid_agent.domain import (
    AccountState,
    BookLevel,
    L2Book,
    LeverageIntent,
    MarketType,
    OrderIntent,
    OrderPurpose,
    Position,
    Side,
    SpotBalance,
    TargetEntry,
    TransferIntent,
    is_valid_price,
    is_valid_size,
)
from hyperliquid_agent.portfolio import MarketView, PlanLimits, close_intent, plan_rebalance, rebalance_to_target

from _order_fakes import MIDS, SPECS

CFG = PortfolioConfig()
MARKET = MarketView(mids=MIDS, specs=SPECS)


def account(equity="10000", available=None, positions=(), spot=()) -> AccountState:
    return AccountState(portfolio_value=Decimal(equity), available_balance=Decimal(available or equity),
                        positions=tuple(positions), spot_balances=tuple(spot))


def pos(coin, size, leverage=3, entry=None) -> Position:
    return Position(coin=coin, size=Decimal(size), entry_price=Decimal(entry) if entry else MIDS[coin], leverage=leverage)


def T(coin, pct, **kw) -> TargetEntry:
    return TargetEntry(coin=coin, target_pct=Decimal(pct), **kw)


def orders(intents) -> list[OrderIntent]:
    return [i for i in intents if isinstance(i, OrderIntent)]


def test_flat_to_long_sets_leverage_then_buys_rounded_down_at_a_rounded_up_bound():
    intents = rebalance_to_target([T("BTC", "25")], account(), MARKET, CFG)
    assert isinstance(intents[0], LeverageIntent) and intents[0].coin == "BTC" and intents[0].leverage == 3
    buy = intents[1]
    assert isinstance(buy, OrderIntent)
    assert buy.side is Side.BUY and not buy.reduce_only and buy.purpose is OrderPurpose.OPEN and buy.is_market
    # 2500 / 60000 = 0.041666.. -> rounded DOWN to 5 decimals
    assert buy.size == Decimal("0.04166")
    # 60000 * 1.005 = 60300 exactly; never below the bound
    assert buy.limit_price >= Decimal("60300") and is_valid_price(buy.limit_price, 5)


def test_buy_limits_round_up_and_sell_limits_round_down_from_the_book():
    book = L2Book(coin="SOL", time_ms=0, bids=(BookLevel(price=Decimal("149.97"), size=Decimal(10)),),
                  asks=(BookLevel(price=Decimal("150.03"), size=Decimal(10)),))
    market = MarketView(mids=MIDS, specs=SPECS, books={"SOL": book})
    buy = orders(rebalance_to_target([T("SOL", "10")], account(), market, CFG))[0]
    sell = orders(rebalance_to_target([T("SOL", "-10")], account(), market, CFG))[0]
    assert buy.limit_price == Decimal("150.79")  # 150.03 * 1.005 = 150.78015 -> up
    assert sell.limit_price == Decimal("149.22")  # 149.97 * 0.995 = 149.22015 -> down
    assert sell.side is Side.SELL and sell.size == Decimal("6.66")


def test_long_to_short_flip_is_a_reduce_only_close_then_an_open():
    acct = account(positions=[pos("ETH", "1", leverage=5)])
    intents = rebalance_to_target([T("ETH", "-30")], acct, MARKET, CFG)
    legs = orders(intents)
    assert [(o.side, o.purpose, o.reduce_only) for o in legs] == [
        (Side.SELL, OrderPurpose.CLOSE, True), (Side.SELL, OrderPurpose.OPEN, False)]
    assert legs[0].size == Decimal("1") and legs[1].size == Decimal("1")
    assert intents.index(legs[0]) < next(i for i, x in enumerate(intents) if isinstance(x, LeverageIntent))


def test_partial_reduction_of_a_short_buys_reduce_only():
    acct = account(positions=[pos("SOL", "-20")])  # short $3000
    legs = orders(rebalance_to_target([T("SOL", "-15")], acct, MARKET, CFG))  # to short $1500
    assert len(legs) == 1
    assert legs[0].side is Side.BUY and legs[0].reduce_only and legs[0].size == Decimal("10")
    assert legs[0].purpose is OrderPurpose.REDUCE


def test_coins_left_out_of_a_full_book_are_closed_and_kept_otherwise():
    acct = account(positions=[pos("SOL", "-20"), pos("BTC", "0.01")])
    legs = orders(rebalance_to_target([T("BTC", "6")], acct, MARKET, CFG))
    assert [(o.coin, o.side, o.size, o.reduce_only) for o in legs] == [("SOL", Side.BUY, Decimal("20"), True)]
    assert rebalance_to_target([T("BTC", "6")], acct, MARKET, CFG, full_book=False) == []


def test_reductions_come_before_transfers_leverage_and_increases():
    acct = account(positions=[pos("BTC", "0.05"), pos("SOL", "10")])
    intents = rebalance_to_target([T("BTC", "0"), T("ETH", "20"), T("SOL", "30")], acct, MARKET, CFG)
    kinds = [("R" if isinstance(i, OrderIntent) and i.reduce_only else type(i).__name__[0]) for i in intents]
    first_increase = next(n for n, k in enumerate(kinds) if k in ("L", "O"))
    assert all(k == "R" for k in kinds[:first_increase]) and "R" not in kinds[first_increase:]


def test_small_drift_and_tiny_orders_are_skipped_with_a_reason():
    acct = account(positions=[pos("BTC", "0.05")])  # 30% of 10k
    plan = plan_rebalance([T("BTC", "31")], acct, MARKET, CFG)
    assert plan.intents == [] and "min_drift_pct" in plan.skipped[0][1]
    cfg = PortfolioConfig(min_drift_pct=Decimal(0))
    plan = plan_rebalance([T("SOL", "0.05")], account(), MARKET, cfg)  # $5
    assert plan.intents == [] and "$10 minimum" in plan.skipped[0][1]


def test_increases_are_scaled_down_to_the_margin_left_and_never_exceed_it():
    acct = account(equity="10000", available="1000")  # most margin already used elsewhere
    intents = rebalance_to_target([T("ETH", "90")], acct, MARKET, CFG)  # wants $9000 at 3x = $3000 margin
    buy = orders(intents)[0]
    room = Decimal(1000) - Decimal(10000) * CFG.cash_buffer_pct / 100
    assert buy.size * MIDS["ETH"] / 3 <= room
    assert buy.size * MIDS["ETH"] / 3 > room - Decimal("0.0001") * MIDS["ETH"]
    assert rebalance_to_target([T("ETH", "90")], account(available="400"), MARKET, CFG) == []


def test_an_increase_at_a_lower_leverage_leaves_room_for_the_position_it_re_margins():
    """Adding to a 3x ETH position at 1x margins the whole position at 1x: with $4000 available
    the held 1 ETH ($3000) needs $2000 more, so the $3000 increase is cut to what is left."""
    acct = account(equity="10000", available="4000", positions=[pos("ETH", "1", leverage=3)])
    room = Decimal(4000) - Decimal(10000) * CFG.cash_buffer_pct / 100 - Decimal(2000)
    buy = orders(rebalance_to_target([T("ETH", "60", leverage=1)], acct, MARKET, CFG))[0]
    assert buy.purpose is OrderPurpose.INCREASE
    assert room - Decimal("0.0001") * MIDS["ETH"] < buy.size * MIDS["ETH"] <= room
    # at a higher leverage the position frees margin instead: the whole $3000 goes in
    up = orders(rebalance_to_target([T("ETH", "60", leverage=5)], acct, MARKET, CFG))[0]
    assert up.size * MIDS["ETH"] == Decimal(3000)
    # a flip closes the 3x short first: its $1000 margin comes back, and nothing is re-margined
    short = account(equity="10000", available="4000", positions=[pos("ETH", "-1", leverage=3)])
    close, buy = orders(rebalance_to_target([T("ETH", "60", leverage=1)], short, MARKET, CFG))
    room = Decimal(4000) - Decimal(10000) * CFG.cash_buffer_pct / 100 + Decimal(1000)
    assert close.reduce_only and buy.purpose is OrderPurpose.OPEN
    assert room - Decimal("0.0001") * MIDS["ETH"] < buy.size * MIDS["ETH"] <= room


def test_a_margin_ratio_scales_the_increases_to_what_keeps_the_margin_under_it_and_says_so():
    """A plan at 1x asking for 89 % of equity needs 0.89 of the perp equity as margin: under a
    ratio of 0.72 the increases are scaled to 0.72 (less one lot each), and the rest is
    explained. Without a ratio, only the cash bounds them."""
    targets = [T("BTC", "35.2", leverage=1), T("ETH", "30.11", leverage=1), T("SOL", "23.74", leverage=1)]
    plan = plan_rebalance(targets, account(), MARKET, CFG, limits=PlanLimits(max_margin_ratio=Decimal("0.72")))
    margin = sum((o.size * MIDS[o.coin] for o in orders(plan.intents)), Decimal(0))  # at 1x
    assert Decimal(7200) - sum(MIDS[c] / 10 ** SPECS[c].sz_decimals for c in MIDS) < margin <= Decimal(7200)
    assert {c for c, _ in plan.skipped} == {"BTC", "ETH", "SOL"}
    assert all("at or below 0.72 of the perp equity" in why for _, why in plan.skipped)
    free = plan_rebalance(targets, account(), MARKET, CFG)
    assert sum((o.size * MIDS[o.coin] for o in orders(free.intents)), Decimal(0)) > Decimal(8800)
    # at the ratio already, nothing more: the reason names the ratio, not the cash
    held = account(available="2800", positions=[Position(coin="ETH", size=Decimal("2.4"), entry_price=MIDS["ETH"],
                                                         leverage=1, margin_used=Decimal(7200))])
    again = plan_rebalance([T("ETH", "72", leverage=1), T("SOL", "20", leverage=1)], held, MARKET, CFG,
                           limits=PlanLimits(max_margin_ratio=Decimal("0.72")))
    assert orders(again.intents) == []
    assert again.skipped == [("SOL", "no room for the increase: the perp margin used stays at or below 0.72 of the "
                                     "perp equity")]


def test_the_margin_ratio_counts_perp_equity_alone_and_the_margin_a_reduction_frees():
    """$10,000 of which $4,000 is spot USDC: perp equity $6,000, so 0.5 of it is $3,000 of margin.
    $1,500 is used by a 3x ETH long of $4,500; closing it frees that, so the SOL increase
    may use $3,000 (at 3x: $9,000 of SOL)."""
    eth = Position(coin="ETH", size=Decimal("1.5"), entry_price=MIDS["ETH"], leverage=3, margin_used=Decimal(1500))
    acct = account(available="9000", positions=[eth], spot=[SpotBalance(coin="USDC", total=Decimal(4000))])
    plan = plan_rebalance([T("SOL", "200")], acct, MARKET, CFG, limits=PlanLimits(max_margin_ratio=Decimal("0.5")))
    close, buy = orders(plan.intents)
    assert close.coin == "ETH" and close.reduce_only and buy.coin == "SOL"
    assert Decimal(9000) - MIDS["SOL"] / 100 <= buy.size * MIDS["SOL"] <= Decimal(9000)


def test_spot_buy_moves_usd_from_perp_first_and_spot_cannot_be_short():
    intents = rebalance_to_target([T("PURR", "10", market_type=MarketType.SPOT)], account(), MARKET, CFG)
    assert isinstance(intents[0], TransferIntent) and intents[0].to_perp is False
    buy = intents[1]
    assert isinstance(buy, OrderIntent) and buy.market_type is MarketType.SPOT and buy.size == Decimal(5000)
    assert intents[0].amount >= buy.size * buy.limit_price - Decimal("0.01")
    assert not any(isinstance(i, LeverageIntent) for i in intents)
    plan = plan_rebalance([T("PURR", "-5", market_type=MarketType.SPOT)], account(), MARKET, CFG)
    assert plan.intents == [] and "cannot be short" in plan.skipped[0][1]


def test_spot_sell_is_not_reduce_only_and_uses_the_free_balance():
    acct = account(spot=[SpotBalance(coin="PURR", total=Decimal(1000), hold=Decimal(200))])
    legs = orders(rebalance_to_target([T("PURR", "0", market_type=MarketType.SPOT)], acct, MARKET, CFG))
    assert legs[0].side is Side.SELL and legs[0].size == Decimal(800) and not legs[0].reduce_only


def test_unknown_coin_and_market_type_mismatch_are_skipped():
    plan = plan_rebalance([T("DOGE", "10"), T("PURR", "10")], account(), MARKET, CFG, full_book=False)
    assert plan.intents == []
    assert dict(plan.skipped)["DOGE"].startswith("unknown asset")
    assert "venue lists PURR as spot" in dict(plan.skipped)["PURR"]


def test_a_book_naming_a_coin_the_venue_does_not_list_is_refused_whole_so_nothing_it_omits_is_closed():
    """Holding 1 ETH, a book of `eth 25 %` (names are case-sensitive) would close ETH as a coin the
    book leaves out and skip `eth` as unknown: the position it meant to keep. Nothing is traded."""
    held = account(positions=[pos("ETH", "1")])
    plan = plan_rebalance([T("eth", "25"), T("BTC", "20")], held, MARKET, CFG)
    assert plan.intents == []
    assert [c for c, _ in plan.skipped] == ["eth"]
    assert "the whole target book is refused" in plan.skipped[0][1] and "case-sensitive" in plan.skipped[0][1]
    assert orders(rebalance_to_target([T("ETH", "25"), T("BTC", "20")], held, MARKET, CFG))  # spelled right: trades


def test_close_intent_takes_the_opposite_side_of_the_signed_size():
    short_close = close_intent("ETH", Decimal("-2"), MARKET, CFG)
    assert short_close.side is Side.BUY and short_close.size == 2 and short_close.reduce_only
    part = close_intent("ETH", Decimal("2"), MARKET, CFG, size=Decimal("0.5"))
    assert part.side is Side.SELL and part.purpose is OrderPurpose.REDUCE and part.size == Decimal("0.5")
    with pytest.raises(ValueError, match="no position"):
        close_intent("ETH", Decimal(0), MARKET, CFG)


coins = st.sampled_from(["BTC", "ETH", "SOL"])
sizes = st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=2).filter(lambda d: d != 0)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(coins, sizes, min_size=1, max_size=3),
       st.decimals(min_value=Decimal(1000), max_value=Decimal(10**7), places=2),
       st.sampled_from([Decimal(0), Decimal(2)]))
def test_property_target_equal_to_current_gives_no_orders(book, equity, drift):
    positions = [pos(c, str(s)) for c, s in book.items()]
    acct = account(equity=str(equity), positions=positions)
    targets = [T(c, str(s * MIDS[c] / equity * 100)) for c, s in book.items()
               if abs(s * MIDS[c] / equity * 100) <= 1000]
    if len(targets) < len(book):
        return
    cfg = PortfolioConfig(min_drift_pct=drift)
    assert rebalance_to_target(targets, acct, MARKET, cfg) == []


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(coins, sizes, max_size=3), st.dictionaries(coins, st.integers(-300, 300), max_size=3),
       st.decimals(min_value=Decimal(0), max_value=Decimal(20000), places=2))
def test_property_orders_are_venue_valid_and_reductions_never_grow_a_position(book, targets, available):
    acct = account(equity="10000", available=str(available), positions=[pos(c, str(s)) for c, s in book.items()])
    intents = rebalance_to_target([T(c, str(p)) for c, p in targets.items()], acct, MARKET, CFG)
    seen_increase = False
    freed = sum((o.size * MIDS[o.coin] / 3 for o in orders(intents) if o.reduce_only), Decimal(0))
    need = sum((o.size * MIDS[o.coin] / 3 for o in orders(intents) if not o.reduce_only), Decimal(0))
    assert need <= max(available - Decimal(10000) * CFG.cash_buffer_pct / 100 + freed, Decimal(0)) + Decimal("1e-9")
    for o in orders(intents):
        spec = SPECS[o.coin]
        assert is_valid_size(o.size, spec.sz_decimals) and is_valid_price(o.limit_price, spec.sz_decimals)
        if o.reduce_only:
            assert not seen_increase, "a reduction came after an increase"
            current = acct.signed_size(o.coin)
            assert abs(current + o.signed_size) < abs(current)
        else:
            seen_increase = True


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(coins, sizes, max_size=3), st.dictionaries(coins, st.integers(-300, 300), min_size=1, max_size=3),
       st.decimals(min_value=Decimal(0), max_value=Decimal(5000), places=2),
       st.decimals(min_value=Decimal("0.05"), max_value=Decimal(1), places=2))
def test_property_increases_never_take_the_margin_above_the_ratio(book, targets, spot_usdc, ratio):
    """Whatever is held and asked for (all at 3x), when the plan grows any position the perp
    margin after its orders is at most `ratio` of the perp equity after its transfers."""
    held = [Position(coin=c, size=Decimal(s), entry_price=MIDS[c], leverage=3, margin_used=abs(Decimal(s)) * MIDS[c] / 3)
            for c, s in book.items()]
    acct = account(equity=str(10000 + spot_usdc), available="20000", positions=held,
                   spot=[SpotBalance(coin="USDC", total=spot_usdc)])
    intents = rebalance_to_target([T(c, str(p)) for c, p in targets.items()], acct, MARKET, CFG,
                                  limits=PlanLimits(max_margin_ratio=ratio))
    if not any(not o.reduce_only for o in orders(intents)):
        return
    after = {c: Decimal(s) for c, s in book.items()}
    for o in orders(intents):
        after[o.coin] = after.get(o.coin, Decimal(0)) + o.signed_size
    moved = sum((t.amount if t.to_perp else -t.amount for t in intents if isinstance(t, TransferIntent)), Decimal(0))
    margin = sum((abs(s) * MIDS[c] / 3 for c, s in after.items()), Decimal(0))
    assert margin <= ratio * (Decimal(10000) + moved) + Decimal("1e-9")


def test_a_spot_pair_reads_the_balance_of_its_base_token():
    from hyperliquid_agent.domain import AssetSpec

    spec = AssetSpec(name="PURR/USDC", asset_id=10001, sz_decimals=0, market_type=MarketType.SPOT)
    market = MarketView(mids={"PURR/USDC": Decimal("0.2")}, specs={"PURR/USDC": spec})
    acct = account(spot=[SpotBalance(coin="PURR", total=Decimal(300))])
    legs = orders(rebalance_to_target([T("PURR/USDC", "0", market_type=MarketType.SPOT)], acct, market, CFG))
    assert [(o.coin, o.side, o.size) for o in legs] == [("PURR/USDC", Side.SELL, Decimal(300))]


@pytest.mark.parametrize("current, delta, purpose", [
    ("0", "1", OrderPurpose.OPEN), ("1", "1", OrderPurpose.INCREASE), ("-1", "-1", OrderPurpose.INCREASE),
    ("2", "-1", OrderPurpose.REDUCE), ("-2", "1", OrderPurpose.REDUCE), ("2", "-2", OrderPurpose.CLOSE),
    ("-2", "2", OrderPurpose.CLOSE), ("1", "-3", OrderPurpose.OPEN),  # a flip opens new risk
])
def test_purpose_of_a_signed_change(current, delta, purpose):
    from hyperliquid_agent.portfolio import purpose_of, reduces

    assert purpose_of(Decimal(current), Decimal(delta)) is purpose
    assert reduces(Decimal(current), Decimal(delta)) is (purpose in (OrderPurpose.REDUCE, OrderPurpose.CLOSE))


def test_with_nothing_to_trade_spot_cash_still_tops_up_a_perp_wallet_below_its_cash_buffer():
    held = [pos("BTC", "0.05")]  # $3000 at 60000: 30% of equity, held at the target
    usdc = [SpotBalance(coin="USDC", total=Decimal(800))]
    short_of_buffer = account(equity="10000", available="200", positions=held, spot=usdc)  # buffer: 5% = $500
    plan = plan_rebalance([T("BTC", "30")], short_of_buffer, MARKET, CFG)
    assert plan.intents == [TransferIntent(amount=Decimal("300.00"), to_perp=True)]
    without_spot_cash = plan_rebalance([T("BTC", "30")], account(available="200", positions=held), MARKET, CFG)
    assert without_spot_cash.intents == [] and without_spot_cash.skipped == plan.skipped


def test_increases_stay_within_the_risk_policys_order_and_position_limits_and_say_so():
    """A target above `risk.max_order_usd` is bought up to that limit, not planned whole and denied
    by the risk policy cycle after cycle (the position then never moved toward its target); an
    increase is also kept within `risk.max_position_usd`, and one those limits cut below the
    drift worth trading is left out."""
    limits = {"limits": PlanLimits(max_order_usd=Decimal(5000), max_position_usd=Decimal(8000))}
    plan = plan_rebalance([T("BTC", "60")], account(), MARKET, CFG, **limits)  # $6000 wanted
    (buy,) = orders(plan.intents)
    assert buy.size == Decimal("0.08333") and buy.size * MIDS["BTC"] <= Decimal(5000)
    assert plan.skipped == [("BTC", "increase capped from 0.10000 to 0.08333 by risk.max_order_usd $5000")]
    # a short flip's opening leg counts from flat: the close leg takes the long off first
    long = account(positions=[pos("ETH", "1")])
    close, sell = orders(plan_rebalance([T("ETH", "-70")], long, MARKET, CFG, **limits).intents)
    assert close.reduce_only and sell.side is Side.SELL and sell.size == Decimal("1.6666")  # $4999.80
    # held $6000 of BTC: at most $2000 more
    held = account(positions=[pos("BTC", "0.1")])
    plan = plan_rebalance([T("BTC", "90")], held, MARKET, CFG, **limits)
    (buy,) = orders(plan.intents)
    assert buy.size == Decimal("0.03333")
    assert "risk.max_position_usd $8000" in plan.skipped[0][1]
    # held $7900: the $100 left is under min_drift_pct, so no order trickles in
    near = account(positions=[pos("BTC", "0.13166")])
    plan = plan_rebalance([T("BTC", "90")], near, MARKET, CFG, **limits)
    assert orders(plan.intents) == []
    assert plan.skipped == [("BTC", "no room for the increase: risk.max_position_usd $8000 leaves $100.40, under "
                                    "min_drift_pct 2% or the $10 minimum")]
    # without limits the planner sizes the whole target
    assert orders(plan_rebalance([T("BTC", "60")], account(), MARKET, CFG).intents)[0].size == Decimal("0.1")


def test_increases_are_scaled_to_the_gross_exposure_limit_counting_what_the_reductions_free():
    """With risk.max_gross_exposure 0.5, 30 % BTC and 30 % ETH from flat are scaled to $5000 in
    all, and the risk policy passes every order planned (before, each order past the limit was
    planned whole and denied, every cycle). Closing a $3000 ETH long frees its $3000 for BTC."""
    from hyperliquid_agent.config import RiskConfig
    from hyperliquid_agent.risk import RiskContext, RiskPolicy

    half = Decimal("0.5")
    plan = plan_rebalance([T("BTC", "30"), T("ETH", "30")], account(), MARKET, CFG, limits=PlanLimits(max_gross_exposure=half))
    legs = orders(plan.intents)
    total = sum((o.size * MIDS[o.coin] for o in legs), Decimal(0))
    assert Decimal(4990) < total <= Decimal(5000)
    assert all("to fit risk.max_gross_exposure 0.5x of equity" in why for _, why in plan.skipped) and len(plan.skipped) == 2
    policy = RiskPolicy(RiskConfig(max_gross_exposure=half), allowed_coins=["BTC", "ETH"])
    review = policy.review(plan.intents, RiskContext(account=account(), marks=MIDS, specs=SPECS, now_ms=0))
    assert review.denied == [] and len(review.approved) == 2
    held = account(positions=[pos("ETH", "1")])
    close, buy = orders(plan_rebalance([T("BTC", "40")], held, MARKET, CFG, limits=PlanLimits(max_gross_exposure=half)).intents)
    assert close.coin == "ETH" and close.reduce_only and buy.size == Decimal("0.06666")  # $4000, rounded down
    # at the limit already: nothing more, and the reason names the limit
    full = account(positions=[pos("ETH", "1"), pos("BTC", "0.0333")])
    plan = plan_rebalance([T("ETH", "30"), T("BTC", "20"), T("SOL", "10")], full, MARKET, CFG, limits=PlanLimits(max_gross_exposure=half))
    assert orders(plan.intents) == []
    assert ("SOL", "no room for the increase: risk.max_gross_exposure 0.5x of equity") in plan.skipped


def test_a_target_leverage_above_the_risk_cap_is_planned_at_the_cap():
    """A target asking 10x under risk.max_leverage 5: its leverage setting is planned at 5x (the
    risk policy denies a setting above the cap, and the order with it, every cycle)."""
    plan = plan_rebalance([T("BTC", "20", leverage=10), T("ETH", "10", leverage=2)], account(), MARKET, CFG,
                          limits=PlanLimits(max_leverage=5))
    levels = {i.coin: i.leverage for i in plan.intents if isinstance(i, LeverageIntent)}
    assert levels == {"BTC": 5, "ETH": 2} and len(orders(plan.intents)) == 2
    assert plan.skipped == [("BTC", "leverage 10x capped at the allowed 5x")]


def test_a_flips_opening_leg_below_min_drift_is_left_out_as_an_open_from_flat_is():
    """Long 30 % ETH to short 1 %: the long is closed (a close is always made) but the 1 % short is
    not opened, as it would not be from flat (min_drift_pct 2). Before, it was, and the next small
    swing of the target closed it again: two fees for a position under the drift worth trading."""
    long = account(positions=[pos("ETH", "1")])
    plan = plan_rebalance([T("ETH", "-1")], long, MARKET, CFG)
    assert [(o.purpose, o.reduce_only) for o in orders(plan.intents)] == [(OrderPurpose.CLOSE, True)]
    assert plan.skipped == [("ETH", "the flip's opening leg of 1.00% is below min_drift_pct 2%")]
    assert plan_rebalance([T("ETH", "-1")], account(), MARKET, CFG).intents == []  # from flat: nothing
    legs = orders(plan_rebalance([T("ETH", "-3")], long, MARKET, CFG).intents)  # 3 %: both legs
    assert [o.purpose for o in legs] == [OrderPurpose.CLOSE, OrderPurpose.OPEN]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(coins, sizes, max_size=3), st.dictionaries(coins, st.integers(-300, 300), min_size=1, max_size=3),
       st.decimals(min_value=Decimal(500), max_value=Decimal(8000), places=0),
       st.decimals(min_value=Decimal(1000), max_value=Decimal(20000), places=0),
       st.decimals(min_value=Decimal("0.2"), max_value=Decimal(3), places=1))
def test_property_the_risk_policy_passes_every_order_planned_within_its_limits(book, targets, max_order, max_position,
                                                                              max_gross):
    """Whatever is held and asked for, the orders planned with the risk policy's order, position and
    gross exposure limits are none of them denied for those limits (the policy reviews them in order)."""
    from hyperliquid_agent.config import RiskConfig
    from hyperliquid_agent.risk import RiskContext, RiskPolicy

    acct = account(equity="10000", available="50000", positions=[pos(c, str(s)) for c, s in book.items()])
    plan = plan_rebalance([T(c, str(p)) for c, p in targets.items()], acct, MARKET, CFG, limits=PlanLimits(max_order_usd=max_order,
                          max_position_usd=max_position, max_gross_exposure=max_gross, max_leverage=5))
    risk = RiskConfig(max_order_usd=max_order, max_position_usd=max_position, max_gross_exposure=max_gross,
                      max_leverage=40, max_daily_notional_usd=10**9, max_trades_per_hour=100)
    review = RiskPolicy(risk, allowed_coins=list(MIDS)).review(
        plan.intents, RiskContext(account=acct, marks=MIDS, specs=SPECS, now_ms=0))
    limits = {"max_order_usd", "max_position_usd", "max_gross_exposure", "max_leverage"}
    assert [d.reason_code for _, d in review.denied if d.reason_code in limits] == []
