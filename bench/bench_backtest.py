"""Backtest speed and memory: hourly bars for 3 coins, governed mode, baseline provider.

Targets: one year in <= 10 s wall time and <= 300 MB peak RSS. Prints CPU time next to wall
time: on a shared machine wall time mostly measures the other load.

By default this replays the first WINDOW_DAYS days of the year (so the script stays well
under a minute) and prints the year it implies, clearly labelled as extrapolated: a SHORT_DAYS
run first measures what any run costs once (imports, wiring, the first cycle's history
backfill), the difference between the window and the short run repeated warm gives the cost
per bar, and the year is the one plus 8,760 of the other. `--full` replays the whole year.
When `../shared/data/hyperliquid` is present it also replays the same window of the real
BTC/ETH/SOL data. Where the CPU time goes (the cycle pipeline, the signals, the order books)
comes from another run with a probe around each, so the figure carries none of their cost.

    .venv/bin/python bench/bench_backtest.py [--full] [--days N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from _machine import describe
from _timed import Timed

from hyperliquid_agent.backtest.runner import run_backtest
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.backtest.venue import build_feed
from hyperliquid_agent.config import load_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared" / "data" / "hyperliquid"
YEAR_BARS = 365 * 24
WINDOW_DAYS = 21
SHORT_DAYS = 3  # the short run that measures what a run costs whatever its length
TARGET_S, TARGET_MB = 10.0, 300.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_run(cfg, spec: BacktestSpec, feed):
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_backtest(cfg, spec, feed=feed)
    return result, time.perf_counter() - t0, time.process_time() - c0


def split(cfg, spec: BacktestSpec, full_year: bool) -> tuple[float, float, float]:
    """The shares of a run's CPU time in the cycle pipeline, the signals and the order books, from
    a run of its own with a probe around each (their cost, 1-2 % of a bar, stays out of the
    figure); for the full year, from the first WINDOW_DAYS days (and only their data)."""
    from hyperliquid_agent.app import cycle, market
    from hyperliquid_agent.exchange.simulated import SimulatedExchange

    if full_year:
        spec = replace(spec, end=spec.start + timedelta(days=WINDOW_DAYS), run_id=f"{spec.run_id}-split")
    feed = build_feed(cfg, spec)
    signals, books = Timed(market, "compute_signals"), Timed(SimulatedExchange, "book_view")
    pipeline = Timed(cycle.CyclePipeline, "run_record")
    _, _, cpu = timed_run(cfg, spec, feed)
    sig_s, book_s, pipe_s = signals.restore(), books.restore(), pipeline.restore()
    return pipe_s / cpu, sig_s / cpu, book_s / cpu


def one(label: str, cfg, spec: BacktestSpec, full_year: bool) -> float:
    """Runs and prints the figure; returns the run's CPU time per bar (for `where_it_goes`)."""
    feed = build_feed(cfg, spec)
    short = None
    if not full_year:
        # a short run of the same window first: what any run costs whatever its length (imports, wiring,
        # the first cycle's history backfill), so the year below is that once plus the per-bar cost,
        # not that cost multiplied with the window
        first = replace(spec, end=spec.start + timedelta(days=SHORT_DAYS), run_id=f"{spec.run_id}-short")
        _, cold_wall, cold_cpu = timed_run(cfg, first, feed)  # also pays the lazy imports and first uses
        # again, warm like the window run: the cold run's extra cost in the difference would be spread over
        # the bars (~0.35 s over 432 bars, 20 times that on the year) instead of counted once
        sres, swall, scpu = timed_run(cfg, first, feed)
        short = (len(sres.curve.t_ms), swall, scpu, cold_wall - swall, cold_cpu - scpu)
    result, wall, cpu = timed_run(cfg, spec, feed)  # the figure: a run without the split's probes
    bars = len(result.curve.t_ms)
    per_bar_ms = wall / bars * 1000
    if short is not None and bars > short[0]:
        sbars, swall, scpu, cold_extra_wall, cold_extra_cpu = short
        bar_wall, bar_cpu = (wall - swall) / (bars - sbars), (cpu - scpu) / (bars - sbars)
        fixed_wall = swall - bar_wall * sbars + cold_extra_wall
        fixed_cpu = scpu - bar_cpu * sbars + cold_extra_cpu
        year_s, year_cpu_s = fixed_wall + bar_wall * YEAR_BARS, fixed_cpu + bar_cpu * YEAR_BARS
        kind = (f"extrapolated: {fixed_cpu:.2f} s CPU per run, from a {SHORT_DAYS}-day run, plus "
                f"{bar_cpu * 1000:.2f} ms CPU per bar, from the difference to the window run")
    else:
        year_s, year_cpu_s = per_bar_ms * YEAR_BARS / 1000, cpu / bars * YEAR_BARS
        kind = "measured" if bars >= YEAR_BARS - 48 else "extrapolated from the window"
    print(f"{label}: {bars} bars x {len(spec.coins)} coins in {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"({per_bar_ms:.2f} ms/bar, {bars / wall:.0f} bars/s), {len(result.decisions)} cycles, "
          f"{len(result.trades)} fills, return {result.metrics['total_return'] * 100:.2f} %")
    verdict = "ok" if year_s <= TARGET_S else "MISSES"
    print(f"  one year of hourly bars: {year_s:.1f} s wall, {year_cpu_s:.1f} s CPU ({kind}); "
          f"target <= {TARGET_S:.0f} s: {verdict}")
    return cpu / bars


def where_it_goes(label: str, cfg, spec: BacktestSpec, full_year: bool, cpu_per_bar: float) -> None:
    pipe, sig, book = split(cfg, spec, full_year)
    print(f"{label}, where the CPU time goes: the agent's cycle pipeline {pipe * 100:.0f} % (of the run: signals "
          f"{sig * 100:.0f} %, order books {book * 100:.0f} %); replay loop, venue clock, "
          f"recording and setup {(1 - pipe) * 100:.0f} % = {(1 - pipe) * cpu_per_bar * 1000:.2f} ms/bar")


def main(argv: list[str]) -> None:
    print(describe())
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="replay a whole year instead of a window")
    ap.add_argument("--days", type=int, default=WINDOW_DAYS)
    args = ap.parse_args(argv)
    cfg = load_config(REPO / "config.toml", env={})
    cfg.backtest.vs_baseline = False
    days = 365 if args.full else args.days
    start = date(2024, 2, 1)
    spec = BacktestSpec(coins=("BTC", "ETH", "SOL"), start=start, end=start + timedelta(days=days),
                        mode="governed", provider="baseline", run_id="bench")
    runs = [("synthetic", spec)]
    if SHARED.is_dir():
        real_start = date(2024, 10, 6)  # a month after the first real candle, so the signals have history
        real_end = min(real_start + timedelta(days=days), date(2025, 7, 1))
        runs.append((f"real data {real_start}..{real_end}",
                     BacktestSpec(coins=("BTC", "ETH", "SOL"), start=real_start, end=real_end, mode="governed",
                                  provider="baseline", data_dir=SHARED.resolve(), run_id="bench-real")))
    per_bar = [one(label, cfg, run_spec, args.full) for label, run_spec in runs]
    if not SHARED.is_dir():
        print(f"real data: skipped ({SHARED} not present)")
    rss = peak_rss_mb()  # of the figures' runs: the split's runs come after
    for (label, run_spec), cpu_per_bar in zip(runs, per_bar):
        where_it_goes(label, cfg, run_spec, args.full, cpu_per_bar)
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time stretches with it, CPU time "
              f"much less)")
    print(f"peak RSS: {rss:.0f} MB; target <= {TARGET_MB:.0f} MB: {'ok' if rss <= TARGET_MB else 'MISSES'}")


if __name__ == "__main__":
    main(sys.argv[1:])
