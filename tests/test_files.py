"""A file written through `replacing` is the old one or the new one, never half of either."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperliquid_agent.files import replacing


def test_a_clean_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path):
    path = tmp_path / "BTC_funding.csv"
    path.write_text("old\n")
    with replacing(path) as fh:
        fh.write("new\r\n")  # (no newline translation: the csv module writes its own line ends)
    assert path.read_bytes() == b"new\r\n" and [p.name for p in tmp_path.iterdir()] == ["BTC_funding.csv"]
    with replacing(path, "wb") as fh:
        fh.write(b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"


def test_a_write_that_fails_half_way_keeps_the_old_file_and_leaves_no_part(tmp_path: Path):
    path = tmp_path / "results.json"
    path.write_text("the previous run\n")
    with pytest.raises(KeyboardInterrupt):
        with replacing(path) as fh:
            fh.write("half of the ne")
            raise KeyboardInterrupt  # Ctrl-C during the write
    assert path.read_text() == "the previous run\n" and [p.name for p in tmp_path.iterdir()] == ["results.json"]
    with pytest.raises(OSError):
        with replacing(tmp_path / "new.csv") as fh:
            raise OSError(28, "No space left on device")
    assert not (tmp_path / "new.csv").exists() and [p.name for p in tmp_path.iterdir()] == ["results.json"]
