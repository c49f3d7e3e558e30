"""`VenueModel`: the simulated Hyperliquid venue, pure and deterministic.

It replays a `MarketFeed` bar by bar. Time moves only through `advance_to(t_ms)`; a bar
counts once its close time (open + interval) is at or before `now_ms`. Between closes the
mark, mid and oracle are the last closed bar's close (oracle from the feed when recorded).

Crossing a bar, in order: scheduled cancels due by its close fire; resting limits fill at
their price (maker) when the bar's range touches them; triggers fire at their price (or
the open when the bar gapped through) and fill as takers; then the account is checked for
liquidation at the bar's adverse extreme; then the hourly funding settled at the close is
paid on the oracle price.

Orders placed now fill against the synthetic book around the current mid; per-order
errors are Hyperliquid's own strings (see `venue_types`). Same feed and same calls give
identical results: nothing here reads a clock, a file or randomness.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, Sequence

from hyperliquid_agent.domain import (
    AccountState,
    AssetContext,
    AssetSpec,
    BookLevel,
    Candle,
    Fill,
    Filled,
    FundingPoint,
    L2Book,
    OpenOrder,
    OrderOutcome,
    Rejected,
    Resting,
    Side,
    SpotBalance,
    Tif,
    round_price,
    round_size,
)
from hyperliquid_agent.errors import VenueAuthError
from hyperliquid_agent.exchange import matching as m
from hyperliquid_agent.exchange.accounts import (
    ZERO,
    Account,
    FillRecord,
    maintenance_margin,
    to_account_state,
    usdc,
)
from hyperliquid_agent.exchange.feed import HOUR_MS, MarketFeed, interval_ms
from hyperliquid_agent.exchange.venue_types import (
    ERR_CANCEL,
    ERR_LEVERAGE,
    ERR_REDUCE_ONLY,
    FeeSchedule,
    FundingPayment,
    LimitType,
    MarginSummary,
    OrderRequest,
    OrderStatusInfo,
    SlippageModel,
    VenueEvent,
    err_alo,
    err_ioc,
    err_margin,
    err_min_value,
    reject_status,
)

DEFAULT_LEVERAGE = 20
_TENTH = Decimal("0.1")


class VenueModel:
    def __init__(self, feed: MarketFeed, fees: FeeSchedule | None = None, slippage: SlippageModel | None = None,
                 start_ms: int | None = None, default_leverage: int = DEFAULT_LEVERAGE) -> None:
        self.feed = feed
        self.fees = fees or FeeSchedule()
        self.slippage = slippage or SlippageModel()
        self._taker, self._maker = self.fees.taker, self.fees.maker
        self.specs: dict[str, AssetSpec] = feed.specs
        self._series = feed.series
        self._default_lev = {c: min(default_leverage, s.max_leverage) for c, s in self.specs.items()}
        # maintenance margin per unit of notional: half the initial margin at max leverage
        self._maint_frac = {c: Decimal(1) / (2 * s.max_leverage) for c, s in self.specs.items()}
        self.now_ms = feed.timeline[0] if start_ms is None else start_ms
        self._idx = {c: s.closed_count(self.now_ms) for c, s in self._series.items()}
        self._tl_pos = bisect_right(feed.timeline, self.now_ms)  # next bar close to cross
        # the bars closing at each timeline step: ((coin, bar index), ...), plain values only
        closing: dict[int, list] = {}
        for coin, s in self._series.items():
            for i, c in enumerate(s.close_t):
                closing.setdefault(c, []).append((coin, i))
        self._closing = tuple(tuple(closing[c]) for c in feed.timeline)
        self._marks = {c: self._mark_at(c) for c in self._series}
        self._accounts: dict[str, Account] = {}
        self._book: dict[str, m.CoinBook] = {c: m.CoinBook() for c in self._series}
        self._status: dict[int, tuple] = {}  # oid -> (RestingOrder.snapshot(), status, time_ms)
        self._cloids: dict[tuple[str, str], int] = {}  # (address, cloid) -> oid
        self._bbo: dict[str, list] = {}  # coin -> [mark, bid or None, ask or None]
        self._ctx_cache: tuple[int, dict[str, AssetContext]] | None = None
        self._next_oid = 1
        self._next_tid = 1
        self._next_scheduled: int | None = None  # the earliest schedule_cancel deadline

    def _mark_at(self, coin: str) -> Decimal:
        s, i = self._series[coin], self._idx[coin]
        return s.close[i - 1] if i > 0 else s.open[0]

    # ------------------------------------------------------------------ accounts

    def create_account(self, address: str, usdc_amount: Decimal, spot_usdc: Decimal = ZERO) -> None:
        """Open (or top up) an account with `usdc_amount` in the perp wallet and `spot_usdc` in spot."""
        a = address.lower()
        acct = self._accounts.get(a)
        if acct is None:
            self._accounts[a] = Account(a, Decimal(usdc_amount), Decimal(spot_usdc))
        else:
            acct.cash += Decimal(usdc_amount)
            acct.spot_usdc += Decimal(spot_usdc)

    def has_account(self, address: str) -> bool:
        return address.lower() in self._accounts

    def _account(self, address: str) -> Account:
        acct = self._accounts.get(address.lower())
        if acct is None:
            raise VenueAuthError(f"User or API Wallet {address.lower()} does not exist.")
        return acct

    # ------------------------------------------------------------------ time

    def advance_to(self, t_ms: int) -> list[VenueEvent]:
        """Move the clock to `t_ms`, crossing every bar that closes on the way."""
        if t_ms < self.now_ms:
            raise ValueError(f"time only moves forward: {t_ms} < now {self.now_ms}")
        events: list[VenueEvent] = []
        tl = self.feed.timeline
        k = self._tl_pos
        while k < len(tl) and tl[k] <= t_ms:
            self._step(tl[k], self._closing[k], events)
            k += 1
        self._tl_pos = k
        self.now_ms = t_ms
        self._fire_scheduled_cancels(t_ms, events)
        self._ctx_cache = None
        return events

    def _step(self, close_ms: int, closing: tuple, events: list[VenueEvent]) -> None:
        self.now_ms = close_ms
        if self._next_scheduled is not None:
            self._fire_scheduled_cancels(close_ms, events)
        idx, marks, books, series = self._idx, self._marks, self._book, self._series
        bars = [(coin, series[coin], i) for coin, i in closing]
        for coin, s, i in bars:
            idx[coin] = i + 1
            book = books[coin]
            if book.orders and book.may_touch(s.low[i], s.high[i]):
                self._match_bar(coin, s.open[i], s.low[i], s.high[i], close_ms, events)
            marks[coin] = s.close[i]
        if not self._accounts:
            return
        self._check_liquidations(bars, close_ms, events)
        accounts = self._accounts.values()
        for coin, s, i in bars:
            rate = s.bar_funding[i]
            if rate is None:
                continue
            oracle = s.oracle[i] if s.oracle is not None else s.close[i]
            for acct in accounts:
                p = acct.positions.get(coin)
                if p is None or not p.szi:
                    continue
                got = acct.pay_funding(coin, oracle, rate)
                acct.funding.append(FundingPayment(close_ms, coin, got, p.szi, rate))
                events.append(VenueEvent("funding", close_ms, acct.address, coin, None, p.szi, oracle, got))

    def _fire_scheduled_cancels(self, t_ms: int, events: list[VenueEvent]) -> None:
        if self._next_scheduled is None or self._next_scheduled > t_ms:
            return
        for acct in self._accounts.values():
            if acct.schedule_cancel_ms is not None and acct.schedule_cancel_ms <= t_ms:
                for o in list(acct.orders.values()):
                    self._remove(acct, o, "scheduledCancel", acct.schedule_cancel_ms, events)  # type: ignore[arg-type]
                acct.schedule_cancel_ms = None
        self._reschedule()

    def _reschedule(self) -> None:
        due = [a.schedule_cancel_ms for a in self._accounts.values() if a.schedule_cancel_ms is not None]
        self._next_scheduled = min(due) if due else None

    # ------------------------------------------------------------------ bar matching

    def _match_bar(self, coin: str, open_px: Decimal, low: Decimal, high: Decimal, t: int,
                   events: list[VenueEvent]) -> None:
        for o in list(self._book[coin].orders.values()):
            if o.trigger_px is not None:
                hit = m.trigger_hit(o, open_px, low, high)
                if hit is None:
                    continue
                acct = self._accounts[o.address]
                events.append(VenueEvent("trigger", t, o.address, coin, o.oid, price=hit))
                o.trigger_px = None
                o.tif = Tif.GTC.value
                self._book[coin].changed()
                self._reserve(acct, o)
                if (o.is_buy and o.limit_px >= hit) or (not o.is_buy and o.limit_px <= hit):
                    px = m.taker_price(o.is_buy, hit, o.limit_px, self.slippage.bps)
                    self._fill_resting(acct, o, px, True, t, events)
                continue  # a triggered limit that is not marketable rests from the next bar on
            if (low <= o.limit_px) if o.is_buy else (high >= o.limit_px):
                self._fill_resting(self._accounts[o.address], o, o.limit_px, False, t, events)

    def _fill_resting(self, acct: Account, o: m.RestingOrder, px: Decimal, crossed: bool, t: int,
                      events: list[VenueEvent]) -> None:
        sz = o.sz
        pos = acct.szi(o.coin)
        if o.reduce_only:
            if pos == 0 or (pos > 0) == o.is_buy:
                self._remove(acct, o, "reduceOnlyCanceled", t, events)
                return
            sz = min(sz, abs(pos))
        elif not self._margin_ok(acct, o.coin, o.is_buy, sz, px, exclude=o):
            self._remove(acct, o, "marginCanceled", t, events)
            return
        self._fill(acct, o.coin, o.is_buy, sz, px, crossed, t, o.oid, o.cloid, events)
        self._remove(acct, o, "filled", t, None)

    def _remove(self, acct: Account, o: m.RestingOrder, status: str, t: int, events: list[VenueEvent] | None) -> None:
        if acct.orders.pop(o.oid, None) is not None:
            self._book[o.coin].remove(o)
            if o.reserved:
                acct.reserved[o.coin] -= o.reserved
                o.reserved = ZERO
        self._status[o.oid] = (o.snapshot(), status, t)
        if events is not None:
            events.append(VenueEvent("cancel", t, acct.address, o.coin, o.oid, note=status))

    def _fill(self, acct: Account, coin: str, is_buy: bool, sz: Decimal, px: Decimal, crossed: bool, t: int,
              oid: int, cloid: str | None, events: list[VenueEvent] | None, liquidation: bool = False) -> None:
        fee = usdc(sz * px * (self._taker if crossed else self._maker))
        closed, start, direction = acct.apply_fill(coin, is_buy, sz, px, fee)
        tid = self._next_tid
        self._next_tid += 1
        acct.fills.append(FillRecord(coin, is_buy, px, sz, fee, t, oid, cloid, closed, direction, crossed, start,
                                     tid, liquidation))
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

    def _open_order_margin(self, acct: Account, exclude: m.RestingOrder | None = None) -> Decimal:
        total = ZERO
        for coin, notional in acct.reserved.items():
            if exclude is not None and exclude.coin == coin:
                notional -= exclude.reserved
            if notional:
                total += notional / acct.lev(coin, self._default_lev)
        return total

    def _margin_ok(self, acct: Account, coin: str, is_buy: bool, sz: Decimal, px: Decimal,
                   exclude: m.RestingOrder | None = None) -> bool:
        old = acct.szi(coin)
        new = old + sz if is_buy else old - sz
        if not m.increases_exposure(old, new):
            return True
        marks, lev = self._marks, acct.lev
        need = abs(new) * px / lev(coin, self._default_lev) + sz * px * self.fees.taker
        value = acct.cash
        for c, p in acct.positions.items():
            szi = p.szi
            if szi:
                mark = marks[c]
                value += szi * (mark - p.entry)
                if c != coin:
                    need += abs(szi) * mark / lev(c, self._default_lev)
        if acct.reserved:
            need += self._open_order_margin(acct, exclude)
        return need <= value

    def _check_liquidations(self, bars: list, t: int, events: list[VenueEvent]) -> None:
        bar_of = {coin: (s, i) for coin, s, i in bars}
        marks, maint_frac = self._marks, self._maint_frac
        for acct in self._accounts.values():
            if not acct.positions:
                continue
            value = acct.cash
            maint = ZERO
            worst: dict[str, Decimal] = {}
            for coin, p in acct.positions.items():
                szi = p.szi
                if not szi:
                    continue
                got = bar_of.get(coin)
                if got is None:
                    px = marks[coin]
                else:
                    px = got[0].low[got[1]] if szi > 0 else got[0].high[got[1]]
                worst[coin] = px
                value += szi * (px - p.entry)
                maint += abs(szi) * px * maint_frac[coin]
            if worst and value < maint:
                self._liquidate(acct, worst, t, events)

    def _liquidate(self, acct: Account, prices: dict[str, Decimal], t: int, events: list[VenueEvent]) -> None:
        """Close every position at the bar's adverse extreme (a conservative stand-in for the
        venue's liquidation engine), cancel every order, and absorb any negative balance."""
        for o in list(acct.orders.values()):
            self._remove(acct, o, "liquidatedCanceled", t, events)  # type: ignore[arg-type]
        for coin, px in prices.items():
            szi = acct.szi(coin)
            oid = self._new_oid()
            self._fill(acct, coin, szi < 0, abs(szi), px, True, t, oid, None, events, liquidation=True)
        if acct.cash < 0:
            acct.bad_debt += -acct.cash
            acct.cash = ZERO

    # ------------------------------------------------------------------ info side

    def mids(self) -> dict[str, Decimal]:
        return dict(self._marks)

    def _touch(self, coin: str, is_buy: bool) -> Decimal:
        """The best ask (for a buy) or best bid (for a sell) of the synthetic book at the
        current mark, cached per side until the mark moves."""
        mark = self._marks[coin]
        got = self._bbo.get(coin)
        if got is None or got[0] != mark:
            got = self._bbo[coin] = [mark, None, None]
        k = 2 if is_buy else 1
        px = got[k]
        if px is None:
            px = got[k] = m.touch_price(mark, self.specs[coin], self.slippage.spread_bps, is_buy)
        return px

    def _bbo_of(self, coin: str) -> tuple[Decimal, Decimal]:
        return self._touch(coin, False), self._touch(coin, True)

    def asset_contexts(self) -> dict[str, AssetContext]:
        if self._ctx_cache is not None and self._ctx_cache[0] == self.now_ms:
            return self._ctx_cache[1]
        out: dict[str, AssetContext] = {}
        for coin, s in self._series.items():
            n = self._idx[coin]
            i = max(n - 1, 0)
            mark = self._marks[coin]
            oracle = s.oracle_px(i) if n else mark
            j = s.funding_count(self.now_ms) - 1
            rate = s.funding_rate[j] if j >= 0 else ZERO
            prem = s.funding_premium[j] if j >= 0 and s.funding_premium is not None else None
            per_day = max(1, 24 * HOUR_MS // s.interval_ms)
            day = range(max(0, n - per_day), n)
            out[coin] = AssetContext(
                coin=coin, mark_price=mark, oracle_price=oracle, mid_price=mark, funding=rate,
                open_interest=s.open_interest[i] if s.open_interest is not None and n else ZERO,
                premium=prem if prem is not None else (mark - oracle) / oracle,
                day_volume=sum((s.volume[k] * s.close[k] for k in day), ZERO),
                prev_day_price=s.close[n - per_day - 1] if n > per_day else s.open[0],
            )
        self._ctx_cache = (self.now_ms, out)
        return out

    def l2_book(self, coin: str, levels: int = 20) -> L2Book:
        """A synthetic book: the spread around the mid, then levels one spread apart, sized
        from the last bar's volume (about 1/40 of it at the touch, growing outward)."""
        spec = self.specs[coin]
        s = self._series[coin]
        bid, ask = self._bbo_of(coin)
        mid = self._marks[coin]
        n = self._idx[coin]
        vol = s.volume[n - 1] if n else ZERO
        base = max(vol / 40, m.MIN_NOTIONAL / mid)
        step = max(ask - bid, mid * self.slippage.spread_bps / m.BPS)
        one = Decimal(1).scaleb(-spec.sz_decimals)
        bids, asks = [], []
        for k in range(levels):
            size = max(round_size(base * (1 + Decimal(k) / 4), spec.sz_decimals), one)
            bp, ap = bid - step * k, ask + step * k
            if bp > 0:
                bids.append(BookLevel(price=round_price(bp, spec.sz_decimals, spec.market_type, ROUND_DOWN),
                                      size=size, orders=1 + k % 3))
            asks.append(BookLevel(price=round_price(ap, spec.sz_decimals, spec.market_type, ROUND_UP),
                                  size=size, orders=1 + k % 3))
        return L2Book(coin=coin, time_ms=self.now_ms, bids=tuple(bids), asks=tuple(asks))

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """Candles with open time in [start_ms, end_ms], only those closed at or before now.
        Coarser intervals than the feed's are aggregated from whole UTC-aligned buckets."""
        s = self._series[coin]
        iv = interval_ms(interval)
        n = self._idx[coin]
        if iv < s.interval_ms:
            raise ValueError(f"interval {interval} is finer than the data's {s.interval_ms // 60000}m bars")
        if iv == s.interval_ms:
            lo, hi = bisect_left(s.t, start_ms), min(bisect_right(s.t, end_ms), n)
            return [s.candle(i) for i in range(lo, hi)]
        if n == 0:
            return []
        last_close = s.close_t[n - 1]
        first = start_ms - start_ms % iv
        lo = bisect_left(s.t, first)
        out: list[Candle] = []
        i = lo
        while i < n:
            b = s.t[i] - s.t[i] % iv
            if b > end_ms or b + iv > last_close:
                break
            j = i
            o, hi_px, lo_px, vol = s.open[i], s.high[i], s.low[i], ZERO
            while j < n and s.t[j] < b + iv:
                hi_px, lo_px, vol = max(hi_px, s.high[j]), min(lo_px, s.low[j]), vol + s.volume[j]
                j += 1
            if b >= start_ms:
                out.append(Candle.model_construct(t_ms=b, open=o, high=hi_px, low=lo_px, close=s.close[j - 1],
                                                  volume=vol))
            i = j
        return out

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingPoint]:
        s = self._series[coin]
        stop = self.now_ms if end_ms is None else min(end_ms, self.now_ms)
        lo, hi = bisect_left(s.funding_t, start_ms), bisect_right(s.funding_t, stop)
        return [s.funding_point(j) for j in range(lo, hi)]

    def margin_summary(self, address: str) -> MarginSummary:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return MarginSummary(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)
        marks = self._marks
        used = acct.margin_used(marks, self._default_lev)
        ntl = sum((abs(p.szi) * marks[c] for c, p in acct.positions.items()), ZERO)
        raw = acct.cash - sum((p.szi * p.entry for p in acct.positions.values()), ZERO)
        value = acct.account_value(marks)
        withdrawable = max(ZERO, value - max(used, _TENTH * ntl) - self._open_order_margin(acct))
        return MarginSummary(value, used, ntl, raw, maintenance_margin(acct, marks, self.specs), withdrawable)

    def account_state(self, address: str) -> AccountState:
        acct = self._accounts.get(address.lower())
        withdrawable = self.margin_summary(address).withdrawable if acct else ZERO
        return to_account_state(acct, self._marks, self.specs, self._default_lev, withdrawable, self.now_ms)

    def spot_balances(self, address: str) -> list[SpotBalance]:
        acct = self._accounts.get(address.lower())
        return [] if acct is None else [SpotBalance(coin="USDC", total=acct.spot_usdc)]

    def open_orders(self, address: str) -> list[OpenOrder]:
        acct = self._accounts.get(address.lower())
        return [] if acct is None else [_open_order(o.snapshot()) for o in acct.orders.values()]  # type: ignore[attr-defined]

    def fills(self, address: str, start_ms: int | None = None) -> list[Fill]:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return []
        cache = acct.fills_cache
        for r in acct.fills[len(cache):]:
            cache.append(Fill(coin=r.coin, side=Side.BUY if r.is_buy else Side.SELL, price=r.px, size=r.sz, fee=r.fee,
                              time_ms=r.time_ms, oid=r.oid, cloid=r.cloid, closed_pnl=r.closed_pnl,
                              direction=r.direction, crossed=r.crossed, start_position=r.start_position, tid=r.tid))
        return list(cache) if start_ms is None else [f for f in cache if f.time_ms >= start_ms]

    def user_funding(self, address: str, start_ms: int = 0, end_ms: int | None = None) -> list[FundingPayment]:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return []
        return [p for p in acct.funding if p.time_ms >= start_ms and (end_ms is None or p.time_ms <= end_ms)]

    def order_status(self, address: str, oid: int | None = None, cloid: str | None = None) -> OrderStatusInfo | None:
        a = address.lower()
        if oid is None and cloid is not None:
            oid = self._cloids.get((a, cloid.lower()))
        if oid is None:
            return None
        got = self._status.get(oid)
        if got is None or got[0][0] != a:
            return None
        snap, status, t = got
        live = self._accounts[a].orders.get(oid) if status == "open" else None
        return OrderStatusInfo(order=_open_order(live.snapshot() if live else snap),  # type: ignore[union-attr]
                               status=status, status_time_ms=t)

    # ------------------------------------------------------------------ exchange side

    def _new_oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def place_orders(self, address: str, requests: Sequence[OrderRequest]) -> list[OrderOutcome]:
        """One outcome per request, in order: Resting, Filled, or Rejected with the venue's error."""
        acct = self._account(address)
        return [self._place(acct, r) for r in requests]

    def _place(self, acct: Account, r: OrderRequest) -> OrderOutcome:
        spec = self.specs.get(r.coin)
        if spec is None:
            return _value(Rejected, {"status": "error", "error": f"Unknown asset {r.coin}."})
        ot = r.order_type
        oid = self._next_oid
        self._next_oid = oid + 1
        cloid = r.cloid.lower() if r.cloid else None
        if type(ot) is LimitType:
            o = m.RestingOrder(oid, acct.address, r.coin, r.is_buy, r.limit_px, r.sz, r.reduce_only,
                               ot.tif.value, None, False, None, cloid, self.now_ms)
        else:
            o = m.RestingOrder(oid, acct.address, r.coin, r.is_buy, r.limit_px, r.sz, r.reduce_only,
                               None, ot.trigger_px, ot.is_market, ot.tpsl, cloid, self.now_ms)  # type: ignore[union-attr]
        err, outcome = self._try_place(acct, o, spec)
        if err is not None:
            self._status[oid] = (o.snapshot(), reject_status(err), self.now_ms)
            if o.cloid:
                self._cloids[(acct.address, o.cloid)] = oid
            return _value(Rejected, {"status": "error", "error": err})
        if o.cloid:
            self._cloids[(acct.address, o.cloid)] = oid
        return outcome  # type: ignore[return-value]

    def _try_place(self, acct: Account, o: m.RestingOrder, spec: AssetSpec) -> tuple[str | None, OrderOutcome | None]:
        mark = self._marks[o.coin]
        err = m.static_error(o.limit_px, o.sz, o.trigger_px, spec, mark)
        if err:
            return err, None
        pos = acct.szi(o.coin)
        if o.reduce_only and (pos == 0 or (pos > 0) == o.is_buy):
            return ERR_REDUCE_ONLY, None
        closes_all = o.reduce_only and o.sz >= abs(pos)
        if not closes_all and o.sz * o.limit_px < m.MIN_NOTIONAL:
            return err_min_value(spec.asset_id), None
        if o.tpsl is not None:
            err = m.trigger_error(o.is_buy, o.tpsl, o.trigger_px, mark)  # type: ignore[arg-type]
            if err:
                return err, None
            return None, self._rest(acct, o)
        touch = self._touch(o.coin, o.is_buy)
        crosses = o.limit_px >= touch if o.is_buy else o.limit_px <= touch
        if o.tif == "Alo" and crosses:
            return err_alo(*self._bbo_of(o.coin)), None
        if o.tif == "Ioc" and not crosses:
            return err_ioc(spec.asset_id), None
        sz = min(o.sz, abs(pos)) if o.reduce_only else o.sz
        if crosses:
            px = m.taker_price(o.is_buy, touch, o.limit_px, self.slippage.bps)
            if not o.reduce_only and not self._margin_ok(acct, o.coin, o.is_buy, sz, px):
                return err_margin(spec.asset_id), None
            self._fill(acct, o.coin, o.is_buy, sz, px, True, self.now_ms, o.oid, o.cloid, None)
            self._status[o.oid] = (o.snapshot(), "filled", self.now_ms)
            return None, _value(Filled, {"status": "filled", "oid": o.oid, "total_size": sz, "avg_price": px,
                                         "cloid": o.cloid})
        if not o.reduce_only and not self._margin_ok(acct, o.coin, o.is_buy, sz, o.limit_px):
            return err_margin(spec.asset_id), None
        return None, self._rest(acct, o)

    def _rest(self, acct: Account, o: m.RestingOrder) -> OrderOutcome:
        acct.orders[o.oid] = o
        self._book[o.coin].add(o)
        self._reserve(acct, o)
        self._status[o.oid] = (o.snapshot(), "open", self.now_ms)
        return _value(Resting, {"status": "resting", "oid": o.oid, "cloid": o.cloid})

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

    def update_leverage(self, address: str, coin: str, leverage: int, is_cross: bool = True) -> str | None:
        """Set the coin's leverage (an integer 1..maxLeverage). Isolated is recorded but
        margined as cross."""
        acct = self._account(address)
        spec = self.specs.get(coin)
        if spec is None:
            return f"Unknown asset {coin}."
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= spec.max_leverage:
            return ERR_LEVERAGE
        acct.leverage[coin] = (leverage, is_cross)
        return None

    def usd_class_transfer(self, address: str, amount: Decimal, to_perp: bool) -> str | None:
        """Move USDC between the spot and perp wallets; out of perp only what is withdrawable."""
        acct = self._account(address)
        amount = Decimal(amount)
        if amount <= 0:
            return "Transfer amount must be positive."
        if to_perp:
            if amount > acct.spot_usdc:
                return "Insufficient balance for transfer."
            acct.spot_usdc -= amount
            acct.cash += amount
            return None
        if amount > self.margin_summary(address).withdrawable:
            return "Insufficient balance for transfer."
        acct.cash -= amount
        acct.spot_usdc += amount
        return None

    def schedule_cancel(self, address: str, time_ms: int | None) -> str | None:
        """Dead-man switch: cancel every open order at `time_ms` (None clears it)."""
        self._account(address).schedule_cancel_ms = time_ms
        self._reschedule()
        return None


def _open_order(snap: tuple) -> OpenOrder:
    """The domain OpenOrder for a `RestingOrder.snapshot()`."""
    _, coin, is_buy, px, sz, orig, oid, cloid, ts, ro, order_type, tif, trigger_px, is_trigger = snap
    return OpenOrder(coin=coin, side=Side.BUY if is_buy else Side.SELL, limit_price=px, size=sz, orig_size=orig,
                     oid=oid, cloid=cloid, timestamp_ms=ts, reduce_only=ro, order_type=order_type, tif=tif,
                     trigger_price=trigger_px, is_trigger=is_trigger)


def _value(cls: type, fields: dict) -> Any:
    """A domain value built from fields the model already guarantees (all of them given, all
    typed): what pydantic's `model_construct` does, at half its cost in the hot path."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
