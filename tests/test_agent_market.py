"""The market collector keeps history between cycles and fetches only what is new: a
re-fetched bar that did not change keeps its object (the signal cache's fast path), one
that changed is replaced, and the signals equal a from-scratch computation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hyperliquid_agent.app.market import MarketCollector
from hyperliquid_agent.domain import Candle, MarketSnapshot
from hyperliquid_agent.signals import HOUR_MS, MarketHistory, compute_signals

T0 = 1_700_000_000_000 // HOUR_MS * HOUR_MS


class CandleVenue:
    """Hourly candles as fresh objects on every request; the bar open at `now` is still moving."""

    def __init__(self, open_bar: bool) -> None:
        self.open_bar = open_bar  # the real venue serves the bar still open; the emulator only closed ones
        self.now = T0 + 800 * HOUR_MS
        self.requests: list[tuple[int, int]] = []

    def _bar(self, t: int) -> Candle:
        k = (t - T0) // HOUR_MS
        close = Decimal(100 + k % 17) + (Decimal(self.now % 7) if t == self.now else 0)  # the open bar moves
        return Candle(t_ms=t, open=Decimal(100 + k % 13), high=Decimal(130), low=Decimal(90), close=close,
                      volume=Decimal(5))

    def candles(self, coin, interval, start_ms, end_ms):
        self.requests.append((start_ms, end_ms))
        first = -(-start_ms // HOUR_MS) * HOUR_MS
        last = self.now if self.open_bar else self.now - HOUR_MS
        return [self._bar(t) for t in range(first, min(end_ms, last) + 1, HOUR_MS)]

    def asset_specs(self):
        return {}

    def market_snapshot(self):
        return MarketSnapshot(time_ms=self.now, mids={})

    def funding_history(self, coin, start_ms, end_ms=None):
        return []

    def l2_book(self, coin):
        raise LookupError("no book here")

    def book_view(self, coin):
        return self.l2_book(coin).view()


@pytest.mark.parametrize("open_bar", [True, False])
def test_unchanged_bars_keep_their_objects_and_signals_match_a_fresh_computation(open_bar):
    venue = CandleVenue(open_bar)
    collector = MarketCollector(venue, ["BTC"])
    collector.collect(venue.now)
    held = list(collector._state["BTC"].candles)
    venue.now += HOUR_MS + 5  # a little past the next hour
    data = collector.collect(venue.now)
    now_held = collector._state["BTC"].candles
    assert venue.requests[-1][0] == held[-1].t_ms  # only from the last known bar on
    before = {c.t_ms: c for c in held}
    assert now_held[0].t_ms > held[0].t_ms and now_held[-1].t_ms > held[-1].t_ms  # the window slid
    refetched = now_held[len([c for c in now_held if c.t_ms < held[-1].t_ms])]
    assert refetched.t_ms == held[-1].t_ms
    if open_bar:  # the bar open at the first cycle closed with another price: replaced
        assert refetched is not before[refetched.t_ms] and refetched.close != before[refetched.t_ms].close
    else:  # re-fetched but unchanged: still the very same object, like every older bar
        assert refetched is before[refetched.t_ms]
    assert all(c is before[c.t_ms] for c in now_held if c.t_ms < held[-1].t_ms)
    fresh = compute_signals(MarketHistory(coins={"BTC": _history(now_held)}, snapshot=venue.market_snapshot()),
                            venue.now)
    assert data.signals == fresh


def _history(candles):
    from hyperliquid_agent.signals import CoinHistory

    return CoinHistory(candles=list(candles), funding=[], book=None, open_interest=(), interval_ms=HOUR_MS)


def test_a_perp_without_an_asset_context_is_named_in_the_cycle_errors():
    from hyperliquid_agent.domain import AssetSpec

    class NoContexts(CandleVenue):
        def asset_specs(self):
            return {"BTC": AssetSpec(name="BTC", asset_id=0, sz_decimals=5, max_leverage=40),
                    "@1": AssetSpec(name="@1", asset_id=10001, sz_decimals=2, max_leverage=1, market_type="spot")}

    venue = NoContexts(open_bar=False)
    data = MarketCollector(venue, ["BTC", "@1"]).collect(venue.now)
    assert [e for e in data.errors if "asset context" in e] == [
        "BTC: no asset context in the venue's metaAndAssetCtxs: its funding rate, open interest, mark and oracle "
        "are missing from this cycle's signals"]  # a spot pair has none to miss


def test_the_bars_held_over_the_simulated_venue_are_the_venues_bars():
    """The simulated venue hands back the bar the collector holds (the same object): the new
    bars are appended, and the history is what one request for the whole window gives."""
    from hyperliquid_agent.exchange.model import VenueModel
    from hyperliquid_agent.exchange.simulated import SimulatedExchange
    from hyperliquid_agent.exchange.synthetic import synthetic_feed

    feed = synthetic_feed(seed=5, days=35)
    model = VenueModel(feed, start_ms=feed.timeline[760])
    collector = MarketCollector(SimulatedExchange(model, "0x" + "0a" * 20, start_usdc=Decimal(1000)), feed.coins)
    for t in feed.timeline[760:790]:
        model.advance_to(t)
        collector.collect(t)
        floor = t - collector.lookback_bars * HOUR_MS
        for coin in feed.coins:
            assert collector._state[coin].candles == model.candles(coin, "1h", floor, t)
