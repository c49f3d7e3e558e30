"""Startup reconciliation against a venue that changed behind the agent's back: positions
are adopted (the venue is the truth) and the differences with the saved state flagged;
an open order this agent did not place is flagged and left alone."""

from __future__ import annotations

from decimal import Decimal

import requests
from typer.testing import CliRunner

from _agent_env import HOUR_MS, agent_config, target_reply
from hyperliquid_agent.app.agent import start_agent
from hyperliquid_agent.cli import app
from hyperliquid_agent.config import VenueConfig
from hyperliquid_agent.testing import ScriptedLLM

KEY = "0x" + "6b" * 32


def _start(cfg, client, cycles):
    checks: list[dict] = []
    agent = start_agent(cfg, max_cycles=cycles, client=client, on_check=checks.append)
    return agent, checks


def test_positions_and_orders_from_elsewhere_are_adopted_or_flagged_and_left_alone(tmp_path):
    from hyperliquid_agent.app.paper import paper_emulator
    from hyperliquid_agent.exchange.factory import build_venue_model

    model = build_venue_model(VenueConfig(synthetic_days=45))
    server = paper_emulator(model)
    url = server.start()
    server.advance_to(model.feed.timeline[0] + 31 * 24 * HOUR_MS)
    try:
        cfg = agent_config(tmp_path / "state", "standard", venue={"url": url}, hyperliquid={"secret_key": KEY})
        agent, _ = _start(cfg, ScriptedLLM([target_reply(("BTC", 20))]), 1)
        try:
            assert agent.run().records[0]["orders"], "the first session placed nothing"
        finally:
            agent.close()

        # someone else trades the same account (another tool, another state dir)
        other = tmp_path / "other.toml"
        other.write_text(f'[hyperliquid]\nsecret_key = "{KEY}"\n[venue]\nurl = "{url}"\n'
                         f'[agent]\nstate_dir = "{tmp_path / "other"}"\n')
        runner = CliRunner()
        res = runner.invoke(app, ["order", "buy", "ETH", "0.5", "-y", "-c", str(other), "--json"])
        assert res.exit_code == 0, res.output
        sol = Decimal(requests.post(url + "/info", json={"type": "allMids"}, timeout=5).json()["SOL"])
        price = str((sol * Decimal("0.97")).quantize(Decimal("0.01")))  # rests: below the market
        res = runner.invoke(app, ["order", "buy", "SOL", "1", "-p", price, "-y", "-c", str(other), "--json"])
        assert res.exit_code == 0, res.output

        agent, checks = _start(cfg, ScriptedLLM([target_reply(("BTC", 20))]), 1)
        try:
            lines = [c["detail"] for c in checks if c["check"] == "reconcile"]
            flagged = [c["detail"] for c in checks if c["check"] == "reconcile" and not c["ok"]]
            assert any(line.startswith("BTC: position") and line.endswith("adopted") for line in lines), lines
            assert any(line.startswith("FLAG ETH: venue holds 0.5") for line in flagged), lines
            assert any(line.startswith("FLAG open order") and "SOL" in line and "left alone" in line
                       for line in flagged), lines
            assert any(o.coin == "SOL" for o in agent.exchange.open_orders())  # not cancelled
        finally:
            agent.close()
    finally:
        server.stop()


def test_a_restarted_emulator_is_stepped_past_the_last_cycle_of_the_state_dir(tmp_path):
    # an emulator started again begins at its warm-up, hours before the cycles the state dir recorded;
    # a session there ran in the past of its own plan, loop schedule and risk counters
    from hyperliquid_agent.app.paper import paper_emulator
    from hyperliquid_agent.exchange.factory import build_venue_model

    def emulator():
        model = build_venue_model(VenueConfig(synthetic_days=45))
        server = paper_emulator(model)
        url = server.start()
        server.advance_to(model.feed.timeline[0] + 31 * 24 * HOUR_MS)
        return server, url

    server, url = emulator()
    try:
        cfg = agent_config(tmp_path / "state", "standard", venue={"url": url}, hyperliquid={"secret_key": KEY})
        agent, _ = _start(cfg, ScriptedLLM([target_reply(("BTC", 20))] * 3), 3)
        try:
            last = agent.run().records[-1]["time_ms"]
        finally:
            agent.close()
    finally:
        server.stop()
    from hyperliquid_agent.risk_store import load_counters, update_counters
    from hyperliquid_agent.store import StateStore

    store = StateStore.in_dir(cfg.state_dir)  # the last session ended far above the new account's $10,000
    update_counters(store, lambda c: c.__class__(**{**c.__dict__, "day_start_equity": Decimal(20000)}))
    store.close()
    server, url = emulator()
    try:
        cfg.venue.url = url
        agent, checks = _start(cfg, ScriptedLLM([target_reply(("BTC", 20))]), 1)
        try:
            rec = agent.run().records[0]
        finally:
            agent.close()
        assert rec["time_ms"] == last + HOUR_MS
        assert any("started again" in c["detail"] and "fresh account" in c["detail"] for c in checks), checks
        # a 50 % daily loss against the old account's equity would deny every opening order
        assert rec["orders"] and all(o["verdict"]["verdict"] == "approved" for o in rec["orders"]), rec["orders"]
        store = StateStore.in_dir(cfg.state_dir)
        assert load_counters(store).day_start_equity < 11000
        store.close()
    finally:
        server.stop()
