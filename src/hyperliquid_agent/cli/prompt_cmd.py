"""`hl-agent prompt render`: the exact prompt the engine would send, without calling the LLM."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from hyperliquid_agent.cli.common import CONFIG_OPTION, JSON_OPTION, fail, load, print_json

prompt_app = typer.Typer(help="Render prompt templates over a fixed sample snapshot (no LLM call).", no_args_is_help=True)


@prompt_app.command("render")
def render(
    mode: Optional[str] = typer.Option(None, "--mode", help="standard | governed (default: [agent] mode)."),
    strategy_render: Optional[str] = typer.Option(None, "--strategies", help="full | summary (default: [agent] strategy_render)."),
    config: Path = CONFIG_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the prompt, then its size in characters and estimated tokens (chars / 4) on stderr."""
    from hyperliquid_agent.decision import sample_prompt_parts
    from hyperliquid_agent.errors import HLAgentError
    from hyperliquid_agent.prompts import PromptTemplate, estimate_tokens

    cfg = load(config)
    mode = mode or cfg.agent.mode
    if mode not in ("standard", "governed"):
        fail(f"--mode must be 'standard' or 'governed', got {mode!r}")
    render_mode = strategy_render or cfg.agent.strategy_render
    if render_mode not in ("full", "summary"):
        fail(f"--strategies must be 'full' or 'summary', got {render_mode!r}")
    key = "governance_template" if mode == "governed" else "prompt_template"
    path = cfg.resolve_path(getattr(cfg.agent, key))
    try:
        template = PromptTemplate(path, cfg.resolve_path(cfg.agent.strategies_dir), render_mode=render_mode)  # type: ignore[arg-type]
        prefix, suffix = sample_prompt_parts(template, mode, cfg.agent.coins, max_leverage=cfg.risk.max_leverage)
    except HLAgentError as exc:
        fail(str(exc))
    prompt = prefix + suffix
    if as_json:
        print_json({
            "mode": mode, "template": str(path), "template_version": template.version, "strategy_render": render_mode,
            "chars": len(prompt), "estimated_tokens": estimate_tokens(prompt), "token_estimate": "chars / 4",
            "stable_prefix_chars": len(prefix), "prompt": prompt,
        })
        return
    sys.stdout.write(prompt if prompt.endswith("\n") else prompt + "\n")
    sys.stderr.write(
        f"--- {mode} prompt from {path}: {len(prompt)} chars, ~{estimate_tokens(prompt)} tokens (estimated as chars/4); "
        f"stable prefix {len(prefix)} chars, template version {template.version}\n"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(prompt_app, name="prompt")
