"""Whole paper sessions through `start_agent` (startup checks, loop, audit), then every
recorded cycle replayed from the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest

from _agent_env import agent_config, target_reply
from hyperliquid_agent.app.agent import start_agent
from hyperliquid_agent.app.replay import replay_cycle
from hyperliquid_agent.audit import audit_path, read_records
from hyperliquid_agent.testing import ScriptedLLM


def _session(cfg, cycles, client=None):
    checks: list[dict] = []
    agent = start_agent(cfg, max_cycles=cycles, client=client, on_check=checks.append)
    try:
        result = agent.run()
    finally:
        agent.close()
    return checks, result


@pytest.mark.parametrize("mode", ["standard", "governed"])
def test_baseline_session_then_every_cycle_replays_to_the_same_orders(tmp_path, mode):
    cfg = agent_config(tmp_path / "state", mode,
                       governance={"governor": {"medium_loop_s": 3600, "cooldown_minutes": 0,
                                                "change_threshold_bps": 1}})
    checks, result = _session(cfg, 12)
    assert [c["check"] for c in checks][:5] == ["config", "strategies", "state", "venue", "llm"]
    assert all(c["ok"] for c in checks), checks
    recs = list(read_records(audit_path(cfg.state_dir)))
    assert len(recs) == len(result.records) == 12 and all(not r["errors"] for r in recs)
    assert sum(len(r["orders"]) for r in recs) > 0, "the session traded nothing, so replay proves little"
    for rec in recs:
        out = replay_cycle(cfg, rec)
        assert out["match"], (rec["cycle_id"], out["differences"])


def test_scripted_session_follows_the_replies_cycle_by_cycle(tmp_path):
    cfg = agent_config(tmp_path / "state", "standard")
    llm = ScriptedLLM([target_reply(("ETH", 20)), target_reply(("ETH", 20)), target_reply(("ETH", -20)),
                       target_reply()])
    _, result = _session(cfg, 4, client=llm)
    recs = result.records
    sizes = []
    for r in recs:
        pos = next((p for p in r["account_after"]["positions"] if p["coin"] == "ETH"), None)
        sizes.append(Decimal(pos["size"]) if pos else Decimal(0))
    assert sizes[0] > 0 and sizes[1] == sizes[0] and sizes[2] < 0 and sizes[3] == 0
    assert [len(r["orders"]) for r in recs][1] == 0
    assert len(llm.requests) == 4
    # restart over the same state: cycle ids go on, the venue (fresh embedded emulator) is reconciled
    checks, again = _session(cfg, 1, client=ScriptedLLM([target_reply()]))
    assert again.records[0]["cycle_id"] == "c000005"
    assert any("fresh account" in c["detail"] for c in checks if c["check"] == "reconcile")


def _governed_sessions_with_saved_state_edited(tmp_path, edit):
    """A 2-cycle governed session, `edit(governance_store)` on what it saved, then a 1-cycle session."""
    from hyperliquid_agent.governance_store import GovernanceStore
    from hyperliquid_agent.store import StateStore

    cfg = agent_config(tmp_path / "state", "governed")
    _session(cfg, 2)
    store = StateStore.in_dir(cfg.state_dir)
    edit(GovernanceStore(store))
    store.close()
    return _session(cfg, 1)


def test_a_new_paper_session_does_not_inherit_the_old_accounts_drawdown(tmp_path):
    def peak_far_above(gs):
        tw = gs.load_tripwires()
        tw.peak_equity = Decimal(20000)  # the last session ended far above the fresh account's 10,000
        gs.save(tripwires=tw)

    _, result = _governed_sessions_with_saved_state_edited(tmp_path, peak_far_above)
    rec = result.records[0]
    assert rec["trading_state"] == "ACTIVE" and rec["governance"]["tripwires"] == []


def test_the_plans_scorecard_goes_on_from_the_new_paper_account_without_a_jump(tmp_path):
    # the last session ended at $20,000 with the plan up $10,000; the fresh account's $10,000 read
    # as a 50 % plan drawdown (its risk budget invalidates the plan) and a $10,000 loss of the plan
    from hyperliquid_agent.governance_store import GovernanceStore
    from hyperliquid_agent.store import StateStore

    def plan_up_10000(gs):
        keeper = gs.load_scorekeeper()
        card = keeper.current
        assert card is not None, "the baseline session activated no plan"
        card.start_equity, card.last_equity, card.peak_equity = Decimal(10000), Decimal(20000), Decimal(20000)
        gs.save(scorekeeper=keeper)

    _governed_sessions_with_saved_state_edited(tmp_path, plan_up_10000)
    cfg = agent_config(tmp_path / "state", "governed")
    store = StateStore.in_dir(cfg.state_dir)
    card = GovernanceStore(store).load_scorekeeper().current
    store.close()
    assert card.drawdown_pct < 1
    assert abs(card.pnl - Decimal(10000)) < 100  # the plan's gain so far kept, plus one cycle's move


def test_a_new_paper_session_keeps_the_days_traded_notional(tmp_path):
    # only the equity anchors start again with the fresh paper account: the notional traded today
    # still counts toward risk.max_daily_notional_usd (a restart zeroed it, so restarts lifted the cap)
    from hyperliquid_agent.risk_store import load_counters
    from hyperliquid_agent.store import StateStore

    cfg = agent_config(tmp_path / "state", "standard")
    _session(cfg, 1, client=ScriptedLLM([target_reply(("ETH", 20))]))
    store = StateStore.in_dir(cfg.state_dir)
    traded = load_counters(store).daily_notional
    store.close()
    assert traded > 0
    _, result = _session(cfg, 1, client=ScriptedLLM([target_reply(("ETH", 20))]))
    rec = result.records[0]
    store = StateStore.in_dir(cfg.state_dir)
    counters = load_counters(store)
    store.close()
    bought = sum(Decimal(f["size"]) * Decimal(f["price"]) for f in rec["fills"])
    assert counters.daily_notional >= traded + bought - 1

def test_regime_llm_calls_are_counted_in_the_cycle_record_and_replay_still_matches(tmp_path):
    cfg = agent_config(tmp_path / "state", "governed",
                       governance={"regime": {"use_llm": True},
                                   "governor": {"medium_loop_s": 3600, "cooldown_minutes": 0}})
    _, result = _session(cfg, 3)
    first = result.records[0]
    assert [c["purpose"] for c in first["llm"]["detail"]] == ["regime", "governance"]
    assert first["llm"]["calls"] == 2 and first["governance"]["regime"]
    for rec in result.records:
        assert replay_cycle(cfg, rec)["match"]


class _Crash(BaseException):
    """Stands in for kill -9: nothing after it runs (not even `except Exception`)."""


def test_crash_between_submit_and_record_then_restart_sends_nothing_twice(tmp_path):
    from _agent_env import paper_rig
    from hyperliquid_agent.app.loop import AgentLoop, Schedule
    from hyperliquid_agent.app.paper import SteppedClock
    from hyperliquid_agent.app.wiring import build_audit_writer, build_pipeline
    from hyperliquid_agent.execution import Executor

    cfg = agent_config(tmp_path / "state", "standard")
    rig = paper_rig(cfg, client=ScriptedLLM([target_reply(("BTC", 20))]))
    try:
        def crash(orders, outcomes):
            raise _Crash()  # the venue took the order; our ledger never heard back

        rig.pipeline.executor = Executor(rig.exchange, rig.store, config=cfg.portfolio, after_submit=crash)
        clock = SteppedClock(rig.venue.now_ms, rig.venue.advance_to)
        loop = AgentLoop(rig.pipeline, rig.store, build_audit_writer(cfg), clock, Schedule("standard", 3600), max_cycles=3)
        with pytest.raises(_Crash):
            loop.run()
        assert not audit_path(cfg.state_dir).exists()  # the cycle never got its record

        again = build_pipeline(cfg, rig.exchange, rig.store, client=ScriptedLLM([target_reply(("BTC", 20))]))
        result = AgentLoop(again, rig.store, build_audit_writer(cfg), clock, Schedule("standard", 3600),
                           max_cycles=1).run()
        recovered = result.recovered[0]
        assert recovered["cycle_id"] == "c000001" and recovered["recovered"] is True
        assert [o["status"] for o in recovered["orders"]] == ["filled"]  # learned by cloid, not re-sent
        assert result.records[0]["cycle_id"] == "c000002" and result.records[0]["orders"] == []
        fills = rig.exchange.fills()
        assert len({f.oid for f in fills}) == 1
        assert [r["cycle_id"] for r in read_records(audit_path(cfg.state_dir))] == ["c000001", "c000002"]
    finally:
        rig.close()


def test_a_second_agent_on_the_same_state_dir_is_refused(tmp_path):
    from hyperliquid_agent.errors import StateError

    cfg = agent_config(tmp_path / "state", "standard")
    first = start_agent(cfg, max_cycles=1)
    try:
        with pytest.raises(StateError, match="another agent"):
            start_agent(cfg, max_cycles=1)
    finally:
        first.close()
    second = start_agent(cfg, max_cycles=1)  # free again once the first one closed
    second.close()


def test_status_says_whether_an_agent_is_running(tmp_path):
    import os

    from hyperliquid_agent.app.status import read_status

    cfg = agent_config(tmp_path / "state", "standard")
    agent = start_agent(cfg, max_cycles=1)
    try:
        agent.run()
        assert read_status(cfg.state_dir)["running_pid"] == os.getpid()
    finally:
        agent.close()
    after = read_status(cfg.state_dir)
    assert after["running_pid"] is None and after["stopped_at_ms"]
