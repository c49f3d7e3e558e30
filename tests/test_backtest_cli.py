"""`hl-agent backtest run | compare | sweep` through typer's CliRunner (synthetic data, baseline)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hyperliquid_agent.backtest import results
from hyperliquid_agent.cli import app

REPO = Path(__file__).resolve().parents[1]
CFG = str(REPO / "config.toml")
WINDOW = ["--start", "2024-02-05", "--end", "2024-02-07", "--coins", "BTC,ETH", "--synthetic"]
DAY = ["--start", "2024-02-05", "--end", "2024-02-06", "--coins", "BTC", "--synthetic"]  # for the many-run tests

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_writes_results_and_report_and_prints_json(tmp_path):
    out = tmp_path / "run-a"
    r = invoke("backtest", "run", *WINDOW, "--mode", "standard", "-o", str(out), "--json", "-c", CFG)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["results"] == str(out / "results.json")
    saved = results.load(out)
    assert saved.params.mode == "standard" and saved.params.coins == ["BTC", "ETH"]
    assert data["metrics"]["n_trades"] == saved.metrics["n_trades"]
    assert (out / "report.html").read_text().startswith("<!doctype html>")


def test_shortcut_form_without_subcommand(tmp_path):
    r = invoke("backtest", *WINDOW, "--mode", "governed", "-c", CFG)
    assert r.exit_code == 0, r.output
    assert "total return" in r.stdout and "report:" in r.stdout
    assert "per plan" in r.stdout and "per strategy" in r.stdout and "excess vs buy-and-hold" in r.stdout
    runs = list((tmp_path / "runs" / "backtests").iterdir())
    assert len(runs) == 1 and (runs[0] / "results.json").is_file()


def test_compare_two_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("backtest", "run", *WINDOW, "--mode", "standard", "-o", str(a), "-c", CFG).exit_code == 0
    assert invoke("backtest", "run", *WINDOW, "--mode", "governed", "-o", str(b), "-c", CFG).exit_code == 0
    r = invoke("backtest", "compare", str(a), str(b), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["settings_that_differ"]["mode"] == ["standard", "governed"]
    row = next(m for m in data["metrics"] if m["metric"] == "end_equity")
    assert D(row["diff"]) == D(row["b"]) - D(row["a"])  # money: exact decimal strings
    table = invoke("backtest", "compare", str(a), str(b))
    assert "B - A" in table.stdout and "mode" in table.stdout


def test_bad_input_names_the_option_or_file(tmp_path):
    r = invoke("backtest", "run", "--start", "2024-13-01", "--synthetic", "-c", CFG)
    assert r.exit_code == 2 and "--start" in r.output and "YYYY-MM-DD" in r.output
    r = invoke("backtest", "run", "--data", str(tmp_path / "nope"), "-c", CFG)
    assert r.exit_code == 2 and "nope" in r.output
    r = invoke("backtest", "compare", str(tmp_path / "x"), str(tmp_path / "y"))
    assert r.exit_code == 2 and "no backtest results" in r.output
    r = invoke("backtest", "run", *WINDOW, "--data", str(tmp_path), "-c", CFG)
    assert r.exit_code == 2 and "exclude each other" in r.output


def test_paid_provider_needs_a_model_a_key_and_a_spend_cap(tmp_path, monkeypatch):
    r = invoke("backtest", "run", *WINDOW, "--provider", "openai", "-c", CFG)
    assert r.exit_code == 2 and "set llm.model" in r.output
    cfg = tmp_path / "config.toml"
    cfg.write_text(Path(CFG).read_text().replace('model = "baseline-v1"', 'model = "gpt-4o-mini"'))
    for name in ("prompts", "strategies"):
        (tmp_path / name).symlink_to(REPO / name)
    r = invoke("backtest", "run", *WINDOW, "--provider", "openai", "-c", str(cfg))
    assert r.exit_code == 2 and "OPENAI_API_KEY" in r.output
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    r = invoke("backtest", "run", *WINDOW, "--provider", "openai", "-c", str(cfg))
    # not a terminal: no silent spending without --max-cost or --yes; the estimate is shown first
    assert r.exit_code == 2 and "--max-cost" in r.output
    assert "estimated LLM spend for gpt-4o-mini: $" in r.output
    assert "sk-test-not-real" not in r.output
    # a model given with --set is the model called: the config file's baseline-v1 does not stop it,
    # and the estimate names and prices it
    r = invoke("backtest", "run", *WINDOW, "--provider", "openai", "--set", "llm.model=claude-haiku-4-5", "-c", CFG)
    assert r.exit_code == 2 and "set llm.model" not in r.output and "--max-cost" in r.output
    assert "estimated LLM spend for claude-haiku-4-5: $" in r.output


def test_sweep_runs_the_grid_in_processes(tmp_path):
    out = tmp_path / "sweep"
    r = invoke("backtest", "sweep", *DAY, "--modes", "standard,governed", "--set", "portfolio.min_drift_pct=2,4",
               "--workers", "2", "-o", str(out), "--json", "-c", CFG)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["rows"]) == 4
    labels = [row["label"] for row in data["rows"]]
    assert labels[0] == "mode=standard portfolio.min_drift_pct=2"
    for row in data["rows"]:
        assert row["error"] is None, row
        saved = results.load(row["run_dir"])
        assert saved.params.overrides["portfolio.min_drift_pct"] in (2, 4)
        assert saved.metrics["total_return"] == row["metrics"]["total_return"]
    assert json.loads((out / "sweep.json").read_text())[0]["label"] == labels[0]


def test_reruns_in_fresh_processes_write_identical_files(tmp_path):
    import os
    import subprocess
    import sys

    outs, procs = [], []
    for seed in ("1", "2"):  # different hash seeds: no set or dict order may leak into the results
        out = tmp_path / f"run{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("OPENAI_API_KEY", None)
        procs.append(subprocess.Popen([sys.executable, "-m", "hyperliquid_agent", "backtest", "run", *DAY, "-o",
                                       str(out), "-c", CFG], env=env, cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        outs.append(out)
    for p in procs:  # both at once
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert (outs[0] / "results.json").read_bytes() == (outs[1] / "results.json").read_bytes()
    assert (outs[0] / "report.html").read_bytes() == (outs[1] / "report.html").read_bytes()


def test_a_sweep_over_a_paid_model_needs_a_cap():
    r = invoke("backtest", "sweep", *WINDOW, "--providers", "baseline,openai", "-c", CFG)
    assert r.exit_code == 2 and "--max-cost" in r.output


def test_a_sweep_refuses_an_unknown_provider_or_no_workers_before_running_anything(tmp_path):
    r = invoke("backtest", "sweep", *DAY, "--providers", "baseline,bogus", "-o", str(tmp_path / "sw"), "-c", CFG)
    assert r.exit_code == 2 and "--providers 'bogus' is not known" in r.output
    r = invoke("backtest", "sweep", *DAY, "--workers", "0", "-o", str(tmp_path / "sw"), "-c", CFG)
    assert r.exit_code == 2 and "--workers" in r.output
    assert not (tmp_path / "sw").exists()


def test_run_sweep_takes_any_executor(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date

    from hyperliquid_agent.backtest.spec import BacktestSpec
    from hyperliquid_agent.backtest.sweep import expand_grid, run_sweep
    from hyperliquid_agent.config import load_config

    cfg = load_config(CFG, env={})
    base = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6))
    grid = expand_grid(base, ["standard", "governed"])
    with ThreadPoolExecutor(max_workers=1) as pool:
        rows = run_sweep(cfg, grid, out_root=tmp_path, executor=pool)
    assert [r.label for r in rows] == ["mode=standard", "mode=governed"]
    assert all(r.error is None and Path(r.run_dir).parent == tmp_path for r in rows)


class FakeRay:
    """Stands in for the `ray` module: remote tasks run on a local thread pool and hand back
    ObjectRef-like values whose `.future()` is a concurrent.futures.Future, as Ray's do."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=2)
        self.address: str | None = None
        self.tasks: list[tuple[str, float]] = []

    def is_initialized(self) -> bool:
        return self.address is not None

    def init(self, address: str) -> None:
        self.address = address

    def remote(self, num_cpus: float):
        fake = self

        def wrap(fn):
            class Task:
                def remote(self, *args, **kwargs):
                    fake.tasks.append((fn.__name__, num_cpus))
                    fut = fake.pool.submit(fn, *args, **kwargs)
                    return type("ObjectRef", (), {"future": lambda self: fut})()
            return Task()
        return wrap


def test_sweep_runs_its_points_on_a_ray_cluster(tmp_path, monkeypatch):
    import sys

    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    r = invoke("backtest", "sweep", *DAY, "--modes", "standard,governed", "--ray", "auto", "-o", str(tmp_path / "s"), "--json", "-c", CFG)
    fake.pool.shutdown()
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [row["label"] for row in rows] == ["mode=standard", "mode=governed"]
    assert all(row["error"] is None and results.load(row["run_dir"]) for row in rows)
    assert fake.address == "auto" and fake.tasks == [("run_one", 1), ("run_one", 1)]


def test_sweep_on_ray_without_ray_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    r = invoke("backtest", "sweep", *WINDOW, "--ray", "auto", "-c", CFG)
    assert r.exit_code == 2 and "hyperliquid-agent[ray]" in r.output


def test_progress_bar_on_a_terminal_only():
    import io

    from rich.console import Console

    from hyperliquid_agent.cli.backtest_cmd import _progress

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=100)
    update, bar = _progress(term, 240, quiet=False)
    with bar:
        update(120, 240)
        bar.refresh()
        assert "replaying bars" in buf.getvalue() and "120/240" in buf.getvalue()
    update, _ = _progress(Console(file=io.StringIO(), force_terminal=False), 240, quiet=False)
    assert update is None  # piped output gets no bar
    update, _ = _progress(term, 240, quiet=True)  # --json: no bar either
    assert update is None


def test_sweep_workers_get_no_key_they_do_not_use_and_outputs_show_no_secret(tmp_path):
    """Each point's config is pickled to a worker process or a Ray node (whose object store can spill
    to disk): the private key never goes, the API key only to a grid that calls a paid model. A
    `--set` value that is a secret is redacted in results.json, report.html, sweep.json and labels."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date

    from hyperliquid_agent.backtest.spec import BacktestSpec
    from hyperliquid_agent.backtest.sweep import expand_grid, row_dict, run_sweep, worker_config
    from hyperliquid_agent.config import load_config

    api_key, private_key = "sk-canary-ABCDEFGHIJKLMNOP1234wxyz", "0x" + "c4" * 32
    cfg = load_config(CFG, env={})
    cfg.llm.api_key, cfg.hyperliquid.secret_key = api_key, private_key

    class Pickling(ThreadPoolExecutor):  # what a process pool or Ray sends: the pickled call
        sent: list[bytes] = []

        def submit(self, fn, /, *args, **kwargs):
            self.sent.append(pickle.dumps((fn, args, kwargs)))
            return super().submit(fn, *args, **kwargs)

    base = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6))
    grid = expand_grid(base, ["standard"], sets={"llm.base_url": ["https://bob:canarypass9@llm.example/v1"],
                                                 "llm.api_key": [api_key]})
    with Pickling(max_workers=1) as pool:
        rows = run_sweep(cfg, grid, out_root=tmp_path, executor=pool)
    assert rows[0].error is None, rows[0].error
    sent = b"".join(Pickling.sent)
    assert private_key.encode() not in sent and b"c4c4c4c4" not in sent
    assert b"canarypass9" in sent  # the override itself goes: the run uses it (its outputs redact it)
    run_dir = Path(rows[0].run_dir)
    shown = rows[0].label + json.dumps(row_dict(rows[0])) + (run_dir / "results.json").read_text() + \
        (run_dir / "report.html").read_text()
    for leak in (api_key, "canarypass9"):
        assert leak not in shown, leak
    assert results.load(run_dir).params.overrides["llm.api_key"] == "[REDACTED]"
    paid = expand_grid(base, providers=["openai"])
    assert worker_config(cfg, paid).llm.api_key.get_secret_value() == api_key  # a paid point needs it
    assert worker_config(cfg, grid).llm.api_key is None and worker_config(cfg, paid).hyperliquid.secret_key is None


def test_a_sweep_names_its_own_option_for_a_key_the_run_sets():
    r = invoke("backtest", "sweep", *DAY, "--set", "agent.mode=standard,governed", "-c", CFG)
    assert r.exit_code == 2 and "--set agent.mode: the mode is --modes; use that instead" in r.output
    r = invoke("backtest", "sweep", *DAY, "--set", "llm.provider=openai", "-c", CFG)
    assert r.exit_code == 2 and "the provider is --providers;" in r.output


def test_a_sweep_point_whose_worker_died_is_a_failed_row(tmp_path):
    """A worker process killed under a point (out of memory, a signal) broke the process pool: the
    sweep ended with a BrokenProcessPool traceback, and the rows of the points that had finished
    were in no sweep.json."""
    from concurrent.futures import Executor, Future
    from concurrent.futures.process import BrokenProcessPool
    from datetime import date

    from hyperliquid_agent.backtest.spec import BacktestSpec
    from hyperliquid_agent.backtest.sweep import expand_grid, run_sweep
    from hyperliquid_agent.config import load_config

    class DyingPool(Executor):
        """Runs each point in this process, but the second point's worker dies."""

        def __init__(self) -> None:
            self.n = 0

        def submit(self, fn, /, *args, **kwargs):
            self.n += 1
            fut: Future = Future()
            if self.n == 2:
                fut.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
            else:
                fut.set_result(fn(*args, **kwargs))
            return fut

    cfg = load_config(CFG, env={})
    base = BacktestSpec(coins=("BTC",), start=date(2024, 2, 5), end=date(2024, 2, 6))
    rows = run_sweep(cfg, expand_grid(base, ["standard", "governed"]), out_root=tmp_path, executor=DyingPool())
    assert [r.label for r in rows] == ["mode=standard", "mode=governed"]
    assert rows[0].error is None and rows[0].metrics
    assert rows[1].error == "BrokenProcessPool: A process in the process pool was terminated abruptly"
    assert not rows[1].metrics and rows[1].settings == {"mode": "governed", "provider": "baseline"}


def test_a_run_whose_every_cycle_failed_exits_1_after_writing_its_files(tmp_path):
    """A strict replay of a window never recorded: 23 of 23 cycles failed, the run decided nothing,
    and `backtest run` exited 0 like a run that traded."""
    cfg = tmp_path / "config.toml"
    text = Path(CFG).read_text().replace('provider = "baseline" ', 'provider = "openai-compatible" ', 1)
    cfg.write_text(text.replace('model = "baseline-v1"', 'model = "gpt-4o-mini"', 1))
    for name in ("prompts", "strategies"):
        (tmp_path / name).symlink_to(REPO / name)
    out = tmp_path / "run"
    args = ("backtest", "run", *DAY, "--mode", "standard", "--provider", "replay", "-o", str(out), "-c", str(cfg))
    r = invoke(*args)
    assert r.exit_code == 1, r.output
    assert "every one of the 23 cycles failed" in r.output
    assert (out / "results.json").is_file() and (out / "report.html").is_file()
    r = invoke(*args, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["warnings"]
    r = invoke("backtest", "run", *DAY, "--mode", "standard", "-o", str(tmp_path / "ok"), "-c", str(cfg))
    assert r.exit_code == 0, r.output
