"""How venue failures map into our error tree, and which of them may be retried.

- 429, 5xx, timeouts, connection errors -> `VenueUnavailableError` (retryable).
- a whole action refused (`"status":"err"`) -> `VenueRejectedError`, or `VenueAuthError`
  for an unknown signer / unfunded account (fix the keys; never retried); a refused nonce or
  a rate limit -> retryable (nothing ran).
- anything we cannot parse -> `VenueResponseError` (hold; never trade on it).

Reads and idempotent actions (cancel, leverage, schedule-cancel) are retried with
exponential backoff. An order or a transfer is retried only when it certainly did not reach
the venue (connection refused, connect timeout, HTTP 429). After a read timeout or a 5xx the
order may have landed: we raise, and the executor reconciles by cloid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, TypeVar

from hyperliquid_agent.errors import (
    VenueAuthError,
    VenueError,
    VenueRejectedError,
    VenueResponseError,
    VenueUnavailableError,
)

T = TypeVar("T")

AUTH_MARKERS = ("does not exist", "Must deposit")
RATE_LIMIT_MARKERS = ("Too many", "rate limit")
NONCE_MARKER = "Invalid nonce"


class Landed(Enum):
    """Whether a failed request may have been executed by the venue."""

    NO = "no"  # certainly not (refused, 429): safe to resend
    MAYBE = "maybe"  # timeout / 5xx / dropped connection: reconcile before resending


class VenueCallError(VenueUnavailableError):
    """A retryable venue failure that remembers whether the request may have landed."""

    def __init__(self, message: str, landed: Landed = Landed.MAYBE) -> None:  # (`type(err)(message)` works)
        super().__init__(message)
        self.landed = landed


def raise_for_http_error(response: Any) -> None:
    """The SDK's `API._handle_exception` (installed in its place on our SDK objects), tolerant of a
    4xx body that is not the venue's `{"code", "msg"}` JSON: a proxy's or rate limiter's own JSON
    (`{"error": "rate limited"}`), a JSON string or list. The SDK raises a KeyError or
    AttributeError on those, which hides the status, so a 429 was not retried; here it is the
    same ClientError the SDK raises for a plain-text body."""
    import json

    from hyperliquid.utils.error import ClientError, ServerError

    status = response.status_code
    if status < 400:
        return
    if status >= 500:
        raise ServerError(status, response.text)
    try:
        err = json.loads(response.text)
    except ValueError:
        err = None
    if isinstance(err, dict) and "code" in err and "msg" in err:
        raise ClientError(status, err["code"], err["msg"], response.headers, err.get("data"))
    raise ClientError(status, None, response.text, response.headers, None)


def with_http_errors(sdk_api: T) -> T:
    """An SDK API object (API, Info, Exchange) answering HTTP errors through `raise_for_http_error`."""
    sdk_api._handle_exception = raise_for_http_error  # type: ignore[attr-defined]
    return sdk_api


def classify(exc: BaseException, what: str) -> VenueError:
    """Map an SDK / requests exception raised during `what` into our error tree."""
    import requests
    from hyperliquid.utils.error import ClientError, ServerError

    if isinstance(exc, VenueError):
        return exc
    if isinstance(exc, ClientError):
        if exc.status_code == 429:
            return VenueCallError(f"{what}: rate limited by the venue (HTTP 429); retry later", Landed.NO)
        return VenueRejectedError(f"{what}: the venue refused the request (HTTP {exc.status_code}): {exc.error_message}")
    if isinstance(exc, ServerError):
        body = " ".join(str(exc.message).split())  # an HTML error page on one line
        return VenueCallError(f"{what}: venue server error (HTTP {exc.status_code}): {body[:200]}", Landed.MAYBE)
    if isinstance(exc, requests.ConnectTimeout):
        return VenueCallError(f"{what}: could not connect to the venue (timeout)", Landed.NO)
    if isinstance(exc, requests.Timeout):
        return VenueCallError(f"{what}: the venue did not answer in time (hyperliquid.timeout_s); "
                              "the request may have been executed", Landed.MAYBE)
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        refused = "NewConnectionError" in text or "Connection refused" in text or "ConnectionRefused" in text
        return VenueCallError(f"{what}: connection to the venue failed: {type(exc).__name__}",
                              Landed.NO if refused else Landed.MAYBE)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):  # it was answering: it got the request
        return VenueCallError(f"{what}: the connection dropped while the venue was answering; the request "
                              "may have been executed", Landed.MAYBE)
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return VenueResponseError(f"{what}: unreadable venue response: {exc}")
    return VenueResponseError(f"{what}: unexpected failure talking to the venue: {type(exc).__name__}: {exc}")


def error_for_err_status(reason: str, what: str) -> VenueError:
    """A whole-action rejection (`{"status":"err","response": reason}`)."""
    if any(m in reason for m in AUTH_MARKERS):
        return VenueAuthError(
            f"{what}: {reason} Check hyperliquid.secret_key (and account_address for an agent wallet), "
            "the network (testnet vs mainnet) and that the account is funded."
        )
    if any(m.lower() in reason.lower() for m in RATE_LIMIT_MARKERS):
        return VenueCallError(f"{what}: {reason}", Landed.NO)
    if reason.startswith(NONCE_MARKER):  # refused before anything ran: safe to sign anew and resend
        return VenueCallError(
            f"{what}: {reason}. Another process may be signing with this key (the venue counts nonces "
            "per signer): give each process its own agent wallet; or this machine's clock is behind "
            "(nonces are milliseconds): sync it", Landed.NO)
    return VenueRejectedError(f"{what}: {reason}")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_s * (2**attempt), self.max_backoff_s)


def call_with_retry(
    fn: Callable[[], T],
    what: str,
    policy: RetryPolicy,
    *,
    only_if_not_landed: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn`; on a retryable failure try again per `policy`.

    `only_if_not_landed`: for orders and transfers, retry only failures that certainly
    did not reach the venue.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 (mapped below, never swallowed)
            err = classify(exc, what)
            retry = isinstance(err, VenueUnavailableError) and attempt < policy.max_retries
            if retry and only_if_not_landed:
                retry = isinstance(err, VenueCallError) and err.landed is Landed.NO
            if not retry:
                if attempt and isinstance(err, VenueCallError):  # say that it was not the first try
                    err = VenueCallError(f"{err} (gave up after {attempt + 1} attempts; "
                                         "hyperliquid.max_retries sets the retries)", err.landed)
                if err is exc:
                    raise
                raise err from exc
            sleep(policy.delay(attempt))
            attempt += 1


def parse(model: Any, data: Any, what: str) -> Any:
    """Validate a response with a wire model (or a callable); VenueResponseError on failure."""
    from pydantic import ValidationError

    from hyperliquid_agent.exchange.wire import describe

    if isinstance(data, dict) and set(data) == {"error"} and str(data["error"]).startswith("Could not parse JSON"):
        body = " ".join(str(data["error"]).removeprefix("Could not parse JSON:").split())[:80]
        raise VenueResponseError(f"{what}: the venue answered with something that is not JSON (it starts with {body!r})")
    try:
        if hasattr(model, "model_validate"):
            return model.model_validate(data)
        return model(data)
    except ValidationError as exc:
        raise VenueResponseError(f"{what}: unexpected response shape: {describe(exc)}") from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise VenueResponseError(f"{what}: unexpected response shape: {str(exc)[:300]}") from None
