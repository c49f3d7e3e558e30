"""The one place that builds the engine's parts from a Config.

LLM client (wrapped in a tap that feeds the audit record), DecisionEngine and templates,
strategies, the governor with its persistence, the risk policy, the executor, the
exchange (through `exchange.factory.build_exchange`, or the embedded paper venue) with
the loop's clock, the audit writer, the market collector, and the cycle pipeline that
ties them. The backtest builds its pipeline here too
(`build_backtest_pipeline`), over the in-process simulated exchange.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from hyperliquid_agent.app.cycle import CyclePipeline
from hyperliquid_agent.app.record import LLMTap
from hyperliquid_agent.app.market import MarketCollector
from hyperliquid_agent.config import Config
from hyperliquid_agent.errors import HLAgentError, VenueUnavailableError
from hyperliquid_agent.store import StateStore


def load_strategy_library(cfg: Config) -> list[Any]:
    from hyperliquid_agent.strategies import load_strategies

    return load_strategies(cfg.resolve_path(cfg.agent.strategies_dir))


def build_templates(cfg: Config, strategies: Sequence[Any]) -> tuple[Any, Any]:
    """The standard and governance templates (TemplateError names the file when one is wrong)."""
    from hyperliquid_agent.prompts import PromptTemplate

    mode = cfg.agent.strategy_render
    std = PromptTemplate(cfg.resolve_path(cfg.agent.prompt_template), render_mode=mode, strategies=strategies)
    gov = PromptTemplate(cfg.resolve_path(cfg.agent.governance_template), render_mode=mode, strategies=strategies)
    return std, gov


def sample_prompt_size(cfg: Config, mode: str | None = None, strategy_ids: Sequence[str] = ()) -> tuple[int, int]:
    """(chars, stable prefix chars) of the prompt `mode` (default: `agent.mode`) sends, with the
    strategy library (or only `strategy_ids`), rendered over the sample snapshot as
    `hl-agent prompt render` prints it: what `costs estimate` and a paid backtest's estimate size."""
    from hyperliquid_agent.decision import sample_prompt_parts

    mode = mode or cfg.agent.mode
    strategies = load_strategy_library(cfg)
    if strategy_ids:
        wanted = set(strategy_ids)
        strategies = [s for s in strategies if s.id in wanted]
    std, gov = build_templates(cfg, strategies)
    prefix, suffix = sample_prompt_parts(gov if mode == "governed" else std, mode, cfg.agent.coins,
                                         max_leverage=cfg.risk.max_leverage)
    return len(prefix) + len(suffix), len(prefix)


def build_llm_client(cfg: Config, store: StateStore | None) -> Any:
    """The cost-tracked LLM client (the offline baseline when no provider is configured)."""
    from hyperliquid_agent.llm_client import LLMClient

    return LLMClient(cfg.llm, store=store)


def build_engine(cfg: Config, strategies: Sequence[Any], client: Any) -> Any:
    """A DecisionEngine whose LLM client is wrapped in an `LLMTap` (prompt hash, raw reply, cost)."""
    from hyperliquid_agent.decision import DecisionEngine

    std, gov = build_templates(cfg, strategies)
    tap = client if isinstance(client, LLMTap) else LLMTap(client)
    return DecisionEngine(cfg.llm, std, gov, client=tap, strategies=list(strategies))


def load_events(cfg: Config) -> tuple[Any, ...]:
    if not cfg.governance.regime.calendar:
        return ()
    from hyperliquid_agent.governance_store import load_calendar_file

    return load_calendar_file(cfg.resolve_path(cfg.governance.regime.calendar))


def build_regime_client(cfg: Config, store: StateStore | None) -> Any:
    if not cfg.governance.regime.use_llm:
        return None
    from hyperliquid_agent.governance.regime import regime_llm_config
    from hyperliquid_agent.llm_client import LLMClient

    return LLMTap(LLMClient(regime_llm_config(cfg.llm, cfg.governance.regime), store=store))


def build_governance(cfg: Config, store: StateStore, strategies: Sequence[Any], *, persist: bool = True,
                     cost_ledger: bool = True) -> Any:
    """The governed flow restored from the state store: same plan, same dwell clock; the
    calendar file (when set) is re-read whenever it changes. `persist=False` (a backtest): its
    state is then kept in memory only, since nothing reads a run's governance state back.
    `cost_ledger=False`: the regime client's calls get no cost ledger rows (a backtest whose
    rows no budget reads back)."""
    from hyperliquid_agent.app.governed import GovernedFlow
    from hyperliquid_agent.governance_store import CalendarFile, GovernanceStore

    path = cfg.governance.regime.calendar
    flow = GovernedFlow.restore(cfg, strategies, GovernanceStore(store),
                                regime_client=build_regime_client(cfg, store if cost_ledger else None),
                                calendar=CalendarFile(cfg.resolve_path(path)) if path else None)
    if not persist:
        flow.persist = None
    return flow


def build_pipeline(
    cfg: Config,
    exchange: Any,
    store: StateStore,
    *,
    strategies: Sequence[Any] | None = None,
    client: Any = None,
    engine: Any = None,
    governance: Any = None,
    approver: Any = None,
    replayable: bool = True,
) -> CyclePipeline:
    """Every part of one cycle, from the config. Pass `client` to use another LLM client (tests,
    replay); pass `engine` / `governance` to use ready-built ones."""
    from hyperliquid_agent.execution import Executor
    from hyperliquid_agent.governance.tripwires import planning_margin_ratio
    from hyperliquid_agent.risk import RiskPolicy

    strategies = list(strategies) if strategies is not None else load_strategy_library(cfg)
    if engine is None:
        engine = build_engine(cfg, strategies, client if client is not None else build_llm_client(cfg, store))
    if governance is None and cfg.agent.mode == "governed":
        governance = build_governance(cfg, store, strategies)
    return CyclePipeline(
        mode=cfg.agent.mode,
        network=cfg.hyperliquid.network,
        coins=tuple(cfg.agent.coins),
        exchange=exchange,
        collector=MarketCollector(exchange, cfg.agent.coins),
        engine=engine,
        risk=RiskPolicy(cfg.risk, allowed_coins=cfg.agent.coins),
        portfolio=cfg.portfolio,
        store=store,
        executor=Executor(exchange, store, config=cfg.portfolio),
        strategies=tuple(strategies),
        governance=governance if cfg.agent.mode == "governed" else None,
        template_version=str(getattr(engine.template, "version", "") or ""),
        max_leverage=cfg.risk.max_leverage,
        approver=approver,
        replayable=replayable,
        max_margin_ratio=planning_margin_ratio(cfg.governance.tripwires) if cfg.agent.mode == "governed" else None,
    )


def embedded_paper(cfg: Config) -> bool:
    """Paper trading on the in-process emulator (a fresh venue account every run)."""
    return cfg.hyperliquid.network == "local" and not (cfg.hyperliquid.base_url or cfg.venue.url)


def open_venue(cfg: Config, tick_s: int, max_cycles: int | None, closers: list[Callable[[], None]],
               previous_ms: int | None = None) -> tuple[Any, Any, str]:
    """(exchange port, loop clock, description). Paper without a venue URL: the embedded emulator on
    a stepped clock; a venue URL on `local`: that emulator, stepped over its operator door;
    testnet/mainnet: the real venue and the wall clock. Closers are appended to `closers`."""
    from hyperliquid_agent.app.paper import (
        SteppedClock, WallClock, data_used_up, remote_stepped_clock, start_paper_venue,
    )
    from hyperliquid_agent.exchange.factory import build_exchange

    hl = cfg.hyperliquid
    note = f"{hl.network} at {hl.base_url}" if hl.base_url else hl.network
    if embedded_paper(cfg):
        paper = start_paper_venue(cfg, previous_ms, tick_s * 1000,
                                  max_cycles if max_cycles is not None else cfg.agent.cycles)
        closers.append(paper.stop)
        run_cfg = cfg.model_copy(deep=True)
        run_cfg.venue.url = paper.url
        run_cfg.source_path = cfg.source_path
        exchange, close = _build(build_exchange, run_cfg)
        closers.append(close)
        return exchange, SteppedClock(paper.now_ms, paper.advance_to, paper.end_ms), (
            f"paper: embedded emulator ({cfg.venue.source} data), simulated clock stepped per tick")
    exchange, close = _build(build_exchange, cfg)
    closers.append(close)
    if hl.network == "local":
        url = hl.base_url or cfg.venue.url or ""
        clock = remote_stepped_clock(url, hl.timeout_s)
        if previous_ms is not None and clock.now_ms() < previous_ms:
            # an emulator restarted since the last cycle starts back at its warm-up: go on one tick after
            # that cycle, as the embedded venue does, so the state dir's plan and counters are not ahead
            if clock.end_ms is not None and previous_ms + tick_s * 1000 > clock.end_ms:
                raise data_used_up(cfg, previous_ms, clock.end_ms, f"the data of the emulator at {url}")
            clock.wait_until(previous_ms + tick_s * 1000, threading.Event())
            clock.restarted = True
            return exchange, clock, (f"paper: emulator at {url}, started again since the last cycle: stepped to one "
                                     "tick after it")
        return exchange, clock, f"paper: emulator at {url}"
    return exchange, WallClock(), note


def _build(build_exchange: Callable[[Config], Any], cfg: Config) -> Any:
    try:
        return build_exchange(cfg)
    except HLAgentError:
        raise
    except Exception as exc:
        raise VenueUnavailableError(venue_hint(cfg, exc)) from None


def venue_hint(cfg: Config, exc: BaseException) -> str:
    hl = cfg.hyperliquid
    where = hl.base_url or cfg.venue.url or hl.network
    return (f"cannot reach the venue ({where}): {type(exc).__name__}: {exc}. Check [hyperliquid] network/base_url "
            "(or [venue] url) and your connection; for paper trading remove base_url and venue.url to use the "
            "embedded emulator")


def build_audit_writer(cfg: Config) -> Any:
    """The audit trail under the state dir, redacting the config's secrets."""
    from hyperliquid_agent.audit import AuditWriter, audit_path, secret_values

    return AuditWriter(audit_path(cfg.state_dir), cfg.agent.audit_max_bytes, secret_values(cfg))


def build_backtest_pipeline(cfg: Config, exchange: Any) -> CyclePipeline:
    """The live loop's pipeline over the backtest's in-process exchange. Its state (plans,
    counters, orders ledger) is an in-memory database: nothing reads a run's state after it,
    and on disk every cycle's writes cost journal syncs and locks (~4 % of a backtest)."""
    store = StateStore.memory()
    # no audit trail: with an offline policy that decides from the context, no prompt is rendered;
    # and no cost ledger rows unless a daily budget reads them back (the client keeps its calls
    # in memory, and the run's costs come from the cycle records)
    # (the regime client's calls, governed with `[governance.regime] use_llm`, follow the same rule)
    cost_ledger = cfg.llm.budget.daily_usd is not None
    client = LLMTap(build_llm_client(cfg, store if cost_ledger else None), prompt_hashes=False)
    strategies = load_strategy_library(cfg)
    # no restart and no replay either: the governance state is neither written nor put in the records
    governance = (build_governance(cfg, store, strategies, persist=False, cost_ledger=cost_ledger)
                  if cfg.agent.mode == "governed" else None)
    return build_pipeline(cfg, exchange, store, strategies=strategies, client=client, governance=governance,
                          replayable=False)
