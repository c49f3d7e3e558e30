"""Event-driven replay of the engine over historical or synthetic bars.

For each bar time t of the window the runner moves the in-process venue model to t (fills
of resting orders, hourly funding and liquidations happen inside the model), then runs ONE
cycle of the engine's pipeline at `now = t` against a `SimulatedExchange` over that model.
The pipeline sees the venue only through the exchange port, and the model answers with
data at or before its own clock, so a decision at t sees nothing after t.

Latency: the orders a cycle decides at t reach the model `fill_latency_bars` bars of the
data (hourly) later (the exchange wrapper moves the model forward, and the pipeline prices
the orders there: `CyclePipeline.at_arrival`), so with the default of 1 a decision taken on
the close of bar t fills at the next hour's price, whatever the decision bar, with the
model's fees, slippage, rounding and minimum notional. A cycle waits for its own orders,
so a latency longer than the decision bar makes the engine skip the decision bars that come
before its fills.

The cycle pipeline itself is not here: `pipeline.build_cycle_step` adapts the agent's
cycle (the same one the live loop runs) to the small `CycleStep` protocol below.
"""

from __future__ import annotations

import gc
import tempfile
from bisect import bisect_left, bisect_right
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Protocol, Sequence

from hyperliquid_agent.backtest.guards import (
    DEFAULT_PROMPT_CHARS,
    FREE_PROVIDERS,
    CostEstimate,
    CostGuard,
    cutoff_warning,
    estimate_cost,
    expected_calls,
    sample_prompt_chars,
)
from hyperliquid_agent.backtest.metrics import (
    EquityPoint,
    FundingEvent,
    TradeRecord,
    buy_and_hold_curve,
    compute_metrics,
    versus,
)
from hyperliquid_agent.backtest.results import (
    BacktestResult,
    Curve,
    DecisionRow,
    PlanChange,
    RefusedOrder,
    RunParams,
    metrics_to_dict,
)
from hyperliquid_agent.backtest.spec import (
    INTERVAL_MS,
    PAID_PROVIDERS,
    BacktestSpec,
    day_ms,
    decision_interval,
    effective_config,
    make_run_id,
    ms_day,
    run_settings,
    shown_overrides,
)
from hyperliquid_agent.backtest.venue import (
    ADDRESS,
    LatencyExchange,
    bar_times,
    build_feed,
    build_venue,
    common_closes,
    coverage_warnings,
)
from hyperliquid_agent.config import Config
from hyperliquid_agent.domain.values import ZERO, trusted
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.llm.pricing import add_price_hint
from hyperliquid_agent.times import utc_minute


Progress = Callable[[int, int], None]  # (bars done, bars total)


# ---------------------------------------------------------------- what the runner asks of the pipeline


class StepInfo(NamedTuple):
    """What one cycle did, in the terms the backtest records (a named tuple: as immutable as a
    frozen dataclass, and built in a fraction of its time, once a bar)."""

    regime: str | None = None
    plan_id: str | None = None
    strategy_id: str | None = None
    action: str = "hold"
    detail: str = ""
    orders: int = 0
    denied: int = 0
    error: str | None = None
    llm_cost_usd: Decimal = ZERO  # spent by this cycle (replayed and offline calls: 0)
    llm_calls: int = 0
    inputs_digest: str | None = None  # a hash of what the decision saw (signals, account)
    sent: int = 0  # orders sent to the venue (not denied by the risk policy, not skipped)
    rejections: tuple[tuple[str, str, str, str], ...] = ()  # (coin, side, size, the venue's error) of each it refused
    cloids: tuple[str, ...] = ()  # the client order ids of the orders it sent (its fills are its own, whenever made)
    trading_state: str | None = None  # governed: ACTIVE, REDUCING or HALTED after the tripwires
    trips: tuple[str, ...] = ()  # governed: the codes of the tripwires that tripped
    unpriced: bool = False  # a call came back from a model without a price: its cost is unknown, not 0


class CycleStep(Protocol):
    def __call__(self, now_ms: int) -> StepInfo: ...


# (effective config, exchange port, state dir) -> a cycle step
StepFactory = Callable[[Config, Any, Path], CycleStep]

# ---------------------------------------------------------------- the run


@dataclass
class _Recorder:
    """Collects per-bar state; at the end tags every fill and funding payment with who was in charge."""

    model: Any
    coins: tuple[str, ...]
    account_state: Callable[[], Any]  # the account now (the exchange port's, shared with the cycle)
    latency_ms: int = 0  # a decision's orders reach the venue this long after it
    interval_ms: int = 0  # the curve's bar (the decision bar)
    plan_id: str | None = None
    strategy_id: str | None = None
    regime: str | None = None
    points: list[EquityPoint] = field(default_factory=list)
    regimes: list[str | None] = field(default_factory=list)
    positions: dict[str, list[Decimal]] = field(default_factory=dict)
    closes: dict[str, list[Decimal]] = field(default_factory=dict)
    trades: list[TradeRecord] = field(default_factory=list)
    funding: list[FundingEvent] = field(default_factory=list)
    charges: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # (t, plan, strategy)
    senders: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # cloid -> (plan, strategy)

    def __post_init__(self) -> None:
        self.positions = {c: [] for c in self.coins}
        self.closes = {c: [] for c in self.coins}

    def bar(self, t_ms: int) -> None:
        acct = self.account_state()
        mids = self.model.mids()
        gross = ZERO
        for c in self.coins:
            size = acct.signed_size(c)
            px = mids.get(c, ZERO)
            self.positions[c].append(size)
            self.closes[c].append(px)
            gross += abs(size * px)  # gross notional; the signed size itself is kept above
        self.points.append(EquityPoint(t_ms, acct.portfolio_value, gross, self.plan_id, self.strategy_id))
        self.regimes.append(self.regime)

    def take_charge(self, t_ms: int, info: StepInfo) -> None:
        """The cycle at `t_ms` decided: its regime from that bar on, and its plan in charge from when
        its orders reach the venue (the fill latency later): the fills there, and the positions they
        leave, are its. A bar of the curve goes to whoever holds its positions for the larger part of it."""
        self.plan_id, self.strategy_id, self.regime = info.plan_id, info.strategy_id, info.regime
        for cloid in info.cloids:
            self.senders[cloid] = (info.plan_id, info.strategy_id)
        start = t_ms + self.latency_ms
        first = start - self.interval_ms // 2
        j = len(self.points) - 1
        while j >= 0 and self.points[j].t_ms >= min(t_ms, first):
            p = self.points[j]
            if p.t_ms >= first and (p.plan_id != info.plan_id or p.strategy_id != info.strategy_id):
                self.points[j] = replace(p, plan_id=info.plan_id, strategy_id=info.strategy_id)
            if p.t_ms >= t_ms:
                self.regimes[j] = info.regime
            j -= 1
        if not self.charges or self.charges[-1][1:] != (info.plan_id, info.strategy_id):
            self.charges.append((start, info.plan_id, info.strategy_id))

    def close_out(self) -> None:
        """Retake the last point after the fills that landed on the last bar (so the final
        equity and positions include them), then collect the run's fills and funding once."""
        if self.points:
            last = self.points.pop()
            self.regimes.pop()
            for c in self.coins:
                self.positions[c].pop()
                self.closes[c].pop()
            plan, strategy, regime = self.plan_id, self.strategy_id, self.regime
            self.plan_id, self.strategy_id = last.plan_id, last.strategy_id
            self.bar(last.t_ms)
            self.regimes[-1] = regime
            self.plan_id, self.strategy_id = plan, strategy
        self._collect_events()

    def _in_charge(self, times: list[int], t_ms: int, inclusive: bool) -> tuple[str | None, str | None]:
        """Who was in charge at `t_ms` (`times`: when each charge began)."""
        i = (bisect_right(times, t_ms) if inclusive else bisect_left(times, t_ms)) - 1
        return (self.charges[i][1], self.charges[i][2]) if i >= 0 else (None, None)

    def _collect_events(self) -> None:
        # a fill belongs to the decision that sent its order, known by its cloid (an IOC arriving with
        # the latency, a limit or a TP/SL trigger resting until a later bar). Without one, by time:
        # to the decision whose orders reached the venue at or before t (the charge times are those
        # arrivals), but a liquidation or a resting order's fill, made while the venue crossed the
        # hour that ended at t, to the charge that held the position through it, as the funding
        # settled at t was earned during that hour
        times = [c[0] for c in self.charges]
        for f in self.model.fills(ADDRESS):
            sender = self.senders.get(f.cloid) if f.cloid else None
            plan, strategy = sender if sender is not None else self._in_charge(
                times, f.time_ms, inclusive=f.crossed and not f.liquidation)
            self.trades.append(TradeRecord(f.time_ms, f.coin, str(f.side), f.size, f.price, f.fee, f.closed_pnl,
                                           plan, strategy, f.liquidation))
        for p in self.model.user_funding(ADDRESS):
            plan, strategy = self._in_charge(times, p.time_ms, inclusive=False)
            self.funding.append(FundingEvent(p.time_ms, p.coin, p.usdc, plan, strategy))


def default_step_factory(cfg: Config, exchange: Any, state_dir: Path) -> CycleStep:
    from hyperliquid_agent.backtest.pipeline import build_cycle_step

    return build_cycle_step(cfg, exchange)  # (the engine's state is in memory; the run's folder holds its inputs)


@dataclass(frozen=True)
class Plan:
    """What a run will do, known before it starts (for the cost estimate and warnings)."""

    spec: BacktestSpec
    times: list[int]
    interval: str  # the decision bar: --interval, else the live loop's tick
    latency_bars: int  # in bars of the data (hourly), not decision bars
    latency_ms: int
    warnings: list[str]
    estimate: CostEstimate | None
    calls_per_cycle: int = 1  # paid calls one decision cycle may make (a review and a regime call)
    # bar closes every coin has: a decision whose fills would land elsewhere (a missing bar) is not taken
    fill_times: frozenset[int] | None = None

    def cycle_estimate(self) -> Decimal | None:
        """What the first paid cycle may cost, before any has been seen (None: price unknown)."""
        if self.estimate is None:
            return ZERO  # offline and strict-replay runs cost nothing
        per_call = self.estimate.per_call_usd
        return per_call * self.calls_per_cycle if per_call is not None else None

    @property
    def interval_ms(self) -> int:
        return INTERVAL_MS[self.interval]


def plan_run(cfg: Config, spec: BacktestSpec, feed, prompt_chars: int | None = None) -> Plan:
    """The bars, latency, warnings and (paid models) the spend estimate, before anything runs.
    `prompt_chars` is the rendered prompt's size; by default the configured template is
    rendered over the sample snapshot (`guards.sample_prompt_chars`)."""
    spec = spec.validated()
    settings = run_settings(cfg, spec)
    interval, note = decision_interval(settings, spec.interval)
    interval_ms = INTERVAL_MS[interval]
    start_ms = day_ms(spec.start) if spec.start else None
    end_ms = day_ms(spec.end) if spec.end else None
    times = bar_times(feed, spec.coins, interval_ms, start_ms, end_ms)
    if not times:
        raise ConfigError(
            f"no bars for {','.join(spec.coins)} between {spec.start or 'the start'} and {spec.end or 'the end'} "
            f"in {spec.data_dir or 'the synthetic data'}; check --start/--end and the data folder"
        )
    # (the run's settings: a `--set backtest.fill_latency_bars=...` is its latency, as --latency-bars is)
    latency = settings.backtest.fill_latency_bars if spec.fill_latency_bars is None else spec.fill_latency_bars
    if times[0] + latency * feed.interval_ms > times[-1]:  # (the runner takes no decision whose fills land after it)
        raise ConfigError(
            f"the window has {len(times)} decision bar(s) ({interval}), {_span(times[0], times[-1])}, and an order decided at "
            f"any of them would fill after its last bar ({latency} hourly bar(s) of latency): no decision could be "
            f"taken. Widen --start/--end, or lower --latency-bars or --interval"
        )
    warnings: list[str] = [note] if note else []
    warnings += coverage_warnings(feed, spec.coins, times, interval_ms, start_ms, end_ms)
    if spec.data_dir is None:
        from hyperliquid_agent.exchange.synthetic import PROFILES

        made_up = [c for c in spec.coins if c not in PROFILES]
        if made_up:  # (a typo in --coins would otherwise run on a coin nobody trades)
            warnings.append(f"the synthetic generator has no profile for {', '.join(made_up)}: it makes up a "
                            f"generic mid-cap coin for each (it knows {', '.join(sorted(PROFILES))}); check --coins")
    estimate = None
    per_cycle = 1
    # the model of the run's own settings: a `--set llm.model=...` (a sweep comparing models) is the one called
    model = settings.llm.model
    provider = spec.provider if spec.provider != "replay" else settings.llm.provider
    if spec.provider not in FREE_PROVIDERS:
        w = cutoff_warning(model, provider, ms_day(times[0]), settings.backtest.knowledge_cutoffs)
        if w:
            warnings.append(w)
    if spec.provider in PAID_PROVIDERS:
        # the runner cycles every bar; governed mode asks the model on its review (medium) loop
        calls = expected_calls(times[-1] - times[0] + interval_ms, spec.mode, interval_ms // 1000,
                               settings.governance.governor.medium_loop_s)
        if spec.mode == "governed" and settings.governance.regime.use_llm:
            per_cycle = 2  # a regime classification call beside each review
            calls *= per_cycle
        if prompt_chars is None:
            prompt_chars = sample_prompt_chars(settings, spec.strategies)
        estimate = estimate_cost(calls, prompt_chars or DEFAULT_PROMPT_CHARS, settings.llm.max_tokens, model,
                                 settings.llm.pricing)
    return Plan(spec, times, interval, latency, latency * feed.interval_ms, warnings, estimate, per_cycle,
                frozenset(common_closes(feed, spec.coins)))


def _span(first_ms: int, last_ms: int) -> str:
    return f"at {utc_minute(first_ms)}" if first_ms == last_ms else f"{utc_minute(first_ms)} to {utc_minute(last_ms)}"


def run_backtest(
    cfg: Config,
    spec: BacktestSpec,
    *,
    progress: Progress | None = None,
    step_factory: StepFactory | None = None,
    feed: Any = None,
    state_dir: Path | None = None,
    prompt_chars: int | None = None,
    plan: Plan | None = None,
) -> BacktestResult:
    """Replay the engine over the window and return the full result (nothing is written here
    except the engine's own state under a temporary state dir). `plan` is `plan_run`'s answer
    when the caller already has it (the CLI shows its estimate first)."""
    spec = spec.validated()
    feed = feed if feed is not None else build_feed(cfg, spec)
    plan = plan if plan is not None else plan_run(cfg, spec, feed, prompt_chars)
    with _batch_gc():
        if state_dir is None:
            with tempfile.TemporaryDirectory(prefix="hl-backtest-") as tmp:
                return _run(cfg, plan, feed, Path(tmp), progress, step_factory)
        return _run(cfg, plan, feed, state_dir, progress, step_factory)


# the youngest generation's threshold during a run (Python's default is 700 allocations)
BATCH_GC_THRESHOLD = 50_000


@contextmanager
def _batch_gc() -> Iterator[None]:
    """The garbage collector tuned for a batch run: what exists when the run starts (the feed,
    the strategies, the modules: hundreds of thousands of objects that live as long as the run)
    is frozen out of every collection, and the young generation is collected every
    BATCH_GC_THRESHOLD allocations instead of every 700. A run makes millions of short-lived
    objects and few reference cycles, so the collector's passes over a large heap were several
    per cent of a backtest's time for nothing; cycles are still collected. Restored after."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BATCH_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _run(cfg: Config, plan: Plan, feed, state_dir: Path, progress: Progress | None,
         step_factory: StepFactory | None) -> BacktestResult:
    spec = plan.spec
    steps = step_factory or default_step_factory
    run_cfg = effective_config(cfg, spec, state_dir)
    want_baseline = run_cfg.backtest.vs_baseline if spec.vs_baseline is None else spec.vs_baseline
    with_baseline = want_baseline and spec.provider != "baseline"
    main_progress = base_progress = progress
    if progress is not None and with_baseline:  # one bar over both replays: this run, then the baseline's
        main_progress = lambda done, total: progress(done, 2 * total)  # noqa: E731
        base_progress = lambda done, total: progress(total + done, 2 * total)  # noqa: E731
    main = _replay(run_cfg, plan, feed, state_dir / "main", main_progress, steps)
    update: dict[str, Any] = {"run_id": spec.run_id or make_run_id(cfg, spec),  # no temporary paths in the id
                              "warnings": plan.warnings + main.warnings}
    if with_baseline:
        base_cfg = effective_config(cfg, spec, state_dir / "baseline", provider="baseline")
        # a run stopped early is compared on its own bars: the baseline stops at the same bar, so its
        # metrics beside the run's (and its return) cover the same hours, not the whole window
        until = main.curve.t_ms[-1] if main.stopped_early and main.curve.t_ms else None
        base = _replay(base_cfg, plan, feed, state_dir / "baseline", base_progress, steps, until_ms=until)
        same_bars = base.curve.equity[:len(main.curve.t_ms)]
        update["baseline_metrics"] = base.metrics
        theirs, excess = versus(main.metrics["total_return"], same_bars)
        update["metrics"] = {**main.metrics, "baseline_return": theirs, "excess_vs_baseline": excess}
        update["curve"] = main.curve.model_copy(update={"baseline": same_bars})
    return main.model_copy(update=update)


def _replay(run_cfg: Config, plan: Plan, feed, state_dir: Path, progress: Progress | None,
            step_factory: StepFactory, until_ms: int | None = None) -> BacktestResult:
    """One replay of the window; with `until_ms`, it stops at that bar (having crossed it, deciding
    nothing there), as a run stopped by `--max-cost` does."""
    from hyperliquid_agent.exchange.simulated import SimulatedExchange

    spec, times, interval_ms = plan.spec, plan.times, plan.interval_ms
    state_dir.mkdir(parents=True, exist_ok=True)
    model = build_venue(run_cfg, feed, times[0] - interval_ms)

    def advance(t_ms: int) -> None:
        # walk bar by bar so every bar crossed is on the curve
        while model.now_ms < t_ms:
            nxt = min(t_ms, (model.now_ms // interval_ms + 1) * interval_ms)
            model.advance_to(nxt)
            if nxt % interval_ms == 0 and nxt <= times[-1]:
                rec.bar(nxt)

    latency_ms = plan.latency_ms
    exchange = LatencyExchange(SimulatedExchange(model, ADDRESS), advance, lambda: model.now_ms, latency_ms)
    rec = _Recorder(model, spec.coins, exchange.account_state,  # reads the account the cycle will read
                    latency_ms, interval_ms)
    step = step_factory(run_cfg, exchange, state_dir)
    # offline and strict-replay runs cost nothing; a paid model with an unknown price fails closed
    guard = CostGuard(spec.max_cost_usd, plan.cycle_estimate())
    decisions: list[DecisionRow] = []
    changes: list[PlanChange] = []
    spent = ZERO
    calls = 0
    stopped: str | None = None
    refused: list[RefusedOrder] = []  # the orders the venue refused
    sent = 0  # orders sent to the venue
    trips: list[tuple[int, tuple[str, ...]]] = []  # (t, codes) of the cycles where tripwires tripped
    unpriced = 0  # cycles whose calls came back from a model without a price
    total = len(times)
    for i, t in enumerate(times):
        if model.now_ms > t:  # still waiting for the previous cycle's fills (latency > the decision bar)
            if progress:
                progress(i + 1, total)
            continue
        advance(t)
        if until_ms is not None and t >= until_ms:
            break
        due = t + latency_ms
        if due > times[-1] or (plan.fill_times is not None and due not in plan.fill_times):
            # its orders would fill after the window, or on a bar some coin is missing (at a
            # stale price, the one the decision saw): no decision
            if progress:
                progress(i + 1, total)
            continue
        if not guard.allows_next(spent):
            when = utc_minute(t)
            if guard.seen_cycles == 0 and guard.per_cycle_estimate is None:
                stopped = (f"--max-cost ${spec.max_cost_usd}: {run_cfg.llm.model} has no price in the LLM price "
                           f"table, so its spend cannot be kept under the cap: stopped before the first cycle "
                           f"({when}). {add_price_hint(run_cfg.llm.model, 'the config')}")
            else:
                stopped = f"--max-cost ${spec.max_cost_usd} reached: stopped before the cycle at {when} (spent ${spent})"
            break
        exchange.decision_ms = t
        info = step(t)
        guard.record(info.llm_cost_usd)
        if info.trips:
            trips.append((t, info.trips))
        unpriced += info.unpriced
        sent += info.sent
        if info.rejections:
            refused += [RefusedOrder(t_ms=t + latency_ms, decided_ms=t, coin=coin, side=side, size=Decimal(size),
                                     error=error) for coin, side, size, error in info.rejections]
        spent += info.llm_cost_usd
        calls += info.llm_calls
        if info.plan_id and info.plan_id != rec.plan_id:
            changes.append(PlanChange(t_ms=t, plan_id=info.plan_id, strategy_id=info.strategy_id,
                                      previous_plan_id=rec.plan_id))
        rec.take_charge(t, info)
        decisions.append(_decision_row(t, info))
        if progress:
            progress(i + 1, total)
    if stopped is None and until_ms is None:
        advance(times[-1])
    rec.close_out()
    return _result(run_cfg, plan, rec, decisions, changes, spent, calls, stopped, refused, sent, trips, unpriced)


def _decision_row(t_ms: int, info: StepInfo) -> DecisionRow:
    """The cycle's row, built without validation (pydantic checked its 12 fields once a bar): a
    StepInfo holds each field's type already."""
    return trusted(DecisionRow, {
        "t_ms": t_ms, "regime": info.regime, "plan_id": info.plan_id, "strategy_id": info.strategy_id,
        "action": info.action, "detail": info.detail[:500], "orders": info.orders, "denied": info.denied,
        "error": info.error, "llm_cost_usd": info.llm_cost_usd, "inputs_digest": info.inputs_digest,
        "trading_state": info.trading_state,
    })


def _result(run_cfg: Config, plan: Plan, rec: _Recorder, decisions, changes, spent: Decimal, calls: int,
            stopped: str | None, refused: Sequence[RefusedOrder] = (), sent: int = 0,
            trips: Sequence[tuple[int, tuple[str, ...]]] = (), unpriced: int = 0) -> BacktestResult:
    spec = plan.spec
    start_equity = run_cfg.venue.start_equity_usd
    points = rec.points or [EquityPoint(plan.times[0], start_equity)]
    bench = buy_and_hold_curve({c: v for c, v in rec.closes.items() if v}, start_equity) if rec.points else []
    metrics = compute_metrics(points, rec.trades, rec.funding, spent, bench or None)
    n = len(rec.points)
    curve = Curve(
        t_ms=[p.t_ms for p in rec.points],
        equity=[p.equity for p in rec.points],
        gross_notional=[p.gross_notional for p in rec.points],
        plan_id=[p.plan_id for p in rec.points],
        strategy_id=[p.strategy_id for p in rec.points],
        regime=rec.regimes[:n],
        positions=rec.positions,
        closes=rec.closes,
        benchmark=bench,
    )
    params = RunParams(
        start=(spec.start or ms_day(plan.times[0])).isoformat(),
        end=(spec.end or ms_day(plan.times[-1] + 86_400_000)).isoformat(),
        coins=list(spec.coins), interval=plan.interval, mode=spec.mode, provider=spec.provider,
        model=run_cfg.llm.model if spec.provider != "baseline" else "baseline",
        data=str(spec.data_dir) if spec.data_dir else "synthetic",
        seed=(run_cfg.venue.seed if spec.seed is None else spec.seed) if spec.data_dir is None else None,
        fill_latency_bars=plan.latency_bars, start_equity_usd=start_equity, max_cost_usd=spec.max_cost_usd,
        overrides=shown_overrides(spec.overrides), strategies=list(spec.strategies),
    )
    return BacktestResult(
        run_id=spec.run_id or "pending",
        params=params,
        metrics=metrics_to_dict(metrics),
        curve=curve,
        trades=rec.trades,
        funding=rec.funding,
        decisions=decisions,
        plan_changes=changes,
        llm_calls=calls,
        stopped_early=stopped,
        refused=list(refused),
        orders_sent=sent,
        warnings=(error_summary(decisions, _replay_hint(run_cfg, spec))
                  + rejection_summary(refused, sent, plan.latency_bars)
                  + freeze_summary(decisions, trips) + unpriced_summary(run_cfg, unpriced, len(decisions))),
    )


def error_summary(decisions: Sequence[DecisionRow], replay_hint: str | None = None) -> list[str]:
    """One warning when cycles failed (a failed cycle holds, so the run goes on). `replay_hint`:
    how a backtest records what a strict replay missed, said when some cycle missed."""
    failed = [d for d in decisions if d.error]
    if not failed:
        return []
    first = failed[0]
    when = utc_minute(first.t_ms)
    error = first.error if len(first.error) <= 600 else first.error[:600] + "…"
    text = f"{len(failed)} of {len(decisions)} cycles reported errors and held; the first, at {when}: {error}"
    missed = sum(1 for d in failed if "ReplayMissError" in (d.error or ""))
    if missed and replay_hint:
        text += f"\n{missed} of them found no recorded reply. {replay_hint}"
    return [text]


def _replay_hint(run_cfg: Config, spec: BacktestSpec) -> str | None:
    """The fix for a strict-replay miss in a backtest. The client's own message names the live
    agent's settings ([llm.replay] record, mode), which `--provider replay` does not read."""
    if spec.provider != "replay":
        return None
    source = run_cfg.llm.replay.wrapped_provider
    return (f"--provider replay only replays: record this window first with --provider {source} (and --max-cost "
            f"USD), which stores every reply in {run_cfg.llm.replay.path}; a request recorded with other settings "
            f"(window, coins, model, prompt, --set) is another request")


def unpriced_summary(run_cfg: Config, unpriced: int, cycles: int) -> list[str]:
    """One warning when the model's replies had no price: their cost is unknown, and the run's
    LLM cost (and its return net of it) counts them as nothing."""
    if not unpriced:
        return []
    model = run_cfg.llm.model
    return [f"{unpriced} of {cycles} cycles called {model}, which has no price in the LLM price table: their cost "
            f"is unknown and left out of the LLM cost and the return net of LLM cost. "
            f"{add_price_hint(model, str(run_cfg.source_path or 'config.toml'))}"]


def freeze_summary(decisions: Sequence[DecisionRow], trips: Sequence[tuple[int, tuple[str, ...]]] = ()) -> list[str]:
    """One warning when the tripwires kept the book from trading as decided (governed): a
    REDUCING or HALTED spell changes what a run's figures mean (a plan approved then could only
    reduce), and one that lasts to the end of the window is easy to take for a strategy gone flat."""
    states = [(d.t_ms, d.trading_state) for d in decisions if d.trading_state is not None]
    stopped = [t for t, state in states if state != "ACTIVE"]
    if not stopped:
        return []
    spells: list[tuple[int, int, int]] = []  # (first, last, cycles) of each run of non-ACTIVE cycles
    for frozen, run in groupby(states, key=lambda s: s[1] != "ACTIVE"):
        if frozen:
            times = [t for t, _ in run]
            spells.append((times[0], times[-1], len(times)))
    longest = max(spells, key=lambda s: s[2])
    codes = Counter(code for t, trip in trips if longest[0] <= t <= longest[1] for code in trip)
    why = ", ".join(f"{code} ({n} cycles)" for code, n in codes.most_common()) or "?"
    to_end = longest[1] == states[-1][0]
    end = "the end of the window" if to_end else utc_minute(longest[1])
    text = (f"the tripwires kept the book from trading as decided (REDUCING: orders may only reduce; HALTED: none) "
            f"in {len(stopped)} of {len(states)} cycles, in {len(spells)} spell(s); the longest, {longest[2]} cycles "
            f"from {utc_minute(longest[0])} to {end}, tripped by {why}")
    if to_end:
        text += (". It lasted to the end: a plan approved in it could only reduce (a max_drawdown freeze lifts only "
                 "when equity is back within 90 % of [governance.tripwires] max_drawdown_pct of its peak, or after "
                 "[governance.tripwires] drawdown_rearm_hours when set; see docs/governance.md, Tripwires)")
    return [text]


# the venue's "could not immediately match" (an IOC that no longer crosses the book)
IOC_NO_MATCH = "Order could not immediately match against any resting orders."


def _reason(error: str) -> str:
    """A venue error without what changes from one order to the next (the asset id, the book)."""
    return error.split(" asset=", 1)[0].split(", bbo was", 1)[0].strip()


def rejection_summary(refused: Sequence[RefusedOrder], sent: int, latency_bars: int) -> list[str]:
    """One warning when the venue refused orders the engine sent: those trades did not happen,
    and a run whose orders often miss trades less than the engine decided to, which its figures
    alone would not say."""
    if not refused:
        return []
    counts: dict[str, int] = {}
    for order in refused:
        key = _reason(order.error)
        counts[key] = counts.get(key, 0) + 1
    reasons = "; ".join(f"{n} x {why!r}" for why, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    when = utc_minute(refused[0].decided_ms)
    text = (f"the venue refused {len(refused)} of {sent} orders sent ({reasons}; the first decided at {when}): "
            f"those trades did not happen (each is listed under `refused` in results.json)")
    if latency_bars and IOC_NO_MATCH in counts:
        text += (f". An IOC order reaches the venue {latency_bars} hourly bar(s) later than its decision (--latency-bars, "
                 f"[backtest] fill_latency_bars) and does not fill when the book is past its limit by then (the "
                 f"engine limits its market orders [portfolio] market_slippage_bps from the book where they arrive)")
    return [text]


def write_outputs(result: BacktestResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `results.json` and `report.html` into a run folder."""
    from hyperliquid_agent.backtest import report, results

    return results.save(result, out_dir), report.write_report(result, out_dir)
