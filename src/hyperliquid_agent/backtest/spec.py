"""What a backtest run is asked to do (`BacktestSpec`) and the config it runs with.

`effective_config` turns the user's config plus a spec into the config of one run: mode,
coins, provider (paid models always through record/replay), overrides, a strategy subset,
and the run's own state folder. `run_settings` is the same without the run's folders (what
a run will do, known before it starts), and `decision_interval` picks the decision bar the
way the live loop picks its tick. `make_run_id` names a run from the same inputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from hyperliquid_agent.config import REAL_PROVIDERS, Config, config_from_dict
from hyperliquid_agent.errors import ConfigError

INTERVAL_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
PAID_PROVIDERS = REAL_PROVIDERS


# ---------------------------------------------------------------- the run request


@dataclass(frozen=True)
class BacktestSpec:
    coins: tuple[str, ...]
    start: date | None = None  # inclusive; None: the first bar with data for every coin
    end: date | None = None  # exclusive; None: after the last bar
    interval: str | None = None  # decision bar; None: the live loop's tick (see `decision_interval`)
    mode: str = "governed"
    provider: str = "baseline"  # baseline | replay | a configured provider name
    data_dir: Path | None = None  # None: the synthetic generator
    seed: int | None = None  # synthetic data seed (default: [venue] seed)
    max_cost_usd: Decimal | None = None
    fill_latency_bars: int | None = None  # None: [backtest] fill_latency_bars
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted config key -> value
    vs_baseline: bool | None = None  # None: [backtest] vs_baseline (only when the provider is not baseline)
    strategies: tuple[str, ...] = ()  # offer only these strategy ids (empty: the whole library)
    run_id: str | None = None

    def validated(self) -> "BacktestSpec":
        if self.interval is not None and self.interval not in INTERVAL_MS:
            raise ConfigError(f"--interval {self.interval!r} is not supported; use one of {', '.join(INTERVAL_MS)}")
        if self.mode not in ("standard", "governed"):
            raise ConfigError(f"--mode {self.mode!r} is not valid; use standard or governed")
        if self.provider not in ("baseline", "replay", "scripted", *PAID_PROVIDERS):
            raise ConfigError(f"--provider {self.provider!r} is not known; use baseline, replay or one of "
                              f"{', '.join(PAID_PROVIDERS)}")
        if not self.coins:
            raise ConfigError("--coins is empty; pass e.g. --coins BTC,ETH,SOL")
        twice = sorted({c for c in self.coins if self.coins.count(c) > 1})
        if twice:
            raise ConfigError(f"--coins {','.join(self.coins)} names {', '.join(twice)} more than once; list each coin once")
        if self.start and self.end and self.end <= self.start:
            raise ConfigError(f"--end {self.end} must be after --start {self.start}")
        if self.fill_latency_bars is not None and self.fill_latency_bars < 0:
            raise ConfigError(f"--latency-bars {self.fill_latency_bars} must be zero or more (hourly bars)")
        if self.max_cost_usd is not None and (not self.max_cost_usd.is_finite() or self.max_cost_usd < 0):
            raise ConfigError(f"--max-cost {self.max_cost_usd} must be a number of USD, zero or more (e.g. --max-cost 5)")
        for key, why in SET_BY_OPTIONS.items():
            if key in self.overrides:
                raise ConfigError(f"--set {key}: {why}")
        return self


# config keys a run sets itself (a `--set` of them would be named in results.json and not used): why
SET_BY_OPTIONS = {
    "agent.mode": "the mode is --mode; use that instead",
    "agent.coins": "the coins are --coins; use that instead",
    "llm.provider": "the provider is --provider; use that instead",
    "agent.state_dir": "a run keeps its state in a temporary folder of its own (the LLM replay store stays in "
                       "the config's state_dir); drop it",
    "hyperliquid.network": "a backtest trades on its in-process venue, never on a network; drop it",
}


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; write it as YYYY-MM-DD") from None


def day_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000)


def ms_day(t_ms: int) -> date:
    return datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc).date()


# ---------------------------------------------------------------- effective config


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"cannot set {dotted}: {part} is not a section")
        node = nxt
    node[parts[-1]] = value


def _settings_raw(cfg: Config, spec: BacktestSpec) -> dict[str, Any]:
    """The user's config as plain data with the spec's mode, coins and overrides applied,
    on the in-process venue, without secrets."""
    raw = cfg.model_dump(mode="json", exclude={"source_path", "missing_env"})
    _drop_secrets(raw)
    for dotted, value in spec.overrides.items():
        set_dotted(raw, dotted, value)
    raw["agent"]["mode"] = spec.mode
    raw["hyperliquid"]["network"] = "local"  # the in-process venue; never a real network
    raw["agent"]["coins"] = list(spec.coins)
    return raw


def _validated(raw: dict[str, Any], cfg: Config, overrides: dict[str, Any]) -> Config:
    try:
        return config_from_dict(raw, env={}, source=cfg.source_path)
    except ConfigError as exc:
        if overrides:  # the file itself was valid when loaded: the --set values broke it
            sets = " ".join(f"{k}={v}" for k, v in shown_overrides(overrides).items())
            text = str(exc)  # (it names the file, as though the key or value were written there)
            if cfg.source_path is not None:
                text = text.replace(str(cfg.source_path), f"{cfg.source_path} with --set")
            raise ConfigError(f"--set {sets}: makes the config invalid: {text}\n"
                              f"fix the key or value given to --set") from None
        raise ConfigError(f"the backtest's config is invalid: {exc}") from None


def run_settings(cfg: Config, spec: BacktestSpec) -> Config:
    """The config a run decides with (mode, coins, `--set` overrides), before its folders exist:
    for the decision bar, the cost estimate and the prompt size. No secrets are carried."""
    return _validated(_settings_raw(cfg, spec), cfg, spec.overrides)


def decision_interval(settings: Config, asked: str | None) -> tuple[str, str | None]:
    """The decision bar of a run and, when it differs from the live loop's tick, a note saying so.

    The live loop ticks every `[governance.governor] fast_loop_s` in governed mode and every
    `[agent] tick_interval_s` in standard mode (`app.agent.schedule_for`); without `--interval`
    the backtest decides on that tick. The data is hourly, so a tick that is not 1h, 4h or 1d
    becomes the longest of those not above it (at least 1h), and the note says so.
    """
    from hyperliquid_agent.app.agent import schedule_for

    tick_s = schedule_for(settings).tick_s
    key = ("governance.governor.fast_loop_s" if settings.agent.mode == "governed" else "agent.tick_interval_s")
    live = f"the live {settings.agent.mode} loop ticks every {tick_s} s ({key})"
    if asked is not None:
        if INTERVAL_MS[asked] == tick_s * 1000:
            return asked, None
        return asked, f"{live}; this backtest decides every {asked} (--interval)"
    fitting = [name for name, ms in INTERVAL_MS.items() if ms <= tick_s * 1000] or ["1h"]
    chosen = max(fitting, key=INTERVAL_MS.__getitem__)
    if INTERVAL_MS[chosen] == tick_s * 1000:
        return chosen, None
    return chosen, f"{live}, which is not a bar of the hourly data: this backtest decides every {chosen}; pass --interval to choose"


def effective_config(cfg: Config, spec: BacktestSpec, state_dir: Path, provider: str | None = None) -> Config:
    """The config one backtest runs with: mode, coins, provider and overrides applied, state in `state_dir`.

    Paid providers always run through record/replay, recorded in the user's state dir, so a
    rerun of the same window replays every reply for $0 and bit for bit.
    """
    raw = _settings_raw(cfg, spec)
    # recordings live in the user's state dir (not the run's), so reruns find them
    replay_path = (cfg.state_dir / Path(cfg.llm.replay.path).expanduser()).resolve()
    raw["agent"]["state_dir"] = str(state_dir)
    for key in ("prompt_template", "governance_template", "strategies_dir"):
        raw["agent"][key] = str(cfg.resolve_path(raw["agent"][key]))
    if spec.strategies:
        raw["agent"]["strategies_dir"] = str(strategy_subset(Path(raw["agent"]["strategies_dir"]), spec.strategies,
                                                             state_dir / "strategies"))
    llm = raw["llm"]
    chosen = provider or spec.provider
    configured = cfg.llm.provider
    if chosen == "baseline":
        if configured != "baseline":
            llm["model"] = "baseline-v1"
        llm["provider"] = "baseline"
    elif chosen == "replay":
        source = configured if configured in PAID_PROVIDERS else cfg.llm.replay.wrapped_provider
        if source not in PAID_PROVIDERS:
            raise ConfigError(
                "--provider replay serves replies recorded from a paid provider: set llm.provider (or "
                "llm.replay.wrapped_provider) and llm.model to the ones that recorded them")
        llm["provider"] = "replay"
        llm["replay"].update(path=str(replay_path), mode="strict", wrapped_provider=source)
    elif chosen in PAID_PROVIDERS:
        llm["provider"] = "replay"
        llm["replay"].update(path=str(replay_path), mode="fallthrough", wrapped_provider=chosen)
    elif chosen != "scripted":
        raise ConfigError(f"--provider {chosen!r} is not known; use baseline, replay or one of {', '.join(PAID_PROVIDERS)}")
    else:
        llm["provider"] = "scripted"
    if spec.max_cost_usd is not None:  # the client's own run budget backs up the runner's cap
        run_usd = cfg.llm.budget.run_usd
        llm["budget"]["run_usd"] = str(min(spec.max_cost_usd, run_usd) if run_usd is not None else spec.max_cost_usd)
    out = _validated(raw, cfg, spec.overrides)
    _copy_secrets(cfg, out)
    return out


def strategy_subset(library: Path, ids: Sequence[str], dest: Path) -> Path:
    """A folder holding only the strategy files with these ids (copied from `library`)."""
    import shutil

    from hyperliquid_agent.strategies import load_strategies

    specs = {s.id: s for s in load_strategies(library)}
    unknown = [i for i in ids if i not in specs]
    if unknown:
        raise ConfigError(f"unknown strategy id(s) {', '.join(unknown)} in {library}; known: {', '.join(sorted(specs))}")
    dest.mkdir(parents=True, exist_ok=True)
    for i in ids:
        src = Path(specs[i].source)
        shutil.copyfile(src, dest / src.name)
    return dest


def shown_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """`--set` values as results.json, report.html and sweep.json show them: a secret-named key's value
    (llm.api_key) and a URL's credentials (llm.base_url) redacted, like the audit trail."""
    from hyperliquid_agent.audit import redact

    return redact(dict(overrides))


def _drop_secrets(raw: dict[str, Any]) -> None:
    # model_dump masks SecretStr; the real values are carried over by `_copy_secrets`, never printed
    raw["llm"]["api_key"] = None
    raw["hyperliquid"]["secret_key"] = None


def _copy_secrets(src: Config, dst: Config) -> None:
    dst.llm.api_key = src.llm.api_key
    dst.hyperliquid.secret_key = src.hyperliquid.secret_key


def make_run_id(cfg: Config, spec: BacktestSpec) -> str:
    doc = json.dumps(
        {"spec": {k: str(v) for k, v in sorted(vars(spec).items()) if k != "run_id"},
         "config": cfg.model_dump(mode="json", exclude={"source_path", "missing_env"})},
        sort_keys=True, default=str,
    )
    return f"bt-{hashlib.sha256(doc.encode()).hexdigest()[:12]}"
