"""Decision parsing: validate what the model said into domain values.

`parse_decision(text)` / `parse_governance_decision(text)` never raise: any failure is a
safe hold (success False, nothing to do) carrying the error. Each action or target line
is validated on its own against the wire schema (`schemas`) and then into domain values;
a bad one is rejected with its reason, never coerced. A target allocation is a whole
book (coins left out are closed), so one bad line rejects the whole book.
Pure: no I/O. The public names are re-exported by `hyperliquid_agent.decision`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Collection, Mapping

from pydantic import ValidationError

from hyperliquid_agent.domain.actions import (
    BuyAction, CancelAction, CloseAction, HoldAction, SellAction, TargetEntry, TradeAction, TransferAction,
)
from hyperliquid_agent.domain.values import MarketType
from hyperliquid_agent.errors import quoted_input
from hyperliquid_agent.reply_json import ReplyJSONError, declined, extract_object
from hyperliquid_agent.schemas import ActionSpec, DecisionSchema, GovernanceDecisionSchema, ProposedPlan, TargetSpec

MAX_ABS_NUMBER = Decimal("1e12")  # sizes, prices and amounts beyond this are nonsense, not orders
_DECISION_KEYS = ("actions", "target_allocation", "selected_strategy")
_GOVERNANCE_KEYS = ("maintain_plan", "proposed_plan", "micro_adjustments")
_ACTION_NULLABLE = ("coin", "market_type", "size", "price", "amount_usd", "to_perp", "oid")


@dataclass(frozen=True)
class RejectedAction:
    """An action or target line the parser refused, with why."""

    raw: Any
    reason: str
    where: str = "actions"  # actions | target_allocation | micro_adjustments


@dataclass(frozen=True)
class _Outcome:
    success: bool = False
    error: str | None = None
    reasoning: str = ""
    raw_response: str = ""
    warnings: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: Decimal | None = None
    provider: str | None = None
    model: str | None = None
    prompt_version: str | None = None

    def _usage_record(self) -> dict[str, Any]:
        return {
            "success": self.success, "error": self.error, "reasoning": self.reasoning, "warnings": list(self.warnings),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cost_usd": None if self.cost_usd is None else format(self.cost_usd, "f"),
            "provider": self.provider, "model": self.model, "prompt_version": self.prompt_version,
        }


def _rejected_record(items: tuple[RejectedAction, ...]) -> list[dict[str, Any]]:
    return [{"raw": _plain(r.raw), "reason": r.reason, "where": r.where} for r in items]


def _plain(value: Any) -> Any:
    """JSON-able copy of a parsed reply fragment (Decimals as exact strings)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class DecisionResult(_Outcome):
    """Standard mode. A failed result (success False) has no actions: hold."""

    actions: tuple[TradeAction, ...] = ()
    rejected_actions: tuple[RejectedAction, ...] = ()
    selected_strategy: str | None = None
    target_allocation: tuple[TargetEntry, ...] | None = None

    def to_record(self) -> dict[str, Any]:
        """JSON-able (Decimals as strings) for the audit trail; raw reply included."""
        return {
            **self._usage_record(),
            "selected_strategy": self.selected_strategy,
            "actions": [a.model_dump(mode="json") for a in self.actions],
            "target_allocation": None if self.target_allocation is None
            else [t.model_dump(mode="json") for t in self.target_allocation],
            "rejected_actions": _rejected_record(self.rejected_actions),
            "raw_response": self.raw_response,
        }


@dataclass(frozen=True)
class GovernanceDecisionResult(_Outcome):
    """Governed mode. A failed result maintains the active plan with no adjustments."""

    maintain_plan: bool = True
    micro_adjustments: tuple[TargetEntry, ...] = ()
    proposed_plan: ProposedPlan | None = None
    rejected_adjustments: tuple[RejectedAction, ...] = ()

    @property
    def proposed_targets(self) -> tuple[TargetEntry, ...]:
        """The proposed plan's target book as domain values (empty without a plan)."""
        if self.proposed_plan is None:
            return ()
        return tuple(_target_entry(t) for t in self.proposed_plan.target_allocation)

    def to_record(self) -> dict[str, Any]:
        return {
            **self._usage_record(),
            "maintain_plan": self.maintain_plan,
            "micro_adjustments": [t.model_dump(mode="json") for t in self.micro_adjustments],
            "proposed_plan": None if self.proposed_plan is None else self.proposed_plan.model_dump(mode="json"),
            "rejected_adjustments": _rejected_record(self.rejected_adjustments),
            "raw_response": self.raw_response,
        }


# -------------------------------------------------------------------- item validation


class _Reject(ValueError):
    pass


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg'].removeprefix('Value error, ')}{quoted_input(e)}"
        + (" (unknown field)" if e["type"] == "extra_forbidden" else "")
        for e in exc.errors()[:5]
    )


def _check_number(name: str, value: Decimal | None) -> None:
    if value is not None and abs(value) > MAX_ABS_NUMBER:
        raise _Reject(f"{name} {value} is out of range")


def _action(raw: Any) -> TradeAction:
    try:
        return _build_action(raw)
    except ValidationError as exc:
        raise _Reject(_errors(exc)) from None


def _build_action(raw: Any) -> TradeAction:
    if not isinstance(raw, dict):
        raise _Reject(f"an action must be a JSON object, got {type(raw).__name__}")
    data = dict(raw)
    for key in _ACTION_NULLABLE:
        data.setdefault(key, None)
    data.setdefault("reasoning", "")
    if isinstance(data["oid"], bool):
        raise _Reject(f"oid must be an order id (a whole number), got {data['oid']!r}")
    if data["to_perp"] is not None and not isinstance(data["to_perp"], bool):
        raise _Reject(f"to_perp must be true or false, got {data['to_perp']!r}")
    if not isinstance(data["reasoning"], str):
        raise _Reject("reasoning must be a string")
    spec = ActionSpec.model_validate(data)
    for name in ("size", "price", "amount_usd"):
        _check_number(name, getattr(spec, name))
    kind = spec.action_type
    if kind == "transfer":
        if spec.size is not None or spec.price is not None:
            raise _Reject("a transfer takes amount_usd and to_perp, not size or price")
        if spec.amount_usd is None or spec.to_perp is None:
            raise _Reject("a transfer needs amount_usd (> 0) and to_perp (true: spot -> perp, false: perp -> spot)")
        if spec.coin not in (None, "USDC"):
            raise _Reject(f"only USDC can be transferred, got coin {spec.coin!r}")
        return TransferAction(amount=spec.amount_usd, to_perp=spec.to_perp, reasoning=spec.reasoning)
    if kind == "cancel":
        if spec.oid is None or spec.oid <= 0 or not spec.coin or not spec.coin.strip():
            raise _Reject("a cancel needs the coin and the oid of one of the open orders")
        return CancelAction(coin=spec.coin.strip(), oid=spec.oid, reasoning=spec.reasoning)
    if spec.oid is not None:
        raise _Reject(f"oid belongs to cancel actions, not to a {kind} action")
    market = MarketType(spec.market_type) if spec.market_type is not None else None
    if kind == "hold":
        return HoldAction(coin=spec.coin or None, market_type=market, reasoning=spec.reasoning)
    if not spec.coin or not spec.coin.strip():
        raise _Reject(f"a {kind} action needs a coin")
    if market is None:
        raise _Reject(f"a {kind} action needs market_type 'perp' or 'spot'")
    if spec.amount_usd is not None or spec.to_perp is not None:
        raise _Reject(f"amount_usd and to_perp belong to transfers, not to a {kind} action")
    cls = {"buy": BuyAction, "sell": SellAction, "close": CloseAction}[kind]
    return cls(coin=spec.coin.strip(), market_type=market, size=spec.size, price=spec.price, reasoning=spec.reasoning)


def _target_spec(raw: Any) -> TargetSpec:
    if not isinstance(raw, dict):
        raise _Reject(f"a target entry must be a JSON object, got {type(raw).__name__}")
    data = dict(raw)
    data.setdefault("leverage", None)
    if isinstance(data["leverage"], bool) or isinstance(data.get("target_pct"), bool):
        raise _Reject("leverage and target_pct must be numbers, not true/false")
    try:
        spec = TargetSpec.model_validate(data)
    except ValidationError as exc:
        raise _Reject(_errors(exc)) from None
    _target_entry(spec)
    return spec


def _target_entry(spec: TargetSpec) -> TargetEntry:
    try:
        return TargetEntry(
            coin=spec.coin.strip(), target_pct=spec.target_pct, market_type=MarketType(spec.market_type), leverage=spec.leverage
        )
    except ValidationError as exc:
        raise _Reject(_errors(exc)) from None


def _target_list(raw: Any, where: str) -> tuple[list[TargetSpec], list[RejectedAction]]:
    good: list[TargetSpec] = []
    bad: list[RejectedAction] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(raw):
        try:
            spec = _target_spec(item)
            key = (spec.coin.strip(), spec.market_type)
            if key in seen:
                raise _Reject(f"{spec.coin} {spec.market_type} appears twice")
            seen.add(key)
            good.append(spec)
        except _Reject as exc:
            bad.append(RejectedAction(item, f"{where}[{i}]: {exc}", where))
    return good, bad


def _reasoning(obj: Mapping[str, Any]) -> str:
    r = obj.get("reasoning")
    return r if isinstance(r, str) else ""


def _model_error(obj: Mapping[str, Any]) -> str | None:
    reason = declined(obj)
    return None if reason is None else f"the model reported an error: {reason}"


# -------------------------------------------------------------------- parsing


def parse_decision(text: str, strategy_ids: Collection[str] | None = None) -> DecisionResult:
    """A standard-mode reply -> DecisionResult. Never raises; a failure is a hold."""
    return _guarded(DecisionResult, _parse_decision, text, strategy_ids)


def parse_governance_decision(text: str, strategy_ids: Collection[str] | None = None) -> GovernanceDecisionResult:
    """A governed-mode reply -> GovernanceDecisionResult. Never raises; a failure maintains the plan."""
    return _guarded(GovernanceDecisionResult, _parse_governance, text, strategy_ids)


def _guarded(kind: type[Any], inner: Any, text: Any, strategy_ids: Collection[str] | None) -> Any:
    raw = text if isinstance(text, str) else repr(text)
    try:
        return inner(raw, strategy_ids)
    except Exception as exc:  # a bug here must still be a hold, never a crash of the loop
        return kind(error=f"could not parse the reply: {type(exc).__name__}: {exc}", raw_response=raw)


def _open(raw: str, keys: tuple[str, ...], kind: type[Any], schema: type[Any]) -> Any:
    """(obj, reasoning, warnings), or a failed `kind` result (no JSON, or the model's error form)."""
    try:
        obj = extract_object(raw, keys)
    except ReplyJSONError as exc:
        return kind(error=str(exc), raw_response=raw)
    reasoning = _reasoning(obj)
    if (err := _model_error(obj)) is not None:
        return kind(error=err, reasoning=reasoning, raw_response=raw)
    warnings: list[str] = []
    unknown = sorted(set(obj) - set(schema.model_fields) - {"error", "error_reason"})
    if unknown:
        warnings.append(f"ignored unknown field(s): {', '.join(unknown)}")
    return obj, reasoning, warnings


def _parse_decision(raw: str, strategy_ids: Collection[str] | None) -> DecisionResult:
    opened = _open(raw, _DECISION_KEYS, DecisionResult, DecisionSchema)
    if isinstance(opened, DecisionResult):
        return opened
    obj, reasoning, warnings = opened
    fail = lambda msg, **kw: DecisionResult(error=msg, reasoning=reasoning, raw_response=raw, **kw)  # noqa: E731
    if "actions" not in obj and "target_allocation" not in obj:
        return fail("the reply has neither 'actions' nor 'target_allocation'")

    strategy = obj.get("selected_strategy")
    if strategy is not None and not isinstance(strategy, str):
        warnings.append(f"selected_strategy must be a string or null, got {strategy!r}; ignored")
        strategy = None
    if strategy is not None and strategy_ids is not None and strategy not in strategy_ids:
        warnings.append(f"selected_strategy {strategy!r} is not in the strategy library")

    raw_actions = obj.get("actions")
    if raw_actions is None:
        raw_actions = []
    if not isinstance(raw_actions, list):
        return fail(f"'actions' must be a list, got {type(raw_actions).__name__}")
    actions: list[TradeAction] = []
    rejected: list[RejectedAction] = []
    for i, item in enumerate(raw_actions):
        try:
            actions.append(_action(item))
        except _Reject as exc:
            rejected.append(RejectedAction(item, f"actions[{i}]: {exc}", "actions"))

    targets: tuple[TargetEntry, ...] | None = None
    raw_targets = obj.get("target_allocation")
    if raw_targets is not None:
        if not isinstance(raw_targets, list):
            return fail(f"'target_allocation' must be a list of entries or null, got {type(raw_targets).__name__}",
                        rejected_actions=tuple(rejected))
        good, bad = _target_list(raw_targets, "target_allocation")
        if bad:
            return fail(
                "target_allocation rejected (a target book is all or nothing; coins left out would be closed): "
                + "; ".join(b.reason for b in bad),
                rejected_actions=tuple(rejected + bad), selected_strategy=strategy,
            )
        targets = tuple(_target_entry(s) for s in good)

    if rejected and not actions and targets is None:
        return fail("every action was rejected: " + "; ".join(r.reason for r in rejected),
                    rejected_actions=tuple(rejected), selected_strategy=strategy)
    return DecisionResult(
        success=True, reasoning=reasoning, raw_response=raw, warnings=tuple(warnings), actions=tuple(actions),
        rejected_actions=tuple(rejected), selected_strategy=strategy, target_allocation=targets,
    )


def _parse_governance(raw: str, strategy_ids: Collection[str] | None) -> GovernanceDecisionResult:
    opened = _open(raw, _GOVERNANCE_KEYS, GovernanceDecisionResult, GovernanceDecisionSchema)
    if isinstance(opened, GovernanceDecisionResult):
        return opened
    obj, reasoning, warnings = opened
    fail = lambda msg, **kw: GovernanceDecisionResult(error=msg, reasoning=reasoning, raw_response=raw, **kw)  # noqa: E731
    maintain = obj.get("maintain_plan")
    if not isinstance(maintain, bool):
        return fail(f"maintain_plan must be true or false, got {maintain!r}")

    raw_adj = obj.get("micro_adjustments")
    if raw_adj is None:
        raw_adj = []
    if not isinstance(raw_adj, list):
        return fail(f"micro_adjustments must be a list, got {type(raw_adj).__name__}")
    good, bad = _target_list(raw_adj, "micro_adjustments")
    adjustments = tuple(_target_entry(s) for s in good)

    plan: ProposedPlan | None = None
    raw_plan = obj.get("proposed_plan")
    if maintain and raw_plan is not None:
        warnings.append("proposed_plan ignored because maintain_plan is true")
    if not maintain:
        if not isinstance(raw_plan, dict):
            return fail("maintain_plan is false but proposed_plan is missing or not an object; keeping the plan",
                        rejected_adjustments=tuple(bad))
        try:
            plan = _proposed_plan(raw_plan, strategy_ids)
        except _Reject as exc:
            return fail(f"proposed_plan rejected: {exc}; keeping the plan", rejected_adjustments=tuple(bad))
        adjustments = ()  # a new plan replaces the book; adjustments of the old one no longer apply
    return GovernanceDecisionResult(
        success=True, reasoning=reasoning, raw_response=raw, warnings=tuple(warnings), maintain_plan=maintain,
        micro_adjustments=adjustments, proposed_plan=plan, rejected_adjustments=tuple(bad),
    )


def _proposed_plan(raw: dict[str, Any], strategy_ids: Collection[str] | None) -> ProposedPlan:
    data = dict(raw)
    data.setdefault("take_profit_pct", None)
    data.setdefault("stop_loss_pct", None)
    targets = data.get("target_allocation")
    if not isinstance(targets, list) or not targets:
        raise _Reject("target_allocation must be a non-empty list of entries")
    good, bad = _target_list(targets, "target_allocation")
    if bad:
        raise _Reject("; ".join(b.reason for b in bad))
    data["target_allocation"] = good
    try:
        plan = ProposedPlan.model_validate(data)
    except ValidationError as exc:
        raise _Reject(_errors(exc)) from None
    if strategy_ids is not None and plan.strategy_id not in strategy_ids:
        raise _Reject(f"strategy_id {plan.strategy_id!r} is not in the strategy library")
    for name in ("expected_edge_bps", "take_profit_pct", "stop_loss_pct"):
        _check_number(name, getattr(plan, name))
    return plan


__all__ = [
    "DecisionResult", "GovernanceDecisionResult", "RejectedAction", "parse_decision", "parse_governance_decision",
]
