"""Helpers for the emulator / adapter tests: a venue over synthetic data, funded keys,
and approved orders (only the risk policy issues those in product code)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any, Iterator

import pytest

from hyperliquid_agent.domain import OrderIntent, Side, Tif, round_price, round_size
from hyperliquid_agent.domain.verdicts import _ISSUER_KEY, Approved, ApprovedOrder
from hyperliquid_agent.exchange.emulator import EmulatorServer
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed

DAY_MS = 24 * 3_600_000


def make_server(days: int = 20, start_day: int = 10, seed: int = 11) -> EmulatorServer:
    feed = synthetic_feed(seed=seed, days=days)
    model = VenueModel(feed, start_ms=feed.start_ms + start_day * DAY_MS)
    return EmulatorServer(model)


def running_server(scope: str = "module", **kwargs) -> Any:
    """A pytest fixture: `make_server(**kwargs)` started for the tests of `scope`, stopped after.
    In a test module: `server = running_server(seed=5)`."""

    @pytest.fixture(scope=scope)
    def server() -> Iterator[EmulatorServer]:
        srv = make_server(**kwargs)
        srv.start()
        yield srv
        srv.stop()

    return server


def new_key() -> str:
    return "0x" + secrets.token_hex(32)


def address_of(key: str) -> str:
    import eth_account

    return eth_account.Account.from_key(key).address.lower()


def funded_exchange(server: EmulatorServer, usdc: int = 10_000, **kwargs) -> HyperliquidExchange:
    key = new_key()
    server.create_account(address_of(key), usdc)
    return HyperliquidExchange(server.url, key, **{"max_retries": 2, "backoff_s": 0.001, **kwargs})


def approved(intent: OrderIntent) -> ApprovedOrder:
    return ApprovedOrder._issue(intent, Approved(), _ISSUER_KEY)


def market_order(ex: HyperliquidExchange, coin: str, side: Side, size: str, *, reduce_only: bool = False,
                 slip: str = "0.02", cloid: str | None = None) -> ApprovedOrder:
    """An IOC limit a few percent through the mid: a market order the way the SDK does it."""
    spec = ex.asset_specs()[coin]
    mid = ex.market_snapshot().mids[coin]
    px = mid * (1 + Decimal(slip) * side.sign)
    return approved(OrderIntent(coin=coin, side=side, size=round_size(Decimal(size), spec.sz_decimals),
                                limit_price=round_price(px, spec.sz_decimals), tif=Tif.IOC,
                                reduce_only=reduce_only, is_market=True, cloid=cloid))


def limit_order(ex: HyperliquidExchange, coin: str, side: Side, size: str, away: str, *, tif: Tif = Tif.GTC,
                cloid: str | None = None, reduce_only: bool = False) -> ApprovedOrder:
    """A limit `away` (fraction) on the passive side of the mid."""
    spec = ex.asset_specs()[coin]
    mid = ex.market_snapshot().mids[coin]
    px = mid * (1 - Decimal(away) * side.sign)
    return approved(OrderIntent(coin=coin, side=side, size=Decimal(size), limit_price=round_price(px, spec.sz_decimals),
                                tif=tif, cloid=cloid, reduce_only=reduce_only))


def cloid(n: int) -> str:
    return "0x" + f"{n:032x}"
