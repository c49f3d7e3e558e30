"""The end-of-run summary: exact arithmetic over cycle records (PnL splits into realized,
unrealized change, fees and funding), LLM usage (calls, prompt size, billed tokens, cost)
and a rendering that says why an offline provider's cost is zero."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from hyperliquid_agent.app.summary import render_summary, summarize_run


def _acct(equity: str, *positions: tuple[str, str, str]) -> dict:
    return {"portfolio_value": equity,
            "positions": [{"coin": c, "size": s, "entry_price": "100", "unrealized_pnl": u} for c, s, u in positions]}


def _rec(cid: str, before: dict, after: dict, *, fills=(), llm=None, summary="track plan", plan=None,
         activated=None, errors=()) -> dict:
    return {"cycle_id": cid, "time_ms": int(cid[1:]) * 3_600_000, "account_before": before, "account_after": after,
            "fills": list(fills), "llm": llm or {"calls": 0, "cost_usd": "0"}, "decision": {"summary": summary},
            "plan_id": plan, "governance": {"activated_plan_id": activated} if activated else {},
            "orders": [{"status": "filled"} for _ in fills], "risk": [], "errors": list(errors), "regime": "trend-up"}


def test_pnl_splits_into_realized_unrealized_fees_and_funding_and_llm_usage_is_totalled():
    recs = [
        _rec("c000001", _acct("1000"), _acct("999.5", ("BTC", "1", "0")), summary="new plan: p1", plan="p1",
             activated="p1", fills=[{"price": "100", "size": "1", "fee": "0.5", "closed_pnl": "0"}],
             llm={"calls": 1, "cost_usd": "0.0012", "input_tokens": 2000, "output_tokens": 150,
                  "prompt_chars": 8001, "provider": "openai"}),
        # between cycles: the price moves +10 on 1 BTC, 0.25 funding is paid; then half is sold
        _rec("c000002", _acct("1009.25", ("BTC", "1", "10")), _acct("1009.05", ("BTC", "0.5", "5")),
             summary="maintain plan", plan="p1",
             fills=[{"price": "110", "size": "0.5", "fee": "0.2", "closed_pnl": "5"}],
             llm={"calls": 1, "cost_usd": "0", "prompt_chars": 7999, "provider": "baseline"}, errors=["x"]),
    ]
    s = summarize_run(recs)
    assert s["cycles"] == 2 and s["failed_cycles"] == 1 and s["plan_changes"] == 1 and s["plans"] == ["p1"]
    assert s["decisions"] == {"new plan": 1, "maintain plan": 1}
    assert s["trades"] == 2 and D(s["traded_notional_usd"]) == D("155") and s["orders_by_status"] == {"filled": 2}
    assert D(s["fees_usd"]) == D("0.7") and D(s["realized_pnl_usd"]) == D("5")
    assert D(s["unrealized_pnl_change_usd"]) == D("5") and D(s["pnl_usd"]) == D("9.05")
    assert D(s["funding_paid_usd"]) == D("0.25")
    assert s["llm_calls"] == 2 and s["llm_prompt_chars"] == 16000 and s["llm_prompt_tokens_est"] == 4000
    assert s["llm_input_tokens"] == 2000 and s["llm_output_tokens"] == 150 and D(s["llm_cost_usd"]) == D("0.0012")
    assert s["llm_providers"] == ["baseline", "openai"]
    assert s["final_positions"] == [{"coin": "BTC", "size": "0.5", "entry_price": "100", "unrealized_pnl": "5"}]


money = st.decimals(min_value=-1000, max_value=1000, places=6, allow_nan=False, allow_infinity=False)


@given(start=st.decimals(min_value=1, max_value=10**6, places=2), fee=money.map(abs), realized=money,
       u0=money, u1=money, funding=money)
def test_the_parts_always_add_up_to_the_equity_change(start, fee, realized, u0, u1, funding):
    end = start + realized - fee - funding + (u1 - u0)
    recs = [_rec("c000001", _acct(str(start), ("ETH", "1", str(u0))), _acct(str(end), ("ETH", "2", str(u1))),
                 fills=[{"price": "1", "size": "1", "fee": str(fee), "closed_pnl": str(realized)}])]
    s = summarize_run(recs)
    parts = D(s["realized_pnl_usd"]) + D(s["unrealized_pnl_change_usd"]) - D(s["fees_usd"]) - D(s["funding_paid_usd"])
    assert parts == D(s["pnl_usd"]) == end - start
    assert D(s["funding_paid_usd"]) == funding


def _render(s: dict) -> str:
    con = Console(width=200, record=True, color_system=None)
    render_summary(con, s)
    return con.export_text()


def test_an_offline_providers_zero_cost_is_explained_and_a_paid_one_is_not():
    offline = [_rec("c000001", _acct("1000"), _acct("1000"),
                    llm={"calls": 3, "cost_usd": "0", "prompt_chars": 9000, "provider": "baseline"})]
    text = _render(summarize_run(offline))
    assert "3 (baseline), ~2,250 prompt tokens sent" in text
    assert "offline provider: nothing billed" in text
    paid = [_rec("c000001", _acct("1000"), _acct("1000"),
                 llm={"calls": 1, "cost_usd": "0.01", "prompt_chars": 40, "provider": "openai", "input_tokens": 12})]
    text = _render(summarize_run(paid))
    assert "$0.0100" in text and "nothing billed" not in text and "12 in / 0 out" in text


def test_no_records_is_an_empty_summary_that_still_renders():
    s = summarize_run([])
    assert s["cycles"] == 0 and s["pnl_usd"] == "0" and s["llm_providers"] == []
    assert "cycles" in _render(s)
