"""Market data values: asset specs, candles, funding, asset contexts, books."""

from __future__ import annotations

from dataclasses import dataclass as std_dataclass
from decimal import Decimal
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

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


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class BookLevel:
    """One price level of a book. A pydantic dataclass rather than a model: it validates and
    dumps the same (inside an L2Book too), but `trusted_level` builds one at a third of a
    model's cost, and the venue model's full book has 40."""

    price: Money
    size: Money
    orders: int = 1


_new_level = object.__new__
_set_price, _set_size, _set_orders = (BookLevel.__dict__[name].__set__ for name in ("price", "size", "orders"))


def trusted_level(price: Decimal, size: Decimal, orders: int) -> BookLevel:
    """A BookLevel built without validation (its slots set directly) from values our own code
    produced: Decimals and an int, all that validation would check."""
    level = _new_level(BookLevel)
    _set_price(level, price)
    _set_size(level, size)
    _set_orders(level, orders)
    return level


class BookFloats(NamedTuple):
    """A book's prices and sizes as floats, level for level, best first."""

    bid_prices: list[float]
    bid_sizes: list[float]
    ask_prices: list[float]
    ask_sizes: list[float]


_FLOATS = "_float_view"  # where an L2Book keeps its float view (in its __dict__, beside its fields)


class L2Book(BaseModel):
    model_config = _FROZEN
    coin: str
    time_ms: int
    bids: tuple[BookLevel, ...]  # best first (descending price)
    asks: tuple[BookLevel, ...]  # best first (ascending price)

    @property
    def floats(self) -> BookFloats:
        """The levels as floats (what the signals work in), converted once per book. They are
        kept with the level tuples they came from, so a copy with other levels
        (`model_copy(update=...)`) converts its own instead of reading stale ones."""
        kept = self.__dict__.get(_FLOATS)
        if kept is None or kept[0] is not self.bids or kept[1] is not self.asks:
            kept = self.keep_floats(BookFloats([float(x.price) for x in self.bids], [float(x.size) for x in self.bids],
                                               [float(x.price) for x in self.asks], [float(x.size) for x in self.asks]))
        return kept[2]

    def keep_floats(self, floats: BookFloats) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...], BookFloats]:
        """Remember `floats` as this book's float view (a builder that has them already: the synthetic book)."""
        kept = self.__dict__[_FLOATS] = (self.bids, self.asks, floats)
        return kept

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    def view(self) -> BookView:
        return BookView(self.coin, self.time_ms, self.best_bid, self.best_ask, self.floats)


@std_dataclass(frozen=True, slots=True)
class BookView:
    """What a cycle reads of a book: the touch on each side (for prices and the record) and every
    level as floats (for the spread and depth signals). `L2Book.view()` gives it; a venue that
    makes its book (the simulated one) can give it without building every level's Decimals."""

    coin: str
    time_ms: int
    best_bid: BookLevel | None
    best_ask: BookLevel | None
    floats: BookFloats


class MarketSnapshot(BaseModel):
    """Mids and asset contexts at one instant."""

    model_config = _FROZEN
    time_ms: int
    mids: dict[str, Money]
    contexts: dict[str, AssetContext] = Field(default_factory=dict)
