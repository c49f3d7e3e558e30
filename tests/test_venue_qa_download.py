"""`data download` resumed after an interruption while it was filling in rows before the stored
ones: the next run must end with every row, no hole (against the emulator, never the internet)."""

from __future__ import annotations

import pytest

from hyperliquid_agent.exchange import feed
from hyperliquid_agent.exchange.download import Downloader, WeightLimiter
from hyperliquid_agent.exchange.emulator import EmulatorServer
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed

HOUR = 3_600_000
DAY = 24 * HOUR


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def server():
    market = synthetic_feed(seed=4, days=45, coins=("BTC",))
    with EmulatorServer(VenueModel(market, start_ms=market.start_ms + 40 * DAY)) as srv:
        yield srv


def run(server, out, start, *, stop_at=None, **kw):
    """One download of BTC from `start` to now; `stop_at(message)` true interrupts it there."""
    def progress(msg: str) -> None:
        if stop_at is not None and stop_at(msg):
            raise Interrupted(msg)

    slept = []
    d = Downloader(server.url, out, limiter=WeightLimiter(sleep=slept.append), sleep=slept.append,
                   now_ms=server.now_ms, backoff_s=0.001, progress=progress, **kw)
    return d.run(["BTC"], "1h", start, server.now_ms())


@pytest.mark.parametrize("where", ["candles", "funding"])
def test_an_interrupted_earlier_range_leaves_no_hole(server, tmp_path, where):
    now = server.now_ms()
    run(server, tmp_path, now - 5 * DAY)  # the folder holds the last 5 days
    start = now - 30 * DAY  # 600 funding rows: two pages at the venue's cap of 500
    if where == "candles":  # stop after the first page of earlier candles (pages of 2 days)
        with pytest.raises(Interrupted):
            run(server, tmp_path, start, candle_page=48, stop_at=lambda m: "candles" in m)
    else:  # candles done, stop after the first page of earlier funding
        with pytest.raises(Interrupted):
            run(server, tmp_path, start, stop_at=lambda m: "funding" in m)
    run(server, tmp_path, start, candle_page=48)  # resumed

    candles = feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h"))
    assert candles == server.model.candles("BTC", "1h", start, now)
    assert all(b.t_ms - a.t_ms == HOUR for a, b in zip(candles, candles[1:]))
    funding = feed.read_funding_csv(feed.funding_path(tmp_path, "BTC"))
    assert [p.time_ms for p in funding] == [p.time_ms for p in server.model.funding_history("BTC", start, now)]
