"""Tripwires: each one, its outcome and reason code; the trading state; target restriction."""

from __future__ import annotations

from decimal import Decimal

from gov_helpers import HOUR, T0, d
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.config import TripwireConfig
from hyperliquid_agent.domain import AccountState, MarketType, Position, SpotBalance, TargetEntry
from hyperliquid_agent.governance.tripwires import (
    DAY_MS,
    TradingState,
    TripOutcome,
    TripwireInputs,
    TripwireReport,
    TripwireState,
    evaluate_tripwires,
    restrict_targets,
)

CFG = TripwireConfig()  # daily 4%, drawdown 15%, liq distance 10%, margin ratio 0.8, stale 7200 s, 5 failures
MIDS = {"BTC": d(100), "ETH": d(100), "PURR": d(1)}
P = MarketType.PERP


def acct(pv, positions=(), spot=(), margin_used=0, stale=False) -> AccountState:
    return AccountState(portfolio_value=d(pv), available_balance=d(pv), margin_used=d(margin_used),
                        positions=tuple(positions), spot_balances=tuple(spot), stale=stale)


def run(state, account, now=T0 + HOUR, last_data=None, failures=0, invalidated=None, cfg=CFG):
    return evaluate_tripwires(
        TripwireInputs(account=account, mids=MIDS, now_ms=now, last_data_ms=now if last_data is None else last_data,
                       api_failures=failures, plan_invalidated=invalidated),
        state, cfg,
    )


def codes(report):
    return {t.code: t.outcome for t in report.trips}


def test_all_clear_is_active():
    _, report = run(TripwireState(), acct(10000))
    assert report.state is TradingState.ACTIVE and report.trips == ()


def test_daily_loss_cap_halts_and_resets_at_the_utc_day_start():
    day = T0 - T0 % DAY_MS
    state, _ = run(TripwireState(), acct(10000), now=day + HOUR)
    state, report = run(state, acct(9590), now=day + 5 * HOUR)  # -4.1% since the day start
    assert codes(report) == {"daily_loss_cap": TripOutcome.HALT} and report.state is TradingState.HALTED
    state, report = run(state, acct(9590), now=day + DAY_MS + 60_000)  # next UTC day: new day-start equity
    assert "daily_loss_cap" not in codes(report) and report.state is TradingState.ACTIVE
    assert state.day_start_equity == Decimal(9590)


def test_drawdown_from_peak_cuts_once_then_freezes():
    state, _ = run(TripwireState(), acct(12000))
    state, r1 = run(state, acct(10100), now=T0 + DAY_MS * 3)  # -15.8% from the 12000 peak, a later day
    assert codes(r1) == {"max_drawdown": TripOutcome.CUT} and r1.cut_floor_pct == Decimal(50)
    assert r1.state is TradingState.REDUCING
    state, r2 = run(state, acct(10100), now=T0 + DAY_MS * 3 + HOUR)
    assert codes(r2) == {"max_drawdown": TripOutcome.FREEZE} and r2.cut_floor_pct is None
    state, r3 = run(state, acct(11000), now=T0 + DAY_MS * 3 + 2 * HOUR)  # recovered above the line
    assert r3.state is TradingState.ACTIVE and state.cut_done == []


def test_margin_ratio_counts_perps_only():
    pos = Position(coin="BTC", size=d(-50), entry_price=d(100), margin_used=d(4500))
    # 10000 account value, of which 5000 is spot USDC: perp equity 5000, margin 4500 -> 0.9 >= 0.8
    _, report = run(TripwireState(), acct(10000, [pos], [SpotBalance(coin="USDC", total=d(5000))]))
    assert codes(report) == {"margin_ratio": TripOutcome.CUT}
    # the same spot wallet with no perp positions never trips a perp margin cut
    big_spot = acct(10000, [], [SpotBalance(coin="PURR", total=d(9000), hold=d(9000))], margin_used=9000)
    _, report = run(TripwireState(), big_spot)
    assert report.trips == ()


def test_liquidation_distance():
    near = Position(coin="ETH", size=d(-10), entry_price=d(90), liquidation_price=d(105), margin_used=d(100))
    _, report = run(TripwireState(), acct(10000, [near]))
    assert codes(report) == {"liquidation_distance": TripOutcome.CUT}
    assert "ETH" in report.trips[0].detail
    far = near.model_copy(update={"liquidation_price": d(150)})
    assert run(TripwireState(), acct(10000, [far]))[1].trips == ()


def test_stale_data_freezes_new_risk():
    _, report = run(TripwireState(), acct(10000), now=T0 + 10 * HOUR, last_data=T0 + 7 * HOUR)
    assert codes(report) == {"stale_data": TripOutcome.FREEZE} and report.state is TradingState.REDUCING
    _, report = run(TripwireState(), acct(10000, stale=True))
    assert codes(report) == {"stale_data": TripOutcome.FREEZE}
    ok = run(TripwireState(), acct(10000), now=T0 + 10 * HOUR, last_data=T0 + 9 * HOUR)[1]
    assert ok.state is TradingState.ACTIVE


def test_consecutive_api_failures_halt():
    assert run(TripwireState(), acct(10000), failures=4)[1].state is TradingState.ACTIVE
    _, report = run(TripwireState(), acct(10000), failures=5)
    assert codes(report) == {"api_failures": TripOutcome.HALT} and report.state is TradingState.HALTED


def test_plan_invalidation_forces_review_without_freezing():
    _, report = run(TripwireState(), acct(10000), invalidated="funding_24h_avg < 0")
    assert codes(report) == {"plan_invalidated": TripOutcome.FORCE_REVIEW}
    assert report.force_review and report.state is TradingState.ACTIVE


def test_halt_wins_over_reducing_and_state_round_trips():
    state, report = run(TripwireState(), acct(10000, stale=True), failures=9)
    assert report.state is TradingState.HALTED and set(report.reason_codes) == {"stale_data", "api_failures"}
    assert TripwireState.from_dict(state.to_dict()) == state


# ---------------------------------------------------------------- restricting a target book


def book(**pcts):
    return {(c, P): d(v) for c, v in pcts.items()}


def entries(**pcts):
    return [TargetEntry(coin=c, target_pct=d(v)) for c, v in pcts.items()]


def as_pct(targets):
    return {t.coin: t.target_pct for t in targets}


def test_restrict_targets_by_trading_state():
    current = book(BTC=30, ETH=-20)
    wanted = entries(BTC=50, ETH=10, SOL=5)
    active = TripwireReport(state=TradingState.ACTIVE)
    assert as_pct(restrict_targets(wanted, current, active)) == {"BTC": 50, "ETH": 10, "SOL": 5}
    reducing = TripwireReport(state=TradingState.REDUCING)
    # may not grow BTC, may not flip ETH, may not open SOL
    assert as_pct(restrict_targets(wanted, current, reducing)) == {"BTC": 30, "ETH": 0, "SOL": 0}
    assert as_pct(restrict_targets(entries(BTC=10), current, reducing)) == {"BTC": 10, "ETH": 0}
    halted = TripwireReport(state=TradingState.HALTED)
    assert as_pct(restrict_targets(wanted, current, halted)) == {"BTC": 30, "ETH": -20, "SOL": 0}
    cut = TripwireReport(state=TradingState.REDUCING, cut_floor_pct=Decimal(50))
    assert as_pct(restrict_targets(entries(BTC=30, ETH=-20), current, cut)) == {"BTC": 15, "ETH": -10}


# ---------------------------------------------------------------- property: REDUCING never adds risk


_pct = st.decimals(min_value=-200, max_value=200, places=2)
_coins = st.sampled_from(["BTC", "ETH", "SOL", "DOGE"])


@settings(max_examples=80, deadline=None)
@given(current=st.dictionaries(_coins, _pct, max_size=4), wanted=st.dictionaries(_coins, _pct, max_size=4),
       cut=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=1)))
def test_reducing_never_grows_or_flips_a_position(current, wanted, cut):
    report = TripwireReport(state=TradingState.REDUCING, cut_floor_pct=cut)
    out = as_pct(restrict_targets([TargetEntry(coin=c, target_pct=v) for c, v in wanted.items()],
                                  {(c, P): v for c, v in current.items()}, report))
    for coin, new in out.items():
        cur = current.get(coin, Decimal(0))
        assert abs(new) <= abs(cur)
        assert new == 0 or (new > 0) == (cur > 0)
        if cut is not None:
            assert abs(new) <= abs(cur) * cut / 100 + Decimal("0.0001")


def test_a_cut_holds_its_freeze_until_the_condition_clears_by_a_margin():
    # the episode used to end the first hour equity sat a hair above the drawdown line: the plan
    # bought its book back, the next dip cut it again (synthetic data, 2024-03-30 15:00 to 03-31
    # 04:00: 4 cuts and 3 buy-backs in 13 hours)
    state, _ = run(TripwireState(), acct(12000))
    state, r1 = run(state, acct(10150), now=T0 + DAY_MS * 3)  # 15.4% below the peak
    assert codes(r1) == {"max_drawdown": TripOutcome.CUT}
    state, r2 = run(state, acct(10250), now=T0 + DAY_MS * 3 + HOUR)  # 14.6%: over the line, not clear of it
    assert codes(r2) == {"max_drawdown": TripOutcome.FREEZE} and r2.state is TradingState.REDUCING
    assert r2.cut_floor_pct is None and "until below 13.5%" in r2.trips[0].detail
    state, r3 = run(state, acct(10150), now=T0 + DAY_MS * 3 + 2 * HOUR)  # back under: the same episode, no new cut
    assert codes(r3) == {"max_drawdown": TripOutcome.FREEZE} and r3.cut_floor_pct is None
    state, r4 = run(state, acct(10400), now=T0 + DAY_MS * 3 + 3 * HOUR)  # 13.3%: clear
    assert r4.state is TradingState.ACTIVE and state.cut_done == []
    # a position still near liquidation after its cut stays frozen the same way
    near = Position(coin="ETH", size=d(-10), entry_price=d(90), liquidation_price=d(105), margin_used=d(100))
    state, r5 = run(TripwireState(), acct(10000, [near]))
    assert codes(r5) == {"liquidation_distance": TripOutcome.CUT}
    after = near.model_copy(update={"size": d(-5), "liquidation_price": d("110.5")})  # 10.5% away: not clear
    state, r6 = run(state, acct(10000, [after]))
    assert codes(r6) == {"liquidation_distance": TripOutcome.FREEZE}
    clear = near.model_copy(update={"size": d(-5), "liquidation_price": d(112)})  # 12%
    assert run(state, acct(10000, [clear]))[1].state is TradingState.ACTIVE


def test_a_drawdown_freeze_re_arms_after_drawdown_rearm_hours_and_only_then():
    """A 20 % drawdown cuts, then freezes while the book stays down. With drawdown_rearm_hours = 24,
    the 24th hour after the cut measures the drawdown from the equity then: ACTIVE, and said so.
    Without it, the freeze holds for as long as the drawdown does."""
    calm = TripwireConfig(daily_loss_pct=50)  # (the daily loss cap out of the way)
    state, _ = run(TripwireState(), acct(10000), now=T0, cfg=calm)
    state, report = run(state, acct(8000), now=T0 + HOUR, cfg=calm)
    assert codes(report) == {"max_drawdown": TripOutcome.CUT} and state.frozen_ms == T0 + HOUR
    rearming = TripwireConfig(daily_loss_pct=50, drawdown_rearm_hours=24)
    for hours in (2, 12, 24):
        held, report = run(state, acct(7900), now=T0 + hours * HOUR, cfg=rearming)
        assert report.state is TradingState.REDUCING and held.frozen_ms == T0 + HOUR  # (from the cut on)
        state = held
    state, report = run(state, acct(7900), now=T0 + 25 * HOUR, cfg=rearming)
    assert report.state is TradingState.ACTIVE and report.trips == () and state.peak_equity == Decimal(7900)
    assert report.notes == ("max_drawdown re-armed after 24 h frozen (drawdown_rearm_hours): the drawdown now "
                            "counts from 7900.00, the peak was 10000.00",)
    assert state.cut_done == [] and state.frozen_ms is None
    # re-armed, the next 15 % fall cuts again, from the new peak
    _, report = run(state, acct(6700), now=T0 + 26 * HOUR, cfg=rearming)
    assert codes(report) == {"max_drawdown": TripOutcome.CUT}
    # by default it stays frozen
    frozen, _ = run(TripwireState(), acct(10000), now=T0, cfg=calm)
    frozen, _ = run(frozen, acct(8000), now=T0 + HOUR, cfg=calm)
    frozen, report = run(frozen, acct(7900), now=T0 + 500 * HOUR, cfg=calm)
    assert report.state is TradingState.REDUCING and frozen.peak_equity == Decimal(10000)


def test_rearm_measures_from_the_equity_given_and_lifts_a_held_freeze():
    from hyperliquid_agent.governance.tripwires import rearm

    calm = TripwireConfig(daily_loss_pct=50)
    state, _ = run(TripwireState(), acct(10000), now=T0, cfg=calm)
    state, _ = run(state, acct(8000), now=T0 + HOUR, cfg=calm)
    state = rearm(state, Decimal(8000), T0 + 2 * HOUR)
    assert (state.peak_equity, state.day_start_equity, state.cut_done) == (Decimal(8000), Decimal(8000), [])
    state, report = run(state, acct(7900), now=T0 + 3 * HOUR, cfg=calm)
    assert report.state is TradingState.ACTIVE
    assert TripwireState.from_dict(state.to_dict()) == state
