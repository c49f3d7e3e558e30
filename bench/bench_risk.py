"""Risk check time per intent (target <= 50 us) and rebalance planning for 10 coins (target <= 1 ms).

Run: .venv/bin/python bench/bench_risk.py

Figures are the best of 7 repeats of this process's CPU time (`time.process_time`, as timeit
advises: the slower repeats measure other work on the machine, not this code); the wall-clock
median is printed alongside.
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


def timed(fn, repeat: int, inner: int) -> tuple[float, float]:
    """Seconds per call: (best CPU time of this process, median wall clock)."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(inner):
            fn()
        cpu.append((time.process_time() - c0) / inner)
        wall.append((time.perf_counter() - w0) / inner)
    return min(cpu), statistics.median(wall)


def main() -> None:
    acct = account()
    policy = RiskPolicy(RiskConfig(allowed_coins=COINS, max_order_usd=Decimal(10**6), max_position_usd=Decimal(10**6)))
    counters = RiskCounters().rolled(NOW, acct.portfolio_value).with_trade(Decimal(100), NOW - 1000, True)
    ctx = RiskContext(account=acct, marks=MIDS, specs=SPECS, now_ms=NOW, counters=counters)
    intents = [OrderIntent(coin=c, side=Side.BUY if i % 3 else Side.SELL, size=Decimal(1).scaleb(-SPECS[c].sz_decimals) * 50,
                           limit_price=MIDS[c], tif=Tif.IOC) for i, c in enumerate(COINS)]
    n = len(intents)
    check_cpu, check_wall = timed(lambda: [policy.check(o, ctx) for o in intents], repeat=7, inner=200)
    review_cpu, review_wall = timed(lambda: policy.review(intents, ctx), repeat=7, inner=200)

    market = MarketView(mids=MIDS, specs=SPECS)
    cfg = PortfolioConfig()
    targets = [TargetEntry(coin=c, target_pct=Decimal((i * 7) % 21 - 10)) for i, c in enumerate(COINS)]
    n_intents = len(rebalance_to_target(targets, acct, market, cfg))
    plan_cpu, plan_wall = timed(lambda: rebalance_to_target(targets, acct, market, cfg), repeat=7, inner=100)

    print(f"risk check per intent (check):           {check_cpu / n * 1e6:7.1f} us cpu  "
          f"({check_wall / n * 1e6:7.1f} us wall)   target <= 50 us")
    print(f"risk check per intent (review, batched): {review_cpu / n * 1e6:7.1f} us cpu  "
          f"({review_wall / n * 1e6:7.1f} us wall)   target <= 50 us")
    print(f"rebalance planning, 10 coins ({n_intents} intents): {plan_cpu * 1e3:7.3f} ms cpu  "
          f"({plan_wall * 1e3:7.3f} ms wall)   target <= 1 ms")

if __name__ == "__main__":
    main()
