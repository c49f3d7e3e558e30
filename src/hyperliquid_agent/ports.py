"""The small Protocols the core and the app talk through. Adapters implement them.

Keep these narrow: a method belongs here only when the engine needs it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, Sequence, runtime_checkable

from hyperliquid_agent.domain import (
    AccountState,
    AssetSpec,
    BookView,
    Candle,
    Fill,
    FundingPoint,
    L2Book,
    MarketSnapshot,
    OpenOrder,
    OrderIntent,
    OrderOutcome,
)
from hyperliquid_agent.domain.verdicts import ApprovedOrder


class Clock(Protocol):
    def now_ms(self) -> int: ...


@runtime_checkable
class ExchangePort(Protocol):
    """Everything the engine needs from a venue (Hyperliquid, the emulator, the in-process model).

    Order placement takes only risk-approved orders (`ApprovedOrder`); adapters call
    `domain.verdicts.require_approved` and refuse anything else.
    """

    def asset_specs(self) -> dict[str, AssetSpec]: ...

    def market_snapshot(self) -> MarketSnapshot: ...

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]: ...

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingPoint]: ...

    def l2_book(self, coin: str) -> L2Book: ...

    def book_view(self, coin: str) -> BookView:
        """What a cycle reads of `l2_book(coin)`: `l2_book(coin).view()`, which a venue that
        makes its book may give without building every level."""
        ...

    def account_state(self) -> AccountState: ...

    def open_orders(self) -> list[OpenOrder]: ...

    def fills(self, start_ms: int | None = None) -> list[Fill]:
        """The account's fills (from `start_ms` when given); a venue may send some from before it."""
        ...

    def place_orders(self, orders: Sequence[ApprovedOrder]) -> list[OrderOutcome]:
        """Place approved orders in one bulk action; one outcome per order, in order."""
        ...

    def cancel(self, coin: str, oid: int) -> bool:
        """True when the order was canceled; False when the venue had nothing to cancel (already
        filled, canceled or never placed)."""
        ...

    def cancel_by_cloid(self, coin: str, cloid: str) -> bool: ...

    def order_status_by_cloid(self, cloid: str) -> str | None:
        """The venue's status for an order we sent ("open", "filled", ...), None if unknown."""
        ...

    def set_leverage(self, coin: str, leverage: int, is_cross: bool = True) -> None: ...

    def transfer_usd(self, amount: Decimal, to_perp: bool) -> None:
        """Move `amount` USDC (> 0) between the account's spot and perp wallets."""
        ...

    def schedule_cancel(self, time_ms: int | None) -> None:
        """Cancel every open order at `time_ms` (the dead-man switch); None clears it."""
        ...


__all__ = ["ApprovedOrder", "Clock", "ExchangePort", "OrderIntent"]
