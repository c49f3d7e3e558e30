"""`hl-agent config check` and `hl-agent init DIR`."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, fail, load, print_json

config_app = typer.Typer(help="Inspect and validate config.toml.", no_args_is_help=True)


@config_app.command("check")
def check(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Print the resolved config (secrets masked); exit non-zero on any error."""
    from hyperliquid_agent.config import masked_dump
    from hyperliquid_agent.errors import HLAgentError

    cfg = load(config)
    try:
        cfg.check_required()
        key = cfg.hyperliquid.secret_key
        if key is not None and key.get_secret_value():
            # the shape `run` and `order` sign with (a typo such as "${HL_SECRET_KEY" stays a literal)
            from hyperliquid_agent.exchange.hyperliquid import wallet_from_key

            wallet_from_key(key.get_secret_value())
    except HLAgentError as exc:
        fail(str(exc))
    data = masked_dump(cfg)
    if as_json:
        print_json({"source": str(cfg.source_path), "config": data})
        return
    from rich.pretty import Pretty

    out = console()
    out.print(f"[bold]config:[/] {cfg.source_path}")
    out.print(Pretty(data, expand_all=False))
    out.print("[green]config OK[/]")


def init(
    directory: Path = typer.Argument(..., help="Folder to write config.toml, calendar.example.toml, prompts/ and strategies/ into."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that already exist."),
) -> None:
    """Write editable copies of the default config, event calendar, prompts and strategies."""
    from hyperliquid_agent.config import DEFAULT_CONFIG_NAME, defaults_dir

    src = defaults_dir()
    directory.mkdir(parents=True, exist_ok=True)
    items = [DEFAULT_CONFIG_NAME, "calendar.example.toml", "prompts", "strategies"]
    existing = [directory / name for name in items if (directory / name).exists()]
    if existing and not force:
        fail("already exists: " + ", ".join(str(p) for p in existing) + ". Use --force to overwrite.")
    for name in items:
        source, target = src / name, directory / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    console().print(f"wrote {', '.join(items)} to {directory}. Edit them, then: hl-agent run -c {directory / DEFAULT_CONFIG_NAME}")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.command("init")(init)
