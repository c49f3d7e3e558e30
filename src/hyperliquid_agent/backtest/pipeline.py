"""The seam between the backtest runner and the agent's cycle pipeline.

The backtest does not have its own decision logic: it builds the SAME `CyclePipeline` the
live loop runs (`app.wiring`), hands it the in-process exchange, asks the loop's own
`Schedule` which loops are due at each bar (governed mode: fast every bar, medium and slow
on their intervals), and reads back from each cycle's plain record only what the backtest
keeps: regime, plan, strategy, the decision summary, orders, denials, errors and LLM cost.
"""

from __future__ import annotations

import hashlib
import struct
from decimal import Decimal, InvalidOperation
from typing import Any

from hyperliquid_agent.audit import to_plain
from hyperliquid_agent.backtest.runner import StepInfo
from hyperliquid_agent.config import Config
from hyperliquid_agent.domain import AccountState


def _cost(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def strategy_of(record: dict[str, Any]) -> str | None:
    """The strategy in charge after a cycle: the active plan's (governed) or the selected one (standard)."""
    gov = record.get("governance") or {}
    plan = gov.get("plan_summary") or {}
    if isinstance(plan, dict):
        sid = plan.get("strategy_id") or plan.get("strategy")
        if sid:
            return str(sid)
    decision = record.get("decision") or {}
    sel = decision.get("selected_strategy")
    return str(sel) if sel else None


# an order record's status when it never reached the venue (the risk policy denied it, or the
# executor skipped it); every other status (filled, resting, rejected, ...) is the venue's answer
# (a `reconciled` record is an earlier cycle's order, asked about again: not sent by this one)
_NOT_SENT = frozenset({"denied", "skipped"})


def step_info(record: dict[str, Any], previous_strategy: str | None = None) -> StepInfo:
    """What the backtest keeps of one cycle's audit record, as `CyclePipeline.run_record` leaves it
    or made plain (`to_plain`): both give the same info. The values read are strings and numbers in
    either form but for the risk verdicts (models), converted here, and the account (see `inputs_digest`)."""
    decision = record.get("decision") or {}
    llm = record.get("llm") or {}
    orders = record.get("orders") or []
    risk = record.get("risk")  # (most cycles review no order)
    denied = sum(1 for r in to_plain(risk) if (r.get("verdict") or {}).get("verdict") == "denied") if risk else 0
    sent = [o for o in orders if o.get("status") not in _NOT_SENT and not o.get("reconciled")]
    rejections = tuple(_refusal(o) for o in sent if o.get("status") == "rejected")
    errors = record.get("errors") or []
    error = "; ".join(str(e) for e in errors) or None
    gov = record.get("governance") or {}
    if decision.get("success") is False:
        # the engine caught it (an LLM error, a strict-replay miss, an invalid reply) and the cycle
        # held: a failed cycle all the same, so its row says why and the run's warning counts it
        failed = f"decision failed: {decision.get('error') or 'no reason given'}"
        error = f"{failed}; {error}" if error else failed
    summary = str(decision.get("summary") or "hold")
    action = summary.split(":", 1)[0].strip() or "hold"
    if gov.get("verdict") == "rejected" and gov.get("reason"):
        # the governor's reason (regime_mismatch, the change cost, ...): the record's summary names only the verdict
        summary = f"{summary} ({gov['reason']})"
    plan_id = record.get("plan_id")
    strategy = strategy_of(record) or (previous_strategy if plan_id else None)
    if record.get("mode") == "standard" and plan_id is None:
        plan_id = strategy  # in standard mode the selected strategy is what is "in charge"
    return StepInfo(
        regime=record.get("regime"),
        plan_id=plan_id,
        strategy_id=strategy,
        action=action,
        detail=summary,
        orders=len(orders),
        denied=denied,
        error=error,
        llm_cost_usd=_cost(llm.get("cost_usd")),
        llm_calls=int(llm.get("calls") or 0) if llm.get("cost_usd") is not None else 0,
        inputs_digest=inputs_digest(record),
        sent=len(sent),
        rejections=rejections,
        cloids=tuple(o["cloid"] for o in sent if o.get("cloid")),
        trading_state=gov.get("trading_state"),
        trips=tuple(t["code"] for t in gov.get("tripwires") or ()),
        unpriced=bool(llm.get("unpriced")),
    )


def _refusal(order: dict[str, Any]) -> tuple[str, str, str, str]:
    """(coin, side, size, the venue's error) of a refused order's record."""
    intent = order.get("intent") or {}
    if not isinstance(intent, dict):  # (a record not made plain holds the model)
        intent = to_plain(intent)
    return (str(intent.get("coin") or "?"), str(intent.get("side") or "?"), str(intent.get("size") or "0"),
            str(order.get("error") or "rejected"))


_NAN = float("nan")


def inputs_digest(record: dict[str, Any]) -> str:
    """A short hash of what the cycle decided from: its signals and the account before."""
    digest = hashlib.sha256()
    for group, values in (record.get("signals") or {}).items():
        digest.update(_signal_bytes(group, values))
    digest.update(_account_text(record.get("account_before")).encode("utf-8"))
    return digest.hexdigest()[:16]


def _account_text(account: AccountState | dict[str, Any] | None) -> str:
    """The account's field values as text: a line of its own fields (positions and spot balances
    aside), then a line per position and spot balance (a plain record's account is read back into
    the model first). A Decimal is its `str`: exact, and the whole text costs half the model's JSON.
    One held with a positive exponent ("1.2E+5") is written in full, as a plain record holds it."""
    if account is None:
        return "null"
    if isinstance(account, dict):
        account = AccountState.model_validate(account)
    rows = [[v for v in account.__dict__.values() if type(v) is not tuple],
            *[p.__dict__.values() for p in account.positions], *[b.__dict__.values() for b in account.spot_balances]]
    text = "\n".join([",".join(map(str, row)) for row in rows])
    if "E+" in text:  # rare: only the values that hold it change
        text = "\n".join([",".join(map(_value_text, row)) for row in rows])
    return text


def _value_text(value: Any) -> str:
    text = str(value)
    return format(value, "f") if "E+" in text and isinstance(value, Decimal) else text


def _signal_bytes(group: str, values: dict[str, float | None]) -> bytes:
    """One group's signals (a coin's, or "*"): the names as text and the values as their exact
    8-byte floats, little-endian on any machine (a None as NaN, its name listed), not as decimal
    text (formatting each float cost most of the digest)."""
    names = tuple(values)
    try:
        head, whole, pack = _HEADS[group, names]
    except KeyError:  # a group or set of names not seen yet (each run has a handful)
        head = f"{group}:{','.join(names)}|"
        whole, pack = f"{head};".encode("utf-8"), struct.Struct(f"<{len(names)}d").pack
        _HEADS[group, names] = head, whole, pack
    try:
        return whole + pack(*values.values())
    except struct.error:  # some signal is None (on the real data, the open-interest change always is)
        floats = pack(*[_NAN if v is None else v for v in values.values()])
        missing = ",".join([k for k, v in values.items() if v is None])
    return f"{head}{missing};".encode("utf-8") + floats


# (group, signal names) -> the group's text before its missing names, that text with none missing (as
# bytes), and the packer of its values: the same every cycle, so made once
_HEADS: dict[tuple[str, tuple[str, ...]], tuple[str, bytes, Any]] = {}


class PipelineStep:
    """Drives the agent's `CyclePipeline` one bar at a time with the loop's schedule."""

    def __init__(self, pipeline: Any, schedule: Any, closer: Any = None) -> None:
        self.pipeline = pipeline
        self.schedule = schedule
        self.closer = closer
        self.last: dict[str, int] = {}
        self.seq = 0
        self._strategy: str | None = None

    def __call__(self, now_ms: int) -> StepInfo:
        loops = self.schedule.due(now_ms, self.last)
        self.seq += 1
        record = self.pipeline.run_record(f"bt{self.seq:06d}", self.seq, now_ms, loops)
        for name in loops:
            self.last[name] = now_ms
        # no audit trail here: step_info converts only what it reads (converting the whole
        # record cost ~5% of a cycle)
        info = step_info(record, self._strategy)
        self._strategy = info.strategy_id
        return info


def build_cycle_step(cfg: Config, exchange: Any) -> PipelineStep:
    """The agent's pipeline from `app.wiring`, over `exchange`, with its state in memory."""
    from hyperliquid_agent.app import wiring
    from hyperliquid_agent.app.agent import schedule_for

    pipeline = wiring.build_backtest_pipeline(cfg, exchange)
    pipeline.arrive = exchange.arrive  # orders are priced where they reach the venue, the fill latency later
    return PipelineStep(pipeline, schedule_for(cfg))  # the live loop's own schedule
