from hyperliquid_agent.times import utc_minute


def test_a_time_reads_to_the_minute_in_utc_and_an_impossible_one_as_its_milliseconds():
    assert utc_minute(1_706_745_600_000 + 59_999) == "2024-02-01 00:00"  # (seconds are cut, not rounded)
    assert utc_minute(1_706_745_600_000, zone=True) == "2024-02-01 00:00 UTC"
    assert utc_minute(10**20) == "100000000000000000000 ms"
