"""`hl-agent gov ...` through typer's CliRunner, over state written by the persistence layer."""

from __future__ import annotations

import json

import pytest
from gov_helpers import HOUR, T0, d, plan, signals_for, strategy
from typer.testing import CliRunner

from hyperliquid_agent.cli import app
from hyperliquid_agent.config import load_config
from hyperliquid_agent.governance.governor import Governor
from hyperliquid_agent.governance_store import GovernanceStore
from hyperliquid_agent.governance.scorekeeper import Scorekeeper
from hyperliquid_agent.governance.tripwires import TripwireInputs, TripwireState, evaluate_tripwires
from hyperliquid_agent.domain import AccountState
from hyperliquid_agent.store import StateStore

runner = CliRunner()
COMMANDS = ["plan", "regime", "tripwires", "metrics", "history"]


@pytest.fixture
def cfg_path(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[agent]\nstate_dir = "{(tmp_path / "state").as_posix()}"\n'
                    "[governance.governor]\nrotation_steps = 2\n")
    return path


def seed_state(cfg_path):
    cfg = load_config(cfg_path, env={})
    store = GovernanceStore(StateStore.in_dir(cfg.state_dir))
    gov = Governor(cfg.governance)
    trend = strategy("slow-trend", regimes=("trending-bull",), dwell=1440)
    store.record_regime(gov.classify_regime(signals_for("trending-bull"), T0))
    keeper = Scorekeeper()
    gov.activate_plan(plan(trend, {"BTC": 10}, plan_id="old-plan"), T0)
    keeper.start("old-plan", "slow-trend", T0, d(10000))
    gov.activate_plan(plan(trend, {"BTC": 30, "ETH": -10}, T0 + HOUR, plan_id="trend-42"), T0 + HOUR)
    keeper.start("trend-42", "slow-trend", T0 + HOUR, d(10050))
    keeper.current.mark(d(10100), T0 + 2 * HOUR)
    store.record_regime(gov.classify_regime(signals_for("trending-bull"), T0 + 2 * HOUR))
    acct = AccountState(portfolio_value=d(10100), available_balance=d(10100))
    trip, _ = evaluate_tripwires(TripwireInputs(account=acct, mids={}, now_ms=T0 + 2 * HOUR, last_data_ms=None,
                                                api_failures=6), TripwireState(), cfg.governance.tripwires)
    store.save(gov, trip, keeper)
    store.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_no_state_yet_gives_a_clear_message_and_creates_nothing(cfg_path, command):
    result = runner.invoke(app, ["gov", command, "-c", str(cfg_path)])
    assert result.exit_code == 0, result.output
    assert "no governance state yet" in result.output
    data = json.loads(runner.invoke(app, ["gov", command, "-c", str(cfg_path), "--json"]).output)
    assert data["available"] is False
    assert not (cfg_path.parent / "state").exists()


def test_plan_shows_the_active_plan_dwell_and_rotation(cfg_path):
    seed_state(cfg_path)
    data = json.loads(runner.invoke(app, ["gov", "plan", "-c", str(cfg_path), "--json"]).output)
    assert data["plan"]["plan_id"] == "trend-42" and data["as_of_ms"] == T0 + 2 * HOUR
    assert data["dwell_remaining_minutes"] == 1380
    assert data["can_review"] is False and data["rotation_step"] == [1, 2]
    # rotating from the old plan's step-1 book (BTC 5) halfway to BTC 30 / ETH -10
    assert {t["coin"]: d(t["target_pct"]) for t in data["current_targets"]} == {"BTC": d("17.5"), "ETH": d(-5)}
    text = runner.invoke(app, ["gov", "plan", "-c", str(cfg_path)]).output
    assert "trend-42" in text and "rebalancing in progress" in text


def test_regime_tripwires_metrics_history(cfg_path):
    seed_state(cfg_path)
    reg = json.loads(runner.invoke(app, ["gov", "regime", "-c", str(cfg_path), "--json"]).output)
    assert reg["confirmed"] == "trending-bull" and len(reg["history"]) == 2
    trip = json.loads(runner.invoke(app, ["gov", "tripwires", "-c", str(cfg_path), "--json"]).output)
    assert trip["trading_state"] == "HALTED"
    assert {t["code"] for t in trip["trips"]} == {"api_failures", "stale_data"}
    met = json.loads(runner.invoke(app, ["gov", "metrics", "-c", str(cfg_path), "--json"]).output)
    assert met["scorecard"]["plan_id"] == "trend-42" and met["scorecard"]["pnl"] == "50"
    hist = json.loads(runner.invoke(app, ["gov", "history", "-c", str(cfg_path), "--json"]).output)
    (old,) = hist["plans"]
    assert old["plan_id"] == "old-plan" and old["plan"]["status_reason"] == "replaced by trend-42"
    for command in COMMANDS:
        result = runner.invoke(app, ["gov", command, "-c", str(cfg_path)])
        assert result.exit_code == 0, result.output
    assert "HALTED" in runner.invoke(app, ["gov", "tripwires", "-c", str(cfg_path)]).output


def test_plan_review_status_includes_the_calendar_lock(cfg_path):
    from hyperliquid_agent.governance.calendar import CalendarEvent

    seed_state(cfg_path)
    cal = cfg_path.parent / "calendar.toml"
    cal.write_text('[[events]]\nname = "FOMC"\ntime = "%s"\n' % CalendarEvent(name="x", time_ms=T0 + 3 * HOUR).time_iso)
    cfg_path.write_text(cfg_path.read_text() + '[governance.regime]\ncalendar = "calendar.toml"\n')
    data = json.loads(runner.invoke(app, ["gov", "plan", "-c", str(cfg_path), "--json"]).output)
    assert data["can_review"] is False and data["review_reason"].startswith("event lock: FOMC")
    cal.write_text("[[events]]\nname = 'FOMC'\n")
    bad = runner.invoke(app, ["gov", "plan", "-c", str(cfg_path)])
    assert bad.exit_code == 2 and "needs both 'name' and 'time'" in bad.output


def test_rearm_asks_the_agents_next_cycle_to_lift_a_drawdown_freeze(cfg_path):
    """`gov rearm` leaves a request in the state store; the governed flow restored from it (a
    running agent's next cycle, or the next start) re-arms before the cycle's state is
    recorded, notes it in the cycle's governance record, and the request is gone."""
    from hyperliquid_agent.app.governed import GovernedFlow

    cfg = load_config(cfg_path, env={})
    store = GovernanceStore(StateStore.in_dir(cfg.state_dir))
    limits = cfg.governance.tripwires.model_copy(update={"daily_loss_pct": d(50)})  # (a drawdown alone)
    state, _ = evaluate_tripwires(TripwireInputs(account=AccountState(portfolio_value=d(10000), available_balance=d(10000)),
                                                 mids={}, now_ms=T0, last_data_ms=T0), TripwireState(), limits)
    down = AccountState(portfolio_value=d(8000), available_balance=d(8000))
    state, report = evaluate_tripwires(TripwireInputs(account=down, mids={}, now_ms=T0 + HOUR, last_data_ms=T0 + HOUR),
                                       state, limits)
    assert report.state.value == "REDUCING"
    store.save(Governor(cfg.governance), state, Scorekeeper())
    store.close()

    asked = runner.invoke(app, ["gov", "rearm", "-c", str(cfg_path)], input="n\n")
    assert asked.exit_code != 0 and "not re-armed" in asked.output  # (no terminal: --yes is needed)
    done = runner.invoke(app, ["gov", "rearm", "-c", str(cfg_path), "--yes"])
    assert done.exit_code == 0, done.output
    assert "REDUCING" in done.output and "max_drawdown" in done.output and "re-arm requested" in done.output

    store = GovernanceStore(StateStore.in_dir(cfg.state_dir))
    flow = GovernedFlow.restore(cfg, (), store)
    flow.take_requests(down, T0 + 2 * HOUR)
    assert flow.tripwires.peak_equity == d(8000) and flow.tripwires.cut_done == []
    assert store.take_rearm_request() is None  # taken once
    flow.take_requests(down, T0 + 3 * HOUR)  # (nothing asked again: nothing changes)
    assert flow._rearmed and flow._rearmed[0].startswith("tripwires re-armed (hl-agent gov rearm by ")
    store.close()
    again = runner.invoke(app, ["gov", "rearm", "-c", str(cfg_path), "--yes"])
    assert "REDUCING" in again.output  # (the flow above saved nothing: the store still holds the freeze)
