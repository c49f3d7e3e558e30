"""The portfolio manager (pure): from a target allocation to sized, rounded, ordered intents.

`rebalance_to_target` compares each coin's SIGNED target (percent of portfolio value as
notional) with the SIGNED position and plans the legs that get there:

1. reductions and closes first (reduce-only on perps), including the close leg of a flip;
2. USD transfers between the spot and perp wallets when one side needs funds;
3. for each increase: a `LeverageIntent` when the coin's leverage must change, then the order.

Sizes are rounded DOWN with `domain.round_size`; market orders are IOC limits at the
`market_slippage_bps` bound from the book (or mid), rounded with `domain.round_price`
away from the market (buys up, sells down). Increases are scaled down to fit the margin
left after the cash buffer; they never exceed it, nor the `PlanLimits` given: the risk
policy's `max_order_usd` and `max_position_usd` (an increase is cut to what they let through),
its `max_gross_exposure` (the increases scaled to keep the gross notional within it) and its
leverage cap (a target's leverage planned at most at it), which would deny the whole order every
cycle and the position would never move toward its target; and governed mode's margin ratio
(the perp margin used after the orders as a share of the perp equity, kept inside the
margin-ratio tripwire: `governance.tripwires.planning_margin_ratio`). An increase cut below
`min_drift_pct` is left out. Nothing here reads the clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal
from typing import Any, Iterable, Mapping, Sequence

from hyperliquid_agent.config import PortfolioConfig
from hyperliquid_agent.domain import (
    ZERO,
    AccountState,
    AssetSpec,
    BookView,
    CancelIntent,
    Intent,
    L2Book,
    LeverageIntent,
    MarketType,
    OrderIntent,
    OrderPurpose,
    Position,
    Side,
    TargetEntry,
    Tif,
    TpSl,
    TransferIntent,
    TriggerSpec,
    round_price,
    round_size,
)
from hyperliquid_agent.domain.account import perp_margin
from hyperliquid_agent.domain.rounding import lot_size

_BPS = Decimal(10_000)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
QUOTE = "USDC"


@dataclass(frozen=True)
class MarketView:
    """Prices and specs the planner needs: mids, marks (default: mids), specs, optional books."""

    mids: Mapping[str, Decimal]
    specs: Mapping[str, AssetSpec]
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    books: Mapping[str, L2Book | BookView] = field(default_factory=dict)

    def mark(self, coin: str) -> Decimal | None:
        return self.marks.get(coin) or self.mids.get(coin)

    def reference(self, coin: str, side: Side) -> Decimal | None:
        """The price a market order of `side` trades against: best ask for a buy, best bid for a sell."""
        book = self.books.get(coin)
        if book is not None:
            level = book.best_ask if side is Side.BUY else book.best_bid
            if level is not None:
                return level.price
        return self.mids.get(coin) or self.marks.get(coin)


@dataclass(frozen=True)
class RebalancePlan:
    intents: list[Intent]
    skipped: list[tuple[str, str]]  # (coin, why no order was planned)


def spot_token(pair: str) -> str:
    """The base token a spot pair trades ("PURR/USDC" -> "PURR"); balances are kept per token.

    Hyperliquid's indexed pair names ("@107") carry no token name; they map to themselves.
    """
    return pair.split("/", 1)[0]


def _free_by_token(account: AccountState) -> dict[str, Decimal]:
    return {b.coin: b.total - b.hold for b in account.spot_balances}


def spot_free(account: AccountState, pair: str) -> Decimal:
    """Spot balance of the pair's base token not held by open orders."""
    return _free_by_token(account).get(spot_token(pair), ZERO)


def spot_holdings(account: AccountState, specs: Mapping[str, AssetSpec]) -> dict[str, Decimal]:
    """The free balance of every spot pair in `specs` whose base token the account holds (one pass)."""
    if not account.spot_balances:
        return {}
    free = _free_by_token(account)
    out = {}
    for name, spec in specs.items():
        if spec.market_type is MarketType.SPOT:
            held = free.get(spot_token(name))
            if held:
                out[name] = held
    return out


def reduces(current: Decimal, delta: Decimal) -> bool:
    """Whether adding the signed `delta` makes |position| smaller without crossing zero."""
    after = current + delta
    return current != 0 and abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0))


def purpose_of(current: Decimal, delta: Decimal) -> OrderPurpose:
    """What a signed change does to a signed position: open, increase, reduce or close (a flip opens)."""
    if reduces(current, delta):
        return OrderPurpose.CLOSE if current + delta == 0 else OrderPurpose.REDUCE
    return OrderPurpose.INCREASE if current != 0 and (current > 0) == (delta > 0) else OrderPurpose.OPEN


# ---------------------------------------------------------------- order building blocks


def market_limit_price(side: Side, reference: Decimal, spec: AssetSpec, slippage_bps: Decimal) -> Decimal:
    """The IOC limit standing in for a market order: `slippage_bps` through `reference`, rounded away."""
    factor = Decimal(1) + side.sign * slippage_bps / _BPS
    mode = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return round_price(reference * factor, spec.sz_decimals, spec.market_type, rounding=mode)


def limit_price(side: Side, price: Decimal, spec: AssetSpec) -> Decimal:
    """A user's limit price at venue precision, rounded toward the passive side (never pays more)."""
    mode = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return round_price(price, spec.sz_decimals, spec.market_type, rounding=mode)


def order_intent(
    coin: str,
    side: Side,
    size: Decimal,
    market: MarketView,
    config: PortfolioConfig,
    *,
    price: Decimal | None = None,
    reduce_only: bool = False,
    purpose: OrderPurpose = OrderPurpose.OPEN,
    tif: Tif | None = None,
) -> OrderIntent:
    """One order with venue rounding: a market order (IOC at the slippage bound) when `price` is None.

    Raises ValueError naming the coin when the asset is unknown, has no price, or the
    size rounds to zero.
    """
    spec = market.specs.get(coin)
    if spec is None:
        raise ValueError(f"unknown asset {coin!r}: not in the venue's asset list")
    rounded = round_size(size, spec.sz_decimals)
    if rounded <= 0:
        raise ValueError(f"{coin}: size {size} rounds to zero at {spec.sz_decimals} size decimals")
    if price is None:
        ref = market.reference(coin, side)
        if ref is None:
            raise ValueError(f"{coin}: no mid, mark or book price to bound a market order")
        px, is_market, tif = market_limit_price(side, ref, spec, config.market_slippage_bps), True, Tif.IOC
    else:
        px, is_market = limit_price(side, price, spec), False
    return OrderIntent(
        coin=coin,
        market_type=spec.market_type,
        side=side,
        size=rounded,
        limit_price=px,
        tif=tif or Tif.GTC,
        reduce_only=reduce_only and spec.market_type is MarketType.PERP,
        purpose=purpose,
        is_market=is_market,
    )


def close_intent(
    coin: str,
    signed_size: Decimal,
    market: MarketView,
    config: PortfolioConfig,
    size: Decimal | None = None,
) -> OrderIntent:
    """Close all (or `size` of) a SIGNED position: the opposite side, reduce-only, at the market bound."""
    if signed_size == 0:
        raise ValueError(f"{coin}: there is no position to close")
    whole = -signed_size if signed_size < 0 else signed_size  # magnitude, sign kept in `side`
    side = Side.SELL if signed_size > 0 else Side.BUY
    amount = whole if size is None or size >= whole else size
    purpose = OrderPurpose.CLOSE if amount == whole else OrderPurpose.REDUCE
    return order_intent(coin, side, amount, market, config, reduce_only=True, purpose=purpose)


def protective_intents(
    account: AccountState,
    coins: Iterable[str],
    market: MarketView,
    config: PortfolioConfig,
    take_profit_pct: Decimal | None,
    stop_loss_pct: Decimal | None,
) -> list[OrderIntent]:
    """Reduce-only TP/SL trigger orders (market triggers) for the perp positions of `coins`.

    The trigger sits `take_profit_pct` / `stop_loss_pct` percent from the entry price in the
    position's favour / against it; the limit carries the market slippage bound.
    """
    out: list[OrderIntent] = []
    for coin in sorted(set(coins)):
        pos = account.position(coin)
        spec = market.specs.get(coin)
        if pos is None or spec is None or spec.market_type is not MarketType.PERP:
            continue
        exit_side = Side.SELL if pos.size > 0 else Side.BUY
        direction = Decimal(1) if pos.size > 0 else Decimal(-1)
        magnitude = pos.size * direction
        for pct, kind in ((take_profit_pct, TpSl.TP), (stop_loss_pct, TpSl.SL)):
            if pct is None or pct <= 0:
                continue
            move = pct / _HUNDRED * (direction if kind is TpSl.TP else -direction)
            raw = pos.entry_price * (Decimal(1) + move)
            if raw <= 0:
                continue
            trigger = round_price(raw, spec.sz_decimals, spec.market_type)
            out.append(OrderIntent(
                coin=coin, market_type=spec.market_type, side=exit_side, size=magnitude,
                limit_price=market_limit_price(exit_side, trigger, spec, config.market_slippage_bps),
                tif=Tif.GTC, reduce_only=True, purpose=OrderPurpose.PROTECT,
                trigger=TriggerSpec(trigger_price=trigger, is_market=True, tpsl=kind),
            ))
    return out


# ---------------------------------------------------------------- rebalance


@dataclass
class _Leg:
    coin: str
    side: Side
    size: Decimal
    purpose: OrderPurpose
    spec: AssetSpec
    leverage: int = 1


def rebalance_to_target(
    target_allocation: Sequence[TargetEntry],
    account_state: AccountState,
    market: MarketView,
    config: PortfolioConfig,
    *,
    full_book: bool = True,
    limits: PlanLimits | None = None,
) -> list[Intent]:
    """The ordered intents that move the account to `target_allocation` (see module doc)."""
    return plan_rebalance(target_allocation, account_state, market, config, full_book=full_book, limits=limits).intents


def plan_rebalance(
    target_allocation: Sequence[TargetEntry],
    account: AccountState,
    market: MarketView,
    config: PortfolioConfig,
    *,
    full_book: bool = True,
    limits: PlanLimits | None = None,
) -> RebalancePlan:
    """Like `rebalance_to_target`, also saying why coins were left alone (or scaled down)."""
    limits = limits or _NO_LIMITS
    equity = account.portfolio_value
    targets: dict[str, TargetEntry] = {t.coin: t for t in target_allocation}
    unknown = [c for c in targets if c not in market.specs]
    if full_book and unknown:
        # a book naming a coin the venue does not list ("eth" for ETH) is not the book it meant: closing
        # what it leaves out would close the position it meant to keep, so nothing of it is traded
        why = (f"not in the venue's asset list (names are case-sensitive: {', '.join(sorted(market.specs)[:8])}"
               f"{', ...' if len(market.specs) > 8 else ''}); the whole target book is refused, nothing traded")
        return RebalancePlan(intents=[], skipped=[(c, why) for c in unknown])
    if full_book:
        for pos in account.positions:
            if pos.size != 0 and pos.coin not in targets:
                targets[pos.coin] = TargetEntry(coin=pos.coin, target_pct=ZERO)
    skipped: list[tuple[str, str]] = []
    reductions: list[_Leg] = []
    increases: list[_Leg] = []
    for coin, entry in targets.items():
        why = _plan_coin(entry, account, market, config, equity, reductions, increases, limits)
        if why:
            skipped.append((coin, why))
    spot_cash = spot_free(account, QUOTE)
    if not reductions and not increases and not spot_cash:
        return RebalancePlan(intents=[], skipped=skipped)  # no order, and no spot cash to move: nothing to plan

    # margin: what reductions free, what increases need (perp); quote cash for spot
    room = _PerpRoom.of(account, market, config, limits.max_margin_ratio)
    for leg in reductions:
        px = market.mark(leg.coin) or ZERO
        if leg.spec.market_type is MarketType.PERP:
            pos = account.position(leg.coin)
            room.free(leg.size * px / (pos.leverage if pos else 1))
        else:
            spot_cash += leg.size * px
    perp_need = sum((leg.size * (market.mark(leg.coin) or ZERO) / leg.leverage for leg in increases
                     if leg.spec.market_type is MarketType.PERP), ZERO)
    room.free(-_remargin(increases, account, market))
    spot_need = sum((leg.size * _bound(leg, market, config) for leg in increases
                     if leg.spec.market_type is MarketType.SPOT), ZERO)
    transfers: list[TransferIntent] = []
    if spot_need > spot_cash and room.left() - perp_need > 0:
        amount = min(spot_need - spot_cash, room.left() - perp_need).quantize(_CENT, rounding=ROUND_UP)
        amount = min(amount, (room.left() - perp_need).quantize(_CENT, rounding=ROUND_DOWN))
        if amount > 0:
            transfers.append(TransferIntent(amount=amount, to_perp=False))
            room.move(-amount)
            spot_cash += amount
    elif perp_need > room.cash and spot_cash - spot_need > 0:
        amount = min(perp_need - room.cash, spot_cash - spot_need).quantize(_CENT, rounding=ROUND_DOWN)
        if amount > 0:
            transfers.append(TransferIntent(amount=amount, to_perp=True))
            room.move(amount)
            spot_cash -= amount
    perp_scale = _scale(perp_need, room.left())
    spot_scale = _scale(spot_need, spot_cash)
    gross_scale = _gross_scale(account, market, reductions, increases, equity, limits.max_gross_exposure)

    intents: list[Intent] = []
    for leg in reductions:
        intents.append(_to_intent(leg, market, config, reduce_only=True))
    intents.extend(transfers)
    for leg in increases:
        perp = leg.spec.market_type is MarketType.PERP
        scale = perp_scale if perp else spot_scale
        gross = gross_scale < scale  # the gross exposure limit, not the money, binds
        scale = min(scale, gross_scale)
        size = round_size(leg.size * scale, leg.spec.sz_decimals) if scale < 1 else leg.size
        px = market.mark(leg.coin) or ZERO
        bound = (f"risk.max_gross_exposure {limits.max_gross_exposure}x of equity" if gross
                 else room.bound() if perp and room.at_ceiling() else None)
        # (scaled down to less than a drift worth trading, it would trickle in as the room moves)
        if size <= 0 or size * px < config.min_notional_usd or (
                size < leg.size and size * px < equity * config.min_drift_pct / _HUNDRED):
            skipped.append((leg.coin, f"no room for the increase: {bound or 'not enough margin or cash'}"))
            continue
        if size < leg.size:
            skipped.append((leg.coin, f"increase scaled down from {leg.size} to {size} to fit "
                                      f"{bound or 'available margin'}"))
        if perp:
            intents += leverage_setting(account.position(leg.coin), leg.spec, leg.leverage)
        leg.size = size
        intents.append(_to_intent(leg, market, config, reduce_only=False))
    return RebalancePlan(intents=intents, skipped=skipped)


def leverage_setting(pos: Position | None, spec: AssetSpec, leverage: int) -> list[LeverageIntent]:
    """The setting that puts the perp `spec.name` at `leverage` before an order opens or grows it
    ([] when the position `pos` already has it): cross margin unless the asset allows isolated only."""
    if pos is not None and pos.leverage == leverage:
        return []
    return [LeverageIntent(coin=spec.name, leverage=leverage, is_cross=not spec.only_isolated)]


def _plan_coin(
    entry: TargetEntry,
    account: AccountState,
    market: MarketView,
    config: PortfolioConfig,
    equity: Decimal,
    reductions: list[_Leg],
    increases: list[_Leg],
    limits: "PlanLimits",
) -> str:
    """Append this coin's legs; return why nothing was planned, or why the increase was cut
    ("" when the legs were added whole)."""
    coin = entry.coin
    spec = market.specs.get(coin)
    if spec is None:
        return "unknown asset: not in the venue's asset list"
    if spec.market_type is not entry.market_type:
        return f"target says {entry.market_type.value} but the venue lists {coin} as {spec.market_type.value}"
    price = market.mark(coin)
    if not price or price <= 0:
        return "no price"
    spot = spec.market_type is MarketType.SPOT
    if spot and entry.target_pct < 0:
        return "spot cannot be short; use a perp target"
    current = spot_free(account, coin) if spot else account.signed_size(coin)
    raw = entry.target_pct / _HUNDRED * equity / price if equity > 0 else ZERO
    target = current if abs(raw - current) < lot_size(spec.sz_decimals) else round_size(raw, spec.sz_decimals)
    if target == current:
        return ""
    closing = current != 0 and (target == 0 or (target > 0) != (current > 0))
    drift_pct = abs(target - current) * price / equity * _HUNDRED if equity > 0 else _HUNDRED
    if not closing and drift_pct < config.min_drift_pct:
        return f"drift {drift_pct:.2f}% is below min_drift_pct {config.min_drift_pct}%"
    asked = entry.leverage or config.default_leverage
    leverage = min(asked, spec.max_leverage, limits.max_leverage or asked)
    capped = f"leverage {asked}x capped at the allowed {leverage}x" if limits.max_leverage and asked > leverage else ""
    away = Side.SELL if current > 0 else Side.BUY
    if closing:
        reductions.append(_Leg(coin, away, abs(current), OrderPurpose.CLOSE, spec))
        opening_pct = abs(target) * price / equity * _HUNDRED if equity > 0 else ZERO
        if target != 0 and opening_pct < config.min_drift_pct:  # (as an open from flat would be)
            return f"the flip's opening leg of {opening_pct:.2f}% is below min_drift_pct {config.min_drift_pct}%"
        if target != 0:  # (its opening leg starts from flat: the close goes first)
            return _add_increase(coin, Side.BUY if target > 0 else Side.SELL, abs(target), OrderPurpose.OPEN,
                                 spec, leverage, price, config, increases, limits, ZERO, equity, capped)
        return ""
    if current != 0 and abs(target) < abs(current):
        size = abs(current) - abs(target)
        if size * price < config.min_notional_usd:
            return f"reduction of ${size * price:.2f} is below the ${config.min_notional_usd} minimum"
        reductions.append(_Leg(coin, away, size, OrderPurpose.REDUCE, spec))
        return ""
    purpose = OrderPurpose.OPEN if current == 0 else OrderPurpose.INCREASE
    return _add_increase(coin, Side.BUY if target > 0 else Side.SELL, abs(target) - abs(current), purpose,
                         spec, leverage, price, config, increases, limits, abs(current), equity, capped)


def _add_increase(coin: str, side: Side, size: Decimal, purpose: OrderPurpose, spec: AssetSpec, leverage: int,
                  price: Decimal, config: PortfolioConfig, increases: list[_Leg], limits: "PlanLimits",
                  held: Decimal, equity: Decimal, note: str = "") -> str:
    """Append the increase of `size` on `held` (unsigned), cut to the limits; return why it was
    left out, or what was cut (`note`, the leverage cap, when a leg is added; "" when added whole)."""
    cut, limit = limits.cap(size, held, price)
    if cut < size:
        size_cut = round_size(cut, spec.sz_decimals) if cut > 0 else ZERO
        if size_cut * price < config.min_notional_usd or size_cut * price < equity * config.min_drift_pct / _HUNDRED:
            return (f"no room for the increase: {limit} leaves ${max(cut, ZERO) * price:.2f}, under "
                    f"min_drift_pct {config.min_drift_pct}% or the ${config.min_notional_usd} minimum")
        increases.append(_Leg(coin, side, size_cut, purpose, spec, leverage))
        return "; ".join(filter(None, (note, f"increase capped from {size} to {size_cut} by {limit}")))
    if size * price < config.min_notional_usd:
        return f"order of ${size * price:.2f} is below the ${config.min_notional_usd} minimum"
    increases.append(_Leg(coin, side, size, purpose, spec, leverage))
    return note


@dataclass(frozen=True)
class PlanLimits:
    """What increases are planned within, besides the margin and cash (None: not applied): the
    risk policy's `max_order_usd`, `max_position_usd`, `max_gross_exposure` and leverage cap (it
    would deny an order past them whole, every cycle), and governed mode's `max_margin_ratio` (the
    perp margin used after the orders, as a share of the perp equity)."""

    max_margin_ratio: Decimal | None = None
    max_order_usd: Decimal | None = None
    max_position_usd: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_leverage: int | None = None  # the leverage a target may ask for

    def cap(self, size: Decimal, held: Decimal, price: Decimal) -> tuple[Decimal, str]:
        """The most of `size` (added to `held`, both unsigned, at `price`) the limits let through,
        and the limit that binds ("" when none does)."""
        out, why = size, ""
        if self.max_order_usd is not None and self.max_order_usd / price < out:
            out, why = self.max_order_usd / price, f"risk.max_order_usd ${self.max_order_usd}"
        if self.max_position_usd is not None and self.max_position_usd / price - held < out:
            out, why = self.max_position_usd / price - held, f"risk.max_position_usd ${self.max_position_usd}"
        return out, why


_NO_LIMITS = PlanLimits()


def _to_intent(leg: _Leg, market: MarketView, config: PortfolioConfig, reduce_only: bool) -> OrderIntent:
    return order_intent(leg.coin, leg.side, leg.size, market, config, reduce_only=reduce_only, purpose=leg.purpose)


def _bound(leg: _Leg, market: MarketView, config: PortfolioConfig) -> Decimal:
    ref = market.reference(leg.coin, leg.side) or ZERO
    return ref * (Decimal(1) + config.market_slippage_bps / _BPS)


def _remargin(increases: Sequence[_Leg], account: AccountState, market: MarketView) -> Decimal:
    """The margin the positions held need more (less, when negative) once the increases set
    their leverage: an increase at a lower leverage than its coin's position holds margins the
    whole position at it (the venue refuses the orders that no longer fit). A flip's opening
    leg re-margins nothing: its reduction closes the position first."""
    extra = ZERO
    for leg in increases:
        if leg.purpose is not OrderPurpose.INCREASE or leg.spec.market_type is not MarketType.PERP:
            continue
        pos = account.position(leg.coin)
        if pos is not None and pos.leverage != leg.leverage:
            held = abs(pos.notional(market.mark(leg.coin) or ZERO))  # margin is on the notional, long or short
            extra += held / leg.leverage - held / pos.leverage
    return extra


@dataclass
class _PerpRoom:
    """The margin the perp increases may use: `cash`, the available balance after the cash
    buffer, and `ceiling`, what keeps the margin used at or below `max_margin_ratio` of the
    perp equity (none: no ceiling). Margin a reduction frees counts in both; cash moved into
    the perp wallet counts in full in `cash` and at the ratio in `ceiling` (it is equity)."""

    cash: Decimal
    ceiling: Decimal | None = None
    ratio: Decimal | None = None

    @classmethod
    def of(cls, account: AccountState, market: MarketView, config: PortfolioConfig,
           ratio: Decimal | None) -> "_PerpRoom":
        cash = account.available_balance - account.portfolio_value * config.cash_buffer_pct / _HUNDRED
        if ratio is None:
            return cls(cash)
        used, equity = perp_margin(account, market.mids)
        return cls(cash, ratio * equity - used, ratio)

    def free(self, margin: Decimal) -> None:
        self.cash += margin
        if self.ceiling is not None:
            self.ceiling += margin

    def move(self, amount: Decimal) -> None:
        """`amount` USDC into the perp wallet (out of it when negative)."""
        self.cash += amount
        if self.ceiling is not None:
            self.ceiling += amount * self.ratio

    def left(self) -> Decimal:
        return self.cash if self.ceiling is None else min(self.cash, self.ceiling)

    def at_ceiling(self) -> bool:
        """Whether the ratio, not the cash, bounds the increases."""
        return self.ceiling is not None and self.ceiling < self.cash

    def bound(self) -> str:
        return f"the perp margin used stays at or below {self.ratio} of the perp equity"


def _gross_scale(account: AccountState, market: MarketView, reductions: Sequence[_Leg], increases: Sequence[_Leg],
                 equity: Decimal, limit: Decimal | None) -> Decimal:
    """The share of the increases that keeps the gross notional (every position and spot holding,
    at the marks, after the reductions) at or below `limit` x equity: the risk policy's
    `max_gross_exposure`, which would deny the orders past it whole, every cycle."""
    if limit is None or not increases:
        return Decimal(1)
    held = sum((abs(p.size) * (market.mark(p.coin) or ZERO) for p in account.positions), ZERO)
    spot = spot_holdings(account, market.specs)
    held += sum((size * (market.mark(pair) or ZERO) for pair, size in spot.items()), ZERO)
    freed = sum((leg.size * (market.mark(leg.coin) or ZERO) for leg in reductions), ZERO)
    need = sum((leg.size * (market.mark(leg.coin) or ZERO) for leg in increases), ZERO)
    return _scale(need, limit * equity - (held - freed))


def _scale(need: Decimal, room: Decimal) -> Decimal:
    if need <= 0 or need <= room:
        return Decimal(1)
    return max(room, ZERO) / need


# ---------------------------------------------------------------- trade actions


def action_intents(actions: Sequence[Any], account: AccountState, market: MarketView,
                   config: PortfolioConfig) -> tuple[list[Intent], list[tuple[str, str]]]:
    """Trade actions (buy/sell/close/transfer/cancel/hold) as intents; each failure kept with its reason."""
    intents: list[Intent] = []
    skipped: list[tuple[str, str]] = []
    for a in actions:
        try:
            match a.action_type:
                case "hold":
                    continue
                case "buy" | "sell":
                    if a.size is None:
                        skipped.append((a.coin, f"{a.action_type} without a size: give a size or a target allocation"))
                        continue
                    side = Side.BUY if a.action_type == "buy" else Side.SELL
                    pos = account.position(a.coin)
                    signed_now, size = account.signed_size(a.coin), a.size
                    spec = market.specs.get(a.coin)
                    perp = spec is not None and spec.market_type is MarketType.PERP
                    if perp and signed_now and (signed_now > 0) != (side is Side.BUY) and size > abs(signed_now):
                        # past the position: a reduce-only close, then an open of the rest (a flip
                        # is never one order: the close always goes, the open gets every check)
                        intents.append(order_intent(a.coin, side, abs(signed_now), market, config, price=a.price,
                                                    reduce_only=True, purpose=OrderPurpose.CLOSE))
                        pos, signed_now, size = None, Decimal(0), size - abs(signed_now)
                        price = market.mark(a.coin) or Decimal(0)
                        if size * price < config.min_notional_usd:  # (the venue would refuse it)
                            skipped.append((a.coin, f"{a.action_type}: the ${size * price:.2f} left after closing "
                                                    f"the position is below the ${config.min_notional_usd} minimum"))
                            continue
                    # (one past the position opens the other side: an opening trade)
                    purpose = purpose_of(signed_now, size * side.sign)
                    order = order_intent(a.coin, side, size, market, config, price=a.price, purpose=purpose)
                    if purpose is OrderPurpose.OPEN and perp:
                        # opened at the configured leverage, as a target is: the venue's own default
                        # (often the asset's maximum) is a setting the risk policy never reviewed
                        intents += leverage_setting(pos, spec, min(config.default_leverage, spec.max_leverage))
                    intents.append(order)
                case "close":
                    signed = account.signed_size(a.coin)
                    if signed == 0:
                        skipped.append((a.coin, "close: there is no position"))
                        continue
                    intents.append(close_intent(a.coin, signed, market, config, size=a.size))
                case "transfer":
                    intents.append(TransferIntent(amount=a.amount, to_perp=a.to_perp))
                case "cancel":
                    intents.append(CancelIntent(coin=a.coin, oid=a.oid))
                case other:  # pragma: no cover - the union is closed
                    skipped.append((str(getattr(a, "coin", "")), f"unknown action {other!r}"))
        except ValueError as exc:
            skipped.append((str(getattr(a, "coin", "")), str(exc)))
    return intents, skipped
