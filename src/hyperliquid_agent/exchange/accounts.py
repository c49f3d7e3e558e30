"""Account bookkeeping for the venue model: cash, SIGNED positions with average entry,
realized PnL on closes and flips, fees, funding, cross margin and liquidation maths.

Internal state is plain slotted classes (the model's hot path); `to_account_state` turns
it into the domain `AccountState` at the API edge. Everything is Decimal.

Cash is the perp wallet's USDC: deposits + realized PnL - fees - funding paid.
Account value = cash + unrealized PnL at mark. Initial margin = |size| x mark / leverage;
maintenance margin = |size| x mark / (2 x maxLeverage), i.e. half the initial margin at
max leverage. Isolated margin is recorded but treated as cross (a simplification).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Mapping, NamedTuple, Sequence

from hyperliquid_agent.domain import AccountState, AssetSpec, LeverageType, Position, SpotBalance
from hyperliquid_agent.domain.account import spot_equity
from hyperliquid_agent.domain.rounding import USDC_QUANTUM
from hyperliquid_agent.domain.values import trusted
from hyperliquid_agent.exchange.venue_types import MarginSummary

ZERO = Decimal(0)
_TENTH = Decimal("0.1")


def usdc(x: Decimal) -> Decimal:
    """Round a cash amount (fee, funding payment) to USDC's 6 decimals."""
    return x.quantize(USDC_QUANTUM, ROUND_HALF_EVEN)  # (positional: the keyword form is much slower on 3.11)


class PositionState:
    __slots__ = ("szi", "entry", "funding_since_open")

    def __init__(self) -> None:
        self.szi = ZERO
        self.entry = ZERO
        self.funding_since_open = ZERO  # paid (+) / received (-) since the position opened


class FillRecord(NamedTuple):
    """The fields of a stored fill (`Account.fills` keeps them as plain tuples); converted to the
    domain `Fill` lazily."""

    coin: str
    is_buy: bool
    px: Decimal
    sz: Decimal
    fee: Decimal
    time_ms: int
    oid: int
    cloid: str | None
    closed_pnl: Decimal
    direction: str
    crossed: bool
    start_position: Decimal
    tid: int
    liquidation: bool = False


class Account:
    __slots__ = ("address", "cash", "spot_usdc", "positions", "leverage", "orders", "reserved", "order_margin",
                 "exposure", "fills", "fills_cache", "funding", "schedule_cancel_ms",
                 "bad_debt", "liquidations", "tokens", "token_entry")

    def __init__(self, address: str, perp_usdc: Decimal, spot_usdc: Decimal = ZERO) -> None:
        self.address = address
        self.cash = perp_usdc
        self.spot_usdc = spot_usdc
        self.positions: dict[str, PositionState] = {}
        self.leverage: dict[str, tuple[int, bool]] = {}  # coin -> (leverage, is_cross)
        self.orders: dict[int, object] = {}  # oid -> resting order (model.RestingOrder), in placement order
        self.reserved: dict[str, Decimal] = {}  # coin -> notional of resting orders that hold margin
        # the margin `reserved` holds at the account's leverages, None until worked out again: it
        # changes only when an order rests or leaves or a leverage is set, not with every order
        self.order_margin: Decimal | None = ZERO
        # a bound on `margin_exposure` at the current marks, raised fill by fill by at most what the
        # fill can add; None until worked out again (the model drops it whenever the marks move, and
        # keeps the liquidation check's bound instead when that clears the account)
        self.exposure: Decimal | None = None
        # Fills and funding payments are kept as plain tuples in FillRecord's and FundingPayment's
        # field order: the garbage collector stops tracking a plain tuple of plain values, never a
        # NamedTuple, and a year of them would otherwise slow every full collection.
        self.fills: list[tuple] = []
        self.fills_cache: list = []  # domain Fill values built so far, parallel to `fills`
        self.funding: list[tuple] = []
        self.schedule_cancel_ms: int | None = None
        self.bad_debt = ZERO  # losses beyond the account's value absorbed at liquidation
        self.liquidations = 0
        self.tokens: dict[str, Decimal] = {}  # spot token -> balance (USDC is spot_usdc)
        self.token_entry: dict[str, Decimal] = {}  # spot token -> USDC cost of the balance

    # ----- reading

    def szi(self, coin: str) -> Decimal:
        p = self.positions.get(coin)
        return p.szi if p is not None else ZERO

    def lev(self, coin: str, default_leverage: Mapping[str, int]) -> int:
        got = self.leverage.get(coin)
        return got[0] if got is not None else default_leverage[coin]

    def is_cross(self, coin: str) -> bool:
        """The coin's margin mode as set (cross unless set isolated; isolated is margined as cross)."""
        got = self.leverage.get(coin)
        return got is None or got[1]

    # ----- changing

    def apply_fill(self, coin: str, is_buy: bool, sz: Decimal, px: Decimal, fee: Decimal) -> tuple[Decimal, Decimal, str]:
        """Book a fill of unsigned `sz` at `px`. Returns (closed_pnl, start_position, direction)."""
        p = self.positions.get(coin)
        if p is None:
            p = self.positions[coin] = PositionState()
        old = p.szi
        new = old + sz if is_buy else old - sz
        was_long = old > ZERO  # (Decimal comparisons with ZERO, not 0: this runs for every fill)
        if not old or was_long == is_buy:  # open or increase: weighted average entry, nothing closed
            p.entry = (abs(old) * p.entry + sz * px) / abs(new)
            if not old:
                p.funding_since_open = ZERO
            p.szi = new
            self.cash -= fee  # (the same as adding 0 - fee: an opening fill realizes nothing)
            return ZERO, old, "Open Long" if is_buy else "Open Short"
        held = abs(old)
        q = held if held < sz else sz  # min(sz, held)
        closed = q * (px - p.entry) if was_long else q * (p.entry - px)
        if not new:
            p.entry = ZERO
            direction = "Close Long" if was_long else "Close Short"
        elif (new > ZERO) != was_long:  # flip: the rest opens at the fill price
            p.entry = px
            p.funding_since_open = ZERO
            direction = "Long > Short" if was_long else "Short > Long"
        else:
            direction = "Close Long" if was_long else "Close Short"
        p.szi = new
        self.cash += closed - fee
        return closed, old, direction

    def liquidated_direction(self, coin: str, is_buy: bool) -> str:
        """The venue's `dir` of the fill that liquidates this account's position (a buy closes a short)."""
        return f"Liquidated {'Cross' if self.is_cross(coin) else 'Isolated'} {'Short' if is_buy else 'Long'}"

    def pay_funding(self, p: PositionState, coin: str, oracle_px: Decimal, rate: Decimal, time_ms: int) -> Decimal:
        """Settle one funding rate on the (open) position `p` in `coin` at `time_ms`: size x oracle
        x rate, longs pay when positive; the payment is recorded. Returns the USDC received
        (negative when paid)."""
        szi = p.szi
        paid = usdc(szi * oracle_px * rate)
        self.cash -= paid
        p.funding_since_open += paid
        got = -paid
        self.funding.append((time_ms, coin, got, szi, rate))  # a FundingPayment
        return got


def liquidation_prices(acct: Account, bar_range: Mapping[str, tuple[Decimal, Decimal]],
                       marks: Mapping[str, Decimal], maint_frac: Mapping[str, Decimal]) -> dict[str, Decimal] | None:
    """If the account falls below maintenance with every position at its bar's adverse extreme
    (`bar_range[coin]` = (low, high); the mark for coins without a bar), those prices by coin.
    The full computation: the model tries `clear_of_liquidation` first."""
    value = acct.cash
    maint = ZERO
    worst: dict[str, Decimal] = {}
    for coin, p in acct.positions.items():
        szi = p.szi
        if not szi:
            continue
        rng = bar_range.get(coin)
        px = marks[coin] if rng is None else (rng[0] if szi > ZERO else rng[1])
        worst[coin] = px
        value += szi * (px - p.entry)
        maint += abs(szi) * px * maint_frac[coin]
    return worst if worst and value < maint else None


def clear_of_liquidation(acct: Account, bar_range: Mapping[str, tuple[Decimal, Decimal]],
                         marks: Mapping[str, Decimal]) -> Decimal | None:
    """A cheap sufficient condition for `liquidation_prices` to find nothing (under half its work;
    it is checked every bar): the bound below when it holds, else None. At any prices a long
    loses at most what it cost, size x entry (the price stays positive and its maintenance falls
    with it), and a short at its bar's high at most twice its notional there (its loss up to that
    price, plus maintenance of at most half its notional). With cash over twice the sum of these,
    the account stays above maintenance by more than half its cash: far beyond the rounding of
    either computation.

    The same sum bounds `margin_exposure` at the marks the bars close at (a close is within its
    bar's range): at a leverage of at least 1 a long's margin less its PnL is at most its cost,
    size x (entry - mark x (1 - 1/leverage)), and a short's at most twice its notional at the
    mark, so the model keeps it as the account's exposure bound until the marks move again."""
    exposed = ZERO
    for coin, p in acct.positions.items():
        szi = p.szi
        if szi > ZERO:
            exposed += szi * p.entry
        elif szi:
            rng = bar_range.get(coin)
            exposed -= (szi + szi) * (marks[coin] if rng is None else rng[1])
    return exposed if acct.cash > exposed + exposed else None


def margin_exposure(acct: Account, marks: Mapping[str, Decimal], lev: Mapping[str, Decimal]) -> Decimal:
    """What the account's cash has to cover at `marks`: the margin its positions hold (at `lev`,
    the account's leverages as Decimals) less their unrealized PnL, summed. A fill of `sz` at
    `px` with a mark of `mark` raises it by at most closed + sz x (2 mark + px) (`closed`: the PnL
    it realizes into cash): the position's margin by at most sz x mark, and its loss by exactly
    closed + sz x (mark - px) for a sell, closed + sz x (px - mark) for a buy (up to rounding)."""
    total = ZERO
    for coin, p in acct.positions.items():
        szi = p.szi
        if szi:
            mark = marks[coin]
            total += abs(szi) * mark / lev[coin] - szi * (mark - p.entry)
    return total


def plainly_affordable(acct: Account, exposure: Decimal, old: Decimal, sz: Decimal, px: Decimal, taker: Decimal,
                       order_margin: Decimal) -> bool:
    """A cheap sufficient condition for the margin check to pass a fill of `sz` at `px` taking the
    position from `old` (`exposure`: at least `margin_exposure`): every leverage is at least 1,
    so the margin the fill needs is at most (|old| + sz) x px for the position plus sz x px x
    `taker` of fee, and the rest, held by the other positions less the unrealized PnL and by
    resting orders, is at most `exposure` + `order_margin`. Cash over twice their sum (and
    positive) keeps half of it between the bound and either computation's rounding."""
    bound = exposure + (abs(old) + sz + sz * taker) * px + order_margin
    cash = acct.cash
    return cash > bound + bound and cash > ZERO


def margin_summary(acct: Account, marks: Mapping[str, Decimal], specs: Mapping[str, AssetSpec],
                   default_leverage: Mapping[str, int], open_order_margin: Decimal) -> MarginSummary:
    """Cross-margin totals; withdrawable keeps max(margin used, 10% of notional) and the
    margin held by resting orders. Account value = cash + unrealized PnL at mark; margin used
    = |size| x mark / leverage; maintenance = |size| x mark / (2 x maxLeverage)."""
    used = unrealized = maintenance = ntl = at_entry = ZERO  # all summed in one pass
    for coin, p in acct.positions.items():
        szi, mark = p.szi, marks[coin]
        notional = abs(szi) * mark
        ntl += notional
        at_entry += szi * p.entry
        if szi:
            used += notional / acct.lev(coin, default_leverage)
            unrealized += szi * (mark - p.entry)
            maintenance += notional / (2 * specs[coin].max_leverage)
    value = acct.cash + unrealized
    withdrawable = max(ZERO, value - max(used, _TENTH * ntl) - open_order_margin)
    return MarginSummary(value, used, ntl, acct.cash - at_entry, maintenance, withdrawable)


def liquidation_price(szi: Decimal, mark: Decimal, max_leverage: int, available: Decimal) -> Decimal | None:
    """The mark at which the account hits maintenance (`available` = account value minus
    maintenance margin), other marks held fixed:
    liq = mark - side x margin_available / |size| / (1 - l x side), l = 1 / (2 x maxLeverage)."""
    side = 1 if szi > 0 else -1
    inv_maint_lev = Decimal(1) / (2 * max_leverage)
    liq = mark - side * available / abs(szi) / (1 - inv_maint_lev * side)
    return liq if liq > 0 else None


def to_account_state(acct: Account | None, marks: Mapping[str, Decimal], specs: Mapping[str, AssetSpec],
                     default_leverage: Mapping[str, int], summary: MarginSummary, now_ms: int,
                     spot_balances: Sequence[SpotBalance] | None = None,
                     token_prices: Mapping[str, Decimal] | None = None) -> AccountState:
    """The domain AccountState (`summary`: the account's `margin_summary` at `marks`); the spot
    wallet is `spot_balances` (default: its USDC alone), valued by `spot_equity` at `token_prices`."""
    # Built with `trusted` (no validation): every value below is a Decimal (or int, enum, None)
    # the model worked out itself, and a backtest reads the account several times a bar.
    if acct is None:
        return AccountState(portfolio_value=ZERO, available_balance=ZERO, timestamp_ms=now_ms)
    positions = []
    ntl_total = ZERO  # (not summary.total_notional: that adds flat positions' 0 x mark, which can change the digits)
    balances = tuple(spot_balances) if spot_balances is not None else (
        trusted(SpotBalance, {"coin": "USDC", "total": acct.spot_usdc, "hold": ZERO, "entry_notional": ZERO}),)
    available = summary.account_value - summary.maintenance_margin  # margin above maintenance
    for coin, p in acct.positions.items():
        if not p.szi:
            continue
        lev = acct.lev(coin, default_leverage)
        is_cross = acct.is_cross(coin)
        value = abs(p.szi) * marks[coin]
        ntl_total += value
        positions.append(trusted(Position, {
            "coin": coin, "size": p.szi, "entry_price": p.entry, "unrealized_pnl": p.szi * (marks[coin] - p.entry),
            "leverage": lev, "leverage_type": LeverageType.CROSS if is_cross else LeverageType.ISOLATED,
            "liquidation_price": liquidation_price(p.szi, marks[coin], specs[coin].max_leverage, available),
            "margin_used": value / lev, "position_value": value, "cum_funding": p.funding_since_open,
        }))
    return trusted(AccountState, {
        "portfolio_value": summary.account_value + spot_equity(balances, token_prices or {}),
        "available_balance": summary.withdrawable,
        "margin_used": summary.total_margin_used,  # the positions' margins above, summed in the same order
        "total_notional": ntl_total,
        "positions": tuple(positions),
        "spot_balances": balances,
        "timestamp_ms": now_ms,
        "stale": False,
    })
