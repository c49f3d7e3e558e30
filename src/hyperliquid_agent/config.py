"""pydantic models of `config.toml`, `${VAR}` expansion, and clear load errors.

Every section forbids unknown keys. Secrets are `SecretStr` and never printed.
A `${VAR}` whose variable is unset becomes "missing": it is an error only when the
chosen setting needs it (an API key for a paid provider, a private key for a real
network); `require_*` helpers raise `MissingEnvError` naming the variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic import model_validator

from hyperliquid_agent.domain.values import MarketType
from hyperliquid_agent.errors import ConfigError, MissingEnvError


_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class _Section(BaseModel):
    """A config section whose repr never shows a secret: SecretStr fields print as stars, and a
    URL's credentials (`https://user:pass@host/v1?api-key=...`) as [REDACTED]."""

    def __repr_args__(self) -> Any:
        from hyperliquid_agent.audit import redact_text

        for name, value in super().__repr_args__():
            yield name, redact_text(value) if isinstance(value, str) else value

# ---------------------------------------------------------------- sections


class HyperliquidConfig(_Section):
    model_config = _STRICT
    network: Literal["local", "testnet", "mainnet"] = "local"
    base_url: str | None = None  # overrides the network's URL (e.g. a running emulator)
    account_address: str | None = None  # the master account; with an agent key, the account traded for
    secret_key: SecretStr | None = None  # the signer's private key, e.g. "${HL_SECRET_KEY}"
    vault_address: str | None = None  # trade on behalf of a vault or subaccount
    timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    _missing_env: dict[str, str] = PrivateAttr(default_factory=dict)
    _defaulted_env: dict[str, str] = PrivateAttr(default_factory=dict)

    def require_secret_key(self) -> SecretStr:
        return _require(self, "secret_key", "hyperliquid.secret_key", "0x<64 hex digits>")

    @property
    def trades_mainnet(self) -> bool:
        """Real money: `network = "mainnet"`, or a `base_url` on the mainnet API's host whatever the
        network says (`--testnet` with that base_url would sign and trade on mainnet)."""
        from urllib.parse import urlsplit

        from hyperliquid_agent.exchange.hyperliquid import NETWORK_URLS

        if self.network == "mainnet":
            return True
        try:
            host = urlsplit(self.base_url or "").hostname
        except ValueError:
            return False
        return host is not None and host == urlsplit(NETWORK_URLS["mainnet"]).hostname


class VenueConfig(_Section):
    """The simulated venue behind `network = "local"` (the emulator)."""

    model_config = _STRICT
    source: Literal["synthetic", "data"] = "synthetic"
    data_dir: str | None = None  # CSV candles/funding (see `hl-agent data`)
    seed: int = 7
    synthetic_days: int = Field(default=120, ge=2)
    start_equity_usd: Decimal = Field(default=Decimal(10000), gt=0)
    taker_fee: Decimal = Decimal("0.00045")
    maker_fee: Decimal = Decimal("0.00015")
    slippage_bps: Decimal = Field(default=Decimal(2), ge=0)  # market orders fill this far beyond the touch
    spread_bps: Decimal = Field(default=Decimal(1), gt=0)  # the synthetic book's bid-ask spread
    impact_bps_per_million_usd: Decimal = Field(default=Decimal(0), ge=0)  # extra slippage per $1M of an order
    speedup: float = Field(default=3600.0, gt=0)  # simulated seconds per wall second
    url: str | None = None  # connect to an already running emulator instead of starting one


class BudgetConfig(_Section):
    model_config = _STRICT
    daily_usd: Decimal | None = Field(default=None, ge=0)
    run_usd: Decimal | None = Field(default=None, ge=0)
    soft_fraction: Decimal = Field(default=Decimal("0.8"), gt=0, le=1)  # switch to fallback_model past this share


class ModelPrice(_Section):
    model_config = _STRICT
    input: Decimal = Field(ge=0)  # USD per million tokens
    cached_input: Decimal | None = Field(default=None, ge=0)
    output: Decimal = Field(ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)


class ReplayConfig(_Section):
    model_config = _STRICT
    path: str = "llm-replay.sqlite"  # relative to agent.state_dir
    mode: Literal["strict", "fallthrough"] = "strict"
    wrapped_provider: str | None = None  # provider used to record / on a miss in fallthrough mode
    record: bool = False  # with a real provider: record every reply into the replay store


LLMProviderName = Literal["baseline", "replay", "scripted", "openai", "anthropic", "openai-compatible"]
REAL_PROVIDERS = ("openai", "anthropic", "openai-compatible")  # the ones that call a model (and bill)


class LLMConfig(_Section):
    model_config = _STRICT
    provider: LLMProviderName = "baseline"
    model: str = "baseline-v1"
    api_key: SecretStr | None = None
    base_url: str | None = None
    api: Literal["auto", "chat", "responses"] = "auto"  # openai: responses for gpt-5 / o-series when auto
    output_mode: Literal["json_schema", "json_object", "prompt"] = "json_schema"
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=1500, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    fallback_model: str | None = None
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    pricing: dict[str, ModelPrice] = Field(default_factory=dict)  # overrides of the shipped table
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    _missing_env: dict[str, str] = PrivateAttr(default_factory=dict)
    _defaulted_env: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @property
    def needs_key(self) -> bool:
        """openai and anthropic always; openai-compatible when the config names a `${VAR}` that is unset."""
        return self.provider in ("openai", "anthropic") or (
            self.provider == "openai-compatible" and "api_key" in self._missing_env
        )

    def check_provider_settings(self) -> None:
        """The settings the chosen provider cannot run without (besides its key)."""
        if self.provider == "openai-compatible" and not self.base_url:
            raise ConfigError(
                "llm.base_url is required for provider \"openai-compatible\": e.g. "
                "base_url = \"http://127.0.0.1:11434/v1\" (Ollama) or \"https://api.deepseek.com\" (DeepSeek)"
            )
        if self.provider == "replay" and self.replay.wrapped_provider not in REAL_PROVIDERS:
            raise ConfigError(
                "llm.replay.wrapped_provider must name the provider the replies were recorded from "
                f"({', '.join(REAL_PROVIDERS)}), got {self.replay.wrapped_provider!r}"
            )

    def require_api_key(self) -> SecretStr:
        example = "sk-ant-..." if self.provider == "anthropic" else "sk-..."
        named = self._missing_env.get("api_key") or self._defaulted_env.get("api_key")
        if self.provider == "anthropic" and self.api_key is None and named in (None, "OPENAI_API_KEY"):
            raise ConfigError(
                'llm.api_key is not set. Put api_key = "${ANTHROPIC_API_KEY}" in the [llm] section of '
                f"config.toml and export ANTHROPIC_API_KEY={example}"
            )
        return _require(self, "api_key", "llm.api_key", example)


class AgentConfig(_Section):
    model_config = _STRICT
    mode: Literal["standard", "governed"] = "governed"
    coins: list[str] = Field(default_factory=lambda: ["BTC", "ETH", "SOL"], min_length=1)
    tick_interval_s: int = Field(default=3600, ge=1)
    cycles: int | None = Field(default=48, ge=1)  # bounded paper session; None runs until stopped
    prompt_template: str = "prompts/default.txt"
    governance_template: str = "prompts/governance.txt"
    strategies_dir: str = "strategies"
    strategy_render: Literal["full", "summary"] = "summary"
    state_dir: str = ".hl-agent"  # relative to the working directory
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    audit_max_bytes: int = Field(default=50_000_000, ge=10_000)

    @field_validator("coins")
    @classmethod
    def _upper_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"coins must be unique, got {v}")
        return v


class RiskConfig(_Section):
    model_config = _STRICT
    max_order_usd: Decimal = Field(default=Decimal(5000), gt=0)
    max_position_usd: Decimal = Field(default=Decimal(10000), gt=0)
    max_gross_exposure: Decimal = Field(default=Decimal("2.0"), gt=0)  # gross notional / equity
    max_leverage: int = Field(default=5, ge=1)
    daily_loss_cap_pct: Decimal = Field(default=Decimal(5), gt=0)  # of day-start equity
    max_daily_notional_usd: Decimal = Field(default=Decimal(100000), gt=0)
    max_trades_per_hour: int = Field(default=20, ge=1)
    open_cooldown_s: int = Field(default=0, ge=0)
    allowed_coins: list[str] | None = None  # None: agent.coins
    allowed_market_types: list[MarketType] = Field(default_factory=lambda: [MarketType.PERP, MarketType.SPOT])
    circuit_breaker_failures: int = Field(default=5, ge=1)
    stop_loss_pct: Decimal | None = Field(default=Decimal(15), ge=0)  # per position, from entry; 0 = off
    stop_loss_reentry_minutes: int = Field(default=0, ge=0)  # no new risk in a stopped-out coin for this long
    price_band_pct: Decimal = Field(default=Decimal(5), gt=0)  # limit price vs mark
    approval_above_usd: Decimal | None = Field(default=None, gt=0)
    max_size_streak: int = Field(default=3, ge=1)  # flag when the LLM asks for max size this many times running


class PortfolioConfig(_Section):
    model_config = _STRICT
    min_drift_pct: Decimal = Field(default=Decimal(2), ge=0)  # of portfolio value
    min_notional_usd: Decimal = Field(default=Decimal(10), ge=0)
    market_slippage_bps: Decimal = Field(default=Decimal(50), ge=0)  # IOC bound for market orders
    default_leverage: int = Field(default=3, ge=1)
    cash_buffer_pct: Decimal = Field(default=Decimal(5), ge=0, lt=100)
    dead_man_switch_s: int | None = Field(default=None, ge=5)


class GovernorConfig(_Section):
    model_config = _STRICT
    change_threshold_bps: Decimal = Decimal(10)  # edge - cost must clear this
    cooldown_minutes: int = Field(default=120, ge=0)
    rotation_steps: int = Field(default=2, ge=1)  # a new plan rotates in over this many review cycles
    fast_loop_s: int = Field(default=3600, ge=1)
    medium_loop_s: int = Field(default=14400, ge=1)
    slow_loop_s: int = Field(default=86400, ge=1)
    default_dwell_minutes: int = Field(default=1440, ge=0)
    # the change cost the governor computes itself (never taken from the LLM)
    taker_fee_bps: Decimal = Field(default=Decimal("4.5"), ge=0)
    slippage_bps: Decimal = Field(default=Decimal(5), ge=0)
    funding_horizon_hours: int = Field(default=24, ge=0)  # hours of extra funding charged to a change
    micro_adjust_max_pct: Decimal = Field(default=Decimal(5), ge=0)  # max shift of a target per micro-adjustment


class RegimeConfig(_Section):
    model_config = _STRICT
    hysteresis_n: int = Field(default=2, ge=1)
    hysteresis_m: int = Field(default=3, ge=1)
    use_llm: bool = False
    llm_model: str | None = None
    calendar: str | None = None  # event calendar TOML, relative to the config file
    event_lock_before_minutes: int = Field(default=120, ge=0)
    event_lock_after_minutes: int = Field(default=120, ge=0)
    trend_adx_min: float = 25.0
    trend_return_7d_min: float = 0.03
    high_vol_annualized_min: float = 0.9
    carry_funding_24h_min: float = 0.00002
    reference_coin: str = "BTC"

    @model_validator(mode="after")
    def _n_of_m(self) -> "RegimeConfig":
        if self.hysteresis_n > self.hysteresis_m:
            raise ValueError(
                f"hysteresis_n ({self.hysteresis_n}) cannot exceed hysteresis_m ({self.hysteresis_m}): "
                "a change needs N agreeing readings out of the last M"
            )
        return self


class TripwireConfig(_Section):
    model_config = _STRICT
    daily_loss_pct: Decimal = Field(default=Decimal(4), gt=0)
    max_drawdown_pct: Decimal = Field(default=Decimal(15), gt=0)
    min_liquidation_distance_pct: Decimal = Field(default=Decimal(10), gt=0)
    max_margin_ratio: Decimal = Field(default=Decimal("0.8"), gt=0, le=1)
    stale_data_s: int = Field(default=7200, ge=1)
    max_api_failures: int = Field(default=5, ge=1)
    cut_floor_pct: Decimal = Field(default=Decimal(50), ge=0, le=100)
    # a max_drawdown freeze that lasts this many hours re-arms: the drawdown counts from the equity
    # then (None: it lasts until the drawdown recovers, or `hl-agent gov rearm`)
    drawdown_rearm_hours: int | None = Field(default=None, ge=1)


class GovernanceConfig(_Section):
    model_config = _STRICT
    governor: GovernorConfig = Field(default_factory=GovernorConfig)
    regime: RegimeConfig = Field(default_factory=RegimeConfig)
    tripwires: TripwireConfig = Field(default_factory=TripwireConfig)


class BacktestConfig(_Section):
    model_config = _STRICT
    fill_latency_bars: int = Field(default=1, ge=0)  # orders decided at t fill this many hourly bars later
    knowledge_cutoffs: dict[str, str] = Field(default_factory=dict)  # model prefix -> YYYY-MM-DD
    output_dir: str = "runs/backtests"  # run folders go here without --output (relative to the working dir)
    vs_baseline: bool = True  # also replay the baseline provider on the same window for comparison
    sweep_workers: int | None = Field(default=None, ge=1)  # processes for `backtest sweep`; None: CPU count

    @field_validator("knowledge_cutoffs")
    @classmethod
    def _iso_dates(cls, v: dict[str, str]) -> dict[str, str]:
        from datetime import date

        for model, value in v.items():
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                raise ValueError(f"knowledge_cutoffs.{model} = {value!r} is not a date; write it as YYYY-MM-DD") from None
        return v


class Config(_Section):
    model_config = _STRICT
    hyperliquid: HyperliquidConfig = Field(default_factory=HyperliquidConfig)
    venue: VenueConfig = Field(default_factory=VenueConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)

    # Set by the loader, not by the file.
    source_path: Path | None = Field(default=None, exclude=True)
    missing_env: dict[str, str] = Field(default_factory=dict, exclude=True)  # dotted key -> variable

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(value).expanduser()
        if p.is_absolute() or self.source_path is None:
            return p
        return self.source_path.parent / p

    @property
    def state_dir(self) -> Path:
        return Path(self.agent.state_dir).expanduser()

    def check_required(self) -> None:
        """Raise for every `${VAR}` that a chosen setting needs but the environment lacks, and for a
        provider setting it cannot run without (`llm.base_url`, `llm.replay.wrapped_provider`)."""
        self.llm.check_provider_settings()
        if self.llm.needs_key:
            self.llm.require_api_key()
        if self.hyperliquid.network != "local":
            self.hyperliquid.require_secret_key()


def _require(model: BaseModel, field: str, dotted: str, example: str) -> SecretStr:
    value = getattr(model, field)
    if value is not None and value.get_secret_value():
        return value
    missing: dict[str, str] = getattr(model, "_missing_env", {}) or {}
    defaulted: dict[str, str] = getattr(model, "_defaulted_env", {}) or {}
    variable = missing.get(field) or defaulted.get(field)  # `${VAR}` unset, or `${VAR:-}` fell back to empty
    if variable:
        raise MissingEnvError(variable, dotted, example)
    raise ConfigError(
        f"{dotted} is not set. Put e.g. {field} = \"${{{_default_var(dotted)}}}\" in config.toml "
        f"and export {_default_var(dotted)}={example}"
    )


def _default_var(dotted: str) -> str:
    return {"llm.api_key": "OPENAI_API_KEY", "hyperliquid.secret_key": "HL_SECRET_KEY"}.get(dotted, "SECRET")


# ---------------------------------------------------------------- ${VAR} expansion

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Missing:
    def __init__(self, variable: str) -> None:
        self.variable = variable


def expand_env(
    raw: Any,
    env: dict[str, str],
    path: str = "",
    missing: dict[str, str] | None = None,
    defaulted: dict[str, str] | None = None,
) -> Any:
    """Expand `${VAR}` and `${VAR:-default}` in every string of a parsed TOML tree.

    A variable set to the empty string counts as unset. A string that references an unset
    variable without a default becomes None and its dotted key is recorded in `missing`
    (key -> variable name); one where an unset variable fell back to its default is recorded
    in `defaulted`, so a setting that needs a value can still name the variable.
    """
    if missing is None:
        missing = {}
    if defaulted is None:
        defaulted = {}
    if isinstance(raw, dict):
        return {k: expand_env(v, env, f"{path}.{k}" if path else k, missing, defaulted) for k, v in raw.items()}
    if isinstance(raw, list):
        return [expand_env(v, env, f"{path}[{i}]", missing, defaulted) for i, v in enumerate(raw)]
    if not isinstance(raw, str):
        return raw
    unset: list[str] = []
    fell_back: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            fell_back.append(name)
            return default
        unset.append(name)
        return ""

    out = _VAR.sub(sub, raw)
    if unset:
        missing[path] = unset[0]
        return None
    if fell_back:
        defaulted[path] = fell_back[0]
    return out


# ---------------------------------------------------------------- loading

DEFAULT_CONFIG_NAME = "config.toml"


def defaults_dir() -> Path:
    """Where the embedded default config, prompts and strategies live.

    Installed from a wheel they are in `hyperliquid_agent/defaults/`; in a source
    checkout (editable install) they are at the repository root.
    """
    packaged = Path(__file__).resolve().parent / "defaults"
    if (packaged / DEFAULT_CONFIG_NAME).is_file():
        return packaged
    return Path(__file__).resolve().parents[2]


def default_config_path() -> Path:
    """`./config.toml` when present, else the embedded default."""
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    if local.is_file():
        return local
    return defaults_dir() / DEFAULT_CONFIG_NAME


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read, expand and validate a config file. Raises ConfigError naming file, key and fix."""
    cfg_path = Path(path) if path is not None else default_config_path()
    if not cfg_path.is_file():
        raise ConfigError(f"config file not found: {cfg_path}. Create one with: hl-agent init DIR")
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read: {exc}") from None
    return config_from_dict(raw, env=env, source=cfg_path)


def config_from_dict(raw: dict[str, Any], env: dict[str, str] | None = None, source: Path | None = None) -> Config:
    environ = dict(os.environ) if env is None else env
    missing: dict[str, str] = {}
    defaulted: dict[str, str] = {}
    expanded = expand_env(raw, environ, missing=missing, defaulted=defaulted)
    where = str(source) if source else "config"
    try:
        cfg = Config.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, missing)) from None
    cfg.source_path = source.resolve() if source else None
    cfg.missing_env = missing
    # hand each section the variables it lacks, so require_* can name them
    for found, attr in ((missing, "_missing_env"), (defaulted, "_defaulted_env")):
        for dotted, variable in found.items():
            section, _, key = dotted.rpartition(".")
            obj: Any = cfg
            for part in section.split(".") if section else []:
                obj = getattr(obj, part, None)
                if obj is None:
                    break
            if isinstance(obj, (HyperliquidConfig, LLMConfig)):
                getattr(obj, attr)[key] = variable
    return cfg


def format_validation_error(exc: ValidationError, where: str, missing: dict[str, str] | None = None) -> str:
    """One line per problem; `missing` (dotted key -> variable) names unset `${VAR}`s."""
    lines = [f"{where}: invalid configuration:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{key}' in {where}: remove it or check its spelling")
            continue
        variable = (missing or {}).get(key)
        if variable and err.get("input") is None:
            lines.append(
                f"  - {key} needs the environment variable {variable}, which is not set. "
                f"Set it with: export {variable}=..., or write ${{{variable}:-default}} in {where}"
            )
            continue
        value = err.get("input")
        shown = "<secret>" if any(s in key for s in ("key", "secret")) else repr(value)
        allowed = ""
        ctx = err.get("ctx") or {}
        if "expected" in ctx and str(ctx["expected"]) not in err["msg"]:
            allowed = f"; allowed: {ctx['expected']}"
        lines.append(f"  - {key} = {shown}: {err['msg']}{allowed}")
    return "\n".join(lines)


def masked_dump(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain data with every secret masked (for `config check`): SecretStr
    values as stars, the credentials in a URL (`base_url`, `venue.url`) as [REDACTED]."""
    from hyperliquid_agent.audit import redact_text, secret_values

    data = cfg.model_dump(mode="json")
    secrets = secret_values(cfg)

    def mask(node: Any, model: Any) -> Any:
        if isinstance(model, BaseModel):
            out = {}
            for k, v in node.items():
                sub = getattr(model, k, None)
                if isinstance(sub, SecretStr):
                    out[k] = "********" if sub.get_secret_value() else ""
                else:
                    out[k] = mask(v, sub)
            return out
        if isinstance(model, dict) and isinstance(node, dict):
            return {k: mask(v, model.get(k)) for k, v in node.items()}
        return redact_text(node, secrets) if isinstance(node, str) else node

    return mask(data, cfg)
