"""Point-in-time signals over candles, funding, book and open interest (pure).

A signals table is `dict[str, dict[str, float | None]]`: coin -> signal name -> value;
cross-asset signals live under the pseudo-coin "*".
"""

from __future__ import annotations

SIGNAL_NAMES: tuple[str, ...] = (
    "price",
    "ret_1h", "ret_24h", "ret_7d", "ret_30d",
    "sma20_dist", "sma50_dist",
    "ema20", "ema50", "ema_spread",
    "rsi14", "adx14",
    "rv_1h", "rv_24h", "rv_ann",
    "funding_now", "funding_24h_avg", "funding_trend",
    "oi_change_24h",
    "spread_bps", "depth_1pct_usd",
    "basis_bps",
)
CROSS_SIGNAL_NAMES: tuple[str, ...] = ("btc_eth_corr",)
CROSS_KEY = "*"
