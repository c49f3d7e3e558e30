"""Account values. A position's size is SIGNED: negative means short."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from hyperliquid_agent.domain.values import ZERO, Money

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class LeverageType(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class Position(BaseModel):
    model_config = _FROZEN
    coin: str
    size: Money  # signed: > 0 long, < 0 short
    entry_price: Money
    unrealized_pnl: Money = ZERO
    leverage: int = Field(default=1, ge=1)
    leverage_type: LeverageType = LeverageType.CROSS
    liquidation_price: Money | None = None
    margin_used: Money = ZERO
    position_value: Money = ZERO
    cum_funding: Money = ZERO  # funding paid since open (positive = paid)

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    def notional(self, price: Decimal) -> Decimal:
        """Signed notional at `price`."""
        return self.size * price


class SpotBalance(BaseModel):
    model_config = _FROZEN
    coin: str
    total: Money
    hold: Money = ZERO
    entry_notional: Money = ZERO


def spot_equity(balances: Iterable[SpotBalance], token_prices: Mapping[str, Decimal]) -> Decimal:
    """The spot wallet in USDC: USDC at 1, a token at its price when one is known, else at its
    entry notional (its cost: a token with no market price is never counted as lost or gained)."""
    total = ZERO
    for b in balances:
        if b.coin == "USDC":
            total += b.total
        elif b.coin in token_prices:
            total += b.total * token_prices[b.coin]
        else:
            total += b.entry_notional
    return total


class AccountState(BaseModel):
    model_config = _FROZEN
    portfolio_value: Money  # perp account value + spot wallet in USDC (spot_equity)
    available_balance: Money  # withdrawable
    margin_used: Money = ZERO
    total_notional: Money = ZERO
    positions: tuple[Position, ...] = ()
    spot_balances: tuple[SpotBalance, ...] = ()
    timestamp_ms: int = 0
    stale: bool = False

    def position(self, coin: str) -> Position | None:
        for p in self.positions:
            if p.coin == coin and p.size != 0:
                return p
        return None

    def signed_size(self, coin: str) -> Decimal:
        p = self.position(coin)
        return p.size if p is not None else ZERO

    def spot_balance(self, coin: str) -> Decimal:
        for b in self.spot_balances:
            if b.coin == coin:
                return b.total
        return ZERO


def perp_margin(account: AccountState, token_prices: Mapping[str, Decimal]) -> tuple[Decimal, Decimal]:
    """(margin the perp positions use, perp equity): the equity is the account value less the
    spot wallet (`spot_equity` at `token_prices`). The margin-ratio tripwire divides the two;
    the portfolio planner keeps its orders under a ratio of them."""
    used = sum((p.margin_used for p in account.positions if p.size != 0), ZERO) or account.margin_used
    return used, account.portfolio_value - spot_equity(account.spot_balances, token_prices)
