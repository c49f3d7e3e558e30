"""Every venue fill is in exactly one audit record (a cycle's own `fills` or a later cycle's
`outside_fills`) across stops, restarts and crashes at any point of a cycle, also the fills of
orders placed by hand while the agent was not running."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from _agent_env import agent_config, paper_rig, target_reply
from hyperliquid_agent.app.loop import AgentLoop, Schedule
from hyperliquid_agent.app.paper import SteppedClock
from hyperliquid_agent.app.wiring import build_audit_writer, build_pipeline
from hyperliquid_agent.audit import audit_path, read_records
from hyperliquid_agent.execution import Executor
from hyperliquid_agent.manual_orders import prepare_order, submit_order
from hyperliquid_agent.testing import ScriptedLLM


class _Crash(BaseException):
    """Stands in for kill -9: nothing after it runs (not even `except Exception`)."""


def _crash(*_args: Any) -> None:
    raise _Crash()


class _AuditThatDies:
    """The audit writer of a process killed while it writes the record."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def append(self, record: Any) -> Any:
        raise _Crash()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _session(rig: Any, cycles: int, *replies: str, crash: str | None = None) -> None:
    """A new agent process over the rig's state: its own pipeline and loop (restart recovery included)."""
    cfg = rig.cfg
    pipeline = build_pipeline(cfg, rig.exchange, rig.store, client=ScriptedLLM(list(replies)))
    audit = build_audit_writer(cfg)
    if crash == "after submit":  # the venue took the orders; the cycle never got further
        pipeline.executor = Executor(rig.exchange, rig.store, config=cfg.portfolio, after_submit=_crash)
    elif crash == "writing the record":
        audit = _AuditThatDies(audit)
    loop = AgentLoop(pipeline, rig.store, audit, SteppedClock(rig.venue.now_ms, rig.venue.advance_to),
                     Schedule("standard", 3600), max_cycles=cycles)
    if crash is None:
        loop.run()
    else:
        with pytest.raises(_Crash):
            loop.run()


def _sell_half_by_hand(rig: Any, coin: str = "BTC") -> Any:
    held = rig.exchange.account_state().signed_size(coin)
    report = submit_order(rig.exchange, rig.store, rig.cfg,
                          prepare_order(rig.exchange, rig.cfg, "sell", coin, held / 2), approver=None)
    assert report.fills
    return report


def _assert_each_fill_in_one_record(rig: Any) -> list[dict]:
    recs = list(read_records(audit_path(rig.cfg.state_dir)))
    held = Counter(f["tid"] for r in recs for f in (*(r.get("fills") or ()), *(r.get("outside_fills") or ())))
    venue = rig.exchange.fills(0)
    assert venue, "nothing filled, so this proves nothing"
    assert {f.tid: held[f.tid] for f in venue} == {f.tid: 1 for f in venue}
    assert set(held) == {f.tid for f in venue}
    return recs


def test_a_fill_by_hand_while_the_agent_was_stopped_is_in_the_first_record_after_the_restart(tmp_path):
    rig = paper_rig(agent_config(tmp_path / "state", "standard"))
    try:
        _session(rig, 1, target_reply(("BTC", 20)))
        rig.step(600_000)
        by_hand = _sell_half_by_hand(rig)  # the agent is not running
        _session(rig, 2, target_reply(("BTC", 20)), target_reply(("BTC", 20)))
        recs = _assert_each_fill_in_one_record(rig)
        assert [f["oid"] for f in recs[1]["outside_fills"]] == [f.oid for f in by_hand.fills]
    finally:
        rig.close()


@pytest.mark.parametrize("crash", ["after submit", "writing the record"])
def test_a_crash_in_the_cycle_that_read_a_fill_by_hand_loses_no_fill_and_repeats_none(tmp_path, crash):
    rig = paper_rig(agent_config(tmp_path / "state", "standard"))
    try:
        _session(rig, 1, target_reply(("BTC", 20)))
        rig.step(600_000)
        _sell_half_by_hand(rig)
        rig.step(600_000)
        _session(rig, 1, target_reply(("ETH", 10)), crash=crash)  # reads the fill by hand, buys ETH, dies
        _session(rig, 2, target_reply(("ETH", 10)), target_reply(("ETH", 10)))
        recs = _assert_each_fill_in_one_record(rig)
        assert [r["cycle_id"] for r in recs] == ["c000001", "c000002", "c000003", "c000004"]
        assert recs[1]["recovered"] is True
        eth = Decimal(next(p["size"] for p in recs[-1]["account_after"]["positions"] if p["coin"] == "ETH"))
        assert eth > 0 and len({f.oid for f in rig.exchange.fills(0) if f.coin == "ETH"}) == 1  # bought once
    finally:
        rig.close()


def test_a_fill_of_another_order_during_a_cycle_is_read_at_the_next_cycle(tmp_path):
    # a TP/SL trigger fills while a cycle acts (a backtest's venue moves to where its orders arrive,
    # a live one keeps trading): the holdings the cycle leaves include it. They were taken as
    # explained, so the next cycles skipped the read: on the real data a stop that closed ETH at
    # 2025-03-03 23:00 was read 3 hours later, after a new plan had shorted ETH again
    from hyperliquid_agent.app.outside_fills import OutsideFills
    from hyperliquid_agent.domain import AccountState, Fill, Position, Side
    from hyperliquid_agent.orders_ledger import OrdersLedger
    from hyperliquid_agent.store import StateStore

    def account(eth: str) -> AccountState:
        pos = (Position(coin="ETH", size=Decimal(eth), entry_price=Decimal(2000)),) if eth != "0" else ()
        return AccountState(portfolio_value=Decimal(10000), available_balance=Decimal(10000), positions=pos)

    stop = Fill(coin="ETH", side=Side.BUY, price=Decimal(2100), size=Decimal(1), fee=Decimal("0.9"), time_ms=2_000,
                oid=9)

    class Venue:
        now = 1_000

        def fills(self, start: int) -> list[Fill]:
            return [f for f in (stop,) if start <= f.time_ms <= self.now]

    venue, errors = Venue(), []
    reads = OutsideFills(OrdersLedger(StateStore.in_dir(tmp_path)))
    assert reads.read(venue, 1_000, account("-1"), errors) == []  # the cycle at 1000 reads a short ETH
    venue.now = 2_000  # the stop fills while that cycle acts; nothing of its own filled
    reads.cycle_done((), account("0"), account("-1"))
    venue.now = 3_000
    assert reads.read(venue, 3_000, account("0"), errors) == [stop] and errors == []
    # a cycle that changed nothing leaves the holdings explained: the next one does not ask
    reads.cycle_done((), account("0"), account("0"))
    assert reads.read(venue, 4_000, account("0"), errors) == []
