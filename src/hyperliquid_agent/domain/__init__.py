"""The pure domain model: values, market data, accounts, actions, orders, rounding."""

from hyperliquid_agent.domain.account import AccountState, LeverageType, Position, SpotBalance
from hyperliquid_agent.domain.actions import (
    BuyAction,
    CancelAction,
    CloseAction,
    HoldAction,
    SellAction,
    TargetEntry,
    TradeAction,
    TransferAction,
)
from hyperliquid_agent.domain.market import (
    AssetContext,
    AssetSpec,
    BookLevel,
    BookView,
    Candle,
    FundingPoint,
    L2Book,
    MarketSnapshot,
)
from hyperliquid_agent.domain.orders import (
    CancelIntent,
    Fill,
    Filled,
    Intent,
    LeverageIntent,
    OpenOrder,
    OrderIntent,
    OrderOutcome,
    OrderPurpose,
    Rejected,
    Resting,
    Tif,
    TpSl,
    TransferIntent,
    TriggerSpec,
)
from hyperliquid_agent.domain.regime import REGIME_NAMES, Regime, parse_regime
from hyperliquid_agent.domain.rounding import is_valid_price, is_valid_size, round_price, round_size
from hyperliquid_agent.domain.values import ONE, ZERO, MarketType, Money, Side, to_decimal

__all__ = [
    "AccountState", "AssetContext", "AssetSpec", "BookLevel", "BookView", "BuyAction", "CancelAction", "CancelIntent",
    "Candle", "CloseAction",
    "Fill", "Filled", "FundingPoint", "HoldAction", "Intent", "L2Book", "LeverageIntent", "LeverageType",
    "MarketSnapshot", "MarketType", "Money", "ONE", "OpenOrder", "OrderIntent", "OrderOutcome",
    "OrderPurpose", "Position", "REGIME_NAMES", "Regime", "Rejected", "Resting", "SellAction", "Side",
    "SpotBalance", "TargetEntry", "Tif", "TpSl", "TradeAction", "TransferAction", "TransferIntent",
    "TriggerSpec", "ZERO", "is_valid_price", "is_valid_size", "parse_regime", "round_price",
    "round_size", "to_decimal",
]
