"""`hl-agent costs`: LLM spend from the persisted ledger; `hl-agent costs estimate`: a forecast."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, fail, load, print_json

costs_app = typer.Typer(help="LLM calls, tokens and USD spent (across restarts), and spend forecasts.")

TOTAL_KEYS = ("total_calls", "total_input_tokens", "total_cached_input_tokens", "total_output_tokens",
              "total_cost_usd", "avg_cost_per_call", "unpriced_calls", "replayed_calls", "failed_calls",
              "blocked_calls")


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@costs_app.callback(invoke_without_command=True)
def costs(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(None, "--since", help="First UTC day to include, YYYY-MM-DD."),
    by: str = typer.Option("model", "--by", help="Group rows by model | day | purpose."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show LLM calls, tokens and cost from the state store under agent.state_dir."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import date

    from hyperliquid_agent.llm.ledger import CostLedger
    from hyperliquid_agent.store import STATE_DB_NAME, StateStore

    if by not in ("model", "day", "purpose"):
        fail(f"--by must be model, day or purpose, got {by!r}")
    if since is not None:
        try:
            date.fromisoformat(since)
        except ValueError:
            fail(f"--since must be a date like 2026-01-31, got {since!r}")
    cfg = load(config)
    db = cfg.state_dir / STATE_DB_NAME
    if not db.is_file():
        summary: dict[str, Any] = {k: 0 for k in TOTAL_KEYS} | {f"by_{g}": {} for g in ("model", "day", "purpose")}
    else:
        summary = CostLedger(StateStore(db)).summary(since_day=since)
    if as_json:
        print_json({"state": str(db), "since": since, "by": by, **_plain(summary)})
        return
    from rich.table import Table

    table = Table(title=f"LLM costs by {by}" + (f" since {since}" if since else ""), caption=str(db))
    table.add_column(by, no_wrap=True)
    for col in ("calls", "in tok", "cached", "out tok", "USD", "avg/call", "unpriced"):
        table.add_column(col, justify="right")
    rows = list(summary[f"by_{by}"].items()) + [("TOTAL", summary)]
    for name, s in rows:
        table.add_row(name, str(s["total_calls"]), f"{s['total_input_tokens']:,}", f"{s['total_cached_input_tokens']:,}",
                      f"{s['total_output_tokens']:,}", f"{s['total_cost_usd']:.4f}", f"{s['avg_cost_per_call']:.6f}",
                      str(s["unpriced_calls"]))
    out = console()
    out.print(table)
    if summary["unpriced_calls"]:
        out.print("[yellow]some calls used a model without a price: their cost is not in the totals. "
                  "Add \\[llm.pricing.\"<model>\"] to config.toml.[/]")
    if summary["blocked_calls"] or summary["failed_calls"]:
        out.print(f"blocked by budget: {summary['blocked_calls']}, failed: {summary['failed_calls']}")


@costs_app.command("estimate")
def estimate(
    cycles_per_day: Optional[int] = typer.Option(None, "--cycles-per-day", min=1,
                                                 help="LLM calls per day (default: the most the configured loop can make: one per "
                                                      "tick in standard mode, one per medium loop in governed "
                                                      "mode, twice that with governance.regime.use_llm)."),
    prompt_chars: Optional[int] = typer.Option(None, "--prompt-chars", min=0,
                                               help="Prompt size in characters (default: render the configured template)."),
    reply_tokens: int = typer.Option(500, "--reply-tokens", min=0, help="Expected output tokens per call."),
    model: Optional[str] = typer.Option(None, "--model", help="Price this model instead of llm.model."),
    cached: Optional[bool] = typer.Option(
        None, "--cached/--no-cached",
        help="Price the stable prompt prefix as read from the provider's cache (default: only when calls come "
             "at most 5 minutes apart; the caches empty after about 5 idle minutes)."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Forecast LLM spend from prompt size (chars / 4 tokens), reply size, cycles per day and prices."""
    from decimal import Decimal

    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.llm.pricing import PROMPT_CACHE_IDLE_S, estimate_spend, price_table

    cfg = load(config)
    prefix_chars = 0
    if prompt_chars is None:
        try:
            from hyperliquid_agent.app.wiring import sample_prompt_size

            prompt_chars, prefix_chars = sample_prompt_size(cfg)
        except HLAgentError as exc:
            fail(f"cannot render the prompt to size it ({exc}); pass --prompt-chars N instead")
    calls = cycles_per_day or _max_calls_per_day(cfg)
    if cached is None:  # a cache that has emptied between two calls is no discount
        cached = 86_400 / calls <= PROMPT_CACHE_IDLE_S
    prefix = Decimal(prefix_chars) / Decimal(prompt_chars) if prompt_chars else Decimal(0)
    # the anthropic provider marks the prefix for caching on every call: when it is not read back it is written
    # again, at the cache-write price
    writes = not cached and cfg.llm.provider == "anthropic"
    if cached:
        cache_note = "stable prefix priced as cached input"
    elif writes:
        cache_note = "stable prefix priced as a cache write each call (calls more than 5 min apart find the cache empty)"
    else:
        cache_note = "no cache discount (calls more than 5 min apart find the cache empty)"
    table = price_table(cfg.llm.pricing)
    models = [model or cfg.llm.model] + ([cfg.llm.fallback_model] if cfg.llm.fallback_model and not model else [])
    rows = [estimate_spend(table, m, prompt_chars, reply_tokens, calls, prefix if cached else Decimal(0),
                           prefix if writes else Decimal(0)) for m in models]
    data = [{
        "model": e.model, "input_tokens": e.input_tokens, "cached_input_tokens": e.cached_input_tokens,
        "cache_write_tokens": e.cache_write_tokens,
        "output_tokens": e.output_tokens, "calls_per_day": e.calls_per_day,
        "cost_per_call_usd": _plain(e.cost_per_call_usd), "cost_per_day_usd": _plain(e.cost_per_day_usd),
        "cost_per_30d_usd": _plain(e.cost_per_30d_usd),
    } for e in rows]
    budget = cfg.llm.budget
    if as_json:
        print_json({"prompt_chars": prompt_chars, "token_estimate": "chars / 4", "cache": cache_note, "estimates": data,
                    "daily_budget_usd": _plain(budget.daily_usd)})
        return
    out = console()
    out.print(f"prompt {prompt_chars:,} chars (~{rows[0].input_tokens:,} tokens, chars/4), "
              f"{reply_tokens} reply tokens, {calls} calls/day; {cache_note}")
    for e in rows:
        if e.cost_per_day_usd is None:
            if e.model == cfg.llm.model and cfg.llm.provider in ("baseline", "scripted"):
                out.print(f"  {e.model}: $0 (offline provider); price a real model with --model, e.g. --model gpt-4o-mini")
            else:
                out.print(f"  {e.model}: [yellow]no price known[/]; add \\[llm.pricing.\"{e.model}\"] to config.toml")
            continue
        line = f"  {e.model}: ${e.cost_per_call_usd:.5f}/call, ${e.cost_per_day_usd:.4f}/day, ${e.cost_per_30d_usd:.2f}/30 days"
        if budget.daily_usd is not None and e.cost_per_day_usd > budget.daily_usd:
            line += f" [red](over llm.budget.daily_usd = {budget.daily_usd})[/]"
        out.print(line)


def _max_calls_per_day(cfg) -> int:
    """The most LLM calls a day of the configured live loop can make (governed mode asks on its
    medium loop, plus a regime call beside each review when the regime uses the LLM)."""
    from hyperliquid_agent.app.agent import schedule_for
    from hyperliquid_agent.backtest.guards import expected_calls

    sched = schedule_for(cfg)
    calls = expected_calls(86_400_000, sched.mode, sched.tick_s, sched.medium_s or sched.tick_s)
    if sched.mode == "governed" and cfg.governance.regime.use_llm:
        calls *= 2
    return calls


def register(app: typer.Typer) -> None:
    app.add_typer(costs_app, name="costs")
