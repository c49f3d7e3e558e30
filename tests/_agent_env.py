"""Shared set-up for the agent tests: a config over the repository's prompts and strategies,
the embedded emulator on a stepped clock, and a pipeline wired as `hl-agent run` wires it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperliquid_agent.config import Config, config_from_dict

REPO = Path(__file__).resolve().parents[1]
HOUR_MS = 3_600_000


def agent_config(state_dir: Path, mode: str = "standard", **sections: dict[str, Any]) -> Config:
    raw: dict[str, Any] = {
        "agent": {"mode": mode, "coins": ["BTC", "ETH", "SOL"], "state_dir": str(state_dir), "cycles": 6,
                  "prompt_template": str(REPO / "prompts" / "default.txt"),
                  "governance_template": str(REPO / "prompts" / "governance.txt"),
                  "strategies_dir": str(REPO / "strategies")},
        "venue": {"synthetic_days": 60},
        "governance": {"governor": {"medium_loop_s": 7200, "cooldown_minutes": 0, "change_threshold_bps": 1}},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw, env={})


def config_file(tmp_path: Path, text: str = "", **agent: Any) -> Path:
    """A config.toml using the repository's prompts and strategies; `agent` adds [agent] keys."""
    keys = {"state_dir": str(tmp_path / "state"), "prompt_template": str(REPO / "prompts" / "default.txt"),
            "governance_template": str(REPO / "prompts" / "governance.txt"),
            "strategies_dir": str(REPO / "strategies"), **agent}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in keys.items())
    p = tmp_path / "config.toml"
    p.write_text(f"{text}\n[agent]\n{lines}\n")
    return p


def target_reply(*targets: tuple[str, float], strategy: str | None = None) -> str:
    return json.dumps({
        "reasoning": "test", "selected_strategy": strategy, "actions": [],
        "target_allocation": [{"coin": c, "target_pct": pct, "market_type": "perp", "leverage": 2}
                              for c, pct in targets],
    })


def actions_reply(*actions: dict[str, Any]) -> str:
    full = [{"coin": None, "market_type": "perp", "size": None, "price": None, "amount_usd": None, "to_perp": None,
             "reasoning": "test", **a} for a in actions]
    return json.dumps({"reasoning": "test", "selected_strategy": None, "actions": full, "target_allocation": None})


def plan_reply(strategy_id: str, *targets: tuple[str, float], edge_bps: float = 80.0) -> str:
    return json.dumps({
        "maintain_plan": False, "reasoning": "test", "micro_adjustments": [],
        "proposed_plan": {"strategy_id": strategy_id, "objective": "test plan",
                          "target_allocation": [{"coin": c, "target_pct": p, "market_type": "perp", "leverage": 2}
                                                for c, p in targets],
                          "expected_edge_bps": edge_bps, "take_profit_pct": None, "stop_loss_pct": None},
    })


MAINTAIN = json.dumps({"maintain_plan": True, "reasoning": "hold", "micro_adjustments": [], "proposed_plan": None})


@dataclass
class PaperRig:
    cfg: Config
    venue: Any
    exchange: Any
    store: Any
    pipeline: Any
    closers: list

    def step(self, ms: int = HOUR_MS) -> int:
        return self.venue.advance_to(self.venue.now_ms() + ms)

    def close(self) -> None:
        for c in reversed(self.closers):
            c()


def paper_rig(cfg: Config, client: Any = None) -> PaperRig:
    from hyperliquid_agent.app.paper import start_paper_venue
    from hyperliquid_agent.app.wiring import build_pipeline
    from hyperliquid_agent.exchange.factory import build_exchange
    from hyperliquid_agent.store import StateStore

    venue = start_paper_venue(cfg, None, HOUR_MS, 24)
    run_cfg = cfg.model_copy(deep=True)
    run_cfg.venue.url = venue.url
    exchange, close = build_exchange(run_cfg)
    store = StateStore.in_dir(cfg.state_dir)
    pipeline = build_pipeline(cfg, exchange, store, client=client)
    return PaperRig(cfg, venue, exchange, store, pipeline, [venue.stop, close, store.close])
