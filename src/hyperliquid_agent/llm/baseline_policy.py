"""The deterministic baseline policy (pure): answers our structured schemas from a DecisionContext.

It is the offline provider's brain and the bar an LLM must beat in backtests:
- standard decisions: per coin, trend following while the trend is confirmed (direction from
  `ema_spread`, confirmed by `adx14` >= 20 and |ema_spread| >= 0.2%), otherwise fading RSI
  extremes at half size (`rsi14` below 50 leans long, above 50 short); sized so each coin
  carries a similar share of volatility (`rv_ann`), tilted against crowded funding
  (`funding_24h_avg`), flat on a coin whose signals are missing, gross exposure within
  `context.max_leverage`; the strategy it names is the best fit for the regime (see
  `best_strategy`) and its limits shape the book (a market-neutral strategy holds the book
  net of its average, a flat one nothing);
- governance: keep the active plan unless a review is allowed and its strategy no longer
  fits the regime, or the plan was invalidated (or there is none), then propose the
  best-fitting offered strategy none of whose invalidation triggers holds now (the governor
  refuses the others);
- regime: the governance rules classifier, with the configured thresholds.
Same inputs, same JSON, bit for bit. No I/O, no clock.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from functools import lru_cache
from typing import Any

from hyperliquid_agent.conditions import first_holding

TREND_ADX_MIN = 20.0
TREND_SPREAD_MIN = 0.002  # ema20/ema50 - 1
RANGE_SCALE = 0.5  # share of the volatility-sized position a range (mean-reversion) view takes
RSI_SPAN = 20.0  # rsi14 this far from 50 is a full-strength range view
VOL_BUDGET = 0.6  # annualized volatility the whole book may carry
MAX_COIN_PCT = 50.0  # of equity per coin when no strategy limit applies
FUNDING_TILT_PCT = 5.0  # percent of equity leaned against funding at the cap
FUNDING_CAP = 0.0001  # hourly funding rate treated as fully crowded
MIN_PCT = 1.0  # smaller targets are rounded to flat

HOLD_DECISION = {
    "reasoning": "baseline: no decision context, holding positions as they are",
    "selected_strategy": None,
    "actions": [],
    "target_allocation": None,
}
MAINTAIN = {
    "maintain_plan": True,
    "reasoning": "baseline: no decision context, keeping the active plan",
    "micro_adjustments": [],
    "proposed_plan": None,
}


def _pct(x: float) -> Decimal:
    return Decimal(str(round(x, 2))) if abs(x) >= MIN_PCT else Decimal(0)


def _num(d: Decimal) -> float:
    return float(d)


def _regimes(value: Any) -> frozenset[str]:
    return _regime_names(tuple(value or ()))


@lru_cache(maxsize=256)  # every decision scores the same few strategies' regime tuples
def _regime_names(regimes: tuple[Any, ...]) -> frozenset[str]:
    return frozenset(str(getattr(r, "value", r)) for r in regimes)


def _coins(context: Any) -> list[str]:
    coins = list(context.coins) or [c for c in context.signals if c != "*"]
    return sorted(dict.fromkeys(coins))


def _finite(*values: Any) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def raw_targets(context: Any) -> tuple[dict[str, float], list[str]]:
    """Signed target percent per coin before limits, and the reasons."""
    coins = _coins(context)
    out: dict[str, float] = {}
    notes: list[str] = []
    per_coin_vol = VOL_BUDGET / max(len(coins), 1)
    for coin in coins:
        s = context.signals.get(coin, {})
        spread, adx, vol, rsi = s.get("ema_spread"), s.get("adx14"), s.get("rv_ann"), s.get("rsi14")
        if not _finite(spread, adx, vol) or vol <= 0:
            out[coin] = 0.0
            notes.append(f"{coin} flat (signals missing)")
            continue
        size = min(100.0 * per_coin_vol / vol, MAX_COIN_PCT)
        if adx >= TREND_ADX_MIN and abs(spread) >= TREND_SPREAD_MIN:
            view, why = (1.0 if spread > 0 else -1.0), "trend"
        elif _finite(rsi):
            view, why = RANGE_SCALE * max(-1.0, min(1.0, (50.0 - rsi) / RSI_SPAN)), "range"
        else:
            view, why = 0.0, "no trend, no rsi"
        pct = view * size
        funding = s.get("funding_24h_avg")
        if _finite(funding):
            pct -= FUNDING_TILT_PCT * max(-1.0, min(1.0, funding / FUNDING_CAP))
        out[coin] = pct
        notes.append(f"{coin} {'long' if pct > 0 else 'short' if pct < 0 else 'flat'} ({why}: "
                     f"ema_spread {spread:.4f}, adx {adx:.1f}" + (f", rsi {rsi:.1f}" if _finite(rsi) else "")
                     + f", rv_ann {vol:.2f})")
    return out, notes


def _limit(targets: dict[str, float], max_leverage: float, max_pct: float | None, directionality: str) -> dict[str, float]:
    d = directionality.lower()
    out = dict(targets)
    if d == "flat":
        out = {c: 0.0 for c in out}
    elif d == "long":
        out = {c: max(v, 0.0) for c, v in out.items()}
    elif d == "short":
        out = {c: min(v, 0.0) for c, v in out.items()}
    if d == "market-neutral":
        # hold each coin relative to the book's average (coins with a view only): longs and
        # shorts offset, and a book that is long everything still says which coin is strongest
        live = [v for v in out.values() if v != 0]
        mean = sum(live) / len(live) if len(live) > 1 else None  # one view alone cannot be offset
        out = {c: (v - mean if v != 0 and mean is not None else 0.0) for c, v in out.items()}
        if max_pct is not None:  # scale, do not clip, so the book stays neutral
            top = max((abs(v) for v in out.values()), default=0.0)
            if top > max_pct > 0:
                out = {c: v * max_pct / top for c, v in out.items()}
            elif max_pct <= 0:
                out = {c: 0.0 for c in out}
    elif max_pct is not None:
        out = {c: max(-max_pct, min(max_pct, v)) for c, v in out.items()}
    gross = sum(abs(v) for v in out.values())
    cap = 100.0 * max(max_leverage, 0)
    if gross > cap > 0:
        out = {c: v * cap / gross for c, v in out.items()}
    return out


def _target_specs(targets: dict[str, float], leverage: int) -> list[dict[str, Any]]:
    return [{"coin": c, "target_pct": _num(_pct(v)), "market_type": "perp", "leverage": leverage}
            for c, v in sorted(targets.items())]


def fit_score(strategy: Any, regime: str | None) -> int:
    if regime is None:
        return 0
    if regime in _regimes(getattr(strategy, "avoid_regimes", ())):
        return -2
    if regime in _regimes(getattr(strategy, "compatible_regimes", ())):
        return 2
    return 0


def best_strategy(strategies: tuple[Any, ...], regime: str | None, context: Any | None = None,
                  raw: dict[str, float] | None = None) -> Any | None:
    """The offered strategy that fits `regime` best, None if none fits. Among equal fits, the
    one whose limits keep most of the baseline's own book (with a `context`; `raw`: its
    `raw_targets` when the caller has them already), then the smallest id: a flat or
    market-neutral strategy wins only when it fits better."""
    top, tied = _best_fits(strategies, regime)
    if top is None or top < 0:
        return None
    if raw is None and context is not None and len(tied) > 1:
        raw = raw_targets(context)[0]
    return _break_tie(tied, context, raw)


def _best_fits(strategies: tuple[Any, ...] | list[Any], regime: str | None) -> tuple[int | None, list[Any]]:
    """The best fit score among `strategies` (None when none is offered) and the strategies that have it."""
    scored = [(fit_score(s, regime), s) for s in strategies]
    top = max((score for score, _ in scored), default=None)
    return top, [s for score, s in scored if score == top]


def _break_tie(tied: list[Any], context: Any | None, raw: dict[str, float] | None) -> Any:
    """Of equally fitting strategies, the one whose limits keep most of the `raw` book, then the smallest id."""
    if len(tied) == 1:
        return tied[0]

    def kept(s: Any) -> float:
        if raw is None:
            return 0.0
        _, max_pct, direction = _strategy_limits(s, context)
        return round(sum(abs(v) for v in _limit(raw, float(context.max_leverage), max_pct, direction).values()), 6)

    return min(tied, key=lambda s: (-kept(s), str(s.id)))  # the first of equal keys, as a stable sort gives


def _find(strategies: tuple[Any, ...], sid: str | None) -> Any | None:
    return next((s for s in strategies if str(s.id) == sid), None)


def _strategy_limits(strategy: Any, context: Any) -> tuple[int, float | None, str]:
    lev = min(int(getattr(strategy, "max_leverage", None) or context.max_leverage), int(context.max_leverage))
    max_pct = getattr(strategy, "max_position_pct", None)
    return max(lev, 1), float(max_pct) if max_pct is not None else None, str(getattr(strategy, "directionality", "") or "")


def decide_standard(context: Any | None) -> dict[str, Any]:
    if context is None:
        return dict(HOLD_DECISION)
    raw, notes = raw_targets(context)
    strategy = best_strategy(tuple(context.strategies), context.regime, context, raw)
    lev, max_pct, direction = _strategy_limits(strategy, context) if strategy else (max(int(context.max_leverage), 1), None, "")
    targets = _limit(raw, float(context.max_leverage), max_pct, direction)
    return {
        "reasoning": "baseline trend/vol/carry policy: " + "; ".join(notes),
        "selected_strategy": str(strategy.id) if strategy else None,
        "actions": [],
        "target_allocation": _target_specs(targets, lev),
    }


def _plan_strategy_id(plan: Any) -> str | None:
    for attr in ("strategy_id", "strategy"):
        value = getattr(plan, attr, None) if not isinstance(plan, dict) else plan.get(attr)
        if value:
            return str(value)
    return None


def _trades_nothing(strategy: Any) -> bool:
    max_pct = getattr(strategy, "max_position_pct", None)
    return str(getattr(strategy, "directionality", "") or "").lower() == "flat" or (max_pct is not None and max_pct <= 0)


def _plan_status(plan: Any) -> str:
    status = plan.get("status") if isinstance(plan, dict) else getattr(plan, "status", None)
    return str(getattr(status, "value", status) or "")


def decide_governance(context: Any | None) -> dict[str, Any]:
    if context is None:
        return dict(MAINTAIN)
    strategies = tuple(context.strategies)
    plan = context.active_plan
    current_id = _plan_strategy_id(plan) if plan is not None else None
    current = _find(strategies, current_id)
    if plan is not None and not context.can_review:
        return {**MAINTAIN, "reasoning": f"baseline: review not allowed ({context.review_reason or 'dwell'}); keeping plan"}
    # an invalidated plan holds its book frozen until a new plan replaces it: never kept
    invalidated = plan is not None and _plan_status(plan) == "invalidated"
    coins = _coins(context)
    holding = {str(s.id): t for s in strategies
               if (t := first_holding(tuple(getattr(s, "invalidation_triggers", ()) or ()), context.signals, coins))}
    top, tied = _best_fits([s for s in strategies if str(s.id) not in holding], context.regime)
    fits = top is not None and top >= 0
    # a flat strategy (stand-aside fits every regime) is kept only while nothing that trades fits as
    # well, as it wins a tie only then (`best_strategy`): else a flat plan would never end
    current_fits = fits and current is not None and fit_score(current, context.regime) >= top and not (
        _trades_nothing(current) and any(not _trades_nothing(s) for s in tied))
    if plan is not None and not invalidated and (not fits or current_fits):
        return {**MAINTAIN, "reasoning": f"baseline: plan strategy {current_id} still fits regime {context.regime}"}
    if not fits:
        why = "; ".join(f"{sid}: invalidation trigger {t!r} holds" for sid, t in sorted(holding.items()))
        return {**MAINTAIN, "reasoning": f"baseline: no offered strategy fits regime {context.regime}"
                                         + (f" ({why})" if why else "") + "; no plan proposed"}
    raw, notes = raw_targets(context)
    best = _break_tie(tied, context, raw)
    lev, max_pct, direction = _strategy_limits(best, context)
    targets = _limit(raw, float(context.max_leverage), max_pct, direction)
    strength = sum(abs(v) for v in targets.values())
    edge = Decimal(str(round(min(200.0, 5.0 + strength), 1)))
    return {
        "maintain_plan": False,
        "reasoning": (f"baseline: regime {context.regime} favours {best.id}"
                      + (f" over {current_id}" if current_id else "")
                      + (f" (plan {getattr(plan, 'plan_id', current_id)} invalidated)" if invalidated else "")
                      + "; " + "; ".join(notes)),
        "micro_adjustments": [],
        "proposed_plan": {
            "strategy_id": str(best.id),
            "objective": f"follow {best.id} while the regime stays {context.regime}",
            "target_allocation": _target_specs(targets, lev),
            "expected_edge_bps": _num(edge),
            "take_profit_pct": None,
            "stop_loss_pct": None,
        },
    }


def decide_regime(context: Any | None) -> dict[str, Any]:
    """The rules classifier over the query's signals, with the query's `config` (the
    configured `[governance.regime]` thresholds and reference coin; defaults without one)."""
    if context is None:
        return {"regime": "range-bound", "confidence": 0.0, "reasoning": "baseline: no context"}
    from hyperliquid_agent.governance.regime import classify_rules

    regime_config = getattr(context, "config", None)
    if regime_config is None:
        from hyperliquid_agent.config import RegimeConfig

        regime_config = RegimeConfig()
    regime, confidence = classify_rules(context.signals, regime_config)
    return {"regime": str(getattr(regime, "value", regime)), "confidence": round(float(confidence), 4),
            "reasoning": "baseline: rules classifier over the signals"}


def answer(schema_name: str, context: Any | None) -> str:
    """The JSON text the baseline gives for `schema_name` (DecisionSchema, GovernanceDecisionSchema,
    RegimeSchema); ValueError for any other schema."""
    if schema_name == "DecisionSchema":
        doc = decide_standard(context)
    elif schema_name == "GovernanceDecisionSchema":
        doc = decide_governance(context)
    elif schema_name == "RegimeSchema":
        doc = decide_regime(context)
    else:
        raise ValueError(f"the baseline policy answers DecisionSchema, GovernanceDecisionSchema and "
                         f"RegimeSchema, not {schema_name}")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))
