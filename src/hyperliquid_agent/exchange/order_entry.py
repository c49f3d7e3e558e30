"""Order entry for the venue model: placing orders with Hyperliquid's checks and error
strings, fills against the synthetic book, resting orders, margin for added exposure, and
cancels. A mixin of `VenueModel`, which owns the state used here (accounts, books, marks,
order statuses); split out to keep each file about one job.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from hyperliquid_agent.domain import AssetSpec, Filled, OrderOutcome, Rejected, Resting, Tif
from hyperliquid_agent.domain.values import trusted
from hyperliquid_agent.exchange import matching as m
from hyperliquid_agent.exchange import spot
from hyperliquid_agent.exchange.accounts import ZERO, Account, margin_exposure, plainly_affordable, usdc
from hyperliquid_agent.exchange.venue_types import (
    ERR_CANCEL,
    ERR_REDUCE_ONLY,
    ERR_SPOT_TRIGGER,
    LimitType,
    OrderRequest,
    SlippageModel,
    VenueEvent,
    err_alo,
    err_ioc,
    err_margin,
    err_min_value,
    err_spot_balance,
    reject_status,
)

_ALO, _IOC = Tif.ALO, Tif.IOC  # bound once: enum member lookups are slow on Python 3.11


class OrderEntry:
    # state owned and initialised by VenueModel
    specs: dict[str, AssetSpec]
    _rules: dict[str, m.AssetRules]
    _touch_factors: tuple[Decimal, Decimal]
    _flat_slippage: tuple[Decimal, Decimal] | None
    slippage: SlippageModel
    now_ms: int
    _accounts: dict[str, Account]
    _book: dict[str, m.CoinBook]
    _marks: dict[str, Decimal]
    _default_lev: dict[str, int]
    _default_lev_dec: dict[str, Decimal]
    _status: dict[int, tuple]
    _cloids: dict[tuple[str, str], int]
    _touches: tuple[dict[str, tuple[Decimal, Decimal]], dict[str, tuple[Decimal, Decimal]]]
    _taker: Decimal
    _maker: Decimal
    _next_oid: int
    _next_tid: int
    _spot_base: dict[str, str]

    def _account(self, address: str) -> Account:  # provided by VenueModel
        raise NotImplementedError

    def _new_oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def place_orders(self, address: str, requests: Sequence[OrderRequest]) -> list[OrderOutcome]:
        """One outcome per request, in order: Resting, Filled, or Rejected with the venue's error."""
        acct = self._account(address)
        return [self._place(acct, r) for r in requests]

    def _place(self, acct: Account, r: OrderRequest) -> OrderOutcome:
        rules = self._rules.get(r.coin)
        if rules is None:
            return trusted(Rejected, {"status": "error", "error": f"Unknown asset {r.coin}."})
        oid = self._next_oid
        self._next_oid = oid + 1
        cloid = r.cloid.lower() if r.cloid else None
        if cloid:  # the first order sent with a cloid keeps it (a resend cannot mask its outcome)
            self._cloids.setdefault((acct.address, cloid), oid)
        got = self._try_place(acct, r, rules, oid, cloid)
        if type(got) is str:  # the venue's error
            self._status[oid] = m.request_record(acct.address, r, oid, cloid, self.now_ms, reject_status(got))
            return trusted(Rejected, {"status": "error", "error": got})
        return got

    def _try_place(self, acct: Account, r: OrderRequest, rules: m.AssetRules, oid: int,
                   cloid: str | None) -> str | OrderOutcome:
        """The outcome of an order that passes the venue's checks, else the venue's error."""
        coin, is_buy, limit_px, reduce_only = r.coin, r.is_buy, r.limit_px, r.reduce_only
        trigger = None if type(r.order_type) is LimitType else r.order_type
        mark = self._marks[coin]
        err = m.static_error(limit_px, r.sz, trigger.trigger_px if trigger else None, rules, mark)  # type: ignore[union-attr]
        if err:
            return err
        spec = rules.spec
        if coin in self._spot_base:
            return self._try_place_spot(acct, r, rules, mark, oid, cloid)
        held = acct.positions.get(coin)  # (acct.szi inlined: this runs for every order)
        pos = held.szi if held is not None else ZERO
        if reduce_only and (not pos or (pos > ZERO) == is_buy):
            return ERR_REDUCE_ONLY
        closes_all = reduce_only and r.sz >= abs(pos)
        if not closes_all and r.sz * limit_px < m.MIN_NOTIONAL:
            return err_min_value(spec.asset_id)
        if trigger is not None:
            err = m.trigger_error(is_buy, trigger.tpsl, trigger.trigger_px, mark)  # type: ignore[union-attr]
            if err:
                return err
            return self._rest(acct, r, oid, cloid)
        err, touch, crosses = self._against_book(r, rules, mark)
        if err:
            return err
        sz = min(r.sz, abs(pos)) if reduce_only else r.sz
        if crosses:
            px = self._taker_price(is_buy, touch, limit_px, sz)
            if not reduce_only and not self._margin_ok(acct, coin, pos, is_buy, sz, px, between_bars=True):
                return err_margin(spec.asset_id)
            return self._taken(acct, r, oid, cloid, sz, px)
        if not reduce_only and not self._margin_ok(acct, coin, pos, is_buy, sz, limit_px, between_bars=True):
            return err_margin(spec.asset_id)
        return self._rest(acct, r, oid, cloid)

    def _against_book(self, r: OrderRequest, rules: m.AssetRules, mark: Decimal) -> tuple[str | None, Decimal, bool]:
        """(error, touch, crosses) of a limit order against the synthetic book at `mark` (the coin's
        current one): ALO that would cross and IOC that would not are refused."""
        is_buy = r.is_buy
        touch = self._touch(r.coin, is_buy, rules, mark)
        crosses = r.limit_px >= touch if is_buy else r.limit_px <= touch
        tif = r.order_type.tif  # type: ignore[union-attr]
        if tif is _ALO and crosses:
            return err_alo(*self._bbo_of(r.coin)), touch, crosses
        if tif is _IOC and not crosses:
            return err_ioc(rules.spec.asset_id), touch, crosses
        return None, touch, crosses

    def _try_place_spot(self, acct: Account, r: OrderRequest, rules: m.AssetRules, mark: Decimal, oid: int,
                        cloid: str | None) -> str | OrderOutcome:
        coin, is_buy, limit_px, spec = r.coin, r.is_buy, r.limit_px, rules.spec
        if r.reduce_only:
            return ERR_REDUCE_ONLY
        if type(r.order_type) is not LimitType:
            return ERR_SPOT_TRIGGER
        if r.sz * limit_px < m.MIN_NOTIONAL:
            return err_min_value(spec.asset_id)
        err, touch, crosses = self._against_book(r, rules, mark)
        if err:
            return err
        token = self._spot_base[coin]
        px = self._taker_price(is_buy, touch, limit_px, r.sz) if crosses else limit_px
        if not spot.affordable(acct, self._spot_base, token, is_buy, r.sz, px, spot.SPOT_TAKER if crosses else ZERO):
            return err_spot_balance(spec.asset_id)
        if not crosses:
            return self._rest(acct, r, oid, cloid)
        return self._taken(acct, r, oid, cloid, r.sz, px)

    def _taken(self, acct: Account, r: OrderRequest, oid: int, cloid: str | None, sz: Decimal,
               px: Decimal) -> OrderOutcome:
        """Fill an order on arrival (as taker) at `px` and record it filled."""
        self._fill(acct, r.coin, r.is_buy, sz, px, True, self.now_ms, oid, cloid, None)
        self._status[oid] = m.taken_record(acct.address, r, acct.fills[-1])
        return trusted(Filled, {"status": "filled", "oid": oid, "total_size": sz, "avg_price": px, "cloid": cloid})

    def _rest(self, acct: Account, r: OrderRequest, oid: int, cloid: str | None) -> OrderOutcome:
        ot = r.order_type
        if type(ot) is LimitType:
            o = m.RestingOrder(oid, acct.address, r.coin, r.is_buy, r.limit_px, r.sz, r.reduce_only,
                               ot.tif.value, None, False, None, cloid, self.now_ms)
        else:
            o = m.RestingOrder(oid, acct.address, r.coin, r.is_buy, r.limit_px, r.sz, r.reduce_only,
                               None, ot.trigger_px, ot.is_market, ot.tpsl, cloid, self.now_ms)  # type: ignore[union-attr]
        acct.orders[oid] = o
        self._book[r.coin].add(o)
        if r.coin not in self._spot_base:  # spot orders hold balance instead (spot.holds)
            self._reserve(acct, o)
        self._status[oid] = o.record("open", self.now_ms)
        return trusted(Resting, {"status": "resting", "oid": oid, "cloid": cloid})

    def cancel(self, address: str, coin: str, oid: int) -> str | None:
        """None on success, else the venue's error string."""
        acct = self._account(address)
        o = acct.orders.get(oid)
        if o is None or o.coin != coin:  # type: ignore[union-attr]
            return ERR_CANCEL
        self._remove(acct, o, "canceled", self.now_ms, None)  # type: ignore[arg-type]
        return None

    def cancel_by_cloid(self, address: str, coin: str, cloid: str) -> str | None:
        acct = self._account(address)
        oid = self._cloids.get((acct.address, cloid.lower()))
        return ERR_CANCEL if oid is None else self.cancel(address, coin, oid)

    # ------------------------------------------------------------------ fills, book, margin

    def _fill_resting(self, acct: Account, o: m.RestingOrder, px: Decimal, crossed: bool, t: int,
                      events: list[VenueEvent] | None) -> None:
        sz = o.sz
        token = self._spot_base.get(o.coin)
        if token is not None:
            if not spot.affordable(acct, self._spot_base, token, o.is_buy, sz, px, spot.SPOT_MAKER, exclude=o):
                self._remove(acct, o, "marginCanceled", t, events)  # the venue's status when funds fall short
                return
            self._fill(acct, o.coin, o.is_buy, sz, px, crossed, t, o.oid, o.cloid, events)
            self._remove(acct, o, "filled", t, None)
            return
        pos = acct.szi(o.coin)
        if o.reduce_only:
            if not pos or (pos > ZERO) == o.is_buy:
                self._remove(acct, o, "reduceOnlyCanceled", t, events)
                return
            sz = min(sz, abs(pos))
        elif not self._margin_ok(acct, o.coin, pos, o.is_buy, sz, px, exclude=o):
            self._remove(acct, o, "marginCanceled", t, events)
            return
        self._fill(acct, o.coin, o.is_buy, sz, px, crossed, t, o.oid, o.cloid, events)
        self._remove(acct, o, "filled", t, None)

    def _remove(self, acct: Account, o: m.RestingOrder, status: str, t: int, events: list[VenueEvent] | None) -> None:
        if acct.orders.pop(o.oid, None) is not None:
            self._book[o.coin].remove(o)
            if o.reserved:
                left = acct.reserved[o.coin] - o.reserved
                if left:
                    acct.reserved[o.coin] = left
                else:
                    del acct.reserved[o.coin]  # keeps the margin check's fast path
                o.reserved = ZERO
                acct.order_margin = None
        self._status[o.oid] = o.record(status, t)
        if events is not None:
            events.append(VenueEvent("cancel", t, acct.address, o.coin, o.oid, note=status))

    def _fill(self, acct: Account, coin: str, is_buy: bool, sz: Decimal, px: Decimal, crossed: bool, t: int,
              oid: int, cloid: str | None, events: list[VenueEvent] | None, liquidation: bool = False) -> None:
        token = self._spot_base.get(coin)
        if token is None:
            fee = usdc(sz * px * (self._taker if crossed else self._maker))
            closed, start, direction = acct.apply_fill(coin, is_buy, sz, px, fee)
            if acct.exposure is not None:  # still at these marks: raise the bound by what the fill can add
                mark = self._marks[coin]
                acct.exposure += closed + sz * (mark + mark + px)
            if liquidation:
                direction = acct.liquidated_direction(coin, is_buy)
        else:  # spot: balances move, no position, nothing closed
            fee = usdc(sz * px * (spot.SPOT_TAKER if crossed else spot.SPOT_MAKER))
            closed, direction = ZERO, "Buy" if is_buy else "Sell"
            start = spot.apply_fill(acct, token, is_buy, sz, px, fee)
        tid = self._next_tid
        self._next_tid += 1
        acct.fills.append((coin, is_buy, px, sz, fee, t, oid, cloid, closed, direction, crossed, start, tid,
                           liquidation))  # a FillRecord (see Account)
        if events is not None:
            events.append(VenueEvent("liquidation" if liquidation else "fill", t, acct.address, coin, oid,
                                     size=sz if is_buy else -sz, price=px, usdc=fee, note=direction))

    # ------------------------------------------------------------------ margin and liquidation

    def _reserve(self, acct: Account, o: m.RestingOrder) -> None:
        """A resting limit that could add exposure holds margin for its notional."""
        if o.reduce_only or o.trigger_px is not None or o.reserved:
            return
        o.reserved = o.sz * o.limit_px
        acct.reserved[o.coin] = acct.reserved.get(o.coin, ZERO) + o.reserved
        acct.order_margin = None

    def _open_order_margin(self, acct: Account, exclude: m.RestingOrder | None = None) -> Decimal:
        """The margin the account's resting orders hold (without `exclude`'s), kept on the
        account until an order rests or leaves or a leverage changes."""
        if exclude is None:
            if acct.order_margin is None:
                acct.order_margin = self._order_margin(acct, None)
            return acct.order_margin
        return self._order_margin(acct, exclude)

    def _order_margin(self, acct: Account, exclude: m.RestingOrder | None) -> Decimal:
        total = ZERO
        chosen, default = acct.leverage, self._default_lev
        for coin, notional in acct.reserved.items():
            if exclude is not None and exclude.coin == coin:
                notional -= exclude.reserved
            if notional:
                lev = chosen.get(coin)  # (acct.lev inlined: this runs for every order while one rests)
                total += notional / (lev[0] if lev is not None else default[coin])
        return total

    def _margin_ok(self, acct: Account, coin: str, old: Decimal, is_buy: bool, sz: Decimal, px: Decimal,
                   exclude: m.RestingOrder | None = None, between_bars: bool = False) -> bool:
        """Whether the account can afford a fill of `sz` at `px` taking its `coin` position from
        `old` (the callers have it at hand), with `exclude`'s margin released. `between_bars`: the
        marks stand still (an order arriving, not a bar being crossed), so a plainly well-funded
        account passes on its exposure bound (`plainly_affordable`) without the full sum."""
        new = old + sz if is_buy else old - sz
        if not m.adds_exposure(old, new, is_buy):
            return True
        marks, chosen, default = self._marks, acct.leverage, self._default_lev_dec
        if between_bars:
            exposure = acct.exposure
            if exposure is None:
                exposure = acct.exposure = margin_exposure(acct, marks, self._leverages(acct))
            if plainly_affordable(acct, exposure, old, sz, px, self._taker, self._open_order_margin(acct, exclude)):
                return True
        # acct.lev inlined, dividing by Decimals (this runs for every order that adds exposure; the
        # quotient is the same as by the int leverage, without converting it every time)
        lev = chosen.get(coin)
        need = abs(new) * px / (Decimal(lev[0]) if lev is not None else default[coin]) + sz * px * self._taker
        value = acct.cash
        for c, p in acct.positions.items():
            szi = p.szi
            if szi:
                mark = marks[c]
                value += szi * (mark - p.entry)
                if c != coin:
                    lev = chosen.get(c)
                    need += abs(szi) * mark / (Decimal(lev[0]) if lev is not None else default[c])
        if acct.reserved:
            need += self._open_order_margin(acct, exclude)
        return need <= value

    def _leverages(self, acct: Account) -> dict[str, Decimal]:
        """The account's leverage per coin, as Decimals."""
        if not acct.leverage:
            return self._default_lev_dec
        return {**self._default_lev_dec, **{c: Decimal(lev) for c, (lev, _) in acct.leverage.items()}}

    def _touch(self, coin: str, is_buy: bool, rules: m.AssetRules, mark: Decimal) -> Decimal:
        """The best ask (for a buy) or best bid (for a sell) of the synthetic book at `mark`, the
        coin's current mark (the callers have it and the coin's `rules` at hand), cached per side
        until the mark moves."""
        cache = self._touches[is_buy]
        got = cache.get(coin)
        if got is not None and got[0] is mark:  # (the mark object changes only when a bar closes)
            return got[1]
        px = m.touch_price(mark, rules, self._touch_factors[is_buy], is_buy)
        cache[coin] = (mark, px)
        return px

    def _taker_price(self, is_buy: bool, touch: Decimal, limit_px: Decimal, sz: Decimal) -> Decimal:
        """Where a taker of `sz` meeting `touch` fills on average: the touch moved against it by the
        slippage (walking the book), never beyond its limit. Not a tick price: an average fill."""
        flat = self._flat_slippage
        if flat is not None:  # the usual case: the factors were worked out once
            px = touch * flat[is_buy]
        else:
            px = touch * m.away_factor(is_buy, self.slippage.bps_for(sz * touch))
        # (min/max spelt as comparisons, keeping min's and max's choice on a tie: this runs per fill)
        if is_buy:
            return limit_px if limit_px < px else px
        return limit_px if limit_px > px else px

    def _bbo_of(self, coin: str) -> tuple[Decimal, Decimal]:
        rules, mark = self._rules[coin], self._marks[coin]
        return self._touch(coin, False, rules, mark), self._touch(coin, True, rules, mark)
