"""Emulator throughput: Info requests per second through hyperliquid-python-sdk on loopback.

Target: >= 300 info requests/s. Also prints signed exchange actions per second (an order
placed and canceled: signing in the SDK + signer recovery in the emulator).
Run: .venv/bin/python bench/bench_emulator.py
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal

import eth_account
from hyperliquid.info import Info

from _machine import describe

from hyperliquid_agent.domain import OrderIntent, Side, Tif, round_price
from hyperliquid_agent.domain.verdicts import _ISSUER_KEY, Approved, ApprovedOrder
from hyperliquid_agent.exchange.emulator import EmulatorServer
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed

SECONDS = 3.0


def rate(label: str, fn, seconds: float = SECONDS) -> float:
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        fn(n)
        n += 1
    per_s = n / elapsed
    print(f"{label:<48} {per_s:8.0f} /s   ({n} in {elapsed:.2f} s)")
    return per_s


def main() -> None:
    print(describe())
    feed = synthetic_feed(seed=7, days=60)
    model = VenueModel(feed, start_ms=feed.start_ms + 30 * 24 * 3_600_000)
    with EmulatorServer(model) as server:
        key = "0x" + secrets.token_hex(32)
        user = eth_account.Account.from_key(key).address
        server.create_account(user, 100_000)
        meta = Info(server.url, skip_ws=True).meta()
        info = Info(server.url, skip_ws=True, meta=meta, spot_meta={"tokens": [], "universe": []})
        now = server.now_ms()
        calls = [
            lambda: info.all_mids(),
            lambda: info.user_state(user),
            lambda: info.l2_snapshot("BTC"),
            lambda: info.meta_and_asset_ctxs(),
            lambda: info.candles_snapshot("ETH", "1h", now - 48 * 3_600_000, now),
            lambda: info.open_orders(user),
        ]
        info.all_mids()
        mixed = rate("info requests, mixed (SDK Info, keep-alive)", lambda i: calls[i % len(calls)]())
        rate("info requests, allMids only", lambda i: info.all_mids())
        ex = HyperliquidExchange(server.url, key)
        ex.asset_specs()
        spec = ex.asset_specs()["BTC"]
        px = round_price(ex.market_snapshot().mids["BTC"] * Decimal("0.9"), spec.sz_decimals)
        order = ApprovedOrder._issue(OrderIntent(coin="BTC", side=Side.BUY, size=Decimal("0.001"), limit_price=px,
                                                 tif=Tif.GTC), Approved(), _ISSUER_KEY)

        def place_cancel(_i: int) -> None:
            [out] = ex.place_orders([order])
            ex.cancel("BTC", out.oid)

        actions = 2 * rate("order + cancel pairs (adapter, signed)", place_cancel)
        print(f"{'exchange actions':<48} {actions:8.0f} /s")
        print(f"target: >= 300 info requests/s -> {'OK' if mixed >= 300 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
