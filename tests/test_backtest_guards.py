"""Spend and honesty guards, the effective backtest config, and sweep grids."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from hyperliquid_agent.backtest.guards import CostGuard, cutoff_warning, estimate_cost, expected_calls
from hyperliquid_agent.backtest.spec import BacktestSpec, effective_config
from hyperliquid_agent.backtest.sweep import expand_grid, parse_sets
from hyperliquid_agent.config import Config, config_from_dict
from hyperliquid_agent.errors import ConfigError


def test_cost_guard_fails_closed():
    g = CostGuard(D("1.00"), per_cycle_estimate=D("0.40"))
    assert g.allows_next(D(0))
    g.record(D("0.40"))
    assert g.allows_next(D("0.40"))  # 0.40 + 0.40 <= 1.00
    g.record(D("0.45"))
    assert not g.allows_next(D("0.85"))  # the dearest cycle (0.45) would pass the cap
    assert not g.allows_next(D("1.00"))


def test_cost_guard_unknown_price_does_not_start():
    assert not CostGuard(D(5), per_cycle_estimate=None).allows_next(D(0))
    assert CostGuard(None, per_cycle_estimate=None).allows_next(D(10**6))


def test_replayed_cycles_cost_nothing_so_the_guard_lets_them_through():
    g = CostGuard(D("0.01"), per_cycle_estimate=D("0.005"))
    for _ in range(100):
        assert g.allows_next(D(0))
        g.record(D(0))


def test_estimate_uses_the_price_table():
    est = estimate_cost(10, 4000, 500, "gpt-4o-mini")
    assert est.calls == 10 and est.prompt_tokens == 1000
    assert est.usd is not None and est.usd == est.per_call_usd * 10 and est.usd > 0
    unknown = estimate_cost(10, 4000, 500, "no-such-model-xyz")
    assert unknown.usd is None and "unknown" in unknown.describe("no-such-model-xyz")


def test_expected_calls_by_mode():
    day = 86_400_000
    assert expected_calls(day, "standard", 3600, 14400) == 24
    assert expected_calls(day, "governed", 3600, 14400) == 6


def test_cutoff_warning_from_config_table():
    table = {"my-model": "2025-06-01"}
    w = cutoff_warning("my-model-2025", "openai", date(2025, 1, 1), table)
    assert w is not None and "2025-06-01" in w and "my-model" in w
    assert cutoff_warning("my-model-2025", "openai", date(2025, 7, 1), table) is None
    assert cutoff_warning("my-model", "baseline", date(2020, 1, 1), table) is None


def test_knowledge_cutoffs_must_be_dates():
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        config_from_dict({"backtest": {"knowledge_cutoffs": {"gpt-4o": "last year"}}}, env={})


def test_effective_config_applies_mode_coins_overrides_and_replay(tmp_path: Path):
    cfg = config_from_dict({"llm": {"provider": "openai", "model": "gpt-4o-mini", "api_key": "sk-test-secret"}},
                           env={})
    spec = BacktestSpec(coins=("ETH",), mode="standard", provider="openai",
                        overrides={"risk.max_leverage": 2})
    eff = effective_config(cfg, spec, tmp_path / "state")
    assert eff.agent.mode == "standard" and eff.agent.coins == ["ETH"]
    assert eff.risk.max_leverage == 2
    # a paid provider records through replay so a rerun costs $0
    assert eff.llm.provider == "replay" and eff.llm.replay.wrapped_provider == "openai"
    assert eff.llm.replay.mode == "fallthrough" and Path(eff.llm.replay.path).is_absolute()
    assert eff.llm.api_key.get_secret_value() == "sk-test-secret"
    assert Path(eff.agent.state_dir) == tmp_path / "state"
    base = effective_config(cfg, spec, tmp_path / "b", provider="baseline")
    assert base.llm.provider == "baseline"
    strict = effective_config(cfg, BacktestSpec(coins=("ETH",), provider="replay"), tmp_path / "c")
    assert strict.llm.replay.mode == "strict"
    with pytest.raises(ConfigError, match="max_leverage"):
        effective_config(cfg, BacktestSpec(coins=("ETH",), overrides={"risk.max_leverage": 0}), tmp_path / "d")
    with pytest.raises(ConfigError, match="not known"):
        effective_config(cfg, BacktestSpec(coins=("ETH",), provider="magic"), tmp_path / "e")


def test_spec_validation_names_the_option():
    with pytest.raises(ConfigError, match="--interval"):
        BacktestSpec(coins=("BTC",), interval="7m").validated()
    with pytest.raises(ConfigError, match="--end"):
        BacktestSpec(coins=("BTC",), start=date(2025, 2, 1), end=date(2025, 1, 1)).validated()
    with pytest.raises(ConfigError, match="--latency-bars -1 must be zero or more"):
        BacktestSpec(coins=("BTC",), fill_latency_bars=-1).validated()


def test_sweep_grid_is_every_combination():
    base = BacktestSpec(coins=("BTC",))
    grid = expand_grid(base, ["standard", "governed"], [], parse_sets(["risk.max_leverage=2,3", "portfolio.min_drift_pct=1"]))
    assert len(grid) == 4
    labels = [label for label, _ in grid]
    assert "mode=standard risk.max_leverage=2 portfolio.min_drift_pct=1" in labels
    specs = {label: s for label, s in grid}
    s = specs["mode=governed risk.max_leverage=3 portfolio.min_drift_pct=1"]
    assert s.mode == "governed" and s.overrides == {"risk.max_leverage": 3, "portfolio.min_drift_pct": 1}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_sets(["nonsense"])
    assert expand_grid(base) == [("base", base)]
    by_strategy = expand_grid(base, strategies=["funding-carry", "stand-aside"])
    assert [(label, s.strategies) for label, s in by_strategy] == [
        ("strategy=funding-carry", ("funding-carry",)), ("strategy=stand-aside", ("stand-aside",))]


def test_default_config_parses():
    assert Config().backtest.fill_latency_bars == 1


def test_replay_needs_the_provider_that_recorded(tmp_path: Path):
    with pytest.raises(ConfigError, match="recorded from a paid provider"):
        effective_config(Config(), BacktestSpec(coins=("BTC",), provider="replay"), tmp_path)
    cfg = config_from_dict({"hyperliquid": {"network": "testnet"}, "llm": {"provider": "anthropic", "model": "claude-x"}},
                           env={})
    eff = effective_config(cfg, BacktestSpec(coins=("BTC",), provider="replay"), tmp_path)
    assert eff.llm.replay.wrapped_provider == "anthropic" and eff.llm.replay.mode == "strict"
    assert eff.hyperliquid.network == "local"


def test_run_id_is_stable_and_follows_the_settings(tmp_path: Path):
    from hyperliquid_agent.backtest.spec import make_run_id

    cfg = Config()
    a = BacktestSpec(coins=("BTC",), start=date(2024, 2, 1))
    assert make_run_id(cfg, a) == make_run_id(Config(), BacktestSpec(coins=("BTC",), start=date(2024, 2, 1)))
    assert make_run_id(cfg, a) != make_run_id(cfg, BacktestSpec(coins=("BTC",), start=date(2024, 2, 2)))
    capped = effective_config(cfg, BacktestSpec(coins=("BTC",), max_cost_usd=D("2.5")), tmp_path)
    assert capped.llm.budget.run_usd == D("2.5")


def test_sweep_id_follows_the_grid():
    from hyperliquid_agent.backtest.sweep import sweep_id

    base = BacktestSpec(coins=("BTC",))
    a = expand_grid(base, ["standard", "governed"])
    assert sweep_id(Config(), a) == sweep_id(Config(), expand_grid(base, ["standard", "governed"]))
    assert sweep_id(Config(), a) != sweep_id(Config(), expand_grid(base, ["standard"]))


def test_decision_interval_follows_the_live_tick_and_says_when_it_differs():
    from hyperliquid_agent.backtest.spec import decision_interval

    gov = config_from_dict({"agent": {"mode": "governed", "tick_interval_s": 60},
                            "governance": {"governor": {"fast_loop_s": 86400}}}, env={})
    assert decision_interval(gov, None) == ("1d", None)
    interval, note = decision_interval(gov, "1h")
    assert interval == "1h" and "fast_loop_s" in note and "--interval" in note
    odd = config_from_dict({"agent": {"mode": "standard", "tick_interval_s": 7200}}, env={})
    interval, note = decision_interval(odd, None)
    assert interval == "1h" and "7200 s (agent.tick_interval_s)" in note


def test_the_estimate_sizes_the_run_s_own_prompt():
    from hyperliquid_agent.backtest.guards import sample_prompt_chars
    from hyperliquid_agent.backtest.spec import run_settings
    from hyperliquid_agent.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "config.toml", env={})
    std = sample_prompt_chars(run_settings(cfg, BacktestSpec(coins=("BTC",), mode="standard")))
    gov = sample_prompt_chars(run_settings(cfg, BacktestSpec(coins=("BTC",), mode="governed")))
    assert std and gov and std != gov
    one = sample_prompt_chars(run_settings(cfg, BacktestSpec(coins=("BTC",), mode="standard")), ("stand-aside",))
    assert one is not None and one < std  # offered one strategy, the prompt lists one
    broken = cfg.model_copy(update={"agent": cfg.agent.model_copy(update={"prompt_template": "/nonexistent.md"})})
    assert sample_prompt_chars(run_settings(broken, BacktestSpec(coins=("BTC",), mode="standard"))) is None


def test_plan_warns_before_the_knowledge_cutoff_and_estimates_a_paid_run():
    """Before anything runs: the cutoff warning (shipped table, overridden in config) and the spend estimate."""
    from backtest_helpers import T0, make_feed

    from hyperliquid_agent.backtest.runner import plan_run

    cfg = config_from_dict({"llm": {"provider": "openai", "model": "gpt-4o-mini"},
                            "backtest": {"knowledge_cutoffs": {"gpt-4o-mini": "2025-01-15"}}}, env={})
    spec = BacktestSpec(coins=("BTC",), start=date(2025, 1, 8), end=date(2025, 1, 10), mode="standard",
                        provider="openai")
    plan = plan_run(cfg, spec, make_feed(days=12, start_ms=T0), prompt_chars=8000)
    assert len(plan.times) == 48
    assert any("knowledge cutoff of gpt-4o-mini (2025-01-15)" in w for w in plan.warnings)
    assert plan.estimate is not None and plan.estimate.calls == 48 and plan.estimate.prompt_tokens == 2000
    assert plan.estimate.usd == plan.estimate.per_call_usd * 48 > 0
    after = config_from_dict({"llm": {"provider": "openai", "model": "gpt-4o-mini"},
                              "backtest": {"knowledge_cutoffs": {"gpt-4o-mini": "2024-12-01"}}}, env={})
    later = plan_run(after, spec, make_feed(days=12, start_ms=T0), prompt_chars=8000).warnings
    assert not [w for w in later if "cutoff" in w]
    free = plan_run(cfg, BacktestSpec(coins=("BTC",), start=date(2025, 1, 8), end=date(2025, 1, 10)),
                    make_feed(days=12, start_ms=T0))
    # the baseline knows nothing and costs nothing (only the short warm-up of the test feed is said)
    assert free.estimate is None and not [w for w in free.warnings if "cutoff" in w]
    assert free.cycle_estimate() == 0
    # governed with LLM regime calls: two paid calls per review, and the spend cap's first step counts both
    both = config_from_dict({"llm": {"provider": "openai", "model": "gpt-4o-mini"},
                             "governance": {"regime": {"use_llm": True}}}, env={})
    gov = plan_run(both, BacktestSpec(coins=("BTC",), start=date(2025, 1, 8), end=date(2025, 1, 10), mode="governed",
                                      provider="openai"), make_feed(days=12, start_ms=T0), prompt_chars=8000)
    assert gov.calls_per_cycle == 2 and gov.estimate.calls == 2 * 48 * 3600 // 14400
    assert gov.cycle_estimate() == 2 * gov.estimate.per_call_usd > 0
    unknown = config_from_dict({"llm": {"provider": "openai", "model": "no-such-model-xyz"}}, env={})
    assert plan_run(unknown, spec, make_feed(days=12, start_ms=T0), prompt_chars=8000).cycle_estimate() is None


def test_the_plan_prices_and_dates_the_model_a_set_override_names():
    """`--set llm.model=...` (a sweep comparing models) is the model the run calls: the estimate
    named and priced the config file's model and the cutoff was checked for it. On the real data,
    `--set llm.model=claude-haiku-4-5` over a gpt-4o-mini config printed "$0.03 for gpt-4o-mini"
    (the run spent $0.0575) and no warning, though the window starts before claude-haiku-4-5's cutoff."""
    from backtest_helpers import T0, make_feed

    from hyperliquid_agent.backtest.runner import plan_run

    cfg = config_from_dict({"llm": {"provider": "openai", "model": "gpt-4o-mini"},
                            "backtest": {"knowledge_cutoffs": {"gpt-4o-mini": "2024-12-01",
                                                               "claude-haiku-4-5": "2025-02-28"}}}, env={})
    spec = BacktestSpec(coins=("BTC",), start=date(2025, 1, 8), end=date(2025, 1, 10), mode="standard",
                        provider="openai", overrides={"llm.model": "claude-haiku-4-5"})
    plan = plan_run(cfg, spec, make_feed(days=12, start_ms=T0), prompt_chars=8000)
    assert any("knowledge cutoff of claude-haiku-4-5 (2025-02-28)" in w for w in plan.warnings)
    assert plan.estimate is not None
    assert plan.estimate.per_call_usd == estimate_cost(1, 8000, 1500, "claude-haiku-4-5").per_call_usd
    assert plan.estimate.per_call_usd != estimate_cost(1, 8000, 1500, "gpt-4o-mini").per_call_usd


def test_a_set_of_a_key_the_run_sets_itself_is_refused_naming_the_option():
    """`--set agent.mode=standard` ran a governed backtest whose results.json listed the override
    {'agent.mode': 'standard'} beside mode 'governed': the run sets the mode, coins, provider, state
    folder and network itself, so such a --set was named and never used."""
    for key, value, hint in (("agent.mode", "standard", "--mode"), ("agent.coins", ["ETH"], "--coins"),
                             ("llm.provider", "openai", "--provider"), ("agent.state_dir", "/tmp/x", "drop it"),
                             ("hyperliquid.network", "mainnet", "drop it")):
        with pytest.raises(ConfigError) as exc:
            BacktestSpec(coins=("BTC",), overrides={key: value}).validated()
        assert str(exc.value).startswith(f"--set {key}: ") and hint in str(exc.value)
    BacktestSpec(coins=("BTC",), overrides={"risk.max_leverage": 2}).validated()
