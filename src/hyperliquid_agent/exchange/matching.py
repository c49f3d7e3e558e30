"""Order rules and fill prices for the venue model: Hyperliquid's placement checks, the
synthetic top of book, slippage factors, and when a bar touches a resting or
trigger order. Pure functions over Decimals; the model decides what to do with them.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from hyperliquid_agent.domain import AssetSpec, OpenOrder, Side, Tif, TpSl
from hyperliquid_agent.domain.rounding import (
    finest_price_decimal,
    is_valid_price_at,
    lot_size,
    round_price_at,
)
from hyperliquid_agent.exchange.venue_types import (
    ERR_INVALID_PRICE,
    LimitType,
    OrderRequest,
    ERR_INVALID_SIZE,
    ERR_PRICE_BAND,
    ERR_TPSL,
)

BPS = Decimal(10000)
MIN_NOTIONAL = Decimal(10)
PRICE_BAND = Decimal("0.8")
# Decimal constants for the per-order arithmetic: mixing in an int costs a conversion each time
ZERO, ONE = Decimal(0), Decimal(1)


class AssetRules:
    """What the placement checks need of one asset, worked out once from its spec."""

    __slots__ = ("spec", "finest_decimal", "lot")

    def __init__(self, spec: AssetSpec) -> None:
        self.spec = spec
        self.finest_decimal = finest_price_decimal(spec.sz_decimals, spec.market_type)  # of a valid price
        self.lot = lot_size(spec.sz_decimals)  # a valid size is a multiple of it


class RestingOrder:
    """An order on the book (a GTC/ALO limit, or a trigger waiting for its price)."""

    __slots__ = ("oid", "coin", "is_buy", "limit_px", "sz", "orig_sz", "reduce_only", "tif", "trigger_px",
                 "is_market", "tpsl", "cloid", "timestamp_ms", "address", "reserved")

    def __init__(self, oid: int, address: str, coin: str, is_buy: bool, limit_px: Decimal, sz: Decimal,
                 reduce_only: bool, tif: str | None, trigger_px: Decimal | None, is_market: bool,
                 tpsl: TpSl | None, cloid: str | None, timestamp_ms: int) -> None:
        self.oid, self.address, self.coin, self.is_buy = oid, address, coin, is_buy
        self.limit_px, self.sz, self.orig_sz, self.reduce_only = limit_px, sz, sz, reduce_only
        self.tif, self.trigger_px, self.is_market, self.tpsl = tif, trigger_px, is_market, tpsl
        self.cloid, self.timestamp_ms = cloid, timestamp_ms
        self.reserved = Decimal(0)  # notional this order holds margin for while it rests

    def record(self, status: str, status_time_ms: int) -> tuple:
        """The order's reportable fields, then its `status` and when it got it: the record kept per
        order for `orderStatus`. One flat tuple of plain values, which the garbage collector stops
        tracking at its first pass (a tuple nested in another can outlive that pass tracked, and a
        year of them would make full collections come sooner and take longer)."""
        return (self.address, self.coin, self.is_buy, self.limit_px, self.sz, self.orig_sz, self.oid, self.cloid,
                self.timestamp_ms, self.reduce_only, self.order_type, self.tif, self.trigger_px,
                self.tpsl is not None, status, status_time_ms)

    @property
    def order_type(self) -> str:
        return order_type_name(self.tpsl, self.is_market)


def order_type_name(tpsl: TpSl | None, is_market: bool) -> str:
    """Hyperliquid's orderType label: Limit, Stop Market, Stop Limit, Take Profit Market, ..."""
    if tpsl is None:
        return "Limit"
    return f"{'Take Profit' if tpsl is TpSl.TP else 'Stop'} {'Market' if is_market else 'Limit'}"


# a tif's value, read without the enum's slow `.value` property (and shared: str(tif) makes a copy)
TIF_NAME = {tif: tif.value for tif in Tif}


def request_record(address: str, r: OrderRequest, oid: int, cloid: str | None, now_ms: int, status: str) -> tuple:
    """A `RestingOrder.record()` for an order that never rested: it got `status` on arrival."""
    ot = r.order_type
    if type(ot) is LimitType:
        return (address, r.coin, r.is_buy, r.limit_px, r.sz, r.sz, oid, cloid, now_ms, r.reduce_only, "Limit",
                TIF_NAME[ot.tif], None, False, status, now_ms)
    return (address, r.coin, r.is_buy, r.limit_px, r.sz, r.sz, oid, cloid, now_ms, r.reduce_only,
            order_type_name(ot.tpsl, ot.is_market), None, ot.trigger_px, True, status, now_ms)


def taken_record(address: str, r: OrderRequest, fill: tuple) -> tuple:
    """The status kept for an order filled on arrival (a limit: triggers rest first): what its
    `fill` (a FillRecord: coin, side, time, oid and cloid) does not hold, instead of a whole
    record per order that few are ever asked for. `full_record` makes its
    `request_record(..., "filled")` when orderStatus asks."""
    return (address, fill, r.limit_px, r.sz, r.reduce_only, TIF_NAME[r.order_type.tif])  # type: ignore[union-attr]


def full_record(record: tuple) -> tuple:
    """A kept status record as `RestingOrder.record()` lays it out (a `taken_record` made whole)."""
    if len(record) != 6:
        return record
    address, fill, limit_px, sz, reduce_only, tif = record
    coin, is_buy, t, oid, cloid = fill[0], fill[1], fill[5], fill[6], fill[7]
    return (address, coin, is_buy, limit_px, sz, sz, oid, cloid, t, reduce_only, "Limit", tif, None, False, "filled", t)


_NEG_INF, _POS_INF = Decimal("-Infinity"), Decimal("Infinity")


class CoinBook:
    """One coin's resting orders (all accounts, placement order) with cached extremes, so a
    bar that touches none of them costs two comparisons."""

    __slots__ = ("orders", "_dirty", "_reach_down", "_reach_up")

    def __init__(self) -> None:
        self.orders: dict[int, RestingOrder] = {}  # oid -> order, in placement order
        self._dirty = False
        # a bar touches an order when its low reaches down to `_reach_down` (the highest bid or
        # falling trigger) or its high up to `_reach_up` (the lowest ask or rising trigger)
        self._reach_down = _NEG_INF
        self._reach_up = _POS_INF

    def add(self, o: RestingOrder) -> None:
        self.orders[o.oid] = o
        self._dirty = True

    def remove(self, o: RestingOrder) -> None:
        if self.orders.pop(o.oid, None) is not None:
            self._dirty = True

    def changed(self) -> None:
        self._dirty = True

    def may_touch(self, low: Decimal, high: Decimal) -> bool:
        if not self.orders:
            return False
        if self._dirty:
            self._reach_down, self._reach_up = _NEG_INF, _POS_INF
            for o in self.orders.values():
                if o.trigger_px is not None:
                    if triggers_above(o.is_buy, o.tpsl):
                        self._reach_up = min(self._reach_up, o.trigger_px)
                    else:
                        self._reach_down = max(self._reach_down, o.trigger_px)
                elif o.is_buy:
                    self._reach_down = max(self._reach_down, o.limit_px)
                else:
                    self._reach_up = min(self._reach_up, o.limit_px)
            self._dirty = False
        return low <= self._reach_down or high >= self._reach_up


def static_error(limit_px: Decimal, sz: Decimal, trigger_px: Decimal | None, rules: AssetRules,
                 reference_px: Decimal) -> str | None:
    """Checks that need no account: price and size precision, the 80% price band."""
    if not is_valid_price_at(limit_px, rules.finest_decimal):
        return ERR_INVALID_PRICE
    if trigger_px is not None and not is_valid_price_at(trigger_px, rules.finest_decimal):
        return ERR_INVALID_PRICE
    if sz <= ZERO or sz % rules.lot:  # (not fits_lot(...) inlined: a remainder; this runs for every order)
        return ERR_INVALID_SIZE
    if abs(limit_px - reference_px) > PRICE_BAND * reference_px:
        return ERR_PRICE_BAND
    return None


def triggers_above(is_buy: bool, tpsl: TpSl | None) -> bool:
    """A sell TP and a buy SL trigger when the price rises to the trigger; the others when it falls."""
    return (tpsl is TpSl.TP) != is_buy


def trigger_error(is_buy: bool, tpsl: TpSl, trigger_px: Decimal, mark: Decimal) -> str | None:
    """A TP/SL whose condition already holds at placement is refused."""
    if triggers_above(is_buy, tpsl):
        return ERR_TPSL if mark >= trigger_px else None
    return ERR_TPSL if mark <= trigger_px else None


def away_factor(is_buy: bool, bps: Decimal) -> Decimal:
    """What a price is multiplied by to move `bps` against a buyer (up) or a seller (down)."""
    return ONE + bps / BPS if is_buy else ONE - bps / BPS


def touch_factors(spread_bps: Decimal) -> tuple[Decimal, Decimal]:
    """`touch_price`'s factors by `is_buy`: (best bid, best ask) over the mid, half the spread away."""
    return away_factor(False, spread_bps / 2), away_factor(True, spread_bps / 2)


def touch_price(mid: Decimal, rules: AssetRules, factor: Decimal, is_buy: bool) -> Decimal:
    """The synthetic book's best ask (`is_buy`: what a buyer meets) or best bid around `mid`
    (`factor` from `touch_factors`), rounded outward to the venue's price precision."""
    return round_price_at(mid * factor, rules.finest_decimal, ROUND_UP if is_buy else ROUND_DOWN)


def trigger_hit(o: RestingOrder, open_px: Decimal, low: Decimal, high: Decimal) -> Decimal | None:
    """The price at which a bar fires a trigger order (the trigger, or the open if the bar
    gapped through it), or None if the bar did not reach it."""
    t = o.trigger_px
    assert t is not None
    if triggers_above(o.is_buy, o.tpsl):
        if high < t:
            return None
        return open_px if open_px > t else t
    if low > t:
        return None
    return open_px if open_px < t else t


def path_rank(o: RestingOrder, position: Decimal, open_px: Decimal, low: Decimal, high: Decimal) -> tuple:
    """When, inside one bar, the price reaches order `o`, on the path worse for the account's
    `position` at the bar's start (a bar's path is unknown: a long's bar is taken to go open ->
    low -> high, a short's open -> high -> low), so a stop that the bar reaches fires before a
    take-profit it also reaches. Orders at or beyond the open come first (the open is known);
    a flat account's orders keep their placement order (the sort is stable)."""
    if not position:
        return (0, ZERO)
    px = o.trigger_px if o.trigger_px is not None else o.limit_px
    up = triggers_above(o.is_buy, o.tpsl) if o.trigger_px is not None else not o.is_buy  # fires on a rise
    falls_first = position > ZERO
    if up:
        if open_px >= px:
            return (0, ZERO)
        return (2, px - low) if falls_first else (1, px - open_px)
    if open_px <= px:
        return (0, ZERO)
    return (1, open_px - px) if falls_first else (2, high - px)


def adds_exposure(old: Decimal, new: Decimal, is_buy: bool) -> bool:
    """True when a fill of a positive size, a buy or a sell taking the position from `old` to
    `new`, adds exposure: opens, grows, or flips to the other side. A buy adds unless it only
    shrinks (or closes) a short; a sell unless it only shrinks (or closes) a long."""
    return (old >= ZERO or new > ZERO) if is_buy else (old <= ZERO or new < ZERO)


def open_order(record: tuple) -> OpenOrder:
    """The domain OpenOrder for a `RestingOrder.record()`."""
    _, coin, is_buy, px, sz, orig, oid, cloid, ts, ro, order_type, tif, trigger_px, is_trigger, _, _ = record
    return OpenOrder(coin=coin, side=Side.BUY if is_buy else Side.SELL, limit_price=px, size=sz, orig_size=orig,
                     oid=oid, cloid=cloid, timestamp_ms=ts, reduce_only=ro, order_type=order_type, tif=tif,
                     trigger_price=trigger_px, is_trigger=is_trigger)
