"""Map an openai/anthropic SDK exception into our error tree (both SDKs share the class names)."""

from __future__ import annotations

from typing import Any

from hyperliquid_agent.errors import LLMError, LLMUnavailableError
from hyperliquid_agent.llm.retry import connection_error, status_error, timeout_error


def map_sdk_error(sdk: Any, exc: Exception, provider: str, timeout_s: float) -> LLMError:
    if isinstance(exc, sdk.APITimeoutError):
        return timeout_error(provider, timeout_s)
    if isinstance(exc, sdk.APIConnectionError):
        return connection_error(provider, str(exc.__cause__ or exc))
    if isinstance(exc, sdk.APIStatusError):
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        return status_error(provider, exc.status_code, _message(exc), headers)
    return LLMUnavailableError(f"{provider}: unexpected {type(exc).__name__}: {exc}")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))


def http_client(sdk_http: Any, transport: Any, timeout_s: float) -> Any:
    """An httpx2 client over an injected transport (tests, benchmarks), or None for the SDK default."""
    if transport is None:
        return None
    if isinstance(transport, sdk_http.Client):
        return transport
    return sdk_http.Client(transport=transport, timeout=timeout_s)
