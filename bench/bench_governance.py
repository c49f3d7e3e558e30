"""Signals + regime + governor for one cycle over 3 coins with 500 hourly candles each.

Target: <= 5 ms per cycle. Prints the median and p95 of the live path (`SignalCache`, as the
loop uses it, with one new bar per coin each cycle), of the uncached path (every bar converted
from Decimal each cycle), of the cache with no new bar, and of the governance part alone. Uses the real BTC/ETH/SOL candles in
../shared/data/hyperliquid when present, a seeded random walk otherwise.

    .venv/bin/python bench/bench_governance.py
"""

from __future__ import annotations

import csv
import math
import random
import statistics
import time
from decimal import Decimal
from pathlib import Path

from hyperliquid_agent.config import GovernanceConfig, RiskConfig
from hyperliquid_agent.domain import (
    AccountState, AssetContext, BookLevel, Candle, FundingPoint, L2Book, MarketSnapshot, Position,
)
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.governance.governor import Governor
from hyperliquid_agent.governance.plan import plan_from_proposal
from hyperliquid_agent.governance.tripwires import TripwireInputs, TripwireState, evaluate_tripwires
from hyperliquid_agent.schemas import ProposedPlan, TargetSpec
from hyperliquid_agent.signals import CoinHistory, MarketHistory, SignalCache, compute_signals
from hyperliquid_agent.strategies import StrategySpec

HOUR = 3_600_000
COINS = ("BTC", "ETH", "SOL")
N = 500
CYCLES = 300
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid"


def real_candles(coin: str) -> list[Candle] | None:
    path = DATA / f"{coin}_1h_candles.csv"
    if not path.is_file():
        return None
    with path.open() as fh:
        rows = list(csv.DictReader(fh))[-(N + CYCLES):]
    return [Candle(t_ms=int(r["t_ms"]), open=Decimal(r["open"]), high=Decimal(r["high"]), low=Decimal(r["low"]),
                   close=Decimal(r["close"]), volume=Decimal(r["volume"])) for r in rows]


def synthetic_candles(seed: int, t0: int) -> list[Candle]:
    r, p, out = random.Random(seed), 100.0, []
    for i in range(N + CYCLES):
        o, p = p, p * math.exp(r.gauss(0, 0.01))
        out.append(Candle(t_ms=t0 + i * HOUR, open=Decimal(f"{o:.4f}"), high=Decimal(f"{max(o, p) * 1.002:.4f}"),
                          low=Decimal(f"{min(o, p) * 0.998:.4f}"), close=Decimal(f"{p:.4f}"), volume=Decimal(1)))
    return out


def build():
    t0 = 1_735_689_600_000
    candles = {c: real_candles(c) for c in COINS}
    source = "real ../shared/data/hyperliquid" if all(candles.values()) else "synthetic random walk"
    if source.startswith("synthetic"):
        candles = {c: synthetic_candles(i, t0) for i, c in enumerate(COINS)}
    return source, candles


def market_at(candles: dict[str, list[Candle]], i: int):
    """The market after bar N + i - 1: N candles per coin ending there, one more each cycle."""
    candles = {c: cs[i:N + i] for c, cs in candles.items()}
    now = max(cs[-1].t_ms for cs in candles.values()) + HOUR
    hist, ctxs, mids = {}, {}, {}
    for c, cs in candles.items():
        last = cs[-1].close
        fund = [FundingPoint(time_ms=now - k * HOUR, rate=Decimal("0.0000125")) for k in range(48)]
        oi = [(now - k * HOUR, Decimal(1000 + k)) for k in range(48)]
        book = L2Book(coin=c, time_ms=now, bids=tuple(BookLevel(price=last * (1 - Decimal(k) / 1000), size=Decimal(1))
                                                       for k in range(1, 21)),
                      asks=tuple(BookLevel(price=last * (1 + Decimal(k) / 1000), size=Decimal(1)) for k in range(1, 21)))
        hist[c] = CoinHistory(candles=cs, funding=fund, book=book, open_interest=oi)
        ctxs[c] = AssetContext(coin=c, mark_price=last, oracle_price=last, funding=Decimal("0.0000125"),
                               open_interest=Decimal(1000), day_volume=Decimal(1))
        mids[c] = last
    market = MarketHistory(coins=hist, snapshot=MarketSnapshot(time_ms=now, mids=mids, contexts=ctxs))
    return market, now, mids


def main() -> None:
    source, candles = build()
    market, now, mids = market_at(candles, 0)
    all_regimes = ("trending-bull", "trending-bear", "range-bound", "carry-friendly", "high-volatility", "event-risk")
    spec = StrategySpec(id="bench", title="bench", markets=("perp",), directionality="long-short",
                        risk_profile="medium", intended_horizon="days", minimum_dwell_minutes=0,
                        compatible_regimes=all_regimes, invalidation_triggers=("funding_24h_avg < -0.01",),
                        max_position_pct=Decimal(50), max_leverage=3, expected_switching_cost_bps=Decimal(5),
                        description="bench")
    cfg, risk = GovernanceConfig(), RiskConfig()
    gov = Governor(cfg, risk, coins=COINS)
    proposal = ProposedPlan(strategy_id="bench", objective="bench", expected_edge_bps=Decimal(80),
                            target_allocation=[TargetSpec(coin=c, target_pct=Decimal(20), market_type="perp",
                                                          leverage=2) for c in COINS],
                            take_profit_pct=None, stop_loss_pct=None)
    account = AccountState(portfolio_value=Decimal(10000), available_balance=Decimal(8000),
                           positions=(Position(coin="BTC", size=Decimal("0.01"), entry_price=mids["BTC"],
                                               margin_used=Decimal(300)),))
    tw_cfg, tw_state = cfg.tripwires, TripwireState()

    def governance(signals, i):
        nonlocal tw_state
        t = now + i  # keep time moving so nothing is cached by accident
        tw_state, _ = evaluate_tripwires(TripwireInputs(account=account, mids=mids, now_ms=t, last_data_ms=t),
                                         tw_state, tw_cfg)
        gov.classify_regime(signals, t)
        gov.check_invalidation(signals, t)
        gov.can_review_plan(t)
        plan = plan_from_proposal(proposal, spec, t, f"p{i}")
        ctx = DecisionContext(now_ms=t, account=account, mids=mids, signals=signals, strategies=(spec,),
                              coins=COINS)
        gov.evaluate_plan_change(plan, ctx)
        return gov.current_targets(t)

    cache, live_cache = SignalCache(), SignalCache()
    compute_signals(market, now, cache)
    compute_signals(market, now, live_cache)
    runs = {"live: one new bar, cached signals + governance": [], "uncached signals + governance": [],
            "cached, no new bar, + governance": [], "governance alone": []}
    signals = compute_signals(market, now)
    for i in range(1, CYCLES + 1):
        live_market, live_now, _ = market_at(candles, i)
        z = time.perf_counter()
        governance(compute_signals(live_market, live_now, live_cache), i)
        a = time.perf_counter()
        governance(compute_signals(market, now), i)
        b = time.perf_counter()
        governance(compute_signals(market, now, cache), i)
        c = time.perf_counter()
        governance(signals, i)
        e = time.perf_counter()
        runs["live: one new bar, cached signals + governance"].append(a - z)
        runs["uncached signals + governance"].append(b - a)
        runs["cached, no new bar, + governance"].append(c - b)
        runs["governance alone"].append(e - c)
    print(f"bench_governance: 3 coins x {N} 1h candles ({source}), {CYCLES} cycles; target <= 5 ms per cycle")
    for name, xs in runs.items():
        xs.sort()
        print(f"  {name:48s} median {statistics.median(xs) * 1e3:6.3f} ms   p95 {xs[int(len(xs) * 0.95)] * 1e3:6.3f} ms")


if __name__ == "__main__":
    main()
