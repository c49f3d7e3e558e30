"""Persistence: a restart resumes the same plan with its dwell clock; histories; calendar file; scorecards."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from gov_helpers import HOUR, MIN, T0, d, gov_config, plan, signals_for, strategy

from hyperliquid_agent.domain import Fill, Position, Regime, Side
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.governance.governor import Governor
from hyperliquid_agent.governance_store import GovernanceStore, load_calendar_file
from hyperliquid_agent.governance.scorekeeper import Scorecard, Scorekeeper
from hyperliquid_agent.governance.tripwires import TripwireState
from hyperliquid_agent.store import StateStore, dumps_as_built

TREND = strategy("slow-trend", regimes=("trending-bull",), dwell=1440)


def test_restart_resumes_the_same_plan_with_its_dwell_clock(tmp_path):
    cfg = gov_config(rotation_steps=2)
    gov = Governor(cfg)
    gov.classify_regime(signals_for("trending-bull"), T0)
    gov.activate_plan(plan(TREND, {"BTC": 30}, plan_id="p-1"), T0)
    trip = TripwireState(day_start_ms=T0, day_start_equity=d(10000), peak_equity=d(10500))
    keeper = Scorekeeper()
    keeper.start("p-1", "slow-trend", T0, d(10000))
    keeper.observe_funding([Position(coin="BTC", size=d(3), entry_price=d(100), cum_funding=d("0.4"))])
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    store.save(gov, trip, keeper)
    store.close()

    again = GovernanceStore(StateStore.in_dir(tmp_path))  # a new process
    gov2 = again.load_governor(cfg)
    assert gov2.get_active_plan() == gov.get_active_plan()
    now = T0 + 10 * HOUR
    assert gov2.can_review_plan(now) == (False, "dwell: 840 of 1440 min remaining")
    assert gov2.current_targets(now) == gov.current_targets(now)
    assert again.load_tripwires() == trip
    assert again.load_scorekeeper().current.plan_id == "p-1"
    # the funding reference points too: the next cycle books only what was paid since
    assert again.load_scorekeeper().funding_seen == {"BTC": (d(3), d("0.4"))}



class _Failing(Exception):
    pass


def test_save_writes_only_what_changed_in_one_transaction_and_retries_a_failed_write(tmp_path):
    gov = Governor(gov_config())
    gov.activate_plan(plan(TREND, {"BTC": 30}, plan_id="p-1"), T0)
    trip = TripwireState(day_start_ms=T0, day_start_equity=d(10000), peak_equity=d(10500))
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    written: list[str] = []
    real_put = store.store.put_many_text

    def spy(entries):
        written.extend(key for _, key, _ in entries)
        real_put(entries)

    store.store.put_many_text = spy
    reading = gov.classify_regime(signals_for("trending-bull"), T0)
    store.save(gov, trip, Scorekeeper(), readings=[reading], extra={("agent", "stopped_out"): ["ETH"]})
    assert sorted(written) == ["governor", "scorekeeper", "stopped_out", "tripwires"]
    assert [h["confirmed"] for h in store.regime_history()] == ["trending-bull"]

    written.clear()
    store.save(gov, trip, Scorekeeper(), extra={("agent", "stopped_out"): ["ETH"]})
    assert written == []  # nothing changed: nothing rewritten

    trip = TripwireState(day_start_ms=T0, day_start_equity=d(10000), peak_equity=d(10600))

    def fail(entries):
        raise _Failing()

    store.store.put_many_text = fail
    with pytest.raises(_Failing):
        store.save(gov, trip, Scorekeeper(), readings=[reading])
    assert len(store.regime_history()) == 1  # the reading rolled back with the failed write
    store.store.put_many_text = spy
    store.save(gov, trip, Scorekeeper(), readings=[reading])
    assert written == ["tripwires"]  # the failed write is retried, the unchanged ones are not
    again = GovernanceStore(StateStore.in_dir(tmp_path))  # a new process sees the latest state
    assert again.load_tripwires() == trip
    assert again.store.get("agent", "stopped_out") == ["ETH"]
    assert len(again.regime_history()) == 2

def test_saved_governor_text_is_its_plain_state_whichever_plan_is_active(tmp_path):
    # the active plan's JSON is reused while the plan stays the same: the text must follow each change
    gov = Governor(gov_config())
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    for step, plan_id in enumerate(("p-1", "p-1", "p-2", None)):
        if plan_id is None:
            gov.end_plan(T0 + step * HOUR)
        elif gov.get_active_plan() is None or gov.get_active_plan().plan_id != plan_id:
            gov.activate_plan(plan(TREND, {"BTC": 10 + step}, plan_id=plan_id), T0 + step * HOUR)
        gov.classify_regime(signals_for("trending-bull"), T0 + step * HOUR)
        store.save(gov)
        text = store.store.get_text("governance", "governor")
        assert json.loads(text) == gov.to_state()
        assert text == dumps_as_built(gov.to_state())


def test_empty_store_gives_fresh_state(tmp_path):
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    assert store.load_governor(gov_config()).get_active_plan() is None
    assert store.load_tripwires() == TripwireState()
    assert store.regime_history() == [] and store.plan_history() == []
    assert GovernanceStore.open_existing(tmp_path / "nowhere") is None
    assert not (tmp_path / "nowhere").exists()


def test_regime_and_plan_history(tmp_path):
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    gov = Governor(gov_config())
    for i, name in enumerate(["trending-bull", "range-bound", "range-bound"]):
        store.record_regime(gov.classify_regime(signals_for(name), T0 + i * HOUR))
    hist = store.regime_history()
    assert [h["confirmed"] for h in hist] == ["trending-bull", "trending-bull", "range-bound"]
    assert hist[-1]["changed"] is True

    keeper = Scorekeeper()
    gov.activate_plan(plan(strategy("stand-aside", regimes=("range-bound",)), {}, plan_id="a"), T0)
    keeper.start("a", "stand-aside", T0, d(10000))
    keeper.current.mark(d(10100), T0 + HOUR)
    gov.activate_plan(plan(strategy("stand-aside", regimes=("range-bound",)), {}, plan_id="b"), T0 + 2 * HOUR)
    keeper.start("b", "stand-aside", T0 + 2 * HOUR, d(10100))
    store.save(gov, None, keeper)
    assert gov.ended == [] and keeper.finished == []  # drained into history
    (entry,) = store.plan_history()
    assert entry["plan_id"] == "a" and entry["plan"]["status"] == "completed"
    assert entry["post_mortem"]["pnl"] == "100" and "replaced by b" in entry["post_mortem"]["end_reason"]


def test_scorecard_metrics():
    card = Scorecard(plan_id="p", strategy_id="s", started_ms=T0, start_equity=d(10000))
    card.mark(d(10500), T0 + HOUR)
    card.mark(d(9975), T0 + 2 * HOUR)  # 5% below the 10500 peak
    card.record_fill(Fill(coin="BTC", side=Side.BUY, price=d(101), size=d(2), fee=d("0.09"), time_ms=T0, oid=1),
                     mid=d(100))
    card.record_fill(Fill(coin="BTC", side=Side.SELL, price=d(109), size=d(2), fee=d("0.1"), time_ms=T0, oid=2,
                          closed_pnl=d(16)), mid=d(110))
    card.record_fill(Fill(coin="ETH", side=Side.SELL, price=d(50), size=d(1), fee=d("0.02"), time_ms=T0, oid=3,
                          closed_pnl=d(-3)))
    card.record_funding(d("1.5"))
    s = card.summary()
    assert s["pnl"] == "-25" and s["max_drawdown_pct"] == "5.0000"
    assert s["trades"] == 3 and s["hit_rate"] == 0.5
    assert Decimal(s["fees"]) == Decimal("0.21") and Decimal(s["funding"]) == Decimal("1.5")
    assert Decimal(s["turnover_usd"]) == Decimal(202 + 218 + 50)
    assert Decimal(s["slippage_usd"]) == Decimal(4)  # paid 1 over mid on 2 bought, sold 1 under mid on 2
    pm = card.post_mortem(T0 + 3 * HOUR, "replaced by q")
    assert pm["switches"] == 1 and pm["ended_ms"] == T0 + 3 * HOUR and "lost 25.00 USD" in pm["verdict"]
    assert Scorecard.from_dict(card.to_dict()) == card


def test_calendar_file(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text('[[events]]\nname = "CPI"\ntime = "2025-10-09T12:30:00Z"\nkind = "macro"\n')
    (ev,) = load_calendar_file(path)
    assert ev.name == "CPI" and ev.time_iso == "2025-10-09T12:30:00Z"
    with pytest.raises(ConfigError, match="governance.regime"):
        load_calendar_file(tmp_path / "missing.toml")
    path.write_text('[[events]]\nname = "CPI"\ntime = "tomorrow"\n')
    with pytest.raises(ConfigError, match=str(path).replace("\\", "\\\\")):
        load_calendar_file(path)


def test_example_calendar_in_the_repository_parses():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "calendar.example.toml"
    events = load_calendar_file(example)
    assert events and {e.kind for e in events} <= {"macro", "unlock", "other"}


def test_dwell_survives_restart_even_after_a_regime_vote(tmp_path):
    cfg = gov_config()
    gov = Governor(cfg)
    gov.classify_regime(signals_for("trending-bull"), T0)
    gov.activate_plan(plan(TREND, {"BTC": 10}), T0)
    gov.classify_regime(signals_for("range-bound"), T0 + HOUR)  # one vote for a change
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    store.save(gov)
    gov2 = store.load_governor(cfg)
    gov2.classify_regime(signals_for("range-bound"), T0 + 2 * HOUR)  # the second vote confirms it
    assert gov2.regime is Regime.RANGE_BOUND
    assert gov2.can_review_plan(T0 + 2 * HOUR + MIN)[0] is True


def test_read_only_open_of_a_store_without_governance_tables(tmp_path):
    other = StateStore.in_dir(tmp_path)
    other.put("risk", "counters", {"n": 1})  # another part of the engine wrote the file first
    other.close()
    ro = GovernanceStore.open_existing(tmp_path)
    assert ro.regime_history() == [] and ro.plan_history() == [] and ro.governor_state() is None
    tables = {r[0] for r in ro.store.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "gov_plan_history" not in tables  # reading created nothing


def test_an_invalidated_plan_keeps_its_status_in_history(tmp_path):
    carry = strategy("funding-carry", regimes=("trending-bull",), triggers=("funding_24h_avg < 0",))
    gov = Governor(gov_config())
    gov.classify_regime(signals_for("trending-bull"), T0)
    gov.activate_plan(plan(carry, {"BTC": 10}, plan_id="c1"), T0)
    gov.check_invalidation({"BTC": {"funding_24h_avg": -0.001}}, T0 + HOUR)
    gov.activate_plan(plan(carry, {"BTC": 5}, T0 + 2 * HOUR, plan_id="c2"), T0 + 2 * HOUR)
    store = GovernanceStore(StateStore.in_dir(tmp_path))
    store.save(gov)
    (entry,) = store.plan_history()
    assert entry["plan"]["status"] == "invalidated"
    assert entry["plan"]["status_reason"] == "trigger fired: funding_24h_avg < 0; replaced by c2"
