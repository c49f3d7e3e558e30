"""GovernedFlow (app/governed.py): the governor, tripwires and scorekeeper one cycle at a time."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gov_helpers import HOUR, T0, d, proposal, signals_for, strategy

from hyperliquid_agent.app.cycle import CycleInputs
from hyperliquid_agent.app.governed import GovernedFlow
from hyperliquid_agent.config import Config, GovernanceConfig, GovernorConfig, RegimeConfig, TripwireConfig
from hyperliquid_agent.decision_parse import GovernanceDecisionResult
from hyperliquid_agent.domain import AccountState, MarketSnapshot, Position
from hyperliquid_agent.governance.calendar import CalendarEvent
from hyperliquid_agent.governance.governor import Governor
from hyperliquid_agent.governance.plan import PlanStatus
from hyperliquid_agent.governance.scorekeeper import Scorekeeper
from hyperliquid_agent.risk_counters import RiskCounters

TREND = strategy("slow-trend", dwell=24 * 60)


def config(max_drawdown_pct: int = 8) -> Config:
    gov = GovernanceConfig(
        governor=GovernorConfig(cooldown_minutes=0, rotation_steps=1, change_threshold_bps=d(10)),
        regime=RegimeConfig(hysteresis_n=2, hysteresis_m=3),
        tripwires=TripwireConfig(max_drawdown_pct=d(max_drawdown_pct)),  # also the plan's drawdown budget
    )
    return Config(governance=gov)


def flow(cfg: Config) -> GovernedFlow:
    return GovernedFlow(cfg, (TREND,), Governor(cfg.governance, cfg.risk, coins=cfg.agent.coins))


def inputs(now: int, equity: float, positions: dict[str, tuple[float, float]] | None = None,
           regime: str = "trending-bull") -> CycleInputs:
    """positions: coin -> (size, funding paid since the position opened)."""
    pos = tuple(Position(coin=c, size=d(s), entry_price=d(100), cum_funding=d(f))
                for c, (s, f) in (positions or {}).items())
    acct = AccountState(portfolio_value=d(equity), available_balance=d(equity), positions=pos)
    mids = {"BTC": d(100), "ETH": d(100), "SOL": d(100)}
    return CycleInputs(cycle_id=f"c{now}", now_ms=now, mode="governed", loops=("fast", "medium"),
                       coins=("BTC", "ETH", "SOL"), account=acct, snapshot=MarketSnapshot(time_ms=now, mids=mids),
                       specs={}, books={}, signals=signals_for(regime), counters=RiskCounters())


def activate(f: GovernedFlow, now: int, equity: float = 10000) -> None:
    inp = inputs(now, equity)
    view = f.begin(inp)
    result = GovernanceDecisionResult(success=True, maintain_plan=False, proposed_plan=proposal("slow-trend", {"BTC": 20}))
    out = f.consider(inp, view, result)
    assert out["verdict"] == "approved", out
    f.after(inp, None, inp.account)


def test_the_plans_own_drawdown_from_its_scorecard_invalidates_it():
    f = flow(config(max_drawdown_pct=8))
    activate(f, T0)
    f.after(inputs(T0 + HOUR, 11000), None, None)  # the plan's peak
    view = f.begin(inputs(T0 + 2 * HOUR, 10200))  # 7.3% below it: within budget
    assert view["invalidated_by"] is None and view["can_review"] is False  # dwell holds
    view = f.begin(inputs(T0 + 3 * HOUR, 10000))  # 9.1% below the peak
    assert view["invalidated_by"] == "plan drawdown 9.09% >= budget 8%"
    assert f.governor.get_active_plan().status is PlanStatus.INVALIDATED
    assert view["can_review"] is True and "plan drawdown" in view["review_reason"]
    assert "plan_invalidated" in [t["code"] for t in view["tripwires"]]


def test_funding_paid_between_cycles_goes_into_the_plans_scorecard():
    f = flow(config())
    activate(f, T0)
    card = f.scorekeeper.current
    # our trade opened BTC; the venue counts its funding from 0
    f.after(inputs(T0, 10000), None, inputs(T0, 10000, {"BTC": (20, 0)}).account)
    f.begin(inputs(T0 + HOUR, 10000, {"BTC": (20, "1.25")}))
    f.after(inputs(T0 + HOUR, 10000), None, inputs(T0 + HOUR, 10000, {"BTC": (20, "1.25")}).account)
    f.begin(inputs(T0 + 2 * HOUR, 10000, {"BTC": (20, "0.75")}))  # received 0.50 back
    assert card.funding == Decimal("0.75")
    # a position that flipped since the last look restarted its count: nothing is booked for it
    f.after(inputs(T0 + 2 * HOUR, 10000), None, inputs(T0 + 2 * HOUR, 10000, {"BTC": (-5, "0")}).account)
    f.begin(inputs(T0 + 3 * HOUR, 10000, {"BTC": (-5, "0.1")}))
    assert card.funding == Decimal("0.85")
    # the reference points survive a restart (plain state)
    again = GovernedFlow.from_state(f.cfg, (TREND,), f.export_state())
    assert again.scorekeeper.funding_seen == f.scorekeeper.funding_seen
    assert again.scorekeeper.current.funding == Decimal("0.85")


def test_funding_of_a_coin_traded_without_an_account_read_back_is_not_guessed():
    sk = Scorekeeper()
    sk.start("p", "s", T0, d(10000))
    before = inputs(T0, 10000, {"BTC": (1, 5)}).account.positions
    sk.observe_funding(before)
    sk.observe_funding(before, record=False, forget={"BTC"})  # a fill, and no account after it
    assert sk.observe_funding(inputs(T0 + HOUR, 10000, {"BTC": (1, "0.2")}).account.positions) == 0
    assert sk.current.funding == 0
    assert sk.observe_funding(inputs(T0 + 2 * HOUR, 10000, {"BTC": (1, "0.3")}).account.positions) == d("0.1")


def test_a_review_that_keeps_the_plan_closes_the_early_review():
    f = flow(config())
    activate(f, T0)
    for k in (1, 2):  # two range-bound readings of three confirm the change
        inp = inputs(T0 + k * HOUR, 10000, regime="range-bound")
        view = f.begin(inp)
    assert view["can_review"] is True and view["review_reason"].startswith("regime changed")
    keep = GovernanceDecisionResult(success=True, maintain_plan=True)
    assert f.consider(inp, view, keep)["verdict"] == "maintain"
    view = f.begin(inputs(T0 + 3 * HOUR, 10000, regime="range-bound"))
    assert view["can_review"] is False and view["review_reason"].startswith("dwell")
    # a failed decision does not count as a review
    f2 = flow(config())
    activate(f2, T0)
    f2.governor.force_review("stop-loss on BTC")
    view = f2.begin(inputs(T0 + HOUR, 10000))
    f2.consider(inputs(T0 + HOUR, 10000), view, GovernanceDecisionResult(success=False, error="timeout"))
    assert f2.begin(inputs(T0 + 2 * HOUR, 10000))["can_review"] is True


def test_an_edited_calendar_counts_from_the_next_cycle_and_a_bad_edit_keeps_the_old_one(tmp_path):
    from hyperliquid_agent.governance_store import CalendarFile, GovernanceStore
    from hyperliquid_agent.store import StateStore

    path = tmp_path / "calendar.toml"
    path.write_text("")
    cfg = config()
    store = GovernanceStore(StateStore(tmp_path / "state.db"))
    f = GovernedFlow.restore(cfg, (TREND,), store, calendar=CalendarFile(path))
    f.export_state()  # a cycle collects its inputs
    assert f.begin(inputs(T0, 10000))["regime"] == "trending-bull"
    path.write_text('[[events]]\nname = "US CPI"\ntime = "%s"\nkind = "macro"\n'
                    % CalendarEvent(name="x", time_ms=T0 + 2 * HOUR).time_iso)
    state = f.export_state()  # the next cycle re-reads the changed file and records what it uses
    assert f.begin(inputs(T0 + HOUR, 10000))["regime"] == "event-risk"
    replayed = GovernedFlow.from_state(cfg, (TREND,), state)  # a replay needs no file
    assert [e.name for e in replayed.governor.events] == ["US CPI"]
    path.write_text("[[events]]\nname = 'broken'\n")  # no time
    f.export_state()
    view = f.begin(inputs(T0 + 2 * HOUR, 10000))
    assert "calendar.toml: event #1 ('broken'): needs both 'name' and 'time'" in view["calendar_error"]
    assert [e.name for e in f.governor.events] == ["US CPI"] and view["regime"] == "event-risk"  # kept
    path.write_text("")
    f.export_state()
    assert "calendar_error" not in f.begin(inputs(T0 + 3 * HOUR, 10000))


def test_a_cycle_starts_from_the_state_the_last_cycle_saved_and_never_from_an_older_one(tmp_path):
    from hyperliquid_agent.governance_store import GovernanceStore
    from hyperliquid_agent.store import StateStore

    cfg = config()
    store = GovernanceStore(StateStore(tmp_path / "state.db"))
    f = GovernedFlow(cfg, (TREND,), Governor(cfg.governance, cfg.risk, coins=cfg.agent.coins), persist=store)
    activate(f, T0)  # ends with a save
    assert f.export_state() == GovernedFlow.restore(cfg, (TREND,), store).export_state()  # what is on disk
    f.begin(inputs(T0 + HOUR, 9000))  # changes the tripwires and the scorecard, not saved yet
    state = f.export_state()
    assert state["tripwires"]["updated_ms"] == T0 + HOUR
    assert state["scorekeeper"]["current"]["last_equity"] == "9000"
    f.after(inputs(T0 + HOUR, 9000), None, None)  # saves
    f.note_stop_loss(["BTC"])  # a change after the save
    assert f.export_state()["stopped_out"] == ["BTC"]


def test_funding_settled_before_the_orders_arrive_is_booked_to_the_plan():
    # a backtest's orders reach the venue an hour after the decision: the venue settles that
    # hour's funding, the cycle reads the account there (`at_arrival`), then its orders fill
    f = flow(config())
    activate(f, T0)
    card = f.scorekeeper.current
    f.after(inputs(T0, 10000), None, inputs(T0, 10000, {"BTC": (20, 0)}).account)
    decided = inputs(T0 + HOUR, 10000, {"BTC": (20, "1.25")})
    f.begin(decided)  # 1.25 paid in the first hour
    arrived = replace(decided, account=inputs(T0 + 2 * HOUR, 10000, {"BTC": (20, "2")}).account)
    # the cycle's trade grew BTC (the count since the position opened goes on)
    f.after(arrived, None, inputs(T0 + 2 * HOUR, 10000, {"BTC": (30, "2")}).account)
    f.begin(inputs(T0 + 2 * HOUR, 10000, {"BTC": (30, "2")}))
    assert card.funding == Decimal("2")  # 1.25, then the 0.75 of the hour the orders waited


def test_a_plan_activated_in_the_cycle_of_a_stop_loss_keeps_that_coin_flat():
    # the plan was decided on the account before the stop-loss filled: activating it re-opened the
    # coin an hour after its stop (real data, 3% stop, 2024-12-20 16:00: ETH and SOL shorts stopped
    # out, re-shorted at 17:00 by the plan approved at 16:00)
    f = flow(config())
    activate(f, T0)
    later = T0 + 2 * HOUR
    f.note_stop_loss(["BTC"])  # the cycle's stop-loss is noted before its governance decision
    inp = inputs(later, 10000, {"BTC": (20, 0)})
    view = f.begin(inp)
    new = GovernanceDecisionResult(success=True, maintain_plan=False,
                                   proposed_plan=proposal("slow-trend", {"BTC": 20, "ETH": 10}))
    assert f.consider(inp, view, new)["verdict"] == "approved"
    assert {t.coin: t.target_pct for t in f.targets(inp, view)[0]} == {"BTC": 0, "ETH": 10}
    f.after(inp, None, inputs(later, 10000).account)
    assert f.export_state()["stopped_out"] == ["BTC"]
    # the next plan, decided after the stop, may hold the coin again
    nxt = inputs(later + 8 * HOUR, 10000)
    f.governor.force_review("a test")  # (past the cooldown; the dwell is not)
    view = f.begin(nxt)
    again = GovernanceDecisionResult(success=True, maintain_plan=False,
                                     proposed_plan=proposal("slow-trend", {"BTC": 15}))
    assert f.consider(nxt, view, again)["verdict"] == "approved"
    assert {t.coin: t.target_pct for t in f.targets(nxt, view)[0]} == {"BTC": 15}


def test_a_fill_between_cycles_is_scored_to_the_plan_in_charge_when_it_filled():
    # a TP/SL trigger of the old plan fills between two decisions (4 h apart); the cycle that reads it
    # replaces the plan: the fill is the old plan's, not the new one's (real data, 4h decisions: 8
    # cards disagreed with the run's per-plan fills)
    from hyperliquid_agent.domain import Fill, Side

    f = flow(config())
    activate(f, T0)
    old = f.scorekeeper.current
    stop = Fill(coin="BTC", side=Side.SELL, price=d(95), size=d(20), fee=d("0.86"), time_ms=T0 + 2 * HOUR, oid=7,
                closed_pnl=d(-100))
    inp = replace(inputs(T0 + 4 * HOUR, 9900), exits=("BTC",), outside_fills=(stop,))
    f.note_stop_loss(["BTC"], "take-profit/stop-loss trigger")
    view = f.begin(inp)
    new = GovernanceDecisionResult(success=True, maintain_plan=False, proposed_plan=proposal("slow-trend", {"ETH": 10}))
    assert f.consider(inp, view, new)["verdict"] == "approved"
    f.after(inp, None, inp.account, (stop,))
    assert (old.trades, old.fees, old.realized_pnl) == (1, d("0.86"), d(-100))
    assert f.scorekeeper.current.trades == 0 and f.scorekeeper.current.fees == 0


def _stopped_out_on_btc():
    """A flow whose plan (BTC 20 %) lost BTC to a stop-loss, at its next review: (flow, inputs, view)."""
    f = flow(config())
    activate(f, T0)
    f.note_stop_loss(["BTC"])
    inp = inputs(T0 + 4 * HOUR, 10000)
    return f, inp, f.begin(inp)


def test_the_review_says_which_of_the_plans_coins_are_held_flat():
    # once a review has spent the stop-loss's forced review, the plan still lists BTC at 20% while the
    # engine keeps it flat until the next plan: the review (prompt and record) says so
    f, inp, view = _stopped_out_on_btc()
    assert view["review_reason"].startswith("review forced: stop-loss on BTC")
    f.consider(inp, view, GovernanceDecisionResult(success=True, maintain_plan=True))
    view = f.begin(inputs(T0 + 8 * HOUR, 10000))
    assert view["review_reason"].startswith("dwell: ")
    assert view["review_reason"].endswith("; held flat until the next plan: BTC (its target 20%)")


def test_a_micro_adjustment_of_a_coin_held_flat_is_dropped_and_said_so():
    from hyperliquid_agent.schemas import TargetSpec

    f, inp, view = _stopped_out_on_btc()
    keep = GovernanceDecisionResult(success=True, maintain_plan=True, micro_adjustments=[
        TargetSpec(coin="BTC", target_pct=d(22), market_type="perp", leverage=2)])
    out = f.consider(inp, view, keep)
    assert out["reason"] == "BTC: held flat until the next plan; micro-adjustment dropped"
    assert f.governor.overrides == {}
