"""What a decision may ask for: trade actions and target allocations.

`TradeAction` is a discriminated union on `action_type`; dispatch with `match`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hyperliquid_agent.domain.values import MarketType, Money

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _positive(v: Decimal | None, field: str) -> Decimal | None:
    if v is not None and v <= 0:
        raise ValueError(f"{field} must be positive, got {v}")
    return v


class _CoinAction(BaseModel):
    model_config = _FROZEN
    coin: str = Field(min_length=1)
    market_type: MarketType
    size: Money | None = None  # in coin units; None lets the portfolio manager size it
    price: Money | None = None  # limit price; None means market (IOC at a slippage bound)
    reasoning: str = ""

    @field_validator("size")
    @classmethod
    def _size_positive(cls, v: Decimal | None) -> Decimal | None:
        return _positive(v, "size")

    @field_validator("price")
    @classmethod
    def _price_positive(cls, v: Decimal | None) -> Decimal | None:
        return _positive(v, "price")


class BuyAction(_CoinAction):
    action_type: Literal["buy"] = "buy"


class SellAction(_CoinAction):
    action_type: Literal["sell"] = "sell"


class CloseAction(_CoinAction):
    """Close (all of, or `size` of) the position on the opposite side of its signed size."""

    action_type: Literal["close"] = "close"


class HoldAction(BaseModel):
    model_config = _FROZEN
    action_type: Literal["hold"] = "hold"
    coin: str | None = None
    market_type: MarketType | None = None
    reasoning: str = ""


class TransferAction(BaseModel):
    """Move USDC between the spot and perp wallets."""

    model_config = _FROZEN
    action_type: Literal["transfer"] = "transfer"
    coin: str = "USDC"
    amount: Money
    to_perp: bool
    reasoning: str = ""

    @field_validator("amount")
    @classmethod
    def _amount_positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError(f"amount must be positive, got {v}")
        return v


class CancelAction(BaseModel):
    """Cancel one of our orders resting on the venue (`oid` from the open orders the prompt lists)."""

    model_config = _FROZEN
    action_type: Literal["cancel"] = "cancel"
    coin: str = Field(min_length=1)
    oid: int = Field(gt=0)
    reasoning: str = ""


TradeAction = Annotated[
    Union[BuyAction, SellAction, CloseAction, HoldAction, TransferAction, CancelAction],
    Field(discriminator="action_type"),
]


class TargetEntry(BaseModel):
    """One line of a target allocation.

    `target_pct` is the SIGNED notional exposure as a percent of portfolio value:
    25 = long a quarter of equity, -50 = short half of equity, 0 = flat.
    """

    model_config = _FROZEN
    coin: str = Field(min_length=1)
    target_pct: Money
    market_type: MarketType = MarketType.PERP
    leverage: int | None = Field(default=None, ge=1)

    @field_validator("target_pct")
    @classmethod
    def _bounded(cls, v: Decimal) -> Decimal:
        if abs(v) > 1000:
            raise ValueError(f"target_pct {v} is outside -1000..1000 (percent of portfolio value)")
        return v
