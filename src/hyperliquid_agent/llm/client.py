"""LLMClient: the one facade the engine, the governor and backtests call.

query() = budget check -> provider call (retried on 429/5xx/timeouts) -> schema validation
(one re-ask carrying the error) -> cost from the price table -> a ledger row per call.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hyperliquid_agent.config import LLMConfig
from hyperliquid_agent.errors import BudgetExceededError, LLMError, LLMInvalidOutputError
from hyperliquid_agent.llm.budget import BudgetGuard
from hyperliquid_agent.llm.factory import build_provider
from hyperliquid_agent.llm.ledger import CallRecord, CostLedger, summarize, utc_day
from hyperliquid_agent.llm.pricing import add_price_hint, price_table
from hyperliquid_agent.llm.retry import RetryPolicy, call_with_retry
from hyperliquid_agent.llm.schema import ReplyInvalid, parse_reply, strict_json_schema
from hyperliquid_agent.llm.types import PURPOSES, LLMRequest, LLMResponse, Provider, RawReply, Usage, normalize_messages
from hyperliquid_agent.reply_json import ReplyJSONError, declined, extract_object, loads_strict
from hyperliquid_agent.store import StateStore

log = logging.getLogger("hyperliquid_agent.llm")

# finish reasons of a reply cut at the output token limit (chat, Anthropic, Responses "incomplete: ...")
TRUNCATED = ("length", "max_tokens", "max_output_tokens")
REASK = ("Your previous reply was rejected: {error}. Answer again with only the JSON object "
         "the schema asks for, every field present.")
# the re-ask of a reply cut at the token limit: the same request would be cut again, so ask for less
REASK_CUT = ("Your previous reply was cut off: it did not fit in {max_tokens} output tokens. Answer again with only "
             "the JSON object the schema asks for, every field present, and keep every reasoning text to one short "
             "sentence so it fits.")


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class LLMClient:
    """Query an LLM for (structured) answers, with retries, budgets and a cost ledger.

    `store`: the state store that keeps the ledger across restarts (None: in memory only).
    `clock`: anything with `now_ms()` (budget day, ledger time). `transport`: an httpx2
    transport or client handed to the vendor SDK (tests, benchmarks). `provider` replaces
    the configured provider outright (tests). `sleep` is the retry sleep (tests pass a fake).
    """

    def __init__(
        self,
        llm_config: LLMConfig,
        store: StateStore | None = None,
        clock: Any = None,
        transport: Any = None,
        *,
        provider: Provider | None = None,
        state_dir: str | Path | None = None,
        sleep: Any = None,
        run_id: str | None = None,
    ) -> None:
        self.config = llm_config
        self.store = store
        self.clock = clock if clock is not None else SystemClock()
        self.run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
        self.prices = price_table(llm_config.pricing)
        self.ledger = CostLedger(store) if store is not None else None
        self.retry = RetryPolicy(max_retries=llm_config.max_retries, sleep=sleep or time.sleep)
        if state_dir is None and store is not None and str(store.path) != ":memory:":
            state_dir = store.path.parent
        self.provider: Provider = provider if provider is not None else build_provider(
            llm_config, transport, Path(state_dir) if state_dir is not None else None
        )
        self.budget = BudgetGuard(llm_config.budget, llm_config.fallback_model, self._spent_today, self._spent_run)
        self._records: list[CallRecord] = []
        self._run_cost = Decimal(0)
        self._last_latency_ms = 0.0
        self._unpriced_warned: set[str] = set()
        self._schemas: dict[type[BaseModel], dict[str, Any]] = {}

    @property
    def reads_prompt(self) -> bool:
        """Whether the provider reads the prompt text (an offline policy may decide from the context alone)."""
        return getattr(self.provider, "reads_prompt", True)

    # ---------------------------------------------------------------- public API
    def query(
        self,
        prompt_or_messages: str | list[dict[str, str]],
        schema: type[BaseModel] | None = None,
        purpose: str = "decision",
        context: Any = None,
    ) -> LLMResponse:
        """Ask the model; with `schema`, the reply is validated (one re-ask) and returned parsed."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
        messages = normalize_messages(prompt_or_messages)
        now = self.clock.now_ms()
        try:
            verdict = self.budget.check(self.config.model, now)
            self._check_priced(verdict.model)
        except BudgetExceededError as exc:
            self._record(CallRecord(now, self.run_id, purpose, self.provider.name, self.config.model,
                                    "blocked", note=str(exc)))
            log.warning("llm call blocked by budget: %s", exc)
            raise
        if verdict.note:
            log.warning("%s", verdict.note)
        request = LLMRequest(
            messages=messages, model=verdict.model, temperature=self.config.temperature,
            max_tokens=self.config.max_tokens, schema=schema,
            json_schema=self._strict_schema(schema) if schema is not None else None, context=context,
        )
        started = time.perf_counter()
        replies: list[tuple[RawReply, Decimal | None]] = []
        reply, cost = self._call(request, purpose)
        replies.append((reply, cost))
        parsed = None
        if reply.refusal:
            self._record_reply(request, reply, cost, purpose, "invalid", note=f"refusal: {reply.refusal}")
            raise LLMInvalidOutputError(
                f"{self.provider.name}/{request.model} refused to answer: {reply.refusal}",
                response=self._response(request, replies, None, started, purpose, verdict.note),
            )
        if schema is not None:
            try:
                parsed = self._validate(reply, schema)
                self._record_reply(request, reply, cost, purpose, "ok")
            except ReplyInvalid as first:
                reason = self._declined(reply)
                if reason is not None:  # the model used the prompt's way out: no re-ask pressing it to decide
                    self._record_reply(request, reply, cost, purpose, "invalid", note=f"declined: {reason}")
                    raise LLMInvalidOutputError(
                        f"{self.provider.name}/{request.model} declined to answer: {reason}", content=reply.content,
                        response=self._response(request, replies, None, started, purpose, verdict.note),
                    ) from None
                self._record_reply(request, reply, cost, purpose, "invalid", note=str(first))
                try:  # the re-ask is a call like any other: a budget this reply used up stops it
                    self.budget.check(request.model, self.clock.now_ms())
                except BudgetExceededError as exc:
                    self._record(CallRecord(self.clock.now_ms(), self.run_id, purpose, self.provider.name,
                                            request.model, "blocked", note=f"re-ask: {exc}"))
                    log.warning("llm reply invalid and the re-ask is blocked by budget: %s", exc)
                    raise LLMInvalidOutputError(
                        f"{self.provider.name}/{request.model} gave no valid {schema.__name__} ({first}) and the "
                        f"re-ask was not made: {exc}",
                        content=None if _cut_off(reply, self.config.max_tokens) else reply.content,
                        response=self._response(request, replies, None, started, purpose, verdict.note),
                    ) from None
                log.warning("llm reply invalid, re-asking once: %s", first)
                reask = replace(request, messages=request.messages + (
                    {"role": "assistant", "content": reply.content},
                    {"role": "user", "content": REASK_CUT.format(max_tokens=self.config.max_tokens)
                     if _at_token_limit(reply) else REASK.format(error=first)},
                ))
                reply, cost = self._call(reask, purpose)
                replies.append((reply, cost))
                try:
                    parsed = self._validate(reply, schema)
                    self._record_reply(reask, reply, cost, purpose, "ok")
                except ReplyInvalid as second:
                    self._record_reply(reask, reply, cost, purpose, "invalid", note=str(second))
                    raise LLMInvalidOutputError(
                        f"{self.provider.name}/{request.model} gave no valid {schema.__name__} after one re-ask: "
                        f"{second}",
                        content=None if reply.refusal or _cut_off(reply, self.config.max_tokens) else reply.content,
                        response=self._response(request, replies, None, started, purpose, verdict.note),
                    ) from None
        else:
            self._record_reply(request, reply, cost, purpose, "ok")
        return self._response(request, replies, parsed, started, purpose, verdict.note)

    def get_cost_summary(self) -> dict[str, Any]:
        """Totals for this client's life: total_calls, total_input_tokens, total_output_tokens,
        total_cached_input_tokens, total_cost_usd, avg_cost_per_call, and by_model/by_day/by_purpose."""
        return summarize(self._records)

    @property
    def total_calls(self) -> int:
        return self.get_cost_summary()["total_calls"]

    @property
    def total_cost_usd(self) -> Decimal:
        return self.get_cost_summary()["total_cost_usd"]

    # ---------------------------------------------------------------- internals
    def _strict_schema(self, schema: type[BaseModel]) -> dict[str, Any]:
        """The strict JSON schema of `schema`, built once per client (providers only read it)."""
        strict = self._schemas.get(schema)
        if strict is None:
            strict = self._schemas[schema] = strict_json_schema(schema)
        return strict

    def _check_priced(self, model: str) -> None:
        """Fail closed: under a budget, a model whose spend cannot be counted is not called."""
        budget = self.config.budget
        if budget.daily_usd is None and budget.run_usd is None:
            return
        free = self.provider.name == "baseline" or (self.provider.name == "replay" and self.config.replay.mode == "strict")
        if free or self.prices.price_for(model) is not None:
            return
        raise BudgetExceededError(
            f"llm.budget is set but model {model} has no price, so its spend cannot be counted; holding without "
            f"calling it. {add_price_hint(model)}"
        )

    def _response(self, request: LLMRequest, replies: list[tuple[RawReply, Decimal | None]],
                  parsed: dict[str, Any] | None, started: float, purpose: str, note: str | None) -> LLMResponse:
        """The answer over every call of one query (a re-ask is billed too); the last reply's text."""
        reply = replies[-1][0]
        usage = reply.usage if len(replies) == 1 else sum((r.usage for r, _ in replies), Usage())
        costs = [c for _, c in replies]
        return LLMResponse(
            content=reply.content,
            parsed=parsed,
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=None if any(c is None for c in costs) else sum(costs, Decimal(0)),  # type: ignore[arg-type]
            latency_ms=(time.perf_counter() - started) * 1000.0,
            provider=self.provider.name,
            model=reply.model or request.model,
            request_id=reply.request_id,
            cache_write_tokens=usage.cache_write_tokens,
            purpose=purpose,
            attempts=len(replies),
            replayed=all(r.replayed for r, _ in replies),
            budget_note=note,
        )

    def _call(self, request: LLMRequest, purpose: str) -> tuple[RawReply, Decimal | None]:
        started = time.perf_counter()

        def on_retry(attempt: int, exc: Exception, wait: float) -> None:
            log.warning("llm %s unavailable (%s); retry %d in %.2fs", self.provider.name, exc, attempt, wait)

        try:
            reply = call_with_retry(lambda: self.provider.complete(request, self.config.timeout_s), self.retry, on_retry)
        except LLMError as exc:
            self._record(CallRecord(self.clock.now_ms(), self.run_id, purpose, self.provider.name, request.model,
                                    "error", latency_ms=(time.perf_counter() - started) * 1000.0, note=str(exc)))
            raise
        if not reply.model:
            reply = replace(reply, model=request.model)
        self._last_latency_ms = (time.perf_counter() - started) * 1000.0
        return reply, self._cost(reply, request.model)

    def _cost(self, reply: RawReply, requested: str) -> Decimal | None:
        if reply.replayed or reply.free:
            return Decimal(0)
        cost = self.prices.cost(reply.model, reply.usage)
        if cost is None and reply.model != requested:
            cost = self.prices.cost(requested, reply.usage)
        if cost is None and reply.model not in self._unpriced_warned:
            self._unpriced_warned.add(reply.model)
            log.warning("no price known for model %s: its tokens are recorded, its cost is unknown. %s",
                        reply.model, add_price_hint(requested))
        return cost

    def _repairs(self) -> bool:
        """Whether replies are read with repair (servers that may wrap the JSON in prose or fences); a
        replay reads its replies as the provider they were recorded from was read."""
        source = self.config.replay.wrapped_provider if self.provider.name == "replay" else self.provider.name
        return self.config.output_mode != "json_schema" or source == "openai-compatible"

    def _declined(self, reply: RawReply) -> str | None:
        """The reason when a whole reply is the error form the prompts offer (`{"error": true, ...}`)."""
        if _cut_off(reply, self.config.max_tokens):
            return None
        try:
            obj = extract_object(reply.content, ("error",)) if self._repairs() else loads_strict(reply.content.strip())
        except ReplyJSONError:
            return None
        return declined(obj)

    def _validate(self, reply: RawReply, schema: type[BaseModel]) -> dict[str, Any]:
        """The parsed reply. A reply the provider says was cut off (at the token limit, by a filter) is
        invalid even when what came parses: a forced tool call cut at max_tokens arrives as a complete
        object whose last list simply ends early (a target book missing its last coins would close them)."""
        if reply.refusal:
            raise ReplyInvalid(f"the model refused: {reply.refusal}")
        cut = _cut_off(reply, self.config.max_tokens)
        try:
            parsed = parse_reply(reply.content, schema, repair=self._repairs())
        except ReplyInvalid as exc:
            if cut:
                raise ReplyInvalid(f"{exc}; {cut}") from None
            raise
        if cut:
            raise ReplyInvalid(f"{cut}; an incomplete reply is never used, even when what came is valid JSON")
        return parsed

    def _record_reply(self, request: LLMRequest, reply: RawReply, cost: Decimal | None, purpose: str,
                      status: str, note: str | None = None) -> None:
        u = reply.usage
        self._record(CallRecord(
            self.clock.now_ms(), self.run_id, purpose, self.provider.name, reply.model or request.model, status,
            u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens,
            cost, self._last_latency_ms, reply.request_id, reply.replayed, note,
        ))

    def _record(self, rec: CallRecord) -> None:
        self._records.append(rec)
        if rec.cost_usd is not None and rec.status in ("ok", "invalid"):
            self._run_cost += rec.cost_usd
        if self.ledger is not None:
            self.ledger.record(rec)

    def _spent_today(self, now_ms: int) -> Decimal:
        day = utc_day(now_ms)
        if self.ledger is not None:
            return self.ledger.spent_on_day(day)
        return sum((r.cost_usd for r in self._records
                    if r.day == day and r.cost_usd is not None and r.status in ("ok", "invalid")), Decimal(0))

    def _spent_run(self) -> Decimal:
        return self._run_cost


def _cut_off(reply: RawReply, max_tokens: int) -> str | None:
    """Why `reply` is incomplete according to the provider's finish reason, or None when it is whole."""
    reason = reply.finish_reason or ""
    if _at_token_limit(reply):
        return f"the reply was cut off at llm.max_tokens = {max_tokens} ({reason}): raise llm.max_tokens"
    if reason == "model_context_window_exceeded":
        return f"the reply was cut off when it filled the model's context window ({reason}): shorten the prompt"
    if reason == "content_filter" or reason.startswith("incomplete"):
        return f"the reply was cut off by the provider ({reason})"
    return None


def _at_token_limit(reply: RawReply) -> bool:
    """Whether the provider says `reply` stopped at the output token limit."""
    reason = reply.finish_reason or ""
    return reason in TRUNCATED or reason.removeprefix("incomplete: ") in TRUNCATED
