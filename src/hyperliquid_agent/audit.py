"""The audit trail: one JSON line per cycle, append-only, fsynced, rotated by size.

Layout under the state dir:

    audit.jsonl        the current file (the writer appends here)
    audit.jsonl.1      older files, rotated when the current one would pass
    audit.jsonl.2      `agent.audit_max_bytes`; higher number = newer

Every record goes through `redact` first: configured secret values and anything that
looks like an API key or a private key (a provider's half-masked echo of one too), the
password in a URL's userinfo and a URL's credential query parameters become "[REDACTED]",
and so does the value of any field whose name says it holds a secret. A record is written as one line, then
flushed and fsynced, so kill -9 loses at most the line being written. The reader
tolerates that torn last line; the writer cuts it off before appending again.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields, is_dataclass
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import BaseModel

from hyperliquid_agent.errors import StateError

AUDIT_FILE_NAME = "audit.jsonl"
REDACTED = "[REDACTED]"

# Strings that look like credentials wherever they appear (keys are never needed in the trail).
_KEY_LIKE = re.compile(
    r"((?<![A-Za-z0-9])sk-(?:"  # a key starts a token: "risk-adjusted-momentum" holds no key
    r"[A-Za-z0-9_\-]*\*{3,}[A-Za-z0-9_\-]*"  # a provider's masked echo: "Incorrect API key provided: sk-ab***yz"
    r"|ant-[A-Za-z0-9_\-]{8,}"  # Anthropic
    r"|[A-Za-z0-9_\-]{16,})"  # OpenAI and compatibles
    r"|\b0x[0-9a-fA-F]{64}\b"  # an EVM private key (32 bytes)
    r"|Bearer\s+[A-Za-z0-9._\-]{16,})"
)
# Credentials inside a URL: the password of `scheme://user:password@host` and the value of a
# query parameter that names a credential (`?api-key=...`, `&token=...`); the rest of the URL stays.
_URL_PASSWORD = re.compile(r"(?<=://)([^\s/:@?#'\"]*):([^\s/@?#'\"]+)@")
_URL_CREDENTIAL_PARAM = re.compile(
    r"([?&;](?:[\w.\-]*(?:key|token|secret|password|passwd|pwd|auth|signature|sig|credential)[\w.\-]*)=)"
    r"([^&#\s'\"]+)",
    re.IGNORECASE,
)
_SECRET_FIELD = re.compile(r"(api_?key|secret|private_?key|password|authorization|token_secret)", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter configured "secrets" would scrub ordinary words


_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))


def to_plain(value: Any) -> Any:
    """Plain JSON data (dicts, lists, strings, numbers) from pydantic models, Decimals, enums.

    A model that appears more than once (a cycle's account is in its record and in its status
    snapshot) is dumped once, and its places share that plain dict."""
    return _plain(value, {})


def _plain(value: Any, dumped: dict[int, Any]) -> Any:
    """`to_plain`; `dumped` holds the models already converted, by id (all alive during the call)."""
    if type(value) in _PLAIN_SCALARS:  # exact types first: a record is mostly these (enums subclass str)
        return value
    if isinstance(value, dict):
        return _plain_dict(value, dumped)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _plain_list(value, dumped)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (str, bool, int, float)):
        return value.value if isinstance(value, Enum) else value
    if hasattr(value, "model_dump"):
        plain = dumped.get(id(value))
        if plain is None:
            plain = dumped[id(value)] = _dump_json(value)
        return plain
    if is_dataclass(value) and not isinstance(value, type):
        return _plain_dict({f.name: getattr(value, f.name) for f in fields(value)}, dumped)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to the audit trail")


_BASE_DUMP = BaseModel.model_dump


def _dump_json(model: Any) -> Any:
    """`model.model_dump(mode="json")`. For a pydantic model that keeps BaseModel's `model_dump`,
    the same call to its serializer, without that method's Python wrapper (~1 us of ~3 for the
    small models a cycle record holds a score of)."""
    cls = type(model)
    if cls.model_dump is _BASE_DUMP and isinstance(model, BaseModel):
        return cls.__pydantic_serializer__.to_python(model, mode="json")
    return model.model_dump(mode="json")


# Most values in a record are plain scalars: copy those in place instead of calling
# _plain for each one (a cycle record has several hundred of them). Nested dicts and lists
# (about a hundred a record) go straight to their walker.

def _plain_dict(value: dict[Any, Any], dumped: dict[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if type(k) is not str:
            k = str(k.value if isinstance(k, Enum) else k)
        kind = type(v)
        if kind in _PLAIN_SCALARS:
            out[k] = v
        elif kind is dict:
            out[k] = _plain_dict(v, dumped)
        elif kind is list:
            out[k] = _plain_list(v, dumped)
        else:
            out[k] = _plain(v, dumped)
    return out


def _plain_list(value: Iterable[Any], dumped: dict[int, Any]) -> list[Any]:
    return [v if type(v) in _PLAIN_SCALARS else _plain(v, dumped) for v in value]


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` (plain JSON data) with secrets replaced by "[REDACTED]"."""
    needles = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
    return _redact(value, needles)


def _redact(value: Any, needles: list[str]) -> Any:
    """Walk plain data (or anything `to_plain` handles) once: convert and redact together."""
    if isinstance(value, str):
        return redact_text(value, needles)
    if isinstance(value, dict):
        return _redact_dict(value, needles)
    if isinstance(value, (list, tuple)):
        return [_redact_leaf(v, needles) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _redact(to_plain(value), needles)


def _redact_dict(value: dict[Any, Any], needles: list[str]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in value.items():
        if isinstance(k, str) and _secret_field(k) and v not in (None, "", False):
            out[k] = REDACTED
        else:
            out[k] = _redact_leaf(v, needles)
    return out


def _redact_leaf(value: Any, needles: list[str]) -> Any:
    """`_redact` without a call for the common leaves (numbers, None; strings go straight to the scan)."""
    kind = type(value)
    if kind is str:
        return redact_text(value, needles)
    return value if kind in _PLAIN_SCALARS else _redact(value, needles)


@lru_cache(maxsize=4096)
def _secret_field(key: str) -> bool:
    """Whether a field name says it holds a secret (records reuse a few hundred names: cached)."""
    return _SECRET_FIELD.search(key) is not None


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for s in secrets:
        if s and len(s) >= _MIN_SECRET_LEN and s in text:
            text = text.replace(s, REDACTED)
    if len(text) < 12:
        return text  # nothing key-like fits (fast path: most strings are short names)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
        if "=" in text:
            text = _URL_CREDENTIAL_PARAM.sub(rf"\1{REDACTED}", text)
    if "sk-" not in text and "0x" not in text and "Bearer" not in text:
        return text
    return _KEY_LIKE.sub(REDACTED, text)


def secret_values(cfg: Any) -> list[str]:
    """The secret strings a Config holds, to scrub from every output: the API key, the private key,
    and the credentials written into its URLs (`llm.base_url`, `hyperliquid.base_url`, `venue.url`:
    a userinfo password, a credential query parameter's value), however they are printed."""
    out: list[str] = []
    for section, field in (("llm", "api_key"), ("hyperliquid", "secret_key")):
        secret = getattr(getattr(cfg, section, None), field, None)
        if secret is not None:
            raw = secret.get_secret_value()
            if raw:
                out.append(raw)
    for section, field in (("llm", "base_url"), ("hyperliquid", "base_url"), ("venue", "url")):
        url = getattr(getattr(cfg, section, None), field, None)
        if isinstance(url, str):
            out.extend(url_credentials(url))
    return out


def url_credentials(url: str) -> list[str]:
    """The credentials a URL carries: its userinfo password and its credential query parameters'
    values, as written and percent-decoded (an SDK may print either)."""
    from urllib.parse import unquote

    found = [m.group(2) for m in _URL_PASSWORD.finditer(url)] + [
        m.group(2) for m in _URL_CREDENTIAL_PARAM.finditer(url)]
    return [v for raw in found for v in dict.fromkeys((raw, unquote(raw))) if len(v) >= _MIN_SECRET_LEN]


def audit_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / AUDIT_FILE_NAME


class AuditWriter:
    """Appends one redacted JSON line per cycle; flush + fsync per record; size rotation."""

    def __init__(self, path: str | Path, max_bytes: int = 50_000_000, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._secrets = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.torn_bytes = _cut_torn_tail(self.path)

    def scrub(self, value: Any) -> Any:
        """`value` as plain data with this writer's secrets redacted (for anything else we store)."""
        return _redact(value, self._secrets)

    def append(self, record: Any) -> dict[str, Any]:
        """Write one record; returns the redacted plain record that was written."""
        plain = _redact(record, self._secrets)
        line = (json.dumps(plain, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        self._rotate_if_needed(len(line))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError as exc:
            raise StateError(f"cannot write the audit trail {self.path}: {exc}. Free disk space or fix permissions.") from None
        finally:
            os.close(fd)
        return plain

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        n = max(rotated_numbers(self.path), default=0) + 1
        os.replace(self.path, self.path.with_name(f"{self.path.name}.{n}"))
        _fsync_dir(self.path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _cut_torn_tail(path: Path) -> int:
    """Drop a partial last line left by a crash mid-write; returns the bytes removed."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        # walk back to the previous newline
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            data = fh.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
        return size - keep


def rotated_numbers(path: Path) -> list[int]:
    out = []
    for p in path.parent.glob(path.name + ".*"):
        suffix = p.name[len(path.name) + 1:]
        if suffix.isdigit():
            out.append(int(suffix))
    return sorted(out)


def audit_files(path: str | Path) -> list[Path]:
    """Every audit file, oldest first (rotated ones, then the current one)."""
    path = Path(path)
    files = [path.with_name(f"{path.name}.{n}") for n in rotated_numbers(path)]
    if path.exists():
        files.append(path)
    return files


def _read_file(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    # the text after the last newline is either empty or a torn line from a crash
    complete, tail = lines[:-1], lines[-1]
    for lineno, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StateError(
                f"{path}:{lineno}: not a JSON audit record ({exc.msg}). The file was edited or damaged: "
                f"repair or delete line {lineno} (e.g. sed -i '{lineno}d' {path}); the other records are intact"
            ) from None
        if isinstance(rec, dict):
            yield rec
    if tail.strip():
        try:
            rec = json.loads(tail)
        except json.JSONDecodeError:
            return  # torn by a crash mid-write: never a complete record
        if isinstance(rec, dict):
            yield rec


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every record of the trail, oldest first, across rotated files."""
    for f in audit_files(path):
        yield from _read_file(f)


def tail_records(path: str | Path, n: int) -> list[dict[str, Any]]:
    from collections import deque

    return list(deque(read_records(path), maxlen=max(n, 0))) if n > 0 else []


def last_record(path: str | Path) -> dict[str, Any] | None:
    """The newest complete record (reads only the end of the current file)."""
    for f in reversed(audit_files(path)):
        size = f.stat().st_size
        with open(f, "rb") as fh:
            fh.seek(max(0, size - 1_000_000))
            lines = fh.read().split(b"\n")
        for raw in reversed(lines):
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                return rec
    return None


def find_record(path: str | Path, cycle_id: str | int) -> dict[str, Any] | None:
    """The record of one cycle (by cycle id, or by its sequence number); the last one if repeated."""
    key = str(cycle_id)
    found = None
    for rec in read_records(path):
        if str(rec.get("cycle_id")) == key or str(rec.get("seq")) == key:
            found = rec
    return found


def _parse_lines(chunks: list[bytes], data: bytes) -> Iterator[dict[str, Any]]:
    """Records from `data`; `chunks[0]` carries an unfinished last line over to the next call."""
    chunks[0] += data
    *complete, chunks[0] = chunks[0].split(b"\n")
    for raw in complete:
        if raw.strip():
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue


def follow(path: str | Path, poll_s: float = 0.5, stop: Any = None) -> Iterator[dict[str, Any]]:
    """Yield records as they are appended (tail -f); `stop()` returning True ends it.

    The file is followed through its handle, so rotations lose nothing: the old file is
    read to its end, then every file rotated since (oldest first), then the new one from
    its start. A file cut in place (a torn last line removed at the agent's start) is
    followed from its new end."""
    import time

    path = Path(path)

    def rotated(n: int) -> Path:
        return path.with_name(f"{path.name}.{n}")

    def inode(p: Path) -> int | None:
        try:
            return p.stat().st_ino
        except FileNotFoundError:
            return None

    last_n = max(rotated_numbers(path), default=0)  # rotated files up to this one are history
    at_end = path.exists()  # records already there are not repeated; a file that appears later is read whole
    fh: Any = None
    pending = [b""]
    try:
        while not (stop and stop()):
            if fh is None:
                try:
                    fh = open(path, "rb")
                except FileNotFoundError:
                    at_end = False
                    time.sleep(poll_s)
                    continue
                if at_end:
                    fh.seek(0, os.SEEK_END)
                at_end = False
                mine = os.fstat(fh.fileno()).st_ino
                for n in rotated_numbers(path):  # files rotated before this one was opened, unread
                    if n <= last_n:
                        continue
                    if inode(rotated(n)) == mine:
                        break
                    try:
                        data = rotated(n).read_bytes()
                    except FileNotFoundError:
                        continue
                    yield from _parse_lines([b""], data)
                    last_n = n
            data = fh.read()
            if data:
                yield from _parse_lines(pending, data)
                continue
            mine = os.fstat(fh.fileno()).st_ino
            if inode(path) != mine:  # rotated: drain it, note its number, go on with what came after
                yield from _parse_lines(pending, fh.read())
                last_n = max([last_n] + [n for n in rotated_numbers(path) if inode(rotated(n)) == mine])
                fh.close()
                fh, pending = None, [b""]
                continue
            size = os.fstat(fh.fileno()).st_size
            if size < fh.tell():  # cut in place
                fh.seek(size)
                pending = [b""]
            time.sleep(poll_s)
    finally:
        if fh is not None:
            fh.close()
