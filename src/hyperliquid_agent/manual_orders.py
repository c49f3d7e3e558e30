"""Manual orders (`hl-agent order ...`): the same planner rounding, risk policy and executor as the agent.

`prepare_order` reads the venue once (specs, mids/marks, book, account) and builds the
rounded intents of one order: a buy or sell that opens a perp position is preceded by the
`[portfolio] default_leverage` setting, and one past the position on the other side is a
reduce-only close then an open, as the agent's own buy and sell actions are (`portfolio.action_intents`).
`submit_order` runs them through `Executor.run` with the configured `RiskPolicy`, so a manual
order gets a verdict, a cloid, a ledger row and a report like any other. Cancels need no
verdict (they only ever remove risk).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from hyperliquid_agent.config import Config
from hyperliquid_agent.domain import AccountState, Intent, OrderIntent, Side
from hyperliquid_agent.domain.actions import BuyAction, SellAction
from hyperliquid_agent.errors import VenueError
from hyperliquid_agent.execution import ExecutionReport, Executor
from hyperliquid_agent.portfolio import MarketView, action_intents, close_intent, order_intent, purpose_of
from hyperliquid_agent.ports import ExchangePort
from hyperliquid_agent.risk import Approver, RiskContext, RiskPolicy, resting_sizes
from hyperliquid_agent.risk_store import load_counters
from hyperliquid_agent.store import StateStore

Action = Literal["buy", "sell", "close"]


@dataclass(frozen=True)
class PreparedOrder:
    intents: tuple[Intent, ...]  # the order asked for last; before it, a flip's close and the leverage to open at
    market: MarketView
    account: AccountState
    now_ms: int

    @property
    def intent(self) -> OrderIntent:
        """The order asked for (a flip's opening leg)."""
        return [i for i in self.intents if isinstance(i, OrderIntent)][-1]


def venue_now_ms(exchange: ExchangePort) -> int:
    """The venue's clock when it has one (the emulator's simulated time), else the wall clock."""
    now = getattr(exchange, "now_ms", None)
    return int(now()) if callable(now) else int(time.time() * 1000)


def read_market(exchange: ExchangePort, coins: list[str]) -> MarketView:
    snapshot = exchange.market_snapshot()
    marks = {c: ctx.mark_price for c, ctx in snapshot.contexts.items()}
    books = {}
    for coin in coins:
        try:
            books[coin] = exchange.l2_book(coin)
        except (VenueError, KeyError, ValueError):  # a book is a refinement; mids still bound the order
            continue
    return MarketView(mids=snapshot.mids, specs=exchange.asset_specs(), marks=marks, books=books)


def prepare_order(
    exchange: ExchangePort,
    cfg: Config,
    action: Action,
    coin: str,
    size: Decimal | None,
    *,
    price: Decimal | None = None,
    reduce_only: bool = False,
) -> PreparedOrder:
    """One rounded order intent. Raises ValueError with the fix when it cannot be built."""
    market = read_market(exchange, [coin])
    if coin not in market.specs:
        known = ", ".join(sorted(market.specs)[:20])
        raise ValueError(f"unknown coin {coin!r}; the venue lists: {known}")
    account = exchange.account_state()
    if action == "close":
        current = account.signed_size(coin)
        if current == 0:
            raise ValueError(f"there is no {coin} position to close")
        intent = close_intent(coin, current, market, cfg.portfolio, size=size)
        if price is not None:
            intent = order_intent(coin, intent.side, intent.size, market, cfg.portfolio, price=price,
                                  reduce_only=True, purpose=intent.purpose)
    elif size is None or size <= 0:
        raise ValueError("SIZE must be a positive number of coins")
    elif reduce_only:
        side = Side.BUY if action == "buy" else Side.SELL
        intent = order_intent(coin, side, size, market, cfg.portfolio, price=price, reduce_only=True,
                              purpose=purpose_of(account.signed_size(coin), size * side.sign))
    else:
        # as the agent's own buy/sell actions: a flip is a reduce-only close then an open, and an open is
        # made at [portfolio] default_leverage (the venue's default, often 20x, is no setting the policy saw)
        kind = BuyAction if action == "buy" else SellAction
        intents, skipped = action_intents([kind(coin=coin, market_type=market.specs[coin].market_type, size=size,
                                                price=price)], account, market, cfg.portfolio)
        if skipped or not intents:
            raise ValueError("; ".join(why for _, why in skipped) or f"nothing to {action}")
        return PreparedOrder(intents=tuple(intents), market=market, account=account, now_ms=venue_now_ms(exchange))
    return PreparedOrder(intents=(intent,), market=market, account=account, now_ms=venue_now_ms(exchange))


def submit_order(
    exchange: ExchangePort,
    store: StateStore,
    cfg: Config,
    prepared: PreparedOrder,
    *,
    approver: Approver | None,
) -> ExecutionReport:
    """Risk-check and execute one prepared order; the report says what the venue did."""
    policy = RiskPolicy(cfg.risk, allowed_coins=cfg.agent.coins)
    ctx = RiskContext(
        account=prepared.account,
        marks=dict(prepared.market.marks) or dict(prepared.market.mids),
        specs=prepared.market.specs,
        now_ms=prepared.now_ms,
        counters=load_counters(store),
        approver=approver,
        decision=False,  # a human's order: the agent's max-size streak is left as it is
        resting=resting_sizes(exchange.open_orders()),  # what already rests counts toward the limits
    )
    # unique per command: a venue on a frozen simulated clock gives two commands the same time, and
    # the same cycle id would make the second look like a retry of the first (found, never sent)
    cycle_id = f"manual-{prepared.now_ms}-{prepared.intent.coin}-{prepared.intent.side.value}-{secrets.token_hex(4)}"
    return Executor(exchange, store, config=cfg.portfolio).run(cycle_id, list(prepared.intents), policy, ctx)


def cancel_order(exchange: ExchangePort, coin: str, *, oid: int | None = None, cloid: str | None = None) -> bool:
    if (oid is None) == (cloid is None):
        raise ValueError("give exactly one of --oid or --cloid")
    if oid is not None:
        return exchange.cancel(coin, oid)
    return exchange.cancel_by_cloid(coin, cloid or "")
