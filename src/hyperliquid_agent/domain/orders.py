"""Orders as the portfolio manager plans them and the venue reports them.

An `OrderIntent` is what we want to send; it only reaches the exchange port wrapped in
an approved verdict from the risk policy (see `risk.py`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from hyperliquid_agent.domain.values import MarketType, Money, Side

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Tif(StrEnum):
    GTC = "Gtc"
    IOC = "Ioc"
    ALO = "Alo"


class TpSl(StrEnum):
    TP = "tp"
    SL = "sl"


class OrderPurpose(StrEnum):
    OPEN = "open"  # from flat
    INCREASE = "increase"  # same side, larger
    REDUCE = "reduce"  # same side, smaller
    CLOSE = "close"  # to flat
    PROTECT = "protect"  # TP/SL trigger


class TriggerSpec(BaseModel):
    model_config = _FROZEN
    trigger_price: Money
    is_market: bool = True
    tpsl: TpSl


class OrderIntent(BaseModel):
    model_config = _FROZEN
    kind: Literal["order"] = "order"
    coin: str
    market_type: MarketType = MarketType.PERP
    side: Side
    size: Money = Field(gt=0)  # unsigned amount; the side gives the direction
    limit_price: Money = Field(gt=0)
    tif: Tif = Tif.IOC
    reduce_only: bool = False
    trigger: TriggerSpec | None = None
    purpose: OrderPurpose = OrderPurpose.OPEN
    is_market: bool = False  # an IOC limit at a slippage bound standing in for a market order
    cloid: str | None = None  # "0x" + 32 hex, set by the executor

    @property
    def notional(self) -> Decimal:
        return self.size * self.limit_price

    @property
    def signed_size(self) -> Decimal:
        return self.size * self.side.sign


class LeverageIntent(BaseModel):
    model_config = _FROZEN
    kind: Literal["leverage"] = "leverage"
    coin: str
    leverage: int = Field(ge=1)
    is_cross: bool = True


class TransferIntent(BaseModel):
    model_config = _FROZEN
    kind: Literal["transfer"] = "transfer"
    amount: Money = Field(gt=0)
    to_perp: bool


class CancelIntent(BaseModel):
    """Cancel a resting order by its venue order id (never adds risk)."""

    model_config = _FROZEN
    kind: Literal["cancel"] = "cancel"
    coin: str
    oid: int


Intent = Annotated[Union[OrderIntent, LeverageIntent, TransferIntent, CancelIntent], Field(discriminator="kind")]


# ----- what the venue says happened -----

class Resting(BaseModel):
    model_config = _FROZEN
    status: Literal["resting"] = "resting"
    oid: int
    cloid: str | None = None


class Filled(BaseModel):
    model_config = _FROZEN
    status: Literal["filled"] = "filled"
    oid: int
    total_size: Money
    avg_price: Money
    cloid: str | None = None


class Rejected(BaseModel):
    model_config = _FROZEN
    status: Literal["error"] = "error"
    error: str


OrderOutcome = Annotated[Union[Resting, Filled, Rejected], Field(discriminator="status")]


class Fill(BaseModel):
    model_config = _FROZEN
    coin: str
    side: Side
    price: Money
    size: Money  # unsigned
    fee: Money
    time_ms: int
    oid: int
    cloid: str | None = None
    closed_pnl: Money = Decimal(0)
    direction: str = ""  # "Open Long", "Close Short", ...
    crossed: bool = True  # taker
    start_position: Money | None = None
    tid: int | None = None
    # the venue liquidated OUR position with this fill ("Liquidated Cross Long", ...); a fill where we
    # were the liquidator is an ordinary fill
    liquidation: bool = False


class OpenOrder(BaseModel):
    model_config = _FROZEN
    coin: str
    side: Side
    limit_price: Money
    size: Money
    orig_size: Money | None = None
    oid: int
    cloid: str | None = None
    timestamp_ms: int
    reduce_only: bool = False
    order_type: str = "Limit"
    tif: str | None = None
    trigger_price: Money | None = None
    is_trigger: bool = False
