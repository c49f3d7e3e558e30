"""Import market data files into a data folder after validating them with the feed loader.

Every file is validated before anything is copied, so one bad file leaves the folder
untouched. A file is recognised by its name (the names `exchange/feed.py` reads):
`<COIN>_<interval>_candles.csv`, `<COIN>_funding.csv`, `<COIN>_<interval>_context.csv`, `meta.json`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Iterable

from hyperliquid_agent.errors import DataFileError
from hyperliquid_agent.exchange import feed
from hyperliquid_agent.files import replacing

_CANDLES = re.compile(r"^[A-Za-z0-9@/:_-]+?_(\w+)_candles\.csv$")
_FUNDING = re.compile(r"^[A-Za-z0-9@:_-]+?_funding\.csv$")
_CONTEXT = re.compile(r"^[A-Za-z0-9@:_-]+?_(\w+)_context\.csv$")


def classify(path: Path) -> str:
    name = path.name
    if name == "meta.json":
        return "meta"
    m = _CANDLES.match(name)
    if m:
        if m.group(1) not in feed.INTERVAL_MS:
            raise DataFileError(str(path), None, None, f"unknown interval {m.group(1)!r} in the file name; "
                                f"use one of {', '.join(feed.INTERVAL_MS)}")
        return "candles"
    if _FUNDING.match(name):
        return "funding"
    if _CONTEXT.match(name):
        return "context"
    raise DataFileError(str(path), None, None, "unrecognised file name; rename it to <COIN>_<interval>_candles.csv, "
                        "<COIN>_funding.csv, <COIN>_<interval>_context.csv or meta.json")


def validate(path: Path) -> tuple[str, int]:
    """(kind, rows) for a valid file; DataFileError naming file, line and column otherwise."""
    if path.is_dir():
        raise DataFileError(str(path), None, None, f"is a folder; name the files in it (e.g. {path}/BTC_1h_candles.csv)")
    if not path.is_file():
        raise DataFileError(str(path), None, None, "file not found")
    kind = classify(path)
    if kind == "candles":
        return kind, len(feed.read_candles_csv(path))
    if kind == "funding":
        return kind, len(feed.read_funding_csv(path))
    if kind == "context":
        return kind, len(feed.read_context_csv(path))
    specs = feed._read_meta(path)  # noqa: SLF001 (the feed's own meta reader)
    return kind, len(specs)


def _rows_in(path: Path) -> int | None:
    """How many rows (or meta entries) a file already in the folder holds; None if it is unreadable."""
    try:
        return validate(path)[1]
    except DataFileError:
        return None


def import_data_files(files: Iterable[Path], out_dir: Path) -> list[dict[str, Any]]:
    """Copy valid files into `out_dir`. Each result names the file, its kind and rows, and
    `replaced`: the rows of the folder's own copy it overwrote (None when there was none, -1
    when that copy was unreadable), so a caller can say what was lost."""
    paths = [Path(f) for f in files]
    checked = [(p, *validate(p)) for p in paths]  # all or nothing
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataFileError(str(out), None, None, "is a file, not a folder; give --out a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(str(out), None, None, f"cannot create the folder: {exc.strerror or exc}") from None
    done = []
    for p, kind, rows in checked:
        target = out / p.name
        replaced: int | None = None
        if p.resolve() != target.resolve():
            if target.is_file():
                found = _rows_in(target)
                replaced = -1 if found is None else found
            with p.open("rb") as src, replacing(target, "wb") as dst:  # (a copy that fails half way leaves nothing)
                shutil.copyfileobj(src, dst)
        done.append({"file": p.name, "kind": kind, "rows": rows, "path": str(target), "replaced": replaced})
    return done
