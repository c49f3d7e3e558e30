"""config.toml loading: ${VAR} expansion, unknown keys, bad values, secrets, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperliquid_agent.config import (
    Config,
    LLMConfig,
    config_from_dict,
    defaults_dir,
    expand_env,
    load_config,
    masked_dump,
)
from hyperliquid_agent.errors import ConfigError, MissingEnvError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_embedded_default_is_offline_and_valid():
    cfg = load_config(defaults_dir() / "config.toml", env={})
    assert cfg.hyperliquid.network == "local"
    assert cfg.llm.provider == "baseline"
    cfg.check_required()  # needs no key


def test_env_expansion_with_default_and_value():
    missing: dict[str, str] = {}
    raw = {"a": "${X}", "b": "${Y:-fallback}", "c": ["${X}-suffix"], "d": 3}
    out = expand_env(raw, {"X": "1"}, missing=missing)
    assert out == {"a": "1", "b": "fallback", "c": ["1-suffix"], "d": 3}
    assert missing == {}


def test_unset_variable_is_recorded_and_only_fails_when_needed(tmp_path):
    path = write(tmp_path, '[llm]\nprovider = "baseline"\napi_key = "${OPENAI_API_KEY}"\n')
    cfg = load_config(path, env={})
    assert cfg.llm.api_key is None
    cfg.check_required()  # baseline needs no key

    path = write(tmp_path, '[llm]\nprovider = "openai"\nmodel = "gpt-4o"\napi_key = "${OPENAI_API_KEY}"\n')
    cfg = load_config(path, env={})
    with pytest.raises(MissingEnvError) as exc:
        cfg.check_required()
    assert "OPENAI_API_KEY" in str(exc.value)
    assert "export OPENAI_API_KEY=" in str(exc.value)


def test_testnet_needs_secret_key_variable(tmp_path):
    path = write(tmp_path, '[hyperliquid]\nnetwork = "testnet"\nsecret_key = "${HL_SECRET_KEY}"\n')
    with pytest.raises(MissingEnvError) as exc:
        load_config(path, env={}).check_required()
    assert "HL_SECRET_KEY" in str(exc.value) and "hyperliquid.secret_key" in str(exc.value)


def test_empty_default_still_names_the_variable_a_setting_needs(tmp_path):
    # the shipped config writes "${HL_SECRET_KEY:-}" / "${OPENAI_API_KEY:-}" so local runs need nothing
    path = write(tmp_path, '[hyperliquid]\nnetwork = "testnet"\nsecret_key = "${HL_SECRET_KEY:-}"\n'
                           '[llm]\nprovider = "openai"\napi_key = "${MY_KEY:-}"\n')
    cfg = load_config(path, env={"HL_SECRET_KEY": ""})
    with pytest.raises(MissingEnvError) as exc:
        cfg.hyperliquid.require_secret_key()
    assert exc.value.variable == "HL_SECRET_KEY" and "export HL_SECRET_KEY=" in str(exc.value)
    with pytest.raises(MissingEnvError) as exc:
        cfg.llm.require_api_key()
    assert exc.value.variable == "MY_KEY"
    assert load_config(path, env={"HL_SECRET_KEY": "0xabc", "MY_KEY": "k"}).llm.require_api_key().get_secret_value() == "k"


def test_unset_variable_in_a_required_setting_names_the_variable(tmp_path):
    path = write(tmp_path, '[agent]\nstate_dir = "${STATE_HOME}/agent"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    message = str(exc.value)
    assert "agent.state_dir" in message and "STATE_HOME" in message and "export STATE_HOME=" in message
    assert load_config(path, env={"STATE_HOME": "/srv"}).agent.state_dir == "/srv/agent"


def test_openai_compatible_needs_its_key_only_when_the_config_names_an_unset_variable(tmp_path):
    base = '[llm]\nprovider = "openai-compatible"\nbase_url = "http://127.0.0.1:11434/v1"\n'
    load_config(write(tmp_path, base), env={}).check_required()  # a local server without a key
    named = write(tmp_path, base + 'api_key = "${DEEPSEEK_API_KEY}"\n')
    with pytest.raises(MissingEnvError) as exc:
        load_config(named, env={}).check_required()
    assert exc.value.variable == "DEEPSEEK_API_KEY"
    load_config(named, env={"DEEPSEEK_API_KEY": "sk-x"}).check_required()


def test_anthropic_with_the_shipped_openai_variable_says_which_variable_to_use(tmp_path):
    path = write(tmp_path, '[llm]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-5"\napi_key = "${OPENAI_API_KEY:-}"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={}).check_required()
    assert "ANTHROPIC_API_KEY" in str(exc.value)


def test_unknown_key_names_key_and_file(tmp_path):
    path = write(tmp_path, "[risk]\nmax_order_usdd = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    msg = str(exc.value)
    assert "risk.max_order_usdd" in msg and str(path) in msg


def test_unknown_section_is_an_error(tmp_path):
    path = write(tmp_path, "[riks]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'riks'"):
        load_config(path, env={})


def test_bad_value_names_key_value_and_allowed(tmp_path):
    path = write(tmp_path, '[agent]\nmode = "yolo"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    msg = str(exc.value)
    assert "agent.mode" in msg and "'yolo'" in msg and "standard" in msg and "governed" in msg


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, '[agent]\nmode = "yolo"\n[llm]\ntemperature = 9\n')
    msg = str(pytest.raises(ConfigError, load_config, path, env={}).value)
    assert "agent.mode" in msg and "llm.temperature" in msg


def test_invalid_toml_names_file(tmp_path):
    path = write(tmp_path, "[agent\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="hl-agent init"):
        load_config(tmp_path / "nope.toml", env={})


def test_secrets_never_appear_in_dumps_or_repr():
    cfg = config_from_dict(
        {"llm": {"provider": "openai", "api_key": "sk-supersecret"},
         "hyperliquid": {"secret_key": "0xdeadbeefcafe"}},
        env={},
    )
    dumped = str(masked_dump(cfg))
    assert "sk-supersecret" not in dumped and "0xdeadbeefcafe" not in dumped
    assert "sk-supersecret" not in repr(cfg) and "0xdeadbeefcafe" not in repr(cfg)
    assert cfg.llm.require_api_key().get_secret_value() == "sk-supersecret"


def test_url_credentials_never_appear_in_dumps_or_repr():
    cfg = config_from_dict(
        {"llm": {"provider": "openai-compatible", "base_url": "https://bob:canarypass9@llm.example/v1?api-key=canaryqkey7"},
         "venue": {"url": "http://op:venuepass77@127.0.0.1:3001"}}, env={})
    for text in (str(masked_dump(cfg)), repr(cfg), repr(cfg.llm), str(cfg.venue)):
        for leak in ("canarypass9", "canaryqkey7", "venuepass77"):
            assert leak not in text, (leak, text)
    assert masked_dump(cfg)["llm"]["base_url"] == "https://bob:[REDACTED]@llm.example/v1?api-key=[REDACTED]"
    assert cfg.llm.base_url.startswith("https://bob:canarypass9@")  # the value itself is kept for the SDK


def test_bad_value_message_hides_secret_input():
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"llm": {"api_key": ["sk-leak-me"]}}, env={})
    assert "sk-leak-me" not in str(exc.value)


def test_relative_paths_resolve_against_config_folder(tmp_path):
    path = write(tmp_path, '[agent]\nstrategies_dir = "my-strats"\n')
    cfg = load_config(path, env={})
    assert cfg.resolve_path(cfg.agent.strategies_dir) == tmp_path.resolve() / "my-strats"


def test_llmconfig_is_usable_directly_from_python():
    llm = LLMConfig(provider="openai", model="gpt-4o-mini", api_key="sk-x", temperature=0.0, max_tokens=100)
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "sk-x"
    assert "sk-x" not in repr(llm)


def test_defaults_without_file_match_the_shipped_file():
    """The shipped config.toml states the model defaults (bar the secret placeholders)."""
    shipped = load_config(defaults_dir() / "config.toml", env={})
    plain = Config()
    assert shipped.risk == plain.risk
    assert shipped.portfolio == plain.portfolio
    assert shipped.governance == plain.governance
    assert shipped.agent == plain.agent
