"""Planner -> risk policy -> executor through the real hyperliquid-python-sdk against the local emulator.

Covers the venue-facing cases: long to short flip, partial close, closing a short buys,
$10 minimum, price precision, insufficient margin, IOC with no fill, a denial never
reaching the venue, and crash safety with a killed subprocess (restart, reconcile by
cloid, no second order).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from emulator_support import address_of, funded_exchange, new_key, running_server
from hyperliquid_agent.config import PortfolioConfig, RiskConfig
from hyperliquid_agent.domain import LeverageIntent, OrderIntent, Side, TargetEntry, Tif, TransferIntent, round_size
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
from hyperliquid_agent.execution import Executor
from hyperliquid_agent.manual_orders import read_market
from hyperliquid_agent.orders_ledger import OrdersLedger
from hyperliquid_agent.portfolio import close_intent, rebalance_to_target
from hyperliquid_agent.risk import DenialReason, RiskContext, RiskPolicy
from hyperliquid_agent.risk_counters import RiskCounters, utc_day
from hyperliquid_agent.risk_store import load_counters
from hyperliquid_agent.store import StateStore

CFG = PortfolioConfig()
COINS = ["BTC", "ETH", "SOL"]


server = running_server()


class Desk:
    """One funded account on the emulator with its own state store, executor and policy."""

    def __init__(self, server, usdc=10_000, store=None, **risk):
        self.server = server
        self.ex = funded_exchange(server, usdc)
        self.store = store or StateStore.memory()
        self.executor = Executor(self.ex, self.store, config=CFG)
        self.policy = RiskPolicy(RiskConfig(**risk), allowed_coins=COINS)

    def ctx(self) -> RiskContext:
        market = read_market(self.ex, COINS)
        return RiskContext(account=self.ex.account_state(), marks=market.marks or market.mids, specs=market.specs,
                           now_ms=self.server.now_ms(), counters=load_counters(self.store))

    def target(self, cycle_id: str, **pcts: str):
        market = read_market(self.ex, COINS)
        targets = [TargetEntry(coin=c, target_pct=Decimal(p)) for c, p in pcts.items()]
        intents = rebalance_to_target(targets, self.ex.account_state(), market, CFG)
        return self.executor.run(cycle_id, intents, self.policy, self.ctx(), market=market)

    def send(self, cycle_id: str, *intents: OrderIntent):
        return self.executor.run(cycle_id, list(intents), self.policy, self.ctx())

    def size(self, coin: str) -> Decimal:
        return self.ex.account_state().signed_size(coin)


def test_long_to_short_flip_then_close_through_the_sdk(server):
    d = Desk(server)
    r = d.target("flip-1", ETH="30")
    assert [o.status for o in r.orders] == ["filled"] and d.size("ETH") > 0
    assert [(s.intent.kind, s.status) for s in r.setup] == [("leverage", "done")]  # set before the open
    assert d.ex.account_state().position("ETH").leverage == CFG.default_leverage
    long_size = d.size("ETH")
    r = d.target("flip-2", ETH="-30")
    assert [(o.intent.side, o.intent.reduce_only, o.status) for o in r.orders] == [
        (Side.SELL, True, "filled"), (Side.SELL, False, "filled")]
    assert r.orders[0].intent.size == long_size and d.size("ETH") < 0
    assert r.fees > 0 and len(r.fills) >= 2 and all(f.fee > 0 for f in r.fills)
    r = d.target("flip-3")
    assert r.orders[0].intent.side is Side.BUY and d.size("ETH") == 0  # closing a short buys


def test_partial_close_of_a_short_buys_reduce_only(server):
    d = Desk(server)
    d.target("pc-1", SOL="-20")
    short = d.size("SOL")
    market = read_market(d.ex, COINS)
    half = close_intent("SOL", short, market, CFG, size=(-short / 2).quantize(Decimal("0.01")))
    r = d.send("pc-2", half)
    assert r.orders[0].status == "filled" and half.side is Side.BUY and half.reduce_only
    assert d.size("SOL") == short + half.size and d.size("SOL") < 0


def _ioc(d: Desk, coin: str, side: Side, size: str, price_factor: str = "1.01", **kw) -> OrderIntent:
    market = read_market(d.ex, COINS)
    spec = market.specs[coin]
    from hyperliquid_agent.domain import round_price

    px = round_price(market.mids[coin] * Decimal(price_factor), spec.sz_decimals)
    return OrderIntent(coin=coin, side=side, size=Decimal(size), limit_price=px, tif=Tif.IOC, **kw)


def test_venue_rejections_come_back_as_order_statuses(server):
    d = Desk(server)
    tiny = _ioc(d, "SOL", Side.BUY, "0.01")  # about $1.5
    no_fill = _ioc(d, "ETH", Side.BUY, "0.1", price_factor="0.98")  # IOC below the ask
    r = d.send("rej-1", tiny, no_fill)
    assert [o.status for o in r.orders] == ["rejected", "rejected"]
    assert "minimum value of $10" in r.orders[0].error
    assert "could not immediately match" in r.orders[1].error
    assert load_counters(d.store).consecutive_failures == 2
    off_grid = _ioc(d, "SOL", Side.BUY, "1")
    off_grid = off_grid.model_copy(update={"limit_price": off_grid.limit_price + Decimal("0.000123")})
    before = server.count_requests("/exchange")
    r = d.send("rej-2", off_grid, _ioc(d, "SOL", Side.BUY, "1.234"))
    assert [o.status for o in r.orders] == ["denied", "denied"]
    assert {o.verdict.reason_code for o in r.orders} == {"invalid_precision"}
    assert server.count_requests("/exchange") == before  # off-precision orders never leave


def test_insufficient_margin_is_a_rejection(server):
    d = Desk(server, usdc=200, max_gross_exposure=Decimal(100), max_leverage=40, max_order_usd=10**6,
             max_position_usd=10**6)
    big = _ioc(d, "BTC", Side.BUY, "0.05")  # several thousand dollars on $200
    r = d.executor.run("margin-1", [LeverageIntent(coin="BTC", leverage=1), big], d.policy, d.ctx())
    assert [s.status for s in r.setup] == ["done"]  # leverage is set before the order goes
    assert r.orders[0].status == "rejected" and "Insufficient margin" in r.orders[0].error
    assert d.size("BTC") == 0


def test_a_denied_order_never_reaches_the_venue(server):
    d = Desk(server, max_order_usd=100)
    before = server.count_requests("/exchange")
    r = d.send("deny-1", _ioc(d, "ETH", Side.BUY, "1"))
    assert r.orders[0].status == "denied" and r.orders[0].verdict.reason_code == "max_order_usd"
    assert server.count_requests("/exchange") == before


def test_every_denial_reason_holds_its_intent_back_from_the_venue(server):
    d = Desk(server)
    d.target("den-0", ETH="20")  # a long to reduce; one trade in the saved counters
    base = d.ctx()
    market = read_market(d.ex, COINS)
    long_eth = d.size("ETH")
    mark = base.marks["ETH"]
    buy = _ioc(d, "ETH", Side.BUY, str(round_size(Decimal(1000) / mark, market.specs["ETH"].sz_decimals)))
    counters = base.counters
    today = RiskCounters(day=utc_day(base.now_ms), day_start_equity=base.account.portfolio_value)
    cases = [
        ({}, OrderIntent(coin="DOGE", side=Side.BUY, size=Decimal(1), limit_price=Decimal(1)), {},
         DenialReason.UNKNOWN_ASSET),
        ({}, buy, {"marks": {c: m for c, m in base.marks.items() if c != "ETH"}}, DenialReason.NO_PRICE),
        ({}, buy.model_copy(update={"size": buy.size + Decimal("0.00001")}), {}, DenialReason.INVALID_PRECISION),
        ({}, _ioc(d, "SOL", Side.SELL, "1", price_factor="0.99", reduce_only=True), {}, DenialReason.NO_POSITION),
        ({}, _ioc(d, "ETH", Side.SELL, str(long_eth * 2), price_factor="0.99", reduce_only=True), {},
         DenialReason.EXCEEDS_POSITION),
        ({}, _ioc(d, "ETH", Side.BUY, str(buy.size), price_factor="1.2"), {}, DenialReason.PRICE_BAND),
        ({"allowed_coins": ["BTC"]}, buy, {}, DenialReason.COIN_NOT_ALLOWED),
        ({"allowed_market_types": ["spot"]}, buy, {}, DenialReason.MARKET_TYPE_NOT_ALLOWED),
        ({}, buy, {"counters": replace(counters, consecutive_failures=5)}, DenialReason.CIRCUIT_BREAKER),
        ({}, buy, {"counters": replace(today, day_start_equity=today.day_start_equity * 2)},
         DenialReason.DAILY_LOSS_CAP),
        ({"max_order_usd": 500}, buy, {}, DenialReason.MAX_ORDER_USD),
        ({"max_position_usd": long_eth * mark + 500}, buy, {}, DenialReason.MAX_POSITION_USD),
        ({"max_gross_exposure": Decimal("0.1")}, buy, {}, DenialReason.MAX_GROSS_EXPOSURE),
        ({}, LeverageIntent(coin="ETH", leverage=10), {}, DenialReason.MAX_LEVERAGE),
        ({"max_daily_notional_usd": 500}, buy, {"counters": today}, DenialReason.MAX_DAILY_NOTIONAL),
        ({"max_trades_per_hour": 1}, buy, {}, DenialReason.MAX_TRADES_PER_HOUR),
        ({"open_cooldown_s": 3600}, buy, {}, DenialReason.OPEN_COOLDOWN),
        ({"stop_loss_reentry_minutes": 60}, buy, {"counters": counters.with_stops(["ETH"], base.now_ms - 60_000)},
         DenialReason.STOP_LOSS_REENTRY),
        ({"max_size_streak": 1, "max_order_usd": buy.size * mark * Decimal("1.02")}, buy, {},
         DenialReason.MAX_SIZE_STREAK),
        ({"approval_above_usd": 100}, buy, {}, DenialReason.APPROVAL_REQUIRED),
        ({"approval_above_usd": 100}, buy, {"approver": lambda o: False}, DenialReason.APPROVAL_DECLINED),
        ({}, TransferIntent(amount=Decimal(10**6), to_perp=False), {}, DenialReason.INSUFFICIENT_BALANCE),
    ]
    assert {code for *_, code in cases} == set(DenialReason)
    before = server.count_requests("/exchange")
    for n, (risk, intent, changes, code) in enumerate(cases):
        policy = RiskPolicy(RiskConfig(**risk), allowed_coins=COINS)
        r = d.executor.run(f"den-{n + 1}", [intent], policy, replace(base, **changes))
        verdicts = [(o.status, o.verdict.reason_code) for o in r.orders] or [
            (s.status, s.detail.split(":")[0]) for s in r.setup]
        assert verdicts == [("denied", code.value)], (code, verdicts)
    assert server.count_requests("/exchange") == before  # nothing denied ever reached the venue
    assert d.size("ETH") == long_eth


CHILD = textwrap.dedent("""
    import os, sys
    from decimal import Decimal
    from hyperliquid_agent.config import PortfolioConfig, RiskConfig
    from hyperliquid_agent.domain import TargetEntry
    from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange
    from hyperliquid_agent.execution import Executor
    from hyperliquid_agent.manual_orders import read_market
    from hyperliquid_agent.portfolio import rebalance_to_target
    from hyperliquid_agent.risk import RiskContext, RiskPolicy
    from hyperliquid_agent.risk_store import load_counters
    from hyperliquid_agent.store import StateStore

    url, key, state_dir, now_ms, kill = sys.argv[1:6]
    ex = HyperliquidExchange(url, key, max_retries=0)
    store = StateStore.in_dir(state_dir)
    hook = (lambda orders, outcomes: os.kill(os.getpid(), 9)) if kill == "1" else None
    executor = Executor(ex, store, config=PortfolioConfig(), after_submit=hook)
    market = read_market(ex, ["ETH"])
    intents = rebalance_to_target([TargetEntry(coin="ETH", target_pct=Decimal(25))], ex.account_state(), market,
                                  PortfolioConfig())
    ctx = RiskContext(account=ex.account_state(), marks=market.marks or market.mids, specs=market.specs,
                      now_ms=int(now_ms), counters=load_counters(store))
    report = executor.run("cycle-42", intents, RiskPolicy(RiskConfig(), allowed_coins=["ETH"]), ctx)
    print(",".join(f"{o.status}:{o.reconciled}" for o in report.orders))
""")


def test_killed_between_submit_and_record_then_restart_sends_no_second_order(server, tmp_path: Path):
    key = new_key()
    server.create_account(address_of(key), 10_000)
    state_dir = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    args = [sys.executable, "-c", CHILD, server.url, key, str(state_dir), str(server.now_ms())]
    orders_before = server.count_requests("/exchange")
    crashed = subprocess.run([*args, "1"], capture_output=True, text=True, env=env, timeout=60)
    assert crashed.returncode == -9, crashed.stderr
    ex = HyperliquidExchange(server.url, key)
    size = ex.account_state().signed_size("ETH")
    assert size > 0  # the order reached the venue and filled
    store = StateStore.in_dir(state_dir)
    [row] = OrdersLedger(store).for_cycle("cycle-42")
    assert row.status == "pending"  # ... but its outcome was never recorded
    assert load_counters(store).trade_times_ms == ()  # nor counted
    store.close()
    sent = server.count_requests("/exchange") - orders_before

    again = subprocess.run([*args, "0"], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert server.count_requests("/exchange") - orders_before == sent, "the restart sent another action"
    assert ex.account_state().signed_size("ETH") == size
    store = StateStore.in_dir(state_dir)
    settled = OrdersLedger(store).get(row.cloid)
    [fill] = [f for f in ex.fills() if f.cloid == row.cloid]  # what the venue says it traded
    assert settled.status == "filled" and (settled.filled_size, settled.avg_price) == (fill.size, fill.price)
    counters = load_counters(store)  # the landed order now counts against today's limits, once, at what filled
    assert len(counters.trade_times_ms) == 1 and counters.daily_notional == fill.size * fill.price


def test_tp_sl_triggers_rest_on_the_venue_and_the_dead_man_switch_is_accepted(server):
    from hyperliquid_agent.execution import Protection

    d = Desk(server)
    d.executor = Executor(d.ex, d.store, config=PortfolioConfig(dead_man_switch_s=600))
    market = read_market(d.ex, COINS)
    intents = rebalance_to_target([TargetEntry(coin="SOL", target_pct=Decimal(-20))], d.ex.account_state(), market, CFG)
    r = d.executor.run("prot-1", intents, d.policy, d.ctx(), market=market,
                       protection=Protection(take_profit_pct=Decimal(8), stop_loss_pct=Decimal(4)))
    assert not r.errors, r.errors
    triggers = [o for o in r.orders if o.intent.trigger is not None]
    assert [(o.intent.trigger.tpsl.value, o.intent.side, o.status) for o in triggers] == [
        ("tp", Side.BUY, "resting"), ("sl", Side.BUY, "resting")]
    entry = r.account_after.position("SOL").entry_price
    tp, sl = (o.intent.trigger.trigger_price for o in triggers)
    assert tp < entry < sl  # a short takes profit below its entry and stops out above it
    resting = [o for o in d.ex.open_orders() if o.coin == "SOL"]
    assert len(resting) == 2 and all(o.reduce_only for o in resting)


def test_the_same_flip_through_the_in_process_door(server):
    """The backtest's door (SimulatedExchange over the venue model) takes the same plan the same way."""
    from hyperliquid_agent.exchange.model import VenueModel
    from hyperliquid_agent.exchange.simulated import SimulatedExchange
    from hyperliquid_agent.exchange.synthetic import synthetic_feed

    feed = synthetic_feed(seed=11, days=20)
    ex = SimulatedExchange(VenueModel(feed, start_ms=feed.start_ms + 10 * 86_400_000), "0x" + "22" * 20,
                           start_usdc=Decimal(10_000))
    store = StateStore.memory()
    executor, policy = Executor(ex, store, config=CFG), RiskPolicy(RiskConfig(), allowed_coins=COINS)

    def run(cycle_id: str, pct: str):
        market = read_market(ex, COINS)
        intents = rebalance_to_target([TargetEntry(coin="BTC", target_pct=Decimal(pct))], ex.account_state(), market, CFG)
        ctx = RiskContext(account=ex.account_state(), marks=market.marks or market.mids, specs=market.specs,
                          now_ms=ex.model.now_ms, counters=load_counters(store))
        return executor.run(cycle_id, intents, policy, ctx, market=market)

    assert [o.status for o in run("sim-1", "25").orders] == ["filled"]
    r = run("sim-2", "-25")
    assert [(o.intent.reduce_only, o.status) for o in r.orders] == [(True, "filled"), (False, "filled")]
    assert ex.account_state().signed_size("BTC") < 0 and r.fees > 0
