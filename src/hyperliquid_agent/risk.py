"""The risk policy (pure): every intent gets Approved or Denied(reason_code, detail).

`RiskPolicy` is the only issuer of `ApprovedOrder`, the only order type the exchange port
places. It reads the account, marks, specs, counters and `now_ms` from a `RiskContext`
and never touches the clock, files or the network.

An order is RISK-REDUCING when it is reduce-only, or when it makes |position| smaller
without crossing zero. Risk-reducing orders are checked only for: a known asset and a
price (`unknown_asset`, `no_price`), venue precision (`invalid_precision`), a position to
reduce (`no_position`, `exceeds_position`) and the price band (`price_band`). Every other
check (limits, daily loss cap, circuit breaker, cooldown, trades per hour, allowed coins,
human approval, ...) applies only to orders that open or increase risk, so exits always
stay possible. Trigger (TP/SL) orders skip the price band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Callable, Iterable, Mapping, Sequence

from hyperliquid_agent.config import PortfolioConfig, RiskConfig
from hyperliquid_agent.domain import (
    ZERO,
    AccountState,
    AssetSpec,
    CancelIntent,
    Intent,
    LeverageIntent,
    MarketType,
    OpenOrder,
    OrderIntent,
    OrderPurpose,
    Position,
    Side,
    TransferIntent,
    is_valid_price,
    is_valid_size,
)
from hyperliquid_agent.domain.verdicts import _ISSUER_KEY, Approved, ApprovedOrder, Denied
from hyperliquid_agent.portfolio import MarketView, close_intent, reduces, spot_holdings
from hyperliquid_agent.risk_counters import RiskCounters
from hyperliquid_agent.times import utc_minute

_HUNDRED = Decimal(100)
MAX_SIZE_FRACTION = Decimal("0.95")  # an order at >= 95% of a size limit counts as "maximum size"


class DenialReason(StrEnum):
    UNKNOWN_ASSET = "unknown_asset"
    NO_PRICE = "no_price"
    COIN_NOT_ALLOWED = "coin_not_allowed"
    MARKET_TYPE_NOT_ALLOWED = "market_type_not_allowed"
    NO_POSITION = "no_position"
    EXCEEDS_POSITION = "exceeds_position"
    PRICE_BAND = "price_band"
    CIRCUIT_BREAKER = "circuit_breaker"
    DAILY_LOSS_CAP = "daily_loss_cap"
    MAX_ORDER_USD = "max_order_usd"
    MAX_POSITION_USD = "max_position_usd"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_LEVERAGE = "max_leverage"
    MAX_DAILY_NOTIONAL = "max_daily_notional"
    MAX_TRADES_PER_HOUR = "max_trades_per_hour"
    OPEN_COOLDOWN = "open_cooldown"
    STOP_LOSS_REENTRY = "stop_loss_reentry"
    MAX_SIZE_STREAK = "max_size_streak"
    APPROVAL_REQUIRED = "approval_required"
    APPROVAL_DECLINED = "approval_declined"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INVALID_PRECISION = "invalid_precision"


Approver = Callable[[OrderIntent], bool]


@dataclass(frozen=True)
class RiskContext:
    """Everything one risk review reads. `approver` is None when nobody can be asked."""

    account: AccountState
    marks: Mapping[str, Decimal]
    specs: Mapping[str, AssetSpec]
    now_ms: int
    counters: RiskCounters = field(default_factory=RiskCounters)
    max_leverage: int | None = None  # the strategy's / plan's own cap
    leverage: Mapping[str, int] = field(default_factory=dict)  # leverage each coin trades at, if known
    approver: Approver | None = None
    decision: bool = True  # an agent decision (False for a manual order): it moves the max-size streak
    # per coin, the signed size of orders resting on the venue that could still add to the position
    resting: Mapping[str, Decimal] = field(default_factory=dict)


def resting_sizes(open_orders: Iterable[OpenOrder]) -> dict[str, Decimal]:
    """Per coin, the signed size of the resting orders that could add to a position (`RiskContext.resting`):
    not reduce-only, not TP/SL triggers."""
    out: dict[str, Decimal] = {}
    for o in open_orders:
        if not o.is_trigger and not o.reduce_only:
            out[o.coin] = out.get(o.coin, ZERO) + o.size * o.side.sign
    return out


@dataclass(frozen=True)
class RiskReview:
    approved: list[ApprovedOrder]
    denied: list[tuple[Intent, Denied]]
    passed: list[LeverageIntent | TransferIntent]  # approved non-order intents, in order
    counters: RiskCounters  # rolled to now_ms, with the max-size streak updated
    flags: list[str]
    # whether a decision's intents asked for the maximum size (None: not a decision's); with the
    # context's time and equity it says how `counters` came from the context's (`RiskCounters.reviewed`)
    max_size_asked: bool | None = None


def _deny(reason: DenialReason, detail: str) -> Denied:
    return Denied(reason_code=reason.value, detail=detail)


class RiskPolicy:
    def __init__(self, config: RiskConfig, *, allowed_coins: Sequence[str] | None = None) -> None:
        self.config = config
        coins = config.allowed_coins if config.allowed_coins is not None else allowed_coins
        self.allowed_coins: frozenset[str] | None = frozenset(coins) if coins is not None else None

    # ---------------------------------------------------------------- public API
    def check(self, intent: Intent, ctx: RiskContext) -> Approved | Denied:
        """The verdict for one intent against the context as it stands."""
        counters = ctx.counters.rolled(ctx.now_ms, ctx.account.portfolio_value)
        return self._check(intent, ctx, _Book.of(ctx), counters)

    def approve(
        self, intents: Sequence[Intent], ctx: RiskContext
    ) -> tuple[list[ApprovedOrder], list[tuple[OrderIntent, Denied]]]:
        """Approved orders (in order) and denied orders with their reasons."""
        r = self.review(intents, ctx)
        return r.approved, [(i, d) for i, d in r.denied if isinstance(i, OrderIntent)]

    def review(self, intents: Sequence[Intent], ctx: RiskContext) -> RiskReview:
        """Check intents in order; each approval is projected onto the book the next one sees."""
        book = _Book.of(ctx)
        approved: list[ApprovedOrder] = []
        denied: list[tuple[Intent, Denied]] = []
        passed: list[LeverageIntent | TransferIntent] = []
        flags: list[str] = []
        asked_max = any(isinstance(i, OrderIntent) and self._at_max_size(i, ctx, book) for i in intents) \
            if ctx.decision else None
        counters = ctx.counters.reviewed(ctx.now_ms, ctx.account.portfolio_value, asked_max)
        if counters.max_size_streak >= self.config.max_size_streak:
            flags.append(f"max_size_streak: maximum size asked {counters.max_size_streak} times in a row")
        projected = counters
        no_leverage: dict[str, Denied] = {}  # coins whose leverage setting was denied
        for intent in intents:
            verdict = self._check(intent, ctx, book, projected)
            if (isinstance(intent, OrderIntent) and isinstance(verdict, Approved) and intent.coin in no_leverage
                    and verdict.note != "risk-reducing"):
                verdict = _deny(DenialReason.MAX_LEVERAGE, f"{intent.coin}: not sent because its leverage setting "
                                f"was denied ({no_leverage[intent.coin].detail})")
            if isinstance(verdict, Denied):
                denied.append((intent, verdict))
                if isinstance(intent, LeverageIntent):
                    no_leverage[intent.coin] = verdict
                continue
            if isinstance(intent, OrderIntent):
                approved.append(ApprovedOrder._issue(intent, verdict, _ISSUER_KEY))
                if intent.trigger is not None:
                    continue  # a resting TP/SL changes nothing until it triggers
                notional = intent.size * (book.mark(intent.coin) or intent.limit_price)
                projected = projected.with_trade(notional, ctx.now_ms, opening=False, succeeded=False)
                book.apply(intent)
            else:
                passed.append(intent)
                if isinstance(intent, LeverageIntent):
                    book.leverage[intent.coin] = intent.leverage
        return RiskReview(approved, denied, passed, counters, flags, asked_max)

    def stop_loss_coins(self, account: AccountState, marks: Mapping[str, Decimal]) -> tuple[str, ...]:
        """The coins whose position is down `stop_loss_pct` or more from entry (the account's order)."""
        pct = self.config.stop_loss_pct
        if not pct:  # None or 0: off
            return ()
        return tuple(p.coin for p in account.positions if _stop_hit(p, marks.get(p.coin), pct))

    def allowed_leverage(self, coin: str, ctx: RiskContext) -> int:
        spec = ctx.specs.get(coin)
        caps = [self.config.max_leverage, spec.max_leverage if spec else self.config.max_leverage]
        if ctx.max_leverage is not None:
            caps.append(ctx.max_leverage)
        return min(caps)

    # ---------------------------------------------------------------- checks
    def _check(self, intent: Intent, ctx: RiskContext, book: "_Book", counters: RiskCounters) -> Approved | Denied:
        if isinstance(intent, LeverageIntent):
            cap = self.allowed_leverage(intent.coin, ctx)
            if intent.leverage > cap:
                return _deny(DenialReason.MAX_LEVERAGE,
                             f"{intent.coin}: leverage {intent.leverage}x is above the allowed {cap}x "
                             "(min of risk.max_leverage, the strategy/plan cap and the asset's maximum)")
            return Approved(checks=("max_leverage",))
        if isinstance(intent, CancelIntent):
            return Approved(checks=("cancel",))  # taking an order off the book never adds risk
        if isinstance(intent, TransferIntent):
            if not intent.to_perp and intent.amount > ctx.account.available_balance:
                return _deny(DenialReason.INSUFFICIENT_BALANCE,
                             f"transfer of ${intent.amount} exceeds the perp wallet's withdrawable "
                             f"${ctx.account.available_balance}")
            return Approved(checks=("transfer",))
        return self._check_order(intent, ctx, book, counters)

    def _check_order(self, o: OrderIntent, ctx: RiskContext, book: "_Book", c: RiskCounters) -> Approved | Denied:
        cfg = self.config
        spec = ctx.specs.get(o.coin)
        if spec is None:
            return _deny(DenialReason.UNKNOWN_ASSET, f"{o.coin} is not in the venue's asset list")
        mark = book.mark(o.coin)
        if not mark:
            return _deny(DenialReason.NO_PRICE, f"{o.coin}: no mark or mid price to check the order against")
        if not is_valid_size(o.size, spec.sz_decimals) or not is_valid_price(o.limit_price, spec.sz_decimals,
                                                                              spec.market_type):
            return _deny(DenialReason.INVALID_PRECISION,
                         f"{o.coin}: size {o.size} or price {o.limit_price} is off the venue's precision "
                         f"({spec.sz_decimals} size decimals, 5 significant figures); round with "
                         "domain.round_size / round_price")
        checks: list[str] = ["asset", "price", "precision"]
        current = book.size(o.coin)
        after = current + o.signed_size
        reducing = o.reduce_only or reduces(current, o.signed_size)
        if o.reduce_only:
            if current == 0 or (current > 0) == (o.side.sign > 0):
                return _deny(DenialReason.NO_POSITION,
                             f"{o.coin}: reduce-only {o.side.value} but there is no "
                             f"{'short' if o.side.sign > 0 else 'long'} position to reduce (position {current})")
            if o.size > abs(current):
                return _deny(DenialReason.EXCEEDS_POSITION,
                             f"{o.coin}: reduce-only size {o.size} is larger than the position {current}")
            checks.append("position_exists")
        elif o.market_type is MarketType.SPOT and o.side is Side.SELL:  # spot cannot go short
            if current <= 0:
                return _deny(DenialReason.NO_POSITION, f"{o.coin}: spot sell of {o.size} but no free balance to sell")
            if o.size > current:
                return _deny(DenialReason.EXCEEDS_POSITION,
                             f"{o.coin}: spot sell of {o.size} is larger than the free balance {current}")
            checks.append("balance")
        if o.trigger is None and o.purpose is not OrderPurpose.PROTECT:
            off_pct = abs(o.limit_price - mark) / mark * _HUNDRED
            if off_pct > cfg.price_band_pct:
                return _deny(DenialReason.PRICE_BAND,
                             f"{o.coin}: limit {o.limit_price} is {off_pct:.2f}% from mark {mark}; "
                             f"risk.price_band_pct allows {cfg.price_band_pct}%")
            checks.append("price_band")
        if reducing:
            return Approved(checks=tuple(checks), note="risk-reducing")
        return self._check_increase(o, ctx, book, c, spec, mark, after, checks)

    def _check_increase(self, o: OrderIntent, ctx: RiskContext, book: "_Book", c: RiskCounters, spec: AssetSpec,
                        mark: Decimal, after: Decimal, checks: list[str]) -> Approved | Denied:
        cfg = self.config
        equity = ctx.account.portfolio_value
        notional = o.size * mark
        if self.allowed_coins is not None and o.coin not in self.allowed_coins:
            return _deny(DenialReason.COIN_NOT_ALLOWED,
                         f"{o.coin} is not in the allowed coins ({', '.join(sorted(self.allowed_coins))}); "
                         "see risk.allowed_coins / agent.coins")
        if o.market_type not in cfg.allowed_market_types:
            return _deny(DenialReason.MARKET_TYPE_NOT_ALLOWED,
                         f"{o.coin}: {o.market_type.value} is not in risk.allowed_market_types")
        if c.consecutive_failures >= cfg.circuit_breaker_failures:
            return _deny(DenialReason.CIRCUIT_BREAKER,
                         f"{c.consecutive_failures} consecutive order failures (risk.circuit_breaker_failures = "
                         f"{cfg.circuit_breaker_failures}); only risk-reducing orders until the venue accepts one, or "
                             "`hl-agent order reset-breaker`")
        if c.day_start_equity and c.day_start_equity > 0:
            loss_pct = (c.day_start_equity - equity) / c.day_start_equity * _HUNDRED
            if loss_pct >= cfg.daily_loss_cap_pct:
                return _deny(DenialReason.DAILY_LOSS_CAP,
                             f"down {loss_pct:.2f}% today from ${c.day_start_equity}; risk.daily_loss_cap_pct is "
                             f"{cfg.daily_loss_cap_pct}%; only risk-reducing orders until the UTC day ends")
        if notional > cfg.max_order_usd:
            return _deny(DenialReason.MAX_ORDER_USD,
                         f"{o.coin}: order ${notional:.2f} is above risk.max_order_usd ${cfg.max_order_usd}")
        # orders already resting on the same side may fill too: the limits hold with all of them filled
        resting = ctx.resting.get(o.coin, ZERO)
        if (resting > 0) != (o.signed_size > 0):
            resting = ZERO
        after += resting
        position_usd = abs(after) * mark
        if position_usd > cfg.max_position_usd:
            also = f" (with the ${abs(resting) * mark:.2f} of orders already resting)" if resting else ""
            return _deny(DenialReason.MAX_POSITION_USD,
                         f"{o.coin}: position would be ${position_usd:.2f}{also}, above risk.max_position_usd "
                         f"${cfg.max_position_usd}")
        if equity <= 0:
            return _deny(DenialReason.MAX_GROSS_EXPOSURE, f"portfolio value is {equity}; no new risk")
        gross = book.gross_after(o.coin, after)
        if gross / equity > cfg.max_gross_exposure:
            return _deny(DenialReason.MAX_GROSS_EXPOSURE,
                         f"gross exposure would be {gross / equity:.2f}x equity, above risk.max_gross_exposure "
                         f"{cfg.max_gross_exposure}x")
        cap = self.allowed_leverage(o.coin, ctx)
        lev = book.leverage.get(o.coin)
        coin_lev = position_usd / equity
        if (lev is not None and lev > cap) or coin_lev > cap:
            shown = f"{lev}x setting" if lev is not None and lev > cap else f"{coin_lev:.2f}x effective"
            return _deny(DenialReason.MAX_LEVERAGE,
                         f"{o.coin}: {shown} leverage is above the allowed {cap}x "
                         "(min of risk.max_leverage, the strategy/plan cap and the asset's maximum)")
        if c.daily_notional + notional > cfg.max_daily_notional_usd:
            return _deny(DenialReason.MAX_DAILY_NOTIONAL,
                         f"traded ${c.daily_notional:.2f} today; ${notional:.2f} more exceeds "
                         f"risk.max_daily_notional_usd ${cfg.max_daily_notional_usd}")
        if c.trades_last_hour(ctx.now_ms) >= cfg.max_trades_per_hour:
            return _deny(DenialReason.MAX_TRADES_PER_HOUR,
                         f"{c.trades_last_hour(ctx.now_ms)} trades in the last hour; risk.max_trades_per_hour is "
                         f"{cfg.max_trades_per_hour}")
        until = c.stopped_until(o.coin, cfg.stop_loss_reentry_minutes)
        if until is not None and until > ctx.now_ms:
            return _deny(DenialReason.STOP_LOSS_REENTRY,
                         f"{o.coin}: closed by the stop-loss at {utc_minute(until - cfg.stop_loss_reentry_minutes * 60_000)}; "
                         f"no new risk in it before {utc_minute(until)} (risk.stop_loss_reentry_minutes = "
                         f"{cfg.stop_loss_reentry_minutes})")
        if cfg.open_cooldown_s and c.last_open_ms is not None:
            wait_ms = c.last_open_ms + cfg.open_cooldown_s * 1000 - ctx.now_ms
            if wait_ms > 0:
                return _deny(DenialReason.OPEN_COOLDOWN,
                             f"last opening trade was {(ctx.now_ms - c.last_open_ms) // 1000}s ago; "
                             f"risk.open_cooldown_s is {cfg.open_cooldown_s}s ({wait_ms // 1000 + 1}s to wait)")
        if c.max_size_streak >= cfg.max_size_streak and self._at_max_size(o, ctx, book):
            return _deny(DenialReason.MAX_SIZE_STREAK,
                         f"{o.coin}: maximum size asked {c.max_size_streak} decisions in a row "
                         f"(risk.max_size_streak = {cfg.max_size_streak}); flagged for review")
        checks += ["limits", "daily_loss_cap", "circuit_breaker", "counters"]
        if cfg.approval_above_usd is not None and notional > cfg.approval_above_usd:
            if ctx.approver is None:
                return _deny(DenialReason.APPROVAL_REQUIRED,
                             f"{o.coin}: ${notional:.2f} is above risk.approval_above_usd "
                             f"${cfg.approval_above_usd} and nobody can approve it (non-interactive)")
            if not ctx.approver(o):
                return _deny(DenialReason.APPROVAL_DECLINED, f"{o.coin}: ${notional:.2f} order declined by the operator")
            checks.append("human_approval")
        return Approved(checks=tuple(checks))

    def _at_max_size(self, o: OrderIntent, ctx: RiskContext, book: "_Book") -> bool:
        if o.reduce_only or o.purpose in (OrderPurpose.REDUCE, OrderPurpose.CLOSE, OrderPurpose.PROTECT):
            return False
        mark = book.mark(o.coin) or o.limit_price
        after = abs(book.size(o.coin) + o.signed_size) * mark
        return (o.size * mark >= self.config.max_order_usd * MAX_SIZE_FRACTION
                or after >= self.config.max_position_usd * MAX_SIZE_FRACTION)


class _Book:
    """Signed sizes, marks and leverage as the review goes: approvals are applied in turn."""

    __slots__ = ("sizes", "marks", "leverage", "gross")

    def __init__(self, sizes: dict[str, Decimal], marks: Mapping[str, Decimal], leverage: dict[str, int]) -> None:
        self.sizes = sizes
        self.marks = marks
        self.leverage = leverage
        self.gross = sum((self._usd(c, s) for c, s in sizes.items()), ZERO)  # kept current by apply()

    @classmethod
    def of(cls, ctx: RiskContext) -> "_Book":
        sizes = {p.coin: p.size for p in ctx.account.positions if p.size != 0}
        sizes.update(spot_holdings(ctx.account, ctx.specs))
        lev = {p.coin: p.leverage for p in ctx.account.positions if p.size != 0}
        lev.update(ctx.leverage)
        return cls(sizes, ctx.marks, lev)

    def mark(self, coin: str) -> Decimal | None:
        return self.marks.get(coin)

    def size(self, coin: str) -> Decimal:
        return self.sizes.get(coin, ZERO)

    def _usd(self, coin: str, size: Decimal) -> Decimal:
        return abs(size) * (self.marks.get(coin) or ZERO)

    def apply(self, o: OrderIntent) -> None:
        before = self.size(o.coin)
        after = before + o.signed_size
        self.gross += self._usd(o.coin, after) - self._usd(o.coin, before)
        self.sizes[o.coin] = after

    def gross_after(self, coin: str, after: Decimal) -> Decimal:
        """Sum of |notional| over all coins at the marks, with `coin` at the signed size `after`."""
        return self.gross - self._usd(coin, self.size(coin)) + self._usd(coin, after)


def _decimals(size: Decimal) -> int:
    exp = size.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def close_positions(
    account: AccountState,
    coins: Sequence[str],
    marks: Mapping[str, Decimal],
    specs: Mapping[str, AssetSpec] | None = None,
    portfolio: PortfolioConfig | None = None,
) -> list[OrderIntent]:
    """Reduce-only close intents, priced at the marks, for the account's open positions in `coins`
    (a coin with no position left gets none)."""
    specs = specs or {}
    market = MarketView(mids=marks, specs={p.coin: specs.get(p.coin) or AssetSpec(name=p.coin, asset_id=0,
                        sz_decimals=min(_decimals(p.size), 10)) for p in account.positions})
    return [close_intent(p.coin, p.size, market, portfolio or PortfolioConfig())
            for p in account.positions if p.coin in coins and p.size != 0]


def _stop_hit(pos: Position, mark: Decimal | None, pct: Decimal) -> bool:
    """Whether an open position's mark is `pct` percent or more against its entry."""
    if pos.size == 0 or not mark or pos.entry_price <= 0:
        return False
    move_pct = (mark - pos.entry_price) / pos.entry_price * _HUNDRED * (1 if pos.size > 0 else -1)
    return move_pct <= -pct
