"""`hl-agent strategies ...` and `hl-agent prompt render` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from hyperliquid_agent.cli import app
from hyperliquid_agent.config import defaults_dir

ROOT = defaults_dir()
runner = CliRunner()


def project(tmp_path: Path, strategies: Path | None = None) -> Path:
    """A config in tmp_path whose relative paths resolve next to it."""
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    shutil.copytree(strategies or ROOT / "strategies", tmp_path / "strategies")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[agent]\nmode = "standard"\ncoins = ["BTC", "ETH"]\n')
    return cfg


def test_strategies_list_table_and_json(tmp_path):
    cfg = project(tmp_path)
    out = runner.invoke(app, ["strategies", "list", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "funding-carry" in out.output and "stand-aside" in out.output
    out = runner.invoke(app, ["strategies", "list", "-c", str(cfg), "--json"])
    data = json.loads(out.stdout)
    assert len(data["strategies"]) >= 12 and data["strategies"][0]["id"] == "basis-mean-reversion"
    assert "description" not in data["strategies"][0]
    out = runner.invoke(app, ["strategies", "list", "-c", str(cfg), "--json", "--regime", "event-risk"])
    ids = {s["id"] for s in json.loads(out.stdout)["strategies"]}
    assert ids == {"event-de-risking", "stand-aside"}


def test_strategies_list_bad_regime(tmp_path):
    out = runner.invoke(app, ["strategies", "list", "-c", str(project(tmp_path)), "--regime", "moon"])
    assert out.exit_code == 2 and "unknown regime" in out.output


def test_strategies_show(tmp_path):
    cfg = project(tmp_path)
    out = runner.invoke(app, ["strategies", "show", "funding-carry", "-c", str(cfg)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "funding-carry" in out.output and "Entry" in out.output
    out = runner.invoke(app, ["strategies", "show", "funding-carry", "-c", str(cfg), "--json"])
    data = json.loads(out.stdout)
    assert data["minimum_dwell_minutes"] == 1440 and data["max_position_pct"] == "40"
    assert "**Entry.**" in data["description"]
    out = runner.invoke(app, ["strategies", "show", "nope", "-c", str(cfg)])
    assert out.exit_code == 2 and "no strategy 'nope'" in out.output


def test_strategies_validate_lists_every_problem(tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(ROOT / "strategies", bad)
    text = (bad / "funding-carry.md").read_text()
    (bad / "funding-carry.md").write_text(text.replace("carry-friendly, range-bound", "carry-friendly, sideways"))
    text = (bad / "range-mean-reversion.md").read_text()
    (bad / "range-mean-reversion.md").write_text(text.replace('"adx14 > 30"', '"adx > 30"'))
    (bad / "copy.md").write_text((bad / "stand-aside.md").read_text())
    out = runner.invoke(app, ["strategies", "validate", str(bad)], env={"COLUMNS": "300"})
    assert out.exit_code == 1
    assert "3 problem(s)" in out.output
    assert "funding-carry.md" in out.output and "sideways" in out.output
    assert "range-mean-reversion.md" in out.output and "'adx'" in out.output
    assert "duplicate id 'stand-aside'" in out.output
    out = runner.invoke(app, ["strategies", "validate", str(bad), "--json"])
    assert out.exit_code == 1 and len(json.loads(out.stdout)["problems"]) == 3
    ok = runner.invoke(app, ["strategies", "validate", str(ROOT / "strategies")])
    assert ok.exit_code == 0 and "OK" in ok.output


def test_list_with_a_broken_library_fails_clearly(tmp_path):
    cfg = project(tmp_path)
    (tmp_path / "strategies" / "broken.md").write_text("no frontmatter here")
    out = runner.invoke(app, ["strategies", "list", "-c", str(cfg)])
    assert out.exit_code == 2 and "broken.md" in out.output and "strategies validate" in out.output


def test_prompt_render_standard_prints_the_exact_prompt_and_its_size(tmp_path):
    from hyperliquid_agent.prompts import PromptTemplate, sample_context

    cfg = project(tmp_path)
    out = runner.invoke(app, ["prompt", "render", "-c", str(cfg)])
    assert out.exit_code == 0, out.output
    expected = PromptTemplate(tmp_path / "prompts" / "default.txt", tmp_path / "strategies").format(
        context=sample_context(("BTC", "ETH"), "standard", max_leverage=5)
    )
    assert out.stdout == (expected if expected.endswith("\n") else expected + "\n")
    assert f"{len(expected)} chars" in out.stderr and f"~{(len(expected) + 3) // 4} tokens" in out.stderr
    assert "chars/4" in out.stderr


def test_prompt_render_governed_json(tmp_path):
    cfg = project(tmp_path)
    out = runner.invoke(app, ["prompt", "render", "--mode", "governed", "--json", "-c", str(cfg)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["mode"] == "governed" and data["chars"] == len(data["prompt"])
    assert data["estimated_tokens"] == (data["chars"] + 3) // 4
    assert "Review status: OPEN" in data["prompt"] and "Confirmed regime: range-bound" in data["prompt"]
    assert "### slow-trend-following" not in data["prompt"]  # not compatible with range-bound
    assert data["prompt"][: data["stable_prefix_chars"]].endswith("## Current state\n")


def test_prompt_render_bad_inputs(tmp_path):
    cfg = project(tmp_path)
    out = runner.invoke(app, ["prompt", "render", "--mode", "yolo", "-c", str(cfg)])
    assert out.exit_code == 2 and "--mode" in out.output
    (tmp_path / "prompts" / "default.txt").write_text("Hello {nme}")
    out = runner.invoke(app, ["prompt", "render", "-c", str(cfg)], env={"COLUMNS": "300"})
    assert out.exit_code == 2 and "{nme}" in out.output and "default.txt" in out.output
