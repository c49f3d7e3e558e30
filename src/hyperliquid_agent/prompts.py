"""Prompt templates: named placeholders over `prompts/*.txt`, strategies pre-rendered once.

A template is plain text with `{placeholder}` fields (str.format syntax; write `{{` and
`}}` for literal braces, e.g. a JSON example). Every placeholder is checked when the
template is loaded: an unknown one is a TemplateError naming it and the file.

Prompt caching: the stable part (instructions, strategies) should come first and the
per-cycle state last. `render_parts()` returns `(stable_prefix, dynamic_suffix)`, cut at
the start of the line holding the first per-cycle placeholder, so an LLM client can mark
the cache boundary; `format()` returns the two joined.

Rendering is pure (values in, text out); only `PromptTemplate(path, dir)` reads files.
"""

from __future__ import annotations

import hashlib
import inspect
import string
import time
from decimal import Decimal
from functools import lru_cache
from math import isfinite
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain.account import AccountState
from hyperliquid_agent.domain.context import DecisionContext
from hyperliquid_agent.errors import TemplateError, read_config_text
from hyperliquid_agent.signals import CROSS_KEY, SIGNAL_NAMES
from hyperliquid_agent.strategies import RenderMode, StrategySpec, load_strategies

# placeholder -> what it holds (documented in docs/prompts.md)
PLACEHOLDERS: dict[str, str] = {
    "strategies": "every strategy in the library, rendered in the template's mode",
    "compatible_strategies": "only the strategies that fit the current regime",
    "strategy_ids": "comma-separated ids of the strategies offered",
    "coins": "the coins the agent trades",
    "max_leverage": "the largest leverage the config allows",
    "mode": "standard or governed",
    "timestamp": "the decision time, ISO 8601 UTC",
    "portfolio_value": "account value in USDC",
    "available_balance": "withdrawable USDC",
    "margin_used": "margin in use, USDC",
    "positions": "open perp positions with signed size and exposure",
    "spot_balances": "spot wallet balances",
    "open_orders": "orders resting on the venue (limits and TP/SL triggers)",
    "signals": "the signals table, one line per coin",
    "regime": "the confirmed market regime and its confidence",
    "active_plan": "the active plan (governed mode) or 'none'",
    "dwell_remaining": "minutes until the active plan may be changed",
    "review_status": "whether a plan review is open now, and why",
}
# Placeholders whose value changes only when the library, config or confirmed regime does.
STABLE_PLACEHOLDERS = frozenset({"strategies", "compatible_strategies", "strategy_ids", "coins", "max_leverage", "mode"})

NOT_AVAILABLE = "n/a"


def estimate_tokens(text: str) -> int:
    """A rough token count: characters / 4 (good enough for sizing and cost estimates)."""
    return (len(text) + 3) // 4


class PromptTemplate:
    """A validated prompt template over a strategy library."""

    def __init__(
        self,
        template_path: str | Path,
        strategies_dir: str | Path | None = None,
        render_mode: RenderMode = "summary",
        strategies: Sequence[StrategySpec] | None = None,
    ) -> None:
        path = Path(template_path)
        text = read_config_text(path, "prompt template", f"prompt template not found: {path}. Set [agent] "
                                "prompt_template / governance_template in config.toml, or copy the defaults "
                                "with: hl-agent init DIR", TemplateError)
        if strategies is None and strategies_dir is not None:
            strategies = load_strategies(strategies_dir)  # StrategyError lists every problem
        self._setup(text, str(path), list(strategies or []), render_mode)

    @classmethod
    def from_text(
        cls,
        text: str,
        strategies: Sequence[StrategySpec] = (),
        render_mode: RenderMode = "summary",
        name: str = "<template>",
    ) -> "PromptTemplate":
        obj = cls.__new__(cls)
        obj._setup(text, name, list(strategies), render_mode)
        return obj

    def _setup(self, text: str, name: str, strategies: list[StrategySpec], render_mode: RenderMode) -> None:
        if render_mode not in ("full", "summary"):
            raise TemplateError(f"{name}: render mode {render_mode!r} is not allowed; use 'full' or 'summary'")
        self.text = text
        self.name = name
        self.render_mode: RenderMode = render_mode
        self.strategies: list[StrategySpec] = sorted(strategies, key=lambda s: s.id)
        self.version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        self._chunks = _compile(text, name)
        self.placeholders: tuple[str, ...] = tuple(dict.fromkeys(f for _, f in self._chunks if f))
        if not self.strategies and ({"strategies", "compatible_strategies"} & set(self.placeholders)):
            raise TemplateError(f"{name} uses {{strategies}} but no strategies were given; set [agent] strategies_dir")
        self._split = _split_index(self._chunks)
        self._rendered = {s.id: s.render(render_mode) for s in self.strategies}
        self._ids = [s.id for s in self.strategies]
        self._all_block = self._block(self.strategies)
        self._regime_blocks: dict[str, str] = {}

    # ---------------------------------------------------------------- rendering

    def format(self, account_state: AccountState | None = None, context: DecisionContext | None = None, **values: Any) -> str:
        """The full prompt: stable prefix + per-cycle suffix."""
        prefix, suffix = self.render_parts(account_state, context, **values)
        return prefix + suffix

    def render_parts(
        self, account_state: AccountState | None = None, context: DecisionContext | None = None, **values: Any
    ) -> tuple[str, str]:
        """(stable_prefix, dynamic_suffix); their concatenation is the prompt."""
        unknown = sorted(set(values) - set(PLACEHOLDERS))
        if unknown:
            raise TemplateError(f"{self.name}: unknown placeholder value(s) {', '.join(unknown)}; known: {', '.join(PLACEHOLDERS)}")
        vals = self._values(account_state, context, values)
        out = [lit + (vals[f] if f else "") for lit, f in self._chunks]
        i, head, tail = self._split
        if i >= len(out):
            return "".join(out), ""
        field = self._chunks[i][1]
        return "".join(out[:i]) + head, tail + (vals[field] if field else "") + "".join(out[i + 1 :])

    def strategies_block(self, regime: str | None = None, only_compatible: bool = False) -> str:
        if not only_compatible:
            return self._all_block
        key = regime or ""
        block = self._regime_blocks.get(key)
        if block is None:
            block = self._block([s for s in self.strategies if s.fits(regime)])
            self._regime_blocks[key] = block
        return block

    def _block(self, specs: Iterable[StrategySpec]) -> str:
        parts = [self._rendered.get(s.id) or s.render(self.render_mode) for s in specs]
        return "\n\n".join(parts) if parts else "(no strategy fits; hold)"

    def _values(self, account: AccountState | None, ctx: DecisionContext | None, given: Mapping[str, Any]) -> dict[str, str]:
        account = account if account is not None else (ctx.account if ctx is not None else None)
        used = self.placeholders
        vals: dict[str, str] = {}
        for name in used:
            if name in given:
                vals[name] = _text(given[name])
        regime = str(given.get("regime") or (ctx.regime if ctx is not None else "") or "") or None
        for name in used:
            if name not in vals:
                vals[name] = self._value(name, account, ctx, regime)
        return vals

    def _value(self, name: str, account: AccountState | None, ctx: DecisionContext | None, regime: str | None) -> str:
        match name:
            case "strategies":
                if ctx is not None and ctx.strategies and [s.id for s in ctx.strategies] != self._ids:
                    return self._block(ctx.strategies)
                return self._all_block
            case "compatible_strategies":
                offered = ctx.strategies if ctx is not None and ctx.strategies else None
                if offered is not None and [s.id for s in offered] != self._ids:
                    return self._block(s for s in offered if s.fits(regime))
                return self.strategies_block(regime, only_compatible=True)
            case "strategy_ids":
                return ", ".join(s.id for s in self.strategies)
            case "coins":
                return ", ".join(ctx.coins) if ctx is not None and ctx.coins else NOT_AVAILABLE
            case "max_leverage":
                return str(ctx.max_leverage) if ctx is not None else NOT_AVAILABLE
            case "mode":
                return ctx.mode if ctx is not None else NOT_AVAILABLE
            case "timestamp":
                ms = ctx.now_ms if ctx is not None else (account.timestamp_ms if account is not None else 0)
                return format_timestamp(ms)
            case "portfolio_value":
                return _usd(account.portfolio_value) if account is not None else NOT_AVAILABLE
            case "available_balance":
                return _usd(account.available_balance) if account is not None else NOT_AVAILABLE
            case "margin_used":
                return _usd(account.margin_used) if account is not None else NOT_AVAILABLE
            case "positions":
                return format_positions(account, ctx.mids if ctx is not None else {}) if account is not None else NOT_AVAILABLE
            case "spot_balances":
                return format_spot(account) if account is not None else NOT_AVAILABLE
            case "open_orders":
                return format_open_orders(ctx.open_orders) if ctx is not None else NOT_AVAILABLE
            case "signals":
                return format_signals(ctx.signals, ctx.coins) if ctx is not None else "none"
            case "regime":
                return format_regime(regime, ctx.regime_confidence if ctx is not None else None)
            case "active_plan":
                return format_plan(ctx.active_plan, ctx.now_ms) if ctx is not None else "none"
            case "review_status":
                if ctx is None:
                    return NOT_AVAILABLE
                return format_review(ctx.can_review, ctx.review_reason)
            case _:  # dwell_remaining and anything only the caller knows
                return NOT_AVAILABLE


# -------------------------------------------------------------------- compile


def _compile(text: str, name: str) -> list[tuple[str, str | None]]:
    chunks: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"{name}: {exc}. Write '{{{{' and '}}}}' for literal braces (e.g. in a JSON example)") from None
    unknown = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            chunks.append((literal, None))
            continue
        if field not in PLACEHOLDERS:
            unknown.append(field or "{}")
        elif spec or conversion:
            raise TemplateError(f"{name}: placeholder {{{field}}} takes no format spec or conversion; write {{{field}}}")
        chunks.append((literal, field))
    if unknown:
        raise TemplateError(
            f"{name}: unknown placeholder(s) {', '.join('{' + u + '}' for u in dict.fromkeys(unknown))}; "
            f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}. Write '{{{{' and '}}}}' for literal braces"
        )
    return chunks


def _split_index(chunks: list[tuple[str, str | None]]) -> tuple[int, str, str]:
    """(chunk index, literal head kept in the prefix, literal tail starting the suffix)."""
    for i, (literal, field) in enumerate(chunks):
        if field is not None and field not in STABLE_PLACEHOLDERS:
            cut = literal.rfind("\n") + 1
            return i, literal[:cut], literal[cut:]
    return len(chunks), "", ""


# -------------------------------------------------------------------- value formatting (pure)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _usd(d: Decimal) -> str:
    return f"{d:,.2f} USDC"


@lru_cache(maxsize=16)  # a cycle writes its time twice (its record, its prompt)
def format_timestamp(ms: int) -> str:
    if not ms:
        return "unknown"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))  # (a third of a datetime's cost: every cycle)


def format_positions(account: AccountState, mids: Mapping[str, Decimal] | None = None) -> str:
    lines = []
    pv = account.portfolio_value
    for p in account.positions:
        if p.size == 0:
            continue
        side = "LONG" if p.size > 0 else "SHORT"
        mid = (mids or {}).get(p.coin)
        notional = p.size * mid if mid is not None else (p.position_value if p.size > 0 else -p.position_value)
        exposure = f"{(notional / pv * 100):+.1f}% of equity" if pv > 0 and notional else "exposure unknown"
        liq = f", liq {plain_text(p.liquidation_price)}" if p.liquidation_price is not None else ""
        lines.append(
            f"- {p.coin} perp {side} size {p.size:+f} entry {plain_text(p.entry_price)} | {exposure}"
            f" | uPnL {p.unrealized_pnl:+.2f} | {p.leverage}x {p.leverage_type}{liq}"
        )
    return "\n".join(lines) if lines else "none (flat)"


def format_open_orders(orders: Sequence[Any]) -> str:
    """One line per resting order: side, size, price (the trigger's for TP/SL), flags, oid."""
    lines = []
    for o in orders:
        if o.is_trigger:
            kind = f"{o.order_type or 'trigger'} at {plain_text(o.trigger_price)}" if o.trigger_price else "trigger"
        else:
            kind = f"limit {plain_text(o.limit_price)}"
        flags = ", reduce-only" if o.reduce_only else ""
        lines.append(f"- {o.coin} {o.side.value} {plain_text(o.size)} {kind}{flags} (oid {o.oid})")
    return "\n".join(lines) if lines else "none"


def format_spot(account: AccountState) -> str:
    items = [f"{b.coin} {plain_text(b.total)}" for b in account.spot_balances if b.total != 0]
    return ", ".join(items) if items else "none"


def _sig(v: float | None) -> str:
    if v is None or not isfinite(v):
        return "null"
    text = f"{v:.5g}"  # 5 significant figures, positional: 0.0000125, 60000
    return text if "e" not in text else format(Decimal(text), "f")  # Decimal only to undo an exponent


@lru_cache(maxsize=64)
def _row_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """A row's signal names in SIGNAL_NAMES order, unknown ones last (rows share a few key sets: cached)."""
    return tuple([n for n in SIGNAL_NAMES if n in names] + sorted(n for n in names if n not in SIGNAL_NAMES))


def format_signals(signals: Mapping[str, Mapping[str, float | None]], coins: Sequence[str] = ()) -> str:
    """One line per coin, `name=value` in SIGNAL_NAMES order; cross-asset signals last under '*'."""
    if not signals:
        return "none"
    order = [c for c in coins if c in signals] + sorted(c for c in signals if c not in coins and c != CROSS_KEY)
    lines = []
    for coin in order:
        row = signals[coin]
        lines.append(f"{coin}: " + " ".join([f"{n}={_sig(row[n])}" for n in _row_order(tuple(row))]))
    if CROSS_KEY in signals and signals[CROSS_KEY]:
        lines.append("cross-asset: " + " ".join(f"{n}={_sig(v)}" for n, v in sorted(signals[CROSS_KEY].items())))
    return "\n".join(lines)


def format_regime(regime: str | None, confidence: float | None = None) -> str:
    if not regime:
        return "unknown"
    return f"{regime} (confidence {confidence:.2f})" if confidence is not None else regime


def format_plan(plan: Any, now_ms: int | None = None) -> str:
    """`plan.prompt_summary(now_ms)` (or `prompt_summary()`), else `str(plan)`; "none" without a plan."""
    if plan is None:
        return "none"
    summary = getattr(plan, "prompt_summary", None)
    if not callable(summary):
        return str(plan)
    func = getattr(summary, "__func__", None)  # a method: its signature is read once per class
    takes_now = _method_takes_now_ms(func) if func is not None else _takes_now_ms(summary)
    return summary(now_ms) if takes_now and now_ms else summary()


def _takes_now_ms(func: Any) -> bool:
    try:
        return "now_ms" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


_method_takes_now_ms = lru_cache(maxsize=64)(_takes_now_ms)


def format_review(can_review: bool, reason: str = "") -> str:
    state = "OPEN: you may propose a new plan" if can_review else "CLOSED: maintain the plan (micro-adjustments only)"
    return f"{state}" + (f" ({reason})" if reason else "")


def format_dwell(minutes: float | None) -> str:
    if minutes is None:
        return NOT_AVAILABLE
    return "0 min (dwell satisfied)" if minutes <= 0 else f"{minutes:.0f} min"




SAMPLE_TIME_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def sample_context(coins: Sequence[str] = ("BTC", "ETH", "SOL"), mode: str = "standard", max_leverage: int = 3) -> DecisionContext:
    """A fixed, deterministic snapshot for `hl-agent prompt render` (a long, a short, a resting buy)."""
    from hyperliquid_agent.domain import OpenOrder, Side
    from hyperliquid_agent.domain.account import Position, SpotBalance

    coins = tuple(coins) or ("BTC",)
    positions = [Position(coin=coins[0], size=Decimal("0.02"), entry_price=Decimal("95000"), position_value=Decimal("1900"),
                          unrealized_pnl=Decimal("12.5"), leverage=2, liquidation_price=Decimal("52000"))]
    if len(coins) > 1:
        positions.append(Position(coin=coins[1], size=Decimal("-0.5"), entry_price=Decimal("3400"),
                                  position_value=Decimal("1700"), unrealized_pnl=Decimal("-8.25"), leverage=2))
    account = AccountState(
        portfolio_value=Decimal("10000"), available_balance=Decimal("8200"), margin_used=Decimal("1800"),
        positions=tuple(positions), spot_balances=(SpotBalance(coin="USDC", total=Decimal("500")),),
        timestamp_ms=SAMPLE_TIME_MS,
    )
    resting = (OpenOrder(coin=coins[0], side=Side.BUY, limit_price=Decimal("92000"), size=Decimal("0.01"), oid=17,
                         timestamp_ms=SAMPLE_TIME_MS),)
    return DecisionContext(
        now_ms=SAMPLE_TIME_MS, mode=mode, coins=coins, account=account, regime="range-bound", regime_confidence=0.6,
        max_leverage=max_leverage, can_review=True, review_reason="no active plan", signals=sample_signals(coins),
        mids={c: Decimal(str(_SAMPLE_PRICES.get(c, 10.0))) for c in coins}, open_orders=resting,
    )


_SAMPLE_PRICES = {"BTC": 95210.0, "ETH": 3402.5, "SOL": 191.37}
_SAMPLE_ROW = {  # one plausible, fixed row of every signal (fractions, hourly rates, bps)
    "ret_1h": 0.0012, "ret_24h": -0.0085, "ret_7d": 0.021, "ret_30d": 0.064, "sma20_dist": -0.0041,
    "sma50_dist": 0.0118, "ema_spread": 0.0063, "rsi14": 47.8, "adx14": 18.6, "rv_1h": 0.0041, "rv_24h": 0.0057,
    "rv_ann": 0.532, "funding_now": 0.0000125, "funding_24h_avg": 0.0000104, "funding_trend": 0.0000021,
    "oi_change_24h": 0.018, "spread_bps": 1.1, "depth_1pct_usd": 4_850_000.0, "basis_bps": 2.4,
}


def sample_signals(coins: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """A fixed signals table (every name in SIGNAL_NAMES per coin, plus btc_eth_corr) for sample renders."""
    table: dict[str, dict[str, float | None]] = {}
    for i, coin in enumerate(coins):
        price = _SAMPLE_PRICES.get(coin, 10.0)
        tilt = 1.0 + 0.15 * i
        row: dict[str, float | None] = {name: _SAMPLE_ROW.get(name) for name in SIGNAL_NAMES}
        row.update({k: v * tilt for k, v in _SAMPLE_ROW.items() if k not in ("rsi14", "adx14")})
        row.update(price=price, ema20=round(price * 0.998, 2), ema50=round(price * 0.992, 2))
        table[coin] = row
    table[CROSS_KEY] = {"btc_eth_corr": 0.83}
    return table


__all__ = [
    "NOT_AVAILABLE", "PLACEHOLDERS", "PromptTemplate", "STABLE_PLACEHOLDERS", "estimate_tokens",
    "format_dwell", "format_open_orders", "format_plan", "format_positions", "format_regime", "format_review",
    "format_signals", "format_spot", "format_timestamp", "SAMPLE_TIME_MS", "sample_context", "sample_signals",
]
