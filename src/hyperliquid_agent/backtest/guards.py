"""Honesty and spend guards for a backtest: knowledge cutoff warnings, the pre-run cost
estimate, and the fail-closed `--max-cost` check. Prices and cutoffs come from the LLM
package's table (`hyperliquid_agent.llm.pricing`), read lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from hyperliquid_agent.domain.values import ZERO

# providers that never cost money
FREE_PROVIDERS = frozenset({"baseline", "scripted"})
# a decision prompt with the strategy summaries and a 3-coin signals table: a few thousand tokens
DEFAULT_PROMPT_CHARS = 24_000


def cutoff_warning(model: str, provider: str, window_start: date, overrides: dict[str, str]) -> str | None:
    """A warning when the window starts before the model's knowledge cutoff: it may know the outcome;
    or when no cutoff is known for the model, so this cannot be checked.

    The cutoff comes from `[backtest] knowledge_cutoffs` over the LLM package's shipped table.
    """
    if provider in FREE_PROVIDERS:
        return None
    from hyperliquid_agent.llm.pricing import knowledge_cutoff

    cutoff = knowledge_cutoff(model, overrides)
    if cutoff is None:  # (silence here would read as "no look-ahead")
        return (
            f"no knowledge cutoff is known for {model}, so whether the model already knows how this window "
            f"(from {window_start.isoformat()}) ended cannot be checked. Set it in config.toml under "
            f"[backtest.knowledge_cutoffs]: \"{model}\" = \"YYYY-MM-DD\""
        )
    if window_start >= cutoff:
        return None
    return (
        f"the backtest window starts {window_start.isoformat()}, before the knowledge cutoff of {model} "
        f"({cutoff.isoformat()}): the model may already know how this period ended, so its results are optimistic. "
        "Use a window after the cutoff, or set [backtest] knowledge_cutoffs in config.toml if the date is wrong."
    )


@dataclass(frozen=True, slots=True)
class CostEstimate:
    calls: int
    prompt_tokens: int
    output_tokens: int
    usd: Decimal | None  # None when the model's price is unknown
    per_call_usd: Decimal | None = None

    def describe(self, model: str) -> str:
        cost = f"${self.usd:,.2f}" if self.usd is not None else "unknown (model not in the price table)"
        return (
            f"estimated LLM spend for {model}: {cost} for up to {self.calls} calls "
            f"(~{self.prompt_tokens} prompt + {self.output_tokens} output tokens each; an invalid reply is re-asked "
            f"once, one more call; replayed calls cost $0)"
        )


def estimate_cost(calls: int, prompt_chars: int, output_tokens: int, model: str, pricing: dict | None = None) -> CostEstimate:
    """Spend for `calls` decision calls of `prompt_chars` each, priced by the LLM package's table."""
    from hyperliquid_agent.llm.pricing import estimate_spend, price_table

    est = estimate_spend(price_table(pricing), model, prompt_chars, output_tokens, calls_per_day=1)
    usd = est.cost_per_call_usd * calls if est.cost_per_call_usd is not None else None
    return CostEstimate(calls, est.input_tokens, output_tokens, usd, est.cost_per_call_usd)


def sample_prompt_chars(settings: Any, strategy_ids: Sequence[str] = ()) -> int | None:
    """Characters of the prompt a run would send (`app.wiring.sample_prompt_size`: its template
    with the strategies it is offered, over the sample snapshot). None when the template or the
    library cannot be read: the estimate then assumes `DEFAULT_PROMPT_CHARS` (the run itself
    reports the broken file)."""
    from hyperliquid_agent.app.wiring import sample_prompt_size
    from hyperliquid_agent.errors import HLAgentError

    try:
        return sample_prompt_size(settings, strategy_ids=strategy_ids)[0]
    except (HLAgentError, OSError):
        return None


def expected_calls(span_ms: int, mode: str, tick_s: int, review_s: int) -> int:
    """An upper bound on decision calls: one per tick in standard mode, one per review period in governed mode."""
    period_s = tick_s if mode == "standard" else max(review_s, tick_s)
    return max(1, span_ms // (period_s * 1000))


class CostGuard:
    """Fail closed: stop before a cycle whose likely cost would take spend past `max_cost`.

    The likely cost of the next cycle is the dearest cycle seen so far in this run (replayed
    calls cost $0), or the per-cycle estimate before any paid cycle has been seen.
    """

    def __init__(self, max_cost: Decimal | None, per_cycle_estimate: Decimal | None) -> None:
        self.max_cost = max_cost
        self.per_cycle_estimate = per_cycle_estimate
        self.dearest = ZERO
        self.seen_cycles = 0

    def allows_next(self, spent: Decimal) -> bool:
        if self.max_cost is None:
            return True
        # at the cap: stop. A run that has spent nothing goes on under a $0 cap only while its
        # cycles are estimated or seen to cost nothing (an offline or fully replayed run)
        if spent > 0 and spent >= self.max_cost:
            return False
        if self.seen_cycles == 0:
            # unknown price: we cannot promise to stay under the cap, so do not start
            if self.per_cycle_estimate is None:
                return False
            nxt = self.per_cycle_estimate
        else:
            nxt = self.dearest
        return spent + nxt <= self.max_cost

    def record(self, cycle_cost: Decimal) -> None:
        self.seen_cycles += 1
        if cycle_cost > self.dearest:
            self.dearest = cycle_cost
