"""The pure core stays pure: no SDK, I/O library, CLI or clock in core modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hyperliquid_agent"
CORE = ["domain", "signals.py", "governance", "risk.py", "portfolio.py", "strategies.py", "prompts.py",
        "decision.py", "schemas.py"]
# Core modules allowed to do I/O.
IO_EDGES: set[str] = set()  # none: state and files are read outside the core (e.g. governance_store.py)
FORBIDDEN_TOP = {"hyperliquid", "openai", "anthropic", "typer", "rich", "requests", "httpx", "sqlite3",
                 "socket", "urllib", "http", "subprocess"}
FORBIDDEN_OURS = ("hyperliquid_agent.exchange", "hyperliquid_agent.llm", "hyperliquid_agent.cli",
                  "hyperliquid_agent.app", "hyperliquid_agent.store", "hyperliquid_agent.audit",
                  "hyperliquid_agent.llm_client")
CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(|time\.monotonic\(|date\.today\(")


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        p = SRC / entry
        if p.is_dir():
            files.extend(sorted(p.rglob("*.py")))
        elif p.is_file():
            files.append(p)
    return [f for f in files if f.relative_to(SRC).as_posix() not in IO_EDGES]


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_core_module_imports_no_adapter_sdk_or_cli(path: Path):
    bad = [m for m in imported_modules(path)
           if m.split(".")[0] in FORBIDDEN_TOP or m.startswith(FORBIDDEN_OURS)]
    assert not bad, f"{path.relative_to(SRC)} imports {bad}; core must stay pure (put I/O behind a port)"


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_core_module_reads_no_clock(path: Path):
    hits = [line for line in path.read_text(encoding="utf-8").splitlines() if CLOCK.search(line)]
    assert not hits, f"{path.relative_to(SRC)} reads the clock: {hits}; pass now_ms in"


def test_only_the_risk_policy_issues_approved_orders():
    users = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
             if "_ISSUER_KEY" in p.read_text(encoding="utf-8")]
    assert sorted(users) in (["domain/verdicts.py"], ["domain/verdicts.py", "risk.py"]), users
