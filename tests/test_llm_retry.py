"""Backoff, jitter and Retry-After parsing (no sleeping: the sleep is injected)."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from hyperliquid_agent.errors import LLMAuthError, LLMError, LLMUnavailableError
from hyperliquid_agent.llm.retry import RetryPolicy, call_with_retry, parse_retry_after, status_error


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    future = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after({"retry-after": future}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


@given(st.integers(1, 12), st.floats(0, 1))
def test_backoff_grows_within_jitter_and_cap(attempt, r):
    p = RetryPolicy(base_delay_s=0.5, max_delay_s=30, jitter=0.25, rand=lambda: r)
    base = min(30, 0.5 * 2 ** (attempt - 1))
    assert base * 0.75 - 1e-9 <= p.delay(attempt, None) <= base * 1.25 + 1e-9


def test_retry_after_wins_over_backoff_and_is_capped():
    p = RetryPolicy()
    assert p.delay(1, 12.0) == 12.0 and p.delay(1, 10_000.0) == 120.0


@pytest.mark.parametrize("status,kind,retry", [(429, LLMUnavailableError, True), (503, LLMUnavailableError, True),
                                               (401, LLMAuthError, False), (403, LLMAuthError, False),
                                               (400, LLMError, False), (404, LLMError, False)])
def test_status_mapping(status, kind, retry):
    err = status_error("openai", status, "msg")
    assert type(err) is kind and isinstance(err, LLMUnavailableError) == retry


def test_call_with_retry_stops_on_non_retryable_and_counts_sleeps():
    slept: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise status_error("x", 500, "boom")
        raise LLMAuthError("no")

    with pytest.raises(LLMAuthError):
        call_with_retry(flaky, RetryPolicy(max_retries=5, sleep=slept.append, rand=lambda: 0.5))
    assert len(calls) == 3 and slept == [0.5, 1.0]
