"""Audit replay: re-run one cycle's decide stage from its record and compare the orders.

The record holds every input `decide` reads (account before, market digest with specs,
mids, asset contexts and top of book, signals, risk counters, governance state) and
the raw LLM reply. The replay feeds that reply back through the scripted provider, so
the real parser, governor, portfolio manager and risk policy run again, offline, and
the approved and denied orders are compared with the ones the executor recorded.
TP/SL trigger orders are left out: the executor derives them from the fills after the
fact. Nothing is sent anywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hyperliquid_agent.config import Config
from hyperliquid_agent.domain import (
    AccountState, AssetContext, AssetSpec, L2Book, MarketSnapshot, OpenOrder,
)
from hyperliquid_agent.errors import LLMUnavailableError, StateError

_KEYS = ("coin", "side", "size", "limit_price", "reduce_only", "tif", "purpose", "market_type")


def inputs_from_record(rec: dict[str, Any]) -> Any:
    """The `CycleInputs` a recorded cycle decided from."""
    from hyperliquid_agent.app.cycle import CycleInputs
    from hyperliquid_agent.risk_counters import RiskCounters

    cycle = rec.get("cycle_id")
    if not rec.get("inputs") or not rec.get("market") or rec.get("account_before") is None:
        why = "it was interrupted by a crash" if rec.get("recovered") else "it failed before its inputs were collected"
        raise StateError(f"cycle {cycle} cannot be replayed: {why}, so it has no recorded inputs")
    m = rec["market"]
    books = {
        c: L2Book(coin=c, time_ms=int(b.get("time_ms") or m["time_ms"]), bids=b.get("bids") or (),
                  asks=b.get("asks") or ()).view()  # (the recorded levels validated as the book's)
        for c, b in (m.get("books") or {}).items()
    }
    inp = rec["inputs"]
    return CycleInputs(
        cycle_id=str(cycle),
        now_ms=int(rec["time_ms"]),
        mode=str(rec["mode"]),
        loops=tuple(rec.get("loops") or ()),
        coins=tuple(inp.get("coins") or ()),
        account=AccountState.model_validate(rec["account_before"]),
        snapshot=MarketSnapshot(time_ms=int(m["time_ms"]), mids=m.get("mids") or {},
                                contexts={c: AssetContext.model_validate(x) for c, x in (m.get("contexts") or {}).items()}),
        specs={c: AssetSpec.model_validate(x) for c, x in (m.get("specs") or {}).items()},
        books=books,
        signals=rec.get("signals") or {},
        counters=RiskCounters.from_state(inp["counters"]) if inp.get("counters") else RiskCounters(),
        governance_state=inp.get("governance_state"),
        api_failures=int(inp.get("api_failures") or 0),
        exits=tuple(inp.get("exits") or ()),
        liquidated=tuple(inp.get("liquidated") or ()),  # (not in records from before liquidations were exits)
        open_orders=_open_orders(inp.get("open_orders")),
    )


def _open_orders(recorded: list[Any] | None) -> tuple[OpenOrder, ...] | None:
    """The open orders a cycle read (None: it had no orders to review, so it read none)."""
    return None if recorded is None else tuple(OpenOrder.model_validate(o) for o in recorded)


def _scripted_client(cfg: Config, rec: dict[str, Any]) -> Any:
    from hyperliquid_agent.config import LLMConfig
    from hyperliquid_agent.testing import ScriptedLLM

    llm = rec.get("llm") or {}
    replies: list[Any] = []
    details = llm.get("detail") or ([llm] if llm.get("calls") else [])
    for call in details:
        if call.get("purpose", "decision") not in ("decision", "governance"):
            continue  # regime classification: the replay classifies with the rules
        if call.get("raw_reply") is not None:
            replies.append(call["raw_reply"])
        else:
            errors = call.get("errors") or [call.get("error") or "the recorded call failed"]
            replies.append(LLMUnavailableError(f"recorded failure: {errors[0]}"))
    return ScriptedLLM(replies, llm_config=LLMConfig(provider="scripted", model=str(llm.get("model") or "scripted"),
                                                     max_retries=0))


def _recorded_approvals(rec: dict[str, Any]) -> Any:
    """The operator's recorded answers to approval prompts, given again."""
    approved = {(i.get("coin"), i.get("side"), Decimal(str(i.get("size"))).normalize())
                for o in rec.get("orders") or [] for i in [o.get("intent") or {}]
                if "human_approval" in ((o.get("verdict") or {}).get("checks") or ())}

    def approver(intent: Any) -> bool:
        return (intent.coin, intent.side.value, intent.size.normalize()) in approved

    return approver


def _norm(intent: dict[str, Any], verdict: dict[str, Any] | None) -> tuple:
    vals = []
    for k in _KEYS:
        v = intent.get(k)
        if k in ("size", "limit_price") and v is not None:
            v = Decimal(str(v)).normalize()
        vals.append(v)
    verdict = verdict or {}
    vals.append(verdict.get("verdict"))
    vals.append(verdict.get("reason_code"))
    return tuple(vals)


def _show(t: tuple) -> str:
    d = dict(zip(_KEYS + ("verdict", "reason"), t))
    text = f"{d['side']} {d['size']} {d['coin']} @ {d['limit_price']} ({d['purpose']}"
    text += ", reduce-only" if d["reduce_only"] else ""
    return text + f") {d['verdict']}" + (f" [{d['reason']}]" if d["reason"] else "")


def replay_cycle(cfg: Config, rec: dict[str, Any]) -> dict[str, Any]:
    """Re-run one recorded cycle; `match` says whether the orders are reproduced."""
    from hyperliquid_agent.app import wiring
    from hyperliquid_agent.app.governed import GovernedFlow
    from hyperliquid_agent.execution import cloid_for
    from hyperliquid_agent.store import StateStore

    inputs = inputs_from_record(rec)
    run_cfg = cfg.model_copy(deep=True)
    run_cfg.source_path = cfg.source_path
    run_cfg.agent.mode = inputs.mode  # type: ignore[assignment]
    if inputs.coins:
        run_cfg.agent.coins = list(inputs.coins)
    strategies = wiring.load_strategy_library(run_cfg)
    governance = None
    if inputs.mode == "governed":
        governance = GovernedFlow.from_state(run_cfg, strategies, inputs.governance_state, wiring.load_events(run_cfg))
    store = StateStore.memory()
    try:
        pipeline = wiring.build_pipeline(run_cfg, None, store, strategies=strategies,
                                         client=_scripted_client(run_cfg, rec), governance=governance,
                                         approver=_recorded_approvals(rec))
        decided = pipeline.decide(inputs)
        review = pipeline.risk.review(decided.intents, pipeline.risk_context(inputs))
    finally:
        store.close()
    replayed = [_norm(a.intent.model_dump(mode="json"), a.verdict.model_dump(mode="json")) for a in review.approved]
    replayed += [_norm(i.model_dump(mode="json"), d.model_dump(mode="json")) for i, d in review.denied
                 if getattr(i, "kind", None) == "order"]
    recorded, differences = [], []
    for o in rec.get("orders") or []:
        intent = o.get("intent") or {}
        if intent.get("purpose") == "protect":
            continue
        recorded.append(_norm(intent, o.get("verdict")))
        leg, cloid = o.get("leg"), o.get("cloid")
        if cloid and leg and cloid != cloid_for(str(rec["cycle_id"]), leg):
            differences.append(f"cloid {cloid} of leg {leg} is not the deterministic id for this cycle and leg")
    left = list(replayed)
    for r in recorded:
        if r in left:
            left.remove(r)
        else:
            differences.append(f"recorded but not reproduced: {_show(r)}")
    differences += [f"reproduced but not recorded: {_show(r)}" for r in left]
    return {
        "cycle_id": rec.get("cycle_id"),
        "match": not differences,
        "decision": decided.summary,
        "recorded_decision": (rec.get("decision") or {}).get("summary"),
        "recorded": [_show(r) for r in recorded],
        "replayed": [_show(r) for r in replayed],
        "differences": differences,
    }
