from hyperliquid_agent.config import load_config, defaults_dir


def test_default_config_loads():
    cfg = load_config(defaults_dir() / "config.toml", env={})
    assert cfg.hyperliquid.network == "local"
