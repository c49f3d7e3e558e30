"""The emulator on requests a user script sends: bad field types answered like the venue
(HTTP 422, never a traceback and a bare 500), l2Book's nSigFigs/mantissa grouping, candle
intervals the emulator cannot build, malformed action bodies."""

from __future__ import annotations

import json
import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
import requests

from emulator_support import address_of, new_key, running_server
from hyperliquid_agent.exchange.emulator_actions import DESERIALIZE_ERROR, aggregate_levels

HOUR = 3_600_000


server = running_server(seed=5)


def post(server, path, body):
    return requests.post(server.url + path, data=json.dumps(body), headers={"Content-Type": "application/json"},
                         timeout=5)


@pytest.mark.parametrize("body", [
    {"type": "fundingHistory", "coin": "ETH", "startTime": 0, "endTime": "x"},
    {"type": "fundingHistory", "coin": "ETH", "startTime": "0"},
    {"type": "fundingHistory", "coin": "ETH"},
    {"type": "userFunding", "user": "0x" + "1" * 40},
    {"type": "userFunding", "user": "0x" + "1" * 40, "startTime": 0, "endTime": 1.5},
    {"type": "userFillsByTime", "user": "0x" + "1" * 40},
    {"type": "userFillsByTime", "user": "0x" + "1" * 40, "startTime": 0, "endTime": "soon"},
    {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": "1h", "startTime": "0"}},
    {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": "1h", "startTime": True}},
    {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": "1h", "startTime": 0, "endTime": 1e20}},
    {"type": "candleSnapshot", "req": {"coin": "ETH", "interval": "7m", "startTime": 0}},
    {"type": "l2Book", "coin": "ETH", "nSigFigs": 1},
    {"type": "l2Book", "coin": "ETH", "nSigFigs": "2"},
    {"type": "l2Book", "coin": "ETH", "nSigFigs": 4, "mantissa": 2},
    {"type": "l2Book", "coin": "ETH", "mantissa": 5},
])
def test_info_fields_of_the_wrong_type_get_422_and_no_traceback(server, caplog, body):
    with caplog.at_level(logging.ERROR, logger="hyperliquid_agent.exchange.emulator"):
        r = post(server, "/info", body)
    assert (r.status_code, r.text) == (422, DESERIALIZE_ERROR)
    assert not [rec for rec in caplog.records if rec.exc_info]  # the emulator did not fail on it


def test_a_candle_interval_finer_than_the_data_is_refused_with_a_reason(server, caplog):
    from hyperliquid.info import Info
    from hyperliquid.utils.error import ClientError

    info = Info(server.url, skip_ws=True)
    now = server.now_ms()
    with caplog.at_level(logging.ERROR, logger="hyperliquid_agent.exchange.emulator"):
        with pytest.raises(ClientError) as err:
            info.candles_snapshot("ETH", "15m", now - 4 * HOUR, now)
    assert err.value.status_code == 400
    assert "60m bars" in err.value.error_message and "not 15m" in err.value.error_message
    assert "1h, 2h, 4h" in err.value.error_message
    assert not [rec for rec in caplog.records if rec.exc_info]
    four_h = info.candles_snapshot("ETH", "4h", now - 24 * HOUR, now)  # coarser ones are built from 1h
    assert four_h and all(c["t"] % (4 * HOUR) == 0 and c["T"] == c["t"] + 4 * HOUR - 1 for c in four_h)


def test_l2book_nsigfigs_groups_the_levels_like_the_venue(server):
    plain = post(server, "/info", {"type": "l2Book", "coin": "ETH"}).json()
    grouped = post(server, "/info", {"type": "l2Book", "coin": "ETH", "nSigFigs": 2}).json()
    bids, asks = plain["levels"]
    gbids, gasks = grouped["levels"]
    best_bid, best_ask = Decimal(bids[0]["px"]), Decimal(asks[0]["px"])
    step = Decimal(1).scaleb(best_bid.adjusted() - 1)  # 2 significant figures
    assert Decimal(gbids[0]["px"]) == (best_bid / step).to_integral_value(ROUND_FLOOR) * step  # bids round down
    assert Decimal(gasks[0]["px"]) == (best_ask / step).to_integral_value(ROUND_CEILING) * step  # asks round up
    for side, gside in ((bids, gbids), (asks, gasks)):  # nothing lost, nothing made up
        assert sum(Decimal(x["sz"]) for x in gside) == sum(Decimal(x["sz"]) for x in side)
        assert sum(x["n"] for x in gside) == sum(x["n"] for x in side)
        assert all(len(Decimal(x["px"]).normalize().as_tuple().digits) <= 2 for x in gside)
    assert post(server, "/info", {"type": "l2Book", "coin": "ETH", "nSigFigs": 5}).json()["levels"] == plain["levels"]


def test_aggregate_levels_with_mantissa():
    bids = [{"px": "75873.0", "sz": "1.5", "n": 1}, {"px": "75871.0", "sz": "2.0", "n": 2},
            {"px": "75869.0", "sz": "0.25", "n": 1}]
    assert aggregate_levels(bids, 5, 5, bids=True) == [
        {"px": "75870.0", "sz": "3.5", "n": 3}, {"px": "75865.0", "sz": "0.25", "n": 1}]
    asks = [{"px": "2.1111", "sz": "10", "n": 1}, {"px": "2.1124", "sz": "5", "n": 1}]
    assert aggregate_levels(asks, 3, None, bids=False) == [{"px": "2.12", "sz": "15.0", "n": 2}]
    assert aggregate_levels(asks, None, None, bids=False) is asks


def _signed(key: str, action: dict, nonce: int) -> dict:
    from eth_account import Account
    from hyperliquid.utils import signing

    sig = signing.sign_l1_action(Account.from_key(key), action, None, nonce, None, False)
    return {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None, "expiresAfter": None}


@pytest.mark.parametrize("action", [
    {"type": "cancel", "cancels": [5]},
    {"type": "cancelByCloid", "cancels": "0xab"},
    {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": "order-7"}]},
    {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": "0x" + "_a" * 16}]},  # (int() takes these)
    {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": "0x" + " " * 31 + "1"}]},
    {"type": "order", "orders": [{"a": 1, "b": True, "p": "3000", "s": "0.1", "r": False, "t": "limit"}],
     "grouping": "na"},
    {"type": "order", "orders": [{"a": 1, "b": True, "p": "3000", "s": "0.1", "r": False,
                                  "t": {"limit": {"tif": "Gtc"}}, "c": "my-order-1"}], "grouping": "na"},
    {"type": "order", "orders": [], "grouping": "na"},
    {"type": "scheduleCancel", "time": "soon"},
    {"type": "usdClassTransfer", "amount": "NaN", "toPerp": True, "nonce": 1},
    {"type": "usdClassTransfer", "amount": "Infinity", "toPerp": False, "nonce": 1},
])
def test_malformed_actions_get_422_before_the_signature_or_the_nonce(server, caplog, action):
    from hyperliquid.utils import signing

    key = new_key()
    server.create_account(address_of(key), 1_000)
    nonce = signing.get_timestamp_ms()
    with caplog.at_level(logging.ERROR, logger="hyperliquid_agent.exchange.emulator"):
        r = post(server, "/exchange", _signed(key, action, nonce))
    assert (r.status_code, r.text) == (422, DESERIALIZE_ERROR)
    assert not [rec for rec in caplog.records if rec.exc_info]
    # the nonce was not used up: a good action with it still lands
    ok = post(server, "/exchange", _signed(key, {"type": "scheduleCancel"}, nonce)).json()
    assert ok == {"status": "ok", "response": {"type": "default"}}


# ---------------------------------------------------------------- hl-agent venue serve


def test_venue_serve_reads_a_relative_data_folder_from_where_it_is_run(tmp_path, monkeypatch):
    """`--data DIR` is typed on the command line: relative to the working directory, not to
    the config file's folder (which is where `[venue] data_dir` is read from)."""
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    elsewhere = tmp_path / "conf"
    elsewhere.mkdir()
    (elsewhere / "config.toml").write_text("[venue]\nsynthetic_days = 5\n")
    here = tmp_path / "work"
    (here / "mydata").mkdir(parents=True)
    (here / "mydata" / "BTC_1h_candles.csv").write_text("t_ms,open,high,low,close,volume\n1,2,3\n")
    monkeypatch.chdir(here)
    result = CliRunner().invoke(app, ["venue", "serve", "--data", "mydata", "--port", "0",
                                      "-c", str(elsewhere / "config.toml")])
    out = " ".join(result.output.split())
    assert result.exit_code == 2
    assert str(here / "mydata" / "BTC_1h_candles.csv") in out and "line 2" in out  # the folder we named was read


def test_venue_serve_given_a_file_for_data_names_the_folder_to_give(tmp_path):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    csv = tmp_path / "BTC_1h_candles.csv"
    csv.write_text("t_ms,open,high,low,close,volume\n")
    result = CliRunner().invoke(app, ["venue", "serve", "--data", str(csv), "--port", "0"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "is a file, not a data folder" in out and str(tmp_path) in out


# ---------------------------------------------------------------- the operator door


@pytest.mark.parametrize("body, message", [
    ({"type": "createAccount", "address": "0xab", "usdc": "100"}, "createAccount.address: '0xab' is not an address"),
    ({"type": "createAccount", "address": "0x" + "ab" * 20, "usdc": "-5"}, "createAccount.usdc: '-5'"),
    ({"type": "createAccount", "address": "0x" + "ab" * 20, "usdc": "NaN"}, "createAccount.usdc: 'NaN'"),
    ({"type": "createAccount", "address": "0x" + "ab" * 20}, "createAccount.usdc: None"),
    ({"type": "registerAgent", "agent": "bot", "master": "0x" + "ab" * 20}, "registerAgent.agent: 'bot'"),
    ({"type": "step", "ms": -5}, "step.ms: -5 is not a number of milliseconds >= 0"),
    ({"type": "step", "ms": "1h"}, "step.ms: '1h'"),
    ({"type": "rewind"}, "unknown operator request 'rewind'"),
])
def test_operator_door_refuses_bad_values_naming_the_field(server, body, message):
    before = server.now_ms()
    r = post(server, "/emulator", body)
    assert r.status_code == 422 and r.text.startswith(message)
    assert not server.model.has_account("0x" + "ab" * 20) and server.now_ms() == before


# ---------------------------------------------------------------- normalTpsl brackets


def _bracket(info_mid: float, entry_factor: float, tif: str = "Gtc") -> list[dict]:
    r5 = lambda x: round(float(f"{x:.5g}"), 2)  # noqa: E731 (the SDK's price recipe, ETH)
    entry = {"coin": "ETH", "is_buy": True, "sz": 0.1, "limit_px": r5(info_mid * entry_factor),
             "order_type": {"limit": {"tif": tif}}, "reduce_only": False}
    tp = {"coin": "ETH", "is_buy": False, "sz": 0.1, "limit_px": r5(info_mid * 1.2),
          "order_type": {"trigger": {"triggerPx": r5(info_mid * 1.2), "isMarket": True, "tpsl": "tp"}},
          "reduce_only": True}
    sl = {"coin": "ETH", "is_buy": False, "sz": 0.1, "limit_px": r5(info_mid * 0.7),
          "order_type": {"trigger": {"triggerPx": r5(info_mid * 0.75), "isMarket": True, "tpsl": "sl"}},
          "reduce_only": True}
    return [entry, tp, sl]


def _sdk(server):
    from eth_account import Account
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info

    key = new_key()
    server.create_account(address_of(key), 10_000)
    return Exchange(Account.from_key(key), server.url), Info(server.url, skip_ws=True), address_of(key)


fresh_server = running_server(scope="function", seed=5)


def test_a_resting_bracket_parent_holds_its_tpsl_until_it_fills(fresh_server):
    server = fresh_server
    ex, info, user = _sdk(server)
    mid = float(info.all_mids()["ETH"])
    got = ex.bulk_orders(_bracket(mid, 0.998), grouping="normalTpsl")
    statuses = got["response"]["data"]["statuses"]
    assert statuses[1:] == ["waitingForFill", "waitingForFill"]  # not "Reduce only order would increase position."
    parent = statuses[0]["resting"]["oid"]
    assert [o["oid"] for o in info.frontend_open_orders(user)] == [parent]
    for _ in range(48):  # hour by hour until a bar reaches the entry
        server.step(HOUR)
        if info.query_order_by_oid(user, parent)["order"]["status"] == "filled":
            break
    assert info.query_order_by_oid(user, parent)["order"]["status"] == "filled"
    orders = info.frontend_open_orders(user)
    assert sorted(o["orderType"] for o in orders) == ["Stop Market", "Take Profit Market"]
    assert all(o["reduceOnly"] and o["sz"] == "0.1" for o in orders)


def test_a_canceled_bracket_parent_drops_its_tpsl_and_a_filled_one_places_them_at_once(fresh_server):
    server = fresh_server
    ex, info, user = _sdk(server)
    mid = float(info.all_mids()["ETH"])
    statuses = ex.bulk_orders(_bracket(mid, 0.9), grouping="normalTpsl")["response"]["data"]["statuses"]
    assert ex.cancel("ETH", statuses[0]["resting"]["oid"])["response"]["data"]["statuses"] == ["success"]
    server.step(HOUR)
    assert info.frontend_open_orders(user) == [] and not server.pending_children
    statuses = ex.bulk_orders(_bracket(mid, 1.05, "Ioc"), grouping="normalTpsl")["response"]["data"]["statuses"]
    assert "filled" in statuses[0] and all("resting" in s for s in statuses[1:])


def test_asset_context_premium_is_written_to_8_decimals_like_the_venue(server):
    meta, ctxs = post(server, "/info", {"type": "metaAndAssetCtxs"}).json()
    exact = server.model.asset_contexts()
    for asset, ctx in zip(meta["universe"], ctxs):
        text = ctx["premium"]
        assert len(text.split(".")[1]) <= 8, text  # was 28 digits: "0.00009350913049867083450219746457"
        assert abs(Decimal(text) - exact[asset["name"]].premium) <= Decimal("0.000000005")


def test_venue_serve_says_when_the_replay_runs_out():
    from hyperliquid_agent.cli.venue_cmd import _data_horizon

    start = 1_706_745_600_000  # 2024-02-01 00:00 UTC
    text = _data_horizon(start, start + 89 * 24 * HOUR, 3600)
    assert "starts at 2024-02-01 00:00 UTC" in text and "ends at 2024-04-30 00:00 UTC" in text
    assert "36 min from now at 3600x" in text and "prices stand still" in text
    assert "8.9 h from now at 10x" in _data_horizon(start, start + 89 * HOUR, 10)


def test_schedule_cancel_needs_a_time_five_seconds_ahead_on_the_simulated_clock(fresh_server):
    """As on the venue; before, a past time was accepted and canceled every order at once, with
    a status time before the orders were placed."""
    server = fresh_server
    ex, info, user = _sdk(server)
    now = server.model.now_ms
    assert ex.schedule_cancel(now + 4_999) == {
        "status": "err", "response": "Scheduled cancel time too early, must be at least 5 seconds from now."}
    assert ex.schedule_cancel(1_700_000_000_000)["status"] == "err"
    assert ex.schedule_cancel(now + 5_000) == {"status": "ok", "response": {"type": "default"}}
    assert ex.schedule_cancel(None) == {"status": "ok", "response": {"type": "default"}}  # clearing needs no time


def test_venue_serve_refuses_one_spot_token_given_twice():
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--synthetic", "--port", "0",
                                      "--spot", "UBTC=BTC", "--spot", "UBTC=ETH"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "--spot UBTC is given twice (BTC and ETH)" in out


@pytest.mark.parametrize("spot, message", [("USDC=BTC", "'USDC' is the quote token"),
                                           ("@1=BTC", "'@1': use letters and digits only")])
def test_venue_serve_says_what_is_wrong_with_a_spot_token_name(spot, message):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app

    result = CliRunner().invoke(app, ["venue", "serve", "--synthetic", "--port", "0", "--spot", spot])
    assert result.exit_code == 2 and message in " ".join(result.output.split())


@pytest.mark.parametrize("length, status", [("abc", 400), ("-5", 400), (str(5 << 30), 413)])
def test_a_bad_content_length_is_answered_not_a_traceback(server, caplog, length, status):
    import socket

    with caplog.at_level(logging.ERROR):
        with socket.create_connection((server.host, int(server.url.rsplit(":", 1)[1])), timeout=5) as s:
            s.sendall(f"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
            head = s.recv(200).decode()
    assert head.startswith(f"HTTP/1.1 {status} ")
    assert post(server, "/info", {"type": "allMids"}).status_code == 200  # still serving


def test_a_real_info_type_the_emulator_does_not_serve_says_so(server):
    from hyperliquid.info import Info
    from hyperliquid.utils.error import ClientError

    with pytest.raises(ClientError) as err:
        Info(server.url, skip_ws=True).user_fees("0x" + "1" * 40)
    assert err.value.status_code == 400
    assert err.value.error_message.startswith("userFees: the local emulator does not serve this request")
    assert "candleSnapshot" in err.value.error_message
    assert post(server, "/info", {"type": "madeUp"}).status_code == 422  # not a venue type at all


def test_venue_serve_that_cannot_read_its_data_says_so_not_pick_another_port(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hyperliquid_agent.cli import app
    from hyperliquid_agent.exchange import feed

    (tmp_path / "BTC_1h_candles.csv").write_text("t_ms,open,high,low,close,volume\n")
    path = str(tmp_path / "BTC_1h_candles.csv")

    def unreadable(p):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(feed, "read_candles_csv", unreadable)
    result = CliRunner().invoke(app, ["venue", "serve", "--data", str(tmp_path), "--port", "0"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "cannot read the data: Permission denied" in out and path in out
    assert "--port" not in out


def test_fill_closed_pnl_is_written_to_usdc_decimals(fresh_server):
    """A close at an average fill price realizes size x price difference with up to 9 decimals;
    the venue writes USDC amounts to 6 (the recorded fills show at most 6)."""
    server = fresh_server
    ex, info, user = _sdk(server)
    ex.market_open("ETH", True, 2.3053)
    server.step(HOUR)
    ex.market_close("ETH")
    close = info.user_fills(user)[0]
    assert close["dir"] == "Close Long" and close["closedPnl"] != "0.0"
    assert len(close["closedPnl"].split(".")[1]) <= 6
    exact = server.model.fills(user)[-1].closed_pnl
    assert abs(Decimal(close["closedPnl"]) - exact) <= Decimal("0.0000005")
