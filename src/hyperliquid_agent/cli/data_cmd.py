"""`hl-agent data download` and `hl-agent data import`: market data for the venue model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION

data_app = typer.Typer(help="Download or import candles and funding history (CSV).", no_args_is_help=True)

DEFAULT_DATA_URL = "https://api.hyperliquid.xyz"  # public market data needs no key


def parse_time_ms(text: str, option: str) -> int:
    """Milliseconds since the epoch from `1717200000000`, `2024-06-01` or `2024-06-01T12:00` (UTC)."""
    from datetime import datetime, timezone

    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; use YYYY-MM-DD, YYYY-MM-DDTHH:MM or epoch ms",
                                 param_hint=option) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


@data_app.command("download")
def download(
    coins: str = typer.Option(..., "--coins", help="Comma-separated coins, e.g. BTC,ETH."),
    interval: str = typer.Option("1h", "--interval", help="Candle interval (1m 5m 15m 1h 4h 1d ...)."),
    start: str = typer.Option(..., "--start", help="Start, UTC: YYYY-MM-DD[THH:MM] or epoch ms."),
    end: Optional[str] = typer.Option(None, "--end", help="End, UTC (default: now)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Data folder (default: venue.data_dir, else ./data)."),
    url: Optional[str] = typer.Option(None, "--url", help=f"API base URL (default: {DEFAULT_DATA_URL})."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Page candles and funding into CSV files; resumes from what the folder already holds."""
    from hyperliquid_agent.cli.common import console, err_console, fail, load, print_json
    from hyperliquid_agent.errors import DataFileError, HLAgentError
    from hyperliquid_agent.exchange.download import Downloader
    from hyperliquid_agent.exchange.nonce import wall_clock_ms

    cfg = load(config)
    names = list(dict.fromkeys(c.strip() for c in coins.split(",") if c.strip()))  # each coin once
    if not names:
        fail("--coins needs at least one coin, e.g. --coins BTC,ETH")
    start_ms = parse_time_ms(start, "--start")
    end_ms = parse_time_ms(end, "--end") if end else wall_clock_ms()
    folder = out or (cfg.resolve_path(cfg.venue.data_dir) if cfg.venue.data_dir else Path("data"))
    progress = None if as_json else (lambda msg: err_console().print(msg, highlight=False))
    source = (url or DEFAULT_DATA_URL).rstrip("/")
    if not source.startswith(("http://", "https://")):
        fail(f"--url {url!r}: give the API's base URL, e.g. {DEFAULT_DATA_URL} or http://127.0.0.1:3001 (an emulator)")
    try:
        reports = Downloader(source, folder, timeout_s=cfg.hyperliquid.timeout_s,
                             progress=progress).run(names, interval, start_ms, end_ms)
    except ValueError as exc:  # the arguments: dates, interval, a coin the venue does not list
        fail(str(exc))  # fail() escapes rich markup itself
    except DataFileError as exc:  # --out, or a file already in the folder, which the resume reads first
        fail(str(exc) if exc.path == str(folder) else
             f"{exc}; fix the file or move it away (the download resumes from the rows in it)")
    except OSError as exc:  # writing the files: a full disk, no permission
        fail(f"cannot write into {folder}: {exc.strerror or exc} ({exc.filename or folder})")
    except HLAgentError as exc:
        fail(f"{source}: {exc}")
    if interval != "1h" and not as_json:
        err_console().print(f"note: the simulated venue and backtests replay <COIN>_1h_candles.csv; "
                            f"these {interval} candles are kept in {folder} but not read by them.", highlight=False)
    if not as_json:
        _note_short_history(reports, interval, start_ms)
    rows = [vars(r) for r in reports]
    if as_json:
        print_json({"out": str(folder), "coins": rows})
        return
    from rich.table import Table

    table = Table(title=f"downloaded into {folder}")
    for col in ("coin", "candles added", "candles total", "funding added", "funding total", "requests"):
        table.add_column(col, justify="left" if col == "coin" else "right")
    for r in reports:
        table.add_row(r.coin, str(r.candles_added), str(r.candles_total), str(r.funding_added),
                      str(r.funding_total), str(r.requests))
    console().print(table)


def _note_short_history(reports: list, interval: str, start_ms: int) -> None:
    """Say when the candles do not reach back to --start: the venue keeps only the most recent
    5000 candles of an interval (about 208 days of 1h), so an earlier start silently gets less."""
    from hyperliquid_agent.cli.common import err_console
    from hyperliquid_agent.exchange.feed import interval_ms
    from hyperliquid_agent.times import utc_minute

    iv = interval_ms(interval)
    for r in reports:
        # (within one interval of --start: the first candle there is, whatever the buckets' alignment)
        if r.candles_from is not None and r.candles_from < start_ms + iv:
            continue
        got = (f"from {utc_minute(r.candles_from, True)} on" if r.candles_from is not None else "none")
        err_console().print(f"note: {r.coin}: the venue served {interval} candles {got}, not from --start "
                            f"({utc_minute(start_ms, True)}); it keeps only the most recent 5000 candles of each "
                            f"interval (and none from before a coin was listed)", highlight=False)


@data_app.command("import")
def import_files(
    files: List[Path] = typer.Argument(..., help="CSV files: <COIN>_<interval>_candles.csv, <COIN>_funding.csv, "
                                       "<COIN>_<interval>_context.csv, or meta.json."),
    out: Path = typer.Option(..., "--out", help="Data folder to copy them into."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate CSV files with the venue's loader, then copy them into the data folder."""
    from rich.markup import escape

    from hyperliquid_agent.cli.common import console, fail, print_json
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.exchange.data_import import import_data_files

    try:
        imported = import_data_files(files, out)
    except HLAgentError as exc:
        fail(str(exc))  # fail() escapes rich markup itself
    except OSError as exc:  # reading a file or writing the folder: no permission, a full disk
        fail(f"cannot import into {out}: {exc.strerror or exc} ({exc.filename or out})")
    if as_json:
        print_json({"out": str(out), "files": imported})
        return
    for item in imported:
        line = f"imported {item['file']} ({item['kind']}, {item['rows']} rows)"
        if item["replaced"] is not None:
            was = "an unreadable copy" if item["replaced"] < 0 else f"the {item['replaced']} rows"
            line += f", replacing {was} that {item['path']} held"
        console().print(escape(line))


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
