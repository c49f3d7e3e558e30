"""The agent and `hl-agent order` on one state dir at the same time: the risk counters are
read, changed and written by both, and neither may drop what the other counted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from _agent_env import agent_config, paper_rig, target_reply
from hyperliquid_agent.manual_orders import prepare_order, submit_order
from hyperliquid_agent.risk_store import load_counters
from hyperliquid_agent.store import StateStore
from hyperliquid_agent.testing import ScriptedLLM


class _LLMThatWaits(ScriptedLLM):
    """Runs `meanwhile` while the cycle waits for the reply (the agent has read the counters by then)."""

    meanwhile: Callable[[], None] = staticmethod(lambda: None)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self.meanwhile()
        return super().query(*args, **kwargs)


class _VenueThatWaits:
    """The venue as the manual order sees it: `meanwhile` runs before its order is placed."""

    def __init__(self, inner: Any, meanwhile: Callable[[], None]) -> None:
        self.inner, self.meanwhile = inner, meanwhile

    def place_orders(self, orders: Any) -> Any:
        self.meanwhile()
        return self.inner.place_orders(orders)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _manual_buy(rig: Any, exchange: Any = None) -> Any:
    """`hl-agent order buy ETH 0.5 --yes`: its own connection to the state store, as another process has."""
    exchange = exchange or rig.exchange
    store = StateStore.in_dir(rig.cfg.state_dir)
    try:
        prepared = prepare_order(exchange, rig.cfg, "buy", "ETH", Decimal("0.5"))
        report = submit_order(exchange, store, rig.cfg, prepared, approver=lambda intent: True)
    finally:
        store.close()
    [order] = report.orders
    assert order.status == "filled"
    return order.filled_size * order.avg_price


def _traded(record: dict) -> tuple[int, Decimal]:
    done = [o for o in record["orders"] if o["status"] in ("filled", "partial")]
    return len(done), sum((Decimal(o["filled_size"]) * Decimal(o["avg_price"]) for o in done), Decimal(0))


def test_a_manual_order_sent_while_a_cycle_decides_still_counts_after_the_cycle_saves(tmp_path):
    cfg = agent_config(tmp_path / "state", "standard")
    llm = _LLMThatWaits([target_reply(("BTC", 20))])
    rig = paper_rig(cfg, client=llm)
    try:
        manual: list[Decimal] = []
        llm.meanwhile = lambda: manual.append(_manual_buy(rig))
        record = rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",))
        trades, notional = _traded(record)
        assert manual and trades == 1  # the cycle bought BTC after the manual ETH order filled
        counters = load_counters(rig.store)
        assert len(counters.trade_times_ms) == trades + 1  # the manual trade was not written over
        assert counters.daily_notional == notional + manual[0]
    finally:
        rig.close()


def test_a_cycle_that_saves_while_a_manual_order_is_in_flight_keeps_its_count(tmp_path):
    cfg = agent_config(tmp_path / "state", "standard")
    rig = paper_rig(cfg, client=ScriptedLLM([target_reply(("BTC", 20))]))
    try:
        records: list[dict] = []

        def cycle() -> None:  # the agent's cycle runs and saves after the manual order read the counters
            records.append(rig.pipeline.run("c000001", 1, rig.venue.now_ms(), ("standard",)))

        manual = _manual_buy(rig, _VenueThatWaits(rig.exchange, cycle))
        trades, notional = _traded(records[0])
        assert trades == 1
        counters = load_counters(rig.store)
        assert len(counters.trade_times_ms) == trades + 1  # the cycle's trade was not written over
        assert counters.daily_notional == notional + manual
    finally:
        rig.close()
