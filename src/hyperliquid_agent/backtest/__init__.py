"""Backtesting: point-in-time replay of the engine, metrics, results files, reports, sweeps.

`metrics` is pure; `results` and `report` read and write files; `runner` drives the
cycle pipeline against the in-process venue model; `sweep` runs many backtests in
parallel processes.
"""
