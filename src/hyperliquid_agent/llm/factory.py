"""Build the provider named by `llm.provider` (the only place that turns config into SDK clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperliquid_agent.config import REAL_PROVIDERS, LLMConfig
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.llm.replay import RecordingProvider, ReplayProvider, ReplayStore
from hyperliquid_agent.llm.types import Provider


def _key(cfg: LLMConfig) -> str | None:
    if cfg.needs_key:  # includes a named but unset variable: say so now
        return cfg.require_api_key().get_secret_value()
    if cfg.api_key is not None and cfg.api_key.get_secret_value():
        return cfg.api_key.get_secret_value()
    return None


def build_real(cfg: LLMConfig, transport: Any = None) -> Provider:
    if cfg.provider == "openai":
        from hyperliquid_agent.llm.providers.openai_chat import OpenAIChatProvider

        return OpenAIChatProvider(_key(cfg), cfg.base_url, cfg.api, cfg.output_mode, "openai", transport)
    if cfg.provider == "openai-compatible":
        from hyperliquid_agent.llm.providers.openai_chat import OpenAIChatProvider

        cfg.check_provider_settings()  # llm.base_url
        return OpenAIChatProvider(_key(cfg), cfg.base_url, "chat", cfg.output_mode, "openai-compatible", transport)
    if cfg.provider == "anthropic":
        from hyperliquid_agent.llm.providers.anthropic_messages import AnthropicProvider

        return AnthropicProvider(_key(cfg) or "", cfg.base_url, transport)
    raise ConfigError(f"llm.provider {cfg.provider!r} is not a real provider; use one of {', '.join(REAL_PROVIDERS)}")


def replay_path(cfg: LLMConfig, state_dir: Path | None) -> Path:
    path = Path(cfg.replay.path).expanduser()
    if path.is_absolute():
        return path
    if state_dir is None:
        raise ConfigError("llm.replay.path is relative but no state dir is known; pass state_dir or use an absolute path")
    return state_dir / path


def build_provider(cfg: LLMConfig, transport: Any = None, state_dir: Path | None = None) -> Provider:
    """The provider for `cfg.provider`, wrapped for recording when `llm.replay.record` is on."""
    if cfg.provider == "baseline":
        from hyperliquid_agent.llm.providers.offline import BaselineProvider

        return BaselineProvider()
    if cfg.provider == "scripted":
        from hyperliquid_agent.llm.providers.offline import ScriptedProvider

        return ScriptedProvider()
    if cfg.provider == "replay":
        cfg.check_provider_settings()  # llm.replay.wrapped_provider
        source = cfg.replay.wrapped_provider
        wrapped = None
        if cfg.replay.mode == "fallthrough":
            wrapped = build_real(cfg.model_copy(update={"provider": source}), transport)
        return ReplayProvider(ReplayStore(replay_path(cfg, state_dir)), source, cfg.replay.mode, wrapped)
    provider = build_real(cfg, transport)
    if cfg.replay.record:
        return RecordingProvider(provider, ReplayStore(replay_path(cfg, state_dir)))
    return provider
