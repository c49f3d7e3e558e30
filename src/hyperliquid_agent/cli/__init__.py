"""The `hl-agent` command line. Thin: parse arguments, call the app, render with rich.

Each command group lives in its own module; vendor SDKs are imported inside commands
so `hl-agent --help` stays fast. Help is rendered by plain click formatting
(`rich_markup_mode=None`): typer's rich help imports rich.markdown and friends, which
costs more than the rest of start-up. Command output still uses rich.
"""

from __future__ import annotations

import typer

from hyperliquid_agent import __version__
from hyperliquid_agent.cli import config_cmd
from hyperliquid_agent.cli import gov_cmd
from hyperliquid_agent.cli import prompt_cmd, strategies_cmd
from hyperliquid_agent.cli import audit_cmd, run_cmd, status_cmd
from hyperliquid_agent.cli import order_cmd
from hyperliquid_agent.cli import backtest_cmd
from hyperliquid_agent.cli import costs_cmd, llm_cmd
from hyperliquid_agent.cli import data_cmd, venue_cmd

app = typer.Typer(
    name="hl-agent",
    help="LLM decision engine for Hyperliquid: governed plans, risk policy, paper trading and backtests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hl-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    pass


config_cmd.register(app)
gov_cmd.register(app)
strategies_cmd.register(app)
prompt_cmd.register(app)
audit_cmd.register(app)
status_cmd.register(app)
run_cmd.register(app)
order_cmd.register(app)
backtest_cmd.register(app)
llm_cmd.register(app)
costs_cmd.register(app)
venue_cmd.register(app)
data_cmd.register(app)

# Sub-apps are typer.Typer instances in their own modules; give them the same plain help.
for _group in app.registered_groups:
    if _group.typer_instance is not None:
        _group.typer_instance.rich_markup_mode = None


def main() -> None:
    app()
