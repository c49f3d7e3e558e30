"""`SimulatedExchange`: the `ports.ExchangePort` implemented in-process over a `VenueModel`
for one account (door 1: backtests and tests). It never moves time; whoever drives the
simulation calls `model.advance_to(t_ms)`.

Also here: building the venue model the `[venue]` config section describes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Sequence

from hyperliquid_agent.config import VenueConfig
from hyperliquid_agent.domain import (
    AccountState,
    AssetSpec,
    BookView,
    Candle,
    Fill,
    FundingPoint,
    L2Book,
    MarketSnapshot,
    MarketType,
    OpenOrder,
    OrderIntent,
    OrderOutcome,
    Rejected,
    Side,
)
from hyperliquid_agent.domain.values import trusted
from hyperliquid_agent.domain.verdicts import ApprovedOrder, require_approved
from hyperliquid_agent.errors import ConfigError, VenueRejectedError
from hyperliquid_agent.exchange.feed import MarketFeed, load_feed
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed
from hyperliquid_agent.exchange.venue_types import (
    FeeSchedule,
    FundingPayment,
    LimitType,
    OrderRequest,
    SlippageModel,
    TriggerType,
)


def order_request(intent: OrderIntent) -> OrderRequest:
    """The venue order for an intent: side -> is_buy, trigger -> a TP/SL order type."""
    if intent.trigger is not None:
        ot: LimitType | TriggerType = TriggerType(intent.trigger.trigger_price, intent.trigger.is_market,
                                                  intent.trigger.tpsl)
    else:
        ot = LimitType(intent.tif)
    return OrderRequest(coin=intent.coin, is_buy=intent.side is Side.BUY, limit_px=intent.limit_price,
                        sz=intent.size, reduce_only=intent.reduce_only, order_type=ot, cloid=intent.cloid)


class SimulatedExchange:
    """One account on a `VenueModel`, behind the ExchangePort protocol."""

    def __init__(self, model: VenueModel, address: str, start_usdc: Decimal | None = None) -> None:
        self.model = model
        self.address = address.lower()
        if not model.has_account(self.address):
            if start_usdc is None:
                raise ValueError(f"no account {self.address} on the venue model; pass start_usdc to open one")
            model.create_account(self.address, start_usdc)

    # ----- market data

    def asset_specs(self) -> dict[str, AssetSpec]:
        return dict(self.model.specs)

    def market_snapshot(self) -> MarketSnapshot:
        # built without validation: the model's mids are Decimals and its contexts AssetContexts
        # already (a copy of the contexts, which the model keeps for the rest of the bar)
        return trusted(MarketSnapshot, {"time_ms": self.model.now_ms, "mids": self.model.mids(),
                                        "contexts": dict(self.model.asset_contexts())})

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        return self.model.candles(coin, interval, start_ms, end_ms)

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingPoint]:
        return self.model.funding_history(coin, start_ms, end_ms)

    def l2_book(self, coin: str) -> L2Book:
        return self.model.l2_book(coin)

    def book_view(self, coin: str) -> BookView:
        return self.model.book_view(coin)

    # ----- account

    def account_state(self) -> AccountState:
        return self.model.account_state(self.address)

    def open_orders(self) -> list[OpenOrder]:
        return self.model.open_orders(self.address)

    def fills(self, start_ms: int | None = None) -> list[Fill]:
        return self.model.fills(self.address, start_ms)

    def user_funding(self, start_ms: int = 0, end_ms: int | None = None) -> list[FundingPayment]:
        return self.model.user_funding(self.address, start_ms, end_ms)

    # ----- trading

    def place_orders(self, orders: Sequence[ApprovedOrder]) -> list[OrderOutcome]:
        approved = require_approved(orders)
        out: list[OrderOutcome] = []
        perp: list[tuple[int, OrderRequest]] = []
        for k, a in enumerate(approved):
            if a.intent.market_type is not MarketType.PERP:
                out.append(Rejected(error=f"spot orders are not simulated ({a.intent.coin}); trade the perp"))
            else:
                out.append(None)  # type: ignore[arg-type]
                perp.append((k, order_request(a.intent)))
        if perp:
            results = self.model.place_orders(self.address, [r for _, r in perp])
            for (k, _), res in zip(perp, results):
                out[k] = res
        return out

    def cancel(self, coin: str, oid: int) -> bool:
        return self.model.cancel(self.address, coin, oid) is None

    def cancel_by_cloid(self, coin: str, cloid: str) -> bool:
        return self.model.cancel_by_cloid(self.address, coin, cloid) is None

    def order_status_by_cloid(self, cloid: str) -> str | None:
        got = self.model.order_status(self.address, cloid=cloid)
        return got.status if got is not None else None

    def set_leverage(self, coin: str, leverage: int, is_cross: bool = True) -> None:
        err = self.model.update_leverage(self.address, coin, leverage, is_cross)
        if err:
            raise VenueRejectedError(f"set leverage {coin} {leverage}x: {err}")

    def transfer_usd(self, amount: Decimal, to_perp: bool) -> None:
        err = self.model.usd_class_transfer(self.address, amount, to_perp)
        if err:
            raise VenueRejectedError(f"transfer {amount} USDC {'to perp' if to_perp else 'to spot'}: {err}")

    def schedule_cancel(self, time_ms: int | None) -> None:
        self.model.schedule_cancel(self.address, time_ms)


# ---------------------------------------------------------------- building from config


def feed_from_config(venue: VenueConfig, coins: Sequence[str], data_dir: Path | None = None) -> MarketFeed:
    """The market data `[venue]` names: the synthetic generator, or CSVs in `data_dir`
    (already resolved against the config file's folder)."""
    if venue.source == "synthetic":
        return synthetic_feed(seed=venue.seed, days=venue.synthetic_days, coins=list(coins))
    if data_dir is None:
        raise ConfigError('[venue] source = "data" needs data_dir = "<folder with *_1h_candles.csv>"')
    return load_feed(data_dir, coins)


def model_from_config(venue: VenueConfig, feed: MarketFeed, start_ms: int | None = None,
                      spot_tokens: dict[str, str] | None = None) -> VenueModel:
    return VenueModel(feed, FeeSchedule(taker=venue.taker_fee, maker=venue.maker_fee),
                      SlippageModel(bps=venue.slippage_bps, spread_bps=venue.spread_bps,
                                    impact_bps_per_million_usd=venue.impact_bps_per_million_usd),
                      start_ms=start_ms, spot_tokens=spot_tokens)
