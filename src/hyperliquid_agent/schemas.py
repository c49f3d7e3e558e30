"""The structured outputs we ask every model for (and the offline providers answer).

These are the wire contract with the LLM: plain JSON types, every field present,
lists instead of dicts, so OpenAI strict structured outputs and Anthropic forced tool
calls accept them. Numbers are read as Decimal (parse JSON with parse_float=Decimal).
Validation into domain values (TradeAction, TargetEntry, PlanCard) happens after,
one item at a time, so one bad action is rejected with its reason and the rest stand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from hyperliquid_agent.domain.regime import REGIME_NAMES

# A JSON number that becomes an exact Decimal in Python.
Number = Annotated[Decimal, WithJsonSchema({"type": "number"})]
RegimeName = Literal[
    "trending-bull", "trending-bear", "range-bound", "carry-friendly", "high-volatility", "event-risk"
]
assert set(RegimeName.__args__) == set(REGIME_NAMES)  # type: ignore[attr-defined]

_WIRE = ConfigDict(extra="forbid")


class ActionSpec(BaseModel):
    """One requested action as the model writes it (validated into a TradeAction later)."""

    model_config = _WIRE
    action_type: Literal["buy", "sell", "hold", "close", "transfer", "cancel"]
    coin: str | None = Field(description="asset name such as BTC; USDC for transfers")
    market_type: Literal["perp", "spot"] | None
    size: Number | None = Field(description="coin units; null lets the engine size it")
    price: Number | None = Field(description="limit price; null for a market order")
    amount_usd: Number | None = Field(default=None, description="transfer amount in USDC")
    to_perp: bool | None = Field(default=None, description="transfer direction")
    oid: int | None = Field(default=None, description="cancel only: the order id from the open orders")
    reasoning: str


class TargetSpec(BaseModel):
    """One line of a target allocation: signed percent of portfolio value as notional."""

    model_config = _WIRE
    coin: str
    target_pct: Number = Field(description="signed: 25 = long 25% of equity, -10 = short 10%, 0 = flat")
    market_type: Literal["perp", "spot"]
    leverage: int | None


class DecisionSchema(BaseModel):
    """Standard mode: actions and/or a target allocation."""

    model_config = _WIRE
    reasoning: str
    selected_strategy: str | None = Field(description="id of the strategy followed, or null")
    actions: list[ActionSpec]
    target_allocation: list[TargetSpec] | None = Field(
        description="full target book; coins left out are closed. null keeps positions as they are"
    )


class ProposedPlan(BaseModel):
    model_config = _WIRE
    strategy_id: str
    objective: str
    target_allocation: list[TargetSpec]
    expected_edge_bps: Number = Field(description="expected edge over the plan's life, in basis points")
    take_profit_pct: Number | None
    stop_loss_pct: Number | None


class GovernanceDecisionSchema(BaseModel):
    """Governed mode: keep the plan (with small adjustments) or propose a new one."""

    model_config = _WIRE
    maintain_plan: bool
    reasoning: str
    micro_adjustments: list[TargetSpec] = Field(
        description="small target changes within the active plan's limits; [] for none"
    )
    proposed_plan: ProposedPlan | None = Field(description="a new plan, only when maintain_plan is false")


class RegimeSchema(BaseModel):
    model_config = _WIRE
    regime: RegimeName
    confidence: Number = Field(description="0 to 1")
    reasoning: str


__all__ = [
    "ActionSpec", "DecisionSchema", "GovernanceDecisionSchema", "Number", "ProposedPlan",
    "RegimeName", "RegimeSchema", "TargetSpec",
]
