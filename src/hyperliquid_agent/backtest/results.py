"""`results.json`: the schema of one backtest run, load/save, and `compare(a, b)`.

The file holds the run's parameters, its metrics (and the baseline provider's, when
that was run alongside), the per-bar curve in columns (compact for a year of hourly
bars), every fill, every funding payment, one row per decision cycle, the plan changes
and any warnings. Money is written as decimal strings, so a reload is exact; no wall
clock goes into the file, so the same inputs give a byte-identical file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperliquid_agent.backtest.metrics import (
    EquityPoint,
    FundingEvent,
    GroupMetrics,
    Metrics,
    TradeRecord,
)
from hyperliquid_agent.decimal_text import usd_text
from hyperliquid_agent.domain.values import Money
from hyperliquid_agent.errors import ConfigError
from hyperliquid_agent.files import replacing

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"

_MODEL = ConfigDict(extra="forbid")


class RunParams(BaseModel):
    model_config = _MODEL
    start: str  # YYYY-MM-DD (inclusive)
    end: str  # YYYY-MM-DD (exclusive)
    coins: list[str]
    interval: str = "1h"
    mode: str = "governed"
    provider: str = "baseline"
    model: str = ""
    data: str = "synthetic"  # "synthetic" or the data folder
    seed: int | None = None
    fill_latency_bars: int = 1
    start_equity_usd: Money = Decimal(10000)
    max_cost_usd: Money | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)  # config values a sweep changed
    strategies: list[str] = Field(default_factory=list)  # the library was cut to these ids (empty: all)


class Curve(BaseModel):
    """Per bar, in columns: time, equity, gross notional, who was in charge, regime, positions."""

    model_config = _MODEL
    t_ms: list[int] = Field(default_factory=list)
    equity: list[Money] = Field(default_factory=list)
    gross_notional: list[Money] = Field(default_factory=list)
    plan_id: list[str | None] = Field(default_factory=list)
    strategy_id: list[str | None] = Field(default_factory=list)
    regime: list[str | None] = Field(default_factory=list)
    positions: dict[str, list[Money]] = Field(default_factory=dict)  # coin -> signed size per bar
    closes: dict[str, list[Money]] = Field(default_factory=dict)  # coin -> close per bar
    benchmark: list[Money] = Field(default_factory=list)  # buy-and-hold equity per bar
    baseline: list[Money] = Field(default_factory=list)  # the baseline provider's equity per bar (when run)

    def points(self) -> list[EquityPoint]:
        return [
            EquityPoint(t, e, g, p, s)
            for t, e, g, p, s in zip(self.t_ms, self.equity, self.gross_notional, self.plan_id, self.strategy_id)
        ]


class DecisionRow(BaseModel):
    """One decision cycle: what the engine saw and chose, and what reached the venue."""

    model_config = _MODEL
    t_ms: int
    regime: str | None = None
    plan_id: str | None = None
    strategy_id: str | None = None
    action: str = "hold"  # hold | targets | actions | maintain | propose | ...
    detail: str = ""
    orders: int = 0
    denied: int = 0
    error: str | None = None
    llm_cost_usd: Money = Decimal(0)
    inputs_digest: str | None = None  # hash of the signals and account the decision saw
    trading_state: str | None = None  # governed: ACTIVE, REDUCING or HALTED (the tripwires' verdict)


class RefusedOrder(BaseModel):
    """An order the engine sent that the venue refused on arrival (`t_ms`, the decision's time
    plus the run's latency): the trade did not happen. Its own list, not a decision-row count:
    what became of an order is known only when it arrives, after the decision."""

    model_config = _MODEL
    t_ms: int
    decided_ms: int
    coin: str
    side: str
    size: Money
    error: str


class PlanChange(BaseModel):
    model_config = _MODEL
    t_ms: int
    plan_id: str
    strategy_id: str | None = None
    previous_plan_id: str | None = None


class BacktestResult(BaseModel):
    model_config = _MODEL
    schema_version: int = SCHEMA_VERSION
    run_id: str
    params: RunParams
    metrics: dict[str, Any]
    baseline_metrics: dict[str, Any] | None = None
    curve: Curve = Field(default_factory=Curve)
    trades: list[TradeRecord] = Field(default_factory=list)  # every fill, tagged with its plan and strategy
    funding: list[FundingEvent] = Field(default_factory=list)  # every hourly payment (> 0 received)
    decisions: list[DecisionRow] = Field(default_factory=list)
    plan_changes: list[PlanChange] = Field(default_factory=list)
    refused: list[RefusedOrder] = Field(default_factory=list)  # orders the venue refused, in time order
    orders_sent: int = 0  # orders the engine's cycles sent to the venue (refused ones included)
    warnings: list[str] = Field(default_factory=list)
    llm_calls: int = 0
    stopped_early: str | None = None  # why the run ended before `end` (e.g. max cost reached)

    def typed_metrics(self) -> Metrics:
        return metrics_from_dict(self.metrics)


# ---------------------------------------------------------------- metrics <-> plain data

_DECIMAL_FIELDS = {f.name for f in dataclasses.fields(Metrics) if f.type in ("Decimal", Decimal)}
_GROUP_DECIMALS = {f.name for f in dataclasses.fields(GroupMetrics) if f.type in ("Decimal", Decimal)}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def metrics_to_dict(m: Metrics) -> dict[str, Any]:
    return _plain(dataclasses.asdict(m))


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def metrics_from_dict(d: dict[str, Any]) -> Metrics:
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(Metrics):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name in ("per_plan", "per_strategy"):
            kw[f.name] = tuple(
                GroupMetrics(**{k: (Decimal(x) if k in _GROUP_DECIMALS else x) for k, x in g.items()}) for g in v
            )
        elif f.name in _DECIMAL_FIELDS:
            kw[f.name] = Decimal(v)
        elif isinstance(v, str):
            kw[f.name] = float(v)
        else:
            kw[f.name] = v
    return Metrics(**kw)


# ---------------------------------------------------------------- load / save


def dumps(result: BacktestResult) -> str:
    data = _plain(result.model_dump(mode="json"))
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def check_output_dir(out_dir: str | Path, option: str = "--output") -> None:
    """Refuse, before a run spends its time, a run folder that cannot be one: a path that is a
    file, or under one, or in a folder this user may not write. Creates nothing."""
    import os

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: is a file, not a folder; pass a folder path (it is created if missing)")
    probe = out
    while not probe.exists():  # the nearest existing folder is where the run folder would be made
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{option} {out}: {probe} is a file, not a folder; pass a folder path")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: cannot write in {probe} (permission denied); pass a folder you can write")


def make_output_dir(out_dir: str | Path) -> Path:
    """The run folder, created if needed; an error names it when it cannot be."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot create the run folder ({exc.strerror or exc}); pass another --output") from None
    return out


def write_text(path: Path, text: str) -> None:
    """Write one output file atomically (a temporary file, then a rename), so an interrupted or
    failed write leaves no truncated file a later `compare` would read; errors name the file."""
    try:
        with replacing(path) as fh:
            fh.write(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc}); check the disk and the folder") from None


def save(result: BacktestResult, out_dir: str | Path) -> Path:
    """Write `results.json` into `out_dir` (created if needed), atomically."""
    path = make_output_dir(out_dir) / RESULTS_FILE
    write_text(path, dumps(result))
    return path


def results_path(run: str | Path) -> Path:
    p = Path(run)
    return p / RESULTS_FILE if p.is_dir() else p


def load(run: str | Path) -> BacktestResult:
    """Read a run folder (or its results.json). Errors name the file and what is wrong."""
    path = results_path(run)
    if not path.is_file():
        if (Path(run) / "sweep.json").is_file():
            raise ConfigError(f"{run}: a sweep's folder, not a run's: pass two of the run folders in it (each "
                              f"row's run_dir in {Path(run) / 'sweep.json'})")
        raise ConfigError(f"{path}: no backtest results here. Pass a run folder written by `hl-agent backtest run --output DIR`.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc})") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise ConfigError(f"{path}: results schema version {version!r}, this hl-agent reads {SCHEMA_VERSION}; re-run the backtest")
    try:
        result = BacktestResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: invalid results file at '{key}': {first['msg']}") from None
    for where, metrics in (("metrics", result.metrics), ("baseline_metrics", result.baseline_metrics)):
        if metrics is not None:
            problem = _metrics_problem(metrics)
            if problem:
                key, why = problem
                raise ConfigError(f"{path}: invalid results file at '{where}.{key}': {why}; re-run the backtest")
    return result


def _metrics_problem(d: dict[str, Any]) -> tuple[str, str] | None:
    """What makes a metrics dict unreadable (the metric's name and why), or None: every metric
    a run writes is there, a number (money as a decimal string) or, where allowed, null."""
    for f in dataclasses.fields(Metrics):
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return f.name, "missing"
            continue
        v = d[f.name]
        if f.name in ("per_plan", "per_strategy"):
            if not isinstance(v, list) or not all(isinstance(g, dict) and isinstance(g.get("key"), str) for g in v):
                return f.name, "not a list of groups"
            continue
        if v is None:
            if "None" in str(f.type):
                continue
            return f.name, "null"
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            return f.name, f"{v!r} is not a number"
        try:
            Decimal(str(v))
        except ArithmeticError:
            return f.name, f"{v!r} is not a number"
    try:
        metrics_from_dict(d)
    except (TypeError, ValueError, ArithmeticError) as exc:
        return "per_plan", str(exc)
    return None


# ---------------------------------------------------------------- compare

# (key, label, kind) where kind says how to render: pct, ratio, usd, int
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("total_return", "total return", "pct"),
    ("annualized_return", "annualized return", "pct"),
    ("net_return_after_llm", "return net of LLM cost", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "max drawdown", "pct"),
    ("calmar", "Calmar", "ratio"),
    ("win_rate", "win rate", "pct"),
    ("profit_factor", "profit factor", "ratio"),
    ("exposure", "exposure (time in market)", "pct"),
    ("avg_gross_leverage", "avg gross leverage", "ratio"),
    ("turnover", "turnover (x avg equity)", "ratio"),
    ("n_trades", "trades", "int"),
    ("liquidations", "liquidations", "int"),
    ("fees_usd", "fees", "usd"),
    ("funding_paid_usd", "funding paid", "usd"),
    ("funding_received_usd", "funding received", "usd"),
    ("llm_cost_usd", "LLM cost", "usd"),
    ("plan_switches_per_day", "plan switches / day", "ratio"),
    ("buy_and_hold_return", "buy-and-hold return", "pct"),
    ("excess_vs_buy_and_hold", "excess vs buy-and-hold", "pct"),
    ("baseline_return", "baseline provider return", "pct"),
    ("excess_vs_baseline", "excess vs baseline provider", "pct"),
    ("end_equity", "end equity", "usd"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class CompareRow:
    key: str
    label: str
    kind: str
    a: Any
    b: Any
    diff: Any  # b - a, when both are finite numbers: money as an exact decimal string, counts as int, else float


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _difference(va: Any, vb: Any, kind: str) -> Any:
    fa, fb = _num(va), _num(vb)
    if fa is None or fb is None or not (math.isfinite(fa) and math.isfinite(fb)):
        return None
    if kind == "usd":  # money stays exact: "618.751232", not 618.7512320000001
        return format(Decimal(str(vb)) - Decimal(str(va)), "f")
    if kind == "int":
        return int(fb) - int(fa)
    return fb - fa


def compare_metrics(a: dict[str, Any], b: dict[str, Any]) -> list[CompareRow]:
    return [CompareRow(key, label, kind, a.get(key), b.get(key), _difference(a.get(key), b.get(key), kind))
            for key, label, kind in HEADLINE]


def param_differences(a: BacktestResult, b: BacktestResult) -> dict[str, tuple[Any, Any]]:
    pa, pb = a.params.model_dump(mode="json"), b.params.model_dump(mode="json")
    return {k: (pa.get(k), pb.get(k)) for k in sorted(set(pa) | set(pb)) if pa.get(k) != pb.get(k)}


def compare(a: BacktestResult, b: BacktestResult) -> list[CompareRow]:
    """Side-by-side headline metrics of two runs (diff = b - a)."""
    return compare_metrics(a.metrics, b.metrics)


CENT = Decimal("0.01")


def format_value(v: Any, kind: str) -> str:
    """How a metric reads in a table: 12.34 %, 1.23, $1,234.56."""
    if v is None:
        return "-"
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return v
    f = float(v)
    if kind == "pct":
        return f"{f * 100:.2f} %"
    if kind == "usd":
        d = Decimal(str(v))
        # an amount under a cent keeps two significant digits: an LLM cost of $0.0047 is not "$0.00",
        # which reads as the replayed (free) run it is not
        small = d != 0 and abs(d) < CENT
        return usd_text(d, places=1 - d.adjusted() if small else 2)
    if kind == "int":
        return f"{int(f)}"
    return f"{f:.3f}"


def iter_groups(metrics: dict[str, Any], which: str) -> Iterator[dict[str, Any]]:
    """The per-plan or per-strategy rows of a metrics dict (`which` = per_plan | per_strategy)."""
    yield from metrics.get(which) or []
