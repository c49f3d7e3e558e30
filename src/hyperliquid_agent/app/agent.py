"""Starting the agent: startup checks, reconciliation, plan restore, then the loop.

`start_agent(cfg)` runs the checks in order and fails fast with a message that names the fix:

1. config: every `${VAR}` the chosen settings need is set (MissingEnvError names it);
2. strategies and prompt templates load (every problem listed);
3. state store opens; logging goes to `<state_dir>/agent.log`;
4. venue: reachable, our coins listed, the account readable (paper: the embedded emulator);
5. LLM: offline providers need nothing; paid ones need their key and build their client;
6. reconciliation with the venue: positions adopted (the venue is the truth) and compared
   with what was saved; open orders ours (in the orders ledger) adopted, others flagged;
   orders a crash left unsettled resolved by cloid;
7. plan restore (governed): the active plan and its dwell clock from the state store.

Crash recovery and a normal start are the same path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from hyperliquid_agent.app.loop import AgentLoop, LoopResult, Schedule
from hyperliquid_agent.app.status import AGENT_NS, load_status
from hyperliquid_agent.app.wiring import venue_hint
from hyperliquid_agent.audit import AuditWriter, secret_values
from hyperliquid_agent.config import Config
from hyperliquid_agent.errors import ConfigError, VenueError, VenueUnavailableError
from hyperliquid_agent.store import StateStore

@dataclass
class Agent:
    cfg: Config
    store: StateStore
    audit: AuditWriter
    logger: Any
    exchange: Any
    pipeline: Any
    loop: AgentLoop
    startup: list[dict[str, Any]] = field(default_factory=list)  # {check, ok, detail}
    closers: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> LoopResult:
        return self.loop.run()

    def close(self) -> None:
        _close_all(self.closers)
        self.closers.clear()


def schedule_for(cfg: Config) -> Schedule:
    g = cfg.governance.governor
    if cfg.agent.mode == "governed":
        return Schedule(mode="governed", tick_s=g.fast_loop_s, medium_s=g.medium_loop_s, slow_s=g.slow_loop_s)
    return Schedule(mode="standard", tick_s=cfg.agent.tick_interval_s)


def start_agent(
    cfg: Config,
    *,
    max_cycles: int | None = None,
    client: Any = None,
    stop: threading.Event | None = None,
    on_check: Callable[[dict[str, Any]], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    console: Any = None,
    approver: Any = None,
) -> Agent:
    """Run the startup checks and build a ready agent (raises HLAgentError with the fix)."""
    from hyperliquid_agent.app import wiring
    from hyperliquid_agent.logs import close_logging, resolve_level, setup_logging

    from hyperliquid_agent.audit import redact_text

    checks: list[dict[str, Any]] = []
    secrets = secret_values(cfg)

    def ok(check: str, detail: str, good: bool = True) -> None:
        # a detail may name a URL (llm.base_url, the venue's) with credentials in it
        item = {"check": check, "ok": good, "detail": redact_text(detail, secrets)}
        checks.append(item)
        if on_check is not None:
            on_check(item)

    closers: list[Callable[[], None]] = []
    try:
        # 1. config
        cfg.check_required()
        ok("config", f"{cfg.source_path or 'built-in defaults'}: mode {cfg.agent.mode}, network "
                     f"{cfg.hyperliquid.network}, coins {', '.join(cfg.agent.coins)}")
        # 2. strategies and templates
        strategies = wiring.load_strategy_library(cfg)
        wiring.build_templates(cfg, strategies)
        ok("strategies", f"{len(strategies)} strategies, templates {cfg.agent.prompt_template}, "
                         f"{cfg.agent.governance_template}")
        # 3. state and logging
        closers.append(_lock_state_dir(cfg.state_dir))
        store = StateStore.in_dir(cfg.state_dir)
        closers.append(store.close)
        logger = setup_logging(cfg.state_dir, resolve_level(cfg.agent.log_level), secret_values(cfg),
                               console=console, console_level="WARNING")
        closers.insert(0, close_logging)  # closed last
        audit = wiring.build_audit_writer(cfg)
        ok("state", f"{cfg.state_dir} (audit trail {audit.path.name}"
                    + (f"; cut {audit.torn_bytes} bytes of a torn last record" if audit.torn_bytes else "") + ")")
        # 4. venue
        schedule = schedule_for(cfg)
        last = (load_status(store) or {}).get("time_ms")
        exchange, clock, venue_note = wiring.open_venue(cfg, schedule.tick_s, max_cycles, closers,
                                                        int(last) if last else None)
        specs = _check_venue(cfg, exchange)
        account = exchange.account_state()
        if cfg.hyperliquid.network != "local" and account.portfolio_value <= 0 and not any(
                b.total > 0 for b in account.spot_balances):
            who = getattr(exchange, "user", None) or "the account"
            raise ConfigError(
                f"{who} holds nothing on {cfg.hyperliquid.network}: fund it, or, when secret_key is an API "
                "(agent) wallet, set hyperliquid.account_address to the master account it trades for")
        ok("venue", f"{venue_note}; {len(specs)} coins listed; equity {account.portfolio_value} USDC")
        # 5. LLM
        if client is None:
            client = wiring.build_llm_client(cfg, store)
            ok("llm", _check_llm(cfg, client))
        else:
            ok("llm", f"injected client ({type(client).__name__})")
        pipeline = wiring.build_pipeline(cfg, exchange, store, strategies=strategies, client=client,
                                         approver=approver)
        # 6. reconciliation
        for line in _reconcile(cfg, store, exchange, pipeline, account, clock.now_ms()):
            ok("reconcile", line, good=not line.startswith("FLAG"))
        if (wiring.embedded_paper(cfg) or getattr(clock, "restarted", False)) and load_status(store):
            _reset_equity_anchors(store, pipeline, account.portfolio_value)
            venue = "embedded paper venue" if wiring.embedded_paper(cfg) else "emulator, started again,"
            ok("reconcile", f"the {venue} opened a fresh account: equity anchors (peak, day start) "
                            "reset so tripwires and loss caps measure this session; the active plan's scorecard "
                            "goes on from the new account's equity")
        # 7. plan restore
        if pipeline.governance is not None:
            plan = pipeline.governance.governor.get_active_plan()
            ok("plan", f"restored plan {plan.plan_id} ({plan.strategy_id}), dwell "
                       f"{plan.dwell_remaining_minutes(clock.now_ms())} min left" if plan is not None
               else "no active plan yet: the first review may propose one")
    except BaseException:
        _close_all(closers)
        raise
    loop = AgentLoop(pipeline, store, audit, clock, schedule, logger=logger,
                     max_cycles=max_cycles if max_cycles is not None else cfg.agent.cycles,
                     stop=stop, on_record=on_record)
    logger.info("startup complete", extra={"fields": {"checks": len(checks)}})
    return Agent(cfg, store, audit, logger, exchange, pipeline, loop, checks, closers)


def _lock_state_dir(state_dir: Any) -> Callable[[], None]:
    """One agent per state dir: an exclusive lock the kernel drops if the process dies (kill -9 too)."""
    import fcntl
    import os
    from pathlib import Path

    from hyperliquid_agent.errors import StateError

    path = Path(state_dir) / "agent.lock"  # read by app.status.running_pid
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StateError(f"another agent (pid {holder}) is running on the state dir {state_dir}; stop it first, "
                         "or give this one its own agent.state_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())

    def release() -> None:
        os.close(fd)  # closing drops the lock

    return release


def _close_all(closers: list[Callable[[], None]]) -> None:
    for close in reversed(closers):
        try:
            close()
        except Exception:
            pass


def _check_venue(cfg: Config, exchange: Any) -> dict[str, Any]:
    try:
        specs = exchange.asset_specs()
    except VenueError as exc:
        raise type(exc)(venue_hint(cfg, exc)) from None
    except Exception as exc:
        raise VenueUnavailableError(venue_hint(cfg, exc)) from None
    missing = [c for c in cfg.agent.coins if c not in specs]
    if missing:
        listed = ", ".join(sorted(specs)[:12])
        raise ConfigError(f"[agent] coins lists {', '.join(missing)}, which the venue does not list "
                          f"(it has {listed}{', ...' if len(specs) > 12 else ''}). Fix agent.coins in "
                          f"{cfg.source_path or 'config.toml'}")
    return specs


def _check_llm(cfg: Config, client: Any) -> str:
    """Offline providers need nothing; a paid one answers one tiny structured call (fail fast on a bad key)."""
    from hyperliquid_agent.errors import LLMAuthError, LLMError
    from hyperliquid_agent.llm.check import OFFLINE, ping

    llm = cfg.llm
    if llm.provider in OFFLINE:
        return f"{llm.provider} (offline, no key, no network)"
    where = llm.base_url or "the provider's default endpoint"
    try:
        resp = ping(client)
    except LLMAuthError as exc:
        raise LLMAuthError(f"{llm.provider} at {where} rejected the key in llm.api_key: {exc}. "
                           "Check the key (and that it belongs to this provider)") from None
    except LLMError as exc:
        raise type(exc)(f"{llm.provider}/{llm.model} at {where} did not answer a test call: {exc}. "
                        "Check llm.base_url, llm.model and your connection; `hl-agent llm check` retries it") from None
    return f"{llm.provider} model {resp.model} at {where}: answered in {resp.latency_ms:.0f} ms"


def _reset_equity_anchors(store: StateStore, pipeline: Any, equity: Any) -> None:
    from dataclasses import replace

    from hyperliquid_agent.risk_store import update_counters

    # the day's start equity is read again from the new account at the next review; the notional
    # traded today still counts toward risk.max_daily_notional_usd (the day itself is not reset)
    update_counters(store, lambda counters: replace(counters, day_start_equity=None))
    gov = pipeline.governance
    if gov is not None:
        tw = gov.tripwires
        tw.day_start_ms = tw.day_start_equity = tw.peak_equity = None
        tw.cut_done = []
        card = gov.scorekeeper.current
        if card is not None:
            # the active plan's card goes on from the new account's equity: its PnL and drawdown so
            # far are kept, instead of the jump from the old account's last equity (which its
            # drawdown budget read as a loss, or hid one)
            shift = equity - card.last_equity
            card.start_equity += shift
            card.peak_equity += shift
            card.last_equity = equity
        gov.save()


def _reconcile(cfg: Config, store: StateStore, exchange: Any, pipeline: Any, account: Any, now_ms: int) -> list[str]:
    """What the venue holds versus what we saved; the venue is the truth, differences are flagged."""
    lines: list[str] = []
    try:
        settled = pipeline.executor.reconcile_unsettled(now_ms)
    except VenueError as exc:
        settled = []
        lines.append(f"FLAG orders left unsettled by a crash could not be checked: {exc}")
    for row in settled:
        lines.append(f"order {row.cloid} ({row.coin}, cycle {row.cycle_id}) left unsettled -> venue says {row.status}")
    saved = (load_status(store) or {}).get("account") or {}
    saved_pos = {p["coin"]: p["size"] for p in saved.get("positions") or [] if p.get("size") not in (None, "0", 0)}
    venue_pos = {p.coin: format(p.size, "f") for p in account.positions if p.size != 0}
    for coin, size in sorted(venue_pos.items()):
        was = saved_pos.get(coin)
        if was is None and saved:
            lines.append(f"FLAG {coin}: venue holds {size} that the last saved state did not; adopted")
        elif was is not None and str(was) != size:
            lines.append(f"FLAG {coin}: venue holds {size}, last saved {was}; adopted the venue's")
        else:
            lines.append(f"{coin}: position {size} adopted")
    for coin, was in sorted(saved_pos.items()):
        if coin not in venue_pos:
            lines.append(f"FLAG {coin}: last saved {was}, the venue holds none; adopted the venue's (flat)")
    try:
        orders = exchange.open_orders()
    except VenueError as exc:
        orders = []
        lines.append(f"FLAG open orders could not be read: {exc}")
    ledger = pipeline.executor.ledger
    for o in orders:
        ours = o.cloid is not None and ledger.get(o.cloid) is not None
        if ours:
            lines.append(f"open order {o.oid} {o.coin} {o.side} {o.size}@{o.limit_price} is ours (cloid {o.cloid}); adopted")
        else:
            lines.append(f"FLAG open order {o.oid} {o.coin} {o.side} {o.size}@{o.limit_price} was not placed by this "
                         "agent; left alone")
    if store.get(AGENT_NS, "pending_cycle"):
        lines.append("a cycle was interrupted by a crash; it is reconciled and recorded before the first new cycle")
    if not lines:
        lines.append("no positions, no open orders")
    return lines
