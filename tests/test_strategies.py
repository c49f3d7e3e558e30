"""The strategy library: loading, validation errors, and the invalidation-trigger grammar."""

from __future__ import annotations

import operator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from hyperliquid_agent.config import defaults_dir
from hyperliquid_agent.conditions import ConditionSyntaxError
from hyperliquid_agent.domain.regime import REGIME_NAMES
from hyperliquid_agent.errors import StrategyError
from hyperliquid_agent.signals import SIGNAL_NAMES
from hyperliquid_agent.strategies import load_strategies, parse_condition, parse_strategy, strategies_for_regime

LIBRARY = defaults_dir() / "strategies"

VALID = """---
id: {id}
title: A test strategy
markets: [perp]
directionality: long-short
risk_profile: medium
tags: [test]
intended_horizon: hours
minimum_dwell_minutes: 120
compatible_regimes: [range-bound]
avoid_regimes: [event-risk]
invalidation_triggers: ["adx14 > 30"]
max_position_pct: 20
max_leverage: 2
expected_switching_cost_bps: 10
---
Buy low, sell high.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shipped library


def test_shipped_library_has_the_required_strategies():
    specs = load_strategies(LIBRARY)
    ids = [s.id for s in specs]
    assert ids == sorted(ids)
    assert len(specs) >= 12
    for required in ("funding-carry", "funding-flip-fade", "slow-trend-following", "volatility-compression-breakout",
                     "range-mean-reversion", "oi-price-divergence", "session-bias", "btc-eth-pair",
                     "event-de-risking", "dca-with-hedge", "basis-mean-reversion", "stand-aside"):
        assert required in ids


def test_stand_aside_fits_every_regime_and_holds_nothing():
    cash = next(s for s in load_strategies(LIBRARY) if s.id == "stand-aside")
    assert all(cash.fits(r) for r in REGIME_NAMES)
    assert cash.max_position_pct == 0
    assert cash.fits(None)


def test_every_shipped_strategy_is_concrete():
    for s in load_strategies(LIBRARY):
        body = s.description.lower()
        assert "entry" in body and "exit" in body and "sizing" in body, s.id
        # the rules refer to signals the engine computes
        assert any(name in s.description for name in SIGNAL_NAMES), s.id
        assert s.minimum_dwell_minutes >= 60
        assert s.max_leverage <= 3
        if s.id != "stand-aside":
            assert s.invalidation_triggers, s.id
            assert len(s.conditions) == len(s.invalidation_triggers)


def test_regime_filter():
    specs = load_strategies(LIBRARY)
    event = {s.id for s in strategies_for_regime(specs, "event-risk")}
    assert "stand-aside" in event and "event-de-risking" in event
    assert "slow-trend-following" not in event
    trend = {s.id for s in strategies_for_regime(specs, "trending-bull")}
    assert "slow-trend-following" in trend and "range-mean-reversion" not in trend


def test_summary_and_full_render():
    spec = next(s for s in load_strategies(LIBRARY) if s.id == "funding-carry")
    summary = spec.render("summary")
    assert "funding-carry" in summary and "minimum dwell: 1440 min" in summary
    assert "funding_24h_avg < 0" in summary
    assert "Entry" not in summary  # summary: frontmatter facts only
    full = spec.render("full")
    assert full.startswith(summary) and "**Entry.**" in full
    with pytest.raises(ValueError):
        spec.render("long")


# ---------------------------------------------------------------- load errors


def test_errors_name_file_and_field_and_all_files_are_reported(tmp_path):
    write(tmp_path, "good.md", VALID.format(id="good-one"))
    write(tmp_path, "bad-regime.md", VALID.format(id="bad-regime").replace("[range-bound]", "[sideways]"))
    write(tmp_path, "bad-trigger.md", VALID.format(id="bad-trigger").replace("adx14 > 30", "adx > 30"))
    write(tmp_path, "missing.md", VALID.format(id="missing").replace("max_leverage: 2\n", ""))
    write(tmp_path, "extra.md", VALID.format(id="extra").replace("tags: [test]", "tags: [test]\ncolour: blue"))
    with pytest.raises(StrategyError) as info:
        load_strategies(tmp_path)
    problems = info.value.problems
    text = "\n".join(problems)
    assert len(problems) == 4
    assert "bad-regime.md: field 'compatible_regimes" in text and "sideways" in text
    assert "bad-trigger.md: field 'invalidation_triggers'" in text and "unknown signal 'adx'" in text
    assert "missing.md: field 'max_leverage' is required" in text
    assert "extra.md: unknown field 'colour'" in text


def test_duplicate_ids(tmp_path):
    write(tmp_path, "a.md", VALID.format(id="same"))
    write(tmp_path, "b.md", VALID.format(id="same"))
    with pytest.raises(StrategyError) as info:
        load_strategies(tmp_path)
    (problem,) = info.value.problems
    assert "b.md" in problem and "duplicate id 'same'" in problem and "a.md" in problem


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda t: t.replace("id: x-y", "id: Not_Kebab"), "kebab-case"),
        (lambda t: t.replace("avoid_regimes: [event-risk]", "avoid_regimes: [range-bound]"), "both in compatible_regimes"),
        (lambda t: t.replace("max_position_pct: 20", "max_position_pct: 150"), "max_position_pct"),
        (lambda t: t.replace("intended_horizon: hours", "intended_horizon: weeks"), "intended_horizon"),
        (lambda t: t.replace("Buy low, sell high.\n", ""), "body (description) is empty"),
        (lambda t: t.replace("markets: [perp]", "markets: [futures]"), "markets"),
        (lambda t: t.replace("title: A test strategy", "title: [unclosed"), "not valid YAML"),
        (lambda t: t.split("---", 2)[2], "no YAML frontmatter"),
        # YAML reads yes/on/true as a boolean, which pydantic alone would take as 1
        (lambda t: t.replace("max_leverage: 2", "max_leverage: yes"), "field 'max_leverage': must be a whole number"),
        (lambda t: t.replace("minimum_dwell_minutes: 120", "minimum_dwell_minutes: on"),
         "field 'minimum_dwell_minutes': must be a whole number"),
        (lambda t: t.replace("title: A test strategy", "title: A test strategy\nversion: true"),
         "field 'version': must be a whole number"),
    ],
)
def test_single_file_errors(mutate, expected):
    with pytest.raises(StrategyError) as info:
        parse_strategy(mutate(VALID.format(id="x-y")), "strategies/x-y.md")
    assert any(expected in p and "strategies/x-y.md" in p for p in info.value.problems), info.value.problems


def test_a_yaml_error_names_the_file_line_of_the_mistake():
    text = VALID.format(id="x-y").replace("max_leverage: 2", "max_leverage: [2")
    with pytest.raises(StrategyError) as info:
        parse_strategy(text, "strategies/x-y.md")
    (problem,) = info.value.problems
    line = text.splitlines().index("max_leverage: [2") + 1
    assert f"line {line}, column 15" in problem and "<unicode string>" not in problem, problem


def test_a_regime_listed_twice_counts_once():
    # six entries of one regime are not "every regime": with the regime unknown it must not fit
    six = "compatible_regimes: [" + ", ".join(["range-bound"] * len(REGIME_NAMES)) + "]"
    spec = parse_strategy(VALID.format(id="x-y").replace("compatible_regimes: [range-bound]", six), "x.md")
    assert spec.compatible_regimes == ("range-bound",)
    assert not spec.fits(None) and spec.fits("range-bound")


def test_valid_file_values_are_exact():
    spec = parse_strategy(VALID.format(id="x-y").replace("max_position_pct: 20", "max_position_pct: 12.5"), "x.md")
    assert spec.max_position_pct == Decimal("12.5") and isinstance(spec.max_position_pct, Decimal)
    assert spec.version == 1
    assert spec.description.strip() == "Buy low, sell high."


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(StrategyError, match="not found"):
        load_strategies(tmp_path / "nope")
    with pytest.raises(StrategyError, match="no strategy files"):
        load_strategies(tmp_path)


# ---------------------------------------------------------------- conditions


SIGNALS = {
    "BTC": {"ema_spread": -0.02, "adx14": 30.0, "ret_24h": -0.06, "funding_24h_avg": 0.0001},
    "ETH": {"ema_spread": -0.02, "adx14": 10.0, "ret_24h": None, "funding_24h_avg": -0.00001},
    "*": {"btc_eth_corr": 0.4},
}


@pytest.mark.parametrize(
    "text, coins, expected",
    [
        ("funding_24h_avg < 0", ["BTC"], False),
        ("funding_24h_avg < 0", ["BTC", "ETH"], True),  # any coin of the plan
        ("ema_spread < -0.01 and adx14 > 25", ["ETH"], False),  # both must hold on the same coin
        ("ema_spread < -0.01 and adx14 > 25", ["ETH", "BTC"], True),
        ("BTC.ret_24h < -0.05", [], True),  # qualified: independent of the plan's coins
        ("ETH.ret_24h < 1", ["BTC"], False),  # None never fires
        ("btc_eth_corr < 0.5", [], True),  # cross-asset
        ("adx14 > 100 or btc_eth_corr < 0.5", ["BTC"], True),
        ("adx14 > 25 and (btc_eth_corr > 0.9 or ema_spread < 0)", ["BTC"], True),
        ("adx14 > 25 and btc_eth_corr > 0.9 or ema_spread < 0", ["ETH"], True),  # and binds tighter than or
        ("25 < adx14", ["BTC"], True),  # number first flips the operator
        ("adx14 == 30", ["BTC"], True),
        ("adx14 != 30", ["BTC"], False),
        ("SOL.adx14 > 0", ["BTC"], False),  # coin missing from the table
    ],
)
def test_condition_evaluation(text, coins, expected):
    assert parse_condition(text).evaluate(SIGNALS, coins) is expected


def test_matching_coins_and_refs():
    cond = parse_condition("ema_spread < -0.01 and adx14 > 25")
    assert cond.matching_coins(SIGNALS, ["BTC", "ETH"]) == ["BTC"]
    assert [str(r) for r in cond.refs] == ["ema_spread", "adx14"]
    assert cond.per_coin and not parse_condition("BTC.adx14 > 1").per_coin


@pytest.mark.parametrize(
    "text",
    ["", "adx14", "adx14 >", "adx14 25", "adx14 > 25 and", "(adx14 > 1", "adx14 > x", "foo < 1",
     "adx14 > 25 xor rsi14 < 3", "BTC.btc_eth_corr > 0", "__import__('os') > 1", "adx14 > 1; rsi14 < 2"],
)
def test_condition_syntax_errors(text):
    with pytest.raises(ConditionSyntaxError):
        parse_condition(text)


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@given(op=st.sampled_from(sorted(_OPS)), x=finite, y=finite, name=st.sampled_from(SIGNAL_NAMES))
def test_single_comparison_matches_python(op, x, y, name):
    cond = parse_condition(f"{name} {op} {y!r}")
    assert cond.evaluate({"BTC": {name: x}}, ["BTC"]) == _OPS[op](x, float(repr(y)))
    assert cond.evaluate({"BTC": {name: None}}, ["BTC"]) is False


@given(st.text(max_size=60))
def test_parse_condition_raises_only_its_own_error(text):
    try:
        cond = parse_condition(text)
    except ConditionSyntaxError:
        return
    assert isinstance(cond.evaluate(SIGNALS, ["BTC", "ETH"]), bool)


@given(st.lists(st.tuples(st.sampled_from(SIGNAL_NAMES), st.sampled_from(sorted(_OPS)), finite), min_size=1, max_size=4),
       st.sampled_from(["and", "or"]), st.dictionaries(st.sampled_from(SIGNAL_NAMES), finite | st.none()))
def test_and_or_chains_match_all_and_any(parts, word, row):
    text = f" {word} ".join(f"{n} {op} {v!r}" for n, op, v in parts)
    expected = [row.get(n) is not None and _OPS[op](row[n], v) for n, op, v in parts]
    assert parse_condition(text).evaluate({"SOL": row}, ["SOL"]) == (all(expected) if word == "and" else any(expected))


def test_a_strategy_may_leave_its_dwell_to_the_config(tmp_path):
    text = VALID.format(id="no-dwell").replace("minimum_dwell_minutes: 120\n", "")
    spec = load_strategies(write(tmp_path, "no-dwell.md", text).parent)[0]
    assert spec.minimum_dwell_minutes is None
    assert "minimum dwell: the configured default" in spec.summary()
