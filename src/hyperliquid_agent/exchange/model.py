"""`VenueModel`: the simulated Hyperliquid venue, pure and deterministic.

It replays a `MarketFeed` bar by bar. Time moves only through `advance_to(t_ms)`; a bar
counts once its close time (open + interval) is at or before `now_ms`. Between closes the
mark, mid and oracle are the last closed bar's close (oracle from the feed when recorded).

Crossing a bar, in order: scheduled cancels due by its close fire; resting limits fill at
their price (maker) when the bar's range touches them; triggers fire at their price (or
the open when the bar gapped through) and fill as takers, in the order the path worse for
the account's position reaches them (`matching.path_rank`); then the account is checked for
liquidation at the bar's adverse extreme; then the hourly funding settled at the close is
paid on the oracle price.

Orders placed now fill against the synthetic book around the current mid; per-order
errors are Hyperliquid's own strings (see `venue_types`). Same feed and same calls give
identical results: nothing here reads a clock, a file or randomness.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import attrgetter
from decimal import Decimal
from typing import Mapping

from hyperliquid_agent.domain import (
    AccountState,
    AssetContext,
    AssetSpec,
    BookView,
    Candle,
    Fill,
    FundingPoint,
    L2Book,
    OpenOrder,
    Side,
    SpotBalance,
    Tif,
)
from hyperliquid_agent.errors import VenueAuthError
from hyperliquid_agent.exchange import market_data as md
from hyperliquid_agent.exchange import matching as m
from hyperliquid_agent.exchange.accounts import (
    ZERO,
    Account,
    FillRecord,
    clear_of_liquidation,
    liquidation_prices,
    margin_summary,
    to_account_state,
)
from hyperliquid_agent.exchange import spot
from hyperliquid_agent.exchange.feed import CoinSeries, MarketFeed
from hyperliquid_agent.exchange.order_entry import OrderEntry
from hyperliquid_agent.exchange.spot import SpotPair, spot_pairs
from hyperliquid_agent.exchange.venue_types import (
    ERR_LEVERAGE,
    ERR_LEVERAGE_TYPE,
    AccountTotals,
    FeeSchedule,
    FundingPayment,
    MarginSummary,
    OrderStatusInfo,
    SlippageModel,
    VenueEvent,
    err_decrease_leverage,
)

DEFAULT_LEVERAGE = 20
_fill_time = attrgetter("time_ms")


class VenueModel(OrderEntry):
    def __init__(self, feed: MarketFeed, fees: FeeSchedule | None = None, slippage: SlippageModel | None = None,
                 start_ms: int | None = None, default_leverage: int = DEFAULT_LEVERAGE,
                 spot_tokens: Mapping[str, str] | None = None) -> None:
        """`spot_tokens` lists spot tokens and the feed coin whose bars price each, e.g.
        {"UBTC": "BTC"}: pairs "@1", "@2", ... quoted in USDC (see `spot.py`)."""
        # 29 instance attributes, the most CPython 3.11 keeps in a key-sharing instance dict: a 30th
        # makes every self.x and self.method() in the hot paths a slower lookup (measured +4 % on
        # the bench). Fold a new one into an existing per-coin dict or per-account slot instead.
        self.feed = feed
        self.fees = fees or FeeSchedule()
        self.slippage = slippage or SlippageModel()
        self._taker, self._maker = self.fees.taker, self.fees.maker
        self.specs: dict[str, AssetSpec] = feed.specs
        self._series = feed.series
        self.spot: list[SpotPair] = spot_pairs(spot_tokens or {}, feed.specs)
        self._spot_base = {p.name: p.token for p in self.spot}  # pair name -> base token
        if self.spot:  # the feed's own dicts stay untouched
            self.specs = {**feed.specs, **{p.name: p.spec for p in self.spot}}
            self._series = {**feed.series, **{p.name: feed.series[p.coin] for p in self.spot}}
        self._rules = {c: m.AssetRules(s) for c, s in self.specs.items()}
        self._touch_factors = m.touch_factors(self.slippage.spread_bps)
        flat = not self.slippage.impact_bps_per_million_usd  # then every taker moves the same bps
        self._flat_slippage = (m.away_factor(False, self.slippage.bps), m.away_factor(True, self.slippage.bps)) \
            if flat else None
        self._default_lev = {c: min(default_leverage, s.max_leverage) for c, s in self.specs.items()}
        # the same as Decimals, for the margin check's divisions (dividing by an int converts it each time)
        self._default_lev_dec = {c: Decimal(v) for c, v in self._default_lev.items()}
        # maintenance margin per unit of notional: half the initial margin at max leverage
        self._maint_frac = {c: Decimal(1) / (2 * s.max_leverage) for c, s in self.specs.items()}
        self.now_ms = feed.timeline[0] if start_ms is None else start_ms
        self._idx = {c: s.closed_count(self.now_ms) for c, s in self._series.items()}
        self._tl_pos = bisect_right(feed.timeline, self.now_ms)  # next bar close to cross
        # the bars closing at each timeline step: ((coin, bar index), ...). Plain tuples of plain
        # values, which the garbage collector stops tracking: a full collection skips them.
        closing: dict[int, list] = {}
        for coin, s in self._series.items():
            for i, c in enumerate(s.close_t):
                closing.setdefault(c, []).append((coin, i))
        self._closing = [tuple(closing[c]) for c in feed.timeline]
        self._marks = {c: self._mark_at(c) for c in self._series}
        self._accounts: dict[str, Account] = {}
        self._book: dict[str, m.CoinBook] = {c: m.CoinBook() for c in self._series}
        self._status: dict[int, tuple] = {}  # oid -> RestingOrder.record(status, time_ms), or a matching.taken_record
        self._cloids: dict[tuple[str, str], int] = {}  # (address, cloid) -> oid
        self._touches: tuple[dict, dict] = ({}, {})  # [is_buy][coin] -> (mark, best bid / best ask at it)
        self._ctx_cache: tuple[int, dict[str, AssetContext]] | None = None
        self._next_oid = 1
        self._next_tid = 1
        self._next_scheduled: int | None = None  # the earliest schedule_cancel deadline

    def _mark_at(self, coin: str) -> Decimal:
        s, i = self._series[coin], self._idx[coin]
        return s.close[i - 1] if i > 0 else s.open[0]

    # ------------------------------------------------------------------ accounts (orders: see OrderEntry)

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

    def advance_to(self, t_ms: int, report: bool = False) -> list[VenueEvent] | None:
        """Move the clock to `t_ms`, crossing every bar that closes on the way. With `report`, returns
        what happened on the way (fills, funding, liquidations, cancels, triggers) as events; without
        it none are built (an event per position per hour that nobody reads) and it returns None:
        the fills, funding payments and order statuses are recorded either way."""
        if t_ms < self.now_ms:
            raise ValueError(f"time only moves forward: {t_ms} < now {self.now_ms}")
        events: list[VenueEvent] | None = [] if report else None
        tl = self.feed.timeline
        k = self._tl_pos
        while k < len(tl) and tl[k] <= t_ms:
            self._step(tl[k], self._closing[k], events)
            k += 1
        self._tl_pos = k
        self.now_ms = t_ms
        if self._next_scheduled is not None:
            self._fire_scheduled_cancels(t_ms, events)
        self._ctx_cache = None
        return events

    def _step(self, close_ms: int, bars: tuple, events: list[VenueEvent] | None) -> None:
        self.now_ms = close_ms
        if self._next_scheduled is not None:
            self._fire_scheduled_cancels(close_ms, events)
        idx, marks, books, series = self._idx, self._marks, self._book, self._series
        ranges = {}  # coin -> (low, high) of its bar
        for coin, i in bars:
            s = series[coin]
            idx[coin] = i + 1
            low, high = ranges[coin] = s.low[i], s.high[i]
            book = books[coin]
            if book.orders and book.may_touch(low, high):
                self._match_bar(coin, s.open[i], low, high, close_ms, events)
            marks[coin] = s.close[i]
        if not self._accounts:
            return
        self._check_liquidations(ranges, close_ms, events)
        accounts = self._accounts.values()
        spot_base = self._spot_base
        for coin, i in bars:
            s = series[coin]
            rate = s.bar_funding[i]
            if rate is None or coin in spot_base:
                continue
            oracle = s.oracle[i] if s.oracle is not None else s.close[i]
            for acct in accounts:
                p = acct.positions.get(coin)
                if p is not None and p.szi:
                    got = acct.pay_funding(p, coin, oracle, rate, close_ms)
                    if events is not None:
                        events.append(VenueEvent("funding", close_ms, acct.address, coin, None, p.szi, oracle, got))

    def _fire_scheduled_cancels(self, t_ms: int, events: list[VenueEvent] | None) -> None:
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
                   events: list[VenueEvent] | None) -> None:
        orders = list(self._book[coin].orders.values())
        if len(orders) > 1:  # which is reached first inside the bar: the path worse for the position
            orders.sort(key=lambda o: m.path_rank(o, self._accounts[o.address].szi(coin), open_px, low, high))
        for o in orders:
            if o.trigger_px is not None:
                hit = m.trigger_hit(o, open_px, low, high)
                if hit is None:
                    continue
                acct = self._accounts[o.address]
                if events is not None:
                    events.append(VenueEvent("trigger", t, o.address, coin, o.oid, price=hit))
                o.trigger_px = None
                o.tif = Tif.GTC.value
                self._book[coin].changed()
                self._reserve(acct, o)
                # the order it becomes meets the book around the price that fired it (its bid or
                # ask, half the spread away), as a market order meets the book around the mark
                touch = m.touch_price(hit, self._rules[coin], self._touch_factors[o.is_buy], o.is_buy)
                if (o.is_buy and o.limit_px >= touch) or (not o.is_buy and o.limit_px <= touch):
                    px = self._taker_price(o.is_buy, touch, o.limit_px, o.sz)
                    self._fill_resting(acct, o, px, True, t, events)
                continue  # a triggered limit that is not marketable rests from the next bar on
            if (low <= o.limit_px) if o.is_buy else (high >= o.limit_px):
                self._fill_resting(self._accounts[o.address], o, o.limit_px, False, t, events)

    def _check_liquidations(self, ranges: dict[str, tuple[Decimal, Decimal]], t: int,
                            events: list[VenueEvent] | None) -> None:
        """Liquidate the accounts below maintenance at their bars' adverse extremes. Each account's
        exposure bound, worked out at the old marks, is dropped, or replaced by the check's own
        when that plainly clears the account (the bound also serves the margin check: see there)."""
        marks = self._marks
        for acct in self._accounts.values():
            if not acct.positions:
                acct.exposure = None
                continue
            bound = acct.exposure = clear_of_liquidation(acct, ranges, marks)
            if bound is None:
                worst = liquidation_prices(acct, ranges, marks, self._maint_frac)
                if worst:
                    self._liquidate(acct, worst, t, events)

    def _liquidate(self, acct: Account, prices: dict[str, Decimal], t: int, events: list[VenueEvent] | None) -> None:
        """Close every position at the bar's adverse extreme (a conservative stand-in for the
        venue's liquidation engine), cancel every order, and absorb any negative balance."""
        for o in list(acct.orders.values()):
            self._remove(acct, o, "liquidatedCanceled", t, events)  # type: ignore[arg-type]
        for coin, px in prices.items():
            szi = acct.szi(coin)
            oid = self._new_oid()
            self._fill(acct, coin, szi < 0, abs(szi), px, True, t, oid, None, events, liquidation=True)
        acct.liquidations += 1
        if acct.cash < 0:
            acct.bad_debt += -acct.cash
            acct.cash = ZERO

    # ------------------------------------------------------------------ info side

    def mids(self) -> dict[str, Decimal]:
        return dict(self._marks)

    def asset_contexts(self) -> dict[str, AssetContext]:
        if self._ctx_cache is not None and self._ctx_cache[0] == self.now_ms:
            return self._ctx_cache[1]
        out = {coin: md.asset_context(s, self._idx[coin], self._marks[coin], self.now_ms)
               for coin, s in self._series.items()}
        self._ctx_cache = (self.now_ms, out)
        return out

    def _coin_series(self, coin: str) -> CoinSeries:
        s = self._series.get(coin)
        if s is None:
            raise ValueError(f"unknown coin {coin!r}; this venue lists {', '.join(self._series)}")
        return s

    def l2_book(self, coin: str, levels: int = 20) -> L2Book:
        s = self._coin_series(coin)
        bid, ask = self._bbo_of(coin)
        return md.synthetic_book(s, self._idx[coin], self._marks[coin], bid, ask,
                                 self.slippage.spread_bps, self.now_ms, levels)

    def book_view(self, coin: str, levels: int = 20) -> BookView:
        """`l2_book(coin, levels).view()`, made without the Decimals behind the touch."""
        s = self._coin_series(coin)
        bid, ask = self._bbo_of(coin)
        return md.synthetic_book_view(s, self._idx[coin], self._marks[coin], bid, ask,
                                      self.slippage.spread_bps, self.now_ms, levels)

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """Candles with open time in [start_ms, end_ms], only those closed at or before now.
        Coarser intervals than the feed's are aggregated from whole UTC-aligned buckets."""
        return md.closed_candles(self._coin_series(coin), self._idx[coin], interval, start_ms, end_ms)

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingPoint]:
        """Funding records in [start_ms, end_ms], none after now."""
        stop = self.now_ms if end_ms is None else min(end_ms, self.now_ms)
        return md.funding_records(self._coin_series(coin), start_ms, stop)

    def margin_summary(self, address: str) -> MarginSummary:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return MarginSummary(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)
        return margin_summary(acct, self._marks, self.specs, self._default_lev, self._open_order_margin(acct))

    def account_state(self, address: str) -> AccountState:
        acct = self._accounts.get(address.lower())
        summary = self.margin_summary(address)
        balances = prices = None
        if acct is not None and self.spot:  # tokens and holds too, as spotClearinghouseState shows them
            balances = spot.balances(acct, self.spot)
            prices = {p.token: self._marks[p.name] for p in self.spot}  # the pair's mid, as allMids shows it
        return to_account_state(acct, self._marks, self.specs, self._default_lev, summary, self.now_ms,
                                balances, prices)

    def spot_balances(self, address: str) -> list[SpotBalance]:
        acct = self._accounts.get(address.lower())
        return [] if acct is None else spot.balances(acct, self.spot)

    def open_orders(self, address: str) -> list[OpenOrder]:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return []
        return [m.open_order(o.record("open", self.now_ms)) for o in acct.orders.values()]  # type: ignore[attr-defined]

    def fills(self, address: str, start_ms: int | None = None) -> list[Fill]:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return []
        cache = acct.fills_cache
        for r in map(FillRecord._make, acct.fills[len(cache):]):
            cache.append(Fill(coin=r.coin, side=Side.BUY if r.is_buy else Side.SELL, price=r.px, size=r.sz, fee=r.fee,
                              time_ms=r.time_ms, oid=r.oid, cloid=r.cloid, closed_pnl=r.closed_pnl,
                              direction=r.direction, crossed=r.crossed, start_position=r.start_position, tid=r.tid,
                              liquidation=r.liquidation))
        # fills are made in time order (the clock only moves forward): the recent ones are a tail
        return list(cache) if start_ms is None else cache[bisect_left(cache, start_ms, key=_fill_time):]

    def totals(self, address: str) -> AccountTotals:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return AccountTotals(ZERO, ZERO, ZERO, ZERO, 0)
        # summed from the fills and funding payments when asked, in the order they happened (the
        # same sums a running total would give), rather than kept up to date on every fill and hour
        fills = list(map(FillRecord._make, acct.fills))
        realized = sum((f.closed_pnl for f in fills if f.coin not in self._spot_base), ZERO)  # spot closes none
        fees = sum((f.fee for f in fills), ZERO)
        funding_paid = sum((-p[2] for p in acct.funding), ZERO)  # p[2]: the USDC received
        return AccountTotals(realized, fees, funding_paid, acct.bad_debt, acct.liquidations)

    def user_funding(self, address: str, start_ms: int = 0, end_ms: int | None = None) -> list[FundingPayment]:
        acct = self._accounts.get(address.lower())
        if acct is None:
            return []
        return [FundingPayment._make(p) for p in acct.funding
                if p[0] >= start_ms and (end_ms is None or p[0] <= end_ms)]  # p[0]: its time_ms

    def order_status(self, address: str, oid: int | None = None, cloid: str | None = None) -> OrderStatusInfo | None:
        a = address.lower()
        if oid is None and cloid is not None:
            oid = self._cloids.get((a, cloid.lower()))
        if oid is None:
            return None
        record = self._status.get(oid)
        if record is None or record[0] != a:  # (the record starts with the address)
            return None
        record = m.full_record(record)
        status, t = record[-2:]
        live = self._accounts[a].orders.get(oid) if status == "open" else None
        return OrderStatusInfo(order=m.open_order(live.record(status, t) if live else record),  # type: ignore[union-attr]
                               status=status, status_time_ms=t)

    def update_leverage(self, address: str, coin: str, leverage: int, is_cross: bool = True) -> str | None:
        """Set the coin's leverage (an integer 1..maxLeverage). Isolated is recorded but
        margined as cross. With a position open in the coin, as on the venue, the margin mode
        cannot change and a lower leverage must leave the account able to hold the margin."""
        acct = self._account(address)
        spec = self.specs.get(coin)
        if spec is None:
            return f"Unknown asset {coin}."
        if coin in self._spot_base:  # spot has no leverage
            return "Invalid asset."
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= spec.max_leverage:
            return ERR_LEVERAGE
        before = acct.leverage.get(coin)
        position = acct.positions.get(coin)
        held = position is not None and position.szi != 0
        if held and is_cross != acct.is_cross(coin):  # the venue's rules with a position open
            return ERR_LEVERAGE_TYPE
        lower = held and leverage < acct.lev(coin, self._default_lev)
        self._set_leverage(acct, coin, (leverage, is_cross))
        if lower:  # the margin at the new leverage (and what resting orders hold) must fit the account
            ms = self.margin_summary(address)
            if ms.total_margin_used + self._open_order_margin(acct) > ms.account_value:
                self._set_leverage(acct, coin, before)
                return err_decrease_leverage(is_cross)
        return None

    @staticmethod
    def _set_leverage(acct: Account, coin: str, setting: tuple[int, bool] | None) -> None:
        if setting is None:
            acct.leverage.pop(coin, None)
        else:
            acct.leverage[coin] = setting
        acct.order_margin = None  # held at the new leverage
        acct.exposure = None  # so are the positions' margins

    def usd_class_transfer(self, address: str, amount: Decimal, to_perp: bool) -> str | None:
        """Move USDC between the spot and perp wallets; out of perp only what is withdrawable."""
        acct = self._account(address)
        amount = Decimal(amount)
        if amount <= 0:
            return "Transfer amount must be positive."
        if to_perp:
            if amount > acct.spot_usdc - spot.holds(acct, self._spot_base).get(spot.USDC, ZERO):
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
