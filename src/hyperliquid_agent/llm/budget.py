"""USD budgets per UTC day (from the persisted ledger) and per run (this client's life).

Past `soft_fraction` of either limit the client switches to `llm.fallback_model`;
at a limit it refuses to call (BudgetExceededError) and the refusal is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from hyperliquid_agent.config import BudgetConfig
from hyperliquid_agent.errors import BudgetExceededError


@dataclass(frozen=True)
class BudgetVerdict:
    model: str
    note: str | None = None  # set when the fallback model was chosen


class BudgetGuard:
    def __init__(
        self,
        config: BudgetConfig,
        fallback_model: str | None,
        spent_today: Callable[[int], Decimal],
        spent_this_run: Callable[[], Decimal],
    ) -> None:
        self.config = config
        self.fallback_model = fallback_model
        self._today = spent_today
        self._run = spent_this_run

    def _limits(self, now_ms: int) -> list[tuple[str, str, Decimal, Decimal]]:
        out = []
        if self.config.daily_usd is not None:
            out.append(("daily", "llm.budget.daily_usd", self._today(now_ms), self.config.daily_usd))
        if self.config.run_usd is not None:
            out.append(("run", "llm.budget.run_usd", self._run(), self.config.run_usd))
        return out

    def check(self, model: str, now_ms: int) -> BudgetVerdict:
        """The model to call with, or BudgetExceededError when a hard limit is reached."""
        limits = self._limits(now_ms)
        for name, key, spent, limit in limits:
            if spent >= limit:
                raise BudgetExceededError(
                    f"{name} LLM budget reached: spent ${spent:.4f} of ${limit} ({key}); holding without "
                    f"calling the model. Raise {key} in config.toml or wait for the next "
                    f"{'UTC day' if name == 'daily' else 'run'}."
                )
        for name, key, spent, limit in limits:
            if self.fallback_model and spent >= limit * self.config.soft_fraction:
                return BudgetVerdict(
                    self.fallback_model,
                    f"switched to fallback model {self.fallback_model}: {name} spend ${spent:.4f} >= "
                    f"{self.config.soft_fraction:%} of ${limit} ({key})",
                )
        return BudgetVerdict(model)
