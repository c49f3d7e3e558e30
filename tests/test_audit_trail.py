"""The audit trail: append-only JSONL, redaction, rotation, torn-line tolerance."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.audit import (
    REDACTED,
    AuditWriter,
    audit_files,
    find_record,
    read_records,
    redact,
    redact_text,
    tail_records,
)
from hyperliquid_agent.domain import AccountState, Position
from hyperliquid_agent.errors import StateError
from hyperliquid_agent.logs import close_logging, cycle_fields, log_cycle, resolve_level, setup_logging


def _rec(i: int, **extra):
    return {"cycle_id": f"c{i:04d}", "seq": i, "mode": "standard", **extra}


def test_append_and_read_back_in_order(tmp_path):
    w = AuditWriter(tmp_path / "audit.jsonl")
    for i in range(5):
        w.append(_rec(i, account_before={"v": Decimal("10000.25")}))
    recs = list(read_records(tmp_path / "audit.jsonl"))
    assert [r["seq"] for r in recs] == [0, 1, 2, 3, 4]
    assert recs[0]["account_before"]["v"] == "10000.25"  # Decimal kept exact, as a string
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(line) for line in lines)


def test_pydantic_values_serialise_with_signed_sizes(tmp_path):
    acct = AccountState(portfolio_value=Decimal(100), available_balance=Decimal(50),
                        positions=(Position(coin="ETH", size=Decimal("-1.5"), entry_price=Decimal(2000)),))
    w = AuditWriter(tmp_path / "a.jsonl")
    w.append(_rec(1, account_before=acct))
    rec = find_record(tmp_path / "a.jsonl", "c0001")
    assert rec["account_before"]["positions"][0]["size"] == "-1.5"


def test_to_plain_turns_enums_tuples_sets_decimals_and_dataclasses_into_json_data():
    from dataclasses import dataclass
    from enum import Enum

    from hyperliquid_agent.audit import to_plain
    from hyperliquid_agent.domain import Side

    class Colour(Enum):
        RED = "red"

    @dataclass
    class Leg:
        side: Side
        size: Decimal

    value = {Colour.RED: (Side.BUY, {Decimal("1.50")}), 3: [Leg(Side.SELL, Decimal("-2"))], "n": None, "f": 1.5}
    plain = to_plain(value)
    assert plain == {"red": ["buy", ["1.50"]], "3": [{"side": "sell", "size": "-2"}], "n": None, "f": 1.5}
    assert type(plain["red"][0]) is str and json.loads(json.dumps(plain)) == plain


def test_to_plain_gives_a_model_seen_twice_the_same_plain_value_in_both_places():
    from hyperliquid_agent.audit import to_plain

    acct = AccountState(portfolio_value=Decimal("100.10"), available_balance=Decimal(50),
                        positions=(Position(coin="ETH", size=Decimal("-1.5"), entry_price=Decimal(2000)),))
    plain = to_plain({"account_after": acct, "status_snapshot": {"account": acct}, "before": acct.model_copy()})
    assert plain["account_after"] == plain["status_snapshot"]["account"] == plain["before"] == acct.model_dump(mode="json")
    assert plain["account_after"]["portfolio_value"] == "100.10"


def test_configured_secret_and_key_like_strings_are_redacted(tmp_path):
    secret = "my-very-private-value-123"
    pk = "0x" + "ab" * 32
    w = AuditWriter(tmp_path / "a.jsonl", secrets=[secret])
    w.append(_rec(1, raw_reply=f"key {secret} and sk-proj-ABCDEFGHIJKLMNOPQRST and {pk}",
                  nested={"api_key": "whatever", "list": [secret]}, cloid="0x" + "1" * 32))
    text = (tmp_path / "a.jsonl").read_text()
    assert secret not in text and "sk-proj-ABCDEFGHIJKLMNOPQRST" not in text and pk not in text
    rec = find_record(tmp_path / "a.jsonl", 1)
    assert rec["nested"]["api_key"] == REDACTED
    assert rec["nested"]["list"] == [REDACTED]
    assert rec["cloid"] == "0x" + "1" * 32  # a 16-byte cloid is not a key


def test_url_credentials_and_half_masked_keys_are_redacted_and_the_rest_kept():
    text = ("POST http://bob:canarypass9@127.0.0.1:8080/v1?model=x&api-key=canaryqkey7 failed; "
            "Incorrect API key provided: sk-canar************wxyz. See https://docs.example.com/a?id=2")
    out = redact_text(text)
    for leak in ("canarypass9", "canaryqkey7", "sk-canar", "wxyz"):
        assert leak not in out
    assert "http://bob:[REDACTED]@127.0.0.1:8080/v1?model=x&api-key=[REDACTED]" in out
    assert "https://docs.example.com/a?id=2" in out  # a URL without credentials is left alone


def test_words_that_contain_sk_dash_are_not_keys():
    # a key starts a token; strategy ids and prose often hold "...sk-..." inside a word
    text = "strategy risk-adjusted-momentum-overlay on task-scheduler-maintenance-window"
    assert redact_text(text) == text
    assert redact_text("key=sk-proj-abcdefghijklmnop1234, ok") == "key=[REDACTED], ok"


def test_secret_values_include_the_credentials_of_configured_urls():
    from hyperliquid_agent.audit import secret_values
    from hyperliquid_agent.config import config_from_dict

    cfg = config_from_dict({"llm": {"provider": "openai-compatible", "api_key": "tok-123456",
                                    "base_url": "https://u:pa%40ss-canary@llm.example/v1?token=qcanary42"},
                            "venue": {"url": "http://op:venuepass77@127.0.0.1:3001"}}, env={})
    found = secret_values(cfg)
    for value in ("tok-123456", "pa%40ss-canary", "pa@ss-canary", "qcanary42", "venuepass77"):
        assert value in found
    # printed in a form the patterns do not catch (no scheme), the configured value still goes
    assert "pa@ss-canary" not in redact_text("auth failed for u / pa@ss-canary", found)


def test_torn_last_line_is_tolerated_and_cut_before_next_append(tmp_path):
    path = tmp_path / "audit.jsonl"
    w = AuditWriter(path)
    w.append(_rec(1))
    w.append(_rec(2))
    with open(path, "ab") as fh:  # kill -9 in the middle of a write
        fh.write(b'{"cycle_id":"c0003","seq":3,"mode":"sta')
    assert [r["seq"] for r in read_records(path)] == [1, 2]
    w2 = AuditWriter(path)
    assert w2.torn_bytes > 0
    w2.append(_rec(3))
    assert [r["seq"] for r in read_records(path)] == [1, 2, 3]


def test_damaged_middle_line_names_file_and_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"seq":1}\nnot json\n{"seq":3}\n')
    with pytest.raises(StateError, match=r"audit.jsonl:2") as info:
        list(read_records(path))
    assert "delete line 2" in str(info.value)  # the fix is that line, not moving the whole trail aside


def test_rotation_by_size_keeps_every_record(tmp_path):
    path = tmp_path / "audit.jsonl"
    w = AuditWriter(path, max_bytes=10_000)
    for i in range(60):
        w.append(_rec(i, pad="x" * 500))
    files = audit_files(path)
    assert len(files) > 2
    assert all(f.stat().st_size <= 10_000 for f in files)
    assert [r["seq"] for r in read_records(path)] == list(range(60))
    assert [r["seq"] for r in tail_records(path, 3)] == [57, 58, 59]


def test_find_record_missing_is_none(tmp_path):
    assert find_record(tmp_path / "none.jsonl", "c1") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=6, max_size=40)
       .filter(lambda s: s not in REDACTED),  # key-like values; a piece of the marker itself is no secret
       st.text(max_size=60))
def test_redaction_never_leaks_a_configured_secret(secret, surrounding):
    data = {"a": surrounding + secret + surrounding, "b": [secret, {"c": secret}]}
    assert secret not in json.dumps(redact(data, [secret]))
    assert secret not in redact_text(surrounding + secret, [secret])



_PLAIN_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet="abcxyz 0123", max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(alphabet="abcxyz_", max_size=6), kids, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_PLAIN_TREES, _PLAIN_TREES)
def test_redaction_keeps_plain_data_and_blanks_secret_fields_at_any_depth(tree, other):
    assert redact(tree, ["zzzzzzzz"]) == tree  # nothing secret in it: an equal copy
    wrapped = {"a": [tree, {"api_key": other, "ok": other}], "password": "hunter22"}
    out = redact(wrapped, [])
    assert out["password"] == REDACTED and out["a"][0] == tree and out["a"][1]["ok"] == other
    assert out["a"][1]["api_key"] == (other if other in (None, "", False) else REDACTED)

def test_cycle_log_line_is_json_in_file_and_scrubs_secrets(tmp_path):
    term = io.StringIO()
    logger = setup_logging(tmp_path, "INFO", secrets=["hunter2-secret-token"], console=term)
    rec = {"cycle_id": "c1", "plan_id": "p-1", "regime": "range-bound", "mode": "governed",
           "decision": {"summary": "maintain plan"}, "orders": [{"outcome": {"status": "filled"}}],
           "llm": {"calls": 1, "cost_usd": "0.0012"}, "errors": []}
    log_cycle(logger, rec)
    logger.info("using key hunter2-secret-token")
    for h in logger.handlers:
        h.flush()
    lines = (tmp_path / "agent.log").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["event"] == "cycle" and first["cycle_id"] == "c1" and first["plan_id"] == "p-1"
    assert first["regime"] == "range-bound" and first["orders"] == 1 and first["cost_usd"] == "0.0012"
    assert first["order_statuses"] == {"filled": 1}
    assert "hunter2-secret-token" not in (tmp_path / "agent.log").read_text()
    assert "hunter2-secret-token" not in term.getvalue()
    assert "cycle_id=c1" in term.getvalue()  # readable on a terminal
    close_logging()  # release the file handler


def test_no_logger_or_handler_lets_a_secret_through_at_debug(tmp_path):
    """The vendor SDKs log URLs, options and tracebacks through `logging` at DEBUG, and their own
    switches (OPENAI_LOG, ANTHROPIC_LOG, a bare `logging.debug`) add root handlers of their own."""
    secret = "canary-token-Zq8Wv3Lx"  # not key-shaped: only the configured value can catch it
    url = "http://bob:canarypass9@127.0.0.1:9/v1?api-key=canaryqkey7"
    term, rooted = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    theirs = logging.StreamHandler(rooted)  # what logging.basicConfig() gives an SDK's switch
    theirs.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.addHandler(theirs)
    sdk = logging.getLogger("httpx2")
    old_level = sdk.level
    try:
        logger = setup_logging(tmp_path, "DEBUG", secrets=[secret], console=term)
        sdk.setLevel(logging.DEBUG)
        sdk.debug("HTTP Request: POST %s %r", url, {"headers": {"authorization": f"Bearer {secret}"}})
        try:
            raise RuntimeError(f"upstream said: bad key {secret} for {url}")
        except RuntimeError:
            sdk.debug("Encountered Exception", exc_info=True)
            logger.exception("llm call failed")
        logging.getLogger("hyperliquid_agent.llm").warning("retrying %s with %s", url, secret)
        for h in logger.handlers:
            h.flush()
    finally:
        root.removeHandler(theirs)
        sdk.setLevel(old_level)
        close_logging()
    logged = (tmp_path / "agent.log").read_text()
    assert "upstream said" in logged and "upstream said" in rooted.getvalue()  # the tracebacks are there
    for text in (logged, term.getvalue(), rooted.getvalue()):
        for leak in (secret, "canarypass9", "canaryqkey7"):
            assert leak not in text, (leak, text)


def test_cycle_fields_counts_errors():
    f = cycle_fields({"cycle_id": "x", "errors": ["venue down"], "orders": []})
    assert f["errors"] == 1 and f["orders"] == 0 and f["equity"] is None


def test_cycle_fields_show_equity_exactly_without_trailing_zeros_and_count_statuses():
    f = cycle_fields({"cycle_id": "x", "account_before": {"portfolio_value": "1.0"},
                      "account_after": {"portfolio_value": "9923.124486220000000000"},
                      "orders": [{"status": "filled"}, {"outcome": {"status": "resting"}}, {}, {"status": "filled"}]})
    assert f["equity"] == "9923.12448622" and f["order_statuses"] == {"filled": 2, "resting": 1, "unsent": 1}
    assert cycle_fields({"account_before": {"portfolio_value": "10000.00"}})["equity"] == "10000"


def test_log_level_env_wins_and_bad_value_is_clear():
    assert resolve_level("INFO", {"LOG_LEVEL": "debug"}) == "DEBUG"
    assert resolve_level("WARNING", {}) == "WARNING"
    with pytest.raises(Exception, match="LOG_LEVEL"):
        resolve_level("INFO", {"LOG_LEVEL": "loud"})
    assert logging.getLevelName("DEBUG") == 10


def test_warnings_of_other_modules_reach_the_log_file_scrubbed(tmp_path):
    term = io.StringIO()
    setup_logging(tmp_path, "INFO", secrets=["topsecret-value-42"], console=term, console_level="WARNING")
    try:
        logging.getLogger("hyperliquid_agent.llm").warning("provider said: bad key topsecret-value-42")
    finally:
        close_logging()
    line = json.loads((tmp_path / "agent.log").read_text().splitlines()[-1])
    assert line["level"] == "WARNING" and "provider said" in line["event"]
    assert "topsecret-value-42" not in (tmp_path / "agent.log").read_text() + term.getvalue()
    assert logging.getLogger("hyperliquid_agent").handlers == []  # nothing left behind


def test_to_plain_dumps_models_exactly_as_their_own_model_dump_does():
    # to_plain calls pydantic's serializer directly for models that keep BaseModel.model_dump:
    # a pydantic release whose model_dump passes other defaults must not change a record silently
    from hyperliquid_agent.audit import to_plain
    from hyperliquid_agent.domain import Filled, LeverageType

    D = Decimal
    pos = Position(coin="BTC", size=D("-0.5"), entry_price=D("60000.5"), unrealized_pnl=D("1E+1"), leverage=5,
                   leverage_type=LeverageType.CROSS, liquidation_price=None, margin_used=D("6000"),
                   position_value=D("30000"), cum_funding=D("0.10"))
    acct = AccountState(portfolio_value=D("100.50"), available_balance=D("50"), margin_used=D("6000"),
                        total_notional=D("30000"), positions=(pos,), timestamp_ms=7)
    fill = Filled(status="filled", oid=3, total_size=D("0.01"), avg_price=D("100.5"), cloid=None)
    for model in (pos, acct, fill):
        assert to_plain({"m": model})["m"] == model.model_dump(mode="json")
