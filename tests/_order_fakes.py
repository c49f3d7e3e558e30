"""A small in-memory ExchangePort for the risk/portfolio/executor tests.

It follows the venue rules that matter here (size and price precision, $10 minimum,
reduce-only, margin, IOC with no liquidity, per-order errors) and records every call,
so tests can assert on what reached the port.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from hyperliquid_agent.domain import (
    AccountState,
    AssetSpec,
    BookView,
    Fill,
    Filled,
    L2Book,
    MarketSnapshot,
    MarketType,
    OpenOrder,
    Position,
    Rejected,
    Resting,
    Side,
    SpotBalance,
    Tif,
    is_valid_price,
    is_valid_size,
)
from hyperliquid_agent.domain.verdicts import ApprovedOrder, require_approved
from hyperliquid_agent.errors import VenueUnavailableError

FEE = Decimal("0.00045")

SPECS = {
    "BTC": AssetSpec(name="BTC", asset_id=0, sz_decimals=5, max_leverage=40),
    "ETH": AssetSpec(name="ETH", asset_id=1, sz_decimals=4, max_leverage=25),
    "SOL": AssetSpec(name="SOL", asset_id=2, sz_decimals=2, max_leverage=20),
    "PURR": AssetSpec(name="PURR", asset_id=10000, sz_decimals=0, max_leverage=1, market_type=MarketType.SPOT),
}
MIDS = {"BTC": Decimal("60000"), "ETH": Decimal("3000"), "SOL": Decimal("150"), "PURR": Decimal("0.2")}


class FakeExchange:
    def __init__(self, cash: Decimal = Decimal(10000), mids: dict[str, Decimal] | None = None,
                 spot_usdc: Decimal = Decimal(0)) -> None:
        self.cash = cash
        self.spot: dict[str, Decimal] = {"USDC": spot_usdc}
        self.mids = dict(mids or MIDS)
        self.positions: dict[str, tuple[Decimal, Decimal, int]] = {}  # coin -> (signed size, entry, leverage)
        self.leverage: dict[str, int] = {}
        self.placed: list[ApprovedOrder] = []
        self.calls: list[str] = []
        self.by_cloid: dict[str, str] = {}
        self.resting: list[OpenOrder] = []
        self.fill_log: list[Fill] = []
        self.no_liquidity: set[str] = set()
        self.fail_next_place = False
        self.now = 1_700_000_000_000
        self._oid = 100

    # ---- test helpers
    def set_position(self, coin: str, size: str, entry: str | None = None, leverage: int = 3) -> None:
        self.positions[coin] = (Decimal(size), Decimal(entry) if entry else self.mids[coin], leverage)

    # ---- reads
    def asset_specs(self) -> dict[str, AssetSpec]:
        return dict(SPECS)

    def market_snapshot(self) -> MarketSnapshot:
        return MarketSnapshot(time_ms=self.now, mids=dict(self.mids))

    def candles(self, coin, interval, start_ms, end_ms):  # pragma: no cover - not used here
        return []

    def funding_history(self, coin, start_ms, end_ms=None):  # pragma: no cover
        return []

    def l2_book(self, coin: str) -> L2Book:
        return L2Book(coin=coin, time_ms=self.now, bids=(), asks=())

    def book_view(self, coin: str) -> BookView:
        return self.l2_book(coin).view()

    def _upnl(self) -> Decimal:
        return sum(((self.mids[c] - e) * s for c, (s, e, _) in self.positions.items()), Decimal(0))

    def _margin(self) -> Decimal:
        return sum((abs(s) * self.mids[c] / lev for c, (s, e, lev) in self.positions.items()), Decimal(0))

    def account_state(self) -> AccountState:
        self.calls.append("account_state")
        pv = self.cash + self._upnl()
        positions = tuple(
            Position(coin=c, size=s, entry_price=e, leverage=lev, unrealized_pnl=(self.mids[c] - e) * s)
            for c, (s, e, lev) in self.positions.items() if s != 0
        )
        spot = tuple(SpotBalance(coin=c, total=t) for c, t in self.spot.items() if t)
        return AccountState(portfolio_value=pv, available_balance=pv - self._margin(), margin_used=self._margin(),
                            positions=positions, spot_balances=spot, timestamp_ms=self.now)

    def open_orders(self) -> list[OpenOrder]:
        return list(self.resting)

    def fills(self, start_ms: int | None = None) -> list[Fill]:
        return [f for f in self.fill_log if start_ms is None or f.time_ms >= start_ms]

    def order_status_by_cloid(self, cloid: str) -> str | None:
        self.calls.append("order_status_by_cloid")
        return self.by_cloid.get(cloid)

    # ---- writes
    def place_orders(self, orders: Sequence[ApprovedOrder]) -> list:
        orders = require_approved(orders)
        self.calls.append("place_orders")
        if self.fail_next_place:
            self.fail_next_place = False
            raise VenueUnavailableError("connection reset (fake)")
        out = []
        for a in orders:
            self.placed.append(a)
            out.append(self._one(a.intent))
        return out

    def _one(self, o):
        spec = SPECS[o.coin]
        if not is_valid_size(o.size, spec.sz_decimals):
            return self._rej(o, "Order has invalid size.")
        if not is_valid_price(o.limit_price, spec.sz_decimals, spec.market_type):
            return self._rej(o, "Order has invalid price.")
        mid = self.mids[o.coin]
        if o.trigger is not None:
            return self._rest(o)
        if not o.reduce_only and o.size * mid < 10:
            return self._rej(o, f"Order must have minimum value of $10. asset={spec.asset_id}")
        if spec.market_type is MarketType.SPOT:
            return self._spot(o, mid)
        size, entry, lev = self.positions.get(o.coin, (Decimal(0), mid, self.leverage.get(o.coin, 1)))
        signed = o.size * o.side.sign
        if o.reduce_only and (size == 0 or (size > 0) == (signed > 0) or abs(signed) > abs(size)):
            return self._rej(o, "Reduce only order would increase position.")
        crosses = o.limit_price >= mid if o.side is Side.BUY else o.limit_price <= mid
        if not crosses or o.coin in self.no_liquidity:
            if o.tif is Tif.IOC:
                return self._rej(o, f"Order could not immediately match against any resting orders. asset={spec.asset_id}")
            return self._rest(o)
        new = size + signed
        lev = self.leverage.get(o.coin, lev)
        if abs(new) > abs(size):
            extra = (abs(new) - abs(size)) * mid / lev if (size >= 0) == (new >= 0) else abs(new) * mid / lev
            if extra > self.cash + self._upnl() - self._margin():
                return self._rej(o, f"Insufficient margin to place order. asset={spec.asset_id}")
        closed = min(abs(signed), abs(size)) if size and (size > 0) != (signed > 0) else Decimal(0)
        pnl = closed * (mid - entry) * (1 if size > 0 else -1)
        fee = o.size * mid * FEE
        self.cash += pnl - fee
        if new == 0:
            self.positions.pop(o.coin, None)
        else:
            flipped = size == 0 or (size > 0) != (new > 0)
            e = mid if flipped else (entry if abs(new) < abs(size) else (entry * size + mid * signed) / new)
            self.positions[o.coin] = (new, e, lev)
        return self._fill(o, mid, fee)

    def _spot(self, o, mid):
        cost = o.size * mid
        if o.side is Side.BUY:
            if self.spot.get("USDC", Decimal(0)) < cost * (1 + FEE):
                return self._rej(o, "Insufficient balance for order.")
            self.spot["USDC"] -= cost * (1 + FEE)
            self.spot[o.coin] = self.spot.get(o.coin, Decimal(0)) + o.size
        else:
            if self.spot.get(o.coin, Decimal(0)) < o.size:
                return self._rej(o, "Insufficient balance for order.")
            self.spot[o.coin] -= o.size
            self.spot["USDC"] = self.spot.get("USDC", Decimal(0)) + cost * (1 - FEE)
        return self._fill(o, mid, cost * FEE)

    def _fill(self, o, px, fee):
        self._oid += 1
        self.fill_log.append(Fill(coin=o.coin, side=o.side, price=px, size=o.size, fee=fee, time_ms=self.now,
                                  oid=self._oid, cloid=o.cloid, tid=self._oid))
        if o.cloid:
            self.by_cloid[o.cloid] = "filled"
        return Filled(oid=self._oid, total_size=o.size, avg_price=px, cloid=o.cloid)

    def _rest(self, o):
        self._oid += 1
        self.resting.append(OpenOrder(coin=o.coin, side=o.side, limit_price=o.limit_price, size=o.size, oid=self._oid,
                                      cloid=o.cloid, timestamp_ms=self.now, reduce_only=o.reduce_only,
                                      is_trigger=o.trigger is not None,
                                      trigger_price=o.trigger.trigger_price if o.trigger else None))
        if o.cloid:
            self.by_cloid[o.cloid] = "open"
        return Resting(oid=self._oid, cloid=o.cloid)

    def _rej(self, o, msg):
        if o.cloid:
            self.by_cloid[o.cloid] = "rejected"
        return Rejected(error=msg)

    def cancel(self, coin: str, oid: int) -> bool:
        self.calls.append("cancel")
        before = len(self.resting)
        self.resting = [r for r in self.resting if r.oid != oid]
        return len(self.resting) < before

    def cancel_by_cloid(self, coin: str, cloid: str) -> bool:
        self.calls.append("cancel_by_cloid")
        before = len(self.resting)
        self.resting = [r for r in self.resting if r.cloid != cloid]
        return len(self.resting) < before

    def set_leverage(self, coin: str, leverage: int, is_cross: bool = True) -> None:
        self.calls.append(f"set_leverage:{coin}:{leverage}")
        self.leverage[coin] = leverage
        if coin in self.positions:
            s, e, _ = self.positions[coin]
            self.positions[coin] = (s, e, leverage)

    def transfer_usd(self, amount: Decimal, to_perp: bool) -> None:
        self.calls.append(f"transfer:{amount}:{to_perp}")
        if to_perp:
            self.spot["USDC"] -= amount
            self.cash += amount
        else:
            self.cash -= amount
            self.spot["USDC"] = self.spot.get("USDC", Decimal(0)) + amount

    def schedule_cancel(self, time_ms: int | None) -> None:
        self.calls.append(f"schedule_cancel:{time_ms}")
