"""The one regime vocabulary shared by strategies, the classifier and the prompts."""

from __future__ import annotations

from enum import StrEnum


class Regime(StrEnum):
    TRENDING_BULL = "trending-bull"
    TRENDING_BEAR = "trending-bear"
    RANGE_BOUND = "range-bound"
    CARRY_FRIENDLY = "carry-friendly"
    HIGH_VOLATILITY = "high-volatility"
    EVENT_RISK = "event-risk"


REGIME_NAMES: tuple[str, ...] = tuple(r.value for r in Regime)


def parse_regime(value: str) -> Regime:
    try:
        return Regime(value.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown regime {value!r}; allowed: {', '.join(REGIME_NAMES)}"
        ) from None
