"""Risk check time per intent (target <= 50 us) and rebalance planning for 10 coins (target <= 1 ms).

Run: .venv/bin/python bench/bench_risk.py
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

from hyperliquid_agent.config import PortfolioConfig, RiskConfig
from hyperliquid_agent.domain import AccountState, AssetSpec, OrderIntent, Position, Side, TargetEntry, Tif
from hyperliquid_agent.portfolio import MarketView, rebalance_to_target
from hyperliquid_agent.risk import RiskContext, RiskPolicy
from hyperliquid_agent.risk_counters import RiskCounters

NOW = 1_750_000_000_000
COINS = [f"C{i}" for i in range(10)]
SPECS = {c: AssetSpec(name=c, asset_id=i, sz_decimals=i % 5, max_leverage=20) for i, c in enumerate(COINS)}
MIDS = {c: Decimal(10) ** (i % 5) * Decimal("1.2345") for i, c in enumerate(COINS)}


def account() -> AccountState:
    positions = tuple(
        Position(coin=c, size=(Decimal(500) / MIDS[c]).quantize(Decimal(1).scaleb(-SPECS[c].sz_decimals))
                 * (1 if i % 2 else -1), entry_price=MIDS[c], leverage=3)
        for i, c in enumerate(COINS[:6])
    )
    return AccountState(portfolio_value=Decimal(100_000), available_balance=Decimal(80_000), positions=positions)


def timed(fn, repeat: int, inner: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t0) / inner)
    return out


def main() -> None:
    acct = account()
    policy = RiskPolicy(RiskConfig(allowed_coins=COINS, max_order_usd=Decimal(10**6), max_position_usd=Decimal(10**6)))
    counters = RiskCounters().rolled(NOW, acct.portfolio_value).with_trade(Decimal(100), NOW - 1000, True)
    ctx = RiskContext(account=acct, marks=MIDS, specs=SPECS, now_ms=NOW, counters=counters)
    intents = [OrderIntent(coin=c, side=Side.BUY if i % 3 else Side.SELL, size=Decimal(1).scaleb(-SPECS[c].sz_decimals) * 50,
                           limit_price=MIDS[c], tif=Tif.IOC) for i, c in enumerate(COINS)]
    per_intent = timed(lambda: [policy.check(o, ctx) for o in intents], repeat=7, inner=200)
    check_us = statistics.median(per_intent) / len(intents) * 1e6
    review = timed(lambda: policy.review(intents, ctx), repeat=7, inner=200)
    review_us = statistics.median(review) / len(intents) * 1e6

    market = MarketView(mids=MIDS, specs=SPECS)
    cfg = PortfolioConfig()
    targets = [TargetEntry(coin=c, target_pct=Decimal((i * 7) % 21 - 10)) for i, c in enumerate(COINS)]
    n_intents = len(rebalance_to_target(targets, acct, market, cfg))
    plan = timed(lambda: rebalance_to_target(targets, acct, market, cfg), repeat=7, inner=100)
    plan_ms = statistics.median(plan) * 1e3

    print(f"risk check per intent (check):          {check_us:8.1f} us   (target <= 50 us)")
    print(f"risk check per intent (review, batched): {review_us:8.1f} us   (target <= 50 us)")
    print(f"rebalance planning, 10 coins ({n_intents} intents): {plan_ms:8.3f} ms   (target <= 1 ms)")


if __name__ == "__main__":
    main()
