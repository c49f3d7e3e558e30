"""The cycle's audit record, assembled: the LLM tap, the record sections, the status snapshot.

`LLMTap` wraps the engine's LLM client to see what each cycle sent and got back; the
`fill_*` helpers copy a cycle's decision and execution report into its plain record.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hyperliquid_agent.app.loop import iso
from hyperliquid_agent.domain import AccountState
from hyperliquid_agent.execution import ExecutionReport

if TYPE_CHECKING:  # the pipeline's own values; cycle.py imports this module
    from hyperliquid_agent.app.cycle import CycleInputs, Decided


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class PromptHasher:
    """`_sha` of a prompt's text (its messages as "role: content", blank-line separated) and its
    length. All messages but the last (the stable system prefix) repeat from call to call, so the
    hash state after them is kept and each call hashes only the last message."""

    def __init__(self) -> None:
        self._head = ""
        self._head_state = hashlib.sha256()

    def __call__(self, prompt_or_messages: Any) -> tuple[str, int]:
        if isinstance(prompt_or_messages, str):
            return _sha(prompt_or_messages), len(prompt_or_messages)
        lines = [f"{m.get('role')}: {m.get('content')}" for m in prompt_or_messages]
        if not lines:
            return _sha(""), 0
        head = "".join(line + "\n\n" for line in lines[:-1])
        if head != self._head:
            self._head, self._head_state = head, hashlib.sha256(head.encode("utf-8"))
        state = self._head_state.copy()
        state.update(lines[-1].encode("utf-8"))
        return state.hexdigest()[:16], len(head) + len(lines[-1])


class LLMTap:
    """Wraps the engine's LLM client to see what each cycle sent and got back:
    the prompt hash, the raw reply, the calls made (failed ones too), tokens and cost.

    `prompt_hashes=False`: a run that keeps no audit trail (a backtest) records no prompt hash,
    so with a provider that does not read the prompt either, nobody does (`reads_prompt`)."""

    def __init__(self, inner: Any, prompt_hashes: bool = True) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []
        self._hash = PromptHasher() if prompt_hashes else None

    @property
    def reads_prompt(self) -> bool:
        """Whether anyone reads the prompt text: this tap (hashing it), or the client's provider."""
        return self._hash is not None or getattr(self.inner, "reads_prompt", True)

    def query(self, prompt_or_messages: Any, schema: Any = None, purpose: str = "decision", context: Any = None) -> Any:
        prompt_hash, prompt_chars = self._hash(prompt_or_messages) if self._hash is not None else (None, None)
        call: dict[str, Any] = {"purpose": purpose, "prompt_hash": prompt_hash, "prompt_chars": prompt_chars}
        self.calls.append(call)
        try:
            response = self.inner.query(prompt_or_messages, schema=schema, purpose=purpose, context=context)
        except Exception as exc:
            call["error"] = f"{type(exc).__name__}: {exc}"
            billed = getattr(exc, "response", None)  # a reply that came back unusable (invalid, refused) was paid for
            if billed is not None:  # its cost and tokens; no raw reply, so `audit replay` replays the failure
                call.update({k: v for k, v in _usage(billed).items() if k != "raw_reply"})
            raise
        call.update(_usage(response))
        return response

    def __getattr__(self, name: str) -> Any:  # get_cost_summary, total_calls, ...
        return getattr(self.inner, name)

    def take(self) -> list[dict[str, Any]]:
        calls, self.calls = self.calls, []
        return calls


def _usage(response: Any) -> dict[str, Any]:
    """What one query's LLMResponse says about its reply and what it cost."""
    cost = getattr(response, "cost_usd", None)
    return {
        "raw_reply": getattr(response, "content", None),
        "input_tokens": int(getattr(response, "input_tokens", 0) or 0),
        "output_tokens": int(getattr(response, "output_tokens", 0) or 0),
        "cached_input_tokens": int(getattr(response, "cached_input_tokens", 0) or 0),
        "cost_usd": format(cost, "f") if isinstance(cost, Decimal) else None,
        "model": getattr(response, "model", None), "provider": getattr(response, "provider", None),
        "latency_ms": getattr(response, "latency_ms", None), "replayed": getattr(response, "replayed", False),
    }


def llm_record(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """One cycle's LLM usage for the audit record (summed over its calls)."""
    if not calls:  # most cycles (the fast loop's): the record of no calls, copied
        return {**_NO_CALLS, "errors": [], "detail": []}
    return _summed(calls)


def _summed(calls: list[dict[str, Any]]) -> dict[str, Any]:
    cost = sum((Decimal(c["cost_usd"]) for c in calls if c.get("cost_usd")), Decimal(0))
    last = calls[-1] if calls else {}
    return {
        "calls": len(calls),
        "input_tokens": sum(c.get("input_tokens", 0) for c in calls),
        "output_tokens": sum(c.get("output_tokens", 0) for c in calls),
        "cached_input_tokens": sum(c.get("cached_input_tokens", 0) for c in calls),
        "cost_usd": format(cost, "f"),
        # a call that came back (its usage is known) from a model without a price
        "unpriced": any(c.get("cost_usd") is None and "input_tokens" in c and not c.get("replayed") for c in calls),
        "model": last.get("model"), "provider": last.get("provider"), "purpose": last.get("purpose"),
        "prompt_hash": last.get("prompt_hash"), "prompt_chars": last.get("prompt_chars"),
        "raw_reply": last.get("raw_reply"),
        "errors": [c["error"] for c in calls if c.get("error")],
        "detail": calls if len(calls) > 1 else [],
    }


_NO_CALLS = _summed([])


def tapped(engine: Any) -> list[dict[str, Any]]:
    client = getattr(engine, "_client", None)
    return client.take() if isinstance(client, LLMTap) else []


def decision_record(result: Any) -> dict[str, Any]:
    """The parsed decision for the audit record (the raw reply is kept under `llm`). Made plain
    with the rest of the record (`CyclePipeline.run`); the results' `to_record` already is."""
    rec = result.to_record() if hasattr(result, "to_record") else {"success": bool(getattr(result, "success", False)),
                                                                    "error": getattr(result, "error", None)}
    rec.pop("raw_response", None)
    return rec


def new_record(cycle_id: str, seq: int, now_ms: int, mode: str, network: str, loops: tuple[str, ...]) -> dict[str, Any]:
    return {
        "cycle_id": cycle_id, "seq": seq, "time_ms": now_ms, "time": iso(now_ms), "mode": mode,
        "network": network, "loops": list(loops), "regime": None, "plan_id": None, "trading_state": None,
        "review": None, "decision": {"summary": "hold"}, "llm": {"calls": 0, "cost_usd": "0"},
        "governance": {}, "risk": [], "orders": [], "fills": [], "errors": [],
    }


def inputs_record(inputs: CycleInputs) -> dict[str, Any]:
    return {"counters": inputs.counters.to_state(), "governance_state": inputs.governance_state,
            "coins": list(inputs.coins), "api_failures": inputs.api_failures, "exits": list(inputs.exits),
            "liquidated": list(inputs.liquidated),
            "open_orders": None if inputs.open_orders is None else list(inputs.open_orders)}


def fill_decided(rec: dict[str, Any], d: Decided) -> None:
    rec["decision"] = {"summary": d.summary, **d.decision}
    rec["llm"] = d.llm
    rec["prompt"] = {"hash": d.llm.get("prompt_hash"), "chars": d.llm.get("prompt_chars"),
                     "template_version": rec.get("template_version")}
    rec["governance"] = d.governance
    g = d.governance
    rec["regime"] = g.get("regime")
    rec["plan_id"] = g.get("activated_plan_id") or g.get("plan_id")
    rec["trading_state"] = g.get("trading_state") or "ACTIVE"
    if g:
        rec["review"] = {"allowed": g.get("can_review"), "reason": g.get("review_reason")}
    rec["targets"] = d.targets
    rec["intents"] = d.intents
    rec["skipped"] = [{"coin": c, "why": w} for c, w in d.skipped]
    rec["errors"].extend(d.errors)


def fill_report(rec: dict[str, Any], report: ExecutionReport | None) -> None:
    """Orders with cloids, verdicts and statuses; setup steps; fills and fees; risk verdicts."""
    if report is None:
        return
    rec["orders"] = [o.model_dump(mode="json") for o in report.orders]
    rec["setup"] = [s.model_dump(mode="json") for s in report.setup]
    rec["fills"] = report.fills
    rec["fees_usd"] = report.fees
    if report.canceled_triggers:
        rec["canceled_triggers"] = [*rec.get("canceled_triggers", ()), *report.canceled_triggers]
    rec["risk"] = [{"intent": o.intent, "verdict": o.verdict} for o in report.orders]
    rec["risk_flags"] = list(report.flags)
    rec["errors"].extend(report.errors)


def status_snapshot(rec: dict[str, Any], account: AccountState | None, decided: Decided | None) -> dict[str, Any]:
    """What `hl-agent status` shows after this cycle. A failed or recovered cycle gives a
    partial snapshot: the loop keeps the last known account, plan and regime under it."""
    snap: dict[str, Any] = {
        "cycle_id": rec["cycle_id"], "seq": rec["seq"], "time_ms": rec["time_ms"], "time": rec["time"],
        "mode": rec["mode"], "network": rec["network"], "last_decision": rec["decision"].get("summary"),
        "last_errors": list(rec.get("errors") or []),
    }
    if account is not None:
        snap["account"] = account  # made plain with the rest of the record (`CyclePipeline.run`)
    if decided is None:
        snap["partial"] = True
        return snap
    g = decided.governance
    snap.update({
        "regime": g.get("regime"), "trading_state": g.get("trading_state") or "ACTIVE",
        "tripwires": g.get("tripwires") or [], "plan": g.get("plan_summary"),
    })
    return snap
