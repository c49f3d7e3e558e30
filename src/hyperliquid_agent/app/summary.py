"""The end-of-run summary and the rich renderings of status and audit records.

`summarize_run(records)` is pure arithmetic over the plain cycle records of one run
(what the audit trail holds): decisions, plan changes, trades, PnL, fees, funding,
LLM calls and cost. The `render_*` functions take a rich Console (imported by the CLI).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from hyperliquid_agent.decimal_text import usd_text
from hyperliquid_agent.domain.rounding import USDC_QUANTUM
from hyperliquid_agent.llm.check import OFFLINE
from hyperliquid_agent.llm.pricing import estimated_tokens
from hyperliquid_agent.logs import order_status

ZERO = Decimal(0)


def _d(value: Any) -> Decimal:
    if value is None or value == "":
        return ZERO
    return Decimal(str(value))


def _equity(account: dict[str, Any] | None) -> Decimal | None:
    if not account:
        return None
    return _d(account.get("portfolio_value"))


def _unrealized(account: dict[str, Any] | None) -> Decimal:
    if not account:
        return ZERO
    return sum((_d(p.get("unrealized_pnl")) for p in account.get("positions") or ()), ZERO)


def summarize_run(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals over one run's cycle records (plain dicts, oldest first)."""
    recs = list(records)
    out: dict[str, Any] = {
        "cycles": len(recs), "failed_cycles": 0, "decisions": {}, "plan_changes": 0, "plans": [],
        "orders": 0, "orders_by_status": {}, "denied": 0, "trades": 0, "liquidation_fills": 0,
        "traded_notional_usd": "0", "fees_usd": "0", "realized_pnl_usd": "0", "funding_paid_usd": "0", "pnl_usd": "0",
        "start_equity_usd": None, "end_equity_usd": None, "return_pct": None,
        "unrealized_pnl_change_usd": "0",
        "llm_calls": 0, "llm_input_tokens": 0, "llm_output_tokens": 0, "llm_cost_usd": "0",
        "llm_prompt_chars": 0, "llm_prompt_tokens_est": 0, "llm_providers": [],
        "first_time_ms": None, "last_time_ms": None, "final_positions": [], "regimes": {},
    }
    if not recs:
        return out
    fees = realized = notional = llm_cost = ZERO
    seen_plans: list[str] = []
    providers: set[str] = set()
    for r in recs:
        if r.get("errors"):
            out["failed_cycles"] += 1
        summary = (r.get("decision") or {}).get("summary") or "none"
        kind = summary.split(":")[0].strip() or "none"
        out["decisions"][kind] = out["decisions"].get(kind, 0) + 1
        if (r.get("governance") or {}).get("activated_plan_id"):
            out["plan_changes"] += 1
        pid = r.get("plan_id")
        if pid and pid not in seen_plans:
            seen_plans.append(pid)
        if r.get("regime"):
            out["regimes"][r["regime"]] = out["regimes"].get(r["regime"], 0) + 1
        for o in r.get("orders") or ():
            out["orders"] += 1
            st = order_status(o)
            out["orders_by_status"][st] = out["orders_by_status"].get(st, 0) + 1
        out["denied"] += sum(1 for v in r.get("risk") or () if (v.get("verdict") or {}).get("verdict") == "denied")
        for f in (*(r.get("fills") or ()), *(r.get("outside_fills") or ())):  # outside: TP/SL, resting, by hand
            out["trades"] += 1
            out["liquidation_fills"] += bool(f.get("liquidation"))
            fees += _d(f.get("fee"))
            realized += _d(f.get("closed_pnl"))
            notional += _d(f.get("price")) * _d(f.get("size"))
        llm = r.get("llm") or {}
        out["llm_calls"] += int(llm.get("calls") or 0)
        out["llm_input_tokens"] += int(llm.get("input_tokens") or 0)
        out["llm_output_tokens"] += int(llm.get("output_tokens") or 0)
        llm_cost += _d(llm.get("cost_usd"))
        out["llm_prompt_chars"] += int(llm.get("prompt_chars") or 0)
        if llm.get("provider"):
            providers.add(str(llm["provider"]))
    first, last = recs[0], recs[-1]
    start_acct = first.get("account_before")
    end_acct = last.get("account_after") or last.get("account_before")
    start_eq, end_eq = _equity(start_acct), _equity(end_acct)
    out["plans"] = seen_plans
    out["llm_providers"] = sorted(providers)
    out["llm_prompt_tokens_est"] = estimated_tokens(out["llm_prompt_chars"])
    out["fees_usd"] = format(fees, "f")
    out["realized_pnl_usd"] = format(realized, "f")
    out["traded_notional_usd"] = format(notional, "f")
    out["llm_cost_usd"] = format(llm_cost, "f")
    out["first_time_ms"], out["last_time_ms"] = first.get("time_ms"), last.get("time_ms")
    out["final_positions"] = [
        {"coin": p.get("coin"), "size": p.get("size"), "entry_price": p.get("entry_price"),
         "unrealized_pnl": p.get("unrealized_pnl")}
        for p in (end_acct or {}).get("positions") or () if _d(p.get("size")) != 0
    ]
    if start_eq is not None and end_eq is not None:
        pnl = end_eq - start_eq
        out["start_equity_usd"], out["end_equity_usd"] = format(start_eq, "f"), format(end_eq, "f")
        out["pnl_usd"] = format(pnl, "f")
        if start_eq:
            out["return_pct"] = format((pnl / start_eq * 100).quantize(Decimal("0.0001")), "f")
        # equity change = realized - fees - funding paid + change in unrealized (no transfers in a run)
        unrealized = _unrealized(end_acct) - _unrealized(start_acct)
        out["unrealized_pnl_change_usd"] = format(unrealized, "f")
        funding = realized - fees + unrealized - pnl
        out["funding_paid_usd"] = format(funding.quantize(USDC_QUANTUM), "f")
    return out


def _money(v: Any, places: int = 2) -> str:
    if v is None:
        return "-"
    return f"{_d(v):,.{places}f}"


def _usd(v: Any, places: int = 2) -> str:
    return "-" if v is None else usd_text(_d(v), places)


def render_summary(console: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="hl-agent run summary", show_header=False, title_style="bold")
    t.add_column("what", style="bold")
    t.add_column("value", justify="right")
    t.add_row("cycles", f"{s['cycles']} ({s['failed_cycles']} with errors)")
    t.add_row("decisions", ", ".join(f"{k} {v}" for k, v in sorted(s["decisions"].items())) or "-")
    t.add_row("plan changes", f"{s['plan_changes']} ({len(s['plans'])} plan(s) seen)")
    if s["regimes"]:
        t.add_row("regimes (cycles)", ", ".join(f"{k} {v}" for k, v in sorted(s["regimes"].items())))
    t.add_row("orders", f"{s['orders']} " + (
        "(" + ", ".join(f"{k} {v}" for k, v in sorted(s["orders_by_status"].items())) + ")" if s["orders"] else ""))
    t.add_row("risk denials", str(s["denied"]))
    t.add_row("fills (trades)", f"{s['trades']} on {_usd(s['traded_notional_usd'])} notional")
    if s["liquidation_fills"]:
        t.add_row("  [red]liquidated by the venue[/]", f"[red]{s['liquidation_fills']} fill(s)[/]")
    t.add_row("start / end equity", f"{_usd(s['start_equity_usd'])} / {_usd(s['end_equity_usd'])}")
    pnl = _d(s["pnl_usd"])
    colour = "green" if pnl >= 0 else "red"
    ret = f" ({s['return_pct']}%)" if s["return_pct"] is not None else ""
    t.add_row("PnL", f"[{colour}]{_usd(s['pnl_usd'])}{ret}[/]")
    t.add_row("  realized", _usd(s['realized_pnl_usd']))
    t.add_row("  unrealized (change)", _usd(s['unrealized_pnl_change_usd']))
    t.add_row("  fees paid", _usd(s['fees_usd']))
    t.add_row("  funding paid (net)", _usd(s['funding_paid_usd']))
    providers = ", ".join(s["llm_providers"]) or "-"
    t.add_row("LLM calls", f"{s['llm_calls']} ({providers}), ~{s['llm_prompt_tokens_est']:,} prompt tokens sent")
    t.add_row("LLM tokens billed", f"{s['llm_input_tokens']:,} in / {s['llm_output_tokens']:,} out")
    offline = set(s["llm_providers"]) <= set(OFFLINE)
    note = " (offline provider: nothing billed)" if s["llm_calls"] and offline and not _d(s["llm_cost_usd"]) else ""
    t.add_row("LLM cost", f"{_usd(s['llm_cost_usd'], 4)}{note}")
    console.print(t)
    if s["final_positions"]:
        pt = Table(title="open positions at the end")
        for col in ("coin", "size", "entry", "uPnL"):
            pt.add_column(col, justify="right" if col != "coin" else "left")
        for p in s["final_positions"]:
            pt.add_row(str(p["coin"]), str(p["size"]), _money(p["entry_price"], 4), _money(p["unrealized_pnl"]))
        console.print(pt)


def render_status(console: Any, r: dict[str, Any]) -> None:
    from rich.table import Table

    if not r.get("has_state"):
        console.print(r.get("message") or f"no agent state in {r.get('state_dir')}")
        return
    t = Table(title="hl-agent status", show_header=False, title_style="bold")
    t.add_column("what", style="bold")
    t.add_column("value")
    acct = r.get("account") or {}
    t.add_row("last cycle", f"{r.get('cycle_id')} at {r.get('time')} ({r.get('mode')}, {r.get('network')})")
    t.add_row("equity", f"{_usd(acct.get('portfolio_value'))}  available {_usd(acct.get('available_balance'))}")
    t.add_row("trading state", str(r.get("trading_state") or "-"))
    t.add_row("regime", str(r.get("regime") or "-"))
    plan = r.get("plan") or {}
    if plan:
        dwell = plan.get("dwell_remaining_minutes")
        t.add_row("active plan", f"{plan.get('plan_id')} ({plan.get('strategy_id')})")
        t.add_row("dwell remaining", "-" if dwell is None else f"{dwell} min (as of the last cycle)")
    else:
        t.add_row("active plan", "-")
    llm = r.get("llm_today") or {}
    t.add_row("LLM today", f"{llm.get('calls', 0)} calls, {_usd(llm.get('cost_usd'), 4)} ({llm.get('day')})")
    if r.get("last_errors"):
        t.add_row("last cycle errors", "; ".join(r["last_errors"]))
    if r.get("running_pid"):
        t.add_row("agent", f"running (pid {r['running_pid']})")
    else:
        t.add_row("agent", "stopped cleanly" if r.get("stopped_at_ms") else
                  "not running; it did not stop cleanly (the next start reconciles)")
    console.print(t)
    positions = acct.get("positions") or []
    if positions:
        pt = Table(title="positions")
        for col in ("coin", "size", "entry", "uPnL", "lev", "liq"):
            pt.add_column(col, justify="right" if col != "coin" else "left")
        for p in positions:
            pt.add_row(str(p.get("coin")), str(p.get("size")), _money(p.get("entry_price"), 4),
                       _money(p.get("unrealized_pnl")), str(p.get("leverage")), _money(p.get("liquidation_price"), 2))
        console.print(pt)


def render_record(console: Any, rec: dict[str, Any]) -> None:
    from rich.pretty import Pretty
    from rich.table import Table

    t = Table(title=f"cycle {rec.get('cycle_id')}", show_header=False, title_style="bold")
    t.add_column("what", style="bold")
    t.add_column("value")
    for key in ("time", "mode", "network", "loops", "regime", "plan_id", "trading_state"):
        t.add_row(key, str(rec.get(key)))
    review = rec.get("review") or {}
    t.add_row("review", f"{review.get('allowed')} ({review.get('reason')})")
    t.add_row("decision", str((rec.get("decision") or {}).get("summary")))
    gov = rec.get("governance") or {}
    if gov:
        verdict, reason = str(gov.get("verdict") or "-"), str(gov.get("reason") or "")
        t.add_row("governance", reason if reason.startswith(verdict) else f"{verdict}: {reason}".rstrip(": "))
    llm = rec.get("llm") or {}
    t.add_row("llm", f"{llm.get('calls', 0)} call(s), ${llm.get('cost_usd', '0')}, model {llm.get('model')}")
    before, after = _equity(rec.get("account_before")), _equity(rec.get("account_after"))
    t.add_row("equity", f"{_usd(before)} -> {_usd(after)}")
    own = rec.get("fills") or []
    t.add_row("fills", f"{len(own)}, fees {_usd(rec.get('fees_usd'), 6)}" if own else "0")
    outside = rec.get("outside_fills") or []
    if outside:  # fills since the last cycle of orders this one did not send (TP/SL, resting, by hand, a liquidation)
        fees = sum((_d(f.get("fee")) for f in outside), Decimal(0))
        liquidated = sorted({str(f.get("coin")) for f in outside if f.get("liquidation")})
        t.add_row("fills since the last cycle", f"{len(outside)} of other orders, fees {_usd(fees, 6)}" + (
            f"; [red]liquidated: {', '.join(liquidated)}[/]" if liquidated else ""))
    t.add_row("errors", "; ".join(rec.get("errors") or []) or "-")
    console.print(t)
    orders = rec.get("orders") or []
    if orders:
        ot = Table(title="orders")
        for col in ("coin", "side", "size", "limit", "reduce", "cloid", "status"):
            ot.add_column(col)
        for o in orders:
            i = o.get("intent") or {}
            status = order_status(o)
            error = o.get("error") or (o.get("outcome") or {}).get("error")
            ot.add_row(str(i.get("coin")), str(i.get("side")), str(i.get("size")), str(i.get("limit_price")),
                       str(i.get("reduce_only")), str(o.get("cloid") or i.get("cloid")),
                       status + (f" {error}" if error else ""))
        console.print(ot)
    denied = [v for v in rec.get("risk") or [] if (v.get("verdict") or {}).get("verdict") == "denied"]
    if denied:
        console.print(Pretty({"risk_denials": denied}))
