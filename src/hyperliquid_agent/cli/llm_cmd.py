"""`hl-agent llm check`: one tiny call that proves the configured model answers."""

from __future__ import annotations

from pathlib import Path

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, console, fail, load, print_json

llm_app = typer.Typer(help="Check the configured LLM provider.", no_args_is_help=True)


@llm_app.command("check")
def check(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Make one tiny structured call and report latency, tokens and cost.

    Exit codes: 0 ok, 2 configuration (e.g. a missing key), 3 the key was rejected,
    4 the provider is unreachable or gave no valid answer.
    """
    from hyperliquid_agent.errors import ConfigError, LLMAuthError, LLMError
    from hyperliquid_agent.llm.check import OFFLINE, ping
    from hyperliquid_agent.llm_client import LLMClient
    from hyperliquid_agent.store import StateStore

    cfg = load(config)
    llm = cfg.llm
    if llm.provider == "replay":
        _check_replay(cfg, as_json)
        return
    try:
        resp = ping(LLMClient(llm, store=StateStore.in_dir(cfg.state_dir)))
    except ConfigError as exc:
        fail(str(exc), code=2)
    except LLMAuthError as exc:
        fail(str(exc), code=3)
    except LLMError as exc:
        fail(f"{llm.provider}/{llm.model}: {exc}", code=4)
    result = {
        "ok": True, "provider": resp.provider, "model": resp.model, "latency_ms": round(resp.latency_ms, 1),
        "input_tokens": resp.input_tokens, "output_tokens": resp.output_tokens,
        "cost_usd": format(resp.cost_usd, "f") if resp.cost_usd is not None else None,
        "request_id": resp.request_id, "offline": llm.provider in OFFLINE,
    }
    if as_json:
        print_json(result)
        return
    cost = f"${resp.cost_usd:.6f}" if resp.cost_usd is not None else "unknown (no price for this model)"
    console().print(
        f"[green]LLM OK[/] {resp.provider}/{resp.model}: {result['latency_ms']} ms, "
        f"{resp.input_tokens} in / {resp.output_tokens} out tokens, cost {cost}"
        + (" (offline provider, no network used)" if result["offline"] else "")
    )


def _check_replay(cfg, as_json: bool) -> None:
    """Replay answers only recorded inputs, so check the store instead of asking a ping."""
    from hyperliquid_agent.errors import ConfigError, StateError
    from hyperliquid_agent.llm.factory import REAL_PROVIDERS, replay_path
    from hyperliquid_agent.llm.replay import ReplayStore

    replay = cfg.llm.replay
    if replay.wrapped_provider not in REAL_PROVIDERS:
        fail("llm.replay.wrapped_provider must name the provider the replies were recorded from "
             f"({', '.join(REAL_PROVIDERS)})", code=2)
    try:
        path = replay_path(cfg.llm, cfg.state_dir)
        if not path.is_file():
            fail(f"no replay store at {path}: record one first with llm.replay.record = true on provider "
                 f"{replay.wrapped_provider}", code=2)
        count = ReplayStore(path).count()
    except (ConfigError, StateError) as exc:
        fail(str(exc), code=2)
    result = {"ok": count > 0, "provider": "replay", "source": replay.wrapped_provider, "mode": replay.mode,
              "store": str(path), "recorded_replies": count, "offline": replay.mode == "strict"}
    if as_json:
        print_json(result)
    else:
        console().print(f"[green]replay store OK[/] {path}: {count} recorded {replay.wrapped_provider} replies, "
                        f"mode {replay.mode}")
    if count == 0:
        raise typer.Exit(4)


def register(app: typer.Typer) -> None:
    app.add_typer(llm_app, name="llm")
