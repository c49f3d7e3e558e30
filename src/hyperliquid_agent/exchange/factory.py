"""The one place that builds SDK clients (and the local venue) from config.

`build_exchange(cfg) -> (ExchangePort, closer)`:
- `network = "local"`: connect to `hyperliquid.base_url` or `venue.url` when set (an emulator
  started with `hl-agent venue serve`), else start the emulator in-process over `[venue]`
  data (synthetic by default). The signer is `hyperliquid.secret_key` when set, otherwise a
  throwaway key generated here and never printed; its account is funded with
  `venue.start_equity_usd` through the emulator's operator door.
- `testnet` / `mainnet`: the real venue; `hyperliquid.secret_key` is required. The mainnet
  URL is the SDK's constant; the adapter signs for mainnet on any URL on its host.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Callable, Sequence

from hyperliquid_agent.config import Config, VenueConfig
from hyperliquid_agent.errors import ConfigError, VenueUnavailableError
from hyperliquid_agent.exchange.emulator_actions import DESERIALIZE_ERROR
from hyperliquid_agent.exchange.feed import WARMUP_MS
from hyperliquid_agent.exchange.hyperliquid import (
    NETWORK_URLS, HyperliquidExchange, checked_address, checked_url, wallet_from_key,
)

Closer = Callable[[], None]
DEFAULT_COINS = ("BTC", "ETH", "SOL")


def build_venue_model(venue: VenueConfig, *, data_dir: Path | None = None, synthetic: bool | None = None,
                      base: Path | None = None, coins: Sequence[str] | None = None,
                      spot_tokens: dict[str, str] | None = None) -> Any:
    """The simulated venue model over CSV data (`source = "data"`) or the synthetic generator,
    started after the warm-up (`warmup_start`). `data_dir` / `synthetic` override `[venue]`;
    a relative folder is resolved against `base` (the config file's folder). `coins` defaults
    to the synthetic generator's (BTC, ETH, SOL) or every coin in the data folder.
    `spot_tokens` lists spot tokens by the coin pricing them ({"UBTC": "BTC"}; see spot.py)."""
    from hyperliquid_agent.exchange.simulated import feed_from_config, model_from_config

    use_synthetic = synthetic if synthetic is not None else (venue.source == "synthetic" and data_dir is None)
    if use_synthetic:
        chosen = venue.model_copy(update={"source": "synthetic"})
        market = feed_from_config(chosen, list(coins or DEFAULT_COINS))
    else:
        folder = data_dir or (Path(venue.data_dir) if venue.data_dir else None)
        if folder is None:
            raise ConfigError('venue.source = "data" needs venue.data_dir (a folder from `hl-agent data download`)')
        if base is not None and not folder.is_absolute():
            folder = base / folder
        market = feed_from_config(venue.model_copy(update={"source": "data"}), list(coins or []), folder)
    try:
        return model_from_config(venue, market, start_ms=warmup_start(market), spot_tokens=spot_tokens)
    except ValueError as exc:  # a spot token naming a coin the market does not have
        raise ConfigError(str(exc)) from None


def warmup_start(market: Any) -> int:
    """Where a paper session starts: `WARMUP_DAYS` (31) into the data (at most half of it), so
    the signals have history to work with from the first cycle."""
    span = market.end_ms - market.start_ms
    return market.start_ms + min(WARMUP_MS, span // 2 // 3_600_000 * 3_600_000)


_ADMIN_SESSIONS: dict[str, Any] = {}


def _admin_session(url: str) -> Any:
    """One keep-alive session per emulator (the clock is read every cycle: no new connection,
    and on loopback no proxy or .netrc lookup, each time)."""
    import requests

    from hyperliquid_agent.exchange.hyperliquid import is_loopback

    session = _ADMIN_SESSIONS.get(url)
    if session is None:
        session = _ADMIN_SESSIONS[url] = requests.Session()
        session.trust_env = not is_loopback(url)
    return session


def _admin(url: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """POST to a running emulator's operator door (`/emulator`)."""
    import requests

    try:
        resp = _admin_session(url).post(url.rstrip("/") + "/emulator", json=body, timeout=timeout_s)
    except requests.RequestException as exc:
        raise VenueUnavailableError(f"cannot reach the emulator at {url}: {type(exc).__name__}. "
                                    "Start it with `hl-agent venue serve` or unset venue.url") from None
    if resp.status_code == 422 and resp.text != DESERIALIZE_ERROR:  # (a field it names: not a body it cannot read)
        raise VenueUnavailableError(f"the emulator at {url} refused {body.get('type')}: {resp.text[:200]}")
    if resp.status_code != 200:
        raise VenueUnavailableError(f"{url} is not an hl-agent emulator (POST /emulator -> HTTP {resp.status_code})")
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("nowMs"), int):
        raise VenueUnavailableError(f"{url} is not an hl-agent emulator (POST /emulator answered "
                                    f"{' '.join(resp.text.split())[:60]!r}, not its clock). Point venue.url "
                                    "(or hyperliquid.base_url) at `hl-agent venue serve`, or unset it")
    return answer


def remote_clock(url: str, timeout_s: float = 5.0) -> Callable[[], int]:
    """The simulated clock of a running emulator, read over its operator door."""
    return lambda: int(_admin(url, {"type": "clock"}, timeout_s)["nowMs"])


def remote_data_end(url: str, timeout_s: float = 5.0) -> int | None:
    """When a running emulator's data ends (its last bar's close), or None if it does not say."""
    end = _admin(url, {"type": "clock"}, timeout_s).get("endMs")
    return int(end) if end is not None else None


def remote_advance_to(url: str, t_ms: int, timeout_s: float = 5.0) -> int:
    """Step a running emulator's manual clock forward to `t_ms` (never back); its time after."""
    now = int(_admin(url, {"type": "clock"}, timeout_s)["nowMs"])
    return int(_admin(url, {"type": "step", "ms": t_ms - now}, timeout_s)["nowMs"]) if t_ms > now else now


def _local_key(cfg: Config) -> str:
    key = cfg.hyperliquid.secret_key
    if key is not None and key.get_secret_value():
        return key.get_secret_value()
    return "0x" + secrets.token_hex(32)


def build_exchange(cfg: Config) -> tuple[HyperliquidExchange, Closer]:
    hl = cfg.hyperliquid
    if hl.network != "local":
        key = hl.require_secret_key().get_secret_value()
        url = checked_url(hl.base_url, "hyperliquid.base_url") if hl.base_url else NETWORK_URLS[hl.network]
        ex = HyperliquidExchange(url, key, account_address=hl.account_address, vault_address=hl.vault_address,
                                 timeout_s=hl.timeout_s, max_retries=hl.max_retries)
        return ex, ex.close

    key = _local_key(cfg)
    signer = wallet_from_key(key).address.lower()
    checked_address(hl.vault_address, "hyperliquid.vault_address")
    master = (checked_address(hl.account_address, "hyperliquid.account_address") or signer).lower()
    url = hl.base_url or cfg.venue.url
    if url is not None:
        checked_url(url, "hyperliquid.base_url" if hl.base_url else "venue.url")
    server = None
    if url is None:
        from hyperliquid_agent.exchange.emulator import EmulatorServer

        base = cfg.source_path.parent if cfg.source_path else None
        server = EmulatorServer(build_venue_model(cfg.venue, base=base), speedup=cfg.venue.speedup)
        url = server.start()
        clock: Callable[[], int] = server.now_ms
    else:
        clock = remote_clock(url, hl.timeout_s)
    try:
        _admin(url, {"type": "createAccount", "address": master, "usdc": str(cfg.venue.start_equity_usd)},
               hl.timeout_s)
        if master != signer:
            _admin(url, {"type": "registerAgent", "agent": signer, "master": master}, hl.timeout_s)
    except Exception:
        if server is not None:
            server.stop()
        raise
    ex = HyperliquidExchange(url, key, account_address=master, vault_address=hl.vault_address,
                             timeout_s=hl.timeout_s, max_retries=hl.max_retries, clock_ms=clock)

    def close() -> None:
        ex.close()
        if server is not None:
            server.stop()

    return ex, close
