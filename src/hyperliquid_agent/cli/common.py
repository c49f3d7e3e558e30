"""Shared CLI plumbing: one console, config loading that turns errors into exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from hyperliquid_agent.errors import HLAgentError

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
