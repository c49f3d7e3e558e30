"""`hl-agent status`: what the agent last saved. Reads state only; never starts the agent."""

from __future__ import annotations

from pathlib import Path

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, load, print_json


def status(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Account, positions, active plan and dwell remaining, regime, trading state, today's LLM cost."""
    from hyperliquid_agent.app.status import read_status

    cfg = load(config)
    report = read_status(cfg.state_dir)
    if as_json:
        print_json(report)
        return
    from hyperliquid_agent.app.summary import render_status

    render_status(console(), report)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
