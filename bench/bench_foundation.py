"""Foundation speed: CLI start-up, prompt render, reply parsing.

Targets: `hl-agent --help` <= 0.3 s (wall, subprocess, best of 5); prompt render with the
shipped 12 strategies and 5 positions <= 2 ms; parsing a ~2 KB reply <= 0.5 ms.
Run: .venv/bin/python bench/bench_foundation.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from hyperliquid_agent.config import defaults_dir
from hyperliquid_agent.decision import parse_decision, parse_governance_decision
from hyperliquid_agent.domain import AccountState, Position
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.prompts import PromptTemplate
from hyperliquid_agent.signals import SIGNAL_NAMES

ROOT = defaults_dir()


def best_of(fn, repeat: int, number: int) -> float:
    """Best per-call time in seconds over `repeat` rounds of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def cli_help_seconds() -> float:
    exe = Path(sys.executable).with_name("hl-agent")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "hyperliquid_agent", "--help"]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def context() -> DecisionContext:
    coins = ("BTC", "ETH", "SOL", "DOGE", "AVAX")
    positions = tuple(
        Position(coin=c, size=Decimal(sign) * Decimal("1.5"), entry_price=Decimal("100") * (i + 1),
                 position_value=Decimal("150") * (i + 1), unrealized_pnl=Decimal("3.25"), leverage=2)
        for i, (c, sign) in enumerate(zip(coins, (1, -1, 1, -1, 1)))
    )
    account = AccountState(portfolio_value=Decimal("25000"), available_balance=Decimal("14000"),
                           positions=positions, timestamp_ms=1_735_689_600_000)
    signals = {c: {n: 0.0123 * (i + 1) for i, n in enumerate(SIGNAL_NAMES)} for c in coins}
    signals["*"] = {"btc_eth_corr": 0.82}
    return DecisionContext(now_ms=1_735_689_600_000, coins=coins, account=account, signals=signals,
                           regime="range-bound", regime_confidence=0.7, max_leverage=3)


def reply_2kb() -> str:
    actions = [{"action_type": "buy" if i % 2 else "sell", "coin": c, "market_type": "perp", "size": 0.125 * (i + 1),
                "price": None, "reasoning": "entry rule met: rsi14 below 30 and sma20_dist below -0.025"}
               for i, c in enumerate(("BTC", "ETH", "SOL", "DOGE", "AVAX"))]
    targets = [{"coin": c, "target_pct": 10 - 5 * i, "market_type": "perp", "leverage": 2}
               for i, c in enumerate(("BTC", "ETH", "SOL", "DOGE"))]
    body = {"reasoning": "Range-bound regime with low ADX; funding is mildly positive. " * 10,
            "selected_strategy": "range-mean-reversion", "actions": actions, "target_allocation": targets}
    return "```json\n" + json.dumps(body, indent=1) + "\n```"


def main() -> None:
    print(f"{'hl-agent --help (wall, best of 5)':<52} {cli_help_seconds() * 1000:8.1f} ms   target <= 300 ms")

    std = PromptTemplate(ROOT / "prompts" / "default.txt", ROOT / "strategies")
    gov = PromptTemplate(ROOT / "prompts" / "governance.txt", ROOT / "strategies")
    ctx = context().model_copy(update={"strategies": tuple(std.strategies)})  # as the agent loop passes them
    n = len(std.strategies)
    t = best_of(lambda: std.format(context=ctx), 5, 300)
    print(f"{f'prompt render, standard ({n} strategies, 5 positions)':<52} {t * 1000:8.3f} ms   target <= 2 ms"
          f"   ({len(std.format(context=ctx))} chars)")
    t = best_of(lambda: gov.format(context=ctx, dwell_remaining="120 min"), 5, 300)
    print(f"{'prompt render, governed (compatible strategies)':<52} {t * 1000:8.3f} ms   target <= 2 ms")
    t0 = time.perf_counter()
    PromptTemplate(ROOT / "prompts" / "default.txt", ROOT / "strategies", render_mode="full")
    print(f"{'template load (12 strategy files, full mode)':<52} {(time.perf_counter() - t0) * 1000:8.3f} ms   (once per run)")

    text = reply_2kb()
    assert parse_decision(text).success
    t = best_of(lambda: parse_decision(text), 5, 1000)
    print(f"{f'parse_decision, {len(text)} byte reply in a fence':<52} {t * 1000:8.3f} ms   target <= 0.5 ms")
    gov_text = json.dumps({"maintain_plan": True, "reasoning": "still fits " * 100,
                           "micro_adjustments": [{"coin": "BTC", "target_pct": 12, "market_type": "perp", "leverage": 2}],
                           "proposed_plan": None})
    t = best_of(lambda: parse_governance_decision(gov_text), 5, 1000)
    print(f"{f'parse_governance_decision, {len(gov_text)} byte reply':<52} {t * 1000:8.3f} ms")


if __name__ == "__main__":
    main()
