"""`hl-agent venue serve`: run the local Hyperliquid emulator in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION

venue_app = typer.Typer(help="The local Hyperliquid emulator (the default paper venue).", no_args_is_help=True)


@venue_app.command("serve")
def serve(
    data: Optional[Path] = typer.Option(None, "--data", help="Replay CSV data from this folder (see `hl-agent data`)."),
    synthetic: bool = typer.Option(False, "--synthetic", help="Replay the built-in synthetic market (the default)."),
    port: int = typer.Option(3001, "--port", min=0, max=65535, help="TCP port on 127.0.0.1 (0 picks a free one)."),
    speedup: Optional[float] = typer.Option(None, "--speedup", help="Simulated seconds per wall second "
                                            "(default: venue.speedup from the config)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (keep it on loopback)."),
    spot: Optional[list[str]] = typer.Option(None, "--spot", help="List a spot token priced by a coin's bars, "
                                             "TOKEN=COIN (e.g. UBTC=BTC: pair @1); repeatable."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve Hyperliquid's /info and /exchange over the venue model until Ctrl-C."""
    from hyperliquid_agent.cli.common import console, fail, load, print_json
    from hyperliquid_agent.errors import HLAgentError

    if data is not None and synthetic:
        fail("choose one of --data DIR or --synthetic")
    if speedup is not None and speedup <= 0:
        fail("--speedup must be positive (simulated seconds per wall second)")
    spot_tokens: dict[str, str] = {}
    for item in spot or []:
        token, sep, coin = item.partition("=")
        if not sep or not token.strip() or not coin.strip():
            fail(f"--spot {item!r}: write TOKEN=COIN, e.g. --spot UBTC=BTC")
        if token.strip() in spot_tokens:
            fail(f"--spot {token.strip()} is given twice ({spot_tokens[token.strip()]} and {coin.strip()}); "
                 "a token tracks one coin: give each --spot its own TOKEN")
        spot_tokens[token.strip()] = coin.strip()
    cfg = load(config)
    from hyperliquid_agent.exchange.emulator import EmulatorServer
    from hyperliquid_agent.exchange.factory import build_venue_model

    base = cfg.source_path.parent if cfg.source_path else None  # for [venue] data_dir only:
    # --data is a path typed on the command line, so it is relative to where the user stands
    folder = data.resolve() if data is not None else None
    try:
        model = build_venue_model(cfg.venue, data_dir=folder, synthetic=True if synthetic else None, base=base,
                                  spot_tokens=spot_tokens)
    except HLAgentError as exc:
        fail(str(exc))  # fail() escapes rich markup itself
    except OSError as exc:  # reading the data (a file it may not read, say)
        fail(f"cannot read the data: {exc.strerror or exc} ({exc.filename or folder or cfg.venue.data_dir})")
    try:
        server = EmulatorServer(model, host=host, port=port,
                                speedup=speedup if speedup is not None else cfg.venue.speedup)
        server._bind()
    except OSError as exc:
        import errno

        fix = "Pick an address of this machine for --host (127.0.0.1 keeps it on loopback)." \
            if exc.errno == errno.EADDRNOTAVAIL else "Pick another --port."
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. {fix}")
    rate = speedup if speedup is not None else cfg.venue.speedup
    timeline = model.feed.timeline
    end_ms = timeline[-1] if timeline else server.now_ms()
    info = {"url": server.url, "coins": sorted(model.specs),
            "spot": {p.name: f"{p.token}/USDC" for p in model.spot}, "now_ms": server.now_ms(),
            "end_ms": end_ms, "speedup": rate}
    if as_json:
        print_json(info)
    else:
        console().print(f"emulator listening on [bold]{server.url}[/] ({', '.join(info['coins'])}); "
                        f"set hyperliquid.base_url or venue.url to it. Ctrl-C stops.")
        console().print(_data_horizon(server.now_ms(), end_ms, rate), highlight=False)
    server.serve()


def _data_horizon(now_ms: int, end_ms: int, speedup: float) -> str:
    """When the replay runs out: the simulated clock keeps going, but prices stand still after it."""
    from hyperliquid_agent.times import utc_minute

    wall_s = max(end_ms - now_ms, 0) / 1000 / speedup
    span = f"{wall_s / 3600:.1f} h" if wall_s >= 5400 else f"{wall_s / 60:.0f} min"
    start, end = utc_minute(now_ms, zone=True), utc_minute(end_ms, zone=True)
    return (f"simulated time starts at {start}; the data ends at {end}, {span} from now at {speedup:g}x "
            "(after that prices stand still: use more data, --synthetic with a longer venue.synthetic_days, "
            "or a lower --speedup)")


def register(app: typer.Typer) -> None:
    app.add_typer(venue_app, name="venue")
