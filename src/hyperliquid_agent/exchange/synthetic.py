"""The embedded default market data: a seeded, regime-switching generator.

One market-wide regime path (the shared vocabulary: trending-bull, trending-bear,
range-bound, carry-friendly, high-volatility, event-risk) drives every coin: each regime
sets the hourly drift, volatility, funding level and how open interest moves, and lasts a
random (geometric) number of hours. Coins share a market shock (correlated returns) and
add their own. Output: hourly candles, hourly funding (time = the bar's close), oracle
prices (mark minus a funding-linked premium) and open interest, as a `MarketFeed`.

Deterministic: the same seed, days, coins and start give identical data (string seeds
for `random.Random` do not depend on PYTHONHASHSEED).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from hyperliquid_agent.domain import AssetSpec, Regime
from hyperliquid_agent.exchange.feed import HOUR_MS, CoinSeries, MarketFeed

DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BASE_FUNDING = 0.0000125  # 0.01% per 8h, paid hourly


@dataclass(frozen=True, slots=True)
class RegimeParams:
    drift: float  # mean hourly log return (before the coin's beta)
    vol: float  # hourly volatility (before the coin's multiplier)
    funding: float  # mean hourly funding rate
    mean_hours: float  # mean duration
    reversion: float = 0.0  # pull toward the regime's starting price, per hour


REGIMES: dict[Regime, RegimeParams] = {
    Regime.TRENDING_BULL: RegimeParams(0.0003, 0.0055, 0.00003, 200),
    Regime.TRENDING_BEAR: RegimeParams(-0.00035, 0.007, -0.000004, 170),
    Regime.RANGE_BOUND: RegimeParams(0.0, 0.004, BASE_FUNDING, 300, reversion=0.03),
    Regime.CARRY_FRIENDLY: RegimeParams(0.0001, 0.0035, 0.00007, 180, reversion=0.01),
    Regime.HIGH_VOLATILITY: RegimeParams(0.0, 0.014, 0.00001, 72),
    Regime.EVENT_RISK: RegimeParams(-0.0002, 0.02, 0.0, 18),
}
# Relative odds of the next regime (the current one is excluded when drawing).
NEXT_WEIGHTS: dict[Regime, float] = {
    Regime.TRENDING_BULL: 3, Regime.TRENDING_BEAR: 2.5, Regime.RANGE_BOUND: 3,
    Regime.CARRY_FRIENDLY: 2, Regime.HIGH_VOLATILITY: 1.5, Regime.EVENT_RISK: 0.5,
}


@dataclass(frozen=True, slots=True)
class CoinProfile:
    name: str
    sz_decimals: int
    max_leverage: int
    start_price: float
    beta: float  # drift multiplier
    vol_mult: float
    rho: float  # correlation with the market shock
    volume: float  # typical hourly volume, coin units
    open_interest: float  # typical open interest, coin units
    funding_mult: float


PROFILES: dict[str, CoinProfile] = {
    "BTC": CoinProfile("BTC", 5, 40, 60000.0, 1.0, 1.0, 1.0, 500.0, 25000.0, 1.0),
    "ETH": CoinProfile("ETH", 4, 25, 3000.0, 1.2, 1.25, 0.85, 8000.0, 600000.0, 1.1),
    "SOL": CoinProfile("SOL", 2, 20, 150.0, 1.5, 1.7, 0.75, 150000.0, 6000000.0, 1.4),
}


def generic_profile(name: str) -> CoinProfile:
    """A mid-cap-like profile for a coin without one of its own."""
    return CoinProfile(name, 1, 10, 20.0, 1.6, 2.0, 0.6, 500000.0, 20000000.0, 1.6)


@dataclass(frozen=True, slots=True)
class SyntheticMarket:
    feed: MarketFeed
    regimes: tuple[str, ...]  # the generating regime of each bar, by bar index


def regime_path(seed: int, hours: int) -> list[Regime]:
    """The market-wide regime of each hour."""
    rng = random.Random(f"{seed}:regimes")
    names = list(REGIMES)
    out: list[Regime] = []
    current = Regime.RANGE_BOUND
    while len(out) < hours:
        params = REGIMES[current]
        length = 1 + int(rng.expovariate(1.0 / params.mean_hours))
        out.extend([current] * length)
        choices = [r for r in names if r is not current]
        current = rng.choices(choices, weights=[NEXT_WEIGHTS[r] for r in choices])[0]
    return out[:hours]


def _px(x: float, max_dec: int) -> Decimal:
    """A float price as a valid venue price: 5 significant figures, at most `max_dec` decimals."""
    d = Decimal(f"{x:.5g}")
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -max_dec:
        d = d.quantize(Decimal(1).scaleb(-max_dec))
    return d


def _coin_series(profile: CoinProfile, asset_id: int, seed: int, start_ms: int, path: Sequence[Regime],
                 market_shocks: Sequence[float], skip: int = 0) -> CoinSeries:
    """The coin's bars over `path`, the first `skip` of them only simulated (their random draws
    taken, so the bars after are the same as when they are kept) and left out; the first bar
    kept opens at `start_ms`."""
    rng = random.Random(f"{seed}:{profile.name}")
    gauss, n = rng.gauss, len(path)
    max_dec = max(6 - profile.sz_decimals, 0)
    idio_w = math.sqrt(max(0.0, 1.0 - profile.rho * profile.rho))
    t = [start_ms + k * HOUR_MS for k in range(n - skip)]
    opens, highs, lows, closes, vols, oracles, ois, rates = ([] for _ in range(8))
    price = profile.start_price * math.exp(gauss(0, 0.05))
    log_oi0 = math.log(profile.open_interest)
    log_oi = log_oi0
    funding = BASE_FUNDING
    anchor = price
    prev_regime = None
    open_px = None
    for k in range(n):
        regime = path[k]
        p = REGIMES[regime]
        if regime is not prev_regime:
            anchor, prev_regime = price, regime
        sigma = p.vol * profile.vol_mult
        shock = profile.rho * market_shocks[k] + idio_w * gauss(0, 1)
        if regime is Regime.EVENT_RISK and rng.random() < 0.04:
            shock += rng.choice((-1, 1)) * rng.uniform(3, 6)  # a jump
        r = p.drift * profile.beta + sigma * shock - p.reversion * math.log(price / anchor)
        new_price = max(price * math.exp(r), profile.start_price * 1e-3)
        wick = sigma * 0.6
        hi = max(price, new_price) * math.exp(abs(gauss(0, 1)) * wick)
        lo = min(price, new_price) * math.exp(-abs(gauss(0, 1)) * wick)
        activity = (sigma / 0.005) * (1.0 + 30.0 * abs(r))
        volume = profile.volume * activity * math.exp(0.35 * gauss(0, 1))
        target = p.funding * profile.funding_mult
        funding = target + 0.9 * (funding - target) + gauss(0, 0.000004 * profile.funding_mult)
        funding = min(max(funding, -0.04), 0.04)
        premium = min(max(4.0 * (funding - BASE_FUNDING) + gauss(0, 0.0001), -0.005), 0.005)
        log_oi += 30.0 * (funding - BASE_FUNDING) + 0.004 * gauss(0, 1) - 0.01 * (log_oi - log_oi0)
        if k >= skip:
            if open_px is None:
                open_px = _px(price, max_dec)
            close_px = _px(new_price, max_dec)
            opens.append(open_px)
            closes.append(close_px)
            highs.append(max(_px(hi, max_dec), open_px, close_px))
            lows.append(min(_px(lo, max_dec), open_px, close_px))
            vols.append(Decimal(f"{volume:.{profile.sz_decimals}f}"))
            rates.append(Decimal(f"{funding:.10f}").normalize())
            oracles.append(_px(new_price / (1.0 + premium), max_dec))
            ois.append(Decimal(f"{math.exp(log_oi):.{profile.sz_decimals}f}"))
            open_px = close_px
        price = new_price
    spec = AssetSpec(name=profile.name, asset_id=asset_id, sz_decimals=profile.sz_decimals,
                     max_leverage=profile.max_leverage)
    funding_t = [x + HOUR_MS for x in t]  # settled at each bar's close
    return CoinSeries(profile.name, spec, HOUR_MS, t, opens, highs, lows, closes, vols, funding_t, rates,
                      None, oracles, ois)


def generate_market(seed: int = 7, days: int = 120, coins: Sequence[str] = ("BTC", "ETH", "SOL"),
                    start_ms: int = DEFAULT_START_MS, origin_ms: int | None = None) -> SyntheticMarket:
    """Hourly data for `coins` over `days` days from `start_ms`, with the regime of each bar.

    The bars are those of the seed's market that begins at `origin_ms` (default: `start_ms`;
    at or before it, on the hour): the hours before `start_ms` are simulated and left out, so
    windows with one origin are slices of one history."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if not coins:
        raise ValueError("at least one coin is needed")
    origin = start_ms if origin_ms is None else origin_ms
    if origin > start_ms or (start_ms - origin) % HOUR_MS:
        raise ValueError(f"the origin ({origin}) must be at or before the start ({start_ms}), a whole number of hours")
    skip = (start_ms - origin) // HOUR_MS
    hours = skip + days * 24
    path = regime_path(seed, hours)
    mrng = random.Random(f"{seed}:market")
    shocks = [mrng.gauss(0, 1) for _ in range(hours)]
    series = {c: _coin_series(PROFILES.get(c) or generic_profile(c), i, seed, start_ms, path, shocks, skip)
              for i, c in enumerate(coins)}
    return SyntheticMarket(MarketFeed(series), tuple(r.value for r in path[skip:]))


def synthetic_feed(seed: int = 7, days: int = 120, coins: Sequence[str] = ("BTC", "ETH", "SOL"),
                   start_ms: int = DEFAULT_START_MS, origin_ms: int | None = None) -> MarketFeed:
    return generate_market(seed, days, coins, start_ms, origin_ms).feed


def timeline_origin(start_ms: int) -> int:
    """Where the seed's history that a window starting at `start_ms` is cut from begins: the
    one timeline of the generator, from DEFAULT_START_MS (2024-01-01), for any start on or
    after it; a history of its own, from `start_ms`, for an earlier start."""
    return DEFAULT_START_MS if start_ms >= DEFAULT_START_MS and not (start_ms - DEFAULT_START_MS) % HOUR_MS else start_ms
