"""The strategy library: `strategies/*.md` (YAML frontmatter + markdown body) -> StrategySpec.

Parsing and validation are pure (`parse_strategy(text, source)`); `load_strategies(dir)`
is the thin edge that reads the folder. Every problem in every file is collected and
raised together as one `StrategyError` whose `problems` name the file and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from hyperliquid_agent.conditions import Condition, ConditionSyntaxError, parse_condition
from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain.regime import REGIME_NAMES, Regime
from hyperliquid_agent.domain.values import MarketType, Money
from hyperliquid_agent.errors import StrategyError

RenderMode = Literal["full", "summary"]
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

__all__ = [
    "Condition", "RenderMode", "StrategySpec", "load_strategies", "parse_condition", "parse_strategy",
    "strategies_for_regime",
]


class StrategySpec(BaseModel):
    """One strategy: the frontmatter facts plus the markdown description."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="kebab-case, unique in the library")
    title: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    markets: tuple[MarketType, ...] = Field(min_length=1)
    directionality: Literal["long", "short", "long-short", "market-neutral", "flat"]
    risk_profile: Literal["none", "low", "medium", "high"]
    tags: tuple[str, ...] = ()
    intended_horizon: Literal["minutes", "hours", "days"]
    minimum_dwell_minutes: int | None = Field(
        default=None, ge=0, description="omitted: governance.governor.default_dwell_minutes applies")
    compatible_regimes: tuple[Regime, ...] = Field(min_length=1)
    avoid_regimes: tuple[Regime, ...] = ()
    invalidation_triggers: tuple[str, ...] = ()
    max_position_pct: Money = Field(ge=0, le=100, description="largest single position, % of portfolio value")
    max_leverage: int = Field(ge=1, le=50)
    expected_switching_cost_bps: Money = Field(ge=0)
    description: str = Field(min_length=1, description="the markdown body")
    source: str = Field(default="", exclude=True)

    _conditions: tuple[Condition, ...] = PrivateAttr(default=())

    @field_validator("id")
    @classmethod
    def _kebab(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r} must be kebab-case: lowercase letters, digits and single dashes")
        return v

    @field_validator("version", "max_leverage", "minimum_dwell_minutes", mode="before")
    @classmethod
    def _whole_number(cls, v: Any) -> Any:
        # YAML reads yes/no/on/off/true as booleans, which pydantic would take as 1 and 0
        if isinstance(v, bool):
            raise ValueError(f"must be a whole number, not {str(v).lower()} (YAML reads yes/no/on/off as true/false)")
        return v

    @field_validator("compatible_regimes", "avoid_regimes", mode="before")
    @classmethod
    def _regimes(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, (list, tuple)):
            bad = [r for r in v if r not in REGIME_NAMES]
            if bad:
                raise ValueError(f"unknown regime {bad[0]!r}; allowed: {', '.join(REGIME_NAMES)}")
            v = list(dict.fromkeys(v))  # a regime listed twice is listed once (fits() counts them)
        return v

    @field_validator("markets", "tags", "invalidation_triggers", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("invalidation_triggers")
    @classmethod
    def _triggers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        problems = []
        for i, text in enumerate(v):
            try:
                parse_condition(text)
            except ConditionSyntaxError as exc:
                problems.append(f"[{i}] {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return tuple(t.strip() for t in v)

    @model_validator(mode="after")
    def _regimes_disjoint(self) -> "StrategySpec":
        both = sorted(set(self.compatible_regimes) & set(self.avoid_regimes))
        if both:
            raise ValueError(f"regime(s) {', '.join(both)} are both in compatible_regimes and avoid_regimes")
        self._conditions = tuple(parse_condition(t) for t in self.invalidation_triggers)
        return self

    # ---------------------------------------------------------------- queries

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The invalidation triggers, parsed."""
        return self._conditions

    def fits(self, regime: str | Regime | None) -> bool:
        """May this strategy run in `regime`? (Unknown regime: only regime-agnostic ones.)"""
        if regime is None:
            return len(self.compatible_regimes) == len(REGIME_NAMES)
        return regime in self.compatible_regimes and regime not in self.avoid_regimes

    def dwell_text(self) -> str:
        m = self.minimum_dwell_minutes
        return "the configured default" if m is None else f"{m} min"

    def summary(self) -> str:
        """Frontmatter facts only, a few compact lines for the prompt."""
        lines = [
            f"### {self.id} (v{self.version}): {self.title}",
            f"markets: {', '.join(self.markets)} | direction: {self.directionality} | risk: {self.risk_profile}"
            f" | horizon: {self.intended_horizon} | minimum dwell: {self.dwell_text()}",
            f"regimes: {', '.join(self.compatible_regimes)}"
            + (f" | avoid: {', '.join(self.avoid_regimes)}" if self.avoid_regimes else ""),
            f"limits: max position {plain_text(self.max_position_pct)}% of equity | max leverage {self.max_leverage}x"
            f" | switching cost ~{plain_text(self.expected_switching_cost_bps)} bps",
        ]
        if self.invalidation_triggers:
            lines.append("invalidated when: " + " ; ".join(self.invalidation_triggers))
        if self.tags:
            lines.append("tags: " + ", ".join(self.tags))
        return "\n".join(lines)

    def render(self, mode: RenderMode = "summary") -> str:
        if mode == "summary":
            return self.summary()
        if mode == "full":
            return self.summary() + "\n\n" + self.description.strip()
        raise ValueError(f"unknown render mode {mode!r}; use 'full' or 'summary'")


# -------------------------------------------------------------------- parsing


def parse_strategy(text: str, source: str = "<text>") -> StrategySpec:
    """Parse one strategy file's text. Raises StrategyError listing every problem in it."""
    import frontmatter  # python-frontmatter (yaml); local so importing this module stays light

    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # yaml.YAMLError and friends
        raise StrategyError([f"{source}: frontmatter is not valid YAML: {_one_line(exc)}"]) from None
    meta = dict(post.metadata)
    if not meta:
        raise StrategyError([f"{source}: no YAML frontmatter; start the file with '---', the fields, then '---'"])
    if "description" in meta:
        raise StrategyError([f"{source}: field 'description': write the description as the markdown body, not a field"])
    meta["description"] = post.content
    meta["source"] = source
    try:
        return StrategySpec.model_validate(meta)
    except ValidationError as exc:
        raise StrategyError([_problem(source, err) for err in exc.errors()]) from None


def _problem(source: str, err: Any) -> str:
    field = ".".join(str(p) for p in err["loc"]) or "frontmatter"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown field '{field}': remove it or check its spelling (see docs/strategies.md)"
    if err["type"] == "missing":
        return f"{source}: field '{field}' is required (see docs/strategies.md)"
    if field == "description":
        return f"{source}: the markdown body (description) is empty; describe entry, exit and sizing rules"
    return f"{source}: field '{field}': {msg} (got {err.get('input')!r})"


def _one_line(exc: BaseException) -> str:
    # yaml names its input `"<unicode string>"`; the file is already named in front of the message
    return " ".join(str(exc).replace(' in "<unicode string>"', "").split())


def load_strategies(directory: str | Path) -> list[StrategySpec]:
    """Every `*.md` in `directory`, validated, sorted by id. Raises StrategyError with ALL problems."""
    folder = Path(directory)
    if not folder.is_dir():
        raise StrategyError([f"{folder}: strategies folder not found; set [agent] strategies_dir in config.toml"])
    specs: list[StrategySpec] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {_one_line(exc)}")
            continue
        try:
            specs.append(parse_strategy(text, str(path)))
        except StrategyError as exc:
            problems.extend(exc.problems)
    problems.extend(_duplicate_ids(specs))
    if not specs and not problems:
        problems.append(f"{folder}: no strategy files (*.md); copy the defaults with: hl-agent init DIR")
    if problems:
        raise StrategyError(problems)
    return sorted(specs, key=lambda s: s.id)


def _duplicate_ids(specs: Iterable[StrategySpec]) -> list[str]:
    seen: dict[str, str] = {}
    out = []
    for s in specs:
        if s.id in seen:
            out.append(f"{s.source}: field 'id': duplicate id {s.id!r}, already used by {seen[s.id]}")
        else:
            seen[s.id] = s.source
    return out


def strategies_for_regime(strategies: Iterable[StrategySpec], regime: str | Regime | None) -> list[StrategySpec]:
    """The strategies that may run in `regime` (compatible and not avoided)."""
    return [s for s in strategies if s.fits(regime)]
