"""`hl-agent backtest run | compare | sweep` (and `hl-agent backtest --start ...` as a shortcut for run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, err_console, fail, load, print_json


def escape(text: str) -> str:
    """Text printed through rich, with its square brackets kept (config sections like [llm]).
    Not for `fail()`, which escapes its message itself."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


backtest_app = typer.Typer(
    help="Replay the engine over history or synthetic data; compare runs; sweep parameters.",
    invoke_without_command=True,
)

START = typer.Option(None, "--start", help="First day of the window, YYYY-MM-DD (default: a month into the data).")
END = typer.Option(None, "--end", help="Day after the last one, YYYY-MM-DD (default: the end of the data).")
COINS = typer.Option(None, "--coins", help="Comma-separated coins, e.g. BTC,ETH,SOL (default: [agent] coins).")
INTERVAL = typer.Option(None, "--interval", help="Decision bar: 1h, 4h or 1d (default: the live loop's tick).")
MODE = typer.Option(None, "--mode", help="standard or governed (default: [agent] mode).")
PROVIDER = typer.Option("baseline", "--provider", help="baseline, replay, or a paid provider (openai, anthropic, openai-compatible).")
DATA = typer.Option(None, "--data", help="Folder of <COIN>_1h_candles.csv and <COIN>_funding.csv files.")
SYNTHETIC = typer.Option(False, "--synthetic", help="Use the seeded synthetic generator (the default without --data).")
SEED = typer.Option(None, "--seed", help="Synthetic data seed (default: [venue] seed).")
OUTPUT = typer.Option(None, "--output", "-o", help="Folder to write (default: <[backtest] output_dir>/<run or sweep id>).")
MAX_COST = typer.Option(None, "--max-cost", help="Stop before any cycle that could take LLM spend past this many USD.")
LATENCY = typer.Option(None, "--latency-bars", help="Hourly bars between a decision and its fills (default: [backtest] fill_latency_bars).")
SET = typer.Option(None, "--set", help="Override a config value for this run: section.key=value (repeatable).")
NO_BASELINE = typer.Option(False, "--no-baseline", help="Skip the baseline-provider comparison run.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask before a run that may spend money on a paid model.")
STRATEGIES = typer.Option(None, "--strategies", help="Offer only these strategy ids (comma-separated); default: the whole library.")


def _spec(cfg: Any, start: str | None, end: str | None, coins: str | None, interval: str | None, mode: str | None,
          provider: str, data: Path | None, synthetic: bool, seed: int | None, max_cost: float | None,
          latency: int | None, sets: list[str] | None, no_baseline: bool, strategies: str | None = None) -> Any:
    from decimal import Decimal

    from hyperliquid_agent.backtest.spec import BacktestSpec, parse_day
    from hyperliquid_agent.backtest.sweep import parse_sets

    if data is not None and synthetic:
        fail("--data and --synthetic exclude each other: pick one")
    if data is not None and seed is not None:
        fail("--seed seeds the synthetic data and does nothing with --data: drop one of them")
    if data is None and not synthetic and cfg.venue.source == "data" and cfg.venue.data_dir:
        if seed is not None:
            fail(f"--seed seeds the synthetic data, and {cfg.source_path or 'the config'} replays [venue] data_dir: "
                 f"add --synthetic to use the seed")
        data = cfg.resolve_path(cfg.venue.data_dir)
    overrides = {k: (v[0] if len(v) == 1 else v) for k, v in parse_sets(sets or []).items()}
    coin_list = tuple(c.strip().upper() for c in coins.split(",") if c.strip()) if coins else tuple(cfg.agent.coins)
    return BacktestSpec(
        coins=coin_list,
        start=parse_day(start, "--start") if start else None,
        end=parse_day(end, "--end") if end else None,
        interval=interval, mode=mode or cfg.agent.mode, provider=provider, data_dir=data, seed=seed,
        max_cost_usd=Decimal(str(max_cost)) if max_cost is not None else None,
        fill_latency_bars=latency, overrides=overrides, vs_baseline=False if no_baseline else None,
        strategies=_csv(strategies),
    ).validated()


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _metrics_table(result: Any, title: str) -> Any:
    from rich.table import Table

    from hyperliquid_agent.backtest.results import HEADLINE, format_value

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("this run", justify="right")
    base = result.baseline_metrics
    if base:
        table.add_column("baseline provider", justify="right")
    for key, label, kind in HEADLINE:
        row = [label, format_value(result.metrics.get(key), kind)]
        if base:
            row.append(format_value(base.get(key), kind))
        table.add_row(*row)
    return table


def _groups_table(metrics: dict[str, Any], which: str, title: str) -> Any:
    from rich.table import Table

    from hyperliquid_agent.backtest.results import format_value, iter_groups

    rows = list(iter_groups(metrics, which))
    if not rows:
        return None
    table = Table(title=title)
    for col in ("id", "bars", "PnL", "fees", "funding", "fills"):
        if col == "id":  # a long plan id wraps; the figures stay whole
            table.add_column(col, overflow="fold")
        else:
            table.add_column(col, justify="right", no_wrap=True)
    for g in rows:
        table.add_row(escape(g["key"]), str(g["bars"]), format_value(g["pnl_usd"], "usd"), format_value(g["fees_usd"], "usd"),
                      format_value(g["funding_usd"], "usd"), str(g["n_trades"]))
    return table


def do_run(config: Path | None, as_json: bool, yes: bool, output: Path | None, **kw: Any) -> None:
    import sys

    from hyperliquid_agent.backtest.runner import plan_run, run_backtest, write_outputs
    from hyperliquid_agent.backtest.spec import PAID_PROVIDERS, run_settings
    from hyperliquid_agent.backtest.venue import build_feed
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.llm.pricing import add_price_hint

    cfg = load(config)
    err = err_console()
    try:
        spec = _spec(cfg, **kw)
        paid = spec.provider in PAID_PROVIDERS
        model = run_settings(cfg, spec).llm.model  # (a --set llm.model=... is the model the run calls)
        if paid:
            if model.startswith("baseline"):
                example = "claude-haiku-4-5" if spec.provider == "anthropic" else "gpt-4o-mini"
                fail(f"--provider {spec.provider} needs a model of that provider: set llm.model in "
                     f"{cfg.source_path or 'config.toml'} (e.g. model = \"{example}\")")
            cfg.llm.provider = spec.provider  # the paid provider must find its key now, not mid-run
            cfg.check_required()
        _check_output(cfg, output)
        feed = build_feed(cfg, spec)
        plan = plan_run(cfg, spec, feed)
        for w in plan.warnings:
            err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
        if plan.estimate is not None:
            err.print(escape(plan.estimate.describe(model)), highlight=False)
            if plan.estimate.usd is None and spec.max_cost_usd is not None:
                fail(f"--max-cost: {model} has no price in the LLM price table, so its spend cannot be kept "
                     f"under the cap and the run would stop before its first cycle. "
                     f"{add_price_hint(model, str(cfg.source_path or 'config.toml'))}")
            if spec.max_cost_usd is None and not yes:
                if not sys.stdin.isatty():
                    fail("a paid model is selected: pass --max-cost USD (or --yes) for a non-interactive run")
                if not typer.confirm("Run it?", default=False):
                    raise typer.Exit(1)
        progress, bar = _progress(err, len(plan.times), as_json)
        with bar:
            result = run_backtest(cfg, spec, progress=progress, feed=feed, plan=plan)
        out = output or Path(cfg.backtest.output_dir).expanduser() / result.run_id
        res_path, report_path = write_outputs(result, out)
    except HLAgentError as exc:
        fail(str(exc))
    # every cycle failed and held (an LLM error, a strict-replay miss): the run decided nothing
    decided_nothing = bool(result.decisions) and all(d.error for d in result.decisions)
    if as_json:
        print_json({"run_id": result.run_id, "results": str(res_path), "report": str(report_path),
                    "metrics": result.metrics, "baseline_metrics": result.baseline_metrics,
                    "warnings": result.warnings, "stopped_early": result.stopped_early})
        if decided_nothing:
            raise typer.Exit(1)
        return
    out_c = console()
    out_c.print(_metrics_table(result, f"backtest {result.run_id}"))
    for which, title in (("per_plan", "per plan"), ("per_strategy", "per strategy")):
        groups = _groups_table(result.metrics, which, title)
        if groups is not None:
            out_c.print(groups)
    for w in result.warnings[len(plan.warnings):]:
        out_c.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if result.stopped_early:
        out_c.print(f"[yellow]stopped early:[/] {escape(result.stopped_early)}", highlight=False)
    out_c.print(f"results: {res_path}\nreport:  {report_path}", highlight=False, markup=False)
    if decided_nothing:
        fail(f"every one of the {len(result.decisions)} cycles failed (the warning above): the run decided nothing",
             code=1)


def _check_output(cfg: Any, output: Path | None) -> None:
    """Refuse an output folder that cannot be written before the run, not after it."""
    from hyperliquid_agent.backtest.results import check_output_dir

    if output is not None:
        check_output_dir(output)
    else:
        check_output_dir(Path(cfg.backtest.output_dir).expanduser(), "[backtest] output_dir")


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(err: Any, total: int, quiet: bool, what: str = "replaying bars") -> tuple[Any, Any]:
    if quiet or not err.is_terminal:
        return None, _NoBar()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task(what, total=total)

    def update(done: int, total_now: int) -> None:  # the total doubles when the baseline replay follows
        bar.update(task, completed=done, total=total_now)

    return update, bar


def run(
    ctx: typer.Context,
    start: Optional[str] = START, end: Optional[str] = END, coins: Optional[str] = COINS,
    interval: Optional[str] = INTERVAL,
    mode: Optional[str] = MODE, provider: str = PROVIDER, data: Optional[Path] = DATA, synthetic: bool = SYNTHETIC,
    seed: Optional[int] = SEED, output: Optional[Path] = OUTPUT, max_cost: Optional[float] = MAX_COST,
    latency: Optional[int] = LATENCY, sets: Optional[list[str]] = SET, no_baseline: bool = NO_BASELINE,
    strategies: Optional[str] = STRATEGIES,
    yes: bool = YES, config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
) -> None:
    """Replay the engine bar by bar; write results.json and report.html; print the metrics."""
    if ctx.invoked_subcommand is not None:
        return  # `backtest <subcommand>`: this ran as the group's callback, with no options
    given = (start, end, coins, interval, mode, data, synthetic or None, seed, output, max_cost, strategies, latency,
             sets or None, no_baseline or None, yes or None, config, as_json or None,
             None if provider == "baseline" else provider)
    if ctx.info_name != "run" and all(v is None for v in given):
        typer.echo(ctx.get_help())  # a bare `hl-agent backtest` (any option makes it a run)
        raise typer.Exit(0)
    do_run(config, as_json, yes, output, start=start, end=end, coins=coins, interval=interval, mode=mode,
           provider=provider, data=data, synthetic=synthetic, seed=seed, max_cost=max_cost, latency=latency,
           sets=sets, no_baseline=no_baseline, strategies=strategies)


# `hl-agent backtest --start ...` (no subcommand) runs a backtest too: one function, two doors
backtest_app.callback()(run)
backtest_app.command("run")(run)


@backtest_app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="First run folder (or its results.json)."),
    run_b: Path = typer.Argument(..., help="Second run folder (or its results.json)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Two runs side by side: headline metrics, the difference (B - A) and the settings that differ."""
    from hyperliquid_agent.backtest import results
    from hyperliquid_agent.errors import HLAgentError

    try:
        a, b = results.load(run_a), results.load(run_b)
    except HLAgentError as exc:
        fail(str(exc))
    rows = results.compare(a, b)
    diffs = results.param_differences(a, b)
    if as_json:
        print_json({"a": a.run_id, "b": b.run_id, "settings_that_differ": diffs,
                    "metrics": [{"metric": r.key, "a": r.a, "b": r.b, "diff": r.diff} for r in rows]})
        return
    from rich.table import Table

    table = Table(title=f"{a.run_id} (A) vs {b.run_id} (B)")
    for col in ("metric", "A", "B", "B - A"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in rows:
        diff = results.format_value(r.diff, r.kind) if r.diff is not None else "-"
        table.add_row(r.label, results.format_value(r.a, r.kind), results.format_value(r.b, r.kind), diff)
    out = console()
    out.print(table)
    for key, (va, vb) in diffs.items():
        out.print(f"  {key}: A={va!r} B={vb!r}", highlight=False, markup=False)


@backtest_app.command("sweep")
def sweep(
    start: Optional[str] = START, end: Optional[str] = END, coins: Optional[str] = COINS,
    interval: Optional[str] = INTERVAL,
    strategies: Optional[str] = typer.Option(None, "--strategies", help="Strategy ids to try, each offered alone."),
    modes: Optional[str] = typer.Option(None, "--modes", help="Comma-separated modes to try, e.g. standard,governed."),
    providers: Optional[str] = typer.Option(None, "--providers", help="Comma-separated providers to try."),
    sets: Optional[list[str]] = typer.Option(None, "--set", help="A config key and the values to try: section.key=v1,v2 (repeatable)."),
    data: Optional[Path] = DATA, synthetic: bool = SYNTHETIC, seed: Optional[int] = SEED,
    output: Optional[Path] = OUTPUT, max_cost: Optional[float] = MAX_COST,
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Parallel processes (default: [backtest] sweep_workers or the CPU count)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="Run the points on this Ray cluster instead of local processes: auto or ray://HEAD:10001 (needs the ray extra)."),
    config: Optional[Path] = CONFIG_OPTION, as_json: bool = JSON_OPTION,
) -> None:
    """Run a grid of backtests in parallel processes and print one table."""
    import os
    import re

    from hyperliquid_agent.backtest.spec import PAID_PROVIDERS
    from hyperliquid_agent.backtest.sweep import (
        check_grid,
        expand_grid,
        parse_sets,
        recording_clash,
        run_sweep,
        sweep_id,
        write_table,
    )
    from hyperliquid_agent.errors import HLAgentError

    cfg = load(config)
    try:
        base = _spec(cfg, start, end, coins, interval, None, "baseline", data, synthetic, seed, max_cost, None, None, True)
        grid = expand_grid(base, _csv(modes), _csv(providers), parse_sets(sets or []), _csv(strategies))
        for _, s in grid:
            try:
                s.validated()
            except HLAgentError as exc:  # it names the single-run options; a sweep takes --modes, --providers
                fail(re.sub(r"--(mode|provider)\b", r"--\1s", str(exc), count=1))
            if s.provider in PAID_PROVIDERS and s.max_cost_usd is None:
                fail(f"the sweep calls a paid model ({s.provider}): pass --max-cost USD, the cap for each run")
        check_grid(cfg, grid)
        _check_output(cfg, output)
        root = output or Path(cfg.backtest.output_dir).expanduser() / sweep_id(cfg, grid)
        executor = None
        if ray_address:
            from hyperliquid_agent.backtest.sweep import ray_executor

            executor = ray_executor(ray_address)
        parallel = ray_address is not None or (workers or cfg.backtest.sweep_workers or os.cpu_count() or 1) > 1
        clash = recording_clash(grid, parallel)
        if clash:
            err_console().print(f"[yellow]warning:[/] {escape(clash)}", highlight=False)
        progress, bar = _progress(err_console(), len(grid), as_json, "backtests done")
        with bar:
            rows = run_sweep(cfg, grid, workers or cfg.backtest.sweep_workers, root, executor=executor,
                             progress=progress)
        table_path = write_table(rows, Path(root) / "sweep.json")
    except HLAgentError as exc:
        fail(str(exc))
    if as_json:
        from hyperliquid_agent.backtest.sweep import row_dict

        print_json({"table": str(table_path), "rows": [row_dict(r) for r in rows]})
        if any(r.failed for r in rows):
            raise typer.Exit(1)
        return
    out = console()
    out.print(_sweep_table(rows))
    for i, r in enumerate(rows, start=1):  # the settings below the table: the figures fit 80 columns
        line = f"#{i}  {escape(r.label)}"
        if r.error:
            line += f"  [red]{'stopped early' if r.metrics else 'failed'}: {escape(r.error)}[/]"
        if r.cycle_errors:
            line += f"  [{'red' if r.all_cycles_failed else 'yellow'}]{escape(r.cycle_errors)}[/]"
        out.print(line, highlight=False)
    out.print(f"table: {table_path}", highlight=False, markup=False)
    failed = sum(1 for r in rows if r.failed)
    if failed:
        fail(f"{failed} of {len(rows)} runs failed or decided nothing (their errors are above and in {table_path})",
             code=1)


# the sweep table's column headers (short: ten figures and the run number fit an 80-column terminal)
SWEEP_HEADERS = {"total_return": "return", "net_return_after_llm": "net of\nLLM", "sharpe": "Sharpe",
                 "max_drawdown": "max\nDD", "n_trades": "trades", "liquidations": "liq.", "fees_usd": "fees",
                 "llm_cost_usd": "LLM\ncost", "plan_switches_per_day": "plan\nsw/day",
                 "excess_vs_buy_and_hold": "vs\nB&H"}


def _sweep_table(rows: Any) -> Any:
    from rich import box
    from rich.table import Table

    from hyperliquid_agent.backtest.results import HEADLINE, format_value
    from hyperliquid_agent.backtest.sweep import ROW_METRICS

    kinds = {k: kind for k, _, kind in HEADLINE}
    table = Table(title=f"sweep: {len(rows)} runs", box=box.SIMPLE_HEAD, padding=0, pad_edge=False,
                  show_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    for key in ROW_METRICS:
        table.add_column(SWEEP_HEADERS.get(key, key), justify="right", no_wrap=True)
    for i, r in enumerate(rows, start=1):
        if r.error and not r.metrics:
            table.add_row(f"#{i}", "[red]failed[/]", *[""] * (len(ROW_METRICS) - 1))
            continue
        table.add_row(f"#{i}", *[_compact(format_value(r.metrics.get(k), kinds.get(k, "ratio")))
                                 for k in ROW_METRICS])
    return table


def _compact(text: str) -> str:
    return text.replace(" %", "%")


def register(app: typer.Typer) -> None:
    app.add_typer(backtest_app, name="backtest")
