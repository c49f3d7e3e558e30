"""Retries with exponential backoff and jitter, and the HTTP-status -> error-tree mapping.

429, 5xx, timeouts and connection errors are retried (honouring Retry-After);
400/401/403/404/422 are not, nor a 429 that says the account is out of credit.
The sleep and random functions are injectable so tests never sleep.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping, TypeVar

from hyperliquid_agent.errors import LLMAuthError, LLMError, LLMUnavailableError

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
MAX_RETRY_AFTER_S = 120.0


@dataclass
class RetryPolicy:
    max_retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.25  # +/- this fraction of the backoff delay
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    slept: list[float] = field(default_factory=list)  # every delay waited, for logs and tests

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        backoff = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        backoff *= 1 + self.jitter * (2 * self.rand() - 1)
        if retry_after_s is not None:
            return max(min(retry_after_s, MAX_RETRY_AFTER_S), 0.0)
        return max(backoff, 0.0)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    on_retry: Callable[[int, LLMUnavailableError, float], None] | None = None,
) -> T:
    """Call `fn`; on LLMUnavailableError wait and try again up to `policy.max_retries` times."""
    attempt = 0
    while True:
        try:
            return fn()
        except LLMUnavailableError as exc:
            attempt += 1
            if attempt > policy.max_retries:
                if policy.max_retries:
                    raise LLMUnavailableError(f"{exc} (gave up after {policy.max_retries} retries)") from exc
                raise
            wait = policy.delay(attempt, getattr(exc, "retry_after_s", None))
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            policy.slept.append(wait)
            policy.sleep(wait)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


# codes of a 429 that waiting does not cure: the account is out of credit (OpenAI's insufficient_quota)
NO_RETRY_429_CODES = frozenset({"insufficient_quota"})


def status_error(provider: str, status: int, message: str, headers: Mapping[str, str] | None = None,
                 code: str | None = None) -> LLMError:
    """Our error for an HTTP error status from `provider` (`code`: the body's error code, if any)."""
    if status == 429 and code in NO_RETRY_429_CODES:
        return LLMError(
            f"{provider} answered HTTP 429 {code}: {message}. Not retried: the account is out of credit; add credit "
            "or raise the spending limit in the provider's billing settings (or check llm.api_key is the right project's)"
        )
    if status in (401, 403):
        what = "rejected the API key (401)" if status == 401 else "refused access with this key (403)"
        return LLMAuthError(
            f"{provider} {what}: {message}. Check llm.api_key in config.toml and the variable it reads; "
            "a new key is made in the provider's console."
        )
    if status in RETRY_STATUSES:
        err = LLMUnavailableError(f"{provider} answered HTTP {status}: {message}")
        err.retry_after_s = parse_retry_after(headers)  # type: ignore[attr-defined]
        return err
    return LLMError(f"{provider} refused the request (HTTP {status}): {message}. Check llm.model and llm.base_url")


def timeout_error(provider: str, timeout_s: float) -> LLMUnavailableError:
    return LLMUnavailableError(f"{provider} did not answer within {timeout_s:g} s (llm.timeout_s)")


def connection_error(provider: str, detail: str) -> LLMUnavailableError:
    return LLMUnavailableError(f"cannot reach {provider}: {detail}. Check llm.base_url and the network")
