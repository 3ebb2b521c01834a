"""Reading main.log and its rotated files (management/logs.go): timestamps, rotation order, the
cursor window, clearing."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.logfiles.mainlog import LogWindow, clear_logs, log_files, parse_timestamp, rotation_order


def local(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp())


@pytest.mark.parametrize(("line", "expected"), [
    (b"[2026-01-20 10:00:00] [--------] [info ] a", "2026-01-20 10:00:00"),
    (b"2026-01-20 10:00:05 no bracket", "2026-01-20 10:00:05"),
    (b"[2026-02-30 10:00:00] not a day", None),
    (b"  continuation", None),
    (b"[2026-01-20 10:00]", None),
    (b"", None),
    (b"[2026-01-20T10:00:00] iso", None),
])
def test_parse_timestamp(line: bytes, expected: str | None) -> None:
    assert parse_timestamp(line) == (local(expected) if expected else 0)


@pytest.mark.parametrize(("name", "order"), [
    ("main.log.1", 1),
    ("main.log.12", 12),
    ("main.log.+3", 3),
    ("main.log.x", None),
    ("main.log.", None),
    ("main.log", None),
    ("main-2026-01-19T09-00-00.log", 2**63 - 1 - local("2026-01-19 09:00:00")),
    ("main-2026-01-19T09-00-00.123.log", 2**63 - 1 - local("2026-01-19 09:00:00")),
    ("main-2026-01-19T09-00-00.log.gz", 2**63 - 1 - local("2026-01-19 09:00:00")),
    ("main-2026-01-19.log", None),
    ("main-2026-01-19T09-00-00.txt", None),
    ("error-main.log", None),
    # time.Parse reads ASCII digits only; Arabic-Indic or full-width digits are not a stamp.
    ("main-\u0662026-01-19T09-00-00.log", None),
    ("main-2026-01-19T09-00-\uff10\uff10.log", None),
])
def test_rotation_order(name: str, order: int | None) -> None:
    assert rotation_order(name) == order


def test_files_oldest_first(tmp_path: Path) -> None:
    for name in ("main.log", "main.log.1", "main.log.3", "main-2026-01-19T09-00-00.log",
                 "main-2026-01-20T09-00-00.log", "other.log"):
        (tmp_path / name).write_text("")
    (tmp_path / "main.log.2").mkdir()
    assert [p.name for p in log_files(tmp_path)] == [
        "main-2026-01-19T09-00-00.log", "main-2026-01-20T09-00-00.log", "main.log.3", "main.log.1", "main.log"]


def test_a_line_past_the_scanner_limit_fails_the_read(tmp_path: Path) -> None:
    path = tmp_path / "main.log"
    path.write_bytes(b"x" * (8 * 1024 * 1024 + 2) + b"\n")
    with pytest.raises(OSError, match="token too long"):
        LogWindow(0, 0).consume(path)


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "main.log"
    path.write_bytes(b"[2026-01-20 10:00:00] \xff\n")
    window = LogWindow(0, 0)
    window.consume(path)
    assert window.lines == ["[2026-01-20 10:00:00] \ufffd"]


@given(st.lists(st.one_of(st.just("  more"), st.integers(0, 59).map(lambda s: f"[2026-01-20 10:00:{s:02d}] x")),
                max_size=40),
       st.integers(0, 60), st.integers(0, 10))
def test_window_matches_a_filter_then_tail(tmp_path_factory: pytest.TempPathFactory, lines: list[str],
                                           second: int, limit: int) -> None:
    path = tmp_path_factory.mktemp("w") / "main.log"
    path.write_text("".join(line + "\n" for line in lines))
    cutoff = local(f"2026-01-20 10:00:{second:02d}") if second < 60 else 0
    window = LogWindow(cutoff, limit)
    window.consume(path)
    kept: list[str] = []
    include = False
    for line in lines:
        stamp = parse_timestamp(line.encode())
        if stamp:
            include = cutoff == 0 or stamp > cutoff
        if cutoff == 0 or include:
            kept.append(line)
    assert window.lines == (kept[-limit:] if limit else kept)
    assert window.total == len(lines)


def test_clear_truncates_and_counts_rotated(tmp_path: Path) -> None:
    (tmp_path / "main.log").write_text("live\n")
    (tmp_path / "main.log.1").write_text("old\n")
    (tmp_path / "main-2026-01-19T09-00-00.log").write_text("older\n")
    (tmp_path / "keep.log").write_text("other\n")
    assert clear_logs(tmp_path) == 2
    assert sorted(os.listdir(tmp_path)) == ["keep.log", "main.log"]
    assert (tmp_path / "main.log").read_bytes() == b""
