"""Writing a file whole or not at all."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


@contextmanager
def replacing(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open `<name>.part` beside `path` for writing (`mode` "w": UTF-8 text with no newline
    translation, as the csv module wants; "wb": bytes); when the block ends cleanly it is renamed
    over `path`, otherwise removed. A reader (or the next run after a Ctrl-C or a full disk)
    finds the previous file or the new one, never a truncated one."""
    target = Path(path)
    part = target.with_name(target.name + ".part")
    text = {} if "b" in mode else {"newline": "", "encoding": "utf-8"}
    try:
        with part.open(mode, **text) as fh:
            yield fh
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
