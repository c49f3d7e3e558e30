"""Parameter sweeps: many backtests over strategies, modes, providers or config values, in parallel.

A sweep is a grid: every combination of the given strategies (each offered alone), modes,
providers and `--set key=v1,v2` values becomes one `BacktestSpec`. Each runs in its own process
(`concurrent.futures.ProcessPoolExecutor`), writes its run folder, and returns one row;
the rows come back as one table sorted like the grid. A run that fails becomes a row with
its error, never the end of the sweep. `run_sweep` takes any `concurrent.futures.Executor`;
`ray_executor` gives one that runs the points on a Ray cluster (the optional `ray` extra).
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from hyperliquid_agent.backtest.spec import PAID_PROVIDERS, BacktestSpec, make_run_id, shown_overrides
from hyperliquid_agent.config import Config
from hyperliquid_agent.errors import ConfigError

# the figures a sweep table shows per run
ROW_METRICS = ("total_return", "net_return_after_llm", "sharpe", "max_drawdown", "n_trades", "liquidations",
               "fees_usd", "llm_cost_usd", "plan_switches_per_day", "excess_vs_buy_and_hold")


@dataclass(frozen=True)
class SweepRow:
    label: str
    settings: dict[str, Any]
    run_dir: str | None
    metrics: dict[str, Any]
    error: str | None = None
    # the run's warning when cycles failed and held (an LLM error, a strict-replay miss): its figures
    # are then those of a book that did not trade as decided, and with every cycle failed, of none
    cycle_errors: str | None = None
    all_cycles_failed: bool = False

    @property
    def failed(self) -> bool:
        """The point did not run, or ran without a single decision taken."""
        return (self.error is not None and not self.metrics) or self.all_cycles_failed


def parse_value(text: str) -> Any:
    """A `--set` value as TOML would read it: numbers, booleans and strings."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def parse_sets(items: Sequence[str]) -> dict[str, list[Any]]:
    """`["risk.max_leverage=2,3", "agent.strategy_render=full"]` -> {key: [values...]}."""
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--set {item!r}: write it as section.key=value[,value...], e.g. risk.max_leverage=2,3")
        out[key.strip()] = [parse_value(v) for v in values.split(",") if v.strip()]
    return out


def expand_grid(base: BacktestSpec, modes: Sequence[str] = (), providers: Sequence[str] = (),
                sets: dict[str, list[Any]] | None = None,
                strategies: Sequence[str] = ()) -> list[tuple[str, BacktestSpec]]:
    """Every combination, each with a readable label such as `mode=governed risk.max_leverage=3`.
    Each of `strategies` becomes a run that is offered that one strategy only."""
    axes: list[tuple[str, list[Any]]] = []
    if strategies:
        axes.append(("strategy", list(strategies)))
    if modes:
        axes.append(("mode", list(modes)))
    if providers:
        axes.append(("provider", list(providers)))
    for key, values in (sets or {}).items():
        axes.append((key, values))
    if not axes:
        return [("base", base)]
    grid = []
    for combo in itertools.product(*(values for _, values in axes)):
        spec = base
        overrides = dict(base.overrides)
        parts = []
        for (key, _), value in zip(axes, combo):
            parts.append(f"{key}={shown_overrides({key: value})[key]}")
            if key == "strategy":
                spec = replace(spec, strategies=(value,))
            elif key == "mode":
                spec = replace(spec, mode=value)
            elif key == "provider":
                spec = replace(spec, provider=value)
            else:
                overrides[key] = value
        label = " ".join(parts)
        grid.append((label, replace(spec, overrides=overrides, run_id=None, vs_baseline=False)))
    return grid


def check_grid(cfg: Config, grid: Sequence[tuple[str, BacktestSpec]]) -> None:
    """Refuse a grid that cannot run before any point starts: a window without bars in the data
    (or a data folder that cannot be read), a point whose `--set` values make
    the config invalid (an unknown key, a value of the wrong type), whose provider cannot run
    with this config (`replay` without the paid provider that recorded), or that offers a
    strategy id its library does not have. Each would otherwise fail in every run it is part of."""
    import tempfile

    from hyperliquid_agent.backtest.spec import effective_config
    from hyperliquid_agent.strategies import load_strategies

    libraries: dict[Path, set[str]] = {}
    for label, spec in grid:
        try:
            with tempfile.TemporaryDirectory(prefix="hl-sweep-check-") as tmp:  # (the run's config, nothing kept)
                settings = effective_config(cfg, replace(spec.validated(), strategies=()), Path(tmp))
        except ConfigError as exc:
            text = str(exc)
            if text.startswith("--set "):  # the label names the point's --set values already
                text = text.split(": ", 1)[1]
            raise ConfigError(f"sweep point {label!r}: {text}") from None
        if not spec.strategies:
            continue
        library = Path(settings.agent.strategies_dir)  # (resolved against the config file's folder)
        if library not in libraries:
            libraries[library] = {s.id for s in load_strategies(library)}
        unknown = [i for i in spec.strategies if i not in libraries[library]]
        if unknown:
            raise ConfigError(f"--strategies: unknown strategy id(s) {', '.join(unknown)} in {library}; "
                              f"known: {', '.join(sorted(libraries[library]))}")
    if grid:  # every point replays the same window of the same data: read it once, a bad folder stops here
        from hyperliquid_agent.backtest.runner import plan_run
        from hyperliquid_agent.backtest.venue import build_feed

        first = replace(grid[0][1], provider="baseline", strategies=())
        plan_run(cfg, first, build_feed(cfg, first))


def recording_clash(grid: Sequence[tuple[str, BacktestSpec]], parallel: bool) -> str | None:
    """The warning for a sweep whose points record a paid model's replies in parallel, or None."""
    if not parallel or sum(1 for _, spec in grid if spec.provider in PAID_PROVIDERS) < 2:
        return None
    return ("points that send the same request share one recorded reply, and points recording at the same time "
            "may each get their own: the store keeps one, so this sweep's figures for a point can differ from its "
            "replays. Record with --workers 1 (a point then replays what another recorded), or rerun the sweep "
            "once recorded and use that run's figures")


def sweep_id(cfg: Config, grid: Sequence[tuple[str, BacktestSpec]]) -> str:
    """A stable name for a sweep: the same grid over the same config gets the same folder."""
    import hashlib

    from hyperliquid_agent.backtest.spec import make_run_id

    ids = ",".join(make_run_id(cfg, spec) for _, spec in grid)
    return f"sweep-{hashlib.sha256(ids.encode()).hexdigest()[:12]}"


def run_one(cfg: Config, label: str, spec: BacktestSpec, out_root: str | None) -> SweepRow:
    """One sweep point (runs inside a worker process)."""
    from hyperliquid_agent.backtest.runner import error_summary, run_backtest, write_outputs

    settings = point_settings(spec)
    run_dir = None
    try:
        result = run_backtest(cfg, spec)
        if out_root is not None:
            run_dir = str(write_outputs(result, Path(out_root) / result.run_id)[0].parent)
    except Exception as exc:  # a failed point (or its folder) is a row, not the end of the sweep
        return SweepRow(label, settings, None, {}, f"{type(exc).__name__}: {exc}")
    row_metrics = {k: result.metrics.get(k) for k in ROW_METRICS}
    failed = [d for d in result.decisions if d.error]
    summary = error_summary(result.decisions)  # the run's own warning begins so (and may say how to fix it)
    cycle_errors = next((w for w in result.warnings if w.startswith(summary[0])), summary[0]) if summary else None
    return SweepRow(label, settings, run_dir, row_metrics, result.stopped_early, cycle_errors,
                    bool(result.decisions) and len(failed) == len(result.decisions))


def point_settings(spec: BacktestSpec) -> dict[str, Any]:
    """A point's settings as its row shows them."""
    settings = {"mode": spec.mode, "provider": spec.provider, **shown_overrides(spec.overrides)}
    if spec.strategies:
        settings["strategies"] = ",".join(spec.strategies)
    return settings


def run_sweep(
    cfg: Config,
    grid: Sequence[tuple[str, BacktestSpec]],
    workers: int | None = None,
    out_root: str | Path | None = None,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SweepRow]:
    """Run the grid in parallel processes; rows come back in grid order."""
    out = str(out_root) if out_root is not None else None
    shipped = worker_config(cfg, grid)
    own = executor is None
    pool = executor or ProcessPoolExecutor(max_workers=workers)
    try:
        # run ids from the full config, as `backtest run` names them (the shipped one lacks its keys)
        futures = {pool.submit(run_one, shipped, label, replace(spec, run_id=spec.run_id or make_run_id(cfg, spec)),
                               out): i for i, (label, spec) in enumerate(grid)}
        rows: list[SweepRow | None] = [None] * len(grid)
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            try:
                rows[i] = fut.result()
            except Exception as exc:  # the worker itself died (killed, out of memory): that point failed
                label, spec = grid[i]
                rows[i] = SweepRow(label, point_settings(spec), None, {}, f"{type(exc).__name__}: {exc}")
            if progress:
                progress(done, len(grid))
    finally:
        if own:
            pool.shutdown()
    return [r for r in rows if r is not None]


def worker_config(cfg: Config, grid: Sequence[tuple[str, BacktestSpec]]) -> Config:
    """The config pickled to each worker process or Ray node (where it may sit in an object store
    spilled to disk): never the private key, which a backtest does not sign with, and the API key
    only when a point of the grid calls a paid model."""
    shipped = cfg.model_copy(deep=True)
    shipped.source_path = cfg.source_path
    shipped.hyperliquid.secret_key = None
    if not any(spec.provider in PAID_PROVIDERS for _, spec in grid):
        shipped.llm.api_key = None
    return shipped


class RayExecutor(Executor):
    """Runs each sweep point as a Ray task on an existing cluster (the optional `ray` extra).

    `submit` turns the call into a remote task needing `num_cpus` and hands back the
    `concurrent.futures.Future` of its result, so `run_sweep` drives it like its own pool.
    """

    def __init__(self, ray: Any, num_cpus: float = 1) -> None:
        self._ray = ray
        self._num_cpus = num_cpus
        self._tasks: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any):  # type: ignore[override]
        task = self._tasks.get(fn)
        if task is None:
            task = self._tasks[fn] = self._ray.remote(num_cpus=self._num_cpus)(fn)
        return task.remote(*args, **kwargs).future()


def ray_executor(address: str, num_cpus: float = 1) -> RayExecutor:
    """Join the Ray cluster at `address` (`auto`, or `ray://head:10001`) and run sweep points on it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray on this machine and on every node: pip install 'hyperliquid-agent[ray]' "
                          "(or pip install 'ray[default]')") from None
    if not ray.is_initialized():
        ray.init(address=address)
    return RayExecutor(ray, num_cpus)


def write_table(rows: Sequence[SweepRow], path: str | Path) -> Path:
    """The sweep's table as JSON (one object per run)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps([row_dict(r) for r in rows], indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return p


def row_dict(r: SweepRow) -> dict[str, Any]:
    return {"label": r.label, "settings": r.settings, "run_dir": r.run_dir, "metrics": r.metrics, "error": r.error,
            "cycle_errors": r.cycle_errors}
