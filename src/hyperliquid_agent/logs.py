"""Logging: one canonical structured line per cycle, JSON to a file, readable on a terminal.

`setup_logging(state_dir, level, secrets)` configures the `hl_agent` logger with
  - a JSON-lines file handler at `<state_dir>/agent.log` (every event, one object a line),
  - a terminal handler with a short `key=value` rendering,
and a filter that scrubs configured secrets and key-like strings from every message.
The level comes from `LOG_LEVEL` when set, else from config `agent.log_level`.

`guard_log_records(secrets)` (called by `setup_logging` and by the CLI once the config is
loaded) scrubs every record the process creates, whatever logger made it and whatever
handler gets it: the vendor SDKs (openai, anthropic, httpx2, urllib3, hyperliquid) log
request URLs, options and tracebacks through the standard `logging` module, and their own
switches (`OPENAI_LOG`, `ANTHROPIC_LOG`, the SDK's bare `logging.debug`) install root
handlers that our filter never sees.

`log_cycle(logger, record)` emits the canonical per-cycle line: cycle id, plan id,
regime, decision, orders, cost (see `cycle_fields`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, TextIO

from hyperliquid_agent.audit import redact, redact_text
from hyperliquid_agent.decimal_text import plain_text

LOGGER_NAME = "hl_agent"
PACKAGE_LOGGER = "hyperliquid_agent"  # the other modules' loggers
LOG_FILE_NAME = "agent.log"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def resolve_level(config_level: str = "INFO", env: Mapping[str, str] | None = None) -> str:
    """`LOG_LEVEL` from the environment wins over `agent.log_level`; an unknown value is an error."""
    environ = os.environ if env is None else env
    raw = (environ.get("LOG_LEVEL") or config_level or "INFO").strip().upper()
    if raw == "WARN":
        raw = "WARNING"
    if raw not in _LEVELS:
        from hyperliquid_agent.errors import ConfigError

        raise ConfigError(f"LOG_LEVEL={raw!r} is not a log level; use one of {', '.join(_LEVELS)}")
    return raw


_EXC_FORMATTER = logging.Formatter()
_guard_secrets: list[str] = []


def _scrub_record(record: logging.LogRecord, secrets: Iterable[str]) -> None:
    """Redact a record's message (formatted with its args), traceback and stack in place."""
    try:
        message = record.getMessage()
    except Exception:
        return  # a bad format string: logging reports it when a handler formats the record
    record.msg = redact_text(message, secrets)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        # handlers print exc_text when it is set instead of formatting exc_info again
        record.exc_text = redact_text(record.exc_text or _EXC_FORMATTER.formatException(record.exc_info), secrets)
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info, secrets)


def guard_log_records(secrets: Iterable[str] = ()) -> None:
    """Scrub every log record this process creates from now on (see the module doc): wraps the
    logging record factory once; `secrets` replaces the configured values scrubbed so far."""
    global _guard_secrets
    _guard_secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    current = logging.getLogRecordFactory()
    if getattr(current, "hl_agent_guard", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _scrub_record(record, _guard_secrets)
        return record

    factory.hl_agent_guard = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def scrub_text(text: str) -> str:
    """`text` without the secrets `guard_log_records` knows or anything key-like (for terminal output)."""
    return redact_text(text, _guard_secrets)


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record, self.secrets)
        fields = getattr(record, "fields", None)  # set after the record factory ran
        if isinstance(fields, dict):
            record.fields = redact(fields, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, event, plus the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info or record.exc_text:
            out["exception"] = redact_text(record.exc_text or self.formatException(record.exc_info))
        return json.dumps(out, default=str, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS LEVEL event key=value ...` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        parts = [stamp, f"{record.levelname:<7}", record.getMessage()]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for k, v in fields.items():
                if v is None or v == "" or v == []:
                    continue
                parts.append(f"{k}={_short(v)}")
        return " ".join(parts)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v, default=str, separators=(",", ":"))
        return text if len(text) <= 120 else text[:117] + "..."
    return str(v)


def setup_logging(
    state_dir: str | Path | None,
    level: str = "INFO",
    secrets: Iterable[str] = (),
    console: TextIO | None = None,
    console_level: str | None = None,
) -> logging.Logger:
    """Configure and return the `hl_agent` logger (idempotent: replaces its handlers).

    The same handlers also receive the warnings of the package's own modules (logger
    `hyperliquid_agent.*`, which keeps propagating as before), so agent.log has them too."""
    logger = logging.getLogger(LOGGER_NAME)
    close_logging()
    guard_log_records(secrets)
    logger.setLevel(level)
    logger.propagate = False
    scrub = _RedactFilter(secrets)
    handlers: list[logging.Handler] = []
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(Path(state_dir) / LOG_FILE_NAME, encoding="utf-8")
        fh.setFormatter(JsonFormatter())
        fh.setLevel(level)
        handlers.append(fh)
    stream = console if console is not None else sys.stderr
    ch = logging.StreamHandler(stream)
    # JSON when nothing else records the events and no one is watching; key=value otherwise
    ch.setFormatter(JsonFormatter() if state_dir is None and not _isatty(stream) else ConsoleFormatter())
    ch.setLevel(console_level or level)
    handlers.append(ch)
    package = logging.getLogger(PACKAGE_LOGGER)
    for h in handlers:
        h.addFilter(scrub)
        logger.addHandler(h)
        package.addHandler(h)
    return logger


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def close_logging() -> None:
    """Close and detach the handlers `setup_logging` added (the log file is released)."""
    logger = logging.getLogger(LOGGER_NAME)
    package = logging.getLogger(PACKAGE_LOGGER)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        package.removeHandler(h)
        h.close()


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def order_status(order: Mapping[str, Any]) -> str:
    """A recorded order's status (filled, resting, rejected, denied, ...; "unsent" when it has none)."""
    return str(order.get("status") or (order.get("outcome") or {}).get("status") or "unsent")


def _exact(value: Any) -> str | None:
    """A money amount as its shortest exact decimal string (no trailing zeros)."""
    if value is None or value == "":
        return None
    try:
        return plain_text(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def cycle_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical per-cycle fields, taken from a (plain) cycle record."""
    orders = record.get("orders") or []
    llm = record.get("llm") or {}
    decision = record.get("decision") or {}
    statuses: dict[str, int] = {}
    for o in orders:
        st = order_status(o)
        statuses[st] = statuses.get(st, 0) + 1
    return {
        "cycle_id": record.get("cycle_id"),
        "time": record.get("time"),
        "mode": record.get("mode"),
        "plan_id": record.get("plan_id"),
        "regime": record.get("regime"),
        "trading_state": record.get("trading_state"),
        "decision": decision.get("summary") if isinstance(decision, dict) else str(decision),
        "orders": len(orders),
        "order_statuses": statuses,
        "llm_calls": llm.get("calls", 0),
        "cost_usd": llm.get("cost_usd", "0"),
        "equity": _exact((record.get("account_after") or record.get("account_before") or {}).get("portfolio_value")),
        "errors": len(record.get("errors") or []),
    }


def log_cycle(logger: logging.Logger, record: Mapping[str, Any]) -> None:
    fields = cycle_fields(record)
    level = logging.WARNING if fields["errors"] else logging.INFO
    logger.log(level, "cycle", extra={"fields": fields})
