"""One exception tree, sorted by what the operator (or the loop) must do next.

    HLAgentError
    ├── ConfigError              fix a file or an environment variable, then restart
    │   ├── MissingEnvError      a setting needs ${VAR}; export it
    │   ├── StrategyError        a strategies/*.md file is invalid
    │   ├── TemplateError        a prompts/*.txt template is invalid
    │   └── DataFileError        a market data file (CSV) is invalid: file, line, column
    ├── LLMError                 the model did not give a usable answer
    │   ├── LLMUnavailableError  429/5xx/timeout/connection: retried, then hold
    │   ├── LLMAuthError         401/403: fix the key; never retried
    │   ├── LLMInvalidOutputError reply not JSON or not the schema: re-asked once, then hold
    │   └── BudgetExceededError  the configured USD budget says stop: hold
    ├── VenueError               the exchange did not do what we asked
    │   ├── VenueUnavailableError 429/5xx/timeout: retry with backoff
    │   ├── VenueRejectedError   the whole action was refused ("status":"err"): do not retry as is
    │   ├── VenueAuthError       unknown signer / wallet does not exist: fix keys
    │   └── VenueResponseError   a response we cannot parse: hold, never trade on it
    ├── StateError               the state store or audit trail is unreadable
    └── ReplayMismatchError      an audit replay did not reproduce the recorded orders

Refusals (risk denials, governance vetoes, tripwires) are values, not exceptions.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping


class HLAgentError(Exception):
    """Base of every error hl-agent raises on purpose."""

    retryable: bool = False


class ConfigError(HLAgentError):
    """A configuration, strategy or template problem. The message names the file, key and fix."""


def read_config_text(path: Path, what: str, missing: str, error: type[ConfigError] = ConfigError) -> str:
    """A file the user edits (UTF-8 text). Missing: `error(missing)`, which says how to fix it;
    unreadable: `error` naming `what`, the file and why."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: cannot read: {exc}") from None


class MissingEnvError(ConfigError):
    def __init__(self, variable: str, key: str, example: str = "...") -> None:
        self.variable = variable
        self.key = key
        super().__init__(
            f"{key} needs the environment variable {variable}, which is not set. "
            f"Set it with: export {variable}={example}"
        )


class StrategyError(ConfigError):
    """One or more strategy files are invalid; `problems` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid strategy library:\n" + "\n".join(f"  - {p}" for p in problems))


class TemplateError(ConfigError):
    pass


class DataFileError(ConfigError):
    """A market data file is invalid; the message names the file, line and column."""

    def __init__(self, path: str, line: int | None, column: str | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = path + (f", line {line}" if line is not None else "") + (f", column {column}" if column else "")
        super().__init__(f"{where}: {problem}")


class LLMError(HLAgentError):
    pass


class LLMUnavailableError(LLMError):
    retryable = True


class LLMAuthError(LLMError):
    pass


class LLMInvalidOutputError(LLMError):
    """The reply was not JSON or not the schema after one re-ask, or the model refused.

    `content`: the last reply's text, so a caller can still keep what is valid in it (the
    DecisionEngine rejects bad actions one by one); None for a refusal. It is the model's
    own output, never a request or a key. `response`: the failed query's LLMResponse
    (tokens and cost of every attempt), or None.
    """

    def __init__(self, message: str, content: str | None = None, response: object = None) -> None:
        super().__init__(message)
        self.content = content
        self.response = response


class BudgetExceededError(LLMError):
    pass


class VenueError(HLAgentError):
    pass


class VenueUnavailableError(VenueError):
    retryable = True


class VenueRejectedError(VenueError):
    pass


class VenueAuthError(VenueError):
    pass


class VenueResponseError(VenueError):
    pass


class StateError(HLAgentError):
    pass


class ReplayMismatchError(HLAgentError):
    pass


_QUOTED_TYPES = frozenset({"missing", "value_error", "assertion_error", "extra_forbidden"})  # say it themselves


def quoted_input(error: Mapping[str, Any]) -> str:
    """", got '12%'" for a pydantic error about a plain value the input held (an LLM reply, a venue
    response), so the message shows what was wrong, not only where; "" for a missing field, a whole
    object or list, or when the message already quotes the value."""
    value = error.get("input")
    if error.get("type") in _QUOTED_TYPES or not isinstance(value, (str, int, float, Decimal)):
        return ""
    text = repr(value) if not isinstance(value, Decimal) else format(value, "f")
    return f", got {text[:40] + '...' if len(text) > 40 else text}"
