"""Bad input to `hl-agent backtest`: an output path that cannot be a folder, a corrupt results.json
in `compare`, a sweep grid that cannot run, a data folder without funding. Each is refused with
one line naming the option, file or field and the fix (exit 2, no traceback), before any run."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from backtest_helpers import H, T0, SPECS
from typer.testing import CliRunner

from hyperliquid_agent.backtest import results
from hyperliquid_agent.backtest.runner import plan_run, run_backtest, write_outputs
from hyperliquid_agent.backtest.spec import BacktestSpec
from hyperliquid_agent.cli import app
from hyperliquid_agent.config import config_from_dict, load_config
from hyperliquid_agent.domain import AssetSpec, Candle, FundingPoint
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.exchange.feed import MarketFeed, series_from_rows

REPO = Path(__file__).resolve().parents[1]
CFG = str(REPO / "config.toml")
DAY = ["--start", "2024-02-05", "--end", "2024-02-06", "--coins", "BTC", "--synthetic"]

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)  # a traceback fails the test


@pytest.fixture(scope="module")
def a_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "a"
    r = runner.invoke(app, ["backtest", "run", *DAY, "-o", str(out), "-c", CFG], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def test_an_output_that_is_a_file_is_refused_before_the_run(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine\n")
    for out in (afile, afile / "sub"):
        r = invoke("backtest", "run", *DAY, "-o", str(out), "-c", CFG)
        assert r.exit_code == 2, r.output
        assert "--output" in r.output and "is a file, not a folder" in r.output
        assert "replaying" not in r.output and "total return" not in r.output  # refused before the run
    r = invoke("backtest", "sweep", *DAY, "--modes", "standard,governed", "-o", str(afile), "-c", CFG)
    assert r.exit_code == 2 and "--output" in r.output and "is a file" in r.output
    assert afile.read_text() == "mine\n"


def test_writing_a_run_where_no_folder_can_be_made_names_the_folder(tmp_path):
    result = run_backtest(load_config(CFG), BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6),
                                            mode="standard"))
    afile = tmp_path / "f"
    afile.write_text("")
    with pytest.raises(ConfigError, match=r"f/run: cannot create the run folder"):
        write_outputs(result, afile / "run")
    res, rep = write_outputs(result, tmp_path / "ok")
    assert results.load(res.parent).metrics == result.metrics and rep.is_file()
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["report.html", "results.json"]  # no .tmp left


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["metrics"].update(total_return="abc"), "metrics.total_return': 'abc' is not a number"),
    (lambda d: d["metrics"].pop("end_equity"), "metrics.end_equity': missing"),
    (lambda d: d["metrics"].update(sharpe=None), "metrics.sharpe': null"),
    (lambda d: d["metrics"].update(fees_usd=[1]), "metrics.fees_usd': [1] is not a number"),
    (lambda d: d["metrics"].update(per_plan=[{"key": "p"}]), "metrics.per_plan'"),
    (lambda d: d.update(baseline_metrics={"total_return": 0.1}), "baseline_metrics.start_equity': missing"),
])
def test_compare_refuses_a_results_file_with_unreadable_metrics(a_run, tmp_path, edit, where):
    data = json.loads((a_run / "results.json").read_text())
    edit(data)
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "results.json").write_text(json.dumps(data))
    r = invoke("backtest", "compare", str(a_run), str(bad))
    assert r.exit_code == 2, r.output
    assert "b/results.json: invalid results file at '" + where in r.output.replace("\n", "")
    assert "re-run the backtest" in r.output.replace("\n", "")


def test_compare_still_reads_a_run_without_win_rate(a_run, tmp_path):
    data = json.loads((a_run / "results.json").read_text())
    data["metrics"]["win_rate"] = None  # no closing fill: allowed
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps(data))
    r = invoke("backtest", "compare", str(a_run), str(tmp_path / "b"), "--json")
    assert r.exit_code == 0, r.output
    assert next(m for m in json.loads(r.stdout)["metrics"] if m["metric"] == "win_rate")["b"] is None


def test_a_set_that_breaks_the_config_names_the_set(tmp_path):
    r = invoke("backtest", "run", *DAY, "--set", "risk.max_leverage=abc", "-o", str(tmp_path / "o"), "-c", CFG)
    text = r.output.replace("\n", " ")
    assert r.exit_code == 2 and "--set risk.max_leverage=abc: makes the config invalid" in text
    assert "fix the key or value given to --set" in text
    assert not (tmp_path / "o").exists()
    # an unknown key is not said to be in the config file (it was told to remove it from there)
    r = invoke("backtest", "run", *DAY, "--set", "risk.nokey=1", "-o", str(tmp_path / "o"), "-c", CFG)
    text = r.output.replace("\n", " ")
    assert r.exit_code == 2 and f"unknown key 'risk.nokey' in {Path(CFG).resolve()} with --set" in text


@pytest.mark.parametrize("args, says", [
    (["--set", "nosuch.key=1,2"], "sweep point 'nosuch.key=1': makes the config invalid"),
    (["--set", "risk.max_leverage=2,abc"], "sweep point 'risk.max_leverage=abc': makes the config invalid"),
    (["--strategies", "stand-aside,nosuch"], "--strategies: unknown strategy id(s) nosuch"),
])
def test_a_sweep_grid_that_cannot_run_stops_before_any_run(tmp_path, args, says):
    out = tmp_path / "sw"
    r = invoke("backtest", "sweep", *DAY, *args, "--workers", "1", "-o", str(out), "-c", CFG)
    assert r.exit_code == 2, r.output
    assert says in r.output.replace("\n", " ")
    assert not out.exists()


def _feed(funding_until: dict[str, int | None]) -> MarketFeed:
    """Flat hourly bars over 40 days; each coin's funding records stop at `funding_until` (None: none)."""
    series = {}
    for idx, (coin, (sz, lev, base)) in enumerate(SPECS.items()):
        px = D(str(base))
        candles = [Candle(t_ms=T0 + i * H, open=px, high=px, low=px, close=px, volume=D(1)) for i in range(40 * 24)]
        until = funding_until.get(coin, T0 + 41 * 24 * H)
        funding = [] if until is None else [FundingPoint(time_ms=c.t_ms + H, rate=D("0.00001"))
                                            for c in candles if c.t_ms + H <= until]
        series[coin] = series_from_rows(coin, AssetSpec(name=coin, asset_id=idx, sz_decimals=sz, max_leverage=lev),
                                        "1h", candles, funding)
    return MarketFeed(series)


def test_a_coin_without_funding_records_in_the_window_is_warned_about():
    cfg = config_from_dict({}, env={})
    spec = BacktestSpec(coins=("BTC", "ETH"), start=date(2025, 2, 1), end=date(2025, 2, 5), provider="scripted")
    ends = T0 + (31 + 2) * 24 * H  # 2025-02-03 00:00, a day and 23 hours before the window's last bar
    warnings = plan_run(cfg, spec, _feed({"BTC": None, "ETH": ends})).warnings
    assert any(w.startswith("BTC: no funding records between 2025-02-01 00:00 and 2025-02-04 23:00") and
               "add BTC_funding.csv" in w for w in warnings), warnings
    assert any(w.startswith("ETH: funding records end at 2025-02-03 00:00, before the window's last bar "
                            "(2025-02-04 23:00)") for w in warnings), warnings
    assert not [w for w in plan_run(cfg, spec, _feed({})).warnings if "funding" in w]


def test_a_zero_cap_does_not_stop_a_run_that_costs_nothing():
    from hyperliquid_agent.backtest.guards import CostGuard

    free = CostGuard(D(0), per_cycle_estimate=D(0))
    for _ in range(3):
        assert free.allows_next(D(0))
        free.record(D(0))
    assert not CostGuard(D(0), per_cycle_estimate=D("0.001")).allows_next(D(0))  # a paid call: never under $0
    spent = CostGuard(D(0), per_cycle_estimate=D(0))
    spent.record(D("0.01"))  # a cycle that did cost something
    assert not spent.allows_next(D("0.01"))


def test_a_baseline_run_under_max_cost_zero_runs_to_the_end(tmp_path):
    r = invoke("backtest", "run", *DAY, "--max-cost", "0", "-o", str(tmp_path / "o"), "--json", "-c", CFG)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["stopped_early"] is None and data["metrics"]["llm_cost_usd"] == "0"
    assert len(results.load(tmp_path / "o").decisions) > 20


def test_a_sweep_refuses_a_replay_point_without_a_recording_provider_and_a_window_without_data(tmp_path):
    out = tmp_path / "sw"
    r = invoke("backtest", "sweep", *DAY, "--providers", "baseline,replay", "-o", str(out), "-c", CFG)
    assert r.exit_code == 2 and "sweep point 'provider=replay': --provider replay serves replies" in r.output
    (tmp_path / "data").mkdir()
    r = invoke("backtest", "sweep", "--data", str(tmp_path / "data"), "--start", "2024-02-05", "--end", "2024-02-06",
               "--coins", "BTC", "--modes", "standard,governed", "-o", str(out), "-c", CFG)
    assert r.exit_code == 2 and "BTC_1h_candles.csv: missing candles for BTC" in r.output.replace("\n", "")
    assert not out.exists()


def test_the_sweep_table_fits_80_columns_and_a_failed_point_exits_1(tmp_path, monkeypatch):
    from hyperliquid_agent.backtest import sweep

    metrics = {"total_return": -0.1828, "net_return_after_llm": -0.1828, "sharpe": -12.847, "max_drawdown": 0.1435,
               "n_trades": 12557, "liquidations": 0, "fees_usd": "1178.06", "llm_cost_usd": "12.34",
               "plan_switches_per_day": 5.353, "excess_vs_buy_and_hold": -0.1828}
    rows = [sweep.SweepRow("mode=standard portfolio.min_drift_pct=2", {}, "d1", metrics),
            sweep.SweepRow("mode=governed portfolio.min_drift_pct=4", {}, None, {}, "ConfigError: broken [x]")]
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: rows)
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("backtest", "sweep", *DAY, "--modes", "standard,governed", "-o", str(tmp_path / "s"), "-c", CFG)
    assert r.exit_code == 1, r.output
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    row1 = next(line for line in lines if line.startswith("#1 "))
    for figure in ("-18.28%", "-12.847", "14.35%", "12557", "$1,178.06", "$12.34", "5.353"):
        assert figure in row1, row1  # whole, not cut short
    assert "#1  mode=standard portfolio.min_drift_pct=2" in lines
    assert "#2  mode=governed portfolio.min_drift_pct=4  failed: ConfigError: broken [x]" in lines
    assert "1 of 2 runs failed" in r.output
    r = invoke("backtest", "sweep", *DAY, "--modes", "standard,governed", "-o", str(tmp_path / "s"), "--json", "-c", CFG)
    assert r.exit_code == 1 and json.loads(r.stdout)["rows"][1]["error"] == "ConfigError: broken [x]"


def test_a_decision_the_engine_could_not_make_is_a_failed_cycle(tmp_path):
    """A strict replay of a window never recorded: the engine catches each miss and holds, and
    the run says so (each row's error, the warning), instead of a clean flat result."""
    cfg = load_config(CFG, env={})
    cfg.llm.provider, cfg.llm.model = "openai-compatible", "gpt-4o-mini"
    cfg.agent.state_dir = str(tmp_path / "state")  # an empty replay store
    cfg.backtest.vs_baseline = False
    spec = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6), mode="standard",
                        provider="replay")
    r = run_backtest(cfg, spec)
    assert r.decisions and all(d.error and d.error.startswith("decision failed: ReplayMissError: no recorded reply")
                               for d in r.decisions)
    assert r.warnings[-1].startswith(f"{len(r.decisions)} of {len(r.decisions)} cycles reported errors and held")
    assert not r.trades
    # the client's message names the live agent's fix ([llm.replay] record / mode), which `--provider
    # replay` does not read (it always replays strictly): the warning says how a backtest records
    hint = r.warnings[-1].split("\n", 1)[1]
    assert hint.startswith(f"{len(r.decisions)} of them found no recorded reply")
    assert "record this window first with --provider openai-compatible" in hint
    assert str(tmp_path / "state" / "llm-replay.sqlite") in hint


def test_step_info_reads_a_failed_decision_as_the_cycles_error():
    from hyperliquid_agent.backtest.pipeline import step_info

    failed = {"decision": {"summary": "hold: LLMInvalidOutputError: bad", "success": False,
                           "error": "LLMInvalidOutputError: bad"}, "errors": ["BTC: no order book"]}
    assert step_info(failed).error == "decision failed: LLMInvalidOutputError: bad; BTC: no order book"
    assert step_info({"decision": {"summary": "hold", "success": True}}).error is None
    assert step_info({"decision": {"summary": "track plan"}}).error is None  # no decision taken this bar


def test_the_run_tables_keep_a_long_plan_id_whole_on_80_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("backtest", "run", *DAY, "--strategies", "volatility-compression-breakout", "-o", str(tmp_path / "o"),
               "-c", CFG)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    plan_id = results.load(tmp_path / "o").metrics["per_plan"][0]["key"]
    assert len(plan_id) > 30  # longer than the column gets
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│ ") and "│" in line[2:])
    assert plan_id in cells and "…" not in r.stdout


@pytest.mark.parametrize("args", [["--interval", "1d"], ["--latency-bars", "24"]])
def test_a_window_too_short_for_any_decision_is_refused(tmp_path, args):
    r = invoke("backtest", "run", *DAY, *args, "-o", str(tmp_path / "o"), "-c", CFG)
    assert r.exit_code == 2, r.output
    assert "no decision could be taken. Widen --start/--end, or lower --latency-bars or --interval" in \
        r.output.replace("\n", " ")
    assert not (tmp_path / "o").exists()
    ok = invoke("backtest", "run", *DAY, "--latency-bars", "23", "-o", str(tmp_path / "p"), "--json", "-c", CFG)
    assert ok.exit_code == 0 and len(results.load(tmp_path / "p").decisions) == 1  # the first bar only


def test_a_coin_the_synthetic_generator_does_not_know_is_warned_about():
    cfg = load_config(CFG, env={})
    spec = BacktestSpec(coins=("BTC", "BTCC"), start=date(2024, 2, 5), end=date(2024, 2, 6))
    from hyperliquid_agent.backtest.venue import build_feed

    warnings = plan_run(cfg, spec, build_feed(cfg, spec)).warnings
    assert [w for w in warnings if w.startswith("the synthetic generator has no profile for BTCC:")
            and w.endswith("check --coins")]
    known = BacktestSpec(coins=("BTC", "ETH", "SOL"), start=date(2024, 2, 5), end=date(2024, 2, 6))
    assert not [w for w in plan_run(cfg, known, build_feed(cfg, known)).warnings if "no profile" in w]


def test_a_paid_provider_without_its_model_is_told_a_model_of_that_provider():
    r = invoke("backtest", "run", *DAY, "--provider", "anthropic", "-c", CFG)
    assert r.exit_code == 2 and 'e.g. model = "claude-haiku-4-5"' in r.output.replace("\n", "")
    r = invoke("backtest", "run", *DAY, "--provider", "openai", "-c", CFG)
    assert r.exit_code == 2 and 'e.g. model = "gpt-4o-mini"' in r.output.replace("\n", "")


def test_compare_given_a_sweep_folder_points_at_its_run_folders(a_run, tmp_path):
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "sweep.json").write_text("[]\n")
    r = invoke("backtest", "compare", str(tmp_path / "sw"), str(a_run))
    assert r.exit_code == 2 and "a sweep's folder, not a run's: pass two of the run folders in it" in \
        r.output.replace("\n", "")


def test_a_seed_with_a_data_folder_is_refused_rather_than_ignored(tmp_path):
    r = invoke("backtest", "run", "--data", str(tmp_path), "--seed", "3", "--start", "2024-02-05", "-c", CFG)
    assert r.exit_code == 2 and "--seed seeds the synthetic data and does nothing with --data" in r.output
    cfg = tmp_path / "config.toml"
    cfg.write_text(Path(CFG).read_text().replace('source = "synthetic"', 'source = "data"')
                   .replace('# data_dir = ', 'data_dir = "data" #'))
    assert 'source = "data"' in cfg.read_text() and '\ndata_dir = "data"' in cfg.read_text()
    r = invoke("backtest", "run", "--seed", "3", "--start", "2024-02-05", "-c", str(cfg))
    assert r.exit_code == 2 and "replays [venue] data_dir: add --synthetic to use the seed" in r.output.replace("\n", "")


def test_a_cap_on_a_model_without_a_price_says_why_it_cannot_start(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    cfg = tmp_path / "config.toml"
    cfg.write_text(Path(CFG).read_text().replace('model = "baseline-v1"', 'model = "my-local-model"')
                   .replace('# base_url = "http://127.0.0.1:11434/v1"', 'base_url = "http://127.0.0.1:9/v1"'))
    for name in ("prompts", "strategies"):
        (tmp_path / name).symlink_to(REPO / name)
    r = invoke("backtest", "run", *DAY, "--provider", "openai-compatible", "--max-cost", "1", "-o", str(tmp_path / "o"),
               "-c", str(cfg))
    text = r.output.replace("\n", "")
    assert r.exit_code == 2 and "--max-cost: my-local-model has no price in the LLM price table" in text
    assert 'Add [llm.pricing."my-local-model"]' in text and not (tmp_path / "o").exists()
    # from Python the run stops before its first cycle, and says why
    c = load_config(cfg, env={"OPENAI_API_KEY": "sk-test-not-real"})
    c.backtest.vs_baseline = False
    spec = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6), mode="standard",
                        provider="openai-compatible", max_cost_usd=D(1))
    stopped = run_backtest(c, spec, state_dir=tmp_path / "state").stopped_early
    assert stopped.startswith("--max-cost $1: my-local-model has no price in the LLM price table")


def test_a_sweep_recording_several_paid_points_in_parallel_warns(tmp_path, monkeypatch):
    from hyperliquid_agent.backtest import sweep

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    monkeypatch.setattr(sweep, "run_sweep", lambda cfg, grid, *a, **k: [
        sweep.SweepRow(label, {}, None, {"total_return": 0.0}) for label, _ in grid])
    cfg = tmp_path / "config.toml"
    cfg.write_text(Path(CFG).read_text().replace('model = "baseline-v1"', 'model = "gpt-4o-mini"'))
    for name in ("prompts", "strategies"):
        (tmp_path / name).symlink_to(REPO / name)
    args = ["backtest", "sweep", *DAY, "--providers", "openai", "--set", "portfolio.min_drift_pct=2,4",
            "--max-cost", "1", "-o", str(tmp_path / "s"), "-c", str(cfg)]
    r = invoke(*args, "--workers", "2")
    assert r.exit_code == 0, r.output
    assert "points recording at the same time may each get their own" in " ".join(r.output.split())
    r = invoke(*args, "--workers", "1")
    assert r.exit_code == 0 and "recording at the same time" not in " ".join(r.output.split())


def test_the_shortcut_runs_with_any_option_and_shows_help_only_bare(tmp_path):
    r = invoke("backtest")
    assert r.exit_code == 0 and "Usage:" in r.output and "compare" in r.output
    r = invoke("backtest", "--provider", "replay", "-c", CFG)  # (was the help, the option dropped)
    assert r.exit_code == 2 and "--provider replay serves replies recorded from a paid provider" in r.output
    r = invoke("backtest", "--latency-bars", "23", "--synthetic", "--start", "2024-02-05", "--end", "2024-02-06",
               "--coins", "BTC", "-o", str(tmp_path / "o"), "-c", CFG)
    assert r.exit_code == 0 and results.load(tmp_path / "o").params.fill_latency_bars == 23


def test_a_coin_named_twice_is_refused_naming_coins():
    r = invoke("backtest", "run", "--synthetic", "--start", "2024-02-05", "--coins", "BTC,btc,ETH", "-c", CFG)
    assert r.exit_code == 2 and "--coins BTC,BTC,ETH names BTC more than once; list each coin once" in r.output


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_max_cost_that_is_not_a_usd_amount_is_refused(value):
    for command in ("run", "sweep"):
        r = invoke("backtest", command, *DAY, f"--max-cost={value}", "-c", CFG)
        assert r.exit_code == 2, r.output
        assert "must be a number of USD, zero or more (e.g. --max-cost 5)" in r.output.replace("\n", "")


def test_a_model_without_a_known_knowledge_cutoff_is_said_to_be_unchecked():
    from hyperliquid_agent.backtest.guards import cutoff_warning

    w = cutoff_warning("my-local-model", "openai-compatible", date(2023, 6, 5), {})
    assert w is not None and w.startswith("no knowledge cutoff is known for my-local-model")
    assert '[backtest.knowledge_cutoffs]: "my-local-model" = "YYYY-MM-DD"' in w
    assert cutoff_warning("my-local-model", "openai-compatible", date(2023, 6, 5), {"my-local-model": "2023-01-01"}) is None
    assert cutoff_warning("my-local-model", "baseline", date(2023, 6, 5), {}) is None


def test_a_sweep_point_whose_every_cycle_failed_is_not_a_clean_flat_row(tmp_path):
    """A sweep over --providers replay,baseline on a window never recorded: every cycle of the replay
    point failed, and its row read a clean 0.00 % with no error, exit 0 (the failures were only in
    the run's own results.json)."""
    from hyperliquid_agent.backtest.sweep import row_dict, run_one

    cfg = load_config(CFG, env={})
    cfg.llm.provider, cfg.llm.model = "openai-compatible", "gpt-4o-mini"
    cfg.agent.state_dir = str(tmp_path / "state")  # an empty replay store
    spec = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6), mode="standard",
                        provider="replay", vs_baseline=False)
    row = run_one(cfg, "provider=replay", spec, str(tmp_path / "sweep"))
    assert row.error is None and row.metrics["n_trades"] == 0
    assert row.cycle_errors.startswith("23 of 23 cycles reported errors and held")
    assert "record this window first with --provider openai-compatible" in row.cycle_errors  # the run's warning
    assert row.all_cycles_failed and row.failed
    assert row_dict(row)["cycle_errors"] == row.cycle_errors
    fine = run_one(cfg, "provider=baseline", replace(spec, provider="baseline"), str(tmp_path / "sweep"))
    assert fine.cycle_errors is None and not fine.failed
