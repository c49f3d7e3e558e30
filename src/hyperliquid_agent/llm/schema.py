"""Strict JSON schemas from our pydantic models, and reading a reply back into them.

Strict means what OpenAI structured outputs and Anthropic tool inputs accept:
every property required, `additionalProperties: false` on every object, a nullable
field as `anyOf [..., {"type": "null"}]`, no `default`, and `$ref`s inlined (our
wire schemas are small and not recursive).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from hyperliquid_agent.errors import quoted_input
from hyperliquid_agent.reply_json import ReplyJSONError, extract_object, loads_strict

_DROP = ("default", "title")


@lru_cache(maxsize=64)
def _cached_schema(model: type[BaseModel]) -> str:
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    return json.dumps(_strict(raw, defs), sort_keys=True)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict JSON schema of `model` (a fresh copy each call)."""
    return json.loads(_cached_schema(model))


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = {**copy.deepcopy(defs[name]), **{k: v for k, v in node.items() if k != "$ref"}}
        return _strict(merged, defs)
    out = {k: _strict(v, defs) for k, v in node.items() if k not in _DROP}
    if out.get("type") == "object" or "properties" in out:
        props = out.get("properties", {})
        out["type"] = "object"
        out["properties"] = props
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


class ReplyInvalid(Exception):
    """A reply that is not JSON or not the schema; the message is fed back in the re-ask."""


def parse_reply(content: str, schema: type[BaseModel], repair: bool = False) -> dict[str, Any]:
    """Validate `content` against `schema`; numbers become Decimal. Raises ReplyInvalid.

    The JSON is read by `hyperliquid_agent.reply_json` (as the decision parser reads it): strictly,
    or with `repair` (servers without structured outputs) extracted from prose, code fences or a
    <think> preamble first.
    """
    text = content.strip()
    if not text:
        raise ReplyInvalid("the reply was empty")
    try:
        obj = extract_object(text, tuple(schema.model_fields)) if repair else loads_strict(text)
    except ReplyJSONError as exc:
        raise ReplyInvalid(str(exc)) from None
    if not isinstance(obj, dict):
        raise ReplyInvalid(f"the reply must be a JSON object, got {type(obj).__name__}")
    try:
        return schema.model_validate(obj).model_dump(mode="python")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}{quoted_input(e)}" for e in exc.errors()[:10]
        )
        raise ReplyInvalid(f"the reply does not match the {schema.__name__} schema: {problems}") from None


def schema_instruction(schema: type[BaseModel]) -> str:
    """Text that asks for JSON matching `schema`, for servers without schema enforcement."""
    return (
        "Reply with one JSON object only, no prose and no code fences, matching this JSON schema:\n"
        + json.dumps(strict_json_schema(schema), separators=(",", ":"))
    )
