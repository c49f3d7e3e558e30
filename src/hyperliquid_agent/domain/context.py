"""What one decision sees: the point-in-time inputs handed to the DecisionEngine.

Real providers see only the rendered prompt; offline providers (the deterministic
baseline policy) read these same facts directly, so both decide from one snapshot.
Signals are floats (indicators, not money), keyed per coin by the names in
`hyperliquid_agent.signals.SIGNAL_NAMES`; cross-asset signals sit under "*".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hyperliquid_agent.domain.account import AccountState


class DecisionContext(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    now_ms: int
    mode: str = "standard"  # standard | governed
    coins: tuple[str, ...] = ()
    account: AccountState
    mids: dict[str, Decimal] = Field(default_factory=dict)
    signals: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    strategies: tuple[Any, ...] = ()  # StrategySpec values offered to the model
    regime: str | None = None
    regime_confidence: float | None = None
    active_plan: Any | None = None  # PlanCard in governed mode
    can_review: bool = True
    review_reason: str = ""
    max_leverage: int = 1
    open_orders: tuple[Any, ...] = ()  # OpenOrder values resting on the venue
