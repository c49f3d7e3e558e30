"""The risk policy: every denial reason, what reductions may still do, counters and their persistence."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.config import RiskConfig
from hyperliquid_agent.domain import (
    AccountState,
    LeverageIntent,
    MarketType,
    OrderIntent,
    OrderPurpose,
    Position,
    Side,
    SpotBalance,
    Tif,
    TransferIntent,
)
from hyperliquid_agent.domain.verdicts import Approved, ApprovedOrder, Denied
from hyperliquid_agent.errors import StateError
from hyperliquid_agent.risk import DenialReason, RiskContext, RiskPolicy, close_positions
from hyperliquid_agent.risk_counters import DAY_MS, RiskCounters
from hyperliquid_agent.risk_store import load_counters, save_counters
from hyperliquid_agent.store import StateStore

from _order_fakes import MIDS, SPECS

NOW = 1_700_000_000_000  # 2023-11-14 22:13 UTC


def acct(equity="10000", positions=()) -> AccountState:
    return AccountState(portfolio_value=Decimal(equity), available_balance=Decimal(equity), positions=tuple(positions))


def ctx(account=None, **kw) -> RiskContext:
    kw.setdefault("marks", MIDS)
    return RiskContext(account=account or acct(), specs=SPECS, now_ms=NOW, **kw)


def order(coin="ETH", side=Side.BUY, size="0.5", price=None, **kw) -> OrderIntent:
    return OrderIntent(coin=coin, side=side, size=Decimal(size), limit_price=Decimal(price) if price else MIDS[coin],
                       tif=Tif.IOC, **kw)


def policy(**kw) -> RiskPolicy:
    return RiskPolicy(RiskConfig(**kw), allowed_coins=["BTC", "ETH", "SOL"])


def reason(verdict) -> str:
    assert isinstance(verdict, Denied), verdict
    return verdict.reason_code


LONG_ETH = Position(coin="ETH", size=Decimal(2), entry_price=Decimal(3000), leverage=3)
SHORT_SOL = Position(coin="SOL", size=Decimal(-10), entry_price=Decimal(150), leverage=3)


def test_orders_already_resting_on_the_same_side_count_toward_the_position_and_leverage_limits():
    # long 2 ETH ($6,000) with a resting buy of 1 ETH: another 1 ETH would make $12,000 if both fill
    p = policy(max_position_usd=10_000, max_order_usd=10_000)
    assert isinstance(p.check(order(size="1"), ctx(acct(positions=[LONG_ETH]))), Approved)
    v = p.check(order(size="1"), ctx(acct(positions=[LONG_ETH]), resting={"ETH": Decimal(1)}))
    assert reason(v) == DenialReason.MAX_POSITION_USD and "$3000.00 of orders already resting" in v.detail
    # resting sells do not add to a long, and a reduction is never held back by resting orders
    assert isinstance(p.check(order(size="1"), ctx(acct(positions=[LONG_ETH]), resting={"ETH": Decimal(-1)})), Approved)
    assert isinstance(p.check(order(side=Side.SELL, size="1"), ctx(acct(positions=[LONG_ETH]),
                                                                    resting={"ETH": Decimal(5)})), Approved)
    # the effective leverage counts them too: ($6,000 + $3,000) / $3,500 = 2.6x, with $3,000 resting 3.4x
    lev = policy(max_leverage=3, max_position_usd=10**6, max_order_usd=10**6, max_gross_exposure=10)
    equity = acct(equity="3500", positions=[LONG_ETH])
    assert isinstance(lev.check(order(size="1"), ctx(equity)), Approved)
    assert reason(lev.check(order(size="1"), ctx(equity, resting={"ETH": Decimal(1)}))) == DenialReason.MAX_LEVERAGE


def test_a_plain_order_within_every_limit_is_approved():
    v = policy().check(order(), ctx())
    assert isinstance(v, Approved) and "price_band" in v.checks and "limits" in v.checks


@pytest.mark.parametrize("cfg, intent, c, code", [
    ({}, order(coin="DOGE", price="1"), {}, DenialReason.UNKNOWN_ASSET),
    ({}, order(coin="PURR", size="100"), {"marks": {}}, DenialReason.NO_PRICE),
    ({"allowed_coins": ["BTC"]}, order(), {}, DenialReason.COIN_NOT_ALLOWED),
    ({"allowed_market_types": [MarketType.PERP], "allowed_coins": ["PURR"]}, order(coin="PURR", size="100", market_type=MarketType.SPOT), {},
     DenialReason.MARKET_TYPE_NOT_ALLOWED),
    ({}, order(side=Side.SELL, reduce_only=True), {}, DenialReason.NO_POSITION),
    ({}, order(side=Side.BUY, reduce_only=True), {"account": acct(positions=[LONG_ETH])}, DenialReason.NO_POSITION),
    ({}, order(side=Side.SELL, size="3", reduce_only=True), {"account": acct(positions=[LONG_ETH])},
     DenialReason.EXCEEDS_POSITION),
    ({"allowed_coins": ["PURR"]}, order(coin="PURR", side=Side.SELL, size="100", market_type=MarketType.SPOT), {},
     DenialReason.NO_POSITION),
    ({"allowed_coins": ["PURR"]}, order(coin="PURR", side=Side.SELL, size="100", market_type=MarketType.SPOT),
     {"account": acct().model_copy(update={"spot_balances": (SpotBalance(coin="PURR", total=Decimal(60)),)})},
     DenialReason.EXCEEDS_POSITION),
    ({}, order(price="3200"), {}, DenialReason.PRICE_BAND),
    ({}, order(size="0.12345"), {}, DenialReason.INVALID_PRECISION),
    ({}, order(price="3000.15"), {}, DenialReason.INVALID_PRECISION),
    ({"circuit_breaker_failures": 2}, order(), {"counters": RiskCounters(consecutive_failures=2)},
     DenialReason.CIRCUIT_BREAKER),
    ({}, order(), {"counters": RiskCounters(day=NOW // DAY_MS, day_start_equity=Decimal(10600))},
     DenialReason.DAILY_LOSS_CAP),
    ({"max_order_usd": 1000}, order(), {}, DenialReason.MAX_ORDER_USD),
    ({"max_position_usd": 6000}, order(size="1"), {"account": acct(positions=[LONG_ETH])},
     DenialReason.MAX_POSITION_USD),
    ({"max_gross_exposure": Decimal("0.5")}, order(size="1"), {"account": acct(positions=[LONG_ETH])},
     DenialReason.MAX_GROSS_EXPOSURE),
    ({"max_leverage": 2}, order(size="1"), {"account": acct(equity="5000", positions=[LONG_ETH])},
     DenialReason.MAX_LEVERAGE),
    ({}, LeverageIntent(coin="ETH", leverage=4), {"max_leverage": 3}, DenialReason.MAX_LEVERAGE),
    ({"max_leverage": 50}, LeverageIntent(coin="SOL", leverage=21), {}, DenialReason.MAX_LEVERAGE),
    ({"max_daily_notional_usd": 2000}, order(), {"counters": RiskCounters(day=NOW // DAY_MS, day_start_equity=Decimal(10000), daily_notional=Decimal(1000))},
     DenialReason.MAX_DAILY_NOTIONAL),
    ({"max_trades_per_hour": 2}, order(), {"counters": RiskCounters(trade_times_ms=(NOW - 1000, NOW - 2000))},
     DenialReason.MAX_TRADES_PER_HOUR),
    ({"open_cooldown_s": 600}, order(), {"counters": RiskCounters(last_open_ms=NOW - 60_000)},
     DenialReason.OPEN_COOLDOWN),
    ({"stop_loss_reentry_minutes": 60}, order(), {"counters": RiskCounters(stops=(("ETH", NOW - 59 * 60_000),))},
     DenialReason.STOP_LOSS_REENTRY),
    ({"max_size_streak": 2, "max_order_usd": 1500}, order(), {"counters": RiskCounters(max_size_streak=2)},
     DenialReason.MAX_SIZE_STREAK),
    ({"approval_above_usd": 1000}, order(), {}, DenialReason.APPROVAL_REQUIRED),
    ({"approval_above_usd": 1000}, order(), {"approver": lambda o: False}, DenialReason.APPROVAL_DECLINED),
    ({}, TransferIntent(amount=Decimal(20000), to_perp=False), {}, DenialReason.INSUFFICIENT_BALANCE),
])
def test_every_denial_reason(cfg, intent, c, code):
    v = policy(**cfg).check(intent, ctx(**c))
    assert reason(v) == code.value
    assert v.detail  # says what and which key


def test_every_denial_reason_is_covered_by_the_table():
    [mark] = [m for m in test_every_denial_reason.pytestmark if m.name == "parametrize"]
    assert {row[-1] for row in mark.args[1]} == set(DenialReason)


def test_risk_reducing_orders_pass_when_the_daily_loss_cap_and_circuit_breaker_are_hit():
    counters = RiskCounters(day=NOW // DAY_MS, day_start_equity=Decimal(20000), consecutive_failures=99,
                            trade_times_ms=(NOW,) * 50, daily_notional=Decimal(10**9), last_open_ms=NOW)
    c = ctx(acct(positions=[LONG_ETH, SHORT_SOL]), counters=counters)
    p = policy(max_order_usd=100, approval_above_usd=50, open_cooldown_s=3600, allowed_coins=["BTC"])
    assert isinstance(p.check(order(side=Side.SELL, size="2", reduce_only=True), c), Approved)
    assert isinstance(p.check(order(coin="SOL", side=Side.BUY, size="4"), c), Approved)  # smaller short, no flag
    assert reason(p.check(order(coin="SOL", side=Side.BUY, size="15"), c)) == "coin_not_allowed"  # flips: new risk
    assert reason(p.check(order(coin="BTC", size="0.01"), c)) == "circuit_breaker"


def test_approver_is_asked_only_above_the_threshold_and_its_yes_approves():
    asked: list[OrderIntent] = []
    p = policy(approval_above_usd=1000)
    c = ctx(approver=lambda o: asked.append(o) or True)
    assert isinstance(p.check(order(size="0.1"), c), Approved) and asked == []
    v = p.check(order(size="1"), c)
    assert isinstance(v, Approved) and "human_approval" in v.checks and len(asked) == 1


def test_approve_projects_each_approval_onto_the_next_check():
    p = policy(max_gross_exposure=Decimal("1.0"), max_order_usd=8000, max_position_usd=8000)
    approved, denied = p.approve([order(coin="ETH", size="2"), order(coin="BTC", size="0.1"),
                                  order(coin="SOL", size="10")], ctx())
    assert [a.intent.coin for a in approved] == ["ETH", "SOL"]
    assert [(i.coin, d.reason_code) for i, d in denied] == [("BTC", "max_gross_exposure")]
    assert all(isinstance(a, ApprovedOrder) and isinstance(a.verdict, Approved) for a in approved)


def test_an_increase_is_denied_when_its_leverage_setting_was_denied_but_a_close_is_not():
    c = ctx(acct(positions=[SHORT_SOL]))
    r = policy(max_leverage=3).review([LeverageIntent(coin="ETH", leverage=10), order(size="0.1"),
                                       LeverageIntent(coin="SOL", leverage=10), order(coin="SOL", size="10", reduce_only=True)], c)
    assert [(type(i).__name__, d.reason_code) for i, d in r.denied] == [
        ("LeverageIntent", "max_leverage"), ("OrderIntent", "max_leverage"), ("LeverageIntent", "max_leverage")]
    assert "leverage setting was denied" in r.denied[1][1].detail
    assert [a.intent.coin for a in r.approved] == ["SOL"]


def test_review_tracks_the_max_size_streak_and_flags_it():
    p = policy(max_size_streak=2, max_order_usd=1500)
    c = ctx()
    r1 = p.review([order()], c)  # $1500 = max order size
    assert r1.counters.max_size_streak == 1 and not r1.flags and r1.approved
    r2 = p.review([order()], replace(c, counters=r1.counters))
    assert r2.counters.max_size_streak == 2 and r2.flags and not r2.approved
    assert r2.denied[0][1].reason_code == "max_size_streak"
    r3 = p.review([order(size="0.1")], replace(c, counters=r2.counters))
    assert r3.counters.max_size_streak == 0 and r3.approved


def test_a_manual_order_leaves_the_agents_max_size_streak_alone_but_is_still_held_to_it():
    p = policy(max_size_streak=2, max_order_usd=1500)
    manual = ctx(decision=False, counters=RiskCounters(max_size_streak=1))
    assert p.review([order()], manual).counters.max_size_streak == 1  # a max-size manual order adds nothing
    assert p.review([order(size="0.1")], manual).counters.max_size_streak == 1  # a small one resets nothing
    flagged = replace(manual, counters=RiskCounters(max_size_streak=2))
    assert reason(p.review([order()], flagged).denied[0][1]) == "max_size_streak"


def stop_loss_intents(p: RiskPolicy, account, marks, specs=None):
    """What the cycle sends for the stop-loss: a close of each coin `stop_loss_coins` names."""
    return close_positions(account, p.stop_loss_coins(account, marks), marks, specs)


def test_stop_loss_intents_close_losing_positions_on_the_opposite_side():
    p = policy(stop_loss_pct=Decimal(10))
    long_down = Position(coin="ETH", size=Decimal(2), entry_price=Decimal(3400), leverage=3)  # -11.8%
    short_up = Position(coin="SOL", size=Decimal(-10), entry_price=Decimal(130), leverage=3)  # +15% against
    fine = Position(coin="BTC", size=Decimal("0.1"), entry_price=Decimal(62000), leverage=3)  # -3.2%
    out = stop_loss_intents(p, acct(positions=[long_down, short_up, fine]), MIDS, SPECS)
    assert [(o.coin, o.side, o.size, o.reduce_only, o.purpose) for o in out] == [
        ("ETH", Side.SELL, Decimal(2), True, OrderPurpose.CLOSE), ("SOL", Side.BUY, Decimal(10), True, OrderPurpose.CLOSE)]
    assert all(isinstance(p.check(o, ctx(acct(positions=[long_down, short_up]))), Approved) for o in out)
    assert stop_loss_intents(RiskPolicy(RiskConfig(stop_loss_pct=None)), acct(positions=[long_down]), MIDS) == []
    assert stop_loss_intents(RiskPolicy(RiskConfig(stop_loss_pct=0)), acct(positions=[long_down]), MIDS) == []


def test_a_stop_loss_decided_earlier_closes_what_the_account_holds_when_its_order_leaves():
    """A backtest decides its stop-losses at t and prices their closes an hour later: the
    close is of the position then (grown, shrunk or gone), whatever the stop says by then."""
    p = policy(stop_loss_pct=Decimal(10))
    at_decision = acct(positions=[Position(coin="ETH", size=Decimal(2), entry_price=Decimal(3400), leverage=3),
                                  Position(coin="SOL", size=Decimal(-10), entry_price=Decimal(130), leverage=3)])
    coins = p.stop_loss_coins(at_decision, MIDS)
    assert coins == ("ETH", "SOL")
    later = acct(positions=[Position(coin="ETH", size=Decimal("1.5"), entry_price=Decimal(3000), leverage=3)])
    out = close_positions(later, coins, MIDS, SPECS)  # SOL's position is gone; ETH's is at its entry now
    assert [(o.coin, o.side, o.size, o.reduce_only) for o in out] == [("ETH", Side.SELL, Decimal("1.5"), True)]


def test_counters_roll_over_at_utc_midnight_and_prune_the_hour_window():
    midnight = (NOW // DAY_MS + 1) * DAY_MS
    c = RiskCounters().rolled(NOW, Decimal(10000)).with_trade(Decimal(500), NOW, opening=True)
    assert c.day_start_equity == 10000 and c.daily_notional == 500 and c.last_open_ms == NOW
    same_day = c.rolled(midnight - 1, Decimal(9000))
    assert same_day.day_start_equity == 10000 and same_day.daily_notional == 500 and same_day.trade_times_ms == ()
    next_day = c.rolled(midnight, Decimal(9000))
    assert next_day.day_start_equity == 9000 and next_day.daily_notional == 0
    assert c.with_failure().with_failure().consecutive_failures == 2 and c.with_failure().with_success().consecutive_failures == 0


def test_a_trade_counted_late_lands_on_the_day_it_happened():
    today = NOW // DAY_MS
    stale = RiskCounters(day=today - 1, day_start_equity=Decimal(9000), daily_notional=Decimal(700),
                         consecutive_failures=2)
    late = stale.with_landed_trade(Decimal(500), NOW - 1000, opening=True)  # crashed today, counters from yesterday
    assert (late.day, late.daily_notional, late.consecutive_failures, late.last_open_ms) == (today, 500, 0, NOW - 1000)
    rolled = late.rolled(NOW, Decimal(10000))  # the next review keeps today's notional and reads the equity
    assert rolled.daily_notional == 500 and rolled.day_start_equity == 10000 and rolled.trade_times_ms == (NOW - 1000,)
    current = RiskCounters(day=today, day_start_equity=Decimal(10000), daily_notional=Decimal(100), last_open_ms=NOW)
    same_day = current.with_landed_trade(Decimal(500), NOW - 5000, opening=True)
    assert same_day.daily_notional == 600 and same_day.last_open_ms == NOW  # the later open is kept
    assert current.with_landed_trade(Decimal(500), NOW - DAY_MS, opening=False).daily_notional == 100  # yesterday's


def test_counters_survive_a_restart_through_the_state_store(tmp_path):
    c = RiskCounters(day=5, day_start_equity=Decimal("10000.5"), daily_notional=Decimal("123.45"),
                     trade_times_ms=(1, 2), consecutive_failures=3, last_open_ms=7, max_size_streak=2)
    store = StateStore.in_dir(tmp_path)
    assert load_counters(store) == RiskCounters()
    save_counters(store, c)
    store.close()
    assert load_counters(StateStore.in_dir(tmp_path)) == c


def test_unreadable_counters_raise_a_state_error_naming_the_row(tmp_path):
    store = StateStore.in_dir(tmp_path)
    store.put("risk", "counters", {"daily_notional": "lots"})
    with pytest.raises(StateError, match=r"risk/counters.*Delete that row"):
        load_counters(store)
    store.put("risk", "counters", {"bogus": 1})
    with pytest.raises(StateError, match="bogus"):
        load_counters(store)


positions = st.builds(
    lambda coin, size: Position(coin=coin, size=size, entry_price=MIDS[coin], leverage=3),
    st.sampled_from(["BTC", "ETH", "SOL"]),
    st.decimals(min_value=Decimal("-5"), max_value=Decimal("5"), places=2).filter(lambda d: d != 0),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(positions, max_size=3, unique_by=lambda p: p.coin), st.sampled_from(["BTC", "ETH", "SOL"]),
       st.sampled_from([Side.BUY, Side.SELL]), st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10), places=2))
def test_property_an_approved_reduce_only_order_never_increases_the_position(pos_list, coin, side, size):
    account = acct(positions=pos_list)
    o = order(coin=coin, side=side, size=str(size), reduce_only=True)
    v = policy(max_order_usd=10**9, max_position_usd=10**9).check(o, ctx(account))
    if isinstance(v, Approved):
        before = account.signed_size(coin)
        assert abs(before + o.signed_size) < abs(before)


def test_risk_is_the_only_product_module_using_the_issuer_key():
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "hyperliquid_agent"
    users = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py") if "_ISSUER_KEY" in p.read_text("utf-8"))
    assert users == ["domain/verdicts.py", "risk.py"]  # verdicts defines it; risk.py alone issues with it


def test_spot_holdings_count_in_gross_exposure():
    account = AccountState(portfolio_value=Decimal(10000), available_balance=Decimal(10000),
                           spot_balances=(SpotBalance(coin="PURR", total=Decimal(12000), hold=Decimal(2000)),))
    p = policy(max_gross_exposure=Decimal("0.5"))  # $2000 of free PURR already counts
    assert isinstance(p.check(order(size="1"), ctx(account)), Approved)  # $3000 + $2000 = 0.5x
    assert reason(p.check(order(size="1.1"), ctx(account))) == "max_gross_exposure"
    r = p.review([order(size="0.5"), order(size="0.5"), order(size="0.1")], ctx(account))  # running total
    assert len(r.approved) == 2 and [d.reason_code for _, d in r.denied] == ["max_gross_exposure"]


def test_a_stop_loss_hold_denies_new_risk_in_its_coin_until_it_ends_and_survives_a_restart():
    counters = RiskCounters().with_stops(["ETH"], NOW - 30 * 60_000).with_stops(["SOL"], NOW - 90 * 60_000)
    p = policy(stop_loss_reentry_minutes=60)
    c = ctx(acct(positions=[LONG_ETH]), counters=counters)
    assert reason(p.check(order(), c)) == "stop_loss_reentry"  # ETH, stopped 30 minutes ago
    assert "no new risk in it before" in p.check(order(), c).detail
    assert isinstance(p.check(order(side=Side.SELL, size="0.5", reduce_only=True), c), Approved)  # reducing goes
    assert isinstance(p.check(order(coin="SOL", side=Side.BUY, size="1"), c), Approved)  # its hold ended
    assert isinstance(policy().check(order(), c), Approved)  # 0 minutes: off
    assert RiskCounters.from_state(counters.to_state()) == counters
    assert counters.with_stops(["ETH"], NOW).stops == (("SOL", NOW - 90 * 60_000), ("ETH", NOW))  # the latest only
