"""`hl-agent order`: confirmation, risk verdicts, JSON output, cancel; once through the real emulator."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hyperliquid_agent.cli import app, order_cmd
from hyperliquid_agent.orders_ledger import OrdersLedger
from hyperliquid_agent.store import StateStore

from _order_fakes import FakeExchange

runner = CliRunner()


@pytest.fixture()
def cfg_path(tmp_path: Path) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\ncoins = ["BTC", "ETH", "SOL"]\n'
                 '[risk]\nmax_order_usd = 5000\n', encoding="utf-8")
    return p


@pytest.fixture()
def fake(monkeypatch) -> FakeExchange:
    ex = FakeExchange()
    closed: list[bool] = []
    monkeypatch.setattr(order_cmd, "open_exchange", lambda cfg: (ex, lambda: closed.append(True)))
    ex.closed = closed  # type: ignore[attr-defined]
    return ex


def run(*args: str, input: str | None = None):
    return runner.invoke(app, ["order", *args], input=input)


def test_buy_with_yes_places_a_risk_checked_market_order_and_prints_json(cfg_path, fake):
    res = run("buy", "ETH", "0.5", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    [order] = report["orders"]
    assert order["status"] == "filled" and order["verdict"]["verdict"] == "approved"
    assert order["intent"]["side"] == "buy" and Decimal(order["intent"]["size"]) == Decimal("0.5")
    assert order["intent"]["is_market"] and order["cloid"].startswith("0x")
    assert fake.positions["ETH"][0] == Decimal("0.5") and fake.closed
    ledger = OrdersLedger(StateStore.in_dir(cfg_path.parent / "state"))
    assert ledger.get(order["cloid"]).status == "filled"


def test_without_a_terminal_and_without_yes_nothing_is_sent(cfg_path, fake):
    res = run("buy", "ETH", "0.5", "-c", str(cfg_path))
    assert res.exit_code == 1 and "--yes" in res.output and fake.placed == []


def test_the_prompt_decides_when_interactive(cfg_path, fake, monkeypatch):
    monkeypatch.setattr(order_cmd, "interactive", lambda: True)
    res = run("sell", "SOL", "2", "-c", str(cfg_path), input="n\n")
    assert res.exit_code == 1 and "nothing was sent" in res.output and fake.placed == []
    res = run("sell", "SOL", "2", "-c", str(cfg_path), input="y\n")
    assert res.exit_code == 0, res.output
    assert "SELL 2.00 SOL" in res.output and fake.positions["SOL"][0] == Decimal(-2)


def test_a_risk_denial_is_shown_and_exits_non_zero(cfg_path, fake):
    res = run("buy", "BTC", "1", "--yes", "--json", "-c", str(cfg_path))  # $60k > max_order_usd
    assert res.exit_code == 1
    [order] = json.loads(res.output)["orders"]
    assert order["status"] == "denied" and order["verdict"]["reason_code"] == "max_order_usd"
    assert fake.placed == []


def test_close_buys_back_a_short_reduce_only_and_a_partial_size_is_honoured(cfg_path, fake):
    fake.set_position("SOL", "-10")
    res = run("close", "SOL", "--size", "4", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0, res.output
    [order] = json.loads(res.output)["orders"]
    assert order["intent"]["side"] == "buy" and order["intent"]["reduce_only"] and order["intent"]["purpose"] == "reduce"
    assert fake.positions["SOL"][0] == Decimal(-6)
    res = run("close", "SOL", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 0 and "SOL" not in fake.positions


def test_close_without_a_position_and_bad_numbers_fail_clearly(cfg_path, fake):
    res = run("close", "ETH", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 2 and "no ETH position" in res.output
    res = run("buy", "ETH", "lots", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 2 and "SIZE must be a number" in res.output
    res = run("buy", "DOGE", "1", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 2 and "unknown coin 'DOGE'" in res.output
    assert fake.placed == []


def test_limit_order_rests_and_cancel_by_oid_removes_it(cfg_path, fake):
    res = run("buy", "ETH", "1", "--price", "2950", "--yes", "--json", "-c", str(cfg_path))
    [order] = json.loads(res.output)["orders"]
    assert order["status"] == "resting" and order["intent"]["tif"] == "Gtc"
    res = run("cancel", "ETH", "--oid", str(order["oid"]), "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0 and json.loads(res.output)["cancelled"] is True and fake.resting == []
    res = run("cancel", "ETH", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 2 and "exactly one of --oid" in res.output
    res = run("cancel", "ETH", "--cloid", "0x12", "--yes", "-c", str(cfg_path))
    assert res.exit_code == 2 and "0x and 32 hex digits" in res.output  # not "not cancelled (... unknown)"


def test_buy_through_the_configured_local_emulator(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n[venue]\nsynthetic_days = 10\n', encoding="utf-8")
    res = run("buy", "BTC", "0.01", "--yes", "--json", "-c", str(cfg))
    assert res.exit_code == 0, res.output
    [order] = json.loads(res.output)["orders"]
    assert order["status"] == "filled" and Decimal(order["filled_size"]) == Decimal("0.01")
    assert json.loads(res.output)["account_after"]["positions"][0]["size"] == "0.01"


def test_the_confirmation_is_the_human_approval_above_the_threshold(tmp_path, fake, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\ncoins = ["ETH"]\n'
                   '[risk]\napproval_above_usd = 1000\n', encoding="utf-8")
    res = run("buy", "ETH", "0.5", "--yes", "--json", "-c", str(cfg))  # about $1500
    assert res.exit_code == 0, res.output
    [order] = json.loads(res.output)["orders"]
    assert order["status"] == "filled" and "human_approval" in order["verdict"]["checks"]
    monkeypatch.setattr(order_cmd, "interactive", lambda: True)
    res = run("buy", "ETH", "0.5", "-c", str(cfg), input="n\n")
    assert res.exit_code == 1 and len(fake.placed) == 1  # declined at the prompt: nothing more sent


def test_reset_breaker_rearms_only_the_failure_count(cfg_path, fake, monkeypatch):
    from hyperliquid_agent.risk_counters import RiskCounters, utc_day
    from hyperliquid_agent.risk_store import load_counters, save_counters

    fake.now_ms = lambda: fake.now  # the venue's clock, so the counters' day is the fake's day
    state = cfg_path.parent / "state"
    store = StateStore.in_dir(state)
    save_counters(store, RiskCounters(day=utc_day(fake.now), day_start_equity=Decimal(10000), consecutive_failures=5,
                                      daily_notional=Decimal(1234), last_open_ms=7))
    store.close()
    res = run("buy", "ETH", "0.5", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 1 and json.loads(res.output)["orders"][0]["verdict"]["reason_code"] == "circuit_breaker"
    res = run("reset-breaker", "-c", str(cfg_path))  # no terminal, no --yes: left alone
    assert res.exit_code == 1 and "--yes" in res.output
    monkeypatch.setattr(order_cmd, "interactive", lambda: True)
    res = run("reset-breaker", "--json", "-c", str(cfg_path), input="y\n")
    assert res.exit_code == 0, res.output
    assert '"consecutive_failures_before": 5' in res.output and '"was_tripped": true' in res.output
    store = StateStore.in_dir(state)
    c = load_counters(store)
    store.close()
    assert c.consecutive_failures == 0 and c.daily_notional == Decimal(1234) and c.last_open_ms == 7
    res = run("buy", "ETH", "0.5", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0 and json.loads(res.output)["orders"][0]["status"] == "filled"


def test_the_same_order_twice_at_the_same_venue_time_is_sent_twice(cfg_path, fake):
    fake.now_ms = lambda: fake.now  # a venue whose simulated clock stands still between commands
    for _ in range(2):  # two resting limit buys: the same coin, side, purpose and venue time
        res = run("buy", "ETH", "0.5", "--price", "2950", "--yes", "--json", "-c", str(cfg_path))
        [order] = json.loads(res.output)["orders"]
        assert res.exit_code == 0 and order["status"] == "resting" and not order["reconciled"]
    assert len(fake.placed) == 2 and len(fake.resting) == 2


def test_a_resting_limit_counts_toward_the_position_limit_of_the_next_order(tmp_path, fake):
    p = tmp_path / "config.toml"
    p.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\ncoins = ["ETH"]\n'
                 '[risk]\nmax_order_usd = 5000\nmax_position_usd = 5000\n', encoding="utf-8")
    first = json.loads(run("buy", "ETH", "1", "--price", "2950", "--yes", "--json", "-c", str(p)).output)
    assert [o["status"] for o in first["orders"]] == ["resting"]
    res = run("buy", "ETH", "1", "--price", "2950", "--yes", "--json", "-c", str(p))  # $3,000 + $3,000 resting
    [order] = json.loads(res.output)["orders"]
    assert res.exit_code == 1 and order["verdict"]["reason_code"] == "max_position_usd"
    assert "already resting" in order["verdict"]["detail"] and len(fake.resting) == 1


def test_a_market_order_the_venue_could_not_match_says_why_and_what_to_do(cfg_path, fake):
    fake.no_liquidity.add("ETH")  # the venue answers as when the price ran past the IOC bound
    res = run("buy", "ETH", "0.5", "--yes", "-c", str(cfg_path))
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "rejected" in text
    assert "hint: the price moved past the market order's bound (50 bps" in text
    assert "widen [portfolio] market_slippage_bps" in text and "--speedup" in text  # not eaten as markup
    res = run("buy", "SOL", "1", "--yes", "-c", str(cfg_path))  # a fill: no hint
    assert res.exit_code == 0 and "hint:" not in res.output


@pytest.mark.parametrize("hyperliquid", ['network = "mainnet"',
                                         'network = "testnet"\nbase_url = "https://api.hyperliquid.xyz"'])
def test_orders_on_mainnet_need_live_and_the_confirmation_before_the_venue_is_contacted(
        tmp_path, monkeypatch, hyperliquid):
    """`order` reaches the venue like `run` does: real money needs --live and a typed LIVE (or --yes
    with HL_AGENT_CONFIRM_MAINNET=yes), also when base_url is the mainnet API under another network."""
    opened: list[object] = []
    monkeypatch.setattr(order_cmd, "open_exchange", lambda cfg: opened.append(cfg) or (FakeExchange(), lambda: None))
    monkeypatch.delenv("HL_AGENT_CONFIRM_MAINNET", raising=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[hyperliquid]\n{hyperliquid}\nsecret_key = "0x{"11" * 32}"\n'
                   f'[agent]\nstate_dir = "{tmp_path / "state"}"\ncoins = ["BTC", "ETH", "SOL"]\n', encoding="utf-8")
    no_flag = run("buy", "ETH", "0.5", "--yes", "-c", str(cfg))
    assert no_flag.exit_code == 2 and "--live" in no_flag.output and "real money" in no_flag.output
    by_url = "base_url" in hyperliquid  # --testnet would not help there: the URL is what trades mainnet
    assert ("Use --testnet" in no_flag.output) is not by_url
    assert ("remove hyperliquid.base_url" in " ".join(no_flag.output.split())) is by_url
    assert run("cancel", "ETH", "--oid", "7", "--yes", "-c", str(cfg)).exit_code == 2
    unattended = run("sell", "ETH", "0.5", "--live", "--yes", "-c", str(cfg))
    assert unattended.exit_code == 2 and "HL_AGENT_CONFIRM_MAINNET=yes" in unattended.output
    wrong = run("close", "ETH", "--live", "-c", str(cfg), input="yes\n")
    assert wrong.exit_code == 1 and "not confirmed" in wrong.output and "nothing was sent" in wrong.output
    assert opened == []  # nothing reached the venue
    monkeypatch.setenv("HL_AGENT_CONFIRM_MAINNET", "yes")
    confirmed = run("buy", "ETH", "0.5", "--live", "--yes", "-c", str(cfg))
    assert "REAL MONEY" in confirmed.output and len(opened) == 1
    assert "ETH perp, market" in confirmed.output and " on mainnet" in confirmed.output  # whatever network says


def test_orders_on_testnet_and_the_local_venue_need_no_live_flag(cfg_path, fake):
    assert run("buy", "ETH", "0.5", "--yes", "--json", "-c", str(cfg_path)).exit_code == 0


def test_an_opening_order_is_made_at_the_configured_leverage_and_a_flip_closes_first(cfg_path, fake):
    # the venue's own default (20x on the emulator, 40x for this fake's BTC) is no setting the risk
    # policy ever saw: a manual open gets [portfolio] default_leverage first, as the agent's buy does
    res = run("buy", "BTC", "0.01", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert [s["intent"] for s in report["setup"]] == [{"kind": "leverage", "coin": "BTC", "leverage": 3,
                                                       "is_cross": True}]
    assert fake.calls.index("set_leverage:BTC:3") < max(i for i, c in enumerate(fake.calls) if c.startswith("place"))
    assert fake.positions["BTC"][2] == 3
    fake.set_position("SOL", "-10")
    res = run("buy", "SOL", "14", "--yes", "--json", "-c", str(cfg_path))
    assert res.exit_code == 0, res.output
    orders = json.loads(res.output)["orders"]
    assert [(o["intent"]["size"], o["intent"]["reduce_only"], o["intent"]["purpose"]) for o in orders] == [
        ("10.00", True, "close"), ("4.00", False, "open")]
    assert fake.positions["SOL"][0] == Decimal(4) and fake.positions["SOL"][2] == 3
