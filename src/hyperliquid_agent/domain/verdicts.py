"""Risk verdicts, and the only thing the exchange port will place: an ApprovedOrder.

A refusal is a value with a reason code, not an exception. `ApprovedOrder` cannot be
built by calling the class; only the risk policy issues one (through `_issue` with the
issuer key that `risk.py` alone uses), and every exchange adapter refuses anything else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hyperliquid_agent.domain.orders import OrderIntent

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Approved(BaseModel):
    model_config = _FROZEN
    verdict: Literal["approved"] = "approved"
    checks: tuple[str, ...] = ()  # names of the checks that passed
    note: str = ""


class Denied(BaseModel):
    model_config = _FROZEN
    verdict: Literal["denied"] = "denied"
    reason_code: str
    detail: str


Verdict = Approved | Denied

_ISSUER_KEY = object()  # used by hyperliquid_agent.risk only


class ApprovedOrder:
    """An order intent together with the Approved verdict the risk policy gave it."""

    __slots__ = ("intent", "verdict")
    intent: OrderIntent
    verdict: Approved

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("ApprovedOrder is issued by the risk policy only (RiskPolicy), never built directly")

    @classmethod
    def _issue(cls, intent: OrderIntent, verdict: Approved, key: object) -> "ApprovedOrder":
        if key is not _ISSUER_KEY:
            raise TypeError("ApprovedOrder is issued by the risk policy only")
        if not isinstance(verdict, Approved):
            raise TypeError("an ApprovedOrder needs an Approved verdict")
        obj = object.__new__(cls)
        object.__setattr__(obj, "intent", intent)
        object.__setattr__(obj, "verdict", verdict)
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ApprovedOrder is immutable")

    def with_cloid(self, cloid: str) -> "ApprovedOrder":
        """The same approved order carrying the executor's client order id."""
        obj = object.__new__(ApprovedOrder)
        object.__setattr__(obj, "intent", self.intent.model_copy(update={"cloid": cloid}))
        object.__setattr__(obj, "verdict", self.verdict)
        return obj

    def __repr__(self) -> str:
        return f"ApprovedOrder({self.intent!r})"


def require_approved(orders: object) -> list[ApprovedOrder]:
    """For exchange adapters: refuse anything that is not an ApprovedOrder."""
    out = list(orders)  # type: ignore[call-overload]
    for o in out:
        if not isinstance(o, ApprovedOrder):
            raise TypeError(f"the exchange port places ApprovedOrder values only, got {type(o).__name__}")
    return out
