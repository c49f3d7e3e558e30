"""Market data files: CSV round trip, validation errors that name file/line/column, funding
mapped to the bar it settles, data directories, and the real data when present."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from hyperliquid_agent.domain import is_valid_price
from hyperliquid_agent.errors import ConfigError, DataFileError
from hyperliquid_agent.exchange.feed import (
    HOUR_MS,
    candles_path,
    funding_path,
    infer_spec,
    load_feed,
    read_candles_csv,
    read_context_csv,
    read_funding_csv,
    save_feed,
    write_funding_csv,
)
from hyperliquid_agent.exchange.synthetic import synthetic_feed

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid"
T = 1_725_447_600_000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_save_and_load_round_trip_keeps_every_value(tmp_path: Path):
    feed = synthetic_feed(seed=5, days=3)
    save_feed(feed, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "BTC_1h_candles.csv", "BTC_1h_context.csv", "BTC_funding.csv", "ETH_1h_candles.csv", "ETH_1h_context.csv",
        "ETH_funding.csv", "SOL_1h_candles.csv", "SOL_1h_context.csv", "SOL_funding.csv", "meta.json"]
    back = load_feed(tmp_path)
    assert back.specs == feed.specs
    for coin, s in feed.series.items():
        b = back.series[coin]
        assert (b.t, b.open, b.high, b.low, b.close, b.volume) == (s.t, s.open, s.high, s.low, s.close, s.volume)
        assert (b.funding_t, b.funding_rate, b.bar_funding) == (s.funding_t, s.funding_rate, s.bar_funding)
        assert (b.oracle, b.open_interest) == (s.oracle, s.open_interest)


def test_csv_header_matches_the_shared_format(tmp_path: Path):
    save_feed(synthetic_feed(seed=1, days=2, coins=["BTC"]), tmp_path)
    assert candles_path(tmp_path, "BTC").read_text().splitlines()[0] == "t_ms,open,high,low,close,volume"
    assert funding_path(tmp_path, "BTC").read_text().splitlines()[0] == "time_ms,fundingRate"


@pytest.mark.parametrize("body, line, column, words", [
    ("t,open,high,low,close,volume\n", 1, None, "expected t_ms,open,high,low,close,volume"),
    (f"t_ms,open,high,low,close,volume\n{T},1,2,0.5,1.5,10\n{T + HOUR_MS},1,2,x,1.5,10\n", 3, "low", "'x' is not a number"),
    (f"t_ms,open,high,low,close,volume\n{T},1,2,0.5,1.5\n", 2, None, "5 fields; expected 6"),
    (f"t_ms,open,high,low,close,volume\n{T},1,2,0.5,1.5,10\n{T},1,2,0.5,1.5,10\n", 3, "t_ms", "not after"),
    (f"t_ms,open,high,low,close,volume\n{T},1,1.2,0.5,1.5,10\n", 2, "high", "below"),
    (f"t_ms,open,high,low,close,volume\n{T},1,2,1.1,1.5,10\n", 2, "low", "above"),
    (f"t_ms,open,high,low,close,volume\n{T},1,2,0.5,1.5,-1\n", 2, "volume", "negative"),
    (f"t_ms,open,high,low,close,volume\n{T},0,2,0,1.5,1\n", 2, "open", "positive"),
    (f"t_ms,open,high,low,close,volume\n1.7e12,1,2,0.5,1.5,1\n", 2, "t_ms", "integer"),
    ("t_ms,open,high,low,close,volume\n", None, None, "no candle rows"),
])
def test_bad_candle_files_name_the_file_line_and_column(tmp_path: Path, body, line, column, words):
    path = write(tmp_path / "BTC_1h_candles.csv", body)
    with pytest.raises(DataFileError) as err:
        read_candles_csv(path)
    e = err.value
    assert isinstance(e, ConfigError)
    assert (e.path, e.line, e.column) == (str(path), line, column)
    assert words in str(e) and str(path) in str(e)


def test_funding_premiums_round_trip_when_present(tmp_path: Path):
    path = write(tmp_path / "BTC_funding.csv", f"time_ms,fundingRate,premium\n{T},0.0001,-0.0002\n{T + 9},0.0002,\n")
    points = read_funding_csv(path)
    assert [p.premium for p in points] == [D("-0.0002"), None]
    write_funding_csv(tmp_path / "copy.csv", points)
    assert read_funding_csv(tmp_path / "copy.csv") == points
    write_funding_csv(tmp_path / "plain.csv", [p.model_copy(update={"premium": None}) for p in points])
    assert (tmp_path / "plain.csv").read_text().splitlines()[0] == "time_ms,fundingRate"


def test_a_context_file_with_a_repeated_time_is_refused_not_read_last_row_wins(tmp_path: Path):
    path = write(tmp_path / "BTC_1h_context.csv",
                 f"t_ms,oracle_px,open_interest\n{T},100,5\n{T + HOUR_MS},101,6\n{T + HOUR_MS},999,6\n")
    with pytest.raises(DataFileError, match="line 4, column t_ms: time .* is not after the previous row's .*; remove the"):
        read_context_csv(path)
    path.write_text(f"t_ms,oracle_px,open_interest\n{T + HOUR_MS},101,6\n{T},100,5\n")
    with pytest.raises(DataFileError, match="line 3, column t_ms: time .* is not after the previous row's .*; sort the"):
        read_context_csv(path)


def test_bad_funding_files_are_refused(tmp_path: Path):
    path = write(tmp_path / "BTC_funding.csv", f"time_ms,fundingRate\n{T},0.0001\n{T + 5},0.5\n")
    with pytest.raises(DataFileError, match="line 3, column fundingRate: rate 0.5 exceeds"):
        read_funding_csv(path)
    path = write(tmp_path / "ETH_funding.csv", f"time_ms,fundingRate,premium\n{T},8.6e-05,0.0002\n")
    assert read_funding_csv(path)[0].rate == D("0.000086") and read_funding_csv(path)[0].premium == D("0.0002")


def test_funding_records_settle_at_the_close_of_the_bar_they_fall_in(tmp_path: Path):
    write(candles_path(tmp_path, "BTC"), "t_ms,open,high,low,close,volume\n"
          + "".join(f"{T + k * HOUR_MS},10,11,9,10,1\n" for k in range(4)))
    # records land a few ms to minutes after each hour; none for the third bar; 8h-style gap
    write(funding_path(tmp_path, "BTC"), "time_ms,fundingRate\n"
          f"{T + HOUR_MS + 48},0.0001\n{T + 2 * HOUR_MS + 250000},0.0002\n{T + 4 * HOUR_MS + 3},-0.0003\n")
    feed = load_feed(tmp_path)
    assert feed.series["BTC"].bar_funding == (D("0.0001"), D("0.0002"), None, D("-0.0003"))


def test_a_data_directory_without_candles_or_with_a_bad_meta_says_how_to_fix_it(tmp_path: Path):
    with pytest.raises(DataFileError, match="not found"):
        load_feed(tmp_path / "missing")
    with pytest.raises(DataFileError, match="no \\*_1h_candles.csv"):
        load_feed(tmp_path)
    with pytest.raises(DataFileError, match="missing candles for DOGE"):
        load_feed(tmp_path, ["DOGE"])
    save_feed(synthetic_feed(seed=1, days=2, coins=["ETH"]), tmp_path)
    write(tmp_path / "meta.json", "{not json")
    with pytest.raises(DataFileError, match="meta.json"):
        load_feed(tmp_path)


def test_specs_come_from_meta_json_else_known_values_else_a_price_rule(tmp_path: Path):
    assert (infer_spec("BTC", 0, D(60000)).sz_decimals, infer_spec("BTC", 0, D(60000)).max_leverage) == (5, 40)
    assert infer_spec("SOL", 2, D(150)).sz_decimals == 2
    assert infer_spec("XYZ", 3, D("0.5")).sz_decimals == 0
    assert infer_spec("XYZ", 3, D(40)).sz_decimals == 2
    save_feed(synthetic_feed(seed=1, days=2, coins=["ETH", "SOL"]), tmp_path)
    write(tmp_path / "meta.json", '{"universe":[{"name":"SOL","szDecimals":1,"maxLeverage":7},'
                                  '{"name":"ETH","szDecimals":4,"maxLeverage":25}]}')
    feed = load_feed(tmp_path, ["ETH", "SOL"])
    assert feed.specs["SOL"].sz_decimals == 1 and feed.specs["SOL"].max_leverage == 7
    assert [feed.specs[c].asset_id for c in ("ETH", "SOL")] == [0, 1]  # contiguous, in coin order


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/hyperliquid not present")
def test_the_real_hyperliquid_csvs_load():
    feed = load_feed(REAL, ["BTC", "ETH", "SOL"])
    btc = feed.series["BTC"]
    assert len(btc) > 7000 and feed.interval_ms == HOUR_MS
    assert all(is_valid_price(p, 5) for p in btc.close[:500])
    settled = [r for r in btc.bar_funding if r is not None]
    assert len(settled) > 0.99 * len(btc)  # hourly funding covers nearly every bar
