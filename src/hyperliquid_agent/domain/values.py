"""Small value types: sides, market types, exact money.

Money, prices and sizes are `Decimal`, built from the exchange's strings (or from
`str(float)` at the edges), never from binary floats directly.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, PlainSerializer

ZERO = Decimal(0)
ONE = Decimal(1)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def wire(self) -> str:
        """Hyperliquid's one-letter side: B (bid/buy) or A (ask/sell)."""
        return "B" if self is Side.BUY else "A"

    @classmethod
    def from_wire(cls, letter: str) -> "Side":
        if letter == "B":
            return cls.BUY
        if letter == "A":
            return cls.SELL
        raise ValueError(f"unknown side {letter!r}; expected 'B' or 'A'")


class MarketType(StrEnum):
    SPOT = "spot"
    PERP = "perp"


def to_decimal(value: object) -> Decimal:
    """Exact Decimal from a str/int/Decimal; floats go through `repr` so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a finite number")
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except Exception as exc:  # decimal.InvalidOperation
            raise ValueError(f"{value!r} is not a number") from exc
        if not d.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return d
    raise ValueError(f"cannot read {type(value).__name__} {value!r} as a number")


# A Decimal field that accepts exchange strings and serialises to a string in JSON,
# so audit records and state round-trip exactly. (No `return_type=str`: pydantic then writes
# the returned string as it finds it instead of checking it against a str schema, the same
# output ~20% quicker per field; a cycle record writes ~90 of them.)
Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda d: format(d, "f") if isinstance(d, Decimal) else d, when_used="json"),
]


_Model = TypeVar("_Model", bound=BaseModel)


def _slot_setters() -> tuple[Any, Any, Any, Any] | None:
    """BaseModel's slots and its instance `__dict__`, written through their descriptors (quicker
    than object.__setattr__ by name, which looks the name up along the class's MRO each time);
    None if a pydantic release lays the model out differently (then `trusted` falls back to
    `model_construct`, slower but the same value)."""
    slots = BaseModel.__dict__
    try:
        return (slots["__dict__"].__set__, slots["__pydantic_fields_set__"].__set__,
                slots["__pydantic_extra__"].__set__, slots["__pydantic_private__"].__set__)
    except (KeyError, AttributeError):
        return None


_SLOTS = _slot_setters()
# the same setters bound once by name (a global read is quicker than unpacking _SLOTS every call)
_set_dict, _set_fields_set, _set_extra, _set_private = _SLOTS or (None, None, None, None)
_new_object = object.__new__
# per frozen model class, the set of its field names that its trusted values share as their fields-set
# (None for a class that can be assigned to: pydantic adds an assigned name to the value's own set)
_SHARED_FIELDS_SET: dict[type, set[str] | None] = {}


def _shared_fields_set(cls: type[BaseModel]) -> set[str] | None:
    names = set(cls.model_fields) if cls.model_config.get("frozen") else None
    _SHARED_FIELDS_SET[cls] = names
    return names


def trusted(cls: type[_Model], fields: dict[str, Any]) -> _Model:
    """A domain value built without validation from fields our own code already guarantees:
    every field of `cls` given (defaults are not filled in), each of its declared type. What
    pydantic's `model_construct` does, at a fraction of its cost, for the venue model's hot
    paths (order outcomes, account states). `fields` becomes the object's own `__dict__`: pass a
    new dict and do not touch it afterwards. The values of a frozen model share one fields-set
    (nothing changes it in place: pydantic's copies take their own), not a new set each."""
    if _SLOTS is None:
        return cls.model_construct(**fields)
    obj = _new_object(cls)
    _set_dict(obj, fields)
    try:  # (one lookup where `cls in` and then a subscript took two)
        names = _SHARED_FIELDS_SET[cls]
    except KeyError:
        names = _shared_fields_set(cls)
    _set_fields_set(obj, names if names is not None and len(names) == len(fields) else set(fields))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
