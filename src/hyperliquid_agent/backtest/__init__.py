"""Backtesting: point-in-time replay of the engine, metrics, results files, reports, sweeps.

- `spec`      what a run is asked to do, and the config it runs with
- `venue`     the run's market data, venue model, decision bars and latency-aware exchange port
- `runner`    the bar-by-bar replay that drives the agent's cycle pipeline (`pipeline` is the seam)
- `guards`    spend cap, cost estimate and knowledge-cutoff warnings
- `metrics`   pure: returns, risk ratios, costs, per plan and per strategy
- `results`   the `results.json` schema, load/save and `compare`
- `report`    the self-contained HTML report with inline SVG charts
- `sweep`     many runs in parallel processes, one table
"""
