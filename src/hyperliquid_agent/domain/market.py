"""Market data values: asset specs, candles, funding, asset contexts, books."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hyperliquid_agent.domain.values import MarketType, Money

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AssetSpec(BaseModel):
    """What the venue says about one tradable asset (meta / spotMeta)."""

    model_config = _FROZEN
    name: str
    asset_id: int = Field(ge=0)
    sz_decimals: int = Field(ge=0, le=10)
    max_leverage: int = Field(default=1, ge=1)
    market_type: MarketType = MarketType.PERP
    only_isolated: bool = False


class Candle(BaseModel):
    model_config = _FROZEN
    t_ms: int  # open time, ms since epoch
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money


class FundingPoint(BaseModel):
    model_config = _FROZEN
    time_ms: int
    rate: Money  # hourly rate; longs pay when positive
    premium: Money | None = None


class AssetContext(BaseModel):
    """Per-asset live context (metaAndAssetCtxs)."""

    model_config = _FROZEN
    coin: str
    mark_price: Money
    oracle_price: Money
    mid_price: Money | None = None
    funding: Money  # current hourly rate
    open_interest: Money
    premium: Money | None = None
    day_volume: Money
    prev_day_price: Money | None = None


class BookLevel(BaseModel):
    model_config = _FROZEN
    price: Money
    size: Money
    orders: int = 1


class L2Book(BaseModel):
    model_config = _FROZEN
    coin: str
    time_ms: int
    bids: tuple[BookLevel, ...]  # best first (descending price)
    asks: tuple[BookLevel, ...]  # best first (ascending price)

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None


class MarketSnapshot(BaseModel):
    """Mids and asset contexts at one instant."""

    model_config = _FROZEN
    time_ms: int
    mids: dict[str, Money]
    contexts: dict[str, AssetContext] = Field(default_factory=dict)
