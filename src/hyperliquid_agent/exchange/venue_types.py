"""Plain values the venue model speaks: order requests, fee and slippage settings, the
venue's exact error strings, funding payments, order statuses and margin summaries.

Order requests are slotted dataclasses and reports are named tuples (not pydantic) because
the model builds and reads them in its hot path; domain values (`Fill`, `OpenOrder`, ...)
are built at the API edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from hyperliquid_agent.domain import OpenOrder, Tif, TpSl

# ---------------------------------------------------------------- error strings (Hyperliquid's own)

ERR_INVALID_PRICE = "Order has invalid price."
ERR_INVALID_SIZE = "Order has invalid size."
ERR_PRICE_BAND = "Order price cannot be more than 80% away from the reference price"
ERR_REDUCE_ONLY = "Reduce only order would increase position."
ERR_TPSL = "Invalid TP/SL price."
ERR_CANCEL = "Order was never placed, already canceled, or filled."
ERR_LEVERAGE = "Invalid leverage value"
ERR_LEVERAGE_TYPE = "Cannot switch leverage type with open position."
ERR_SPOT_TRIGGER = "Trigger orders are not supported on spot by the local venue."  # ours, not the venue's


def err_decrease_leverage(is_cross: bool) -> str:
    return f"{'Cross' if is_cross else 'Isolated'} position does not have sufficient margin available to decrease leverage."


def err_min_value(asset: int) -> str:
    return f"Order must have minimum value of $10. asset={asset}"


def err_margin(asset: int) -> str:
    return f"Insufficient margin to place order. asset={asset}"


def err_spot_balance(asset: int) -> str:
    return f"Insufficient spot balance asset={asset}"


ERR_IOC = "Order could not immediately match against any resting orders."  # then " asset=N"


def err_ioc(asset: int) -> str:
    return f"{ERR_IOC} asset={asset}"


def err_alo(bid: Decimal, ask: Decimal) -> str:
    return f"Post only order would have immediately matched, bbo was {bid}@{ask}."


# The orderStatus code Hyperliquid reports for an order rejected with each error.
REJECT_STATUS = {
    ERR_INVALID_PRICE: "tickRejected",
    ERR_REDUCE_ONLY: "reduceOnlyRejected",
    ERR_TPSL: "badTriggerPxRejected",
}


def reject_status(error: str) -> str:
    if error in REJECT_STATUS:
        return REJECT_STATUS[error]
    if error.startswith("Order must have minimum value"):
        return "minTradeNtlRejected"
    if error.startswith("Insufficient margin"):
        return "perpMarginRejected"
    if error.startswith("Insufficient spot balance"):
        return "insufficientSpotBalanceRejected"
    if error.startswith("Post only order"):
        return "badAloPxRejected"
    if error.startswith(ERR_IOC):
        return "iocCancelRejected"
    return "rejected"


# ---------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates as fractions of notional: taker for crossing fills, maker for resting fills."""

    taker: Decimal = Decimal("0.00045")
    maker: Decimal = Decimal("0.00015")


@dataclass(frozen=True, slots=True)
class SlippageModel:
    """How the synthetic book and market orders behave.

    `spread_bps` is the synthetic book's bid-ask spread around the mid; a crossing order
    fills at the touch (best ask for a buy, best bid for a sell) moved `bps` further
    against the taker, plus `impact_bps_per_million_usd` for each $1M of the order's
    notional, and never beyond its limit price.
    """

    bps: Decimal = Decimal(2)
    spread_bps: Decimal = Decimal(1)
    impact_bps_per_million_usd: Decimal = Decimal(0)

    def bps_for(self, notional: Decimal) -> Decimal:
        """The slippage of a crossing order of `notional` USD, in basis points."""
        if not self.impact_bps_per_million_usd:
            return self.bps
        return self.bps + self.impact_bps_per_million_usd * notional / 1_000_000


# ---------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class LimitType:
    tif: Tif = Tif.GTC


@dataclass(frozen=True, slots=True)
class TriggerType:
    """A TP/SL trigger. `is_market` fills at the trigger moment's price (bounded by the
    limit price); otherwise the order becomes a limit order at `limit_px` when triggered."""

    trigger_px: Decimal
    is_market: bool
    tpsl: TpSl


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as the venue receives it (the wire order, in domain units)."""

    coin: str
    is_buy: bool
    limit_px: Decimal
    sz: Decimal
    reduce_only: bool = False
    order_type: LimitType | TriggerType = LimitType()
    cloid: str | None = None


# ---------------------------------------------------------------- reports


class FundingPayment(NamedTuple):
    """One hourly funding settlement for one position. `usdc` > 0 means the account received it."""

    time_ms: int
    coin: str
    usdc: Decimal
    szi: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class OrderStatusInfo:
    """What `orderStatus` reports: the order (as last seen), its status and when it got it.

    `status` is one of Hyperliquid's values: open, filled, canceled, triggered, rejected,
    tickRejected, minTradeNtlRejected, perpMarginRejected, reduceOnlyRejected,
    badAloPxRejected, iocCancelRejected, badTriggerPxRejected, marginCanceled,
    reduceOnlyCanceled, liquidatedCanceled, scheduledCancel.
    """

    order: OpenOrder
    status: str
    status_time_ms: int


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """The numbers behind clearinghouseState's marginSummary (cross margin)."""

    account_value: Decimal
    total_margin_used: Decimal
    total_notional: Decimal
    total_raw_usd: Decimal  # cash + signed notional of positions
    maintenance_margin: Decimal
    withdrawable: Decimal


class AccountTotals(NamedTuple):
    """Running totals of one account since it opened (all USDC)."""

    realized_pnl: Decimal
    fees_paid: Decimal
    funding_paid: Decimal  # net: paid minus received
    bad_debt: Decimal  # losses beyond the account's value, absorbed at liquidation
    liquidations: int


class VenueEvent(NamedTuple):
    """Something `advance_to` made happen: a fill, a funding payment, a liquidation, a cancel."""

    kind: str  # fill | funding | liquidation | cancel | trigger
    time_ms: int
    address: str
    coin: str
    oid: int | None = None
    size: Decimal | None = None  # signed for fills (+ buy, - sell)
    price: Decimal | None = None
    usdc: Decimal | None = None  # funding received (+) or paid (-); fee for fills
    note: str = ""
