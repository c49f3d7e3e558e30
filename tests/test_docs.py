"""The user docs cover what exists: every config key, every command, every doc linked.

Walks the pydantic Config model tree and the typer app, so a new key or command that is
not documented fails here with its name.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import typer
from pydantic import BaseModel

from hyperliquid_agent.cli import app
from hyperliquid_agent.config import Config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _model_in(annotation: typing.Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def config_leaf_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Dotted keys of every leaf setting; a dict of sub-models reads `key."<model>".field`."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        if field.exclude:  # set by the loader, not by the file
            continue
        dotted = f"{prefix}{name}"
        sub = _model_in(field.annotation)
        if sub is not None:
            keys += config_leaf_keys(sub, dotted + ".")
            continue
        if typing.get_origin(field.annotation) is dict:
            value_model = _model_in(typing.get_args(field.annotation)[1])
            if value_model is not None:
                keys += config_leaf_keys(value_model, f'{dotted}."<model>".')
                continue
        keys.append(dotted)
    return keys


def command_paths() -> list[str]:
    """`hl-agent ...` paths of every group and command registered on the app."""
    paths: list[str] = []

    def walk(cmd: typing.Any, path: list[str]) -> None:
        if path:
            paths.append(" ".join(["hl-agent", *path]))
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_walkers_see_the_whole_tree():
    keys = config_leaf_keys()
    assert {"hyperliquid.network", "governance.tripwires.cut_floor_pct", 'llm.pricing."<model>".input',
            "backtest.knowledge_cutoffs"} <= set(keys)
    assert "source_path" not in keys and "llm.budget" not in keys
    paths = command_paths()
    assert {"hl-agent init", "hl-agent config check", "hl-agent gov", "hl-agent costs estimate"} <= set(paths)


def test_every_config_key_is_in_the_configuration_reference():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [k for k in config_leaf_keys() if f"`{k}`" not in text]
    assert not missing, f"docs/configuration.md lacks these keys (add a table row each): {missing}"


def test_every_command_is_in_the_cli_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [p for p in command_paths() if not re.search(re.escape(p) + r"(?![\w-])", text)]
    assert not missing, f"docs/cli.md lacks these commands (describe each with an example): {missing}"


def _readme_doc_links() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return {m for m in re.findall(r"\]\((docs/[^)#\s]+)", readme)}


def test_readme_links_every_doc_and_every_link_exists():
    linked = _readme_doc_links()
    broken = sorted(p for p in linked if not (ROOT / p).is_file())
    assert not broken, f"README.md links to docs that do not exist: {broken}"
    on_disk = {f"docs/{p.name}" for p in DOCS.glob("*.md")}
    unlinked = sorted(on_disk - linked)
    assert not unlinked, f"README.md's docs index lacks: {unlinked}"


def test_links_between_docs_point_at_existing_files():
    broken = []
    for doc in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#\s:]+\.md)", doc.read_text(encoding="utf-8")):
            if not (doc.parent / target).is_file():
                broken.append(f"{doc.name} -> {target}")
    assert not broken, f"broken links between docs: {broken}"
