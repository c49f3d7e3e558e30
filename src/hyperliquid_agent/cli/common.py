"""Shared CLI plumbing: one console, config loading that turns errors into exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from hyperliquid_agent.errors import HLAgentError

CONFIRM_ENV = "HL_AGENT_CONFIRM_MAINNET"
CONFIRM_WORD = "LIVE"

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="Path to config.toml (default: ./config.toml, else the embedded default).")
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


def console():  # rich is imported lazily to keep `hl-agent --help` fast
    from rich.console import Console

    return Console()


def err_console():
    from rich.console import Console

    return Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    from hyperliquid_agent.logs import scrub_text

    # scrub: an error may quote a URL with credentials or an SDK's echo of the key;
    # escape: messages name config sections like [venue], which rich would eat as markup
    err_console().print(f"[bold red]error:[/] {escape(scrub_text(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load(config_path: Path | None):
    """Load and validate the config, or exit 2 with the loader's message. From here on every log
    record of the process (the vendor SDKs' too) and every error printed is scrubbed of its secrets."""
    from hyperliquid_agent.audit import secret_values
    from hyperliquid_agent.config import load_config
    from hyperliquid_agent.logs import guard_log_records

    guard_log_records()
    try:
        cfg = load_config(config_path)
    except HLAgentError as exc:
        fail(str(exc))
    guard_log_records(secret_values(cfg))
    return cfg


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def require_live(cfg: Any, live: bool, yes: bool) -> None:
    """The gate before anything that can trade on mainnet (`run`, `order ...`): it needs the --live
    flag, the keys it will use, and a typed LIVE (or --yes with HL_AGENT_CONFIRM_MAINNET=yes).
    Nothing is sent to the venue before this returns; a config that does not trade on mainnet passes."""
    hl = cfg.hyperliquid
    if not hl.trades_mainnet:
        return
    if not live:
        if hl.network == "mainnet":
            fail(f"{cfg.source_path or 'config'}: network = \"mainnet\" trades real money and needs the --live flag. "
                 "Use --testnet or --paper otherwise.")
        fail(f"{cfg.source_path or 'config'}: hyperliquid.base_url ({hl.base_url}) is the mainnet API, whatever "
             f"network = \"{hl.network}\" says, and trades real money: it needs the --live flag. To trade "
             "elsewhere, remove hyperliquid.base_url or point it at the testnet API or a local emulator.")
    try:
        cfg.check_required()  # a missing key fails before the confirmation, not after
    except HLAgentError as exc:
        fail(str(exc))
    confirm_real_money(yes)


def confirm_real_money(yes: bool) -> None:
    """The mainnet banner, then a typed LIVE; with --yes, HL_AGENT_CONFIRM_MAINNET=yes instead."""
    import os

    err = err_console()
    err.print("[bold white on red]  LIVE TRADING ON HYPERLIQUID MAINNET: REAL MONEY  [/]")
    err.print("Orders this agent places are real and cannot be undone. Risk limits: see \\[risk] in your config.")
    if yes:
        if os.environ.get(CONFIRM_ENV) != "yes":
            fail(f"--yes needs the environment variable {CONFIRM_ENV}=yes for an unattended mainnet run. "
                 f"Set it with: export {CONFIRM_ENV}=yes")
        return
    try:
        typed = input(f"Type {CONFIRM_WORD} to trade real money: ")
    except EOFError:
        typed = ""
    if typed.strip() != CONFIRM_WORD:
        fail(f"not confirmed (expected {CONFIRM_WORD!r}); nothing was sent to the venue", code=1)
