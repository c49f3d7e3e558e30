"""The SQLite state store: survives reopening, rolls back failed transactions, fails clearly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hyperliquid_agent.errors import StateError
from hyperliquid_agent.store import StateStore, dumps, dumps_as_built


def test_values_survive_reopen(tmp_path):
    store = StateStore.in_dir(tmp_path)
    store.put("risk", "counters", {"notional": Decimal("123.45"), "trades": 3})
    store.close()
    again = StateStore.in_dir(tmp_path)
    assert again.get("risk", "counters") == {"notional": "123.45", "trades": 3}
    assert again.get("risk", "absent", "dflt") == "dflt"
    assert again.items("risk") == {"counters": {"notional": "123.45", "trades": 3}}


def test_failed_transaction_leaves_saved_state_intact(tmp_path):
    store = StateStore.in_dir(tmp_path)
    store.ensure_schema("t", "CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    store.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    assert store.execute("SELECT x FROM t") == [(1,)]
    store.put("agent", "kept", 1)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.put("agent", "kept", 2)
            store.delete("agent", "kept")
            store.put("agent", "new", 3)
            raise RuntimeError("boom")
    assert store.items("agent") == {"kept": 1}
    with store.transaction():
        store.put("agent", "new", 3)
        store.delete("agent", "kept")
    assert store.items("agent") == {"new": 3}


def test_many_entries_in_one_call_read_back_as_written(tmp_path):
    store = StateStore.in_dir(tmp_path)
    store.ensure_schema("t", "CREATE TABLE IF NOT EXISTS t (x INTEGER, y TEXT)")
    value = {"b": Decimal("1.50"), "a": [1, None]}
    assert dumps_as_built(value) == '{"b":"1.50","a":[1,null]}'  # keys as built, not sorted
    with store.transaction():
        store.put_many_text([("gov", "one", dumps_as_built(value)), ("gov", "two", dumps(value))])
        store.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")])
    store.put_many_text([("gov", "two", dumps_as_built([3]))])  # an existing key is replaced
    store.close()
    again = StateStore.in_dir(tmp_path)
    assert again.items("gov") == {"one": {"a": [1, None], "b": "1.50"}, "two": [3]}
    assert again.execute("SELECT x, y FROM t ORDER BY x") == [(1, "a"), (2, "b")]


def test_many_entries_outside_a_transaction_land_together_or_not_at_all(tmp_path):
    import sqlite3

    store = StateStore.in_dir(tmp_path)
    store.put_many_text([("gov", "one", "1"), ("gov", "two", "2")])
    with pytest.raises(sqlite3.IntegrityError):  # the second entry breaks a constraint: the first is not kept
        store.put_many_text([("gov", "one", "10"), ("gov", "two", None)])
    store.put_many_text([])
    assert StateStore.in_dir(tmp_path).items("gov") == {"one": 1, "two": 2}


def test_unreadable_file_is_a_clear_error_and_is_left_alone(tmp_path):
    bad = tmp_path / "state.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="Move it aside"):
        StateStore(bad)
    assert bad.read_bytes().startswith(b"this is not a database")


def test_risk_counters_are_read_back_after_every_save_and_a_damaged_row_is_a_clear_error(tmp_path):
    from hyperliquid_agent.risk_counters import RiskCounters
    from hyperliquid_agent.risk_store import NAMESPACE, KEY, load_counters, save_counters

    store = StateStore.in_dir(tmp_path)
    assert load_counters(store) == RiskCounters()
    save_counters(store, RiskCounters(day=3, consecutive_failures=2, daily_notional=Decimal("10.5")))
    assert load_counters(store) == load_counters(store) == RiskCounters(day=3, consecutive_failures=2,
                                                                         daily_notional=Decimal("10.5"))
    other = StateStore.in_dir(tmp_path)  # another process (an operator's reset-breaker) writes the row
    save_counters(other, RiskCounters(day=3, consecutive_failures=0, daily_notional=Decimal("10.5")))
    assert load_counters(store).consecutive_failures == 0
    store.put_text(NAMESPACE, KEY, "{not json")
    with pytest.raises(StateError, match="unreadable risk counters"):
        load_counters(store)


def test_an_in_memory_store_reads_back_what_a_file_store_does(tmp_path):
    """An in-memory store serves kv reads from the rows it last read or wrote (no other process
    can write them): over random writes and deletes, some in transactions that are rolled back, it
    reads what a file store reads, and what its own database holds."""
    import random

    rng = random.Random(8)
    memory, disk = StateStore.memory(), StateStore.in_dir(tmp_path)
    keys = [("risk", "counters"), ("agent", "a"), ("agent", "b"), ("governance", "governor")]

    def write(store: StateStore, op: int, ns: str, key: str, n: int) -> None:
        if op == 0:
            store.put(ns, key, {"n": n})
        elif op == 1:
            store.delete(ns, key)
        else:
            store.put_many_text([(ns, key, dumps(n)), ("agent", "b", dumps([n]))])

    def rolled_back(store: StateStore, op: int, ns: str, key: str, n: int) -> None:
        with pytest.raises(RuntimeError):
            with store.transaction():
                write(store, op, ns, key, n)
                store.get_text("agent", "a")  # read inside the block: a row it may undo
                raise RuntimeError("boom")

    for n in range(300):
        op, (ns, key), how = rng.randrange(3), rng.choice(keys), rng.choice((write, rolled_back))
        for store in (memory, disk):
            how(store, op, ns, key, n)
        for ns, key in keys:
            assert memory.get_text(ns, key) == disk.get_text(ns, key)
    for ns, key in keys:
        row = memory.execute("SELECT value FROM kv WHERE ns=? AND key=?", (ns, key))
        assert (row[0][0] if row else None) == memory.get_text(ns, key)
