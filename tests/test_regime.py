"""Regime: rules, thresholds from config, hysteresis, calendar event-risk, LLM with rules fallback."""

from __future__ import annotations

import pytest
from gov_helpers import MIN, T0, signals_for

from hyperliquid_agent.config import LLMConfig, RegimeConfig
from hyperliquid_agent.domain import Regime
from hyperliquid_agent.errors import BudgetExceededError, ConfigError, LLMUnavailableError
from hyperliquid_agent.governance.calendar import active_event, parse_calendar
from hyperliquid_agent.governance.regime import (
    RegimeTracker,
    classify,
    classify_rules,
    regime_llm_config,
)
from hyperliquid_agent.schemas import RegimeSchema

CFG = RegimeConfig()


@pytest.mark.parametrize("name", ["trending-bull", "trending-bear", "range-bound", "carry-friendly", "high-volatility"])
def test_rules_classify_each_market_regime(name):
    regime, conf = classify_rules(signals_for(name), CFG)
    assert regime is Regime(name)
    assert 0.5 <= conf <= 1.0


def test_thresholds_come_from_config():
    sig = signals_for("trending-bull")  # adx 35, ret_7d 8%
    assert classify_rules(sig, RegimeConfig(trend_adx_min=40))[0] is not Regime.TRENDING_BULL
    assert classify_rules(sig, RegimeConfig(high_vol_annualized_min=0.3))[0] is Regime.HIGH_VOLATILITY
    calm = signals_for("range-bound")
    assert classify_rules(calm, RegimeConfig(carry_funding_24h_min=0.000005))[0] is Regime.CARRY_FRIENDLY


def test_reference_coin_and_missing_data():
    sig = {"ETH": signals_for("trending-bear")["BTC"], "BTC": signals_for("range-bound")["BTC"]}
    assert classify_rules(sig, CFG)[0] is Regime.RANGE_BOUND
    assert classify_rules(sig, RegimeConfig(reference_coin="ETH"))[0] is Regime.TRENDING_BEAR
    assert classify_rules({}, CFG) == (Regime.RANGE_BOUND, 0.0)
    assert classify_rules({"BTC": {"adx14": None}}, CFG) == (Regime.RANGE_BOUND, 0.0)


def test_trend_needs_ema_agreement():
    sig = signals_for("trending-bull")
    sig["BTC"]["ema_spread"] = -0.01  # 7-day return up but EMAs say down: not a clean trend
    assert classify_rules(sig, CFG)[0] is not Regime.TRENDING_BULL


def test_confidence_grows_with_distance_from_the_threshold():
    weak = {"BTC": {"rv_ann": 0.95}}
    strong = {"BTC": {"rv_ann": 1.7}}
    assert classify_rules(weak, CFG)[1] < classify_rules(strong, CFG)[1]


# ---------------------------------------------------------------- hysteresis


def test_one_spurious_reading_does_not_change_the_confirmed_regime():
    t = RegimeTracker(RegimeConfig(hysteresis_n=2, hysteresis_m=3))
    assert t.observe(Regime.RANGE_BOUND, 0.8, T0).confirmed is Regime.RANGE_BOUND
    r = t.observe(Regime.TRENDING_BULL, 0.8, T0 + 60 * MIN)
    assert r.confirmed is Regime.RANGE_BOUND and not r.changed
    r = t.observe(Regime.RANGE_BOUND, 0.8, T0 + 120 * MIN)
    assert r.confirmed is Regime.RANGE_BOUND
    r = t.observe(Regime.TRENDING_BULL, 0.8, T0 + 180 * MIN)  # 2 of the last 3 agree now
    assert r.confirmed is Regime.TRENDING_BULL and r.changed
    assert t.changed_at_ms == T0 + 180 * MIN


def test_n_of_m_from_config():
    t = RegimeTracker(RegimeConfig(hysteresis_n=3, hysteresis_m=3))
    t.observe(Regime.RANGE_BOUND, 1, T0)
    assert t.observe(Regime.HIGH_VOLATILITY, 1, T0 + 1).confirmed is Regime.RANGE_BOUND
    assert t.observe(Regime.HIGH_VOLATILITY, 1, T0 + 2).confirmed is Regime.RANGE_BOUND
    assert t.observe(Regime.HIGH_VOLATILITY, 1, T0 + 3).confirmed is Regime.HIGH_VOLATILITY


def test_tracker_state_round_trip():
    cfg = RegimeConfig(hysteresis_n=2, hysteresis_m=3)
    t = RegimeTracker(cfg)
    t.observe(Regime.RANGE_BOUND, 1, T0)
    t.observe(Regime.TRENDING_BEAR, 1, T0 + 1)
    again = RegimeTracker.from_state(cfg, t.to_state())
    # the pending vote survives the restart: one more bear reading confirms it
    assert again.observe(Regime.TRENDING_BEAR, 1, T0 + 2).confirmed is Regime.TRENDING_BEAR


# ---------------------------------------------------------------- calendar and event-risk

CALENDAR = """
[[events]]
name = "US CPI"
time = "2025-10-09T12:30:00Z"
kind = "macro"

[[events]]
name = "SOL unlock"
time = "2025-10-12T00:00:00+02:00"
kind = "unlock"
coins = ["SOL"]
"""


def test_calendar_parses_and_sorts():
    events = parse_calendar(CALENDAR, "cal.toml")
    assert [e.name for e in events] == ["US CPI", "SOL unlock"]
    assert events[1].time_iso == "2025-10-11T22:00:00Z" and events[1].coins == ("SOL",)


@pytest.mark.parametrize("text, needle", [
    ('[[events]]\nname = "x"\ntime = "soon"\n', "event #1 ('x')"),
    ('[[events]]\nname = "x"\ntime = "2025-01-01T00:00:00Z"\nkind = "party"\n', "kind 'party'"),
    ('[[events]]\nname = "x"\n', "needs both 'name' and 'time'"),
    ('[[events]]\nname = "x"\ntime = "2025-01-01T00:00:00Z"\nwhen = 1\n', "unknown key(s) when"),
    ("[[events]\n", "not valid TOML"),
])
def test_calendar_errors_name_the_file_and_entry(text, needle):
    with pytest.raises(ConfigError) as exc:
        parse_calendar(text, "my-calendar.toml")
    assert "my-calendar.toml" in str(exc.value) and needle in str(exc.value)


def test_event_lock_window_and_coin_filter():
    events = parse_calendar(CALENDAR, "c")
    cpi = events[0].time_ms
    assert active_event(events, cpi - 120 * MIN, 120, 60) is not None
    assert active_event(events, cpi - 121 * MIN, 120, 60) is None
    assert active_event(events, cpi + 60 * MIN, 120, 60) is not None
    assert active_event(events, cpi + 61 * MIN, 120, 60) is None
    unlock = events[1].time_ms
    assert active_event(events, unlock, 10, 10, coins=["BTC"]) is None
    assert active_event(events, unlock, 10, 10, coins=["BTC", "SOL"]).name == "SOL unlock"


def test_event_risk_overrides_at_once_and_then_releases():
    events = parse_calendar(CALENDAR, "c")
    cpi = events[0].time_ms
    t = RegimeTracker(RegimeConfig(event_lock_before_minutes=60, event_lock_after_minutes=60))
    t.observe(Regime.TRENDING_BULL, 1, cpi - 3 * 60 * MIN, events=events)
    r = t.observe(Regime.TRENDING_BULL, 1, cpi - 30 * MIN, events=events)
    assert r.confirmed is Regime.EVENT_RISK and r.changed and r.source == "calendar" and r.event == "US CPI"
    r = t.observe(Regime.TRENDING_BULL, 1, cpi + 2 * 60 * MIN, events=events)
    assert r.confirmed is Regime.TRENDING_BULL and r.changed


# ---------------------------------------------------------------- optional LLM classification


class FakeResponse:
    def __init__(self, parsed=None, content=""):
        self.parsed, self.content = parsed, content


class FakeClient:
    """Implements the one LLMClient method the classifier uses."""

    def __init__(self, reply=None, error: Exception | None = None):
        self.reply, self.error, self.calls = reply, error, []

    def query(self, messages, schema=None, purpose="decision", context=None):
        self.calls.append((messages, schema, purpose, context))
        if self.error:
            raise self.error
        return self.reply


LLM_ON = RegimeConfig(use_llm=True)


def test_llm_answer_is_used_when_enabled():
    client = FakeClient(FakeResponse(RegimeSchema(regime="carry-friendly", confidence="0.7", reasoning="x")))
    regime, conf, source = classify(signals_for("range-bound"), LLM_ON, client)
    assert (regime, conf, source) == (Regime.CARRY_FRIENDLY, 0.7, "llm")
    messages, schema, purpose, context = client.calls[0]
    assert schema is RegimeSchema and purpose == "regime" and "BTC" in messages[-1]["content"]
    assert context.signals["BTC"]["adx14"] == 15.0  # offline providers read the same facts


def test_llm_json_content_is_validated_when_not_parsed():
    client = FakeClient(FakeResponse(content='{"regime": "trending-bear", "confidence": 0.6, "reasoning": "r"}'))
    assert classify(signals_for("range-bound"), LLM_ON, client)[:2] == (Regime.TRENDING_BEAR, 0.6)


@pytest.mark.parametrize("client", [
    FakeClient(error=BudgetExceededError("daily budget reached")),
    FakeClient(error=LLMUnavailableError("503")),
    FakeClient(FakeResponse(content="not json")),
    FakeClient(FakeResponse(RegimeSchema(regime="event-risk", confidence="0.9", reasoning="x"))),
])
def test_rules_answer_when_the_llm_fails_or_the_budget_says_no(client):
    regime, conf, source = classify(signals_for("trending-bull"), LLM_ON, client)
    assert regime is Regime.TRENDING_BULL and source.startswith("rules (llm failed")


def test_llm_not_called_unless_enabled():
    client = FakeClient(FakeResponse(RegimeSchema(regime="carry-friendly", confidence="1", reasoning="x")))
    assert classify(signals_for("trending-bull"), CFG, client)[2] == "rules" and client.calls == []


def test_regime_llm_config_uses_temperature_zero_and_its_own_model():
    llm = LLMConfig(provider="baseline", model="big-model", temperature=0.7)
    out = regime_llm_config(llm, RegimeConfig(llm_model="small-model"))
    assert out.temperature == 0 and out.model == "small-model" and llm.model == "big-model"
    assert regime_llm_config(llm, RegimeConfig()).model == "big-model"


def test_hysteresis_n_above_m_is_a_config_error():
    from hyperliquid_agent.config import config_from_dict
    from hyperliquid_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="hysteresis_n"):
        config_from_dict({"governance": {"regime": {"hysteresis_n": 4, "hysteresis_m": 3}}}, env={})


def test_llm_regime_through_the_real_client_with_the_baseline_provider(tmp_path):
    from hyperliquid_agent.governance.governor import Governor
    from hyperliquid_agent.config import GovernanceConfig
    from hyperliquid_agent.llm_client import LLMClient

    client = LLMClient(regime_llm_config(LLMConfig(provider="baseline"), RegimeConfig()))
    gov = Governor(GovernanceConfig(regime=RegimeConfig(use_llm=True)), regime_client=client)
    reading = gov.classify_regime(signals_for("trending-bear"), T0)
    assert reading.source == "llm" and reading.confirmed is Regime.TRENDING_BEAR


def test_the_baseline_provider_classifies_with_the_configured_thresholds(tmp_path):
    from hyperliquid_agent.governance.governor import Governor
    from hyperliquid_agent.config import GovernanceConfig
    from hyperliquid_agent.llm_client import LLMClient

    strict = RegimeConfig(use_llm=True, trend_adx_min=40.0)  # the trending-bear row has adx14 35
    client = LLMClient(regime_llm_config(LLMConfig(provider="baseline"), strict))
    reading = Governor(GovernanceConfig(regime=strict), regime_client=client).classify_regime(
        signals_for("trending-bear"), T0)
    assert reading.source == "llm" and reading.confirmed is Regime.RANGE_BOUND
    other = RegimeConfig(use_llm=True, reference_coin="ETH")  # no ETH row: nothing to go on
    client = LLMClient(regime_llm_config(LLMConfig(provider="baseline"), other))
    reading = Governor(GovernanceConfig(regime=other), regime_client=client).classify_regime(
        signals_for("trending-bear"), T0)
    assert reading.source == "llm" and reading.confirmed is Regime.RANGE_BOUND and reading.confidence == 0.0


def test_an_llm_regime_the_real_client_read_from_fences_is_used():
    # the real client's `parsed` is a dict validated from a fenced reply; re-reading the raw text as strict JSON
    # threw the answer away and fell back to the rules on every call, each call still billed
    import json

    from llm_wire import Reply, WireServer, chat_body

    from hyperliquid_agent.llm_client import LLMClient

    server = WireServer()
    try:
        fenced = "```json\n" + json.dumps({"regime": "high-volatility", "confidence": 0.9, "reasoning": "rv"}) + "\n```"
        server.push(Reply(200, chat_body(fenced)))
        cfg = LLMConfig(provider="openai-compatible", model="qwen2.5:14b", base_url=server.url + "/v1",
                        output_mode="json_object", max_retries=0)
        client = LLMClient(cfg, sleep=lambda _s: None)
        assert classify(signals_for("range-bound"), LLM_ON, client) == (Regime.HIGH_VOLATILITY, 0.9, "llm")
    finally:
        server.close()
