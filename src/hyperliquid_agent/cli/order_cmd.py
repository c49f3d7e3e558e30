"""`hl-agent order buy|sell|close|cancel`: manual orders through the same risk policy and executor."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, CONFIRM_ENV, JSON_OPTION, console, fail, load, print_json
from hyperliquid_agent.cli.common import require_live

order_app = typer.Typer(help="Place, close or cancel one order by hand (risk-checked, asks first), or re-arm the "
                        "circuit breaker.", no_args_is_help=True)

YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (counts as approval).")
LIVE_OPTION = typer.Option(False, "--live", help="Needed when the config trades on mainnet (REAL money); asks to type "
                           f"LIVE, or with --yes needs {CONFIRM_ENV}=yes.")
PRICE_OPTION = typer.Option(None, "--price", "-p", help="Limit price (GTC). Without it: a market order (IOC at the slippage bound).")


def _decimal(text: str | None, name: str) -> Decimal | None:
    if text is None:
        return None
    from hyperliquid_agent.domain import to_decimal

    try:
        value = to_decimal(text)
    except ValueError:
        fail(f"{name} must be a number, got {text!r}")
    if value <= 0:
        fail(f"{name} must be positive, got {text}")
    return value


def open_exchange(cfg: Any) -> tuple[Any, Callable[[], None]]:
    """The configured venue (`exchange.factory.build_exchange`); tests swap this seam for a fake port."""
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.exchange.factory import build_exchange

    try:
        return build_exchange(cfg)
    except HLAgentError as exc:
        fail(str(exc))


def interactive() -> bool:
    """Whether someone can answer a prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not interactive():
        fail("not a terminal, so nobody can confirm: pass --yes to place the order", code=1)
    return typer.confirm(question, default=False)


def _describe(intent: Any) -> str:
    from hyperliquid_agent.domain import LeverageIntent

    if isinstance(intent, LeverageIntent):
        return f"{intent.coin} leverage set to {intent.leverage}x {'cross' if intent.is_cross else 'isolated'}"
    kind = "market (IOC, bound" if intent.is_market else f"limit {intent.tif.value} ("
    flags = " reduce-only" if intent.reduce_only else ""
    return (f"{intent.side.value.upper()} {intent.size} {intent.coin} {intent.market_type.value}{flags}, "
            f"{kind} {intent.limit_price}), about ${intent.size * intent.limit_price:.2f}")


def _place(action: str, coin: str, size: Optional[str], price: Optional[str], reduce_only: bool, yes: bool,
           config: Optional[Path], as_json: bool, live: bool) -> None:
    from hyperliquid_agent.manual_orders import prepare_order, submit_order
    from hyperliquid_agent.store import StateStore

    cfg = load(config)
    require_live(cfg, live, yes)  # mainnet: --live and the typed confirmation before the venue is contacted
    exchange, close = open_exchange(cfg)
    try:
        try:
            prepared = prepare_order(exchange, cfg, action, coin, _decimal(size, "SIZE"),
                                     price=_decimal(price, "--price"), reduce_only=reduce_only)
        except ValueError as exc:
            fail(str(exc))
        network = "mainnet" if cfg.hyperliquid.trades_mainnet else cfg.hyperliquid.network  # (a mainnet base_url)
        text = f"{', then '.join(_describe(i) for i in prepared.intents)} on {network}"
        if not as_json:
            console().print(f"order: {text}")
        if not _confirm(f"Send {text}?", yes):
            fail("cancelled; nothing was sent", code=1)
        store = StateStore.in_dir(cfg.state_dir)
        try:
            report = submit_order(exchange, store, cfg, prepared, approver=lambda intent: True)
        finally:
            store.close()
    finally:
        close()
    _render(report, as_json, cfg.portfolio.market_slippage_bps)
    if not any(o.status in ("filled", "partial", "resting") for o in report.orders):
        raise typer.Exit(1)


def _render(report: Any, as_json: bool, slippage_bps: Decimal) -> None:
    if as_json:
        print_json(report.to_audit())
        return
    from rich.table import Table

    from hyperliquid_agent.exchange.venue_types import ERR_IOC

    table = Table("cloid", "order", "status", "filled", "avg px", "detail")
    for o in report.orders:
        i = o.intent
        table.add_row(o.cloid or "-", f"{i.side.value} {i.size} {i.coin}", o.status,
                      str(o.filled_size or ""), str(o.avg_price or ""), o.error or "")
    out = console()
    out.print(table)
    if report.fills:
        out.print(f"fees: ${report.fees}")
    for e in report.errors:
        out.print(f"[yellow]warning:[/] {e}")
    if any(o.intent.is_market and (o.error or "").startswith(ERR_IOC) for o in report.orders):
        out.print(f"hint: the price moved past the market order's bound ({slippage_bps} bps from the price read "
                  "just before) before it reached the venue. Send it again, or widen [portfolio] "
                  "market_slippage_bps; on `hl-agent venue serve`, a lower --speedup moves prices more slowly.",
                  markup=False, highlight=False)


@order_app.command("buy")
def buy(coin: str = typer.Argument(..., help="Asset name, e.g. BTC."),
        size: str = typer.Argument(..., help="Size in coin units (rounded down to the asset's precision)."),
        price: Optional[str] = PRICE_OPTION,
        reduce_only: bool = typer.Option(False, "--reduce-only", help="Only reduce an existing short."),
        yes: bool = YES_OPTION, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
        live: bool = LIVE_OPTION) -> None:
    """Buy SIZE of COIN."""
    _place("buy", coin, size, price, reduce_only, yes, config, as_json, live)


@order_app.command("sell")
def sell(coin: str = typer.Argument(..., help="Asset name, e.g. BTC."),
         size: str = typer.Argument(..., help="Size in coin units (rounded down to the asset's precision)."),
         price: Optional[str] = PRICE_OPTION,
         reduce_only: bool = typer.Option(False, "--reduce-only", help="Only reduce an existing long."),
         yes: bool = YES_OPTION, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
         live: bool = LIVE_OPTION) -> None:
    """Sell SIZE of COIN (opens or adds to a short on perps)."""
    _place("sell", coin, size, price, reduce_only, yes, config, as_json, live)


@order_app.command("close")
def close_position(coin: str = typer.Argument(..., help="Asset whose position to close."),
                   size: Optional[str] = typer.Option(None, "--size", "-s", help="Close only this much (default: all)."),
                   price: Optional[str] = PRICE_OPTION,
                   yes: bool = YES_OPTION, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
                   live: bool = LIVE_OPTION) -> None:
    """Close a position: the opposite side of its signed size, reduce-only."""
    _place("close", coin, size, price, True, yes, config, as_json, live)


@order_app.command("cancel")
def cancel(coin: str = typer.Argument(..., help="Asset of the resting order."),
           oid: Optional[int] = typer.Option(None, "--oid", help="The venue's order id."),
           cloid: Optional[str] = typer.Option(None, "--cloid", help="Our client order id (0x + 32 hex)."),
           yes: bool = YES_OPTION, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
           live: bool = LIVE_OPTION) -> None:
    """Cancel one resting order by --oid or --cloid."""
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.exchange import wire
    from hyperliquid_agent.manual_orders import cancel_order

    if (oid is None) == (cloid is None):
        fail("give exactly one of --oid N or --cloid 0x...")
    if cloid is not None and not wire.is_cloid(cloid):
        fail(f"--cloid {cloid!r} is not a client order id: write 0x and 32 hex digits "
             "(the cloid column of hl-agent audit show)")
    cfg = load(config)
    require_live(cfg, live, yes)
    what = f"{coin} order {'oid ' + str(oid) if oid is not None else 'cloid ' + str(cloid)}"
    if not _confirm(f"Cancel {what}?", yes):
        fail("nothing was cancelled", code=1)
    exchange, close = open_exchange(cfg)
    try:
        ok = cancel_order(exchange, coin, oid=oid, cloid=cloid)
    except HLAgentError as exc:
        fail(str(exc))
    finally:
        close()
    if as_json:
        print_json({"coin": coin, "oid": oid, "cloid": cloid, "cancelled": ok})
    else:
        console().print(f"{what}: {'cancelled' if ok else 'not cancelled (already filled, cancelled or unknown)'}")
    if not ok:
        raise typer.Exit(1)


@order_app.command("reset-breaker")
def reset_breaker(yes: bool = YES_OPTION, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Re-arm the risk circuit breaker: set the consecutive order failures to 0 (other counters kept)."""
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.risk_store import load_counters, reset_circuit_breaker
    from hyperliquid_agent.store import StateStore

    cfg = load(config)
    store = StateStore.in_dir(cfg.state_dir)
    try:
        try:
            failures = load_counters(store).consecutive_failures
            limit = cfg.risk.circuit_breaker_failures
            if failures and not _confirm(f"{failures} consecutive order failures (breaker trips at {limit}); "
                                         "reset to 0 and allow new risk again?", yes):
                fail("the circuit breaker was left as it is", code=1)
            before = reset_circuit_breaker(store)
        except HLAgentError as exc:
            fail(str(exc))
    finally:
        store.close()
    if as_json:
        print_json({"consecutive_failures_before": before, "consecutive_failures": 0,
                    "circuit_breaker_failures": limit, "was_tripped": before >= limit})
    else:
        state = "was tripped" if before >= limit else "was not tripped"
        console().print(f"circuit breaker: {before} consecutive failures -> 0 ({state}; trips at {limit})")


def register(app: typer.Typer) -> None:
    app.add_typer(order_app, name="order")
