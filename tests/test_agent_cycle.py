"""One cycle through the real pipeline: embedded emulator (real SDK over loopback), scripted LLM,
real portfolio manager, risk policy and executor; the audit record; replay from the record."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from _agent_env import MAINTAIN, agent_config, paper_rig, plan_reply, target_reply
from hyperliquid_agent.app.replay import replay_cycle
from hyperliquid_agent.errors import LLMAuthError, StateError
from hyperliquid_agent.app.cycle import API_FAILURES_KEY
from hyperliquid_agent.app.status import AGENT_NS
from hyperliquid_agent.testing import ScriptedLLM

AUDIT_FIELDS = ("cycle_id", "time", "time_ms", "mode", "network", "market", "account_before", "account_after",
                "signals", "regime", "plan_id", "review", "prompt", "template_version", "llm", "decision",
                "governance", "risk", "orders", "fills", "fees_usd", "errors")


@pytest.fixture
def standard(tmp_path):
    llm = ScriptedLLM()
    rig = paper_rig(agent_config(tmp_path / "state", "standard"), client=llm)
    yield rig, llm
    rig.close()


def _run(rig, n: int, loops=("standard",)):
    rec = rig.pipeline.run(f"c{n:06d}", n, rig.venue.now_ms(), loops)
    rig.step()
    return rec


def _exposure(rec, coin):
    acct = rec["account_after"]
    pos = next((p for p in acct["positions"] if p["coin"] == coin), None)
    if pos is None:
        return Decimal(0), Decimal(0)
    size = Decimal(pos["size"])
    mid = Decimal(rec["market"]["mids"][coin])
    return size, size * mid / Decimal(acct["portfolio_value"]) * 100


def test_target_allocation_becomes_filled_orders_then_nothing_then_a_flip(standard):
    rig, llm = standard
    llm.push(target_reply(("BTC", 20)), target_reply(("BTC", 20)), target_reply(("BTC", -10)))
    r1 = _run(rig, 1)
    assert r1["errors"] == [], r1["errors"]
    assert [o["status"] for o in r1["orders"]] == ["filled"]
    order = r1["orders"][0]
    assert order["intent"]["side"] == "buy" and order["verdict"]["verdict"] == "approved"
    assert order["cloid"].startswith("0x") and len(order["cloid"]) == 34
    size, pct = _exposure(r1, "BTC")
    assert size > 0 and Decimal(17) < pct < Decimal(21)
    assert r1["fills"] and Decimal(r1["fees_usd"]) > 0

    r2 = _run(rig, 2)  # same target, position already there: no churn
    assert r2["orders"] == [] and r2["decision"]["summary"].startswith("target")

    r3 = _run(rig, 3)  # long 20% -> short 10%: close leg (reduce-only) first, then the short
    sides = [(o["intent"]["side"], o["intent"]["reduce_only"], o["status"]) for o in r3["orders"]]
    assert sides[0] == ("sell", True, "filled") and all(s[0] == "sell" for s in sides)
    size, pct = _exposure(r3, "BTC")
    assert size < 0 and Decimal(-11) < pct < Decimal(-8)  # the short keeps its sign


def test_the_record_has_every_audit_field_and_a_status_snapshot(standard):
    rig, llm = standard
    llm.push(target_reply(("ETH", 10)))
    rec = _run(rig, 1)
    missing = [f for f in AUDIT_FIELDS if f not in rec]
    assert not missing, missing
    assert rec["llm"]["calls"] == 1 and rec["llm"]["raw_reply"] and len(rec["llm"]["prompt_hash"]) == 16
    assert rec["template_version"] and rec["prompt"]["hash"] == rec["llm"]["prompt_hash"]
    assert set(rec["signals"]) >= {"BTC", "ETH", "SOL", "*"} and rec["signals"]["ETH"]["rsi14"] is not None
    assert rec["market"]["specs"]["ETH"]["sz_decimals"] >= 0
    snap = rec["status_snapshot"]
    assert snap["cycle_id"] == "c000001" and snap["account"]["portfolio_value"] == rec["account_after"]["portfolio_value"]


def test_a_reply_that_does_not_parse_holds_and_sends_nothing(standard):
    rig, llm = standard
    # not JSON (and not after the client's one re-ask either), then a key the provider refuses
    llm.push("I think you should buy some bitcoin.", "Still prose.", LLMAuthError("HTTP 401 invalid api key"))
    for n in (1, 2):
        rec = _run(rig, n)
        assert rec["orders"] == [] and rec["decision"]["summary"].startswith("hold")
        assert rec["decision"]["success"] is False and rec["decision"]["error"]
    assert "401" in rec["llm"]["errors"][0]


def test_an_unreachable_venue_fails_the_cycle_holds_and_counts_an_api_failure(standard):
    rig, llm = standard
    rig.store.put(AGENT_NS, API_FAILURES_KEY, 2)
    rig.venue.stop()
    rec = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
    assert rec["orders"] == [] and rec["errors"] and rec["errors"][0].startswith("collect:")
    assert rec["decision"]["summary"] == "hold: collect failed"
    assert rig.store.get(AGENT_NS, API_FAILURES_KEY) == 3
    assert rec["status_snapshot"]["partial"] is True and rec["status_snapshot"]["last_errors"]
    assert llm.requests == []  # nothing was asked of the LLM on data we do not have


def test_the_api_failure_count_resets_when_the_venue_answers_again(standard):
    rig, llm = standard
    rig.store.put(AGENT_NS, API_FAILURES_KEY, 4)
    llm.push(target_reply())
    rec = _run(rig, 1)
    assert rec["errors"] == [] and rec["inputs"]["api_failures"] == 4
    assert rig.store.get(AGENT_NS, API_FAILURES_KEY) == 0


def test_governed_mode_halts_after_too_many_api_failures_and_asks_no_llm(tmp_path):
    cfg = agent_config(tmp_path / "state", "governed")
    llm = ScriptedLLM()
    rig = paper_rig(cfg, client=llm)
    try:
        rig.store.put(AGENT_NS, API_FAILURES_KEY, cfg.governance.tripwires.max_api_failures)
        rec = _run(rig, 1, ("fast", "medium"))
        assert rec["trading_state"] == "HALTED" and rec["decision"]["summary"] == "halted"
        assert [t["code"] for t in rec["governance"]["tripwires"]] == ["api_failures"]
        assert rec["orders"] == [] and llm.requests == []
    finally:
        rig.close()


def test_replay_reproduces_the_recorded_orders_and_catches_a_difference(standard):
    rig, llm = standard
    llm.push(target_reply(("SOL", 15), ("ETH", -5)))
    rec = _run(rig, 1)
    assert len(rec["orders"]) == 2
    cfg = rig.cfg.model_copy(deep=True)
    cfg.llm.provider = "baseline"  # the replay uses the RECORDED reply, whatever the provider now
    result = replay_cycle(cfg, rec)
    assert result["match"], result["differences"]
    assert len(result["replayed"]) == 2

    tampered = copy.deepcopy(rec)
    tampered["orders"][0]["intent"]["size"] = str(Decimal(tampered["orders"][0]["intent"]["size"]) * 2)
    bad = replay_cycle(cfg, tampered)
    assert not bad["match"]
    assert any("recorded but not reproduced" in d for d in bad["differences"])
    assert any("reproduced but not recorded" in d for d in bad["differences"])

    other = copy.deepcopy(rec)
    other["llm"]["raw_reply"] = target_reply(("SOL", 30))  # another reply gives other orders
    assert not replay_cycle(cfg, other)["match"]


def test_a_failed_cycle_cannot_be_replayed_and_says_why(standard):
    rig, _ = standard
    rig.venue.stop()
    rec = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
    with pytest.raises(StateError, match="no recorded inputs"):
        replay_cycle(rig.cfg, rec)


def test_governed_cycle_activates_a_plan_tracks_it_and_restart_restores_it(tmp_path):
    from hyperliquid_agent.app.wiring import build_pipeline, load_strategy_library

    cfg = agent_config(tmp_path / "state", "governed")
    llm = ScriptedLLM([MAINTAIN])
    rig = paper_rig(cfg, client=llm)
    try:
        first = _run(rig, 1, ("fast", "medium", "slow"))
        regime = first["regime"]
        assert regime and first["plan_id"] is None and first["review"]["allowed"] is True
        strategy = next(s for s in load_strategy_library(cfg)
                        if s.fits(regime) and s.max_position_pct >= 10 and "perp" in [m.value for m in s.markets])
        llm.push(plan_reply(strategy.id, ("BTC", 10)))
        rec = _run(rig, 2, ("fast", "medium"))
        assert rec["governance"]["verdict"] == "approved", rec["governance"]
        assert rec["plan_id"] == f"{strategy.id}-c000002" and rec["decision"]["summary"].startswith("new plan")
        assert [o["status"] for o in rec["orders"]] == ["filled"]  # rotation step 1 of 2: half way
        _, pct_half = _exposure(rec, "BTC")
        assert Decimal(3) < pct_half < Decimal("5.5")
        fast = _run(rig, 3, ("fast",))
        assert fast["llm"]["calls"] == 0 and fast["plan_id"] == rec["plan_id"]
        _run(rig, 4, ("fast",))
        step2 = _run(rig, 5, ("fast",))  # a medium interval later the rotation completes
        _, pct_full = _exposure(step2, "BTC")
        assert Decimal(8) < pct_full < Decimal(11)

        # restart: a new pipeline over the same state store resumes the same plan and dwell clock
        again = build_pipeline(cfg, rig.exchange, rig.store, client=ScriptedLLM([MAINTAIN]))
        plan = again.governance.governor.get_active_plan()
        assert plan is not None and plan.plan_id == rec["plan_id"]
        assert plan.activated_ms == rec["time_ms"]
        rec6 = again.run("c000006", 6, rig.venue.now_ms(), ("fast", "medium"))
        assert rec6["plan_id"] == rec["plan_id"] and rec6["decision"]["summary"] == "maintain plan"
        assert replay_cycle(cfg, rec)["match"]
    finally:
        rig.close()


def test_a_plan_wanting_more_margin_than_the_tripwire_allows_is_bought_up_to_under_it_not_cut_and_bought_back(tmp_path):
    """A plan of 25 % BTC and 25 % ETH at 2x uses a quarter of the equity as margin, above a
    margin-ratio tripwire of 0.2. Its orders stop short of the tripwire (at 90 % of it), so it
    never trips: before, the tripwire cut the book in half, the next cycle bought it back (the
    plan's targets again), and so on every cycle, paying fees each time."""
    from hyperliquid_agent.app.wiring import load_strategy_library

    cfg = agent_config(tmp_path / "state", "governed", governance={"tripwires": {"max_margin_ratio": "0.2"}})
    llm = ScriptedLLM([MAINTAIN])
    rig = paper_rig(cfg, client=llm)
    try:
        first = _run(rig, 1, ("fast", "medium", "slow"))
        strategy = next(s for s in load_strategy_library(cfg)
                        if s.fits(first["regime"]) and s.max_position_pct >= 25 and s.max_leverage >= 2
                        and "perp" in [m.value for m in s.markets])
        llm.push(plan_reply(strategy.id, ("BTC", 25), ("ETH", 25)))
        records = [_run(rig, 2, ("fast", "medium"))]
        assert records[0]["governance"]["verdict"] == "approved", records[0]["governance"]
        for n in range(3, 12):
            loops = ("fast", "medium") if n % 2 == 0 else ("fast",)
            if "medium" in loops:
                llm.push(MAINTAIN)
            records.append(_run(rig, n, loops))
        assert [t["code"] for r in records for t in r["governance"]["tripwires"]] == []
        assert all(r["governance"]["trading_state"] == "ACTIVE" for r in records)
        traded = [r["cycle_id"] for r in records if r["orders"]]
        assert traded == ["c000002", "c000004"]  # the rotation's two steps, then nothing
        # the plan's lines stay short of their targets, and each cycle says why
        assert all(any("at or below 0.18 of the perp equity" in s["why"] for s in r["skipped"]) for r in records[2:])
        for r in records:
            acct = r["account_after"]
            used = sum(Decimal(p["margin_used"]) for p in acct["positions"])
            assert used <= Decimal("0.18") * Decimal(acct["portfolio_value"]) * Decimal("1.01")
        assert used > Decimal("0.17") * Decimal(acct["portfolio_value"])  # up to the ceiling, not short of it
    finally:
        rig.close()


def test_human_approval_answers_are_recorded_and_replayed(tmp_path):
    from hyperliquid_agent.app.wiring import build_pipeline

    cfg = agent_config(tmp_path / "state", "standard", risk={"approval_above_usd": 500})
    llm = ScriptedLLM([target_reply(("BTC", 20), ("ETH", 20)), target_reply(("SOL", 20))])
    rig = paper_rig(cfg, client=llm)
    try:
        asked: list[str] = []
        rig.pipeline = build_pipeline(cfg, rig.exchange, rig.store, client=llm,
                                      approver=lambda intent: asked.append(intent.coin) or intent.coin == "BTC")
        rec = _run(rig, 1)
        verdicts = {o["intent"]["coin"]: (o["status"], o["verdict"].get("reason_code")) for o in rec["orders"]}
        assert verdicts == {"BTC": ("filled", None), "ETH": ("denied", "approval_declined")}
        assert sorted(asked) == ["BTC", "ETH"]
        assert replay_cycle(cfg, rec)["match"]
        rig.pipeline = build_pipeline(cfg, rig.exchange, rig.store, client=llm)  # nobody at the terminal
        rec2 = _run(rig, 2)
        sol = [o for o in rec2["orders"] if o["intent"]["coin"] == "SOL"]
        assert sol and sol[0]["status"] == "denied" and sol[0]["verdict"]["reason_code"] == "approval_required"
    finally:
        rig.close()


def test_governed_stop_loss_keeps_the_coin_flat_and_opens_a_review(tmp_path):
    from hyperliquid_agent.app.wiring import load_strategy_library

    cfg = agent_config(tmp_path / "state", "governed", risk={"stop_loss_pct": "0.0001"})
    llm = ScriptedLLM([MAINTAIN])
    rig = paper_rig(cfg, client=llm)
    try:
        regime = _run(rig, 1, ("fast", "medium", "slow"))["regime"]
        strategy = next(s for s in load_strategy_library(cfg) if s.fits(regime) and s.max_position_pct >= 10)
        llm.push(plan_reply(strategy.id, ("BTC", 10)))
        _run(rig, 2, ("fast", "medium"))
        stopped = None
        for n in range(3, 12):
            rec = _run(rig, n, ("fast",))
            if rec["decision"]["summary"].startswith("stop-loss"):
                stopped = rec
                break
        assert stopped is not None, "no stop-loss in 9 hours with a 0.0001% stop"
        assert stopped["orders"][0]["intent"]["reduce_only"] is True
        assert stopped["governance"]["stopped_out"] == ["BTC"]
        after = [_run(rig, n, ("fast",)) for n in (20, 21)]
        assert all(r["orders"] == [] for r in after)  # the plan still says BTC 10%, but it stays flat
        assert all(not any(p["coin"] == "BTC" for p in r["account_after"]["positions"]) for r in after)
        assert after[-1]["review"]["allowed"] is True and "stop-loss" in after[-1]["review"]["reason"]
    finally:
        rig.close()


def test_standard_mode_holds_a_stopped_coin_flat_for_the_reentry_minutes_then_trades_it_again(tmp_path):
    """The model asks for BTC 10 % every hour. A 0.0001 % stop closes BTC; with
    risk.stop_loss_reentry_minutes = 180 the next two hourly cycles send no BTC order and say why,
    and the cycle 180 minutes after the stop buys the target again."""
    cfg = agent_config(tmp_path / "state", "standard",
                       risk={"stop_loss_pct": "0.0001", "stop_loss_reentry_minutes": 180})
    llm = ScriptedLLM([target_reply(("BTC", 10))] * 30)
    rig = paper_rig(cfg, client=llm)
    try:
        stopped = None
        for n in range(1, 12):
            rec = _run(rig, n)
            if rec["decision"]["summary"].startswith("stop-loss"):
                stopped = rec
                break
        assert stopped is not None, "no stop-loss in 11 hours with a 0.0001% stop"
        assert [o["intent"]["reduce_only"] for o in stopped["orders"]] == [True]  # the close alone
        held = [_run(rig, n + k) for k in (1, 2)]
        for r in held:
            assert r["orders"] == [] and not any(p["coin"] == "BTC" for p in r["account_after"]["positions"])
            assert any(s["coin"] == "BTC" and "held flat after its stop-loss until" in s["why"] for s in r["skipped"])
        again = _run(rig, n + 3)  # 180 minutes after the stop: the hold is over
        assert any(o["intent"]["coin"] == "BTC" and not o["intent"]["reduce_only"] for o in again["orders"])
        assert not any("held flat" in s["why"] for s in again["skipped"])
    finally:
        rig.close()


def test_actions_become_orders_and_bad_ones_are_skipped_with_a_reason(standard):
    from _agent_env import actions_reply

    rig, llm = standard
    llm.push(actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.05},
                           {"action_type": "sell", "coin": "ETH", "size": None},
                           {"action_type": "close", "coin": "SOL"},
                           {"action_type": "hold", "coin": None, "market_type": None}),
             actions_reply({"action_type": "close", "coin": "BTC"}))
    r1 = _run(rig, 1)
    assert [(o["intent"]["coin"], o["intent"]["side"], o["status"]) for o in r1["orders"]] == [("BTC", "buy", "filled")]
    assert Decimal(r1["orders"][0]["intent"]["size"]) == Decimal("0.05")
    whys = {s["coin"]: s["why"] for s in r1["skipped"]}
    assert "without a size" in whys["ETH"] and "no position" in whys["SOL"]
    assert replay_cycle(rig.cfg, r1)["match"]
    r2 = _run(rig, 2)
    close = r2["orders"][0]
    assert close["intent"]["side"] == "sell" and close["intent"]["reduce_only"] is True and close["status"] == "filled"
    assert not any(p["coin"] == "BTC" for p in r2["account_after"]["positions"])


def test_prompt_hash_is_the_hash_of_the_whole_prompt_text_whatever_repeats():
    import hashlib

    from hyperliquid_agent.app.record import PromptHasher

    def whole(prompt):
        text = prompt if isinstance(prompt, str) else "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], len(text)

    prompts = [
        [{"role": "system", "content": "rules é"}, {"role": "user", "content": "state 1"}],
        [{"role": "system", "content": "rules é"}, {"role": "user", "content": "state 2"}],  # the prefix repeats
        [{"role": "system", "content": "other rules"}, {"role": "user", "content": "state 2"}],
        [{"role": "user", "content": "one message"}],
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
        "a bare prompt",
    ]
    hasher = PromptHasher()
    for prompt in prompts + prompts:
        assert hasher(prompt) == whole(prompt)


def test_a_fill_of_an_order_the_cycle_did_not_send_is_in_the_next_record_once_and_in_the_summary(standard):
    # an order placed by hand between two cycles (like a TP/SL trigger or a resting limit that fills
    # in between): the next cycle reports its fill, no later cycle again, and the run's trades and
    # fees count it (else the summary would put its fee and PnL under funding)
    from hyperliquid_agent.app.summary import summarize_run
    from hyperliquid_agent.app.wiring import build_pipeline
    from hyperliquid_agent.manual_orders import prepare_order, submit_order

    rig, llm = standard
    llm.push(target_reply(("BTC", 20)), target_reply(("BTC", 20)), target_reply(("BTC", 20)),
             target_reply(("BTC", 20)))
    r1 = _run(rig, 1)
    assert r1["fills"] and r1["outside_fills"] == []
    held = Decimal(next(p["size"] for p in r1["account_after"]["positions"] if p["coin"] == "BTC"))
    manual = submit_order(rig.exchange, rig.store, rig.cfg,
                          prepare_order(rig.exchange, rig.cfg, "sell", "BTC", held / 2), approver=None)
    [by_hand] = manual.fills
    r2 = _run(rig, 2)
    assert [(f["oid"], f["fee"]) for f in r2["outside_fills"]] == [(by_hand.oid, format(by_hand.fee, "f"))]
    assert r2["fills"] and all(f["oid"] != by_hand.oid for f in r2["fills"])  # the buy back is the cycle's own
    r3 = _run(rig, 3)
    assert r3["outside_fills"] == []
    # a restart (a new pipeline over the same state) does not report it again either
    rig.pipeline = build_pipeline(rig.cfg, rig.exchange, rig.store, client=llm)
    r4 = _run(rig, 4)
    assert r4["outside_fills"] == []
    s = summarize_run([r1, r2, r3, r4])
    own = [f for r in (r1, r2, r3, r4) for f in r["fills"]]
    assert s["trades"] == len(own) + 1
    assert Decimal(s["fees_usd"]) == sum((Decimal(f["fee"]) for f in own), by_hand.fee)


def test_a_plans_take_profit_or_stop_that_fires_between_cycles_is_recorded_scored_and_not_bought_back(tmp_path):
    # the venue's TP/SL trigger closes BTC between two cycles: the next record holds that fill, the
    # plan's scorecard and the run summary count it, and the plan keeps BTC flat and opens a review
    # instead of buying it back at the next cycle (which would undo every exit)
    import json

    from hyperliquid_agent.app.summary import summarize_run
    from hyperliquid_agent.app.wiring import load_strategy_library

    cfg = agent_config(tmp_path / "state", "governed")
    llm = ScriptedLLM([MAINTAIN])
    rig = paper_rig(cfg, client=llm)
    try:
        recs = [_run(rig, 1, ("fast", "medium", "slow"))]
        strategy = next(s for s in load_strategy_library(cfg) if s.fits(recs[0]["regime"]) and s.max_position_pct >= 10)
        reply = json.loads(plan_reply(strategy.id, ("BTC", 10)))
        reply["proposed_plan"].update(take_profit_pct=0.2, stop_loss_pct=20)  # the take-profit fires within hours
        llm.push(json.dumps(reply))
        recs.append(_run(rig, 2, ("fast", "medium")))
        triggers = {o["oid"]: o["intent"]["trigger"]["tpsl"] for o in recs[-1]["orders"] if o["intent"].get("trigger")}
        assert sorted(triggers.values()) == ["sl", "tp"]
        # governed: the open orders are read only for a cycle with orders to review (and recorded for replay)
        assert recs[0]["inputs"]["open_orders"] is None and recs[1]["inputs"]["open_orders"] == []
        for n in range(3, 15):
            recs.append(_run(rig, n, ("fast",)))
            if recs[-1]["outside_fills"]:
                break
        fired = recs[-1]
        assert fired["outside_fills"], "a 0.2% take-profit did not fire in 12 hours"
        [fill] = fired["outside_fills"]
        assert fill["coin"] == "BTC" and fill["side"] == "sell" and fill["oid"] in triggers and Decimal(fill["fee"]) > 0
        assert fired["inputs"]["exits"] == ["BTC"] and fired["governance"]["stopped_out"] == ["BTC"]
        # its sibling, the stop, is canceled: left resting it would act on a later position
        assert triggers[fill["oid"]] == "tp"
        assert [c["oid"] for c in fired["canceled_triggers"]] == [o for o, kind in triggers.items() if kind == "sl"]
        assert not [o for o in rig.exchange.open_orders() if o.is_trigger]
        later = [_run(rig, n, ("fast",)) for n in (16, 17)]
        for r in (fired, *later):  # not bought back
            assert r["orders"] == [] and not any(p["coin"] == "BTC" for p in r["account_after"]["positions"])
        assert later[-1]["review"]["allowed"] is True and "trigger on BTC" in later[-1]["review"]["reason"]
        card = rig.pipeline.governance.scorekeeper.current
        assert card.trades == len(recs[1]["fills"]) + 1
        assert card.fees == sum((Decimal(f["fee"]) for f in (*recs[1]["fills"], fill)), Decimal(0))
        s = summarize_run([*recs, *later])
        assert s["trades"] == len(recs[1]["fills"]) + 1
        assert Decimal(s["realized_pnl_usd"]) == Decimal(fill["closed_pnl"])
        assert replay_cycle(rig.cfg, fired)["match"]  # the exit is a recorded input: the replay holds BTC flat too
        forgotten = copy.deepcopy(fired)
        forgotten["inputs"]["exits"] = []
        assert not replay_cycle(rig.cfg, forgotten)["match"]  # without it the plan would buy BTC back
    finally:
        rig.close()


def test_a_liquidation_between_cycles_is_an_exit_the_plan_does_not_buy_back(tmp_path):
    # a 40x long placed by hand on top of the plan's BTC is liquidated by the venue between two cycles:
    # the next record holds the liquidation fill, BTC is an exit like a TP/SL fill (kept flat, review
    # opened) but named as a liquidation, the replay reproduces it, and audit show / the summary say so
    import json
    import re

    from rich.console import Console

    from emulator_support import market_order
    from hyperliquid_agent.app.summary import render_record, render_summary, summarize_run
    from hyperliquid_agent.app.wiring import load_strategy_library
    from hyperliquid_agent.domain import Side

    # the liquidation's loss would otherwise halt trading, which keeps BTC flat whatever the exits say
    cfg = agent_config(tmp_path / "state", "governed", governance={"tripwires": {"daily_loss_pct": 99,
                                                                                 "max_drawdown_pct": 99}})
    llm = ScriptedLLM([MAINTAIN])
    rig = paper_rig(cfg, client=llm)
    try:
        recs = [_run(rig, 1, ("fast", "medium", "slow"))]
        strategy = next(s for s in load_strategy_library(cfg) if s.fits(recs[0]["regime"]) and s.max_position_pct >= 10)
        llm.push(plan_reply(strategy.id, ("BTC", 10)))
        recs.append(_run(rig, 2, ("fast", "medium")))
        assert [o["intent"]["side"] for o in recs[-1]["orders"]] == ["buy"]
        equity = rig.exchange.account_state().portfolio_value
        rig.exchange.set_leverage("BTC", 40)
        size = round(equity * 36 / rig.exchange.market_snapshot().mids["BTC"], 3)
        [by_hand] = rig.exchange.place_orders([market_order(rig.exchange, "BTC", Side.BUY, str(size))])
        for _ in range(24):
            rig.step()
            if not rig.exchange.account_state().positions:
                break
        assert not rig.exchange.account_state().positions, "a 40x long was not liquidated in 24 hours"
        fired = _run(rig, 3, ("fast",))
        liquidation = [f for f in fired["outside_fills"] if f["liquidation"]]
        assert [(f["coin"], f["side"], f["direction"]) for f in liquidation] == [
            ("BTC", "sell", "Liquidated Cross Long")]
        assert [f["oid"] for f in fired["outside_fills"] if not f["liquidation"]] == [by_hand.oid]  # not an exit
        assert fired["inputs"]["exits"] == ["BTC"] == fired["inputs"]["liquidated"]
        assert fired["governance"]["stopped_out"] == ["BTC"] and fired["errors"] == []
        later = [_run(rig, n, ("fast",)) for n in (4, 5)]
        for r in (fired, *later):  # not bought back
            assert r["orders"] == [] and r["account_after"]["positions"] == []
        assert later[-1]["review"] == {"allowed": True, "reason": "review forced: liquidation on BTC; held flat until "
                                                                  "the next plan: BTC (its target 10%)"}
        assert replay_cycle(rig.cfg, fired)["match"]  # the exit is a recorded input: the replay holds BTC flat too
        forgotten = copy.deepcopy(fired)
        forgotten["inputs"]["exits"] = []
        assert not replay_cycle(rig.cfg, forgotten)["match"]  # without it the plan would buy BTC back
        plain = json.loads(json.dumps(fired))  # as `audit show` reads it back
        console = Console(width=200, record=True, color_system=None)
        render_record(console, plain)
        render_summary(console, summarize_run([*recs, fired, *later]))
        text = console.export_text()
        assert "liquidated: BTC" in text and re.search(r"liquidated by the venue +│ +1 fill\(s\)", text)
        assert re.search(r"│ fills +│ 0 +│", text) and "fees $-" not in text  # no own fills: no fees to show
    finally:
        rig.close()


def test_a_fill_long_before_the_next_cycle_is_found_even_when_no_fill_came_before_it(standard):
    # a fresh state has no newest fill to read from: the first cycle's start is where the next read
    # begins, so a fill 50 minutes before the next cycle is not lost (venue time)
    from hyperliquid_agent.manual_orders import prepare_order, submit_order

    rig, llm = standard
    llm.push(target_reply(), target_reply())
    r1 = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
    assert r1["fills"] == [] and r1["outside_fills"] == []
    rig.step(10 * 60_000)
    manual = submit_order(rig.exchange, rig.store, rig.cfg,
                          prepare_order(rig.exchange, rig.cfg, "buy", "ETH", Decimal("0.05")), approver=None)
    rig.step(50 * 60_000)
    r2 = rig.pipeline.run("c000002", 2, rig.venue.now_ms(), ("standard",))
    assert [f["oid"] for f in r2["outside_fills"]] == [f.oid for f in manual.fills] != []


def test_a_limit_order_still_resting_is_in_the_next_prompt_and_counts_against_the_position_limit(tmp_path):
    # the model sees what rests; the same buy asked for again could fill with it, so the second one
    # is held to the position limit with the first counted; the record keeps the open orders for the replay
    from _agent_env import actions_reply

    llm = ScriptedLLM()
    rig = paper_rig(agent_config(tmp_path / "state", "standard", risk={"max_position_usd": "3000"}), client=llm)
    try:
        mid = Decimal(str(rig.exchange.market_snapshot().mids["ETH"]))
        limit = str((mid * Decimal("0.96")).quantize(Decimal(1)))  # 4% under the market: it rests
        buy = {"action_type": "buy", "coin": "ETH", "size": "0.5", "price": limit}
        llm.push(actions_reply(buy), actions_reply(buy))
        r1 = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
        assert [o["status"] for o in r1["orders"]] == ["resting"] and r1["inputs"]["open_orders"] == []
        r2 = rig.pipeline.run("c000002", 2, rig.venue.now_ms(), ("standard",))
        oid = r1["orders"][0]["oid"]
        assert [o["oid"] for o in r2["inputs"]["open_orders"]] == [oid]
        prompts = ["".join(m["content"] for m in r.messages) for r in llm.requests]
        assert f"- ETH buy 0.5 limit {limit} (oid {oid})" in prompts[1] and "Open orders" in prompts[0]
        [denied] = r2["orders"]
        assert denied["status"] == "denied" and denied["verdict"]["reason_code"] == "max_position_usd"
        assert "already resting" in denied["verdict"]["detail"]
        assert replay_cycle(rig.cfg, r2)["match"]
    finally:
        rig.close()


def test_the_venues_fills_are_asked_for_only_when_the_holdings_moved_since_the_last_cycle_read_them(standard):
    from hyperliquid_agent.manual_orders import prepare_order, submit_order

    rig, llm = standard
    asked = []
    real = rig.exchange.fills
    rig.exchange.fills = lambda start_ms=None: asked.append(start_ms) or real(start_ms)
    llm.push(*[target_reply(("BTC", 20))] * 4)
    r1 = _run(rig, 1)
    assert r1["fills"] and len(asked) == 2  # a fresh pipeline asks; then the executor, for its own order's fills
    del asked[:]
    # the cycle after one that traded asks once (another order may have filled while it acted)
    r2 = _run(rig, 2)
    assert r2["orders"] == [] and len(asked) == 1 and r2["outside_fills"] == []
    del asked[:]
    r3 = _run(rig, 3)  # BTC as the last cycle read and left it: nothing can have filled in between, nothing is asked
    assert r3["orders"] == [] and asked == []
    submit_order(rig.exchange, rig.store, rig.cfg, prepare_order(rig.exchange, rig.cfg, "buy", "ETH", Decimal("0.05")),
                 approver=None)
    del asked[:]  # (the manual order's own executor asked too)
    r4 = _run(rig, 4)  # ETH appeared: asked, and the fill is found
    assert asked and len(r4["outside_fills"]) == 1


def test_a_failed_fills_read_is_asked_again_next_cycle_even_when_nothing_moved(standard):
    from hyperliquid_agent.errors import VenueUnavailableError
    from hyperliquid_agent.manual_orders import prepare_order, submit_order

    rig, llm = standard
    llm.push(*[target_reply()] * 4)
    _run(rig, 1)
    manual = submit_order(rig.exchange, rig.store, rig.cfg,
                          prepare_order(rig.exchange, rig.cfg, "buy", "ETH", Decimal("0.05")), approver=None)
    real = rig.exchange.fills

    def down(start_ms=None):
        raise VenueUnavailableError("userFillsByTime timed out (test)")
    rig.exchange.fills = down
    r2 = _run(rig, 2)  # ETH appeared, but the read fails: recorded as an error, the cycle goes on
    assert r2["outside_fills"] == [] and any(e.startswith("reading fills") for e in r2["errors"])
    rig.exchange.fills = real
    r3 = _run(rig, 3)  # flat since cycle 2 closed ETH, so nothing moved: asked anyway, as the last read failed
    # the hand-made buy, and cycle 2's own sell, whose fill its executor could not read either
    assert [(f["coin"], f["side"]) for f in r3["outside_fills"]] == [("ETH", "buy"), ("ETH", "sell")]
    assert r3["outside_fills"][0]["oid"] == manual.fills[0].oid
    assert _run(rig, 4)["outside_fills"] == []


def test_the_model_cancels_its_resting_limit_by_the_oid_the_prompt_listed(tmp_path):
    from _agent_env import actions_reply

    llm = ScriptedLLM()
    rig = paper_rig(agent_config(tmp_path / "state", "standard"), client=llm)
    try:
        mid = Decimal(str(rig.exchange.market_snapshot().mids["ETH"]))
        limit = str((mid * Decimal("0.96")).quantize(Decimal(1)))
        llm.push(actions_reply({"action_type": "buy", "coin": "ETH", "size": "0.5", "price": limit}))
        r1 = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
        oid = r1["orders"][0]["oid"]
        llm.push(actions_reply({"action_type": "cancel", "coin": "ETH", "oid": oid},
                               {"action_type": "cancel", "coin": "ETH", "oid": oid + 1000}))
        r2 = rig.pipeline.run("c000002", 2, rig.venue.now_ms(), ("standard",))
        assert [(s["intent"]["oid"], s["status"]) for s in r2["setup"]] == [(oid, "done"), (oid + 1000, "failed")]
        assert r2["orders"] == [] and rig.exchange.open_orders() == []
        assert r2["risk_flags"] == [] and r2["decision"]["summary"].startswith("actions: cancel")
    finally:
        rig.close()


def test_a_malformed_venue_read_holds_names_the_request_and_field_and_the_next_cycle_trades(standard):
    rig, llm = standard
    llm.push(target_reply(("BTC", 10)))
    rig.venue.server.inject_fault(200, count=1, path="/info", kind="clearinghouseState",
                                  body='{"marginSummary": {"accountValue": "12%"}, "withdrawable": "1.0"}')
    rec = _run(rig, 1)
    assert rec["orders"] == [] and rec["decision"]["summary"] == "hold: collect failed"
    assert rec["errors"] == ["collect: VenueResponseError: clearinghouseState: unexpected response shape: "
                             "marginSummary.accountValue: '12%' is not a number"]
    assert llm.requests == [] and rig.store.get(AGENT_NS, API_FAILURES_KEY) == 1  # nothing decided on it
    rec = _run(rig, 2)  # the venue answers properly again: the same reply trades
    assert rec["errors"] == [] and [o["status"] for o in rec["orders"]] == ["filled"]
    assert rig.store.get(AGENT_NS, API_FAILURES_KEY) == 0


def test_the_llm_record_of_a_cycle_without_calls_is_the_sum_over_none_and_its_own():
    from hyperliquid_agent.app.record import _summed, llm_record

    first = llm_record([])
    assert first == _summed([]) and first["calls"] == 0 and first["cost_usd"] == "0"
    first["errors"].append("changed")
    assert llm_record([]) == _summed([])  # each record has its own lists


def test_a_target_above_the_order_limit_is_bought_in_orders_the_policy_lets_through_not_denied_every_cycle(tmp_path):
    """20 % of $10,000 of BTC with risk.max_order_usd = 1,500: the first cycle buys $1,500 and says
    why it stopped there, the next the $500 left, then nothing. Before, the planner sized the whole
    $2,000, the risk policy denied it, and so on every cycle: the position never moved."""
    cfg = agent_config(tmp_path / "state", "standard", risk={"max_order_usd": 1500})
    llm = ScriptedLLM([target_reply(("BTC", 20))] * 3)
    rig = paper_rig(cfg, client=llm)
    try:
        records = [_run(rig, n) for n in (1, 2, 3)]
        assert [[(o["status"], o["intent"]["side"]) for o in r["orders"]] for r in records] == [
            [("filled", "buy")], [("filled", "buy")], []]
        first = records[0]["orders"][0]
        assert Decimal(first["intent"]["size"]) * Decimal(records[0]["market"]["mids"]["BTC"]) <= 1500
        assert any("risk.max_order_usd $1500" in s["why"] for s in records[0]["skipped"])
        _, pct = _exposure(records[1], "BTC")
        assert Decimal(18) < pct < Decimal(21)
    finally:
        rig.close()


def test_the_daily_loss_cap_counts_from_the_days_first_cycle_even_one_that_sends_nothing(tmp_path):
    """The day's starting equity is read at its first cycle. Before, it was read at the day's
    first order, so a loss taken before it (the synthetic data of 2024-02-04, standard mode:
    down 4.9 % by 03:00 with no order) moved the cap's starting point down with it."""
    from hyperliquid_agent.risk_counters import utc_day
    from hyperliquid_agent.risk_store import load_counters

    llm = ScriptedLLM([target_reply(), target_reply(("BTC", 10))])
    rig = paper_rig(agent_config(tmp_path / "state", "standard"), client=llm)
    try:
        now = rig.venue.now_ms()
        first = _run(rig, 1)
        assert first["orders"] == []
        counters = load_counters(rig.store)
        assert counters.day == utc_day(now)
        assert counters.day_start_equity == Decimal(first["account_before"]["portfolio_value"])
        second = _run(rig, 2)
        assert second["orders"] and load_counters(rig.store).day_start_equity == counters.day_start_equity
    finally:
        rig.close()


def test_an_action_that_flips_a_position_counts_as_an_opening_trade(tmp_path):
    """A `sell` larger than the long it meets opens a short: it is an opening trade for
    risk.open_cooldown_s (and the max-size streak), as a target's flip is. Before, an action on
    the other side of a position was tagged a reduction whatever its size, so the buy back an
    hour after that flip went through a 90-minute cooldown."""
    from _agent_env import actions_reply

    cfg = agent_config(tmp_path / "state", "standard", risk={"open_cooldown_s": 5400})
    llm = ScriptedLLM([actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.02}),
                       actions_reply({"action_type": "hold", "coin": None, "market_type": None}),
                       actions_reply({"action_type": "sell", "coin": "BTC", "size": 0.04}),
                       actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.04})])
    rig = paper_rig(cfg, client=llm)
    try:
        records = [_run(rig, n) for n in (1, 2, 3, 4)]
        flip = next(o for o in records[2]["orders"] if o["intent"]["purpose"] == "open")
        assert flip["status"] == "filled"
        back = next(o for o in records[3]["orders"] if o["intent"]["purpose"] == "open")
        assert back["status"] == "denied" and back["verdict"]["reason_code"] == "open_cooldown"
    finally:
        rig.close()


def test_an_action_that_opens_a_position_sets_the_configured_leverage_first(tmp_path):
    """A `buy` from flat opens at `[portfolio] default_leverage`, as a target does. Before, the
    action path sent no leverage setting: the position opened at the venue's default (20x for
    BTC), which the risk policy had not seen, and then denied every later BTC increase because
    that setting is above risk.max_leverage (5x)."""
    from _agent_env import actions_reply

    llm = ScriptedLLM([actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.02}),
                       actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.01})])
    rig = paper_rig(agent_config(tmp_path / "state", "standard"), client=llm)
    try:
        first, second = _run(rig, 1), _run(rig, 2)
        assert [(s["intent"]["kind"], s["intent"]["leverage"], s["status"]) for s in first["setup"]] == [
            ("leverage", rig.cfg.portfolio.default_leverage, "done")]
        btc = next(p for p in first["account_after"]["positions"] if p["coin"] == "BTC")
        assert btc["leverage"] == rig.cfg.portfolio.default_leverage
        assert [(o["intent"]["purpose"], o["status"]) for o in second["orders"]] == [("increase", "filled")]
        assert second["setup"] == []  # already at that leverage
    finally:
        rig.close()


def test_targets_past_the_gross_exposure_limit_are_scaled_to_it_not_denied(tmp_path):
    """20 % BTC and 20 % ETH under risk.max_gross_exposure 0.3: both are bought, scaled to 30 % of
    equity in all. Before, the ETH order past the limit was planned whole and denied every cycle
    (on the real data, 2024-10-06..11-06 at 0.5: 1,076 denials in 743 cycles)."""
    cfg = agent_config(tmp_path / "state", "standard", risk={"max_gross_exposure": "0.3"})
    llm = ScriptedLLM([target_reply(("BTC", 20), ("ETH", 20))] * 2)
    rig = paper_rig(cfg, client=llm)
    try:
        first, second = _run(rig, 1), _run(rig, 2)
        assert [o["status"] for o in first["orders"]] == ["filled", "filled"] and second["orders"] == []
        gross = sum(abs(_exposure(first, c)[1]) for c in ("BTC", "ETH"))
        assert Decimal(29) < gross <= Decimal("30.1")
    finally:
        rig.close()


def test_a_target_asking_more_leverage_than_allowed_trades_at_the_cap_not_denied_every_cycle(tmp_path):
    """A decision asking 10x under risk.max_leverage 4: the position opens at 4x. Before, the 10x
    setting was planned, the risk policy denied it and the order with it, and so every cycle."""
    import json

    reply = json.dumps({"reasoning": "test", "selected_strategy": None, "actions": [],
                        "target_allocation": [{"coin": "ETH", "target_pct": 10, "market_type": "perp", "leverage": 10}]})
    cfg = agent_config(tmp_path / "state", "standard", risk={"max_leverage": 4})
    rig = paper_rig(cfg, client=ScriptedLLM([reply]))
    try:
        rec = _run(rig, 1)
        assert [(s["intent"]["leverage"], s["status"]) for s in rec["setup"]] == [(4, "done")]
        assert [o["status"] for o in rec["orders"]] == ["filled"]
        assert any(s["why"] == "leverage 10x capped at the allowed 4x" for s in rec["skipped"])
    finally:
        rig.close()


def test_an_action_past_the_position_is_a_close_then_an_open_so_the_close_always_goes(tmp_path):
    """`sell 0.05` on a 0.02 BTC long is a reduce-only close of the 0.02 and an open of a 0.03
    short, as a target's flip is ("a flip is never one order"): the close is never denied, and
    the limits see the open alone. Before, it was one 0.05 order, which risk.max_order_usd $3000
    denied whole, so the long the decision wanted gone stayed."""
    from _agent_env import actions_reply

    cfg = agent_config(tmp_path / "state", "standard", risk={"max_order_usd": 3000})
    llm = ScriptedLLM([actions_reply({"action_type": "buy", "coin": "BTC", "size": 0.02}),
                       actions_reply({"action_type": "sell", "coin": "BTC", "size": 0.05})])
    rig = paper_rig(cfg, client=llm)
    try:
        _run(rig, 1)
        rec = _run(rig, 2)
        legs = sorted((o["intent"]["purpose"], o["intent"]["reduce_only"], o["intent"]["size"], o["status"])
                      for o in rec["orders"])
        assert [(p, r, Decimal(sz), st) for p, r, sz, st in legs] == [
            ("close", True, Decimal("0.02"), "filled"), ("open", False, Decimal("0.03"), "filled")]
        btc = next(p for p in rec["account_after"]["positions"] if p["coin"] == "BTC")
        assert Decimal(btc["size"]) == Decimal("-0.03")
    finally:
        rig.close()
