"""The DecisionEngine: render a template, ask the LLM, parse the reply into a decision.

    engine = DecisionEngine(llm_config, PromptTemplate("prompts/default.txt", "strategies"))
    result = engine.get_decision(account_state, context)      # DecisionResult
    gov = engine.get_decision_with_governance(account_state, plan, regime, can_review, context)

Import it as `from hyperliquid_agent.decision import DecisionEngine`. It sits at the app
layer because, unless a client is injected, it builds the configured `LLMClient` (the
only adapter it touches); everything it computes comes from the pure `decision` core.

The stable prompt prefix goes in a system message and the per-cycle state in a user
message, so providers can cache the prefix. `response.content` is always parsed with
`parse_decision` / `parse_governance_decision`, whatever the provider, so every reply
is validated the same way. That includes a reply the client gave up on after its re-ask
(`LLMInvalidOutputError.content`): its valid actions stand, the bad ones are rejected one
by one with reasons. LLM failures become failed (hold) results; nothing raises to the loop.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, Sequence, TypeVar

from hyperliquid_agent.decision import governance_context, governance_prompt_parts, review_flag
from hyperliquid_agent.decision_parse import (
    DecisionResult,
    GovernanceDecisionResult,
    parse_decision,
    parse_governance_decision,
)
from hyperliquid_agent.domain.account import AccountState
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.errors import LLMError, LLMInvalidOutputError
from hyperliquid_agent.prompts import PromptTemplate
from hyperliquid_agent.schemas import DecisionSchema, GovernanceDecisionSchema
from hyperliquid_agent.strategies import StrategySpec

R = TypeVar("R", DecisionResult, GovernanceDecisionResult)
_UNREAD = ("", "")  # the prompt parts sent when nobody reads the prompt (see `_prompt_read`)


class LLMQuery(Protocol):
    """What the engine needs from `hyperliquid_agent.llm_client.LLMClient`."""

    def query(self, prompt_or_messages: Any, schema: Any = None, purpose: str = "decision", context: Any = None) -> Any: ...


class DecisionEngine:
    def __init__(
        self,
        llm_config: Any,
        template: PromptTemplate | str | Path,
        governance_template: PromptTemplate | str | Path | None = None,
        client: LLMQuery | None = None,
        strategies: Sequence[StrategySpec] | None = None,
        store: Any = None,
    ) -> None:
        self.llm_config = llm_config
        self.template = _template(template, strategies)
        self.governance_template = _template(governance_template, strategies) if governance_template is not None else None
        self.strategies: list[StrategySpec] = list(strategies) if strategies is not None else list(self.template.strategies)
        self._ids = frozenset(s.id for s in self.strategies)
        self._client: LLMQuery = client  # type: ignore[assignment]
        if client is None:  # build now, so a missing key or a bad config fails at startup
            from hyperliquid_agent.llm_client import LLMClient  # lazy: vendor SDKs load only when used

            self._client = LLMClient(llm_config, store=store)
        self.total_calls = 0  # queries that got replies (each may have cost money), salvaged ones included
        self.failed_calls = 0  # queries that gave no usable decision (unavailable, auth, budget, unreadable...)
        self.total_cost_usd = Decimal(0)
        self.total_input_tokens = 0
        self.total_output_tokens = 0

    @property
    def client(self) -> LLMQuery:
        """The LLM client: the injected one, or the one built from `llm_config`."""
        return self._client

    # ---------------------------------------------------------------- standard mode

    def get_decision(self, account_state: AccountState, context: DecisionContext | None = None) -> DecisionResult:
        """Ask for actions or a target allocation. Never raises; a failure is a hold."""
        version = self.template.version
        try:
            parts = self.template.render_parts(account_state, context) if self._prompt_read() else _UNREAD
        except Exception as exc:
            return DecisionResult(error=f"prompt render failed: {exc}", prompt_version=version)
        return self._ask(parts, DecisionSchema, "decision", context, DecisionResult, parse_decision, version)

    # ---------------------------------------------------------------- governed mode

    def get_decision_with_governance(
        self,
        account_state: AccountState,
        active_plan: Any,
        current_regime: Any,
        can_review: bool | tuple[bool, str],
        context: DecisionContext | None = None,
        dwell_remaining_minutes: float | None = None,
    ) -> GovernanceDecisionResult:
        """Maintain the active plan (with micro-adjustments) or propose a new one. Never raises.

        `current_regime`: a regime name/Regime, or an object with `.regime` (and `.confidence`).
        `can_review`: a bool or the governor's `(allowed, reason)` pair. With review closed, a
        proposed plan is dropped (with a warning) and the plan is maintained.
        """
        template = self.governance_template
        if template is None:
            return GovernanceDecisionResult(error="no governance template configured ([agent] governance_template)")
        allowed, reason = review_flag(can_review)
        try:
            if self._prompt_read():
                parts, ctx = governance_prompt_parts(
                    template, account_state, active_plan, current_regime, can_review, context, dwell_remaining_minutes
                )
            else:
                parts, ctx = _UNREAD, governance_context(account_state, active_plan, current_regime, can_review, context)
        except Exception as exc:
            return GovernanceDecisionResult(error=f"prompt render failed: {exc}", prompt_version=template.version)
        result = self._ask(parts, GovernanceDecisionSchema, "governance", ctx, GovernanceDecisionResult,
                           parse_governance_decision, template.version)
        if not allowed and result.proposed_plan is not None:
            result = replace(
                result, maintain_plan=True, proposed_plan=None,
                warnings=result.warnings + (f"review is closed ({reason or 'dwell/cooldown'}): the proposed plan was not considered",),
            )
        return result

    # ---------------------------------------------------------------- shared

    def _prompt_read(self) -> bool:
        """Whether anyone reads the rendered prompt: the model, or a tap that hashes it for the audit
        trail. An offline policy that decides from the context alone, in a run that keeps no prompt
        hashes (a backtest), is asked without one: rendering it would be work nobody reads."""
        return getattr(self._client, "reads_prompt", True)

    def _ask(self, parts: tuple[str, str], schema: type, purpose: str, context: Any, kind: type[R], parse: Any,
             version: str) -> R:
        """The parsed reply, stamped with the template `version` (and, when a reply came, its usage)."""
        prefix, suffix = parts
        if prefix and suffix:
            messages = [{"role": "system", "content": prefix}, {"role": "user", "content": suffix}]
        else:
            messages = [{"role": "user", "content": prefix + suffix}]
        salvaged: LLMInvalidOutputError | None = None
        try:
            response = self.client.query(messages, schema=schema, purpose=purpose, context=context)
        except LLMInvalidOutputError as exc:
            # The reply failed the schema even after the re-ask. Whatever text came back is still
            # parsed below, so its valid actions stand and the bad ones are rejected one by one.
            if exc.content is None:  # a refusal, or nothing to read
                self.failed_calls += 1
                return self._count(kind(error=f"{type(exc).__name__}: {exc}"), exc.response, version)
            salvaged, response = exc, exc.response
        except LLMError as exc:
            self.failed_calls += 1
            return kind(error=f"{type(exc).__name__}: {exc}", prompt_version=version)
        except Exception as exc:  # a provider bug must not stop the loop; hold and report it
            self.failed_calls += 1
            return kind(error=f"LLM call failed unexpectedly: {type(exc).__name__}: {exc}", prompt_version=version)
        content = salvaged.content if salvaged is not None else getattr(response, "content", None)
        result: R = parse(content if isinstance(content, str) else "", strategy_ids=self._ids)
        if salvaged is not None:
            if result.success:
                note = f"the reply failed schema validation after one re-ask ({salvaged}); valid items were kept"
                result = replace(result, warnings=result.warnings + (note,))
            else:
                self.failed_calls += 1
                result = replace(result, error=f"{type(salvaged).__name__}: {salvaged}; {result.error}")
        return self._count(result, response, version)

    def _count(self, result: R, response: Any, version: str) -> R:
        """`result` with the template version and the query's tokens, cost, provider and model (one
        `replace`); the engine's totals updated."""
        if response is None:
            return replace(result, prompt_version=version)
        cost = getattr(response, "cost_usd", None)
        usage = {
            "input_tokens": int(getattr(response, "input_tokens", 0) or 0),
            "output_tokens": int(getattr(response, "output_tokens", 0) or 0),
            "cached_input_tokens": int(getattr(response, "cached_input_tokens", 0) or 0),
            "cost_usd": cost if isinstance(cost, Decimal) else None,
            "provider": getattr(response, "provider", None),
            "model": getattr(response, "model", None),
        }
        self.total_calls += 1
        self.total_input_tokens += usage["input_tokens"]
        self.total_output_tokens += usage["output_tokens"]
        if usage["cost_usd"] is not None:
            self.total_cost_usd += usage["cost_usd"]
        return replace(result, prompt_version=version, **usage)


def _template(value: PromptTemplate | str | Path, strategies: Sequence[StrategySpec] | None) -> PromptTemplate:
    if isinstance(value, PromptTemplate):
        return value
    return PromptTemplate(value, strategies=list(strategies or []))


__all__ = ["DecisionEngine", "LLMQuery"]
