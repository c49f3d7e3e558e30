"""The agent as a real process: SIGTERM mid-run exits 0 after the cycle in progress, and
kill -9 followed by a restart loses nothing and sends no order twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from _agent_env import config_file
from hyperliquid_agent.audit import audit_path, read_records

HL_AGENT = [sys.executable, "-m", "hyperliquid_agent"]
KEY = "0x" + "5a" * 32

# An emulator in its own process (so the venue outlives the agent), warmed up 31 days.
EMULATOR = """
import threading
from hyperliquid_agent.app.paper import paper_emulator
from hyperliquid_agent.config import VenueConfig
from hyperliquid_agent.exchange.factory import build_venue_model
model = build_venue_model(VenueConfig(synthetic_days=90))
server = paper_emulator(model)
url = server.start()
server.advance_to(model.feed.timeline[0] + 31 * 86_400_000)
print(url, flush=True)
threading.Event().wait()
"""


def _wait(pred, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(state: Path) -> int:
    path = audit_path(state)
    return sum(1 for _ in read_records(path)) if path.exists() else 0


def test_sigterm_finishes_the_current_cycle_persists_and_exits_0(tmp_path):
    cfg = config_file(tmp_path, "[venue]\nsynthetic_days = 60\n", mode="standard", cycles=600)
    state = tmp_path / "state"
    proc = subprocess.Popen(HL_AGENT + ["run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        _wait(lambda: _count(state) >= 3, 60, "three cycles")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "stopped by signal" in out
    recs = list(read_records(audit_path(state)))
    assert 3 <= len(recs) < 600
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    from hyperliquid_agent.app.status import AGENT_NS
    from hyperliquid_agent.store import StateStore

    store = StateStore.in_dir(state)
    assert store.get(AGENT_NS, "pending_cycle") is None and store.get(AGENT_NS, "stopped_at_ms")
    assert store.get(AGENT_NS, "status")["cycle_id"] == recs[-1]["cycle_id"]
    store.close()


@pytest.fixture
def emulator():
    proc = subprocess.Popen([sys.executable, "-c", EMULATOR], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
    yield url
    proc.kill()
    proc.wait()


def test_kill_9_and_restart_loses_nothing_and_sends_no_order_twice(tmp_path, emulator):
    import eth_account

    address = eth_account.Account.from_key(KEY).address.lower()
    cfg = config_file(
        tmp_path,
        f'[hyperliquid]\nsecret_key = "{KEY}"\n[venue]\nurl = "{emulator}"\n'
        "[governance.governor]\nmedium_loop_s = 3600\ncooldown_minutes = 0\nchange_threshold_bps = 1\n",
        mode="governed", cycles=400)
    state = tmp_path / "state"
    proc = subprocess.Popen(HL_AGENT + ["run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    try:
        _wait(lambda: _count(state) >= 6, 90, "six cycles")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _count(state)
    res = subprocess.run(HL_AGENT + ["run", "-c", str(cfg), "--cycles", "4", "--json"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    recs = list(read_records(audit_path(state)))
    ids = [r["cycle_id"] for r in recs]
    assert len(ids) == len(set(ids)), "a cycle was recorded twice"
    assert len(recs) == before + 4 + len(summary["recovered_cycles"])
    assert [int(i[1:]) for i in ids] == sorted(int(i[1:]) for i in ids)

    # every order the venue saw is one row of our ledger, one venue order per cloid
    from hyperliquid_agent.orders_ledger import OrdersLedger
    from hyperliquid_agent.store import StateStore

    store = StateStore.in_dir(state)
    rows = {r.cloid: r for r in OrdersLedger(store).recent(10_000)}
    store.close()
    assert rows, "the session placed no orders, so the test proves nothing"
    fills = requests.post(emulator + "/info", json={"type": "userFills", "user": address}, timeout=5).json()
    opens = requests.post(emulator + "/info", json={"type": "frontendOpenOrders", "user": address}, timeout=5).json()
    oids_by_cloid: dict[str, set[int]] = {}
    for item in fills + opens:
        cloid = item.get("cloid")
        assert cloid in rows, f"the venue has order {item['oid']} that the ledger does not know"
        oids_by_cloid.setdefault(cloid, set()).add(item["oid"])
    assert all(len(oids) == 1 for oids in oids_by_cloid.values()), oids_by_cloid
    legs = [(r.cycle_id, r.leg) for r in rows.values()]
    assert len(legs) == len(set(legs))
