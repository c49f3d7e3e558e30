"""Find the JSON object in a model's reply, repairing only slips that have one meaning.

Accepted: pure JSON; JSON in ``` fences; JSON inside prose; a `<think>...</think>`
preamble; trailing commas; Python literals True/False/None; single-quoted strings when
the object holds no double quote at all. Numbers with a fraction or exponent are read
as Decimal; NaN and Infinity are refused. Pure; never raises anything but ReplyJSONError.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Iterator

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\n?(.*?)```", re.DOTALL)
_STRING = r'"(?:\\.|[^"\\])*"'
_TRAILING_COMMA = re.compile(_STRING + r"|,(\s*[}\]])")
_PY_LITERAL = re.compile(_STRING + r"|\b(True|False|None)\b")
_MAYBE_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_MAYBE_PY_LITERAL = re.compile(r"\b(?:True|False|None)\b")
_PY_TO_JSON = {"True": "true", "False": "false", "None": "null"}
_MAX_STARTS = 64  # unbalanced '{' restarts tried before giving up (keeps adversarial text linear-ish)


class ReplyJSONError(ValueError):
    """No usable JSON object in the reply; the message says what was found."""


_NOT_A_NUMBER = "is not a number we accept"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} {_NOT_A_NUMBER}; write every number as a plain decimal")


def loads_strict(text: str) -> Any:
    """`text` as plain JSON, no repair: fractions as Decimal, NaN/Infinity refused.
    Raises ReplyJSONError naming what is wrong."""
    try:
        return _loads(text)
    except (ValueError, RecursionError, TypeError) as exc:
        raise ReplyJSONError(f"the reply is not valid JSON ({exc})") from None


# one decoder for every reply (json.loads with these arguments would build a new one per call)
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def _loads(text: str) -> Any:
    if text.startswith("\ufeff"):  # refused, as json.loads refuses it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def loads_object(text: str) -> dict[str, Any] | None:
    """`text` as a JSON object (with safe repairs), or None."""
    try:
        value = _loads(text)
    except (ValueError, RecursionError, TypeError):
        fixed = _repair(text) if text.lstrip().startswith("{") else None
        if fixed is None:
            return None
        try:
            value = _loads(fixed)
        except (ValueError, RecursionError, TypeError):
            return None
    return value if isinstance(value, dict) else None


def _repair(text: str) -> str | None:
    fixed = text
    if _MAYBE_TRAILING_COMMA.search(fixed):
        fixed = _TRAILING_COMMA.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), fixed)
    if _MAYBE_PY_LITERAL.search(fixed):
        fixed = _PY_LITERAL.sub(lambda m: _PY_TO_JSON[m.group(1)] if m.group(1) else m.group(0), fixed)
    if '"' not in fixed and "'" in fixed:
        fixed = fixed.replace("'", '"')
    return fixed if fixed != text else None


def strip_thinking(text: str) -> str:
    """Drop `<think>...</think>` blocks; with a dangling `</think>`, keep what follows it."""
    text = _THINK.sub("", text)
    parts = _THINK_CLOSE.split(text)
    return parts[-1] if len(parts) > 1 else text


def _balanced_objects(text: str) -> Iterator[str]:
    """Top-level `{...}` spans, string-aware; restarts after an opening brace that never closes."""
    start = text.find("{")
    restarts = 0
    while start != -1 and restarts < _MAX_STARTS:
        depth, in_str, esc, i = 0, False, False, start
        closed_at = -1
        n = len(text)
        while i < n:
            ch = text[i]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    closed_at = i
                    break
            i += 1
        if closed_at == -1:
            start = text.find("{", start + 1)
            restarts += 1
            continue
        yield text[start : closed_at + 1]
        start = text.find("{", closed_at + 1)


def _candidates(text: str) -> Iterator[str]:
    yield text
    for m in _FENCE.finditer(text):
        yield m.group(1).strip()
    yield from _balanced_objects(text)


def _refused_constant(body: str) -> str | None:
    """Why a candidate object was refused when only a NaN/Infinity stood in its way, else None."""
    for candidate in _candidates(body):
        for text in (candidate, _repair(candidate)):
            if text is None:
                continue
            try:
                _loads(text)
            except ValueError as exc:
                if _NOT_A_NUMBER in str(exc):
                    return str(exc)
            except (RecursionError, TypeError):
                pass
    return None


def extract_object(text: str, expected_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The reply's JSON object. Prefers the first object holding one of `expected_keys`
    (or the error form's "error" key); raises ReplyJSONError when there is none."""
    if not isinstance(text, str):
        raise ReplyJSONError(f"the reply is a {type(text).__name__}, not text")
    body = strip_thinking(text).strip()
    if not body:
        raise ReplyJSONError("the reply is empty")
    wanted = set(expected_keys) | {"error"}
    fallback: dict[str, Any] | None = None
    for candidate in _candidates(body):
        obj = loads_object(candidate)
        if obj is None:
            continue
        if not wanted or wanted & obj.keys():
            return obj
        if fallback is None:
            fallback = obj
    if fallback is not None:
        return fallback
    refused = _refused_constant(body)
    if refused is not None:  # an object that is JSON but for NaN/Infinity: say that, not "no object"
        raise ReplyJSONError(f"the reply's JSON object is not valid: {refused}")
    if _THINK_OPEN.search(body):
        raise ReplyJSONError(
            "the reply stops inside a <think> block with no JSON answer after it; was it cut off? raise [llm] max_tokens"
        )
    snippet = " ".join(body[:80].split())
    raise ReplyJSONError(f"no JSON object found in the reply (starts with {snippet!r})")


def declined(obj: Any) -> str | None:
    """Why the model declined, when `obj` is the error form the prompts offer it
    (`{"error": true, "error_reason": "..."}`); None for any other value."""
    if not isinstance(obj, dict):
        return None
    flag = obj.get("error")
    if not flag:  # absent, null, false, 0, "": no error
        return None
    return str(obj.get("error_reason") or (flag if isinstance(flag, str) else "no reason given"))


__all__ = ["ReplyJSONError", "declined", "extract_object", "loads_object", "loads_strict", "strip_thinking"]
