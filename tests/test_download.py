"""`hl-agent data download` / `data import` against the emulator (never the internet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hyperliquid_agent.cli import app
from hyperliquid_agent.exchange import feed
from hyperliquid_agent.exchange.download import Downloader, WeightLimiter, candle_weight, funding_weight
from hyperliquid_agent.exchange.emulator import EmulatorServer
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed

HOUR = 3_600_000
DAY = 24 * HOUR


class FakeTime:
    """A monotonic clock whose sleep just moves time on (so rate limiting costs no wall time)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


@pytest.fixture(scope="module")
def server():
    market = synthetic_feed(seed=9, days=45, coins=("BTC", "ETH"))
    model = VenueModel(market, start_ms=market.start_ms + 40 * DAY)
    with EmulatorServer(model) as srv:
        yield srv


def downloader(server, out: Path, **kw) -> Downloader:
    ft = FakeTime()
    kw.setdefault("limiter", WeightLimiter(clock=ft.clock, sleep=ft.sleep))
    return Downloader(server.url, out, sleep=ft.sleep, now_ms=server.now_ms, backoff_s=0.001, **kw)


def test_download_matches_the_venue_and_loads_as_a_feed(server, tmp_path):
    start, end = server.now_ms() - 30 * DAY, server.now_ms()
    reports = downloader(server, tmp_path).run(["BTC", "ETH"], "1h", start, end)
    btc = feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h"))
    assert btc == server.model.candles("BTC", "1h", start, end)
    assert len(btc) == 30 * 24
    funding = feed.read_funding_csv(feed.funding_path(tmp_path, "ETH"))
    assert [p.rate for p in funding] == [p.rate for p in server.model.funding_history("ETH", start, end)]
    assert {r.coin: r.candles_added for r in reports} == {"BTC": 720, "ETH": 720}
    loaded = feed.load_feed(tmp_path)
    assert loaded.specs["BTC"].sz_decimals == 5  # meta.json carries the venue's specs
    assert json.loads((tmp_path / "meta.json").read_text())["universe"][1]["name"] == "ETH"


def test_pages_respect_the_caps_without_gaps_or_duplicates(server, tmp_path):
    start, end = server.now_ms() - 30 * DAY, server.now_ms()
    [rep] = downloader(server, tmp_path, candle_page=100).run(["BTC"], "1h", start, end)
    assert rep.requests == 8 + 2  # 720 candles in pages of 100; 720 funding rows in pages of 500
    times = [c.t_ms for c in feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h"))]
    assert times == list(range(times[0], times[0] + 720 * HOUR, HOUR))
    ftimes = [p.time_ms for p in feed.read_funding_csv(feed.funding_path(tmp_path, "BTC"))]
    assert len(ftimes) == len(set(ftimes)) == 721  # hourly settlements, both ends inclusive
    assert ftimes == [p.time_ms for p in server.model.funding_history("BTC", start, end)]


def test_resume_fetches_only_what_is_missing(server, tmp_path):
    end = server.now_ms()
    dl = downloader(server, tmp_path)
    dl.run(["ETH"], "1h", end - 10 * DAY, end - 5 * DAY)
    [again] = downloader(server, tmp_path).run(["ETH"], "1h", end - 10 * DAY, end - 5 * DAY)
    assert again.candles_added == 0 and again.funding_added == 0 and again.requests == 0
    [more] = downloader(server, tmp_path).run(["ETH"], "1h", end - 12 * DAY, end)
    # open times end-10d..end-5d (121 bars) were on disk; now end-12d..end-1h (the last closed bar)
    assert more.candles_total == 12 * 24 and more.candles_added == 12 * 24 - (5 * 24 + 1)
    times = [c.t_ms for c in feed.read_candles_csv(feed.candles_path(tmp_path, "ETH", "1h"))]
    assert times == sorted(set(times)) and times[0] == end - 12 * DAY


def test_a_window_after_the_stored_rows_is_joined_to_them_without_a_hole(server, tmp_path):
    # days -20..-15 stored, then days -5..0 asked: the file held 121 bars, a 240-hour hole, then
    # 120 bars, which a replay of that folder crossed as if the hole were not there
    end = server.now_ms()
    downloader(server, tmp_path).run(["BTC"], "1h", end - 20 * DAY, end - 15 * DAY)
    downloader(server, tmp_path).run(["BTC"], "1h", end - 5 * DAY, end)
    times = [c.t_ms for c in feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h"))]
    assert times == list(range(end - 20 * DAY, end, HOUR))
    ftimes = [p.time_ms for p in feed.read_funding_csv(feed.funding_path(tmp_path, "BTC"))]
    assert ftimes == [p.time_ms for p in server.model.funding_history("BTC", end - 20 * DAY, end)]

def test_open_bars_are_not_stored(server, tmp_path):
    end = server.now_ms()
    dl = downloader(server, tmp_path)
    dl._now_ms = lambda: end - 3 * HOUR  # pretend the last three bars are still open
    [rep] = dl.run(["BTC"], "1h", end - DAY, end)
    assert rep.candles_total == 21


def test_weight_limiter_never_exceeds_the_budget_in_any_window():
    ft = FakeTime()
    lim = WeightLimiter(per_minute=100, clock=ft.clock, sleep=ft.sleep)
    stamps = []
    for _ in range(20):
        lim.acquire(20)
        stamps.append(ft.t)
    for t in stamps:
        assert sum(20 for s in stamps if t - 60 < s <= t) <= 100
    assert ft.slept and ft.t - 1000 >= 180  # 400 weight over the first 100 needs three more windows


def test_download_is_weight_limited(server, tmp_path):
    ft = FakeTime()
    lim = WeightLimiter(per_minute=120, clock=ft.clock, sleep=ft.sleep)
    end = server.now_ms()
    downloader(server, tmp_path, limiter=lim, candle_page=24).run(["BTC"], "1h", end - 5 * DAY, end)
    assert lim.waited_s > 0  # meta + 5 candle pages + 1 funding page = 140+ weight on a 120 budget
    assert candle_weight(5000) == 20 + 83 and funding_weight(500) == 45


def test_download_rides_through_429_and_500(server, tmp_path):
    end = server.now_ms()
    dl = downloader(server, tmp_path)
    dl._client()
    server.inject_fault(429, count=1, path="/info")
    server.inject_fault(500, count=1, path="/info")
    server.inject_fault(429, count=1, path="/info", body='{"error": "rate limited"}')  # not the venue's {code, msg}
    [rep] = dl.run(["BTC"], "1h", end - DAY, end)
    assert rep.candles_total == 24


def test_unknown_coin_is_a_clear_error(server, tmp_path):
    with pytest.raises(ValueError, match="unknown coin 'DOGE'"):
        downloader(server, tmp_path).run(["DOGE"], "1h", 0, server.now_ms())


def test_an_unknown_coin_anywhere_in_the_list_stops_the_download_before_anything_is_written(server, tmp_path):
    # BTC,DOGE: BTC's CSVs were written, then the error, and no meta.json: a folder the venue cannot load
    end = server.now_ms()
    with pytest.raises(ValueError, match="unknown coin 'DOGE'"):
        downloader(server, tmp_path).run(["BTC", "DOGE"], "1h", end - DAY, end)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- CLI


def test_cli_download_json(server, tmp_path):
    end = server.now_ms()
    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC,ETH", "--interval", "4h",
                                      "--start", str(end - 4 * DAY), "--end", str(end), "--out", str(tmp_path),
                                      "--url", server.url, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert [c["coin"] for c in got["coins"]] == ["BTC", "ETH"]
    assert feed.candles_path(tmp_path, "ETH", "4h").is_file()


def test_cli_download_bad_date(tmp_path):
    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--start", "yesterday",
                                      "--out", str(tmp_path)])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_cli_import_validates_then_copies(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = src / "BTC_1h_candles.csv"
    good.write_text("t_ms,open,high,low,close,volume\n0,1,2,0.5,1.5,10\n3600000,1.5,2,1,1.8,12\n")
    fund = src / "BTC_funding.csv"
    fund.write_text("time_ms,fundingRate\n3600000,0.0000125\n")
    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["data", "import", str(good), str(fund), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["rows"] == 2
    assert (out / "BTC_1h_candles.csv").read_text() == good.read_text()
    assert feed.load_feed(out).coins == ["BTC"]


def test_cli_import_bad_file_names_the_line_and_copies_nothing(tmp_path):
    good = tmp_path / "ETH_1h_candles.csv"
    good.write_text("t_ms,open,high,low,close,volume\n0,1,2,0.5,1.5,10\n")
    bad = tmp_path / "SOL_1h_candles.csv"
    bad.write_text("t_ms,open,high,low,close,volume\n0,1,2,0.5,1.5,10\n3600000,1,two,1,1,1\n")
    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["data", "import", str(good), str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "SOL_1h_candles.csv" in result.output and "line 3" in result.output
    assert not (out / "ETH_1h_candles.csv").exists()
    odd = tmp_path / "prices.csv"
    odd.write_text("x\n")
    result = CliRunner().invoke(app, ["data", "import", str(odd), "--out", str(out)])
    assert result.exit_code == 2 and "unrecognised file name" in result.output


def test_cli_import_error_shows_a_bracketed_path_as_written(tmp_path):
    missing = tmp_path / "[old]" / "BTC_funding.csv"
    result = CliRunner().invoke(app, ["data", "import", str(missing), "--out", str(tmp_path / "data")])
    assert result.exit_code == 2 and f"{missing}: file not found" in result.output  # not "\\[old]"


REAL_DATA = Path("/work/shared/data/hyperliquid")


@pytest.mark.skipif(not (REAL_DATA / "BTC_1h_candles.csv").is_file(), reason="../shared/data/hyperliquid not present")
def test_real_data_round_trips_through_the_emulator_unchanged(tmp_path):
    """Serve the recorded BTC candles and funding, download them back: identical rows."""
    real = feed.load_feed(REAL_DATA, coins=["BTC"])
    start = real.start_ms + 100 * DAY
    end = start + 20 * DAY
    model = VenueModel(real, start_ms=end + HOUR)
    with EmulatorServer(model) as srv:
        downloader(srv, tmp_path).run(["BTC"], "1h", start, end)
    source = [c for c in feed.read_candles_csv(REAL_DATA / "BTC_1h_candles.csv") if start <= c.t_ms <= end]
    assert feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h")) == source
    src_funding = [p for p in feed.read_funding_csv(REAL_DATA / "BTC_funding.csv") if start <= p.time_ms <= end]
    got = feed.read_funding_csv(feed.funding_path(tmp_path, "BTC"))
    assert [(p.time_ms, p.rate) for p in got] == [(p.time_ms, p.rate) for p in src_funding]


def test_cli_download_says_when_the_venue_kept_less_history_than_start_asks(tmp_path):
    # The venue serves only the most recent 5000 candles of an interval (about 208 days of 1h):
    # a --start 220 days back gets the last ~208 days, and the download says so instead of
    # reporting the shorter file as if it were the range asked for.
    market = synthetic_feed(seed=3, days=220, coins=("BTC",))
    with EmulatorServer(VenueModel(market, start_ms=market.end_ms)) as srv:
        start, end = market.start_ms, srv.now_ms()
        result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--start", str(start),
                                          "--end", str(end), "--out", str(tmp_path), "--url", srv.url])
        recent = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--start", str(end - 10 * DAY),
                                          "--end", str(end), "--out", str(tmp_path / "recent"), "--url", srv.url])
    assert recent.exit_code == 0 and "note:" not in recent.output  # a range the venue holds: nothing to say
    assert result.exit_code == 0, result.output
    first = feed.read_candles_csv(feed.candles_path(tmp_path, "BTC", "1h"))[0].t_ms
    assert first == end - 5000 * HOUR
    note = " ".join(result.output.split())
    assert "note: BTC: the venue served 1h candles from" in note and "most recent 5000 candles" in note
