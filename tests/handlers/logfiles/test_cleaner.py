"""logs-max-total-size-mb: the oldest log files go first, main.log never (log_dir_cleaner.go)."""

from __future__ import annotations

import os
from pathlib import Path

from handlers.logfiles.cleaner import enforce_size_limit


def make(path: Path, size: int, mtime: int) -> None:
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))


def test_oldest_first_until_within_the_limit(tmp_path: Path) -> None:
    make(tmp_path / "main.log", 400, 1)  # the oldest, but the live file
    make(tmp_path / "old.log", 150, 2)
    make(tmp_path / "error-a.log", 200, 3)
    make(tmp_path / "b.log.gz", 100, 4)
    make(tmp_path / "notes.txt", 5000, 0)  # not a log file: neither counted nor deleted
    make(tmp_path / "main.log.1", 5000, 0)  # nor is a numbered one (the name must end .log or .log.gz)
    assert enforce_size_limit(tmp_path, 500, tmp_path / "main.log") == 2
    assert sorted(os.listdir(tmp_path)) == ["b.log.gz", "main.log", "main.log.1", "notes.txt"]


def test_within_the_limit_or_no_limit_deletes_nothing(tmp_path: Path) -> None:
    make(tmp_path / "a.log", 100, 1)
    assert enforce_size_limit(tmp_path, 100, None) == 0
    assert enforce_size_limit(tmp_path, 0, None) == 0
    assert enforce_size_limit(tmp_path / "missing", 1, None) == 0
    assert os.listdir(tmp_path) == ["a.log"]


def test_without_a_protected_file_main_log_can_go(tmp_path: Path) -> None:
    make(tmp_path / "main.log", 400, 1)
    make(tmp_path / "x.log", 10, 2)
    assert enforce_size_limit(tmp_path, 100, None) == 1
    assert os.listdir(tmp_path) == ["x.log"]
