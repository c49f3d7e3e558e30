"""Spot for the venue model: tokens quoted in USDC, balances, holds and fills.

A spot pair is named like Hyperliquid's non-canonical pairs, `@<index>` (the SDK also maps
`"<TOKEN>/USDC"` to it), and is priced by the bars of a perp coin of the feed (`UBTC`
tracks `BTC`). Token 0 is USDC, the spot wallet's quote and the perp collateral. Rules:
- no leverage, no positions: a buy spends USDC, a sell spends the token;
- a resting order holds what it would spend (`hold` in spotClearinghouseState): a buy
  `size x limit` USDC, a sell `size` tokens; a new order must fit in `total - hold`,
  else `Insufficient spot balance asset=<10000 + pair index>`;
- fees (spot base tier: taker 0.070%, maker 0.040%) are charged in USDC (the venue takes
  them from the received token: a simplification);
- reduce-only and trigger orders are refused on spot.
`entryNtl` is the USDC cost of the tokens held (average cost, reduced pro rata on sells).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from hyperliquid_agent.domain import AssetSpec, MarketType, SpotBalance
from hyperliquid_agent.exchange.accounts import ZERO, Account

SPOT_TAKER = Decimal("0.0007")
SPOT_MAKER = Decimal("0.0004")
USDC = "USDC"


@dataclass(frozen=True, slots=True)
class SpotPair:
    """One listed spot pair: `name` = "@<index>", base `token` (index `token_index`), quoted
    in USDC, priced by the feed's `coin`."""

    name: str
    index: int
    token: str
    token_index: int
    sz_decimals: int
    coin: str

    @property
    def spec(self) -> AssetSpec:
        return AssetSpec(name=self.name, asset_id=10_000 + self.index, sz_decimals=self.sz_decimals,
                         max_leverage=1, market_type=MarketType.SPOT)


def spot_pairs(tokens: Mapping[str, str], perp_specs: Mapping[str, AssetSpec]) -> list[SpotPair]:
    """Pairs for `{token: perp coin that prices it}`, in order (pair i+1 trades token i+1)."""
    pairs = []
    for i, (token, coin) in enumerate(tokens.items(), start=1):
        if coin not in perp_specs:
            raise ValueError(f"spot token {token!r} tracks {coin!r}, which the feed does not list "
                             f"(it lists {', '.join(perp_specs)})")
        if token == USDC:
            raise ValueError(f"spot token name {token!r} is the quote token; name the token something else (e.g. UBTC)")
        if not token.isalnum():
            raise ValueError(f"spot token name {token!r}: use letters and digits only (e.g. UBTC)")
        pairs.append(SpotPair(f"@{i}", i, token, i, perp_specs[coin].sz_decimals, coin))
    return pairs


def _hold(order: Any, token: str) -> tuple[str, Decimal]:
    """What one resting spot order holds: a buy `size x limit` USDC, a sell `size` tokens."""
    return (USDC, order.sz * order.limit_px) if order.is_buy else (token, order.sz)


def holds(acct: Account, base_of: Mapping[str, str]) -> dict[str, Decimal]:
    """What the account's resting spot orders hold, by token (USDC for buys)."""
    out: dict[str, Decimal] = {}
    for o in acct.orders.values():
        token = base_of.get(o.coin)  # type: ignore[attr-defined]
        if token is not None:
            key, amount = _hold(o, token)
            out[key] = out.get(key, ZERO) + amount
    return out


def affordable(acct: Account, base_of: Mapping[str, str], token: str, is_buy: bool, sz: Decimal, px: Decimal,
               fee_rate: Decimal, exclude: object | None = None) -> bool:
    """Whether the account's free balance covers a spot order (`exclude`: an order whose own
    hold does not count against it, when it fills)."""
    held = holds(acct, base_of)
    if exclude is not None:  # a resting order filling: its own hold pays for it
        key, own = _hold(exclude, token)
        held[key] = held.get(key, ZERO) - own
    if is_buy:
        return sz * px * (1 + fee_rate) <= acct.spot_usdc - held.get(USDC, ZERO)
    return sz <= acct.tokens.get(token, ZERO) - held.get(token, ZERO)


def apply_fill(acct: Account, token: str, is_buy: bool, sz: Decimal, px: Decimal, fee: Decimal) -> Decimal:
    """Book a spot fill; returns the token balance before it."""
    before = acct.tokens.get(token, ZERO)
    entry = acct.token_entry.get(token, ZERO)
    if is_buy:
        acct.tokens[token] = before + sz
        acct.token_entry[token] = entry + sz * px
        acct.spot_usdc -= sz * px + fee
    else:
        after = before - sz
        acct.tokens[token] = after
        acct.token_entry[token] = entry * after / before if before else ZERO
        acct.spot_usdc += sz * px - fee
    return before


def balances(acct: Account, pairs: list[SpotPair]) -> list[SpotBalance]:
    """USDC first, then every token the account has held, with holds and entry notional."""
    base_of = {p.name: p.token for p in pairs}
    held = holds(acct, base_of)
    out = [SpotBalance(coin=USDC, total=acct.spot_usdc, hold=held.get(USDC, ZERO))]
    for p in pairs:
        if p.token in acct.tokens:
            out.append(SpotBalance(coin=p.token, total=acct.tokens[p.token], hold=held.get(p.token, ZERO),
                                   entry_notional=acct.token_entry.get(p.token, ZERO)))
    return out
