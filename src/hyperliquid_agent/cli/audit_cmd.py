"""`hl-agent audit show | tail | replay`: read the per-cycle audit trail."""

from __future__ import annotations

from pathlib import Path

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, err_console, fail, load, print_json

audit_app = typer.Typer(help="Inspect and replay the per-cycle audit trail.", no_args_is_help=True)


def _path(config: Path | None):
    from hyperliquid_agent.audit import audit_path

    cfg = load(config)
    return cfg, audit_path(cfg.state_dir)


def _record(config: Path | None, cycle: str):
    """(config, the cycle's record), or exit 1 naming what to run to find a cycle id."""
    from hyperliquid_agent.audit import find_record
    from hyperliquid_agent.errors import HLAgentError

    cfg, path = _path(config)
    try:
        rec = find_record(path, cycle)
    except HLAgentError as exc:
        fail(str(exc))
    if rec is None:
        fail(f"no cycle {cycle!r} in {path}. List recent ones with: hl-agent audit tail", code=1)
    return cfg, rec


@audit_app.command("show")
def show(
    cycle: str = typer.Argument(..., help="Cycle id (or its sequence number)."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print one cycle's full record."""
    _, rec = _record(config, cycle)
    if as_json:
        print_json(rec)
        return
    from hyperliquid_agent.app.summary import render_record

    render_record(console(), rec)


@audit_app.command("tail")
def tail(
    n: int = typer.Option(10, "-n", "--lines", min=0, help="How many recent cycles."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing cycles as they are written (Ctrl-C stops)."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The last N cycles, one line each (JSON lines with --json)."""
    import json

    from hyperliquid_agent.audit import audit_files, tail_records
    from hyperliquid_agent.audit import follow as follow_records
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.logs import cycle_fields

    _, path = _path(config)
    out = console()
    if not audit_files(path):
        err_console().print(f"no audit trail at {path} yet: start the agent with `hl-agent run`"
                            + ("; waiting for its first cycle (Ctrl-C stops)" if follow else ""), highlight=False)

    def emit(rec: dict) -> None:
        if as_json:
            typer.echo(json.dumps(rec, separators=(",", ":")))
        else:
            f = cycle_fields(rec)
            out.print(" ".join(f"{k}={v}" for k, v in f.items() if v not in (None, "", {}, [])), highlight=False,
                      soft_wrap=True)

    try:
        for rec in tail_records(path, n):
            emit(rec)
    except HLAgentError as exc:
        fail(str(exc))
    if follow:
        try:
            for rec in follow_records(path):
                emit(rec)
        except KeyboardInterrupt:
            pass


@audit_app.command("replay")
def replay(
    cycle: str = typer.Argument(..., help="Cycle id (or its sequence number) to re-run."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-run one cycle from its recorded inputs and LLM reply; exit 1 if the orders differ."""
    from hyperliquid_agent.app.replay import replay_cycle
    from hyperliquid_agent.errors import HLAgentError

    cfg, rec = _record(config, cycle)
    try:
        result = replay_cycle(cfg, rec)
    except HLAgentError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
    else:
        out = console()
        if result["match"]:
            out.print(f"[green]replay of cycle {result['cycle_id']} reproduces its {len(result['recorded'])} order(s)[/]")
        else:
            out.print(f"[bold red]replay of cycle {result['cycle_id']} differs from the record:[/]")
            for line in result["differences"]:
                out.print(f"  - {line}", highlight=False)
    if not result["match"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
