"""What the openai and anthropic providers share: building the SDK client, mapping its
exceptions into our error tree (both SDKs use the same class names), reading usage."""

from __future__ import annotations

from typing import Any

from hyperliquid_agent.errors import LLMError, LLMUnavailableError
from hyperliquid_agent.llm.retry import connection_error, status_error, timeout_error
from hyperliquid_agent.llm.types import Usage


def map_sdk_error(sdk: Any, exc: Exception, provider: str, timeout_s: float, secret: str | None = None) -> LLMError:
    """Our error for an SDK exception, through the audit redactor: `secret` (the API key) if a server
    echoes it, a half-masked echo of it (OpenAI's "Incorrect API key provided: sk-ab***yz"), and
    credentials in a URL the message quotes. The message goes on to the terminal, logs, audit and
    the LLM call log."""
    if isinstance(exc, sdk.APITimeoutError):
        return timeout_error(provider, timeout_s)
    if isinstance(exc, sdk.APIConnectionError):
        return connection_error(provider, _scrub(str(exc.__cause__ or exc), secret))
    if isinstance(exc, sdk.APIStatusError):
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        return status_error(provider, exc.status_code, _scrub(_message(exc), secret), headers, _code(exc))
    return LLMUnavailableError(f"{provider}: unexpected {type(exc).__name__}: {_scrub(str(exc), secret)}")


def not_a_reply(provider: str, body: Any, what: str, hint: str = "") -> LLMUnavailableError:
    """A 2xx whose body is not the API's answer (an HTML login or gateway page, a truncated body):
    retried like a gateway error; the message quotes its start and names the setting to check."""
    snippet = " ".join(str(body)[:80].split())
    return LLMUnavailableError(
        f"{provider} answered with a body that is not {what} (it starts with {snippet!r}); "
        f"check llm.base_url points at the API itself{hint}"
    )


def _scrub(text: str, secret: str | None) -> str:
    from hyperliquid_agent.audit import redact_text

    if secret and len(secret) >= 4:
        text = text.replace(secret, "****")
    return redact_text(text)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))


def _code(exc: Any) -> str | None:
    """The error's machine code (`code`, else `type`) from the body the SDK parsed, if any."""
    body = getattr(exc, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None
    code = err.get("code") or err.get("type")
    return code if isinstance(code, str) else None


def sdk_client(client_cls: Any, api_key: str, base_url: str | None, transport: Any, timeout_s: float) -> Any:
    """The vendor client with our timeout, no SDK retries (ours own them) and an optional
    injected httpx2 transport or client (tests, benchmarks)."""
    import httpx2

    http = None
    if transport is not None:
        http = transport if isinstance(transport, httpx2.Client) else httpx2.Client(transport=transport, timeout=timeout_s)
    return client_cls(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0, http_client=http)


def tokens(usage: Any, inp: str, out: str, in_details: str, out_details: str) -> Usage:
    """Usage from an OpenAI-style usage object (cached, cache-write and reasoning tokens from its
    details; DeepSeek reports its cache hits as `prompt_cache_hit_tokens` instead); zeros when absent.
    `input_tokens` is the whole prompt, cached and written parts included."""
    if usage is None:
        return Usage()
    details = getattr(usage, in_details, None)
    return Usage(
        input_tokens=getattr(usage, inp, 0) or 0,
        cached_input_tokens=getattr(details, "cached_tokens", None) or getattr(usage, "prompt_cache_hit_tokens", None) or 0,
        cache_write_tokens=getattr(details, "cache_write_tokens", None) or 0,
        output_tokens=getattr(usage, out, 0) or 0,
        reasoning_tokens=getattr(getattr(usage, out_details, None), "reasoning_tokens", None) or 0,
    )
