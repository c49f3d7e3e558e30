"""`hl-agent strategies list | show ID | validate [DIR]`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, fail, load, print_json

strategies_app = typer.Typer(help="List, show and validate the strategy library (strategies/*.md).", no_args_is_help=True)


def _library(config: Path | None):
    from hyperliquid_agent.errors import StrategyError
    from hyperliquid_agent.strategies import load_strategies

    cfg = load(config)
    folder = cfg.resolve_path(cfg.agent.strategies_dir)
    try:
        return folder, load_strategies(folder)
    except StrategyError as exc:
        fail(f"{exc}\nRun: hl-agent strategies validate {folder}")


def _facts(s) -> dict:
    data = s.model_dump(mode="json")
    data.pop("description", None)
    return data


@strategies_app.command("list")
def list_strategies(
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
    regime: Optional[str] = typer.Option(None, "--regime", help="Only the strategies that fit this regime."),
) -> None:
    """Show every strategy with its regimes, horizon, dwell and limits."""
    from hyperliquid_agent.domain.regime import parse_regime

    folder, specs = _library(config)
    if regime is not None:
        try:
            wanted = parse_regime(regime)
        except ValueError as exc:
            fail(f"--regime: {exc}")
        specs = [s for s in specs if s.fits(wanted)]
    if as_json:
        print_json({"strategies_dir": str(folder), "strategies": [_facts(s) for s in specs]})
        return
    from rich.table import Table

    table = Table(title=f"strategies in {folder}")
    table.add_column("id", no_wrap=True)
    table.add_column("direction", min_width=14)
    table.add_column("horizon")
    table.add_column("dwell min", justify="right")
    table.add_column("regimes", min_width=15)
    for col in ("max pos %", "max lev", "switch bps"):
        table.add_column(col, justify="right")
    for s in specs:
        table.add_row(
            s.id, s.directionality, s.intended_horizon,
            "default" if s.minimum_dwell_minutes is None else str(s.minimum_dwell_minutes),
            "\n".join(s.compatible_regimes), format(s.max_position_pct.normalize(), "f"), str(s.max_leverage),
            format(s.expected_switching_cost_bps.normalize(), "f"),
        )
    console().print(table)


@strategies_app.command("show")
def show(
    strategy_id: str = typer.Argument(..., help="The strategy id, e.g. funding-carry."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print one strategy in full: its facts and its description."""
    folder, specs = _library(config)
    match = next((s for s in specs if s.id == strategy_id), None)
    if match is None:
        fail(f"no strategy {strategy_id!r} in {folder}; known: {', '.join(s.id for s in specs)}")
    if as_json:
        print_json({**_facts(match), "description": match.description, "source": match.source})
        return
    from rich.markdown import Markdown

    out = console()
    out.print(match.summary(), highlight=False, markup=False)
    out.print(f"source: {match.source}\n", highlight=False, markup=False)
    out.print(Markdown(match.description))


@strategies_app.command("validate")
def validate(
    directory: Optional[Path] = typer.Argument(None, help="Folder of *.md strategies (default: [agent] strategies_dir)."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check every strategy file; exit 1 listing ALL problems."""
    from hyperliquid_agent.errors import StrategyError
    from hyperliquid_agent.strategies import load_strategies

    if directory is None:
        cfg = load(config)
        directory = cfg.resolve_path(cfg.agent.strategies_dir)
    try:
        specs = load_strategies(directory)
    except StrategyError as exc:
        if as_json:
            print_json({"strategies_dir": str(directory), "ok": False, "problems": exc.problems})
        else:
            out = console()
            out.print(f"[bold red]{len(exc.problems)} problem(s)[/] in {directory}:", highlight=False)
            for p in exc.problems:
                out.print(f"  - {p}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if as_json:
        print_json({"strategies_dir": str(directory), "ok": True, "count": len(specs), "ids": [s.id for s in specs]})
        return
    console().print(f"[green]OK[/]: {len(specs)} strategies in {directory}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(strategies_app, name="strategies")
