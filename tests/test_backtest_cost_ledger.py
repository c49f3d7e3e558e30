"""A backtest keeps LLM cost ledger rows only when a daily budget reads them back: for the
decision client and for the regime client (governed, `[governance.regime] use_llm`) alike."""

from __future__ import annotations

from datetime import date

from backtest_helpers import keeping_pipelines

from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.config import config_from_dict


def ledger_purposes(budget: dict) -> dict[str, int]:
    """The rows in a governed run's cost ledger, by purpose (the two tests run the same window,
    so the one with a budget also shows that the run asked both clients)."""
    cfg = config_from_dict({"agent": {"mode": "governed"}, "backtest": {"vs_baseline": False},
                            "governance": {"regime": {"use_llm": True}}, "llm": {"budget": budget}}, env={})
    spec = BacktestSpec(coins=("BTC", "ETH"), provider="baseline", run_id="ledger", start=date(2024, 2, 1),
                        end=date(2024, 2, 3), mode="governed")
    built: list = []
    run_backtest(cfg, spec, step_factory=keeping_pipelines(built))
    store = built[0].store
    has_ledger = store.execute("SELECT 1 FROM sqlite_master WHERE name = 'llm_calls'")
    rows = store.execute("SELECT purpose, COUNT(*) FROM llm_calls GROUP BY purpose") if has_ledger else []
    return dict(rows)


def test_without_a_budget_neither_the_decision_nor_the_regime_client_writes_ledger_rows():
    assert ledger_purposes({}) == {}


def test_with_a_daily_budget_both_clients_write_the_rows_it_reads():
    rows = ledger_purposes({"daily_usd": "5"})
    assert rows.get("regime", 0) > 0 and sum(rows.values()) > rows["regime"]
