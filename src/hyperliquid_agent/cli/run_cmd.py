"""`hl-agent run`: start the agent (paper by default), print one line per cycle and a summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from hyperliquid_agent.cli.common import (CONFIG_OPTION, CONFIRM_ENV, JSON_OPTION, console,
                                         err_console, fail, load, print_json, require_live)

ABORT_WINDOW_S = 5


def run(
    config: Path = CONFIG_OPTION,
    mode: Optional[str] = typer.Option(None, "--mode", help="standard or governed (default: agent.mode)."),
    once: bool = typer.Option(False, "--once", help="Run one cycle and exit."),
    cycles: Optional[int] = typer.Option(None, "--cycles", min=1, help="Run N cycles and exit (default: agent.cycles)."),
    forever: bool = typer.Option(False, "--forever", help="Run until stopped (Ctrl-C / SIGTERM), ignoring agent.cycles."),
    paper: bool = typer.Option(False, "--paper", help="Paper trading on the local emulator (the default network)."),
    testnet: bool = typer.Option(False, "--testnet", help="Trade on Hyperliquid testnet."),
    live: bool = typer.Option(False, "--live", help="Trade REAL money on Hyperliquid mainnet (asks to confirm)."),
    yes: bool = typer.Option(False, "--yes", help=f"With --live and {CONFIRM_ENV}=yes: skip the typed confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the agent: collect, decide, check risk, execute, record; a summary at the end."""
    if sum((paper, testnet, live)) > 1:
        fail("choose one of --paper, --testnet, --live")
    if mode is not None and mode not in ("standard", "governed"):
        fail(f"--mode must be standard or governed, got {mode!r}")
    if forever and (once or cycles is not None):
        fail("--forever runs until stopped; drop --once / --cycles")
    if once and cycles is not None:
        fail("--once is one cycle; drop it or --cycles N")
    cfg = load(config)
    if mode is not None:
        cfg.agent.mode = mode  # type: ignore[assignment]
    if paper:
        cfg.hyperliquid.network = "local"
    elif testnet:
        cfg.hyperliquid.network = "testnet"
    elif live:
        cfg.hyperliquid.network = "mainnet"
    if cfg.hyperliquid.trades_mainnet:
        require_live(cfg, live, yes)  # --live, the keys, then the typed confirmation
        _count_down()
    if forever:
        cfg.agent.cycles = None
    max_cycles = 1 if once else cycles
    _run(cfg, max_cycles, as_json)


def _count_down() -> None:
    import time

    err = err_console()
    try:
        for left in range(ABORT_WINDOW_S, 0, -1):
            err.print(f"starting in {left} s; Ctrl-C aborts", highlight=False)
            time.sleep(1)
    except KeyboardInterrupt:
        fail("aborted; nothing was started", code=1)


def _run(cfg, max_cycles: Optional[int], as_json: bool) -> None:
    import signal
    import threading

    from hyperliquid_agent.app.agent import start_agent
    from hyperliquid_agent.app.summary import render_summary, summarize_run
    from hyperliquid_agent.errors import HLAgentError

    out = console() if not as_json else err_console()
    stop = threading.Event()
    hits = {"n": 0}

    def on_signal(signum, _frame) -> None:
        hits["n"] += 1
        if hits["n"] > 1:  # a second signal: stop now (crash-only: nothing is lost)
            os._exit(130)
        stop.set()
        err_console().print(f"[yellow]{signal.Signals(signum).name}: finishing the current cycle, then stopping "
                            "(again to stop at once)[/]")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_check(item: dict) -> None:
        mark = "[green]ok[/]" if item["ok"] else "[yellow]!![/]"
        out.print(f"{mark} {item['check']:<10} {item['detail']}", highlight=False, soft_wrap=True)

    def on_record(rec: dict) -> None:
        from hyperliquid_agent.logs import cycle_fields

        f = cycle_fields(rec)
        err = f" [red]errors: {'; '.join(rec.get('errors') or [])}[/]" if f["errors"] else ""
        regime = f" {f['regime']}" if f["regime"] else ""
        plan = f" plan={f['plan_id']}" if f["plan_id"] else ""
        equity = f"{float(f['equity']):,.2f}" if f["equity"] is not None else "-"
        out.print(f"{rec.get('cycle_id')} {rec.get('time')}{regime}{plan} {f['decision']} | orders {f['orders']} "
                  f"| equity {equity} | llm ${f['cost_usd']}{err}", highlight=False, markup=True, soft_wrap=True)

    agent = None
    try:
        agent = start_agent(cfg, max_cycles=max_cycles, stop=stop, on_check=on_check, on_record=on_record,
                            approver=_terminal_approver())
        result = agent.run()
    except HLAgentError as exc:
        fail(str(exc))
    finally:
        if agent is not None:
            agent.close()
        for s, h in previous.items():
            signal.signal(s, h)
    summary = summarize_run(result.records)
    summary["stopped_by_signal"] = result.stopped_by_signal
    summary["data_exhausted"] = result.data_exhausted
    summary["recovered_cycles"] = [r.get("cycle_id") for r in result.recovered]
    if as_json:
        print_json(summary)
        return
    render_summary(out, summary)
    if result.stopped_by_signal:
        out.print("[yellow]stopped by signal after finishing the cycle in progress; state saved[/]")
    if result.data_exhausted:
        out.print("[yellow]the paper session reached the end of its market data (\\[venue] synthetic_days or "
                  "data_dir); state saved[/]", soft_wrap=True)
    out.print(f"state: {cfg.state_dir}  |  inspect: hl-agent status, hl-agent audit tail", highlight=False)


def _terminal_approver():
    """Orders above risk.approval_above_usd: asked at the terminal; with no terminal, denied (None)."""
    import sys

    if not sys.stdin.isatty():
        return None

    def approve(intent) -> bool:
        return typer.confirm(f"approve {intent.side.value} {intent.size} {intent.coin} @ {intent.limit_price} "
                             f"(about {intent.notional:,.2f} USDC)?", default=False)

    return approve


def register(app: typer.Typer) -> None:
    app.command("run")(run)
