"""Regime classification: deterministic rules, optional LLM, hysteresis (pure).

`classify_rules` maps one market's signals to a regime with a confidence in 0..1:

1. high-volatility  when rv_ann >= high_vol_annualized_min
2. trending-bull/bear when adx14 >= trend_adx_min and |ret_7d| >= trend_return_7d_min
   (direction from ret_7d, which must agree with ema_spread when that is known)
3. carry-friendly   when |funding_24h_avg| >= carry_funding_24h_min
4. range-bound      otherwise

`event-risk` never comes from signals: it comes from the calendar's lock windows and
overrides the market regime at once (no hysteresis: the calendar is known in advance).

`RegimeTracker` confirms a change of market regime only after `hysteresis_n` of the
last `hysteresis_m` classifications agree on the new regime.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from hyperliquid_agent.config import LLMConfig, RegimeConfig
from hyperliquid_agent.domain.regime import Regime
from hyperliquid_agent.errors import LLMError
from hyperliquid_agent.governance.calendar import CalendarEvent, active_event
from hyperliquid_agent.schemas import RegimeSchema

SignalTable = Mapping[str, Mapping[str, "float | None"]]


@dataclass(frozen=True)
class RegimeReading:
    """One classification: the raw vote, the confirmed regime after hysteresis, and why."""

    raw: Regime
    confidence: float
    confirmed: Regime
    changed: bool  # the confirmed regime changed on this reading
    source: str  # "rules" | "llm" | "calendar" | "rules (llm failed: ...)"
    event: str | None = None
    time_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_ms": self.time_ms, "raw": self.raw.value, "confidence": round(self.confidence, 4),
            "confirmed": self.confirmed.value, "changed": self.changed, "source": self.source, "event": self.event,
        }


def _clip01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def _margin(value: float, threshold: float) -> float:
    """Confidence from how far `value` clears `threshold`: 0.5 at the line, 1.0 at twice it."""
    if threshold <= 0:
        return 1.0
    return _clip01(0.5 + 0.5 * (value - threshold) / threshold)


def classify_rules(signals: SignalTable, config: RegimeConfig, coin: str | None = None) -> tuple[Regime, float]:
    """The market regime of `coin` (default: `config.reference_coin`) and a confidence 0..1.

    A missing coin or missing signals give range-bound at confidence 0 (nothing to go on).
    """
    row = signals.get(coin or config.reference_coin)
    if not row:
        return Regime.RANGE_BOUND, 0.0
    rv = row.get("rv_ann")
    if rv is not None and rv >= config.high_vol_annualized_min:
        return Regime.HIGH_VOLATILITY, _margin(rv, config.high_vol_annualized_min)
    adx_v, r7, spread = row.get("adx14"), row.get("ret_7d"), row.get("ema_spread")
    if adx_v is not None and r7 is not None and adx_v >= config.trend_adx_min and abs(r7) >= config.trend_return_7d_min:
        if spread is None or (spread > 0) == (r7 > 0):
            conf = min(_margin(adx_v, config.trend_adx_min), _margin(abs(r7), config.trend_return_7d_min))
            return (Regime.TRENDING_BULL if r7 > 0 else Regime.TRENDING_BEAR), conf
    fund = row.get("funding_24h_avg")
    if fund is not None and abs(fund) >= config.carry_funding_24h_min:
        return Regime.CARRY_FRIENDLY, _margin(abs(fund), config.carry_funding_24h_min)
    known = [v for v in (rv, adx_v, r7, fund) if v is not None]
    if not known:
        return Regime.RANGE_BOUND, 0.0
    # range-bound: confident when trend strength and volatility sit well below their lines
    calm = [1.0 - _clip01(adx_v / config.trend_adx_min)] if adx_v is not None else []
    if rv is not None and config.high_vol_annualized_min > 0:
        calm.append(1.0 - _clip01(rv / config.high_vol_annualized_min))
    return Regime.RANGE_BOUND, _clip01(0.5 + 0.5 * (sum(calm) / len(calm))) if calm else 0.5


def classify_markets(signals: SignalTable, config: RegimeConfig) -> dict[str, tuple[Regime, float]]:
    """Per-coin rules regimes, for display and for strategies that look at one market."""
    return {c: classify_rules(signals, config, c) for c in signals if c != "*"}


# ---------------------------------------------------------------- optional LLM classification


def regime_llm_config(llm: LLMConfig, regime: RegimeConfig) -> LLMConfig:
    """The LLM settings for regime calls: temperature 0 and `regime.llm_model` when set.

    The app builds its regime client from this (the governor only receives the client).
    """
    return llm.model_copy(update={"temperature": 0.0, "model": regime.llm_model or llm.model})


def regime_messages(signals: SignalTable, config: RegimeConfig) -> list[dict[str, str]]:
    names = ", ".join(r.value for r in Regime if r is not Regime.EVENT_RISK)
    ref = config.reference_coin
    rows = {c: {k: (None if v is None else round(v, 6)) for k, v in row.items()} for c, row in signals.items()}
    system = (
        "You classify the crypto perpetuals market regime. Answer with the JSON schema only. "
        f"Allowed regimes: {names} (event-risk comes from the calendar, not from you). "
        f"The reference market is {ref}. Rule of thumb: high-volatility when rv_ann >= "
        f"{config.high_vol_annualized_min}; trending when adx14 >= {config.trend_adx_min} and |ret_7d| >= "
        f"{config.trend_return_7d_min}; carry-friendly when |funding_24h_avg| >= {config.carry_funding_24h_min}; "
        "otherwise range-bound. Confidence is 0 to 1."
    )
    user = "Signals (coin -> name -> value; rv is per-bar log-return volatility, funding is hourly):\n" + json.dumps(
        rows, sort_keys=True
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class RegimeQuery:
    """The point-in-time facts behind a regime call, for offline providers that read them
    directly (the baseline answers with the rules over `signals`, with these thresholds)."""

    signals: SignalTable
    regime: str | None = None  # the confirmed regime before this reading
    config: RegimeConfig | None = None  # the configured thresholds and reference coin


def classify_llm(
    client: Any, signals: SignalTable, config: RegimeConfig, current: Regime | None = None
) -> tuple[Regime, float]:
    """Ask the model (structured output). Raises LLMError when there is no usable answer."""
    query = RegimeQuery(signals=signals, regime=current.value if current is not None else None, config=config)
    response = client.query(regime_messages(signals, config), schema=RegimeSchema, purpose="regime", context=query)
    parsed = getattr(response, "parsed", None)
    if not isinstance(parsed, RegimeSchema):
        try:
            # the client's reply is already validated (a dict, read from fences or prose when the server
            # needs repair); only a client without `parsed` leaves the raw text to read
            parsed = (RegimeSchema.model_validate(parsed) if isinstance(parsed, dict)
                      else RegimeSchema.model_validate_json(getattr(response, "content", "") or ""))
        except ValueError as exc:
            from hyperliquid_agent.errors import LLMInvalidOutputError

            raise LLMInvalidOutputError(f"regime reply is not a RegimeSchema: {exc}") from None
    regime = Regime(parsed.regime)
    if regime is Regime.EVENT_RISK:  # only the calendar says event-risk
        raise LLMError("the model answered event-risk, which only the calendar may set")
    return regime, _clip01(float(parsed.confidence))


def classify(
    signals: SignalTable, config: RegimeConfig, client: Any | None = None, current: Regime | None = None
) -> tuple[Regime, float, str]:
    """LLM classification when `config.use_llm` and a client is given, else the rules; the
    rules also answer whenever the LLM call fails or the budget says no (any LLMError)."""
    if config.use_llm and client is not None:
        try:
            regime, conf = classify_llm(client, signals, config, current)
            return regime, conf, "llm"
        except LLMError as exc:
            regime, conf = classify_rules(signals, config)
            return regime, conf, f"rules (llm failed: {type(exc).__name__})"
    regime, conf = classify_rules(signals, config)
    return regime, conf, "rules"


# ---------------------------------------------------------------- hysteresis


class RegimeTracker:
    """Confirms market-regime changes with N-of-M hysteresis; overlays calendar event-risk.

    The first reading is confirmed at once (there is nothing to flap against).
    """

    def __init__(self, config: RegimeConfig) -> None:
        self.config = config
        self.n = min(config.hysteresis_n, config.hysteresis_m)
        self.window: deque[str] = deque(maxlen=config.hysteresis_m)
        self.market: Regime | None = None  # confirmed market regime (without the event overlay)
        self.confirmed: Regime | None = None  # what the governor uses (event-risk overlay applied)
        self.changed_at_ms: int | None = None  # when `confirmed` last changed

    def observe(
        self,
        raw: Regime,
        confidence: float,
        now_ms: int,
        source: str = "rules",
        events: Iterable[CalendarEvent] = (),
        coins: Iterable[str] | None = None,
    ) -> RegimeReading:
        self.window.append(raw.value)
        if self.market is None:
            self.market = raw
        elif raw is not self.market and sum(1 for r in self.window if r == raw.value) >= self.n:
            self.market = raw
        ev = active_event(events, now_ms, self.config.event_lock_before_minutes,
                          self.config.event_lock_after_minutes, coins)
        new = Regime.EVENT_RISK if ev is not None else self.market
        changed = self.confirmed is not None and new is not self.confirmed
        if changed or self.confirmed is None:
            self.changed_at_ms = now_ms
        self.confirmed = new
        return RegimeReading(
            raw=raw, confidence=confidence, confirmed=new, changed=changed,
            source="calendar" if ev is not None else source, event=ev.name if ev is not None else None,
            time_ms=now_ms,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "window": list(self.window),
            "market": self.market.value if self.market else None,
            "confirmed": self.confirmed.value if self.confirmed else None,
            "changed_at_ms": self.changed_at_ms,
        }

    @classmethod
    def from_state(cls, config: RegimeConfig, state: Mapping[str, Any] | None) -> "RegimeTracker":
        t = cls(config)
        if not state:
            return t
        for r in state.get("window", [])[-config.hysteresis_m:]:
            t.window.append(Regime(r).value)
        t.market = Regime(state["market"]) if state.get("market") else None
        t.confirmed = Regime(state["confirmed"]) if state.get("confirmed") else None
        t.changed_at_ms = state.get("changed_at_ms")
        return t


__all__ = [
    "RegimeQuery", "RegimeReading", "RegimeTracker", "classify", "classify_llm", "classify_markets", "classify_rules",
    "regime_llm_config", "regime_messages",
]
