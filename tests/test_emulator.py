"""The emulator server itself: framing, response shapes against the real recordings, the
clock, the operator door, faults, caps."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from emulator_support import address_of, funded_exchange, make_server, market_order, new_key, running_server
from hyperliquid_agent.domain import Side
from hyperliquid_agent.exchange.emulator import EmulatorServer, NonceBook, SimClock
from hyperliquid_agent.exchange.model import VenueModel
from hyperliquid_agent.exchange.synthetic import synthetic_feed
from test_wire_fixtures import FIXTURES, assert_same_shape, one

HOUR = 3_600_000


server = running_server(seed=3)


@pytest.fixture(scope="module")
def sdk_info(server):
    from hyperliquid.info import Info

    return Info(server.url, skip_ws=True)


def post(server, path, body, raw=False):
    data = body if raw else json.dumps(body)
    return requests.post(server.url + path, data=data, headers={"Content-Type": "application/json"}, timeout=5)


# ---------------------------------------------------------------- framing


def test_malformed_body_and_unknown_type_get_422_like_the_venue(server, sdk_info):
    r = post(server, "/info", b"{not json", raw=True)
    assert r.status_code == 422 and r.text == "Failed to deserialize the JSON body into the target type"
    assert post(server, "/info", {"type": "noSuchThing"}).status_code == 422
    assert post(server, "/nope", {"type": "meta"}).status_code == 404
    from hyperliquid.utils.error import ClientError

    with pytest.raises(ClientError) as err:
        sdk_info.post("/info", {"type": "bogus"})
    assert err.value.status_code == 422


def test_unknown_coin_candles_answer_500_null(server, sdk_info):
    r = post(server, "/info", {"type": "candleSnapshot",
                               "req": {"coin": "NOPE", "interval": "1h", "startTime": 0, "endTime": 1}})
    assert (r.status_code, r.text) == (500, "null")


def test_sdk_constructor_reads_meta_and_spot_meta(server, sdk_info):
    assert sdk_info.name_to_asset("BTC") == 0 and sdk_info.name_to_asset("SOL") == 2
    assert sdk_info.asset_to_sz_decimals[1] == 4


def test_signing_for_mainnet_is_not_accepted_locally(server):
    """A body signed for mainnet recovers another address: the venue's 'does not exist'."""
    from hyperliquid.utils.signing import sign_l1_action
    import eth_account

    key = new_key()
    server.create_account(address_of(key), 100)
    action = {"type": "scheduleCancel"}
    sig = sign_l1_action(eth_account.Account.from_key(key), action, None, 1_800_000_000_001, None, True)
    body = {"action": action, "nonce": 1_800_000_000_001, "signature": sig, "vaultAddress": None,
            "expiresAfter": None}
    got = post(server, "/exchange", body).json()
    assert got["status"] == "err" and got["response"].endswith("does not exist.")
    assert address_of(key) not in got["response"]


# ---------------------------------------------------------------- shapes vs the real recordings

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures not present")


@pytest.fixture(scope="module")
def busy_account(server):
    """An account with a position, a resting order, fills and funding payments."""
    ex = funded_exchange(server)
    ex.place_orders([market_order(ex, "BTC", Side.BUY, "0.02")])
    from emulator_support import limit_order

    ex.place_orders([limit_order(ex, "ETH", Side.BUY, "0.1", away="0.2")])
    server.step(3 * HOUR)  # funding settles hourly
    return ex


@needs_fixtures
@pytest.mark.parametrize("kind", ["meta", "allMids", "l2Book", "clearinghouseState", "userFills", "openOrders",
                                  "frontendOpenOrders", "userFunding", "candleSnapshot", "fundingHistory"])
def test_our_responses_have_the_recorded_shape(server, busy_account, kind):
    user = busy_account.user
    now = server.now_ms()
    bodies = {
        "meta": {"type": "meta"}, "allMids": {"type": "allMids"}, "l2Book": {"type": "l2Book", "coin": "BTC"},
        "clearinghouseState": {"type": "clearinghouseState", "user": user},
        "userFills": {"type": "userFills", "user": user}, "openOrders": {"type": "openOrders", "user": user},
        "frontendOpenOrders": {"type": "frontendOpenOrders", "user": user},
        "userFunding": {"type": "userFunding", "user": user, "startTime": 0},
        "candleSnapshot": {"type": "candleSnapshot",
                           "req": {"coin": "BTC", "interval": "1h", "startTime": now - 5 * HOUR, "endTime": now}},
        "fundingHistory": {"type": "fundingHistory", "coin": "BTC", "startTime": now - 5 * HOUR},
    }
    ours = post(server, "/info", bodies[kind]).json()
    theirs = one(kind)
    assert ours, f"empty {kind} response: the shape check would prove nothing"
    if kind == "allMids":
        assert all(isinstance(v, str) for v in ours.values())
        return
    assert_same_shape(ours, theirs)


@needs_fixtures
def test_order_status_has_the_recorded_historical_order_shape(server, busy_account):
    [order] = busy_account.open_orders()
    got = post(server, "/info", {"type": "orderStatus", "user": busy_account.user, "oid": order.oid}).json()
    assert got["status"] == "order" and got["order"]["status"] == "open"
    assert_same_shape(got["order"], one("historicalOrders")[0])
    unknown = post(server, "/info", {"type": "orderStatus", "user": busy_account.user, "oid": 10**12}).json()
    assert unknown == {"status": "unknownOid"}


def test_open_orders_are_listed_newest_first_as_the_venue_lists_them(server):
    from emulator_support import limit_order

    ex = funded_exchange(server)
    for away in ("0.2", "0.25", "0.3"):
        ex.place_orders([limit_order(ex, "ETH", Side.BUY, "0.1", away=away)])
    ex.place_orders([limit_order(ex, "BTC", Side.BUY, "0.001", away="0.2")])
    for kind in ("openOrders", "frontendOpenOrders"):
        rows = post(server, "/info", {"type": kind, "user": ex.user}).json()
        assert [r["coin"] for r in rows] == ["BTC", "ETH", "ETH", "ETH"]
        assert [r["oid"] for r in rows] == sorted((r["oid"] for r in rows), reverse=True)
    if FIXTURES.is_dir():  # the recording lists them so too
        recorded = one("openOrders")
        assert [r["oid"] for r in recorded] == sorted((r["oid"] for r in recorded), reverse=True)


def test_funding_is_paid_and_reported_per_position(server, busy_account):
    rows = post(server, "/info", {"type": "userFunding", "user": busy_account.user, "startTime": 0}).json()
    assert rows and all(r["delta"]["coin"] == "BTC" and r["delta"]["type"] == "funding" for r in rows)
    assert all(Decimal(r["delta"]["szi"]) == Decimal("0.02") for r in rows)


# ---------------------------------------------------------------- clock


def test_sim_clock_runs_at_the_speedup():
    wall = [1_000]
    clock = SimClock(50_000, speedup=3600, wall_ms=lambda: wall[0])
    assert clock.now_ms() == 50_000
    wall[0] += 1_000  # one wall second
    assert clock.now_ms() == 50_000 + 3_600_000
    manual = SimClock(7, speedup=None, wall_ms=lambda: wall[0])
    wall[0] += 10_000
    assert manual.now_ms() == 7 and not manual.running


def test_a_running_clock_advances_the_model_on_each_request():
    wall = [0]
    feed = synthetic_feed(seed=1, days=5)
    model = VenueModel(feed, start_ms=feed.start_ms + 24 * HOUR)
    start = model.now_ms
    with EmulatorServer(model, speedup=3600, wall_ms=lambda: wall[0]) as srv:
        mids_before = post(srv, "/info", {"type": "allMids"}).json()
        wall[0] += 5_000  # five wall seconds = five simulated hours
        mids_after = post(srv, "/info", {"type": "allMids"}).json()
        assert model.now_ms == start + 5 * HOUR
        assert mids_before != mids_after


def test_step_and_advance_to_move_the_model(server):
    t0 = server.now_ms()
    assert server.step(2 * HOUR) == t0 + 2 * HOUR
    assert server.model.now_ms == t0 + 2 * HOUR
    server.advance_to(t0)  # never backwards
    assert server.now_ms() == t0 + 2 * HOUR


# ---------------------------------------------------------------- operator door, faults, caps


def test_operator_door_funds_accounts_registers_agents_and_reads_the_clock(server):
    addr = address_of(new_key())
    got = post(server, "/emulator", {"type": "createAccount", "address": addr, "usdc": "1234.5"}).json()
    assert got["status"] == "ok" and got["nowMs"] == server.now_ms()
    state = post(server, "/info", {"type": "clearinghouseState", "user": addr}).json()
    assert Decimal(state["marginSummary"]["accountValue"]) == Decimal("1234.5")
    agent = address_of(new_key())
    post(server, "/emulator", {"type": "registerAgent", "agent": agent, "master": addr})
    assert server.agents[agent] == addr
    assert post(server, "/emulator", {"type": "createAccount"}).status_code == 422
    assert post(server, "/emulator", {"type": "clock"}).json()["nowMs"] == server.now_ms()


def test_faults_hit_only_their_path_and_count(server):
    server.inject_fault(429, count=2, path="/exchange")
    assert post(server, "/info", {"type": "allMids"}).status_code == 200
    assert post(server, "/exchange", {}).status_code == 429
    assert post(server, "/exchange", {}).status_code == 429
    assert post(server, "/exchange", {}).status_code != 429


def test_nonce_book_keeps_the_100_highest():
    book, now = NonceBook(), 10_000_000_000
    for n in range(now, now + 100):
        assert book.check_and_record("0xa", n, now) is None
    assert book.check_and_record("0xa", now - 1, now) == f"Invalid nonce: nonce too low {now - 1} < {now}"
    assert book.check_and_record("0xa", now + 100, now) is None  # evicts `now`
    assert book.check_and_record("0xa", now, now) == f"Invalid nonce: nonce too low {now} < {now + 1}"
    assert book.check_and_record("0xb", now - 5, now) is None  # per signer


def test_nonce_book_takes_only_nonces_within_two_days_back_and_one_day_ahead():
    book, now, day = NonceBook(), 10_000_000_000, 86_400_000
    oldest, newest = now - 2 * day, now + day
    assert book.check_and_record("0xa", oldest, now) == f"Invalid nonce: nonce too low {oldest} < {oldest}"
    assert book.check_and_record("0xa", newest, now) == f"Invalid nonce: nonce too high {newest} > {newest}"
    assert book.check_and_record("0xa", oldest + 1, now) is None
    assert book.check_and_record("0xa", newest - 1, now) is None
    assert book.check_and_record("0xa", newest - 1, now + day) == f"Invalid nonce: duplicate nonce {newest - 1}"


def test_candle_and_funding_caps():
    feed = synthetic_feed(seed=2, days=220, coins=("BTC",))
    model = VenueModel(feed, start_ms=feed.end_ms)
    with EmulatorServer(model) as srv:
        candles = post(srv, "/info", {"type": "candleSnapshot",
                                      "req": {"coin": "BTC", "interval": "1h", "startTime": 0,
                                              "endTime": srv.now_ms()}}).json()
        assert len(candles) == 5000 and len(feed.series["BTC"]) > 5000
        last = feed.series["BTC"]
        assert candles[-1]["t"] == last.t[len(last) - 1] and candles[0]["t"] == last.t[len(last) - 5000]  # the most recent
        funding = post(srv, "/info", {"type": "fundingHistory", "coin": "BTC", "startTime": 0}).json()
        assert len(funding) == 500 and funding[0]["time"] < funding[-1]["time"]


def test_candles_older_than_the_5000_most_recent_are_not_served_as_on_the_venue():
    # The venue keeps only the most recent 5000 candles of an interval: a range before them
    # answers nothing, one reaching into them only its recent part (a download asking for more
    # history than that gets less, on the emulator as on mainnet).
    feed = synthetic_feed(seed=2, days=220, coins=("BTC",))
    model = VenueModel(feed, start_ms=feed.end_ms)
    hour = 3_600_000
    with EmulatorServer(model) as srv:
        def candles(start: int, end: int, interval: str = "1h") -> list:
            return post(srv, "/info", {"type": "candleSnapshot", "req": {
                "coin": "BTC", "interval": interval, "startTime": start, "endTime": end}}).json()

        now = srv.now_ms()
        horizon = now - 5000 * hour
        assert feed.start_ms < horizon - 200 * hour
        assert candles(feed.start_ms, horizon - hour) == []
        older = candles(feed.start_ms, horizon + 99 * hour)
        assert [c["t"] for c in older] == [horizon + k * hour for k in range(100)]
        daily = candles(feed.start_ms, now, "1d")  # coarser intervals keep 5000 of theirs: all 220 days
        assert len(daily) >= 218


def test_server_stops_and_frees_its_port():
    srv = make_server(days=3, start_day=1)
    url = srv.start()
    assert requests.post(url + "/info", json={"type": "allMids"}, timeout=5).ok
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "/info", json={"type": "allMids"}, timeout=2)
