"""The backtest's cycle step reads the raw cycle record and converts only what it keeps."""

from __future__ import annotations

from decimal import Decimal

from hyperliquid_agent.audit import to_plain
from hyperliquid_agent.backtest.pipeline import PipelineStep, step_info
from hyperliquid_agent.domain import AccountState, Position, SpotBalance
from hyperliquid_agent.domain.verdicts import Denied


class _Schedule:
    def due(self, now_ms, last):
        return ("fast", "medium")


class _Pipeline:
    """A cycle record as the stages leave it: models, Decimals, tuples (before `to_plain`)."""

    def __init__(self) -> None:
        self.calls = 0

    def run_record(self, cycle_id, seq, now_ms, loops):
        self.calls += 1
        acct = AccountState(portfolio_value=Decimal("1000.50"), available_balance=Decimal(900),
                            positions=(Position(coin="ETH", size=Decimal("-1.5"), entry_price=Decimal(2000)),),
                            spot_balances=(SpotBalance(coin="USDC", total=Decimal("12.50")),))
        return {
            "cycle_id": cycle_id, "seq": seq, "mode": "governed", "regime": "range-bound", "plan_id": "p-1",
            "decision": {"summary": "keep plan: proposal rejected"},
            "llm": {"calls": 1, "cost_usd": Decimal("0.0123")},
            "orders": [{"cloid": "0x1"}],
            "risk": [{"intent": None, "verdict": Denied(reason_code="max_notional", detail="too big")}],
            "errors": ("venue slow",),
            "governance": {"plan_summary": {"strategy_id": "dca", "targets": ()}},
            "signals": {"ETH": {"rsi14": 55.5, "ret_30d": None}},
            "account_before": acct, "account_after": acct,
            "market": {"mids": {"ETH": Decimal("2001.5")}},
        }


def test_step_keeps_what_the_plain_record_says():
    pipeline = _Pipeline()
    step = PipelineStep(pipeline, _Schedule())
    info = step(1_700_000_000_000)
    expected = step_info(to_plain(pipeline.run_record("bt000001", 1, 1_700_000_000_000, ())))
    assert info == expected
    assert info.denied == 1 and info.strategy_id == "dca" and info.llm_cost_usd == Decimal("0.0123")
    assert info.error == "venue slow" and info.llm_calls == 1


def test_inputs_digest_tells_apart_every_signal_value_and_the_account():
    import math

    from hyperliquid_agent.backtest.pipeline import inputs_digest

    base = _Pipeline().run_record("bt000001", 1, 0, ())
    digest = inputs_digest(base)
    assert digest == inputs_digest(to_plain(base))

    def changed(**signals):
        return inputs_digest({**base, "signals": {"ETH": {"rsi14": 55.5, "ret_30d": None, **signals}}})

    assert changed() == digest
    assert len({digest, changed(rsi14=math.nextafter(55.5, 60)), changed(ret_30d=0.0),
                changed(ret_30d=math.nan), changed(rsi14=None)}) == 5
    richer = base["account_before"].model_copy(update={"portfolio_value": Decimal("1000.51")})
    assert inputs_digest({**base, "account_before": richer}) != digest


def test_a_backtest_keeps_its_state_in_memory_and_decides_as_a_persisting_pipeline_does():
    """A backtest's engine keeps its state in an in-memory store, writes no governance state and
    leaves it out of its records (nothing reads a run's state back, and no audit trail replays
    it). A pipeline that persists and records it, as the live loop does, gives the very same run."""
    from datetime import date

    from hyperliquid_agent.app import wiring
    from hyperliquid_agent.app.agent import schedule_for
    from backtest_helpers import keeping_pipelines

    from hyperliquid_agent.backtest.runner import run_backtest
    from hyperliquid_agent.backtest.spec import BacktestSpec
    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.store import StateStore

    cfg = config_from_dict({"agent": {"mode": "governed"}, "backtest": {"vs_baseline": False}}, env={})
    spec = BacktestSpec(coins=("BTC", "ETH", "SOL"), provider="baseline", run_id="t", start=date(2024, 2, 1),
                        end=date(2024, 2, 5), mode="governed")
    built: list = []

    def persisting(c, exchange, state_dir):
        store = StateStore.in_dir(state_dir)
        pipeline = wiring.build_pipeline(c, exchange, store)
        pipeline.arrive = exchange.arrive  # (as build_cycle_step does: orders priced where they arrive)
        built.append(pipeline)
        return PipelineStep(pipeline, schedule_for(c))

    a = run_backtest(cfg, spec, step_factory=keeping_pipelines(built))
    b = run_backtest(cfg, spec, step_factory=persisting)
    assert built[0].governance.persist is None and str(built[0].store.path) == ":memory:"
    assert not built[0].replayable and built[1].replayable and built[1].governance.persist is not None
    assert a.trades and a.trades == b.trades and a.curve == b.curve and a.metrics == b.metrics
    assert a.decisions == b.decisions


def test_the_account_in_the_inputs_digest_reads_the_same_from_a_plain_record_and_tells_values_apart():
    """The digest writes the account's Decimals as their `str` (exact), but one with a positive
    exponent in full, so a plain record's account (every Decimal in full) gives the same text."""
    import random

    from hyperliquid_agent.backtest.pipeline import _account_text

    rng = random.Random(4)

    def money() -> Decimal:
        return Decimal(rng.randrange(-10**7, 10**7)).scaleb(rng.randrange(-12, 6))

    def position(coin: str) -> Position:
        return Position(coin=coin, size=money(), entry_price=abs(money()), unrealized_pnl=money(),
                        leverage=rng.randrange(1, 20), liquidation_price=rng.choice((None, abs(money()))),
                        margin_used=money(), position_value=money(), cum_funding=money())

    for _ in range(200):
        acct = AccountState(portfolio_value=money(), available_balance=money(), margin_used=money(),
                            total_notional=money(), timestamp_ms=rng.randrange(10**13), stale=rng.random() < 0.5,
                            positions=tuple(position(c) for c in ("BTC", "ETH")[:rng.randrange(3)]),
                            spot_balances=(SpotBalance(coin="USDC", total=money(), hold=money()),))
        text = _account_text(acct)
        assert text == _account_text(to_plain(acct))
        assert _account_text(acct.model_copy(update={"total_notional": acct.total_notional + 1})) != text
        if acct.positions:
            moved = acct.positions[0].model_copy(update={"entry_price": acct.positions[0].entry_price.next_plus()})
            assert _account_text(acct.model_copy(update={"positions": (moved, *acct.positions[1:])})) != text


def test_a_rejected_proposal_keeps_the_governor_s_reason():
    """A governed run on the real data 2025-01-01..05 (BTC, ETH) whose model proposed
    slow-trend-following in a range-bound market made 0 trades; its rows read only "keep plan:
    proposal rejected", the governor's regime_mismatch reason was in no file of the run."""
    record = _Pipeline().run_record("bt000001", 1, 0, ())
    reason = "regime_mismatch: slow-trend-following does not fit the confirmed regime range-bound"
    record["governance"] = {**record["governance"], "verdict": "rejected", "reason": reason}
    info = step_info(record)
    assert info.detail == f"keep plan: proposal rejected ({reason})"
    assert info.action == "keep plan"
    maintained = _Pipeline().run_record("bt000001", 1, 0, ())
    maintained["decision"] = {"summary": "maintain plan"}
    maintained["governance"] = {**maintained["governance"], "verdict": "maintain", "reason": "plan maintained"}
    assert step_info(maintained).detail == "maintain plan"
