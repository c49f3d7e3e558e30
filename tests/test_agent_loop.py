"""The run loop: schedule of fast/medium/slow loops, crash-only bookkeeping, graceful stop.

The runner here is a fake that implements `loop.CycleRunner`; the store, audit writer and
clock are the real ones (a stepped clock over a counter)."""

from __future__ import annotations

import threading

from hyperliquid_agent.app.loop import PENDING_KEY, AgentLoop, Schedule
from hyperliquid_agent.app.paper import SteppedClock, paper_start_ms
from hyperliquid_agent.app.status import AGENT_NS, load_status
from hyperliquid_agent.audit import AuditWriter, audit_path, read_records
from hyperliquid_agent.store import StateStore

H = 3_600_000


class FakeRunner:
    def __init__(self, fail_on: int | None = None, on_run=None) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.recovered: list[dict] = []
        self.fail_on, self.on_run = fail_on, on_run

    def run(self, cycle_id, seq, now_ms, loops):
        self.calls.append((cycle_id, loops))
        if self.on_run:
            self.on_run(seq)
        if seq == self.fail_on:
            raise RuntimeError("boom")
        return {"cycle_id": cycle_id, "seq": seq, "time_ms": now_ms, "loops": list(loops), "orders": [],
                "errors": [], "decision": {"summary": "hold"},
                "status_snapshot": {"cycle_id": cycle_id, "time_ms": now_ms, "account": {"portfolio_value": "1"}}}

    def recover(self, pending, now_ms):
        self.recovered.append(pending)
        return {"cycle_id": pending["cycle_id"], "seq": pending["seq"], "recovered": True, "orders": [], "errors": []}


class Counter:
    def __init__(self, t: int = 1_000 * H) -> None:
        self.t = t

    def now(self) -> int:
        return self.t

    def advance(self, t: int) -> None:
        self.t = t


def _loop(tmp_path, runner, schedule, cycles, stop=None, counter=None):
    store = StateStore.in_dir(tmp_path)
    counter = counter or Counter()
    loop = AgentLoop(runner, store, AuditWriter(audit_path(tmp_path)), SteppedClock(counter.now, counter.advance),
                     schedule, max_cycles=cycles, stop=stop)
    return loop, store, counter


def test_governed_schedule_runs_medium_and_slow_loops_on_their_intervals(tmp_path):
    runner = FakeRunner()
    loop, store, _ = _loop(tmp_path, runner, Schedule("governed", tick_s=3600, medium_s=4 * 3600, slow_s=24 * 3600), 9)
    loop.run()
    loops = [c[1] for c in runner.calls]
    assert loops[0] == ("fast", "medium", "slow")
    assert [i for i, lp in enumerate(loops) if "medium" in lp] == [0, 4, 8]
    assert sum("slow" in lp for lp in loops) == 1
    assert all(lp[0] == "fast" for lp in loops)
    store.close()


def test_standard_schedule_and_sequence_continue_across_restarts(tmp_path):
    runner = FakeRunner()
    loop, store, counter = _loop(tmp_path, runner, Schedule("standard", tick_s=3600), 3)
    loop.run()
    store.close()
    counter.t += H  # an hour passes before the restart
    runner2 = FakeRunner()
    loop2, store2, _ = _loop(tmp_path, runner2, Schedule("standard", tick_s=3600), 2, counter=counter)
    loop2.run()
    ids = [r["cycle_id"] for r in read_records(audit_path(tmp_path))]
    assert ids == ["c000001", "c000002", "c000003", "c000004", "c000005"]
    assert all(c[1] == ("standard",) for c in runner.calls + runner2.calls)
    times = [r["time_ms"] for r in read_records(audit_path(tmp_path))]
    assert all(b - a == H for a, b in zip(times, times[1:]))  # one tick apart, clock stepped, no waiting
    assert load_status(store2)["cycle_id"] == "c000005"
    assert store2.get(AGENT_NS, PENDING_KEY) is None and store2.get(AGENT_NS, "stopped_at_ms")
    store2.close()


def test_an_interrupted_cycle_is_reconciled_and_recorded_once_at_restart(tmp_path):
    store = StateStore.in_dir(tmp_path)
    store.put(AGENT_NS, "seq", 7)
    store.put(AGENT_NS, PENDING_KEY, {"cycle_id": "c000007", "seq": 7, "now_ms": 5, "loops": ["standard"]})
    store.close()
    runner = FakeRunner()
    loop, store, _ = _loop(tmp_path, runner, Schedule("standard", tick_s=3600), 1)
    result = loop.run()
    assert [p["cycle_id"] for p in runner.recovered] == ["c000007"]
    assert [r["cycle_id"] for r in result.recovered] == ["c000007"]
    recs = list(read_records(audit_path(tmp_path)))
    assert [r["cycle_id"] for r in recs] == ["c000007", "c000008"] and recs[0]["recovered"] is True
    store.close()


def test_a_crash_after_the_record_was_written_does_not_record_the_cycle_twice(tmp_path):
    w = AuditWriter(audit_path(tmp_path))
    w.append({"cycle_id": "c000003", "seq": 3})
    store = StateStore.in_dir(tmp_path)
    store.put(AGENT_NS, PENDING_KEY, {"cycle_id": "c000003", "seq": 3, "now_ms": 5})
    store.close()
    runner = FakeRunner()
    loop, store, _ = _loop(tmp_path, runner, Schedule("standard", tick_s=60), 0)
    assert loop.recover_pending() is None and runner.recovered == []
    assert store.get(AGENT_NS, PENDING_KEY) is None
    store.close()


def test_stop_request_finishes_the_current_cycle_then_returns(tmp_path):
    stop = threading.Event()
    runner = FakeRunner(on_run=lambda seq: stop.set() if seq == 2 else None)
    loop, store, _ = _loop(tmp_path, runner, Schedule("standard", tick_s=3600), None, stop=stop)
    result = loop.run()
    assert result.stopped_by_signal and len(result.records) == 2
    assert [r["cycle_id"] for r in read_records(audit_path(tmp_path))] == ["c000001", "c000002"]
    store.close()


def test_a_runner_bug_is_recorded_as_a_held_cycle_and_the_loop_goes_on(tmp_path):
    runner = FakeRunner(fail_on=2)
    loop, store, _ = _loop(tmp_path, runner, Schedule("standard", tick_s=3600), 3)
    result = loop.run()
    assert len(result.records) == 3
    bad = result.records[1]
    assert bad["orders"] == [] and "RuntimeError: boom" in bad["errors"][0]
    store.close()


def test_paper_clock_starts_after_warmup_or_continues_while_data_lasts():
    day = 86_400_000
    first, last = 0, 120 * day
    assert paper_start_ms(first, last, None, H, 48) == 31 * day
    assert paper_start_ms(first, last, 40 * day, H, 48) == 40 * day + H
    assert paper_start_ms(first, 10 * day, None, H, 48) == 10 * day - 48 * H  # short data: as late as fits


def test_a_paper_session_never_starts_before_the_previous_one():
    # back at the warm-up, the state dir's plan, loop schedule and risk counters would lie in the
    # future: a governed session then never reached its next medium loop (no plan review for 89 days)
    day = 86_400_000
    first, last = 0, 120 * day
    assert paper_start_ms(first, last, 119 * day, H, 48) == 119 * day + H  # runs to the end of the data
    assert paper_start_ms(first, last, last - H, H, 48) == last
    assert paper_start_ms(first, last, last, H, 48) is None  # used up: the caller refuses, naming the fix


def test_a_paper_session_stops_at_the_end_of_its_data(tmp_path):
    counter = Counter()
    store = StateStore.in_dir(tmp_path)
    clock = SteppedClock(counter.now, counter.advance, end_ms=counter.t + 2 * H)
    loop = AgentLoop(FakeRunner(), store, AuditWriter(audit_path(tmp_path)), clock, Schedule("standard", tick_s=3600),
                     max_cycles=None)
    result = loop.run()
    assert len(result.records) == 3 and result.data_exhausted and not result.stopped_by_signal
    store.close()


class Restarting(Counter):
    """An emulator elsewhere that cannot be reached for its next `down` steps."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down, self.asked = down, 0

    def advance(self, t: int) -> None:
        from hyperliquid_agent.errors import VenueUnavailableError

        self.asked += 1
        if self.asked <= self.down:
            raise VenueUnavailableError("cannot reach the emulator at http://127.0.0.1:3001: ConnectionError")
        super().advance(t)


def test_a_paper_session_waits_for_an_emulator_that_restarts(tmp_path, caplog):
    venue = Restarting(down=2)
    clock = SteppedClock(venue.now, venue.advance, retry_s=0.001)
    loop = AgentLoop(FakeRunner(), StateStore.in_dir(tmp_path), AuditWriter(audit_path(tmp_path)), clock,
                     Schedule("standard", tick_s=3600), max_cycles=3)
    result = loop.run()
    assert len(result.records) == 3 and not result.stopped_by_signal
    assert [r["time_ms"] for r in result.records] == [1_000 * H, 1_001 * H, 1_002 * H]  # no tick lost or skipped
    assert venue.asked == 4 and "asking again" in caplog.text


def test_a_paper_session_stopped_while_its_emulator_is_down_ends_without_an_error():
    venue = Restarting(down=10**6)
    stop = threading.Event()
    clock = SteppedClock(venue.now, venue.advance, retry_s=0.001)
    threading.Timer(0.05, stop.set).start()
    clock.wait_until(venue.t + H, stop)  # returns once stopped, raising nothing
    assert stop.is_set() and venue.t == 1_000 * H and venue.asked > 1


def test_a_failed_cycle_keeps_the_last_known_account_in_the_status(tmp_path):
    class Flaky(FakeRunner):
        def run(self, cycle_id, seq, now_ms, loops):
            rec = super().run(cycle_id, seq, now_ms, loops)
            if seq == 2:
                rec["errors"] = ["collect: venue down"]
                rec["status_snapshot"] = {"cycle_id": cycle_id, "partial": True, "last_errors": rec["errors"]}
            return rec

    loop, store, _ = _loop(tmp_path, Flaky(), Schedule("standard", tick_s=3600), 2)
    loop.run()
    status = load_status(store)
    assert status["cycle_id"] == "c000002" and status["last_errors"] == ["collect: venue down"]
    assert status["account"] == {"portfolio_value": "1"}  # from cycle 1
    store.close()


def test_wall_clock_waits_for_the_tick_but_a_stop_request_cuts_the_wait_short():
    import time

    from hyperliquid_agent.app.paper import WallClock

    clock, stop = WallClock(), threading.Event()
    t0 = time.monotonic()
    clock.wait_until(clock.now_ms() + 150, stop)
    assert time.monotonic() - t0 >= 0.12
    threading.Timer(0.05, stop.set).start()
    t0 = time.monotonic()
    clock.wait_until(clock.now_ms() + 60_000, stop)
    assert time.monotonic() - t0 < 5


def test_a_remote_emulator_clock_steps_forward_only_stops_at_its_data_end_and_a_vanished_one_is_a_clear_venue_error():
    import socket

    import pytest

    from hyperliquid_agent.app.paper import paper_emulator, remote_stepped_clock
    from hyperliquid_agent.config import VenueConfig
    from hyperliquid_agent.errors import VenueUnavailableError
    from hyperliquid_agent.exchange.factory import build_venue_model

    server = paper_emulator(build_venue_model(VenueConfig(synthetic_days=3)))
    url = server.start()
    try:
        clock, stop = remote_stepped_clock(url), threading.Event()
        t0 = clock.now_ms()
        clock.wait_until(t0 + H, stop)
        assert clock.now_ms() == server.now_ms() == t0 + H
        clock.wait_until(t0, stop)  # never back
        assert clock.now_ms() == t0 + H
        end = server.model.feed.timeline[-1]
        clock.wait_until(end, stop)  # the data's last bar: still within it
        assert (clock.now_ms(), clock.exhausted, stop.is_set()) == (end, False, False)
        clock.wait_until(end + H, stop)  # past the end of the emulator's data: the session stops there
        assert (clock.now_ms(), clock.exhausted, stop.is_set()) == (end, True, True)
    finally:
        server.stop()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(VenueUnavailableError, match="cannot reach the emulator"):
        remote_stepped_clock(dead, timeout_s=1).wait_until(10**13, threading.Event())
