"""`hl-agent status` and `hl-agent audit show|tail` read saved state without starting anything."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hyperliquid_agent.app.status import save_status
from hyperliquid_agent.audit import AuditWriter, audit_path
from hyperliquid_agent.cli import app
from hyperliquid_agent.store import StateStore

runner = CliRunner()
T0 = 1_700_000_000_000  # 2023-11-14 UTC


def _config(tmp_path):
    state = tmp_path / "state"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[agent]\nstate_dir = "{state}"\n')
    return cfg, state


def _record(seq: int, cost: str = "0.01", time_ms: int = T0, status: str = "filled") -> dict:
    return {
        "cycle_id": f"c{seq}", "seq": seq, "time_ms": time_ms, "mode": "standard", "network": "local",
        "decision": {"summary": "target: BTC 20%"}, "plan_id": None, "regime": "range-bound",
        "orders": [{"intent": {"coin": "BTC", "side": "buy", "size": "0.01", "limit_price": "30000",
                               "cloid": "0x" + "0" * 31 + str(seq)}, "outcome": {"status": status}}],
        "llm": {"calls": 1, "cost_usd": cost}, "errors": [],
    }


def test_status_without_state_says_how_to_start(tmp_path):
    cfg, state = _config(tmp_path)
    res = runner.invoke(app, ["status", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["has_state"] is False and "hl-agent run" in data["message"]
    assert not state.exists()  # reading status created nothing


def test_status_reports_snapshot_and_todays_llm_cost(tmp_path):
    cfg, state = _config(tmp_path)
    store = StateStore.in_dir(state)
    save_status(store, {
        "cycle_id": "c2", "time_ms": T0 + 3_600_000, "time": "2023-11-14T23:13:20Z", "mode": "governed",
        "network": "local", "regime": "trending-bull", "trading_state": "ACTIVE",
        "account": {"portfolio_value": "10100.5", "available_balance": "9000",
                    "positions": [{"coin": "ETH", "size": "-2.5", "entry_price": "2000", "unrealized_pnl": "12",
                                   "leverage": 3, "liquidation_price": None}]},
        "plan": {"plan_id": "p-1", "strategy_id": "slow-trend", "dwell_remaining_minutes": 600},
    })
    store.close()
    w = AuditWriter(audit_path(state))
    w.append(_record(1, "0.01"))
    w.append(_record(2, "0.02", time_ms=T0 + 3_600_000))
    w.append(_record(3, "0.50", time_ms=T0 - 86_400_000 * 2))  # another day: not counted
    res = runner.invoke(app, ["status", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["plan"]["dwell_remaining_minutes"] == 600
    assert data["account"]["positions"][0]["size"] == "-2.5"
    assert data["llm_today"]["calls"] == 2 and data["llm_today"]["cost_usd"] == "0.03"
    res = runner.invoke(app, ["status", "-c", str(cfg)])
    assert res.exit_code == 0 and "p-1" in res.stdout and "trending-bull" in res.stdout and "ETH" in res.stdout


def test_audit_show_and_tail(tmp_path):
    cfg, state = _config(tmp_path)
    w = AuditWriter(audit_path(state))
    for i in range(1, 6):
        w.append(_record(i, status="filled" if i % 2 else "error"))
    res = runner.invoke(app, ["audit", "show", "c3", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["seq"] == 3
    res = runner.invoke(app, ["audit", "show", "4", "-c", str(cfg)])  # by sequence number, rich table
    assert res.exit_code == 0 and "c4" in res.stdout and "BTC" in res.stdout
    res = runner.invoke(app, ["audit", "tail", "-n", "2", "-c", str(cfg), "--json"])
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["seq"] for r in lines] == [4, 5]
    res = runner.invoke(app, ["audit", "tail", "-n", "3", "-c", str(cfg)])
    assert res.exit_code == 0 and "cycle_id=c3" in res.stdout and "cycle_id=c5" in res.stdout


def test_audit_tail_without_a_trail_says_how_to_start_one_and_prints_no_data(tmp_path):
    cfg, state = _config(tmp_path)
    res = runner.invoke(app, ["audit", "tail", "-c", str(cfg), "--json"])
    assert res.exit_code == 0 and res.stdout == "" and "no audit trail" in res.output and "hl-agent run" in res.output


def test_audit_show_unknown_cycle_fails_with_hint(tmp_path):
    cfg, _ = _config(tmp_path)
    res = runner.invoke(app, ["audit", "show", "nope", "-c", str(cfg)])
    assert res.exit_code == 1
    assert "hl-agent audit tail" in res.output


def test_a_damaged_line_is_a_clear_error_that_names_the_line_to_fix_and_changes_nothing(tmp_path):
    cfg, state = _config(tmp_path)
    w = AuditWriter(audit_path(state))
    for i in range(1, 4):
        w.append(_record(i))
    lines = audit_path(state).read_text().splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"  # a record cut in the middle
    audit_path(state).write_text("".join(lines))
    before = audit_path(state).read_bytes()
    for args in (["audit", "tail"], ["audit", "show", "c3"], ["audit", "replay", "c3"]):
        res = runner.invoke(app, [*args, "-c", str(cfg)])
        assert res.exit_code == 2, res.output
        assert "audit.jsonl:2" in res.output and "delete line 2" in res.output and "Traceback" not in res.output
    assert audit_path(state).read_bytes() == before


def test_status_takes_todays_llm_cost_from_the_ledger_when_there_is_one(tmp_path):
    import time
    from decimal import Decimal

    from hyperliquid_agent.llm.ledger import CallRecord, CostLedger

    cfg, state = _config(tmp_path)
    store = StateStore.in_dir(state)
    save_status(store, {"cycle_id": "c1", "time_ms": T0, "mode": "standard", "account": {}})
    now = int(time.time() * 1000)
    ledger = CostLedger(store)
    for cost in ("0.25", "0.50"):
        ledger.record(CallRecord(now, "run-1", "decision", "openai", "gpt-4o-mini", "ok", 100, 0, 0, 50,
                                 cost_usd=Decimal(cost)))
    ledger.record(CallRecord(now - 3 * 86_400_000, "run-0", "decision", "openai", "gpt-4o-mini", "ok",
                             cost_usd=Decimal("9")))
    store.close()
    data = json.loads(runner.invoke(app, ["status", "-c", str(cfg), "--json"]).stdout)
    assert data["llm_today"]["source"] == "ledger"
    assert data["llm_today"]["calls"] == 2 and Decimal(data["llm_today"]["cost_usd"]) == Decimal("0.75")


def test_follow_yields_records_as_they_are_appended(tmp_path):
    import threading

    from hyperliquid_agent.audit import follow

    path = audit_path(tmp_path)
    w = AuditWriter(path)
    w.append(_record(1))  # already there: follow starts at the end
    seen: list[int] = []
    done = threading.Event()

    def writer():
        for i in (2, 3):
            w.append(_record(i))
        done.set()

    threading.Timer(0.1, writer).start()
    for rec in follow(path, poll_s=0.02, stop=lambda: len(seen) >= 2):
        seen.append(rec["seq"])
    assert seen == [2, 3] and done.wait(2)


def test_follow_loses_nothing_across_rotations_and_reads_a_new_file_whole(tmp_path):
    import threading
    import time

    from hyperliquid_agent.audit import audit_files, follow

    path = audit_path(tmp_path)
    line = len(json.dumps(_record(1), separators=(",", ":"))) + 1
    w = AuditWriter(path, max_bytes=2 * line + 10)  # a new file every two records
    w.append(_record(1))
    seen: list[int] = []

    def writer():
        for i in range(2, 12):
            w.append(_record(i))  # bursts: several records, and rotations, between two polls

    threading.Timer(0.05, writer).start()
    deadline = time.monotonic() + 20  # a failure must not hang the suite
    for rec in follow(path, poll_s=0.02, stop=lambda: len(seen) >= 10 or time.monotonic() > deadline):
        seen.append(rec["seq"])
    assert seen == list(range(2, 12)) and len(audit_files(path)) >= 5

    fresh = audit_path(tmp_path / "later")  # no file yet when following starts
    seen.clear()
    threading.Timer(0.05, lambda: [AuditWriter(fresh).append(_record(i)) for i in (1, 2)]).start()
    deadline = time.monotonic() + 20
    for rec in follow(fresh, poll_s=0.02, stop=lambda: len(seen) >= 2 or time.monotonic() > deadline):
        seen.append(rec["seq"])
    assert seen == [1, 2]
