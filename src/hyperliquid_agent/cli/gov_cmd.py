"""`hl-agent gov plan | regime | tripwires | metrics | history | rearm`: persisted governance state.

Read-only but for `rearm`: opens the state store under `agent.state_dir` if it exists, never
starts the agent and never creates files. Times are shown "as of" the last governance cycle
(the engine's clock, which a paper session may run faster than the wall clock). `rearm`
leaves a request in the store that the agent's next cycle carries out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, fail, load, print_json
from hyperliquid_agent.times import utc_minute

gov_app = typer.Typer(help="Inspect governance state: active plan, regime, tripwires, plan metrics, history.",
                      no_args_is_help=True)
LIMIT_OPTION = typer.Option(20, "--limit", "-n", min=1, help="How many entries to show.")


def _iso(ms: int | None, short: bool = False) -> str:
    if ms is None:
        return "-"
    return utc_minute(ms, zone=not short)


def _open(config: Path | None, as_json: bool, what: str):
    """(cfg, store) or print the no-state message and exit 0."""
    from hyperliquid_agent.governance_store import GovernanceStore

    cfg = load(config)
    store = GovernanceStore.open_existing(cfg.state_dir)
    if store is None or store.governor_state() is None and what in ("plan", "regime"):
        msg = f"no governance state yet in {cfg.state_dir}: run the agent in governed mode first (hl-agent run)"
        if as_json:
            print_json({"state_dir": str(cfg.state_dir), "available": False, "message": msg})
        else:
            console().print(f"[yellow]{msg}[/]")
        raise typer.Exit(0)
    return cfg, store


def _table(title: str, *columns: str):
    from rich.table import Table  # rich is imported inside commands only

    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="right" if col == "value" else "left")
    return table


def _as_of(store: Any) -> int | None:
    state = store.governor_state() or {}
    reading = state.get("last_reading") or {}
    trip = store.load_tripwires()
    times = [t for t in (reading.get("time_ms"), trip.updated_ms, state.get("last_change_ms")) if t]
    return max(times) if times else None


@gov_app.command("plan")
def plan_cmd(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The active plan: targets, limits, exits, dwell remaining and whether a review is open
    (the event calendar's lock included)."""
    from hyperliquid_agent.app.wiring import load_events
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.governance.governor import Governor

    cfg, store = _open(config, as_json, "plan")
    try:
        events = load_events(cfg)
    except HLAgentError as exc:
        fail(str(exc))
    gov = Governor.from_state(cfg.governance, store.governor_state(), cfg.risk, events, coins=cfg.agent.coins)
    plan = gov.get_active_plan()
    now = _as_of(store)
    data: dict[str, Any] = {"available": True, "as_of_ms": now, "plan": None}
    if plan is not None and now is not None:
        ok, why = gov.can_review_plan(now)
        step, steps = gov.rotation_step(now)
        data.update({
            "plan": plan.model_dump(mode="json"),
            "dwell_remaining_minutes": plan.dwell_remaining_minutes(now),
            "can_review": ok, "review_reason": why, "rotation_step": [step, steps],
            "current_targets": [t.model_dump(mode="json") for t in gov.current_targets(now)],
        })
    if as_json:
        print_json(data)
        return
    out = console()
    if plan is None:
        out.print("no active plan (the next governance review will propose one)")
        return
    out.print(f"[bold]{plan.plan_id}[/]  as of {_iso(now)}")
    out.print(plan.prompt_summary(now))
    out.print(f"review: {'open' if data['can_review'] else 'closed'} ({data['review_reason']}); "
              f"rotation step {data['rotation_step'][0]} of {data['rotation_step'][1]}")
    table = _table("targets now (rotation applied)", "coin", "market", "target %", "leverage")
    for t in gov.current_targets(now):
        table.add_row(t.coin, t.market_type.value, format(t.target_pct, "f"), str(t.leverage or "-"))
    out.print(table)


@gov_app.command("regime")
def regime_cmd(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION, limit: int = LIMIT_OPTION) -> None:
    """The confirmed regime, the last raw reading and recent regime history."""
    cfg, store = _open(config, as_json, "regime")
    state = store.governor_state() or {}
    tracker = state.get("tracker") or {}
    data = {
        "available": True, "confirmed": tracker.get("confirmed"), "market": tracker.get("market"),
        "changed_at_ms": tracker.get("changed_at_ms"), "votes": tracker.get("window", []),
        "hysteresis": [cfg.governance.regime.hysteresis_n, cfg.governance.regime.hysteresis_m],
        "last_reading": state.get("last_reading"), "history": store.regime_history(limit),
    }
    if as_json:
        print_json(data)
        return
    out = console()
    out.print(f"[bold]regime:[/] {data['confirmed']} (since {_iso(data['changed_at_ms'])}); "
              f"recent votes {', '.join(data['votes']) or '-'}; needs {data['hysteresis'][0]} of "
              f"{data['hysteresis'][1]} to change")
    table = _table(f"last {len(data['history'])} readings (UTC)", "time", "raw", "confidence", "confirmed",
                   "source", "event")
    for h in data["history"]:
        table.add_row(_iso(h["time_ms"], short=True), h["raw"], f"{h['confidence']:.2f}",
                      ("* " if h["changed"] else "") + h["confirmed"], h["source"], h["event"] or "")
    out.print(table)


@gov_app.command("tripwires")
def tripwires_cmd(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The trading state (ACTIVE / REDUCING / HALTED) and the tripwires that set it."""
    cfg, store = _open(config, as_json, "tripwires")
    state = store.load_tripwires()
    data = {"available": True, **state.to_dict(), "limits": cfg.governance.tripwires.model_dump(mode="json")}
    if as_json:
        print_json(data)
        return
    out = console()
    colour = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "red"}[state.trading_state.value]
    out.print(f"[bold]trading state:[/] [{colour}]{state.trading_state.value}[/] as of {_iso(state.updated_ms)}")
    out.print(f"day-start equity {data['day_start_equity'] or '-'} ({_iso(state.day_start_ms)}); "
              f"peak equity {data['peak_equity'] or '-'}")
    if not state.trips:
        out.print("no tripwire fired on the last cycle")
    for t in state.trips:
        out.print(f"  [{colour}]{t['code']}[/] -> {t['outcome']}: {t['detail']}")


@gov_app.command("rearm")
def rearm_cmd(config: Path = CONFIG_OPTION,
              yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Re-arm the tripwires: from the agent's next cycle the drawdown and the day's loss count from its
    equity then, and a cut's freeze lifts (unless its condition holds anew, which cuts again)."""
    import getpass
    import sys
    from datetime import datetime, timezone

    cfg, store = _open(config, False, "rearm")
    state = store.load_tripwires()
    out = console()
    out.print(f"trading state: {state.trading_state.value} as of {_iso(state.updated_ms)}; peak equity "
              f"{state.to_dict()['peak_equity'] or '-'}; cut episodes held: {', '.join(state.cut_done) or 'none'}")
    for t in state.trips:
        out.print(f"  {t['code']} -> {t['outcome']}: {t['detail']}")
    if state.trading_state.value == "ACTIVE" and not state.cut_done:
        out.print("nothing to re-arm: trading is ACTIVE and no cut is held")
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("not re-armed: pass --yes to re-arm without a question (no terminal to ask at)")
        if not typer.confirm("Re-arm the tripwires at the agent's next cycle?", default=False):
            fail("not re-armed", code=1)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name known to this process
        who = "an operator"
    store.request_rearm(f"hl-agent gov rearm by {who} at {when}")
    out.print(f"re-arm requested in {cfg.state_dir}: the agent's next cycle (a running one, or the next start) "
              "measures the drawdown and the day's loss from its equity; `hl-agent gov tripwires` shows it after")


@gov_app.command("metrics")
def metrics_cmd(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The active plan's scorecard: PnL, drawdown, hit rate, turnover, fees, funding, slippage."""
    _, store = _open(config, as_json, "metrics")
    card = store.load_scorekeeper().current
    data = {"available": True, "scorecard": card.summary() if card is not None else None}
    if as_json:
        print_json(data)
        return
    out = console()
    if card is None:
        out.print("no plan scorecard yet")
        return
    table = _table(f"plan {card.plan_id} ({card.strategy_id})", "metric", "value")
    for k, v in card.summary().items():
        if k not in ("plan_id", "strategy_id"):
            table.add_row(k, "-" if v is None else str(v))
    out.print(table)


@gov_app.command("history")
def history_cmd(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION, limit: int = LIMIT_OPTION) -> None:
    """Ended plans, newest first, with their post-mortems."""
    _, store = _open(config, as_json, "history")
    rows = store.plan_history(limit)
    if as_json:
        print_json({"available": True, "plans": rows})
        return
    out = console()
    if not rows:
        out.print("no plan has ended yet")
        return
    table = _table("plan history", "plan", "strategy", "status", "activated", "ended", "pnl", "max dd %", "trades",
                   "reason")
    for r in rows:
        p, pm = r["plan"] or {}, r["post_mortem"] or {}
        table.add_row(r["plan_id"], p.get("strategy_id") or pm.get("strategy_id", "-"), p.get("status", "-"),
                      _iso(p.get("activated_ms"), True), _iso(p.get("ended_ms") or pm.get("ended_ms"), True),
                      pm.get("pnl", "-"), pm.get("max_drawdown_pct", "-"), str(pm.get("trades", "-")),
                      p.get("status_reason") or pm.get("end_reason", ""))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(gov_app, name="gov")
