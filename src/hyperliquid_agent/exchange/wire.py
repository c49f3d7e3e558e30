"""Hyperliquid wire shapes, in one module so the adapter and the emulator agree.

Reading (adapter side): pydantic models of every Info/Exchange response we use; every
price, size and amount is a string on the wire and becomes a `Decimal` here; `*_from_wire`
helpers turn them into domain values.
Writing (emulator side): `*_to_wire` helpers turn domain values back into the exact JSON
the real venue sends (strings for numbers, camelCase keys, `B`/`A` sides).

Models ignore unknown keys: the venue adds fields over time and a new field must not break
a running agent. A missing or mistyped field we rely on raises `pydantic.ValidationError`,
which the adapter reports as `VenueResponseError`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from hyperliquid_agent.exchange.spot import SpotPair

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
    LeverageType,
    MarketType,
    Money,
    OpenOrder,
    OrderOutcome,
    Position,
    Rejected,
    Resting,
    Side,
    SpotBalance,
    to_decimal,
)
from hyperliquid_agent.decimal_text import plain_text
from hyperliquid_agent.domain.account import spot_equity
from hyperliquid_agent.domain.rounding import USDC_QUANTUM
from hyperliquid_agent.domain.values import ZERO
from hyperliquid_agent.errors import quoted_input
from hyperliquid_agent.exchange.feed import interval_ms

_WIRE = ConfigDict(extra="ignore", frozen=True)
SPOT_ASSET_OFFSET = 10_000  # spot asset id = 10000 + spotMeta.universe[i].index

# ====================================================================== reading


class AssetMetaWire(BaseModel):
    model_config = _WIRE
    name: str
    szDecimals: int
    maxLeverage: int = 1
    onlyIsolated: bool = False
    isDelisted: bool = False
    marginMode: str | None = None  # current meta: "strictIsolated" or "noCross" (no cross margin either way)

    @property
    def isolated_only(self) -> bool:
        """Whether the asset can be traded on isolated margin only: the older `onlyIsolated`
        flag, or a `marginMode` that allows no cross margin."""
        return self.onlyIsolated or self.marginMode in ("strictIsolated", "noCross")


class MetaWire(BaseModel):
    model_config = _WIRE
    universe: list[AssetMetaWire]


class SpotTokenWire(BaseModel):
    model_config = _WIRE
    name: str
    szDecimals: int
    weiDecimals: int = 8
    index: int
    tokenId: str = ""
    isCanonical: bool = True


class SpotPairWire(BaseModel):
    model_config = _WIRE
    name: str
    tokens: list[int]
    index: int
    isCanonical: bool = True


class SpotMetaWire(BaseModel):
    model_config = _WIRE
    tokens: list[SpotTokenWire] = Field(default_factory=list)
    universe: list[SpotPairWire] = Field(default_factory=list)


class AssetCtxWire(BaseModel):
    model_config = _WIRE
    funding: Money
    openInterest: Money
    prevDayPx: Money | None = None
    dayNtlVlm: Money = ZERO
    premium: Money | None = None
    oraclePx: Money
    markPx: Money
    midPx: Money | None = None
    impactPxs: list[Money] | None = None


class LeverageWire(BaseModel):
    model_config = _WIRE
    type: Literal["cross", "isolated"]
    value: int
    rawUsd: Money | None = None


class CumFundingWire(BaseModel):
    model_config = _WIRE
    allTime: Money = ZERO
    sinceOpen: Money = ZERO
    sinceChange: Money = ZERO


class PositionWire(BaseModel):
    model_config = _WIRE
    coin: str
    szi: Money
    entryPx: Money | None = None
    positionValue: Money = ZERO
    unrealizedPnl: Money = ZERO
    returnOnEquity: Money = ZERO
    liquidationPx: Money | None = None
    leverage: LeverageWire
    marginUsed: Money = ZERO
    maxLeverage: int | None = None
    cumFunding: CumFundingWire | None = None


class AssetPositionWire(BaseModel):
    model_config = _WIRE
    position: PositionWire
    type: str = "oneWay"


class MarginSummaryWire(BaseModel):
    model_config = _WIRE
    accountValue: Money
    totalNtlPos: Money = ZERO
    totalRawUsd: Money = ZERO
    totalMarginUsed: Money = ZERO


class ClearinghouseStateWire(BaseModel):
    model_config = _WIRE
    assetPositions: list[AssetPositionWire] = Field(default_factory=list)
    marginSummary: MarginSummaryWire
    crossMarginSummary: MarginSummaryWire | None = None
    crossMaintenanceMarginUsed: Money = ZERO
    withdrawable: Money
    time: int = 0


class SpotBalanceWire(BaseModel):
    model_config = _WIRE
    coin: str
    token: int = 0
    hold: Money = ZERO
    total: Money
    entryNtl: Money = ZERO


class SpotClearinghouseStateWire(BaseModel):
    model_config = _WIRE
    balances: list[SpotBalanceWire] = Field(default_factory=list)


class BookLevelWire(BaseModel):
    model_config = _WIRE
    px: Money
    sz: Money
    n: int = 1


class L2BookWire(BaseModel):
    model_config = _WIRE
    coin: str
    time: int
    levels: tuple[list[BookLevelWire], list[BookLevelWire]]


class CandleWire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    t: int
    close_ms: int = Field(alias="T")
    s: str
    i: str
    o: Money
    c: Money
    h: Money
    l: Money  # noqa: E741 (the venue's key)
    v: Money
    n: int = 0


class FundingHistoryWire(BaseModel):
    model_config = _WIRE
    coin: str
    fundingRate: Money
    premium: Money | None = None
    time: int


class LiquidationWire(BaseModel):
    """On a fill of a liquidation, for the liquidated user and for the liquidator alike."""

    model_config = _WIRE
    liquidatedUser: str
    markPx: Money
    method: str  # "market" or "backstop"


class UserFillWire(BaseModel):
    model_config = _WIRE
    coin: str
    px: Money
    sz: Money
    side: Literal["A", "B"]
    time: int
    startPosition: Money | None = None
    dir: str = ""
    closedPnl: Money = ZERO
    hash: str = ""
    oid: int
    crossed: bool = True
    fee: Money = ZERO
    tid: int | None = None
    feeToken: str = "USDC"
    cloid: str | None = None
    liquidation: LiquidationWire | None = None


class OpenOrderWire(BaseModel):
    """openOrders and frontendOpenOrders (the latter adds the optional fields)."""

    model_config = _WIRE
    coin: str
    limitPx: Money
    oid: int
    side: Literal["A", "B"]
    sz: Money
    timestamp: int
    origSz: Money | None = None
    reduceOnly: bool = False
    orderType: str = "Limit"
    tif: str | None = None
    triggerPx: Money | None = None
    triggerCondition: str | None = None
    isTrigger: bool = False
    isPositionTpsl: bool = False
    children: list[Any] = Field(default_factory=list)
    cloid: str | None = None


class OrderStatusDetailWire(BaseModel):
    model_config = _WIRE
    order: OpenOrderWire
    status: str
    statusTimestamp: int = 0


class OrderStatusWire(BaseModel):
    model_config = _WIRE
    status: str  # "order" | "unknownOid"
    order: OrderStatusDetailWire | None = None


class FundingDeltaWire(BaseModel):
    model_config = _WIRE
    type: str = "funding"
    coin: str
    usdc: Money
    szi: Money
    fundingRate: Money
    nSamples: int | None = None


class UserFundingWire(BaseModel):
    model_config = _WIRE
    time: int
    hash: str = ""
    delta: FundingDeltaWire


# ----- exchange responses


class RestingWire(BaseModel):
    model_config = _WIRE
    oid: int
    cloid: str | None = None


class FilledWire(BaseModel):
    model_config = _WIRE
    totalSz: Money
    avgPx: Money
    oid: int
    cloid: str | None = None


class OrderStatusEntryWire(BaseModel):
    """One entry of `statuses`: exactly one of resting / filled / error."""

    model_config = _WIRE
    resting: RestingWire | None = None
    filled: FilledWire | None = None
    error: str | None = None


class ResponseBodyWire(BaseModel):
    model_config = _WIRE
    type: str
    data: dict[str, Any] | None = None


class ExchangeResponseWire(BaseModel):
    """`{"status":"ok","response":{...}}` or `{"status":"err","response":"<reason>"}`."""

    model_config = _WIRE
    status: Literal["ok", "err"]
    response: ResponseBodyWire | str | None = None


def short(value: Any) -> str:
    """A response fragment for an error message: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(exc: ValidationError, at: str = "") -> str:
    """A validation error on one line: each bad field's path in the response (`at` is where the
    validated part sits in it), what is wrong and, for a plain value, what it was."""
    errors = exc.errors(include_url=False)
    parts = []
    for e in errors[:5]:
        path = (at + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])).lstrip(".")
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{path or 'the response'}: {msg}{quoted_input(e)}")
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts)


def rows(model: type[BaseModel], at: str = "") -> Any:
    """A reader of a list of `model` rows; a bad row raises ValueError naming its index and field."""
    def read(data: Any) -> list[Any]:
        if not isinstance(data, list):
            raise ValueError(f"{at or 'the response'}: expected a list, got {short(data)}")
        out = []
        for i, row in enumerate(data):
            try:
                out.append(model.model_validate(row))
            except ValidationError as exc:
                raise ValueError(describe(exc, f"{at}[{i}]")) from None
        return out
    return read


# Statuses the real venue may send for trigger orders instead of {"resting": ...}.
PENDING_STATUS_STRINGS = ("waitingForFill", "waitingForTrigger")


def outcome_from_wire(entry: Any) -> OrderOutcome:
    """One order status -> Resting / Filled / Rejected. Raises ValueError on anything else."""
    if isinstance(entry, str):
        if entry in PENDING_STATUS_STRINGS:
            return Resting(oid=0)  # the venue gave no oid; the executor reconciles by cloid
        raise ValueError(f"unknown order status {entry!r}")
    parsed = OrderStatusEntryWire.model_validate(entry)
    if parsed.error is not None:
        return Rejected(error=parsed.error)
    if parsed.filled is not None:
        f = parsed.filled
        return Filled(oid=f.oid, total_size=f.totalSz, avg_price=f.avgPx, cloid=f.cloid)
    if parsed.resting is not None:
        return Resting(oid=parsed.resting.oid, cloid=parsed.resting.cloid)
    raise ValueError(f"order status has none of resting/filled/error: {entry!r}")


def spot_token_pairs(spot_meta: SpotMetaWire) -> dict[str, str]:
    """Token name -> the name of its pair quoted in USDC (token 0), as allMids keys it ("@107",
    or "PURR/USDC" for the canonical pair): where a spot token's price is read."""
    names = {t.index: t.name for t in spot_meta.tokens}
    return {names[pair.tokens[0]]: pair.name for pair in spot_meta.universe
            if len(pair.tokens) == 2 and pair.tokens[1] == 0 and pair.tokens[0] in names}


def specs_from_wire(meta: MetaWire, spot_meta: SpotMetaWire | None = None) -> dict[str, AssetSpec]:
    """Asset specs keyed by the name the SDK uses (perp coin; spot pair name, e.g. "@107")."""
    def spec(where: str, **fields: Any) -> AssetSpec:
        try:
            return AssetSpec(**fields)
        except ValidationError as exc:  # e.g. a negative szDecimals: a ValueError naming the asset
            raise ValueError(f"{where} ({fields['name']}): {describe(exc)}") from None

    specs: dict[str, AssetSpec] = {}
    for i, a in enumerate(meta.universe):
        if a.isDelisted:
            continue
        specs[a.name] = spec(
            f"meta.universe[{i}]", name=a.name, asset_id=i, sz_decimals=a.szDecimals,
            max_leverage=max(a.maxLeverage, 1), market_type=MarketType.PERP, only_isolated=a.isolated_only,
        )
    if spot_meta is not None:
        tokens = {t.index: t for t in spot_meta.tokens}
        for i, pair in enumerate(spot_meta.universe):
            base = tokens.get(pair.tokens[0]) if pair.tokens else None
            if base is None:
                continue
            specs[pair.name] = spec(
                f"spotMeta.universe[{i}]", name=pair.name, asset_id=SPOT_ASSET_OFFSET + pair.index,
                sz_decimals=base.szDecimals, max_leverage=1, market_type=MarketType.SPOT,
            )
    return specs


def context_from_wire(coin: str, ctx: AssetCtxWire) -> AssetContext:
    return AssetContext(
        coin=coin, mark_price=ctx.markPx, oracle_price=ctx.oraclePx, mid_price=ctx.midPx,
        funding=ctx.funding, open_interest=ctx.openInterest, premium=ctx.premium,
        day_volume=ctx.dayNtlVlm, prev_day_price=ctx.prevDayPx,
    )


def contexts_from_wire(meta_and_ctxs: Any) -> dict[str, AssetContext]:
    """`metaAndAssetCtxs` ([meta, [ctx...]], one ctx per universe entry, in order) -> contexts by coin.
    Raises ValueError naming the entry that is wrong."""
    if not isinstance(meta_and_ctxs, list) or len(meta_and_ctxs) != 2:
        raise ValueError(f"expected a two-element list [meta, asset contexts], got {short(meta_and_ctxs)}")
    try:
        meta = MetaWire.model_validate(meta_and_ctxs[0])
    except ValidationError as exc:
        raise ValueError(describe(exc, "[0]")) from None
    raw = meta_and_ctxs[1]
    if not isinstance(raw, list) or len(raw) != len(meta.universe):  # zip would pair the wrong ones
        got = f"{len(raw)} asset contexts" if isinstance(raw, list) else short(raw)
        raise ValueError(f"[1]: expected one asset context per asset ({len(meta.universe)}), got {got}")
    ctxs = rows(AssetCtxWire, "[1]")(raw)
    return {a.name: context_from_wire(a.name, c) for a, c in zip(meta.universe, ctxs)}


def mids_from_wire(mids: Any) -> dict[str, Decimal]:
    """`allMids` -> mid by coin. Raises ValueError naming the coin whose price is not a number."""
    if not isinstance(mids, dict):
        raise ValueError(f"expected an object of coin -> mid price, got {short(mids)}")
    out: dict[str, Decimal] = {}
    for coin, px in mids.items():
        try:
            out[coin] = to_decimal(px)
        except ValueError as exc:
            raise ValueError(f"{coin}: {exc}") from None
    return out


def candle_from_wire(c: CandleWire) -> Candle:
    return Candle(t_ms=c.t, open=c.o, high=c.h, low=c.l, close=c.c, volume=c.v)


def funding_from_wire(f: FundingHistoryWire) -> FundingPoint:
    return FundingPoint(time_ms=f.time, rate=f.fundingRate, premium=f.premium)


def book_from_wire(b: L2BookWire) -> L2Book:
    bids, asks = b.levels
    return L2Book(
        coin=b.coin, time_ms=b.time,
        bids=tuple(BookLevel(price=x.px, size=x.sz, orders=x.n) for x in bids),
        asks=tuple(BookLevel(price=x.px, size=x.sz, orders=x.n) for x in asks),
    )


def position_from_wire(p: PositionWire) -> Position:
    return Position(
        coin=p.coin, size=p.szi, entry_price=p.entryPx if p.entryPx is not None else ZERO,
        unrealized_pnl=p.unrealizedPnl, leverage=max(p.leverage.value, 1),
        leverage_type=LeverageType(p.leverage.type), liquidation_price=p.liquidationPx,
        margin_used=p.marginUsed, position_value=p.positionValue,
        cum_funding=p.cumFunding.sinceOpen if p.cumFunding is not None else ZERO,
    )


def account_from_wire(
    state: ClearinghouseStateWire, spot: SpotClearinghouseStateWire | None = None,
    token_prices: Mapping[str, Decimal] | None = None,
) -> AccountState:
    """Perp clearinghouse (+ spot balances) -> AccountState.

    portfolio_value = perp account value + the spot wallet valued by `spot_equity` (tokens at
    `token_prices`, e.g. their USDC pair's mid; a token without a price at its entry notional).
    """
    balances = tuple(
        SpotBalance(coin=b.coin, total=b.total, hold=b.hold, entry_notional=b.entryNtl)
        for b in (spot.balances if spot is not None else [])
    )
    positions = tuple(position_from_wire(ap.position) for ap in state.assetPositions if ap.position.szi != 0)
    summary = state.marginSummary
    return AccountState(
        portfolio_value=summary.accountValue + spot_equity(balances, token_prices or {}),
        available_balance=state.withdrawable,
        margin_used=summary.totalMarginUsed, total_notional=summary.totalNtlPos,
        positions=positions, spot_balances=balances, timestamp_ms=state.time,
    )


def fill_from_wire(f: UserFillWire, user: str) -> Fill:
    """A fill of `user`'s (the account whose fills were read: the master account or vault, not an
    agent wallet that signs for it); a liquidation only when `user` is the one liquidated."""
    return Fill(
        coin=f.coin, side=Side.from_wire(f.side), price=f.px, size=f.sz, fee=f.fee, time_ms=f.time,
        oid=f.oid, cloid=f.cloid, closed_pnl=f.closedPnl, direction=f.dir, crossed=f.crossed,
        start_position=f.startPosition, tid=f.tid,
        liquidation=f.liquidation is not None and f.liquidation.liquidatedUser.lower() == user.lower(),
    )


def open_order_from_wire(o: OpenOrderWire) -> OpenOrder:
    trigger = o.triggerPx if (o.isTrigger and o.triggerPx is not None) else None
    return OpenOrder(
        coin=o.coin, side=Side.from_wire(o.side), limit_price=o.limitPx, size=o.sz, orig_size=o.origSz,
        oid=o.oid, cloid=o.cloid, timestamp_ms=o.timestamp, reduce_only=o.reduceOnly,
        order_type=o.orderType, tif=o.tif, trigger_price=trigger, is_trigger=o.isTrigger,
    )


# ====================================================================== writing (emulator)


def dec(value: Decimal | int | None) -> str | None:
    """A number as the venue writes it: plain decimal notation, at least one decimal place."""
    if value is None:
        return None
    return _one_decimal(format(Decimal(value), "f"))


def _one_decimal(text: str) -> str:
    return text if "." in text else text + ".0"


# The venue rounds what it reports of an account (the recorded clearinghouseState shows it):
# USDC amounts to 6 decimals, entry prices to 6 significant figures, liquidation prices to 8
# decimals, each without trailing zeros. The model keeps the exact values; only the wire rounds.
_EIGHT_DECIMALS = Decimal("0.00000001")


def usdc_text(value: Decimal | None) -> str | None:
    return None if value is None else _trimmed(value.quantize(USDC_QUANTUM))


def entry_px_text(value: Decimal) -> str:
    if not value:
        return "0.0"
    return _trimmed(value.quantize(Decimal(1).scaleb(value.adjusted() - 5)))


def is_hex(value: Any, digits: int) -> bool:
    """Whether `value` is "0x" and `digits` hex digits (no sign, space or underscore, which `int` would take)."""
    return (isinstance(value, str) and len(value) == 2 + digits and value.startswith("0x")
            and all(c in _HEX_DIGITS for c in value[2:]))


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def is_address(value: Any) -> bool:
    """An account, agent or vault address: 0x and 40 hex digits."""
    return is_hex(value, 40)


def is_cloid(value: Any) -> bool:
    """A client order id: 0x and 32 hex digits."""
    return is_hex(value, 32)


def eight_decimals_text(value: Decimal | None) -> str | None:
    """A liquidation price or a premium as the venue writes them, to 8 decimals ("0.00031774");
    the model's own are exact (a premium is a ratio of prices, 28 digits)."""
    return None if value is None else _trimmed(value.quantize(_EIGHT_DECIMALS))


def _trimmed(d: Decimal) -> str:
    return _one_decimal(plain_text(d))  # no trailing zeros, never "-0"


def meta_to_wire(specs: dict[str, AssetSpec]) -> dict[str, Any]:
    perps = sorted((s for s in specs.values() if s.market_type is MarketType.PERP), key=lambda s: s.asset_id)
    return {
        "universe": [
            {"szDecimals": s.sz_decimals, "name": s.name, "maxLeverage": s.max_leverage,
             **({"onlyIsolated": True} if s.only_isolated else {})}
            for s in perps
        ],
        "marginTables": [],
        "collateralToken": 0,
    }


def spot_meta_to_wire(pairs: Sequence["SpotPair"] = ()) -> dict[str, Any]:
    """spotMeta: the USDC token (index 0), one token per listed pair, and the pairs."""
    def token(name: str, index: int, sz_decimals: int) -> dict[str, Any]:
        return {"name": name, "szDecimals": sz_decimals, "weiDecimals": 8, "index": index,
                "tokenId": "0x" + f"{index:032x}", "isCanonical": True, "evmContract": None, "fullName": None}

    return {"tokens": [token("USDC", 0, 8)] + [token(p.token, p.token_index, p.sz_decimals) for p in pairs],
            "universe": [{"tokens": [p.token_index, 0], "name": p.name, "index": p.index, "isCanonical": False}
                         for p in pairs]}


def asset_ctx_to_wire(ctx: AssetContext) -> dict[str, Any]:
    mid = ctx.mid_price
    return {
        "funding": dec(ctx.funding), "openInterest": dec(ctx.open_interest),
        "prevDayPx": dec(ctx.prev_day_price if ctx.prev_day_price is not None else ctx.mark_price),
        "dayNtlVlm": dec(ctx.day_volume), "premium": eight_decimals_text(ctx.premium), "oraclePx": dec(ctx.oracle_price),
        "markPx": dec(ctx.mark_price), "midPx": dec(mid),
        "impactPxs": [dec(mid), dec(mid)] if mid is not None else None, "dayBaseVlm": "0.0",
    }


def mids_to_wire(mids: dict[str, Decimal]) -> dict[str, str]:
    return {coin: dec(px) or "0.0" for coin, px in mids.items()}


def position_to_wire(p: Position, max_leverage: int | None = None) -> dict[str, Any]:
    roe = (p.unrealized_pnl / p.margin_used) if p.margin_used else ZERO
    lev: dict[str, Any] = {"type": p.leverage_type.value, "value": p.leverage}
    if p.leverage_type is LeverageType.ISOLATED:
        lev["rawUsd"] = usdc_text(-p.size * p.entry_price + p.margin_used)
    funding = usdc_text(p.cum_funding)
    return {
        "type": "oneWay",
        "position": {
            "coin": p.coin, "szi": dec(p.size), "leverage": lev, "entryPx": entry_px_text(p.entry_price),
            "positionValue": usdc_text(p.position_value), "unrealizedPnl": usdc_text(p.unrealized_pnl),
            "returnOnEquity": dec(roe.quantize(Decimal("0.00000001"))),
            "liquidationPx": eight_decimals_text(p.liquidation_price),
            "marginUsed": usdc_text(p.margin_used), "maxLeverage": max_leverage or p.leverage,
            "cumFunding": {"allTime": funding, "sinceOpen": funding, "sinceChange": funding},
        },
    }


def clearinghouse_to_wire(
    positions: tuple[Position, ...] | list[Position], *, account_value: Decimal, total_margin_used: Decimal,
    total_ntl: Decimal, total_raw_usd: Decimal, withdrawable: Decimal, time_ms: int,
    maintenance_margin: Decimal = ZERO, max_leverage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The perp account -> clearinghouseState (cross margin: both summaries are equal)."""
    lev = max_leverage or {}
    summary = {"accountValue": usdc_text(account_value), "totalNtlPos": usdc_text(total_ntl),
               "totalRawUsd": usdc_text(total_raw_usd), "totalMarginUsed": usdc_text(total_margin_used)}
    return {
        "marginSummary": summary, "crossMarginSummary": dict(summary),
        "crossMaintenanceMarginUsed": usdc_text(maintenance_margin), "withdrawable": usdc_text(withdrawable),
        "assetPositions": [position_to_wire(p, lev.get(p.coin)) for p in positions if p.size != 0],
        "time": time_ms,
    }


def spot_state_to_wire(balances: list[SpotBalance] | tuple[SpotBalance, ...],
                       token_index: Mapping[str, int] | None = None) -> dict[str, Any]:
    index = {"USDC": 0, **(token_index or {})}
    return {"balances": [
        {"coin": b.coin, "token": index.get(b.coin, i), "hold": dec(b.hold), "total": dec(b.total),
         "entryNtl": dec(b.entry_notional)}
        for i, b in enumerate(balances)
    ]}


def book_to_wire(book: L2Book) -> dict[str, Any]:
    def side(levels: tuple[BookLevel, ...]) -> list[dict[str, Any]]:
        return [{"px": dec(x.price), "sz": dec(x.size), "n": x.orders} for x in levels[:20]]

    return {"coin": book.coin, "time": book.time_ms, "levels": [side(book.bids), side(book.asks)]}


def candle_to_wire(coin: str, interval: str, c: Candle, trades: int = 0) -> dict[str, Any]:
    return {
        "t": c.t_ms, "T": c.t_ms + interval_ms(interval) - 1, "s": coin, "i": interval,
        "o": dec(c.open), "c": dec(c.close), "h": dec(c.high), "l": dec(c.low), "v": dec(c.volume), "n": trades,
    }


def funding_to_wire(coin: str, f: FundingPoint) -> dict[str, Any]:
    return {"coin": coin, "fundingRate": dec(f.rate), "premium": dec(f.premium if f.premium is not None else ZERO),
            "time": f.time_ms}


def fill_to_wire(f: Fill, user: str, hash_hex: str = "0x" + "0" * 64) -> dict[str, Any]:
    """One of `user`'s fills. A liquidation names `user` as the one liquidated and gives the fill's
    price as the mark (the venue model liquidates at the bar's adverse extreme, its stand-in for the mark).
    The realized PnL is USDC, written to 6 decimals like the venue's (the model keeps it exact)."""
    out = {
        "coin": f.coin, "px": dec(f.price), "sz": dec(f.size), "side": f.side.wire, "time": f.time_ms,
        "startPosition": dec(f.start_position if f.start_position is not None else ZERO), "dir": f.direction,
        "closedPnl": usdc_text(f.closed_pnl), "hash": hash_hex, "oid": f.oid, "crossed": f.crossed, "fee": dec(f.fee),
        "tid": f.tid if f.tid is not None else f.oid, "feeToken": "USDC",
    }
    if f.cloid is not None:
        out["cloid"] = f.cloid
    if f.liquidation:
        out["liquidation"] = {"liquidatedUser": user, "markPx": dec(f.price), "method": "market"}
    return out


def open_order_to_wire(o: OpenOrder, frontend: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"coin": o.coin, "side": o.side.wire, "limitPx": dec(o.limit_price), "sz": dec(o.size),
                           "oid": o.oid, "timestamp": o.timestamp_ms}
    if not frontend:
        if o.cloid is not None:
            out["cloid"] = o.cloid
        return out
    if o.is_trigger and o.trigger_price is not None:
        above = ("Take Profit" in o.order_type) == (o.side is Side.SELL)
        condition = f"Price {'above' if above else 'below'} {dec(o.trigger_price)}"
    else:
        condition = "N/A"
    out.update({
        "triggerCondition": condition, "isTrigger": o.is_trigger,
        "triggerPx": dec(o.trigger_price if o.trigger_price is not None else ZERO), "children": [],
        "isPositionTpsl": False, "reduceOnly": o.reduce_only, "orderType": o.order_type,
        "origSz": dec(o.orig_size if o.orig_size is not None else o.size), "tif": o.tif, "cloid": o.cloid,
    })
    return out


def order_status_to_wire(order: OpenOrder | None, status: str, status_time_ms: int) -> dict[str, Any]:
    if order is None:
        return {"status": "unknownOid"}
    return {"status": "order", "order": {"order": open_order_to_wire(order, frontend=True), "status": status,
                                         "statusTimestamp": status_time_ms}}


def user_funding_to_wire(time_ms: int, coin: str, usdc: Decimal, szi: Decimal, rate: Decimal) -> dict[str, Any]:
    return {"time": time_ms, "hash": "0x" + "0" * 64,
            "delta": {"type": "funding", "coin": coin, "usdc": dec(usdc), "szi": dec(szi),
                      "fundingRate": dec(rate), "nSamples": None}}


def outcome_to_wire(o: OrderOutcome) -> dict[str, Any]:
    match o:
        case Resting():
            body: dict[str, Any] = {"oid": o.oid}
            if o.cloid is not None:
                body["cloid"] = o.cloid
            return {"resting": body}
        case Filled():
            body = {"totalSz": dec(o.total_size), "avgPx": dec(o.avg_price), "oid": o.oid}
            if o.cloid is not None:
                body["cloid"] = o.cloid
            return {"filled": body}
        case Rejected():
            return {"error": o.error}
    raise TypeError(f"not an order outcome: {o!r}")


def ok_response(kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind}
    if data is not None:
        body["data"] = data
    return {"status": "ok", "response": body}


def err_response(reason: str) -> dict[str, Any]:
    return {"status": "err", "response": reason}
