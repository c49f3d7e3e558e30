"""Decisions: the public face of decision parsing and of the DecisionEngine.

    from hyperliquid_agent.decision import DecisionEngine, PromptTemplate, parse_decision

Pure core: the parsers and result values (`decision_parse`), and the governed-mode prompt
(`governance_prompt_parts`). `DecisionEngine` lives at the app layer
(`hyperliquid_agent.decision_engine`, because it may build the LLM client) and is handed
out lazily from here, so importing this module never touches an adapter.
"""

from __future__ import annotations

from typing import Any, Sequence

from hyperliquid_agent.decision_parse import (
    DecisionResult,
    GovernanceDecisionResult,
    RejectedAction,
    parse_decision,
    parse_governance_decision,
)
from hyperliquid_agent.domain.account import AccountState
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.prompts import PromptTemplate, format_dwell, format_review, sample_context
from hyperliquid_agent.schemas import DecisionSchema, GovernanceDecisionSchema


def governance_context(
    account_state: AccountState,
    active_plan: Any,
    current_regime: Any,
    can_review: bool | tuple[bool, str],
    context: DecisionContext | None = None,
) -> DecisionContext:
    """The context a governed-mode decision sees (what its prompt shows)."""
    allowed, reason = review_flag(can_review)
    regime, confidence = _regime(current_regime)
    base = context or DecisionContext(now_ms=account_state.timestamp_ms, account=account_state)
    if not reason and isinstance(can_review, bool):
        reason = base.review_reason  # a bare flag keeps the reason the context already carries
    update = {
        "mode": "governed", "account": account_state, "active_plan": active_plan, "regime": regime,
        "regime_confidence": confidence if confidence is not None else base.regime_confidence,
        "can_review": allowed, "review_reason": reason,
    }
    if all(getattr(base, k) is v or getattr(base, k) == v for k, v in update.items()):
        return base  # the context says all of it already (as the governed cycle builds it): no copy
    return base.model_copy(update=update)


def governance_prompt_parts(
    template: PromptTemplate,
    account_state: AccountState,
    active_plan: Any,
    current_regime: Any,
    can_review: bool | tuple[bool, str],
    context: DecisionContext | None = None,
    dwell_remaining_minutes: float | None = None,
) -> tuple[tuple[str, str], DecisionContext]:
    """The governed-mode prompt as (stable_prefix, dynamic_suffix), and the context it shows."""
    ctx = governance_context(account_state, active_plan, current_regime, can_review, context)
    allowed, reason = ctx.can_review, ctx.review_reason
    dwell = dwell_remaining_minutes
    if dwell is None and active_plan is not None and callable(getattr(active_plan, "dwell_remaining_minutes", None)):
        try:
            dwell = active_plan.dwell_remaining_minutes(ctx.now_ms)
        except Exception:
            dwell = None
    parts = template.render_parts(
        account_state, ctx, dwell_remaining=format_dwell(dwell) if active_plan is not None else "no active plan",
        review_status=format_review(allowed, reason),
    )
    return parts, ctx


def sample_prompt_parts(
    template: PromptTemplate, mode: str, coins: Sequence[str] = ("BTC", "ETH", "SOL"), max_leverage: int = 3
) -> tuple[str, str]:
    """(stable_prefix, dynamic_suffix) of `template` over the fixed sample snapshot (`prompts.sample_context`):
    what `hl-agent prompt render` prints and what cost estimates size."""
    ctx = sample_context(coins, mode, max_leverage=max_leverage)
    if mode == "governed":
        parts, _ = governance_prompt_parts(template, ctx.account, None, ctx.regime, (ctx.can_review, ctx.review_reason), ctx)
        return parts
    return template.render_parts(context=ctx)


def review_flag(can_review: bool | tuple[bool, str]) -> tuple[bool, str]:
    """A review flag as (allowed, reason): accepts a bool or the governor's (allowed, reason) pair."""
    if isinstance(can_review, tuple):
        return bool(can_review[0]), str(can_review[1]) if len(can_review) > 1 else ""
    return bool(can_review), ""


def _regime(value: Any) -> tuple[str | None, float | None]:
    if value is None:
        return None, None
    if isinstance(value, str):  # includes Regime (a StrEnum)
        return str(value), None
    name = getattr(value, "regime", None)
    conf = getattr(value, "confidence", None)
    return (str(name) if name is not None else None), (float(conf) if conf is not None else None)


def __getattr__(name: str) -> Any:
    if name in ("DecisionEngine", "LLMQuery"):
        from hyperliquid_agent import decision_engine

        return getattr(decision_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DecisionEngine", "DecisionResult", "DecisionSchema", "GovernanceDecisionResult", "GovernanceDecisionSchema",
    "LLMQuery", "PromptTemplate", "RejectedAction", "governance_prompt_parts", "parse_decision", "review_flag",
    "parse_governance_decision", "sample_prompt_parts",
]
