"""`data download` and `data import` as a demanding user runs them (against the emulator, never
the internet): interrupted and resumed (no hole, no truncated file), dates and URLs that cannot
work, an --out that is a file, an import that replaces rows."""

from __future__ import annotations

import json

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


def test_an_end_in_the_future_asks_for_nothing_after_now(server, tmp_path):
    now = server.now_ms()
    before = server.count_requests(kind="candleSnapshot")
    far = now + 10 * 365 * DAY  # ten years ahead: 18 windows of 5000 hours, none with a candle yet
    d = Downloader(server.url, tmp_path, limiter=WeightLimiter(sleep=lambda s: None), sleep=lambda s: None,
                   now_ms=server.now_ms, backoff_s=0.001)
    (report,) = d.run(["BTC"], "1h", now - 2 * DAY, far)
    assert server.count_requests(kind="candleSnapshot") - before == 1
    assert report.candles_total == 48


def test_a_start_in_the_future_is_refused_before_any_request(server, tmp_path):
    d = Downloader(server.url, tmp_path, sleep=lambda s: None, now_ms=server.now_ms)
    before = server.count_requests()
    with pytest.raises(ValueError, match=r"--start \(.* UTC\) is in the future"):
        d.run(["BTC"], "1h", server.now_ms() + DAY, server.now_ms() + 2 * DAY)
    assert server.count_requests() == before


@pytest.mark.parametrize("args, message", [
    (["--start", "2024-03-02", "--end", "2024-03-01"],
     "--end (2024-03-01 00:00 UTC) must be after --start (2024-03-02 00:00 UTC)"),
    (["--start", "2024-03-01", "--url", "api.hyperliquid.xyz"], "--url 'api.hyperliquid.xyz': give the API's base URL"),
])
def test_cli_download_argument_errors_name_the_flag_and_send_nothing(tmp_path, args, message):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--out", str(tmp_path / "d"), *args])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and message in out
    assert "https://api.hyperliquid.xyz: --end" not in out
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- data import

CANDLES = "t_ms,open,high,low,close,volume\n1704067200000,100,101,99,100.5,10\n1704070800000,100.5,102,100,101,5\n"


def test_cli_import_into_a_file_is_an_error_not_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    (tmp_path / "BTC_1h_candles.csv").write_text(CANDLES)
    (tmp_path / "taken").write_text("x")
    result = CliRunner().invoke(app, ["data", "import", str(tmp_path / "BTC_1h_candles.csv"),
                                      "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "is a file, not a folder" in " ".join(result.output.split())
    assert (tmp_path / "taken").read_text() == "x"


def test_cli_import_says_which_rows_it_replaced(tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    src, data = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    data.mkdir()
    (src / "BTC_1h_candles.csv").write_text(CANDLES)
    longer = CANDLES + "1704074400000,101,103,100,102,7\n"
    (data / "BTC_1h_candles.csv").write_text(longer)
    result = CliRunner().invoke(app, ["data", "import", str(src / "BTC_1h_candles.csv"), "--out", str(data)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "imported BTC_1h_candles.csv (candles, 2 rows), replacing the 3 rows that" in out
    result = CliRunner().invoke(app, ["data", "import", str(src / "BTC_1h_candles.csv"), "--out",
                                      str(tmp_path / "fresh"), "--json"])
    assert json.loads(result.output)["files"][0]["replaced"] is None


def test_a_write_interrupted_midway_leaves_the_previous_file(tmp_path):
    """The downloader rewrites its CSVs after every page: Ctrl-C during a write must not leave
    a truncated file (the next run could not read it, and the rows in it would be lost)."""
    path = tmp_path / "BTC_1h_candles.csv"
    path.write_text(CANDLES)
    kept = feed.read_candles_csv(path)

    def rows():
        yield kept[0]
        raise KeyboardInterrupt  # half way through

    with pytest.raises(KeyboardInterrupt):
        feed.write_candles_csv(path, rows())
    assert path.read_text() == CANDLES and [p.name for p in tmp_path.iterdir()] == ["BTC_1h_candles.csv"]
    feed.write_candles_csv(path, kept[:1])
    assert feed.read_candles_csv(path) == kept[:1]


def test_a_coin_in_the_wrong_case_gets_the_right_name(server, tmp_path):
    d = Downloader(server.url, tmp_path, sleep=lambda s: None, now_ms=server.now_ms)
    with pytest.raises(ValueError, match="unknown coin 'btc' .*did you mean 'BTC'"):
        d.run(["btc"], "1h", server.now_ms() - DAY, server.now_ms())


def test_cli_download_of_another_interval_says_the_venue_does_not_replay_it(server, tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    start = str(server.now_ms() - 2 * DAY)
    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--interval", "4h", "--start", start,
                                      "--url", server.url, "--out", str(tmp_path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert "replay <COIN>_1h_candles.csv; these 4h candles are kept" in out
    assert (tmp_path / "BTC_4h_candles.csv").is_file()


def test_cli_download_over_a_broken_file_names_it_and_the_fix(server, tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    (tmp_path / "BTC_1h_candles.csv").write_text("t_ms,open,high,low,close,volume\n1,2,3\n")
    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--start", str(server.now_ms() - DAY),
                                      "--url", server.url, "--out", str(tmp_path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "BTC_1h_candles.csv, line 2" in out and "fix the file or move it away" in out
    assert not out.startswith(f"error: {server.url}")
    assert (tmp_path / "BTC_1h_candles.csv").read_text() == "t_ms,open,high,low,close,volume\n1,2,3\n"


def test_cli_download_into_a_file_is_an_error_not_a_traceback(server, tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    taken = tmp_path / "taken"
    taken.write_text("x")
    result = CliRunner().invoke(app, ["data", "download", "--coins", "BTC", "--start", str(server.now_ms() - DAY),
                                      "--url", server.url, "--out", str(taken)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "is a file, not a folder; give --out a folder" in out
    assert "fix the file" not in out and taken.read_text() == "x"


def test_cli_import_that_cannot_write_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    (tmp_path / "BTC_1h_candles.csv").write_text(CANDLES)

    def full_disk(src, dst, *args):
        dst.write(b"half a f")  # (what a full disk leaves: part of the copy)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full_disk)
    result = CliRunner().invoke(app, ["data", "import", str(tmp_path / "BTC_1h_candles.csv"),
                                      "--out", str(tmp_path / "data")])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "No space left on device" in out and "cannot import into" in out
    assert list((tmp_path / "data").iterdir()) == []  # no half-written file, under its name or another
