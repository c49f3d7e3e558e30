"""The shipped price table (`pricing.toml`), config overrides, cost arithmetic, knowledge cutoffs.

Lookup is exact id first, then the longest known key the id starts with, but only
when what follows is a date or version tag, so `gpt-4o-2024-08-06` resolves to
`gpt-4o` while `gpt-4o-mini` is never priced as `gpt-4o` and an unknown
`claude-opus-4-9` is never priced as `claude-opus-4`. Unknown => None, never a guess.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Mapping

from hyperliquid_agent.config import ModelPrice
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.llm.types import Usage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MILLION = Decimal(1_000_000)
_TAG = re.compile(r"^(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest|[@:].+)$")


def match_key(model: str, keys: "Mapping[str, object] | set[str]") -> str | None:
    """The table key that prices `model`: exact, else the longest prefix followed by a tag."""
    if model in keys:
        return model
    best: str | None = None
    for key in keys:
        if model.startswith(key) and _TAG.match(model[len(key):]) and (best is None or len(key) > len(best)):
            best = key
    return best


def cost_of(price: ModelPrice, usage: Usage) -> Decimal:
    """Exact USD cost of one call's usage at `price`."""
    cached = usage.cached_input_tokens
    written = usage.cache_write_tokens
    fresh = max(usage.input_tokens - cached - written, 0)
    total = (
        Decimal(fresh) * price.input
        + Decimal(cached) * (price.cached_input if price.cached_input is not None else price.input)
        + Decimal(written) * (price.cache_write if price.cache_write is not None else price.input)
        + Decimal(usage.output_tokens) * price.output
    )
    return total / MILLION


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, ModelPrice]
    cutoffs: Mapping[str, date]

    def price_for(self, model: str) -> ModelPrice | None:
        key = match_key(model, self.prices)
        return self.prices[key] if key is not None else None

    def cost(self, model: str, usage: Usage) -> Decimal | None:
        price = self.price_for(model)
        return cost_of(price, usage) if price is not None else None

    def knowledge_cutoff(self, model: str) -> date | None:
        key = match_key(model, self.cutoffs)
        return self.cutoffs[key] if key is not None else None

    def with_overrides(self, overrides: Mapping[str, ModelPrice] | None) -> "PriceTable":
        if not overrides:
            return self
        return PriceTable({**self.prices, **overrides}, self.cutoffs)


@lru_cache(maxsize=1)
def shipped_table() -> PriceTable:
    """The table in the package's `pricing.toml`."""
    text = resources.files("hyperliquid_agent.llm").joinpath("pricing.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    try:
        prices = {k: ModelPrice.model_validate(v) for k, v in raw.get("models", {}).items()}
        cutoffs = {k: date.fromisoformat(v) for k, v in raw.get("cutoffs", {}).items()}
    except (ValueError, TypeError) as exc:  # a broken shipped file is a packaging bug; say where
        raise ConfigError(f"hyperliquid_agent/llm/pricing.toml is invalid: {exc}") from None
    return PriceTable(prices, cutoffs)


def price_table(overrides: Mapping[str, ModelPrice] | None = None) -> PriceTable:
    """The shipped table with `[llm.pricing]` overrides on top."""
    return shipped_table().with_overrides(overrides)


def add_price_hint(model: str, where: str = "config.toml") -> str:
    """The fix for an error that needs `model`'s price: the config table to add."""
    return (f"Add [llm.pricing.\"{model}\"] with input and output USD per million tokens to {where} "
            "(0 for a free local model)")


def knowledge_cutoff(model: str, overrides: Mapping[str, str | date] | None = None) -> date | None:
    """The model's knowledge cutoff (shipped `[cutoffs]`, then `overrides` such as
    `[backtest].knowledge_cutoffs`, prefix -> YYYY-MM-DD), or None when unknown."""
    cutoffs = dict(shipped_table().cutoffs)
    for key, value in (overrides or {}).items():
        cutoffs[key] = value if isinstance(value, date) else date.fromisoformat(value)
    key = match_key(model, cutoffs)
    return cutoffs[key] if key is not None else None


@dataclass(frozen=True)
class SpendEstimate:
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    calls_per_day: int
    cost_per_call_usd: Decimal | None
    cost_per_day_usd: Decimal | None
    cost_per_30d_usd: Decimal | None


CHARS_PER_TOKEN = 4  # a rough, documented rule of thumb for English prompts with JSON
# providers drop a cached prompt prefix after about 5 idle minutes (Anthropic's default cache lifetime;
# OpenAI's is 5 to 10 minutes): calls further apart than this find the cache empty
PROMPT_CACHE_IDLE_S = 300


def estimated_tokens(chars: int) -> int:
    """Tokens a prompt of `chars` characters is estimated at (CHARS_PER_TOKEN a token, rounded up)."""
    return -(-chars // CHARS_PER_TOKEN)


def estimate_spend(
    table: PriceTable, model: str, prompt_chars: int, reply_tokens: int, calls_per_day: int,
    cached_fraction: Decimal = Decimal(0),
    written_fraction: Decimal = Decimal(0),
) -> SpendEstimate:
    """Forecast spend from prompt size (chars / 4 tokens), reply tokens and calls per day; the
    `cached_fraction` of the prompt read from the cache, the `written_fraction` written to it."""
    input_tokens = estimated_tokens(prompt_chars)
    cached = int(Decimal(input_tokens) * cached_fraction)
    written = int(Decimal(input_tokens) * written_fraction)
    usage = Usage(input_tokens=input_tokens, cached_input_tokens=cached, cache_write_tokens=written,
                  output_tokens=reply_tokens)
    per_call = table.cost(model, usage)
    per_day = per_call * calls_per_day if per_call is not None else None
    return SpendEstimate(model, input_tokens, reply_tokens, cached, written, calls_per_day, per_call, per_day,
                         per_day * 30 if per_day is not None else None)
